/*
 * leaks.c: the leak check of leaks=1, in the words memcheck and
 * LeakSanitizer use.  At exit every block still allocated is looked for
 * from the roots: all of the process's readable and writable memory that
 * is not the allocator's (the loaded objects' data, every thread's stack
 * and thread-local storage, memory mapped by the program), and this
 * thread's stack from the exit handler up, with the registers pushed.
 * Any aligned word that points at a block or into it reaches the block,
 * and a reached block is scanned in turn (conservatively: it may hold
 * pointers anywhere).  What is left is lost:
 *
 *   definitely lost  no pointer to it anywhere reached or lost;
 *   indirectly lost  pointed to only from lost blocks (each lost block,
 *                    in address order, claims what it reaches; a cycle
 *                    leaves its first block definitely lost);
 *   still reachable  reached from the roots.
 *
 * The lost blocks are reported by allocation stack, largest first, each
 * frame named (symbols.c), then the summary; leaks=2 lists the reachable
 * ones too.  Sizes are the sizes asked for.  The check allocates nothing
 * until the blocks are classified: its tables are mapped pages, kept out
 * of the roots with the allocator's own memory.  Layer 7.
 */
#include "tools.h"
#include "vg.h"

#include <string.h>

enum { UNSEEN, REACHED, INDIRECT, LOST };
static const char *const words[] = {
    [LOST] = "definitely lost",
    [INDIRECT] = "indirectly lost",
    [REACHED] = "still reachable",
};
#define MAPS_MAX 65536
#define SHOWN 100 /* loss records printed at most */

struct blk {
	uintptr_t lo, hi; /* the bytes asked for (at least one) */
	uint32_t stack, state;
};

static struct {
	struct blk *b;
	size_t n, cap;
	size_t *work; /* blocks reached, not yet scanned */
	size_t nwork;
	struct osmem__range *ex; /* not roots: the allocator's memory */
	size_t nex, capex;
	struct osmem__range *maps;
	size_t nmaps;
	const void *seg; /* the segment of the last block walked */
	size_t bytes[4], blocks[4];
} k;

static void
exclude(uintptr_t lo, uintptr_t hi)
{
	if (k.nex < k.capex)
		k.ex[k.nex++] = (struct osmem__range){lo, hi};
}

static int
live(const struct osmem_block *b)
{
	return (b->state == OSMEM_BLOCK_USED ||
	        b->state == OSMEM_BLOCK_MAPPED) &&
	       !(osmem__g.cfg.quarantine && osmem__debug_held(b->ptr));
}

static int
count(const struct osmem_block *b, void *arg)
{
	(void)arg;
	k.cap += live(b);
	k.capex += b->segment != k.seg;
	k.seg = b->segment;
	return 0;
}

static int
gather(const struct osmem_block *b, void *arg)
{
	(void)arg;
	if (b->segment != k.seg) {
		uintptr_t s = (uintptr_t)b->segment;
		exclude(s,
		        b->state == OSMEM_BLOCK_MAPPED
		            ? (uintptr_t)b->ptr + b->size
		            : (uintptr_t)((const struct osmem__seg *)s)->end);
		k.seg = b->segment;
	}
	if (!live(b) || k.n == k.cap)
		return 0;
	size_t asked = osmem__debug_usable(b->ptr, b->size);
	struct blk *x = &k.b[k.n++];
	x->lo = (uintptr_t)b->ptr;
	x->hi = x->lo + (asked ? asked : 1);
	x->stack = osmem__debug_stack(b->ptr, b->size);
	x->state = UNSEEN;
	return 0;
}

/* Heap sort of the blocks by address, in place (qsort may allocate). */
static void
sift(size_t i, size_t n)
{
	for (size_t c; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && k.b[c + 1].lo > k.b[c].lo)
			c++;
		if (k.b[i].lo >= k.b[c].lo)
			return;
		struct blk t = k.b[i];
		k.b[i] = k.b[c];
		k.b[c] = t;
	}
}

static void
sort_blocks(void)
{
	for (size_t i = k.n / 2; i-- > 0;)
		sift(i, k.n);
	for (size_t n = k.n; n-- > 1;) {
		struct blk t = k.b[0];
		k.b[0] = k.b[n];
		k.b[n] = t;
		sift(0, n);
	}
}

