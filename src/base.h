/*
 * base.h: what every file of the allocator builds on, and nothing else:
 * compiler hints, the switch for the always-on checks, assertions by
 * level, and two arithmetic helpers.  Layer 1 (src/layers says which
 * file may use which).
 */
#ifndef OSMEM_BASE_H
#define OSMEM_BASE_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

#define OSMEM_LIKELY(x) __builtin_expect(!!(x), 1)
#define OSMEM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define OSMEM_NOINLINE __attribute__((noinline))
#define OSMEM_ALWAYS_INLINE inline __attribute__((always_inline))
#define OSMEM_INTERNAL __attribute__((visibility("hidden")))
#define OSMEM_NORETURN __attribute__((noreturn))

/* The always-on checks (header tags, encoded links, their tests).  Only
 * make bench builds without them (-DOSMEM_HARDEN=0), to measure what they
 * cost; every installed library has them. */
#ifndef OSMEM_HARDEN
#define OSMEM_HARDEN 1
#endif

/* Assertions of the allocator's own invariants, compiled in by
 * --enable-debug (OSMEM_DEBUG=1); the always-on checks of what a program
 * hands in are separate and abort through osmem__fatal (diag.h). */
#if OSMEM_DEBUG >= 1
#define osmem__assert(e)                                                      \
	((e) ? (void)0 : osmem__assert_fail(#e, __FILE__, __LINE__))
#else
#define osmem__assert(e) ((void)0)
#endif
/* diag.c */
OSMEM_INTERNAL OSMEM_NORETURN void
osmem__assert_fail(const char *expr, const char *file, int line);

/* n rounded up to a multiple of to, a power of two. */
static inline size_t
osmem__round_up(size_t n, size_t to)
{
	return (n + to - 1) & ~(to - 1);
}

static inline size_t
osmem__min(size_t x, size_t y)
{
	return x < y ? x : y;
}

#endif /* OSMEM_BASE_H */
