/*
 * thp-t: OSMEM_OPTIONS=thp=1, transparent huge pages for large blocks and
 * the heap.  Each case runs in a fresh process (options are read at
 * start-up) that maps an 8 MiB block and grows the heap by 4 MiB, then
 * reads from /proc/self/smaps whether the regions holding them carry the
 * kernel's huge-page advice (VmFlags "hg"): both with thp=1, neither
 * without it.  Whether the kernel then finds huge pages to back them
 * depends on its mode and on free memory, so that figure is reported,
 * not asserted.
 */
#include "util.h"

#include <stdio.h>
#include <string.h>

enum { MIB = 1 << 20, PIECE = 64 << 10, PIECES = 64 };

static char smaps[1 << 20];

/* Whether the mapping of smaps holding address p has the advice (1), has
 * not (0), or was not found (-1); *huge_kib: its AnonHugePages. */
static int
advised(uintptr_t p, long *huge_kib)
{
	int found = 0;
	for (char *line = smaps, *end; *line; line = end) {
		end = strchr(line, '\n');
		end = end ? end + 1 : line + strlen(line);
		unsigned long lo, hi;
		char dash;
		if (sscanf(line, "%lx%c%lx ", &lo, &dash, &hi) == 3 &&
		    dash == '-') { /* a mapping's first line */
			found = p >= lo && p < hi;
			continue;
		}
		if (!found)
			continue;
		if (!strncmp(line, "AnonHugePages:", 14))
			*huge_kib = atol(line + 14);
		if (!strncmp(line, "VmFlags:", 8)) {
			char flags[256];
			size_t n = (size_t)(end - line);
			memcpy(flags, line + 8, n - 8 < 254 ? n - 8 : 254);
			flags[n - 8 < 254 ? n - 8 : 254] = '\0';
			return strstr(flags, " hg") != NULL;
		}
	}
	return -1;
}

/* The child: bit 1 if the large block's mapping is advised, bit 2 if the
 * heap is, 4 if either was not found or the heap check failed. */
static int
child(void)
{
	char *big = osmem_malloc(8 * MIB);
	char *piece[PIECES];
	for (int i = 0; i < PIECES; i++)
		if (!(piece[i] = osmem_malloc(PIECE)))
			return 4;
	if (!big || osmem__heap_check() != 0 ||
	    !(osmem__mem2chunk(big)->head & OSMEM_F_MMAP) ||
	    (osmem__mem2chunk(piece[PIECES - 1])->head & OSMEM_F_MMAP))
		return 4;
	memset(big, 1, 8 * MIB);
	int fd = open("/proc/self/smaps", O_RDONLY);
	if (fd < 0)
		return 4;
	size_t n = 0;
	ssize_t r;
	while (n < sizeof smaps - 1 &&
	       (r = read(fd, smaps + n, sizeof smaps - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	smaps[n] = '\0';
	long huge_big = 0, huge_heap = 0;
	int b = advised((uintptr_t)big + 4 * MIB, &huge_big);
	int h = advised((uintptr_t)piece[PIECES - 1], &huge_heap);
	diag("large block's mapping: advised %d, AnonHugePages %ld KiB", b,
	     huge_big);
	diag("heap: advised %d, AnonHugePages %ld KiB", h, huge_heap);
	if (b < 0 || h < 0)
		return 4;
	for (int i = 0; i < PIECES; i++)
		osmem_free(piece[i]);
	osmem_free(big);
	if (osmem__heap_check() != 0)
		return 4;
	return b + 2 * h;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "child"))
		return child();
	if (access("/sys/kernel/mm/transparent_hugepage/enabled", R_OK) != 0) {
		for (int i = 0; i < 3; i++)
			skip("this kernel has no transparent huge pages");
		return done_testing();
	}
	int on = exit_code(run_self(argv[0], "child", "OSMEM_OPTIONS", "thp=1",
	                            NULL, NULL, NULL, 0));
	ok(on == 3,
	   "thp=1: the large block's mapping and the heap are "
	   "advised (%d)",
	   on);
	int off = exit_code(run_self(argv[0], "child", "OSMEM_OPTIONS", "",
	                             NULL, NULL, NULL, 0));
	ok(off == 0, "by default: neither is advised (%d)", off);
	off = exit_code(run_self(argv[0], "child", "OSMEM_OPTIONS", "thp=0",
	                         NULL, NULL, NULL, 0));
	ok(off == 0, "thp=0: neither is advised (%d)", off);
	return done_testing();
}
