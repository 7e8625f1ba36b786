/*
 * core.h: the heap itself, by file: the best-fit index (bins.c), chunks
 * in segments (heap.c), mapped blocks (large.c), giving memory back
 * (trim.c), the checker (check.c) and the arenas (arena.c); with the
 * inline helpers they share.  Layer 4: nothing here knows of thread
 * caches or tools; remote.h has the blocks on their way back to it.
 */
#ifndef OSMEM_CORE_H
#define OSMEM_CORE_H

#include "chunk.h"

/*
 * Free-list links (the bins' and the remote stacks'), stored encoded with
 * the secret, in the spirit of glibc's safe-linking: an overwritten link
 * decodes to a misaligned value (15 times in 16, and always when what was
 * written is itself aligned: the secret is odd), which the reader
 * rejects.  Subtracted, not exclusive-ored: a walk needs a link both as
 * stored and decoded, and lea makes the second in one instruction.
 */
static inline uintptr_t
osmem__link_enc(const void *p)
{
	return (uintptr_t)p - (OSMEM_HARDEN ? (uintptr_t)osmem__g.secret : 0);
}

static inline uintptr_t
osmem__link_dec(uintptr_t v)
{
	return v + (OSMEM_HARDEN ? (uintptr_t)osmem__g.secret : 0);
}

static inline int
osmem__link_bad(uintptr_t v)
{
	return OSMEM_HARDEN && (v & (OSMEM_ALIGN - 1));
}

/* The end of a bin's tree or of the pile, and the pile's mark, as stored:
 * constants, so that writing or testing one costs an immediate operand.
 * With the checks they are even, and every stored link is odd (an
 * aligned pointer minus the odd secret): no link equals them, and they
 * decode to odd values, so a walk's one test of the decoded low bits
 * stops at the end and at a corrupted link alike.  Without the checks,
 * plain NULL and a misaligned mark. */
#define OSMEM_LINK_END ((uintptr_t)(OSMEM_HARDEN ? 0x6f736d6e : 0))
#define OSMEM_LINK_PILE ((uintptr_t)(OSMEM_HARDEN ? 0x6f736d70 : 24))

/* Whether decoded link v ends a walk: the end, or corrupted. */
static inline int
osmem__link_stop(uintptr_t v)
{
	return OSMEM_HARDEN ? (v & (OSMEM_ALIGN - 1)) != 0 : v == 0;
}

/* The bin of chunk size size (see types.h). */
static inline unsigned
osmem__bin_index(size_t size)
{
	if (size < OSMEM_SMALL_LIMIT)
		return (unsigned)(size >> 4);
	unsigned fl = 63u - (unsigned)__builtin_clzll(size);
	return OSMEM_SMALL_LIMIT / 16u + (fl - OSMEM_SMALL_SHIFT) * 16u +
	       (unsigned)((size >> (fl - 4u)) & 15u);
}

/* bins.c: the best-fit index of an arena's free chunks. */
OSMEM_INTERNAL void osmem__bin_insert(struct osmem__arena *a,
                                      osmem__chunk_t *c, size_t size,
                                      size_t dirt);
OSMEM_INTERNAL void osmem__bin_remove(struct osmem__arena *a,
                                      osmem__chunk_t *c);
OSMEM_INTERNAL osmem__chunk_t *osmem__bin_take_best(struct osmem__arena *a,
                                                    size_t size);
OSMEM_INTERNAL size_t osmem__bin_largest(struct osmem__arena *a);
OSMEM_INTERNAL void osmem__bin_each_down(struct osmem__arena *a,
                                         unsigned lowest,
                                         int (*fn)(osmem__chunk_t *, void *),
                                         void *arg);
OSMEM_INTERNAL int osmem__bin_check(struct osmem__arena *a, size_t *nfree);
OSMEM_INTERNAL int osmem__bin_contains(struct osmem__arena *a,
                                       const osmem__chunk_t *c);

/* Free chunks of two pages or more keep, past their index links (and the
 * parent link at c+32, see bins.c), an estimate of how many of their
 * bytes are resident ("dirty"): merging adds estimates, splitting caps
 * them, releasing the pages zeroes it.  Smaller free chunks count as
 * wholly resident. */
