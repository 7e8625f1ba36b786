/*
 * os.c: memory from the operating system, the half of os.h that moves
 * the break and maps, unmaps and releases pages (sys.c has the rest),
 * with the optional limit on bytes held, the opt-in advice to back them
 * with huge pages, and the fault seam the tests use to make any of these
 * calls fail.  Layer 2: it uses base.h and lock.h only, and never aborts
 * on a failure.
 */
#include "os.h"
#include "vg.h"

#include <errno.h>
#include <sys/auxv.h>
#include <sys/mman.h>
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
static size_t held, limit;

void
osmem__os_set_limit(size_t most)
{
	limit = most;
}

static int
take(size_t len)
{
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

/*
 * thp=1 (osmem(7)): new break and mappings of at least a huge page are
 * advised to be backed by transparent huge pages, where the system's mode
 * is "madvise" (under "always" they are anyway, under "never" not at
 * all).  A large block written in full then takes a fault per 2 MiB, not
 * per page.  Opt-in, as in glibc (glibc.malloc.hugetlb) and jemalloc
 * (opt.thp): a block touched sparsely holds whole huge pages, and a fault
 * may wait for the kernel to compact memory.  The advice is all there is:
 * a system without huge pages refuses it, and nothing else changes.
 */
#define HUGE_PAGE ((size_t)2 << 20)
static int huge;

void
osmem__os_set_huge(int on)
{
	huge = on;
}

/* Advise the whole pages of [p, p + len), when thp=1. */
static void
advise_huge(void *p, size_t len)
{
	if (!huge)
		return;
	uintptr_t page = osmem__os_page_size();
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(page - 1);
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

size_t
osmem__os_resident(const void *p, size_t len)
{
	size_t page = osmem__os_page_size(), n = 0;
	unsigned char vec[1024];
	for (size_t off = 0; off < len; off += sizeof vec * page) {
		size_t part = len - off < sizeof vec * page
		                  ? len - off
		                  : sizeof vec * page;
		if (mincore((char *)(uintptr_t)p + off, part, vec) != 0)
			continue;
		for (size_t i = 0; i < (part + page - 1) / page; i++)
			n += (vec[i] & 1) * page;
	}
	return n;
}

size_t
osmem__os_held(void)
{
	return __atomic_load_n(&held, __ATOMIC_RELAXED);
}

/*
 * The heap's break.  Every arena may grow from it (the main arena's heap,
 * the others' aligned regions), so the allocator's moves of it are made
 * under one lock, and after each the window (os.h) is set: from 16 bytes
 * past the start to the end.  The break's memory is contiguous, whoever
 * moved it, so all of the window is mapped.
 *
 * When the system's break cannot move any more (valgrind gives a program
 * 8 MiB of it; a mapping may stand in its way), the heap's break goes on
 * in a mapping reserved for it (MAP_NORESERVE: only the pages used cost
 * anything), and the window moves there; what the heap had of the
 * system's break stays known as the old window.  Under valgrind tools
 * other than memcheck the mapped break is used from the start, so that a
 * profile follows the paths a program takes outside valgrind.
 */
struct osmem__window osmem__win, osmem__win_old;
osmem__lock_t osmem__brk_lock;
static uintptr_t brk_lo;           /* start of the window's memory */
static int mapped;                 /* the mapped break is in use */
static char *m_lo, *m_cur, *m_end; /* the mapped break */

/* Window w now covers [lo + 16, end) (the lock held). */
static void
set_window(struct osmem__window *w, uintptr_t lo, uintptr_t end)
{
	size_t span = end > lo + 16 ? end - lo - 16 : 0;
	if (w->lo != lo + 16) {
		__atomic_store_n(&w->span, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&w->lo, lo + 16, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&w->span, span, __ATOMIC_RELEASE);
}

/* Leave the system break for the mapped one (the lock held). */
static void
go_mapped(void)
{
	if (brk_lo)
		set_window(&osmem__win_old, brk_lo, (uintptr_t)sbrk(0));
	mapped = 1;
	brk_lo = 0;
	__atomic_store_n(&osmem__win.span, 0, __ATOMIC_RELEASE);
}

/* Reserve the mapped break, as much address space as the system lets us
 * (the lock held); 0 if it would not. */
static int
reserve(void)
{
	for (size_t want = (size_t)64 << 30;
	     !m_lo && want >= ((size_t)1 << 30); want /= 2) {
		char *r =
		    mmap(NULL, want, PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (r != MAP_FAILED) {
			m_lo = m_cur = r;
			m_end = r + want;
			brk_lo = (uintptr_t)r;
			set_window(&osmem__win, brk_lo, brk_lo);
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
				brk_lo = (uintptr_t)p;
			set_window(&osmem__win, brk_lo, (uintptr_t)p + len);
			/* every growth, so that the break stays one region */
			advise_huge(p, len);
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
	set_window(&osmem__win, brk_lo, (uintptr_t)m_cur);
	advise_huge(p, len);
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
	uintptr_t cur =
	    mapped && reserve() ? (uintptr_t)m_cur : (uintptr_t)sbrk(0);
	size_t pad = osmem__round_up(cur, align) - cur;
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
	uintptr_t lo = (uintptr_t)end - cut;
	osmem__lock(&osmem__brk_lock);
	if (mapped && end == m_cur && m_lo) {
		/* Out of the window before the memory goes. */
		set_window(&osmem__win, brk_lo, lo);
		m_cur -= cut;
		(void)madvise(m_cur, cut, MADV_DONTNEED);
		give(cut);
		r = 0;
	} else if (sbrk(0) == end && !should_fail(OSMEM_OS_SBRK)) {
		/* The system break: the current window, or the old one when
		 * the heap has moved to the mapped break. */
		struct osmem__window *w =
		    mapped ? &osmem__win_old : &osmem__win;
		uintptr_t from = mapped ? w->lo - 16 : brk_lo;
		set_window(w, from, lo);
		if (sbrk(-(intptr_t)cut) != (void *)-1) {
			give(cut);
			r = 0;
		} else {
			set_window(w, from, (uintptr_t)end);
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
	if (len >= HUGE_PAGE)
		advise_huge(p, len);
	return p;
}

void *
osmem__os_map_aligned(size_t len, size_t align)
{
	char *p = osmem__os_map(len + align);
	if (!p)
		return NULL;
	char *q =
	    (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	/* Slack that cannot be given back stays mapped, unused. */
	if (q > p)
		(void)osmem__os_unmap(p, (size_t)(q - p));
	if (q + len < p + len + align)
		(void)osmem__os_unmap(q + len,
		                      (size_t)(p + len + align - (q + len)));
	return q;
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
osmem__os_move(void *from, size_t len, void *to)
{
	/* valgrind keeps the system's break itself: a mapping moved into
	 * it would leave the break unable to grow. */
	osmem__lock(&osmem__brk_lock);
	int vg_brk = !mapped && OSMEM_VG_RUNNING();
	osmem__unlock(&osmem__brk_lock);
	if (vg_brk)
		return -1;
	if (!should_fail(OSMEM_OS_MMAP) &&
	    mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) == to) {
		give(len); /* counted twice: as the mapping and at to */
		return 0;
	}
	/* The system may have unmapped [to, to + len) before failing: what
	 * was there (fresh pages) comes back. */
	int saved = errno;
	void *q = mmap(to, len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	errno = saved;
	return q == to ? -1 : -2;
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

void
osmem__os_populate(void *p, size_t len)
{
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
	/* whole pages only: the break may have been left unaligned */
	uintptr_t page = osmem__os_page_size();
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(page - 1);
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
}

size_t
osmem__os_page_size(void)
{
	unsigned long ps = getauxval(AT_PAGESZ);
	return ps ? (size_t)ps : 4096;
}
