/*
 * options.c: the tunables, one table row each (name, kind, range,
 * default, field), and OSMEM_OPTIONS: name=value pairs separated by
 * commas, sizes with an optional K, M or G, read once at start-up without
 * allocating.  An unknown name or a bad value gets a one-line warning
 * naming it, and the default stays.  Adding a tunable takes a row here,
 * its line in osmem(7) and in osmem-run's flag list.  osmem_mallopt
 * (control.c) changes some at run time.  Layer 3.
 */
#include "diag.h"
#include "os.h"
#include "types.h"

#include <stdio.h>
#include <string.h>

enum kind { OSMEM_OPT_SIZE, OSMEM_OPT_COUNT, OSMEM_OPT_PATH };
/* A row's value -1 means "never" (stored as SIZE_MAX), where it can. */
#define NEVER 1

/* A row: the option's name, the field it sets (by default of the same
 * name), its kind, range and default. */
#define ROW_AS(name, field, kind, min, max, dflt)                             \
	{                                                                     \
		name, OSMEM_OPT_##kind, min, max, dflt,                       \
		    offsetof(struct osmem__config, field), 0                  \
	}
#define ROW(field, kind, min, max, dflt)                                      \
	ROW_AS(#field, field, kind, min, max, dflt)
#define ROW_NEVER(field, min, dflt)                                           \
	{                                                                     \
#field, OSMEM_OPT_SIZE, min, SIZE_MAX - 1, dflt,              \
		    offsetof(struct osmem__config, field), NEVER              \
	}

static const struct tunable {
	const char *name;
	enum kind kind;
	size_t min, max, dflt;
	size_t offset; /* in struct osmem__config */
	int never;     /* -1 is taken, as SIZE_MAX */
} tunables[] = {
    /* glibc's defaults for its three thresholds */
    ROW(mmap_threshold, SIZE, 0, OSMEM_MMAP_THRESHOLD_MAX, 128 << 10),
    ROW_NEVER(trim_threshold, 0, 128 << 10),
    ROW(top_pad, SIZE, 0, (size_t)1 << 30, 128 << 10),
    /* blocks a cache bin holds at most (tcache.c says why 32) */
    ROW_AS("tcache", tc_cap, COUNT, 0, OSMEM_TC_CAP_MAX, 32),
    /* 0: two per CPU (init.c) */
    ROW_AS("arenas", narenas, COUNT, 1, OSMEM_MAX_ARENAS, 0),
    ROW(limit, SIZE, 0, SIZE_MAX, 0),
    /* resident free bytes before a release pass (trim.c) */
    ROW_NEVER(release_threshold, 0, 1 << 20),
    /* 1: text, 2: JSON (stats.c) */
    ROW(stats, COUNT, 0, 2, 0),
    ROW(junk, COUNT, 0, 1, 0),
    ROW(canary, COUNT, 0, 1, 0),
    ROW(quarantine, SIZE, 0, SIZE_MAX, 0),
    ROW(guard, COUNT, 0, 1, 0),
    ROW(thp, COUNT, 0, 1, 0), /* huge pages (os.c) */
    ROW(check_every, COUNT, 0, SIZE_MAX, 0),
    ROW(leaks, COUNT, 0, 2, 0),
    ROW(frames, COUNT, 1, 64, 16),
    ROW(valgrind, COUNT, 0, 2, 2), /* 2: when under memcheck */
    ROW(heap_map, PATH, 0, 0, 0),
    ROW(trace, PATH, 0, 0, 0),
    ROW(profile, PATH, 0, 0, 0),
    ROW(stats_file, PATH, 0, 0, 0),
    ROW(leak_exitcode, COUNT, 0, 255, 0),
};
#define NTUNABLES (sizeof tunables / sizeof *tunables)

void
osmem__options_default(struct osmem__config *cfg)
{
	for (size_t i = 0; i < NTUNABLES; i++)
		if (tunables[i].kind != OSMEM_OPT_PATH)
			*(size_t *)((char *)cfg + tunables[i].offset) =
			    tunables[i].dflt;
}

static void
warn(const char *what, const char *item, size_t len)
{
	char buf[256];
	snprintf(buf, sizeof buf, "osmem: OSMEM_OPTIONS: %s '%.*s', ignored\n",
	         what, (int)(len > 60 ? 60 : len), item);
	osmem__os_write(2, buf, strlen(buf));
}

/* A bad value for t: what was wrong, and what is allowed. */
static void
refuse(const struct tunable *t, const char *item, size_t len, const char *why)
{
	char buf[320], lo[32], hi[32];
	size_t n = (size_t)snprintf(buf, sizeof buf,
	                            "osmem: OSMEM_OPTIONS: '%.*s': %s; ",
	                            (int)(len > 60 ? 60 : len), item, why);
	if (t->kind == OSMEM_OPT_PATH)
		snprintf(buf + n, sizeof buf - n,
		         "a file name of 1 to %d characters is wanted",
		         OSMEM_PATH_MAX - 1);
	else {
		int size = t->kind == OSMEM_OPT_SIZE;
		osmem__fmt_size(lo, t->min, size);
		osmem__fmt_size(hi, t->max, size);
		snprintf(buf + n, sizeof buf - n, "allowed: %s%s%s%s%s", lo,
		         t->max >= SIZE_MAX - 1 ? " or more" : " to ",
		         t->max >= SIZE_MAX - 1 ? "" : hi,
		         size ? " bytes (suffixes K, M, G, T: powers of 1024)"
		              : "",
		         t->never ? ", or -1 for never" : "");
	}
	size_t m = strlen(buf);
	memcpy(buf + (m < sizeof buf - 12 ? m : sizeof buf - 12),
	       "; ignored\n", 11);
	osmem__os_write(2, buf, strlen(buf));
}

/* Parse a number with an optional K, M, G or T; 0 on failure. */
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
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		case 't':
		case 'T':
			shift = 40;
			break;
		default:
			return 0;
		}
		if (kind != OSMEM_OPT_SIZE || i + 1 != len ||
		    v > (SIZE_MAX >> shift))
			return 0;
		v <<= shift;
	}
	*out = v;
	return 1;
}

