/*
 * trim.c: giving memory back to the system.  The free end of the break
 * segment is returned with a negative sbrk (only when the break is still
 * where we left it), mapped segments that became wholly free are unmapped,
 * and on request the whole pages inside every free chunk are released
 * with madvise (they read as zero and cost nothing until touched again).
 * Called with the arena locked.  Layer 4.
 */
#include "core.h"

/* Return the free end of break segment s beyond pad bytes, if s ends
 * where the break does (the system's, or the mapped one). */
static size_t
shrink_break(struct osmem__arena *a, struct osmem__seg *s, size_t pad)
{
	size_t page = osmem__g.page;
	/* Not another arena's region: its segment grows back into it. */
	if (!s || s->kind != OSMEM_SEG_BRK || a->aflag)
		return 0;
	osmem__chunk_t *f = osmem__fence_of(s);
	if (f->head & OSMEM_F_PINUSE)
		return 0;
	osmem__chunk_t *last = osmem__checked(osmem__before(f, f->prev_foot));
	uintptr_t keep = (uintptr_t)last + OSMEM_MIN_CHUNK + pad + OSMEM_FENCE;
	char *end = (char *)osmem__round_up(keep, page);
	if (end + page > s->end)
		return 0;
	size_t cut = (size_t)(s->end - end);
	/* Not when someone else's memory lies above ours. */
	if (osmem__os_brk_shrink(s->end, cut) != 0)
		return 0;
	size_t dirt = osmem__dirt(last);
	osmem__bin_remove(a, last);
	s->end = end;
	osmem__set_head(osmem__fence_of(s), 0, OSMEM_F_CINUSE | a->aflag);
	osmem__put_free(a, last,
	                (size_t)((char *)osmem__fence_of(s) - (char *)last),
	                dirt);
	a->st.heap -= cut;
	a->st.heap_brk -= cut;
	return cut;
}

/* Unmap mapped segments that hold nothing but one free chunk. */
static size_t
unmap_free_segments(struct osmem__arena *a)
{
	size_t done = 0;
	for (struct osmem__seg **sp = &a->segs; *sp;) {
		struct osmem__seg *s = *sp;
		osmem__chunk_t *c = osmem__at(s, OSMEM_SEG_HEAD);
		if (s->kind != OSMEM_SEG_MAPPED ||
		    !osmem__is_free(osmem__checked(c)) ||
		    osmem__next(c) != osmem__fence_of(s)) {
			sp = &s->next;
			continue;
		}
		/* counted: the segment; mapped: all of another arena's
		 * region, which its segment may not fill yet */
		size_t len = (size_t)(s->end - (char *)s);
		len = osmem__round_up(len, osmem__g.page);
		size_t span = a->aflag ? OSMEM_REGION : len;
		osmem__bin_remove(a, c);
		*sp = s->next;
		(void)osmem__pages_mark(s, span, 0);
		if (osmem__os_unmap(s, span) != 0) {
			/* The system refused: the segment stays as it was. */
			(void)osmem__pages_mark(s, span, 1);
			*sp = s;
			osmem__bin_insert(a, c, osmem__csize(c),
			                  osmem__dirty_part(c));
			sp = &s->next;
			continue;
		}
		if (a->brk_seg == s)
			a->brk_seg = NULL;
		a->st.nsegs--;
		a->st.heap -= len;
		done += len;
	}
	return done;
}

/* The largest step of the wait between release passes (see below). */
#define RELEASE_STEP ((size_t)512 << 10)

/*
 * The resident free bytes an arena keeps before a release pass: the
 * tunable (1 MiB by default), or more when the arena is large (0 stays
 * 0): 1/64 of its heap, so that large heaps are not walked for a few
 * pages, or as many bytes as are in use, so that a program whose live
 * size swings (large blocks freed and allocated in turn) finds the pages
 * it freed still there rather than faulting them in again, while one that
 * frees most of its heap gives it back as it goes: the threshold falls
 * with what is in use.  Or, once passes have backed off (pages they gave
 * back came into use again), the wait they learned: a program that
 * builds a working set and frees all of it, round after round, keeps its
 * pages between rounds.  A pass gives back down to osmem__release_floor
 * (bench/README has the figures behind each choice).
 */
size_t
osmem__release_threshold(const struct osmem__arena *a)
{
	size_t t = osmem__g.cfg.release_threshold, h = a->st.heap / 64;
	if (h < a->st.in_use)
		h = a->st.in_use;
	if (a->st.backoff > 1 && h < a->st.backoff * RELEASE_STEP)
		h = a->st.backoff * RELEASE_STEP;
	return t && h > t ? h : t;
}

/* Where a pass started by a free stops: a quarter of the threshold below
 * it, and at least half the tunable. */
