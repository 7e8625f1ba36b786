/*
 * walk-t: osmem_walk visits every block with its true state and size,
 * the figures of osmem_stats agree with what the walk sees after a known
 * sequence of allocations, and osmem_check passes on a sound heap and
 * names the address of a corrupted header.
 */
#include "util.h"

#include <errno.h>

struct tally {
	size_t n[5], bytes[5];
	const void *want;
	int want_state, seen;
	int ordered;
	const char *last;
	const void *last_seg;
};

static int
count(const struct osmem_block *b, void *arg)
{
	struct tally *t = arg;
	t->n[b->state]++;
	t->bytes[b->state] += b->chunk_size;
	if (b->ptr == t->want && b->state == t->want_state)
		t->seen = 1;
	/* Heap blocks come in address order within a segment. */
	if (b->state != OSMEM_BLOCK_MAPPED) {
		if (b->segment == t->last_seg &&
		    (const char *)b->chunk <= t->last)
			t->ordered = 0;
		t->last = b->chunk;
		t->last_seg = b->segment;
	}
	return 0;
}

static int
stop_at_third(const struct osmem_block *b, void *arg)
{
	(void)b;
	return ++*(int *)arg == 3 ? 42 : 0;
}

static struct tally
walk(const void *want, int state)
{
	struct tally t = {.want = want, .want_state = state, .ordered = 1};
	osmem_walk(count, &t);
	return t;
}

static void
corrupt(void)
{
	char *a = osmem_malloc(40), *b = osmem_malloc(40);
	memset(a, 0x41, 48 + 8); /* through b's header */
	_exit(osmem_check() == -1 ? 0 : 1);
	(void)b;
}

/* A write after free that turns a free chunk's links into links to
 * itself: the chunk's tree then has a loop, and the check must end.  Run
 * in a fresh process with the caches off, so that a and b are carved end
 * to end with their guards and a goes into its bin's tree. */
static void
looped_tree(void)
{
	char *a = osmem_malloc(200), *g = osmem_malloc(8);
	char *b = osmem_malloc(200), *h = osmem_malloc(8);
	osmem_free(a); /* into its bin's tree */
	osmem_free(b); /* waits as the victim, a is in the tree */
	uintptr_t self = osmem__link_enc(osmem__mem2chunk(a));
	memcpy(a, &self, sizeof self);
	memcpy(a + 8, &self, sizeof self);
	alarm(10); /* a check that loops is killed: no message */
	_exit(osmem_check() == -1 ? 0 : 1);
	(void)g, (void)h;
}

/* A write after free of the one value that passes the link check, the
 * end of a tree, over the links of both chunks of a two-chunk tree: the
 * one below drops out of the index, and the check must say so.  Run as
 * looped_tree is. */
static void
cut_tree(void)
{
	char *a = osmem_malloc(200), *g = osmem_malloc(8);
	char *b = osmem_malloc(200), *h = osmem_malloc(8);
	char *c = osmem_malloc(200), *i = osmem_malloc(8);
	osmem_free(a);
	osmem_free(c); /* a goes into its bin's tree */
	osmem_free(b); /* c joins it: b waits as the victim */
	uintptr_t end[2] = {OSMEM_LINK_END, OSMEM_LINK_END};
	memcpy(a, end, sizeof end);
	memcpy(c, end, sizeof end);
	_exit(osmem_check() == -1 ? 0 : 1);
	(void)g, (void)h, (void)i;
}

