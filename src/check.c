/*
 * check.c: the heap checker, osmem_check.  It walks every segment chunk by
 * chunk and every large mapping, and verifies each invariant the
 * allocator relies on; the tests call it after every step.  It reports the
 * first broken invariant on stderr (one line, with the address) and
 * returns -1, or returns 0.  Also the diagnosis of a header that failed
 * its check, which walks a segment the same way.  Layer 4.
 */
#include "core.h"

static int
check_segment(struct osmem__arena *a, const struct osmem__seg *s,
              size_t *nfree, size_t *used, size_t *dirty)
{
	if ((uintptr_t)s & (OSMEM_ALIGN - 1) ||
	    (uintptr_t)s->end & (OSMEM_ALIGN - 1))
		return osmem__report("heap check: misaligned segment", s, 0);
	if (s->arena != a)
		return osmem__report("heap check: segment of another arena at",
		                     s, 0);
	if (a->aflag && ((uintptr_t)s & (OSMEM_REGION - 1)))
		return osmem__report("heap check: unaligned region at", s, 0);
	if (s->kind != OSMEM_SEG_BRK && s->kind != OSMEM_SEG_MAPPED)
		return osmem__report("heap check: bad segment kind at", s, 0);
	const char *fence = (const char *)osmem__fence_of(s);
	osmem__chunk_t *c = osmem__at(s, OSMEM_SEG_HEAD);
	uint64_t prev_inuse = OSMEM_F_PINUSE;
	for (;;) {
		if ((const char *)c > fence)
			return osmem__report(
			    "heap check: chunk runs past its segment", c, 0);
		if (!osmem__head_ok(c))
			return osmem__report("heap check: bad chunk header at",
			                     c, 0);
		size_t sz = osmem__csize(c);
		if ((c->head & OSMEM_F_PINUSE) != prev_inuse)
			return osmem__report(
			    "heap check: wrong prev-in-use bit at", c, sz);
		if (c->head & OSMEM_F_MMAP)
			return osmem__report(
			    "heap check: mapped chunk in a segment", c, sz);
		if (sz == 0) {
			if ((const char *)c != fence ||
			    !(c->head & OSMEM_F_CINUSE))
				return osmem__report(
				    "heap check: stray fencepost at", c, 0);
			return 0;
		}
		if (sz < OSMEM_MIN_CHUNK || sz % OSMEM_ALIGN)
			return osmem__report("heap check: bad chunk size at",
			                     c, sz);
		if ((c->head & OSMEM_F_ARENA) != a->aflag)
			return osmem__report("heap check: wrong arena flag at",
			                     c, sz);
		if (c->head & OSMEM_F_CINUSE) {
			*used += sz;
			prev_inuse = OSMEM_F_PINUSE;
		} else if (!osmem__bin_contains(a, c)) {
			/* In a thread cache or on a remote stack: in use
			 * to the arena, so the next chunk's P bit is set. */
			if (osmem__is_free(c))
				return osmem__report(
				    "heap check: free chunk not indexed", c,
				    sz);
			*used += sz;
			prev_inuse = OSMEM_F_PINUSE;
		} else {
			if (!prev_inuse)
				return osmem__report(
				    "heap check: two adjacent free chunks at",
				    c, sz);
			++*nfree;
			if (osmem__releasable(sz)) {
				if (*osmem__dirt_slot(c) > sz)
					return osmem__report(
					    "heap check: resident "
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
check_arena(struct osmem__arena *a, unsigned i, void *arg)
{
	(void)i, (void)arg;
	size_t nfree = 0, nindexed = 0, used = 0, nsegs = 0, dirty = 0;
	for (const struct osmem__seg *s = a->segs; s; s = s->next) {
		if (check_segment(a, s, &nfree, &used, &dirty))
			return -1;
		nsegs++;
	}
	if (nsegs != a->st.nsegs)
		return osmem__report("heap check: segment count wrong in", a,
		                     nsegs);
	if (used != a->st.in_use)
		return osmem__report("heap check: bytes in use disagree in", a,
		                     used);
	if (dirty != a->st.dirty)
		return osmem__report(
		    "heap check: dirty free bytes disagree in", a, dirty);
	if (osmem__bin_check(a, &nindexed))
		return -1;
	if (nindexed != nfree)
		return osmem__report(
		    "heap check: index holds chunks not in the heap", a,
		    nindexed);
	if (nfree != a->st.nfree_chunks)
		return osmem__report("heap check: free chunk count wrong in",
		                     a, nfree);
	return 0;
}

static int
check_large(const struct osmem__large *l, void *arg)
{
	size_t *n = arg;
	if (l->next && l->next->prev != l)
		return osmem__report("heap check: broken large list at", l, 0);
	const osmem__chunk_t *c = l->chunk;
	if (c->prev_foot != (uintptr_t)c - (uintptr_t)l ||
	    !osmem__head_ok(c) ||
	    (c->head & (OSMEM_F_MMAP | OSMEM_F_CINUSE)) !=
	        (OSMEM_F_MMAP | OSMEM_F_CINUSE))
		return osmem__report("heap check: bad large chunk at", c, 0);
	++*n;
	return 0;
}

int
osmem__heap_check(void)
{
	osmem__ensure_init();
	size_t n = 0;
	struct osmem__counters st;
	if (osmem__arena_each(check_arena, NULL, 1) ||
	    osmem__large_each(check_large, &n, &st))
		return -1;
	if (n != st.nlarge)
		return osmem__report(
		    "heap check: large chunk count wrong:", NULL, n);
	return 0;
}

int
osmem_check(void)
{
	return osmem__heap_check();
}

/*
 * A header that fails its check, at chunk c handed to free, realloc or
 * usable_size: if c lies on a chunk boundary of its segment (the chunks
 * before it, walked from the segment's start, end there), the block
 * before it ran past its end into c's header, and that block is named;
 * otherwise c is no block of ours.  The walk is made under the segment's
 * arena lock, and only on this path, where the process is about to end.
 */
struct blame {
	const osmem__chunk_t *c, *before;
};

/* In arena a: the in-use chunk that ends where b->c starts, if b->c lies
 * on a chunk boundary of a's segment holding it; 1 when the segment was
 * found. */
static int
find_before(struct osmem__arena *a, unsigned i, void *arg)
{
	struct blame *b = arg;
	const char *c = (const char *)b->c;
	(void)i;
	for (const struct osmem__seg *s = a->segs; s; s = s->next) {
		if (c <= (const char *)s ||
		    c >= (const char *)osmem__fence_of(s))
			continue;
		const osmem__chunk_t *x = osmem__at(s, OSMEM_SEG_HEAD),
		                     *prev = NULL;
		while ((const char *)x < c && osmem__head_ok(x) &&
		       osmem__csize(x) >= OSMEM_MIN_CHUNK) {
			prev = x;
			x = osmem__next(x);
		}
		if ((const char *)x == c && prev &&
		    (prev->head & OSMEM_F_CINUSE))
			b->before = prev;
		return 1;
	}
	return 0;
}

/*
 * A header that fails its check, at the chunk of p handed to free,
 * realloc or usable_size: if it lies on a chunk boundary of its segment
 * (the chunks before it, walked from the segment's start, end there), the
 * block before it ran past its end into the header, and that block is
 * named; otherwise p is no block of ours.  Only on this path, where the
 * process is about to end.
 */
void
osmem__bad_free(const void *p, const char *freed)
{
	const osmem__chunk_t *c = osmem__mem2chunk(p);
	if (osmem__is_free(c))
		osmem__fatal_in(freed, p, "already free, in a free chunk of",
		                osmem__csize(c));
	osmem__fatal(freed, p, osmem__usable(c));
}

void
osmem__bad_header(const void *p, const char *invalid)
{
	struct blame b = {osmem__mem2chunk(p), NULL};
	osmem__arena_each(find_before, &b, 1);
	if (b.before)
		osmem__fatal(
		    "overflow past the end of",
		    osmem__chunk2mem((osmem__chunk_t *)(uintptr_t)b.before),
		    osmem__csize(b.before) - OSMEM_OVERHEAD);
	osmem__fatal(invalid, p, 0);
}
