/*
 * slowpath.c: what the fast paths (alloc.c) hand on.  A miss of the
 * thread cache or a heap size above the cached ones goes to the cache's
 * slow side (tcache.c); requests at the mmap threshold get a mapping of
 * their own (large.c); a free is checked before anything is written,
 * then cached or given back to its arena.  When an opt-in tool is on
 * (osmem__g.hooked), every call comes here and goes to the tools' hooks,
 * which call osmem__alloc and osmem__free_now for the memory itself.
 * Layer 5.
 */
#include "tcache.h"

#include <errno.h>

void *
osmem__malloc_slow(size_t n)
{
	/* The common misses: a thread with a cache, no tool on, a size
	 * below the mmap threshold (at most 32 MiB, so request2size
	 * cannot fail). */
	struct osmem__tcache *tc = osmem__tc;
	if (OSMEM_LIKELY(tc->real && n < osmem__g.cfg.mmap_threshold &&
	                 !osmem__g.hooked)) {
		tc->calls[OSMEM_CALL_MALLOC]++;
		return osmem__tc_alloc(tc, osmem__request2size(n));
	}
	/* Reached by osmem_malloc's tail jump: the return address is the
	 * program's call site (in builds that make tail calls). */
	return osmem__alloc_slow(n, OSMEM_ALIGN, __builtin_return_address(0));
}

void *
osmem__alloc_slow(size_t n, size_t align, const void *caller)
{
	osmem__ensure_init();
	osmem__count(OSMEM_CALL_MALLOC);
	if (OSMEM_UNLIKELY(osmem__g.hooked))
		return osmem__g.hooks->on_malloc(n, align, caller);
	return osmem__alloc(n, align);
}

void *
osmem__alloc(size_t n, size_t align)
{
	size_t size = osmem__request2size(n);
	if (OSMEM_UNLIKELY(size == 0 || align > OSMEM_MAX_REQUEST)) {
		errno = ENOMEM;
		return NULL;
	}
	struct osmem__tcache *tc = osmem__my_tcache();
	struct osmem__arena *a = tc ? tc->arena : &osmem__g.arena[0];
	void *p = NULL;
	if (align <= OSMEM_ALIGN) {
		if (OSMEM_UNLIKELY(n >= osmem__g.cfg.mmap_threshold) &&
		    !(p = osmem__large_reuse(n))) {
			/* Its pages will be new: room first. */
			osmem__lock(&a->lock);
			osmem__make_room(a, n);
			osmem__unlock(&a->lock);
			p = osmem__large_alloc(n, OSMEM_ALIGN);
			if (!p)
				tc = NULL; /* no mapping: try the main break */
		}
		if (!p)
			p = osmem__tc_alloc(tc, size);
	} else {
		/* A block wastes at most the alignment: in the heap the
		 * leading piece is freed back, and a mapping gives back its
		 * leading and trailing pages. */
		if (n + align >= osmem__g.cfg.mmap_threshold)
			p = osmem__large_alloc(n, align);
		if (!p) {
			osmem__lock(&a->lock);
			p = osmem__heap_alloc_aligned(a, size, align);
			osmem__unlock(&a->lock);
		}
	}
	if (OSMEM_UNLIKELY(!p))
		errno = ENOMEM;
	return p;
}

/* Heap chunk c, freed by a thread whose cache is tc (or NULL), back: to
 * tc if it takes it, else to its arena: onto its remote stack if it is
 * another arena's (its own threads are likely to hold its lock), or
 * into it under its lock. */
static OSMEM_ALWAYS_INLINE void
give_back(struct osmem__tcache *tc, osmem__chunk_t *c)
{
	if (tc && osmem__csize(c) <= OSMEM_TC_MAX_CHUNK &&
	    osmem__tc_put(tc, c))
		return;
	struct osmem__arena *a = osmem__arena_of(c);
	if (tc && a != tc->arena) {
		struct osmem__remote r = {NULL, NULL, NULL, 0, 0};
		osmem__clear_cinuse(c);
		osmem__remote_add(&r, a, osmem__chunk2mem(c));
		osmem__remote_push(&r);
		return;
	}
	osmem__lock(&a->lock);
	osmem__heap_free(a, c, 0);
	osmem__unlock(&a->lock);
}

void
osmem__free_full(void *p)
{
	struct osmem__tcache *tc = osmem__tc;
	if (!tc->real || osmem__g.hooked) {
		osmem__free_slow(p); /* no cache, or a tool on */
		return;
	}
	tc->calls[OSMEM_CALL_FREE]++;
	give_back(tc, osmem__mem2chunk(p)); /* a heap chunk: it passed */
}

/* A checked block back: a mapping's, or a heap chunk's.  Inlined in
 * osmem__free_slow, so a free above the caches' sizes makes one call
 * fewer. */
static OSMEM_ALWAYS_INLINE void
free_now(void *p)
{
	osmem__chunk_t *c = osmem__mem2chunk(p);
	if (c->head & OSMEM_F_MMAP) {
		int saved = errno;
		osmem__large_free(c);
		errno = saved;
		return;
	}
	/* A thread with no cache yet makes one for a size it would cache. */
	struct osmem__tcache *tc = osmem__tc;
	if (!tc->real)
		tc = osmem__csize(c) <= OSMEM_TC_MAX_CHUNK ? osmem__my_tcache()
		                                           : NULL;
	give_back(tc, c);
}

void
osmem__free_now(void *p)
{
	free_now(p);
}

void
osmem__free_slow(void *p)
{
	if (!p)
		return;
	(void)osmem__owned(p, "free " OSMEM_NO_HEAP, "free of invalid pointer",
	                   "double free of");
	osmem__count(OSMEM_CALL_FREE);
	if (OSMEM_UNLIKELY(osmem__g.hooked) &&
	    !(p = osmem__g.hooks->on_free(p)))
		return; /* kept by a tool */
	free_now(p);
}