/* What osmem_stats_print writes in format, into out; its result. */
static int
printed(int format, char *out, size_t len)
{
	int fds[2];
	if (pipe(fds) != 0)
		bail("pipe");
	int r = osmem_stats_print(fds[1], format);
	close(fds[1]);
	read_all(fds[0], out, len);
	return r;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "looped") == 0)
		looped_tree();
	if (argc > 1 && strcmp(argv[1], "cut") == 0)
		cut_tree();
	ok(osmem__g.ready, "the allocator started up when it was loaded, "
	                   "before main and its first call");
	ok(osmem_check() == 0, "osmem_check passes before any allocation");
	void *used = osmem_malloc(200);
	void *big = osmem_malloc(300000);
	void *gone = osmem_malloc(100);
	void *keep = osmem_malloc(5000);
	void *guard = osmem_malloc(10);
	osmem_free(gone);                 /* into the thread cache */
	void *freed = osmem_malloc(6000); /* too big to cache */
	void *guard2 = osmem_malloc(10);
	osmem_free(freed); /* free in the heap */

	struct tally t = walk(used, OSMEM_BLOCK_USED);
	ok(t.seen, "a block in use is visited as in use");
	ok(walk(gone, OSMEM_BLOCK_CACHED).seen,
	   "a block freed into the thread cache is visited as cached");
	ok(walk(freed, OSMEM_BLOCK_FREE).seen,
	   "a block freed to the heap is visited as free");
	ok(walk(big, OSMEM_BLOCK_MAPPED).seen, "a large block as mapped");
	ok(t.ordered, "heap blocks come in address order");

	struct osmem_stats s;
	osmem_stats(&s);
	ok(s.in_use == t.bytes[OSMEM_BLOCK_USED] + t.bytes[OSMEM_BLOCK_MAPPED],
	   "stats: bytes in use (%zu) = used + mapped blocks walked (%zu)",
	   s.in_use, t.bytes[OSMEM_BLOCK_USED] + t.bytes[OSMEM_BLOCK_MAPPED]);
	ok(s.free == t.bytes[OSMEM_BLOCK_FREE] &&
	       s.free_blocks == t.n[OSMEM_BLOCK_FREE],
	   "stats: free bytes and blocks match the walk (%zu in %zu)", s.free,
	   s.free_blocks);
	ok(s.cached == t.bytes[OSMEM_BLOCK_CACHED],
	   "stats: cached bytes match the walk (%zu)", s.cached);
	ok(s.mapped == t.bytes[OSMEM_BLOCK_MAPPED] && s.mapped_blocks == 1,
	   "stats: one mapped block of %zu bytes", s.mapped);
	ok(s.heap == t.bytes[1] + t.bytes[2] + t.bytes[3] +
	                 s.segments * (OSMEM_SEG_HEAD + OSMEM_FENCE),
	   "stats: heap bytes are the blocks plus segment heads and ends");
	ok(s.largest_free <= s.free && s.fragmentation >= 0 &&
	       s.fragmentation < 1,
	   "stats: largest free block and fragmentation in range");

	/* Calls are counted exactly, the fast paths' too. */
	struct osmem_stats c0, c1;
	osmem_stats(&c0);
	void *v[10];
	for (int i = 0; i < 10; i++)
		v[i] = osmem_malloc(64);
	for (int i = 0; i < 4; i++)
		osmem_free(v[i]);
	v[4] = osmem_realloc(v[4], 32);   /* shrinks in place */
	v[5] = osmem_realloc(v[5], 48);   /* shrinks in place */
	v[6] = osmem_realloc(v[6], 9000); /* moves */
	osmem_stats(&c1);
	ok(c1.nmalloc - c0.nmalloc == 11 && c1.nfree - c0.nfree == 5 &&
	       c1.nrealloc - c0.nrealloc == 3,
	   "calls counted: %zu allocations, %zu frees, %zu reallocs (11, 5, "
	   "3)",
	   c1.nmalloc - c0.nmalloc, c1.nfree - c0.nfree,
	   c1.nrealloc - c0.nrealloc);
	for (int i = 4; i < 10; i++)
		osmem_free(v[i]);
	/* The fast malloc counts nothing itself (its count is derived from
	 * what went into the caches and what is there): a bin that overflows
	 * and gives back half, then is emptied and refilled. */
	void *w[100];
	osmem_stats(&c0);
	for (int i = 0; i < 100; i++)
		w[i] = osmem_malloc(80);
	for (int i = 0; i < 100; i++)
		osmem_free(w[i]);
	for (int i = 0; i < 60; i++)
		w[i] = osmem_malloc(80);
	for (int i = 0; i < 30; i++)
		osmem_free(w[i]);
	osmem_stats(&c1);
	ok(c1.nmalloc - c0.nmalloc == 160 && c1.nfree - c0.nfree == 130,
	   "calls counted through flushes: %zu allocations, %zu frees (160, "
	   "130)",
	   c1.nmalloc - c0.nmalloc, c1.nfree - c0.nfree);
	for (int i = 30; i < 60; i++)
		osmem_free(w[i]);

	/* osmem_stats_print: the text summary and the JSON object. */
	struct tally u;
	memset(&u, 0, sizeof u);
	osmem_walk(count, &u);
	static char out[65536];
	ok(printed(OSMEM_STATS_JSON, out, sizeof out) == 0,
	   "osmem_stats_print(JSON) returns 0");
	char want[64];
	snprintf(want, sizeof want, "{\"program\": \"walk-t\", \"pid\": %d,",
	         (int)getpid());
	size_t nused = 0, sum_used = 0, opens = 0, closes = 0;
	for (const char *q = out; (q = strstr(q, "\"used\": ")); q += 8)
		sum_used += strtoul(q + 8, NULL, 10);
	for (const char *q = out; *q; q++)
		opens += *q == '{' || *q == '[',
		    closes += *q == '}' || *q == ']';
	nused = u.n[OSMEM_BLOCK_USED] + u.n[OSMEM_BLOCK_MAPPED];
	ok(!strncmp(out, want, strlen(want)) && opens == closes &&
	       strstr(out, "\"heap\": {\"reserved\": ") &&
	       strstr(out, "\"resident\": ") && strstr(out, "\"arenas\": [") &&
	       sum_used == nused,
	   "JSON: the program and pid, heap reserved and resident, arenas, "
	   "and blocks in use by size range summing to the walk's (%zu = "
	   "%zu)",
	   sum_used, nused);
	struct osmem_stats r;
	osmem_stats(&r);
	ok(r.heap_resident > 0 && r.heap_resident <= r.heap,
	   "resident heap bytes (%zu) are at most those reserved (%zu)",
	   r.heap_resident, r.heap);
	ok(printed(OSMEM_STATS_TEXT, out, sizeof out) == 0,
	   "osmem_stats_print(TEXT) returns 0");
	ok(!strncmp(out, "osmem: bytes in use", 19) &&
	       strstr(out, "osmem: heap bytes reserved ") &&
	       strstr(out, "osmem:   resident "),
	   "text: the summary stats=1 prints, reserved and resident apart");
	errno = 0;
	ok(osmem_stats_print(1, 7) == -1 && errno == EINVAL,
	   "a bad format: -1, EINVAL");

	int k = 0;
	ok(osmem_walk(stop_at_third, &k) == 42 && k == 3,
	   "a callback's non-zero result stops the walk and is returned");

	ok(osmem_check() == 0, "osmem_check passes on a sound heap");
	char msg[256];
	ok(in_child(corrupt, msg, sizeof msg) == 0 &&
	       strstr(msg, "heap check:") && strstr(msg, " 0x"),
	   "osmem_check reports a corrupted header with its address: %.70s",
	   msg);

	int st = run_self(argv[0], "looped", "OSMEM_OPTIONS", "tcache=0", NULL,
	                  NULL, msg, sizeof msg);
	ok(exit_code(st) == 0 && strstr(msg, "heap check:") &&
	       strstr(msg, " 0x"),
	   "osmem_check ends on a bin tree with a loop and reports it: %.70s",
	   msg);
	st = run_self(argv[0], "cut", "OSMEM_OPTIONS", "tcache=0", NULL, NULL,
	              msg, sizeof msg);
	ok(exit_code(st) == 0 && strstr(msg, "heap check:"),
	   "osmem_check reports free blocks cut off by a link overwritten "
	   "with the end marker: %.70s",
	   msg);

	osmem_free(used);
	osmem_free(big);
	osmem_free(keep);
	osmem_free(guard);
	osmem_free(guard2);
	ok(osmem_check() == 0, "osmem_check passes at the end");
	return done_testing();
}
