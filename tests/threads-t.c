/*
 * threads-t: every entry point from many threads at once.  Each thread
 * allocates, reallocates and frees its own blocks, and passes some to the
 * next thread through a queue, which frees them: blocks freed by a thread
 * other than the one that allocated them.  Contents are checked at every
 * hand-over and the heap check runs at the end.
 */
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>

enum { THREADS = 4, ROUNDS = 60000, QLEN = 256 };

struct queue {
	pthread_mutex_t lock;
	void *item[QLEN];
	size_t len[QLEN];
	unsigned tag[QLEN];
	int head, count;
};

static struct queue q[THREADS];
static atomic_int bad, cross_freed;

static int
push(struct queue *qu, void *p, size_t n, unsigned tag)
{
	int done = 0;
	pthread_mutex_lock(&qu->lock);
	if (qu->count < QLEN) {
		int at = (qu->head + qu->count++) % QLEN;
		qu->item[at] = p;
		qu->len[at] = n;
		qu->tag[at] = tag;
		done = 1;
	}
	pthread_mutex_unlock(&qu->lock);
	return done;
}

static void
drain(struct queue *qu, int all)
{
	pthread_mutex_lock(&qu->lock);
	while (qu->count > 0 && (all || qu->count > QLEN / 2)) {
		int at = qu->head;
		qu->head = (qu->head + 1) % QLEN;
		qu->count--;
		if (!filled(qu->item[at], qu->len[at], qu->tag[at]))
			atomic_fetch_add(&bad, 1);
		osmem_free(qu->item[at]);
		atomic_fetch_add(&cross_freed, 1);
	}
	pthread_mutex_unlock(&qu->lock);
}

static void *
worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t r = 0x1234567ull * (unsigned)(id + 1);
	void *mine[64] = {0};
	size_t len[64];
	unsigned tag[64];
	for (int i = 0; i < ROUNDS; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		int k = (int)(r % 64);
		size_t n =
		    (r >> 8) % 100 < 95 ? (r >> 16) % 512 : (r >> 16) % 200000;
		unsigned t = (unsigned)(id * ROUNDS + i);
		if (mine[k] && !filled(mine[k], len[k], tag[k]))
			atomic_fetch_add(&bad, 1);
		switch ((r >> 40) % 4) {
		case 0: /* hand to the next thread */
			if (mine[k] && push(&q[(id + 1) % THREADS], mine[k],
			                    len[k], tag[k]))
				mine[k] = NULL;
			break;
		case 1:
			if (mine[k]) {
				void *p = osmem_realloc(mine[k], n + 1);
				if (!p) {
					atomic_fetch_add(&bad, 1);
					break;
				}
				size_t keep = len[k] < n + 1 ? len[k] : n + 1;
				if (!filled(p, keep, tag[k]))
					atomic_fetch_add(&bad, 1);
				mine[k] = p;
				len[k] = n + 1;
				tag[k] = t;
				fill(p, n + 1, t);
			}
			break;
		default:
			osmem_free(mine[k]);
			mine[k] = (r >> 50) & 1 ? osmem_calloc(1, n)
			                        : osmem_malloc(n);
			if (!mine[k]) {
				atomic_fetch_add(&bad, 1);
				break;
			}
			len[k] = n;
			tag[k] = t;
			fill(mine[k], n, t);
		}
		if (i % 64 == 0)
			drain(&q[id], 0);
	}
	for (int k = 0; k < 64; k++) {
		if (mine[k] && !filled(mine[k], len[k], tag[k]))
			atomic_fetch_add(&bad, 1);
		osmem_free(mine[k]);
	}
	return NULL;
}

/*
 * Producer/consumer: one thread allocates in its own arena, another frees
 * everything it gets, so the consumer's cache keeps giving blocks back to
 * the producer's arena while the producer splits and merges its neighbours.
 */
enum { PC_ITEMS = 1000000, PC_RING = 1024 };
static void *pc_ring[PC_RING];
static atomic_size_t pc_head, pc_tail;

static void *
pc_producer(void *arg)
{
	(void)arg;
	uint64_t r = 77;
	for (size_t i = 0; i < PC_ITEMS; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		size_t n = 16 + r % 1500;
		unsigned char *p = osmem_malloc(n);
		if (!p) {
			atomic_fetch_add(&bad, 1);
			continue;
		}
		p[0] = (unsigned char)i;
		p[n - 1] = (unsigned char)i;
		while (atomic_load(&pc_head) - atomic_load(&pc_tail) >=
		       PC_RING)
			sched_yield();
		pc_ring[atomic_load(&pc_head) % PC_RING] = p;
		atomic_fetch_add(&pc_head, 1);
	}
	return NULL;
}

