/*
 * tools.h: the opt-in tools, which reach the allocator only through the
 * hook table that tools.c fills in: the debug checks (debug.c), the leak
 * report (leaks.c), the trace (trace.c), the heap map (heapmap.c), and
 * the fork handlers (fork.c), which hold every layer's locks.  Layer 7.
 */
#ifndef OSMEM_TOOLS_H
#define OSMEM_TOOLS_H

#include "api.h"

/* debug.c: junk, canary, quarantine, check_every, and the tail that
 * records a block's caller and the size asked for. */
/* Bytes to ask for so that n fit with the tail. */
OSMEM_INTERNAL size_t osmem__debug_request(size_t n);
/* Bytes the program may use of block p, usable bytes long. */
OSMEM_INTERNAL size_t osmem__debug_usable(const void *p, size_t usable);
/* Set up new block p (n asked for, usable long) for the checks. */
OSMEM_INTERNAL void *osmem__debug_new(void *p, size_t n, size_t usable,
                                      const void *caller);
/* The call site recorded in block p, or NULL. */
OSMEM_INTERNAL const void *osmem__debug_caller(const void *p, size_t usable);
/* Check block p before it is freed: the block to free now (p, or one
 * the quarantine let go), or NULL. */
OSMEM_INTERNAL void *osmem__debug_free(void *p, size_t usable);
/* One call more: the heap checker runs every check_every calls. */
OSMEM_INTERNAL void osmem__debug_tick(void);
extern osmem__lock_t osmem__quarantine_lock OSMEM_INTERNAL;

/* leaks.c: the report at exit; returns the number of leaked blocks. */
OSMEM_INTERNAL size_t osmem__leak_report(int fd);

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