size_t
osmem__release_floor(const struct osmem__arena *a)
{
	size_t t = osmem__release_threshold(a);
	size_t cut = t / 4 > osmem__g.cfg.release_threshold / 2
	                 ? t / 4
	                 : osmem__g.cfg.release_threshold / 2;
	return t > cut ? t - cut : 0;
}

struct release {
	struct osmem__arena *a;
	size_t done, down_to;
	unsigned budget; /* chunks a pass may look at */
	int part;        /* the last chunk gives only what is still needed */
};

/* Give back the whole pages inside free chunk c, of size bytes, past its
 * links and its estimate; with want > 0, only the last pages of it that
 * hold want bytes.  The chunk's low end is what a request split from it
 * takes (heap.c carves from the start), so its high end is what stays
 * unused longest.  Returns the resident bytes that went back (0 if none
 * did) and takes them off the estimate; the range may take in pages
 * released before, which the kernel skips, so what counts is the
 * estimate, at most the range's length. */
static size_t
give_back(osmem__chunk_t *c, size_t size, size_t want)
{
	size_t page = osmem__g.page, *dirt = osmem__dirt_slot(c);
	uintptr_t lo = osmem__round_up((uintptr_t)(dirt + 1), page);
	uintptr_t hi = ((uintptr_t)c + size) & ~(uintptr_t)(page - 1);
	int all = 1;
	if (want && hi > lo && hi - lo > want) {
		lo = hi - osmem__round_up(want, page);
		all = 0;
	}
	if (hi <= lo || osmem__os_release((void *)lo, hi - lo) != 0)
		return 0;
	size_t done = all || *dirt < hi - lo ? *dirt : hi - lo;
	*dirt -= done;
	return done;
}

/* A release pass's visit of indexed free chunk c: its pages go back if
 * enough of it is resident to be worth the walk, an eighth of it or 64
 * pages, so no range is released over and over for a few dirty pages. */
static int
release_chunk(osmem__chunk_t *c, void *arg)
{
	struct release *r = arg;
	/* the size bounds what is given back: checked first */
	size_t page = osmem__g.page, size = osmem__csize(osmem__checked(c));
	size_t dirt = *osmem__dirt_slot(c), done;
	if (r->a->st.dirty <= r->down_to || (r->down_to && r->budget-- == 0))
		return 1; /* enough: stop the walk */
	if (dirt == 0 || (r->down_to && dirt < size / 8 && dirt < 64 * page))
		return 0;
	done = give_back(c, size, r->part ? r->a->st.dirty - r->down_to : 0);
	r->done += done;
	r->a->st.dirty -= done; /* indexed: its estimate was counted */
	return 0;
}

/* With release_threshold=0: the pages of c, a free chunk of two pages or
 * more about to be indexed, go back at once.  A pass over every free
 * chunk at each free (what the threshold's test in osmem__heap_free would
 * start) made freeing 1 GiB of blocks in random order take 3.6-8.7 s
 * instead of 0.3 s. */
void
osmem__release_now(struct osmem__arena *a, osmem__chunk_t *c, size_t size)
{
	a->st.released += give_back(c, size, 0); /* not indexed yet */
}

/* In-use chunk c's contents are dead: its pages go back as a free
 * chunk's would, before it is freed (so what it will hold when free, its
 * links and its estimate, stays where give_back leaves it). */
size_t
osmem__release_dead(struct osmem__arena *a, osmem__chunk_t *c)
{
	size_t size = osmem__csize(c), *dirt = osmem__dirt_slot(c);
	*dirt = size;
	osmem__release_now(a, c, size);
	return size - *dirt;
}

/* Give back the pages of free chunks, largest first, until no more than
 * down_to resident bytes are left in them (0: all there are); with part,
 * the last chunk only gives what is still needed.  Passes started by
 * frees give whole chunks: a hole that grows up by merging would have its
 * top given back again and again, pages already released counted as
 * resident each time (release-t). */
static size_t
release_pass(struct osmem__arena *a, size_t down_to, int part)
{
	struct release r = {a, 0, down_to, 256, part && down_to};
	osmem__bin_each_down(a, osmem__bin_index(2 * osmem__g.page),
	                     release_chunk, &r);
	a->st.released += r.done;
	return r.done;
}

