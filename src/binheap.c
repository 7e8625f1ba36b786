/*
 * binheap.c: the exact bins of chunks of 48 bytes or more, as pairing
 * heaps by address.  An exact bin gives up its lowest address and takes
 * chunks in and out anywhere (a neighbour merging); a treap by address
 * (bins.c, the other bins) cost a cache miss per level on each insertion,
 * down a path of old chunks that nothing else had touched.  A pairing
 * heap takes a chunk in by one comparison with its root and gives up its
 * root by pairing the root's children, which are mostly chunks put in
 * since the last take, still in the cache.  The order is the treap's:
 * placement is the same, exact best fit, lowest address on ties.
 *
 * link[0] leads to a chunk's first child, link[1] to its next sibling,
 * and the parent slot to the chunk before it in its parent's list of
 * children: the parent for the first child, else the previous sibling
 * (the end for the root).  Links are encoded as in the treaps; a link
 * that decodes to no chunk aborts.  binwalk.c checks the heaps.
 * Layer 4.
 */
#include "bins.h"

/* Make b the first child of a (a below b); returns a.  Neither has a
 * sibling the caller still needs. */
static inline osmem__chunk_t *
heap_link(osmem__chunk_t *a, osmem__chunk_t *b)
{
	osmem__slot_t first = a->link[0], eb = enc(b);
	osmem__chunk_t *f;
	if (open_link(&a->link[0], first, &f))
		*up(f) = eb;
	b->link[1] = first;
	*up(b) = enc(a);
	a->link[0] = eb;
	return a;
}

/* The lower of two heaps' roots, the other linked under it. */
static inline osmem__chunk_t *
heap_meld(osmem__chunk_t *a, osmem__chunk_t *b)
{
	return (uintptr_t)a < (uintptr_t)b ? heap_link(a, b) : heap_link(b, a);
}

/* One heap of the list of siblings starting at first: melded in pairs
 * from the left, then the pairs from the right.  The root it returns has
 * no sibling and no parent slot set. */
static OSMEM_NOINLINE osmem__chunk_t *
heap_combine(osmem__chunk_t *first)
{
	osmem__chunk_t *pairs = NULL, *a = first, *b, *next;
	while (a) {
		if (!step(&a->link[1], &b)) {
			a->link[1] = pairs ? enc(pairs) : OSMEM_SLOT_END;
			pairs = a;
			break;
		}
		next = ld(&b->link[1]);
		a->link[1] = OSMEM_SLOT_END;
		b->link[1] = OSMEM_SLOT_END;
		osmem__chunk_t *m = heap_meld(a, b);
		m->link[1] = pairs ? enc(pairs) : OSMEM_SLOT_END;
		pairs = m;
		a = next;
	}
	osmem__chunk_t *h = pairs;
	pairs = ld(&h->link[1]);
	h->link[1] = OSMEM_SLOT_END;
	while (pairs) {
		next = ld(&pairs->link[1]);
		pairs->link[1] = OSMEM_SLOT_END;
		h = heap_meld(h, pairs);
		pairs = next;
	}
	return h;
}

/* Put h, a heap with no sibling, into bin as its root, or under it. */
void
osmem__binheap_add(struct osmem__arena *a, unsigned bin, osmem__chunk_t *h)
{
	osmem__slot_t *root = root_of(a, bin);
	osmem__chunk_t *r;
	if (!bin_nonempty(a, bin) || !open_link(root, *root, &r)) {
		*up(h) = OSMEM_SLOT_END;
		*root = enc(h);
		mark(a, bin);
	} else if ((uintptr_t)h < (uintptr_t)r) {
		heap_link(h, r);
		*up(h) = OSMEM_SLOT_END;
		*root = enc(h);
	} else {
		heap_link(r, h);
	}
}

/* Take c out of the heap of its bin: its children, combined, go back in
 * its place (under the root). */
void
osmem__binheap_remove(struct osmem__arena *a, unsigned bin, osmem__chunk_t *c)
{
	osmem__slot_t ec = enc(c), *root = root_of(a, bin), *s = NULL;
	osmem__chunk_t *prev, *next, *first, *h = NULL;
	/* The slot that leads to c: the bin's root, its parent's
	 * first-child link, or its previous sibling's.  A parent slot that
	 * is no link aborts. */
	if (open_link(up(c), *up(c), &prev))
		s = prev->link[0] == ec   ? &prev->link[0]
		    : prev->link[1] == ec ? &prev->link[1]
		                          : NULL;
	else if (bin_nonempty(a, bin) && *root == ec)
		s = root;
	if (OSMEM_UNLIKELY(!s || !bin_nonempty(a, bin)))
		osmem__fatal("free chunk missing from its bin:", c,
		             osmem__csize(c));
	if (step(&c->link[0], &first))
		h = heap_combine(first);
	if (s == root) {
		if (h) {
			*up(h) = OSMEM_SLOT_END;
			*root = enc(h);
		} else {
			*root = OSMEM_SLOT_END;
			unmark(a, bin);
		}
		return;
	}
	*s = c->link[1];
	if (step(&c->link[1], &next))
		*up(next) = *up(c);
	if (h) /* not below the root: it was c's */
		osmem__binheap_add(a, bin, h);
}
