/*
 * types.h: the allocator's data: the block ("chunk") and segment layout
 * with every bit, mask and shift of a head word, an arena, the tunables
 * in force, the hook table of the opt-in tools, and the global state
 * that init.c defines and starts.  Layer 3 (with chunk.h, its helpers).
 *
 * Chunk layout, boundary tags in the style of dlmalloc:
 *
 *   c+0   prev_foot  size of the previous chunk when that chunk is free
 *                    (its footer); otherwise the last 8 bytes of the
 *                    previous chunk's payload.  For a mapped chunk, the
 *                    offset of c from the start of its mapping.
 *   c+8   head       [63..46 tag][45 0][44 P as last tagged][43 C]
 *                    [42..4 size][3 A][2 M][1 0][0 P]
 *   c+16  payload    the user's pointer; it runs to c+size+8, into the
 *                    next chunk's prev_foot.  A free chunk keeps its two
 *                    index links here (see bins.c).
 *
 * So a heap chunk costs 8 bytes of header, sizes are multiples of 16, and
 * the smallest chunk is 32 bytes (24 usable).  The tag (chunk.h) is a
 * keyed hash of the chunk's address and its head word: a stray write
 * over a header, or a pointer that never came from us, fails the check
 * with probability 1 - 2^-18, and the allocator aborts rather than use
 * it.
 *
 * Each arena owns segments of address space (grown with sbrk, or mapped
 * when the break cannot move).  A segment starts with a struct osmem__seg
 * and ends with a fencepost: a zero-size chunk marked in use, so walks
 * and coalescing stop there.
 */
#ifndef OSMEM_TYPES_H
#define OSMEM_TYPES_H

#include "base.h"
#include "lock.h"
#define OSMEM_NO_ALLOC_ATTRIBUTES 1
#include "osmem.h"

/* Geometry. */
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
#define OSMEM_F_PINUSE ((uint64_t)1)       /* previous chunk in use */
#define OSMEM_F_MMAP ((uint64_t)4)         /* mapped on its own */
#define OSMEM_F_ARENA ((uint64_t)8)        /* in a region of another arena */
#define OSMEM_F_CINUSE ((uint64_t)1 << 43) /* this chunk in use */
#define OSMEM_C_BYTE 5u                    /* the byte that holds C */
#define OSMEM_SIZE_MASK ((((uint64_t)1 << 43) - 1) & ~(uint64_t)15)
/* The tag: bits 46..63; the sum it hashes is shifted up by 44. */
#define OSMEM_TAG_SHIFT 44u
#define OSMEM_TAG_MASK ((uint64_t)0x3ffff << 46)

struct osmem__chunk {
	uint64_t prev_foot;
	uint64_t head;
	void *link[2]; /* free chunks only: encoded index links (as
	                  pointers, not integers: a store to one cannot
	                  change the secret, so walks keep it in a register) */
};
typedef struct osmem__chunk osmem__chunk_t;

_Static_assert(sizeof(struct osmem__chunk) == OSMEM_MIN_CHUNK,
               "a free chunk must fit in the minimum chunk");
_Static_assert(OSMEM_MIN_CHUNK % OSMEM_ALIGN == 0, "chunk granule");
_Static_assert(offsetof(struct osmem__chunk, link) == 2 * OSMEM_OVERHEAD,
               "payload starts 16 bytes into the chunk");

/* A segment: one contiguous run of chunks, from the break or mapped. */
enum { OSMEM_SEG_BRK = 1, OSMEM_SEG_MAPPED = 2 };
struct osmem__seg {
	struct osmem__seg *next;
	char *end; /* one past the fencepost */
	uint32_t kind;
	uint32_t pad;
	struct osmem__arena *arena;
};
_Static_assert(sizeof(struct osmem__seg) == OSMEM_SEG_HEAD, "segment head");

/* Other arenas grow through regions of this size, aligned to it, so a
 * chunk's arena is found from its address (OSMEM_F_ARENA). */
#define OSMEM_REGION ((size_t)64 << 20)
#define OSMEM_MAX_ARENAS 16

/* A large chunk has its own mapping, which starts with this head; live
 * ones are linked so the walker and the checker find them all. */
