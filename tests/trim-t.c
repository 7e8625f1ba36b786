/*
 * trim-t: when a free shrinks the break.  The free end of the break goes
 * back once it exceeds the trim threshold and holds a step (64 KiB, at
 * most the threshold) beyond the pad; with the defaults (threshold and
 * pad both 128 KiB) a block carved from a fresh pad and freed again
 * leaves the break where it is, where it used to shrink it by a page or
 * two for the next request to grow it back.
 */
#include "util.h"

enum { BLK = 16 * 1024, MOST = 512, STEP = 64 * 1024 };

/* The free chunk at the end of the break segment: its size, or 0. */
static size_t
top(struct osmem__arena *a)
{
	osmem__chunk_t *f = osmem__fence_of(a->brk_seg);
	return (f->head & OSMEM_F_PINUSE) ? 0 : f->prev_foot;
}

int
main(void)
{
	static char *b[MOST];
	struct osmem__arena *a = &osmem__g.arena[0];
	size_t pad = osmem__g.cfg.top_pad, page = osmem__g.page;
	int n = 0;
	osmem_free(osmem_malloc(1)); /* the heap and this thread's cache */
	if (!a->brk_seg)
		bail("no break segment");
	/* Blocks end to end until the break grows: the top is then the
	 * growth's pad, less what the last block took of it. */
	size_t heap0 = a->st.heap;
	while (n < MOST && a->st.heap == heap0)
		if (!(b[n++] = osmem_malloc(BLK - OSMEM_OVERHEAD)))
			bail("no memory for block %d", n);
	size_t heap1 = a->st.heap, top1 = top(a);
	ok(heap1 > heap0 && top1 >= pad, "the break grew, its pad free (%zu)",
	   top1);

	void *x = osmem_malloc(BLK - OSMEM_OVERHEAD);
	ok(top(a) == top1 - BLK, "a block carved from the top");
	osmem_free(x);
	ok(a->st.heap == heap1 && top(a) == top1,
	   "freed, it leaves the break as it was (%zu bytes free at the top)",
	   top(a));
	heap_ok("after the free at the top");

	/* Freed below the top, the blocks merge into it: no trim until the
	 * top holds a step beyond the pad, then back down to the pad. */
	int kept = 1;
	while (n > 2 && top(a) + BLK < pad + STEP) {
		osmem_free(b[--n]);
		kept &= a->st.heap == heap1;
	}
	ok(kept, "frees that leave the top within a step of the pad trim "
	         "nothing");
	if (n < 2)
		bail("the blocks ran out before the top passed the step");
	osmem_free(b[--n]);
	ok(a->st.heap < heap1 && top(a) >= pad &&
	       top(a) < pad + page + OSMEM_MIN_CHUNK + OSMEM_FENCE,
	   "the free that passes the step trims the top to the pad (%zu "
	   "bytes free at the top, %zu given back)",
	   top(a), heap1 - a->st.heap);
	heap_ok("after the trim");

	/* A threshold below the step is the step: at 0 every free at the
	 * top trims it back to the pad. */
	ok(osmem_mallopt(OSMEM_M_TRIM_THRESHOLD, 0) == 1, "threshold 0");
	size_t heap2 = a->st.heap;
	osmem_free(b[--n]);
	ok(a->st.heap < heap2 &&
	       top(a) < pad + page + OSMEM_MIN_CHUNK + OSMEM_FENCE,
	   "with threshold 0, one block freed at the top trims it (%zu "
	   "bytes given back)",
	   heap2 - a->st.heap);
	while (n > 0)
		osmem_free(b[--n]);
	heap_ok("after freeing them all");
	return done_testing();
}
