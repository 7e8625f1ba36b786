/*
 * arena.c: the arenas as a set: which arena a new thread gets, a visit of
 * every arena in use under its lock (for the figures, the walker, the
 * checker and trim), and the remote-free stacks.  Layer 4.
 *
 * A block freed by a thread of another arena waits on its arena's remote
 * stack (lock-free, links encoded as in the bins but ending in 0, the
 * empty head the exchange leaves; to the heap the block is still cached:
 * C clear, the next chunk's P set) until a thread of that arena misses
 * its cache and drains the stack, into its own cache where a bin has
 * room (tcache.c) and otherwise back into the arena under one lock.  So a
 * block made by one thread and freed by another (a producer and a
 * consumer) is used again without either going through the arena's index.
 * What goes back into the arena goes as runs (osmem__run): neighbours,
 * which a producer's blocks mostly are, merged into one chunk and freed
 * once, as a thread cache gives back its own (mimalloc-bench's
 * xmalloc-test spent a third of its time freeing such blocks one by one).
 */
#include "remote.h"

/* A new thread's arena: the one serving the fewest threads, the lowest
 * on ties, so that a thread started after another ended takes over its
 * arena, pages still resident, rather than making another arena hold
 * memory of its own (round-robin made mstress's threads cycle over three
 * arenas: twice glibc's resident set, or a release and page faults at
 * every round).  Called under osmem__tc_lock, which the count's other
 * change (a thread's exit) holds too, so two threads starting at once
 * pick two arenas. */
struct osmem__arena *
osmem__arena_pick(void)
{
	struct osmem__global *g = &osmem__g;
	struct osmem__arena *a = &g->arena[0];
	size_t least = __atomic_load_n(&a->threads, __ATOMIC_RELAXED);
	for (unsigned i = 1; i < g->narenas && least; i++) {
		size_t n =
		    __atomic_load_n(&g->arena[i].threads, __ATOMIC_RELAXED);
		if (n < least) {
			least = n;
			a = &g->arena[i];
		}
	}
	__atomic_add_fetch(&a->threads, 1, __ATOMIC_RELAXED);
	if (a == &g->arena[0])
		return a;
	if (!__atomic_load_n(&a->aflag, __ATOMIC_ACQUIRE)) {
		osmem__lock(&a->lock);
		if (!a->aflag) {
			a->st.release_at = g->cfg.release_threshold;
			__atomic_store_n(
			    &a->aflag, OSMEM_F_ARENA,
			    __ATOMIC_RELEASE); /* in use from now on */
		}
		osmem__unlock(&a->lock);
	}
	return a;
}

int
osmem__arena_each(int (*fn)(struct osmem__arena *, unsigned, void *),
                  void *arg, int lock)
{
	int r = 0;
	for (unsigned i = 0; i < OSMEM_MAX_ARENAS && r == 0; i++) {
		struct osmem__arena *a = &osmem__g.arena[i];
		if (i > 0 && !__atomic_load_n(&a->aflag, __ATOMIC_ACQUIRE))
			continue; /* never handed out: nothing in it */
		if (lock)
			osmem__lock(&a->lock);
		r = fn(a, i, arg);
		if (lock)
			osmem__unlock(&a->lock);
	}
	return r;
}

/* The most blocks a record lists besides its own: what its block has
 * room for after the link and the count, and at most OSMEM_REC_MAX. */
#define OSMEM_REC_MAX 32u
static inline size_t
rec_room(size_t size)
{
	return osmem__min(size / 8 - 3, OSMEM_REC_MAX);
}

void
osmem__remote_add(struct osmem__remote *r, struct osmem__arena *a, void *p)
{
	if (r->arena != a) {
		osmem__remote_push(r);
		r->arena = a;
	}
	size_t size = osmem__csize(osmem__mem2chunk(p));
	uintptr_t *w = r->first;
	r->bytes += size;
	if (w && r->size == size && w[1] < rec_room(size)) {
		w[2 + w[1]] = osmem__link_enc(p);
		w[1]++;
		return;
	}
	/* A record of its own, in front: the first is the last begun. */
	w = p;
	w[0] = osmem__link_enc(r->first); /* NULL: the end */
	w[1] = 0;
	if (!r->first)
		r->last = w;
	r->first = w;
	r->size = size;
}

