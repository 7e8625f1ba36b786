/*
 * lock.h: the one lock type the allocator uses, so that its kind can change
 * in one place.  A plain pthread mutex: it needs no initialisation call, so
 * it works before main and before libc has finished starting up, and glibc
 * 2.34 and later carry it in libc itself.
 */
#ifndef OSMEM_LOCK_H
#define OSMEM_LOCK_H

#include <pthread.h>

typedef pthread_mutex_t osmem__lock_t;
#define OSMEM_LOCK_INIT PTHREAD_MUTEX_INITIALIZER

static inline void
osmem__lock(osmem__lock_t *l)
{
	pthread_mutex_lock(l);
}

static inline void
osmem__unlock(osmem__lock_t *l)
{
	pthread_mutex_unlock(l);
}

/* After fork the child has one thread; start its locks afresh. */
static inline void
osmem__lock_reset(osmem__lock_t *l)
{
	pthread_mutex_init(l, NULL);
}

#endif /* OSMEM_LOCK_H */
