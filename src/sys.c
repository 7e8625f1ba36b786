/*
 * sys.c: the rest of os.h, everything that is not memory: randomness,
 * files and diagnostics' output, thread numbers and the futex under
 * lock.h, threads' exit, fork, signals, the C library's stream lock, and
 * the way out.  With os.c, the only file that calls the operating system
 * or the C library's thread machinery.  Layer 2.
 */
#include "os.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#ifdef HAVE_SYS_SINGLE_THREADED_H
#include <sys/single_threaded.h>
#endif
#include <time.h>
#include <unistd.h>

unsigned
osmem__os_ncpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

uint64_t
osmem__os_random(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
		/* Fall back to the 16 bytes the kernel put on our stack. */
		const unsigned char *r =
		    (const unsigned char *)getauxval(AT_RANDOM);
		if (r)
			for (int i = 0; i < 8; i++)
				v = (v << 8) | r[i];
	}
	/* Mix in an address so a missing AT_RANDOM still varies with ASLR. */
	return v ^ ((uint64_t)(uintptr_t)&osmem__self * 0x9e3779b97f4a7c15ull);
}

int
osmem__os_open_append(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int
osmem__os_open_new(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

void
osmem__os_close(int fd)
{
	close(fd);
}

int
osmem__os_pid(void)
{
	return (int)getpid();
}

int
osmem__os_dup(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

void
osmem__os_write(int fd, const char *buf, size_t len)
{
	int saved = errno;
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf += n;
		len -= (size_t)n;
	}
	errno = saved;
}

/* Thread numbers for lock.h: even and nonzero, so the waiters bit is
 * free; a thread keeps its number for life, and a forked child's one
 * thread keeps the one it had. */
__thread int osmem__self __attribute__((tls_model("initial-exec")));
static int next_self;

int
osmem__self_new(void)
{
	int me;
	do
		me = (int)((unsigned)__atomic_add_fetch(&next_self, 2,
		                                        __ATOMIC_RELAXED) &
		           0x7ffffffe);
	while (me == 0);
	osmem__self = me;
	return me;
}

/* The contended half of the lock in lock.h: spin briefly, then sleep
 * until the holder's unlock wakes us, marking the lock as having waiters
 * (and taking it so marked, since others may still be asleep). */
void
osmem__lock_wait(int *v, int me)
{
	for (int spin = 0; spin < 100; spin++) {
		int c = 0;
		if (__atomic_load_n(v, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(v, &c, me, 0, __ATOMIC_ACQUIRE,
		                                __ATOMIC_RELAXED))
			return;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	for (;;) {
		int c = __atomic_load_n(v, __ATOMIC_RELAXED);
		if (c == 0) {
			if (__atomic_compare_exchange_n(
			        v, &c, me | OSMEM_LOCK_WAITERS, 0,
			        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return;
			continue;
		}
		if (!(c & OSMEM_LOCK_WAITERS) &&
		    !__atomic_compare_exchange_n(v, &c, c | OSMEM_LOCK_WAITERS,
		                                 0, __ATOMIC_RELAXED,
		                                 __ATOMIC_RELAXED))
			continue;
		syscall(SYS_futex, v, FUTEX_WAIT_PRIVATE,
		        c | OSMEM_LOCK_WAITERS, NULL, NULL, 0);
	}
}

void
osmem__lock_wake(int *v)
{
	syscall(SYS_futex, v, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

int
osmem__os_on_signal(int sig, void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

void
osmem__os_exit(int code)
{
	_exit(code);
}

int
osmem__os_atfork(void (*prepare)(void), void (*parent)(void),
                 void (*child)(void))
{
	return pthread_atfork(prepare, parent, child);
}

int
osmem__os_thread_key(unsigned *key, void (*fn)(void *))
{
	pthread_key_t k;
	if (pthread_key_create(&k, fn) != 0)
		return -1;
	*key = (unsigned)k;
	return 0;
}

void
osmem__os_thread_set(unsigned key, void *value)
{
	pthread_setspecific((pthread_key_t)key, value);
}

const char *
osmem__os_progname(void)
{
	return program_invocation_short_name ? program_invocation_short_name
	                                     : "";
}

int
osmem__os_writable(const char *path)
{
	if (access(path, W_OK) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	/* Not there yet: its directory must take a new file. */
	char dir[512];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	if (n >= sizeof dir)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return access(n ? dir : (slash ? "/" : "."), W_OK | X_OK);
}

const char *
osmem__os_env(const char *name)
{
	return getenv(name);
}

int
osmem__os_symbol(const void *addr, const char **sym, const void **sym_addr,
                 const char **object, const void **object_base)
{
	Dl_info info;
	if (!dladdr(addr, &info))
		return 0;
	*sym = info.dli_sname;
	*sym_addr = info.dli_saddr;
	*object = info.dli_fname;
	*object_base = info.dli_fbase;
	return 1;
}

uint64_t
osmem__os_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t
osmem__os_max_rss(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (size_t)ru.ru_maxrss << 10;
}

void
osmem__os_setenv_number(const char *name, size_t v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%zu", v);
	setenv(name, buf, 0);
}

void
osmem__os_unsetenv(const char *name)
{
	unsetenv(name);
}

void *
osmem__os_library(const char *name)
{
	return dlopen(name, RTLD_NOW | RTLD_LOCAL);
}

void *
osmem__os_library_sym(void *lib, const char *name)
{
	return dlsym(lib, name);
}

/* A hexadecimal number at *s, which moves past it. */
static uintptr_t
hex(const char **s, const char *end)
{
	uintptr_t v = 0;
	for (; *s < end; ++*s) {
		char c = **s;
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
		             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		                                    : 16u;
		if (d == 16)
			break;
		v = v << 4 | d;
	}
	return v;
}

/* One line of /proc/self/maps: "lo-hi perms offset dev inode path". */
static int
rw_line(const char *s, const char *end, struct osmem__range *r)
{
	r->lo = hex(&s, end);
	if (s >= end || *s++ != '-')
		return 0;
	r->hi = hex(&s, end);
	if (end - s < 6 || s[1] != 'r' || s[2] != 'w')
		return 0;
	int shared = s[4] == 's';
	/* The inode is the fifth field; 0 for anonymous memory. */
	for (int field = 0; field < 4 && s < end; s++)
		if (*s == ' ' && s + 1 < end && s[1] != ' ')
			field++;
	return !(shared && hex(&s, end) != 0);
}

size_t
osmem__os_rw_maps(struct osmem__range *out, size_t max)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char buf[8192];
	size_t have = 0, n = 0;
	for (;;) {
		ssize_t got = read(fd, buf + have, sizeof buf - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		have += (size_t)got;
		char *line = buf, *nl;
		while (
		    (nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			if (n < max && rw_line(line, nl, &out[n]))
				n++;
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof buf)
			have = 0; /* a line longer than the buffer: skipped */
	}
	close(fd);
	return n;
}

int
osmem__os_single_threaded(void)
{
#ifdef HAVE_SYS_SINGLE_THREADED_H
	return __libc_single_threaded;
#else
	return 0;
#endif
}

#ifdef HAVE__IO_LIST_LOCK
/* glibc exports these (GLIBC_2.2.5) but declares them in no installed
 * header. */
extern void _IO_list_lock(void);
extern void _IO_list_unlock(void);
extern void _IO_list_resetlock(void);
#else
#define _IO_list_lock() ((void)0)
#define _IO_list_unlock() ((void)0)
#define _IO_list_resetlock() ((void)0)
#endif

void
osmem__os_stdio_lock(void)
{
	_IO_list_lock();
}

void
osmem__os_stdio_unlock(void)
{
	_IO_list_unlock();
}

void
osmem__os_stdio_reset(void)
{
	_IO_list_resetlock();
}

void
osmem__os_abort(void)
{
	abort();
}
