/*
 * stats.c: the allocator's figures for the program (osmem_stats), and the
 * reports made of them: glibc's malloc_stats, and osmem_stats_print's
 * text summary (what stats=1 prints at exit) and JSON object (stats=2),
 * which adds per arena and per size range figures.  Each arena's figures
 * are read under its lock.  Layer 6.
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
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
	for (const struct osmem__seg *sg = a->segs; sg; sg = sg->next)
		out->heap_resident += osmem__os_resident(
		    sg, (size_t)(sg->end - (const char *)sg));
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
	out->mapped_kept = c.kept;
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
osmem__malloc_stats(int fd)
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
static void
summary(int fd, const struct osmem_stats *sp)
{
	static const struct {
		const char *label;
		size_t offset;
	} rows[] = {
	    {"bytes in use        ", offsetof(struct osmem_stats, in_use)},
	    {"  most in heaps     ",
	     offsetof(struct osmem_stats, in_use_peak)},
	    {"heap bytes reserved ", offsetof(struct osmem_stats, heap)},
	    {"  most              ", offsetof(struct osmem_stats, heap_peak)},
	    {"  resident          ",
	     offsetof(struct osmem_stats, heap_resident)},
	    {"mapped bytes        ", offsetof(struct osmem_stats, mapped)},
	    {"  most              ",
	     offsetof(struct osmem_stats, mapped_peak)},
	    {"  kept for reuse    ",
	     offsetof(struct osmem_stats, mapped_kept)},
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
	char buf[1024];
	size_t n = 0;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		memcpy(buf + n, "osmem: ", 7);
		n += 7;
		n +=
		    line(buf + n, rows[i].label,
		         *(const size_t *)((const char *)sp + rows[i].offset));
	}
	/* fragmentation, in thousandths */
	memcpy(buf + n, "osmem: ", 7);
	n += 7;
	n += line(buf + n, "fragmentation/1000  ",
	          (size_t)(sp->fragmentation * 1000 + 0.5));
	osmem__os_write(fd, buf, n);
}

/* Blocks by size range (powers of 4 from 64 bytes), from a walk. */
#define RANGES 10
struct ranges {
	size_t used[RANGES], used_bytes[RANGES], free[RANGES],
	    free_bytes[RANGES], cached[RANGES], cached_bytes[RANGES];
};

static int
by_range(const struct osmem_block *b, void *arg)
{
	struct ranges *r = arg;
	size_t k = 0;
	while (k + 1 < RANGES && b->size >= (size_t)64 << (2 * k))
		k++;
	if (b->state == OSMEM_BLOCK_FREE) {
		r->free[k]++;
		r->free_bytes[k] += b->size;
	} else if (b->state == OSMEM_BLOCK_CACHED) {
		r->cached[k]++;
		r->cached_bytes[k] += b->size;
	} else {
		r->used[k]++;
		r->used_bytes[k] += b->size;
	}
	return 0;
}

static int
json_arena(struct osmem__arena *a, unsigned i, void *arg)
{
	struct osmem__out *o = arg;
	struct osmem_stats s;
	memset(&s, 0, sizeof s);
	add_arena(a, i, &s);
	osmem__put(o,
	           "%s\n    {\"arena\": %u, \"in_use_with_cached\": %zu, "
	           "\"reserved\": %zu, "
	           "\"resident\": %zu, \"from_brk\": %zu, \"free\": %zu, "
	           "\"free_blocks\": %zu, \"largest_free\": %zu, "
	           "\"segments\": %zu, \"released\": %zu}",
	           i ? "," : "", i, a->st.in_use, s.heap, s.heap_resident,
	           s.heap_brk, s.free, s.free_blocks, s.largest_free,
	           s.segments, s.released);
	return 0;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void
json_string(struct osmem__out *o, const char *s)
{
	osmem__put(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			osmem__put(o, "\\%c", c);
		else if (c < 0x20)
			osmem__put(o, "\\u%04x", c);
		else
			osmem__put(o, "%c", c);
	}
	osmem__put(o, "\"");
}

static void
json(int fd, const struct osmem_stats *s)
{
	struct ranges r;
	memset(&r, 0, sizeof r);
	osmem_walk(by_range, &r);
	struct osmem__out o = {.fd = fd};
	osmem__put(&o, "{\"program\": ");
	json_string(&o, osmem__os_progname());
	osmem__put(&o,
	           ", \"pid\": %d,\n  \"totals\": {\"in_use\": %zu, "
	           "\"in_use_peak\": %zu, \"cached\": %zu, \"free\": %zu, "
	           "\"free_blocks\": %zu, \"largest_free\": %zu, "
	           "\"fragmentation\": %.4f, \"released\": %zu, "
	           "\"held_from_system\": %zu},\n",
	           osmem__os_pid(), s->in_use, s->in_use_peak, s->cached,
	           s->free, s->free_blocks, s->largest_free, s->fragmentation,
	           s->released, osmem__os_held());
	osmem__put(&o,
	           "  \"heap\": {\"reserved\": %zu, \"reserved_peak\": %zu, "
	           "\"resident\": %zu, \"in_use\": %zu, \"from_brk\": %zu, "
	           "\"segments\": %zu},\n",
	           s->heap, s->heap_peak, s->heap_resident,
	           s->in_use - (s->mapped < s->in_use ? s->mapped : s->in_use),
	           s->heap_brk, s->segments);
	osmem__put(&o,
	           "  \"mapped\": {\"bytes\": %zu, \"peak\": %zu, "
	           "\"blocks\": %zu, \"kept\": %zu},\n"
	           "  \"calls\": {\"malloc\": %zu, \"free\": %zu, "
	           "\"realloc\": %zu},\n  \"arenas\": [",
	           s->mapped, s->mapped_peak, s->mapped_blocks, s->mapped_kept,
	           s->nmalloc, s->nfree, s->nrealloc);
	osmem__arena_each(json_arena, &o, 1);
	osmem__put(&o, "\n  ],\n  \"sizes\": [");
	for (size_t k = 0; k < RANGES; k++) {
		char hi[32] = "null";
		if (k + 1 < RANGES)
			snprintf(hi, sizeof hi, "%zu",
			         ((size_t)64 << (2 * k)) - 1);
		osmem__put(
		    &o,
		    "%s\n    {\"min\": %zu, \"max\": %s, \"used\": %zu, "
		    "\"used_bytes\": %zu, \"cached\": %zu, "
		    "\"cached_bytes\": %zu, \"free\": %zu, "
		    "\"free_bytes\": %zu}",
		    k ? "," : "", k ? (size_t)64 << (2 * (k - 1)) : 0, hi,
		    r.used[k], r.used_bytes[k], r.cached[k], r.cached_bytes[k],
		    r.free[k], r.free_bytes[k]);
	}
	osmem__put(&o, "\n  ]\n}\n");
	osmem__flush(&o);
}

int
osmem_stats_print(int fd, int format)
{
	if (format != OSMEM_STATS_TEXT && format != OSMEM_STATS_JSON) {
		errno = EINVAL;
		return -1;
	}
	struct osmem_stats s;
	osmem_stats(&s);
	if (format == OSMEM_STATS_JSON)
		json(fd, &s);
	else
		summary(fd, &s);
	return 0;
}
