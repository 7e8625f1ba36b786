/*
 * stats.c: the allocator's figures for the program (osmem_stats), and the
 * two reports made of them: glibc's malloc_stats and libosmem's summary.
 * Each arena's figures are read under its lock.  Layer 6.
 */
#include "api.h"

#include <string.h>

static int
add_arena(struct osmem__arena *a, unsigned i, void *arg)
{
	struct osmem_stats *out = arg;
	const struct osmem__counters *c = &a->st;
	(void)i;
	out->in_use += c->in_use;
	out->in_use_peak += c->in_use_peak;
	out->heap += c->heap;
	out->heap_peak += c->heap_peak;
	out->heap_brk += c->heap_brk;
	out->free += c->free_bytes;
	out->free_blocks += c->nfree_chunks;
	size_t largest = osmem__bin_largest(a);
	if (largest > out->largest_free)
		out->largest_free = largest;
	out->released += c->released;
	out->segments += c->nsegs;
	/* Blocks waiting on remote stacks are free to the program. */
	out->cached += __atomic_load_n(&a->remote_bytes, __ATOMIC_RELAXED);
	return 0;
}

static int
no_block(const struct osmem__large *l, void *arg)
{
	(void)l, (void)arg;
	return 0;
}

void
osmem_stats(struct osmem_stats *out)
{
	osmem__ensure_init();
	memset(out, 0, sizeof *out);
	osmem__arena_each(add_arena, out, 1);
	/* The large figures, read under the large lock. */
	struct osmem__counters c;
	osmem__large_each(no_block, NULL, &c);
	out->mapped = c.large;
	out->mapped_peak = c.large_peak;
	out->mapped_blocks = c.nlarge;
	out->in_use += c.large;
	size_t calls[OSMEM_NCALLS];
	osmem__calls(calls);
	out->nmalloc = calls[OSMEM_CALL_MALLOC];
	out->nfree = calls[OSMEM_CALL_FREE];
	out->nrealloc = calls[OSMEM_CALL_REALLOC];
	/* Blocks in thread caches are free to the program. */
	out->cached += osmem__tc_bytes();
	out->in_use -= out->cached < out->in_use ? out->cached : out->in_use;
	out->fragmentation =
	    out->free ? 1.0 - (double)out->largest_free / (double)out->free
	              : 0;
}

/* One "label = number" line, the number right-aligned in 10 columns. */
static size_t
line(char *buf, const char *label, size_t v)
{
	char num[24];
	size_t n = strlen(label), d = osmem__fmt_dec(num, v);
	memcpy(buf, label, n);
	buf[n++] = '=';
	for (size_t pad = d < 11 ? 11 - d : 1; pad > 0; pad--)
		buf[n++] = ' ';
	memcpy(buf + n, num, d);
	n += d;
	buf[n++] = '\n';
	return n;
}

void
osmem__stats_print(int fd)
{
	struct osmem_stats s;
	char buf[512];
	size_t n = 0;
	osmem_stats(&s);
	/* The shape of glibc's malloc_stats, so existing readers work. */
	memcpy(buf, "Arena 0:\n", 9);
	n = 9;
	n += line(buf + n, "system bytes     ", s.heap);
	n += line(buf + n, "in use bytes     ", s.in_use - s.mapped);
	memcpy(buf + n, "Total (incl. mmap):\n", 20);
	n += 20;
	n += line(buf + n, "system bytes     ", s.heap + s.mapped);
	n += line(buf + n, "in use bytes     ", s.in_use);
	n += line(buf + n, "max mmap regions ", s.mapped_blocks);
	n += line(buf + n, "max mmap bytes   ", s.mapped_peak);
	osmem__os_write(fd, buf, n);
}

/* The summary that OSMEM_OPTIONS=stats=1 prints at exit. */
void
osmem__stats_summary(int fd)
{
	static const struct {
		const char *label;
		size_t offset;
	} rows[] = {
	    {"bytes in use        ", offsetof(struct osmem_stats, in_use)},
	    {"  most in heaps     ",
	     offsetof(struct osmem_stats, in_use_peak)},
	    {"heap bytes          ", offsetof(struct osmem_stats, heap)},
	    {"  most              ", offsetof(struct osmem_stats, heap_peak)},
	    {"mapped bytes        ", offsetof(struct osmem_stats, mapped)},
	    {"  most              ",
	     offsetof(struct osmem_stats, mapped_peak)},
	    {"free heap bytes     ", offsetof(struct osmem_stats, free)},
	    {"  in blocks         ",
	     offsetof(struct osmem_stats, free_blocks)},
	    {"  largest block     ",
	     offsetof(struct osmem_stats, largest_free)},
	    {"cached bytes        ", offsetof(struct osmem_stats, cached)},
	    {"given back, bytes   ", offsetof(struct osmem_stats, released)},
	    {"allocations         ", offsetof(struct osmem_stats, nmalloc)},
	    {"frees               ", offsetof(struct osmem_stats, nfree)},
	    {"reallocations       ", offsetof(struct osmem_stats, nrealloc)},
	};
	struct osmem_stats s;
	char buf[1024];
	size_t n = 0;
	osmem_stats(&s);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		memcpy(buf + n, "osmem: ", 7);
		n += 7;
		n +=
		    line(buf + n, rows[i].label,
		         *(const size_t *)((const char *)&s + rows[i].offset));
	}
	/* fragmentation, in thousandths */
	memcpy(buf + n, "osmem: ", 7);
	n += 7;
	n += line(buf + n, "fragmentation/1000  ",
	          (size_t)(s.fragmentation * 1000 + 0.5));
	osmem__os_write(fd, buf, n);
}
