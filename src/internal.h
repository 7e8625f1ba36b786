/*
 * internal.h: the allocator's data layout and the small inline helpers that
 * every part of the core composes (block header, size classes, arena).
 *
 * Block ("chunk") layout, boundary tags in the style of dlmalloc:
 *
 *   c+0   prev_foot  size of the previous chunk when that chunk is free
 *                    (its footer); otherwise the last 8 bytes of the
 *                    previous chunk's payload.  For an mmapped chunk, the
 *                    offset of c from the start of its mapping.
 *   c+8   head       [63..48 tag][47..44 x][43 C][42..4 size][3 A][2 M][0 P]
 *   c+16  payload    the user's pointer; it runs to c+size+8, into the next
 *                    chunk's prev_foot.  A free chunk keeps its two index
 *                    links here (see bins.c).
 *
 * So a heap chunk costs 8 bytes of header, sizes are multiples of 16, and the
 * smallest chunk is 32 bytes (24 usable).  The tag is a keyed hash of the
 * chunk's address and its size (x: the flags as they were when the head
 * was last written, read by nothing): a stray write over a header
 * or a pointer that never came from us fails the check with probability
 * 1 - 2^-16, and the allocator aborts rather than use it.
 *
 * Each arena owns segments of address space (grown with sbrk, or mapped
 * when the break cannot move).  A segment starts with a struct osmem__seg
 * and ends with a fencepost: a zero-size chunk marked in use, so walks and
 * coalescing stop there.
 */
#ifndef OSMEM_INTERNAL_H
#define OSMEM_INTERNAL_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "lock.h"
#define OSMEM_NO_ALLOC_ATTRIBUTES 1
#include "osmem.h"

#define OSMEM_LIKELY(x) __builtin_expect(!!(x), 1)
#define OSMEM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define OSMEM_NOINLINE __attribute__((noinline))
#define OSMEM_ALWAYS_INLINE inline __attribute__((always_inline))
#define OSMEM_INTERNAL __attribute__((visibility("hidden")))
#define OSMEM_NORETURN __attribute__((noreturn))

/* The always-on checks (header tags, encoded links, their tests).  Only
 * make bench builds without them (-DOSMEM_HARDEN=0), to measure what they
 * cost; every installed library has them. */
#ifndef OSMEM_HARDEN
#define OSMEM_HARDEN 1
#endif

/* ---------------------------------------------------------------------
 * Geometry. */
#define OSMEM_ALIGN 16u     /* every user pointer */
#define OSMEM_OVERHEAD 8u   /* bytes of header per heap chunk */
#define OSMEM_MIN_CHUNK 32u /* head + two index links + footer */
#define OSMEM_SEG_HEAD 32u  /* struct osmem__seg, rounded to 16 */
#define OSMEM_FENCE 16u     /* the fencepost at a segment's end */
/* Largest request we will consider; keeps every size under 2^43. */
#define OSMEM_MAX_REQUEST ((size_t)1 << 42)

/*
 * Flags.  P and C are written by different parties without a common lock:
 * P of an in-use chunk by its neighbour's arena (under the arena lock), C
 * by the thread that frees or reuses the chunk through its thread cache
 * (no lock).  So they live in different bytes of the head word, byte 0
 * and byte 5, and each is only ever changed by a one-byte store; a byte
 * store never disturbs its neighbours.
 */
#define F_PINUSE ((uint64_t)1)        /* previous chunk in use (byte 0) */
#define F_MMAP ((uint64_t)4)          /* mapped on its own with mmap */
#define F_ARENA ((uint64_t)8)         /* in a region of an arena not main */
#define F_CINUSE ((uint64_t)1 << 43)  /* this chunk in use (byte 5) */
#define F_FLAGS ((uint64_t)15 | F_CINUSE)
#define SIZE_MASK ((((uint64_t)1 << 43) - 1) & ~(uint64_t)15)

struct osmem__chunk {
	uint64_t prev_foot;
	uint64_t head;
	void *link[2]; /* free chunks only: encoded index links (as
	                  pointers, not integers: a store to one cannot
	                  change the secret, so walks keep it in a register) */
};

_Static_assert(sizeof(struct osmem__chunk) == OSMEM_MIN_CHUNK,
               "a free chunk must fit in the minimum chunk");
_Static_assert(OSMEM_MIN_CHUNK % OSMEM_ALIGN == 0, "chunk granule");
_Static_assert(offsetof(struct osmem__chunk, link) == 2 * OSMEM_OVERHEAD,
               "payload starts 16 bytes into the chunk");

typedef struct osmem__chunk chunk_t;

/* A segment: one contiguous run of chunks. */
enum { SEG_SBRK = 1, SEG_MMAP = 2 };
struct osmem__seg {
	struct osmem__seg *next;
	char *end; /* one past the fencepost */
	uint32_t kind;
	uint32_t pad;
	struct osmem__arena *arena;
};

/* Arenas other than main grow by regions of this size, aligned to it, so
 * a chunk's arena is found from its address (F_ARENA). */
#define OSMEM_REGION ((size_t)64 << 20)
#define OSMEM_MAX_ARENAS 16
_Static_assert(sizeof(struct osmem__seg) == OSMEM_SEG_HEAD, "segment head");

/* A large chunk has its own mapping; the mapping starts with this link so
 * the walker and the checker can find every large chunk. */
