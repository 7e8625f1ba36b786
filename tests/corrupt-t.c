/*
 * corrupt-t: misuse is caught by the always-on checks and ends the process
 * with one line on stderr naming the pointer, never with a corrupt heap.
 * Each case runs in a child process.
 */
#include "util.h"

#include <pthread.h>
#include <stdlib.h>

static void
double_free(void)
{
	void *g1 = osmem_malloc(8), *p = osmem_malloc(100);
	void *g2 = osmem_malloc(8);
	osmem_free(p);
	osmem_free(p);
	(void)g1, (void)g2;
}

static void
double_free_core(void)
{
	core_only();
	double_free();
}

static void
double_free_merged(void)
{
	core_only();
	void *a = osmem_malloc(100), *b = osmem_malloc(100);
	void *g = osmem_malloc(8);
	osmem_free(a);
	osmem_free(b); /* merges into a */
	osmem_free(b);
	(void)g;
}

/* The misuse cases write their blocks first: the check then reads
 * initialised bytes where the header would be (memcheck would rightly
 * object to a read of bytes nobody wrote). */
static void
interior(void)
{
	char *p = osmem_calloc(1, 100);
	osmem_free(p + 16);
}

static void
stack_pointer(void)
{
	_Alignas(16) char local[64] = {0};
	osmem_free(local + 16);
}

static void
foreign(void)
{
	void *theirs = malloc(100); /* glibc's */
	osmem_free(theirs);
}

static void
sized_too_large(void)
{
	void *p = osmem_malloc(100); /* a 112-byte chunk: 104 usable */
	osmem_free_sized(p, 5000);
}

static void
wild(void)
{
	osmem_free((void *)0x12345670);
}

static void
large_twice(void)
{
	void *p = osmem_malloc(1 << 20);
	osmem_free(p);
	osmem_free(p); /* its mapping is gone */
}

/* The same while its mapping is kept for reuse (under an eighth of the
 * 64 MiB in use): its pages are no longer the allocator's. */
static void
large_kept_twice(void)
{
	void *hold = osmem_malloc(64 << 20), *p = osmem_malloc(1 << 20);
	osmem_free(p);
	if (osmem__g.arena[0].st.kept == 0)
		_exit(3); /* not kept: the case is not what it says */
	osmem_free(p);
	osmem_free(hold);
}

static void
large_interior(void)
{
	char *p = osmem_malloc(1 << 20);
	osmem_free(p + 8192);
}

static void
realloc_wild(void)
{
	(void)osmem_realloc((void *)0x12345670, 10);
}

static void
usable_wild(void)
{
	(void)osmem_usable_size((void *)0x12345670);
}

static void
overflow_next_header(void)
{
	char *a = osmem_malloc(40), *b = osmem_malloc(24);
	memset(a, 0x41, 48); /* 8 bytes past the end: b's header */
	osmem_free(b);
}

static void
overflow_then_free_self(void)
{
	core_only(); /* a cached free would not look at the neighbour */
	char *a = osmem_malloc(24), *b = osmem_malloc(24);
	memset(a, 0x41, 32);
	osmem_free(a); /* coalescing looks at b */
	(void)b;
}

/* An off-by-one write from an in-use block into the size of the free
 * chunk after it, which a later request would split: caught at the split,
 * before the wrong size is used. */
static void
overflow_into_free_then_split(void)
{
	core_only();
	char *p = osmem_malloc(200), *f = osmem_malloc(200);
	(void)osmem_malloc(8);
	char *h = osmem_malloc(200);
	(void)osmem_malloc(8);
	osmem_free(f);
	osmem_free(h); /* f leaves the victim's place for its bin's tree */
	p[osmem_usable_size(p)] ^= 0x10; /* the low byte of f's size */
	(void)osmem_malloc(100);         /* best fit: f */
}

/* The same into a large free chunk's size, 4 KiB more: giving its pages
 * back with that size would drop a page of the block after it. */
static void
overflow_into_free_then_release(void)
{
	core_only();
	char *p = osmem_malloc(200), *f = osmem_malloc(64 << 10);
	char *g = osmem_malloc(16 << 10);
	memset(f, 1, 64 << 10);
	memset(g, 2, 16 << 10);
	osmem_free(f);
	p[osmem_usable_size(p) + 1] ^= 0x10;
	osmem_trim(0); /* gives back the pages of free chunks */
}

