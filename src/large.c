/*
 * large.c: chunks that get a mapping of their own (requests at or above the
 * mmap threshold).  A large buffer never pins heap memory, and a fresh
 * mapping is already zero.  A freed mapping is kept, its pages still
 * there, for the next large request, which resizes it in place or moves it
 * (mremap keeps the pages): a program replacing large buffers in a loop
 * then writes into pages it has, rather than faulting in new ones.  What
 * is kept stays under half the bytes in use, and goes back before new
 * pages are touched (osmem__large_drop, from make_room) and on trim; or
 * its pages move to where the break grows (osmem__large_recycle).
 *
 * A mapping m holds, in order: a struct osmem__large linking every live
 * large chunk (so the walker and checker find them), padding up to the
 * alignment asked for, and the chunk c with head M|C.  c->prev_foot is the
 * distance from m to c; the chunk runs to the end of the mapping.  Their
 * figures are the main arena's (under the large lock).  Layer 4.
 */
#include "core.h"

#include <errno.h>

/* The bytes of guard page at the end of mapping l. */
static inline size_t
guard_of(const struct osmem__large *l)
{
	return l->guard & ~(uint64_t)OSMEM_LARGE_USED;
}

osmem__lock_t osmem__large_lock;
static struct osmem__large *live; /* every live large chunk */

/* call: whether this is an allocation (not a move) to count. */
static void
link_large(struct osmem__large *l, size_t len, int call)
{
	struct osmem__counters *st = &osmem__g.arena[0].st;
	osmem__lock(&osmem__large_lock);
	l->prev = NULL;
	l->next = live;
	if (live)
		live->prev = l;
	live = l;
	st->large += len;
	st->nlarge++;
	st->nlarge_alloc += (size_t)call;
	if (st->large > st->large_peak)
		st->large_peak = st->large;
	osmem__unlock(&osmem__large_lock);
}

static void
unlink_large(struct osmem__large *l, size_t len, int call)
{
	struct osmem__counters *st = &osmem__g.arena[0].st;
	osmem__lock(&osmem__large_lock);
	if (OSMEM_UNLIKELY((l->prev ? l->prev->next : live) != l ||
	                   (l->next && l->next->prev != l)))
		osmem__fatal("corrupted mapped block list at", l->chunk, len);
	if (l->prev)
		l->prev->next = l->next;
	else
		live = l->next;
	if (l->next)
		l->next->prev = l->prev;
	st->large -= len;
	st->nlarge--;
	st->nlarge_free += (size_t)call;
	osmem__unlock(&osmem__large_lock);
	(void)osmem__pages_mark(l, len - guard_of(l), 0);
}

static inline size_t
map_len(const osmem__chunk_t *c)
{
	return (size_t)c->prev_foot + osmem__csize(c);
}

static void keep_spare(struct osmem__large *l, size_t len, int reuse);

int
osmem__large_zero(const osmem__chunk_t *c)
{
	return !(osmem__large_of(c)->guard & OSMEM_LARGE_USED);
}

/* Freed mappings kept for reuse, newest first, linked by next; guard
 * holds the length.  Under the large lock; their bytes are the main
 * arena's st.kept. */
static struct osmem__large *kept_maps;

/* Lay out chunk c at offset off in the mapping m of len bytes, whose last
 * guard bytes are a guard page (or 0), its pages marked as the
 * allocator's (pages.c); NULL with ENOMEM if they cannot be, the mapping
 * given back. */
static void *
place(char *m, size_t off, size_t len, size_t guard, int call)
{
	if (OSMEM_UNLIKELY(osmem__pages_mark(m, len - guard, 1) != 0)) {
		if (osmem__os_unmap(m, len) != 0)
			keep_spare((struct osmem__large *)m, len, !guard);
		errno = ENOMEM;
		return NULL;
	}
	osmem__chunk_t *c = osmem__at(m, off);
	c->prev_foot = off;
	osmem__set_head(c, len - off, OSMEM_F_MMAP | OSMEM_F_CINUSE);
	((struct osmem__large *)m)->chunk = c;
	((struct osmem__large *)m)->guard = guard;
	link_large((struct osmem__large *)m, len, call);
	return osmem__chunk2mem(c);
}