struct osmem__large {
	struct osmem__large *next, *prev;
	struct osmem__chunk *chunk;
	uint64_t guard; /* bytes of guard page at the end of the mapping */
};
#define OSMEM_LARGE_HEAD 32u
_Static_assert(sizeof(struct osmem__large) == OSMEM_LARGE_HEAD, "large head");

/* ---------------------------------------------------------------------
 * Bins: exact 16-byte classes below 4 KiB, then 16 classes per power of
 * two, up to the largest size a head word holds (bins.c says why). */
#define OSMEM_SMALL_SHIFT 12u
#define OSMEM_SMALL_LIMIT (1u << OSMEM_SMALL_SHIFT)
#define OSMEM_NBINS                                                        \
	(OSMEM_SMALL_LIMIT / 16u + (42u - OSMEM_SMALL_SHIFT + 1u) * 16u)
#define OSMEM_BITMAP_WORDS ((OSMEM_NBINS + 63u) / 64u)
_Static_assert(OSMEM_BITMAP_WORDS <= 64, "one summary word");

static inline unsigned
osmem__bin_index(size_t size)
{
	if (size < OSMEM_SMALL_LIMIT)
		return (unsigned)(size >> 4);
	unsigned fl = 63u - (unsigned)__builtin_clzll(size);
	return OSMEM_SMALL_LIMIT / 16u + (fl - OSMEM_SMALL_SHIFT) * 16u +
	       (unsigned)((size >> (fl - 4u)) & 15u);
}

/* ---------------------------------------------------------------------
 * Statistics kept by each arena (bytes are chunk sizes, not requests). */
struct osmem__counters {
	size_t in_use;      /* bytes in chunks handed out */
	size_t in_use_peak;
	size_t heap;        /* bytes of segments (sbrk and mapped) */
	size_t heap_peak;
	size_t heap_brk;    /* of which from sbrk */
	size_t large;       /* bytes of large mappings */
	size_t large_peak;
	size_t nsegs;
	size_t nlarge;
	size_t free_bytes;  /* bytes in indexed free chunks */
	size_t dirty;       /* resident bytes in free chunks of 2 pages or
	                       more (the sum of their estimates) */
	size_t release_at;  /* dirty bytes that start a release pass */
	size_t refault;     /* bytes handed out from released pages since
	                       the last pass */
	size_t backoff;     /* the wait between passes, in half thresholds */
	size_t last_release; /* bytes the last pass gave back */
	size_t nfree_chunks;
	size_t released;    /* bytes given back to the system, in all */
	size_t nlarge_alloc, nlarge_free; /* under the large lock */
};

/* An arena: a heap with its own lock and index.  Arena 0 ("main") grows
 * with sbrk; the others with aligned mapped regions.  Each starts on a
 * line pair of its own: with arenas side by side, one thread's figures
 * shared a cache line with the next arena's lock, and two threads on two
 * arenas ran no faster than one. */
struct __attribute__((aligned(128))) osmem__arena {
	osmem__lock_t lock;
	uint64_t aflag; /* F_ARENA, or 0 for main */
	uint64_t summary;                      /* bit w: map[w] != 0 */
	uint64_t map[OSMEM_BITMAP_WORDS];      /* bit i: bin i not empty */
	void *root[OSMEM_NBINS];               /* treap of each bin (encoded) */
	struct osmem__chunk *victim;           /* the one free chunk outside the
	                                          bins (bins.c) */
	struct osmem__chunk *pile[2];          /* chunks freed in a run of
	                                          frees, not yet in their bins:
	                                          below two pages, and above
	                                          (bins.c) */
	size_t run;                            /* chunks indexed since the
	                                          last search */
	uintptr_t remote;                      /* blocks that threads of other
	                                          arenas freed (tcache.c) */
	size_t remote_bytes;                   /* and their chunk bytes */
	struct osmem__seg *segs;               /* newest first */
	struct osmem__seg *brk_seg;            /* the one sbrk extends */
	struct osmem__counters st;
};

/* Tunables in force (set at start-up or by mallopt). */
struct osmem__config {
	size_t mmap_threshold; /* request size at which we map on its own */
	size_t trim_threshold; /* free bytes at the break worth giving back */
	size_t top_pad;        /* extra bytes asked of sbrk on growth */
	size_t heap_initial;   /* first sbrk on first use */
	size_t mmap_seg;       /* size of a mapped segment when sbrk fails */
	size_t tc_cap;         /* most blocks in a thread-cache bin (0: none) */
	size_t narenas;        /* arenas threads share (0: 2 per CPU) */
	size_t stats;          /* print the figures at exit */
	size_t junk, canary, quarantine, guard, check_every; /* opt-in checks */
	size_t leaks, leak_exitcode; /* report blocks left at exit */
	size_t valgrind;       /* tell memcheck of blocks: 0 no, 1 yes, 2 when
	                          running under valgrind (default) */
#define OSMEM_PATH_MAX 256
	char heap_map[OSMEM_PATH_MAX]; /* map at exit (or OSMEM_HEAP_MAP) */
	char trace[OSMEM_PATH_MAX];    /* record calls (or OSMEM_TRACE) */
	size_t limit;          /* most bytes from the system (0: no limit) */
	size_t release_threshold; /* free bytes worth giving back pages for */
	int fixed_thresholds;  /* set by the user: no dynamic mmap threshold */
};

