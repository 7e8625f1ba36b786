/* support/xsignal.h: libosmem's stand-in (see support/check.h). */
#ifndef OSMEM_GLIBC_XSIGNAL_H
#define OSMEM_GLIBC_XSIGNAL_H

#include <signal.h>

sighandler_t xsignal(int sig, sighandler_t handler);
void xsigaction(int sig, const struct sigaction *act, struct sigaction *old);

#endif
