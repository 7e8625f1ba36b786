/*
 * bins.c: the best-fit index of an arena's free chunks.
 *
 * Free chunks are segregated into bins by size (exact 16-byte classes below
 * 4 KiB, then 16 classes per power of two); a two-level bitmap finds the
 * next non-empty bin in a few instructions.  An exact bin gives up its
 * lowest address, at the end of its tree's left spine, which successive
 * takes walk again and so find in the cache; a search by size in a wider
 * bin goes down a new path each time, a cache miss per level on a heap of
 * many free chunks.  So the exact classes reach 4 KiB, where most
 * requests fall, and the thread caches' runs (tcache.c), which leave
 * merged holes of odd sizes, still find exact bins (bench/README has the
 * measurements behind each choice here).  Inside a bin, chunks form a
 * treap ordered by (size, address) whose priorities are a hash of the
 * address, so it needs only the two child links a 32-byte chunk has room
 * for, and a lookup or insert costs O(log n) in the number of chunks in
 * that one bin.  The smallest key not below (request, 0) is
 * exactly best fit: the smallest chunk that fits, lowest address on ties.
 *
 * One free chunk waits outside the bins: the victim, the chunk indexed
 * last.  Indexing a chunk makes it the victim and sends the old one into
 * its bin; a search weighs the victim against the best chunk of the bins,
 * by the same (size, address) key, so placement stays exact best fit.
 * What it saves is the tree work of the common cases where the next
 * operation undoes the last: a split's remainder split again by the next
 * request (carving a run of blocks out of a large free block costs no tree
 * work at all), a freed block merged with the one freed just before.  The
 * victim's pointer lives in the arena, out of reach of writes to freed
 * memory, so it is stored plain.
 *
 * Chunks of 48 bytes or more also link to their parent (at c+32), so a
 * chunk leaving its bin because a neighbour merges with it is unlinked
 * where it is, not looked for from the root, which on a heap of many free
 * blocks costs a cache miss per level.  The 32-byte chunks have no room
 * for it; their bin is searched.
 *
 * A run of frees with no search between them (a program freeing what it
 * built) would put every chunk into its tree only for most of them to
 * merge with a neighbour freed a moment later and leave it again: on a
 * heap of many free blocks each insertion is a cache miss per level.  So
 * after OSMEM_PILE_AFTER chunks indexed without a search, chunks of 48
 * bytes up to two pages go onto the pile instead, a list in no order that
 * takes and gives up a chunk in a few instructions; the next search first
 * puts the pile into the trees, so placement stays exact best fit.  A
 * piled chunk's parent slot holds a mark in place of a link.  Chunks of
 * two pages or more have a pile of their own, which the release pass
 * walks before the trees.
 *
 * Links are stored encoded with a per-process secret (like glibc's
 * safe-linking), so an overwrite of a free chunk's
 * links does not hand an attacker or a bug a chosen pointer: it decodes to
 * a misaligned value and the allocator aborts.  The end of a tree,
 * OSMEM_LINK_END, decodes misaligned too, so the walks' one test for the
 * end catches a corrupted link as well.  A bin's root is read only while
 * its bitmap bit is set.  Layer 4.
 */
#include "core.h"

typedef void *slot_t; /* an encoded link, as stored */

/* A link that stops a walk (stored value e): the end of the tree, or
 * corrupted. */
static inline void
check_end(const slot_t *s, slot_t e)
{
	if (OSMEM_UNLIKELY((uintptr_t)e != OSMEM_LINK_END))
		osmem__fatal("corrupted free-chunk link at", s, 0);
}

/* Whether link value e, read from slot s, leads to a chunk (into *n): the
 * end and the check are one test. */
static inline int
open_link(const slot_t *s, slot_t e, osmem__chunk_t **n)
{
	uintptr_t v = osmem__link_dec((uintptr_t)e);
	if (OSMEM_UNLIKELY(osmem__link_stop(v))) {
		check_end(s, e);
		return 0;
	}
	*n = (osmem__chunk_t *)v;
	return 1;
}

/* Whether the link at s leads to a chunk (into *n). */
static inline int
step(const slot_t *s, osmem__chunk_t **n)
{
	return open_link(s, *s, n);
}

