/*
 * tcache.c: the thread caches' slow paths.  The fast paths (alloc.c) pop
 * and push blocks of one exact chunk size without a lock; everything else
 * comes here: making a thread's cache and choosing its arena, serving a
 * request the cache cannot, taking a free the cache has no room for,
 * handing cached blocks back to their arenas (when a bin is full, before
 * an arena grows, on trim, when the thread exits), and the checks a free
 * must pass before anything is written.
 */
#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

__thread struct osmem__tcache *osmem__tc
    __attribute__((tls_model("initial-exec"))) = &osmem__tc_none;
/* The stand-ins' bins all stand between these two stops: always empty,
 * always full. */
static void *const stops[2] = { (void *)OSMEM_TC_STOP, (void *)OSMEM_TC_STOP };
#define NO_BLOCKS                                                             \
	{ .top = { [0 ... OSMEM_TC_SLOTS - 1] = (void **)&stops[1] } }
struct osmem__tcache osmem__tc_none = NO_BLOCKS, osmem__tc_dead = NO_BLOCKS;

static pthread_key_t tc_key;
static int tc_key_ok;

/* Calls of threads with no cache (yet, or any more), and of those gone. */
static size_t calls_elsewhere[NCALLS];

/* Whether bin i of tc holds a block. */
static inline int
has(const struct osmem__tcache *tc, unsigned i)
{
	return !osmem__tc_stop(*tc->top[i]);
}

/* Whether bin i of tc has room for a block. */
static inline int
room(const struct osmem__tcache *tc, unsigned i)
{
	return !osmem__tc_stop(tc->top[i][-1]);
}

/* The latest block of bin i, which has one. */
static inline void *
pop(struct osmem__tcache *tc, unsigned i)
{
	tc->took++;
	return *tc->top[i]++;
}

/* A cached block of chunk size size (its bin is not empty), in use. */
static chunk_t *
take_cached(struct osmem__tcache *tc, size_t size)
{
	chunk_t *c = osmem__mem2chunk(pop(tc, (unsigned)(size >> 4)));
	osmem__set_cinuse(c);
	return c;
}

/*
 * Blocks freed by a thread of another arena wait on their arena's remote
 * stack (a lock-free stack, links encoded as in the bins but ending in
 * 0, the empty head its exchange leaves; still cached to the heap: C
 * clear, the next chunk's P set) until a thread of that
 * arena misses its cache: it takes the whole stack into its cache bins, so
 * a block made by one thread and freed by another (a producer and a
 * consumer) is used again without either going through the arena's index
 * and lock; what does not fit the bins goes back to the arena.  The stack
 * is also emptied before the arena grows and by osmem_trim.
 */
