/*
 * profsvg.c: the heap profile's two pictures, as standalone SVG files a
 * browser opens.  The flame graph lays the stacks at the peak out as
 * boxes, the outermost frame at the bottom, each box as wide as the bytes
 * of the stacks through it (siblings in name order, so equal prefixes
 * merge); hovering a box shows its frame, bytes and share.  Memory over
 * time stacks the top stacks' live bytes under the heap's total, "other"
 * on top, with axes in seconds and bytes and the peak marked.  Layer 7.
 */
#include "tools.h"

#include <stdio.h>
#include <string.h>

#define FLAME_W 1200
#define ROW_H 17

/* Text safe inside SVG: the markup characters replaced. */
static void
put_text(struct osmem__out *o, const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++) {
		switch (s[i]) {
		case '<':
			osmem__put(o, "&lt;");
			break;
		case '>':
			osmem__put(o, "&gt;");
			break;
		case '&':
			osmem__put(o, "&amp;");
			break;
		case '"':
			osmem__put(o, "&quot;");
			break;
		default:
			osmem__put(o, "%c", s[i]);
		}
	}
	if (strlen(s) > max)
		osmem__put(o, "..");
}

/* Bytes with a binary unit: "12.3 MiB". */
static void
human(char *out, size_t len, double v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	for (; v >= 1024 && u < 4; u++)
		v /= 1024;
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* A warm colour from a name, the same for the same name. */
static void
colour(const char *name, char *out, size_t len)
{
	uint32_t h = 2166136261u;
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	snprintf(out, len, "rgb(%u,%u,%u)", 205 + h % 50, 80 + (h >> 8) % 130,
	         40 + (h >> 16) % 50);
}

/* Frame depth of the stack in a folded line: its separators, plus 1. */
static size_t
depth_of(const char *f)
{
	size_t d = 1;
	for (; *f; f++)
		d += *f == ';';
	return d;
}

/* The length of frame number d of folded line f, and where it starts. */
static const char *
frame_at(const char *f, size_t d, size_t *len)
{
	for (; d && f; d--) {
		f = strchr(f, ';');
		f = f ? f + 1 : NULL;
	}
	if (!f)
		return NULL;
	const char *end = strchr(f, ';');
	*len = end ? (size_t)(end - f) : strlen(f);
	return f;
}

static void
flame_box(struct osmem__out *o, const char *name, size_t nlen, double x,
          double w, size_t depth, size_t height, size_t bytes, size_t total)
{
	if (w < 0.3)
		return;
	char nm[512], fill[32], b[32];
	snprintf(nm, sizeof nm, "%.*s", (int)nlen, name);
	colour(nm, fill, sizeof fill);
	human(b, sizeof b, (double)bytes);
	double y = (double)height - 30 - (double)(depth + 1) * ROW_H;
	osmem__put(o, "<g><title>");
	put_text(o, nm, 400);
	osmem__put(o, " (%s, %.2f%%)</title>", b,
	           total ? 100.0 * (double)bytes / (double)total : 0.0);
	osmem__put(o,
	           "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" "
	           "fill=\"%s\" rx=\"2\"/>",
	           10 + x, y, w, ROW_H - 1, fill);
	size_t fit = (size_t)(w / 7);
	if (fit >= 3) {
		osmem__put(o, "<text x=\"%.1f\" y=\"%.1f\">", 13 + x, y + 12);
		put_text(o, nm, fit - 2);
		osmem__put(o, "</text>");
	}
	osmem__put(o, "</g>\n");
}

void
osmem__svg_flame(int fd, const struct osmem__flame_line *l, size_t n,
                 const char *title)
{
	struct osmem__out o = {.fd = fd};
	size_t total = 0, depth = 1;
	for (size_t i = 0; i < n; i++) {
		total += l[i].bytes;
		size_t d = depth_of(l[i].frames);
		depth = d > depth ? d : depth;
	}
	size_t height = (depth + 1) * ROW_H + 70;
	double scale = total ? (double)FLAME_W / (double)total : 0;
	char tb[32];
	human(tb, sizeof tb, (double)total);
	osmem__put(
	    &o,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%zu\" viewBox=\"0 0 %d %zu\" "
	    "font-family=\"monospace\" font-size=\"11\">\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"#fdfdf6\"/>\n"
	    "<text x=\"%d\" y=\"24\" font-size=\"16\" "
	    "text-anchor=\"middle\">",
	    FLAME_W + 20, height, FLAME_W + 20, height, FLAME_W / 2 + 10);
	put_text(&o, title, 80);
	osmem__put(&o,
	           ": heap at the peak, %s, by allocation stack "
	           "(libosmem)</text>\n",
	           tb);
	/* Frames open along the current path: where each started. */
	size_t open_at[64], nopen = 0, x = 0;
	const char *prev = NULL;
	for (size_t i = 0; i <= n; i++) {
		const char *f = i < n ? l[i].frames : NULL;
		size_t d = f ? depth_of(f) : 0, common = 0;
		/* Frames the next line shares with the open path. */
		while (f && prev && common < nopen && common < d) {
			size_t a, b;
			const char *pa = frame_at(prev, common, &a);
			const char *pb = frame_at(f, common, &b);
			if (a != b || memcmp(pa, pb, a) != 0)
				break;
			common++;
		}
		while (nopen > common) {
			nopen--;
			size_t len;
			const char *nm = frame_at(prev, nopen, &len);
			flame_box(&o, nm, len, (double)open_at[nopen] * scale,
			          (double)(x - open_at[nopen]) * scale, nopen,
			          height, x - open_at[nopen], total);
		}
		if (!f)
			break;
		for (; nopen < d && nopen < 64; nopen++)
			open_at[nopen] = x;
		x += l[i].bytes;
		prev = f;
	}
	osmem__put(&o,
	           "<text x=\"10\" y=\"%zu\" fill=\"#555\">width: bytes live "
	           "at the heap's peak; bottom: outermost frame</text>\n"
	           "</svg>\n",
	           height - 8);
	osmem__flush(&o);
}

/* A round step for about n ticks over span. */
static double
tick_step(double span, int n, double base)
{
	double step = 1;
	while (step * base * n < span)
		step *= base;
	while (step * n > span * 2 && step > 1e-9)
		step /= base;
	if (base == 10 && step * 2 * n < span)
		step *= 2;
	return step;
}

void
osmem__svg_timeline(int fd, const uint64_t *t, const size_t *total,
                    size_t nrow, const struct osmem__series *s, size_t ns,
                    uint64_t peak_t, size_t peak, const char *title)
{
	enum { W = 1100, H = 560, L = 90, R = 330, T = 50, B = 50 };
	const double pw = W - L - R, ph = H - T - B;
	static const char *const fills[] = {"#4e79a7", "#f28e2b", "#e15759",
	                                    "#76b7b2", "#59a14f", "#edc948",
	                                    "#b07aa1", "#ff9da7", "#bab0ac"};
	struct osmem__out o = {.fd = fd};
	double tmax = nrow ? (double)t[nrow - 1] / 1e9 : 1;
	if (tmax <= 0)
		tmax = 1e-3;
	double ymax = peak ? (double)peak * 1.05 : 1;
	osmem__put(&o,
	           "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	           "height=\"%d\" viewBox=\"0 0 %d %d\" "
	           "font-family=\"sans-serif\" font-size=\"12\">\n"
	           "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
	           "<text x=\"%d\" y=\"28\" font-size=\"16\">",
	           W, H, W, H, L);
	put_text(&o, title, 80);
	osmem__put(&o, ": heap in use over time (libosmem)</text>\n");
	/* The areas, from the bottom: series 0..ns-1, then "other". */
	for (size_t k = 0; k <= ns; k++) {
		osmem__put(&o,
		           "<polygon fill=\"%s\" fill-opacity=\"0.85\" "
		           "points=\"",
		           fills[k < ns ? k : 8]);
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < nrow; i++) {
				size_t r = pass ? nrow - 1 - i : i;
				size_t below = 0;
				for (size_t j = 0; j < k && j < ns; j++)
					below += s[j].v[r];
				size_t top = k < ns ? below + s[k].v[r]
				             : total[r] > below ? total[r]
				                                : below;
				double y = (double)(pass ? below : top);
				osmem__put(&o, "%.1f,%.1f ",
				           L + pw * ((double)t[r] / 1e9) /
				                   tmax,
				           T + ph - ph * y / ymax);
			}
		osmem__put(&o, "\"/>\n");
	}
	/* Axes, ticks and grid. */
	osmem__put(&o,
	           "<g stroke=\"#333\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
	           "y2=\"%d\"/><line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
	           "y2=\"%d\"/></g>\n",
	           L, T, L, H - B, L, H - B, W - R, H - B);
	double ys = tick_step(ymax, 5, 2);
	for (double y = 0; y <= ymax; y += ys) {
		char b[32];
		human(b, sizeof b, y);
		double py = T + ph - ph * y / ymax;
		osmem__put(&o,
		           "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
		           "stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
		           "text-anchor=\"end\">%s</text>\n",
		           L, py, W - R, py, L - 6, py + 4, b);
	}
	double xs = tick_step(tmax, 6, 10);
	for (double x = 0; x <= tmax * 1.0001; x += xs) {
		double px = L + pw * x / tmax;
		osmem__put(&o,
		           "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
		           "stroke=\"#333\"/><text x=\"%.1f\" y=\"%d\" "
		           "text-anchor=\"middle\">%g</text>\n",
		           px, H - B, px, H - B + 5, px, H - B + 20, x);
	}
	osmem__put(&o,
	           "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">time "
	           "(s)</text>\n<text x=\"20\" y=\"%.1f\" "
	           "transform=\"rotate(-90 20 %.1f)\" "
	           "text-anchor=\"middle\">bytes in use</text>\n",
	           L + pw / 2, H - 10, T + ph / 2, T + ph / 2);
	/* The peak. */
	char pb[32];
	human(pb, sizeof pb, (double)peak);
	double px = L + pw * ((double)peak_t / 1e9) / tmax;
	double py = T + ph - ph * (double)peak / ymax;
	osmem__put(&o,
	           "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
	           "stroke=\"#c00\" stroke-dasharray=\"4 3\"/>"
	           "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#c00\"/>"
	           "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c00\" "
	           "text-anchor=\"%s\">peak %s at %.3f s</text>\n",
	           px, T, px, H - B, px, py, px + (px > L + pw / 2 ? -8 : 8),
	           py - 8 < T + 12 ? T + 12 : py - 8,
	           px > L + pw / 2 ? "end" : "start", pb,
	           (double)peak_t / 1e9);
	/* The legend. */
	for (size_t k = 0; k <= ns; k++) {
		int y = T + 10 + (int)k * 22;
		osmem__put(
		    &o,
		    "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" "
		    "fill=\"%s\"/><text x=\"%d\" y=\"%d\">",
		    W - R + 16, y, fills[k < ns ? k : 8], W - R + 36, y + 11);
		put_text(&o, k < ns ? s[k].name : "other stacks", 44);
		osmem__put(&o, "</text>\n");
	}
	osmem__put(&o, "</svg>\n");
	osmem__flush(&o);
}