static void
producer_consumer(void)
{
	pthread_t t;
	pthread_create(&t, NULL, pc_producer, NULL);
	size_t got = 0;
	while (got < PC_ITEMS && atomic_load(&bad) == 0) {
		if (atomic_load(&pc_tail) == atomic_load(&pc_head)) {
			sched_yield();
			continue;
		}
		unsigned char *p = pc_ring[atomic_load(&pc_tail) % PC_RING];
		atomic_fetch_add(&pc_tail, 1);
		if (p[0] != (unsigned char)got)
			atomic_fetch_add(&bad, 1);
		osmem_free(p);
		got++;
	}
	pthread_join(t, NULL);
	ok(got == PC_ITEMS && atomic_load(&bad) == 0,
	   "producer/consumer: %zu blocks freed by the other thread", got);
	heap_ok("after producer/consumer");
}

/*
 * Which arena a thread gets: threads alive at the same time get arenas of
 * their own while there are arenas to spare, and a thread started after
 * another ended takes over the arena it left (round-robin sent each new
 * thread to the next arena, so a program starting a thread per task kept
 * every arena's pages in memory, or gave them back and faulted them in
 * again).
 */
static pthread_barrier_t pick_both;
struct pick {
	struct osmem__arena *arena;
	int together; /* wait at pick_both: alive at once with another */
};

static void *
pick(void *arg)
{
	struct pick *k = arg;
	void *p = osmem_malloc(100); /* the thread's cache and arena */
	k->arena = osmem__tc->arena;
	if (k->together)
		pthread_barrier_wait(&pick_both);
	osmem_free(p);
	return NULL;
}

static void
arena_reuse(void)
{
	struct pick seen[3];
	osmem_free(osmem_malloc(100)); /* this thread: its arena first */
	struct osmem__arena *mine = osmem__tc->arena;
	for (int i = 0; i < 3; i++) {
		pthread_t t;
		seen[i].together = 0;
		pthread_create(&t, NULL, pick, &seen[i]);
		pthread_join(t, NULL);
	}
	ok(seen[0].arena == seen[1].arena && seen[1].arena == seen[2].arena,
	   "threads started one after another use the same arena (%td, %td, "
	   "%td)",
	   seen[0].arena - osmem__g.arena, seen[1].arena - osmem__g.arena,
	   seen[2].arena - osmem__g.arena);
	if (osmem__g.narenas < 3) {
		skip("%u arenas: none to spare for two threads",
		     osmem__g.narenas);
		return;
	}
	pthread_t t[2];
	pthread_barrier_init(&pick_both, NULL, 2);
	for (int i = 0; i < 2; i++) {
		seen[i].together = 1;
		pthread_create(&t[i], NULL, pick, &seen[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&pick_both);
	ok(seen[0].arena != seen[1].arena && seen[0].arena != mine &&
	       seen[1].arena != mine,
	   "two threads alive at once and this one: three arenas (%td, %td, "
	   "%td)",
	   mine - osmem__g.arena, seen[0].arena - osmem__g.arena,
	   seen[1].arena - osmem__g.arena);
}

/*
 * Threads that make their first allocation at the same moment, in a fresh
 * process (its arenas' pages not yet touched: the faults of the first
 * touch make a pick's reading of the counts slow, tens of microseconds):
 * each picks under the cache list's lock, so no two share an arena.  When
 * the counts were read without it, 6 to 11 of this test's 24 children
 * gave two of them one arena, and 3 runs of larson-2 in 70 ran at half
 * speed on its lock.  A child of this program does the picking (exec'd,
 * as a fork would inherit the pages touched).
 */
enum { PICKERS = 3 };
static pthread_barrier_t start_all;

static void *
pick_at_once(void *arg)
{
	struct pick *k = arg;
	pthread_barrier_wait(&start_all); /* no allocation before */
	void *p = osmem_malloc(100);
	k->arena = osmem__tc->arena;
	pthread_barrier_wait(&start_all); /* all alive with their arena */
	osmem_free(p);
	return NULL;
}

/* The child: exit status 0 if its PICKERS threads had arenas of their
 * own, 1 if two shared one. */
static int
pick_child(void)
{
	struct pick seen[PICKERS];
	pthread_t t[PICKERS];
	osmem_free(osmem_malloc(100)); /* this thread takes the main arena */
	pthread_barrier_init(&start_all, NULL, PICKERS);
	for (int i = 0; i < PICKERS; i++)
		pthread_create(&t[i], NULL, pick_at_once, &seen[i]);
	for (int i = 0; i < PICKERS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < PICKERS; i++)
		for (int j = 0; j < i; j++)
			if (seen[i].arena == seen[j].arena)
				return 1;
	return 0;
}

static void
arena_pick_race(void)
{
	if (osmem__g.narenas < PICKERS + 1) {
		skip("%u arenas: none to spare for %d threads",
		     osmem__g.narenas, PICKERS);
		return;
	}
	enum { CHILDREN = 24 };
	int shared = 0, failed = 0;
	char self[4096]; /* read here: valgrind tells its client's path */
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	self[len > 0 ? len : 0] = 0;
	for (int c = 0; c < CHILDREN; c++) {
		pid_t pid = fork();
		if (pid == 0) {
			execl(self, "threads-t", "pick-child", (char *)NULL);
			_exit(2);
		}
		int st = 0;
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) > 1)
			failed++;
		else
			shared += WEXITSTATUS(st);
	}
	ok(shared == 0 && failed == 0,
	   "%d threads starting at once never share an arena (%d of %d fresh "
	   "processes had two on one; %d did not run)",
	   PICKERS, shared, CHILDREN, failed);
}

