/*
 * workloads.c: the allocation workloads of libosmem's benchmarks.  One
 * program, a workload per name; it allocates with the plain malloc family,
 * so the allocator under test is whatever LD_PRELOAD puts under it.  Each
 * run prints one line: "<workload> seconds=<s> ops=<n> check=<x>", the
 * time of the measured phase only (setup excluded); bench/run reads the
 * peak RSS of the whole process from the kernel.
 *
 *   churn            single thread, realistic sizes, 50,000 live blocks
 *   realloc          buffers grown by appending, as string builders do
 *   freeblocks N     malloc/free amid N free blocks left in the heap
 *   prodcons         one thread allocates, another frees (cross-thread)
 *   threads T        T threads, each churning its own blocks
 *   pairs N          N malloc/free pairs of one size (for callgrind)
 *   randchurn N      N free+malloc of 8..2047 bytes over 10,000 live
 *   burst            1 GiB in mixed sizes, all freed in random order;
 *                    resident set right after and 200 ms later
 *   largereuse N     N rounds of replacing one of 16 live buffers of
 *                    1..64 MiB by a new one, written in full
 *   largefree N      N rounds of a new 5..25 MiB block, written in full,
 *                    replacing one of 20 (mimalloc-bench's malloc-large)
 *   midchurn N       N replacements among 20,000 blocks of 512..8191 B
 *   xfree T          T threads in a ring, each freeing the blocks of mixed
 *                    sizes the one before it allocated (threaded.c)
 *   larson T         T threads passing sets of live blocks between them,
 *                    replacing blocks as they go (threaded.c)
 *
 * Workloads that know their live bytes report the peak of them
 * (peak_live_kib), for the ratio peak RSS / peak live.
 */
#define _GNU_SOURCE 1
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "status.h"
#include "workloads.h"

uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A size drawn from a distribution like real programs': mostly small
 * objects, some strings and arrays, a few large buffers. */
size_t
real_size(uint64_t *s)
{
	uint64_t r = rnd(s) % 1000;
	if (r < 600)
		return 8 + rnd(s) % 57; /* 8..64 */
	if (r < 850)
		return 64 + rnd(s) % 449; /* 64..512 */
	if (r < 970)
		return 512 + rnd(s) % 3585; /* 512..4096 */
	if (r < 998)
		return 4096 + rnd(s) % 61441; /* 4 KiB..64 KiB */
	return 65536 + rnd(s) % 458753;       /* 64 KiB..512 KiB */
}

void
touch(void *p, size_t n)
{
	/* Write a byte in every page and the last byte, so the whole block is
	 * resident, as it would be in a program that fills what it asks for
	 * (the fragmentation figures depend on it). */
	unsigned char *b = p;
	for (size_t i = 0; i < n; i += 4096)
		b[i] = (unsigned char)(n + i);
	b[n - 1] = (unsigned char)(n >> 8);
}

void
die(const char *what)
{
	perror(what);
	exit(1);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		die("malloc");
	return p;
}

static long
peak_rss_kib(void)
{
	return status_kib("VmHWM:");
}

static long
rss_kib(void)
{
	return status_kib("VmRSS:");
}

size_t live, peak_live; /* requested bytes, where tracked */

void
live_add(size_t n)
{
	live += n;
	if (live > peak_live)
		peak_live = live;
}

void
report(const char *name, double secs, long ops, uint64_t check)
{
	printf("%s seconds=%.6f ops=%ld check=%llu peak_kib=%ld", name, secs,
	       ops, (unsigned long long)check, peak_rss_kib());
	if (peak_live)
		printf(" peak_live_kib=%zu", peak_live / 1024);
	printf("\n");
}

/* ------------------------------------------------------------------ */

/* Replace blocks among nlive at random, ops times: realistic sizes
 * (churn), or 512..8191 bytes (midchurn: object churn at mid sizes, above
 * the thread caches', like a Ruby or espresso heap). */
