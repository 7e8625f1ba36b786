/*
 * aligned.c: allocation at an alignment larger than 16 bytes, and the
 * standard ways of asking for it (aligned_alloc, posix_memalign, memalign,
 * valloc, pvalloc), each with glibc's treatment of odd arguments; the
 * allocation itself is osmem__alloc's (slowpath.c).  Layer 6.
 */
#include "tcache.h"

#include <errno.h>

static inline int
power_of_two(size_t x)
{
	return x && !(x & (x - 1));
}

/* align: a power of two. */
static void *
aligned(size_t align, size_t n)
{
	if (align <= OSMEM_ALIGN)
		return osmem_malloc(n);
	return osmem__alloc_slow(n, align, __builtin_return_address(0));
}

void *
osmem_aligned_alloc(size_t align, size_t n)
{
	if (!power_of_two(align)) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, n);
}

int
osmem_posix_memalign(void **out, size_t align, size_t n)
{
	if (!power_of_two(align) || align % sizeof(void *))
		return EINVAL;
	/* errno is ENOMEM on failure too, as glibc leaves it. */
	void *p = aligned(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *
osmem_memalign(size_t align, size_t n)
{
	/* glibc: anything up to 16 is plain malloc; a non-power of two is
	 * rounded up to one; beyond half the address space is EINVAL. */
	if (align <= OSMEM_ALIGN)
		return osmem_malloc(n);
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (!power_of_two(align))
		align = (size_t)1 << (64 - __builtin_clzll(align));
	return aligned(align, n);
}

void *
osmem_valloc(size_t n)
{
	osmem__ensure_init();
	return aligned(osmem__g.page, n);
}

void *
osmem_pvalloc(size_t n)
{
	osmem__ensure_init();
	size_t page = osmem__g.page;
	if (n > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	return aligned(page, osmem__round_up(n, page));
}