/* The chunk the link at s leads to, or NULL at the end of the tree. */
static inline osmem__chunk_t *
ld(const slot_t *s)
{
	osmem__chunk_t *n;
	return step(s, &n) ? n : NULL;
}

/* The stored form of a link to chunk c.  A link read from one slot is
 * stored into another as it is: moving a subtree costs no encoding, only
 * following a link costs its decoding. */
static inline slot_t
enc(const osmem__chunk_t *c)
{
	return (slot_t)osmem__link_enc(c);
}

/* The stored end of a tree or list (see OSMEM_LINK_END). */
#define END ((slot_t)OSMEM_LINK_END)

static inline uint32_t
prio(const osmem__chunk_t *c)
{
	return (uint32_t)(uintptr_t)c * 0x9e3779b1u;
}

/* The exact bins, below OSMEM_SMALL_LIMIT: every chunk in one has the
 * same size. */
static inline int
is_exact(unsigned bin)
{
	return bin < OSMEM_SMALL_LIMIT / 16;
}

/* Treap order: by size, then by address.  In an exact bin the address
 * alone decides and no header need be read. */
static inline int
key_less(int exact, const osmem__chunk_t *a, const osmem__chunk_t *b)
{
	if (exact)
		return (uintptr_t)a < (uintptr_t)b;
	size_t sa = osmem__csize(a), sb = osmem__csize(b);
	return sa < sb || (sa == sb && (uintptr_t)a < (uintptr_t)b);
}

static inline slot_t *
root_of(struct osmem__arena *a, unsigned bin)
{
	return &a->root[bin];
}

/* Chunks of 48 bytes or more (every bin but that of 32-byte chunks) keep
 * a third link, to their parent (the end for a root), so that removing
 * one, as merging a neighbour does, starts at its own slot rather than
 * searching down from the root: a cache miss or two instead of one per
 * level. */
static inline int
parented(unsigned bin)
{
	return bin != OSMEM_MIN_CHUNK / 16;
}

static inline slot_t *
up(osmem__chunk_t *c)
{
	return (slot_t *)((char *)c + OSMEM_MIN_CHUNK);
}

/* Record n's parent: e is the stored link to it (or the end, for the
 * root). */
static inline void
set_up(unsigned bin, osmem__chunk_t *n, slot_t e)
{
	if (parented(bin))
		*up(n) = e;
}

static inline int
bin_nonempty(const struct osmem__arena *a, unsigned bin)
{
	return (a->map[bin >> 6] >> (bin & 63)) & 1;
}

static inline void
mark(struct osmem__arena *a, unsigned bin)
{
	a->map[bin >> 6] |= (uint64_t)1 << (bin & 63);
	a->summary |= (uint64_t)1 << (bin >> 6);
}

static inline void
unmark(struct osmem__arena *a, unsigned bin)
{
	a->map[bin >> 6] &= ~((uint64_t)1 << (bin & 63));
	if (a->map[bin >> 6] == 0)
		a->summary &= ~((uint64_t)1 << (bin >> 6));
}

/* The first non-empty bin at or above bin, or OSMEM_NBINS. */
static inline unsigned
next_bin(const struct osmem__arena *a, unsigned bin)
{
	unsigned w = bin >> 6;
	if (w >= OSMEM_BITMAP_WORDS)
		return OSMEM_NBINS;
	uint64_t m = a->map[w] & (~(uint64_t)0 << (bin & 63));
	if (m)
		return w * 64 + (unsigned)__builtin_ctzll(m);
	uint64_t s = a->summary & (~(uint64_t)0 << w << 1);
	if (!s)
		return OSMEM_NBINS;
	w = (unsigned)__builtin_ctzll(s);
	return w * 64 + (unsigned)__builtin_ctzll(a->map[w]);
}

/* Replace c, at slot s, by the join of its two subtrees; eo is the
 * stored link to the slot's owner (the end: s is the root). */
