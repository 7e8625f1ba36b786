/*
 * lock.h: the allocator's lock, a three-state futex mutex (0 free, 1 held,
 * 2 held with waiters): an uncontended lock and unlock are one atomic
 * instruction each, where a pthread mutex costs a call and some thirty
 * instructions; contention sleeps in the kernel (os.c).  It needs no
 * initialisation call, so it works before main and before libc has
 * finished starting up, and a child after fork resets it by a store.
 */
#ifndef OSMEM_LOCK_H
#define OSMEM_LOCK_H

typedef struct {
	int v;
} osmem__lock_t;
#define OSMEM_LOCK_INIT { 0 }

/* os.c */
__attribute__((visibility("hidden"))) void osmem__lock_wait(int *v);
__attribute__((visibility("hidden"))) void osmem__lock_wake(int *v);

static inline void
osmem__lock(osmem__lock_t *l)
{
	int c = 0;
	if (__builtin_expect(!__atomic_compare_exchange_n(&l->v, &c, 1, 0,
	                                                  __ATOMIC_ACQUIRE,
	                                                  __ATOMIC_RELAXED),
	                     0))
		osmem__lock_wait(&l->v);
}

static inline void
osmem__unlock(osmem__lock_t *l)
{
	if (__builtin_expect(__atomic_exchange_n(&l->v, 0, __ATOMIC_RELEASE) ==
	                         2,
	                     0))
		osmem__lock_wake(&l->v);
}

/* After fork the child has one thread; start its locks afresh. */
static inline void
osmem__lock_reset(osmem__lock_t *l)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELAXED);
}

#endif /* OSMEM_LOCK_H */
