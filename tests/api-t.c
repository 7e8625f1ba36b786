/*
 * api-t: the standard allocation functions, as a normally built program
 * sees them with libosmem-malloc.so preloaded: every call reaches libosmem,
 * and each behaves as glibc's does (zero sizes, realloc(p, 0), overflow,
 * alignment edge cases, errno), including glibc's extras.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "osmem.h"
#include "preload.h"

/* The test keeps using a block a failed reallocarray left alone, and calls
 * glibc's deprecated mallinfo on purpose. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

/* C23 names glibc 2.36 lacks: found in the preloaded library. */
static void (*free_sized_fn)(void *, size_t);
static void (*free_aligned_sized_fn)(void *, size_t, size_t);

/* Opaque to the compiler, so it keeps calls with odd arguments as is. */
static size_t (*volatile launder)(size_t);
static size_t
same(size_t x)
{
	return x;
}
#define V(x) launder(x)

static size_t (*usable)(const void *);
static void (*stats)(struct osmem_stats *);

static int
ours(const void *p)
{
	/* libosmem's own check would abort on a block that is not its. */
	return p && usable(p) == malloc_usable_size((void *)p);
}

static void
interposition(void)
{
	struct osmem_stats before, after;
	stats(&before);
	void *p = malloc(V(100));
	stats(&after);
	ok(ours(p), "malloc's block is libosmem's (usable %zu)", usable(p));
	ok(after.in_use >= before.in_use + 100,
	   "malloc's block is counted as in use by libosmem");
	void *c = calloc(V(10), V(10)), *r = realloc(NULL, V(10));
	void *al = aligned_alloc(V(64), V(64)), *m = memalign(V(64), V(64));
	void *v = valloc(V(10)), *pv = pvalloc(V(10));
	void *pm = NULL;
	posix_memalign(&pm, V(64), V(64));
	void *ra = reallocarray(NULL, V(3), V(5));
	ok(ours(c) && ours(r) && ours(al) && ours(m) && ours(v) && ours(pv) &&
	       ours(pm) && ours(ra),
	   "calloc, realloc, aligned_alloc, memalign, valloc, pvalloc, "
	   "posix_memalign, reallocarray all reach libosmem");
	free(p);
	free(c);
	free(r);
	free(al);
	free(m);
	free(v);
	free(pv);
	free(pm);
	free(ra);
	stats(&after);
	ok(after.in_use == before.in_use,
	   "free releases them all to libosmem");
}

/* free at the process's limit of mappings: unmapping a block that the
 * program has made the middle of a larger mapping needs one mapping more,
 * and munmap fails.  free must still return, errno untouched. */