void
osmem__remote_push(struct osmem__remote *r)
{
	struct osmem__arena *a = r->arena;
	if (!r->first)
		return;
	__atomic_add_fetch(&a->remote_bytes, r->bytes, __ATOMIC_RELAXED);
	uintptr_t old = __atomic_load_n(&a->remote, __ATOMIC_RELAXED);
	do
		r->last[0] = osmem__link_enc((void *)old);
	while (!__atomic_compare_exchange_n(
	    &a->remote, &old, (uintptr_t)r->first, 1, __ATOMIC_RELEASE,
	    __ATOMIC_RELAXED));
	r->first = NULL;
	r->bytes = 0;
}

/* The blocks of the record at w (chunk size bytes, from w's header) into
 * b[]: the blocks it lists, newest last, then w itself; how many.  All
 * are read before any goes anywhere, where it may be written over.  Each
 * header is checked (written over while it waited?), and each size. */
static size_t
rec_read(uintptr_t *w, size_t size, char **b)
{
	size_t n = w[1];
	if (OSMEM_UNLIKELY(n > rec_room(size)))
		osmem__fatal("corrupted remote-free record at", w, size);
	for (size_t j = 0; j < n; j++) {
		uintptr_t q = osmem__link_dec(w[2 + j]);
		if (OSMEM_UNLIKELY(osmem__link_bad(q) || !q))
			osmem__fatal("corrupted remote-free record at", w,
			             size);
		osmem__chunk_t *c =
		    osmem__checked(osmem__mem2chunk((void *)q));
		if (OSMEM_UNLIKELY(osmem__csize(c) != size))
			osmem__fatal("corrupted remote-free record at", w,
			             size);
		b[n - 1 - j] = (char *)q;
	}
	b[n] = (char *)w;
	return n + 1;
}

/*
 * The blocks go in the order they came off the freeing thread's bin,
 * reversed, as a chain linked in front gave them: a run of neighbours
 * flushed together stays a run across records (taking each record's
 * blocks in the order they were listed broke it at every record, and
 * xmalloc-test paid a merge more per record).
 */
void
osmem__remote_drain(struct osmem__arena *a,
                    int (*keep)(void *, void *, size_t), void *arg)
{
	if (!__atomic_load_n(&a->remote, __ATOMIC_RELAXED))
		return;
	uintptr_t *w =
	    (uintptr_t *)__atomic_exchange_n(&a->remote, 0, __ATOMIC_ACQUIRE);
	struct osmem__run run = {a, NULL, 0, 0};
	size_t bytes = 0;
	while (w) {
		uintptr_t next = osmem__link_dec(w[0]);
		/* written over while it waited? its size is used below */
		osmem__chunk_t *c = osmem__checked(osmem__mem2chunk(w));
		size_t size = osmem__csize(c);
		if (OSMEM_UNLIKELY(osmem__link_bad(next)))
			osmem__fatal("corrupted remote-free link",
			             (const void *)next, size);
		char *b[OSMEM_REC_MAX + 1];
		size_t n = rec_read(w, size, b);
		bytes += n * size;
		for (size_t j = 0; j < n; j++) {
			char *p = b[j];
			if ((!keep || !keep(arg, p, size)) &&
			    !osmem__run_after(&run, p, size) &&
			    !osmem__run_before(&run, p, size))
				osmem__run_start(&run, p, size);
		}
		w = (uintptr_t *)next;
	}
	__atomic_sub_fetch(&a->remote_bytes, bytes, __ATOMIC_RELAXED);
	osmem__run_end(&run);
}
