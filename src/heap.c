/*
 * heap.c: chunks inside an arena's segments: carving a request out of the
 * best-fitting free chunk, splitting and coalescing, resizing in place, and
 * growing the arena when nothing fits.  Called with the arena locked.
 *
 * Growth asks sbrk first, and the main heap's new break takes the pages
 * of freed mappings kept for reuse where it can (large.c).  If the new
 * memory starts where the newest break segment ends, that segment is
 * extended and its free last chunk grows with it; if something else
 * moved the break in between (glibc's malloc, a program's own sbrk), the
 * new memory becomes a segment of its own and the gap is left to its
 * owner.  If the break cannot move at all, a segment is mapped instead,
 * so small allocations carry on.  Other arenas reserve aligned regions
 * (from the break while it moves, else mapped) and grow their newest
 * region's segment through it the same way.  Layer 4.
 */
#include "core.h"

/* The first growth of the break, and the least a mapped segment holds. */
#define OSMEM_HEAP_INITIAL ((size_t)128 << 10)
#define OSMEM_MAPPED_SEG ((size_t)1 << 20)
/* What the free end of the break must hold beyond the pad before a free
 * trims it (at most the trim threshold). */
#define TRIM_STEP ((size_t)64 << 10)

/* Give [c, c+size) back, merging it with a free chunk after it.  The
 * chunk before c is in use.  The next chunk's header is checked only when
 * its C bit is clear and its size is about to be used; one that says in
 * use is left as it is (its P bit aside), and its own free, or the cache
 * handing it back, checks it.  Inlined, as carve is: the calls' register
 * saves and restores were 4% of the instructions of a mid-size churn. */
static OSMEM_ALWAYS_INLINE void
release_tail(struct osmem__arena *a, osmem__chunk_t *c, size_t size,
             size_t dirt)
{
	osmem__chunk_t *n = osmem__at(c, size);
	if (!(n->head & OSMEM_F_CINUSE) && osmem__is_free(osmem__checked(n))) {
		dirt += osmem__dirt(n);
		osmem__bin_remove(a, n);
		size += osmem__csize(n);
	}
	osmem__put_free(a, c, size, dirt);
}

/* Hand out the first `size` bytes of c (which is `have` bytes long, dirt
 * of them resident, and not indexed), returning the rest.  pflag: the
 * chunk before c is in use.  merge: the chunk after c may be free (when
 * c was a free chunk, it cannot be: free chunks never touch). */
static OSMEM_ALWAYS_INLINE void *
carve(struct osmem__arena *a, osmem__chunk_t *c, size_t have, size_t size,
      uint64_t pflag, size_t dirt, int merge)
{
	if (have - size >= OSMEM_MIN_CHUNK) {
		osmem__set_head(c, size, OSMEM_F_CINUSE | pflag | a->aflag);
		if (merge)
			release_tail(a, osmem__at(c, size), have - size,
			             osmem__min(dirt, have - size));
		else
			osmem__put_free(a, osmem__at(c, size), have - size,
			                osmem__min(dirt, have - size));
	} else {
		size = have;
		osmem__set_head(c, size, OSMEM_F_CINUSE | pflag | a->aflag);
		osmem__set_pinuse(osmem__at(c, size));
	}
	a->st.in_use += size;
	if (a->st.in_use > a->st.in_use_peak)
		a->st.in_use_peak = a->st.in_use;
	return osmem__chunk2mem(c);
}

/* ---------------------------------------------------------------------
 * Growth. */
static void
add_segment(struct osmem__arena *a, char *p, size_t len, uint32_t kind)
{
	char *start = (char *)osmem__round_up((uintptr_t)p, OSMEM_ALIGN);
	char *end =
	    (char *)(((uintptr_t)p + len) & ~(uintptr_t)(OSMEM_ALIGN - 1));
	struct osmem__seg *s = (struct osmem__seg *)start;
	s->next = a->segs;
	s->end = end;
	s->kind = kind;
	s->arena = a;
	a->segs = s;
	if (kind == OSMEM_SEG_BRK || a->aflag)
		a->brk_seg = s; /* the one growth extends */
	osmem__chunk_t *c = osmem__at(start, OSMEM_SEG_HEAD);
	osmem__chunk_t *f = osmem__fence_of(s);
	osmem__set_head(f, 0, OSMEM_F_CINUSE | a->aflag);
	/* Fresh pages count as resident: a refault then only ever means a
	 * page that was given back and used again. */
	osmem__put_free(a, c, (size_t)((char *)f - (char *)c), SIZE_MAX);
	a->st.nsegs++;
}

