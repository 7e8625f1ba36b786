/*
 * tcache.c: the thread caches and their whole policy: making a thread's
 * cache and giving it back at exit, what each bin holds, serving a miss
 * (a run of blocks carved at once), taking a free the bin has no room for
 * (half the bin goes back), handing blocks back to their arenas as runs
 * of neighbours, and the figures the caches keep.  Layer 5.
 *
 * Policy (bench/README has the measurements behind each number):
 * - Sizes cached stop at 2 KiB: held blocks keep their neighbours from
 *   merging, and caching up to 4 KiB grew the gcc trace's heap while
 *   saving nothing on random churn.
 * - A bin holds up to OSMEM_TC_BIN_BYTES, and at most the tcache option's
 *   cap (32 by default): 32 blocks up to 256 bytes, then fewer, down to
 *   four 2 KiB blocks.  Less missed the cache on a random churn; more
 *   (16 KiB bins) was faster still but raised peak RSS above glibc's on
 *   the threads workloads.
 * - A miss takes the smallest cached block up to a sixteenth larger
 *   (none below 256 bytes, where the next bin is more than that): a bin
 *   of 16-byte steps is empty more often than a coarser class would be,
 *   and its newest block older, still in the cache less often (larson-2
 *   0.113 -> 0.099 s, random churn 268.5 -> 137.8 instructions a
 *   free+malloc).  An eighth raised freeblocks-1e6's peak RSS 2.3%, a
 *   quarter the python3 trace's heap 6.4%, 32 bytes at any size 14%; a
 *   sixteenth leaves every heap peak within 0.4% and peak RSS within
 *   0.8%.
 * - Else a miss carves a run of blocks (doubling with each miss in a
 *   row, up to a full bin); a full bin gives back its oldest half;
 *   before an arena grows, the calling thread's bins are given back,
 *   half first.
 */
#include "tcache.h"

#include <errno.h>
#include <string.h>

#define OSMEM_TC_BIN_BYTES 8192u
/* A miss takes a cached block up to 1/OSMEM_TC_NEAR larger. */
#define OSMEM_TC_NEAR 16u
/* Bytes on its arena's remote stack that a thread whose cache overflows
 * empties it at: about what the thread's cache holds. */
#define OSMEM_REMOTE_MOST ((size_t)256 << 10)
_Static_assert(OSMEM_TC_SLOTS * 16u == OSMEM_FAST_LIMIT,
               "the fast free's size test");
_Static_assert(OSMEM_TC_MAX_CHUNK < OSMEM_FAST_LIMIT, "cached sizes");
_Static_assert(OSMEM_TC_CAP_MAX <= UINT8_MAX, "cap[] holds a bin's blocks");
/* Words of slot[] for any cap: the stops, and the entries of bins
 * 2..128, each at most OSMEM_TC_BIN_BYTES / (16 i), which sum to less
 * than OSMEM_TC_BIN_BYTES / 16 times (H(128) - 1) = 4.43 (osmem__tc_layout
 * asserts it). */
#define OSMEM_TC_WORDS (OSMEM_TC_BIN_BYTES / 16u * 9u / 2u + OSMEM_TC_BINS)
const size_t osmem__tc_size =
    (sizeof(struct osmem__tcache) + OSMEM_TC_WORDS * sizeof(void *) + 63) &
    ~(size_t)63;

__thread struct osmem__tcache *osmem__tc
    __attribute__((tls_model("initial-exec"))) = &osmem__tc_none;
/* The stand-ins' bins all stand between these two stops: always empty,
 * always full. */
static void *const stops[2] = {(void *)OSMEM_TC_STOP, (void *)OSMEM_TC_STOP};
#define NO_BLOCKS                                                             \
	{                                                                     \
		.top = { [0 ... OSMEM_TC_SLOTS - 1] = (void **)&stops[1] }    \
	}
struct osmem__tcache osmem__tc_none = NO_BLOCKS, osmem__tc_dead = NO_BLOCKS;

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

/* The latest block of bin i, which has one, in use. */
static void *
pop(struct osmem__tcache *tc, unsigned i)
{
	tc->took++;
	void *p = *tc->top[i]++;
	osmem__set_cinuse(osmem__mem2chunk(p));
	return p;
}

