/*
 * threaded.c: the workloads of bench/workloads that run several threads:
 * a producer and a consumer, threads churning their own blocks, threads
 * freeing each other's blocks (xfree), and a server-like exchange of
 * blocks between threads (larson).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workloads.h"

/* A bounded queue of blocks between two threads. */
enum { QCAP = 4096 };
static struct {
	pthread_mutex_t lock;
	pthread_cond_t more, room;
	void *item[QCAP];
	size_t head, count;
	int done;
} q = {PTHREAD_MUTEX_INITIALIZER,
       PTHREAD_COND_INITIALIZER,
       PTHREAD_COND_INITIALIZER,
       {0},
       0,
       0,
       0};
static long q_items;

static void *
producer(void *arg)
{
	(void)arg;
	uint64_t s = 5;
	void *batch[64];
	for (long i = 0; i < q_items; i += 64) {
		for (int j = 0; j < 64; j++) {
			size_t n = 16 + rnd(&s) % 1008;
			batch[j] = xmalloc(n);
			touch(batch[j], n);
		}
		pthread_mutex_lock(&q.lock);
		while (q.count + 64 > QCAP)
			pthread_cond_wait(&q.room, &q.lock);
		for (int j = 0; j < 64; j++)
			q.item[(q.head + q.count++) % QCAP] = batch[j];
		pthread_cond_signal(&q.more);
		pthread_mutex_unlock(&q.lock);
	}
	pthread_mutex_lock(&q.lock);
	q.done = 1;
	pthread_cond_signal(&q.more);
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

void
prodcons(long items)
{
	pthread_t t;
	q_items = items;
	uint64_t check = 0;
	double t0 = now();
	pthread_create(&t, NULL, producer, NULL);
	for (;;) {
		void *batch[256];
		int n = 0;
		pthread_mutex_lock(&q.lock);
		while (q.count == 0 && !q.done)
			pthread_cond_wait(&q.more, &q.lock);
		if (q.count == 0 && q.done) {
			pthread_mutex_unlock(&q.lock);
			break;
		}
		while (q.count > 0 && n < 256) {
			batch[n++] = q.item[q.head];
			q.head = (q.head + 1) % QCAP;
			q.count--;
		}
		pthread_cond_signal(&q.room);
		pthread_mutex_unlock(&q.lock);
		for (int i = 0; i < n; i++) {
			check += ((unsigned char *)batch[i])[0];
			free(batch[i]);
		}
	}
	pthread_join(t, NULL);
	double t1 = now();
	report("prodcons", t1 - t0, items, check);
}

struct worker {
	pthread_t t;
	long ops;
	uint64_t seed, check;
};

static void *
local_churn(void *arg)
{
	struct worker *w = arg;
	enum { LIVE = 2000 };
	/* The seed and the sum live in registers, not in w: the workers sit
	 * side by side, and writing them on every step would measure the
	 * cache line they share rather than the allocator. */
	uint64_t seed = w->seed, check = 0;
	void **slot = xmalloc(LIVE * sizeof *slot);
	for (int i = 0; i < LIVE; i++) {
		size_t n = 16 + rnd(&seed) % 1008;
		slot[i] = xmalloc(n);
		touch(slot[i], n);
	}
	for (long i = 0; i < w->ops; i++) {
		size_t k = rnd(&seed) % LIVE, n = 16 + rnd(&seed) % 1008;
		check += ((unsigned char *)slot[k])[0];
		free(slot[k]);
		slot[k] = xmalloc(n);
		touch(slot[k], n);
	}
	for (int i = 0; i < LIVE; i++)
		free(slot[i]);
	free(slot);
	w->check = check;
	return NULL;
}

void
threads(int nthreads, long ops)
{
	struct worker w[64];
	uint64_t check = 0;
	double t0 = now();
	for (int i = 0; i < nthreads; i++) {
		w[i].ops = ops;
		w[i].seed = 1000 + (uint64_t)i;
		w[i].check = 0;
		pthread_create(&w[i].t, NULL, local_churn, &w[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].t, NULL);
		check += w[i].check;
	}
	double t1 = now();
	char name[32];
	snprintf(name, sizeof name, "threads-%d", nthreads);
	report(name, t1 - t0, ops * nthreads, check);
}

/*
 * xfree: T threads in a ring, each allocating batches of blocks of mixed
 * sizes, writing them, and handing each batch to the next thread, which
 * frees it: every block is freed by a thread other than its allocator's
 * (as in mimalloc-bench's mstress and rptest).
 */
enum { XBATCH = 64, XQUEUE = 32 };
struct xbatch {
	void *p[XBATCH];
};
struct xinbox {
	pthread_mutex_t lock;
	struct xbatch *b[XQUEUE];
	unsigned head, count;
	char pad[64];
};
struct xthread {
	pthread_t t;
	int id, n;
	long batches;
	struct xinbox *boxes;
	uint64_t check;
};

/* Free the batches waiting in box; the number freed. */
static long
xdrain(struct xinbox *box, uint64_t *check)
{
	struct xbatch *got[XQUEUE];
	unsigned n = 0;
	pthread_mutex_lock(&box->lock);
	while (box->count) {
		got[n++] = box->b[box->head];
		box->head = (box->head + 1) % XQUEUE;
		box->count--;
	}
	pthread_mutex_unlock(&box->lock);
	for (unsigned i = 0; i < n; i++) {
		for (int j = 0; j < XBATCH; j++) {
			*check += ((unsigned char *)got[i]->p[j])[0];
			free(got[i]->p[j]);
		}
		free(got[i]);
	}
	return n;
}

static void *
xworker(void *arg)
{
	struct xthread *w = arg;
	struct xinbox *mine = &w->boxes[w->id],
	              *next = &w->boxes[(w->id + 1) % w->n];
	uint64_t s = 77 + (uint64_t)w->id, check = 0;
	long got = 0;
	for (long k = 0; k < w->batches; k++) {
		struct xbatch *b = xmalloc(sizeof *b);
		for (int j = 0; j < XBATCH; j++) {
			size_t n = rnd(&s) % 8 ? 16 + rnd(&s) % 497
			                       : 512 + rnd(&s) % 7681;
			b->p[j] = xmalloc(n);
			memset(b->p[j], (int)n, n < 256 ? n : 256);
		}
		for (;;) {
			pthread_mutex_lock(&next->lock);
			int room = next->count < XQUEUE;
			if (room)
				next->b[(next->head + next->count++) %
				        XQUEUE] = b;
			pthread_mutex_unlock(&next->lock);
			if (room)
				break;
			got += xdrain(mine, &check); /* the ring moves on */
		}
		got += xdrain(mine, &check);
	}
	while (got < w->batches)
		got += xdrain(mine, &check);
	w->check = check;
	return NULL;
}

void
xfree(int nthreads, long ops)
{
	struct xthread w[64];
	struct xinbox *boxes = xmalloc((size_t)nthreads * sizeof *boxes);
	uint64_t check = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_mutex_init(&boxes[i].lock, NULL);
		boxes[i].head = boxes[i].count = 0;
	}
	double t0 = now();
	for (int i = 0; i < nthreads; i++) {
		w[i] = (struct xthread){.id = i,
		                        .n = nthreads,
		                        .batches = ops / XBATCH,
		                        .boxes = boxes};
		pthread_create(&w[i].t, NULL, xworker, &w[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].t, NULL);
		check += w[i].check;
	}
	double t1 = now();
	free(boxes);
	char name[32];
	snprintf(name, sizeof name, "xfree-%d", nthreads);
	report(name, t1 - t0, ops * nthreads, check);
}

