/*
 * alloc.c: the public osmem_ entry points.  osmem_malloc and osmem_free
 * are the fast paths: a request of a cached size pops a block from the
 * thread's cache, and a free of a block that passes the header check is
 * pushed onto it, with no lock and no call.
 * Everything else goes to the slow paths (slowpath.c).  The semantics
 * follow glibc's wherever C and POSIX leave a choice (see osmem_malloc(3)).
 * Layer 6.
 */
#include "tcache.h"

#include <errno.h>
#include <string.h>

void *
osmem_malloc(size_t n)
{
	/* The bin: chunk size / 16.  Requests of 0..8 bytes share the
	 * 32-byte chunks' bin with those of 9..24, so the formula stops at 9
	 * (the unsigned subtraction sends 0..8 past the limit) and they take
	 * a branch of their own; with a maximum in the formula every request
	 * paid two more instructions. */
	size_t i;
	if (OSMEM_LIKELY(n - 9 <= OSMEM_TC_MAX_REQUEST - 9))
		i = (n + OSMEM_OVERHEAD + 15) >> 4;
	else if (n <= 8)
		i = OSMEM_MIN_CHUNK / 16;
	else
		i = 0; /* not cached */
	if (OSMEM_LIKELY(i != 0)) {
		struct osmem__tcache *tc = osmem__tc;
		char *p = *tc->top[i];
		osmem__in_return_register(p);
		/* A stop: the bin is empty. */
		if (OSMEM_LIKELY(!osmem__tc_stop(p))) {
			osmem__tc_move_top(tc, i,
			                   1); /* counted in osmem__calls */
			osmem__set_cinuse(osmem__mem2chunk(p));
			return p;
		}
	}
	/* A tail jump: the slow path's return address is our caller's call
	 * site, which the leak report records. */
	return osmem__malloc_slow(n);
}

/* A block of the break heap (its window also keeps NULL and wild pointers
 * out) whose header passes the check goes onto its cache bin, if that
 * has room; anything else, to the slow path, which validates a pointer
 * before it reads its header. */
static inline int
in_break_heap(const void *p)
{
	return OSMEM_HARDEN ? osmem__in(&osmem__win, p) : p != NULL;
}

void
osmem_free(void *p)
{
	if (OSMEM_LIKELY(in_break_heap(p))) {
		osmem__chunk_t *c = osmem__mem2chunk(p);
		uint64_t h = __atomic_load_n(&c->head, __ATOMIC_RELAXED);
		struct osmem__tcache *tc = osmem__tc;
		if (OSMEM_LIKELY(osmem__fast_free_ok(p, h))) {
			size_t i = osmem__fast_bin(c);
			void **t = tc->top[i];
			/* A stop before the top: the bin is full. */
			if (OSMEM_LIKELY(!osmem__tc_stop(t[-1]))) {
				t[-1] = p;
				osmem__tc_move_top(tc, i, -1);
				tc->fast_frees++;
				osmem__clear_cinuse(c);
				return;
			}
			osmem__free_full(p); /* checked: the bin is full */
			return;
		}
	}
	osmem__free_slow(p); /* NULL too */
}

void *
osmem_calloc(size_t count, size_t n)
{
	size_t total;
	if (OSMEM_UNLIKELY(__builtin_mul_overflow(count, n, &total))) {
		errno = ENOMEM;
		return NULL;
	}
	/* With a tool on, the block records calloc's caller. */
	void *p = OSMEM_UNLIKELY(osmem__g.hooked)
	              ? osmem__alloc_slow(total, OSMEM_ALIGN,
	                                  __builtin_return_address(0))
	              : osmem_malloc(total);
	/* A fresh mapping is zero already (unless a tool filled it). */
	if (p && (!(osmem__mem2chunk(p)->head & OSMEM_F_MMAP) ||
	          osmem__g.hooked || !osmem__large_zero(osmem__mem2chunk(p))))
		memset(p, 0, total);
	return p;
}

/* realloc's copy of block c's contents into q, n bytes asked for. */
static void
copy_block(void *q, osmem__chunk_t *c, size_t n)
{
	size_t old = osmem__usable(c);
	memcpy(q, osmem__chunk2mem(c), old < n ? old : n);
}

/* The heap blocks whose pages a move may give back (below): those of the
 * default mmap threshold and up, which glibc would map and move with
 * mremap, leaving no copy resident.  At 64 KiB the python3 trace's lists,
 * grown by an eighth at a time, gave back pages their next blocks wrote
 * again, and its peak RSS rose 2.4% as the release passes backed off. */
#define MOVE_DROP ((size_t)128 << 10)

