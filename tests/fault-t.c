/*
 * fault-t: every failure of the operating system gives NULL with ENOMEM and
 * leaves the heap and every live block intact.  When the break cannot move,
 * small allocations carry on from mapped segments.  Failures are injected
 * through the seam in os.c.
 */
#include "util.h"
#include "os.h"

#include <errno.h>
#include <stdint.h>

static void
reset(void)
{
	osmem__os_fail(OSMEM_OS_SBRK, 0, 0);
	osmem__os_fail(OSMEM_OS_MMAP, 0, 0);
	osmem__os_fail(OSMEM_OS_MADVISE, 0, 0);
	osmem__os_fail(OSMEM_OS_MUNMAP, 0, 0);
}

/* free when munmap fails: it returns, errno as it was, the block's
 * mapping is kept (its pages given back) and a later large request of a
 * size it fits reuses it, zeroed; once munmap works again, a later free
 * gives the kept mapping back too. */
static void
munmap_fails(void)
{
	reset();
	osmem_mallopt(OSMEM_M_MMAP_THRESHOLD, 128 * 1024);
	char *a = osmem_malloc(1 << 20), *b = osmem_malloc(1 << 20);
	memset(a, 0x5a, 1 << 20);
	size_t held = osmem__os_held();
	osmem__os_fail(OSMEM_OS_MUNMAP, 0, -1);
	errno = 1789;
	osmem_free(a);
	ok(errno == 1789, "free with munmap failing returns, errno untouched");
	ok(osmem__os_held() == held, "the mapping is kept (%zu bytes held)",
	   osmem__os_held());
	heap_ok("after a free whose munmap failed");
	char *c = osmem_malloc((1 << 20) - 4096);
	int zero = c != NULL;
	for (size_t i = 0; c && i < (1 << 20) - 4096; i += 512)
		zero &= c[i] == 0;
	ok(c == a && zero && osmem__os_held() == held,
	   "a large request that fits reuses the kept mapping, zeroed");
	osmem_free(c); /* kept again */
	reset();
	osmem_free(b); /* unmaps b, then the kept one */
	ok(osmem__os_held() == held - 2 * ((1 << 20) + 4096),
	   "once munmap works, the next free gives the kept mapping back too "
	   "(%zu bytes held, were %zu)",
	   osmem__os_held(), held);
	heap_ok("after the kept mapping went back");

	/* A kept mapping that ends in a guard page is never handed out. */
	osmem__g.cfg.guard = 1;
	char *g = osmem_malloc(1 << 20);
	osmem__g.cfg.guard = 0;
	osmem__os_fail(OSMEM_OS_MUNMAP, 0, -1);
	osmem_free(g);
	reset();
	char *h = osmem_malloc((1 << 20) - 8192);
	/* g's mapping starts a page before it; reused, it would hold h at
	 * the usual offset (head, then the chunk's 16 bytes). */
	uintptr_t gm = ((uintptr_t)g & ~(uintptr_t)4095) - 4096;
	ok(h && (uintptr_t)h != gm + OSMEM_LARGE_HEAD + 16,
	   "a kept mapping with a guard page is not reused");
	if (h) /* all it says is usable: it would fault on a guard page */
		memset(h, 1, osmem_usable_size(h));
	osmem_free(h);
	heap_ok("after a guarded block's mapping was kept");
}

/* Allocate and free a mix of heap and mapped blocks; 1 if every failure
 * was ENOMEM, every block kept its contents and the heap checks out. */
static int
workload(const void *keep)
{
	void *w[200];
	size_t sz[200];
	int n = 0, good = 1;
	for (int i = 0; i < 200; i++) {
		size_t len = (size_t)(i % 7) * 40000 + 10;
		errno = 0;
		w[n] = osmem_malloc(len);
		if (w[n]) {
			sz[n] = len < 4096 ? len : 4096;
			fill(w[n], sz[n], (unsigned)n);
			n++;
		} else if (errno != ENOMEM) {
			good = 0;
		}
		if (i % 3 == 2 && n > 0) {
			n--;
			good &= filled(w[n], sz[n], (unsigned)n);
			osmem_free(w[n]);
		}
	}
	good &= filled(keep, 100, 9);
	good &= osmem__heap_check() == 0;
	while (n > 0) {
		n--;
		good &= filled(w[n], sz[n], (unsigned)n);
		osmem_free(w[n]);
	}
	/* Give everything back, so the next run grows (and calls) again. */
	osmem_trim(0);
	return good && osmem__heap_check() == 0;
}

static void reset(void);

static unsigned long
calls(enum osmem__os_call kind)
{
	return osmem__os_calls(kind);
}

/* Fail, one run at a time, each call of one kind the workload makes; 1 if
 * every run kept its promises.  *points counts the calls walked. */
