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

#if defined(__GNUC__) && !defined(OSMEM_NO_ATTRIBUTES)
#define OSMEM_API __attribute__((visibility("default")))
#define OSMEM_MALLOC_ATTR(...) __attribute__((malloc, __VA_ARGS__))
#define OSMEM_ALLOC_SIZE(...) __attribute__((alloc_size(__VA_ARGS__)))
#define OSMEM_NOTHROW __attribute__((nothrow))
#else
#define OSMEM_API
#define OSMEM_MALLOC_ATTR(...)
#define OSMEM_ALLOC_SIZE(...)
#define OSMEM_NOTHROW
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

#ifdef __cplusplus
}
#endif

#endif /* OSMEM_H */
