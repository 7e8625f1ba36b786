/* support/xthread.h: libosmem's stand-in (see support/check.h): the
 * pthread calls, each failing the test if it fails. */
#ifndef OSMEM_GLIBC_XTHREAD_H
#define OSMEM_GLIBC_XTHREAD_H

#include <pthread.h>
#include <signal.h>

pthread_t xpthread_create(pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);
void *xpthread_join(pthread_t t);
void xpthread_kill(pthread_t t, int sig);
void xpthread_mutex_lock(pthread_mutex_t *m);
void xpthread_mutex_unlock(pthread_mutex_t *m);
void xpthread_barrier_init(pthread_barrier_t *b, pthread_barrierattr_t *a,
                           unsigned count);
int xpthread_barrier_wait(pthread_barrier_t *b);
void xpthread_barrier_destroy(pthread_barrier_t *b);
void xpthread_barrierattr_init(pthread_barrierattr_t *a);
void xpthread_barrierattr_setpshared(pthread_barrierattr_t *a, int pshared);
void xpthread_barrierattr_destroy(pthread_barrierattr_t *a);
void xpthread_sigmask(int how, const sigset_t *set, sigset_t *old);

#endif
