/*
 * pairs: N malloc/free pairs of one cached size through the plain names,
 * for fastpath-t to count instructions with callgrind.  Built normally;
 * the allocator is whatever LD_PRELOAD names.
 */
#include <stdlib.h>

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	void *volatile sink;
	for (long i = 0; i < n; i++) {
		void *p = malloc(64);
		sink = p;
		free(p);
	}
	(void)sink;
	return 0;
}
