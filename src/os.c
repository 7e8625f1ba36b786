/*
 * os.c: the only file that talks to the operating system.  Everything the
 * allocator needs from the kernel (the break, mappings, page release,
 * randomness, writing a diagnostic, aborting) goes through here, and so does
 * the fault seam the tests use to make any of these calls fail.
 */
#include "os.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/random.h>
#ifdef HAVE_SYS_SINGLE_THREADED_H
#include <sys/single_threaded.h>
#endif
#include <unistd.h>

struct fault {
	long skip, count;
	unsigned long calls;
};
static struct fault faults[OSMEM_OS_NCALLS];

void
osmem__os_fail(enum osmem__os_call kind, long skip, long count)
{
	faults[kind].skip = skip;
	faults[kind].count = count;
}

unsigned long
osmem__os_calls(enum osmem__os_call kind)
{
	return __atomic_load_n(&faults[kind].calls, __ATOMIC_RELAXED);
}

/* Whether this call of the given kind is to fail. */
static int
should_fail(enum osmem__os_call kind)
{
	struct fault *f = &faults[kind];
	__atomic_fetch_add(&f->calls, 1, __ATOMIC_RELAXED);
	if (OSMEM_LIKELY(f->count == 0))
		return 0;
	if (f->skip > 0) {
		f->skip--;
		return 0;
	}
	if (f->count > 0)
		f->count--;
	return 1;
}

/*
 * Every byte the allocator holds from the system is counted here, so the
 * optional limit (OSMEM_OPTIONS=limit=SIZE) is enforced in one place: a
 * call that would pass it fails as if the system had said no.
 */
static size_t held;

static int
take(size_t len)
{
	size_t limit = osmem__g.cfg.limit;
	size_t now = __atomic_add_fetch(&held, len, __ATOMIC_RELAXED);
	if (limit && now > limit) {
		__atomic_sub_fetch(&held, len, __ATOMIC_RELAXED);
		return 0;
	}
	return 1;
}

static void
give(size_t len)
{
	__atomic_sub_fetch(&held, len, __ATOMIC_RELAXED);
}

size_t
osmem__os_held(void)
{
	return __atomic_load_n(&held, __ATOMIC_RELAXED);
}

/*
 * The heap's break.  Every arena may grow from it (the main arena's heap,
 * the others' aligned regions), so the allocator's moves of it are made
 * under one lock, and after each the break heap's window is set: from 16
 * bytes past the start to the end, in osmem__g.win_lo and win_span.
 * Every block of the break heap lies in it, and all of it is mapped (the
 * break's memory is contiguous, whoever moved it), so a pointer inside
 * may have its header read unchecked (osmem_free's first test).
 *
 * When the system's break cannot move any more (valgrind gives a program
 * 8 MiB of it; a mapping may stand in its way), the heap's break goes on
 * in a mapping reserved for it (MAP_NORESERVE: only the pages used cost
 * anything), and the window moves there; the system break's pages are
 * marked in the page map so its blocks stay known.  Under valgrind tools
 * other than memcheck the mapped break is used from the start, so that a
 * profile follows the paths a program takes outside valgrind.
 */
osmem__lock_t osmem__brk_lock;
static uintptr_t brk_lo;            /* start of the window's memory */
static int mapped;                  /* the mapped break is in use */
static char *m_lo, *m_cur, *m_end;  /* the mapped break */

/* The window's memory is now [brk_lo, end) (the lock held). */
static void
set_window(uintptr_t end)
{
	size_t span = end > brk_lo + 16 ? end - brk_lo - 16 : 0;
	__atomic_store_n(&osmem__g.win_span, span, __ATOMIC_RELEASE);
}

static void
start_window(uintptr_t lo)
{
	__atomic_store_n(&osmem__g.win_span, 0, __ATOMIC_RELEASE);
	brk_lo = lo;
	__atomic_store_n(&osmem__g.win_lo, lo + 16, __ATOMIC_RELEASE);
}

/* Leave the system break for the mapped one (the lock held). */
static void
go_mapped(void)
{
	if (brk_lo) {
		char *end = sbrk(0);
		if (osmem__pages_mark((void *)brk_lo, (size_t)(end - (char *)brk_lo),
		                      1) != 0)
			return; /* then keep the system break */
	}
	mapped = 1;
	brk_lo = 0;
	__atomic_store_n(&osmem__g.win_span, 0, __ATOMIC_RELEASE);
}

/* Reserve the mapped break, as much address space as the system lets us
 * (the lock held); 0 if it would not. */
