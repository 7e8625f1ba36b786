/*
 * tools.c: the opt-in tools' one way into the allocator.  At start-up it
 * turns on what OSMEM_OPTIONS and the environment ask for (the debug
 * checks, leak records, the trace, the heap map on a signal, memcheck's
 * annotations) and hands init.c the hook table that the slow paths and
 * the entry points call while any is on; at exit it makes the reports.
 * Each hook does the tools' part around the plain allocation below it
 * (osmem__alloc, osmem__free_now).  Layer 7.
 */
#include "tools.h"
#include "vg.h"

#include <string.h>

static void *
on_malloc(size_t n, size_t align, const void *caller)
{
	osmem__heap_map_if_wanted();
	osmem__debug_tick();
	void *p = osmem__alloc(osmem__debug_request(n), align);
	if (osmem__g.tracing) {
		if (align > OSMEM_ALIGN)
			osmem__trace('a', 3, align, n, (uintptr_t)p);
		else
			osmem__trace('m', 2, n, (uintptr_t)p, 0);
	}
	if (!p)
		return NULL;
	uint32_t stack = osmem__stacks_on() ? osmem__stack_capture(caller) : 0;
	if (osmem__g.cfg.profile[0])
		osmem__profile_alloc(stack, n, p);
	return osmem__debug_new(p, n, osmem__usable(osmem__mem2chunk(p)),
	                        stack);
}

static void *
on_free(void *p)
{
	osmem__heap_map_if_wanted();
	osmem__debug_tick();
	if (osmem__g.tracing)
		osmem__trace('f', 1, (uintptr_t)p, 0, 0);
	size_t usable = osmem__usable(osmem__mem2chunk(p));
	if (osmem__g.cfg.profile[0])
		osmem__profile_free(osmem__debug_stack(p, usable),
		                    osmem__debug_usable(p, usable), p);
	return osmem__debug_free(p, usable);
}

/* With a tool on, a resize always moves: the old block goes through
 * free's checks, the new one gets a fresh canary and junk. */
static void *
on_realloc(void *p, size_t n, const void *caller)
{
	size_t old =
	    osmem__debug_usable(p, osmem__usable(osmem__mem2chunk(p)));
	osmem__trace_quiet(1);
	osmem__count(OSMEM_CALL_MALLOC);
	void *q = on_malloc(n, OSMEM_ALIGN, caller);
	if (q) {
		memcpy(q, p, old < n ? old : n);
		osmem_free(p);
	}
	osmem__trace_quiet(0);
	if (osmem__g.tracing)
		osmem__trace('r', 3, (uintptr_t)p, n, (uintptr_t)q);
	return q;
}

static const struct osmem__hooks hooks = {
    .on_malloc = on_malloc,
    .on_free = on_free,
    .on_realloc = on_realloc,
    .usable = osmem__debug_usable,
};

/* An output that could not be written at exit is said at start-up,
 * once: template (with %p, %e) and suffix make its name. */
static void
unwritable(const char *template, const char *suffix, const char *what)
{
	char name[OSMEM_PATH_MAX + 64];
	if (!template[0])
		return;
	osmem__path_pid(template, name, sizeof name - 16);
	strcat(name, suffix);
	if (osmem__os_writable(name) != 0)
		osmem__warn(what, name);
}

const struct osmem__hooks *
osmem__tools_start(void)
{
	struct osmem__global *g = &osmem__g;
	struct osmem__config *c = &g->cfg;
	/* Reports go to a copy of stderr taken now: programs often close
	 * stderr in their own exit handlers, which run first. */
	g->stats_fd =
	    c->stats || c->leaks || c->profile[0] ? osmem__os_dup(2) : -1;
	if (c->profile[0])
		osmem__profile_start();
	/* Outputs named without %p belong to the first process that had
	 * them (osmem-run's, or this one): others add their pid (diag.c). */
	const char *owner = osmem__os_env("OSMEM_OUTPUT_PID");
	osmem__output_owner = osmem__os_pid();
	if (owner && *owner) {
		int v = 0;
		while (*owner >= '0' && *owner <= '9' && v < 100000000)
			v = v * 10 + (*owner++ - '0');
		osmem__output_owner = v;
	}
	osmem__trace_open();
	osmem__heap_map_signal();
	unwritable(c->profile, ".svg", "cannot write the profile to");
	unwritable(c->stats_file, "", "cannot write the figures to");
	/* Under memcheck, blocks are told to it (debug.c), and a freed block
	 * stays out of use for a while so a use after free lands on memory
	 * memcheck knows is freed. */
	if (c->valgrind == 1 || (c->valgrind == 2 && OSMEM_VG_MEMCHECK())) {
		g->valgrind = 1;
		if (!c->quarantine)
			c->quarantine = (size_t)16 << 20;
	}
	/* The checks and the trace see every call: no thread caches. */
	int checks = c->junk || c->canary || c->quarantine || c->guard ||
	             c->check_every || osmem__stacks_on() || g->tracing ||
	             g->valgrind;
	if (checks)
		c->tc_cap = 0;
	return checks || g->map_signal ? &hooks : NULL;
}

/* Tell the processes this one starts whose outputs a name without %p
 * means (setenv allocates: after start-up). */
__attribute__((constructor(201))) static void
export_owner(void)
{
	osmem__ensure_init();
	const struct osmem__config *c = &osmem__g.cfg;
	int outputs = c->profile[0] || c->trace[0] || c->heap_map[0] ||
	              c->stats_file[0] || osmem__os_env("OSMEM_TRACE") ||
	              osmem__os_env("OSMEM_HEAP_MAP");
	if (outputs && !osmem__os_env("OSMEM_OUTPUT_PID"))
		osmem__os_setenv_number("OSMEM_OUTPUT_PID",
		                        (size_t)osmem__output_owner);
}

/* stats=1 (text) or 2 (JSON), on the report stream or into stats_file. */
static void
stats_at_exit(int fd)
{
	const struct osmem__config *c = &osmem__g.cfg;
	int format = c->stats == 2 ? OSMEM_STATS_JSON : OSMEM_STATS_TEXT;
	if (!c->stats_file[0]) {
		osmem_stats_print(fd, format);
		return;
	}
	char name[OSMEM_PATH_MAX + 32];
	osmem__path_pid(c->stats_file, name, sizeof name);
	int out = osmem__os_open_new(name);
	if (out < 0)
		return; /* said at start-up */
	osmem_stats_print(out, format);
	osmem__os_close(out);
}

/* At exit (or when the library is unloaded): the reports asked for. */
__attribute__((destructor)) static void
at_exit(void)
{
	/* The callee-saved registers onto the stack: without the unwinder
	 * the leak check scans this thread's stack from here up. */
	__builtin_unwind_init();
	volatile char here = 0;
	const struct osmem__global *g = &osmem__g;
	if (!g->ready)
		return;
	int fd = g->stats_fd >= 0 ? g->stats_fd : 2;
	if (g->cfg.stats)
		stats_at_exit(fd);
	osmem__trace_flush();
	osmem__heap_map_at_exit();
	osmem__profile_report(fd);
	if (g->cfg.leaks && osmem__leak_report(fd, (const void *)&here) &&
	    g->cfg.leak_exitcode)
		osmem__os_exit((int)g->cfg.leak_exitcode);
}
