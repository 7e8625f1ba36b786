/*
 * profile.c: the heap profile of profile=NAME (osmem-run --profile), the
 * question heaptrack and massif answer: where did the memory go.  Every
 * allocation records its stack (stacks.c); per stack this keeps the
 * calls, the bytes allocated, the bytes live now and at the peak of the
 * whole heap, and the temporary allocations (freed before anything else
 * was allocated, heaptrack's definition).  The bytes each stack had at
 * the peak are taken lazily: a new peak only bumps an epoch, and a stack
 * notes its live bytes as of the last peak the next time it changes, so
 * a call costs the same however many stacks there are.
 *
 * Memory over time is sampled: a row (time, bytes live) at most every
 * interval, and for each stack that changed since the last row, its
 * bytes then (a log, in row order).  When the rows are full, each pair
 * becomes its later row, the log is folded to match and the interval
 * doubles, so a run of any length keeps between ROWS/2 and ROWS rows.
 *
 * At exit (tools.c) it writes NAME.folded (stacks at the peak in the
 * folded format flamegraph.pl, inferno and speedscope read), NAME.svg
 * (memory over time, the top stacks stacked, the peak marked) and
 * NAME.flame.svg (profsvg.c), and a summary on the report stream.  NAME
 * may hold %p and %e (diag.c).  Sizes are the sizes asked for.  Layer 7.
 */
#include "tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 1024u
#define TOP 8 /* stacks drawn over time; the rest are "other" */

osmem__lock_t osmem__profile_lock;

struct row {
	uint64_t t; /* nanoseconds since start-up */
	size_t live;
};
struct entry {
	uint32_t row, stack;
	size_t live;
};

static struct {
	int on, stopped;
	uint64_t t0, interval, next;
	size_t live, peak, calls, bytes, temps;
	uint64_t epoch, peak_t;
	const void *last; /* the latest block allocated, until the next call */
	struct row *row;
	size_t nrow, caprow;
	struct entry *log;
	size_t nlog, caplog;
	uint32_t *dirty;
	size_t ndirty, capdirty;
	uint32_t gen;
} pf;

void
osmem__profile_start(void)
{
	pf.on = 1;
	pf.t0 = osmem__os_now_ns();
	pf.interval = 1000000; /* 1 ms, doubled as the run goes on */
}

/* Note stack s's bytes at the last peak before they change. */
static struct osmem__prof *
touch(uint32_t id)
{
	const uintptr_t *f;
	struct osmem__stack *s = osmem__stack_get(id, &f);
	if (!s)
		return NULL;
	struct osmem__prof *p = &s->p;
	if (p->epoch != pf.epoch) {
		p->peak = p->live;
		p->epoch = pf.epoch;
	}
	if (!p->dirty && !osmem__tools_grow((void **)&pf.dirty, &pf.capdirty,
	                                    pf.ndirty + 1, sizeof *pf.dirty)) {
		p->dirty = 1;
		pf.dirty[pf.ndirty++] = id;
	}
	return p;
}

/* Fold each pair of rows into its later one and the log to match. */
static void
compact(void)
{
	pf.gen++;
	size_t n = 0;
	for (size_t i = 0; i < pf.nlog; i++) {
		struct entry e = pf.log[i];
		const uintptr_t *f;
		struct osmem__prof *p = &osmem__stack_get(e.stack, &f)->p;
		e.row /= 2;
		if (p->mark_gen == pf.gen && p->mark_row == e.row) {
			pf.log[p->mark_pos].live = e.live;
			continue;
		}
		p->mark_gen = pf.gen;
		p->mark_row = e.row;
		p->mark_pos = (uint32_t)n;
		pf.log[n++] = e;
	}
	pf.nlog = n;
	for (size_t r = 0; r < pf.nrow / 2; r++)
		pf.row[r] = pf.row[2 * r + 1];
	pf.nrow /= 2;
	pf.interval *= 2;
}

