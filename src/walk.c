/*
 * walk.c: osmem_walk, a visit of every block the allocator holds, in
 * address order within each heap segment, then the mapped blocks.  The
 * walk holds one arena's lock at a time (or the large lock), so the
 * callback must not call the allocator.  Layer 6.
 */
#include "tcache.h"

struct walk {
	int (*fn)(const struct osmem_block *, void *);
	void *arg;
};

/* The state of heap chunk c as a walker reports it. */
static int
state_of(const osmem__chunk_t *c)
{
	if (c->head & OSMEM_F_CINUSE)
		return OSMEM_BLOCK_USED;
	return osmem__is_free(c) ? OSMEM_BLOCK_FREE : OSMEM_BLOCK_CACHED;
}

static int
walk_arena(struct osmem__arena *a, unsigned index, void *arg)
{
	const struct walk *w = arg;
	for (struct osmem__seg *s = a->segs; s; s = s->next) {
		const osmem__chunk_t *fence = osmem__fence_of(s);
		for (osmem__chunk_t *c = osmem__at(s, OSMEM_SEG_HEAD);
		     c < fence; c = osmem__next(c)) {
			size_t sz = osmem__csize(c);
			if (!osmem__head_ok(c) || sz < OSMEM_MIN_CHUNK)
				return osmem__report(
				    "osmem_walk: bad chunk at", c, sz);
			struct osmem_block b = {
			    .ptr = osmem__chunk2mem(c),
			    .size = osmem__usable(c),
			    .chunk = c,
			    .chunk_size = sz,
			    .segment = s,
			    .state = state_of(c),
			    .arena = index,
			    .from_brk = s->kind == OSMEM_SEG_BRK,
			};
			int r = w->fn(&b, w->arg);
			if (r)
				return r;
		}
	}
	return 0;
}

static int
walk_large(const struct osmem__large *l, void *arg)
{
	const struct walk *w = arg;
	osmem__chunk_t *c = l->chunk;
	struct osmem_block b = {
	    .ptr = osmem__chunk2mem(c),
	    .size = osmem__usable(c),
	    .chunk = (void *)(uintptr_t)l,
	    .chunk_size = osmem__csize(c) + (size_t)c->prev_foot,
	    .segment = (void *)(uintptr_t)l,
	    .state = OSMEM_BLOCK_MAPPED,
	    .arena = 0,
	    .from_brk = 0,
	};
	return w->fn(&b, w->arg);
}

int
osmem_walk(int (*fn)(const struct osmem_block *, void *), void *arg)
{
	struct walk w = {fn, arg};
	osmem__ensure_init();
	int r = osmem__arena_each(walk_arena, &w, 1);
	return r ? r : osmem__large_each(walk_large, &w, NULL);
}