/* Count len more bytes of segments (brk: obtained with sbrk). */
static void
count_heap(struct osmem__arena *a, size_t len, int brk)
{
	a->st.heap += len;
	if (brk)
		a->st.heap_brk += len;
	if (a->st.heap > a->st.heap_peak)
		a->st.heap_peak = a->st.heap;
}

/* Extend the break segment s by len bytes that sbrk placed right after it,
 * merging the new space with a free last chunk. */
static void
extend_segment(struct osmem__arena *a, struct osmem__seg *s, size_t len)
{
	osmem__chunk_t *c = osmem__checked(osmem__fence_of(s));
	size_t size = len, dirt = len; /* fresh pages count as resident */
	if (!(c->head & OSMEM_F_PINUSE)) {
		osmem__chunk_t *last =
		    osmem__checked(osmem__before(c, c->prev_foot));
		dirt += osmem__dirt(last);
		osmem__bin_remove(a, last);
		size += osmem__csize(last);
		c = last;
	}
	s->end += len;
	osmem__set_head(osmem__fence_of(s), 0, OSMEM_F_CINUSE | a->aflag);
	osmem__put_free(a, c, size, dirt);
}

/* Bytes free at the end of the break segment (0 if its last chunk is in
 * use or there is no such segment). */
static size_t
free_at_break(const struct osmem__arena *a)
{
	const struct osmem__seg *s = a->brk_seg;
	if (!s)
		return 0;
	const osmem__chunk_t *f = osmem__fence_of(s);
	return (f->head & OSMEM_F_PINUSE) ? 0 : (size_t)f->prev_foot;
}

/* How far to grow the segment growth extends (or, with none, how large a
 * new one to start) so that a free chunk of size bytes exists: the pad
 * on top, for the requests to come. */
static size_t
growth(const struct osmem__arena *a, size_t size)
{
	size_t page = osmem__g.page, pad = osmem__g.cfg.top_pad;
	size_t tail = free_at_break(a);
	if (a->brk_seg)
		return osmem__round_up(size - (tail < size ? tail : 0) + pad,
		                       page);
	size_t len = osmem__round_up(
	    size + OSMEM_SEG_HEAD + OSMEM_FENCE + OSMEM_ALIGN + pad, page);
	return len < OSMEM_HEAP_INITIAL ? OSMEM_HEAP_INITIAL : len;
}

/*
 * Add memory to the arena so that a free chunk of at least size bytes
 * exists, preferably as the free end of the break segment.  Returns 0 when
 * the operating system gives nothing.  Not inlined: growth is rare.
 */
static OSMEM_NOINLINE int
grow(struct osmem__arena *a, size_t size, int no_brk)
{
	const struct osmem__config *cfg = &osmem__g.cfg;
	size_t page = osmem__g.page;
	const size_t seg_cost = OSMEM_SEG_HEAD + OSMEM_FENCE + OSMEM_ALIGN;
	if (a->aflag) {
		osmem__make_room(a, size);
		/* Another arena: its newest region's segment grows through
		 * the region as the break does, so that the pages a release
		 * pass counts are pages the arena used (a whole fresh region
		 * counted as resident and given back by the first pass held
		 * the passes' learning back: mstress).  Then one more aligned
		 * region. */
		struct osmem__seg *s = a->brk_seg;
		size_t room =
		    s ? (size_t)((char *)s + OSMEM_REGION - s->end) : 0;
		if (room) {
			size_t len = osmem__min(growth(a, size), room);
			count_heap(a, len, s->kind == OSMEM_SEG_BRK);
			extend_segment(a, s, len);
			return 1;
		}
		a->brk_seg = NULL;
		if (size + seg_cost > OSMEM_REGION)
			return 0;
		/* From the break when it can move, so that the region lies
		 * in the break heap's window and frees of its blocks take the
		 * fast path; else mapped, its pages marked (pages.c). */
		char *r = osmem__os_sbrk_aligned(OSMEM_REGION, OSMEM_REGION);
		int brk = r != NULL;
		if (!r) {
			r = osmem__os_map_aligned(OSMEM_REGION, OSMEM_REGION);
			if (r && osmem__pages_mark(r, OSMEM_REGION, 1) != 0) {
				(void)osmem__os_unmap(r, OSMEM_REGION);
				r = NULL;
			}
		}
		if (!r)
			return 0;
		size_t len = osmem__min(growth(a, size), OSMEM_REGION);
		count_heap(a, len, brk);
		add_segment(a, r, len, brk ? OSMEM_SEG_BRK : OSMEM_SEG_MAPPED);
		return 1;
	}
	if (!no_brk) {
		size_t len = growth(a, size);
		char *p = osmem__os_sbrk(len);
		if (p) {
			/* Freed mappings' pages first (large.c): resident
			 * already, so room is made for the rest only, the
			 * request's part beyond them. */
			size_t moved = osmem__large_recycle(p, len);
			osmem__make_room(a, moved > size ? moved : size);
			/* The pad is for the requests to come: its pages are
			 * faulted in now, by one call rather than a fault
			 * each (the 1 GiB burst: 0.741 -> 0.590 s).  Only once
			 * the heap holds 256 pads, so that pages a program
			 * never touches add at most 1/256 to a growth's. */
			size_t pad = cfg->top_pad & ~(page - 1);
			if (pad && pad < len && a->st.heap / 256 >= pad)
				osmem__os_populate(p + len - pad, pad);
			count_heap(a, len, 1);
			if (a->brk_seg && p == a->brk_seg->end)
				extend_segment(a, a->brk_seg, len);
			else if (len >= seg_cost + OSMEM_MIN_CHUNK)
				add_segment(a, p, len, OSMEM_SEG_BRK);
			return 1;
		}
	}
	osmem__make_room(a, size);
	size_t len = size + seg_cost;
	if (len < OSMEM_MAPPED_SEG)
		len = OSMEM_MAPPED_SEG;
	len = osmem__round_up(len, page);
	char *p = osmem__os_map(len);
	if (p && osmem__pages_mark(p, len, 1) != 0) {
		(void)osmem__os_unmap(p, len);
		p = NULL;
	}
	if (!p)
		return 0;
	count_heap(a, len, 0);
	add_segment(a, p, len, OSMEM_SEG_MAPPED);
	return 1;
}

