/*
 * init.c: the allocator's global state and its start-up, run when the
 * library is loaded, or on the first call into the allocator if that
 * comes first (from the dynamic loader or libc, as a preloaded malloc).
 * Start-up allocates nothing and calls nothing that might.  Layer 3; the
 * one file that reaches up the layers, and only to install what lives
 * there: the opt-in tools' hooks and the fork handlers.
 */
#include "chunk.h"
#include "vg.h"

struct osmem__global osmem__g = {
    .fast_mask = OSMEM_FAST_MASK, /* from the first free, before start-up */
};

osmem__lock_t osmem__init_lock;

/* At load, before the program can start a thread.  Started up by the
 * first allocation instead, a thread making it could be forked from
 * before the fork handlers were registered, and the child inherit a lock
 * held for good (fork-t). */
__attribute__((constructor)) static void
at_load(void)
{
	osmem__ensure_init();
}

void
osmem__init(void)
{
	struct osmem__global *g = &osmem__g;
	osmem__lock(&osmem__init_lock);
	if (g->ready) {
		osmem__unlock(&osmem__init_lock);
		return;
	}
	g->secret = osmem__os_random() | 1;
	g->secret_t = g->secret & OSMEM_TAG_MASK;
	g->secret_c = g->secret_t | OSMEM_F_CINUSE;
	g->page = osmem__os_page_size();
	osmem__options_default(&g->cfg);
	osmem__options_parse(&g->cfg, osmem__os_env("OSMEM_OPTIONS"));
	osmem__os_set_limit(g->cfg.limit);
	osmem__os_set_huge(g->cfg.thp != 0);
	/* The other arenas are set up when first handed out (writing to all
	 * of them now would make ~80 KiB resident for nothing). */
	g->arena[0].st.release_at = g->cfg.release_threshold;
	/* Valgrind gives a program 8 MiB of break; under its profiling
	 * tools the heap takes the paths it takes outside (memcheck gets
	 * the debug paths, tools.c). */
	if (OSMEM_VG_RUNNING() && !OSMEM_VG_MEMCHECK())
		osmem__os_brk_avoid();
	/* Enough arenas that busy threads rarely share one. */
	unsigned ncpu = osmem__os_ncpu();
	unsigned n = ncpu == 1 ? 1 : 2 * ncpu;
	if (g->cfg.narenas)
		n = (unsigned)g->cfg.narenas;
	g->narenas = n < OSMEM_MAX_ARENAS ? n : OSMEM_MAX_ARENAS;
	g->hooks = osmem__tools_start();
	g->hooked = g->hooks != NULL;
	__atomic_store_n(&g->ready, 1, __ATOMIC_RELEASE);
	/* Registered last and with the allocator ready, in case registering
	 * allocates. */
	osmem__unlock(&osmem__init_lock);
	osmem__fork_start();
}
