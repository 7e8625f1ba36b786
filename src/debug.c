/*
 * debug.c: the opt-in checks (OSMEM_OPTIONS junk, canary, quarantine,
 * check_every; guard pages are large.c's).  When any is on, the thread
 * caches are off, so every call reaches the slow paths, which call here:
 *
 *   junk        new blocks are filled with 0xa5 (calloc's then zeroed),
 *               freed blocks with 0x5a;
 *   canary      8 bytes after the bytes asked for hold a value keyed by the
 *               secret and the address, checked when the block is freed or
 *               resized; the size asked for is kept at the block's end;
 *   quarantine  freed blocks wait, junk-filled, until this many bytes
 *               are waiting; when one leaves, its junk must be intact, or
 *               something wrote to it after it was freed;
 *   check_every the heap checker runs every N calls;
 *   leaks       each block records its stack (stacks.c); at exit the lost
 *               ones are reported by stack (leaks.c); profile= too.
 *
 * With canary, leaks or profile on, each block ends with a tail: the
 * stack and the size asked for in its last 16 bytes, the canary (if on)
 * right after the bytes asked for.  Each finding ends the process with one
 * line naming the block.  Layer 7.
 */
#include "tools.h"
#include "vg.h"

#include <string.h>

#define JUNK_NEW 0xa5
#define JUNK_FREE 0x5a
#define TAIL 24u /* canary, stack number, size asked for */

static inline int
tail_on(void)
{
	return osmem__g.cfg.canary || osmem__stacks_on() || osmem__g.valgrind;
}

osmem__lock_t osmem__quarantine_lock;
static struct {
	void *head, *tail; /* oldest first; linked through the first word */
	size_t bytes;
	size_t calls;
} q;

static inline uint64_t
canary_of(const void *p)
{
	return ((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull) ^
	       osmem__g.secret ^ 0x6f736d656d636e72ull;
}

size_t
osmem__debug_request(size_t n)
{
	if (!tail_on())
		return n;
	return n > SIZE_MAX - TAIL ? SIZE_MAX : n + TAIL;
}

/* Bytes the program may use in block p of usable bytes: what it asked for
 * when canaries are on. */
/* The tail lies in memory memcheck is told the program may not touch;
 * the allocator's own reads open it for a moment. */
static void
tail_read(const void *p, size_t usable, size_t off, void *out, size_t len)
{
	const char *at = (const char *)p + usable - off;
	OSMEM_VG_DEFINED(at, len);
	memcpy(out, at, len);
	if (osmem__g.valgrind)
		OSMEM_VG_NOACCESS(at, len);
}

size_t
osmem__debug_usable(const void *p, size_t usable)
{
	if (!tail_on() || usable < TAIL)
		return usable;
	size_t n;
	tail_read(p, usable, sizeof n, &n, sizeof n);
	return n <= usable - TAIL ? n : usable;
}

/* The stack recorded in block p of usable bytes (leaks=1), or 0. */
uint32_t
osmem__debug_stack(const void *p, size_t usable)
{
	uintptr_t id = 0;
	if (osmem__stacks_on() && usable >= TAIL)
		tail_read(p, usable, 2 * sizeof id, &id, sizeof id);
	return (uint32_t)id;
}

void *
osmem__debug_new(void *p, size_t n, size_t usable, uint32_t stack)
{
	if (!p)
		return p;
	if (osmem__g.cfg.junk)
		memset(p, JUNK_NEW, n);
	else if (osmem__g.cfg.leaks && !osmem__g.valgrind &&
	         (!(osmem__mem2chunk(p)->head & OSMEM_F_MMAP) ||
	          !osmem__large_zero(osmem__mem2chunk(p))))
		/* Reused memory keeps old pointers where the program has
		 * not written yet, which would hide leaks from the check
		 * (memcheck knows those bytes are undefined).  A new
		 * mapping comes as zero pages. */
		memset(p, 0, n);
	if (tail_on()) {
		memcpy((char *)p + usable - sizeof n, &n, sizeof n);
		uintptr_t id = stack;
		memcpy((char *)p + usable - 2 * sizeof id, &id, sizeof id);
	}
	if (osmem__g.cfg.canary) {
		uint64_t c = canary_of(p);
		memcpy((char *)p + n, &c, sizeof c);
	}
	if (osmem__g.valgrind) {
		/* The n bytes are a block to memcheck; the rest is off limits,
		 * so writing past the end is reported. */
		OSMEM_VG_MALLOCLIKE(p, n);
		OSMEM_VG_NOACCESS((char *)p + n, usable - n);
	}
	return p;
}

/* The bytes of a freed block filled with junk: all but the tail's stack
 * and size, so that a second free still names the block's size. */
static size_t
junk_len(size_t usable)
{
	return tail_on() && usable >= TAIL ? usable - 2 * sizeof(size_t)
	                                   : usable;
}

static void
check_junk(void *p, size_t usable)
{
	const unsigned char *b = p;
	/* The first word links the quarantine. */
	for (size_t i = sizeof(void *); i < usable; i++)
		if (b[i] != JUNK_FREE)
			osmem__fatal("write after free to", b + i, usable);
}

/*
 * The blocks in quarantine, as a set, so that a second free of one is
 * named a double free (its header still says in use: to the heap it is).
 * Open addressing with linear probing over pointers, in pages of its own,
 * doubled when half full; the quarantine lock held.  Without memory to
 * grow it, blocks go unrecorded (and a second free of them is caught as a
 * write after free, or not at all).
 */
static struct {
	void **slot;
	size_t cap, n; /* cap: a power of two, or 0 */
} held;

static size_t
home(const void *p, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 20) & (cap - 1);
}