/* The same into a cached block's size, 32 bytes more, so that it ends
 * where the header of the block after its neighbour lies: the cache hands
 * its blocks back to the heap, which must not take that size on trust. */
static void
overflow_into_cached_then_flush(void)
{
	char *p = osmem_malloc(200), *b = osmem_malloc(200);
	(void)osmem_malloc(8);
	(void)osmem_malloc(8);
	osmem_free(b);                   /* into the thread cache */
	p[osmem_usable_size(p)] ^= 0x20; /* 208 -> 240: b and the next */
	osmem_trim(0);                   /* empties the cache */
}

/* A one-byte overflow that sets a flag bit of the next header: the mapped
 * flag would send a heap block to munmap, the arena flag to another
 * arena's lock.  The tag covers both. */
static void
overflow_sets_flag(uint8_t flag)
{
	char *a = osmem_malloc(200), *b = osmem_malloc(200);
	(void)osmem_malloc(8);
	a[osmem_usable_size(a)] |= (char)flag;
	osmem_free(b);
}

static void
overflow_sets_mapped(void)
{
	overflow_sets_flag((uint8_t)OSMEM_F_MMAP);
}

static void
overflow_sets_arena(void)
{
	overflow_sets_flag((uint8_t)OSMEM_F_ARENA);
}

/* An underflow of a mapped block into the word before its header, the
 * offset of its mapping, which free follows to unmap it. */
static void
underflow_mapped(void)
{
	char *p = osmem_malloc(1 << 20);
	*(uint64_t *)(p - 16) += 4096;
	osmem_free(p);
}

static void
realloc_invalid(void)
{
	char *p = osmem_calloc(1, 100);
	osmem_realloc(p + 32, 200);
}

static void
usable_invalid(void)
{
	char *p = osmem_calloc(1, 100);
	(void)osmem_usable_size(p + 48);
}

/* Blocks freed by a thread of another arena wait on their arena's
 * remote stack in records, each in its first block: a link through the
 * block's first 8 bytes, a count, then the blocks it lists (remote.h); a
 * write after free that zeroes a link or an entry (the secret has its
 * low bit set, so zero never decodes to an aligned pointer), or raises
 * the count past what the block holds, is caught when the stack is
 * emptied. */
static void *
two_blocks(void *arg)
{
	char **b = arg;
	b[0] = osmem_calloc(1, 40);
	b[1] = osmem_calloc(1, 40);
	return NULL;
}

/* b[1] and b[0], both into this thread's cache, then to their arena's
 * stack: one record in b[0], listing b[1]. */
static void
remote_record(char *b[2])
{
	pthread_t t;
	if (osmem__g.narenas < 2)
		osmem__g.narenas = 2;
	osmem_free(osmem_malloc(1)); /* this thread: the first arena */
	if (pthread_create(&t, NULL, two_blocks, b) || pthread_join(t, NULL))
		bail("cannot run a thread");
	if (osmem__arena_of(osmem__mem2chunk(b[0])) ==
	    osmem__my_tcache()->arena)
		bail("the thread shared this thread's arena");
	osmem_free(b[1]);
	osmem_free(b[0]);
	osmem_mallopt(OSMEM_M_TCACHE_COUNT, 16); /* the cache emptied */
}

static void
zeroed_remote_link(void)
{
	char *b[2];
	remote_record(b);
	memset(b[0], 0, 8);
	osmem_trim(0); /* empties the stack: meets b[0]'s link */
}

static void
zeroed_remote_entry(void)
{
	char *b[2];
	remote_record(b);
	memset(b[0] + 16, 0, 8);
	osmem_trim(0); /* meets the record's entry for b[1] */
}

static void
raised_remote_count(void)
{
	char *b[2];
	remote_record(b);
	memset(b[0] + 8, 0x7f, 1); /* 1 -> 127 */
	osmem_trim(0);
}

/* Two freed 200-byte blocks a and b of one bin, kept apart by in-use
 * guards (g: the one after a), with the caches off: a goes into its
 * bin's tree, b waits as the victim. */
