/*
 * aligned.c: allocation at an alignment larger than 16 bytes, and the
 * standard ways of asking for it (aligned_alloc, posix_memalign, memalign,
 * valloc, pvalloc), each with glibc's treatment of odd arguments.  A block
 * wastes at most the alignment: in the heap the leading piece is freed
 * back, and a mapping gives back its leading and trailing pages.
 */
#include "os.h"

#include <errno.h>

static inline int
power_of_two(size_t x)
{
	return x && !(x & (x - 1));
}

/* align: a power of two. */
static void *aligned_now(size_t align, size_t n);

void *
osmem__aligned(size_t align, size_t n)
{
	if (align <= OSMEM_ALIGN)
		return osmem_malloc(n);
	osmem__ensure_init();
	osmem__count(CALL_MALLOC);
	if (OSMEM_UNLIKELY(osmem__g.debug)) {
		osmem__debug_tick();
		void *p = aligned_now(align, osmem__debug_request(n));
		if (osmem__g.tracing)
			osmem__trace('a', 3, align, n, (uintptr_t)p);
		return p ? osmem__debug_new(p, n, osmem__usable(p),
		                            __builtin_return_address(0))
		         : NULL;
	}
	return aligned_now(align, n);
}

static void *
aligned_now(size_t align, size_t n)
{
	size_t size = osmem__request2size(n);
	if (OSMEM_UNLIKELY(size == 0 || align > OSMEM_MAX_REQUEST)) {
		errno = ENOMEM;
		return NULL;
	}
	if (n + align >= osmem__g.cfg.mmap_threshold) {
		void *p = osmem__large_alloc(n, align, 0);
		if (p)
			return p;
	}
	struct osmem__arena *a = osmem__my_arena();
	osmem__lock(&a->lock);
	void *p = osmem__heap_alloc_aligned(a, size, align);
	osmem__unlock(&a->lock);
	if (!p)
		errno = ENOMEM;
	return p;
}

void *
osmem_aligned_alloc(size_t align, size_t n)
{
	if (!power_of_two(align)) {
		errno = EINVAL;
		return NULL;
	}
	return osmem__aligned(align, n);
}

int
osmem_posix_memalign(void **out, size_t align, size_t n)
{
	if (!power_of_two(align) || align % sizeof(void *))
		return EINVAL;
	/* errno is ENOMEM on failure too, as glibc leaves it. */
	void *p = osmem__aligned(align, n);
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
	return osmem__aligned(align, n);
}

void *
osmem_valloc(size_t n)
{
	osmem__ensure_init();
	return osmem__aligned(osmem__g.page, n);
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
	return osmem__aligned(page, osmem__round_up(n, page));
}