/*
 * Blocks of one arena freed by a thread of another go back into their
 * arena as runs of neighbours, each merged into one chunk before it is
 * freed (arena.c): freed in address order and in reverse, they come back
 * as one free chunk, the heap whole at every step.
 */
enum { RUN_BLOCKS = 96 };
static void *run_block[RUN_BLOCKS + 1];
static pthread_barrier_t run_step;

static void *
run_owner(void *arg)
{
	(void)arg;
	for (int i = 0; i <= RUN_BLOCKS; i++) /* the last: a guard */
		run_block[i] = osmem_malloc(72);
	pthread_barrier_wait(&run_step); /* made */
	pthread_barrier_wait(&run_step); /* freed and drained */
	osmem_free(run_block[RUN_BLOCKS]);
	return NULL;
}

static void
remote_runs(void)
{
	pthread_t t;
	osmem_trim(0); /* nothing left waiting to merge with the run */
	pthread_barrier_init(&run_step, NULL, 2);
	pthread_create(&t, NULL, run_owner, NULL);
	pthread_barrier_wait(&run_step);
	osmem__chunk_t *c = osmem__mem2chunk(run_block[0]);
	size_t size = osmem__csize(c);
	int next = 1;
	for (int i = 1; i <= RUN_BLOCKS; i++)
		next &=
		    (char *)run_block[i] == (char *)run_block[i - 1] + size;
	int other = osmem__arena_of(c) != osmem__tc->arena;
	for (int i = 0; i < RUN_BLOCKS / 2; i++)
		osmem_free(run_block[i]);
	for (int i = RUN_BLOCKS - 1; i >= RUN_BLOCKS / 2; i--)
		osmem_free(run_block[i]);
	osmem_trim(0); /* this cache flushed, every remote stack drained */
	if (!next || !other)
		skip("blocks not end to end (%d) or of this thread's arena "
		     "(%d)",
		     !next, !other);
	else
		ok(osmem__is_free(c) &&
		       osmem__csize(c) >= (size_t)RUN_BLOCKS * size &&
		       osmem__next(c) ==
		           osmem__mem2chunk(run_block[RUN_BLOCKS]),
		   "%d neighbours freed by another arena's thread, in order "
		   "and in reverse: one free chunk of %zu bytes",
		   RUN_BLOCKS, osmem__csize(c));
	heap_ok("after the runs went back");
	pthread_barrier_wait(&run_step);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&run_step);
}

/*
 * A thread whose frees keep its cache full seldom misses it, and a miss
 * empties its arena's remote stack; so a cache that overflows empties
 * it too, once more than OSMEM_REMOTE_MOST (256 KiB) waits there:
 * blocks other threads give back do not pile up behind a thread that
 * only frees.
 */
enum { OWN_BLOCKS = 64, GIVEN_BLOCKS = 4000 };
static void *given[GIVEN_BLOCKS];
static pthread_barrier_t over_step;
static size_t over_before, over_after;

