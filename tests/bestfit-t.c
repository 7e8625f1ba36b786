/*
 * bestfit-t: placement is exact best fit (the smallest free block that
 * fits, lowest address among equal sizes), blocks split on allocation and
 * coalesce with free neighbours on both sides.
 */
#include "util.h"

/* Allocate a block whose chunk is exactly csize bytes. */
static void *
chunk_of(size_t csize)
{
	void *p = osmem_malloc(csize - OSMEM_OVERHEAD);
	if (!p || osmem__csize(osmem__mem2chunk(p)) != csize)
		bail("cannot make a %zu-byte chunk", csize);
	return p;
}

int
main(void)
{
	core_only();
	/* On a fresh heap, coalescing:  free the middle of three, then each side. */
	void *x = chunk_of(112), *y = chunk_of(112), *z = chunk_of(112);
	void *guard = osmem_malloc(1);
	ok(dist(x, y) == 112 && dist(y, z) == 112, "three adjacent blocks");
	osmem_free(y);
	heap_ok("after freeing the middle block");
	osmem_free(x);
	heap_ok("after freeing the left block (merges forward)");
	osmem_free(z);
	heap_ok("after freeing the right block (merges backward)");
	ok(chunk_of(336) == x, "the three merged into one 336-byte block");

	/* A split that would leave less than a minimum chunk takes it all. */
	void *a = chunk_of(64);
	void *ga = osmem_malloc(1);
	osmem_free(a);
	void *b = osmem_malloc(40); /* 48-byte chunk; 16 would be left */
	ok(b == a && osmem__csize(osmem__mem2chunk(b)) == 64,
	   "no split below the minimum chunk (got a %zu-byte chunk)",
	   osmem__csize(osmem__mem2chunk(b)));
	osmem_free(guard);
	osmem_free(ga);
	osmem_free(b);
	osmem_free(x); /* the merged block, reallocated */
	heap_ok("with everything freed");

	/* Holes of these chunk sizes, in address order, each followed by an
	 * in-use guard so they cannot merge. */
	static const size_t hole[] = { 208, 400, 208, 608, 400,
	                               5008, 4208, 4208, 4608 };
	enum { N = sizeof hole / sizeof hole[0] };
	void *h[N], *g[N];
	for (int i = 0; i < N; i++) {
		h[i] = chunk_of(hole[i]);
		g[i] = osmem_malloc(1);
	}
	for (int i = 0; i < N; i++)
		osmem_free(h[i]);
	heap_ok("with nine holes");

	ok(chunk_of(208) == h[0], "208: the lower of two equal holes");
	ok(chunk_of(208) == h[2], "208 again: the other one");
	heap_ok("after exact fits");
	ok(chunk_of(304) == h[1], "304: smallest hole that fits (400), lowest");
	ok(chunk_of(96) == (char *)h[1] + 304,
	   "96: the remainder split off that 400 hole");
	ok(chunk_of(400) == h[4], "400: exact hole preferred to a lower 608");
	heap_ok("after small-bin placements");
	ok(chunk_of(4112) == h[6], "4112: lowest of the two 4208 holes");
	ok(chunk_of(4208) == h[7], "4208: the other 4208 hole");
	ok(chunk_of(4304) == h[8], "4304: 4608 rather than the lower 5008");
	ok(chunk_of(4912) == h[5], "4912: the last hole that fits, 5008");
	heap_ok("after large-bin placements");

	heap_ok("at the end");
	(void)g;
	return done_testing();
}