static OSMEM_NOINLINE void
unlink_at(unsigned bin, slot_t *s, slot_t eo, osmem__chunk_t *c)
{
	osmem__chunk_t *l, *r;
	slot_t el = c->link[0], er = c->link[1];
	int hl = open_link(&c->link[0], el, &l);
	int hr = open_link(&c->link[1], er, &r);
	while (hl && hr) {
		if (prio(l) > prio(r)) {
			*s = el;
			set_up(bin, l, eo);
			eo = el;
			s = &l->link[1];
			el = *s;
			hl = open_link(s, el, &l);
		} else {
			*s = er;
			set_up(bin, r, eo);
			eo = er;
			s = &r->link[0];
			er = *s;
			hr = open_link(s, er, &r);
		}
	}
	/* What is left: one subtree, or the end (er is then the end). */
	*s = hl ? el : er;
	if (hl || hr)
		set_up(bin, hl ? l : r, eo);
}

/* Take c, at slot s, out of its bin.  A leaf (most removals) needs no
 * walk, and is told from its stored links
 * alone; the walk is not inlined, so the test costs its callers no
 * registers saved. */
static inline void
remove_at(struct osmem__arena *a, unsigned bin, slot_t *s, slot_t eo,
          osmem__chunk_t *c)
{
	if (c->link[0] == END && c->link[1] == END)
		*s = END;
	else
		unlink_at(bin, s, eo, c);
	if (*root_of(a, bin) == END)
		unmark(a, bin);
}

/* The figures of the index, for a chunk coming in (+1) or going out (-1). */
static inline void
count(struct osmem__arena *a, const osmem__chunk_t *c, int dir)
{
	size_t size = osmem__csize(c);
	size_t dirt = osmem__releasable(size) ? *osmem__dirt_slot((osmem__chunk_t *)c)
	                                      : 0;
	if (dir > 0) {
		a->st.free_bytes += size;
		a->st.nfree_chunks++;
		a->st.dirty += dirt;
	} else {
		a->st.free_bytes -= size;
		a->st.nfree_chunks--;
		a->st.dirty -= dirt;
	}
}

static inline osmem__chunk_t *
victim(const struct osmem__arena *a)
{
	return a->victim;
}

static inline void
set_victim(struct osmem__arena *a, osmem__chunk_t *c)
{
	a->victim = c;
}

/* ---------------------------------------------------------------------
 * The pile (see the top of the file).  link[0] leads to the next chunk,
 * link[1] to the one before (the end for the first); the parent slot holds
 * OSMEM_LINK_PILE, which no tree link can equal. */
#ifndef OSMEM_PILE_AFTER /* the fuzzer sets a small one, to pile often */
#define OSMEM_PILE_AFTER 32u
#endif
_Static_assert(OSMEM_LINK_PILE != OSMEM_LINK_END &&
               (OSMEM_HARDEN ? (OSMEM_LINK_PILE | OSMEM_LINK_END) % 2 == 0
                             : OSMEM_LINK_PILE % OSMEM_ALIGN != 0),
               "the pile's mark is no link");

#define PILE_MARK ((slot_t)OSMEM_LINK_PILE)

static inline int
pileable(size_t size)
{
	return parented(osmem__bin_index(size));
}

/* The pile of a chunk of this size: 1 for the sizes the release pass
 * looks at, which it walks as it walks the trees. */
static inline osmem__chunk_t **
pile_of(struct osmem__arena *a, size_t size)
{
	return &a->pile[osmem__releasable(size)];
}

static inline int
piled(osmem__chunk_t *c)
{
	return pileable(osmem__csize(c)) && *up(c) == PILE_MARK;
}

static inline void
pile_push(struct osmem__arena *a, osmem__chunk_t *c)
{
	osmem__chunk_t **top = pile_of(a, osmem__csize(c));
	c->link[0] = *top ? enc(*top) : END;
	c->link[1] = END;
	*up(c) = PILE_MARK;
	if (*top)
		(*top)->link[1] = enc(c);
	*top = c;
}

/* Take c off the pile, checking that its neighbours link back to it. */
static void
pile_unlink(struct osmem__arena *a, osmem__chunk_t *c)
{
	osmem__chunk_t *next, *prev, **top = pile_of(a, osmem__csize(c));
	int hn = open_link(&c->link[0], c->link[0], &next);
	int hp = open_link(&c->link[1], c->link[1], &prev);
	if (OSMEM_UNLIKELY(hp ? prev->link[0] != enc(c) : *top != c) ||
	    OSMEM_UNLIKELY(hn && next->link[1] != enc(c)))
		osmem__fatal("corrupted free-chunk link at", c, osmem__csize(c));
	if (hp)
		prev->link[0] = c->link[0];
	else
		*top = hn ? next : NULL;
	if (hn)
		next->link[1] = c->link[1];
	*up(c) = END; /* the chunk may be handed out: no stale mark */
}

