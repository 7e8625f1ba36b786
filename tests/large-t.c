/*
 * large-t: the sbrk/mmap split.  The heap is preallocated (128 KiB) on
 * first use; requests below the mmap threshold come from the break heap;
 * requests at or above it get a mapping of their own, which free unmaps or,
 * under half the bytes in use, keeps for the next large request or for the
 * break's next growth, into which its pages move.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>

/* Whether any byte of [p, p+n) is mapped, from /proc/self/maps (a probe
 * of the address itself would be an error under memcheck). */
static int
mapped(const void *p, size_t n)
{
	char buf[65536];
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (len <= 0)
		return 1;
	buf[len] = '\0';
	uintptr_t lo = (uintptr_t)p, hi = lo + n;
	for (char *line = buf; line && *line;) {
		unsigned long start, end;
		if (sscanf(line, "%lx-%lx", &start, &end) == 2 && start < hi &&
		    lo < end)
			return 1;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return 0;
}

/* In a child: a mapping placed just past the break stops it for real;
 * the heap goes on in the mapped break, the window moves there, and the
 * blocks left on the system break are still freed and checked.  Exit
 * status: 0, or the number of the step that failed. */
static int
break_blocked(void)
{
	void *before[200];
	for (int i = 0; i < 200; i++) {
		before[i] = osmem_malloc(100 + (size_t)i * 10);
		if (!before[i])
			return 1;
	}
	char *end = sbrk(0);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if (mmap(end + 4 * page, page, PROT_NONE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
	         0) != end + 4 * page)
		return 2;
	uintptr_t lo = osmem__win.lo;
	void *after[200];
	for (int i = 0; i < 200; i++) {
		after[i] = osmem_malloc(4000 + (size_t)i * 512);
		if (!after[i])
			return 3;
		memset(after[i], 1, 4000);
	}
	if (osmem__win.lo == lo)
		return 4; /* the window did not move */
	if ((uintptr_t)after[199] - osmem__win.lo >= osmem__win.span)
		return 5; /* the new blocks are not in it */
	if (!osmem__readable(before[0]))
		return 6; /* the old ones are not known */
	for (int i = 0; i < 200; i++) {
		osmem_free(before[i]);
		osmem_free(after[i]);
	}
	return osmem__heap_check() == 0 ? 0 : 7;
}

int
main(void)
{
	char *brk0 = sbrk(0);
	void *first = osmem_malloc(16);
	char *brk1 = sbrk(0);
	ok(first && (char *)first >= brk0 && (char *)first < brk1,
	   "the first small block lies in the break heap");
	ok(brk1 - brk0 >= 128 * 1024 && brk1 - brk0 < 128 * 1024 + 8192,
	   "the heap was preallocated with 128 KiB (%td bytes)", brk1 - brk0);
	ok(osmem__g.arena[0].st.heap == (size_t)(brk1 - brk0),
	   "all of it belongs to the heap");

	size_t t = osmem__g.cfg.mmap_threshold;
	ok(t == 128 * 1024, "the default mmap threshold is 128 KiB");
	char *below = osmem_malloc(t - 1);
	ok(below && !(osmem__mem2chunk(below)->head & OSMEM_F_MMAP) &&
	       below >= brk0 && below < (char *)sbrk(0),
	   "threshold - 1 bytes come from the break heap");
	char *at = osmem_malloc(t);
	ok(at && (osmem__mem2chunk(at)->head & OSMEM_F_MMAP) &&
	       (at < brk0 || at >= (char *)sbrk(0)),
	   "threshold bytes get a mapping of their own");
	ok(osmem_usable_size(at) >= t, "usable size of the mapped block");
	ok(osmem__g.arena[0].st.nlarge == 1, "one large block counted");
	memset(at, 1, t);
	heap_ok("with one mapped block");
	osmem_free(at);
	ok(!mapped(at, t), "free unmaps the mapped block");
	ok(osmem__g.arena[0].st.nlarge == 0 && osmem__g.arena[0].st.large == 0,
	   "large block counters back to zero");

	/* The dynamic threshold: freeing a mapped block of 300 KiB raises the
	 * threshold past it, so the next such block comes from the heap. */
	char *m1 = osmem_malloc(300 * 1024);
	ok(osmem__mem2chunk(m1)->head & OSMEM_F_MMAP,
	   "300 KiB is mapped at first");
	osmem_free(m1);
	ok(osmem__g.cfg.mmap_threshold >= 300 * 1024 &&
	       osmem__g.cfg.trim_threshold == 2 * osmem__g.cfg.mmap_threshold,
	   "freeing it raised the mmap threshold to %zu, trim to twice that",
	   osmem__g.cfg.mmap_threshold);
	char *m2 = osmem_malloc(300 * 1024);
	ok(!(osmem__mem2chunk(m2)->head & OSMEM_F_MMAP),
	   "the next 300 KiB block comes from the heap");
	osmem_free(m2);
	ok(osmem_mallopt(OSMEM_M_MMAP_THRESHOLD, (int)t) == 1,
	   "mallopt sets the threshold back to 128 KiB");
	char *m3 = osmem_malloc(600 * 1024);
	osmem_free(m3);
	ok(osmem__g.cfg.mmap_threshold == t,
	   "and once set by the user it no longer moves");

	/* The fast free's test (osmem__fast_free_ok) must refuse a mapped
	 * chunk, and the cache bin must come from the whole size: it once
	 * skipped the mapped flag and truncated the size to 32 bits. */
	static osmem__chunk_t fake[4] __attribute__((aligned(16)));
	void *fm = osmem__chunk2mem(&fake[0]);
	osmem__set_head(&fake[0], 64, OSMEM_F_MMAP | OSMEM_F_CINUSE);
	ok(!osmem__fast_free_ok(fm, fake[0].head),
	   "the fast free refuses a mapped chunk");
	osmem__set_head(&fake[0], 64, OSMEM_F_CINUSE | OSMEM_F_PINUSE);
	ok(osmem__fast_free_ok(fm, fake[0].head),
	   "and takes a heap chunk in use");
	osmem__clear_pinuse(&fake[0]); /* P changes with no new tag */
	ok(osmem__fast_free_ok(fm, fake[0].head),
	   "and one whose P bit changed since its tag was written");
	ok(!osmem__fast_free_ok(fm, fake[0].head ^ 0x40),
	   "but not one whose size was overwritten (the tag no longer fits)");
	osmem__clear_cinuse(&fake[0]);
	ok(!osmem__fast_free_ok(fm, fake[0].head), "nor a free one");
	osmem__set_head(&fake[0], 4080, OSMEM_F_CINUSE | OSMEM_F_PINUSE);
	ok(osmem__fast_free_ok(fm, fake[0].head) &&
	       osmem__fast_bin(&fake[0]) == 4080 / 16,
	   "and one of 4080 bytes, whose bin the fast free may index");
	osmem__set_head(&fake[0], 4096, OSMEM_F_CINUSE | OSMEM_F_PINUSE);
	ok(!osmem__fast_free_ok(fm, fake[0].head),
	   "but not one of 4096 bytes, whose bin it may not");
	osmem__set_head(&fake[0], ((size_t)1 << 32) + 64,
	                OSMEM_F_CINUSE | OSMEM_F_PINUSE);
	ok(!osmem__fast_free_ok(fm, fake[0].head),
	   "nor one of 4 GiB + 64 bytes");
	osmem__set_head(&fake[0], 64, OSMEM_F_CINUSE);
	osmem__set_pinuse(&fake[0]);
	ok(osmem__fast_free_ok(fm, fake[0].head) &&
	       osmem__fast_bin(&fake[0]) == 64 / 16,
	   "the fast free's bin of a 64-byte chunk is 4, whatever its P bit");
	/* And the real thing, where the system lends 4 GiB of address space.
	 */
	char *huge = osmem_malloc((size_t)1 << 32);
	if (huge) {
		osmem_free(huge);
		char *q = osmem_malloc(4000);
		ok(q != huge && !(osmem__mem2chunk(q)->head & OSMEM_F_MMAP),
		   "a freed 4 GiB mapping is unmapped, not cached as 4 KiB");
		osmem_free(q);
		heap_ok("after the 4 GiB block");
	} else {
		skip("no 4 GiB mapping here");
		skip("no 4 GiB mapping here");
	}

	/* A freed mapping under half the bytes in use is kept, its pages
	 * still there, for the next large request. */
	struct osmem__counters *st = &osmem__g.arena[0].st;
	size_t mib = (size_t)1 << 20;
	ok(osmem_mallopt(OSMEM_M_MMAP_THRESHOLD, (int)mib) == 1,
	   "mmap threshold set to 1 MiB");
	char *hold = osmem_malloc(64 * mib), *k1 = osmem_malloc(4 * mib);
	memset(k1, 0xab, 4 * mib);
	osmem_free(k1);
	ok(st->kept >= 4 * mib && mapped(k1, 4 * mib),
	   "a freed 4 MiB mapping is kept while 64 MiB are in use (%zu "
	   "bytes)",
	   st->kept);
	heap_ok("with a freed mapping kept");
	struct osmem_stats fig;
	osmem_stats(&fig);
	ok(fig.mapped_kept == st->kept && fig.mapped == 64 * mib + 4096,
	   "osmem_stats counts it kept (%zu bytes), not mapped (%zu)",
	   fig.mapped_kept, fig.mapped);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long faults = ru.ru_minflt;
	char *k2 = osmem_malloc(4 * mib);
	memset(k2, 0xcd, 4 * mib);
	getrusage(RUSAGE_SELF, &ru);
	faults = ru.ru_minflt - faults;
	ok(k2 == k1 && st->kept == 0, "the next 4 MiB request takes it");
	ok(getenv("OSMEM_VALGRIND") || faults < 64,
	   "writing it all faults in %ld pages, not 1024", faults);
	osmem_free(k2);
	unsigned char *z = osmem_calloc(1, 3 * mib);
	int zero = z && (osmem__mem2chunk(z)->head & OSMEM_F_MMAP);
	for (size_t i = 0; zero && i < 3 * mib; i++)
		zero = z[i] == 0;
	ok(zero && (char *)z == k1,
	   "calloc from a kept mapping's old pages clears them");
	osmem_free(z);
	/* The bound: half the 64 MiB in use is 32 MiB. */
	char *k3 = osmem_malloc(12 * mib);
	osmem_free(k3);
	ok(mapped(k3, 12 * mib) && st->kept >= 15 * mib,
	   "a freed 12 MiB mapping is kept too, beside the 3 MiB one (%zu "
	   "bytes kept)",
	   st->kept);
	char *k4 = osmem_malloc(40 * mib);
	size_t kept = st->kept;
	osmem_free(k4);
	ok(st->kept == kept && kept <= 32 * mib && !mapped(k4, 40 * mib),
	   "a freed 40 MiB one, over half, is unmapped");
	ok(osmem_trim(0) == 1 && st->kept == 0 && !mapped(z, 3 * mib),
	   "osmem_trim unmaps the mappings kept");
	osmem_free(hold);
	char *big = osmem_malloc(16 * mib);
	osmem_free(big);
	ok(st->kept == 0 && !mapped(big, 16 * mib),
	   "a mapping over half the bytes in use is unmapped at once");

	/* When the break grows, pages of a kept mapping move there, still
	 * in memory: the heap block written in them faults none in. */
	hold = osmem_malloc(64 * mib);
	char *k5 = osmem_malloc(8 * mib);
	memset(k5, 0x5a, 8 * mib);
	osmem_free(k5);
	ok(st->kept >= 8 * mib, "a freed 8 MiB mapping is kept (%zu bytes)",
	   st->kept);
	ok(osmem_mallopt(OSMEM_M_MMAP_THRESHOLD, (int)(16 * mib)) == 1,
	   "mmap threshold set to 16 MiB");
	getrusage(RUSAGE_SELF, &ru);
	faults = ru.ru_minflt;
	char *h = osmem_malloc(6 * mib);
	memset(h, 0x6b, 6 * mib);
	getrusage(RUSAGE_SELF, &ru);
	faults = ru.ru_minflt - faults;
	ok(h && !(osmem__mem2chunk(h)->head & OSMEM_F_MMAP),
	   "a 6 MiB request comes from the heap");
	/* (valgrind keeps the system's break itself: nothing moves there) */
	ok(getenv("OSMEM_VALGRIND") ||
	       (st->kept > mib && st->kept < 3 * mib && mapped(k5, mib) &&
	        !mapped(k5 + 3 * mib, 5 * mib)),
	   "the break took the kept mapping's last 6 MiB; the rest is kept "
	   "(%zu bytes)",
	   st->kept);
	/* (under AddressSanitizer its shadow, an eighth, comes in too) */
	ok(getenv("OSMEM_VALGRIND") || faults < 1536 / 4,
	   "writing the block faults in %ld pages, not 1536", faults);
	heap_ok("with a kept mapping's pages in the break");
	osmem_free(h);
	osmem_free(hold);
	heap_ok("after the block in moved pages");
	ok(osmem_trim(0) == 1 && st->kept == 0 && !mapped(k5, mib),
	   "osmem_trim unmaps what was left of the mapping");

	/* A move the system refuses leaves the break's own pages in place:
	 * the block reads as fresh memory, not the mapping's bytes. */
	osmem_mallopt(OSMEM_M_MMAP_THRESHOLD, (int)mib);
	hold = osmem_malloc(64 * mib);
	char *k6 = osmem_malloc(4 * mib);
	memset(k6, 0x5a, 4 * mib);
	osmem_free(k6);
	osmem_mallopt(OSMEM_M_MMAP_THRESHOLD, (int)(16 * mib));
	unsigned long moves = osmem__os_calls(OSMEM_OS_MMAP);
	osmem__os_fail(OSMEM_OS_MMAP, 0, 1);
	h = osmem_malloc(2 * mib);
	osmem__os_fail(OSMEM_OS_MMAP, 0, 0);
	int fresh = h != NULL;
	/* (memcheck: reading bytes never written is an error) */
	for (size_t i = 0; fresh && !getenv("OSMEM_VALGRIND") && i < 2 * mib;
	     i += 4096)
		fresh = h[i] != 0x5a;
	ok(getenv("OSMEM_VALGRIND") ||
	       (fresh && osmem__os_calls(OSMEM_OS_MMAP) > moves),
	   "a failed move: the block lies in the break's own pages");
	memset(h, 0x6b, 2 * mib);
	heap_ok("after a failed move");
	osmem_free(h);
	osmem_free(hold);
	ok(osmem_trim(0) == 1 && st->kept == 0 && !mapped(k6, 4 * mib),
	   "and osmem_trim leaves no kept mapping");
	heap_ok("after the kept mappings");
	osmem_mallopt(OSMEM_M_MMAP_THRESHOLD, (int)t);

	/* Growth on demand: 40 blocks of 60 KiB exceed the first 128 KiB. */
	void *p[40];
	size_t heap0 = osmem__g.arena[0].st.heap;
	for (int i = 0; i < 40; i++) {
		p[i] = osmem_malloc(60 * 1024);
		fill(p[i], 60 * 1024, (unsigned)i);
	}
	ok(osmem__g.arena[0].st.heap > 40 * 60 * 1024 &&
	       osmem__g.arena[0].st.heap > heap0,
	   "the heap grew on demand to %zu bytes", osmem__g.arena[0].st.heap);
	ok(osmem__g.arena[0].st.nsegs == 1,
	   "in one contiguous segment (nothing else moved the break)");
	int intact = 1;
	for (int i = 0; i < 40; i++)
		intact &= filled(p[i], 60 * 1024, (unsigned)i);
	ok(intact, "contents intact");
	heap_ok("after growth");

	/* A request larger than the free end extends that free block. */
	struct osmem__seg *seg = osmem__g.arena[0].brk_seg;
	osmem__chunk_t *fence = (osmem__chunk_t *)(seg->end - OSMEM_FENCE);
	ok(!(fence->head & OSMEM_F_PINUSE), "the heap ends in a free block");
	void *filler[8];
	int nfill = 0;
	while (fence->prev_foot > 64 * 1024 && nfill < 8) /* stay under t */
		filler[nfill++] = osmem_malloc(32 * 1024);
	osmem__chunk_t *top = osmem__before(fence, fence->prev_foot);
	size_t want = fence->prev_foot + 4096;
	char *brk2 = sbrk(0);
	void *ext = osmem_malloc(want);
	ok(osmem__mem2chunk(ext) == top && (char *)sbrk(0) > brk2,
	   "a %zu-byte request extends the free end block (%zu bytes)", want,
	   osmem__csize(top));
	while (nfill > 0)
		osmem_free(filler[--nfill]);
	osmem_free(ext);
	for (int i = 0; i < 40; i++)
		osmem_free(p[i]);
	osmem_free(below);
	osmem_free(first);
	heap_ok("at the end");
	ok(live_bytes() == 0, "nothing in use");
	if (getenv("OSMEM_VALGRIND")) { /* it keeps its own break */
		skip("the break blocked, under valgrind");
		return done_testing();
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(break_blocked());
	int status = -1;
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "a mapping in the break's way: the heap goes on in the mapped "
	   "break, "
	   "and blocks on both sides are freed (status %#x)",
	   status);
	return done_testing();
}
