/*
 * remote.h: cached blocks on their way back to their arena (arena.c):
 * chains pushed onto another arena's remote stack, and runs of
 * neighbours merged before they go back into their own.  Layer 4.
 */
#ifndef OSMEM_REMOTE_H
#define OSMEM_REMOTE_H

#include "core.h"

/*
 * Blocks freed by a thread of another arena (cached to the heap: C
 * clear, the next chunk's P set) on their way to its remote stack: a
 * chain gathered by one thread, pushed with one atomic exchange.  The
 * chain is of records, each in the first block it lists: a link to the
 * next record, a count n, and n more blocks of the same size, all stored
 * encoded as links are in the bins.  So the owner, emptying the stack,
 * follows one link per record, not one per block, and loads the blocks'
 * headers, in lines another core wrote last, side by side rather than
 * one after another.
 */
struct osmem__remote {
	struct osmem__arena *arena;
	uintptr_t *first, *last; /* the newest record and the oldest */
	size_t bytes;
	size_t size; /* the chunk size of first's blocks */
};
/* Add p, of arena a, to chain r (pushing what r held for another arena
 * first). */
OSMEM_INTERNAL void osmem__remote_add(struct osmem__remote *r,
                                      struct osmem__arena *a, void *p);
/* Push chain r onto its arena's remote stack, leaving r empty. */
OSMEM_INTERNAL void osmem__remote_push(struct osmem__remote *r);
/* Empty a's remote stack: each block goes to keep(arg, p, chunk size) if
 * keep takes it (returns 1), else back into the arena (as osmem__run). */
OSMEM_INTERNAL void osmem__remote_drain(struct osmem__arena *a,
                                        int (*keep)(void *, void *, size_t),
                                        void *arg);

/* Cached blocks of one arena going back into it, neighbours merged into
 * one chunk first (freed once, not one by one); the lock taken once. */
struct osmem__run {
	struct osmem__arena *a;
	char *lo; /* the run so far: [lo, lo + len) */
	size_t len;
	int locked;
};
/* Add block p (size bytes) to run r if it lies just after it (its header
 * is not read: it is about to be inside the run's chunk) or before it. */
static inline int
osmem__run_after(struct osmem__run *r, char *p, size_t size)
{
	if (!r->lo || p != r->lo + r->len)
		return 0;
	r->len += size;
	return 1;
}
static inline int
osmem__run_before(struct osmem__run *r, char *p, size_t size)
{
	if (!r->lo || p + size != r->lo)
		return 0;
	r->lo = p;
	r->len += size;
	return 1;
}
/* Give run r back and start another at p (NULL: none). */
static inline void
osmem__run_start(struct osmem__run *r, char *p, size_t size)
{
	if (r->lo) {
		struct osmem__arena *a = r->a;
		osmem__chunk_t *c = osmem__mem2chunk(r->lo);
		if (!r->locked)
			osmem__lock(&a->lock);
		r->locked = 1;
		if (r->len == osmem__csize(c))
			osmem__set_cinuse(c); /* one block */
		else
			osmem__set_head(c, r->len,
			                OSMEM_F_CINUSE |
			                    (c->head & OSMEM_F_PINUSE) |
			                    a->aflag);
		osmem__heap_free(a, c, 0);
	}
	r->lo = p;
	r->len = size;
}

/* Give run r back and let the lock go. */
static inline void
osmem__run_end(struct osmem__run *r)
{
	osmem__run_start(r, NULL, 0);
	if (r->locked)
		osmem__unlock(&r->a->lock);
	r->locked = 0;
}

#endif /* OSMEM_REMOTE_H */