static void *
freeing_owner(void *arg)
{
	(void)arg;
	void *own[OWN_BLOCKS];
	for (int i = 0; i < OWN_BLOCKS; i++)
		own[i] = osmem_malloc(200);
	for (int i = 0; i < GIVEN_BLOCKS; i++)
		given[i] = osmem_malloc(100);
	pthread_barrier_wait(&over_step); /* made */
	pthread_barrier_wait(&over_step); /* given back by the other */
	struct osmem__arena *a = osmem__tc->arena;
	over_before = a->remote_bytes;
	for (int i = 0; i < OWN_BLOCKS; i++) /* overflows its bin */
		osmem_free(own[i]);
	over_after = a->remote_bytes;
	return NULL;
}

static void
remote_overflow(void)
{
	pthread_t t;
	osmem_trim(0);
	pthread_barrier_init(&over_step, NULL, 2);
	pthread_create(&t, NULL, freeing_owner, NULL);
	pthread_barrier_wait(&over_step);
	int other =
	    osmem__arena_of(osmem__mem2chunk(given[0])) != osmem__tc->arena;
	for (int i = 0; i < GIVEN_BLOCKS; i++)
		osmem_free(given[i]);
	/* This cache emptied, onto the owner's stack; nothing drained. */
	osmem_mallopt(OSMEM_M_TCACHE_COUNT, 32);
	pthread_barrier_wait(&over_step);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&over_step);
	if (!other)
		skip("the blocks are of this thread's arena");
	else
		ok(over_before > ((size_t)256 << 10) && over_after == 0,
		   "a thread that only frees empties its arena's remote stack "
		   "when its cache overflows (%zu bytes waiting, then %zu)",
		   over_before, over_after);
	heap_ok("after the remote stack was emptied");
}

/*
 * Another arena's segment grows through its 64 MiB region step by step,
 * as the break does, so that its figures and its release passes count
 * the pages it used rather than the whole region; once the region is
 * full, a new one starts.  Where sbrk fails, regions are mapped: one that
 * falls wholly free goes back whole on a trim, the part its segment never
 * reached included.
 */
enum { GROW_SIZE = 64 << 10, GROW_MOST = 2048 };
static void *grown[GROW_MOST];
struct growth {
	int n;                      /* blocks of GROW_SIZE to allocate */
	size_t heap0, heap1, segs0; /* the arena's, before and after */
	struct osmem__seg *seg;     /* the segment growth extends, after */
	struct osmem__arena *arena;
};

static void *
grow_arena(void *arg)
{
	struct growth *g = arg;
	osmem_free(osmem_malloc(100)); /* the thread's arena */
	struct osmem__arena *a = g->arena = osmem__tc->arena;
	g->heap0 = a->st.heap;
	g->segs0 = a->st.nsegs;
	for (int i = 0; i < g->n; i++)
		grown[i] = osmem_malloc(GROW_SIZE);
	g->heap1 = a->st.heap;
	g->seg = a->brk_seg;
	for (int i = 0; i < g->n; i++)
		osmem_free(grown[i]);
	return NULL;
}

static void
region_growth(void)
{
	struct growth g = {.n = 160};
	pthread_t t;
	osmem_trim(0);
	pthread_create(&t, NULL, grow_arena, &g);
	pthread_join(t, NULL);
	size_t used = (size_t)g.n * (GROW_SIZE + 16);
	size_t span = g.seg ? (size_t)(g.seg->end - (char *)g.seg) : 0;
	ok(g.arena != osmem__g.arena && g.seg &&
	       g.heap1 - g.heap0 <= used + ((size_t)1 << 20) &&
	       span < OSMEM_REGION,
	   "a thread's %zu KiB of blocks grew its arena's heap by %zu KiB; "
	   "its segment spans %zu KiB of its 64 MiB region",
	   used >> 10, (g.heap1 - g.heap0) >> 10, span >> 10);
	heap_ok("after an arena grew through its region");

	/* Past the region's end: a second region, mapped. */
	osmem__os_fail(OSMEM_OS_SBRK, 0, -1);
	g.n = (int)(OSMEM_REGION / GROW_SIZE) + 8;
	pthread_create(&t, NULL, grow_arena, &g);
	pthread_join(t, NULL);
	struct osmem__seg *s = g.seg;
	int mapped = s && s->kind == OSMEM_SEG_MAPPED &&
	             g.arena->st.nsegs > g.segs0 &&
	             (size_t)(s->end - (char *)s) < OSMEM_REGION;
	ok(mapped,
	   "with sbrk failing, %d blocks of %d KiB took the arena to a new "
	   "region, mapped, its segment not filling it",
	   g.n, GROW_SIZE >> 10);
	heap_ok("after a mapped region");
	osmem_trim(0);
	unsigned char v;
	char *last = (char *)s + OSMEM_REGION - osmem__g.page;
	errno = 0;
	ok(mapped && mincore(last, osmem__g.page, &v) == -1 &&
	       errno == ENOMEM && g.arena->brk_seg != s,
	   "the region, wholly free, was unmapped whole by a trim");
	osmem__os_fail(OSMEM_OS_SBRK, 0, 0);
	pthread_create(&t, NULL, grow_arena, &g);
	pthread_join(t, NULL);
	ok(g.seg && g.seg != s && g.seg->kind == OSMEM_SEG_BRK,
	   "the arena grows again after it, into a region from the break");
	heap_ok("after the arena grew again");
}

