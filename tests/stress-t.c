/*
 * stress-t: concurrency under stress, bounded in time.  Threads are
 * created and exit continuously while others allocate (each exit hands a
 * thread cache back); signals arrive during allocation and their handler
 * allocates too (on a thread that is not inside the allocator: libosmem is
 * not async-signal-safe, and no malloc is); fork happens in a loop from
 * a process whose threads allocate.  Contents are checked throughout,
 * and no per-thread state may leak.
 */
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <time.h>

static atomic_int bad, stop;
static atomic_long made;

static void *
short_lived(void *arg)
{
	uintptr_t seed = (uintptr_t)arg;
	void *p[16];
	for (int i = 0; i < 16; i++) {
		size_t n = (seed * 31 + (unsigned)i * 97) % 3000;
		p[i] = osmem_malloc(n);
		memset(p[i], (int)i, n);
	}
	for (int i = 0; i < 16; i++) {
		size_t n = (seed * 31 + (unsigned)i * 97) % 3000;
		if (n && ((unsigned char *)p[i])[n - 1] != (unsigned char)i)
			atomic_fetch_add(&bad, 1);
		osmem_free(p[i]);
	}
	atomic_fetch_add(&made, 1);
	return NULL;
}

static void *
busy(void *arg)
{
	unsigned r = (unsigned)(uintptr_t)arg;
	void *keep[32] = {0};
	while (!atomic_load(&stop)) {
		r = r * 1103515245u + 12345u;
		int k = (int)(r >> 16) % 32;
		osmem_free(keep[k]);
		keep[k] = osmem_malloc((r >> 4) % 5000);
	}
	for (int k = 0; k < 32; k++)
		osmem_free(keep[k]);
	return NULL;
}

/* Signals: a thread that allocates in its handler, signalled by another
 * only while it is outside the allocator (it blocks the signal around
 * each call, as a program with such a handler must). */
static pthread_t sig_thread;
static atomic_long handled;

static void
handler(int sig)
{
	(void)sig;
	void *p = osmem_malloc(64);
	memset(p, 1, 64);
	osmem_free(p);
	atomic_fetch_add(&handled, 1);
}

static void *
signalled(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (!atomic_load(&stop)) {
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		void *p = osmem_malloc(200);
		memset(p, 2, 200);
		osmem_free(p);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL); /* delivered here */
	}
	return NULL;
}

/* A timer interrupts whatever thread is running, inside the allocator or
 * not; its handler does not allocate. */
static atomic_long ticks;

static void
tick(int sig)
{
	(void)sig;
	atomic_fetch_add(&ticks, 1);
}

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

int
main(void)
{
	const char *vg = getenv("OSMEM_VALGRIND");
	if (vg && *vg == '1') {
		/* valgrind runs one thread at a time: no concurrency to stress
		 * (this test runs natively and under the sanitizers). */
		tap_out("1..0 # SKIP valgrind serialises threads\n");
		return 0;
	}
	alarm(60);
	signal(SIGUSR1, handler);
	struct sigaction sa = {.sa_handler = tick, .sa_flags = SA_RESTART};
	sigaction(SIGPROF, &sa, NULL);
	struct itimerval every_ms = {{0, 1000}, {0, 1000}};
	setitimer(ITIMER_PROF, &every_ms, NULL);
	pthread_t b[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&b[i], NULL, busy, (void *)(uintptr_t)(i + 1));
	pthread_create(&sig_thread, NULL, signalled, NULL);

	double t0 = now();
	int forks = 0, children_ok = 0;
	/* At least 3 seconds and enough of each event; at most 40. */
	long want = 100;
	for (unsigned i = 0;
	     (now() - t0 < 3.0 || atomic_load(&made) <= want || forks <= 2 ||
	      atomic_load(&handled) <= want / 10 ||
	      atomic_load(&ticks) <= want) &&
	     now() - t0 < 40.0;
	     i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, short_lived,
		                   (void *)(uintptr_t)i) == 0)
			pthread_join(t, NULL);
		pthread_kill(sig_thread, SIGUSR1);
		if (i % 50 == 0) {
			pid_t pid = fork();
			if (pid == 0) {
				void *p = osmem_malloc(1000);
				memset(p, 3, 1000);
				osmem_free(p);
				_exit(osmem_check() == 0 ? 0 : 1);
			}
			int status;
			waitpid(pid, &status, 0);
			forks++;
			children_ok +=
			    WIFEXITED(status) && WEXITSTATUS(status) == 0;
		}
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(b[i], NULL);
	pthread_join(sig_thread, NULL);
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_PROF, &off, NULL);

	ok(atomic_load(&made) > want && atomic_load(&bad) == 0,
	   "%ld short-lived threads came and went, contents intact",
	   atomic_load(&made));
	ok(atomic_load(&handled) > want / 10,
	   "%ld signal handlers allocated amid allocating threads",
	   atomic_load(&handled));
	ok(atomic_load(&ticks) > want,
	   "%ld timer signals interrupted the allocating threads",
	   atomic_load(&ticks));
	ok(forks > 2 && children_ok == forks,
	   "%d of %d children forked in the loop allocated and checked clean",
	   children_ok, forks);
	/* Every exited thread's cache went back to the free list. */
	size_t live = 0;
	for (struct osmem__tcache *tc = osmem__tcaches; tc; tc = tc->next)
		live++;
	ok(live <= 1, "no per-thread state left behind (%zu caches live)",
	   live);
	heap_ok("after the stress");
	return done_testing();
}
