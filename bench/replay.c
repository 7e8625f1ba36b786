/*
 * replay.c: replays an allocation trace (the format of OSMEM_TRACE, see
 * src/trace.c) through whatever allocator LD_PRELOAD puts under it, and
 * reports the time, the peak resident set and the peak of live requested
 * bytes, in the line format of bench/workloads.  Each block is written
 * once per page, as the recorded program would have.  The table from
 * recorded addresses to live blocks is a mapping of its own, sized by a
 * first pass over the trace and made resident before the replay, so the
 * replayer's bookkeeping neither goes through the allocator under test nor
 * grows during the replay: peak_kib is the peak resident set above what
 * the replayer held before it began.
 *
 * usage: replay TRACE   (plain text; xz -dc x.trace.xz > x.trace first)
 */
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "status.h"

static size_t SLOTS; /* a power of two, at least twice the live blocks */

struct slot {
	uintptr_t key; /* recorded address; 0 empty, 1 deleted */
	void *p;
	size_t n;
};
static struct slot *table;

static size_t
hash(uintptr_t k)
{
	return (size_t)((k >> 4) * 0x9e3779b97f4a7c15ull >> 40) & (SLOTS - 1);
}

static struct slot *
find(uintptr_t k, int insert)
{
	struct slot *tomb = NULL;
	for (size_t i = hash(k);; i = (i + 1) & (SLOTS - 1)) {
		struct slot *s = &table[i];
		if (s->key == k)
			return s;
		if (s->key == 1 && !tomb)
			tomb = s;
		if (s->key == 0)
			return insert ? (tomb ? tomb : s) : NULL;
	}
}

static size_t live, peak_live;

static void
use(void *p, size_t n)
{
	unsigned char *b = p;
	for (size_t i = 0; i < n; i += 4096)
		b[i] = 1;
	if (n)
		b[n - 1] = 1;
}

static void
add(uintptr_t key, void *p, size_t n)
{
	if (!p || !key)
		return;
	struct slot *s = find(key, 1);
	s->key = key;
	s->p = p;
	s->n = n;
	live += n;
	if (live > peak_live)
		peak_live = live;
	use(p, n);
}

static struct slot *
take(uintptr_t key)
{
	struct slot *s = key ? find(key, 0) : NULL;
	if (s) {
		live -= s->n;
		s->key = 1;
	}
	return s;
}


int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: replay TRACE|-\n");
		return 2;
	}
	FILE *in = fopen(argv[1], "r");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	char line[256];
	/* First pass: the most blocks live at once. */
	long nlive = 0, most = 0;
	while (fgets(line, sizeof line, in)) {
		if (line[0] == 'm' || line[0] == 'a')
			nlive++;
		else if (line[0] == 'f')
			nlive--;
		if (nlive > most)
			most = nlive;
	}
	rewind(in);
	for (SLOTS = 1024; SLOTS < 2 * (size_t)most + 1024; SLOTS *= 2)
		;
	table = mmap(NULL, SLOTS * sizeof *table, PROT_READ | PROT_WRITE,
	             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (table == MAP_FAILED)
		return 1;
	memset(table, 0, SLOTS * sizeof *table); /* resident before we start */
	long base = status_kib("VmRSS:");
	long ops = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (fgets(line, sizeof line, in)) {
		unsigned long a, b, c;
		struct slot *s;
		switch (line[0]) {
		case 'm':
			if (sscanf(line + 1, "%lx %lx", &a, &b) == 2)
				add(b, malloc(a), a);
			break;
		case 'a':
			if (sscanf(line + 1, "%lx %lx %lx", &a, &b, &c) == 3) {
				void *p = NULL;
				if (posix_memalign(&p, a, b) == 0)
					add(c, p, b);
			}
			break;
		case 'r':
			if (sscanf(line + 1, "%lx %lx %lx", &a, &b, &c) == 3 &&
			    (s = take(a)) != NULL) {
				void *p = realloc(s->p, b);
				if (p || !b)
					add(c, p, b);
			}
			break;
		case 'f':
			if (sscanf(line + 1, "%lx", &a) == 1 && (s = take(a)))
				free(s->p);
			break;
		default:
			continue;
		}
		ops++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("replay seconds=%.6f ops=%ld check=0 peak_kib=%ld "
	       "peak_live_kib=%zu\n",
	       (double)(t1.tv_sec - t0.tv_sec) +
	           (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9,
	       ops, status_kib("VmHWM:") - base, peak_live / 1024);
	return 0;
}