/*
 * Mappings the system would not unmap.  munmap fails when the process is
 * at its limit of mappings and the one to remove is part of a larger one
 * (the program mapped over its neighbours); free must not fail, so the
 * mapping is kept here, its pages given back, and a later large request
 * of a size it fits takes it; each free that does unmap a block tries
 * the oldest again.  A spare keeps its struct osmem__large, chunk NULL
 * and guard its length, plus 1 if it is never to be handed out: its pages
 * could not be given back (a large block must read as zero), or it ends
 * in a guard page.
 */
static struct osmem__large *spares;

static void
keep_spare(struct osmem__large *l, size_t len, int reuse)
{
	/* All of it: its head is written again below, on a zeroed page. */
	int dirty = osmem__os_release(l, len) != 0 || !reuse;
	osmem__lock(&osmem__large_lock);
	l->chunk = NULL;
	l->guard = len | (size_t)dirty;
	l->prev = NULL;
	l->next = spares;
	spares = l;
	osmem__unlock(&osmem__large_lock);
}

/* A clean spare of at least len bytes and at most twice that, taken off
 * the list (*got: its length), or NULL; with take 0, the oldest spare
 * whatever it is (*got: its length and flag, as kept). */
static char *
take_spare(size_t len, size_t *got, int take)
{
	struct osmem__large **lp, *found = NULL, **found_lp = NULL;
	if (!__atomic_load_n(&spares, __ATOMIC_RELAXED))
		return NULL;
	osmem__lock(&osmem__large_lock);
	for (lp = &spares; *lp; lp = &(*lp)->next) {
		size_t have = (*lp)->guard;
		if (!take || (!(have & 1) && have >= len && have / 2 <= len)) {
			found = *lp;
			found_lp = lp;
			if (take)
				break;
		}
	}
	if (found) {
		*found_lp = found->next;
		*got = take ? found->guard & ~(size_t)1 : found->guard;
	}
	osmem__unlock(&osmem__large_lock);
	return (char *)found;
}

/* Try again to unmap the oldest spare. */
static void
retry_spare(void)
{
	size_t kept;
	char *m = take_spare(0, &kept, 0);
	if (!m)
		return; /* no spare: kept was not written */
	size_t len = kept & ~(size_t)1;
	if (osmem__os_unmap(m, len) != 0)
		keep_spare((struct osmem__large *)m, len, !(kept & 1));
}

/* Unmap kept mapping l of len bytes (taken off the list). */
static void
unmap_kept(struct osmem__large *l, size_t len)
{
	if (osmem__os_unmap(l, len) != 0)
		keep_spare(l, len, 1);
}

/* Drop kept mappings, oldest first, while they hold more than most
 * bytes. */
static void
drop_over(size_t most)
{
	struct osmem__counters *st = &osmem__g.arena[0].st;
	for (;;) {
		struct osmem__large **lp, *l = NULL;
		osmem__lock(&osmem__large_lock);
		if (st->kept > most && kept_maps) {
			for (lp = &kept_maps; (*lp)->next; lp = &(*lp)->next)
				;
			l = *lp;
			*lp = NULL;
			st->kept -= l->guard;
		}
		osmem__unlock(&osmem__large_lock);
		if (!l)
			return;
		unmap_kept(l, l->guard);
	}
}

/* Keep freed mapping l of len bytes for reuse, if it fits under
 * osmem__kept_most: 1 if kept. */
static int
keep(struct osmem__large *l, size_t len)
{
	struct osmem__counters *st = &osmem__g.arena[0].st;
	size_t most = osmem__kept_most(st);
	if (len > most)
		return 0;
	osmem__lock(&osmem__large_lock);
	l->chunk = NULL;
	l->guard = len;
	l->prev = NULL;
	l->next = kept_maps;
	kept_maps = l;
	st->kept += len;
	osmem__unlock(&osmem__large_lock);
	drop_over(most);
	return 1;
}

/* The kept mapping that best holds len bytes, taken off the list: the
 * smallest that holds them, else the largest, if it holds least bytes;
 * NULL if none. */
