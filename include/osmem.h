/*
 * osmem.h: the public interface of libosmem, a best-fit memory allocator.
 * See osmem_malloc(3).
 */
#ifndef OSMEM_H
#define OSMEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define OSMEM_API __attribute__((visibility("default")))
#define OSMEM_NOTHROW __attribute__((nothrow))
#else
#define OSMEM_API
#define OSMEM_NOTHROW
#endif
/* The allocator itself (and its tests) look behind the pointers it hands
 * out, so they build without the allocation attributes. */
#if defined(__GNUC__) && !defined(OSMEM_NO_ALLOC_ATTRIBUTES)
#define OSMEM_MALLOC_ATTR(...) __attribute__((malloc, __VA_ARGS__))
#define OSMEM_ALLOC_SIZE(...) __attribute__((alloc_size(__VA_ARGS__)))
#else
#define OSMEM_MALLOC_ATTR(...)
#define OSMEM_ALLOC_SIZE(...)
#endif

#define OSMEM_VERSION_MAJOR 0
#define OSMEM_VERSION_MINOR 1

/* Allocation and release, with glibc's semantics (osmem_malloc(3)). */
OSMEM_API void *osmem_malloc(size_t size) OSMEM_NOTHROW
    OSMEM_MALLOC_ATTR(alloc_size(1));
OSMEM_API void *osmem_calloc(size_t count, size_t size) OSMEM_NOTHROW
    OSMEM_MALLOC_ATTR(alloc_size(1, 2));
OSMEM_API void *osmem_realloc(void *ptr, size_t size) OSMEM_NOTHROW
    OSMEM_ALLOC_SIZE(2);
OSMEM_API void osmem_free(void *ptr) OSMEM_NOTHROW;
OSMEM_API size_t osmem_usable_size(const void *ptr) OSMEM_NOTHROW;
OSMEM_API void *osmem_reallocarray(void *ptr, size_t count,
                                   size_t size) OSMEM_NOTHROW
    OSMEM_ALLOC_SIZE(2, 3);
/* Free with the size (and alignment) the block was asked for (C23). */
OSMEM_API void osmem_free_sized(void *ptr, size_t size) OSMEM_NOTHROW;
OSMEM_API void osmem_free_aligned_sized(void *ptr, size_t alignment,
                                        size_t size) OSMEM_NOTHROW;

/* Aligned allocation (osmem_aligned_alloc(3)). */
OSMEM_API void *osmem_aligned_alloc(size_t alignment,
                                    size_t size) OSMEM_NOTHROW
    OSMEM_MALLOC_ATTR(alloc_size(2));
OSMEM_API int osmem_posix_memalign(void **out, size_t alignment,
                                   size_t size) OSMEM_NOTHROW;
OSMEM_API void *osmem_memalign(size_t alignment, size_t size) OSMEM_NOTHROW
    OSMEM_MALLOC_ATTR(alloc_size(2));
OSMEM_API void *osmem_valloc(size_t size) OSMEM_NOTHROW
    OSMEM_MALLOC_ATTR(alloc_size(1));
OSMEM_API void *osmem_pvalloc(size_t size) OSMEM_NOTHROW
    OSMEM_MALLOC_ATTR(warn_unused_result);

/* Giving memory back, and tuning (osmem_trim(3), osmem_mallopt(3)).  The
 * parameter numbers are glibc's mallopt ones. */
OSMEM_API int osmem_trim(size_t pad) OSMEM_NOTHROW;
#define OSMEM_M_TRIM_THRESHOLD (-1)
#define OSMEM_M_TOP_PAD (-2)
#define OSMEM_M_MMAP_THRESHOLD (-3)
/* libosmem's own: blocks per thread-cache size class, 0 to 255; 0 turns
 * the thread caches off (for new threads, and for the caller's own). */
#define OSMEM_M_TCACHE_COUNT 1000
OSMEM_API int osmem_mallopt(int param, int value) OSMEM_NOTHROW;