struct osmem__large {
	struct osmem__large *next, *prev;
	struct osmem__chunk *chunk;
	uint64_t guard; /* guard page bytes at the end; | OSMEM_LARGE_USED */
};
#define OSMEM_LARGE_USED 1u /* its pages reused, not zero (large.c) */
#define OSMEM_LARGE_HEAD 32u
_Static_assert(sizeof(struct osmem__large) == OSMEM_LARGE_HEAD, "large head");

/* Bins of the best-fit index: exact 16-byte classes below 4 KiB, then 16
 * classes per power of two, up to the largest size a head word holds
 * (bins.c says why). */
#define OSMEM_SMALL_SHIFT 12u
#define OSMEM_SMALL_LIMIT (1u << OSMEM_SMALL_SHIFT)
#define OSMEM_NBINS                                                           \
	(OSMEM_SMALL_LIMIT / 16u + (42u - OSMEM_SMALL_SHIFT + 1u) * 16u)
#define OSMEM_BITMAP_WORDS ((OSMEM_NBINS + 63u) / 64u)
_Static_assert(OSMEM_BITMAP_WORDS <= 64, "one summary word");

/* Figures kept by each arena (bytes are chunk sizes, not requests). */
struct osmem__counters {
	size_t in_use;                   /* bytes in chunks handed out */
	size_t in_use_peak, pass_in_use; /* and at the last release pass */
	size_t heap; /* bytes of segments (sbrk and mapped) */
	size_t heap_peak;
	size_t heap_brk; /* of which from sbrk */
	size_t large;    /* bytes of large mappings (main arena's only) */
	size_t large_peak;
	size_t nsegs, nlarge;
	size_t free_bytes; /* bytes in indexed free chunks */
	size_t dirty;      /* resident bytes in free chunks of 2 pages or
	                      more (the sum of their estimates) */
	size_t release_at; /* dirty bytes that start a release pass */
	size_t refault;    /* bytes handed out from released pages since
	                      the last pass */
	size_t backoff;    /* the wait between passes, in steps */
	size_t last_release, res_peak; /* of the last pass; peak (trim.c) */
	size_t nfree_chunks;
	size_t released; /* bytes given back to the system, in all */
	size_t nlarge_alloc, nlarge_free, kept; /* under the large lock */
};

/* An arena: a heap with its own lock and index.  Each starts on a line
 * pair of its own: with arenas side by side, one thread's figures shared
 * a cache line with the next arena's lock, and two threads on two arenas
 * ran no faster than one. */
struct __attribute__((aligned(128))) osmem__arena {
	osmem__lock_t lock;
	uint64_t aflag;                   /* OSMEM_F_ARENA, or 0 for main */
	uint64_t summary;                 /* bit w: map[w] != 0 */
	uint64_t map[OSMEM_BITMAP_WORDS]; /* bit i: bin i not empty */
	void *root[OSMEM_NBINS];          /* treap of each bin (encoded) */
	struct osmem__chunk *victim;      /* the one free chunk outside the
	                                     bins (bins.c) */
	struct osmem__chunk *pile[2];     /* chunks freed in a run of frees,
	                                     not yet in their bins (bins.c) */
	size_t run, threads;              /* chunks indexed since the last
	                                     search; threads it serves */
	uintptr_t remote;                 /* blocks that threads of other
	                                     arenas freed (arena.c) */
	size_t remote_bytes;              /* and their chunk bytes */
	struct osmem__seg *segs;          /* newest first */
	struct osmem__seg *brk_seg;       /* the one growth extends */
	struct osmem__counters st;
};

/* Tunables in force: set at start-up from OSMEM_OPTIONS (options.c has
 * each one's name, range and default) or by osmem_mallopt. */
#define OSMEM_PATH_MAX 256
/* glibc's largest mmap threshold on 64-bit systems: half of 64 MiB; the
 * dynamic threshold (large.c) stops there too. */