struct osmem__global {
	uint64_t secret;   /* keys header tags and link encoding */
	uint64_t secret_t; /* its tag bits */
	uint64_t secret_c; /* its tag bits, with F_CINUSE */
	uint64_t fast_mask; /* OSMEM_FAST_MASK (osmem__fast_free_ok) */
	uintptr_t win_lo;   /* the break heap's window (os.c): a pointer p */
	size_t win_span;    /* with p - win_lo < win_span lies in it */
	size_t page;
	int ready;
	int debug; /* an opt-in check is on: every call takes the slow path */
	int stats_fd; /* where stats=1 reports (stderr, kept from start-up) */
	int tracing;  /* OSMEM_TRACE: every call is recorded (trace.c) */
	int map_signal; /* OSMEM_HEAP_MAP_SIGNAL: a map may be asked for */
	int valgrind;   /* running under valgrind: blocks are annotated */
	struct osmem__config cfg;
	unsigned narenas;          /* arenas in use (1..OSMEM_MAX_ARENAS) */
	unsigned next_arena;       /* round-robin for new threads */
	osmem__lock_t large_lock;
	struct osmem__large *large; /* every live large chunk */
	osmem__lock_t tc_lock;
	struct osmem__tcache *tcaches; /* every live thread cache */
	struct osmem__arena arena[OSMEM_MAX_ARENAS];
};

extern struct osmem__global osmem__g OSMEM_INTERNAL;

/* ---------------------------------------------------------------------
 * Thread caches: recently freed blocks by exact chunk size, in front of
 * the arenas.  Bin i holds chunks of 16*i bytes as a stack of pointers in
 * the cache's own memory (slot[]), not as a list linked through the
 * blocks: a write after free into a cached block cannot redirect a later
 * malloc, and neither fast path reads or writes a link in a block.  Each
 * bin's entries lie between two stops (misaligned words, OSMEM_TC_STOP),
 * one shared with each neighbouring bin:
 *
 *   STOP [bin 2's cap[2] entries] STOP [bin 3's entries] STOP ...
 *
 * top[i] is bin i's latest entry; the bin holds [top[i], its end stop).
 * So *top[i] is a stop when the bin is empty and top[i][-1] when it is
 * full, and each fast path finds its case with one test of the word it
 * reads anyway.  Bins from OSMEM_TC_BINS up, which the fast free may
 * index, stand just after the first stop: always full.  A cached chunk has
 * its C bit clear, like a free one, but the next chunk's P bit set: to
 * the arena it is still in use.
 *
 * Cached sizes stop at 2 KiB: caching chunks up to 4 KiB made the gcc
 * trace's heap 12% larger (held blocks keep their neighbours from merging)
 * and saved nothing on the random churn of 8..2047-byte blocks. */
#define OSMEM_TC_BINS 129u
#define OSMEM_TC_MAX_CHUNK ((OSMEM_TC_BINS - 1) * 16u)
/* The bins the fast free may index: every chunk size below 4 KiB, which it
 * tests as "no size bit from bit 12 up".  Those above OSMEM_TC_BINS never
 * have room, so their blocks take the slow path. */
#define OSMEM_TC_SLOTS 256u
_Static_assert(OSMEM_TC_SLOTS * 16u == 4096u, "the fast free's size test");
#define OSMEM_TC_MAX_REQUEST (OSMEM_TC_MAX_CHUNK - OSMEM_OVERHEAD)
/* A bin holds up to OSMEM_TC_CAP blocks and about OSMEM_TC_BIN_BYTES:
 * 32 blocks up to 256 bytes, then fewer, down to four 2 KiB blocks.  With
 * half the bytes (two 2 KiB blocks), a random churn of 8..2047-byte
 * blocks missed the cache on 23% of its calls; with 8 KiB it takes 28%
 * fewer instructions, for 1% more peak RSS on the gcc trace.  32 blocks
 * rather than 16 halve the flushes of the small sizes: the gcc and
 * sqlite3 traces replay 9-11% faster, python3's 3%, churn and the
 * threads workloads 8-11% (paired medians of 11 rounds), at the same peak
 * RSS within 3%.  Bins of 16 KiB (stack-based caches, paired medians of
 * 5 rounds): one and two threads 30% faster, the gcc trace 11%, random
 * churn 9% fewer instructions, but peak RSS 7-10% higher on the threads
 * workloads and 6% on the gcc trace, above glibc's. */
#define OSMEM_TC_CAP 32u
#define OSMEM_TC_BIN_BYTES 8192u
/* The largest cap the tcache option allows, and enough words in slot[]
 * for any cap: the stops, and the entries of bins 2..128, each at most
 * OSMEM_TC_BIN_BYTES / (16 i), which sum to less than OSMEM_TC_BIN_BYTES
 * / 16 times (H(128) - 1) = 4.43 (2341 words in all for 8 KiB bins at
 * the largest cap; size_bins asserts it). */
#define OSMEM_TC_CAP_MAX 255u
_Static_assert(OSMEM_TC_CAP_MAX <= UINT8_MAX, "cap[] holds a bin's blocks");
#define OSMEM_TC_WORDS (OSMEM_TC_BIN_BYTES / 16u * 9u / 2u + OSMEM_TC_BINS)
#define OSMEM_TC_STOP ((uintptr_t)8)

