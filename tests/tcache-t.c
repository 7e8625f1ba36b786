/*
 * tcache-t: the thread caches in front of the core.  A freed block of a
 * cached size waits in its bin and serves the next request of that size;
 * a run of misses is served in runs of blocks carved together; a full
 * bin sends half of its blocks back, and blocks that leave as a
 * run of neighbours go back as one chunk; a request whose bin is empty
 * takes a cached block up to a sixteenth larger; a corrupted link is not
 * in this test (corrupt-t has it).  The heap check runs after each
 * step.
 */
#include "util.h"

enum { N = 100, CHUNK = 112, BIN = CHUNK / 16, CAP = 16 };

static size_t
cached(void)
{
	struct osmem_stats s;
	osmem_stats(&s);
	return s.cached;
}

static size_t
heap_bytes(void)
{
	struct osmem_stats s;
	osmem_stats(&s);
	return s.heap;
}

/* Allocate the core's free chunks of at least least bytes into take[]
 * (64 at most), so that the next request finds no room; their number. */
static int
take_free(void *take[64], size_t least)
{
	int nt = 0;
	struct osmem_stats s;
	for (osmem_stats(&s); s.largest_free >= least; osmem_stats(&s)) {
		size_t n = s.largest_free < 65536 ? s.largest_free : 65536;
		if (nt == 64 ||
		    !(take[nt++] = osmem_malloc(n - OSMEM_OVERHEAD)))
			bail("cannot take the core's free chunks");
	}
	return nt;
}

/*
 * Before the heap grows, the thread's cache gives back what each bin
 * holds beyond half its cap, and the request is tried again; then all of
 * it, and only then does the heap grow.  A full bin of neighbours, with
 * no free chunk in the core as large as eight of them: a request for
 * eight is served from the eight that go back, and one larger than all
 * sixteen grows the heap.
 */
static void
before_growth(void)
{
	void *r[CAP], *take[64];
	int neighbours = 1;
	for (int i = 0; i < CAP; i++) {
		r[i] = osmem_malloc(N);
		neighbours &= i == 0 || dist(r[i - 1], r[i]) == CHUNK;
	}
	if (!neighbours)
		bail("the %d blocks are not neighbours", CAP);
	osmem_mallopt(OSMEM_M_TCACHE_COUNT, CAP); /* the run's spare blocks */
	for (int i = 0; i < CAP; i++)
		osmem_free(r[i]);
	ok(osmem__tc_held(osmem__tc, BIN) == CAP,
	   "a full bin of %d neighbours", CAP);
	int nt = take_free(take, 8 * CHUNK);
	size_t heap0 = heap_bytes();
	void *eight = osmem_malloc(8 * CHUNK - OSMEM_OVERHEAD);
	ok(eight == r[0] && heap_bytes() == heap0,
	   "a request for 8 blocks' worth took the 8 oldest, which the bin "
	   "gave back, and the heap did not grow");
	ok(osmem__tc_held(osmem__tc, BIN) == CAP / 2,
	   "the bin kept the other %d", CAP / 2);
	heap_ok("after the bin gave back half");
	void *more = osmem_malloc(2 * CAP * CHUNK);
	ok(more && osmem__tc_held(osmem__tc, BIN) == 0 && heap_bytes() > heap0,
	   "one larger than all of them emptied the bin, then grew the heap");
	heap_ok("after the heap grew");
	osmem_free(more);
	osmem_free(eight);
	while (nt > 0)
		osmem_free(take[--nt]);
	heap_ok("after freeing them");
}

/*
 * A bin holding only three more than half its cap gives back its three
 * oldest before the heap grows, and keeps the latest in their order: the
 * next requests take them newest first, as if nothing had moved.
 */
