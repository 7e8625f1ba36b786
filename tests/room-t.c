/*
 * room-t: the room made before new pages.  When the resident bytes would
 * pass their peak, a growth of the heap or a new mapping first has free
 * heap chunks give their pages back, unless the arena's release passes
 * have found that pages given back come into use again (their wait has
 * backed off): then the free chunks keep their pages, which the coming
 * requests will fill.  Which pages are resident is read with mincore.
 */
#include "util.h"

enum { MIB = 1 << 20, HOLE = 24 * MIB - 64 };

/* A block of HOLE bytes written in full and freed again, where x was:
 * the hole is resident.  Best fit puts it there, the hole being the
 * only free chunk that holds it. */
static void
refill(char *x)
{
	char *y = osmem_malloc(HOLE);
	if (y != x)
		bail("the hole was not refilled (%p, not %p)", (void *)y,
		     (void *)x);
	memset(y, 1, HOLE);
	osmem_free(y);
}

/* A block of n bytes from a growth of the heap (nothing else holds it). */
static char *
grown(struct osmem__arena *a, size_t n)
{
	size_t heap = a->st.heap;
	char *z = osmem_malloc(n);
	if (!z || a->st.heap <= heap ||
	    (osmem__mem2chunk(z)->head & OSMEM_F_MMAP))
		bail("no heap growth for %zu bytes", n);
	memset(z, 3, n);
	return z;
}

int
main(void)
{
	struct osmem__arena *a = &osmem__g.arena[0];
	/* Only the room gives pages back.  Room is made once the free
	 * resident bytes pass a quarter of the threshold. */
	heap_no_passes();

	/* A 24 MiB hole before a small block, all of it resident. */
	char *x = osmem_malloc(HOLE);
	char *sep = osmem_malloc(4096);
	if (!x || !sep)
		bail("no memory for the hole");
	memset(x, 1, HOLE);
	memset(sep, 2, 4096);
	osmem_free(x);
	ok(resident_pct(x, HOLE) >= 95,
	   "the freed block's pages stay resident (%u%%)",
	   resident_pct(x, HOLE));
	heap_ok("after the hole");

	/* The heap grows past the peak, nothing learned: the hole's pages
	 * go back first. */
	ok(a->st.backoff <= 1, "no release pass has backed off");
	char *z1 = grown(a, 30 * MIB);
	ok(resident_pct(x, HOLE) <= 50,
	   "a growth past the peak had the hole give its pages back (%u%% "
	   "left)",
	   resident_pct(x, HOLE));
	heap_ok("after the first growth");

	/* Once the passes have found that pages they gave back came into
	 * use again (a pass doubles its wait then; set here as it would
	 * set it), a growth past the peak leaves the hole its pages. */
	refill(x);
	a->st.backoff = 2;
	char *z2 = grown(a, 31 * MIB);
	ok(resident_pct(x, HOLE) >= 95,
	   "with the wait backed off, the growth left the hole's pages "
	   "resident (%u%%)",
	   resident_pct(x, HOLE));
	heap_ok("after the second growth");

	/* So does a mapping past the peak: the hole keeps its pages while
	 * the wait stays backed off ... */
	size_t released = a->st.released;
	char *m = osmem_malloc(40 * MIB);
	if (!m)
		bail("no memory for the mapping");
	ok(osmem__mem2chunk(m)->head & OSMEM_F_MMAP, "a 40 MiB mapping");
	ok(a->st.released == released && resident_pct(x, HOLE) >= 95,
	   "with the wait backed off, the mapping left the hole's pages "
	   "resident (%zu bytes given back; %u%% left)",
	   a->st.released - released, resident_pct(x, HOLE));
	memset(m, 4, 40 * MIB);
	heap_ok("after the first mapping");

	/* ... and gives them back first once nothing is learned. */
	a->st.backoff = 1;
	released = a->st.released;
	char *m2 = osmem_malloc(41 * MIB);
	if (!m2)
		bail("no memory for the second mapping");
	ok(osmem__mem2chunk(m2)->head & OSMEM_F_MMAP, "a 41 MiB mapping");
	ok(a->st.released > released && resident_pct(x, HOLE) <= 50,
	   "the mapping had the hole give pages back first (%zu bytes; "
	   "%u%% left)",
	   a->st.released - released, resident_pct(x, HOLE));
	memset(m2, 5, 41 * MIB);
	heap_ok("after the second mapping");

	osmem_free(m2);
	osmem_free(m);
	osmem_free(z2);
	osmem_free(z1);
	osmem_free(sep);
	heap_ok("after freeing them");
	return done_testing();
}