static void
free_at_map_limit(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), big = 16u << 20;
	if (getenv("OSMEM_VALGRIND")) { /* valgrind keeps its own count */
		skip("the mapping limit under valgrind");
		skip("the mapping limit under valgrind");
		return;
	}
	char name[] = "/tmp/osmem-api-t-XXXXXX";
	int fd = mkstemp(name);
	if (fd < 0 || ftruncate(fd, (off_t)page) != 0) {
		skip("no temporary file");
		return;
	}
	unlink(name);
	char *p = malloc(V(big - 256));
	char *start = (char *)((uintptr_t)p & ~(uintptr_t)(page - 1));
	/* One mapping from a page before the block to a page after it, the
	 * block's bytes kept: the block is now its middle. */
	char *save = mmap(NULL, big, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(save, start, big);
	char *around =
	    mmap(start - page, big + 2 * page, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	memcpy(start, save, big);
	munmap(save, big);
	/* Mappings of a file that cannot merge, up to the limit. */
	static void *fill[70000];
	int n = 0;
	while (n < 70000 && (fill[n] = mmap(NULL, page, PROT_READ, MAP_PRIVATE,
	                                    fd, 0)) != MAP_FAILED)
		n++;
	errno = 1789;
	free(p);
	int e = errno;
	for (int i = 0; i < n; i++)
		munmap(fill[i], page);
	close(fd);
	ok(around != MAP_FAILED && n < 70000 && e == 1789,
	   "free returns with errno untouched when munmap fails at the "
	   "mapping limit (%d mappings made)",
	   n);
	void *q = malloc(V(big - 256)); /* may reuse the kept mapping */
	ok(q && ours(q), "a large block after that works");
	free(q);
}

/* Out of address space (RLIMIT_AS) with threads: every function of the
 * family fails with errno ENOMEM, posix_memalign included (it returns
 * the error too), as glibc's tst-malloc-thread-fail requires. */
enum { NFUNCS = 9 };
static const char *const fnames[NFUNCS] = {
    "malloc",        "calloc",   "realloc", "reallocarray", "posix_memalign",
    "aligned_alloc", "memalign", "valloc",  "pvalloc",
};
static atomic_int failed_ok[NFUNCS], failed_bad[NFUNCS];

/* The threads start exhausting only once all three exist: a thread
 * started early took the address space the next one's stack needed, its
 * pthread_create failed, and the join of a thread never made crashed the
 * child (2 runs in 200 under load). */
static pthread_barrier_t all_made;

static void *
exhaust(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&all_made);
	for (int f = 0; f < NFUNCS; f++) {
		void *held[4096];
		int n = 0;
		for (size_t size = 1 << 16; n < 4096; n++) {
			void *p = NULL;
			errno = 0;
			switch (f) {
			case 0:
				p = malloc(V(size));
				break;
			case 1:
				p = calloc(V(size / 16), V(16));
				break;
			case 2:
				p = realloc(NULL, V(size));
				break;
			case 3:
				p = reallocarray(NULL, V(size / 8), V(8));
				break;
			case 4:
				if (posix_memalign(&p, V(128), V(size)) != 0)
					p = NULL;
				break;
			case 5:
				p = aligned_alloc(V(256), V(size));
				break;
			case 6:
				p = memalign(V(512), V(size));
				break;
			case 7:
				p = valloc(V(size));
				break;
			case 8:
				p = pvalloc(V(size));
				break;
			}
			if (!p) {
				atomic_fetch_add(errno == ENOMEM
				                     ? &failed_ok[f]
				                     : &failed_bad[f],
				                 1);
				break;
			}
			held[n] = p;
			if (size < (64u << 20))
				size *= 2;
		}
		while (n-- > 0)
			free(held[n]);
	}
	return NULL;
}

static void
errno_out_of_memory(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = {1u << 30, 1u << 30}; /* 1 GiB */
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(2);
		pthread_t t[3];
		pthread_barrier_init(&all_made, NULL, 3);
		for (int i = 0; i < 3; i++)
			if (pthread_create(&t[i], NULL, exhaust, NULL) != 0)
				_exit(3);
		for (int i = 0; i < 3; i++)
			pthread_join(t[i], NULL);
		int bad = 0;
		for (int f = 0; f < NFUNCS; f++) {
			if (failed_bad[f] || failed_ok[f] < 3)
				diag("%s: %d failures with ENOMEM, %d "
				     "without",
				     fnames[f], (int)failed_ok[f],
				     (int)failed_bad[f]);
			bad |= failed_bad[f] || failed_ok[f] < 3;
		}
		_exit(bad);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "under RLIMIT_AS, 3 threads see every function of the family fail "
	   "with errno ENOMEM (status %#x)",
	   status);
}

/* glibc's internal names reach libosmem too, so a block never passes from
 * one allocator to the other. */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

static void
libc_names(void)
{
	static const char *const names[] = {
	    "__libc_malloc",  "__libc_free",     "__libc_calloc",
	    "__libc_realloc", "__libc_memalign", "__libc_valloc",
	    "__libc_pvalloc",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		Dl_info info;
		void *f = dlsym(RTLD_DEFAULT, names[i]);
		ok(f && dladdr(f, &info) && info.dli_fname &&
		       strstr(info.dli_fname, "libosmem-malloc"),
		   "%s resolves to libosmem-malloc.so (%s)", names[i],
		   f && dladdr(f, &info) ? info.dli_fname : "not found");
	}
	struct osmem_stats before, after;
	stats(&before);
	void *p = __libc_malloc(V(100)), *c = __libc_calloc(V(4), V(25));
	void *m = __libc_memalign(V(64), V(100)), *v = __libc_valloc(V(100));
	void *pv = __libc_pvalloc(V(100));
	p = __libc_realloc(p, V(5000));
	ok(ours(p) && ours(c) && ours(m) && ours(v) && ours(pv) &&
	       ((uintptr_t)m & 63) == 0 && ((uintptr_t)v & 4095) == 0,
	   "__libc_ allocations are libosmem's blocks");
	free(p);        /* the standard free of a __libc_ block */
	__libc_free(c); /* and __libc_free of blocks from either name */
	__libc_free(m);
	__libc_free(v);
	void *q = malloc(V(30));
	__libc_free(q);
	__libc_free(pv);
	stats(&after);
	ok(after.in_use == before.in_use,
	   "free and __libc_free give them all back to libosmem");
}

