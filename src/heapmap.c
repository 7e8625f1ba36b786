/*
 * heapmap.c: the heap as a picture.  osmem_heap_map writes every heap
 * segment as a row of cells in address order, each cell showing how much
 * of its stretch of addresses is in use, cached in a thread cache, or
 * free, then the blocks with a mapping of their own, a legend and the
 * figures of osmem_stats; as SVG or as plain text for a terminal.  Blocks
 * are aggregated into cells, so a heap of millions of blocks draws the
 * same size as a small one.  The walk fills static tables (no allocation
 * while the allocator's locks are held), so maps are drawn one at a time.
 *
 * With OSMEM_HEAP_MAP=FILE in the environment, the map is written at exit
 * (SVG if FILE ends in .svg, text otherwise); with OSMEM_HEAP_MAP_SIGNAL=N
 * too, also when signal N arrives: the handler only raises a flag (drawing
 * takes the allocator's locks, which the interrupted code may hold), and
 * the next call that takes a slow path draws the map.  Layer 7.
 */
#include "tools.h"

#include <stdio.h>
#include <string.h>

#define ROWS 48   /* segments drawn; the rest are summed in the last */
#define CELLS 128 /* cells per segment row */
#define BARS 64   /* mapped blocks drawn */

osmem__lock_t osmem__map_lock;

static struct {
	struct row {
		uintptr_t start, end;
		unsigned arena;
		int brk;
		size_t used[CELLS], cached[CELLS], free[CELLS];
	} row[ROWS];
	int nrows, more_rows;
	size_t bar[BARS];
	int nbars;
	size_t more_bars, more_bar_bytes;
} m;

/* Spread the bytes of [lo, hi) of state st over the cells of row r. */
static void
paint(struct row *r, uintptr_t lo, uintptr_t hi, int st)
{
	size_t span = (size_t)(r->end - r->start);
	while (lo < hi) {
		size_t cell = (size_t)(lo - r->start) * CELLS / span;
		if (cell >= CELLS)
			cell = CELLS - 1;
		uintptr_t cell_end = r->start + (cell + 1) * span / CELLS;
		uintptr_t stop =
		    cell_end < hi && cell + 1 < CELLS ? cell_end : hi;
		size_t n = (size_t)(stop - lo);
		if (st == OSMEM_BLOCK_USED)
			r->used[cell] += n;
		else if (st == OSMEM_BLOCK_CACHED)
			r->cached[cell] += n;
		else
			r->free[cell] += n;
		lo = stop;
	}
}

static int
collect(const struct osmem_block *b, void *arg)
{
	(void)arg;
	if (b->state == OSMEM_BLOCK_MAPPED) {
		if (m.nbars < BARS) {
			m.bar[m.nbars++] = b->chunk_size;
		} else {
			m.more_bars++;
			m.more_bar_bytes += b->chunk_size;
		}
		return 0;
	}
	const struct osmem__seg *s = b->segment;
	struct row *r = m.nrows ? &m.row[m.nrows - 1] : NULL;
	if (!r || r->start != (uintptr_t)s) {
		if (m.nrows == ROWS) {
			m.more_rows++;
			return 0;
		}
		r = &m.row[m.nrows++];
		memset(r, 0, sizeof *r);
		r->start = (uintptr_t)s;
		r->end = (uintptr_t)s->end;
		r->arena = b->arena;
		r->brk = b->from_brk;
	}
	uintptr_t lo = (uintptr_t)b->chunk;
	paint(r, lo, lo + b->chunk_size, b->state);
	return 0;
}

static double
share(size_t part, size_t whole)
{
	return whole ? (double)part / (double)whole : 0;
}

static void
text(struct osmem__out *o, const struct osmem_stats *s)
{
	osmem__put(o,
	           "libosmem heap map: %d segment(s), %zu mapped block(s)\n",
	           m.nrows + m.more_rows, s->mapped_blocks);
	osmem__put(
	    o,
	    "each row is one segment, %d cells; '#' in use, 'c' cached, "
	    "'+' part used, '.' free\n",
	    CELLS / 2);
	for (int i = 0; i < m.nrows; i++) {
		const struct row *r = &m.row[i];
		char bar[CELLS / 2 + 1];
		for (int c = 0; c < CELLS / 2; c++) {
			size_t u = r->used[2 * c] + r->used[2 * c + 1];
			size_t k = r->cached[2 * c] + r->cached[2 * c + 1];
			size_t f = r->free[2 * c] + r->free[2 * c + 1];
			double used = share(u, u + k + f);
			bar[c] = k > u && k > f ? 'c'
			         : used > 0.9   ? '#'
			         : used > 0.1   ? '+'
			                        : '.';
		}
		bar[CELLS / 2] = '\0';
		osmem__put(o, "%#14lx %9zuK %s%u |%s|\n",
		           (unsigned long)r->start,
		           (size_t)(r->end - r->start) / 1024,
		           r->brk ? "brk " : "arena ", r->arena, bar);
	}
	if (m.more_rows)
		osmem__put(o, "(%d more segments not drawn)\n", m.more_rows);
	osmem__put(o,
	           "in use %zu, free %zu in %zu blocks, largest free %zu, "
	           "fragmentation %.3f, cached %zu, mapped %zu\n",
	           s->in_use, s->free, s->free_blocks, s->largest_free,
	           s->fragmentation, s->cached, s->mapped);
}