/* Put block p, its C bit already clear, into bin i of tc (which has
 * room). */
static void
push(struct osmem__tcache *tc, size_t i, void *p)
{
	void **t = tc->top[i] - 1;
	*t = p;
	osmem__tc_set_top(tc, i, t);
	tc->put++;
}

/* A block from the remote stack into cache arg, if its bin has room. */
static int
keep_remote(void *arg, void *p, size_t size)
{
	struct osmem__tcache *tc = arg;
	unsigned i = (unsigned)(size >> 4);
	if (!tc->real || i >= OSMEM_TC_BINS || !room(tc, i))
		return 0;
	push(tc, i, p);
	return 1;
}

/* Move the top of bin i to t after every store before it, and before
 * every store after it (see flush_bin). */
static inline void
publish_top(struct osmem__tcache *tc, unsigned i, void **t)
{
	osmem__tc_set_top(tc, i, t);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Reverse the n entries at v. */
static void
reverse(void **v, size_t n)
{
	for (size_t l = 0; n > l + 1; l++, n--) {
		void *t = v[l];
		v[l] = v[n - 1];
		v[n - 1] = t;
	}
}

/* Give back the oldest cached blocks of bin i, all but the keep latest
 * (which are likelier to be in the processor's cache): to the calling
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
	 * end).  So the bin is emptied first, its entries put in order in
	 * place (the oldest out first, then the keep latest: a rotation by
	 * three reversals), and the latest listed again; a child forked in
	 * between loses the bin's blocks, never frees one twice.  Moving
	 * them with one memmove before the top moved listed some twice for
	 * a moment: a fork loop against two threads filling and flushing a
	 * bin (tests/stress-t, fork-t) found a child whose heap had a block
	 * freed twice into it, about once in a few hundred forks.  Nothing
	 * is copied to the stack: the arrays of the cap's most blocks that
	 * did (4 KiB) took a thread's exit, whose stack glibc had given
	 * back, into a page more (mimalloc-bench's mleak: 0.5 page faults a
	 * thread, a third of its faults).
	 */
	size_t out = held - keep;
	void **top = tc->top[i];
	publish_top(tc, i, top + held);
	reverse(top, keep);
	reverse(top + keep, out);
	reverse(top, held);
	publish_top(tc, i, top + out);
	tc->took += out;
	size_t size = (size_t)i * 16;
	struct osmem__run run = {tc->arena, NULL, 0, 0};
	struct osmem__remote away = {NULL, NULL, NULL, 0, 0};
	for (size_t e = 0; e < out; e++) {
		char *p = top[e];
		/* Its header was checked when it was freed but may have been
		 * written over since (an overflow from the block before): its
		 * flags, and for a run's first block its size, are used, so it
		 * is checked again, unless the run is about to cover it. */
		if (osmem__run_after(&run, p, size))
			continue;
		osmem__chunk_t *c = osmem__checked(osmem__mem2chunk(p));
		if (osmem__run_before(&run, p, size))
			continue;
		struct osmem__arena *own = osmem__arena_of(c);
		if (own != run.a)
			osmem__remote_add(&away, own, p);
		else
			osmem__run_start(&run, p, size);
	}
	osmem__run_end(&run);
	osmem__remote_push(&away);
}

/* Give back the blocks of every bin of tc beyond half its cap, or all
 * of them.  The test for a bin with nothing to give is made here: a call
 * per bin, most of them empty, was 3% of a mid-size churn's instructions
 * (a heap request that finds no room flushes the cache first). */
static void
flush_bins(struct osmem__tcache *tc, int half)
{
	if (!tc || !tc->real)
		return;
	for (unsigned i = 2; i < OSMEM_TC_BINS; i++) {
		unsigned keep = half ? tc->cap[i] / 2u : 0;
		if (osmem__tc_held(tc, i) > keep)
			flush_bin(tc, i, keep);
	}
}

void
osmem__tc_flush(struct osmem__tcache *tc)
{
	flush_bins(tc, 0);
}

void
osmem__tc_layout(struct osmem__tcache *tc, unsigned max)
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
	osmem__tc_layout(tc, max);
	__atomic_store_n(&tc->real, 1, __ATOMIC_RELEASE);
}

/* One try at a heap request from arena a, with up to *k - 1 more blocks
 * of its size (osmem__heap_alloc), growing the arena if grow. */
