/*
 * tools.h: the opt-in tools, which reach the allocator only through the
 * hook table that tools.c fills in: the debug checks (debug.c), the leak
 * report (leaks.c) with its stacks (stacks.c) and their names
 * (symbols.c), the trace (trace.c), the heap map (heapmap.c), and
 * the fork handlers (fork.c), which hold every layer's locks.  Layer 7.
 */
#ifndef OSMEM_TOOLS_H
#define OSMEM_TOOLS_H

#include "api.h"

/* debug.c: junk, canary, quarantine, check_every, and the tail that
 * records a block's stack and the size asked for. */
/* Bytes to ask for so that n fit with the tail. */
OSMEM_INTERNAL size_t osmem__debug_request(size_t n);
/* Bytes the program may use of block p, usable bytes long. */
OSMEM_INTERNAL size_t osmem__debug_usable(const void *p, size_t usable);
/* Set up new block p (n asked for, usable long) for the checks. */
OSMEM_INTERNAL void *osmem__debug_new(void *p, size_t n, size_t usable,
                                      uint32_t stack);
/* The stack recorded in block p, or 0. */
OSMEM_INTERNAL uint32_t osmem__debug_stack(const void *p, size_t usable);
/* Whether block p waits in the quarantine (freed). */
OSMEM_INTERNAL int osmem__debug_held(const void *p);
/* Check block p before it is freed: the block to free now (p, or one
 * the quarantine let go), or NULL. */
OSMEM_INTERNAL void *osmem__debug_free(void *p, size_t usable);
/* One call more: the heap checker runs every check_every calls. */
OSMEM_INTERNAL void osmem__debug_tick(void);
extern osmem__lock_t osmem__quarantine_lock OSMEM_INTERNAL;

/* Whether allocations record their stacks: for the leak check or the
 * profile. */
static inline int
osmem__stacks_on(void)
{
	return osmem__g.cfg.leaks || osmem__g.cfg.profile[0];
}

/* stacks.c: the stacks of recorded allocations, kept once each. */
struct osmem__prof {
	size_t calls, bytes, temps; /* allocations, their bytes, and how
	                               many were freed before anything
	                               else was allocated */
	size_t live, peak;          /* bytes live now, and at the peak */
	uint64_t epoch;             /* the peak live was last taken at */
	uint32_t dirty;             /* changed since the last sample */
	uint32_t mark_gen, mark_row, mark_pos; /* for compaction */
};
struct osmem__stack {
	uint64_t hash;
	uint32_t n, at; /* frames, and where they start in the pool */
	size_t bytes[3], blocks[3]; /* the leak report's sums (leaks.c) */
	struct osmem__prof p;       /* the profile's figures (profile.c) */
};
/* The stack of an allocation the program called from caller: its
 * number, or 0 if it could not be kept. */
OSMEM_INTERNAL uint32_t osmem__stack_capture(const void *caller);
/* Stack number id and its frames (return addresses), or NULL. */
OSMEM_INTERNAL struct osmem__stack *osmem__stack_get(uint32_t id,
                                                     const uintptr_t **frames);
OSMEM_INTERNAL size_t osmem__stack_count(void);
/* The return addresses of this thread's stack now, at most max (0
 * without libunwind). */
OSMEM_INTERNAL size_t osmem__stack_here(void **buf, size_t max);
/* Grow mapped array *a of *cap items of size bytes to hold need (at
 * least doubling); 0 on success. */
OSMEM_INTERNAL int osmem__tools_grow(void **a, size_t *cap, size_t need,
                                     size_t size);
/* From now on (the report has begun), allocations record no stack. */
OSMEM_INTERNAL void osmem__stack_stop(void);
/* Whether libunwind was found (else a stack is its call site). */
OSMEM_INTERNAL int osmem__stack_unwinder(void);
extern osmem__lock_t osmem__stack_lock OSMEM_INTERNAL;

/* symbols.c: names of code addresses, at exit. */
OSMEM_INTERNAL void osmem__symbols_open(void);
OSMEM_INTERNAL void osmem__symbols_close(void);
/* A name for return address pc into out. */
OSMEM_INTERNAL void osmem__symbol_name(uintptr_t pc, char *out, size_t len);
/* Only its function's name (else object+offset), for the profile. */
OSMEM_INTERNAL void osmem__symbol_short(uintptr_t pc, char *out, size_t len);

/* profile.c: the heap profile (profile=NAME). */
OSMEM_INTERNAL void osmem__profile_start(void);
/* Block p of n bytes asked for, with stack id: allocated, or freed. */
OSMEM_INTERNAL void osmem__profile_alloc(uint32_t id, size_t n, const void *p);
OSMEM_INTERNAL void osmem__profile_free(uint32_t id, size_t n, const void *p);
/* At exit: the files, and the summary onto fd. */
OSMEM_INTERNAL void osmem__profile_report(int fd);
extern osmem__lock_t osmem__profile_lock OSMEM_INTERNAL;

/* profsvg.c: the profile's pictures. */
struct osmem__flame_line {
	char *frames; /* "outermost;...;innermost" */
	size_t bytes;
};
/* A flame graph of lines (sorted by frames) onto fd. */
OSMEM_INTERNAL void osmem__svg_flame(int fd, const struct osmem__flame_line *l,
                                     size_t n, const char *title);
struct osmem__series {
	const char *name;
	const size_t *v; /* bytes at each row */
};
/* Memory over time: total[r] bytes at t[r] ns, the series stacked
 * under it, the peak marked. */
OSMEM_INTERNAL void osmem__svg_timeline(int fd, const uint64_t *t,
                                        const size_t *total, size_t nrow,
                                        const struct osmem__series *s,
                                        size_t ns, uint64_t peak_t,
                                        size_t peak, const char *title);

/* leaks.c: the report at exit, with the stack scanned from sp up; the
 * number of lost blocks. */
OSMEM_INTERNAL size_t osmem__leak_report(int fd, const void *sp);

/* trace.c: recording calls (OSMEM_TRACE). */
OSMEM_INTERNAL void osmem__trace_open(void);
OSMEM_INTERNAL void osmem__trace_flush(void);
/* Write the buffered lines out; the trace lock held. */
OSMEM_INTERNAL void osmem__trace_write_out(void);
OSMEM_INTERNAL void osmem__trace(char op, int count, uintptr_t x, uintptr_t y,
                                 uintptr_t z);
/* While on, this thread's calls are not recorded (inside a realloc). */
OSMEM_INTERNAL void osmem__trace_quiet(int on);
extern osmem__lock_t osmem__trace_lock OSMEM_INTERNAL;

/* heapmap.c: the map OSMEM_HEAP_MAP asks for at exit, or on a signal. */
OSMEM_INTERNAL void osmem__heap_map_at_exit(void);
OSMEM_INTERNAL void osmem__heap_map_signal(void);
OSMEM_INTERNAL void osmem__heap_map_if_wanted(void);
extern osmem__lock_t osmem__map_lock OSMEM_INTERNAL;

#endif /* OSMEM_TOOLS_H */