static void
sample(uint64_t now, int force)
{
	if (now < pf.next && !force)
		return;
	pf.next = now + pf.interval;
	if (osmem__tools_grow((void **)&pf.row, &pf.caprow, pf.nrow + 1,
	                      sizeof *pf.row) ||
	    osmem__tools_grow((void **)&pf.log, &pf.caplog,
	                      pf.nlog + pf.ndirty, sizeof *pf.log))
		return;
	uint32_t r = (uint32_t)pf.nrow;
	pf.row[pf.nrow++] = (struct row){now - pf.t0, pf.live};
	for (size_t i = 0; i < pf.ndirty; i++) {
		const uintptr_t *f;
		struct osmem__prof *p = &osmem__stack_get(pf.dirty[i], &f)->p;
		p->dirty = 0;
		pf.log[pf.nlog++] = (struct entry){r, pf.dirty[i], p->live};
	}
	pf.ndirty = 0;
	if (pf.nrow == ROWS)
		compact();
}

void
osmem__profile_alloc(uint32_t id, size_t n, const void *p)
{
	if (!id)
		return; /* the tools' own, or no memory for its stack */
	osmem__lock(&osmem__profile_lock);
	if (!pf.stopped) {
		pf.calls++;
		pf.bytes += n;
		pf.live += n;
		pf.last = p;
		struct osmem__prof *s = touch(id);
		if (s) {
			s->calls++;
			s->bytes += n;
			s->live += n;
		}
		uint64_t now = osmem__os_now_ns();
		if (pf.live > pf.peak) {
			pf.peak = pf.live;
			pf.peak_t = now - pf.t0;
			pf.epoch++;
		}
		sample(now, 0);
	}
	osmem__unlock(&osmem__profile_lock);
}

void
osmem__profile_free(uint32_t id, size_t n, const void *p)
{
	if (!id)
		return;
	osmem__lock(&osmem__profile_lock);
	if (!pf.stopped) {
		struct osmem__prof *s = touch(id);
		if (s)
			s->live -= n;
		pf.live -= n;
		if (p == pf.last) {
			pf.temps++;
			if (s)
				s->temps++;
		}
		pf.last = NULL;
		sample(osmem__os_now_ns(), 0);
	}
	osmem__unlock(&osmem__profile_lock);
}

/* ---- at exit ---- */

/* Names of code addresses, each looked up once. */
static struct {
	uintptr_t *pc;
	char **name;
	size_t cap; /* a power of two */
} names;

static const char *
name_of(uintptr_t pc)
{
	size_t i =
	    (size_t)(pc * 0x9e3779b97f4a7c15ull >> 40) & (names.cap - 1);
	while (names.pc[i] && names.pc[i] != pc)
		i = (i + 1) & (names.cap - 1);
	if (!names.pc[i]) {
		char buf[512];
		osmem__symbol_short(pc, buf, sizeof buf);
		/* The folded format's separators may not appear in a name. */
		for (char *c = buf; *c; c++)
			if (*c == ';' || *c == '\n')
				*c = ':';
		size_t len = strlen(buf) + 1;
		names.name[i] = osmem_malloc(len);
		if (names.name[i])
			memcpy(names.name[i], buf, len);
		names.pc[i] = pc;
	}
	return names.name[i] ? names.name[i] : "?";
}

/* Stack id as "outermost;...;innermost" into a new string. */
static char *
folded(uint32_t id)
{
	const uintptr_t *f;
	const struct osmem__stack *s = osmem__stack_get(id, &f);
	size_t len = 1;
	for (uint32_t i = 0; i < s->n; i++)
		len += strlen(name_of(f[i])) + 1;
	char *out = osmem_malloc(len), *at = out;
	for (uint32_t i = s->n; out && i-- > 0;) {
		const char *nm = name_of(f[i]);
		size_t l = strlen(nm);
		memcpy(at, nm, l);
		at += l;
		*at++ = i ? ';' : '\0';
	}
	return out;
}

static int
by_frames(const void *a, const void *b)
{
	return strcmp(((const struct osmem__flame_line *)a)->frames,
	              ((const struct osmem__flame_line *)b)->frames);
}

/* Open NAME with suffix for writing (NAME's %p and %e filled in). */
static int
open_output(const char *suffix, char *path, size_t len)
{
	char name[OSMEM_PATH_MAX + 64];
	osmem__path_pid(osmem__g.cfg.profile, name, sizeof name);
	size_t n = strlen(name);
	if (n + strlen(suffix) + 1 > len)
		return -1;
	memcpy(path, name, n);
	strcpy(path + n, suffix);
	return osmem__os_open_new(path); /* if not, said at start-up */
}

