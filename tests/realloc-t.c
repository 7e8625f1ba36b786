/*
 * realloc-t: realloc shrinks in place, grows in place into a following free
 * block or by moving the break, moves when it must (contents kept), and
 * follows glibc for NULL and zero sizes and for failure.
 */
#include "util.h"

#include <errno.h>
#include <stdint.h>

int
main(void)
{
	core_only();
	/* Shrink in place; the tail becomes a free block. */
	void *p = osmem_malloc(1000), *g1 = osmem_malloc(1);
	fill(p, 1000, 1);
	void *q = osmem_realloc(p, 100);
	ok(q == p, "shrinking stays in place");
	ok(filled(q, 100, 1), "shrinking keeps the contents");
	heap_ok("after shrink");
	void *tail = osmem_malloc(1008 - 112 - OSMEM_OVERHEAD);
	ok(tail == (char *)p + 112, "the split-off tail is reused");
	osmem_free(tail);

	/* Grow into a following free block. */
	void *a = osmem_malloc(100), *b = osmem_malloc(200);
	void *g2 = osmem_malloc(1);
	fill(a, 100, 2);
	osmem_free(b);
	q = osmem_realloc(a, 250);
	ok(q == a, "growing into a free neighbour stays in place");
	ok(filled(q, 100, 2), "and keeps the contents");
	heap_ok("after growing into a neighbour");

	/* Grow at the end of the heap by moving the break. */
	struct osmem__seg *s = osmem__g.arena[0].brk_seg;
	osmem__chunk_t *fence = (osmem__chunk_t *)(s->end - OSMEM_FENCE);
	size_t top = (fence->head & OSMEM_F_PINUSE) ? 0 : fence->prev_foot;
	void *filler[16];
	int nfill = 0;
	while (top >= 65536 && nfill < 16) { /* stay under the threshold */
		filler[nfill++] = osmem_malloc(32768);
		top = (fence->head & OSMEM_F_PINUSE) ? 0 : fence->prev_foot;
	}
	void *last = osmem_malloc(top - OSMEM_OVERHEAD);
	ok(osmem__next(osmem__mem2chunk(last)) == fence,
	   "a block of the heap's free end (%zu bytes) ends at the fence",
	   top);
	fill(last, top - OSMEM_OVERHEAD, 3);
	char *brk0 = sbrk(0);
	q = osmem_realloc(last, top + 200000);
	ok(q == last, "growing the last block moves the break, in place");
	ok((char *)sbrk(0) >= brk0 + 200000, "the break moved by %td bytes",
	   (char *)sbrk(0) - brk0);
	ok(filled(q, top - OSMEM_OVERHEAD, 3), "contents kept");
	heap_ok("after growing at the break");

	/* Move when nothing follows. */
	void *m = osmem_malloc(100);
	void *g3 = osmem_malloc(1);
	fill(m, 100, 4);
	q = osmem_realloc(m, 5000);
	ok(q && q != m, "growing with an in-use neighbour moves");
	ok(filled(q, 100, 4), "moved contents kept");
	heap_ok("after a move");

	/* glibc semantics for NULL and zero. */
	void *r = osmem_realloc(NULL, 64);
	ok(r && osmem_usable_size(r) >= 64, "realloc(NULL, n) allocates");
	size_t in_use = live_bytes();
	errno = 0;
	ok(osmem_realloc(r, 0) == NULL, "realloc(p, 0) returns NULL");
	ok(live_bytes() < in_use, "realloc(p, 0) freed the block");
	ok(errno == 0, "realloc(p, 0) leaves errno alone");
	r = osmem_realloc(NULL, 0);
	ok(r != NULL,
	   "realloc(NULL, 0) returns a unique pointer, as malloc(0)");
	osmem_free(r);
	heap_ok("after zero-size reallocs");

	/* Failure leaves the block untouched. */
	void *f = osmem_malloc(300);
	fill(f, 300, 5);
	errno = 0;
	ok(osmem_realloc(f, SIZE_MAX - 64) == NULL && errno == ENOMEM,
	   "realloc to SIZE_MAX-64 fails with ENOMEM");
	ok(filled(f, 300, 5) && osmem_usable_size(f) >= 300,
	   "the old block is unchanged");
	heap_ok("after a failed realloc");

	/* Mapped blocks: grow with mremap, shrink back into the heap. */
	char *big = osmem_malloc(200000);
	fill(big, 200000, 6);
	char *bigger = osmem_realloc(big, 3000000);
	ok(bigger && filled(bigger, 200000, 6), "a mapped block grows");
	ok(osmem__mem2chunk(bigger)->head & OSMEM_F_MMAP, "and stays mapped");
	char *small = osmem_realloc(bigger, 1000);
	ok(small && filled(small, 1000, 6),
	   "shrinking it to 1000 bytes keeps data");
	ok(!(osmem__mem2chunk(small)->head & OSMEM_F_MMAP),
	   "and moves it to the heap");
	heap_ok("after mapped reallocs");

	osmem_free(small);
	osmem_free(f);
	osmem_free(q);
	osmem_free(a);
	osmem_free(p);
	osmem_free(g1);
	osmem_free(g2);
	osmem_free(g3);
	osmem_free(last);
	while (nfill > 0)
		osmem_free(filler[--nfill]);
	ok(live_bytes() == 0, "all freed: nothing in use");
	heap_ok("at the end");
	/* With the thread caches on, a shrink's tail goes to the cache, as a
	 * freed block would, rather than straight back to the arena. */
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, 16) == 1, "thread caches on");
	void *t1 = osmem_malloc(1000), *tg = osmem_malloc(1);
	struct osmem_stats st0, st1;
	osmem_stats(&st0);
	void *t2 = osmem_realloc(t1, 100);
	osmem_stats(&st1);
	ok(t2 == t1 && st1.cached == st0.cached + 1008 - 112,
	   "a shrink stays in place and caches its 896-byte tail (%zu -> %zu)",
	   st0.cached, st1.cached);
	void *below = osmem_malloc(500);
	ok(below != (char *)t1 + 112,
	   "a smaller request is not packed into it");
	void *same = osmem_malloc(896 - OSMEM_OVERHEAD);
	ok(same == (char *)t1 + 112, "a request of its size takes it");
	osmem_free(same);
	osmem_free(below);
	osmem_free(t2);
	osmem_free(tg);
	heap_ok("after the cached tail");
	return done_testing();
}