/* The best-fitting free chunk of at least size bytes, growing the arena if
 * none exists.  A few tries: another user of the break may take what we
 * asked for.  Its header is checked before its size is trusted: a small
 * overflow from the block before it is caught here, at the split. */
static osmem__chunk_t *
take(struct osmem__arena *a, size_t size, int may_grow)
{
	for (int tries = 0;; tries++) {
		osmem__chunk_t *c = osmem__bin_take_best(a, size);
		if (OSMEM_LIKELY(c != NULL))
			return osmem__checked(c);
		if (!may_grow || !grow(a, size, tries >= 3))
			return NULL;
	}
}

/* ---------------------------------------------------------------------
 * Entry points. */
/*
 * Up to *k blocks of size bytes end to end, from the best-fitting free
 * chunk for one (placement is the same as for a single request): as many
 * as that chunk holds, the count left in *k.  The first, which takes any
 * slack the split leaves, is in use; those after it are thread-cached
 * blocks (C clear, P set), for the caller to put into its cache.  They
 * are what the next requests of that size would have split off the same
 * chunk.
 */
void *
osmem__heap_alloc(struct osmem__arena *a, size_t size, unsigned *k,
                  int may_grow)
{
	osmem__chunk_t *c = take(a, size, may_grow);
	if (OSMEM_UNLIKELY(!c))
		return NULL;
	size_t have = osmem__csize(c), dirt = osmem__dirt(c), rest = 0;
	if (*k > 1) {
		size_t fit = have / size;
		*k = fit < *k ? (unsigned)fit : *k;
		rest = (size_t)(*k - 1) * size;
	}
	if (dirt < have) {
		/* Some of it comes from released pages, which become resident
		 * again: freed mappings kept for a large request go back
		 * first, so the two never add up to a new peak.  What is
		 * counted is what the split takes off the estimate's books:
		 * the rest keeps as much of the chunk's dirt as it can hold
		 * (carve), so over a whole chunk carved up the refaults add
		 * up to its released bytes. */
		size_t took = size + rest, left = have - took;
		a->st.refault += took - (dirt > left ? dirt - left : 0);
		osmem__large_drop(0);
	}
	char *p = carve(a, c, have, size + rest, OSMEM_F_PINUSE, dirt, 0);
	if (rest) {
		size_t first = osmem__csize(c) - rest;
		osmem__set_head(c, first,
		                OSMEM_F_CINUSE | OSMEM_F_PINUSE | a->aflag);
		osmem__set_heads(osmem__at(c, first),
		                 osmem__at(c, first + rest), size,
		                 OSMEM_F_PINUSE | a->aflag);
		/* set_heads restates the tag incrementally: the heads it
		 * wrote must pass the check made with osmem__tag itself */
		osmem__assert(
		    osmem__head_ok(osmem__at(c, first)) &&
		    osmem__head_ok(osmem__at(c, first + rest - size)));
	}
	return p;
}