/*
 * larson: a server's pattern (after Larson and Krishnan's benchmark).
 * Sets of 1000 live blocks pass from thread to thread: a thread takes a
 * set, replaces 2000 of its blocks at random by new ones of 16..1023
 * bytes, and puts it back for any thread to take, so most blocks are
 * freed by a thread other than the one that allocated them.
 */
enum { LSLOTS = 1000, LSTEPS = 2000 };
static struct {
	pthread_mutex_t lock;
	void **set[128];
	int count;
} pool = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};

struct lthread {
	pthread_t t;
	long rounds;
	uint64_t seed, check;
};

static void *
lworker(void *arg)
{
	struct lthread *w = arg;
	uint64_t s = w->seed, check = 0;
	for (long r = 0; r < w->rounds; r++) {
		pthread_mutex_lock(&pool.lock);
		void **set = pool.set[--pool.count];
		pthread_mutex_unlock(&pool.lock);
		for (int k = 0; k < LSTEPS; k++) {
			size_t i = rnd(&s) % LSLOTS, n = 16 + rnd(&s) % 1008;
			check += ((unsigned char *)set[i])[0];
			free(set[i]);
			set[i] = xmalloc(n);
			memset(set[i], (int)n, n < 64 ? n : 64);
		}
		/* Back at the bottom: the next taker is likely another
		 * thread. */
		pthread_mutex_lock(&pool.lock);
		memmove(&pool.set[1], &pool.set[0],
		        (size_t)pool.count * sizeof pool.set[0]);
		pool.set[0] = set;
		pool.count++;
		pthread_mutex_unlock(&pool.lock);
	}
	w->check = check;
	return NULL;
}

void
larson(int nthreads, long rounds)
{
	struct lthread w[64];
	uint64_t s = 3, check = 0;
	int sets = 2 * nthreads;
	for (int i = 0; i < sets; i++) {
		void **set = xmalloc(LSLOTS * sizeof *set);
		for (int k = 0; k < LSLOTS; k++) {
			size_t n = 16 + rnd(&s) % 1008;
			set[k] = xmalloc(n);
			memset(set[k], 1, n < 64 ? n : 64);
		}
		pool.set[pool.count++] = set;
	}
	double t0 = now();
	for (int i = 0; i < nthreads; i++) {
		w[i] = (struct lthread){.rounds = rounds,
		                        .seed = 500 + (uint64_t)i};
		pthread_create(&w[i].t, NULL, lworker, &w[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].t, NULL);
		check += w[i].check;
	}
	double t1 = now();
	while (pool.count > 0) {
		void **set = pool.set[--pool.count];
		for (int k = 0; k < LSLOTS; k++)
			free(set[k]);
		free(set);
	}
	char name[32];
	snprintf(name, sizeof name, "larson-%d", nthreads);
	report(name, t1 - t0, rounds * nthreads * LSTEPS, check);
}
