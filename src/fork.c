/*
 * fork.c: the fork handlers, which start-up registers.  They hold the
 * locks of every layer, from the heap map's down to the break's, so they
 * live at the top (layer 7).
 */
#include "tools.h"

/*
 * Fork.  The child has one thread, the one that forked: a lock that
 * another thread held at that moment would stay held there for good.  So
 * the prepare handler takes every lock of the allocator, the parent
 * releases them after, and the child starts them afresh.  Two things
 * make this safe where a plain "lock everything" was not:
 *
 * - A signal handler may fork while the thread it interrupted is inside
 *   the allocator, or inside fork itself (POSIX lists fork as
 *   async-signal-safe).  The locks name their holder (lock.h): when its
 *   own thread holds one, the prepare takes none.  Waiting for the others
 *   could wait for ever (a thread holding the cache list's lock may be
 *   waiting for the arena this thread holds), and they would not make the
 *   child's heap whole: the interrupted call has left it half changed,
 *   and such a child may only call async-signal-safe functions anyway
 *   (glibc's malloc, in a process without threads, likewise takes
 *   nothing).  Prepares nest, each keeping its own record.
 * - C's stdio: glibc takes its list of streams' lock after the prepare
 *   handlers.  A thread flushing every stream holds that lock and waits
 *   for a stream whose holder waits for an arena in realloc; were we to
 *   hold the arenas and then wait for the list, nobody would move.  So
 *   in a process with threads the list's lock (recursive) is taken
 *   first, and the allocator's locks are the last taken before the
 *   process is copied and the first given back after.
 *
 * Lock order: heap map, init, thread caches, arenas, break, large,
 * quarantine, trace.
 */
#define NFORK_LOCKS (OSMEM_MAX_ARENAS + 9)
_Static_assert(NFORK_LOCKS <= 32, "a prepare's record is one word");

static osmem__lock_t *
fork_lock(unsigned k)
{
	static osmem__lock_t *const fixed[] = {
	    &osmem__map_lock, &osmem__init_lock, &osmem__tc_lock};
	if (k < 3)
		return fixed[k];
	if (k < 3 + OSMEM_MAX_ARENAS)
		return &osmem__g.arena[k - 3].lock;
	static osmem__lock_t *const leaves[] = {
	    &osmem__brk_lock,   &osmem__large_lock,   &osmem__quarantine_lock,
	    &osmem__stack_lock, &osmem__profile_lock, &osmem__trace_lock};
	return leaves[k - 3 - OSMEM_MAX_ARENAS];
}

/* What each prepare of this thread took, innermost last. */
#define FORK_NEST 8
static __thread struct {
	unsigned depth;
	uint32_t took[FORK_NEST];
	unsigned char stdio[FORK_NEST];
	unsigned char inside[FORK_NEST]; /* it held one already */
} forking __attribute__((tls_model("initial-exec")));

/* The depth moves before a prepare takes anything and after a parent or
 * child handler has released everything, so a fork nested in either
 * (from a signal handler) keeps its record in the next slot. */
static void
before_fork(void)
{
	unsigned d = forking.depth++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	uint32_t took = 0;
	/* Nested deeper than its record holds (forks in signal handlers
	 * eight deep): it takes nothing, as it could not give it back. */
	int inside = d >= FORK_NEST, stdio = 0;
	for (unsigned k = 0; k < NFORK_LOCKS; k++)
		inside |= osmem__lock_mine(fork_lock(k));
	/* With the list of streams held, a busy allocator lock is not
	 * waited for: its holder may be a thread that a signal handler
	 * interrupted, now forking too and waiting for that list.  All is
	 * given back, the busy lock waited for holding nothing, and the
	 * whole taken again. */
	while (!inside) {
		stdio = !osmem__os_single_threaded();
		if (stdio)
			osmem__os_stdio_lock();
		unsigned k = 0;
		while (k < NFORK_LOCKS && osmem__trylock(fork_lock(k)))
			took |= (uint32_t)1 << k++;
		if (k == NFORK_LOCKS)
			break;
		for (unsigned j = k; j-- > 0;)
			osmem__unlock(fork_lock(j));
		took = 0;
		if (stdio)
			osmem__os_stdio_unlock();
		osmem__lock(fork_lock(k));
		osmem__unlock(fork_lock(k));
	}
	/* Or the child would write the trace's lines again; not when this
	 * thread was interrupted writing it. */
	if (took & ((uint32_t)1 << (NFORK_LOCKS - 1)))
		osmem__trace_write_out();
	if (d < FORK_NEST) {
		forking.took[d] = took;
		forking.stdio[d] = (unsigned char)stdio;
		forking.inside[d] = (unsigned char)inside;
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static void
after_fork_parent(void)
{
	unsigned d = forking.depth - 1;
	if (d < FORK_NEST) { /* one nested too deep took nothing */
		uint32_t took = forking.took[d];
		int stdio = forking.stdio[d];
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		for (unsigned k = NFORK_LOCKS; k-- > 0;)
			if (took & ((uint32_t)1 << k))
				osmem__unlock(fork_lock(k));
		if (stdio)
			osmem__os_stdio_unlock();
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	forking.depth = d;
}

static void
after_fork_child(void)
{
	unsigned d = forking.depth - 1;
	for (unsigned k = 0; k < NFORK_LOCKS; k++)
		osmem__lock_reset(fork_lock(k));
	if (d < FORK_NEST) {
		if (forking.stdio[d])
			osmem__os_stdio_reset();
		/* The other threads' cached blocks go back, unless this
		 * thread was interrupted inside the allocator: its heap may be
		 * half changed, and such a child may only call
		 * async-signal-safe functions. */
		if (!forking.inside[d])
			osmem__tc_after_fork();
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	forking.depth = d;
}

void
osmem__fork_start(void)
{
	(void)osmem__os_atfork(before_fork, after_fork_parent,
	                       after_fork_child);
}