static void
half_and_three(void)
{
	enum { K = CAP / 2 + 3 };
	void *r[K], *take[64];
	for (int i = 0; i < K; i++)
		if (!(r[i] = osmem_malloc(N)))
			bail("no memory for block %d", i);
	osmem_mallopt(OSMEM_M_TCACHE_COUNT, CAP); /* the run's spare blocks */
	for (int i = 0; i < K; i++)
		osmem_free(r[i]);
	ok(osmem__tc_held(osmem__tc, BIN) == K, "a bin of %d blocks", K);
	int nt = take_free(take, CHUNK);
	/* One block's worth of another size: none cached, none free. */
	void *one = osmem_malloc(CHUNK + 16 - OSMEM_OVERHEAD);
	ok(one && osmem__tc_held(osmem__tc, BIN) == CAP / 2,
	   "a request with no room had the bin give back its 3 oldest "
	   "(%zu left)",
	   osmem__tc_held(osmem__tc, BIN));
	heap_ok("after the bin gave back three");
	int order = 1;
	void *got[CAP / 2];
	for (int i = 0; i < CAP / 2; i++) {
		got[i] = osmem_malloc(N);
		order &= got[i] == r[K - 1 - i];
	}
	ok(order, "the %d it kept come back newest first", CAP / 2);
	heap_ok("after taking them");
	for (int i = 0; i < CAP / 2; i++)
		osmem_free(got[i]);
	osmem_free(one);
	while (nt > 0)
		osmem_free(take[--nt]);
	heap_ok("after freeing them");
}

/* The request for a chunk of size bytes. */
static size_t
req(size_t size)
{
	return size - OSMEM_OVERHEAD;
}

/* A block of a chunk of size bytes, freed into its (empty) cache bin. */
static void *
cache_one(size_t size)
{
	void *b = osmem_malloc(req(size));
	if (!b)
		bail("no memory for a %zu-byte block", size);
	osmem_free(b);
	if (osmem__tc_held(osmem__tc, (unsigned)(size / 16)) != 1)
		bail("the %zu-byte block is not cached", size);
	return b;
}

/*
 * A request whose bin is empty takes the smallest cached block up to a
 * sixteenth larger: a 272-byte block for a 256-byte request, not a
 * 304-byte one (more than a sixteenth), and below 256 bytes none (the
 * next bin is more than a sixteenth larger there).
 */
static void
near_bins(void)
{
	osmem_mallopt(OSMEM_M_TCACHE_COUNT, CAP); /* empty bins */
	void *b = cache_one(272);
	void *a = osmem_malloc(req(256));
	ok(a == b && osmem_usable_size(a) == req(272) &&
	       osmem__tc_held(osmem__tc, 272 / 16) == 0,
	   "a 256-byte request with its bin empty took the cached 272-byte "
	   "block");
	osmem_free(a);
	ok(osmem__tc_held(osmem__tc, 272 / 16) == 1,
	   "freed, it goes back to the 272-byte bin");
	heap_ok("after a block from the next bin");

	osmem_mallopt(OSMEM_M_TCACHE_COUNT, CAP);
	void *c = cache_one(304);
	void *d = osmem_malloc(req(256));
	ok(d && d != c && osmem__tc_held(osmem__tc, 304 / 16) == 1 &&
	       osmem_usable_size(d) == req(256),
	   "a 304-byte block (3/16 larger) is left for its own size");
	osmem_free(d);

	osmem_mallopt(OSMEM_M_TCACHE_COUNT, CAP);
	void *e = cache_one(256);
	void *f = osmem_malloc(req(240));
	ok(f && f != e && osmem__tc_held(osmem__tc, 256 / 16) == 1,
	   "below 256 bytes, no block of the next bin");
	osmem_free(f);
	osmem_mallopt(OSMEM_M_TCACHE_COUNT, CAP);
	heap_ok("after the near bins");
}

