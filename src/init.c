/*
 * init.c: the allocator's global state and its start-up, run when the
 * library is loaded, or on the first call into the allocator if that comes
 * first (from the dynamic loader or libc, as a preloaded malloc).  Start-up
 * allocates nothing and calls nothing that might.
 */
#include "os.h"
#include "vg.h"

#include <pthread.h>
#include <stdlib.h>

struct osmem__global osmem__g = {
	.fast_mask = OSMEM_FAST_MASK, /* from the first free, before start-up */
	.large_lock = OSMEM_LOCK_INIT,
	.tc_lock = OSMEM_LOCK_INIT,
};

static osmem__lock_t init_lock = OSMEM_LOCK_INIT;

/*
 * Fork: take every lock before, so the child never inherits one held by a
 * thread that does not exist there; release them after, in the parent, and
 * start them afresh in the child.  Lock order: init, arena, large.
 */
static void
before_fork(void)
{
	osmem__trace_flush(); /* or the child would write it again */
	osmem__lock(&init_lock);
	osmem__lock(&osmem__g.tc_lock);
	for (unsigned i = 0; i < OSMEM_MAX_ARENAS; i++)
		osmem__lock(&osmem__g.arena[i].lock);
	osmem__lock(&osmem__g.large_lock);
}

static void
after_fork_parent(void)
{
	osmem__unlock(&osmem__g.large_lock);
	for (unsigned i = OSMEM_MAX_ARENAS; i-- > 0;)
		osmem__unlock(&osmem__g.arena[i].lock);
	osmem__unlock(&osmem__g.tc_lock);
	osmem__unlock(&init_lock);
}

static void
after_fork_child(void)
{
	osmem__lock_reset(&osmem__g.large_lock);
	for (unsigned i = 0; i < OSMEM_MAX_ARENAS; i++)
		osmem__lock_reset(&osmem__g.arena[i].lock);
	osmem__lock_reset(&osmem__g.tc_lock);
	osmem__lock_reset(&init_lock);
	osmem__tc_after_fork();
}

/* At load, before the program can start a thread.  Started up by the
 * first allocation instead, a thread making it could be forked from
 * before the fork handlers were registered, and the child inherit a lock
 * held for good (a fork loop started right after a thread's first
 * osmem_malloc: its first child hung about one run in two). */
__attribute__((constructor)) static void
at_load(void)
{
	osmem__ensure_init();
}

/* At exit (or when the library is unloaded): what stats=1 asks for, on a
 * copy of stderr taken at start-up (programs often close stderr in their
 * own exit handlers, which run first). */
__attribute__((destructor)) static void
at_exit(void)
{
	if (osmem__g.ready && osmem__g.cfg.stats)
		osmem__stats_summary(osmem__g.stats_fd >= 0 ? osmem__g.stats_fd : 2);
	osmem__trace_flush();
	if (osmem__g.ready)
		osmem__heap_map_at_exit(osmem__heap_map_path());
	if (osmem__g.ready && osmem__g.cfg.leaks) {
		int fd = osmem__g.stats_fd >= 0 ? osmem__g.stats_fd : 2;
		if (osmem__leak_report(fd) && osmem__g.cfg.leak_exitcode)
			osmem__os_exit((int)osmem__g.cfg.leak_exitcode);
	}
}

void
osmem__init(void)
{
	osmem__lock(&init_lock);
	if (!osmem__g.ready) {
		osmem__g.secret = osmem__os_random() | 1;
		osmem__g.secret_t = osmem__g.secret & TAG_MASK;
		osmem__g.secret_c = osmem__g.secret_t | F_CINUSE;
		osmem__g.page = osmem__os_page_size();
		osmem__g.cfg.mmap_threshold = 128 * 1024;
		osmem__g.cfg.trim_threshold = 128 * 1024;
		osmem__g.cfg.top_pad = 128 * 1024;
		osmem__g.cfg.heap_initial = 128 * 1024;
		osmem__g.cfg.mmap_seg = 1024 * 1024;
		osmem__g.cfg.tc_cap = OSMEM_TC_CAP;

		osmem__g.cfg.release_threshold = 1024 * 1024;
		osmem__g.cfg.valgrind = 2;
		osmem__parse_options(&osmem__g.cfg, getenv("OSMEM_OPTIONS"));
		/* The other arenas are set up when first handed out (writing
		 * to all of them now would make ~80 KiB resident for nothing). */
		osmem__g.arena[0].st.release_at = osmem__g.cfg.release_threshold;
		osmem__g.stats_fd = osmem__g.cfg.stats || osmem__g.cfg.leaks
		                        ? osmem__os_dup(2)
		                        : -1;
		osmem__trace_open();
		osmem__heap_map_signal();
		/* Under valgrind, blocks are told to memcheck (debug.c), and a
		 * freed block stays out of use for a while so a use after free
		 * lands on memory memcheck knows is freed. */
		if (osmem__g.cfg.valgrind == 1 ||
		    (osmem__g.cfg.valgrind == 2 && OSMEM_VG_RUNNING())) {
			osmem__g.valgrind = 1;
			if (!osmem__g.cfg.quarantine)
				osmem__g.cfg.quarantine = (size_t)16 << 20;
		}
		/* The opt-in checks and the trace live on the slow paths: no
		 * thread caches. */
		const struct osmem__config *c = &osmem__g.cfg;
		if (c->junk || c->canary || c->quarantine || c->guard ||
		    c->check_every || c->leaks || osmem__g.tracing ||
		    osmem__g.valgrind) {
			osmem__g.debug = 1;
			osmem__g.cfg.tc_cap = 0;
		}
		/* Enough arenas that busy threads rarely share one. */
		unsigned n = 2 * osmem__os_ncpu();
		if (osmem__os_ncpu() == 1)
			n = 1;
		if (osmem__g.cfg.narenas)
			n = (unsigned)osmem__g.cfg.narenas;
		osmem__g.narenas = n < OSMEM_MAX_ARENAS ? n : OSMEM_MAX_ARENAS;
		osmem__tc_init();
		__atomic_store_n(&osmem__g.ready, 1, __ATOMIC_RELEASE);
		/* Registered last and with the allocator ready, in case
		 * registering allocates. */
		osmem__unlock(&init_lock);
		pthread_atfork(before_fork, after_fork_parent,
		               after_fork_child);
		return;
	}
	osmem__unlock(&init_lock);
}