/* Figures (osmem_stats(3)).  Byte counts are of whole blocks, headers
 * included. */
struct osmem_stats {
	size_t in_use;      /* bytes in blocks handed out, mapped included */
	size_t in_use_peak; /* most bytes in heap blocks at once (cached
	                       blocks count as in use here) */
	size_t heap;        /* bytes of heap segments (sbrk and mapped) */
	size_t heap_peak;
	size_t heap_brk; /* of which obtained with sbrk */
	size_t mapped;   /* bytes mapped for large blocks */
	size_t mapped_peak;
	size_t mapped_blocks; /* number of large blocks */
	size_t free;          /* bytes in free heap blocks */
	size_t free_blocks;   /* number of free heap blocks */
	size_t largest_free;  /* largest free heap block */
	size_t released;      /* bytes given back to the system, in all */
	size_t segments;      /* heap segments */
	size_t nmalloc;       /* blocks allocated, by any call (a realloc
	                         that moves allocates one) */
	size_t nfree;         /* blocks freed (likewise) */
	size_t nrealloc;      /* calls to realloc with a block */
	double fragmentation; /* 1 - largest_free / free; 0 if nothing free */
	size_t cached;        /* bytes in blocks held by thread caches */
	size_t heap_resident; /* bytes of heap segments in memory now */
	size_t mapped_kept;   /* bytes of freed mappings kept, in memory, for
	                         the next large request */
	size_t reserved[5];   /* zero; room to grow */
};
OSMEM_API void osmem_stats(struct osmem_stats *out) OSMEM_NOTHROW;
/* The figures as a report on fd (osmem_stats(3)): what stats=1 prints at
 * exit, or a JSON object with totals, heap reserved, resident and in
 * use, per arena and per size range.  0, or -1 (EINVAL: bad format). */
#define OSMEM_STATS_TEXT 0
#define OSMEM_STATS_JSON 1
OSMEM_API int osmem_stats_print(int fd, int format) OSMEM_NOTHROW;

/* Heap inspection (osmem_walk(3)).  osmem_check verifies every invariant
 * of every heap and reports the first broken one on standard error with
 * its address: 0 if all hold, -1 if not.  osmem_walk calls fn on every
 * block, heap blocks in address order per segment, then mapped blocks;
 * fn returns 0 to go on, anything else to stop (osmem_walk returns it).
 * fn must not call the allocator. */
enum {
	OSMEM_BLOCK_USED = 1,   /* handed out to the program */
	OSMEM_BLOCK_FREE = 2,   /* free in a heap */
	OSMEM_BLOCK_CACHED = 3, /* freed, held by a thread cache */
	OSMEM_BLOCK_MAPPED = 4  /* a large block with a mapping of its own */
};
struct osmem_block {
	void *ptr;         /* the address the program sees */
	size_t size;       /* bytes usable at ptr */
	void *chunk;       /* where the block starts, header included */
	size_t chunk_size; /* bytes it takes, header included */
	void *segment;     /* the heap segment (or mapping) holding it */
	int state;         /* OSMEM_BLOCK_* */
	unsigned arena;    /* heap number; 0 is the sbrk heap */
	int from_brk;      /* 1 if the segment was obtained with sbrk */
};
OSMEM_API int osmem_check(void) OSMEM_NOTHROW;

/* The heap as a picture (osmem_heap_map(3)): segments as rows of cells
 * (in use, cached, free), mapped blocks, a legend and the figures, written
 * to fd as SVG or plain text.  0, or -1 on a bad format or heap. */
#define OSMEM_MAP_TEXT 0
#define OSMEM_MAP_SVG 1
OSMEM_API int osmem_heap_map(int fd, int format);
OSMEM_API int osmem_walk(int (*fn)(const struct osmem_block *, void *),
                         void *arg);

#ifdef __cplusplus
}
#endif

#endif /* OSMEM_H */