static int
reserve(void)
{
	for (size_t want = (size_t)64 << 30; !m_lo && want >= ((size_t)1 << 30);
	     want /= 2) {
		char *r = mmap(NULL, want, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (r != MAP_FAILED) {
			m_lo = m_cur = r;
			m_end = r + want;
			start_window((uintptr_t)r);
		}
	}
	return m_lo != NULL;
}

/* Grow the heap's break by len bytes: the old end, or NULL (the lock
 * held). */
static char *
brk_grow(size_t len)
{
	if (should_fail(OSMEM_OS_SBRK) || !take(len))
		return NULL;
	if (!mapped) {
		char *p = sbrk((intptr_t)len);
		if (p != (char *)-1) {
			if (!brk_lo)
				start_window((uintptr_t)p);
			set_window((uintptr_t)p + len);
			return p;
		}
		go_mapped();
	}
	if (!mapped || !reserve() || (size_t)(m_end - m_cur) < len) {
		give(len);
		return NULL;
	}
	char *p = m_cur;
	m_cur += len;
	set_window((uintptr_t)m_cur);
	return p;
}

void
osmem__os_brk_avoid(void)
{
	osmem__lock(&osmem__brk_lock);
	if (!mapped)
		go_mapped();
	osmem__unlock(&osmem__brk_lock);
}

void *
osmem__os_sbrk(size_t len)
{
	osmem__lock(&osmem__brk_lock);
	char *p = brk_grow(len);
	osmem__unlock(&osmem__brk_lock);
	return p;
}

void *
osmem__os_sbrk_aligned(size_t len, size_t align)
{
	osmem__lock(&osmem__brk_lock);
	uintptr_t cur = mapped && reserve() ? (uintptr_t)m_cur
	                                    : (uintptr_t)sbrk(0);
	size_t pad = (size_t)(osmem__round_up(cur, align) - cur);
	char *p = brk_grow(pad + len), *q = NULL;
	if (p) {
		/* Another user of the break may have moved it meanwhile (or
		 * the heap moved to the mapped break): what we got must still
		 * hold an aligned region, or it stays unused. */
		q = (char *)osmem__round_up((uintptr_t)p, align);
		if (q + len > p + pad + len)
			q = NULL;
	}
	osmem__unlock(&osmem__brk_lock);
	return q;
}

int
osmem__os_brk_shrink(void *end, size_t cut)
{
	int r = -1;
	osmem__lock(&osmem__brk_lock);
	if (mapped && end == m_cur && m_lo) {
		/* Out of the window before the memory goes. */
		set_window((uintptr_t)end - cut);
		m_cur -= cut;
		(void)madvise(m_cur, cut, MADV_DONTNEED);
		give(cut);
		r = 0;
	} else if (sbrk(0) == end && !should_fail(OSMEM_OS_SBRK)) {
		if (!mapped)
			set_window((uintptr_t)end - cut);
		if (sbrk(-(intptr_t)cut) != (void *)-1) {
			if (mapped) /* a segment left on the system break */
				(void)osmem__pages_mark((char *)end - cut, cut, 0);
			give(cut);
			r = 0;
		} else if (!mapped) {
			set_window((uintptr_t)end);
		}
	}
	osmem__unlock(&osmem__brk_lock);
	return r;
}

void *
osmem__os_map(size_t len)
{
	if (should_fail(OSMEM_OS_MMAP) || !take(len))
		return NULL;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		give(len);
		return NULL;
	}
	return p;
}

void *
osmem__os_map_aligned(size_t len, size_t align)
{
	char *p = osmem__os_map(len + align);
	if (!p)
		return NULL;
	char *q = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	/* Slack that cannot be given back stays mapped, unused. */
	if (q > p)
		(void)osmem__os_unmap(p, (size_t)(q - p));
	if (q + len < p + len + align)
		(void)osmem__os_unmap(q + len,
		                      (size_t)(p + len + align - (q + len)));
	return q;
}

unsigned
osmem__os_ncpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

int
osmem__os_unmap(void *p, size_t len)
{
	/* munmap can fail: splitting a mapping needs one more, and the
	 * process may be at its limit (vm.max_map_count).  errno is left as
	 * it was: free never changes it. */
	int saved = errno;
	if (should_fail(OSMEM_OS_MUNMAP) || munmap(p, len) != 0) {
		errno = saved;
		return -1;
	}
	give(len);
	return 0;
}

void *
osmem__os_remap(void *p, size_t old, size_t len)
{
	if (should_fail(OSMEM_OS_MMAP))
		return NULL;
	if (len > old && !take(len - old))
		return NULL;
	void *q = mremap(p, old, len, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		if (len > old)
			give(len - old);
		return NULL;
	}
	if (len < old)
		give(old - len);
	return q;
}

int
osmem__os_guard(void *p, size_t len)
{
	return mprotect(p, len, PROT_NONE);
}

int
osmem__os_release(void *p, size_t len)
{
	if (should_fail(OSMEM_OS_MADVISE))
		return -1;
	return madvise(p, len, MADV_DONTNEED);
}

size_t
osmem__os_page_size(void)
{
	unsigned long ps = getauxval(AT_PAGESZ);
	return ps ? (size_t)ps : 4096;
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
	return v ^ ((uint64_t)(uintptr_t)&faults * 0x9e3779b97f4a7c15ull);
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
			if (__atomic_compare_exchange_n(v, &c,
			                                me | OSMEM_LOCK_WAITERS, 0,
			                                __ATOMIC_ACQUIRE,
			                                __ATOMIC_RELAXED))
				return;
			continue;
		}
		if (!(c & OSMEM_LOCK_WAITERS) &&
		    !__atomic_compare_exchange_n(v, &c, c | OSMEM_LOCK_WAITERS,
		                                 0, __ATOMIC_RELAXED,
		                                 __ATOMIC_RELAXED))
			continue;
		syscall(SYS_futex, v, FUTEX_WAIT_PRIVATE, c | OSMEM_LOCK_WAITERS,
		        NULL, NULL, 0);
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
osmem__os_symbol(const void *addr, const char **sym, const void **sym_addr,
                 const char **object)
{
	Dl_info info;
	if (!dladdr(addr, &info))
		return 0;
	*sym = info.dli_sname;
	*sym_addr = info.dli_saddr;
	*object = info.dli_fname;
	return 1;
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