void *
osmem__heap_alloc_aligned(struct osmem__arena *a, size_t size, size_t align)
{
	osmem__chunk_t *c = take(a, size + align + OSMEM_MIN_CHUNK, 1);
	if (OSMEM_UNLIKELY(!c))
		return NULL;
	size_t have = osmem__csize(c), dirt = osmem__dirt(c);
	uintptr_t mem = (uintptr_t)osmem__chunk2mem(c);
	if (mem & (align - 1)) {
		/* Free a leading piece of at least a minimum chunk. */
		size_t lead =
		    osmem__round_up(mem + OSMEM_MIN_CHUNK, align) - mem;
		osmem__chunk_t *n = osmem__at(c, lead);
		osmem__set_head(n, have - lead, OSMEM_F_CINUSE | a->aflag);
		osmem__put_free(a, c, lead, osmem__min(dirt, lead));
		return carve(a, n, have - lead, size, 0,
		             osmem__min(dirt, have - lead), 0);
	}
	return carve(a, c, have, size, OSMEM_F_PINUSE, dirt, 0);
}

void
osmem__heap_free(struct osmem__arena *a, osmem__chunk_t *c, size_t dead)
{
	size_t size = osmem__csize(c), dirt = size - dead;
	a->st.in_use -= size;
	if (!(c->head & OSMEM_F_PINUSE)) {
		/* The chunk before must be free and as long as its footer says
		 * (and bin_remove finds it in its bin): a checked header would
		 * add nothing. */
		osmem__chunk_t *p = osmem__before(c, c->prev_foot);
		if (OSMEM_HARDEN &&
		    OSMEM_UNLIKELY(osmem__csize(p) != c->prev_foot ||
		                   (p->head & OSMEM_F_CINUSE)))
			osmem__fatal("corrupted free chunk before", c, size);
		dirt += osmem__dirt(p);
		osmem__bin_remove(a, p);
		/* Leave a freed mark so a second free is named as such (the
		 * tag does not cover C, so it stays valid). */
		osmem__clear_cinuse(c);
		size += osmem__csize(p);
		c = p;
	}
	release_tail(a, c, size, dirt);
	/* A large free end of the break goes back to the system, once it
	 * holds a step beyond the pad (else, with the defaults' pad equal to
	 * the threshold, every small free next to a fresh pad shrank the
	 * break by a page or two and the next request grew it back: 9 of
	 * python3's 49 brk calls); so do the pages of free chunks, once
	 * enough of them lie idle. */
	size = osmem__csize(c);
	if (OSMEM_UNLIKELY(size > osmem__g.cfg.trim_threshold) &&
	    size - osmem__min(size, osmem__g.cfg.top_pad) >=
	        osmem__min(osmem__g.cfg.trim_threshold, TRIM_STEP) &&
	    a->brk_seg && osmem__next(c) == osmem__fence_of(a->brk_seg) &&
	    !a->aflag)
		osmem__arena_trim(a, osmem__g.cfg.top_pad, 0);
	/* release_at: the wait since the last pass (trim.c); the threshold
	 * is taken now, as it falls with the bytes in use. */
	if (OSMEM_UNLIKELY(a->st.dirty > a->st.release_at) &&
	    a->st.dirty > osmem__release_threshold(a))
		osmem__arena_release(a, osmem__release_floor(a));
}

/* Shrink in-use chunk c to size bytes and make the rest a chunk of its own,
 * in use, for the caller to free (have - size >= OSMEM_MIN_CHUNK). */
osmem__chunk_t *
osmem__heap_cut(struct osmem__arena *a, osmem__chunk_t *c, size_t size)
{
	size_t have = osmem__csize(c);
	osmem__chunk_t *t = osmem__at(c, size);
	osmem__set_head(
	    c, size, (c->head & OSMEM_F_PINUSE) | OSMEM_F_CINUSE | a->aflag);
	osmem__set_head(t, have - size,
	                OSMEM_F_PINUSE | OSMEM_F_CINUSE | a->aflag);
	return t;
}

int
osmem__heap_resize(struct osmem__arena *a, osmem__chunk_t *c, size_t size)
{
	size_t have = osmem__csize(c), dirt = have; /* in use: resident */
	uint64_t pflag = c->head & OSMEM_F_PINUSE;
	if (size > have) {
		osmem__chunk_t *n = osmem__checked(osmem__next(c));
		size_t avail = have;
		if (osmem__is_free(n))
			avail += osmem__csize(n);
		/* At the end of the break segment: move the break. */
		struct osmem__seg *s = a->brk_seg;
		if (avail < size && s &&
		    osmem__at(c, avail) == osmem__fence_of(s)) {
			grow(a, size - have, 0);
			n = osmem__checked(osmem__next(c));
			avail = have;
			if (osmem__is_free(n))
				avail += osmem__csize(n);
		}
		if (avail < size)
			return 0;
		if (avail > have) {
			dirt = osmem__dirt(n); /* what is left lies in n */
			osmem__bin_remove(a, n);
		}
		have = avail;
	}
	a->st.in_use -= osmem__csize(c);
	carve(a, c, have, size, pflag, dirt, 1);
	return 1;
}
