/*
 * random-t: a long randomized run of malloc, calloc, realloc and free over
 * a shifting mix of sizes (tiny, small-bin, large-bin, mapped), checking
 * every live block's contents and running the heap checker after each step.
 * OSMEM_TEST_SEED and OSMEM_TEST_STEPS override the defaults.
 */
#include "util.h"

#include <stdlib.h>

enum { SLOTS = 512 };
static void *ptr[SLOTS];
static size_t len[SLOTS];
static unsigned tag[SLOTS];
static uint64_t rng;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t
pick_size(void)
{
	uint64_t r = next() % 100;
	if (r < 50)
		return next() % 64;
	if (r < 80)
		return next() % 1024;
	if (r < 97)
		return next() % 20000;
	return 100000 + next() % 300000; /* around the mmap threshold */
}

int
main(void)
{
	const char *s = getenv("OSMEM_TEST_SEED");
	const char *n = getenv("OSMEM_TEST_STEPS");
	rng = s ? strtoull(s, NULL, 0) : 0x9e3779b97f4a7c15ull;
	long steps = n ? strtol(n, NULL, 0) : 30000;
	diag("seed %llu, %ld steps", (unsigned long long)rng, steps);
	long bad_data = -1, bad_heap = -1, bad_alloc = -1;
	for (long i = 0; i < steps; i++) {
		unsigned k = (unsigned)(next() % SLOTS);
		uint64_t op = next() % 10;
		if (ptr[k] && !filled(ptr[k], len[k], tag[k]) && bad_data < 0)
			bad_data = i;
		if (ptr[k] && op < 4) {
			osmem_free(ptr[k]);
			ptr[k] = NULL;
		} else if (ptr[k] && op < 7) {
			size_t m = pick_size();
			void *q = osmem_realloc(ptr[k], m);
			if (!q && m) {
				bad_alloc = i;
				continue;
			}
			size_t keep = len[k] < m ? len[k] : m;
			if (q && !filled(q, keep, tag[k]) && bad_data < 0)
				bad_data = i;
			ptr[k] = q;
			len[k] = m;
			tag[k] = (unsigned)i;
			if (q)
				fill(q, m, tag[k]);
		} else if (!ptr[k]) {
			size_t m = pick_size();
			int zero = op == 9;
			ptr[k] = zero ? osmem_calloc(1, m) : osmem_malloc(m);
			if (!ptr[k]) {
				bad_alloc = i;
				continue;
			}
			if (zero && !filled(ptr[k], 0, 0)) {
				for (size_t j = 0; j < m; j++)
					if (((char *)ptr[k])[j])
						bad_data = i;
			}
			len[k] = m;
			tag[k] = (unsigned)i;
			fill(ptr[k], m, tag[k]);
		}
		if (bad_heap < 0 && osmem__heap_check() != 0)
			bad_heap = i;
		if (bad_heap >= 0 || bad_data >= 0 || bad_alloc >= 0)
			break;
	}
	ok(bad_alloc < 0, "every allocation succeeded (first failure: %ld)",
	   bad_alloc);
	ok(bad_data < 0, "every block kept its contents (first bad step: %ld)",
	   bad_data);
	ok(bad_heap < 0, "heap check passed after every step (first bad: %ld)",
	   bad_heap);
	for (unsigned k = 0; k < SLOTS; k++)
		osmem_free(ptr[k]);
	heap_ok("after freeing everything");
	ok(live_bytes() == 0, "nothing left in use");
	return done_testing();
}