static void
two_freed(char **a, char **b, char **g)
{
	core_only();
	*a = osmem_malloc(200);
	*g = osmem_malloc(8);
	*b = osmem_malloc(200);
	(void)osmem_malloc(8);
	osmem_free(*a);
	osmem_free(*b);
}

static void
zeroed_index_link(void)
{
	char *a, *b, *g;
	two_freed(&a, &b, &g); /* a and b share a bin: linked to each other */
	memset(a, 0, 16);
	memset(b, 0, 16);
	osmem_malloc(200);
}

/* What a program more often writes into a struct it has freed: a pointer,
 * aligned like every heap pointer, not zero.  The secret is odd, so it
 * decodes misaligned whatever it was. */
static void
pointer_over_index_link(void)
{
	char *a, *b, *g;
	two_freed(&a, &b, &g);
	void *ptrs[2] = {g, b};
	memcpy(a, ptrs, sizeof ptrs);
	osmem_malloc(200);
}

/* A long run of frees piles chunks (bins.c); a write after free over a
 * piled chunk's back link is caught when its neighbour merges with it. */
static void
zeroed_pile_link(void)
{
	enum { N = 64 };
	char *h[N], *g[N];
	core_only();
	for (int i = 0; i < N; i++) {
		h[i] = osmem_malloc(200);
		g[i] = osmem_malloc(8);
	}
	for (int i = 0; i < N; i++)
		osmem_free(h[i]);
	memset(h[N / 2] + 8, 0, 8); /* its link to the chunk piled before */
	osmem_free(g[N / 2]);       /* merges with h[N / 2] */
}

static void
clean(void)
{
	void *p = osmem_malloc(100);
	osmem_free(p);
	if (osmem__heap_check() != 0)
		abort();
}

static void
zeroed_parent_link(void)
{
	char *a, *b, *g;
	two_freed(&a, &b, &g);
	memset(a + 16, 0, 8); /* a's parent link */
	osmem_free(g);        /* merging with a looks a up by that link */
}

static const struct {
	void (*fn)(void);
	const char *name, *msg;
} cases[] = {
    {double_free, "double free", "osmem: double free of 0x"},
    {double_free_core, "double free, thread caches off",
     "osmem: double free of 0x"},
    {double_free_merged, "double free after coalescing",
     "osmem: double free of 0x"},
    {interior, "free of an interior pointer",
     "osmem: free of invalid pointer 0x"},
    {stack_pointer, "free of a stack address",
     "osmem: free of a pointer in no heap (never allocated, or a large "
     "block already freed) 0x"},
    {foreign, "free of glibc's memory",
     "osmem: free of a pointer in no heap (never allocated, or a large "
     "block already freed) 0x"},
    {sized_too_large, "free_sized with a size past the block",
     "osmem: free_sized with a size larger than the block at 0x"},
    {wild, "free of a wild pointer (0x12345670)",
     "osmem: free of a pointer in no heap (never allocated, or a large "
     "block already freed) 0x12345670"},
    {large_twice, "a double free of a large (mapped) block",
     "osmem: free of a pointer in no heap (never allocated, or a large "
     "block already freed) 0x"},
    {large_kept_twice, "a double free of a large block whose mapping is kept",
     "osmem: free of a pointer in no heap (never allocated, or a large "
     "block already freed) 0x"},
    {large_interior, "free of a pointer inside a large block",
     "osmem: free of invalid pointer 0x"},
    {realloc_wild, "realloc of a wild pointer",
     "osmem: realloc of a pointer in no heap (never allocated, or a large "
     "block already freed) 0x12345670"},
    {usable_wild, "usable_size of a wild pointer",
     "osmem: usable_size of a pointer in no heap (never allocated, or a "
     "large block already freed) 0x12345670"},
    {overflow_next_header, "free of a block whose header was overwritten",
     "osmem: overflow past the end of 0x"},
    {overflow_then_free_self, "free next to an overwritten header",
     "osmem: corrupted chunk header at 0x"},
    {realloc_invalid, "realloc of an interior pointer",
     "osmem: realloc of invalid pointer 0x"},
    {overflow_into_free_then_split,
     "an off-by-one write into a free block's size, then a split",
     "osmem: corrupted chunk header at 0x"},
    {overflow_into_free_then_release,
     "an overflow into a free block's size, then trim",
     "osmem: corrupted chunk header at 0x"},
    {overflow_into_cached_then_flush,
     "an overflow into a cached block's size, then trim",
     "osmem: corrupted chunk header at 0x"},
    {overflow_sets_mapped,
     "an overflow that sets the next header's mapped flag",
     "osmem: overflow past the end of 0x"},
    {overflow_sets_arena, "an overflow that sets the next header's arena flag",
     "osmem: overflow past the end of 0x"},
    {underflow_mapped, "an underflow over a mapped block's offset",
     "osmem: corrupted mapped block header at 0x"},
    {usable_invalid, "usable_size of an interior pointer",
     "osmem: usable_size of invalid pointer 0x"},
    {zeroed_remote_link,
     "a write after free over the link of a block freed by another "
     "arena's thread",
     "osmem: corrupted remote-free link 0x"},
    {zeroed_remote_entry,
     "a write after free over an entry of a remote-free record",
     "osmem: corrupted remote-free record at 0x"},
    {raised_remote_count,
     "a write after free over the count of a remote-free record",
     "osmem: corrupted remote-free record at 0x"},
    {zeroed_parent_link, "a write after free over a free block's parent link",
     "osmem: corrupted free-chunk link at 0x"},
    {zeroed_index_link, "a write after free over a free block's links",
     "osmem: corrupted free-chunk link at 0x"},
    {pointer_over_index_link,
     "a write after free of two pointers over a free block's links",
     "osmem: corrupted free-chunk link at 0x"},
    {zeroed_pile_link, "a write after free over a piled block's link",
     "osmem: corrupted free-chunk link at 0x"},
};

