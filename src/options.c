/*
 * options.c: tunables.  At start-up, OSMEM_OPTIONS (name=value pairs
 * separated by commas, sizes with an optional K, M or G) is read once,
 * without allocating; an unknown name or a bad value gets a one-line
 * warning naming it, and the default stays.  At run time, osmem_mallopt
 * takes glibc's mallopt parameters (the same numbers, so
 * libosmem-malloc.so passes mallopt through unchanged): the mmap threshold,
 * the trim threshold and the top pad are honoured; glibc's other
 * parameters are accepted and ignored, as osmem_mallopt(3) documents.
 * Every tunable is documented in osmem(7).
 */
#include "os.h"

#include <stdlib.h>
#include <string.h>

enum kind { SIZE, COUNT, PATH };

/* The tunables: name, kind, range, and where the value goes. */
static const struct tunable {
	const char *name;
	enum kind kind;
	size_t min, max;
	size_t offset; /* in struct osmem__config */
} tunables[] = {
	{ "mmap_threshold", SIZE, 0, (size_t)32 << 20,
	  offsetof(struct osmem__config, mmap_threshold) },
	{ "trim_threshold", SIZE, 0, SIZE_MAX,
	  offsetof(struct osmem__config, trim_threshold) },
	{ "top_pad", SIZE, 0, (size_t)1 << 30,
	  offsetof(struct osmem__config, top_pad) },
	{ "tcache", COUNT, 0, OSMEM_TC_CAP_MAX,
	  offsetof(struct osmem__config, tc_cap) },
	{ "arenas", COUNT, 1, OSMEM_MAX_ARENAS,
	  offsetof(struct osmem__config, narenas) },
	{ "limit", SIZE, 0, SIZE_MAX, offsetof(struct osmem__config, limit) },
	{ "release_threshold", SIZE, 0, SIZE_MAX,
	  offsetof(struct osmem__config, release_threshold) },
	{ "stats", COUNT, 0, 1, offsetof(struct osmem__config, stats) },
	{ "junk", COUNT, 0, 1, offsetof(struct osmem__config, junk) },
	{ "canary", COUNT, 0, 1, offsetof(struct osmem__config, canary) },
	{ "quarantine", SIZE, 0, SIZE_MAX,
	  offsetof(struct osmem__config, quarantine) },
	{ "guard", COUNT, 0, 1, offsetof(struct osmem__config, guard) },
	{ "check_every", COUNT, 0, SIZE_MAX,
	  offsetof(struct osmem__config, check_every) },
	{ "leaks", COUNT, 0, 1, offsetof(struct osmem__config, leaks) },
	{ "valgrind", COUNT, 0, 2, offsetof(struct osmem__config, valgrind) },
	{ "heap_map", PATH, 0, 0, offsetof(struct osmem__config, heap_map) },
	{ "trace", PATH, 0, 0, offsetof(struct osmem__config, trace) },
	{ "leak_exitcode", COUNT, 0, 255,
	  offsetof(struct osmem__config, leak_exitcode) },
};

static void
warn(const char *what, const char *item, size_t len)
{
	char buf[200];
	size_t n = 0, w = strlen(what);
	if (len > 60)
		len = 60;
	memcpy(buf, "osmem: OSMEM_OPTIONS: ", 22);
	n = 22;
	memcpy(buf + n, what, w);
	n += w;
	buf[n++] = ' ';
	buf[n++] = '\'';
	memcpy(buf + n, item, len);
	n += len;
	buf[n++] = '\'';
	memcpy(buf + n, ", ignored\n", 10);
	n += 10;
	osmem__os_write(2, buf, n);
}

/* Parse a number with an optional K, M or G; 0 on failure. */
static int
parse_number(const char *s, size_t len, enum kind kind, size_t *out)
{
	size_t v = 0, i = 0;
	if (len == 0)
		return 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (SIZE_MAX - 9) / 10)
			return 0;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	if (i == 0)
		return 0;
	if (i < len) {
		unsigned shift;
		switch (s[i]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return 0;
		}
		if (kind != SIZE || i + 1 != len || v > (SIZE_MAX >> shift))
			return 0;
		v <<= shift;
	}
	*out = v;
	return 1;
}

void
osmem__parse_options(struct osmem__config *cfg, const char *s)
{
	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *eq = memchr(s, '=', len);
		size_t nlen = eq ? (size_t)(eq - s) : len;
		const struct tunable *t = NULL;
		for (size_t i = 0; i < sizeof tunables / sizeof *tunables; i++)
			if (strlen(tunables[i].name) == nlen &&
			    !memcmp(tunables[i].name, s, nlen))
				t = &tunables[i];
		size_t v;
		if (len == 0) {
			/* an empty item: nothing to do */
		} else if (!t) {
			warn("unknown option", s, nlen);
		} else if (t->kind == PATH) {
			/* A file name, up to the next comma, kept in place. */
			char *dst = (char *)cfg + t->offset;
			size_t vlen = eq ? len - nlen - 1 : 0;
			if (!eq || vlen == 0 || vlen >= OSMEM_PATH_MAX)
				warn("bad value in", s, len);
			else {
				memcpy(dst, eq + 1, vlen);
				dst[vlen] = '\0';
			}
		} else if (!eq || !parse_number(eq + 1, len - nlen - 1, t->kind, &v) ||
		           v < t->min || v > t->max) {
			warn("bad value in", s, len);
		} else {
			*(size_t *)((char *)cfg + t->offset) = v;
			if (t->offset ==
			        offsetof(struct osmem__config, mmap_threshold) ||
			    t->offset ==
			        offsetof(struct osmem__config, trim_threshold))
				cfg->fixed_thresholds = 1;
		}
		s = end ? end + 1 : NULL;
	}
}

/* glibc's largest mmap threshold on 64-bit systems: half of 64 MiB. */
#define MAX_MMAP_THRESHOLD ((size_t)32 << 20)

int
osmem_mallopt(int param, int value)
{
	osmem__ensure_init();
	struct osmem__config *cfg = &osmem__g.cfg;
	struct osmem__arena *a = &osmem__g.arena[0];
	int ok = 1;
	osmem__lock(&a->lock);
	switch (param) {
	case OSMEM_M_MMAP_THRESHOLD:
		if (value < 0 || (size_t)value > MAX_MMAP_THRESHOLD)
			ok = 0;
		else
			cfg->mmap_threshold = (size_t)value;
		cfg->fixed_thresholds = ok;
		break;
	case OSMEM_M_TRIM_THRESHOLD:
		/* glibc takes the value as unsigned: -1 turns trimming off. */
		cfg->trim_threshold = (size_t)(unsigned long)(long)value;
		if (value < 0)
			cfg->trim_threshold = SIZE_MAX;
		cfg->fixed_thresholds = 1;
		break;
	case OSMEM_M_TOP_PAD:
		cfg->top_pad = value < 0 ? 0 : (size_t)value;
		cfg->fixed_thresholds = 1;
		break;
	case OSMEM_M_TCACHE_COUNT:
		if (value < 0 || value > (int)OSMEM_TC_CAP_MAX)
			ok = 0;
		else
			cfg->tc_cap = (size_t)value;
		break;
	default:
		break; /* accepted, ignored */
	}
	osmem__unlock(&a->lock);
	if (ok && param == OSMEM_M_TCACHE_COUNT)
		osmem__tc_set_cap(osmem__tc, (unsigned)value);
	return ok;
}
