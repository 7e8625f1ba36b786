/*
 * malloc-api.c: the standard allocation names, for libosmem-malloc.so.  A
 * program that preloads or links that library gets libosmem behind malloc,
 * free and the rest, with glibc's semantics, including glibc's extras
 * (malloc_trim, mallinfo, mallinfo2, malloc_stats, malloc_info,
 * mallopt).  Each name is
 * a thin call of the osmem_ function of the same meaning; malloc, free,
 * calloc and realloc are aliases defined in alloc.c.
 */
#include "api.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#define EXPORT __attribute__((visibility("default")))

/* C23 names that glibc 2.36's headers do not declare yet. */
EXPORT void free_sized(void *p, size_t n);
EXPORT void free_aligned_sized(void *p, size_t align, size_t n);

EXPORT void *
reallocarray(void *p, size_t count, size_t n)
{
	return osmem_reallocarray(p, count, n);
}

EXPORT int
posix_memalign(void **out, size_t align, size_t n)
{
	return osmem_posix_memalign(out, align, n);
}

EXPORT void *
aligned_alloc(size_t align, size_t n)
{
	return osmem_aligned_alloc(align, n);
}

EXPORT void *
memalign(size_t align, size_t n)
{
	return osmem_memalign(align, n);
}

EXPORT void *
valloc(size_t n)
{
	return osmem_valloc(n);
}

EXPORT void *
pvalloc(size_t n)
{
	return osmem_pvalloc(n);
}

EXPORT size_t
malloc_usable_size(void *p)
{
	return osmem_usable_size(p);
}

EXPORT void
free_sized(void *p, size_t n)
{
	osmem_free_sized(p, n);
}

EXPORT void
free_aligned_sized(void *p, size_t align, size_t n)
{
	osmem_free_aligned_sized(p, align, n);
}

/*
 * glibc's own names for its allocator, which some code calls directly
 * (and glibc itself, in a few places): they must reach the same heap as
 * malloc and free, or a block would be handed from one allocator to the
 * other.
 */
EXPORT void *__libc_malloc(size_t n);
EXPORT void __libc_free(void *p);
EXPORT void *__libc_calloc(size_t count, size_t n);
EXPORT void *__libc_realloc(void *p, size_t n);
EXPORT void *__libc_memalign(size_t align, size_t n);
EXPORT void *__libc_valloc(size_t n);
EXPORT void *__libc_pvalloc(size_t n);

void *
__libc_malloc(size_t n)
{
	return osmem_malloc(n);
}

void
__libc_free(void *p)
{
	osmem_free(p);
}

void *
__libc_calloc(size_t count, size_t n)
{
	return osmem_calloc(count, n);
}

void *
__libc_realloc(void *p, size_t n)
{
	return osmem_realloc(p, n);
}

void *
__libc_memalign(size_t align, size_t n)
{
	return osmem_memalign(align, n);
}

void *
__libc_valloc(size_t n)
{
	return osmem_valloc(n);
}

void *
__libc_pvalloc(size_t n)
{
	return osmem_pvalloc(n);
}

EXPORT int
malloc_trim(size_t pad)
{
	return osmem_trim(pad);
}

EXPORT int
mallopt(int param, int value)
{
	return osmem_mallopt(param, value);
}

EXPORT struct mallinfo2
mallinfo2(void)
{
	struct osmem_stats s;
	osmem_stats(&s);
	struct mallinfo2 m = {
	    .arena = s.heap,
	    .ordblks = s.free_blocks,
	    .hblks = s.mapped_blocks,
	    .hblkhd = s.mapped,
	    .uordblks = s.in_use - s.mapped,
	    .fordblks = s.free,
	    .keepcost = 0,
	};
	return m;
}

EXPORT struct mallinfo
mallinfo(void)
{
	/* glibc's old interface: int fields, truncated as glibc does. */
	struct mallinfo2 m2 = mallinfo2();
	struct mallinfo m = {
	    .arena = (int)m2.arena,
	    .ordblks = (int)m2.ordblks,
	    .hblks = (int)m2.hblks,
	    .hblkhd = (int)m2.hblkhd,
	    .uordblks = (int)m2.uordblks,
	    .fordblks = (int)m2.fordblks,
	};
	return m;
}

EXPORT void
malloc_stats(void)
{
	osmem__malloc_stats(2);
}

/*
 * malloc_info: glibc's XML report shape (version 1), from osmem_stats:
 * one <heap> for the allocator as a whole (it keeps its own per-arena
 * figures private), totals of free blocks, system bytes now and at most,
 * and the mapped blocks.  options must be 0, as in glibc.
 */
EXPORT int
malloc_info(int options, FILE *fp)
{
	if (options != 0) {
		errno = EINVAL;
		return -1;
	}
	struct osmem_stats s;
	osmem_stats(&s);
	fprintf(fp, "<malloc version=\"1\">\n");
	fprintf(fp, "<heap nr=\"0\">\n<sizes>\n</sizes>\n");
	fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
	fprintf(fp, "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n",
	        s.free_blocks, s.free);
	fprintf(fp, "<system type=\"current\" size=\"%zu\"/>\n", s.heap);
	fprintf(fp, "<system type=\"max\" size=\"%zu\"/>\n", s.heap_peak);
	fprintf(fp, "<aspace type=\"total\" size=\"%zu\"/>\n", s.heap);
	fprintf(fp, "<aspace type=\"mprotect\" size=\"%zu\"/>\n", s.heap);
	fprintf(fp, "</heap>\n");
	fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
	fprintf(fp, "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n",
	        s.free_blocks, s.free);
	fprintf(fp, "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n",
	        s.mapped_blocks, s.mapped);
	fprintf(fp, "<system type=\"current\" size=\"%zu\"/>\n",
	        s.heap + s.mapped);
	fprintf(fp, "<system type=\"max\" size=\"%zu\"/>\n",
	        s.heap_peak + s.mapped_peak);
	fprintf(fp, "<aspace type=\"total\" size=\"%zu\"/>\n",
	        s.heap + s.mapped);
	fprintf(fp, "<aspace type=\"mprotect\" size=\"%zu\"/>\n",
	        s.heap + s.mapped);
	fprintf(fp, "</malloc>\n");
	return 0;
}