enum { CALL_MALLOC, CALL_FREE, CALL_REALLOC, NCALLS };

struct osmem__tcache {
	void **top[OSMEM_TC_SLOTS]; /* each bin's latest entry (see above) */
	/* This thread's calls.  The fast free counts itself in fast_frees;
	 * the fast malloc counts nothing: the blocks it popped are those
	 * that went into the bins (fast_frees + put) less those the slow
	 * paths took out (took) and those there now (osmem__calls). */
	size_t calls[NCALLS];
	size_t fast_frees, put, took;
	uint16_t first[OSMEM_TC_BINS]; /* slot[] index of a bin's first entry */
	uint8_t cap[OSMEM_TC_BINS];   /* blocks a bin holds when full */
	uint8_t batch[OSMEM_TC_BINS]; /* blocks the next miss asks for */
	uint8_t real;                 /* 0 for the stand-ins below */
	struct osmem__arena *arena;
	struct osmem__tcache *next, *prev;
	void *slot[]; /* OSMEM_TC_WORDS in a real cache; none in a stand-in */
};

/* The calling thread's cache.  Before its first allocation it points to
 * an empty stand-in that sends both fast paths to the slow ones; after the
 * thread's exit handler ran, to another that keeps them there. */
extern __thread struct osmem__tcache *osmem__tc
    __attribute__((tls_model("initial-exec"))) OSMEM_INTERNAL;
extern struct osmem__tcache osmem__tc_none OSMEM_INTERNAL;
extern struct osmem__tcache osmem__tc_dead OSMEM_INTERNAL;

/* ---------------------------------------------------------------------
 * Chunk helpers. */
static inline chunk_t *
osmem__mem2chunk(const void *mem)
{
	return (chunk_t *)((char *)(uintptr_t)mem - 2 * OSMEM_OVERHEAD);
}

static inline void *
osmem__chunk2mem(chunk_t *c)
{
	return (char *)c + 2 * OSMEM_OVERHEAD;
}

static inline size_t
osmem__csize(const chunk_t *c)
{
	return (size_t)(c->head & SIZE_MASK);
}

static inline chunk_t *
osmem__at(const void *base, size_t off)
{
	return (chunk_t *)((char *)(uintptr_t)base + off);
}

static inline chunk_t *
osmem__before(const void *base, size_t off)
{
	return (chunk_t *)((char *)(uintptr_t)base - off);
}

static inline chunk_t *
osmem__next(const chunk_t *c)
{
	return osmem__at(c, osmem__csize(c));
}

/*
 * The tag: the top 18 bits of a head word are the secret's, exclusive-or
 * bits 2..19 of (user pointer + head word).  So it depends on the address,
 * on the size (fully for chunks under 1 MiB) and on the M and A flags (a
 * flipped M bit would send a heap block to munmap, an A bit to another
 * arena's lock), costs an addition, a shift and two exclusive-ors, and a
 * free can check it together with the C and M flags in one test
 * (osmem__fast_free_ok).
 * The P bit changes without a new tag (a neighbour is freed or taken): the
 * shift carries it into bit 44, which nothing reads (masking it off would
 * cost one more instruction per head written), as C goes out at the top.
 * The user pointer's low four bits are zero, so the sum's are the head
 * word's, with no carry out of them: P reaches bit 44 and nothing else.
 * A sum rather than an exclusive-or because x86 adds into a third register
 * in one instruction (lea), where an exclusive-or would need a copy: the
 * head word is needed again, untouched.  Bits of the head word above 19,
 * the tag's own among them, cannot reach bits 0..19 of the sum. */
#define TAG_MASK ((uint64_t)0x3ffff << 46)

static inline uint64_t
osmem__tag(const chunk_t *c, uint64_t w)
{
	if (!OSMEM_HARDEN)
		return 0;
	uint64_t mem = (uint64_t)(uintptr_t)c + 2 * OSMEM_OVERHEAD;
	return ((mem + w) << 44) ^ osmem__g.secret_t;
}

/* Write a head word, tagging it. */
static inline void
osmem__set_head(chunk_t *c, size_t size, uint64_t flags)
{
	uint64_t w = (uint64_t)size | flags;
	c->head = w ^ osmem__tag(c, w);
}

/* Write the heads of the chunks of size bytes, flags flags, that lie end
 * to end in [c, end).  The tag of the chunk at mem is
 * ((mem + w) << 44) ^ secret_t, and (mem + w) << 44 grows by size << 44
 * from one chunk to the next (the shift distributes over addition mod
 * 2^64): two instructions a head on top of the plain store's loop. */
static inline void
osmem__set_heads(chunk_t *c, const chunk_t *end, size_t size, uint64_t flags)
{
	uint64_t w = (uint64_t)size | flags, k = w, m = 0;
	if (OSMEM_HARDEN) {
		k = w ^ osmem__g.secret_t;
		m = ((uint64_t)(uintptr_t)c + 2 * OSMEM_OVERHEAD + w) << 44;
	}
	for (; c < end; c = osmem__at(c, size)) {
		c->head = k ^ m;
		m += (uint64_t)size << 44;
	}
}

