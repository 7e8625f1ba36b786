/*
 * pages.c: which pages outside the break heap hold the allocator's blocks
 * (mapped segments and large blocks), so that a pointer handed to free,
 * realloc or usable_size is known to be readable before its header is
 * read.  Pointers in the break heap are tested against the break's window
 * (os.c keeps it); the others come here, off the fast path.
 *
 * A two-level bitmap over the 47-bit user address space: one bit per
 * 4 KiB page, in tables of 1 GiB (32 KiB each, mapped when a page of
 * theirs is first marked, never given back), found through a table of
 * 2^17 pointers in zero-filled static storage (its pages cost memory
 * only once written).  Bits are set before a mapping's blocks are handed
 * out and cleared before it is unmapped; bits of one word are changed
 * atomically, since neighbouring mappings may belong to different arenas.
 * Layer 2.
 */
#include "os.h"
#include "pages.h"

#define TOP_BITS 17u
#define LEAF_SHIFT 30u /* a leaf covers 1 GiB */
#define PAGE_SHIFT 12u
#define LEAF_PAGES ((size_t)1 << (LEAF_SHIFT - PAGE_SHIFT))
#define LEAF_BYTES (LEAF_PAGES / 8)

static uint64_t *top[(size_t)1 << TOP_BITS];

/* The leaf for address v, made if need be; NULL if there is no memory. */
static uint64_t *
leaf(uintptr_t v)
{
	uint64_t **slot = &top[v >> LEAF_SHIFT];
	uint64_t *t = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (t)
		return t;
	uint64_t *fresh = osmem__os_map(LEAF_BYTES);
	if (!fresh)
		return NULL;
	if (__atomic_compare_exchange_n(slot, &t, fresh, 0, __ATOMIC_ACQ_REL,
	                                __ATOMIC_ACQUIRE))
		return fresh;
	(void)osmem__os_unmap(fresh, LEAF_BYTES); /* another thread won */
	return t;
}

int
osmem__pages_mark(const void *p, size_t len, int on)
{
	uintptr_t v = (uintptr_t)p, end = v + len;
	if (end >> (TOP_BITS + LEAF_SHIFT))
		return -1;
	for (v &= ~(uintptr_t)((1u << PAGE_SHIFT) - 1); v < end;
	     v += (uintptr_t)1 << PAGE_SHIFT) {
		uint64_t *t = on ? leaf(v) : top[v >> LEAF_SHIFT];
		if (!t) {
			if (on)
				return -1;
			continue;
		}
		size_t bit = (v >> PAGE_SHIFT) & (LEAF_PAGES - 1);
		uint64_t m = (uint64_t)1 << (bit & 63);
		if (on)
			__atomic_fetch_or(&t[bit >> 6], m, __ATOMIC_RELEASE);
		else
			__atomic_fetch_and(&t[bit >> 6], ~m, __ATOMIC_RELEASE);
	}
	return 0;
}

int
osmem__pages_has(uintptr_t v)
{
	if (v >> (TOP_BITS + LEAF_SHIFT))
		return 0;
	const uint64_t *t =
	    __atomic_load_n(&top[v >> LEAF_SHIFT], __ATOMIC_ACQUIRE);
	if (!t)
		return 0;
	size_t bit = (v >> PAGE_SHIFT) & (LEAF_PAGES - 1);
	return (int)((__atomic_load_n(&t[bit >> 6], __ATOMIC_ACQUIRE) >>
	              (bit & 63)) &
	             1);
}
