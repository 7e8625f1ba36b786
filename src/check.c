/*
 * check.c: the heap checker.  osmem__heap_check() walks every segment chunk
 * by chunk and every large mapping, and verifies each invariant the
 * allocator relies on; the tests call it after every step.  It reports the
 * first broken invariant on stderr (one line, with the address) and
 * returns -1, or returns 0.
 */
#include "os.h"

static int
check_segment(struct osmem__arena *a, const struct osmem__seg *s,
              size_t *nfree, size_t *used, size_t *dirty)
{
	if ((uintptr_t)s & (OSMEM_ALIGN - 1) || (uintptr_t)s->end & (OSMEM_ALIGN - 1))
		return osmem__report("heap check: misaligned segment", s, 0);
	if (s->arena != a)
		return osmem__report("heap check: segment of another arena at", s, 0);
	if (a != &osmem__g.arena[0] && !a->aflag)
		return osmem__report("heap check: segment in an unused arena at", s,
		                     0);
	if (a->aflag && ((uintptr_t)s & (OSMEM_REGION - 1)))
		return osmem__report("heap check: unaligned region at", s, 0);
	if (s->kind != SEG_SBRK && s->kind != SEG_MMAP)
		return osmem__report("heap check: bad segment kind at", s, 0);
	const char *fence = s->end - OSMEM_FENCE;
	chunk_t *c = osmem__at(s, OSMEM_SEG_HEAD);
	uint64_t prev_inuse = F_PINUSE;
	for (;;) {
		if ((const char *)c > fence)
			return osmem__report("heap check: chunk runs past its segment",
			                     c, 0);
		if (!osmem__head_ok(c))
			return osmem__report("heap check: bad chunk header at", c, 0);
		size_t sz = osmem__csize(c);
		if ((c->head & F_PINUSE) != prev_inuse)
			return osmem__report("heap check: wrong prev-in-use bit at", c,
			                     sz);
		if (c->head & F_MMAP)
			return osmem__report("heap check: mapped chunk in a segment", c,
			                     sz);
		if (sz == 0) {
			if ((const char *)c != fence || !(c->head & F_CINUSE))
				return osmem__report("heap check: stray fencepost at", c, 0);
			return 0;
		}
		if (sz < OSMEM_MIN_CHUNK || sz % OSMEM_ALIGN)
			return osmem__report("heap check: bad chunk size at", c, sz);
		if ((c->head & F_ARENA) != a->aflag)
			return osmem__report("heap check: wrong arena flag at", c, sz);
		if (c->head & F_CINUSE) {
			*used += sz;
			prev_inuse = F_PINUSE;
		} else if (!osmem__bin_contains(a, c)) {
			/* In a thread cache: in use, to the arena. */
			if (sz > OSMEM_TC_MAX_CHUNK)
				return osmem__report("heap check: free chunk not indexed",
				                     c, sz);
			*used += sz;
			prev_inuse = F_PINUSE;
		} else {
			if (!prev_inuse)
				return osmem__report("heap check: two adjacent free chunks at",
				                     c, sz);
			++*nfree;
			if (osmem__releasable(sz)) {
				if (*osmem__dirt_slot(c) > sz)
					return osmem__report("heap check: resident "
					                     "estimate over size at",
					                     c, *osmem__dirt_slot(c));
				*dirty += *osmem__dirt_slot(c);
			}
			prev_inuse = 0;
		}
		c = osmem__next(c);
	}
}

static int
check_arena(struct osmem__arena *a)
{
	size_t nfree = 0, nindexed = 0, used = 0, nsegs = 0, dirty = 0;
	for (const struct osmem__seg *s = a->segs; s; s = s->next) {
		if (check_segment(a, s, &nfree, &used, &dirty))
			return -1;
		nsegs++;
	}
	if (nsegs != a->st.nsegs)
		return osmem__report("heap check: segment count wrong in", a, nsegs);
	if (used != a->st.in_use)
		return osmem__report("heap check: bytes in use disagree in", a, used);
	if (dirty != a->st.dirty)
		return osmem__report("heap check: dirty free bytes disagree in", a,
		                     dirty);
	if (osmem__bin_check(a, &nindexed))
		return -1;
	if (nindexed != nfree)
		return osmem__report("heap check: index holds chunks not in the heap",
		                     a, nindexed);
	if (nfree != a->st.nfree_chunks)
		return osmem__report("heap check: free chunk count wrong in", a,
		                     nfree);
	return 0;
}

static int
check_large(void)
{
	size_t n = 0;
	for (const struct osmem__large *l = osmem__g.large; l; l = l->next) {
		if (l->next && l->next->prev != l)
			return osmem__report("heap check: broken large list at", l, 0);
		const chunk_t *c = l->chunk;
		if (c->prev_foot != (uintptr_t)c - (uintptr_t)l ||
		    !osmem__head_ok(c) ||
		    (c->head & (F_MMAP | F_CINUSE)) != (F_MMAP | F_CINUSE))
			return osmem__report("heap check: bad large chunk at", c, 0);
		n++;
	}
	if (n != osmem__g.arena[0].st.nlarge)
		return osmem__report("heap check: large chunk count wrong:", NULL, n);
	return 0;
}

int
osmem__heap_check(void)
{
	osmem__ensure_init();
	int r = 0;
	for (unsigned i = 0; i < OSMEM_MAX_ARENAS && r == 0; i++) {
		struct osmem__arena *a = &osmem__g.arena[i];
		osmem__lock(&a->lock);
		r = check_arena(a);
		osmem__unlock(&a->lock);
	}
	osmem__lock(&osmem__g.large_lock);
	if (r == 0)
		r = check_large();
	osmem__unlock(&osmem__g.large_lock);
	return r;
}

/*
 * A header that fails its check, at chunk c handed to free, realloc or
 * usable_size: if c lies on a chunk boundary of its segment (the chunks
 * before it, walked from the segment's start, end there), the block
 * before it ran past its end into c's header, and that block is named;
 * otherwise c is no block of ours.  The walk is made under the segment's
 * arena lock, and only on this path, where the process is about to end.
 */
void
osmem__bad_header(const void *p, const char *invalid)
{
	const chunk_t *c = osmem__mem2chunk(p);
	for (unsigned i = 0; i < OSMEM_MAX_ARENAS; i++) {
		struct osmem__arena *a = &osmem__g.arena[i];
		if (i > 0 && !__atomic_load_n(&a->aflag, __ATOMIC_RELAXED))
			continue;
		osmem__lock(&a->lock);
		const chunk_t *before = NULL;
		for (const struct osmem__seg *s = a->segs; s && !before; s = s->next) {
			const char *fence = s->end - OSMEM_FENCE;
			if ((const char *)c <= (const char *)s || (const char *)c >= fence)
				continue;
			const chunk_t *x = osmem__at(s, OSMEM_SEG_HEAD), *prev = NULL;
			while ((const char *)x < (const char *)c && osmem__head_ok(x) &&
			       osmem__csize(x) >= OSMEM_MIN_CHUNK) {
				prev = x;
				x = osmem__next(x);
			}
			if (x == c && prev && (prev->head & F_CINUSE))
				before = prev;
			else
				break;
		}
		osmem__unlock(&a->lock);
		if (before)
			osmem__fatal("overflow past the end of",
			             osmem__chunk2mem((chunk_t *)(uintptr_t)before),
			             osmem__csize(before) - OSMEM_OVERHEAD);
	}
	osmem__fatal(invalid, p, 0);
}
