/*
 * thread.c: each thread's cache as a thing that lives and dies: making
 * it (and choosing its arena) on first use, giving it back when the
 * thread exits or is gone after a fork, and the calls and bytes the
 * caches count for osmem_stats.  What a cache holds and does is
 * tcache.c's.  Layer 5.
 */
#include "tcache.h"

osmem__lock_t osmem__tc_lock;
struct osmem__tcache *osmem__tcaches;
/* Caches given back, for reuse (under tc_lock). */
static struct osmem__tcache *spare;
static unsigned tc_key;
static int tc_key_state; /* 0 not made yet, 1 made, -1 failed */

/* Calls of threads with no cache (yet, or any more), and of those gone. */
static size_t calls_elsewhere[OSMEM_NCALLS];

/*
 * Thread caches live outside the heaps, in pages of their own, so that
 * they never show in a heap's figures or walk; a cache given back at
 * thread exit waits on a free list for the next thread.
 */
static struct osmem__tcache *
tc_new(void)
{
	struct osmem__tcache *tc;
	size_t one = osmem__tc_size;
	osmem__lock(&osmem__tc_lock);
	if (!spare) {
		/* four caches a mapping, however large a cache is */
		size_t len = osmem__round_up(4 * one, osmem__g.page);
		char *m = osmem__os_map(len);
		for (size_t off = 0; m && off + one <= len; off += one) {
			tc = (struct osmem__tcache *)(m + off);
			tc->next = spare;
			spare = tc;
		}
	}
	tc = spare;
	if (tc)
		spare = tc->next;
	osmem__unlock(&osmem__tc_lock);
	return tc;
}

/* Add the calls of cache tc to out[] (read without its owner's consent
 * when another thread's: a figure, not an invariant, kept from going
 * below the slow paths' count). */
static void
tc_calls(const struct osmem__tcache *tc, size_t out[OSMEM_NCALLS])
{
	size_t c[OSMEM_NCALLS],
	    f = __atomic_load_n(&tc->fast_frees, __ATOMIC_RELAXED);
	size_t in = f + __atomic_load_n(&tc->put, __ATOMIC_RELAXED);
	size_t gone = __atomic_load_n(&tc->took, __ATOMIC_RELAXED);
	for (unsigned i = 2; i < OSMEM_TC_BINS; i++)
		gone += osmem__tc_held(tc, i);
	for (int i = 0; i < OSMEM_NCALLS; i++)
		c[i] = __atomic_load_n(&tc->calls[i], __ATOMIC_RELAXED);
	out[OSMEM_CALL_MALLOC] +=
	    c[OSMEM_CALL_MALLOC] + (in > gone ? in - gone : 0);
	out[OSMEM_CALL_FREE] += c[OSMEM_CALL_FREE] + f;
	out[OSMEM_CALL_REALLOC] += c[OSMEM_CALL_REALLOC];
}

/* Unlink tc from the osmem__tcaches list and keep it for reuse; tc_lock held.
 */
static void
tc_release(struct osmem__tcache *tc)
{
	size_t calls[OSMEM_NCALLS] = {0};
	tc_calls(tc, calls);
	for (int i = 0; i < OSMEM_NCALLS; i++)
		__atomic_add_fetch(&calls_elsewhere[i], calls[i],
		                   __ATOMIC_RELAXED);
	*(tc->prev ? &tc->prev->next : &osmem__tcaches) = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	tc->real = 0;
	__atomic_sub_fetch(&tc->arena->threads, 1, __ATOMIC_RELAXED);
	tc->next = spare;
	spare = tc;
}

/* Thread exit: give the cache back and stop using one. */
static void
thread_exit(void *arg)
{
	struct osmem__tcache *tc = arg;
	osmem__tc = &osmem__tc_dead;
	osmem__tc_flush(tc);
	osmem__lock(&osmem__tc_lock);
	tc_release(tc);
	osmem__unlock(&osmem__tc_lock);
}

/* The calling thread's cache, made on first use; NULL if the thread has
 * none (it is exiting, or there was no memory for one). */
struct osmem__tcache *
osmem__my_tcache(void)
{
	struct osmem__tcache *tc = osmem__tc;
	if (tc->real)
		return tc;
	if (tc == &osmem__tc_dead)
		return NULL;
	osmem__ensure_init();
	tc = tc_new();
	if (!tc)
		return NULL;
	for (int i = 0; i < OSMEM_NCALLS; i++)
		tc->calls[i] = 0;
	tc->fast_frees = tc->put = tc->took = 0;
	osmem__tc_layout(tc, (unsigned)osmem__g.cfg.tc_cap);
	tc->real = 1;
	/* The pick under the list's lock, as the count it goes by changes:
	 * two threads starting at once took the same arena in 3 runs of 70
	 * of larson-2, and ran at half speed on its lock. */
	osmem__lock(&osmem__tc_lock);
	tc->arena = osmem__arena_pick();
	/* The exit handler's key, made with the first cache (no allocation:
	 * glibc keeps its first keys in static storage). */
	if (tc_key_state == 0)
		tc_key_state =
		    osmem__os_thread_key(&tc_key, thread_exit) ? -1 : 1;
	tc->prev = NULL;
	tc->next = osmem__tcaches;
	if (osmem__tcaches)
		osmem__tcaches->prev = tc;
	osmem__tcaches = tc;
	osmem__unlock(&osmem__tc_lock);
	osmem__tc = tc;
	if (tc_key_state > 0)
		osmem__os_thread_set(tc_key, tc);
	return tc;
}

void
osmem__count_elsewhere(int call)
{
	__atomic_add_fetch(&calls_elsewhere[call], 1, __ATOMIC_RELAXED);
}

/* The calls of all threads (read without their owners' consent: a
 * figure, not an invariant). */
void
osmem__calls(size_t out[OSMEM_NCALLS])
{
	osmem__lock(&osmem__tc_lock);
	for (int i = 0; i < OSMEM_NCALLS; i++)
		out[i] =
		    __atomic_load_n(&calls_elsewhere[i], __ATOMIC_RELAXED);
	for (const struct osmem__tcache *tc = osmem__tcaches; tc;
	     tc = tc->next)
		tc_calls(tc, out);
	osmem__unlock(&osmem__tc_lock);
}

/* Bytes held in all thread caches (read without their owners' consent:
 * a figure, not an invariant). */
size_t
osmem__tc_bytes(void)
{
	size_t bytes = 0;
	osmem__lock(&osmem__tc_lock);
	for (const struct osmem__tcache *tc = osmem__tcaches; tc;
	     tc = tc->next)
		for (unsigned i = 2; i < OSMEM_TC_BINS; i++)
			bytes += osmem__tc_held(tc, i) * i * 16;
	osmem__unlock(&osmem__tc_lock);
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
	struct osmem__tcache *tc = osmem__tcaches, *next;
	for (; tc; tc = next) {
		next = tc->next;
		if (tc == osmem__tc)
			continue;
		osmem__tc_flush(tc);
		tc_release(tc);
	}
}
