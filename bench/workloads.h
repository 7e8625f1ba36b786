/*
 * workloads.h: what the files of bench/workloads share: the random
 * numbers, the clock, the report line, and the workloads each defines.
 */
#ifndef OSMEM_BENCH_WORKLOADS_H
#define OSMEM_BENCH_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>

uint64_t rnd(uint64_t *s);
double now(void);
/* A size drawn like real programs': mostly small, a few large. */
size_t real_size(uint64_t *s);
/* Write every page of [p, p + n) and its last byte. */
void touch(void *p, size_t n);
void die(const char *what);
void *xmalloc(size_t n);
/* Requested bytes live now and at most, where a workload tracks them. */
extern size_t live, peak_live;
void live_add(size_t n);
/* The workload's one line: name, seconds, operations, a checksum. */
void report(const char *name, double secs, long ops, uint64_t check);

/* threaded.c */
void prodcons(long items);
void threads(int nthreads, long ops);
void xfree(int nthreads, long ops);
void larson(int nthreads, long rounds);

#endif
