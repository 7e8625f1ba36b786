/*
 * api.h: what the public entry points (layer 6) offer each other and the
 * tools above them beyond the public API: glibc's malloc_stats report
 * (stats.c).  Layer 6.
 */
#ifndef OSMEM_API_H
#define OSMEM_API_H

#include "tcache.h"

/* glibc's malloc_stats report on fd. */
OSMEM_INTERNAL void osmem__malloc_stats(int fd);

#endif /* OSMEM_API_H */