static inline int
osmem__releasable(size_t size)
{
	return size >= 2 * osmem__g.page;
}

static inline size_t *
osmem__dirt_slot(osmem__chunk_t *c)
{
	return (size_t *)((char *)c + OSMEM_MIN_CHUNK + 8);
}

static inline size_t
osmem__dirt(osmem__chunk_t *c)
{
	size_t size = osmem__csize(c);
	return osmem__releasable(size) ? *osmem__dirt_slot(c) : size;
}

/* What free chunk c adds to its arena's dirty bytes: its resident bytes,
 * if it is releasable (smaller chunks count none). */
static inline size_t
osmem__dirty_part(osmem__chunk_t *c)
{
	size_t size = osmem__csize(c);
	return osmem__releasable(size) ? *osmem__dirt_slot(c) : 0;
}

/* trim.c: giving memory back, with the arena locked. */
OSMEM_INTERNAL int osmem__arena_trim(struct osmem__arena *a, size_t pad,
                                     int release_all);
OSMEM_INTERNAL OSMEM_NOINLINE void osmem__arena_release(struct osmem__arena *a,
                                                        size_t down_to);
OSMEM_INTERNAL OSMEM_NOINLINE void
osmem__release_now(struct osmem__arena *a, osmem__chunk_t *c, size_t size);
/* New pages of len bytes are about to be touched (the heap grows, a
 * block is mapped): kept mappings, then (as trim.c says) free chunks'
 * pages go back, as many as keep the resident bytes under their peak. */
OSMEM_INTERNAL OSMEM_NOINLINE void osmem__make_room(struct osmem__arena *a,
                                                    size_t len);
/* Give back the pages of in-use chunk c, its contents dead (copied by
 * realloc); returns the bytes that went, for osmem__heap_free. */
OSMEM_INTERNAL size_t osmem__release_dead(struct osmem__arena *a,
                                          osmem__chunk_t *c);
/* The resident free bytes an arena keeps before a release pass, and
 * down to which a pass gives back. */
OSMEM_INTERNAL size_t osmem__release_floor(const struct osmem__arena *a);
OSMEM_INTERNAL size_t osmem__release_threshold(const struct osmem__arena *a);

/* Make [c, c+size) a free chunk and index it, dirt bytes of it resident.
 * The chunk before c and the chunk after it are in use.  Always inlined
 * (heap.c's hot paths): a call of its own cost a tenth of python3's
 * instructions in the core. */
static OSMEM_ALWAYS_INLINE void
osmem__put_free(struct osmem__arena *a, osmem__chunk_t *c, size_t size,
                size_t dirt)
{
	osmem__chunk_t *n = osmem__at(c, size);
	osmem__set_head(c, size, OSMEM_F_PINUSE | a->aflag);
	if (osmem__releasable(size)) {
		dirt = *osmem__dirt_slot(c) = osmem__min(dirt, size);
		if (OSMEM_UNLIKELY(osmem__g.cfg.release_threshold == 0) &&
		    dirt) {
			osmem__release_now(a, c, size);
			dirt = *osmem__dirt_slot(c);
		}
	} else {
		dirt = 0; /* counted as wholly resident */
	}
	n->prev_foot = size;
	osmem__clear_pinuse(n);
	osmem__bin_insert(a, c, size, dirt);
}

/* heap.c: chunks inside an arena's segments, with the arena locked. */
OSMEM_INTERNAL void *osmem__heap_alloc(struct osmem__arena *a, size_t size,
                                       unsigned *k, int grow);
OSMEM_INTERNAL void *osmem__heap_alloc_aligned(struct osmem__arena *a,
                                               size_t size, size_t align);
/* Free in-use chunk c, dead bytes of it not resident. */
OSMEM_INTERNAL void osmem__heap_free(struct osmem__arena *a, osmem__chunk_t *c,
                                     size_t dead);
OSMEM_INTERNAL osmem__chunk_t *osmem__heap_cut(struct osmem__arena *a,
                                               osmem__chunk_t *c, size_t size);