#define OSMEM_MMAP_THRESHOLD_MAX ((size_t)32 << 20)
/* The largest cap of a thread-cache bin (a count in a byte). */
#define OSMEM_TC_CAP_MAX 255u
struct osmem__config {
	size_t mmap_threshold; /* request size at which we map on its own */
	size_t trim_threshold; /* free bytes at the break worth giving back */
	size_t top_pad;        /* extra bytes asked of sbrk on growth */
	size_t tc_cap;  /* most blocks in a thread-cache bin (0: none) */
	size_t narenas; /* arenas threads share (0: 2 per CPU) */
	size_t stats;   /* print the figures at exit (1 text, 2 JSON) */
	size_t junk, canary, quarantine, guard, check_every, thp; /* opt-in */
	size_t leaks, leak_exitcode; /* the leak check (2: reachable too) */
	size_t frames;   /* callers recorded per allocation (stacks.c) */
	size_t valgrind; /* tell memcheck of blocks: 0, 1, 2 under it */
	char heap_map[OSMEM_PATH_MAX];   /* map at exit (or OSMEM_HEAP_MAP) */
	char trace[OSMEM_PATH_MAX];      /* record calls (or OSMEM_TRACE) */
	char profile[OSMEM_PATH_MAX];    /* the profile's files (profile.c) */
	char stats_file[OSMEM_PATH_MAX]; /* where stats go (else stderr) */
	size_t limit;             /* most bytes from the system (0: none) */
	size_t release_threshold; /* free bytes worth giving back pages for */
	int fixed_thresholds; /* set by the user: no dynamic mmap threshold */
};

/*
 * The opt-in tools (debug checks, leak records, the trace, the heap map
 * on a signal) reach the allocator only through this table, which
 * start-up fills in when one is on (osmem__g.hooked): every call then
 * takes the slow paths, which hand it to the tools.  on_malloc serves a
 * request (align: 16 or more, a power of two; caller: the program's call
 * site); on_free returns the block to free now (p, another block that a
 * quarantine let go, or NULL); on_realloc serves a resize; usable is
 * what the program may use of block p, usable bytes long.
 */
struct osmem__hooks {
	void *(*on_malloc)(size_t n, size_t align, const void *caller);
	void *(*on_free)(void *p);
	void *(*on_realloc)(void *p, size_t n, const void *caller);
	size_t (*usable)(const void *p, size_t usable);
};

struct osmem__global {
	uint64_t secret;    /* keys header tags and link encoding */
	uint64_t secret_t;  /* its tag bits */
	uint64_t secret_c;  /* its tag bits, with OSMEM_F_CINUSE */
	uint64_t fast_mask; /* OSMEM_FAST_MASK (osmem__fast_free_ok) */
	size_t page;
	int ready;
	int hooked;     /* a tool is on: every call takes the slow paths */
	int stats_fd;   /* where reports go (stderr, kept from start-up) */
	int tracing;    /* calls are recorded (trace.c) */
	int map_signal; /* a heap map may be asked for by a signal */
	int valgrind;   /* blocks are annotated for memcheck */
	const struct osmem__hooks *hooks;
	struct osmem__config cfg;
	unsigned narenas; /* arenas in use (1..OSMEM_MAX_ARENAS) */
	struct osmem__arena arena[OSMEM_MAX_ARENAS];
};

extern struct osmem__global osmem__g OSMEM_INTERNAL;

/* init.c: start-up, on first use or at load. */
OSMEM_INTERNAL OSMEM_NOINLINE void osmem__init(void);
extern osmem__lock_t osmem__init_lock OSMEM_INTERNAL;
static inline void
osmem__ensure_init(void)
{
	if (OSMEM_UNLIKELY(!osmem__g.ready))
		osmem__init();
}

/* What start-up installs from the top layer (7): the tools' hooks, or
 * NULL when none is on (tools.c), and the fork handlers (fork.c). */
OSMEM_INTERNAL const struct osmem__hooks *osmem__tools_start(void);
OSMEM_INTERNAL void osmem__fork_start(void);

/* options.c: the defaults, then OSMEM_OPTIONS over them. */
OSMEM_INTERNAL void osmem__options_default(struct osmem__config *cfg);
OSMEM_INTERNAL void osmem__options_parse(struct osmem__config *cfg,
                                         const char *s);

#endif /* OSMEM_TYPES_H */
