/*
 * stacks.c: the allocation stacks the leak report and the profile name.
 * Each recorded allocation keeps the return addresses of its callers, up
 * to frames=N deep (default 16), found by libunwind's unw_backtrace from
 * the unwind tables (.eh_frame), so they hold in code built without frame
 * pointers as Debian's libraries are.  Equal stacks are kept once, in a
 * hash table in pages of its own, so a busy program pays for a stack when
 * it first appears, and a block carries only the stack's number.
 *
 * libunwind is loaded at start-up with dlopen, RTLD_LOCAL, only when a
 * tool wants stacks: linked in, its _Unwind_* functions could stand in
 * for libgcc's under every C++ program.  Until it is loaded (allocations
 * made by the dynamic loader, or if it is missing) and while it runs (in
 * case it allocates), a stack is the one call site the entry point saw.
 * Nothing here calls malloc.  Layer 7.
 */
#include "tools.h"

#include <string.h>

#define FRAMES_MAX 64
#define OURS_MAX 12 /* the allocator's own frames below the call site */

osmem__lock_t osmem__stack_lock;

/* A slot of the hash table: a stack's hash and length name it (64 bits
 * of hash: two different stacks of a run sharing them is as likely as
 * 10^-11), so a look-up touches neither the record nor the frames. */
struct slot {
	uint64_t hash;
	uint32_t id, n;
};

/* Records stay where they are made (the profile updates them without
 * the stack lock): in chunks of CHUNK, never moved. */
#define CHUNK 4096u
#define CHUNKS 4096u

static struct {
	struct osmem__stack *chunk[CHUNKS]; /* record 0 is no stack */
	size_t nrec;
	struct slot *slot; /* open addressing; id 0: empty */
	size_t cap;        /* a power of two */
	uintptr_t *frame;
	size_t nframe, capframe;
} st;

static int (*unwind)(void **, int);
static __thread int unwinding __attribute__((tls_model("initial-exec")));
static int stopped; /* the report has begun: no more stacks */

/* Load the unwinder when a tool wants stacks.  After the allocator's own
 * start-up (init.c's constructor runs it first: dlopen allocates). */
__attribute__((constructor(200))) static void
load_unwinder(void)
{
	osmem__ensure_init();
	if (!osmem__stacks_on())
		return;
	stopped = 1; /* what loading allocates is the tools' */
	void *lib = osmem__os_library("libunwind.so.8");
	stopped = 0;
	if (lib)
		unwind = (int (*)(void **, int))osmem__os_library_sym(
		    lib, "unw_backtrace");
}

int
osmem__stack_unwinder(void)
{
	return unwind != NULL;
}

int
osmem__tools_grow(void **a, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? 2 * *cap : 4096;
	while (n < need)
		n *= 2;
	void *b = osmem__os_map(n * size);
	if (!b)
		return -1;
	if (*a) {
		memcpy(b, *a, *cap * size);
		(void)osmem__os_unmap(*a, *cap * size);
	}
	*a = b;
	*cap = n;
	return 0;
}

static struct osmem__stack *
rec(size_t id)
{
	return &st.chunk[id / CHUNK][id % CHUNK];
}

static uint64_t
hash_of(const uintptr_t *f, size_t n)
{
	uint64_t h = 0x736f6d656d737461ull ^ n;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ f[i]) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 32;
	}
	return h;
}

/* Make room for one record more, rehashing when the table is half
 * full; 0 on success.  The stack lock held. */
static int
room(size_t nf)
{
	size_t c = (st.nrec + 1) / CHUNK;
	if (c >= CHUNKS)
		return -1;
	if (!st.chunk[c] && !(st.chunk[c] = osmem__os_map(
	                          CHUNK * sizeof(struct osmem__stack))))
		return -1;
	if (osmem__tools_grow((void **)&st.frame, &st.capframe, st.nframe + nf,
	                      sizeof *st.frame))
		return -1;
	if (st.nrec == 0)
		st.nrec = 1; /* number 0 means none */
	if (2 * (st.nrec + 1) <= st.cap)
		return 0;
	size_t cap = st.cap ? 2 * st.cap : 8192;
	struct slot *slot = osmem__os_map(cap * sizeof *slot);
	if (!slot)
		return -1;
	for (size_t i = 0; i < st.cap; i++) {
		if (!st.slot[i].id)
			continue;
		size_t j = (size_t)st.slot[i].hash & (cap - 1);
		while (slot[j].id)
			j = (j + 1) & (cap - 1);
		slot[j] = st.slot[i];
	}
	if (st.slot)
		(void)osmem__os_unmap(st.slot, st.cap * sizeof *st.slot);
	st.slot = slot;
	st.cap = cap;
	return 0;
}