static void
zero_sizes(void)
{
	void *a = malloc(V(0)), *b = malloc(V(0));
	ok(a && b && a != b, "malloc(0): unique pointers");
	void *c = calloc(V(0), V(0));
	ok(c != NULL, "calloc(0, 0): a unique pointer");
	void *r = realloc(NULL, V(0));
	ok(r != NULL, "realloc(NULL, 0): a unique pointer, as malloc(0)");
	errno = 0;
	ok(realloc(r, V(0)) == NULL && errno == 0,
	   "realloc(p, 0): frees p, returns NULL, errno untouched");
	void *al = aligned_alloc(V(32), V(0));
	ok(al && (uintptr_t)al % 32 == 0, "aligned_alloc(32, 0): aligned");
	void *pm = (void *)1;
	ok(posix_memalign(&pm, V(32), V(0)) == 0 && pm != NULL,
	   "posix_memalign(32, 0): a unique pointer");
	void *ra = reallocarray(NULL, V(0), V(8));
	ok(ra != NULL, "reallocarray(NULL, 0, 8): a unique pointer");
	free(a);
	free(b);
	free(c);
	free(al);
	free(pm);
	free(ra);
}

static void
overflow(void)
{
	errno = 0;
	ok(malloc(V(SIZE_MAX)) == NULL && errno == ENOMEM,
	   "malloc(SIZE_MAX): NULL, ENOMEM");
	errno = 0;
	ok(calloc(V(SIZE_MAX / 2), V(3)) == NULL && errno == ENOMEM,
	   "calloc overflow: NULL, ENOMEM");
	char *p = malloc(V(50));
	memset(p, 'x', 50);
	errno = 0;
	ok(reallocarray(p, V(SIZE_MAX / 4), V(8)) == NULL && errno == ENOMEM,
	   "reallocarray overflow: NULL, ENOMEM");
	ok(p[0] == 'x' && p[49] == 'x' && ours(p),
	   "and the block is untouched");
	errno = 0;
	ok(realloc(p, V(SIZE_MAX - 100)) == NULL && errno == ENOMEM,
	   "realloc(p, SIZE_MAX - 100): NULL, ENOMEM, block kept");
	char *q = reallocarray(p, V(10), V(10));
	ok(q && q[0] == 'x' && q[49] == 'x',
	   "reallocarray grows like realloc");
	free(q);
	errno = 0;
	ok(pvalloc(V(SIZE_MAX - 10)) == NULL && errno == ENOMEM,
	   "pvalloc(SIZE_MAX - 10): NULL, ENOMEM");
}

