/*
 * tcache.h: the thread caches, as the fast paths (alloc.c) see them, and
 * the slow paths behind them (tcache.c, slowpath.c).  Layer 5.
 *
 * A thread's cache holds recently freed blocks by exact chunk size, in
 * front of the arenas.  Bin i holds chunks of 16*i bytes as a stack of
 * pointers in the cache's own memory (slot[]), not as a list linked
 * through the blocks: a write after free into a cached block cannot
 * redirect a later malloc, and neither fast path reads or writes a link
 * in a block.  Each bin's entries lie between two stops (misaligned
 * words, OSMEM_TC_STOP), one shared with each neighbouring bin:
 *
 *   STOP [bin 2's entries] STOP [bin 3's entries] STOP ...
 *
 * top[i] is bin i's latest entry; the bin holds [top[i], its end stop).
 * So *top[i] is a stop when the bin is empty and top[i][-1] when it is
 * full, and each fast path finds its case with one test of the word it
 * reads anyway.  Bins from OSMEM_TC_BINS up, which the fast free may
 * index, stand just after the first stop: always full.  A cached chunk
 * has its C bit clear, like a free one, but the next chunk's P bit set:
 * to the arena it is still in use.  How much each bin holds, and why, is
 * tcache.c's.
 */
#ifndef OSMEM_TCACHE_H
#define OSMEM_TCACHE_H

#include "remote.h"

/* Cached chunk sizes: 32 bytes to 2 KiB (tcache.c says why). */
#define OSMEM_TC_BINS 129u
#define OSMEM_TC_MAX_CHUNK ((OSMEM_TC_BINS - 1) * 16u)
#define OSMEM_TC_MAX_REQUEST (OSMEM_TC_MAX_CHUNK - OSMEM_OVERHEAD)
/* The bins the fast free may index: every chunk size it lets through. */
#define OSMEM_TC_SLOTS (OSMEM_FAST_LIMIT / 16u)
#define OSMEM_TC_STOP ((uintptr_t)8)

enum { OSMEM_CALL_MALLOC, OSMEM_CALL_FREE, OSMEM_CALL_REALLOC, OSMEM_NCALLS };

struct osmem__tcache {
	void **top[OSMEM_TC_SLOTS]; /* each bin's latest entry (see above) */
	/* This thread's calls.  The fast free counts itself in fast_frees;
	 * the fast malloc counts nothing: the blocks it popped are those
	 * that went into the bins (fast_frees + put) less those the slow
	 * paths took out (took) and those there now (osmem__calls). */
	size_t calls[OSMEM_NCALLS];
	size_t fast_frees, put, took;
	uint16_t
	    first[OSMEM_TC_BINS];     /* slot[] index of a bin's first entry */
	uint8_t cap[OSMEM_TC_BINS];   /* blocks a bin holds when full */
	uint8_t batch[OSMEM_TC_BINS]; /* blocks the next miss asks for */
	uint8_t real;                 /* 0 for the stand-ins below */
	struct osmem__arena *arena;
	struct osmem__tcache *next, *prev;
	void *
	    slot[]; /* the bins' entries in a real cache; none in a stand-in */
};

/* The calling thread's cache.  Before its first allocation it points to
 * an empty stand-in that sends both fast paths to the slow ones; after
 * the thread's exit handler ran, to another that keeps them there. */
extern __thread struct osmem__tcache *osmem__tc
    __attribute__((tls_model("initial-exec"))) OSMEM_INTERNAL;
extern struct osmem__tcache osmem__tc_none OSMEM_INTERNAL;
extern struct osmem__tcache osmem__tc_dead OSMEM_INTERNAL;
/* Every live cache (linked by next and prev), under osmem__tc_lock. */
extern struct osmem__tcache *osmem__tcaches OSMEM_INTERNAL;
extern osmem__lock_t osmem__tc_lock OSMEM_INTERNAL;

/* Whether word v of a cache's slots is a stop. */
static inline int
osmem__tc_stop(const void *v)
{
	return ((uintptr_t)v & (OSMEM_ALIGN - 1)) != 0;
}

/* The blocks bin i of tc (a real cache) holds. */
static inline size_t
osmem__tc_held(const struct osmem__tcache *tc, unsigned i)
{
	void *const *end = &tc->slot[tc->first[i] + tc->cap[i]];
	return (size_t)(end - __atomic_load_n(&tc->top[i], __ATOMIC_RELAXED));
}

/* Make slot t, just written, the top of bin i of tc.  A release store:
 * the slot's store comes first for the compiler too, so a child forked
 * meanwhile, which sees a prefix of this thread's stores and flushes the
 * cache it finds, never lists a slot not yet written. */
static inline void
osmem__tc_set_top(struct osmem__tcache *tc, size_t i, void **t)
{
	__atomic_store_n(&tc->top[i], t, __ATOMIC_RELEASE);
}

/* Move the top of bin i of tc by one entry up (by > 0) or down, after
 * every store before it (as osmem__tc_set_top), with one add to memory
 * (gcc 12 computes the new top in a register and stores it). */
static OSMEM_ALWAYS_INLINE void
osmem__tc_move_top(struct osmem__tcache *tc, size_t i, int by)
{
#if defined(__x86_64__)
	if (by > 0)
		__asm__ volatile("addq $8, %0"
		                 : "+m"(tc->top[i])
		                 :
		                 : "memory");
	else
		__asm__ volatile("subq $8, %0"
		                 : "+m"(tc->top[i])
		                 :
		                 : "memory");
#else
	osmem__tc_set_top(tc, i, tc->top[i] + by);
#endif
}

