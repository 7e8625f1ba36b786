/*
 * tcache-t: the thread caches in front of the core.  A freed block of a
 * cached size waits in its bin and serves the next request of that size; a
 * full bin sends half back; a bin that keeps missing is refilled with a
 * run of neighbours carved off the victim (the rest of the split that
 * served the miss), one more each miss in doubling steps up to half the
 * bin, and none once the bin fills up; blocks flushed as a run of
 * neighbours go back as one chunk.  The heap check runs after each step.
 */
#include "util.h"

enum { N = 100, CHUNK = 112, BIN = CHUNK / 16, MAXRUN = 8 };

static size_t
cached(void)
{
	struct osmem_stats s;
	osmem_stats(&s);
	return s.cached;
}

int
main(void)
{
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, 16) == 1, "thread caches on");
	/* A block to make this thread's cache, then a large free block at
	 * the end of the heap to carve from. */
	osmem_free(osmem_malloc(1));
	void *big = osmem_malloc(120000);
	void *stop = osmem_malloc(1);
	osmem_free(big);
	heap_ok("with a 120 KB free block");
	ok(osmem__tc->refill[BIN] == 0 && cached() == 0,
	   "no refill and nothing cached yet");

	/* A run of mallocs of one size, nothing freed.  The model: a miss
	 * carves refill extra chunks and raises refill to min(2r or 1, 8). */
	void *p[64];
	size_t model_cached = 0, refill = 0;
	int consecutive = 1, as_model = 1, misses = 0, visits = 0;
	for (int i = 0; i < 64; i++) {
		int miss = model_cached == 0;
		size_t in_use = osmem__g.arena[0].st.in_use;
		p[i] = osmem_malloc(N);
		visits += osmem__g.arena[0].st.in_use != in_use;
		if (miss) {
			misses++;
			model_cached = refill * CHUNK;
			refill = refill ? 2 * refill : 1;
			if (refill > MAXRUN)
				refill = MAXRUN;
		} else {
			model_cached -= CHUNK;
		}
		if (cached() != model_cached || osmem__tc->refill[BIN] != refill)
			as_model = 0;
		if (i > 0 && dist(p[i - 1], p[i]) != CHUNK)
			consecutive = 0;
		fill(p[i], N, (unsigned)i);
	}
	ok(as_model, "cached bytes and the refill count follow the model "
	             "(%d misses for 64 blocks)", misses);
	ok(visits == misses && visits == 10,
	   "64 blocks took 10 visits to the arena, not 64 (%d)", visits);
	ok(consecutive, "the blocks are neighbours, in address order");
	heap_ok("after the run");

	/* Freeing them fills the bin: half goes back (in runs of neighbours,
	 * the first half freed in order, the second in reverse), and the
	 * refill stops. */
	int intact = 1;
	for (int i = 0; i < 64; i++) {
		int k = i < 32 ? i : 95 - i;
		intact &= filled(p[k], N, (unsigned)k);
		osmem_free(p[k]);
	}
	ok(intact, "every block kept its contents");
	ok(osmem__tc->refill[BIN] == 0, "a bin that filled up refills no more");
	heap_ok("after freeing the run");
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, 16) == 1, "caches emptied");
	ok(cached() == 0, "nothing cached after the reset");
	chunk_t *first = osmem__mem2chunk(p[0]);
	ok(osmem__is_free(first) && osmem__csize(first) >= 64 * CHUNK,
	   "the run's space is one free chunk again (%zu bytes)",
	   osmem__csize(first));
	heap_ok("after the reset");

	/* A size asked for once brings nothing extra; its second miss
	 * brings one. */
	void *once = osmem_malloc(500);
	ok(cached() == 0, "one request of a size caches nothing extra");
	void *twice = osmem_malloc(500);
	ok(cached() == osmem__request2size(500),
	   "its second miss caches one neighbour (%zu bytes)", cached());
	ok(dist(once, twice) == (ptrdiff_t)osmem__request2size(500),
	   "the second block follows the first");
	heap_ok("after a refill of one");

	/* A miss served by an exact hole splits nothing, so it carves
	 * nothing: the refill takes only from the rest of a split. */
	void *a = osmem_malloc(300), *hole = osmem_malloc(300);
	void *b = osmem_malloc(300);
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, 0) == 1, "caches off");
	osmem_free(hole); /* straight to the core: an exact 320-byte hole */
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, 16) == 1, "caches on again");
	osmem__tc->refill[320 / 16] = 4; /* as if it kept missing */
	void *again = osmem_malloc(300);
	ok(again == hole, "best fit takes the exact hole");
	ok(cached() == 0, "and nothing is carved after it (%zu)", cached());
	heap_ok("after the exact fit");

	osmem_free(again);
	osmem_free(a);
	osmem_free(b);
	osmem_free(once);
	osmem_free(twice);
	osmem_free(stop);
	ok(osmem_mallopt(OSMEM_M_TCACHE_COUNT, 0) == 1, "caches flushed");
	ok(live_bytes() == 0, "all freed: nothing in use");
	heap_ok("at the end");
	return done_testing();
}
