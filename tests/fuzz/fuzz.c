/*
 * fuzz.c: a libFuzzer target for the allocator's core.  The input is read
 * as a sequence of operations (malloc, calloc, realloc, free, aligned
 * allocation, trim, option changes) on 64 slots; a shadow model records
 * each live block's size and fill pattern, every block's contents are
 * checked when it is reallocated or freed, and the heap checker runs after
 * every operation.  Any mismatch aborts, which libFuzzer reports.
 *
 * Build and run: make fuzz (clang with -fsanitize=fuzzer,address,undefined;
 * FUZZ_SECONDS sets the time).  The seed corpus is tests/fuzz/corpus.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h" /* every layer: the heap check */

enum { SLOTS = 64 };
static struct {
	unsigned char *p;
	size_t n;
	unsigned char fill;
} slot[SLOTS];

static void
die(const char *what, size_t i)
{
	fprintf(stderr, "fuzz: %s (slot %zu)\n", what, i);
	abort();
}

/* The bytes of a block the model looks at: all of a small block; the
 * first and last 256 and every 97th of a large one (enough to see an
 * overlap or a lost copy, without making every run slow). */
static size_t
next_byte(size_t k, size_t n)
{
	if (n <= 4096 || k < 256 || k + 256 >= n)
		return k + 1;
	return k + 97 < n - 256 ? k + 97 : n - 256;
}

/* Check the bytes fill() wrote (sampled by the recorded size) below upto. */
static void
check_fill(size_t i, size_t upto)
{
	for (size_t k = 0; k < upto; k = next_byte(k, slot[i].n))
		if (slot[i].p[k] != (unsigned char)(slot[i].fill + k))
			die("block contents changed", i);
}

static void
fill(size_t i)
{
	for (size_t k = 0; k < slot[i].n; k = next_byte(k, slot[i].n))
		slot[i].p[k] = (unsigned char)(slot[i].fill + k);
}

/* A size from two input bytes: mostly small, sometimes large enough to be
 * mapped, sometimes zero or absurd. */
static size_t
size_from(const uint8_t *b)
{
	size_t v = (size_t)b[0] | ((size_t)b[1] << 8);
	switch (b[0] & 7) {
	case 0:
		return v >> 6; /* tiny, often 0 */
	case 1:
		return v << 4; /* up to 1 MiB: mapped ones too */
	case 2:
		return v == 0 ? SIZE_MAX : v; /* an impossible size */
	default:
		return v & 4095;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once) {
		once = 1;
		osmem_malloc(1); /* start up */
	}
	for (; size >= 4; data += 4, size -= 4) {
		size_t i = data[1] % SLOTS;
		size_t n = size_from(data + 2);
		unsigned char *q;
		switch (data[0] % 9) {
		case 0:
		case 1: /* malloc */
			if (slot[i].p)
				break;
			q = osmem_malloc(n);
			if (!q && n < ((size_t)1 << 30))
				die("malloc failed", i);
			if (q) {
				slot[i].p = q;
				slot[i].n = n;
				slot[i].fill = data[3];
				if (osmem_usable_size(q) < n)
					die("usable size too small", i);
				fill(i);
			}
			break;
		case 2: /* calloc */
			if (slot[i].p)
				break;
			q = osmem_calloc(1 + (data[3] & 3), n);
			if (q) {
				size_t total = (1 + (data[3] & 3)) * n;
				for (size_t k = 0; k < total;
				     k = next_byte(k, total))
					if (q[k])
						die("calloc memory not zero",
						    i);
				osmem_free(q);
			}
			break;
		case 3:
		case 4: /* realloc */
			if (!slot[i].p)
				break;
			q = osmem_realloc(slot[i].p, n);
			if (n == 0) {
				slot[i].p = NULL; /* freed */
				break;
			}
			if (!q) {
				check_fill(i,
				           slot[i].n); /* old block intact */
				break;
			}
			slot[i].p = q;
			check_fill(i, slot[i].n < n ? slot[i].n : n);
			slot[i].n = n;
			fill(i);
			break;
		case 5:
		case 6: /* free */
			if (slot[i].p) {
				check_fill(i, slot[i].n);
				osmem_free(slot[i].p);
				slot[i].p = NULL;
			}
			break;
		case 7: { /* aligned */
			if (slot[i].p)
				break;
			size_t align = (size_t)16 << (data[3] % 14);
			q = osmem_aligned_alloc(align, n & 0xffff);
			if (q && ((uintptr_t)q & (align - 1)))
				die("misaligned block", i);
			if (q) {
				slot[i].p = q;
				slot[i].n = n & 0xffff;
				slot[i].fill = data[3];
				fill(i);
			}
			break;
		}
		default: /* trim, or change a tunable */
			if (data[3] & 1)
				osmem_trim(data[2]);
			else
				osmem_mallopt(OSMEM_M_TCACHE_COUNT,
				              data[2] % 20);
			break;
		}
		if (osmem__heap_check() != 0)
			die("heap check failed", i);
	}
	/* Each input starts from an empty set of slots. */
	for (size_t i = 0; i < SLOTS; i++) {
		if (slot[i].p) {
			check_fill(i, slot[i].n);
			osmem_free(slot[i].p);
			slot[i].p = NULL;
		}
	}
	return 0;
}
