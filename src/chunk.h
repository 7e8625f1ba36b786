/*
 * chunk.h: the small inline helpers every part of the allocator composes
 * on the layout of types.h: a chunk's size and neighbours, the header tag
 * and the fast free's one-test check, the one-byte writes of the P and C
 * flags, the encoding of free-list links, a segment's fencepost, the
 * usable size of a block, and whether a pointer handed in can be read.
 * Layer 3.
 */
#ifndef OSMEM_CHUNK_H
#define OSMEM_CHUNK_H

#include "diag.h"
#include "os.h"
#include "pages.h"
#include "types.h"

static inline osmem__chunk_t *
osmem__mem2chunk(const void *mem)
{
	return (osmem__chunk_t *)((char *)(uintptr_t)mem - 2 * OSMEM_OVERHEAD);
}

static inline void *
osmem__chunk2mem(osmem__chunk_t *c)
{
	return (char *)c + 2 * OSMEM_OVERHEAD;
}

static inline size_t
osmem__csize(const osmem__chunk_t *c)
{
	return (size_t)(c->head & OSMEM_SIZE_MASK);
}

static inline osmem__chunk_t *
osmem__at(const void *base, size_t off)
{
	return (osmem__chunk_t *)((char *)(uintptr_t)base + off);
}

static inline osmem__chunk_t *
osmem__before(const void *base, size_t off)
{
	return (osmem__chunk_t *)((char *)(uintptr_t)base - off);
}

static inline osmem__chunk_t *
osmem__next(const osmem__chunk_t *c)
{
	return osmem__at(c, osmem__csize(c));
}

/* The fencepost that ends segment s. */
static inline osmem__chunk_t *
osmem__fence_of(const struct osmem__seg *s)
{
	return (osmem__chunk_t *)(s->end - OSMEM_FENCE);
}

/*
 * The tag: the top 18 bits of a head word are the secret's, exclusive-or
 * bits 2..19 of (user pointer + head word).  So it depends on the
 * address, on the size (fully for chunks under 1 MiB) and on the M and A
 * flags (a flipped M bit would send a heap block to munmap, an A bit to
 * another arena's lock), costs an addition, a shift and two exclusive-ors,
 * and a free can check it together with the C and M flags in one test
 * (osmem__fast_free_ok).  The P bit changes without a new tag (a
 * neighbour is freed or taken): the shift carries it into bit 44, which
 * nothing reads (masking it off would cost an instruction per head
 * written), as C goes out at the top.  The user pointer's low four bits
 * are zero, so the sum's are the head word's, with no carry out of them.
 * A sum rather than an exclusive-or because x86 adds into a third
 * register in one instruction (lea), and the head word is needed again.
 */
static inline uint64_t
osmem__tag(const osmem__chunk_t *c, uint64_t w)
{
	if (!OSMEM_HARDEN)
		return 0;
	uint64_t mem = (uint64_t)(uintptr_t)c + 2 * OSMEM_OVERHEAD;
	return ((mem + w) << OSMEM_TAG_SHIFT) ^ osmem__g.secret_t;
}

/* Write a head word, tagging it. */
static inline void
osmem__set_head(osmem__chunk_t *c, size_t size, uint64_t flags)
{
	uint64_t w = (uint64_t)size | flags;
	c->head = w ^ osmem__tag(c, w);
}

/* Write the heads of the chunks of size bytes, flags flags, that lie end
 * to end in [c, end).  The shifted sum grows by size << 44 from one chunk
 * to the next (the shift distributes over addition mod 2^64): two
 * instructions a head on top of the plain store's loop. */
static inline void
osmem__set_heads(osmem__chunk_t *c, const osmem__chunk_t *end, size_t size,
                 uint64_t flags)
{
	uint64_t w = (uint64_t)size | flags, k = w, m = 0;
	if (OSMEM_HARDEN) {
		k = w ^ osmem__g.secret_t;
		m = ((uint64_t)(uintptr_t)c + 2 * OSMEM_OVERHEAD + w)
		    << OSMEM_TAG_SHIFT;
	}
	for (; c < end; c = osmem__at(c, size)) {
		c->head = k ^ m;
		m += (uint64_t)size << OSMEM_TAG_SHIFT;
	}
}

/* The tag's test, as the fast free makes it; the empty asm keeps the
 * secret an operand in memory, not a register loaded and copied. */
static inline uint64_t
osmem__untag(uint64_t mem, uint64_t h, uint64_t secret)
{
	uint64_t v = h ^ ((mem + h) << OSMEM_TAG_SHIFT);
	__asm__("" : "+r"(v));
	return v ^ secret;
}

static inline int
osmem__head_ok(const osmem__chunk_t *c)
{
	if (!OSMEM_HARDEN)
		return 1;
	uint64_t mem = (uint64_t)(uintptr_t)c + 2 * OSMEM_OVERHEAD;
	return (osmem__untag(mem, c->head, osmem__g.secret_t) &
	        OSMEM_TAG_MASK) == 0;
}