/* Allocate and free COUNTED blocks twice, the second time from the
 * cache, then exit. */
enum { COUNTED = 50 };
static void *
counted(void *arg)
{
	void *b[COUNTED];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < COUNTED; i++)
			b[i] = osmem_malloc(72);
		for (int i = 0; i < COUNTED; i++)
			osmem_free(b[i]);
	}
	return arg;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "pick-child"))
		return pick_child();
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_mutex_init(&q[i].lock, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < THREADS; i++)
		drain(&q[i], 1);
	producer_consumer();
	remote_runs();
	remote_overflow();
	arena_reuse();
	arena_pick_race();
	region_growth();
	ok(atomic_load(&bad) == 0,
	   "%d threads x %d operations: every block kept its contents",
	   THREADS, ROUNDS);
	ok(atomic_load(&cross_freed) > 1000,
	   "%d blocks were freed by a thread other than their allocator's",
	   atomic_load(&cross_freed));
	heap_ok("after all threads");
	ok(live_bytes() == 0 && osmem__g.arena[0].st.nlarge == 0,
	   "nothing left in use");
	size_t before = 0;
	for (unsigned i = 0; i < OSMEM_MAX_ARENAS; i++)
		before += osmem__g.arena[i].remote_bytes;
	diag("%zu bytes waiting on remote stacks before the trim", before);
	/* Cross-thread frees waited on their arenas' remote stacks; a trim
	 * empties them all back into the arenas. */
	osmem_trim(0);
	size_t waiting = 0;
	for (unsigned i = 0; i < OSMEM_MAX_ARENAS; i++)
		waiting += osmem__g.arena[i].remote_bytes +
		           (osmem__g.arena[i].remote != 0);
	ok(waiting == 0, "osmem_trim empties every arena's remote stack");
	heap_ok("after the trim");

	/* Every arena's segments lie in the break heap's window (their
	 * regions come from the break), so the fast free takes their blocks
	 * and reads their headers safely; or, where the break could not
	 * move (valgrind gives a program a small one), in the old window or
	 * in pages the page map knows. */
	int segs = 0, in_window = 0, marked = 0, arenas = 0;
	for (unsigned i = 0; i < OSMEM_MAX_ARENAS; i++) {
		arenas += osmem__g.arena[i].segs != NULL;
		for (struct osmem__seg *s = osmem__g.arena[i].segs; s;
		     s = s->next) {
			/* the window, or the old one (what the heap had of
			 * the system's break before it went on in a mapping)
			 */
			int in = (osmem__in(&osmem__win, (char *)s + 64) &&
			          osmem__in(&osmem__win, s->end - 32)) ||
			         (osmem__in(&osmem__win_old, (char *)s + 64) &&
			          osmem__in(&osmem__win_old, s->end - 32));
			segs++;
			in_window += in;
			marked += !in && osmem__pages_has((uintptr_t)s) &&
			          osmem__pages_has((uintptr_t)s->end - 16);
		}
	}
	ok(segs == in_window + marked,
	   "%d segments of %d arenas: %d in the break heap's window, %d in "
	   "the page map",
	   segs, arenas, in_window, marked);
	if (getenv("OSMEM_VALGRIND") || arenas < 2)
		skip("the break cannot hold the arenas' regions here");
	else
		ok(in_window == segs, "all of them in the window");

	/* A thread's calls outlive it in the figures. */
	struct osmem_stats s0, s1;
	pthread_t one;
	osmem_stats(&s0);
	pthread_create(&one, NULL, counted, NULL);
	pthread_join(one, NULL);
	osmem_stats(&s1);
	ok(s1.nmalloc - s0.nmalloc == 2 * COUNTED &&
	       s1.nfree - s0.nfree == 2 * COUNTED,
	   "an exited thread's calls are counted: %zu allocations, %zu frees "
	   "(%d each)",
	   s1.nmalloc - s0.nmalloc, s1.nfree - s0.nfree, 2 * COUNTED);
	return done_testing();
}