static void
alignment(void)
{
	int all = 1;
	for (size_t a = 32; a <= ((size_t)1 << 21); a <<= 1) {
		void *p = aligned_alloc(V(a), V(100));
		void *q = NULL;
		int r = posix_memalign(&q, V(a), V(a * 3 / 2));
		void *m = memalign(V(a), V(200000));
		if (!p || (uintptr_t)p % a || r || (uintptr_t)q % a || !m ||
		    (uintptr_t)m % a)
			all = 0;
		if (p)
			memset(p, 1, 100);
		if (q)
			memset(q, 2, a * 3 / 2);
		free(p);
		free(q);
		free(m);
	}
	ok(all,
	   "aligned_alloc, posix_memalign, memalign: alignments 32 B..2 MiB");

	struct osmem_stats s0, s1;
	stats(&s0);
	void *big = aligned_alloc(V(1 << 20), V(4096));
	stats(&s1);
	size_t cost = (s1.heap + s1.mapped) - (s0.heap + s0.mapped);
	ok(big && cost <= (1u << 20) + 4096 + 8192,
	   "a 1 MiB-aligned 4 KiB block costs %zu bytes, no more than the "
	   "alignment plus the block",
	   cost);
	free(big);

	errno = 0;
	ok(aligned_alloc(V(24), V(100)) == NULL && errno == EINVAL,
	   "aligned_alloc(24, ...): NULL, EINVAL");
	ok(aligned_alloc(V(0), V(100)) == NULL, "aligned_alloc(0, ...): NULL");
	void *p = (void *)7;
	ok(posix_memalign(&p, V(24), V(8)) == EINVAL && p == (void *)7,
	   "posix_memalign(24): EINVAL, out untouched");
	ok(posix_memalign(&p, V(4), V(8)) == EINVAL,
	   "posix_memalign(4): EINVAL (not a multiple of sizeof(void *))");
	ok(posix_memalign(&p, V(0), V(8)) == EINVAL,
	   "posix_memalign(0): EINVAL");
	errno = 1234;
	ok(posix_memalign(&p, V(64), V(SIZE_MAX - 10)) == ENOMEM &&
	       errno == ENOMEM && p == (void *)7,
	   "posix_memalign(huge): ENOMEM returned and in errno (as glibc)");
	errno = 1234;
	ok(posix_memalign(&p, V(24), V(8)) == EINVAL && errno == 1234,
	   "posix_memalign(24): EINVAL leaves errno alone");
	void *m = memalign(V(48), V(10));
	ok(m && (uintptr_t)m % 64 == 0,
	   "memalign(48): rounded up to 64, as glibc does");
	free(m);
	m = memalign(V(8), V(10));
	ok(m && (uintptr_t)m % 16 == 0, "memalign(8): a 16-aligned block");
	free(m);
	long page = sysconf(_SC_PAGESIZE);
	void *v = valloc(V(10)), *pv = pvalloc(V(10));
	ok(v && (uintptr_t)v % (size_t)page == 0, "valloc: page-aligned");
	ok(pv && (uintptr_t)pv % (size_t)page == 0 &&
	       malloc_usable_size(pv) >= (size_t)page,
	   "pvalloc: page-aligned, size rounded to a page");
	free(v);
	free(pv);
}

static void
sizes_and_errno(void)
{
	ok(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) is 0");
	int all = 1;
	for (size_t n = 0; n < 5000; n += 7) {
		char *p = malloc(V(n));
		size_t u = malloc_usable_size(p);
		if (u < n || u > n + 40 + n / 16) {
			if (all)
				diag("malloc(%zu): usable size %zu", n, u);
			all = 0;
		}
		memset(p, 3, u);
		free(p);
	}
	/* Rounding to 16, the 8-byte header, and a leftover under the 32-byte
	 * minimum that stays with the block; a cached block may be up to a
	 * sixteenth larger. */
	ok(all, "usable size is the request plus at most 40 bytes and a "
	        "sixteenth");
	char *p = malloc(V(1000));
	errno = 77;
	free(p);
	ok(errno == 77, "free keeps errno");
	errno = 77;
	free(malloc(V(1 << 20)));
	ok(errno == 77, "free of a mapped block keeps errno");
	p = malloc(V(100));
	free_sized_fn(p, V(100));
	p = aligned_alloc(V(256), V(300));
	free_aligned_sized_fn(p, V(256), V(300));
	struct osmem_stats s;
	stats(&s);
	size_t before = s.in_use;
	p = malloc(V(100));
	free_sized_fn(p, V(100));
	p = aligned_alloc(V(256), V(300));
	free_aligned_sized_fn(p, V(256), V(300));
	stats(&s);
	ok(s.in_use == before,
	   "free_sized and free_aligned_sized free blocks");
}