/* The block holding address v, or -1. */
static long
find(uintptr_t v)
{
	size_t lo = 0, hi = k.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k.b[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && v < k.b[lo - 1].hi ? (long)(lo - 1) : -1;
}

/* Every aligned word of [lo, hi) that reaches a block in state from
 * marks it to and queues it. */
static void
scan(uintptr_t lo, uintptr_t hi, uint32_t from, uint32_t from2, uint32_t to)
{
	if (!k.n)
		return;
	uintptr_t min = k.b[0].lo, max = k.b[k.n - 1].hi;
	lo =
	    (lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
	for (const uintptr_t *w = (const uintptr_t *)lo;
	     (uintptr_t)(w + 1) <= hi; w++) {
		uintptr_t v = *w;
		if (v < min || v >= max)
			continue;
		long i = find(v);
		if (i < 0 || (k.b[i].state != from && k.b[i].state != from2))
			continue;
		if (k.b[i].state == UNSEEN)
			k.work[k.nwork++] = (size_t)i;
		k.b[i].state = to;
	}
}

/* Scan what is queued, and what that reaches. */
static void
flood(uint32_t from2, uint32_t to)
{
	while (k.nwork) {
		const struct blk *x = &k.b[k.work[--k.nwork]];
		scan(x->lo, x->hi, UNSEEN, from2, to);
	}
}

static int
by_lo(const struct osmem__range *a, const struct osmem__range *b)
{
	return a->lo < b->lo;
}

/* The roots: the readable, writable memory outside the exclusions. */
static void
scan_roots(uintptr_t sp)
{
	/* Insertion sort: few exclusions are out of order. */
	for (size_t i = 1; i < k.nex; i++)
		for (size_t j = i; j && by_lo(&k.ex[j], &k.ex[j - 1]); j--) {
			struct osmem__range t = k.ex[j];
			k.ex[j] = k.ex[j - 1];
			k.ex[j - 1] = t;
		}
	size_t e = 0;
	for (size_t m = 0; m < k.nmaps; m++) {
		uintptr_t lo = k.maps[m].lo, hi = k.maps[m].hi;
		if (sp >= lo && sp < hi)
			lo = sp; /* below the exit handler: dead frames */
		while (e < k.nex && k.ex[e].hi <= lo)
			e++;
		for (size_t i = e; i < k.nex && k.ex[i].lo < hi; i++) {
			if (k.ex[i].lo > lo)
				scan(lo, k.ex[i].lo, UNSEEN, UNSEEN, REACHED);
			if (k.ex[i].hi > lo)
				lo = k.ex[i].hi;
		}
		if (lo < hi)
			scan(lo, hi, UNSEEN, UNSEEN, REACHED);
		flood(UNSEEN, REACHED);
	}
}

/* Each lost block in turn claims the blocks it reaches. */
static void
classify_lost(void)
{
	for (size_t i = 0; i < k.n; i++) {
		if (k.b[i].state != UNSEEN)
			continue;
		/* Out of reach of its own claim while it makes it. */
		k.b[i].state = REACHED;
		scan(k.b[i].lo, k.b[i].hi, UNSEEN, LOST, INDIRECT);
		flood(LOST, INDIRECT);
		k.b[i].state = LOST;
	}
}

static void *
table(size_t n, size_t size)
{
	void *p = osmem__os_map(n * size);
	if (p)
		exclude((uintptr_t)p, (uintptr_t)p + n * size);
	return p;
}

static void
untable(void *p, size_t n, size_t size)
{
	if (p)
		(void)osmem__os_unmap(p, n * size);
}

static void
say_stack(struct osmem__out *o, uint32_t id)
{
	const uintptr_t *f;
	const struct osmem__stack *s = osmem__stack_get(id, &f);
	for (uint32_t i = 0; s && i < s->n; i++) {
		char name[400];
		osmem__symbol_name(f[i], name, sizeof name);
		osmem__put(o, "osmem:     #%u %s\n", i, name);
	}
}

/* The loss records, largest first, then the summary. */
static void
report(struct osmem__out *o, int all)
{
	size_t nstacks = osmem__stack_count();
	for (size_t i = 0; i < k.n; i++) {
		const uintptr_t *f;
		uint32_t c = k.b[i].state;
		struct osmem__stack *s = osmem__stack_get(k.b[i].stack, &f);
		if (!s)
			continue; /* the tools' own, or not recorded */
		k.bytes[c] += k.b[i].hi - k.b[i].lo;
		k.blocks[c]++;
		s->bytes[c - 1] += k.b[i].hi - k.b[i].lo;
		s->blocks[c - 1]++;
	}
	if (!k.blocks[LOST] && !k.blocks[INDIRECT] && !all)
		return;
	osmem__symbols_open();
	for (int shown = 0;; shown++) {
		struct osmem__stack *best = NULL;
		uint32_t best_id = 0, best_c = 0;
		for (uint32_t id = 1; id <= nstacks; id++) {
			const uintptr_t *f;
			struct osmem__stack *s = osmem__stack_get(id, &f);
			for (uint32_t c = all ? REACHED : INDIRECT; c <= LOST;
			     c++)
				if (s->blocks[c - 1] &&
				    (!best || s->bytes[c - 1] >
				                  best->bytes[best_c - 1]))
					best = s, best_id = id, best_c = c;
		}
		if (!best)
			break;
		if (shown < SHOWN) {
			osmem__put(
			    o,
			    "osmem: %zu bytes in %zu blocks %s, allocated "
			    "at\n",
			    best->bytes[best_c - 1], best->blocks[best_c - 1],
			    words[best_c]);
			say_stack(o, best_id);
		}
		best->blocks[best_c - 1] = 0;
	}
	osmem__symbols_close();
	for (uint32_t c = LOST; c >= REACHED; c--)
		osmem__put(o, "osmem: %s: %zu bytes in %zu blocks\n", words[c],
		           k.bytes[c], k.blocks[c]);
}

/*
 * Where this thread's roots start.  The frames of exit() and of the exit
 * handlers lie where the program's dead frames were, and their unwritten
 * slots still hold its old pointers, which would hide leaks (memcheck
 * skips them as undefined).  So the scan starts above exit's frame: at
 * the word holding the return address into the function that called
 * exit (from main's caller, or the program), found by unwinding.
 * Without the unwinder, from the exit handler up.
 */
static uintptr_t
stack_start(uintptr_t sp)
{
	void *ret[32];
	size_t n = osmem__stack_here(ret, 32);
	for (size_t i = 0; i + 1 < n; i++) {
		const char *sym = NULL, *object = NULL;
		const void *at = NULL, *base = NULL;
		if (!osmem__os_symbol((const char *)ret[i] - 1, &sym, &at,
		                      &object, &base) ||
		    !sym || strcmp(sym, "exit") != 0)
			continue;
		uintptr_t top = sp;
		for (size_t m = 0; m < k.nmaps; m++)
			if (sp >= k.maps[m].lo && sp < k.maps[m].hi)
				top = k.maps[m].hi;
		for (const uintptr_t *w =
		         (const uintptr_t *)(sp & ~(uintptr_t)7);
		     (uintptr_t)(w + 1) <= top; w++)
			if (*w == (uintptr_t)ret[i + 1])
				return (uintptr_t)(w + 1);
		break;
	}
	return sp;
}

size_t
osmem__leak_report(int fd, const void *sp)
{
	osmem__stack_stop();
#ifdef __SANITIZE_ADDRESS__
	/* Built with AddressSanitizer, whose poisoned stack and shadow the
	 * scan may not read. */
	osmem__warn("no leak check under AddressSanitizer:",
	            "LeakSanitizer does it");
	return 0;
#endif
	if (OSMEM_VG_RUNNING()) {
		/* Its scan would read what memcheck calls undefined. */
		osmem__warn("no leak check under valgrind:",
		            "memcheck's --leak-check does it");
		return 0;
	}
	osmem_walk(count, NULL);
	k.cap += k.cap / 8 + 64; /* for threads that allocate meanwhile */
	k.capex += k.capex / 8 + 64;
	k.ex = osmem__os_map(k.capex * sizeof *k.ex);
	if (!k.ex)
		return 0;
	exclude((uintptr_t)k.ex, (uintptr_t)(k.ex + k.capex));
	exclude((uintptr_t)&osmem__g, (uintptr_t)(&osmem__g + 1));
	k.b = table(k.cap, sizeof *k.b);
	k.work = table(k.cap, sizeof *k.work);
	k.maps = table(MAPS_MAX, sizeof *k.maps);
	size_t lost = 0;
	if (k.b && k.work && k.maps) {
		k.seg = NULL;
		osmem_walk(gather, NULL);
		sort_blocks();
		k.nmaps = osmem__os_rw_maps(k.maps, MAPS_MAX);
		scan_roots(stack_start((uintptr_t)sp));
		classify_lost();
		struct osmem__out o = {.fd = fd};
		report(&o, osmem__g.cfg.leaks == 2);
		osmem__flush(&o);
		lost = k.blocks[LOST] + k.blocks[INDIRECT];
	}
	untable(k.b, k.cap, sizeof *k.b);
	untable(k.work, k.cap, sizeof *k.work);
	untable(k.maps, MAPS_MAX, sizeof *k.maps);
	untable(k.ex, k.capex, sizeof *k.ex);
	return lost;
}