/* The fast free's one test (tcache.h) covers every bit of a head word
 * but P, its copy in bit 44 and the size bits below OSMEM_FAST_LIMIT: the
 * tag, C, M and a size too large for a thread-cache bin. */
#define OSMEM_FAST_LIMIT 4096u
#define OSMEM_FAST_MASK                                                       \
	(OSMEM_TAG_MASK | OSMEM_F_CINUSE | OSMEM_F_MMAP |                     \
	 (OSMEM_SIZE_MASK & ~(uint64_t)(OSMEM_FAST_LIMIT - 1)))

/* c, once its header's tag is checked: a size is trusted only then. */
static inline osmem__chunk_t *
osmem__checked(osmem__chunk_t *c)
{
	if (OSMEM_UNLIKELY(!osmem__head_ok(c)))
		osmem__fatal("corrupted chunk header at", c, 0);
	return c;
}

/* The one-byte writes of P and C (see types.h): a plain read-modify-write
 * of one byte, which each byte's single writer may do. */
static inline void
osmem__head_byte(osmem__chunk_t *c, unsigned k, uint8_t set, uint8_t clear)
{
	uint8_t *b = (uint8_t *)&c->head + k;
	*b = (uint8_t)((*b | set) & ~clear);
}
#define OSMEM_C_BIT ((uint8_t)(OSMEM_F_CINUSE >> (8 * OSMEM_C_BYTE)))
static inline void
osmem__set_pinuse(osmem__chunk_t *c)
{
	osmem__head_byte(c, 0, (uint8_t)OSMEM_F_PINUSE, 0);
}
static inline void
osmem__clear_pinuse(osmem__chunk_t *c)
{
	osmem__head_byte(c, 0, 0, (uint8_t)OSMEM_F_PINUSE);
}
static inline void
osmem__set_cinuse(osmem__chunk_t *c)
{
	osmem__head_byte(c, OSMEM_C_BYTE, OSMEM_C_BIT, 0);
}
static inline void
osmem__clear_cinuse(osmem__chunk_t *c)
{
	osmem__head_byte(c, OSMEM_C_BYTE, 0, OSMEM_C_BIT);
}

/* Whether heap chunk c is free in its arena (not in use, not cached). */
static inline int
osmem__is_free(const osmem__chunk_t *c)
{
	return !(c->head & OSMEM_F_CINUSE) &&
	       !(osmem__next(c)->head & OSMEM_F_PINUSE);
}

static inline struct osmem__arena *
osmem__arena_of(const osmem__chunk_t *c)
{
	if (OSMEM_LIKELY(!(c->head & OSMEM_F_ARENA)))
		return &osmem__g.arena[0];
	uintptr_t region = (uintptr_t)c & ~(uintptr_t)(OSMEM_REGION - 1);
	return ((const struct osmem__seg *)region)->arena;
}

/* Size a request needs as a heap chunk, or 0 if it is too large. */
static inline size_t
osmem__request2size(size_t n)
{
	if (OSMEM_UNLIKELY(n > OSMEM_MAX_REQUEST))
		return 0;
	size_t s = osmem__round_up(n + OSMEM_OVERHEAD, OSMEM_ALIGN);
	return s < OSMEM_MIN_CHUNK ? OSMEM_MIN_CHUNK : s;
}

/* The head of mapped chunk c's mapping.  c->prev_foot lies just before
 * the block and an underflow can write it, so it is checked before it is
 * followed: the mapping starts on a page, c lies in its first page past
 * the head (large.c), and the head points back to c. */
static inline struct osmem__large *
osmem__large_of(const osmem__chunk_t *c)
{
	size_t off = c->prev_foot;
	uintptr_t m = (uintptr_t)c - off;
	if (OSMEM_UNLIKELY(off - OSMEM_LARGE_HEAD >= osmem__g.page ||
	                   (m & (osmem__g.page - 1)) ||
	                   ((struct osmem__large *)m)->chunk != c))
		osmem__fatal("corrupted mapped block header at", c, 0);
	return (struct osmem__large *)m;
}

/* Bytes usable in the block of chunk c: headers and guard page left
 * out. */
static inline size_t
osmem__usable(const osmem__chunk_t *c)
{
	if (c->head & OSMEM_F_MMAP)
		return osmem__csize(c) - 2 * OSMEM_OVERHEAD -
		       (osmem__large_of(c)->guard &
		        ~(uint64_t)OSMEM_LARGE_USED);
	return osmem__csize(c) - OSMEM_OVERHEAD;
}

/* Whether the header of a block handed back at p can be read without
 * faulting: p lies in the break heap's window (or the old one), or its
 * chunk's first bytes in a page of a mapped segment or large block. */
static inline int
osmem__readable(const void *p)
{
	return osmem__in(&osmem__win, p) || osmem__in(&osmem__win_old, p) ||
	       osmem__pages_has((uintptr_t)p - 2 * OSMEM_OVERHEAD);
}

#endif /* OSMEM_CHUNK_H */
