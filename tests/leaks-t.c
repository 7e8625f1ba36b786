/*
 * leaks-t: the leak report of leaks=1.  A program that leaks known blocks
 * from known functions (run as a fresh process with the options set) gets
 * a report naming each call site with its bytes and blocks, largest
 * first, and the total; leak_exitcode=7 makes it exit with 7; a program
 * that frees everything gets no report; a mapped block with a guard page
 * (guard=1) is reported with its own size.
 */
#include "util.h"

#include <stdlib.h>

void *leak_small(void);
void *leak_big(void);
void *leak_grown(void);

/* Visible to dladdr, not inlined, and not ending in a tail call (which
 * would make the caller's caller the call site). */
#define SITE __attribute__((noinline, visibility("default")))

SITE void *
leak_small(void)
{
	void *p = osmem_malloc(100);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

SITE void *
leak_grown(void)
{
	void *p = osmem_realloc(osmem_calloc(1, 10), 60);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

SITE void *
leak_big(void)
{
	void *p = osmem_malloc(5000);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

static void *volatile sink;
static const char *self_path;

static int
run(const char *options, const char *what, char *msg, size_t len)
{
	return exit_code(run_self(self_path, what, "OSMEM_OPTIONS", options,
	                          NULL, NULL, msg, len));
}

int
main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc > 1 && !strcmp(argv[1], "leaky")) {
		for (int i = 0; i < 3; i++)
			sink = leak_small();
		sink = leak_big();
		sink = leak_grown();
		osmem_free(osmem_malloc(777)); /* not a leak */
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "mapped")) {
		sink = osmem_malloc(300000);
		memset(sink, 1, 300000);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "tidy")) {
		osmem_free(leak_small());
		return 0;
	}
	static char msg[4096];
	int code = run("leaks=1,leak_exitcode=7", "leaky", msg, sizeof msg);
	ok(code == 7, "leak_exitcode=7: the leaky program exits with 7 (%d)",
	   code);
	const char *big = strstr(msg, "5000 bytes in 1 block from leak_big+");
	const char *small =
	    strstr(msg, "300 bytes in 3 blocks from leak_small+");
	ok(big != NULL, "the big leak is named with its function and size");
	ok(small != NULL,
	   "the three small leaks are summed at their call site");
	ok(big && small && big < small, "the largest site comes first");
	ok(strstr(msg, "60 bytes in 1 block from leak_grown+") != NULL,
	   "a block from calloc then realloc is its caller's");
	ok(strstr(msg,
	          "osmem: leaks: 5360 bytes in 5 blocks from 3 call sites") !=
	       NULL,
	   "and the total: 5360 bytes in 5 blocks from 3 call sites");
	ok(strstr(msg, "777") == NULL, "a freed block is not reported");
	diag("%.*s", (int)strcspn(msg, "\n"), msg);
	code = run("leaks=1,guard=1", "mapped", msg, sizeof msg);
	ok(code == 0 &&
	       strstr(
	           msg,
	           "osmem: leaks: 300000 bytes in 1 block from 1 call site"),
	   "guard=1: a leaked mapped block is reported with its size (%d)",
	   code);
	code = run("leaks=1,leak_exitcode=7", "tidy", msg, sizeof msg);
	ok(code == 0 && msg[0] == '\0',
	   "a program that frees everything: no report, exit 0");
	return done_testing();
}