/*
 * realloc moving heap chunk c to a new block of n bytes.  When the new
 * block took the arena's resident estimate past its peak (new pages: the
 * heap grew or a mapping was made), the old block's pages go back as it
 * is freed, instead of waiting for a release pass: a buffer doubled from
 * 512 KiB to 1 MiB would otherwise hold 1.5 MiB resident once the program
 * writes the new half (the sqlite3 trace's peak, bench/README).  Not once
 * the arena's release passes have backed off: then pages given back come
 * into use again, as make_room's growths judge too (trim.c).
 */
static OSMEM_NOINLINE void *
move_heap_block(osmem__chunk_t *c, size_t n)
{
	struct osmem__arena *a = osmem__arena_of(c);
	osmem__lock(&a->lock);
	size_t peak = a->st.res_peak;
	osmem__unlock(&a->lock);
	void *q = osmem_malloc(n);
	if (!q)
		return NULL;
	copy_block(q, c, n);
	osmem__count(OSMEM_CALL_FREE); /* as osmem_free would */
	osmem__lock(&a->lock);
	size_t dead = a->st.res_peak > peak && a->st.backoff <= 1
	                  ? osmem__release_dead(a, c)
	                  : 0;
	osmem__heap_free(a, c, dead);
	osmem__unlock(&a->lock);
	return q;
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
	osmem__chunk_t *c = osmem__owned(p, "realloc " OSMEM_NO_HEAP,
	                                 "realloc of invalid pointer",
	                                 "realloc of freed pointer");
	osmem__count(OSMEM_CALL_REALLOC);
	if (OSMEM_UNLIKELY(osmem__g.hooked))
		return osmem__g.hooks->on_realloc(p, n,
		                                  __builtin_return_address(0));
	size_t size = osmem__request2size(n);
	if (OSMEM_UNLIKELY(size == 0)) {
		errno = ENOMEM;
		return NULL;
	}
	if (c->head & OSMEM_F_MMAP) {
		if (n >= osmem__g.cfg.mmap_threshold) {
			void *q = osmem__large_resize(c, n);
			if (q)
				return q;
		}
	} else {
		/* A shrink frees its tail as any freed block, to the thread
		 * cache when it is a cached size: put straight back in the
		 * arena, best fit would pack the next request against this
		 * block, which often dies soon after (a string cut to length)
		 * and then leaves a hole nothing fits. */
		struct osmem__arena *a = osmem__arena_of(c);
		size_t have = osmem__csize(c);
		osmem__chunk_t *tail = NULL;
		int done;
		osmem__lock(&a->lock);
		if (size < have && have - size >= OSMEM_MIN_CHUNK &&
		    have - size <= OSMEM_TC_MAX_CHUNK) {
			tail = osmem__heap_cut(a, c, size);
			done = 1;
		} else {
			done = osmem__heap_resize(a, c, size);
		}
		osmem__unlock(&a->lock);
		if (tail)
			osmem__free_now(osmem__chunk2mem(tail));
		if (done)
			return p;
	}
	if (!(c->head & OSMEM_F_MMAP) && osmem__csize(c) >= MOVE_DROP)
		return move_heap_block(c, n);
	void *q = osmem_malloc(n);
	if (!q)
		return NULL;
	copy_block(q, c, n);
	osmem_free(p);
	return q;
}

size_t
osmem_usable_size(const void *p)
{
	if (!p)
		return 0;
	size_t u = osmem__usable(osmem__owned(p, "usable_size " OSMEM_NO_HEAP,
	                                      "usable_size of invalid pointer",
	                                      "usable_size of freed pointer"));
	return OSMEM_UNLIKELY(osmem__g.hooked) ? osmem__g.hooks->usable(p, u)
	                                       : u;
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
	if (p) {
		size_t u = osmem__usable(osmem__owned(
		    p, "free_sized " OSMEM_NO_HEAP,
		    "free_sized of invalid pointer", "double free of"));
		/* The message gives the block's own size, not the one passed.
		 */
		if (OSMEM_UNLIKELY(n > u))
			osmem__fatal(
			    "free_sized with a size larger than the block at",
			    p, u);
	}
	osmem_free(p);
}

void
osmem_free_aligned_sized(void *p, size_t align, size_t n)
{
	if (p && OSMEM_UNLIKELY((uintptr_t)p & (align - 1)))
		osmem__fatal("free_aligned_sized of a misaligned pointer", p,
		             n);
	osmem_free_sized(p, n);
}

#ifdef OSMEM_STANDARD_NAMES
/* libosmem-malloc.so: the hottest standard names are the same functions,
 * not wrappers, so a program's call costs no extra jump (malloc-api.c has
 * the rest). */
#define STANDARD_NAME(name, impl)                                             \
	extern __typeof(impl) name                                            \
	    __attribute__((alias(#impl), nothrow, visibility("default")))
STANDARD_NAME(malloc, osmem_malloc);
STANDARD_NAME(free, osmem_free);
STANDARD_NAME(calloc, osmem_calloc);
STANDARD_NAME(realloc, osmem_realloc);
#endif
