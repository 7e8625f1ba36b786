/*
 * calloc-t: calloc returns zeroed memory, including when it reuses a dirty
 * block; it rejects overflowing products with ENOMEM; and a large calloc
 * does not touch its pages (a fresh mapping is zero already).
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>

static int
all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

int
main(void)
{
	void *g = osmem_malloc(1);
	for (size_t n = 1; n < 5000; n = n * 3 + 1) {
		void *d = osmem_malloc(n);
		memset(d, 0xa5, n);
		void *guard = osmem_malloc(1);
		osmem_free(d);
		void *z = osmem_calloc(1, n);
		ok(z == d && all_zero(z, n),
		   "calloc(1, %zu) reusing a dirty block is zeroed", n);
		osmem_free(z);
		osmem_free(guard);
	}
	heap_ok("after zeroed reuse");

	void *e = osmem_calloc(0, 10), *f = osmem_calloc(10, 0);
	ok(e && f && e != f, "calloc with a zero count or size is unique");
	osmem_free(e);
	osmem_free(f);

	errno = 0;
	ok(osmem_calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM,
	   "calloc(SIZE_MAX/2, 3) overflows: NULL, ENOMEM");
	errno = 0;
	ok(osmem_calloc((size_t)1 << 33, (size_t)1 << 33) == NULL &&
	       errno == ENOMEM,
	   "calloc(2^33, 2^33) overflows: NULL, ENOMEM");
	errno = 0;
	ok(osmem_calloc(1, SIZE_MAX - 4096) == NULL && errno == ENOMEM,
	   "calloc(1, SIZE_MAX - 4096): NULL, ENOMEM");
	heap_ok("after overflowing callocs");

	long before = resident_kib();
	size_t big = 64u << 20;
	unsigned char *l = osmem_calloc(1, big);
	long after = resident_kib();
	ok(l != NULL, "calloc of 64 MiB");
	ok(before > 0 && after - before < 256,
	   "a mapped calloc touches no pages (%ld KiB more resident)",
	   after - before);
	ok(l[0] == 0 && l[big / 2] == 0 && l[big - 1] == 0,
	   "and reads as zero");
	osmem_free(l);
	osmem_free(g);
	heap_ok("at the end");
	return done_testing();
}