static void *
heap_try(struct osmem__arena *a, size_t size, unsigned *k, int grow)
{
	osmem__lock(&a->lock);
	void *p = osmem__heap_alloc(a, size, k, grow);
	osmem__unlock(&a->lock);
	return p;
}

/* Before the arena grows, the calling thread's cached blocks go back, in
 * case they are enough: first half of each bin (which leaves the cache
 * warm), then the rest. */
static OSMEM_NOINLINE void *
heap_alloc_more(struct osmem__arena *a, size_t size, unsigned *k)
{
	flush_bins(osmem__tc, 1);
	osmem__remote_drain(a, NULL, NULL);
	void *p = heap_try(a, size, k, 0);
	if (!p) {
		flush_bins(osmem__tc, 0);
		p = heap_try(a, size, k, 1);
	}
	return p;
}

/* A heap request: the first try takes no more than the arena's lock; the
 * retries are out of line, so the common call saves no registers for
 * them. */
static inline void *
heap_alloc(struct osmem__arena *a, size_t size, unsigned *k)
{
	void *p = heap_try(a, size, k, 0);
	return OSMEM_LIKELY(p != NULL) ? p : heap_alloc_more(a, size, k);
}

/*
 * A miss of cached bin i, which is empty: the arena's best fit for the
 * request is split into up to tc->batch[i] blocks end to end (as many as
 * it holds), the blocks the next requests of this size would have taken
 * from it one by one; the first goes to the caller and the rest into the
 * bin, to be taken in address order.  Each miss in a row doubles the run,
 * up to a full bin, and a bin that fills up (the program is freeing that
 * size) starts again from one: a program building a structure pays for
 * the arena's lock, search and split once per run.
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
			push(tc, i, osmem__chunk2mem((osmem__chunk_t *)b));
		}
	}
	return p;
}

void *
osmem__tc_alloc(struct osmem__tcache *tc, size_t size)
{
	unsigned one = 1;
	void *p;
	if (!tc) {
		p = heap_alloc(&osmem__g.arena[0], size, &one);
	} else if (size > OSMEM_TC_MAX_CHUNK) {
		p = heap_alloc(tc->arena, size, &one);
	} else {
		/* The fast path stopped at the bin's head: it is empty, or a
		 * stand-in (has() says which). */
		unsigned i = (unsigned)(size >> 4);
		if (OSMEM_UNLIKELY(has(tc, i)))
			return pop(tc, i);
		if (tc->arena->remote) {
			osmem__remote_drain(tc->arena, keep_remote, tc);
			if (has(tc, i))
				return pop(tc, i);
		}
		/* The smallest cached block up to a sixteenth larger. */
		for (unsigned j = i + 1;
		     j <= i + i / OSMEM_TC_NEAR && j < OSMEM_TC_BINS; j++)
			if (has(tc, j))
				return pop(tc, j);
		p = tc->real ? refill(tc, i)
		             : heap_alloc(tc->arena, size, &one);
	}
	if (OSMEM_UNLIKELY(!p))
		errno = ENOMEM;
	return p;
}

int
osmem__tc_put(struct osmem__tcache *tc, osmem__chunk_t *c)
{
	unsigned i = (unsigned)(osmem__csize(c) >> 4);
	if (!room(tc, i)) {
		/* Full: half of it goes back, and the next miss starts a run
		 * afresh. */
		flush_bin(tc, i, tc->cap[i] / 2u);
		/* A thread whose frees keep its cache full seldom misses it,
		 * and a miss is when its arena's remote stack is emptied:
		 * without this, blocks the other threads give back piled up
		 * there while their own arenas grew (xfree-2: up to 53 MB
		 * waiting at once; its peak RSS 4.7-40.9 MB over 16 runs,
		 * 4.1-5.5 MB with it). */
		if (__atomic_load_n(&tc->arena->remote_bytes,
		                    __ATOMIC_RELAXED) > OSMEM_REMOTE_MOST)
			osmem__remote_drain(tc->arena, NULL, NULL);
		tc->batch[i] = 1;
		if (!room(tc, i))
			return 0; /* caching is off */
	}
	osmem__clear_cinuse(c);
	push(tc, i, osmem__chunk2mem(c));
	return 1;
}
