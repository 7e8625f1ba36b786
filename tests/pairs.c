/*
 * pairs [N [SIZE]]: N malloc/free pairs of SIZE bytes (64 unless told),
 * one cached size, through the plain names,
 * for fastpath-t to count instructions with callgrind.  Built normally;
 * the allocator is whatever LD_PRELOAD names.
 */
#include <stdlib.h>

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	size_t size = argc > 2 ? (size_t)atol(argv[2]) : 64;
	void *volatile sink;
	for (long i = 0; i < n; i++) {
		void *p = malloc(size);
		sink = p;
		free(p);
	}
	(void)sink;
	return 0;
}
