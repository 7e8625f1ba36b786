/*
 * vgprog: planted bugs for valgrind-t to find with memcheck: a read after
 * free, a write one byte past a block, and a leak of 3 x 100 bytes (all
 * three dropped).  Built twice: with the standard names (run under
 * LD_PRELOAD of libosmem-malloc.so) and with the osmem_ names (linked with
 * libosmem).
 */
#include <stdlib.h>
#include <string.h>

#ifdef USE_OSMEM_API
#include "osmem.h"
#define MALLOC osmem_malloc
#define FREE osmem_free
#else
#define MALLOC malloc
#define FREE free
#endif

static void *volatile keep;

int
main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	char *p = MALLOC(100);
	memset(p, 1, 100);
	if (!strcmp(what, "use-after-free")) {
		FREE(p);
		volatile size_t at = 10;
		return ((volatile char *)p)[at]; /* the bug */
	}
	if (!strcmp(what, "overflow")) {
		volatile size_t past = 100; /* hidden from the compiler */
		p[past] = 2;                /* the bug: one past the end */
		FREE(p);
		return 0;
	}
	if (!strcmp(what, "leak")) {
		for (int i = 0; i < 3; i++)
			keep =
			    MALLOC(100); /* the bug: only the last is kept */
		keep = NULL;
		FREE(p);
		return 0;
	}
	FREE(p); /* "clean": nothing wrong */
	return 0;
}
