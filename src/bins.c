/*
 * bins.c: the best-fit index of an arena's free chunks.
 *
 * Free chunks are segregated into bins by size (exact 16-byte classes below
 * 4 KiB, then 16 classes per power of two); a two-level bitmap finds the
 * next non-empty bin in a few instructions.  An exact bin gives up its
 * lowest address; an exact bin of chunks of 48 bytes or more is a pairing
 * heap by address (binheap.c), which takes a chunk in by one comparison
 * with its root.  A search by size in a wider bin goes down a new path
 * each time, a cache miss per level on a heap of many free chunks.  So the
 * exact classes reach 4 KiB, where most requests fall, and the thread
 * caches' runs (tcache.c), which leave merged holes of odd sizes, still
 * find exact bins (bench/README has the measurements behind each choice
 * here).  In the other bins, chunks form a treap ordered by (size,
 * address), by address alone in the exact bin of 32-byte chunks, whose
 * priorities are a hash of the address, so it needs only the two child
 * links a 32-byte chunk has room for, and a lookup or insert costs
 * O(log n) in the number of chunks in that one bin.  The smallest key not
 * below (request, 0) is exactly best fit: the smallest chunk that fits,
 * lowest address on ties.
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
 * Chunks of 48 bytes or more also link to their parent (at c+32; in a
 * pairing heap, to the chunk before them), so a chunk leaving its bin
 * because a neighbour merges with it is unlinked where it is, not looked
 * for from the root, which on a heap of many free blocks costs a cache
 * miss per level.  The 32-byte chunks have no room for it; their bin is
 * searched.
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
#include "bins.h"

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
unlink_at(unsigned bin, osmem__slot_t *s, osmem__slot_t eo, osmem__chunk_t *c)
{
	osmem__chunk_t *l, *r;
	osmem__slot_t el = c->link[0], er = c->link[1];
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
remove_at(struct osmem__arena *a, unsigned bin, osmem__slot_t *s,
          osmem__slot_t eo, osmem__chunk_t *c)
{
	if (c->link[0] == OSMEM_SLOT_END && c->link[1] == OSMEM_SLOT_END)
		*s = OSMEM_SLOT_END;
	else
		unlink_at(bin, s, eo, c);
	if (*root_of(a, bin) == OSMEM_SLOT_END)
		unmark(a, bin);
}

/* The figures of the index, for chunk c going out. */
static inline void
count_out(struct osmem__arena *a, osmem__chunk_t *c)
{
	a->st.free_bytes -= osmem__csize(c);
	a->st.nfree_chunks--;
	a->st.dirty -= osmem__dirty_part(c);
}

static inline void
pile_push(struct osmem__arena *a, osmem__chunk_t *c)
{
	osmem__chunk_t **top = pile_of(a, osmem__csize(c));
	c->link[0] = *top ? enc(*top) : OSMEM_SLOT_END;
	c->link[1] = OSMEM_SLOT_END;
	*up(c) = OSMEM_SLOT_PILE;
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
		osmem__fatal("corrupted free-chunk link at", c,
		             osmem__csize(c));
	if (hp)
		prev->link[0] = c->link[0];
	else
		*top = hn ? next : NULL;
	if (hn)
		next->link[1] = c->link[1];
	*up(c) =
	    OSMEM_SLOT_END; /* the chunk may be handed out: no stale mark */
}

static void tree_insert(struct osmem__arena *a, osmem__chunk_t *c);

