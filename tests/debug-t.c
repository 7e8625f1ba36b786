/*
 * debug-t: the opt-in checks of OSMEM_OPTIONS.  Each case runs as a fresh
 * process with the options set (they are read once, at start-up): a
 * canary catches a one-byte overflow, the quarantine catches a write to a
 * freed block and keeps a second free of it a double free, a guard page stops
 * a write past a mapped block, periodic heap checks catch a corrupted header,
 * and with every check on a busy workload runs clean.
 */
#include "util.h"

#include <stdlib.h>

static void
overflow_by_one(void)
{
	char *p = osmem_malloc(100);
	if (osmem_usable_size(p) != 100)
		_exit(3); /* canary=1 reports what was asked for */
	p[100] = 'x';
	osmem_free(p);
}

static void
write_after_free(void)
{
	char *p = osmem_malloc(200);
	osmem_free(p);
	p[50] = 'x'; /* the bug */
	for (int i = 0; i < 100; i++)
		osmem_free(osmem_malloc(1000)); /* push p out of quarantine */
}

static void
past_a_mapped_block(void)
{
	char *p = osmem_malloc(200000);
	p[200000] = 'x';
}

static void
corrupt_then_allocate(void)
{
	char *a = osmem_malloc(40);
	char *b = osmem_malloc(40);
	osmem_free(b);
	memset(a, 0x41, 48 + 8); /* over b's header */
	osmem_free(osmem_malloc(10));
}

static void
double_free(void)
{
	char *p = osmem_malloc(100);
	for (int i = 0; i < 50; i++) /* quarantined blocks around it */
		osmem_free(osmem_malloc(100 + (size_t)i));
	osmem_free(p);
	for (int i = 0; i < 50; i++)
		osmem_free(osmem_malloc(100 + (size_t)i));
	osmem_free(p); /* still in quarantine */
}

static void
clean_workload(void)
{
	void *p[64] = {0};
	unsigned r = 1;
	for (int i = 0; i < 20000; i++) {
		r = r * 1103515245u + 12345u;
		int k = (int)(r >> 16) % 64;
		size_t n = (r >> 8) % 3 ? (r >> 4) % 700 : (r >> 4) % 300000;
		switch ((r >> 24) % 3) {
		case 0:
			osmem_free(p[k]);
			p[k] = osmem_malloc(n);
			break;
		case 1:
			p[k] = osmem_realloc(p[k], n);
			break;
		default:
			osmem_free(p[k]);
			p[k] = osmem_calloc(1, n);
			for (size_t j = 0; j < n; j++)
				if (((char *)p[k])[j])
					_exit(4);
		}
		if (p[k])
			memset(p[k], 7, n);
	}
	for (int k = 0; k < 64; k++)
		osmem_free(p[k]);
	_exit(osmem_check() == 0 ? 0 : 5);
}

static const struct {
	const char *options, *name;
	void (*fn)(void);
	int sig;
	const char *msg;
} cases[] = {
    {"canary=1", "a one-byte overflow", overflow_by_one, SIGABRT,
     "osmem: overflow past the end of 0x"},
    {"quarantine=64K", "a write after free", write_after_free, SIGABRT,
     "osmem: write after free to 0x"},
    {"guard=1", "a write past a mapped block", past_a_mapped_block, SIGSEGV,
     ""},
    {"check_every=1", "a corrupted header, checked every call",
     corrupt_then_allocate, SIGABRT, "heap check: "},
    {"quarantine=1M", "a double free, the block in quarantine", double_free,
     SIGABRT, "osmem: double free of 0x"},
    {"canary=1,junk=1,quarantine=1M",
     "a double free, the block in quarantine, canary on, its own size",
     double_free, SIGABRT, " (block of 100 bytes)\n"},
    {"junk=1,canary=1,quarantine=256K,guard=1,check_every=97",
     "every check on, a busy workload", clean_workload, 0, ""},
};

int
main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "case")) {
		cases[atoi(getenv("OSMEM_TEST_CASE"))].fn();
		return 0;
	}
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char num[8], msg[512];
		snprintf(num, sizeof num, "%zu", i);
		int status = run_self(argv[0], "case", "OSMEM_OPTIONS",
		                      cases[i].options, "OSMEM_TEST_CASE", num,
		                      msg, sizeof msg);
		size_t n = strlen(msg);
		int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		/* Under AddressSanitizer its own handler catches the fault at
		 * the guard page, reports it and exits. */
		const char *san = getenv("OSMEM_SANITIZED");
		if (cases[i].sig == SIGSEGV && san && *san == '1' &&
		    strstr(msg, "SEGV on unknown address"))
			sig = SIGSEGV;
		ok(sig == cases[i].sig && (cases[i].sig || clean) &&
		       strstr(msg, cases[i].msg) != NULL,
		   "%s: %s ends %s", cases[i].options, cases[i].name,
		   cases[i].sig == SIGABRT   ? "with the message"
		   : cases[i].sig == SIGSEGV ? "with SIGSEGV"
		                             : "cleanly");
		if (n > 0)
			diag("stderr: %.*s", (int)strcspn(msg, "\n"), msg);
		if (sig != cases[i].sig)
			diag("ended by signal %d, exit status %d", sig,
			     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	return done_testing();
}
