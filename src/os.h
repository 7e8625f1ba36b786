/*
 * os.h: every operating-system primitive the allocator uses, behind one
 * small interface (implemented in os.c), with a seam that makes chosen
 * calls fail so tests can prove each failure is handled.  Nothing here
 * aborts: every call returns its failure to the caller.  Layer 2.
 */
#ifndef OSMEM_OS_H
#define OSMEM_OS_H

#include "base.h"
#include "lock.h"

/* Kinds of call that the fault seam can fail. */
enum osmem__os_call {
	OSMEM_OS_SBRK,
	OSMEM_OS_MMAP,
	OSMEM_OS_MADVISE,
	OSMEM_OS_MUNMAP,
	OSMEM_OS_NCALLS
};

/*
 * The break heap's window: a pointer p with p - lo < span lies in memory
 * the allocator's break holds, all of it mapped (NULL never does), so
 * its header may be read unchecked.  os.c keeps it true at every move of
 * the break.  old: the part of the system's break the heap used before
 * it went on in a mapped break (see os.c), empty until then.
 */
struct osmem__window {
	uintptr_t lo;
	size_t span;
};
extern struct osmem__window osmem__win OSMEM_INTERNAL;
extern struct osmem__window osmem__win_old OSMEM_INTERNAL;

static inline int
osmem__in(const struct osmem__window *w, const void *p)
{
	return (uintptr_t)p - w->lo < w->span;
}

/* Grow the break by len bytes; the old break, or NULL. */
OSMEM_INTERNAL void *osmem__os_sbrk(size_t len);
/* len bytes of new break aligned to align (a power of two), or NULL; the
 * padding before them stays unused. */
OSMEM_INTERNAL void *osmem__os_sbrk_aligned(size_t len, size_t align);
/* Grow the heap in its mapped break from now on (see os.c). */
OSMEM_INTERNAL void osmem__os_brk_avoid(void);
/* Shrink the break by cut bytes if it is still at end: 0, or -1. */
OSMEM_INTERNAL int osmem__os_brk_shrink(void *end, size_t cut);
extern osmem__lock_t osmem__brk_lock OSMEM_INTERNAL;
/* The most bytes held from the system at once (0: no limit). */
OSMEM_INTERNAL void osmem__os_set_limit(size_t limit);
/* Whether new break and mappings of a huge page or more are advised to be
 * backed by huge pages (OSMEM_OPTIONS=thp=1). */
OSMEM_INTERNAL void osmem__os_set_huge(int on);
/* Fresh zeroed read-write private memory, or NULL. */
OSMEM_INTERNAL void *osmem__os_map(size_t len);
/* 0, or -1 if the system refused (the pages stay mapped and counted). */
OSMEM_INTERNAL int osmem__os_unmap(void *p, size_t len);
/* len bytes aligned to align (a power of two, at least a page). */
OSMEM_INTERNAL void *osmem__os_map_aligned(size_t len, size_t align);
/* Processors this process may run on. */
OSMEM_INTERNAL unsigned osmem__os_ncpu(void);
/* Grow or shrink a mapping, possibly moving it; NULL on failure. */
OSMEM_INTERNAL void *osmem__os_remap(void *p, size_t old, size_t len);
/* Move the pages of [from, from + len), a whole mapping or a part of one
 * (page-aligned), to [to, to + len), in place of what is there: resident
 * pages keep their contents and are not faulted in again.  0; -1, nothing
 * moved and [to, to + len) holding fresh zeroed pages; -2, not even those
 * (the caller cannot go on). */
OSMEM_INTERNAL int osmem__os_move(void *from, size_t len, void *to);
/* Make pages inaccessible (a guard page). */
OSMEM_INTERNAL int osmem__os_guard(void *p, size_t len);
/* Give the pages back; their contents read as zero afterwards. */
OSMEM_INTERNAL int osmem__os_release(void *p, size_t len);
/* Fault in the pages of [p, p+len) for writing, at once (Linux 5.14's
 * MADV_POPULATE_WRITE); on an older kernel, or short of memory, nothing
 * happens and the pages come in as they are touched. */
OSMEM_INTERNAL void osmem__os_populate(void *p, size_t len);
OSMEM_INTERNAL size_t osmem__os_page_size(void);
/* Bytes of [p, p + len) (page-aligned) in memory now (mincore). */
OSMEM_INTERNAL size_t osmem__os_resident(const void *p, size_t len);
/* Bytes held from the system now (break, mappings). */
OSMEM_INTERNAL size_t osmem__os_held(void);
/* 64 random bits from the kernel, without allocating. */
OSMEM_INTERNAL uint64_t osmem__os_random(void);
OSMEM_INTERNAL void osmem__os_write(int fd, const char *buf, size_t len);
/* Open path for writing, created if need be and either appended to or
 * emptied; close-on-exec; or -1. */
