/*
 * bins.h: the best-fit index's own helpers, shared by its two files:
 * bins.c (indexing and taking chunks) and binwalk.c (walking and checking
 * the index).  The layout is bins.c's comment.  Layer 4.
 */
#ifndef OSMEM_BINS_H
#define OSMEM_BINS_H

#include "core.h"

typedef void *osmem__slot_t; /* an encoded link, as stored */

/* A link that stops a walk (stored value e): the end of the tree, or
 * corrupted. */
static inline void
check_end(const osmem__slot_t *s, osmem__slot_t e)
{
	if (OSMEM_UNLIKELY((uintptr_t)e != OSMEM_LINK_END))
		osmem__fatal("corrupted free-chunk link at", s, 0);
}

/* Whether link value e, read from slot s, leads to a chunk (into *n): the
 * end and the check are one test. */
static inline int
open_link(const osmem__slot_t *s, osmem__slot_t e, osmem__chunk_t **n)
{
	uintptr_t v = osmem__link_dec((uintptr_t)e);
	if (OSMEM_UNLIKELY(osmem__link_stop(v))) {
		check_end(s, e);
		return 0;
	}
	*n = (osmem__chunk_t *)v;
	return 1;
}

/* Whether the link at s leads to a chunk (into *n). */
static inline int
step(const osmem__slot_t *s, osmem__chunk_t **n)
{
	return open_link(s, *s, n);
}

/* The chunk the link at s leads to, or NULL at the end of the tree. */
static inline osmem__chunk_t *
ld(const osmem__slot_t *s)
{
	osmem__chunk_t *n;
	return step(s, &n) ? n : NULL;
}

/* The stored form of a link to chunk c.  A link read from one slot is
 * stored into another as it is: moving a subtree costs no encoding, only
 * following a link costs its decoding. */
static inline osmem__slot_t
enc(const osmem__chunk_t *c)
{
	return (osmem__slot_t)osmem__link_enc(c);
}

/* The stored end of a tree or list (see OSMEM_LINK_END). */
#define OSMEM_SLOT_END ((osmem__slot_t)OSMEM_LINK_END)

static inline uint32_t
prio(const osmem__chunk_t *c)
{
	return (uint32_t)(uintptr_t)c * 0x9e3779b1u;
}

/* The exact bins, below OSMEM_SMALL_LIMIT: every chunk in one has the
 * same size. */
static inline int
is_exact(unsigned bin)
{
	return bin < OSMEM_SMALL_LIMIT / 16;
}

/* Treap order: by size, then by address.  In an exact bin the address
 * alone decides and no header need be read. */
static inline int
key_less(int exact, const osmem__chunk_t *a, const osmem__chunk_t *b)
{
	if (exact)
		return (uintptr_t)a < (uintptr_t)b;
	size_t sa = osmem__csize(a), sb = osmem__csize(b);
	return sa < sb || (sa == sb && (uintptr_t)a < (uintptr_t)b);
}

static inline osmem__slot_t *
root_of(struct osmem__arena *a, unsigned bin)
{
	return &a->root[bin];
}

/* Chunks of 48 bytes or more (every bin but that of 32-byte chunks) keep
 * a third link, to their parent (the end for a root), so that removing
 * one, as merging a neighbour does, starts at its own slot rather than
 * searching down from the root: a cache miss or two instead of one per
 * level. */
static inline int
parented(unsigned bin)
{
	return bin != OSMEM_MIN_CHUNK / 16;
}

static inline osmem__slot_t *
up(osmem__chunk_t *c)
{
	return (osmem__slot_t *)((char *)c + OSMEM_MIN_CHUNK);
}

/* The exact bins of chunks of 48 bytes or more are pairing heaps by
 * address, not treaps (binheap.c). */
static inline int
heaped(unsigned bin)
{
	return is_exact(bin) && parented(bin);
}

/* Record n's parent: e is the stored link to it (or the end, for the
 * root). */
static inline void
set_up(unsigned bin, osmem__chunk_t *n, osmem__slot_t e)
{
	if (parented(bin))
		*up(n) = e;
}

static inline int
bin_nonempty(const struct osmem__arena *a, unsigned bin)
{
	return (a->map[bin >> 6] >> (bin & 63)) & 1;
}

static inline void
mark(struct osmem__arena *a, unsigned bin)
{
	a->map[bin >> 6] |= (uint64_t)1 << (bin & 63);
	a->summary |= (uint64_t)1 << (bin >> 6);
}

static inline void
unmark(struct osmem__arena *a, unsigned bin)
{
	a->map[bin >> 6] &= ~((uint64_t)1 << (bin & 63));
	if (a->map[bin >> 6] == 0)
		a->summary &= ~((uint64_t)1 << (bin >> 6));
}

static inline osmem__chunk_t *
victim(const struct osmem__arena *a)
{
	return a->victim;
}

static inline void
set_victim(struct osmem__arena *a, osmem__chunk_t *c)
{
	a->victim = c;
}

/* ---------------------------------------------------------------------
 * The pile (see the top of the file).  link[0] leads to the next chunk,
 * link[1] to the one before (the end for the first); the parent slot holds
 * OSMEM_LINK_PILE, which no tree link can equal. */
#ifndef OSMEM_PILE_AFTER /* the fuzzer sets a small one, to pile often */
#define OSMEM_PILE_AFTER 32u
#endif
_Static_assert(OSMEM_LINK_PILE != OSMEM_LINK_END &&
                   (OSMEM_HARDEN ? (OSMEM_LINK_PILE | OSMEM_LINK_END) % 2 == 0
                                 : OSMEM_LINK_PILE % OSMEM_ALIGN != 0),
               "the pile's mark is no link");

#define OSMEM_SLOT_PILE ((osmem__slot_t)OSMEM_LINK_PILE)

static inline int
pileable(size_t size)
{
	return parented(osmem__bin_index(size));
}

/* The pile of a chunk of this size: 1 for the sizes the release pass
 * looks at, which it walks as it walks the trees. */
static inline osmem__chunk_t **
pile_of(struct osmem__arena *a, size_t size)
{
	return &a->pile[osmem__releasable(size)];
}

static inline int
piled(osmem__chunk_t *c)
{
	return pileable(osmem__csize(c)) && *up(c) == OSMEM_SLOT_PILE;
}

/* Whether anything is piled. */
static inline int
any_piled(const struct osmem__arena *a)
{
	return ((uintptr_t)a->pile[0] | (uintptr_t)a->pile[1]) != 0;
}

/* Put chunk or heap h (no sibling) into exact bin bin, a pairing heap;
 * take chunk c out of it (binheap.c). */
OSMEM_INTERNAL void osmem__binheap_add(struct osmem__arena *a, unsigned bin,
                                       osmem__chunk_t *h);
OSMEM_INTERNAL void osmem__binheap_remove(struct osmem__arena *a, unsigned bin,
                                          osmem__chunk_t *c);

/* Put the piles into the trees (bins.c). */
OSMEM_INTERNAL OSMEM_NOINLINE void osmem__bin_drain(struct osmem__arena *a);

#endif /* OSMEM_BINS_H */
