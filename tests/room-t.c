/*
 * room-t: the room made before new pages.  When the resident bytes would
 * pass their peak, a new mapping first has free heap chunks give their
 * pages back; a growth of the heap does not (its free chunks are the
 * holes the coming requests will fill).  Which pages are resident is read
 * with mincore.
 */
#include "util.h"
#include "os.h"

enum { MIB = 1 << 20 };

/* The share (in percent) of the whole pages in [p, p+len) that is
 * resident (mincore takes whole pages). */
static unsigned
resident_pct(const void *p, size_t len)
{
	uintptr_t page = osmem__g.page;
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(page - 1);
	return (unsigned)(osmem__os_resident((void *)lo, hi - lo) * 100 /
	                  (hi - lo));
}

int
main(void)
{
	struct osmem__arena *a = &osmem__g.arena[0];
	/* Blocks up to 32 MiB from the heap, and no release pass between
	 * the steps: only the room gives pages back.  Room is made once
	 * the free resident bytes pass a quarter of the threshold. */
	ok(osmem_mallopt(OSMEM_M_MMAP_THRESHOLD, 32 * MIB) == 1,
	   "mmap threshold 32 MiB");
	osmem__g.cfg.release_threshold = 64 * MIB;

	/* A 24 MiB hole between two blocks, all of it resident. */
	char *x = osmem_malloc(24 * MIB - 64);
	char *sep = osmem_malloc(4096);
	if (!x || !sep)
		bail("no memory for the hole");
	memset(x, 1, 24 * MIB - 64);
	memset(sep, 2, 4096);
	osmem_free(x);
	heap_ok("after the hole");
	ok(resident_pct(x, 24 * MIB - 64) >= 95,
	   "the freed block's pages stay resident (%u%%)",
	   resident_pct(x, 24 * MIB - 64));

	/* 30 MiB more: nothing holds it, the heap grows past the peak. */
	size_t heap0 = a->st.heap;
	char *z = osmem_malloc(30 * MIB);
	if (!z)
		bail("no memory for the growth");
	ok(a->st.heap > heap0 && !(osmem__mem2chunk(z)->head & OSMEM_F_MMAP),
	   "a 30 MiB block from the grown heap");
	ok(resident_pct(x + 4096, 16 * MIB) >= 95,
	   "the heap's growth left the hole's pages resident (%u%%)",
	   resident_pct(x + 4096, 16 * MIB));
	memset(z, 3, 30 * MIB);
	heap_ok("after the growth");

	/* 40 MiB mapped: past the peak again, the hole gives its pages. */
	size_t released = a->st.released;
	char *m = osmem_malloc(40 * MIB);
	if (!m)
		bail("no memory for the mapping");
	ok(osmem__mem2chunk(m)->head & OSMEM_F_MMAP, "a 40 MiB mapping");
	ok(a->st.released > released && resident_pct(x, 24 * MIB - 64) <= 50,
	   "the mapping had the hole give pages back first (%zu bytes; "
	   "%u%% left)",
	   a->st.released - released, resident_pct(x, 24 * MIB - 64));
	memset(m, 4, 40 * MIB);
	heap_ok("after the mapping");

	osmem_free(m);
	osmem_free(z);
	osmem_free(sep);
	heap_ok("after freeing them");
	return done_testing();
}