int
main(void)
{
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, CAP) == 1, "thread caches on");
	/* A block to make this thread's cache, then a large free block at
	 * the end of the heap to carve from. */
	osmem_free(osmem_malloc(1));
	void *big = osmem_malloc(120000);
	void *stop = osmem_malloc(1);
	osmem_free(big);
	heap_ok("with a 120 KB free block");
	ok(osmem__tc->cap[BIN] == CAP, "a bin of %d-byte blocks holds %d",
	   CHUNK, CAP);

	/* A run of requests of one size: each reaches the core, which
	 * carves them one after another. */
	void *p[64];
	int neighbours = 1;
	for (int i = 0; i < 64; i++) {
		p[i] = osmem_malloc(N);
		if (i > 0 && dist(p[i - 1], p[i]) != CHUNK)
			neighbours = 0;
		fill(p[i], N, (unsigned)i);
	}
	ok(neighbours, "64 blocks carved in address order");
	heap_ok("after the run");
	/* The run reached the core at requests 1, 2, 4, 8, 16, 32, 48 and
	 * 64, each time for twice the blocks of the time before, up to a full
	 * bin: the bin holds the rest of the last run, next in line. */
	ok(osmem__tc_held(osmem__tc, BIN) == CAP - 1 &&
	       cached() == (CAP - 1) * CHUNK,
	   "the bin holds the %d blocks carved with the last request",
	   CAP - 1);
	void *next = osmem_malloc(N);
	ok(dist(p[63], next) == CHUNK, "the next request takes the one after");
	osmem_free(next);
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, CAP) == 1, "caches emptied");
	size_t c0 = cached();
	heap_ok("with the run's spare blocks back in the core");

	/* A miss takes no more than the best-fitting free chunk holds: with
	 * an exact hole in the core, the request gets the hole and nothing
	 * more, however long the run it asks for. */
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, 0) == 1, "caching off");
	osmem_free(p[10]);
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, CAP) == 1, "caching on");
	osmem__tc->batch[BIN] = CAP;
	void *hole = osmem_malloc(N);
	ok(hole == p[10] && cached() == c0,
	   "a miss asking for %d blocks takes the one-block hole alone", CAP);
	p[10] = hole;
	fill(p[10], N, 10);
	heap_ok("after filling the hole");

	/* A freed block is cached and serves the next request of its size. */
	osmem_free(p[5]);
	ok(cached() == c0 + CHUNK, "a freed block is cached (%zu bytes)",
	   cached() - c0);
	void *again = osmem_malloc(N);
	ok(again == p[5] && cached() == c0, "and serves the next request");
	p[5] = again;
	fill(p[5], N, 5);

	/* The cache keeps its pointers in its own memory, none in the
	 * blocks: a write after free over cached blocks, whole, changes
	 * nothing the next requests get. */
	osmem_free(p[6]);
	osmem_free(p[7]);
	memset(p[6], 0, N);
	memset(p[7], 0xa5, N);
	void *a7 = osmem_malloc(N), *a6 = osmem_malloc(N);
	ok(a7 == p[7] && a6 == p[6] && cached() == c0,
	   "blocks written over while cached come back as they went in");
	fill(p[6], N, 6);
	fill(p[7], N, 7);
	heap_ok("after the writes over cached blocks");

	/* Free them all, the first half in order and the second in reverse:
	 * each time the bin fills up, half of it goes back, in runs of
	 * neighbours. */
	int intact = 1, halved = 0;
	size_t most = 0, before = cached();
	for (int i = 0; i < 64; i++) {
		int k = i < 32 ? i : 95 - i;
		intact &= filled(p[k], N, (unsigned)k);
		osmem_free(p[k]);
		size_t now = cached();
		if (before == c0 + CAP * CHUNK &&
		    now == c0 + (CAP / 2 + 1) * CHUNK)
			halved++;
		if (now > most)
			most = now;
		before = now;
	}
	ok(intact, "every block kept its contents");
	ok(most == c0 + CAP * CHUNK,
	   "the bin never held more than %d blocks "
	   "(%zu bytes at most)",
	   CAP, most - c0);
	ok(halved == 6,
	   "a full bin sent half of its blocks back, and kept the "
	   "freed one (%d times)",
	   halved);
	ok(osmem__tc->batch[BIN] == 1,
	   "and its next miss asks the core for one block, not a run");
	heap_ok("after freeing the run");
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, CAP) == 1, "caches emptied");
	ok(cached() == 0, "nothing cached after the reset");
	osmem__chunk_t *first = osmem__mem2chunk(p[0]);
	ok(osmem__is_free(first) && osmem__csize(first) >= 64 * CHUNK,
	   "the run's space is one free chunk again (%zu bytes)",
	   osmem__csize(first));
	heap_ok("after the reset");
	before_growth();
	half_and_three();
	near_bins();

	osmem_free(stop);
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, 0) == 1, "caches flushed");
	ok(live_bytes() == 0, "all freed: nothing in use");
	heap_ok("at the end");
	return done_testing();
}