static int
held_has(const void *p)
{
	for (size_t i = held.cap ? home(p, held.cap) : 0; held.cap;
	     i = (i + 1) & (held.cap - 1)) {
		if (held.slot[i] == p)
			return 1;
		if (!held.slot[i])
			return 0;
	}
	return 0;
}

static void
held_put(void *p)
{
	if (2 * (held.n + 1) > held.cap) {
		size_t cap = held.cap ? 2 * held.cap : 512;
		void **slot = osmem__os_map(cap * sizeof *slot);
		if (!slot)
			return;
		for (size_t j = 0; j < held.cap; j++) {
			if (!held.slot[j])
				continue;
			size_t i = home(held.slot[j], cap);
			while (slot[i])
				i = (i + 1) & (cap - 1);
			slot[i] = held.slot[j];
		}
		if (held.cap)
			(void)osmem__os_unmap(held.slot,
			                      held.cap * sizeof *held.slot);
		held.slot = slot;
		held.cap = cap;
	}
	size_t i = home(p, held.cap);
	while (held.slot[i])
		i = (i + 1) & (held.cap - 1);
	held.slot[i] = p;
	held.n++;
}

/* Remove p, closing the gap so that every probe run stays unbroken. */
static void
held_drop(const void *p)
{
	size_t i = held.cap ? home(p, held.cap) : 0;
	for (; held.cap && held.slot[i] != p; i = (i + 1) & (held.cap - 1))
		if (!held.slot[i])
			return; /* never recorded */
	if (!held.cap)
		return;
	held.slot[i] = NULL;
	held.n--;
	for (size_t j = (i + 1) & (held.cap - 1); held.slot[j];
	     j = (j + 1) & (held.cap - 1)) {
		size_t h = home(held.slot[j], held.cap);
		/* Move it back if its home is not in (i, j]. */
		if ((j > i && (h <= i || h > j)) ||
		    (j < i && h <= i && h > j)) {
			held.slot[i] = held.slot[j];
			held.slot[j] = NULL;
			i = j;
		}
	}
}

static size_t leaving(void *p);

int
osmem__debug_held(const void *p)
{
	osmem__lock(&osmem__quarantine_lock);
	int in = held_has(p);
	osmem__unlock(&osmem__quarantine_lock);
	return in;
}

void *
osmem__debug_free(void *p, size_t usable)
{
	const struct osmem__config *cfg = &osmem__g.cfg;
	if (cfg->quarantine && osmem__debug_held(p))
		osmem__fatal("double free of", p,
		             osmem__debug_usable(p, usable));
	size_t asked = osmem__debug_usable(p, usable);
	if (osmem__g.valgrind)
		OSMEM_VG_UNDEFINED((char *)p + asked, usable - asked);
	if (cfg->canary) {
		size_t n = asked;
		uint64_t c;
		memcpy(&c, (char *)p + n, sizeof c);
		if (n + TAIL > usable || c != canary_of(p))
			osmem__fatal("overflow past the end of", p, n);
	}
	if (cfg->junk || cfg->quarantine)
		memset(p, JUNK_FREE, junk_len(usable));
	if (!cfg->quarantine)
		return p;
	/* Into the quarantine; the oldest blocks leave once it is full. */
	void *out = NULL;
	osmem__lock(&osmem__quarantine_lock);
	*(void **)p = NULL;
	if (osmem__g.valgrind)
		OSMEM_VG_FREELIKE(p); /* memcheck: freed, and now off limits */
	if (q.tail) {
		OSMEM_VG_DEFINED(q.tail, sizeof(void *));
		*(void **)q.tail = p;
		if (osmem__g.valgrind)
			OSMEM_VG_NOACCESS(q.tail, sizeof(void *));
	} else
		q.head = p;
	q.tail = p;
	q.bytes += usable;
	held_put(p);
	if (q.bytes > cfg->quarantine) {
		out = q.head;
		OSMEM_VG_DEFINED(out, sizeof(void *));
		q.head = *(void **)out;
		if (!q.head)
			q.tail = NULL;
		held_drop(out);
		q.bytes -= leaving(out);
	}
	osmem__unlock(&osmem__quarantine_lock);
	return out;
}

/* A block leaving the quarantine: its junk must be intact. */
static size_t
leaving(void *p)
{
	size_t usable = osmem__usable(osmem__mem2chunk(p));
	/* Back in the allocator's hands: to memcheck, it holds the junk
	 * written when it was freed. */
	OSMEM_VG_DEFINED(p, usable);
	check_junk(p, junk_len(usable));
	return usable;
}

void
osmem__debug_tick(void)
{
	size_t every = osmem__g.cfg.check_every;
	if (every &&
	    __atomic_add_fetch(&q.calls, 1, __ATOMIC_RELAXED) % every == 0 &&
	    osmem__heap_check() != 0)
		osmem__os_abort(); /* the checker has said what it found */
}
