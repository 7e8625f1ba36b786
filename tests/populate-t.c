/*
 * populate-t: a growth of the break faults in its pad (the top_pad bytes
 * beyond the request) at once, with one madvise, once the arena's heap
 * holds 256 pads or more; below that, the pad's pages come in only as
 * they are touched.  Which pages are resident is read with mincore.
 */
#include "util.h"
#include "os.h"

#include <unistd.h> /* sysconf */

/* The end of the break heap: the system's break, or the mapped break
 * that carries on from it where the system's cannot move (os.c). */
static uintptr_t
brk_end(void)
{
	return osmem__win.lo + osmem__win.span;
}

/* Resident bytes in the pad the last growth added: the pages below the
 * break, less the last one (the segment's fence is written there) and
 * the pad's first (the request may reach into it). */
static size_t
pad_resident(size_t pad, size_t page)
{
	uintptr_t end = brk_end() & ~(uintptr_t)(page - 1);
	return osmem__os_resident((void *)(end - pad + page), pad - 2 * page);
}

int
main(void)
{
	enum { SZ = 64 * 1024, MOST = 1024 };
	static char *b[MOST];
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pad = osmem__g.cfg.top_pad & ~(page - 1);
	struct osmem__arena *a = &osmem__g.arena[0];
	int small = 0, small_cold = 0, large = 0, large_warm = 0, n = 0;
	osmem_free(osmem_malloc(1)); /* the heap and this thread's cache */
	while (n < MOST && large < 8) {
		size_t heap = a->st.heap;
		uintptr_t brk0 = brk_end();
		b[n] = osmem_malloc(SZ - OSMEM_OVERHEAD);
		if (!b[n])
			bail("no memory for block %d", n);
		memset(b[n++], 0x5a, SZ - OSMEM_OVERHEAD);
		if (brk_end() == brk0)
			continue; /* no growth */
		size_t res = pad_resident(pad, page);
		if (heap / 256 >= pad) {
			large++;
			large_warm += res == pad - 2 * page;
		} else {
			small++;
			small_cold += res == 0;
		}
	}
	ok(small > 0 && small_cold == small,
	   "below 256 pads of heap, no growth faulted its pad in (%d of %d "
	   "left cold)",
	   small_cold, small);
	if (large == 0 && a->st.heap_brk / 256 < pad)
		skip("the break stopped short of 256 pads (%zu bytes)",
		     a->st.heap_brk);
	else
		ok(large == 8 && large_warm == large,
		   "from 256 pads of heap on, each growth faulted its pad in "
		   "(%d of %d)",
		   large_warm, large);
	heap_ok("after the growths");
	while (n > 0)
		osmem_free(b[--n]);
	heap_ok("after freeing them");
	return done_testing();
}
