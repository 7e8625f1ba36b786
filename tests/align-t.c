/*
 * align-t: every pointer is 16-byte aligned, malloc(0) gives a unique
 * freeable pointer, and usable_size reports at least what was asked.
 */
#include "util.h"

#include <errno.h>
#include <stdalign.h>

int
main(void)
{
	static void *p[512];
	int aligned = 1, big_enough = 1;
	for (size_t i = 0; i < 512; i++) {
		size_t n = (i * 37) % 3000;
		p[i] = osmem_malloc(n);
		if (!p[i] || (uintptr_t)p[i] % alignof(max_align_t))
			aligned = 0;
		if (osmem_usable_size(p[i]) < n)
			big_enough = 0;
		fill(p[i], n, (unsigned)i);
	}
	ok(aligned, "512 pointers of 0..2999 bytes are %zu-byte aligned",
	   alignof(max_align_t));
	ok(big_enough, "usable_size is at least the size asked for");
	int intact = 1;
	for (size_t i = 0; i < 512; i++)
		intact &= filled(p[i], (i * 37) % 3000, (unsigned)i);
	ok(intact, "no block overlaps another");
	heap_ok("after 512 allocations");
	for (size_t i = 0; i < 512; i += 2)
		osmem_free(p[i]);
	heap_ok("after freeing every other block");

	void *z1 = osmem_malloc(0), *z2 = osmem_malloc(0);
	ok(z1 && z2 && z1 != z2, "malloc(0) returns two distinct pointers");
	ok(osmem_usable_size(z1) >= 0 + 1 && osmem_usable_size(z1) <= 24,
	   "malloc(0) has a minimum block (%zu usable)",
	   osmem_usable_size(z1));
	osmem_free(z1);
	osmem_free(z2);
	heap_ok("after freeing malloc(0) blocks");

	ok(osmem_usable_size(NULL) == 0, "usable_size(NULL) is 0");
	errno = 1234;
	osmem_free(NULL);
	ok(errno == 1234, "free(NULL) is a no-op and keeps errno");

	void *q = osmem_malloc(100);
	errno = 4321;
	osmem_free(q);
	ok(errno == 4321, "free keeps errno");

	/* Minimum block: 24 usable bytes in a 32-byte chunk. */
	void *m = osmem_malloc(1);
	ok(osmem_usable_size(m) == 24, "malloc(1) has 24 usable bytes (%zu)",
	   osmem_usable_size(m));
	void *m2 = osmem_malloc(25);
	ok(osmem_usable_size(m2) == 40, "malloc(25) has 40 usable bytes (%zu)",
	   osmem_usable_size(m2));
	osmem_free(m);
	osmem_free(m2);
	for (size_t i = 1; i < 512; i += 2)
		osmem_free(p[i]);
	heap_ok("at the end");
	return done_testing();
}