/* The stacks at the peak, merged by name, sorted; their number. */
static size_t
flame_lines(struct osmem__flame_line *l, size_t nstacks)
{
	size_t n = 0;
	for (uint32_t id = 1; id <= nstacks; id++) {
		const uintptr_t *f;
		const struct osmem__stack *s = osmem__stack_get(id, &f);
		if (s->p.peak && (l[n].frames = folded(id)))
			l[n++].bytes = s->p.peak;
	}
	qsort(l, n, sizeof *l, by_frames);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && !strcmp(l[m - 1].frames, l[i].frames)) {
			l[m - 1].bytes += l[i].bytes;
			osmem_free(l[i].frames);
		} else
			l[m++] = l[i];
	}
	return m;
}

static size_t
peak_of(uint32_t id)
{
	const uintptr_t *f;
	return osmem__stack_get(id, &f)->p.peak;
}

/* The top stacks by bytes at the peak, biggest first; their number. */
static size_t
top_stacks(uint32_t *top, size_t nstacks)
{
	size_t n = 0;
	for (uint32_t id = 1; id <= nstacks; id++) {
		size_t peak = peak_of(id), i;
		if (!peak)
			continue;
		if (n < TOP)
			i = n++;
		else if (peak <= peak_of(top[TOP - 1]))
			continue;
		else
			i = TOP - 1;
		for (; i > 0 && peak_of(top[i - 1]) < peak; i--)
			top[i] = top[i - 1];
		top[i] = id;
	}
	return n;
}

/* A stack's label: its innermost frames, "leaf < caller < caller's". */
static void
label(uint32_t id, char *out, size_t len)
{
	const uintptr_t *f;
	const struct osmem__stack *s = osmem__stack_get(id, &f);
	size_t at = 0;
	out[0] = '\0';
	for (uint32_t i = 0; i < s->n && i < 3 && at + 4 < len; i++)
		at += (size_t)snprintf(out + at, len - at, "%s%s",
		                       i ? " < " : "", name_of(f[i]));
}

static void
pictures(size_t nstacks, struct osmem__out *sum)
{
	char path[OSMEM_PATH_MAX + 64];
	struct osmem__flame_line *l = osmem_calloc(nstacks + 1, sizeof *l);
	size_t n = l ? flame_lines(l, nstacks) : 0;
	int fd = open_output(".folded", path, sizeof path);
	if (fd >= 0) {
		struct osmem__out o = {.fd = fd};
		for (size_t i = 0; i < n; i++)
			osmem__put(&o, "%s %zu\n", l[i].frames, l[i].bytes);
		osmem__flush(&o);
		osmem__os_close(fd);
		osmem__put(sum, "osmem: profile: stacks at the peak in %s\n",
		           path);
	}
	fd = open_output(".flame.svg", path, sizeof path);
	if (fd >= 0) {
		osmem__svg_flame(fd, l, n, osmem__os_progname());
		osmem__os_close(fd);
		osmem__put(sum, "osmem: profile: flame graph in %s\n", path);
	}
	for (size_t i = 0; i < n; i++)
		osmem_free(l[i].frames);
	osmem_free(l);

	/* Memory over time: each top stack's bytes at each row, and one row
	 * more at the peak (which falls between samples), with the bytes
	 * each stack had then. */
	uint32_t top[TOP];
	size_t ntop = top_stacks(top, nstacks), nrow = pf.nrow + 1;
	size_t *v = osmem_calloc(ntop * nrow + 1, sizeof *v);
	size_t *total = osmem_calloc(nrow, sizeof *total);
	uint64_t *t = osmem_calloc(nrow, sizeof *t);
	char(*names_top)[160] = osmem_calloc(ntop + 1, sizeof *names_top);
	struct osmem__series series[TOP];
	fd = v && total && t && names_top
	         ? open_output(".svg", path, sizeof path)
	         : -1;
	if (fd >= 0) {
		for (size_t k = 0; k < ntop; k++) {
			label(top[k], names_top[k], sizeof names_top[k]);
			series[k] =
			    (struct osmem__series){names_top[k], v + k * nrow};
		}
		size_t e = 0, cur[TOP] = {0}, out = 0;
		int peaked = 0;
		for (size_t r = 0; r < pf.nrow; r++) {
			if (!peaked && pf.row[r].t > pf.peak_t) {
				for (size_t k = 0; k < ntop; k++)
					v[k * nrow + out] = peak_of(top[k]);
				total[out] = pf.peak;
				t[out++] = pf.peak_t;
				peaked = 1;
			}
			for (; e < pf.nlog && pf.log[e].row == r; e++)
				for (size_t k = 0; k < ntop; k++)
					if (pf.log[e].stack == top[k])
						cur[k] = pf.log[e].live;
			for (size_t k = 0; k < ntop; k++)
				v[k * nrow + out] = cur[k];
			total[out] = pf.row[r].live;
			t[out++] = pf.row[r].t;
		}
		osmem__svg_timeline(fd, t, total, out, series, ntop, pf.peak_t,
		                    pf.peak, osmem__os_progname());
		osmem__os_close(fd);
		osmem__put(sum, "osmem: profile: memory over time in %s\n",
		           path);
	}
	osmem_free(v);
	osmem_free(total);
	osmem_free(t);
	osmem_free(names_top);
}