static struct osmem__large *
take_best(size_t len, size_t least)
{
	struct osmem__counters *st = &osmem__g.arena[0].st;
	struct osmem__large **lp, **best = NULL;
	if (!__atomic_load_n(&kept_maps, __ATOMIC_RELAXED))
		return NULL;
	osmem__lock(&osmem__large_lock);
	for (lp = &kept_maps; *lp; lp = &(*lp)->next) {
		size_t have = (*lp)->guard, b = best ? (*best)->guard : 0;
		if (!best || (b < len ? have > b : have >= len && have < b))
			best = lp;
	}
	struct osmem__large *l = best ? *best : NULL;
	if (l && l->guard < least)
		l = NULL;
	if (l) {
		*best = l->next;
		st->kept -= l->guard;
	}
	osmem__unlock(&osmem__large_lock);
	return l;
}

/* A kept mapping made len bytes long (resized in place or moved, its
 * pages kept), or NULL: the smallest that holds len, else the largest if
 * it holds half of it (the rest is new pages). */
static char *
take_kept(size_t len)
{
	struct osmem__large *l = take_best(len, len / 2);
	if (!l)
		return NULL;
	size_t have = l->guard;
	char *m = have == len ? (char *)l : osmem__os_remap(l, have, len);
	if (!m)
		unmap_kept(l, have);
	return m;
}

void *
osmem__large_reuse(size_t n)
{
	const size_t head = OSMEM_LARGE_HEAD + 2 * OSMEM_OVERHEAD;
	if (n > OSMEM_MAX_REQUEST || osmem__g.cfg.guard)
		return NULL;
	size_t len = osmem__round_up(n + head, osmem__g.page);
	char *m = take_kept(len);
	if (!m)
		return NULL;
	char *p = place(m, OSMEM_LARGE_HEAD, len, 0, 1);
	if (p) /* its pages are not zero: calloc clears them */
		((struct osmem__large *)m)->guard = OSMEM_LARGE_USED;
	return p;
}

/*
 * The pages the break grows over come from kept mappings when it can: the
 * smallest that holds the growth, else the largest, and so on.  A program
 * whose large blocks were mapped until the dynamic mmap threshold rose
 * past their sizes then writes its next ones, from the heap, into pages it
 * has, rather than into new ones while the old go back (largefree:
 * 205,042 -> 182,948 page faults; bench/README).  Moved pages stay a
 * mapping of their own to the system, apart from the break's, so a piece
 * moves only if it is a 1024th of the break or more (and 64 KiB): as the
 * break grows from 128 KiB to 64 GiB, at most about 13,500 of them (1024
 * times the log of the growth), where the system allows 65,530 mappings.
 */
size_t
osmem__large_recycle(char *p, size_t len)
{
	size_t page = osmem__g.page;
	char *lo = (char *)osmem__round_up((uintptr_t)p, page);
	char *hi = (char *)(((uintptr_t)p + len) & ~(uintptr_t)(page - 1));
	size_t least = osmem__g.arena[0].st.heap_brk / 1024, moved = 0;
	if (least < ((size_t)64 << 10))
		least = (size_t)64 << 10;
	while (hi >= lo + least) {
		struct osmem__large *l = take_best((size_t)(hi - lo), least);
		if (!l)
			break;
		/* Its last n bytes: the rest keeps its head, and is kept. */
		size_t have = l->guard,
		       n = osmem__min(have, (size_t)(hi - lo));
		int r = osmem__os_move((char *)l + have - n, n, lo);
		if (OSMEM_UNLIKELY(r == -2))
			osmem__fatal("heap pages lost after a failed move to",
			             lo, n);
		if (r != 0) { /* it stays as it was */
			if (!keep(l, have))
				unmap_kept(l, have);
			break;
		}
		if (have > n && !keep(l, have - n))
			unmap_kept(l, have - n);
		lo += n;
		moved += n;
	}
	return moved;
}

void
osmem__large_drop(size_t most)
{
	if (__atomic_load_n(&kept_maps, __ATOMIC_RELAXED))
		drop_over(most);
}