void
osmem__bin_drain(struct osmem__arena *a)
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
tree_insert_in(struct osmem__arena *a, osmem__chunk_t *c, unsigned bin,
               int exact)
{
	osmem__slot_t *s = root_of(a, bin);
	uint32_t p = prio(c);
	osmem__chunk_t *n;
	osmem__slot_t e, eo = OSMEM_SLOT_END;
	int more;
	/* The walk down keeps the stored link to the owner, as c's parent
	 * link wants it: a copy per level, where keeping the owner decoded
	 * cost its encoding and a test for none at the end. */
	while ((more = open_link(s, e = *s, &n)) && prio(n) > p) {
		eo = e;
		s = key_less(exact, n, c) ? &n->link[1] : &n->link[0];
	}
	osmem__slot_t ec = enc(c);
	*s = ec;
	set_up(bin, c, eo);
	/* Split the subtree at n (stored link e) around c's key. */
	osmem__slot_t *ls = &c->link[0], *rs = &c->link[1];
	osmem__slot_t lo = ec, ro = ec;
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
	*ls = OSMEM_SLOT_END;
	*rs = OSMEM_SLOT_END;
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
	if (heaped(bin)) {
		c->link[0] = OSMEM_SLOT_END;
		c->link[1] = OSMEM_SLOT_END;
		osmem__binheap_add(a, bin, c);
	} else if (!bin_nonempty(a, bin)) {
		/* the only chunk (a common case on small heaps): no walk,
		 * and none of the registers a walk saves */
		*root_of(a, bin) = enc(c);
		set_up(bin, c, OSMEM_SLOT_END);
		c->link[0] = OSMEM_SLOT_END;
		c->link[1] = OSMEM_SLOT_END;
		mark(a, bin);
	} else if (is_exact(bin)) {
		tree_walk_exact(a, c, bin);
	} else {
		tree_walk_sized(a, c, bin);
	}
}

/* The caller passes c's size and resident bytes, as it has just written
 * them: reading c's head back here stalled, and the stall was 6% of a
 * mid-size churn's time (bench/README). */
void
osmem__bin_insert(struct osmem__arena *a, osmem__chunk_t *c, size_t size,
                  size_t dirt)
{
	a->st.free_bytes += size;
	a->st.nfree_chunks++;
	a->st.dirty += dirt;
	osmem__chunk_t *old = victim(a);
	set_victim(a, c);
	if (old) {
		if (a->run++ >= OSMEM_PILE_AFTER &&
		    pileable(osmem__csize(old)))
			pile_push(a, old);
		else
			tree_insert(a, old);
	}
}

void
osmem__bin_remove(struct osmem__arena *a, osmem__chunk_t *c)
{
	count_out(a, c);
	if (c == victim(a)) {
		set_victim(a, NULL);
		return;
	}
	unsigned bin = osmem__bin_index(osmem__csize(c));
	osmem__slot_t *s = root_of(a, bin), eo = OSMEM_SLOT_END, ec = enc(c);
	osmem__chunk_t *n = NULL, *owner;
	if (parented(bin) && *up(c) == OSMEM_SLOT_PILE) {
		pile_unlink(a, c);
		return;
	}
	if (heaped(bin)) {
		osmem__binheap_remove(a, bin, c);
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
		osmem__fatal("free chunk missing from its bin:", c,
		             osmem__csize(c));
	remove_at(a, bin, s, eo, c);
}

/* The least chunk of a non-empty bin, the slot that holds it and the
 * stored link to that slot's owner. */
static OSMEM_ALWAYS_INLINE osmem__chunk_t *
least(struct osmem__arena *a, unsigned bin, osmem__slot_t **where,
      osmem__slot_t *eo)
{
	osmem__slot_t *s = root_of(a, bin), e = *s, o = OSMEM_SLOT_END;
	osmem__chunk_t *n = ld(s), *l;
	/* a heap's least is its root; a treap's ends its left spine */
	while (!heaped(bin) && step(&n->link[0], &l)) {
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
search(struct osmem__arena *a, unsigned bin, size_t size,
       osmem__slot_t **where, osmem__slot_t *eo)
{
	osmem__slot_t *s = root_of(a, bin), e, o = OSMEM_SLOT_END;
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
	osmem__slot_t *s = NULL, owner = NULL;
	if (OSMEM_UNLIKELY(any_piled(a)))
		osmem__bin_drain(a);
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
			 * first non-empty one is the best, unless that bin
			 * lies above the victim's. */
			unsigned b = next_bin(a, bin + 1);
			if (b < OSMEM_NBINS &&
			    !(v && b > osmem__bin_index(osmem__csize(v)))) {
				bin = b;
				c = least(a, b, &s, &owner);
			}
		}
	}
	if (v && (!c || key_below(v, c))) {
		count_out(a, v);
		set_victim(a, NULL);
		return v;
	}
	if (c) {
		count_out(a, c);
		if (heaped(bin))
			osmem__binheap_remove(a, bin, c);
		else
			remove_at(a, bin, s, owner, c);
	}
	return c;
}