static void tree_insert(struct osmem__arena *a, osmem__chunk_t *c);

/* Whether anything is piled. */
static inline int
any_piled(const struct osmem__arena *a)
{
	return ((uintptr_t)a->pile[0] | (uintptr_t)a->pile[1]) != 0;
}

/* Put the piles into the trees. */
static OSMEM_NOINLINE void
drain(struct osmem__arena *a)
{
	for (int k = 0; k < 2; k++) {
		osmem__chunk_t *c = a->pile[k], *next;
		a->pile[k] = NULL;
		for (; c; c = next) {
			next = ld(&c->link[0]);
			/* the walk down c's tree gives the next chunk time to
			 * load */
			__builtin_prefetch(next);
			tree_insert(a, c);
		}
	}
}

/* Put c into the tree of its bin.  Written once, instantiated for the
 * exact bins (ordered by address alone) and for the others, so that the
 * loops do not test which kind of bin they walk at each level. */
static OSMEM_ALWAYS_INLINE void
tree_insert_in(struct osmem__arena *a, osmem__chunk_t *c, unsigned bin, int exact)
{
	slot_t *s = root_of(a, bin);
	uint32_t p = prio(c);
	osmem__chunk_t *n;
	slot_t e, eo = END;
	int more;
	/* The walk down keeps the stored link to the owner, as c's parent
	 * link wants it: a copy per level, where keeping the owner decoded
	 * cost its encoding and a test for none at the end. */
	while ((more = open_link(s, e = *s, &n)) && prio(n) > p) {
		eo = e;
		s = key_less(exact, n, c) ? &n->link[1] : &n->link[0];
	}
	slot_t ec = enc(c);
	*s = ec;
	set_up(bin, c, eo);
	/* Split the subtree at n (stored link e) around c's key. */
	slot_t *ls = &c->link[0], *rs = &c->link[1];
	slot_t lo = ec, ro = ec;
	while (more) {
		if (key_less(exact, n, c)) {
			*ls = e;
			set_up(bin, n, lo);
			lo = e;
			s = ls = &n->link[1];
		} else {
			*rs = e;
			set_up(bin, n, ro);
			ro = e;
			s = rs = &n->link[0];
		}
		more = open_link(s, e = *s, &n);
	}
	*ls = END;
	*rs = END;
}

/* The walks, one per kind of bin: functions of their own, so that the
 * registers they save are saved only when a walk is made (see
 * tree_insert). */
static OSMEM_NOINLINE void
tree_walk_exact(struct osmem__arena *a, osmem__chunk_t *c, unsigned bin)
{
	tree_insert_in(a, c, bin, 1);
}

static OSMEM_NOINLINE void
tree_walk_sized(struct osmem__arena *a, osmem__chunk_t *c, unsigned bin)
{
	tree_insert_in(a, c, bin, 0);
}

/* Not inlined: most indexing costs no tree work (see the victim), and
 * the walks need registers that bin_insert would otherwise save on every
 * call. */
static OSMEM_NOINLINE void
tree_insert(struct osmem__arena *a, osmem__chunk_t *c)
{
	unsigned bin = osmem__bin_index(osmem__csize(c));
	if (!bin_nonempty(a, bin)) {
		/* the only chunk (a common case on small heaps): no walk,
		 * and none of the registers a walk saves */
		*root_of(a, bin) = enc(c);
		set_up(bin, c, END);
		c->link[0] = END;
		c->link[1] = END;
		mark(a, bin);
	} else if (is_exact(bin)) {
		tree_walk_exact(a, c, bin);
	} else {
		tree_walk_sized(a, c, bin);
	}
}

