/*
 * leaks-t: the leak check of leaks=1.  A program (run as a fresh process
 * with the options set) leaves blocks in each of memcheck's states:
 *
 *   definitely lost  3 x 100 bytes from leak_small via helper, a list's
 *                    head (48), a calloc'd block grown by realloc (60),
 *                    the first block of a two-block cycle (32);
 *   indirectly lost  the list's two other nodes (96), the cycle's second
 *                    block (32);
 *   still reachable  a block a global points to (5000), one only a
 *                    waiting thread's stack points to (700), one only a
 *                    thread-local variable points to (900).
 *
 * The report must say exactly those sums in memcheck's words, list the
 * lost ones by stack, largest first, with file:line and function three
 * frames deep (the test is built with -g and without -rdynamic), list
 * the reachable ones only with leaks=2, and exit with leak_exitcode.
 */
#include "util.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#define SITE __attribute__((noinline, noipa))
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

struct node {
	struct node *next;
	char pad[40];
};

void *volatile global_keep;
static __thread void *volatile tls_keep;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;

SITE static void *
leak_small(void)
{
	void *p = osmem_malloc(100);
	KEEP(p);
	return p;
}

SITE static void
helper(void)
{
	/* One call site, three calls: no unrolling. */
	for (volatile int i = 0; i < 3; i++)
		KEEP(leak_small());
}

SITE static void
leak_list(void)
{
	struct node *a = osmem_malloc(sizeof *a);
	a->next = osmem_malloc(sizeof *a);
	a->next->next = osmem_malloc(sizeof *a);
	a->next->next->next = NULL;
	KEEP(a);
}

SITE static void
leak_cycle(void)
{
	void **a = osmem_malloc(32), **b = osmem_malloc(32);
	a[0] = b;
	b[0] = a;
	KEEP(a);
}

SITE static void
leak_grown(void)
{
	void *p = osmem_realloc(osmem_calloc(1, 10), 60);
	KEEP(p);
}

/* Holds its block in a local while main exits. */
static void *
waiter(void *arg)
{
	(void)arg;
	void *volatile mine = osmem_malloc(700);
	pthread_mutex_lock(&mu);
	ready = 1;
	pthread_cond_signal(&cv);
	for (;;)
		pthread_cond_wait(&cv, &mu);
	return mine;
}

static void
scrub_stack(void)
{
	volatile char junk[8192];
	memset((char *)junk, 0, sizeof junk);
}

static const char *self_path;

static int
run(const char *options, const char *what, char *msg, size_t len)
{
	return exit_code(run_self(self_path, what, "OSMEM_OPTIONS", options,
	                          NULL, NULL, msg, len));
}

SITE static int
leaky(void)
{
	helper();
	leak_list();
	leak_cycle();
	leak_grown();
	global_keep = osmem_malloc(5000);
	tls_keep = osmem_malloc(900);
	osmem_free(osmem_malloc(777)); /* not a leak */
	pthread_t t;
	pthread_create(&t, NULL, waiter, NULL);
	pthread_mutex_lock(&mu);
	while (!ready)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	/* No stale copies of the lost pointers in this thread's stack. */
	scrub_stack();
	exit(0);
}

/* Whether line s (up to its newline) starts with head and holds part. */
static int
line_has(const char *s, const char *head, const char *part)
{
	if (!s || strncmp(s, head, strlen(head)) != 0)
		return 0;
	const char *at = strstr(s, part), *nl = strchr(s, '\n');
	return at && (!nl || at < nl);
}

/* The line after the one s is in, or NULL. */
static const char *
next_line(const char *s)
{
	s = s ? strchr(s, '\n') : NULL;
	return s ? s + 1 : NULL;
}

