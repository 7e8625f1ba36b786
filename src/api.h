/*
 * api.h: what the public entry points (layer 6) offer each other and the
 * tools above them beyond the public API: the two reports made of
 * osmem_stats (stats.c).  Layer 6.
 */
#ifndef OSMEM_API_H
#define OSMEM_API_H

#include "tcache.h"

/* glibc's malloc_stats report, and libosmem's summary, on fd. */
OSMEM_INTERNAL void osmem__stats_print(int fd);
OSMEM_INTERNAL void osmem__stats_summary(int fd);

#endif /* OSMEM_API_H */
