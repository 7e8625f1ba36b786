/*
 * lock.h: the allocator's lock, a futex mutex whose word names its holder:
 * 0 when free, else the holding thread's number (even, nonzero), plus 1
 * when threads wait.  An uncontended lock and unlock are one atomic
 * instruction each (a pthread mutex costs a call and some thirty); a
 * contended one sleeps in the kernel (sys.c).  Naming the holder lets fork
 * tell the locks its own thread holds (a signal handler that forks while
 * the thread it interrupted is inside the allocator) from those it must
 * wait for.  No initialisation call is needed, so it works before main
 * and before libc has finished starting up; a child after fork resets it
 * by a store.  Layer 2.
 */
#ifndef OSMEM_LOCK_H
#define OSMEM_LOCK_H

#include "base.h"

typedef struct {
	int v;
} osmem__lock_t;
#define OSMEM_LOCK_INIT                                                       \
	{                                                                     \
		0                                                             \
	}
#define OSMEM_LOCK_WAITERS 1

/* The calling thread's number (sys.c hands them out), shifted so that the
 * waiters bit is free. */
extern __thread int osmem__self
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

/* sys.c */
OSMEM_INTERNAL int osmem__self_new(void);
OSMEM_INTERNAL void osmem__lock_wait(int *v, int me);
OSMEM_INTERNAL void osmem__lock_wake(int *v);

static inline int
osmem__me(void)
{
	int me = osmem__self;
	return OSMEM_LIKELY(me != 0) ? me : osmem__self_new();
}

static inline void
osmem__lock(osmem__lock_t *l)
{
	int c = 0, me = osmem__me();
	if (__builtin_expect(!__atomic_compare_exchange_n(&l->v, &c, me, 0,
	                                                  __ATOMIC_ACQUIRE,
	                                                  __ATOMIC_RELAXED),
	                     0))
		osmem__lock_wait(&l->v, me);
}

static inline void
osmem__unlock(osmem__lock_t *l)
{
	if (__builtin_expect(__atomic_exchange_n(&l->v, 0, __ATOMIC_RELEASE) &
	                         OSMEM_LOCK_WAITERS,
	                     0))
		osmem__lock_wake(&l->v);
}

/* Take l if it is free: 1, or 0 without waiting. */
static inline int
osmem__trylock(osmem__lock_t *l)
{
	int c = 0;
	return __atomic_compare_exchange_n(&l->v, &c, osmem__me(), 0,
	                                   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* Whether the calling thread holds l. */
static inline int
osmem__lock_mine(const osmem__lock_t *l)
{
	int v = __atomic_load_n(&l->v, __ATOMIC_RELAXED);
	return (v & ~OSMEM_LOCK_WAITERS) == osmem__me();
}

/* After fork the child has one thread; start its locks afresh. */
static inline void
osmem__lock_reset(osmem__lock_t *l)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELAXED);
}

#endif /* OSMEM_LOCK_H */