int
main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc > 1 && !strcmp(argv[1], "leaky"))
		return leaky();
	if (argc > 1 && !strcmp(argv[1], "mapped")) {
		void *p = osmem_malloc(300000);
		memset(p, 1, 300000);
		KEEP(p);
		scrub_stack();
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "tidy")) {
		osmem_free(leak_small());
		global_keep = osmem_malloc(10); /* reachable: no report */
		return 0;
	}
	const char *san = getenv("OSMEM_SANITIZED");
	if (san && *san == '1') {
		printf("1..0 # SKIP no leak check in a build with "
		       "AddressSanitizer (LeakSanitizer's job)\n");
		return 0;
	}
	static char msg[16384];
	int code = run("leaks=1,leak_exitcode=7", "leaky", msg, sizeof msg);
	ok(code == 7, "leak_exitcode=7: the leaky program exits with 7 (%d)",
	   code);
	ok(strstr(msg, "osmem: definitely lost: 440 bytes in 6 blocks\n") !=
	       NULL,
	   "definitely lost: 440 bytes in 6 blocks");
	ok(strstr(msg, "osmem: indirectly lost: 128 bytes in 3 blocks\n") !=
	       NULL,
	   "indirectly lost: 128 bytes in 3 blocks (a list's tail, a "
	   "cycle's second block)");
	const char *reach = strstr(msg, "osmem: still reachable: ");
	size_t rbytes = 0;
	if (reach)
		sscanf(reach, "osmem: still reachable: %zu", &rbytes);
	ok(rbytes >= 6600,
	   "still reachable: the global's, a thread stack's and a "
	   "thread-local's blocks (%zu bytes >= 6600)",
	   rbytes);
	const char *small =
	    strstr(msg, "osmem: 300 bytes in 3 blocks definitely lost");
	const char *grown =
	    strstr(msg, "osmem: 60 bytes in 1 blocks definitely lost");
	ok(small && grown && small < grown,
	   "lost blocks grouped by stack, largest first");
	ok(strstr(msg, "osmem: 64 bytes in 2 blocks indirectly lost") ||
	       strstr(msg, "osmem: 48 bytes in 1 blocks indirectly lost"),
	   "indirectly lost blocks listed with their stacks");
	ok(!strstr(msg, "5000 bytes") && !strstr(msg, "700 bytes") &&
	       !strstr(msg, "900 bytes") && !strstr(msg, "777"),
	   "reachable and freed blocks are not listed by default");

	void *unw = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	void *dw = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!unw || !dw) {
		for (int i = 0; i < 3; i++)
			skip("libunwind.so.8 and libdw.so.1 name the frames");
	} else {
		const char *f0 = next_line(small);
		const char *f1 = next_line(f0), *f2 = next_line(f1);
		ok(line_has(f0, "osmem:     #0 leaks-t.c:",
		            " in leak_small (leaks-t+0x"),
		   "frame #0 is file:line in the function (%.*s)",
		   f0 ? (int)strcspn(f0, "\n") : 0, f0 ? f0 : "");
		ok(line_has(f1, "osmem:     #1 leaks-t.c:", " in helper ("),
		   "frame #1 is its caller (%.*s)",
		   f1 ? (int)strcspn(f1, "\n") : 0, f1 ? f1 : "");
		ok(line_has(f2, "osmem:     #2 leaks-t.c:", " in leaky ("),
		   "frame #2 its caller's caller (%.*s)",
		   f2 ? (int)strcspn(f2, "\n") : 0, f2 ? f2 : "");
	}
	diag("%.*s", (int)strcspn(msg, "\n"), msg);

	code = run("leaks=2", "leaky", msg, sizeof msg);
	ok(code == 0 &&
	       strstr(msg, "osmem: 5000 bytes in 1 blocks still reachable") &&
	       strstr(msg, "osmem: 900 bytes in 1 blocks still reachable") &&
	       strstr(msg, "osmem: 700 bytes in 1 blocks still reachable"),
	   "leaks=2 lists the reachable blocks too; no leak_exitcode, exit "
	   "0 (%d)",
	   code);
	code = run("leaks=1,guard=1", "mapped", msg, sizeof msg);
	ok(code == 0 &&
	       strstr(msg, "osmem: definitely lost: 300000 bytes in 1 blocks"),
	   "guard=1: a lost mapped block is reported with its size (%d)",
	   code);
	code = run("leaks=1,leak_exitcode=7", "tidy", msg, sizeof msg);
	ok(code == 0 && msg[0] == '\0',
	   "nothing lost (one block reachable): no report, exit 0 (%s)", msg);
	return done_testing();
}
