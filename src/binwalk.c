/*
 * binwalk.c: the best-fit index read rather than changed: its largest
 * chunk, the release pass's visit of its chunks from the largest down,
 * whether it holds a chunk, and its checker, which the heap checker calls
 * for each arena.  Layer 4.
 */
#include "bins.h"

size_t
osmem__bin_largest(struct osmem__arena *a)
{
	unsigned bin = OSMEM_NBINS;
	if (any_piled(a))
		osmem__bin_drain(a);
	for (unsigned w = OSMEM_BITMAP_WORDS; w-- > 0;)
		if (a->map[w]) {
			bin =
			    w * 64 + 63 - (unsigned)__builtin_clzll(a->map[w]);
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
		if (bin_nonempty(a, bin) &&
		    visit(ld(root_of(a, bin)), fn, arg))
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
	if (heaped(bin)) {
		/* A heap has no search by key.  A free chunk is in it if
		 * the slot before it leads to it: bin_check counts every
		 * chunk its walks reach from the roots, and the heap check
		 * holds that count to the free chunks of the segments. */
		osmem__slot_t ec = enc(c), e = *up((osmem__chunk_t *)c);
		osmem__chunk_t *p;
		if (!osmem__is_free(c))
			return 0;
		if (e == OSMEM_SLOT_END)
			return *root_of(a, bin) == ec;
		return open_link(up((osmem__chunk_t *)c), e, &p) &&
		       (p->link[0] == ec || p->link[1] == ec);
	}
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
	    *up((osmem__chunk_t *)c) == OSMEM_SLOT_PILE)
		return 1;
	return in_tree(a, bin, c);
}

/* The checks of one node n of any bin's index (parent links and order
 * aside). */
static int
check_node(const osmem__chunk_t *n, unsigned bin)
{
	if (!osmem__head_ok(n))
		return osmem__report("heap check: bad header on free chunk", n,
		                     0);
	size_t sz = osmem__csize(n);
	if (n->head & (OSMEM_F_CINUSE | OSMEM_F_MMAP))
		return osmem__report("heap check: in-use chunk in a bin", n,
		                     sz);
	if (osmem__bin_index(sz) != bin)
		return osmem__report("heap check: chunk in the wrong bin", n,
		                     sz);
	if (osmem__next(n)->prev_foot != sz)
		return osmem__report("heap check: free chunk footer mismatch",
		                     n, sz);
	return 0;
}

/* ---------------------------------------------------------------------
 * Consistency check of one treap: order, heap property, bin membership,
 * and that every node is a well-formed free chunk. */
static int
check_tree(osmem__chunk_t *n, osmem__chunk_t *parent, unsigned bin,
           const osmem__chunk_t *lo, const osmem__chunk_t *hi,
           uint64_t maxprio, int depth, size_t *count)
{
	if (!n)
		return 0;
	if (parented(bin) && ld(up(n)) != parent)
		return osmem__report(
		    "heap check: wrong parent link in bin tree at", n, 0);
	if (depth > TREE_DEPTH_MAX)
		return osmem__report("heap check: bin tree too deep at", n, 0);
	if (check_node(n, bin))
		return -1;
	size_t sz = osmem__csize(n);
	int exact = is_exact(bin);
	if ((lo && !key_less(exact, lo, n)) || (hi && !key_less(exact, n, hi)))
		return osmem__report("heap check: bin tree out of order at", n,
		                     sz);
	if (prio(n) > maxprio)
		return osmem__report("heap check: bin tree heap order at", n,
		                     sz);
	++*count;
	if (check_tree(ld(&n->link[0]), n, bin, lo, n, prio(n), depth + 1,
	               count))
		return -1;
	return check_tree(ld(&n->link[1]), n, bin, n, hi, prio(n), depth + 1,
	                  count);
}

/* The chunk whose list of children holds n (not the root): the slots
 * before n lead back along its siblings to the parent. */
static osmem__chunk_t *
parent_of(osmem__chunk_t *n)
{
	osmem__chunk_t *p = ld(up(n));
	while (p->link[0] != enc(n)) {
		n = p;
		p = ld(up(p));
	}
	return p;
}

/* Consistency check of one pairing heap, rooted at r, walked without a
 * stack (a heap's lists of children can be as long as it is): each
 * chunk's slot before it leads back to it, no chunk is below its parent,
 * and no more chunks than the arena counts free (so a loop ends). */