static const char *
cell_colour(size_t u, size_t k, size_t f)
{
	/* Shades from free (light) to fully used (deep blue); cached wins
	 * when it is the most. */
	static const char *const blue[] = {"#eef2f7", "#c9d7ea", "#9cb6dc",
	                                   "#6f95cd", "#4574bd", "#1f4f99"};
	if (k > u && k > f)
		return "#f2a541";
	double used = share(u, u + k + f);
	return blue[(int)(used * 5.0 + 0.5)];
}

static void
svg(struct osmem__out *o, const struct osmem_stats *s)
{
	const int cw = 7, rh = 18, left = 240, top = 60;
	int nrows = m.nrows + (m.more_rows ? 1 : 0);
	int bars_top = top + nrows * (rh + 4) + 30;
	int height = bars_top + (m.nbars ? 70 : 0) + 110;
	int width = left + CELLS * cw + 30;
	osmem__put(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	osmem__put(
	    o,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" font-family=\"monospace\" font-size=\"12\">\n",
	    width, height);
	osmem__put(
	    o, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	osmem__put(
	    o, "<text x=\"10\" y=\"24\" font-size=\"16\" font-weight=\"bold\">"
	       "libosmem heap map</text>\n");
	osmem__put(
	    o,
	    "<text x=\"10\" y=\"44\">%d segment(s) in address order, each "
	    "%d cells; %zu mapped block(s)</text>\n",
	    m.nrows + m.more_rows, CELLS, s->mapped_blocks);
	for (int i = 0; i < m.nrows; i++) {
		const struct row *r = &m.row[i];
		int y = top + i * (rh + 4);
		osmem__put(
		    o,
		    "<g class=\"segment\"><text x=\"10\" y=\"%d\">%#lx %zuK "
		    "%s%u"
		    "</text>\n",
		    y + 13, (unsigned long)r->start,
		    (size_t)(r->end - r->start) / 1024, r->brk ? "brk " : "a",
		    r->arena);
		for (int c = 0; c < CELLS; c++)
			osmem__put(
			    o,
			    "<rect x=\"%d\" y=\"%d\" width=\"%d\" "
			    "height=\"%d\" "
			    "fill=\"%s\"/>\n",
			    left + c * cw, y, cw, rh,
			    cell_colour(r->used[c], r->cached[c], r->free[c]));
		osmem__put(o, "</g>\n");
	}
	if (m.more_rows)
		osmem__put(
		    o,
		    "<text x=\"10\" y=\"%d\">(%d more segments not drawn)"
		    "</text>\n",
		    top + m.nrows * (rh + 4) + 13, m.more_rows);
	if (m.nbars) {
		size_t most = 1;
		for (int i = 0; i < m.nbars; i++)
			if (m.bar[i] > most)
				most = m.bar[i];
		osmem__put(
		    o,
		    "<text x=\"10\" y=\"%d\">mapped blocks (height: size, "
		    "largest %zuK)</text>\n",
		    bars_top - 8, most / 1024);
		for (int i = 0; i < m.nbars; i++) {
			int h =
			    (int)(50.0 * (double)m.bar[i] / (double)most) + 1;
			osmem__put(o,
			           "<rect class=\"mapped\" x=\"%d\" y=\"%d\" "
			           "width=\"%d\" "
			           "height=\"%d\" fill=\"#7a4fb0\"/>\n",
			           left + i * 14, bars_top + 52 - h, 10, h);
		}
		if (m.more_bars)
			osmem__put(o,
			           "<text x=\"%d\" y=\"%d\">+%zu more "
			           "(%zuK)</text>\n",
			           left + m.nbars * 14 + 6, bars_top + 50,
			           m.more_bars, m.more_bar_bytes / 1024);
	}
	int ly = height - 80;
	static const struct {
		const char *colour, *label;
	} legend[] = {{"#1f4f99", "in use"},
	              {"#6f95cd", "half used"},
	              {"#eef2f7", "free"},
	              {"#f2a541", "thread-cached"},
	              {"#7a4fb0", "mapped block"}};
	for (int i = 0; i < 5; i++) {
		osmem__put(
		    o,
		    "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" "
		    "fill=\"%s\" stroke=\"#999\"/>\n",
		    10 + i * 150, ly, legend[i].colour);
		osmem__put(o, "<text x=\"%d\" y=\"%d\">%s</text>\n",
		           30 + i * 150, ly + 12, legend[i].label);
	}
	osmem__put(
	    o,
	    "<text x=\"10\" y=\"%d\">in use %zu B, free %zu B in %zu blocks, "
	    "largest free %zu B, fragmentation %.3f</text>\n",
	    ly + 38, s->in_use, s->free, s->free_blocks, s->largest_free,
	    s->fragmentation);
	osmem__put(
	    o,
	    "<text x=\"10\" y=\"%d\">heap %zu B (%zu B by sbrk), mapped "
	    "%zu B, cached %zu B, given back %zu B</text>\n",
	    ly + 58, s->heap, s->heap_brk, s->mapped, s->cached, s->released);
	osmem__put(o, "</svg>\n");
}

int
osmem_heap_map(int fd, int format)
{
	if (format != OSMEM_MAP_TEXT && format != OSMEM_MAP_SVG)
		return -1;
	struct osmem_stats s;
	osmem_stats(&s);
	osmem__lock(&osmem__map_lock);
	memset(&m, 0, sizeof m);
	int r = osmem_walk(collect, NULL);
	if (r == 0) {
		struct osmem__out o = {.fd = fd};
		if (format == OSMEM_MAP_SVG)
			svg(&o, &s);
		else
			text(&o, &s);
		osmem__flush(&o);
	}
	osmem__unlock(&osmem__map_lock);
	return r == 0 ? 0 : -1;
}

static volatile int map_wanted;

/* Where maps go: heap_map= of OSMEM_OPTIONS, or OSMEM_HEAP_MAP. */
static const char *
map_path(void)
{
	return osmem__g.cfg.heap_map[0] ? osmem__g.cfg.heap_map
	                                : osmem__os_env("OSMEM_HEAP_MAP");
}

static void
want_map(int sig)
{
	(void)sig;
	map_wanted = 1;
}

/* At start-up: whether the map can be written, and the signal that
 * asks for one, if any. */
void
osmem__heap_map_signal(void)
{
	/* A map that could not be written at exit is said now, once. */
	const char *path = map_path();
	char name[512];
	if (path && *path) {
		osmem__path_pid(path, name, sizeof name);
		if (osmem__os_writable(name) != 0)
			osmem__warn("cannot write the heap map to", name);
	}
	const char *s = osmem__os_env("OSMEM_HEAP_MAP_SIGNAL");
	int sig = 0;
	for (; s && *s >= '0' && *s <= '9' && sig < 1000; s++)
		sig = sig * 10 + (*s - '0');
	if (sig > 0 && map_path() && osmem__os_on_signal(sig, want_map) == 0)
		osmem__g.map_signal = 1;
}

static void write_map(const char *path, unsigned number);

/* On a slow path: draw the map a signal asked for, numbered (heap.svg:
 * heap-1.svg, heap-2.svg, ...), so the map at exit does not replace it. */
void
osmem__heap_map_if_wanted(void)
{
	static unsigned maps;
	if (!map_wanted)
		return;
	map_wanted = 0;
	write_map(map_path(), ++maps);
}

/* OSMEM_HEAP_MAP=FILE: the map at exit. */
void
osmem__heap_map_at_exit(void)
{
	write_map(map_path(), 0);
}

static void
write_map(const char *path, unsigned number)
{
	char name[512];
	if (!path || !*path)
		return;
	osmem__path_pid(path, name, sizeof name);
	if (number) {
		/* Insert -N before the extension. */
		char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
		size_t at = dot && (!slash || dot > slash)
		                ? (size_t)(dot - name)
		                : strlen(name);
		char ext[64];
		snprintf(ext, sizeof ext, "%s", name + at);
		snprintf(name + at, sizeof name - at, "-%u%s", number, ext);
	}
	int fd = osmem__os_open_new(name);
	if (fd < 0)
		return;
	size_t n = strlen(name);
	osmem_heap_map(fd, n > 4 && !strcmp(name + n - 4, ".svg")
	                       ? OSMEM_MAP_SVG
	                       : OSMEM_MAP_TEXT);
	osmem__os_close(fd);
}