void
osmem__bin_insert(struct osmem__arena *a, osmem__chunk_t *c)
{
	count(a, c, +1);
	osmem__chunk_t *old = victim(a);
	set_victim(a, c);
	if (old) {
		if (a->run++ >= OSMEM_PILE_AFTER && pileable(osmem__csize(old)))
			pile_push(a, old);
		else
			tree_insert(a, old);
	}
}

void
osmem__bin_remove(struct osmem__arena *a, osmem__chunk_t *c)
{
	count(a, c, -1);
	if (c == victim(a)) {
		set_victim(a, NULL);
		return;
	}
	unsigned bin = osmem__bin_index(osmem__csize(c));
	slot_t *s = root_of(a, bin), eo = END, ec = enc(c);
	osmem__chunk_t *n = NULL, *owner;
	if (parented(bin) && *up(c) == PILE_MARK) {
		pile_unlink(a, c);
		return;
	}
	if (!bin_nonempty(a, bin)) {
		/* not indexed at all: n stays NULL */
	} else if (parented(bin)) {
		/* The slot that holds c: its parent's, or the root.  Stored
		 * links compare as they are: no decoding to find c there. */
		eo = *up(c);
		if (open_link(up(c), eo, &owner))
			s = &owner->link[owner->link[0] != ec];
		n = *s == ec ? c : NULL;
	} else {
		/* no parent links to keep: eo is not used */
		while (step(s, &n) && n != c)
			s = &n->link[key_less(is_exact(bin), n, c)];
	}
	if (OSMEM_UNLIKELY(n != c))
		osmem__fatal("free chunk missing from its bin:", c, osmem__csize(c));
	remove_at(a, bin, s, eo, c);
}

/* The least chunk of a non-empty bin, the slot that holds it and the
 * stored link to that slot's owner. */
static OSMEM_ALWAYS_INLINE osmem__chunk_t *
least(struct osmem__arena *a, unsigned bin, slot_t **where, slot_t *eo)
{
	slot_t *s = root_of(a, bin), e = *s, o = END;
	osmem__chunk_t *n = ld(s), *l;
	while (step(&n->link[0], &l)) {
		o = e;
		s = &n->link[0];
		e = *s;
		n = l;
	}
	*where = s;
	*eo = o;
	return n;
}

static inline int
key_below(const osmem__chunk_t *x, const osmem__chunk_t *y)
{
	size_t sx = osmem__csize(x), sy = osmem__csize(y);
	return sx < sy || (sx == sy && (uintptr_t)x < (uintptr_t)y);
}

/* The chunk of least key not below (size, 0) in non-empty bin, or NULL. */
static osmem__chunk_t *
search(struct osmem__arena *a, unsigned bin, size_t size, slot_t **where,
       slot_t *eo)
{
	slot_t *s = root_of(a, bin), e, o = END;
	osmem__chunk_t *n, *best = NULL;
	while (open_link(s, e = *s, &n)) {
		if (osmem__csize(n) >= size) {
			best = n;
			*where = s;
			*eo = o;
			s = &n->link[0];
		} else {
			s = &n->link[1];
		}
		o = e;
	}
	return best;
}

osmem__chunk_t *
osmem__bin_take_best(struct osmem__arena *a, size_t size)
{
	unsigned bin = osmem__bin_index(size);
	osmem__chunk_t *v = victim(a), *c = NULL;
	slot_t *s = NULL, owner = NULL;
	if (OSMEM_UNLIKELY(any_piled(a)))
		drain(a);
	a->run = 0;
	if (v && osmem__csize(v) < size)
		v = NULL; /* it does not fit: out of the running */
	if (is_exact(bin) && bin_nonempty(a, bin)) {
		/* an exact bin: its lowest address */
		c = least(a, bin, &s, &owner);
	} else {
		if (bin_nonempty(a, bin))
			c = search(a, bin, size, &s, &owner);
		if (!c) {
			/* Every chunk of a higher bin fits; the least of the
			 * first non-empty one is the best, unless that bin lies
			 * above the victim's. */
			unsigned b = next_bin(a, bin + 1);
			if (b < OSMEM_NBINS &&
			    !(v && b > osmem__bin_index(osmem__csize(v)))) {
				bin = b;
				c = least(a, b, &s, &owner);
			}
		}
	}
	if (v && (!c || key_below(v, c))) {
		count(a, v, -1);
		set_victim(a, NULL);
		return v;
	}
	if (c) {
		count(a, c, -1);
		remove_at(a, bin, s, owner, c);
	}
	return c;
}

