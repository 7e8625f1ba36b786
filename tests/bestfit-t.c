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

/*
 * A long run of frees piles chunks without ordering them (bins.c); the
 * next allocation must still find exact best fit among them, and a piled
 * chunk must merge with a neighbour freed later.  NP holes of assorted
 * sizes, each behind an in-use guard, freed from the top down; then every
 * other guard (each merges the holes on both sides of it); then requests
 * checked against the best fit worked out here.
 */
enum { NP = 120 };

static size_t
pile_size(int i)
{
	return 48 + (size_t)(i * 37 % 23) * 48; /* 48..1104, repeats */
}

static void
pile(void)
{
	char *h[NP], *g[NP];
	size_t size[NP];
	int isfree[NP];
	size_t gsize[NP];
	for (int i = 0; i < NP; i++) {
		/* what is left of earlier holes may round a chunk up */
		h[i] = osmem_malloc(pile_size(i) - OSMEM_OVERHEAD);
		g[i] = osmem_malloc(1);
		size[i] = osmem__csize(osmem__mem2chunk(h[i]));
		gsize[i] = osmem__csize(osmem__mem2chunk(g[i]));
	}
	void *top = osmem_malloc(1); /* keeps the last hole off the top */
	int bad = 0;
	for (int i = NP; i-- > 0;) {
		osmem_free(h[i]);
		isfree[i] = 1;
		bad += osmem__heap_check() != 0;
	}
	ok(bad == 0, "heap check passes after each of %d frees in a row", NP);
	ok(osmem__g.arena[0].pile[0] != NULL, "a run of frees piles chunks");
	bad = 0;
	for (int i = 1; i + 1 < NP; i += 4) {
		/* g[i] lies between hole i and hole i + 1 */
		osmem_free(g[i]);
		size[i] += gsize[i] + size[i + 1];
		isfree[i + 1] = 0;
		bad += osmem__heap_check() != 0;
	}
	ok(bad == 0, "piled chunks merge with a guard freed between them");
	/* Requests: best fit over the free holes, lowest address on ties. */
	int wrong = 0, n = 0, nr = 0;
	void *got[16];
	for (size_t want = 48; want <= 2304; want += 176) {
		int best = -1;
		for (int i = 0; i < NP; i++)
			if (isfree[i] && size[i] >= want &&
			    (best < 0 || size[i] < size[best] ||
			     (size[i] == size[best] && h[i] < h[best])))
				best = i;
		char *p = got[nr++] = osmem_malloc(want - OSMEM_OVERHEAD);
		n += best >= 0;
		if (best < 0) {
			continue; /* no hole fits: the top serves it */
		}
		if (p != h[best]) {
			diag("request %zu: got %p, best fit %p", want,
			     (void *)p, (void *)h[best]);
			wrong++;
			continue;
		}
		/* the rest of the hole stays free (when a chunk is left) */
		if (size[best] - want >= OSMEM_MIN_CHUNK) {
			h[best] += want;
			size[best] -= want;
		} else {
			isfree[best] = 0;
		}
	}
	ok(wrong == 0 && n >= 10,
	   "%d requests after the run placed best fit (%d wrong)", n, wrong);
	ok(!osmem__g.arena[0].pile[0] && !osmem__g.arena[0].pile[1],
	   "a search empties the piles");
	heap_ok("after placing from the pile");
	/* Free the rest: the heap is one free chunk again. */
	for (int i = 0; i < nr; i++)
		osmem_free(got[i]);
	for (int i = 0; i < NP; i++)
		if (i % 4 != 1 || i + 1 >= NP)
			osmem_free(g[i]);
	osmem_free(top);
	ok(osmem__g.arena[0].st.nfree_chunks == 1,
	   "everything merged again (%zu free chunks)",
	   osmem__g.arena[0].st.nfree_chunks);
}

/*
 * An exact bin is a pairing heap by address (binheap.c): it must give up
 * its chunks lowest address first whatever order they came in, take one
 * out from anywhere when a neighbour merges with it, and stay checkable
 * when its lists are long: NH holes of one size, each behind a guard,
 * freed from the bottom up (the root gets NH children) or from the top
 * down (a chain NH deep), every third merged away by freeing its guard,
 * then taken back.
 */
enum { NH = 30000 };

static void
heap_order(int down)
{
	static void *h[NH], *g[NH];
	for (int i = 0; i < NH; i++) {
		h[i] = chunk_of(96);
		g[i] = osmem_malloc(1);
	}
	for (int k = 0; k < NH; k++)
		osmem_free(h[down ? NH - 1 - k : k]);
	/* A run of frees piles them; a search puts the pile into the bins,
	 * the last freed first. */
	osmem_free(osmem_malloc(8));
	ok(osmem__g.arena[0].pile[0] == NULL, "the pile went into the bins");
	heap_ok(down ? "with a heap 30000 wide" : "with a heap 30000 deep");
	for (int i = 1; i < NH; i += 3) {
		osmem_free(g[i]); /* merges h[i] and h[i + 1] */
		g[i] = NULL;
	}
	heap_ok("after merging a third of the holes away");
	int in_order = 1;
	for (int i = 0; i < NH; i++) {
		if (i % 3 == 1 || i % 3 == 2)
			continue; /* merged into a larger hole */
		in_order &= chunk_of(96) == h[i];
	}
	ok(in_order, "holes freed %s come back lowest address first",
	   down ? "top down" : "bottom up");
	heap_ok("after taking the holes back");
	for (int i = 0; i < NH; i++) {
		if (i % 3 == 0)
			osmem_free(h[i]);
		if (g[i])
			osmem_free(g[i]);
	}
	for (int i = 1; i < NH; i += 3)
		osmem_free(chunk_of(96)); /* whatever of the merged holes */
	heap_ok("with the holes freed again");
}

int
main(void)
{
	core_only();
	pile(); /* first: on a heap with no other free chunks */
	heap_order(0);
	heap_order(1);

	/* On a fresh heap, coalescing:  free the middle of three, then each
	 * side. */
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
	static const size_t hole[] = {208,  400,  208,  608, 400,
	                              5008, 4208, 4208, 4608};
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
	ok(chunk_of(304) == h[1],
	   "304: smallest hole that fits (400), lowest");
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