void *
osmem__large_alloc(size_t n, size_t align)
{
	size_t page = osmem__g.page;
	const size_t head = OSMEM_LARGE_HEAD + 2 * OSMEM_OVERHEAD;
	if (n > OSMEM_MAX_REQUEST || align > OSMEM_MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	if (align <= OSMEM_ALIGN && osmem__g.cfg.guard) {
		/* guard=1: the block ends where an inaccessible page starts,
		 * so the first byte written past it (after rounding to 16)
		 * faults. */
		size_t body = osmem__round_up(n ? n : 1, OSMEM_ALIGN);
		size_t len = osmem__round_up(body + head, page) + page;
		char *m = osmem__os_map(len);
		if (!m)
			return NULL;
		if (osmem__os_guard(m + len - page, page) != 0) {
			if (osmem__os_unmap(m, len) != 0)
				keep_spare((struct osmem__large *)m, len, 0);
			return NULL;
		}
		return place(m, len - page - body - 2 * OSMEM_OVERHEAD, len,
		             page, 1);
	}
	if (align <= OSMEM_ALIGN) {
		size_t len = osmem__round_up(n + head, page), got;
		char *m = take_spare(len, &got, 1);
		if (m)
			return place(m, OSMEM_LARGE_HEAD, got, 0, 1);
		m = osmem__os_map(len);
		if (!m)
			return NULL;
		return place(m, OSMEM_LARGE_HEAD, len, 0, 1);
	}
	/* Map enough to align, then give back the pages before and after. */
	size_t len = osmem__round_up(n + head + align, page);
	char *m = osmem__os_map(len);
	if (!m)
		return NULL;
	uintptr_t mem = osmem__round_up((uintptr_t)m + head, align);
	char *start = (char *)((mem - head) & ~(uintptr_t)(page - 1));
	char *end = (char *)osmem__round_up(mem + n, page);
	/* Pages that cannot be given back stay mapped, unused. */
	if (start > m)
		(void)osmem__os_unmap(m, (size_t)(start - m));
	if (end < m + len)
		(void)osmem__os_unmap(end, (size_t)(m + len - end));
	return place(start, mem - 2 * OSMEM_OVERHEAD - (uintptr_t)start,
	             (size_t)(end - start), 0, 1);
}

void
osmem__large_free(osmem__chunk_t *c)
{
	struct osmem__large *l = osmem__large_of(c);
	size_t len = map_len(c);
	/*
	 * The dynamic threshold (glibc's rule): a program that frees a mapped
	 * block of this size will likely ask for one again, and a heap block
	 * costs no system call and no page faults.  So the threshold rises to
	 * the size freed (up to 32 MiB), and the trim threshold to twice it;
	 * never once the user has set either.
	 */
	struct osmem__config *cfg = &osmem__g.cfg;
	size_t n = osmem__usable(c);
	if (!cfg->fixed_thresholds && n > cfg->mmap_threshold &&
	    n <= OSMEM_MMAP_THRESHOLD_MAX) {
		cfg->mmap_threshold = n;
		cfg->trim_threshold = 2 * n;
	}
	size_t guard = guard_of(l);
	unlink_large(l, len, 1);
	if (!guard && keep(l, len))
		return;
	if (osmem__os_unmap(l, len) != 0)
		keep_spare(l, len, !guard);
	else
		retry_spare();
}

int
osmem__large_each(int (*fn)(const struct osmem__large *, void *), void *arg,
                  struct osmem__counters *figures)
{
	int r = 0;
	osmem__lock(&osmem__large_lock);
	for (const struct osmem__large *l = live; l && r == 0; l = l->next)
		r = fn(l, arg);
	if (figures)
		*figures = osmem__g.arena[0].st;
	osmem__unlock(&osmem__large_lock);
	return r;
}

void *
osmem__large_resize(osmem__chunk_t *c, size_t n)
{
	struct osmem__large *l = osmem__large_of(c);
	size_t off = c->prev_foot, len = map_len(c);
	size_t want =
	    osmem__round_up(off + 2 * OSMEM_OVERHEAD + n, osmem__g.page);
	if (guard_of(l))
		return NULL; /* a guarded block moves: the caller copies */
	if (want == len)
		return osmem__chunk2mem(c);
	unlink_large(l, len, 0);
	char *m = osmem__os_remap(l, len, want);
	if (!m) {
		(void)osmem__pages_mark(l, len, 1); /* its tables exist */
		link_large(l, len, 0);
		return NULL;
	}
	void *p = place(m, off, want, 0, 0);
	/* The block has moved: it cannot be handed back to the caller. */
	if (OSMEM_UNLIKELY(!p))
		osmem__fatal("no memory to record the pages of the block at",
		             m, want);
	return p;
}