static void
replace_churn(const char *name, int nlive, int mid, uint64_t s, long ops)
{
	void **slot = xmalloc((size_t)nlive * sizeof *slot);
	size_t *len = xmalloc((size_t)nlive * sizeof *len);
	uint64_t check = 0;
	for (int i = 0; i < nlive; i++) {
		size_t n = mid ? 512 + rnd(&s) % 7680 : real_size(&s);
		slot[i] = xmalloc(n);
		touch(slot[i], n);
		live_add(len[i] = n);
	}
	double t0 = now();
	for (long i = 0; i < ops; i++) {
		size_t k = rnd(&s) % (size_t)nlive;
		size_t n = mid ? 512 + rnd(&s) % 7680 : real_size(&s);
		check += ((unsigned char *)slot[k])[0];
		free(slot[k]);
		live -= len[k];
		slot[k] = xmalloc(n);
		touch(slot[k], n);
		live_add(len[k] = n);
	}
	free(len);
	double t1 = now();
	for (int i = 0; i < nlive; i++)
		free(slot[i]);
	free(slot);
	report(name, t1 - t0, ops, check);
}

static void
grow_buffers(long rounds)
{
	enum { BUFS = 2000 };
	char **buf = xmalloc(BUFS * sizeof *buf);
	size_t *len = xmalloc(BUFS * sizeof *len);
	uint64_t s = 7, check = 0;
	long ops = 0;
	double t0 = now();
	for (long r = 0; r < rounds; r++) {
		for (int i = 0; i < BUFS; i++) {
			buf[i] = NULL;
			len[i] = 0;
		}
		/* Append to random buffers until each reaches ~32 KiB. */
		for (long step = 0; step < BUFS * 200L; step++) {
			int i = (int)(rnd(&s) % BUFS);
			size_t add = 1 + rnd(&s) % 320;
			char *p = realloc(buf[i], len[i] + add);
			if (!p)
				die("realloc");
			live_add(add);
			memset(p + len[i], 'a' + (int)(add % 26), add);
			buf[i] = p;
			len[i] += add;
			ops++;
		}
		for (int i = 0; i < BUFS; i++) {
			check += (unsigned char)buf[i][len[i] - 1];
			free(buf[i]);
			live -= len[i];
		}
	}
	double t1 = now();
	free(buf);
	free(len);
	report("realloc", t1 - t0, ops, check);
}

static void
freeblocks(long nfree, long ops)
{
	/* Leave nfree free blocks of assorted sizes in the heap: allocate
	 * 2*nfree, free every other one (the rest keep them apart). */
	void **hold = xmalloc((size_t)nfree * 2 * sizeof *hold);
	uint64_t s = 99, check = 0;
	for (long i = 0; i < 2 * nfree; i++) {
		size_t n = 16 + rnd(&s) % 1008;
		hold[i] = xmalloc(n);
		touch(hold[i], n);
	}
	for (long i = 0; i < 2 * nfree; i += 2)
		free(hold[i]);
	enum { LIVE = 1000 };
	void *live[LIVE];
	for (int i = 0; i < LIVE; i++) {
		size_t n = 16 + rnd(&s) % 4080;
		live[i] = xmalloc(n);
		touch(live[i], n);
	}
	double t0 = now();
	for (long i = 0; i < ops; i++) {
		size_t k = rnd(&s) % LIVE, n = 16 + rnd(&s) % 4080;
		free(live[k]);
		live[k] = xmalloc(n);
		touch(live[k], n);
		check += n;
	}
	double t1 = now();
	for (int i = 0; i < LIVE; i++)
		free(live[i]);
	for (long i = 1; i < 2 * nfree; i += 2)
		free(hold[i]);
	free(hold);
	char name[64];
	snprintf(name, sizeof name, "freeblocks-%ld", nfree);
	report(name, t1 - t0, ops, check);
}

static void
burst(void)
{
	/* Mostly small blocks, some of 4..64 KiB, 1 GiB asked for in all. */
	const size_t total = (size_t)1 << 30;
	size_t cap = 8u << 20, n = 0;
	void **p = xmalloc(cap * sizeof *p);
	uint64_t s = 11, check = 0;
	double t0 = now();
	while (live < total) {
		size_t sz =
		    rnd(&s) % 10 ? 16 + rnd(&s) % 497 : 4096 + rnd(&s) % 61441;
		if (n == cap)
			die("burst: too many blocks");
		p[n] = xmalloc(sz);
		memset(p[n], 1, sz);
		live_add(sz);
		n++;
	}
	long peak = rss_kib();
	/* Free in an interleaved (random) order. */
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd(&s) % i;
		void *t = p[i - 1];
		p[i - 1] = p[j];
		p[j] = t;
	}
	for (size_t i = 0; i < n; i++) {
		check += ((unsigned char *)p[i])[0];
		free(p[i]);
	}
	double t1 = now();
	long after = rss_kib();
	struct timespec pause = {0, 200 * 1000 * 1000};
	nanosleep(&pause, NULL);
	long later = rss_kib();
	printf("burst seconds=%.6f ops=%zu check=%llu peak_kib=%ld "
	       "peak_live_kib=%zu rss_peak_kib=%ld rss_after_kib=%ld "
	       "rss_later_kib=%ld\n",
	       t1 - t0, n, (unsigned long long)check, peak_rss_kib(),
	       peak_live / 1024, peak, after, later);
	free(p);
}

