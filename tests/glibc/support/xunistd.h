/* support/xunistd.h: libosmem's stand-in (see support/check.h). */
#ifndef OSMEM_GLIBC_XUNISTD_H
#define OSMEM_GLIBC_XUNISTD_H

#include <sys/types.h>
#include <unistd.h>

pid_t xfork(void);
pid_t xwaitpid(pid_t pid, int *status, int flags);
int xopen(const char *path, int flags, int mode);
void xclose(int fd);
void xpipe(int fds[2]);
void *xmmap(void *addr, size_t len, int prot, int flags, int fd);
void xmunmap(void *addr, size_t len);

#endif