static void
summary(struct osmem__out *o, size_t nstacks)
{
	uint64_t now = osmem__os_now_ns() - pf.t0;
	size_t leaked = 0;
	for (uint32_t id = 1; id <= nstacks; id++) {
		const uintptr_t *f;
		leaked += osmem__stack_get(id, &f)->p.live;
	}
	osmem__put(o,
	           "osmem: profile of %s (pid %d): %.3f s, %zu allocations "
	           "(%zu temporary), %zu bytes allocated, peak heap %zu "
	           "bytes at %.3f s, peak RSS %zu bytes, %zu bytes not "
	           "freed at exit, %zu stacks\n",
	           osmem__os_progname(), osmem__os_pid(), (double)now / 1e9,
	           pf.calls, pf.temps, pf.bytes, pf.peak,
	           (double)pf.peak_t / 1e9, osmem__os_max_rss(), leaked,
	           nstacks);
	uint32_t top[TOP];
	size_t ntop = top_stacks(top, nstacks);
	for (size_t k = 0; k < ntop; k++) {
		const uintptr_t *f;
		const struct osmem__prof *p = &osmem__stack_get(top[k], &f)->p;
		char name[400];
		label(top[k], name, sizeof name);
		osmem__put(o,
		           "osmem:   %zu bytes at the peak, %zu calls, %zu "
		           "bytes allocated, %zu temporary, %zu not freed: "
		           "%s\n",
		           p->peak, p->calls, p->bytes, p->temps, p->live,
		           name);
	}
}

void
osmem__profile_report(int fd)
{
	if (!pf.on)
		return;
	osmem__stack_stop();
	osmem__lock(&osmem__profile_lock);
	sample(osmem__os_now_ns(), 1);
	pf.stopped = 1;
	osmem__unlock(&osmem__profile_lock);
	size_t nstacks = osmem__stack_count();
	for (uint32_t id = 1; id <= nstacks; id++) {
		const uintptr_t *f;
		struct osmem__prof *p = &osmem__stack_get(id, &f)->p;
		if (p->epoch != pf.epoch)
			p->peak = p->live;
	}
	size_t frames = 0;
	for (uint32_t id = 1; id <= nstacks; id++) {
		const uintptr_t *f;
		frames += osmem__stack_get(id, &f)->n;
	}
	for (names.cap = 1024; names.cap < 2 * frames; names.cap *= 2)
		;
	names.pc = osmem_calloc(names.cap, sizeof *names.pc);
	names.name = osmem_calloc(names.cap, sizeof *names.name);
	if (!names.pc || !names.name) {
		osmem_free(names.pc);
		osmem_free(names.name);
		return;
	}
	osmem__symbols_open();
	struct osmem__out o = {.fd = fd};
	summary(&o, nstacks);
	pictures(nstacks, &o);
	osmem__flush(&o);
	osmem__symbols_close();
	for (size_t i = 0; i < names.cap; i++)
		osmem_free(names.name[i]);
	osmem_free(names.name);
	osmem_free(names.pc);
}
