/*
 * alloc.c: the public osmem_ entry points.  Each checks its arguments,
 * picks the heap or a mapping of its own, and composes the helpers of
 * heap.c and large.c; the semantics follow glibc's wherever C and POSIX
 * leave a choice (see osmem_malloc(3)).
 */
#include "os.h"

#include <errno.h>
#include <string.h>

/* The chunk behind a pointer the caller hands back, after the always-on
 * checks: aligned, a header we wrote, and in use. */
static inline chunk_t *
owned(const void *p, const char *op)
{
	chunk_t *c = osmem__mem2chunk(p);
	if (OSMEM_UNLIKELY(((uintptr_t)p & (OSMEM_ALIGN - 1)) ||
	                   !osmem__head_ok(c)))
		osmem__fatal(op, p, 0);
	if (OSMEM_UNLIKELY(!(c->head & F_CINUSE)))
		osmem__fatal("double free of", p, osmem__csize(c));
	return c;
}

static inline size_t
usable(const chunk_t *c)
{
	if (c->head & F_MMAP)
		return osmem__large_usable(c);
	return osmem__csize(c) - OSMEM_OVERHEAD;
}

static void *
alloc(size_t n, int zero)
{
	osmem__ensure_init();
	size_t size = osmem__request2size(n);
	if (OSMEM_UNLIKELY(size == 0)) {
		errno = ENOMEM;
		return NULL;
	}
	if (OSMEM_UNLIKELY(n >= osmem__g.cfg.mmap_threshold)) {
		void *p = osmem__large_alloc(n, OSMEM_ALIGN, zero);
		if (p)
			return p;
		/* No mapping: the heap may still have room. */
	}
	struct osmem__arena *a = &osmem__g.main;
	osmem__lock(&a->lock);
	void *p = osmem__heap_alloc(a, size);
	osmem__unlock(&a->lock);
	if (OSMEM_UNLIKELY(!p)) {
		errno = ENOMEM;
		return NULL;
	}
	if (zero)
		memset(p, 0, n);
	return p;
}

void *
osmem_malloc(size_t n)
{
	return alloc(n, 0);
}

void *
osmem_calloc(size_t count, size_t n)
{
	size_t total;
	if (OSMEM_UNLIKELY(__builtin_mul_overflow(count, n, &total))) {
		osmem__ensure_init();
		errno = ENOMEM;
		return NULL;
	}
	return alloc(total, 1);
}

void
osmem_free(void *p)
{
	if (!p)
		return;
	chunk_t *c = owned(p, "free of invalid pointer");
	if (c->head & F_MMAP) {
		int saved = errno;
		osmem__large_free(c);
		errno = saved;
		return;
	}
	struct osmem__arena *a = &osmem__g.main;
	osmem__lock(&a->lock);
	osmem__heap_free(a, c);
	osmem__unlock(&a->lock);
}

void *
osmem_realloc(void *p, size_t n)
{
	if (!p)
		return osmem_malloc(n);
	if (n == 0) {
		osmem_free(p);
		return NULL;
	}
	chunk_t *c = owned(p, "realloc of invalid pointer");
	size_t size = osmem__request2size(n);
	if (OSMEM_UNLIKELY(size == 0)) {
		errno = ENOMEM;
		return NULL;
	}
	if (c->head & F_MMAP) {
		if (n >= osmem__g.cfg.mmap_threshold) {
			void *q = osmem__large_resize(c, n);
			if (q)
				return q;
		}
	} else {
		struct osmem__arena *a = &osmem__g.main;
		osmem__lock(&a->lock);
		int done = osmem__heap_resize(a, c, size);
		osmem__unlock(&a->lock);
		if (done)
			return p;
	}
	void *q = osmem_malloc(n);
	if (!q)
		return NULL;
	size_t old = usable(c);
	memcpy(q, p, old < n ? old : n);
	osmem_free(p);
	return q;
}

size_t
osmem_usable_size(const void *p)
{
	if (!p)
		return 0;
	return usable(owned(p, "usable_size of invalid pointer"));
}

void *
osmem_reallocarray(void *p, size_t count, size_t n)
{
	size_t total;
	if (OSMEM_UNLIKELY(__builtin_mul_overflow(count, n, &total))) {
		errno = ENOMEM;
		return NULL;
	}
	return osmem_realloc(p, total);
}

void
osmem_free_sized(void *p, size_t n)
{
	if (p && OSMEM_UNLIKELY(n > usable(owned(p, "free_sized of invalid pointer"))))
		osmem__fatal("free_sized with a size larger than the block at", p,
		             n);
	osmem_free(p);
}

void
osmem_free_aligned_sized(void *p, size_t align, size_t n)
{
	if (p && OSMEM_UNLIKELY((uintptr_t)p & (align - 1)))
		osmem__fatal("free_aligned_sized of a misaligned pointer", p, n);
	osmem_free_sized(p, n);
}
