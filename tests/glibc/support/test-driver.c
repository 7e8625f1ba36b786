/*
 * support/test-driver.c: libosmem's stand-in for glibc's test driver, so
 * that glibc's malloc tests build and run outside glibc's tree
 * (tests/glibc-t.sh runs them under libosmem-malloc.so).  Written for
 * libosmem from the behaviour the tests rely on:
 *
 * - The test file defines do_test (or TEST_FUNCTION), optionally TIMEOUT
 *   in seconds, then includes this file, which supplies main and the
 *   support functions the stand-in headers declare.
 * - The test runs in a child process; the driver kills it after TIMEOUT
 *   seconds (times TIMEOUTFACTOR from the environment) and fails.
 * - Exit status 0 passes, 77 means unsupported, anything else fails; so
 *   does any check that failed, in the test's process or in one it forked
 *   (the record is in shared memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <support/check.h>
#include <support/support.h>
#include <support/temp_file.h>
#include <support/test-driver.h>
#include <support/xsignal.h>
#include <support/xthread.h>
#include <support/xunistd.h>

#ifndef TIMEOUT
#define TIMEOUT DEFAULT_TIMEOUT
#endif

#ifndef TEST_FUNCTION
static int do_test(void);
#endif

/* ------------------------------------------------------------------ */
/* Failures, recorded where every process of the test sees them. */
static volatile int *failed;

void
support_record_failure(void)
{
	if (failed)
		__atomic_store_n(failed, 1, __ATOMIC_SEQ_CST);
}

int
support_record_failure_is_failed(void)
{
	return failed && __atomic_load_n(failed, __ATOMIC_SEQ_CST);
}

static void
die(const char *what)
{
	printf("error: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	support_record_failure();
	exit(1);
}

/* ------------------------------------------------------------------ */
void *
xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p && n)
		die("malloc");
	return p;
}

void *
xcalloc(size_t count, size_t n)
{
	void *p = calloc(count, n);
	if (!p && count && n)
		die("calloc");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q && n)
		die("realloc");
	return q;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die("strdup");
	return p;
}

void *
support_shared_allocate(size_t n)
{
	size_t *p = mmap(NULL, n + 16, PROT_READ | PROT_WRITE,
	                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap (shared)");
	p[0] = n + 16;
	return (char *)p + 16;
}

void
support_shared_free(void *p)
{
	size_t *h = (size_t *)((char *)p - 16);
	munmap(h, h[0]);
}

/* ------------------------------------------------------------------ */
#define CHECK_PT(call, what)                                                  \
	do {                                                                  \
		int e_ = (call);                                              \
		if (e_ != 0) {                                                \
			errno = e_;                                           \
			die(what);                                            \
		}                                                             \
	} while (0)

pthread_t
xpthread_create(pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	pthread_t t;
	CHECK_PT(pthread_create(&t, attr, fn, arg), "pthread_create");
	return t;
}

void *
xpthread_join(pthread_t t)
{
	void *r;
	CHECK_PT(pthread_join(t, &r), "pthread_join");
	return r;
}

void
xpthread_kill(pthread_t t, int sig)
{
	CHECK_PT(pthread_kill(t, sig), "pthread_kill");
}

void
xpthread_mutex_lock(pthread_mutex_t *m)
{
	CHECK_PT(pthread_mutex_lock(m), "pthread_mutex_lock");
}

void
xpthread_mutex_unlock(pthread_mutex_t *m)
{
	CHECK_PT(pthread_mutex_unlock(m), "pthread_mutex_unlock");
}

void
xpthread_barrier_init(pthread_barrier_t *b, pthread_barrierattr_t *a,
                      unsigned count)
{
	CHECK_PT(pthread_barrier_init(b, a, count), "pthread_barrier_init");
}

int
xpthread_barrier_wait(pthread_barrier_t *b)
{
	int r = pthread_barrier_wait(b);
	if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD) {
		errno = r;
		die("pthread_barrier_wait");
	}
	return r == PTHREAD_BARRIER_SERIAL_THREAD;
}

void
xpthread_barrier_destroy(pthread_barrier_t *b)
{
	CHECK_PT(pthread_barrier_destroy(b), "pthread_barrier_destroy");
}