size_t
osmem__bin_largest(struct osmem__arena *a)
{
	unsigned bin = OSMEM_NBINS;
	if (any_piled(a))
		drain(a);
	for (unsigned w = OSMEM_BITMAP_WORDS; w-- > 0;)
		if (a->map[w]) {
			bin = w * 64 + 63 - (unsigned)__builtin_clzll(a->map[w]);
			break;
		}
	size_t v = victim(a) ? osmem__csize(victim(a)) : 0;
	if (bin == OSMEM_NBINS)
		return v;
	osmem__chunk_t *n = ld(root_of(a, bin)), *r;
	while ((r = ld(&n->link[1])) != NULL)
		n = r;
	return osmem__csize(n) > v ? osmem__csize(n) : v;
}

/* Call fn on indexed free chunks in bins from the highest down to lowest
 * (larger chunks first, each bin's largest first), until fn returns
 * non-zero.  fn may change a chunk's contents, not the index.  The pile
 * of chunks below two pages is not visited: lowest must be above every
 * bin its chunks go to. */
static int
visit(osmem__chunk_t *n, int (*fn)(osmem__chunk_t *, void *), void *arg)
{
	while (n) {
		if (visit(ld(&n->link[1]), fn, arg) || fn(n, arg))
			return 1;
		n = ld(&n->link[0]);
	}
	return 0;
}

void
osmem__bin_each_down(struct osmem__arena *a, unsigned lowest,
                     int (*fn)(osmem__chunk_t *, void *), void *arg)
{
	osmem__chunk_t *v = victim(a);
	if (v && osmem__bin_index(osmem__csize(v)) >= lowest && fn(v, arg))
		return;
	/* the larger chunks' pile first, in no order */
	for (osmem__chunk_t *c = a->pile[1]; c; c = ld(&c->link[0]))
		if (osmem__bin_index(osmem__csize(c)) >= lowest && fn(c, arg))
			return;
	for (unsigned bin = OSMEM_NBINS; bin-- > lowest;)
		if (bin_nonempty(a, bin) && visit(ld(root_of(a, bin)), fn, arg))
			return;
}

/* Deeper than any sound treap gets (its depth is about 3 ln n: 62 for
 * 10^9 chunks in one bin): a tree this deep has a loop. */
#define TREE_DEPTH_MAX 400

/* Whether c is in the tree of its bin, bin (searched by its key).  A
 * corrupted tree may hold a loop: the walk stops at a depth no sound
 * treap reaches, as check_tree does. */
static int
in_tree(struct osmem__arena *a, unsigned bin, const osmem__chunk_t *c)
{
	if (!bin_nonempty(a, bin))
		return 0;
	osmem__chunk_t *n = ld(root_of(a, bin));
	for (int depth = 0; n && n != c && depth <= TREE_DEPTH_MAX; depth++)
		n = ld(&n->link[key_less(is_exact(bin), n, c)]);
	return n == c;
}

int
osmem__bin_contains(struct osmem__arena *a, const osmem__chunk_t *c)
{
	unsigned bin = osmem__bin_index(osmem__csize(c));
	if (c == victim(a))
		return 1;
	/* bin_check holds the pile to the chunks that bear its mark.  Only a
	 * free chunk's mark is read: a cached one's slot may never have been
	 * written (memcheck would say so). */
	if (parented(bin) && osmem__is_free(c) &&
	    *up((osmem__chunk_t *)c) == PILE_MARK)
		return 1;
	return in_tree(a, bin, c);
}

/* ---------------------------------------------------------------------
 * Consistency check of one treap: order, heap property, bin membership,
 * and that every node is a well-formed free chunk. */