/* Large buffers replaced in a loop, each written in full, so what it
 * costs is mostly whether its pages are still there from the last one.
 * largereuse: 16 live buffers of 1..64 MiB, the old one freed first, as a
 * program that reads files or images into fresh buffers does; largefree:
 * 20 live blocks of 5..25 MiB, the new one allocated first, as
 * mimalloc-bench's malloc-large. */
static void
large_replace(const char *name, int nlive, uint64_t s, size_t lo, size_t span,
              int free_first, long rounds)
{
	void *slot[32] = {0};
	size_t len[32] = {0};
	uint64_t check = 0;
	double t0 = now();
	for (long i = 0; i < rounds; i++) {
		size_t k = rnd(&s) % (size_t)nlive;
		size_t n = lo + rnd(&s) % span;
		if (free_first) {
			free(slot[k]);
			live -= len[k];
		}
		void *p = xmalloc(n);
		memset(p, (int)i, n);
		live_add(n);
		if (!free_first) {
			free(slot[k]);
			live -= len[k];
		}
		slot[k] = p;
		len[k] = n;
		check += ((unsigned char *)p)[n / 2];
	}
	double t1 = now();
	for (int k = 0; k < nlive; k++)
		free(slot[k]);
	report(name, t1 - t0, rounds, check);
}

static void
pairs(long n)
{
	void *volatile sink;
	for (long i = 0; i < n; i++) {
		void *p = malloc(64);
		sink = p;
		free(p);
	}
	(void)sink;
	report("pairs", 0, n, 0);
}

static void
randchurn(long n)
{
	enum { LIVE = 10000 };
	static void *slot[LIVE];
	uint64_t s = 3;
	for (int i = 0; i < LIVE; i++)
		slot[i] = xmalloc(8 + rnd(&s) % 2040);
	for (long i = 0; i < n; i++) {
		size_t k = rnd(&s) % LIVE;
		free(slot[k]);
		slot[k] = xmalloc(8 + rnd(&s) % 2040);
	}
	for (int i = 0; i < LIVE; i++)
		free(slot[i]);
	report("randchurn", 0, n, 0);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s workload [n]\n", argv[0]);
		return 2;
	}
	const char *w = argv[1];
	long n = argc > 2 ? atol(argv[2]) : 0;
	if (!strcmp(w, "churn"))
		replace_churn("churn", 50000, 0, 42, n ? n : 3000000);
	else if (!strcmp(w, "realloc"))
		grow_buffers(n ? n : 3);
	else if (!strcmp(w, "freeblocks"))
		freeblocks(n ? n : 1000, 2000000);
	else if (!strcmp(w, "prodcons"))
		prodcons(n ? n : 2000000);
	else if (!strcmp(w, "threads"))
		threads(n ? (int)n : 1, 4000000);
	else if (!strcmp(w, "pairs"))
		pairs(n);
	else if (!strcmp(w, "randchurn"))
		randchurn(n);
	else if (!strcmp(w, "burst"))
		burst();
	else if (!strcmp(w, "largereuse"))
		large_replace("largereuse", 16, 5, (size_t)1 << 20,
		              (size_t)63 << 20, 1, n ? n : 50);
	else if (!strcmp(w, "largefree"))
		large_replace("largefree", 20, 8, (size_t)5 << 20,
		              (size_t)20 << 20, 0, n ? n : 300);
	else if (!strcmp(w, "midchurn"))
		replace_churn("midchurn", 20000, 1, 21, n ? n : 2000000);
	else if (!strcmp(w, "xfree"))
		xfree(n ? (int)n : 2, 4000000);
	else if (!strcmp(w, "larson"))
		larson(n ? (int)n : 2, 2000);
	else {
		fprintf(stderr, "unknown workload %s\n", w);
		return 2;
	}
	return 0;
}
