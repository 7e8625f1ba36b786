/*
 * coexist-t: the break heap stays correct when something else in the
 * process moves the break too: glibc's own malloc (which this program also
 * uses) and direct sbrk calls, including by amounts that misalign it.
 */
#include "util.h"

#include <stdlib.h>

int
main(void)
{
	enum { N = 300 };
	static void *mine[N], *theirs[N];
	static size_t mlen[N], tlen[N];
	unsigned seed = 12345;
	int intact = 1, disjoint = 1, checks = 1;
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		mlen[i] = 16 + (seed >> 8) % 20000;
		mine[i] = osmem_malloc(mlen[i]);
		fill(mine[i], mlen[i], (unsigned)i);
		/* glibc below its own mmap threshold uses the break too. */
		tlen[i] = 1000 + (seed >> 4) % 60000;
		theirs[i] = malloc(tlen[i]);
		fill(theirs[i], tlen[i], (unsigned)i + 7777);
		if (i % 17 == 0)
			sbrk(4096 + (i % 3)); /* a foreign, misaligning move */
		if (i % 5 == 4) {
			/* free some of each, in an interleaved order */
			int k = (int)((seed >> 12) % (unsigned)i);
			if (mine[k]) {
				intact &=
				    filled(mine[k], mlen[k], (unsigned)k);
				osmem_free(mine[k]);
				mine[k] = NULL;
			}
			if (theirs[k]) {
				intact &= filled(theirs[k], tlen[k],
				                 (unsigned)k + 7777);
				free(theirs[k]);
				theirs[k] = NULL;
			}
		}
		checks &= osmem__heap_check() == 0;
	}
	for (int i = 0; i < N; i++) {
		if (mine[i])
			intact &= filled(mine[i], mlen[i], (unsigned)i);
		if (theirs[i])
			intact &=
			    filled(theirs[i], tlen[i], (unsigned)i + 7777);
		for (int j = 0; mine[i] && j < N; j++)
			if (theirs[j] &&
			    (char *)theirs[j] < (char *)mine[i] + mlen[i] &&
			    (char *)mine[i] < (char *)theirs[j] + tlen[j])
				disjoint = 0;
	}
	ok(checks, "heap check passed after each of %d interleaved steps", N);
	ok(intact, "every block of both allocators kept its contents");
	ok(disjoint, "no osmem block overlaps a glibc block");
	ok(osmem__g.arena[0].st.nsegs > 1,
	   "the heap went on in new segments around foreign moves (%zu)",
	   osmem__g.arena[0].st.nsegs);
	for (int i = 0; i < N; i++) {
		osmem_free(mine[i]);
		free(theirs[i]);
	}
	heap_ok("after freeing everything");
	ok(live_bytes() == 0, "nothing in use");
	return done_testing();
}