void
xpthread_barrierattr_init(pthread_barrierattr_t *a)
{
	CHECK_PT(pthread_barrierattr_init(a), "pthread_barrierattr_init");
}

void
xpthread_barrierattr_setpshared(pthread_barrierattr_t *a, int pshared)
{
	CHECK_PT(pthread_barrierattr_setpshared(a, pshared),
	         "pthread_barrierattr_setpshared");
}

void
xpthread_barrierattr_destroy(pthread_barrierattr_t *a)
{
	CHECK_PT(pthread_barrierattr_destroy(a), "pthread_barrierattr_destroy");
}

void
xpthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	CHECK_PT(pthread_sigmask(how, set, old), "pthread_sigmask");
}

/* ------------------------------------------------------------------ */
pid_t
xfork(void)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	return pid;
}

pid_t
xwaitpid(pid_t pid, int *status, int flags)
{
	pid_t r = waitpid(pid, status, flags);
	if (r < 0)
		die("waitpid");
	return r;
}

int
xopen(const char *path, int flags, int mode)
{
	int fd = open(path, flags, mode);
	if (fd < 0) {
		printf("error: open %s: %s\n", path, strerror(errno));
		support_record_failure();
		exit(1);
	}
	return fd;
}

void
xclose(int fd)
{
	if (close(fd) != 0 && errno != EINTR)
		die("close");
}

void
xpipe(int fds[2])
{
	if (pipe(fds) != 0)
		die("pipe");
}

void *
xmmap(void *addr, size_t len, int prot, int flags, int fd)
{
	void *p = mmap(addr, len, prot, flags, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

void
xmunmap(void *addr, size_t len)
{
	if (munmap(addr, len) != 0)
		die("munmap");
}

sighandler_t
xsignal(int sig, sighandler_t handler)
{
	sighandler_t old = signal(sig, handler);
	if (old == SIG_ERR)
		die("signal");
	return old;
}

void
xsigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sigaction(sig, act, old) != 0)
		die("sigaction");
}

/* ------------------------------------------------------------------ */
/* Temporary files, removed by the process that made them when it exits. */
static char *temp_names[16];
static int ntemp;
static pid_t temp_owner;

static void
remove_temp_files(void)
{
	if (getpid() != temp_owner)
		return;
	for (int i = 0; i < ntemp; i++)
		unlink(temp_names[i]);
}

void
add_temp_file(const char *name)
{
	if (ntemp == 0) {
		temp_owner = getpid();
		atexit(remove_temp_files);
	}
	if (ntemp < (int)(sizeof temp_names / sizeof temp_names[0]))
		temp_names[ntemp++] = xstrdup(name);
}

int
create_temp_file(const char *base, char **name)
{
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	size_t len = strlen(dir) + strlen(base) + 16;
	char *path = xmalloc(len);
	snprintf(path, len, "%s/%sXXXXXX", dir, base);
	int fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return -1;
	}
	add_temp_file(path);
	if (name)
		*name = path;
	else
		free(path);
	return fd;
}

/* ------------------------------------------------------------------ */
static int
run_test(void)
{
#ifdef TEST_FUNCTION
	return TEST_FUNCTION;
#else
	return do_test();
#endif
}

int
main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	failed = mmap(NULL, sizeof *failed, PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (failed == MAP_FAILED)
		die("mmap");
	long factor = 1;
	const char *tf = getenv("TIMEOUTFACTOR");
	if (tf && atol(tf) > 0)
		factor = atol(tf);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		setpgid(0, 0); /* the driver kills the whole group on timeout */
		int r = run_test();
		fflush(stdout);
		exit(r == 0 && support_record_failure_is_failed() ? 1 : r);
	}
	setpgid(pid, pid);
	/* Wait, polling every 10 ms, up to the timeout. */
	long waited = 0, limit = (long)TIMEOUT * factor * 100;
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			die("waitpid");
		if (++waited > limit) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			printf("Timed out: killed the test after %ld s\n",
			       (long)TIMEOUT * factor);
			return 1;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (WIFSIGNALED(status)) {
		printf("Didn't expect signal from child: got `%s'\n",
		       strsignal(WTERMSIG(status)));
		return 1;
	}
	int code = WEXITSTATUS(status);
	if (code == 0 && support_record_failure_is_failed())
		code = 1;
	return code;
}