static int
check_heap(struct osmem__arena *a, osmem__chunk_t *r, unsigned bin,
           size_t *count)
{
	osmem__chunk_t *n = r, *par = NULL, *next;
	size_t seen = 0;
	if (*up(r) != OSMEM_SLOT_END || r->link[1] != OSMEM_SLOT_END)
		return osmem__report(
		    "heap check: wrong parent link in bin tree at", r, 0);
	for (;;) {
		if (++seen > a->st.nfree_chunks)
			return osmem__report(
			    "heap check: bin heap longer than the free "
			    "chunks in",
			    a, seen);
		if (check_node(n, bin))
			return -1;
		if (par && (uintptr_t)n < (uintptr_t)par)
			return osmem__report(
			    "heap check: bin heap out of order at", n,
			    osmem__csize(n));
		if (step(&n->link[0], &next)) {
			par = n; /* down to the first child */
		} else {
			/* on to the next sibling, up where there is none */
			while (n != r && !step(&n->link[1], &next)) {
				n = par;
				par = n == r ? NULL : parent_of(n);
			}
			if (n == r)
				break;
		}
		if (ld(up(next)) != n)
			return osmem__report(
			    "heap check: wrong parent link in bin tree at",
			    next, 0);
		n = next;
	}
	*count += seen;
	return 0;
}

/* Pile k: well-formed free chunks of the sizes that go there, each
 * marked, each linked back to from the next, and no more of them than the
 * arena counts free (so a walk around a loop ends). */
static int
check_pile(struct osmem__arena *a, int k, size_t *count)
{
	osmem__chunk_t *prev = NULL;
	size_t n = 0;
	for (osmem__chunk_t *c = a->pile[k]; c;
	     prev = c, c = ld(&c->link[0])) {
		if (++n > a->st.nfree_chunks)
			return osmem__report(
			    "heap check: pile longer than the free "
			    "chunks in",
			    a, n);
		if (!osmem__head_ok(c) ||
		    (c->head & (OSMEM_F_CINUSE | OSMEM_F_MMAP)))
			return osmem__report(
			    "heap check: bad header on piled chunk", c, 0);
		size_t sz = osmem__csize(c);
		if (!piled(c) || pile_of(a, sz) != &a->pile[k])
			return osmem__report(
			    "heap check: unmarked chunk on the pile", c, sz);
		if (ld(&c->link[1]) != prev)
			return osmem__report(
			    "heap check: wrong back link on the pile "
			    "at",
			    c, sz);
		if (osmem__next(c)->prev_foot != sz)
			return osmem__report(
			    "heap check: free chunk footer mismatch", c, sz);
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
		return osmem__report("heap check: bin summary bitmap wrong in",
		                     a, 0);
	osmem__chunk_t *v = victim(a);
	if (v) {
		unsigned bin = osmem__bin_index(osmem__csize(v));
		if (!osmem__head_ok(v) ||
		    (v->head & (OSMEM_F_CINUSE | OSMEM_F_MMAP)))
			return osmem__report("heap check: bad victim chunk", v,
			                     0);
		/* (a heap is not searched: its walk would count the victim
		 * twice, and the counts would disagree) */
		if (!heaped(bin) && in_tree(a, bin, v))
			return osmem__report(
			    "heap check: victim also in a bin", v,
			    osmem__csize(v));
		if (osmem__next(v)->prev_foot != osmem__csize(v))
			return osmem__report(
			    "heap check: free chunk footer mismatch", v,
			    osmem__csize(v));
		++*nfree;
	}
	if (check_pile(a, 0, nfree) || check_pile(a, 1, nfree))
		return -1;
	for (unsigned bin = 0; bin < OSMEM_NBINS; bin++) {
		if (!bin_nonempty(a, bin))
			continue;
		osmem__chunk_t *r = ld(root_of(a, bin));
		if (!r)
			return osmem__report(
			    "heap check: empty bin marked full",
			    root_of(a, bin), 0);
		if (heaped(bin) ? check_heap(a, r, bin, nfree)
		                : check_tree(r, NULL, bin, NULL, NULL,
		                             ~(uint64_t)0, 0, nfree))
			return -1;
	}
	return 0;
}
