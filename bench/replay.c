/*
 * replay.c: replays an allocation trace (the format of OSMEM_TRACE, see
 * src/trace.c) through whatever allocator LD_PRELOAD puts under it, and
 * reports the time, the peak resident set and the peak of live requested
 * bytes, in the line format of bench/workloads.  Each block is written
 * once per page, as the recorded program would have.  The trace is parsed
 * into an array of operations before the clock starts: parsing text costs
 * ten times what the allocator does, and timed with it, it hid the
 * allocator's share.  That array and the table from recorded addresses to
 * live blocks are mappings of their own, sized by a first pass over the
 * trace and made resident before the replay, so the replayer's
 * bookkeeping neither goes through the allocator under test nor grows
 * during the replay: peak_kib is the peak resident set above what the
 * replayer held before it began.  The kernel counts resident pages in
 * per-CPU batches, and VmHWM is taken from that approximate count, so
 * a trace whose peak is a few MiB has it to within a few hundred KiB:
 * compare medians of several runs.
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

/* One operation of the trace: its letter and up to three numbers. */
struct op {
	char kind;
	unsigned long a, b, c;
};

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
	/* First pass: the most blocks live at once, and the operations. */
	long nlive = 0, most = 0, nops = 0;
	while (fgets(line, sizeof line, in)) {
		if (line[0] == 'm' || line[0] == 'a')
			nlive++;
		else if (line[0] == 'f')
			nlive--;
		if (nlive > most)
			most = nlive;
		nops++;
	}
	rewind(in);
	for (SLOTS = 1024; SLOTS < 2 * (size_t)most + 1024; SLOTS *= 2)
		;
	table = mmap(NULL, SLOTS * sizeof *table, PROT_READ | PROT_WRITE,
	             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct op *op =
	    mmap(NULL, ((size_t)nops + 1) * sizeof *op, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (table == MAP_FAILED || op == MAP_FAILED)
		return 1;
	memset(table, 0, SLOTS * sizeof *table); /* resident before we start */
	/* Second pass: parse each line (all resident: every op is written). */
	long n = 0;
	while (n < nops && fgets(line, sizeof line, in)) {
		struct op *o = &op[n];
		int want = line[0] == 'm'                     ? 2
		           : line[0] == 'f'                   ? 1
		           : line[0] == 'a' || line[0] == 'r' ? 3
		                                              : 0;
		if (want && sscanf(line + 1, "%lx %lx %lx", &o->a, &o->b,
		                   &o->c) >= want) {
			o->kind = line[0];
			n++;
		}
	}
	fclose(in);
	long base = status_kib("VmRSS:");
	long ops = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		const struct op *o = &op[i];
		struct slot *s;
		switch (o->kind) {
		case 'm':
			add(o->b, malloc(o->a), o->a);
			break;
		case 'a': {
			void *p = NULL;
			if (posix_memalign(&p, o->a, o->b) == 0)
				add(o->c, p, o->b);
			break;
		}
		case 'r':
			if ((s = take(o->a)) != NULL) {
				void *p = realloc(s->p, o->b);
				if (p || !o->b)
					add(o->c, p, o->b);
			}
			break;
		case 'f':
			if ((s = take(o->a)) != NULL)
				free(s->p);
			break;
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