static void
extras(void)
{
	/* Earlier frees of mapped blocks raised the dynamic threshold; a
	 * threshold set by mallopt stays put. */
	ok(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1,
	   "mallopt(M_MMAP_THRESHOLD, 128K) fixes the threshold");
	struct mallinfo2 m0 = mallinfo2();
	char *p = malloc(V(10000));
	struct mallinfo2 m1 = mallinfo2();
	ok(m1.uordblks >= m0.uordblks + 10000,
	   "mallinfo2: in-use bytes grow by the block (%zu -> %zu)",
	   m0.uordblks, m1.uordblks);
	ok(m1.arena >= m1.uordblks, "mallinfo2: heap covers bytes in use");
	char *big = malloc(V(1 << 20));
	struct mallinfo2 m2 = mallinfo2();
	ok(m2.hblks == m1.hblks + 1 && m2.hblkhd >= m1.hblkhd + (1 << 20),
	   "mallinfo2: a mapped block counted in hblks/hblkhd");
	struct mallinfo mi = mallinfo();
	ok(mi.hblks == (int)m2.hblks, "mallinfo agrees");
	free(big);
	free(p);

	ok(mallopt(M_MMAP_THRESHOLD, 64 * 1024) == 1,
	   "mallopt(M_MMAP_THRESHOLD, 64K) accepted");
	void *t = malloc(V(80 * 1024));
	struct mallinfo2 m3 = mallinfo2();
	ok(m3.hblks == m2.hblks, "an 80 KiB block is now mapped");
	free(t);
	ok(mallopt(M_MMAP_THRESHOLD, 64 << 20) == 0,
	   "mallopt(M_MMAP_THRESHOLD, 64M) refused, as glibc does");
	ok(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1,
	   "threshold back to 128K");
	ok(mallopt(M_TRIM_THRESHOLD, 256 * 1024) == 1 &&
	       mallopt(M_TOP_PAD, 64 * 1024) == 1,
	   "mallopt(M_TRIM_THRESHOLD), mallopt(M_TOP_PAD) accepted");
	ok(mallopt(M_ARENA_MAX, 2) == 1 && mallopt(M_MXFAST, 0) == 1 &&
	       mallopt(M_PERTURB, 0) == 1,
	   "other glibc parameters accepted and ignored");

	/* Free a lot at the top of the heap, then trim. */
	void *blocks[64];
	for (int i = 0; i < 64; i++)
		blocks[i] = malloc(V(100000));
	for (int i = 0; i < 64; i++)
		free(blocks[i]);
	malloc_trim(0);
	struct osmem_stats s;
	stats(&s);
	ok(s.released > 0, "malloc_trim gave memory back (%zu bytes in all)",
	   s.released);

	/* malloc_stats writes glibc's report shape on stderr. */
	int fds[2];
	char buf[1024] = "";
	if (pipe(fds) == 0) {
		int saved = dup(2);
		dup2(fds[1], 2);
		malloc_stats();
		dup2(saved, 2);
		close(fds[1]);
		ssize_t n = read(fds[0], buf, sizeof buf - 1);
		buf[n > 0 ? n : 0] = '\0';
		close(fds[0]);
	}
	char *xml = NULL;
	size_t xlen = 0;
	FILE *mf = open_memstream(&xml, &xlen);
	int info_rc = malloc_info(0, mf);
	fclose(mf);
	ok(info_rc == 0 && xml &&
	       !strncmp(xml, "<malloc version=\"1\">\n", 21) &&
	       strstr(xml, "<total type=\"mmap\"") &&
	       strstr(xml, "</malloc>\n"),
	   "malloc_info writes glibc's XML shape");
	free(xml);
	errno = 0;
	ok(malloc_info(1, stdout) == -1 && errno == EINVAL,
	   "malloc_info with options other than 0: EINVAL");
	ok(strstr(buf, "Arena 0:\nsystem bytes     =") &&
	       strstr(buf, "in use bytes     =") &&
	       strstr(buf, "max mmap regions ="),
	   "malloc_stats prints glibc's report shape");
}

int
main(int argc, char **argv)
{
	(void)argc;
	preload_self(argv);
	launder = same;
	/* A fixed mmap threshold, so which blocks get mappings does not
	 * depend on what earlier tests freed (the dynamic rule is large-t's).
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	usable = (size_t(*)(const void *))osmem("osmem_usable_size");
	stats = (void (*)(struct osmem_stats *))osmem("osmem_stats");
	free_sized_fn = (void (*)(void *, size_t))osmem("free_sized");
	free_aligned_sized_fn =
	    (void (*)(void *, size_t, size_t))osmem("free_aligned_sized");
	interposition();
	libc_names();
	free_at_map_limit();
	errno_out_of_memory();
	zero_sizes();
	overflow();
	alignment();
	sizes_and_errno();
	extras();
	return done_testing();
}