static void
remote_push(struct osmem__arena *a, char *p)
{
	__atomic_add_fetch(&a->remote_bytes, osmem__csize(osmem__mem2chunk(p)),
	                   __ATOMIC_RELAXED);
	uintptr_t old = __atomic_load_n(&a->remote, __ATOMIC_RELAXED);
	do
		*(uintptr_t *)p = osmem__link_enc((void *)old);
	while (!__atomic_compare_exchange_n(&a->remote, &old, (uintptr_t)p, 1,
	                                    __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

void
osmem__remote_drain(struct osmem__arena *a, struct osmem__tcache *tc)
{
	if (!__atomic_load_n(&a->remote, __ATOMIC_RELAXED))
		return;
	char *p = (char *)__atomic_exchange_n(&a->remote, 0, __ATOMIC_ACQUIRE);
	int locked = 0;
	while (p) {
		uintptr_t next = osmem__link_dec(*(uintptr_t *)p);
		/* written over while it waited? its size is used below */
		chunk_t *c = osmem__checked(osmem__mem2chunk(p));
		if (OSMEM_UNLIKELY(osmem__link_bad(next)))
			osmem__fatal("corrupted remote-free link",
			             (const void *)next, osmem__csize(c));
		unsigned i = (unsigned)(osmem__csize(c) >> 4);
		__atomic_sub_fetch(&a->remote_bytes, osmem__csize(c),
		                   __ATOMIC_RELAXED);
		if (tc && tc->real && i < OSMEM_TC_BINS && room(tc, i)) {
			osmem__tc_push(tc, i, p);
		} else {
			osmem__set_cinuse(c);
			if (!locked)
				osmem__lock(&a->lock);
			locked = 1;
			osmem__heap_free(a, c);
		}
		p = (char *)next;
	}
	if (locked)
		osmem__unlock(&a->lock);
}

/* Move the top of bin i to t after every store before it, and before
 * every store after it (see flush_bin). */
static inline void
publish_top(struct osmem__tcache *tc, unsigned i, void **t)
{
	osmem__tc_set_top(tc, i, t);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Give back the oldest cached blocks of bin i, all but the keep latest
 * (which are likelier to be in the processor's cache; against giving back
 * the latest, paired medians of 7 rounds: time 0.985 on the geometric
 * mean of the workloads, peak RSS -6% to +4%): to the calling
 * thread's arena, or to another arena's remote stack.  Blocks that come
 * off the bin as a run of neighbours (allocated one after another and
 * freed in order or in reverse, as a program's structure is torn down)
 * go back as one chunk: merged once, not one by one. */
static void
flush_bin(struct osmem__tcache *tc, unsigned i, unsigned keep)
{
	size_t held = osmem__tc_held(tc, i);
	if (held <= keep)
		return;
	/*
	 * Off the bin before any goes back, and never listed twice on the
	 * way: a child forked meanwhile flushes this cache as it finds it
	 * (osmem__tc_after_fork), and sees a prefix of this thread's stores
	 * (a store to a page fork has already copied waits for the fork to
	 * end).  So the latest keep are unlisted first, then written over the
	 * oldest, then listed again: at every step each block is listed at
	 * most once, and none that has gone back.  Moving them in place with
	 * one memmove before the top moved listed some twice for a moment: a
	 * fork loop against two threads filling and flushing a bin
	 * (tests/stress-t, fork-t) found a child whose heap had a block freed
	 * twice into it, about once in a few hundred forks.
	 */
	size_t out = held - keep;
	void **top = tc->top[i], *gone[OSMEM_TC_CAP_MAX], *kept[OSMEM_TC_CAP_MAX];
	memcpy(gone, top + keep, out * sizeof *top);
	memcpy(kept, top, keep * sizeof *top);
	publish_top(tc, i, top + keep);
	memcpy(top + out, kept, keep * sizeof *top);
	publish_top(tc, i, top + out);
	tc->took += out;
	struct osmem__arena *a = tc->arena;
	size_t size = (size_t)i * 16, len = 0;
	char *lo = NULL; /* the run so far: [lo, lo + len) */
	int locked = 0;
	for (size_t e = 0;; e++) {
		char *p = NULL;
		if (e < out) {
			p = gone[e];
			/* Right after the run: in its segment, so its arena, and
			 * its header is about to be inside the run's chunk. */
			if (lo && p == lo + len) {
				len += size;
				continue;
			}
			/* Otherwise its header was checked when it was freed but
			 * may have been written over since (an overflow from the
			 * block before): its flags, and for a run's first block
			 * its size, are used, so it is checked again. */
			chunk_t *c = osmem__checked(osmem__mem2chunk(p));
			if (lo && p + size == lo) {
				lo = p;
				len += size;
				continue;
			}
			struct osmem__arena *own = osmem__arena_of(c);
			if (own != a) {
				remote_push(own, p);
				continue;
			}
		}
		if (lo) {
			chunk_t *c = osmem__mem2chunk(lo);
			if (!locked)
				osmem__lock(&a->lock);
			locked = 1;
			if (len == size)
				osmem__set_cinuse(c);
			else
				osmem__set_head(c, len, F_CINUSE |
				                            (c->head & F_PINUSE) |
				                            a->aflag);
			osmem__heap_free(a, c);
		}
		if (!p)
			break;
		lo = p;
		len = size;
	}
	if (locked)
		osmem__unlock(&a->lock);
}

/* Give back the blocks of every bin of tc beyond half its cap, or all
 * of them. */
static void
flush_bins(struct osmem__tcache *tc, int half)
{
	if (!tc->real)
		return;
	for (unsigned i = 2; i < OSMEM_TC_BINS; i++)
		flush_bin(tc, i, half ? tc->cap[i] / 2u : 0);
}

void
osmem__tc_flush(struct osmem__tcache *tc)
{
	flush_bins(tc, 0);
}

/* Lay out the bins of cache tc, which is empty, for at most max blocks
 * each (see internal.h). */
static void
size_bins(struct osmem__tcache *tc, unsigned max)
{
	unsigned at = 0;
	tc->slot[at++] = (void *)OSMEM_TC_STOP;
	for (unsigned i = 0; i < OSMEM_TC_SLOTS; i++)
		tc->top[i] = &tc->slot[1]; /* always full */
	for (unsigned i = 2; i < OSMEM_TC_BINS; i++) {
		unsigned cap = OSMEM_TC_BIN_BYTES / (i * 16);
		if (cap < 1)
			cap = 1;
		if (cap > max)
			cap = max;
		tc->first[i] = (uint16_t)at;
		tc->cap[i] = (uint8_t)cap;
		tc->batch[i] = 1;
		while (cap-- > 0)
			tc->slot[at++] = NULL; /* not a stop */
		tc->slot[at] = (void *)OSMEM_TC_STOP;
		tc->top[i] = &tc->slot[at++]; /* empty */
	}
	osmem__assert(at <= OSMEM_TC_WORDS);
}

void
osmem__tc_set_cap(struct osmem__tcache *tc, unsigned max)
{
	if (!tc->real)
		return;
	osmem__tc_flush(tc);
	/* A child forked while the bins are laid out again would flush them
	 * half done (a fork loop against a thread calling mallopt: 70 of
	 * 2000 children failed their heap check): it skips a cache that is
	 * not real, and this one is empty.  Stores in this order, as the
	 * child sees them (see flush_bin). */
	__atomic_store_n(&tc->real, 0, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	size_bins(tc, max);
	__atomic_store_n(&tc->real, 1, __ATOMIC_RELEASE);
}

/*
 * Thread caches live outside the heaps, in pages of their own, so that
 * they never show in a heap's figures or walk; a cache given back at
 * thread exit waits on a free list for the next thread.
 */
static struct osmem__tcache *tc_free;

static struct osmem__tcache *
tc_new(void)
{
	struct osmem__tcache *tc;
	size_t one = (sizeof *tc + OSMEM_TC_WORDS * sizeof(void *) + 63) & ~63ul;
	osmem__lock(&osmem__g.tc_lock);
	if (!tc_free) {
		size_t len = 16 * osmem__g.page;
		char *m = osmem__os_map(len);
		for (size_t off = 0; m && off + one <= len; off += one) {
			tc = (struct osmem__tcache *)(m + off);
			tc->next = tc_free;
			tc_free = tc;
		}
	}
	tc = tc_free;
	if (tc)
		tc_free = tc->next;
	osmem__unlock(&osmem__g.tc_lock);
	return tc;
}

/* Add the calls of cache tc to out[] (read without its owner's consent
 * when another thread's: a figure, not an invariant, kept from going
 * below the slow paths' count). */
static void
tc_calls(const struct osmem__tcache *tc, size_t out[NCALLS])
{
	size_t c[NCALLS], f = __atomic_load_n(&tc->fast_frees, __ATOMIC_RELAXED);
	size_t in = f + __atomic_load_n(&tc->put, __ATOMIC_RELAXED);
	size_t gone = __atomic_load_n(&tc->took, __ATOMIC_RELAXED);
	for (unsigned i = 2; i < OSMEM_TC_BINS; i++)
		gone += osmem__tc_held(tc, i);
	for (int i = 0; i < NCALLS; i++)
		c[i] = __atomic_load_n(&tc->calls[i], __ATOMIC_RELAXED);
	out[CALL_MALLOC] += c[CALL_MALLOC] + (in > gone ? in - gone : 0);
	out[CALL_FREE] += c[CALL_FREE] + f;
	out[CALL_REALLOC] += c[CALL_REALLOC];
}

/* Unlink tc from the live list and keep it for reuse; tc_lock held. */
static void
tc_release(struct osmem__tcache *tc)
{
	size_t calls[NCALLS] = { 0 };
	tc_calls(tc, calls);
	for (int i = 0; i < NCALLS; i++)
		__atomic_add_fetch(&calls_elsewhere[i], calls[i],
		                   __ATOMIC_RELAXED);
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		osmem__g.tcaches = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	tc->real = 0;
	tc->next = tc_free;
	tc_free = tc;
}

/* Thread exit: give the cache back and stop using one. */
static void
thread_exit(void *arg)
{
	struct osmem__tcache *tc = arg;
	osmem__tc = &osmem__tc_dead;
	osmem__tc_flush(tc);
	osmem__lock(&osmem__g.tc_lock);
	tc_release(tc);
	osmem__unlock(&osmem__g.tc_lock);
}

/* The calling thread's cache, made on first use; NULL if the thread has
 * none (it is exiting, or there was no memory for one). */
static OSMEM_NOINLINE struct osmem__tcache *
my_tcache(void)
{
	struct osmem__tcache *tc = osmem__tc;
	if (tc->real)
		return tc;
	if (tc == &osmem__tc_dead)
		return NULL;
	osmem__ensure_init();
	struct osmem__global *g = &osmem__g;
	tc = tc_new();
	if (!tc)
		return NULL;
	for (int i = 0; i < NCALLS; i++)
		tc->calls[i] = 0;
	tc->fast_frees = tc->put = tc->took = 0;
	size_bins(tc, (unsigned)g->cfg.tc_cap);
	tc->real = 1;
	osmem__lock(&g->tc_lock);
	/* The first thread takes the main arena, the others share the rest
	 * in turn. */
	unsigned k = g->next_arena++;
	struct osmem__arena *a = &g->arena[k == 0 || g->narenas == 1
	                                       ? 0
	                                       : 1 + (k - 1) % (g->narenas - 1)];
	if (a != &g->arena[0] && !a->aflag) {
		osmem__lock(&a->lock);
		a->st.release_at = g->cfg.release_threshold;
		a->aflag = F_ARENA; /* in use from now on */
		osmem__unlock(&a->lock);
	}
	tc->arena = a;
	tc->prev = NULL;
	tc->next = g->tcaches;
	if (g->tcaches)
		g->tcaches->prev = tc;
	g->tcaches = tc;
	osmem__unlock(&g->tc_lock);
	osmem__tc = tc;
	if (tc_key_ok)
		pthread_setspecific(tc_key, tc);
	return tc;
}

struct osmem__arena *
osmem__my_arena(void)
{
	struct osmem__tcache *tc = my_tcache();
	return tc ? tc->arena : &osmem__g.arena[0];
}

/* Serve a heap request from arena a, with up to *k - 1 more blocks of its
 * size (osmem__heap_alloc).  Before the arena grows,
 * the calling thread's cached blocks go back, in case they are enough:
 * first half of each bin, then the rest.  Giving back only half when that
 * is enough leaves the cache warm: on a churn over 50,000 live blocks
 * (bench/workloads churn) it saves 4% of the instructions (300 to 289
 * per operation). */
static void *
heap_alloc(struct osmem__arena *a, size_t size, unsigned *k)
{
	void *p = NULL;
	for (int pass = 0; !p && pass < 3; pass++) {
		if (pass > 0)
			flush_bins(osmem__tc, pass == 1);
		if (pass == 1)
			osmem__remote_drain(a, NULL);
		osmem__lock(&a->lock);
		p = osmem__heap_alloc(a, size, k, pass == 2);
		osmem__unlock(&a->lock);
	}
	return p;
}

/*
 * A miss of cached bin i, which is empty: the arena's best fit for the
 * request is split into up to tc->batch[i] blocks end to end (as many as
 * it holds), the blocks the next requests of this size would have taken
 * from it one by one; the first goes to the caller and the rest into the
 * bin, to be taken in address order.  Each miss in a row doubles the run,
 * up to a full bin, and a bin that fills up (the program is freeing that
 * size) starts again from one: a program building a structure pays for
 * the arena's lock, search and split once per run (python3 with
 * PYTHONMALLOC=malloc: 20% fewer instructions in all).
 */
static void *
refill(struct osmem__tcache *tc, unsigned i)
{
	size_t size = (size_t)i * 16;
	unsigned k = tc->batch[i];
	if (2 * k <= tc->cap[i])
		tc->batch[i] = (uint8_t)(2 * k);
	char *p = heap_alloc(tc->arena, size, &k);
	if (p && k > 1) {
		char *b = (char *)osmem__next(osmem__mem2chunk(p)) +
		          (size_t)(k - 1) * size;
		for (unsigned j = 1; j < k; j++) {
			b -= size;
			osmem__tc_push(tc, i, osmem__chunk2mem((chunk_t *)b));
		}
	}
	return p;
}

void
osmem__count(int call)
{
	struct osmem__tcache *tc = osmem__tc;
	if (tc->real)
		tc->calls[call]++;
	else
		__atomic_add_fetch(&calls_elsewhere[call], 1, __ATOMIC_RELAXED);
}

/* The calls of all threads (read without their owners' consent: a
 * figure, not an invariant). */
void
osmem__calls(size_t out[NCALLS])
{
	osmem__lock(&osmem__g.tc_lock);
	for (int i = 0; i < NCALLS; i++)
		out[i] = __atomic_load_n(&calls_elsewhere[i], __ATOMIC_RELAXED);
	for (const struct osmem__tcache *tc = osmem__g.tcaches; tc; tc = tc->next)
		tc_calls(tc, out);
	osmem__unlock(&osmem__g.tc_lock);
}

static void *alloc_now(size_t n);

void *
osmem__malloc_slow(size_t n)
{
	/* The common misses: a cached size whose bin is empty, or a heap
	 * size above the cached ones (below the mmap threshold, at most 32
	 * MiB), in a thread with a cache and no opt-in check on, served by
	 * the arena. */
	struct osmem__tcache *tc = osmem__tc;
	if (OSMEM_LIKELY(tc->real && n < osmem__g.cfg.mmap_threshold &&
	                 !osmem__g.debug && !osmem__g.map_signal)) {
		tc->calls[CALL_MALLOC]++;
		size_t size = osmem__request2size(n);
		if (size <= OSMEM_TC_MAX_CHUNK) {
			/* The fast path stopped at the bin's head: it is
			 * empty, or a corrupted link, which has() reports. */
			unsigned i = (unsigned)(size >> 4);
			if (OSMEM_UNLIKELY(has(tc, i)))
				return osmem__chunk2mem(take_cached(tc, size));
			if (tc->arena->remote) {
				osmem__remote_drain(tc->arena, tc);
				if (has(tc, i))
					return osmem__chunk2mem(
					    take_cached(tc, size));
			}
		}
		void *p = size <= OSMEM_TC_MAX_CHUNK
		              ? refill(tc, (unsigned)(size >> 4))
		              : heap_alloc(tc->arena, size, &(unsigned){1});
		if (OSMEM_UNLIKELY(!p))
			errno = ENOMEM;
		return p;
	}
	osmem__ensure_init();
	if (OSMEM_UNLIKELY(osmem__g.map_signal))
		osmem__heap_map_if_wanted();
	osmem__count(CALL_MALLOC);
	if (OSMEM_UNLIKELY(osmem__g.debug)) {
		osmem__debug_tick();
		void *p = alloc_now(osmem__debug_request(n));
		if (osmem__g.tracing)
			osmem__trace('m', 2, n, (uintptr_t)p, 0);
		/* Reached by osmem_malloc's tail jump: the return address is
		 * the program's call site (in builds that make tail calls). */
		return p ? osmem__debug_new(p, n, osmem__usable(p),
		                            __builtin_return_address(0))
		         : NULL;
	}
	return alloc_now(n);
}

static void *
alloc_now(size_t n)
{
	size_t size = osmem__request2size(n);
	if (OSMEM_UNLIKELY(size == 0)) {
		errno = ENOMEM;
		return NULL;
	}
	struct osmem__tcache *tc = my_tcache();
	if (size <= OSMEM_TC_MAX_CHUNK && tc && has(tc, (unsigned)(size >> 4)))
		return osmem__chunk2mem(take_cached(tc, size));
	struct osmem__arena *a = tc ? tc->arena : &osmem__g.arena[0];
	if (OSMEM_UNLIKELY(n >= osmem__g.cfg.mmap_threshold)) {
		void *p = osmem__large_alloc(n, OSMEM_ALIGN, 0);
		if (p)
			return p;
		a = &osmem__g.arena[0]; /* no mapping: try the break */
	}
	void *p = heap_alloc(a, size, &(unsigned){1});
	if (OSMEM_UNLIKELY(!p))
		errno = ENOMEM;
	return p;
}

void
osmem__free_slow(void *p)
{
	if (!p)
		return;
	chunk_t *c = osmem__mem2chunk(p);
	if (OSMEM_HARDEN && OSMEM_UNLIKELY(((uintptr_t)p & (OSMEM_ALIGN - 1)) ||
	                                   !osmem__readable(p)))
		osmem__fatal("free " OSMEM_NO_HEAP, p, 0);
	if (OSMEM_HARDEN && OSMEM_UNLIKELY(!osmem__head_ok(c)))
		osmem__bad_header(p, "free of invalid pointer");
	if (OSMEM_HARDEN && OSMEM_UNLIKELY(!(c->head & F_CINUSE)))
		osmem__fatal("double free of", p, osmem__csize(c));
	osmem__count(CALL_FREE);
	if (OSMEM_UNLIKELY(osmem__g.debug)) {
		osmem__debug_tick();
		if (osmem__g.tracing)
			osmem__trace('f', 1, (uintptr_t)p, 0, 0);
		if (osmem__debug_free(p, osmem__usable(p)))
			return; /* quarantined */
	}
	osmem__free_now(p);
}

/* Free a block of a cached size that passed the fast path's checks, when
 * its bin is full. */
void
osmem__free_full(void *p)
{
	if (!osmem__tc->real || osmem__g.debug || osmem__g.map_signal) {
		osmem__free_slow(p); /* no cache, checks on, or a map to write */
		return;
	}
	osmem__tc->calls[CALL_FREE]++;
	osmem__free_now(p);
}

/* Free a block that passed the checks. */
void
osmem__free_now(void *p)
{
	chunk_t *c = osmem__mem2chunk(p);
	if (c->head & F_MMAP) {
		int saved = errno;
		osmem__large_free(c);
		errno = saved;
		return;
	}
	size_t size = osmem__csize(c);
	struct osmem__tcache *tc = size <= OSMEM_TC_MAX_CHUNK ? my_tcache() : NULL;
	if (tc) {
		/* The bin is full: send half of it back, keep this block. */
		unsigned i = (unsigned)(size >> 4);
		if (!room(tc, i)) {
			flush_bin(tc, i, tc->cap[i] / 2u);
			tc->batch[i] = 1;
		}
		if (!room(tc, i))
			tc = NULL; /* caching is off */
	}
	if (tc) {
		osmem__clear_cinuse(c);
		osmem__tc_push(tc, size >> 4, p);
		return;
	}
	struct osmem__arena *a = osmem__arena_of(c);
	osmem__lock(&a->lock);
	osmem__heap_free(a, c);
	osmem__unlock(&a->lock);
}

/* Bytes held in all thread caches and remote stacks (read without their
 * owners' consent: a figure, not an invariant). */
size_t
osmem__tc_bytes(void)
{
	size_t bytes = 0;
	osmem__lock(&osmem__g.tc_lock);
	for (const struct osmem__tcache *tc = osmem__g.tcaches; tc; tc = tc->next)
		for (unsigned i = 2; i < OSMEM_TC_BINS; i++)
			bytes += osmem__tc_held(tc, i) * i * 16;
	osmem__unlock(&osmem__g.tc_lock);
	for (unsigned i = 0; i < OSMEM_MAX_ARENAS; i++)
		bytes += __atomic_load_n(&osmem__g.arena[i].remote_bytes,
		                         __ATOMIC_RELAXED);
	return bytes;
}

/*
 * In a child after fork, only the forking thread lives: the caches of the
 * others will never be used again, so their blocks go back to the arenas.
 * Called with no allocator lock held, before the child runs any code.
 */
void
osmem__tc_after_fork(void)
{
	struct osmem__tcache *tc = osmem__g.tcaches, *next;
	for (; tc; tc = next) {
		next = tc->next;
		if (tc == osmem__tc)
			continue;
		osmem__tc_flush(tc);
		tc_release(tc);
	}
}

/* Called once from osmem__init, without allocating. */
void
osmem__tc_init(void)
{
	tc_key_ok = pthread_key_create(&tc_key, thread_exit) == 0;
}