OSMEM_INTERNAL int osmem__os_open_append(const char *path);
OSMEM_INTERNAL int osmem__os_open_new(const char *path);
OSMEM_INTERNAL void osmem__os_close(int fd);
OSMEM_INTERNAL int osmem__os_pid(void);
/* A private, close-on-exec copy of fd (or -1). */
OSMEM_INTERNAL int osmem__os_dup(int fd);
OSMEM_INTERNAL OSMEM_NORETURN void osmem__os_abort(void);
OSMEM_INTERNAL OSMEM_NORETURN void osmem__os_exit(int code);
/* Call fn when signal sig arrives (SA_RESTART); 0 on success. */
OSMEM_INTERNAL int osmem__os_on_signal(int sig, void (*fn)(int));
/* Whether the process has only ever had one thread (glibc's
 * __libc_single_threaded). */
OSMEM_INTERNAL int osmem__os_single_threaded(void);
/* The C library's lock on its list of streams (recursive), which its fork
 * takes after the prepare handlers; reset: in a child after fork. */
OSMEM_INTERNAL void osmem__os_stdio_lock(void);
OSMEM_INTERNAL void osmem__os_stdio_unlock(void);
OSMEM_INTERNAL void osmem__os_stdio_reset(void);
/* Run prepare, parent and child around every fork; 0 on success. */
OSMEM_INTERNAL int osmem__os_atfork(void (*prepare)(void),
                                    void (*parent)(void), void (*child)(void));
/* A key whose destructor runs fn(value) at thread exit (0 on success),
 * and setting this thread's value of it. */
OSMEM_INTERNAL int osmem__os_thread_key(unsigned *key, void (*fn)(void *));
OSMEM_INTERNAL void osmem__os_thread_set(unsigned key, void *value);
/* The program's name, without its directory ("" if unknown). */
OSMEM_INTERNAL const char *osmem__os_progname(void);
/* Whether a file could be created or written at path (0), or not (-1,
 * errno says why), without creating it. */
OSMEM_INTERNAL int osmem__os_writable(const char *path);
/* An environment variable read at start-up (no allocation), or NULL. */
OSMEM_INTERNAL const char *osmem__os_env(const char *name);
/* The symbol and object nearest an address, and where each starts
 * (dladdr); 0 if none. */
OSMEM_INTERNAL int osmem__os_symbol(const void *addr, const char **sym,
                                    const void **sym_addr, const char **object,
                                    const void **object_base);
/* Nanoseconds of a monotonic clock, to its coarse resolution (a few
 * milliseconds; it costs a few nanoseconds). */
OSMEM_INTERNAL uint64_t osmem__os_now_ns(void);
/* The most memory this process has had resident, in bytes. */
OSMEM_INTERNAL size_t osmem__os_max_rss(void);
/* Set an environment variable to a number (after start-up). */
OSMEM_INTERNAL void osmem__os_setenv_number(const char *name, size_t v);
/* Remove a variable from the environment (at exit, for the tools). */
OSMEM_INTERNAL void osmem__os_unsetenv(const char *name);

/* A shared library loaded for the tools, its symbols kept to itself
 * (RTLD_LOCAL), or NULL; and a symbol of it, or NULL. */
OSMEM_INTERNAL void *osmem__os_library(const char *name);
OSMEM_INTERNAL void *osmem__os_library_sym(void *lib, const char *name);
/* The process's readable and writable memory, from /proc/self/maps:
 * private and anonymous mappings (not files mapped shared), at most max
 * of them into out, in address order, read without allocating; the
 * number found, or 0. */
struct osmem__range {
	uintptr_t lo, hi;
};
OSMEM_INTERNAL size_t osmem__os_rw_maps(struct osmem__range *out, size_t max);

/*
 * Fault seam: make calls of one kind fail.  After osmem__os_fail(kind,
 * skip, count), the next skip calls succeed and the count after them fail
 * (count < 0: all of them).  osmem__os_calls() counts calls made so far.
 */
OSMEM_INTERNAL void osmem__os_fail(enum osmem__os_call kind, long skip,
                                   long count);
OSMEM_INTERNAL unsigned long osmem__os_calls(enum osmem__os_call kind);

#endif /* OSMEM_OS_H */