/*
 * A release pass once the resident free bytes pass release_at, down to
 * down_to.  The next pass waits for backoff more steps (half a
 * threshold, at most RELEASE_STEP) of frees.  When the pages released
 * last time mostly came back into use (refaults: the program's working
 * set swings over them, as when large blocks are freed and allocated in
 * turn, or a working set built and freed again and again), releasing
 * them again would only cost faults and system calls, so the wait grows
 * at once, by doublings, until it covers the arena's free bytes (at most
 * its heap); when they stayed unused, it halves back.  Doubling once per
 * pass learned too slowly for threads that build and free a few MiB
 * each and end (mstress: its 25 rounds gave back 28 MB, 19 passes, most
 * of it faulted in again; bench/README).  The
 * passes of a run of frees (the bytes in use fell since the last pass)
 * count as one: between them nothing is allocated, so they say nothing
 * of refaults (mstress's rounds, each freeing all it built, halved the
 * wait at every second pass).  In such a run the next pass also waits
 * for an eighth of the bytes still in use to be freed: a pass (of at most
 * 256 chunks) every half MiB gave back ranges that the run's later frees
 * merged into larger chunks, given back again (freeing the bench's 1 GiB
 * burst: 16,897 madvise calls, 8,044 with the wait).
 */
void
osmem__arena_release(struct osmem__arena *a, size_t down_to)
{
	size_t threshold = osmem__release_threshold(a);
	size_t step =
	    threshold / 2 < RELEASE_STEP ? threshold / 2 : RELEASE_STEP;
	if (a->st.backoff == 0)
		a->st.backoff = 1;
	int falling = a->st.in_use < a->st.pass_in_use;
	if (!falling) {
		/* not in a run of frees: weigh the refaults */
		size_t heap = a->st.heap, used = a->st.in_use;
		size_t spare = heap > used ? heap - used : 0;
		if (a->st.refault > a->st.last_release / 2) {
			while (a->st.backoff * RELEASE_STEP < heap) {
				a->st.backoff *= 2;
				if (a->st.backoff * step >= spare)
					break;
			}
		} else if (a->st.backoff > 1) {
			a->st.backoff /= 2;
		}
		a->st.last_release = 0;
		a->st.refault = 0;
	}
	a->st.pass_in_use = a->st.in_use;
	a->st.last_release += release_pass(a, down_to, 0);
	if (!a->aflag) /* the bytes in use fell: so does what is kept */
		osmem__large_drop(osmem__kept_most(&a->st));
	size_t wait = a->st.backoff * step;
	if (falling && wait < a->st.in_use / 8)
		wait = a->st.in_use / 8;
	a->st.release_at = a->st.dirty + wait;
}

/*
 * Room before new pages: only what would take the resident bytes (in use,
 * free and resident, mapped, freed mappings kept for reuse: an estimate)
 * past their peak so far goes back: kept mappings first (the main
 * arena's figure), then the high ends of the largest free chunks.  Growth
 * that stays under the peak keeps the free pages, which the program's
 * next requests of those sizes find still there.  Nothing goes back while
 * the free resident bytes are under a quarter of the release threshold.
 *
 * Free chunks give pages unless the arena's release passes have backed
 * off, having found that pages they gave back came into use again: then
 * the heap is filling holes it gives back and writes again before its
 * peak, whether the new pages are the heap's or a mapping's (largefree,
 * whose largest requests are mapped while the dynamic threshold rises,
 * gave back 100 MB more at growths, and 76 MB more before its mappings,
 * for 24,000 and 36,000 more faults and the same peak), while a program
 * whose new requests outgrow its holes for good still has them give their
 * pages (a phase of larger blocks in a scratch program: 235 MB peak, 250
 * MB without, glibc 249; largereuse: 637 MB, 704 MB with no room made
 * before its mappings at all).
 */
void
osmem__make_room(struct osmem__arena *a, size_t len)
{
	size_t r = a->st.in_use + a->st.dirty + a->st.large + a->st.kept + len;
	size_t over = r > a->st.res_peak ? r - a->st.res_peak : 0;
	if (over > len)
		over = len;
	if (over && a->st.kept) {
		/* freed mappings kept for reuse go first */
		size_t before = a->st.kept;
		osmem__large_drop(before > over ? before - over : 0);
		size_t done = before - a->st.kept;
		r -= done;
		over = over > done ? over - done : 0;
	}
	if (a->st.backoff <= 1 && over &&
	    a->st.dirty > osmem__release_threshold(a) / 4) {
		size_t done = release_pass(
		    a, a->st.dirty > over ? a->st.dirty - over : 0, 1);
		a->st.last_release += done;
		r -= done;
	}
	if (r > a->st.res_peak)
		a->st.res_peak = r;
}

int
osmem__arena_trim(struct osmem__arena *a, size_t pad, int release_all)
{
	/* The segment the break extends, and one left on the system break
	 * when the heap went on in the mapped break (os.c). */
	size_t done = 0;
	for (struct osmem__seg *s = a->segs; s; s = s->next)
		done += shrink_break(a, s, pad);
	done += unmap_free_segments(a);
	a->st.released += done;
	if (release_all) {
		size_t before = a->st.released;
		osmem__arena_release(a, 0);
		done += a->st.released - before;
	}
	return done > 0;
}