void
osmem__options_parse(struct osmem__config *cfg, const char *s)
{
	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *eq = memchr(s, '=', len);
		size_t nlen = eq ? (size_t)(eq - s) : len;
		const struct tunable *t = NULL;
		for (size_t i = 0; i < NTUNABLES; i++)
			if (strlen(tunables[i].name) == nlen &&
			    !memcmp(tunables[i].name, s, nlen))
				t = &tunables[i];
		size_t v;
		if (len == 0) {
			/* an empty item: nothing to do */
		} else if (!t) {
			warn("unknown option", s, nlen);
		} else if (t->kind == OSMEM_OPT_PATH) {
			/* A file name, up to the next comma, kept in place. */
			char *dst = (char *)cfg + t->offset;
			size_t vlen = eq ? len - nlen - 1 : 0;
			if (!eq || vlen == 0 || vlen >= OSMEM_PATH_MAX)
				refuse(t, s, len,
				       !eq || !vlen ? "no file name"
				                    : "too long");
			else {
				memcpy(dst, eq + 1, vlen);
				dst[vlen] = '\0';
			}
		} else if (!eq || len == nlen + 1) {
			refuse(t, s, len, "no value");
		} else if (!(t->never && len - nlen == 3 &&
		             !memcmp(eq, "=-1", 3) && (v = SIZE_MAX)) &&
		           !parse_number(eq + 1, len - nlen - 1, t->kind,
		                         &v)) {
			refuse(t, s, len,
			       t->kind == OSMEM_OPT_SIZE
			           ? "not a size"
			           : "not a whole number");
		} else if (v < t->min || (v > t->max && v != SIZE_MAX)) {
			refuse(t, s, len, "out of range");
		} else {
			*(size_t *)((char *)cfg + t->offset) = v;
			if (t->offset == offsetof(struct osmem__config,
			                          mmap_threshold) ||
			    t->offset ==
			        offsetof(struct osmem__config, trim_threshold))
				cfg->fixed_thresholds = 1;
		}
		s = end ? end + 1 : NULL;
	}
}