/* Keep v in the return register from where it is computed (gcc 12 puts
 * the block the fast malloc pops elsewhere and copies it at the end). */
#if defined(__x86_64__)
#define osmem__in_return_register(v) __asm__("" : "+a"(v))
#else
#define osmem__in_return_register(v) ((void)0)
#endif

/*
 * Whether the fast free may take the block at user pointer p, head word
 * h: ours (the tag), in use (C), not mapped (M) and under
 * OSMEM_FAST_LIMIT (so its thread-cache bin exists), in one test.
 * secret_c is the secret's tag bits with C set, so v has C's bit clear
 * for a block in use.  The mask leaves out P, its copy in bit 44 and the
 * size bits below the limit; too wide for an immediate, it is tested in
 * memory (osmem__g.fast_mask) rather than loaded with movabs.
 */
static inline int
osmem__fast_free_ok(const void *p, uint64_t h)
{
	if (!OSMEM_HARDEN)
		return (h & (OSMEM_FAST_MASK & ~OSMEM_TAG_MASK)) ==
		       OSMEM_F_CINUSE;
	return (osmem__untag((uint64_t)(uintptr_t)p, h, osmem__g.secret_c) &
	        osmem__g.fast_mask) == 0;
}

/* The thread-cache bin of chunk c, whose head passed osmem__fast_free_ok:
 * bits 4..11 of the head, read again as its two low bytes (one load from
 * a line just read, where a copy of the word and two shifts cost more).
 * Only P, below bit 4, changes under another thread meanwhile. */
static inline size_t
osmem__fast_bin(const osmem__chunk_t *c)
{
	uint16_t low; /* little-endian, as osmem__head_byte */
	__builtin_memcpy(&low, &c->head, 2);
	size_t b = low;
	__asm__("" : "+r"(b)); /* else gcc shifts 16 bits and widens again */
	return b >> 4;
}

/* tcache.c: the caches. */
/* Bytes of a real cache, and laying out its bins (empty) for at most cap
 * blocks each. */
extern const size_t osmem__tc_size OSMEM_INTERNAL;
OSMEM_INTERNAL void osmem__tc_layout(struct osmem__tcache *tc, unsigned cap);
/* A heap chunk of size bytes for tc's thread (tc: a real cache, or NULL
 * for the main arena): from the cache, its arena's remote stack, or the
 * arena; NULL with ENOMEM if the system gives no more. */
OSMEM_INTERNAL void *osmem__tc_alloc(struct osmem__tcache *tc, size_t size);
/* Cache freed heap chunk c (a cached size) in tc: 1, or 0 if tc cannot
 * take it (caching is off). */
OSMEM_INTERNAL int osmem__tc_put(struct osmem__tcache *tc, osmem__chunk_t *c);
/* Give every cached block of tc back. */
OSMEM_INTERNAL void osmem__tc_flush(struct osmem__tcache *tc);
/* Lay out tc's bins again for at most cap blocks each. */
OSMEM_INTERNAL void osmem__tc_set_cap(struct osmem__tcache *tc, unsigned cap);
/* thread.c: each thread's cache. */
/* The calling thread's cache, made on first use; NULL if the thread has
 * none (it is exiting, or there was no memory for one). */
OSMEM_INTERNAL OSMEM_NOINLINE struct osmem__tcache *osmem__my_tcache(void);
/* Count a call that took a slow path: in the thread's cache, or (a
 * thread with none) in thread.c's shared figures. */
OSMEM_INTERNAL void osmem__count_elsewhere(int call);
static inline void
osmem__count(int call)
{
	struct osmem__tcache *tc = osmem__tc;
	if (OSMEM_LIKELY(tc->real))
		tc->calls[call]++;
	else
		osmem__count_elsewhere(call);
}
/* The calls of all threads, and the bytes in all caches. */
OSMEM_INTERNAL void osmem__calls(size_t out[OSMEM_NCALLS]);
OSMEM_INTERNAL size_t osmem__tc_bytes(void);
/* In a child after fork: the other threads' caches go back. */
OSMEM_INTERNAL void osmem__tc_after_fork(void);

/* slowpath.c: what the fast paths hand on. */
OSMEM_INTERNAL OSMEM_NOINLINE void *osmem__malloc_slow(size_t n);
OSMEM_INTERNAL OSMEM_NOINLINE void osmem__free_slow(void *p);
/* A free of a cached size that passed the fast checks; its bin is full. */
OSMEM_INTERNAL OSMEM_NOINLINE void osmem__free_full(void *p);
/* A call for n bytes at align (16 or more, a power of two) on the slow
 * path: counted, and through the tools' hooks if any is on (caller: the
 * program's call site). */
OSMEM_INTERNAL void *osmem__alloc_slow(size_t n, size_t align,
                                       const void *caller);
/* n bytes at align, with no tool's hooks; NULL with ENOMEM. */
OSMEM_INTERNAL void *osmem__alloc(size_t n, size_t align);
/* Free a block that passed the checks, with no tool's hooks. */
OSMEM_INTERNAL void osmem__free_now(void *p);

#endif /* OSMEM_TCACHE_H */