/* Each thread's stacks of late, by hash: a hit takes neither the lock
 * nor a cache miss in the table.  In a page of the thread's own, given
 * back when it exits (a thread key's destructor). */
#define RECENT 256
static __thread struct slot *recent __attribute__((tls_model("initial-exec")));
static unsigned recent_key;
static int recent_keyed; /* 1: made, -1: could not be */

static void
recent_free(void *p)
{
	(void)osmem__os_unmap(p, RECENT * sizeof *recent);
}

static struct slot *
recent_of_thread(void)
{
	if (recent)
		return recent;
	if (!__atomic_load_n(&recent_keyed, __ATOMIC_ACQUIRE)) {
		osmem__lock(&osmem__stack_lock);
		if (!recent_keyed)
			recent_keyed =
			    osmem__os_thread_key(&recent_key, recent_free) == 0
			        ? 1
			        : -1;
		osmem__unlock(&osmem__stack_lock);
	}
	if (recent_keyed < 0 ||
	    !(recent = osmem__os_map(RECENT * sizeof *recent)))
		return NULL;
	osmem__os_thread_set(recent_key, recent);
	return recent;
}

/* The number of stack f[0..n), added if new; 0 without memory. */
static uint32_t
intern(const uintptr_t *f, size_t n)
{
	uint64_t h = hash_of(f, n);
	struct slot *cache = recent_of_thread(), spare = {0, 0, 0};
	struct slot *mine = cache ? &cache[h % RECENT] : &spare;
	if (mine->id && mine->hash == h && mine->n == n)
		return mine->id;
	uint32_t r = 0;
	osmem__lock(&osmem__stack_lock);
	for (size_t i = st.cap ? (size_t)h & (st.cap - 1) : 0; st.cap;
	     i = (i + 1) & (st.cap - 1)) {
		const struct slot *sl = &st.slot[i];
		if (!sl->id)
			break;
		if (sl->hash == h && sl->n == n) {
			r = sl->id;
			goto out;
		}
	}
	if (st.nrec >= UINT32_MAX - 1 || room(n))
		goto out;
	r = (uint32_t)st.nrec;
	struct osmem__stack *s = rec(r);
	memset(s, 0, sizeof *s);
	s->hash = h;
	s->n = (uint32_t)n;
	s->at = (uint32_t)st.nframe;
	memcpy(st.frame + st.nframe, f, n * sizeof *f);
	st.nframe += n;
	size_t i = (size_t)h & (st.cap - 1);
	while (st.slot[i].id)
		i = (i + 1) & (st.cap - 1);
	st.slot[i] = (struct slot){h, r, (uint32_t)n};
	__atomic_store_n(&st.nrec, st.nrec + 1, __ATOMIC_RELEASE);
out:
	osmem__unlock(&osmem__stack_lock);
	if (r)
		*mine = (struct slot){h, r, (uint32_t)n};
	return r;
}

void
osmem__stack_stop(void)
{
	__atomic_store_n(&stopped, 1, __ATOMIC_RELAXED);
}

uint32_t
osmem__stack_capture(const void *caller)
{
	if (__atomic_load_n(&stopped, __ATOMIC_RELAXED) || unwinding)
		return 0; /* the tools' own (libunwind's thread-local data) */
	void *buf[FRAMES_MAX + OURS_MAX];
	size_t depth = osmem__g.cfg.frames, n = 0, i = 0;
	if (unwind) {
		unwinding = 1;
		int got = unwind(buf, (int)(depth + OURS_MAX));
		unwinding = 0;
		n = got > 0 ? (size_t)got : 0;
		/* Start at the program's call into the allocator. */
		while (i < n && buf[i] != caller)
			i++;
	}
	if (i >= n) {
		buf[0] = (void *)(uintptr_t)caller;
		i = 0;
		n = 1;
	}
	if (n - i > depth)
		n = i + depth;
	return intern((const uintptr_t *)(buf + i), n - i);
}

size_t
osmem__stack_here(void **buf, size_t max)
{
	int got = unwind && !unwinding ? unwind(buf, (int)max) : 0;
	return got > 0 ? (size_t)got : 0;
}

struct osmem__stack *
osmem__stack_get(uint32_t id, const uintptr_t **frames)
{
	if (!id || id >= __atomic_load_n(&st.nrec, __ATOMIC_ACQUIRE))
		return NULL;
	*frames = st.frame + rec(id)->at;
	return rec(id);
}

size_t
osmem__stack_count(void)
{
	return st.nrec ? st.nrec - 1 : 0;
}