static inline int
osmem__head_ok(const chunk_t *c)
{
	if (!OSMEM_HARDEN)
		return 1;
	/* As osmem__fast_free_ok: the empty asm keeps the secret an operand
	 * in memory, not a register loaded and copied. */
	uint64_t h = c->head;
	uint64_t v = h ^ (((uint64_t)(uintptr_t)c + 2 * OSMEM_OVERHEAD + h) << 44);
	__asm__("" : "+r"(v));
	v ^= osmem__g.secret_t;
	return (v & TAG_MASK) == 0;
}

/* Whether the fast free may take the block at user pointer p, head word
 * h: ours (the tag), in use (C), not mapped (M) and under 4 KiB (so its
 * bin is one of OSMEM_TC_SLOTS), in one test.  secret_c is the secret's
 * tag bits with F_CINUSE set, so v has C's bit clear for a block in use.
 * The mask leaves out P, its copy in bit 44 (P changes without a new
 * tag) and the size bits below 4 KiB. */
#define OSMEM_FAST_MASK                                                  \
	(TAG_MASK | F_CINUSE | F_MMAP |                                  \
	 (SIZE_MASK & ~(uint64_t)(OSMEM_TC_SLOTS * 16 - 1)))
static inline int
osmem__fast_free_ok(const void *p, uint64_t h)
{
	if (!OSMEM_HARDEN)
		return (h & (F_CINUSE | F_MMAP |
		             (SIZE_MASK & ~(uint64_t)(OSMEM_TC_SLOTS * 16 - 1)))) ==
		       F_CINUSE;
	/* Two instructions fewer than the plain expression.  The empty asm
	 * keeps gcc from reassociating the exclusive-ors (it would take h
	 * ^ secret_c first, which costs a load into a register and a copy
	 * of h, where now the secret is an operand in memory), and the mask,
	 * too wide for an immediate, is tested in memory rather than loaded
	 * with movabs.  x86-64 gcc 12: a pair 50 -> 48 instructions. */
	uint64_t v = h ^ (((uint64_t)(uintptr_t)p + h) << 44);
	__asm__("" : "+r"(v));
	v ^= osmem__g.secret_c;
	return (v & osmem__g.fast_mask) == 0;
}

/* The thread-cache bin of chunk c, whose head passed osmem__fast_free_ok
 * (so its size is under 4 KiB): bits 4..11 of the head, read again as its
 * two low bytes.  From the head word already loaded, it took a copy and
 * two shifts (the word is still needed for the check); the second load is
 * one instruction from the first's cache line.  Only P, below bit 4,
 * changes under another thread meanwhile. */
static inline size_t
osmem__fast_bin(const chunk_t *c)
{
	uint16_t low; /* little-endian, as osmem__head_byte */
	__builtin_memcpy(&low, &c->head, 2);
	size_t b = low;
	__asm__("" : "+r"(b)); /* else gcc shifts 16 bits and widens again */
	return b >> 4;
}

/* Free-list links (the bins' and the remote stacks'), stored encoded with
 * the secret, in the spirit of glibc's safe-linking: an overwritten link
 * decodes to a misaligned value (15 times in 16, and always when what was
 * written is itself aligned: the secret is odd), which the reader rejects.
 * The secret is subtracted, not exclusive-ored: a walk needs both a link
 * as stored (to move it) and decoded (to follow it), and x86 adds into a
 * third register in one instruction (lea) but exclusive-ors only in place,
 * so with xor every level of a walk paid a copy too.  The checks'
 * instructions fell by 6% (bench/workloads churn and threads 1). */
static inline uintptr_t
osmem__link_enc(const void *p)
{
	return (uintptr_t)p - (OSMEM_HARDEN ? (uintptr_t)osmem__g.secret : 0);
}

static inline uintptr_t
osmem__link_dec(uintptr_t v)
{
	return v + (OSMEM_HARDEN ? (uintptr_t)osmem__g.secret : 0);
}

static inline int
osmem__link_bad(uintptr_t v)
{
	return OSMEM_HARDEN && (v & (OSMEM_ALIGN - 1));
}

/* The end of a bin's tree or of the pile, and the pile's mark, as stored:
 * constants, so that writing or testing one costs an immediate operand,
 * never the secret.  With the checks they are even, and every stored
 * link is odd (an aligned pointer minus the odd secret): no link equals
 * them, and they decode to odd values, so the walks' one test of the
 * decoded low bits stops at the end and at a corrupted link alike, and
 * only then is the stored value compared with the end.  Without the
 * checks, plain NULL and a misaligned mark. */
#define OSMEM_LINK_END ((uintptr_t)(OSMEM_HARDEN ? 0x6f736d6e : 0))
#define OSMEM_LINK_PILE ((uintptr_t)(OSMEM_HARDEN ? 0x6f736d70 : 24))

/* Whether decoded link v ends a walk: the end, or corrupted. */
static inline int
osmem__link_stop(uintptr_t v)
{
	return OSMEM_HARDEN ? (v & (OSMEM_ALIGN - 1)) != 0 : v == 0;
}

/* Whether word v of a thread cache's slots is a stop (see above). */
static inline int
osmem__tc_stop(const void *v)
{
	return ((uintptr_t)v & (OSMEM_ALIGN - 1)) != 0;
}

/* The blocks bin i of tc (a real cache) holds. */
static inline size_t
osmem__tc_held(const struct osmem__tcache *tc, unsigned i)
{
	void *const *end = &tc->slot[tc->first[i] + tc->cap[i]];
	return (size_t)(end - __atomic_load_n(&tc->top[i], __ATOMIC_RELAXED));
}

