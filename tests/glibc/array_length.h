/* array_length.h: libosmem's stand-in (see support/check.h). */
#ifndef OSMEM_GLIBC_ARRAY_LENGTH_H
#define OSMEM_GLIBC_ARRAY_LENGTH_H
#define array_length(a) (sizeof(a) / sizeof((a)[0]))
#define array_end(a) (&(a)[array_length(a)])
#endif