OSMEM_INTERNAL int osmem__heap_resize(struct osmem__arena *a,
                                      osmem__chunk_t *c, size_t size);

/* large.c: chunks with a mapping of their own. */
OSMEM_INTERNAL void *osmem__large_alloc(size_t n, size_t align);
OSMEM_INTERNAL void osmem__large_free(osmem__chunk_t *c);
OSMEM_INTERNAL void *osmem__large_resize(osmem__chunk_t *c, size_t n);
/* Whether mapped chunk c's block is a new mapping's (reads as zero); a
 * block of n bytes in a freed mapping kept for reuse, or NULL. */
OSMEM_INTERNAL int osmem__large_zero(const osmem__chunk_t *c);
OSMEM_INTERNAL void *osmem__large_reuse(size_t n);
/* Unmap freed mappings kept for reuse until at most most bytes are. */
OSMEM_INTERNAL void osmem__large_drop(size_t most);
/* Move kept mappings' pages into [p, p + len), which the break just grew
 * over (resident already: not faulted in again); the bytes moved. */
OSMEM_INTERNAL size_t osmem__large_recycle(char *p, size_t len);
/* The most bytes of freed mappings kept for reuse: half the bytes in use,
 * heap and mapped (st: the main arena's figures; bench/README). */
static inline size_t
osmem__kept_most(const struct osmem__counters *st)
{
	return (st->in_use + st->large) / 2;
}
/* Call fn on every live large block, under the large lock, until it
 * returns nonzero; that value, or 0.  figures: if not NULL, a copy of the
 * main arena's figures, whose large ones are read under the same lock. */
OSMEM_INTERNAL int
osmem__large_each(int (*fn)(const struct osmem__large *, void *), void *arg,
                  struct osmem__counters *figures);
extern osmem__lock_t osmem__large_lock OSMEM_INTERNAL;

/* arena.c: the arenas.  The arena for a new thread: the first gets the
 * main one, the others share the rest in turn. */
OSMEM_INTERNAL struct osmem__arena *osmem__arena_pick(void);
/* Call fn on each arena in use (with its lock held if lock) until fn
 * returns nonzero; that value, or 0. */
OSMEM_INTERNAL int osmem__arena_each(int (*fn)(struct osmem__arena *, unsigned,
                                               void *),
                                     void *arg, int lock);
/* check.c: the heap checker; 0, or -1 after a one-line report. */
OSMEM_INTERNAL int osmem__heap_check(void);
/* A header that failed its check at p: abort naming the block that ran
 * into it, or with invalid. */
OSMEM_INTERNAL OSMEM_NORETURN void osmem__bad_header(const void *p,
                                                     const char *invalid);
/* A block handed back at p that is free already: abort with freed and
 * its size (a thread cache's block), or the free chunk's it is part of
 * now (one the heap holds, perhaps merged with its neighbours). */
OSMEM_INTERNAL OSMEM_NORETURN void osmem__bad_free(const void *p,
                                                   const char *freed);

/* The message for a pointer that is in no heap. */
#define OSMEM_NO_HEAP                                                         \
	"of a pointer in no heap (never allocated, or a large block already " \
	"freed)"

/* The chunk of a block the program hands back at p (to free, realloc,
 * usable_size), after the always-on checks, each with its message:
 * aligned and readable (nowhere), a header we wrote (invalid), and in use
 * (freed). */
static inline osmem__chunk_t *
osmem__owned(const void *p, const char *nowhere, const char *invalid,
             const char *freed)
{
	osmem__chunk_t *c = osmem__mem2chunk(p);
	if (OSMEM_HARDEN &&
	    OSMEM_UNLIKELY(((uintptr_t)p & (OSMEM_ALIGN - 1)) ||
	                   !osmem__readable(p)))
		osmem__fatal(nowhere, p, 0);
	if (OSMEM_HARDEN && OSMEM_UNLIKELY(!osmem__head_ok(c)))
		osmem__bad_header(p, invalid);
	if (OSMEM_HARDEN && OSMEM_UNLIKELY(!(c->head & OSMEM_F_CINUSE)))
		osmem__bad_free(p, freed);
	return c;
}

#endif /* OSMEM_CORE_H */