/* Make slot t, just written, the top of bin i of tc.  A release store:
 * the slot's store comes first for the compiler too, so a child forked
 * meanwhile, which sees a prefix of this thread's stores and flushes the
 * cache it finds, never lists a slot not yet written (a plain mov on
 * x86). */
static inline void
osmem__tc_set_top(struct osmem__tcache *tc, size_t i, void **t)
{
	__atomic_store_n(&tc->top[i], t, __ATOMIC_RELEASE);
}

/* Move the top of bin i of tc by `by` entries, after every store before
 * it (as osmem__tc_set_top): the fast paths' one instruction for it, an
 * add to memory, where gcc 12 computes the new top in a register and
 * stores it, one instruction more. */
static OSMEM_ALWAYS_INLINE void
osmem__tc_move_top(struct osmem__tcache *tc, size_t i, int by)
{
#if defined(__x86_64__)
	if (by > 0)
		__asm__ volatile("addq $8, %0" : "+m"(tc->top[i]) : : "memory");
	else
		__asm__ volatile("subq $8, %0" : "+m"(tc->top[i]) : : "memory");
#else
	osmem__tc_set_top(tc, i, tc->top[i] + by);
#endif
}

/* Keep v in the return register from where it is computed: gcc 12 puts
 * the block the fast malloc pops elsewhere and copies it at the end. */
#if defined(__x86_64__)
#define osmem__in_return_register(v) __asm__("" : "+a"(v))
#else
#define osmem__in_return_register(v) ((void)0)
#endif

/* Put block p, its C bit already clear, into bin i of tc (which has
 * room), from a slow path: a free, a refill or the remote drain. */
static inline void
osmem__tc_push(struct osmem__tcache *tc, size_t i, void *p)
{
	void **t = tc->top[i] - 1;
	*t = p;
	osmem__tc_set_top(tc, i, t);
	tc->put++;
}

/* The one-byte writes of P and C (see the flags above): a plain
 * read-modify-write of one byte, which each byte's single writer may do
 * (an orb or andb on x86). */
static inline void
osmem__head_byte(chunk_t *c, unsigned k, uint8_t set, uint8_t clear)
{
	uint8_t *b = (uint8_t *)&c->head + k;
	*b = (uint8_t)((*b | set) & ~clear);
}
#define CBYTE 5u
#define CBIT ((uint8_t)(F_CINUSE >> 40))
static inline void
osmem__set_pinuse(chunk_t *c)
{
	osmem__head_byte(c, 0, (uint8_t)F_PINUSE, 0);
}
static inline void
osmem__clear_pinuse(chunk_t *c)
{
	osmem__head_byte(c, 0, 0, (uint8_t)F_PINUSE);
}
static inline void
osmem__set_cinuse(chunk_t *c)
{
	osmem__head_byte(c, CBYTE, CBIT, 0);
}
static inline void
osmem__clear_cinuse(chunk_t *c)
{
	osmem__head_byte(c, CBYTE, 0, CBIT);
}

/* Whether heap chunk c is free in its arena (not in use, not cached). */
static inline int
osmem__is_free(const chunk_t *c)
{
	return !(c->head & F_CINUSE) &&
	       !(osmem__at(c, (size_t)(c->head & SIZE_MASK))->head & F_PINUSE);
}

static inline struct osmem__arena *
osmem__arena_of(const chunk_t *c)
{
	if (OSMEM_LIKELY(!(c->head & F_ARENA)))
		return &osmem__g.arena[0];
	return ((const struct osmem__seg *)((uintptr_t)c &
	                                    ~(uintptr_t)(OSMEM_REGION - 1)))
	    ->arena;
}

/* Size a request needs as a heap chunk, or 0 if it is too large. */
static inline size_t
osmem__request2size(size_t n)
{
	if (OSMEM_UNLIKELY(n > OSMEM_MAX_REQUEST))
		return 0;
	size_t s = (n + OSMEM_OVERHEAD + OSMEM_ALIGN - 1) &
	           ~(size_t)(OSMEM_ALIGN - 1);
	return s < OSMEM_MIN_CHUNK ? OSMEM_MIN_CHUNK : s;
}

static inline size_t
osmem__round_up(size_t n, size_t to)
{
	return (n + to - 1) & ~(to - 1);
}

/* ---------------------------------------------------------------------
 * Debug assertions by level; always-on checks go through osmem__fatal. */
