/*
 * walk.c: osmem_walk, a visit of every block the allocator holds, in
 * address order within each heap segment, then the mapped blocks; and
 * osmem_check, the heap checker (check.c) as public API.  The walk holds
 * one arena's lock at a time, so the callback must not call the
 * allocator.
 */
#include "os.h"

/* The state of heap chunk c as a walker reports it. */
static int
state_of(const chunk_t *c)
{
	if (c->head & F_CINUSE)
		return OSMEM_BLOCK_USED;
	return osmem__is_free(c) ? OSMEM_BLOCK_FREE : OSMEM_BLOCK_CACHED;
}

static int
walk_arena(struct osmem__arena *a, unsigned index,
           int (*fn)(const struct osmem_block *, void *), void *arg)
{
	for (struct osmem__seg *s = a->segs; s; s = s->next) {
		const char *fence = s->end - OSMEM_FENCE;
		for (chunk_t *c = osmem__at(s, OSMEM_SEG_HEAD);
		     (const char *)c < fence; c = osmem__next(c)) {
			size_t sz = osmem__csize(c);
			if (!osmem__head_ok(c) || sz < OSMEM_MIN_CHUNK)
				return osmem__report("osmem_walk: bad chunk at", c,
				                     sz);
			struct osmem_block b = {
				.ptr = osmem__chunk2mem(c),
				.size = sz - OSMEM_OVERHEAD,
				.chunk = c,
				.chunk_size = sz,
				.segment = s,
				.state = state_of(c),
				.arena = index,
				.from_brk = s->kind == SEG_SBRK,
			};
			int r = fn(&b, arg);
			if (r)
				return r;
		}
	}
	return 0;
}

int
osmem_walk(int (*fn)(const struct osmem_block *, void *), void *arg)
{
	osmem__ensure_init();
	int r = 0;
	for (unsigned i = 0; i < OSMEM_MAX_ARENAS && r == 0; i++) {
		struct osmem__arena *a = &osmem__g.arena[i];
		osmem__lock(&a->lock);
		r = walk_arena(a, i, fn, arg);
		osmem__unlock(&a->lock);
	}
	osmem__lock(&osmem__g.large_lock);
	for (const struct osmem__large *l = osmem__g.large; l && r == 0;
	     l = l->next) {
		chunk_t *c = l->chunk;
		struct osmem_block b = {
			.ptr = osmem__chunk2mem(c),
			.size = osmem__csize(c) - 2 * OSMEM_OVERHEAD,
			.chunk = (void *)l,
			.chunk_size = osmem__csize(c) + (size_t)c->prev_foot,
			.segment = (void *)l,
			.state = OSMEM_BLOCK_MAPPED,
			.arena = 0,
			.from_brk = 0,
		};
		r = fn(&b, arg);
	}
	osmem__unlock(&osmem__g.large_lock);
	return r;
}

int
osmem_check(void)
{
	return osmem__heap_check();
}
