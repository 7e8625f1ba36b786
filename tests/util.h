/*
 * util.h: helpers the core tests share: patterned fills that a test can
 * verify later, the heap check as a test point, and running a function in a
 * child process to observe an abort and its message.
 */
#ifndef OSMEM_TEST_UTIL_H
#define OSMEM_TEST_UTIL_H

/* The tests look behind the pointers they get (at chunk headers), which
 * the allocation attributes of osmem.h would have the compiler warn about. */
#define OSMEM_NO_ALLOC_ATTRIBUTES 1

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "os.h"
#include "tools.h" /* every layer: the tests look inside */
#include "tap.h"

/* Fill n bytes at p with a pattern derived from seed. */
static void __attribute__((unused)) fill(void *p, size_t n, unsigned seed)
{
	unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed * 31u + i * 7u + (i >> 8));
}

/* Whether n bytes at p still hold the pattern of seed. */
static int __attribute__((unused))
filled(const void *p, size_t n, unsigned seed)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != (unsigned char)(seed * 31u + i * 7u + (i >> 8)))
			return 0;
	return 1;
}

static int __attribute__((unused)) heap_ok(const char *when)
{
	return ok(osmem__heap_check() == 0, "heap check passes %s", when);
}

/* Blocks up to 32 MiB from the heap, and no release pass between a
 * test's steps (room-t, move-t): only what the test looks at gives pages
 * back. */
static void __attribute__((unused)) heap_no_passes(void)
{
	ok(osmem_mallopt(OSMEM_M_MMAP_THRESHOLD, 32 << 20) == 1,
	   "mmap threshold 32 MiB");
	osmem__g.cfg.release_threshold = (size_t)64 << 20;
}

/* The share (in percent) of the whole pages in [p, p+len) that is
 * resident (mincore takes whole pages). */
static unsigned __attribute__((unused)) resident_pct(const void *p, size_t len)
{
	uintptr_t page = osmem__g.page;
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(page - 1);
	return (unsigned)(osmem__os_resident((void *)lo, hi - lo) * 100 /
	                  (hi - lo));
}

/* The resident set of this process in KiB, from /proc/self/statm. */
static long __attribute__((unused)) resident_kib(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	long size, rss;
	if (sscanf(buf, "%ld %ld", &size, &rss) != 2)
		return -1;
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Bytes the program holds (thread-cached blocks excluded). */
static size_t __attribute__((unused)) live_bytes(void)
{
	struct osmem_stats s;
	osmem_stats(&s);
	return s.in_use;
}

/* Tests that pin the best-fit core's placement turn the thread caches off,
 * so every call reaches the core. */
static void __attribute__((unused)) core_only(void)
{
	if (osmem_mallopt(OSMEM_M_TCACHE_COUNT, 0) != 1)
		bail("cannot turn the thread caches off");
}

/* The chunk size the core gives a request of n bytes. */
static size_t __attribute__((unused)) csize_for(size_t n)
{
	return osmem__request2size(n);
}

/* Bytes between two user pointers. */
static ptrdiff_t __attribute__((unused)) dist(const void *a, const void *b)
{
	return (const char *)b - (const char *)a;
}

/* Read fd to its end into msg (len bytes at most, NUL-terminated; the
 * rest is read and dropped, so the writer never meets a closed pipe),
 * and close it. */
static void __attribute__((unused)) read_all(int fd, char *msg, size_t len)
{
	size_t got = 0;
	ssize_t r;
	char drop[4096];
	while (got + 1 < len && (r = read(fd, msg + got, len - 1 - got)) > 0)
		got += (size_t)r;
	msg[got] = '\0';
	while (read(fd, drop, sizeof drop) > 0)
		;
	close(fd);
}

/*
 * Run fn in a child with stderr captured; returns the signal that ended it
 * (0 if it exited) and copies what it wrote to stderr into msg.
 */
static int __attribute__((unused))
in_child(void (*fn)(void), char *msg, size_t msglen)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		signal(SIGABRT, SIG_DFL);
		fn();
		_exit(0);
	}
	close(fds[1]);
	read_all(fds[0], msg, msglen);
	int status;
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

/*
 * Run this test program again as a fresh process (options are read once,
 * at start-up): self with the one argument arg, environment variable name
 * set to value (and name2 to value2 when name2 is not NULL), its stderr
 * captured into msg when msg is not NULL.  Returns the wait status.
 */
static int __attribute__((unused))
run_self(const char *self, const char *arg, const char *name,
         const char *value, const char *name2, const char *value2, char *msg,
         size_t msglen)
{
	int fds[2];
	if (msg && pipe(fds) != 0)
		bail("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		if (msg) {
			dup2(fds[1], 2);
			close(fds[0]);
		}
		setenv(name, value, 1);
		if (name2)
			setenv(name2, value2, 1);
		execl(self, self, arg, (char *)NULL);
		_exit(127);
	}
	if (msg) {
		close(fds[1]);
		read_all(fds[0], msg, msglen);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

/* The exit status of a wait status, or -1 if the process was killed. */
static int __attribute__((unused)) exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif /* OSMEM_TEST_UTIL_H */