#if OSMEM_DEBUG >= 1
#define osmem__assert(e)                                                      \
	((e) ? (void)0 : osmem__assert_fail(#e, __FILE__, __LINE__))
#else
#define osmem__assert(e) ((void)0)
#endif
#if OSMEM_DEBUG >= 2
#define osmem__assert_expensive(e) osmem__assert(e)
#else
#define osmem__assert_expensive(e) ((void)0)
#endif

/* diag.c */
OSMEM_INTERNAL OSMEM_NORETURN void osmem__fatal(const char *what,
                                                const void *ptr, size_t size);
OSMEM_INTERNAL OSMEM_NORETURN void osmem__assert_fail(const char *expr,
                                                      const char *file,
                                                      int line);
/* Print a one-line report (no abort); returns -1 for the checkers. */
OSMEM_INTERNAL int osmem__report(const char *what, const void *ptr,
                                 size_t size);
OSMEM_INTERNAL size_t osmem__fmt_hex(char *buf, uintptr_t v);
OSMEM_INTERNAL size_t osmem__fmt_dec(char *buf, size_t v);

/* c, once its header's tag is checked: a size is trusted only then. */
static inline chunk_t *
osmem__checked(chunk_t *c)
{
	if (OSMEM_UNLIKELY(!osmem__head_ok(c)))
		osmem__fatal("corrupted chunk header at", c, 0);
	return c;
}

/* init.c */
OSMEM_INTERNAL OSMEM_NOINLINE void osmem__init(void);
static inline void
osmem__ensure_init(void)
{
	if (OSMEM_UNLIKELY(!osmem__g.ready))
		osmem__init();
}

/* bins.c: the best-fit index of free chunks. */
OSMEM_INTERNAL void osmem__bin_insert(struct osmem__arena *a, chunk_t *c);
OSMEM_INTERNAL void osmem__bin_remove(struct osmem__arena *a, chunk_t *c);
OSMEM_INTERNAL chunk_t *osmem__bin_take_best(struct osmem__arena *a,
                                             size_t size);
OSMEM_INTERNAL size_t osmem__bin_largest(struct osmem__arena *a);
OSMEM_INTERNAL void osmem__bin_each_down(struct osmem__arena *a,
                                         unsigned lowest,
                                         int (*fn)(chunk_t *, void *),
                                         void *arg);
OSMEM_INTERNAL int osmem__bin_check(struct osmem__arena *a, size_t *nfree);
OSMEM_INTERNAL int osmem__bin_contains(struct osmem__arena *a,
                                       const chunk_t *c);

/* heap.c: chunks inside an arena's segments. */
OSMEM_INTERNAL void *osmem__heap_alloc(struct osmem__arena *a, size_t size,
                                       unsigned *k, int grow);
OSMEM_INTERNAL void *osmem__heap_alloc_aligned(struct osmem__arena *a,
                                               size_t size, size_t align);
OSMEM_INTERNAL void osmem__heap_free(struct osmem__arena *a, chunk_t *c);
OSMEM_INTERNAL chunk_t *osmem__heap_cut(struct osmem__arena *a, chunk_t *c,
                                        size_t size);
OSMEM_INTERNAL int osmem__heap_resize(struct osmem__arena *a, chunk_t *c,
                                      size_t size);

/* large.c: chunks with a mapping of their own. */
OSMEM_INTERNAL void *osmem__large_alloc(size_t size, size_t align, int zero);
OSMEM_INTERNAL void osmem__large_free(chunk_t *c);
OSMEM_INTERNAL void *osmem__large_resize(chunk_t *c, size_t n);
OSMEM_INTERNAL size_t osmem__large_usable(const chunk_t *c);

/* trim.c */
OSMEM_INTERNAL int osmem__arena_trim(struct osmem__arena *a, size_t pad,
                                     int release_all);
OSMEM_INTERNAL OSMEM_NOINLINE void osmem__arena_release(struct osmem__arena *a,
                                                        size_t down_to);
OSMEM_INTERNAL OSMEM_NOINLINE void osmem__release_now(struct osmem__arena *a,
                                                      chunk_t *c, size_t size);

/* Whether a free chunk of this size counts as dirty (has whole pages
 * inside it that could be given back). */
static inline int
osmem__releasable(size_t size)
{
	return size >= 2 * osmem__g.page;
}

/* The resident free bytes an arena keeps before a release pass: the
 * tunable, or 1/64 of the arena's heap when that is more (0 stays 0);
 * large heaps are not walked for a few pages.  The tunable's default is
 * 1 MiB.  At 256 KiB the gcc trace (a 3.3 MiB heap) gave back 2.1 MB in
 * 8 passes and faulted nearly all of it in again (470 more page faults):
 * 1 MiB replays it 12-16% faster and python3's 6-8%, paired medians of
 * 11-21 runs, at the same peak RSS; the sqlite3 trace's peak (1.8 MiB)
 * did not move over 15 runs each, and it rises to 2.8 MiB at 2 MiB. */
static inline size_t
osmem__release_threshold(const struct osmem__arena *a)
{
	size_t t = osmem__g.cfg.release_threshold, h = a->st.heap / 64;
	return t && h > t ? h : t;
}

/* A free chunk of two pages or more keeps, past its index links (and
 * the parent link at c+32, see bins.c), an estimate of how many of its
 * bytes are resident ("dirty"): merging adds estimates, splitting caps
 * them, releasing its pages zeroes it.  Smaller free chunks count as
 * wholly resident. */
static inline size_t *
osmem__dirt_slot(chunk_t *c)
{
	return (size_t *)((char *)c + OSMEM_MIN_CHUNK + 8);
}

static inline size_t
osmem__dirt(chunk_t *c)
{
	size_t size = osmem__csize(c);
	return osmem__releasable(size) ? *osmem__dirt_slot(c) : size;
}

/* options.c: OSMEM_OPTIONS. */
OSMEM_INTERNAL void osmem__parse_options(struct osmem__config *cfg,
                                         const char *s);

/* stats.c: glibc's malloc_stats report, and libosmem's summary, on fd. */
OSMEM_INTERNAL void osmem__stats_print(int fd);
OSMEM_INTERNAL void osmem__stats_summary(int fd);

/* aligned.c */
OSMEM_INTERNAL void *osmem__aligned(size_t align, size_t n);

/* debug.c: the opt-in checks (OSMEM_OPTIONS junk, canary, quarantine,
 * check_every); osmem__g.debug says whether any is on. */
OSMEM_INTERNAL size_t osmem__debug_request(size_t n);
OSMEM_INTERNAL size_t osmem__debug_usable(const void *p, size_t usable);
OSMEM_INTERNAL void *osmem__debug_new(void *p, size_t n, size_t usable,
                                      const void *caller);
OSMEM_INTERNAL const void *osmem__debug_caller(const void *p, size_t usable);
OSMEM_INTERNAL void osmem__debug_set_caller(void *p, const void *caller);
/* leaks.c: the report at exit; returns the number of leaked blocks. */
OSMEM_INTERNAL size_t osmem__leak_report(int fd);
OSMEM_INTERNAL int osmem__debug_free(void *p, size_t usable);
OSMEM_INTERNAL size_t osmem__debug_leaving(void *p);
OSMEM_INTERNAL void osmem__debug_tick(void);
extern osmem__lock_t osmem__quarantine_lock OSMEM_INTERNAL;

/* heapmap.c: the map OSMEM_HEAP_MAP asks for at exit, or on a signal. */
OSMEM_INTERNAL void osmem__heap_map_at_exit(const char *path);
OSMEM_INTERNAL void osmem__heap_map_signal(void);
OSMEM_INTERNAL const char *osmem__heap_map_path(void);
OSMEM_INTERNAL void osmem__heap_map_if_wanted(void);
extern osmem__lock_t osmem__map_lock OSMEM_INTERNAL;

/* trace.c: recording calls (OSMEM_TRACE). */
OSMEM_INTERNAL void osmem__path_pid(const char *path, char *name,
                                    size_t len);
OSMEM_INTERNAL void osmem__trace_open(void);
OSMEM_INTERNAL void osmem__trace_flush(void);
OSMEM_INTERNAL void osmem__trace_write_out(void);
extern osmem__lock_t osmem__trace_lock OSMEM_INTERNAL;
OSMEM_INTERNAL void osmem__trace(char op, int count, uintptr_t x,
                                 uintptr_t y, uintptr_t z);
OSMEM_INTERNAL void osmem__trace_quiet(int on);

/* Bytes usable in the block at p (headers and guard excluded). */
static inline size_t
osmem__usable(const void *p)
{
	const chunk_t *c = osmem__mem2chunk(p);
	if (c->head & F_MMAP)
		return osmem__large_usable(c);
	return osmem__csize(c) - OSMEM_OVERHEAD;
}

/* tcache.c: counting calls, for osmem_stats. */
OSMEM_INTERNAL void osmem__count(int call);
OSMEM_INTERNAL void osmem__calls(size_t out[NCALLS]);

/* tcache.c: the slow paths behind the thread caches. */
OSMEM_INTERNAL void osmem__free_now(void *p);
OSMEM_INTERNAL OSMEM_NOINLINE void *osmem__malloc_slow(size_t n);
OSMEM_INTERNAL OSMEM_NOINLINE void osmem__free_slow(void *p);
OSMEM_INTERNAL OSMEM_NOINLINE void osmem__free_full(void *p);
OSMEM_INTERNAL void osmem__tc_flush(struct osmem__tcache *tc);
OSMEM_INTERNAL void osmem__remote_drain(struct osmem__arena *a,
                                        struct osmem__tcache *tc);
OSMEM_INTERNAL struct osmem__arena *osmem__my_arena(void);
OSMEM_INTERNAL size_t osmem__tc_bytes(void);
OSMEM_INTERNAL void osmem__tc_after_fork(void);
OSMEM_INTERNAL void osmem__tc_init(void);
OSMEM_INTERNAL void osmem__tc_set_cap(struct osmem__tcache *tc, unsigned cap);

/* pages.c: the pages of mapped segments and large blocks.  mark returns
 * -1 when it could not map a table to mark them in. */
OSMEM_INTERNAL int osmem__pages_mark(const void *p, size_t len, int on);
OSMEM_INTERNAL int osmem__pages_has(uintptr_t v);

/* Whether p lies in the break heap's window (os.c): all of it mapped,
 * NULL never in it. */
static inline int
osmem__in_window(const void *p)
{
	return (uintptr_t)p - osmem__g.win_lo < osmem__g.win_span;
}

/* Whether the header of a block the program hands back at p can be read
 * without faulting: p lies in the break heap's window, or its chunk's
 * first bytes in a page of a mapped segment or large block.  A pointer
 * that is neither was never allocated, or is a large block already
 * unmapped, and gets this message: */
#define OSMEM_NO_HEAP                                                         \
	"of a pointer in no heap (never allocated, or a large block already " \
	"freed)"
static inline int
osmem__readable(const void *p)
{
	return osmem__in_window(p) ||
	       osmem__pages_has((uintptr_t)p - 2 * OSMEM_OVERHEAD);
}

/* check.c */
OSMEM_INTERNAL int osmem__heap_check(void);
OSMEM_INTERNAL OSMEM_NORETURN void osmem__bad_header(const void *p,
                                                     const char *invalid);

#endif /* OSMEM_INTERNAL_H */
