/*
 * options-t: OSMEM_OPTIONS parsing.  Good values land in the
 * configuration (sizes with K, M and G); unknown names and malformed values
 * get one warning line each naming them, and leave the default in place.
 * The last case runs a child with the variable set, to see it read at
 * start-up.
 */
#include "util.h"

#include <stdlib.h>

static struct osmem__config cfg;
static char captured[1024];

/* Parse s into a fresh copy of the defaults, capturing stderr. */
static void
parse(const char *s)
{
	cfg = osmem__g.cfg;
	int fds[2];
	if (pipe(fds) != 0)
		bail("pipe");
	int saved = dup(2);
	dup2(fds[1], 2);
	osmem__options_parse(&cfg, s);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	ssize_t n = read(fds[0], captured, sizeof captured - 1);
	captured[n > 0 ? n : 0] = '\0';
	close(fds[0]);
}

static int
lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static const char *self;

static int
run_self_with(const char *options)
{
	return exit_code(run_self(self, "child", "OSMEM_OPTIONS", options,
	                          NULL, NULL, NULL, 0));
}

int
main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 1 && !strcmp(argv[1], "child")) {
		osmem_free(osmem_malloc(1)); /* starts the allocator */
		return osmem__g.cfg.mmap_threshold == 65536 &&
		               osmem__g.cfg.trim_threshold == 3 * 1024 * 1024
		           ? 0
		           : 1;
	}
	osmem_free(osmem_malloc(1)); /* defaults in place */
	size_t mmap0 = osmem__g.cfg.mmap_threshold;

	parse("mmap_threshold=64K,trim_threshold=2M,top_pad=4096,tcache=3");
	ok(cfg.mmap_threshold == 65536 && cfg.trim_threshold == 2 << 20 &&
	       cfg.top_pad == 4096 && cfg.tc_cap == 3 && captured[0] == '\0',
	   "four good options, no warning");
	parse("limit=1G,arenas=2,stats=1,release_threshold=512k");
	ok(cfg.limit == (size_t)1 << 30 && cfg.narenas == 2 &&
	       cfg.stats == 1 && cfg.release_threshold == 512 * 1024,
	   "limit, arenas, stats, release_threshold");
	parse("thp=1");
	ok(cfg.thp == 1 && osmem__g.cfg.thp == 0 && captured[0] == '\0',
	   "thp=1 turns huge pages on (off by default)");
	parse("thp=2");
	ok(strstr(captured, "'thp=2': out of range; allowed: 0 to 1; ") &&
	       cfg.thp == 0,
	   "thp takes 0 or 1: %.100s", captured);
	parse("");
	ok(captured[0] == '\0', "an empty string is fine");
	parse(",,mmap_threshold=1M,,");
	ok(cfg.mmap_threshold == 1 << 20 && captured[0] == '\0',
	   "empty items are skipped");

	parse("no_such_thing=1");
	ok(strstr(captured, "unknown option 'no_such_thing'") &&
	       lines(captured) == 1,
	   "an unknown option is named in one line: %.60s", captured);
	const char *allowed = "allowed: 0 to 32M bytes (suffixes K, M, G, T: "
	                      "powers of 1024); ignored\n";
	parse("mmap_threshold=12Q");
	ok(strstr(captured, "'mmap_threshold=12Q': not a size; ") &&
	       strstr(captured, allowed) && cfg.mmap_threshold == mmap0,
	   "a bad suffix: the option, what is wrong, what is allowed, the "
	   "default kept: %.150s",
	   captured);
	parse("mmap_threshold");
	ok(strstr(captured, "'mmap_threshold': no value; ") &&
	       strstr(captured, allowed) && cfg.mmap_threshold == mmap0,
	   "a missing value is named, the default kept");
	parse("mmap_threshold=64M");
	ok(strstr(captured, "'mmap_threshold=64M': out of range; ") &&
	       strstr(captured, allowed) && cfg.mmap_threshold == mmap0,
	   "a value out of range (64M > 32M) is refused, the range given");
	parse("tcache=1K");
	ok(strstr(captured, "'tcache=1K': not a whole number; allowed: 0 to "
	                    "255; ignored") &&
	       cfg.tc_cap == osmem__g.cfg.tc_cap,
	   "a count takes no size suffix");
	parse("stats=99999999999999999999999");
	ok(strstr(captured, "not a whole number") != NULL,
	   "an overflowing number is refused");
	parse("limit=2T,trim_threshold=-1,release_threshold=-1");
	ok(cfg.limit == (size_t)2 << 40 && cfg.trim_threshold == SIZE_MAX &&
	       cfg.release_threshold == SIZE_MAX && captured[0] == '\0',
	   "a T suffix; -1 for never where never makes sense");
	parse("release_threshold=-2");
	ok(strstr(captured,
	          "allowed: 0 or more bytes (suffixes K, M, G, T: "
	          "powers of 1024), or -1 for never; ignored") != NULL,
	   "and the message says so: %.200s", captured);
	parse("heap_map=/tmp/h.%p.svg,trace=/tmp/t");
	ok(!strcmp(cfg.heap_map, "/tmp/h.%p.svg") &&
	       !strcmp(cfg.trace, "/tmp/t") && captured[0] == '\0',
	   "file names: heap_map and trace");
	parse("heap_map=");
	ok(strstr(captured, "'heap_map=': no file name") != NULL,
	   "an empty file name is refused");
	parse("tcache=-1,bogus,mmap_threshold=256K");
	ok(lines(captured) == 2 && cfg.mmap_threshold == 256 * 1024,
	   "two warnings, and the good option after them still applies");

	ok(run_self_with("mmap_threshold=64K,trim_threshold=3M") == 0,
	   "a process started with OSMEM_OPTIONS set reads it");
	ok(run_self_with("mmap_threshold=64K") == 1,
	   "and one without the second option keeps its default");
	return done_testing();
}
