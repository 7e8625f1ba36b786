/*
 * move-t: what a heap block that realloc moves leaves resident.  A block
 * of 128 KiB or more whose move took the arena's resident estimate past
 * its peak gives its pages back as it is freed, so a buffer doubled in a
 * new place does not hold its old copy and its new one at once; a move
 * into pages the heap already had, or once the release passes have
 * backed off, leaves them.  Which pages are resident is read with
 * mincore.
 */
#include "util.h"

/* The blocks that keep others from growing in place: larger than the
 * holes the steps before leave, so each goes right after the block
 * allocated before it. */
enum { KIB = 1 << 10, MIB = 1 << 20, SEP = 128 * KIB };

/* realloc of b (n bytes of pattern seed) to m bytes, which must move it:
 * the new block holds the pattern.  Returns the new block. */
static char *
moved(char *b, size_t n, size_t m, unsigned seed)
{
	char *q = osmem_realloc(b, m);
	if (!q || q == b)
		bail("realloc to %zu bytes did not move the block", m);
	ok(filled(q, n, seed), "the moved block holds its %zu bytes", n);
	fill(q, m, seed + 1);
	return q;
}

int
main(void)
{
	struct osmem__arena *a = &osmem__g.arena[0];
	/* No trim either: only the move gives pages back. */
	heap_no_passes();
	osmem__g.cfg.trim_threshold = SIZE_MAX;

	/* A block under 128 KiB moved past the peak keeps its pages too:
	 * the next blocks of a list grown by small steps write them. */
	char *t = osmem_malloc(100 * KIB), *sep0 = osmem_malloc(SEP);
	if (!t || !sep0)
		bail("no memory for the small block");
	fill(t, 100 * KIB, 4);
	size_t released = a->st.released;
	char *u = moved(t, 100 * KIB, 8 * MIB, 4);
	ok(a->st.released == released && resident_pct(t, 100 * KIB) >= 90,
	   "a 100 KiB block moved past the peak kept its pages (%u%%)",
	   resident_pct(t, 100 * KIB));

	/* 512 KiB doubled while a block after it keeps it from growing in
	 * place: the new 1 MiB comes from a growth of the heap. */
	char *b = osmem_malloc(512 * KIB), *sep = osmem_malloc(SEP);
	if (!b || !sep)
		bail("no memory for the first block");
	fill(b, 512 * KIB, 1);
	ok(resident_pct(b, 512 * KIB) >= 95, "the block is resident");
	released = a->st.released;
	size_t heap = a->st.heap;
	char *q = moved(b, 512 * KIB, MIB, 1);
	ok(a->st.heap > heap, "the heap grew for the new block");
	ok(a->st.released - released >= 500 * KIB,
	   "the old block's pages were given back (%zu bytes)",
	   a->st.released - released);
	ok(resident_pct(b, 512 * KIB) <= 2,
	   "the old block holds no resident pages (%u%%)",
	   resident_pct(b, 512 * KIB));
	heap_ok("after a move past the peak");

	/* Past the peak again, but with the passes' wait backed off (set
	 * here as a pass would set it): pages given back came into use
	 * again, so the old block keeps them.  300 KiB go where the first
	 * block was, the smallest hole, and the small block right after. */
	a->st.backoff = 2;
	char *w = osmem_malloc(300 * KIB), *sep2 = osmem_malloc(SEP);
	if (w != b || !sep2)
		bail("best fit put 300 KiB at %p, not at %p", (void *)w,
		     (void *)b);
	fill(w, 300 * KIB, 2);
	released = a->st.released;
	heap = a->st.heap;
	char *r = moved(w, 300 * KIB, 4 * MIB, 2);
	ok(a->st.heap > heap, "the heap grew for the 4 MiB block");
	ok(a->st.released == released && resident_pct(w, 300 * KIB) >= 95,
	   "with the wait backed off the old pages stayed (%u%%)",
	   resident_pct(w, 300 * KIB));
	heap_ok("after a move with the wait backed off");

	/* The 1 MiB block freed leaves a resident hole; a block moved into
	 * it makes no new peak and keeps its old pages.  256 KiB go where
	 * the 300 KiB were. */
	a->st.backoff = 1;
	osmem_free(q);
	char *e = osmem_malloc(256 * KIB), *sep3 = osmem_malloc(SEP);
	if (e != b || !sep3)
		bail("best fit put 256 KiB at %p, not at %p", (void *)e,
		     (void *)b);
	fill(e, 256 * KIB, 3);
	released = a->st.released;
	heap = a->st.heap;
	char *s = moved(e, 256 * KIB, 600 * KIB, 3);
	ok(s == q && a->st.heap == heap, "the new block took the hole");
	ok(a->st.released == released && resident_pct(e, 256 * KIB) >= 95,
	   "a move under the peak left the old pages resident (%u%%)",
	   resident_pct(e, 256 * KIB));
	heap_ok("after a move under the peak");

	osmem_free(u);
	osmem_free(s);
	osmem_free(r);
	osmem_free(sep0);
	osmem_free(sep);
	osmem_free(sep2);
	osmem_free(sep3);
	heap_ok("after freeing them");
	return done_testing();
}