/* What the messages of some cases say after the address: the size of
 * the block (100 bytes asked, 104 usable), or of the free chunk it is
 * in when the heap holds it, perhaps merged. */
static const struct {
	void (*fn)(void);
	const char *size;
} sizes[] = {
    {double_free, " (block of 104 bytes)\n"},
    {double_free_core, " (already free, in a free chunk of 112 bytes)\n"},
    {double_free_merged, " (already free, in a free chunk of "},
};

static const char *
size_of(void (*fn)(void))
{
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		if (sizes[i].fn == fn)
			return sizes[i].size;
	return "";
}

int
main(void)
{
	char msg[512];
	const char *san = getenv("OSMEM_SANITIZED");
	const char *vg = getenv("OSMEM_VALGRIND");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (cases[i].fn == foreign &&
		    ((san && *san == '1') || (vg && *vg == '1'))) {
			/* glibc's malloc is the sanitizer's or memcheck's
			 * here, and reading the header in front of its block
			 * is itself reported. */
			skip("free of a checker's memory is the checker's to "
			     "report");
			continue;
		}
		int sig = in_child(cases[i].fn, msg, sizeof msg);
		size_t len = strlen(msg);
		int one_line = len > 0 && msg[len - 1] == '\n' &&
		               strchr(msg, '\n') == msg + len - 1;
		ok(sig == SIGABRT && one_line &&
		       strncmp(msg, cases[i].msg, strlen(cases[i].msg)) == 0 &&
		       strstr(msg, size_of(cases[i].fn)),
		   "%s aborts with \"%s...%.*s\"", cases[i].name, cases[i].msg,
		   (int)strcspn(size_of(cases[i].fn), "\n"),
		   size_of(cases[i].fn));
		if (len)
			diag("stderr: %.*s", (int)len - 1, msg);
	}
	/* The overflow is blamed on the block that ran past its end, with
	 * that block's size. */
	in_child(overflow_next_header, msg, sizeof msg);
	ok(strstr(msg, "(block of 40 bytes)") != NULL,
	   "an overflow into the next header names the block before it, with "
	   "its size (40, not the freed block's 24)");
	in_child(sized_too_large, msg, sizeof msg);
	ok(strstr(msg, "(block of 104 bytes)") != NULL,
	   "free_sized's message gives the block's own size, not the one "
	   "passed");
	ok(in_child(clean, msg, sizeof msg) == 0 && msg[0] == '\0',
	   "correct use exits quietly");
	return done_testing();
}
