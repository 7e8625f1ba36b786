/*
 * profprog: a program with a known heap, for profile-t (run under
 * osmem-run --profile, with the standard names).  Its peak is
 * 1 MiB kept for good (keep_table) + 10 x 100000 bytes of a phase
 * (load_phase) + 5 x 1000 bytes of a helper called from the phase;
 * beside them 1000 temporary blocks of 64 bytes (scratch), each freed
 * before the next allocation, and the phase's blocks freed after it.
 */
#include <stdlib.h>
#include <string.h>

#define SITE __attribute__((noinline, noipa))

static void *volatile sink;

SITE static void *
keep_table(void)
{
	char *p = malloc(1 << 20);
	memset(p, 1, 1 << 20);
	return p;
}

SITE static void *
small_helper(void)
{
	void *p = calloc(1, 1000);
	__asm__ volatile("" : : "r"(p) : "memory"); /* not a tail call */
	return p;
}

SITE static void
load_phase(void)
{
	void *big[10], *small[5];
	for (int i = 0; i < 10; i++) {
		big[i] = malloc(100000);
		memset(big[i], 2, 100000);
	}
	for (int i = 0; i < 5; i++)
		small[i] = small_helper();
	for (int i = 0; i < 10; i++)
		free(big[i]);
	for (int i = 0; i < 5; i++)
		free(small[i]);
}

SITE static void
scratch(void)
{
	for (int i = 0; i < 1000; i++) {
		char *p = malloc(64);
		p[0] = (char)i;
		sink = p;
		free(p);
	}
}

int
main(void)
{
	sink = keep_table();
	scratch();
	load_phase();
	return 0;
}
