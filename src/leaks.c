/*
 * leaks.c: the leak report of OSMEM_OPTIONS=leaks=1.  Each block records
 * its caller (debug.c); at exit the blocks still in use are summed by call
 * site, and the sites are printed largest first with the function and
 * library each address falls in (dladdr, at report time only), then the
 * total:
 *
 *   osmem: leak: 5000 bytes in 1 block from make_table+0x1f (/usr/bin/prog)
 *   osmem: leaks: 5300 bytes in 4 blocks from 2 call sites
 *
 * The sums live in a static table, so the report allocates nothing.
 * Layer 7.
 */
#include "tools.h"

#include <stdio.h>
#include <string.h>

#define SITES 4096 /* distinct call sites counted; more are lumped */
#define SHOWN 25

static struct site {
	const void *caller;
	size_t bytes, blocks;
} site[SITES];
static size_t nsites, lost_bytes, lost_blocks;

static struct site *
site_of(const void *caller)
{
	size_t h =
	    (size_t)(((uintptr_t)caller >> 2) * 0x9e3779b97f4a7c15ull >> 52);
	for (size_t i = 0; i < SITES; i++) {
		struct site *s = &site[(h + i) % SITES];
		if (s->caller == caller)
			return s;
		if (!s->caller) {
			s->caller = caller;
			nsites++;
			return s;
		}
	}
	return NULL;
}

static int
count(const struct osmem_block *b, void *arg)
{
	(void)arg;
	if (b->state != OSMEM_BLOCK_USED && b->state != OSMEM_BLOCK_MAPPED)
		return 0;
	const void *caller = osmem__debug_caller(b->ptr, b->size);
	if (!caller)
		return 0; /* not recorded (allocated before the report knew) */
	size_t n = osmem__debug_usable(b->ptr, b->size);
	struct site *s = site_of(caller);
	if (s) {
		s->bytes += n;
		s->blocks++;
	}
	lost_bytes += n;
	lost_blocks++;
	return 0;
}

static void
say(int fd, const struct site *s)
{
	char line[512];
	const char *sym = NULL, *object = NULL;
	const void *base = NULL;
	int n;
	if (osmem__os_symbol(s->caller, &sym, &base, &object) && sym)
		n = snprintf(
		    line, sizeof line,
		    "osmem: leak: %zu bytes in %zu block%s from %s+%#lx "
		    "(%s)\n",
		    s->bytes, s->blocks, s->blocks == 1 ? "" : "s", sym,
		    (unsigned long)((uintptr_t)s->caller - (uintptr_t)base),
		    object ? object : "?");
	else
		n = snprintf(
		    line, sizeof line,
		    "osmem: leak: %zu bytes in %zu block%s from %p (%s)\n",
		    s->bytes, s->blocks, s->blocks == 1 ? "" : "s", s->caller,
		    object ? object : "?");
	if (n > 0)
		osmem__os_write(fd, line,
		                (size_t)n < sizeof line ? (size_t)n
		                                        : sizeof line - 1);
}

size_t
osmem__leak_report(int fd)
{
	memset(site, 0, sizeof site);
	nsites = lost_bytes = lost_blocks = 0;
	osmem_walk(count, NULL);
	if (!lost_blocks)
		return 0;
	/* Largest first: pick the biggest remaining site each time. */
	for (int shown = 0; shown < SHOWN; shown++) {
		struct site *best = NULL;
		for (size_t i = 0; i < SITES; i++)
			if (site[i].blocks &&
			    (!best || site[i].bytes > best->bytes))
				best = &site[i];
		if (!best)
			break;
		say(fd, best);
		best->blocks = 0;
	}
	char line[200];
	int n =
	    snprintf(line, sizeof line,
	             "osmem: leaks: %zu bytes in %zu block%s from %zu call "
	             "site%s\n",
	             lost_bytes, lost_blocks, lost_blocks == 1 ? "" : "s",
	             nsites, nsites == 1 ? "" : "s");
	if (n > 0)
		osmem__os_write(fd, line, (size_t)n);
	return lost_blocks;
}
