/*
 * pages.h: which pages outside the break heap hold the allocator's
 * blocks (pages.c).  Layer 2.
 */
#ifndef OSMEM_PAGES_H
#define OSMEM_PAGES_H

#include "base.h"

/* Mark (on) or unmark the pages of [p, p + len); -1 when there was no
 * memory for a table to mark them in. */
OSMEM_INTERNAL int osmem__pages_mark(const void *p, size_t len, int on);
/* Whether the page of address v is marked. */
OSMEM_INTERNAL int osmem__pages_has(uintptr_t v);

#endif /* OSMEM_PAGES_H */