static int
check_tree(osmem__chunk_t *n, osmem__chunk_t *parent, unsigned bin, const osmem__chunk_t *lo,
           const osmem__chunk_t *hi, uint64_t maxprio, int depth, size_t *count)
{
	if (!n)
		return 0;
	if (parented(bin) && ld(up(n)) != parent)
		return osmem__report("heap check: wrong parent link in bin tree at",
		                     n, 0);
	if (depth > TREE_DEPTH_MAX)
		return osmem__report("heap check: bin tree too deep at", n, 0);
	if (!osmem__head_ok(n))
		return osmem__report("heap check: bad header on free chunk", n, 0);
	size_t sz = osmem__csize(n);
	if (n->head & (OSMEM_F_CINUSE | OSMEM_F_MMAP))
		return osmem__report("heap check: in-use chunk in a bin", n, sz);
	if (osmem__bin_index(sz) != bin)
		return osmem__report("heap check: chunk in the wrong bin", n, sz);
	int exact = is_exact(bin);
	if ((lo && !key_less(exact, lo, n)) || (hi && !key_less(exact, n, hi)))
		return osmem__report("heap check: bin tree out of order at", n, sz);
	if (prio(n) > maxprio)
		return osmem__report("heap check: bin tree heap order at", n, sz);
	if (osmem__next(n)->prev_foot != sz)
		return osmem__report("heap check: free chunk footer mismatch", n, sz);
	++*count;
	if (check_tree(ld(&n->link[0]), n, bin, lo, n, prio(n), depth + 1,
	               count))
		return -1;
	return check_tree(ld(&n->link[1]), n, bin, n, hi, prio(n), depth + 1,
	                  count);
}

/* Pile k: well-formed free chunks of the sizes that go there, each
 * marked, each linked back to from the next, and no more of them than the
 * arena counts free (so a walk around a loop ends). */
static int
check_pile(struct osmem__arena *a, int k, size_t *count)
{
	osmem__chunk_t *prev = NULL;
	size_t n = 0;
	for (osmem__chunk_t *c = a->pile[k]; c; prev = c, c = ld(&c->link[0])) {
		if (++n > a->st.nfree_chunks)
			return osmem__report("heap check: pile longer than the free "
			                     "chunks in", a, n);
		if (!osmem__head_ok(c) || (c->head & (OSMEM_F_CINUSE | OSMEM_F_MMAP)))
			return osmem__report("heap check: bad header on piled chunk",
			                     c, 0);
		size_t sz = osmem__csize(c);
		if (!piled(c) || pile_of(a, sz) != &a->pile[k])
			return osmem__report("heap check: unmarked chunk on the pile",
			                     c, sz);
		if (ld(&c->link[1]) != prev)
			return osmem__report("heap check: wrong back link on the pile "
			                     "at", c, sz);
		if (osmem__next(c)->prev_foot != sz)
			return osmem__report("heap check: free chunk footer mismatch",
			                     c, sz);
	}
	*count += n;
	return 0;
}

int
osmem__bin_check(struct osmem__arena *a, size_t *nfree)
{
	uint64_t summary = 0;
	*nfree = 0;
	for (unsigned w = 0; w < OSMEM_BITMAP_WORDS; w++)
		if (a->map[w])
			summary |= (uint64_t)1 << w;
	if (summary != a->summary)
		return osmem__report("heap check: bin summary bitmap wrong in", a, 0);
	osmem__chunk_t *v = victim(a);
	if (v) {
		unsigned bin = osmem__bin_index(osmem__csize(v));
		if (!osmem__head_ok(v) || (v->head & (OSMEM_F_CINUSE | OSMEM_F_MMAP)))
			return osmem__report("heap check: bad victim chunk", v, 0);
		if (in_tree(a, bin, v))
			return osmem__report("heap check: victim also in a bin", v,
			                     osmem__csize(v));
		if (osmem__next(v)->prev_foot != osmem__csize(v))
			return osmem__report("heap check: free chunk footer mismatch",
			                     v, osmem__csize(v));
		++*nfree;
	}
	if (check_pile(a, 0, nfree) || check_pile(a, 1, nfree))
		return -1;
	for (unsigned bin = 0; bin < OSMEM_NBINS; bin++) {
		if (!bin_nonempty(a, bin))
			continue;
		osmem__chunk_t *r = ld(root_of(a, bin));
		if (!r)
			return osmem__report("heap check: empty bin marked full",
			                     root_of(a, bin), 0);
		if (check_tree(r, NULL, bin, NULL, NULL, ~(uint64_t)0, 0, nfree))
			return -1;
	}
	return 0;
}
