/*
 * vg.h: valgrind client requests, so memcheck understands libosmem's
 * blocks (compiled in when configure found valgrind/memcheck.h; no-ops
 * otherwise, and no cost when not running under valgrind, where the
 * requests are a few instructions that do nothing).
 */
#ifndef OSMEM_VG_H
#define OSMEM_VG_H

#include "config.h"

#ifdef HAVE_VALGRIND_MEMCHECK_H
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define OSMEM_VG_RUNNING() (RUNNING_ON_VALGRIND != 0)
/* Whether the tool is memcheck: only it answers a request for the
 * validity bits of a word (1, success); other tools and no valgrind
 * leave the default, 0. */
static inline int
osmem__vg_memcheck(void)
{
	unsigned long w = 0, bits;
	return VALGRIND_GET_VBITS(&w, &bits, sizeof w) == 1;
}
#define OSMEM_VG_MEMCHECK() osmem__vg_memcheck()
#define OSMEM_VG_MALLOCLIKE(p, n) VALGRIND_MALLOCLIKE_BLOCK((p), (n), 0, 0)
#define OSMEM_VG_FREELIKE(p) VALGRIND_FREELIKE_BLOCK((p), 0)
#define OSMEM_VG_NOACCESS(p, n) VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#define OSMEM_VG_UNDEFINED(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define OSMEM_VG_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define OSMEM_VG_MEMCHECK() 0
#define OSMEM_VG_RUNNING() 0
#define OSMEM_VG_MALLOCLIKE(p, n) ((void)(p), (void)(n))
#define OSMEM_VG_FREELIKE(p) ((void)(p))
#define OSMEM_VG_NOACCESS(p, n) ((void)(p), (void)(n))
#define OSMEM_VG_UNDEFINED(p, n) ((void)(p), (void)(n))
#define OSMEM_VG_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#endif /* OSMEM_VG_H */