static int
walk(enum osmem__os_call kind, const void *keep, long *points)
{
	unsigned long c0 = calls(kind);
	int good = workload(keep);
	long total = (long)(calls(kind) - c0);
	for (long k = 0; k < total; k++) {
		osmem__os_fail(kind, k, 1);
		good &= workload(keep);
		reset();
	}
	*points += total;
	return good;
}

int
main(void)
{
	/* Bad sizes, before any failure. */
	static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 8, SIZE_MAX / 2,
	                              (size_t)1 << 47, PTRDIFF_MAX};
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		errno = 0;
		ok(osmem_malloc(huge[i]) == NULL && errno == ENOMEM,
		   "malloc(%zu): NULL, ENOMEM", huge[i]);
	}
	heap_ok("after impossible sizes");

	void *keep = osmem_malloc(100);
	fill(keep, 100, 9);

	/* The break cannot move: small blocks come from mapped segments. */
	osmem__os_fail(OSMEM_OS_SBRK, 0, -1);
	char *brk = sbrk(0);
	void *p[64];
	int outside = 1, got = 1;
	for (int i = 0; i < 64; i++) {
		p[i] = osmem_malloc(8000);
		got &= p[i] != NULL;
		if (i >= 32 && (char *)p[i] < brk)
			outside &= 0;
		if (p[i])
			fill(p[i], 8000, (unsigned)i);
	}
	ok(got, "64 x 8000 bytes allocated while sbrk fails");
	ok(osmem__g.arena[0].st.nsegs >= 2,
	   "from mapped segments (%zu segments)", osmem__g.arena[0].st.nsegs);
	heap_ok("with mapped segments");
	int intact = 1;
	for (int i = 0; i < 64; i++)
		intact &= filled(p[i], 8000, (unsigned)i);
	ok(intact, "their contents are intact");

	/* Nothing at all: NULL and ENOMEM, heap untouched. */
	osmem__os_fail(OSMEM_OS_MMAP, 0, -1);
	size_t in_use = osmem__g.arena[0].st.in_use;
	errno = 0;
	ok(osmem_malloc(2u << 20) == NULL && errno == ENOMEM,
	   "small-heap request with sbrk and mmap failing: NULL, ENOMEM");
	errno = 0;
	ok(osmem_malloc(64u << 20) == NULL && errno == ENOMEM,
	   "mapped request with sbrk and mmap failing: NULL, ENOMEM");
	errno = 0;
	ok(osmem_calloc(1000, 1000) == NULL && errno == ENOMEM,
	   "calloc with sbrk and mmap failing: NULL, ENOMEM");
	errno = 0;
	ok(osmem_realloc(keep, 1u << 20) == NULL && errno == ENOMEM,
	   "realloc with sbrk and mmap failing: NULL, ENOMEM");
	ok(filled(keep, 100, 9) && osmem_usable_size(keep) >= 100,
	   "the block realloc could not grow is untouched");
	ok(osmem__g.arena[0].st.in_use == in_use, "nothing more in use");
	heap_ok("after failed allocations");
	void *small = osmem_malloc(50);
	ok(small != NULL, "a request that fits a free block still succeeds");
	osmem_free(small);

	/* mmap fails for a large request, but the break can move. */
	reset();
	osmem__os_fail(OSMEM_OS_MMAP, 0, -1);
	void *l = osmem_malloc(300000);
	ok(l && !(osmem__mem2chunk(l)->head & OSMEM_F_MMAP),
	   "a large request falls back to the heap when mmap fails");
	osmem_free(l);
	reset();

	/* Walk a failure over every sbrk, mmap and madvise call of a
	 * workload; pages are released at every free so madvise is called
	 * too. */
	osmem__g.cfg.release_threshold = 0; /* at every free: many calls */
	osmem_mallopt(OSMEM_M_MMAP_THRESHOLD,
	              128 * 1024); /* no longer dynamic */
	long sb = 0, mm = 0, ma = 0;
	int all_good = walk(OSMEM_OS_SBRK, keep, &sb);
	all_good &= walk(OSMEM_OS_MMAP, keep, &mm);
	all_good &= walk(OSMEM_OS_MADVISE, keep, &ma);
	ok(sb > 3 && mm > 50 && ma >= 2,
	   "the workload makes %ld sbrk, %ld mmap and %ld madvise calls", sb,
	   mm, ma);
	ok(all_good,
	   "a failure at each of those %ld calls gave ENOMEM (or, "
	   "for madvise, nothing), kept every block and left a sound heap",
	   sb + mm + ma);

	munmap_fails();

	for (int i = 0; i < 64; i++)
		osmem_free(p[i]);
	osmem_free(keep);
	heap_ok("at the end");
	return done_testing();
}
