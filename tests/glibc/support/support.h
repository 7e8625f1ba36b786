/* support/support.h: libosmem's stand-in (see support/check.h). */
#ifndef OSMEM_GLIBC_SUPPORT_H
#define OSMEM_GLIBC_SUPPORT_H

#include <stddef.h>
#include <string.h>
#include <unistd.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Memory shared with child processes (a shared mapping). */
void *support_shared_allocate(size_t n);
void support_shared_free(void *p);
/* Write a string to standard output, async-signal-safely. */
#define write_message(s) ((void)!write(STDOUT_FILENO, (s), strlen(s)))

#endif
