/*
 * heapmap-t: osmem_heap_map draws a known heap.  The SVG is well-formed
 * (checked by python3's XML parser when python3 is there), has one row per
 * heap segment and one bar per mapped block, and the text form has one
 * line per segment; a bad format is refused.
 */
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>

static char buf[1 << 20];

static size_t
map_to(const char *path, int format)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || osmem_heap_map(fd, format) != 0)
		bail("osmem_heap_map to %s failed", path);
	close(fd);
	fd = open(path, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static size_t
count(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, what)) != NULL;
	     p += strlen(what))
		n++;
	return n;
}

/* Run as a fresh process whose heap map is asked for by a signal. */
static int
signalled_map(const char *self, const char *dir)
{
	char file[300];
	snprintf(file, sizeof file, "%s/map.svg", dir);
	return exit_code(run_self(self, "signalled", "OSMEM_HEAP_MAP", file,
	                          "OSMEM_HEAP_MAP_SIGNAL", "12" /* SIGUSR2 */,
	                          NULL, 0));
}

int
main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "signalled")) {
		void *p = osmem_malloc(5000);
		raise(SIGUSR2);
		osmem_free(
		    osmem_malloc(6000)); /* a slow path: draws the map */
		osmem_free(p);
		return 0;
	}
	static void *p[3000];
	for (int i = 0; i < 3000; i++)
		p[i] = osmem_malloc((size_t)(i % 40) * 24 + 8);
	for (int i = 0; i < 3000; i += 3)
		osmem_free(p[i]);
	void *big[3];
	for (int i = 0; i < 3; i++)
		big[i] = osmem_malloc((size_t)(i + 1) * 200000);
	struct osmem_stats s;
	osmem_stats(&s);

	char path[] = "/tmp/osmem-heapmap-XXXXXX";
	int tmp = mkstemp(path);
	if (tmp < 0)
		bail("mkstemp");
	close(tmp);
	size_t n = map_to(path, OSMEM_MAP_SVG);
	ok(n > 0 && !strncmp(buf, "<?xml", 5) && strstr(buf, "</svg>\n") &&
	       strlen(strstr(buf, "</svg>\n")) == 7,
	   "an SVG document of %zu bytes", n);
	ok(count(buf, "<g class=\"segment\">") == s.segments,
	   "one row per heap segment (%zu)", s.segments);
	ok(count(buf, "class=\"mapped\"") == 3,
	   "one bar per mapped block (3)");
	ok(strstr(buf, "fragmentation") && strstr(buf, "in use") &&
	       strstr(buf, "thread-cached"),
	   "a legend and the figures");
	char cmd[200];
	snprintf(cmd, sizeof cmd,
	         "command -v python3 >/dev/null 2>&1 || exit 2; python3 -c "
	         "\"import xml.etree.ElementTree as E; E.parse('%s')\"",
	         path);
	int rc = system(cmd);
	if (WIFEXITED(rc) && WEXITSTATUS(rc) == 2)
		skip("python3 is not installed to parse the SVG");
	else
		ok(rc == 0, "python3's XML parser reads it");

	n = map_to(path, OSMEM_MAP_TEXT);
	ok(count(buf, "|\n") == s.segments && strstr(buf, "largest free"),
	   "the text map has a line per segment and the figures");
	ok(osmem_heap_map(1, 7) == -1, "an unknown format is refused");
	unlink(path);

	char dir[] = "/tmp/osmem-heapmap-dir-XXXXXX";
	if (!mkdtemp(dir))
		bail("mkdtemp");
	char one[300], last[300];
	snprintf(one, sizeof one, "%s/map-1.svg", dir);
	snprintf(last, sizeof last, "%s/map.svg", dir);
	int st = signalled_map(argv[0], dir);
	ok(st == 0 && access(one, R_OK) == 0 && access(last, R_OK) == 0,
	   "OSMEM_HEAP_MAP_SIGNAL: a map on the signal (map-1.svg) and one at "
	   "exit (map.svg)");
	unlink(one);
	unlink(last);
	rmdir(dir);
	for (int i = 1; i < 3000; i++)
		if (i % 3)
			osmem_free(p[i]);
	for (int i = 0; i < 3; i++)
		osmem_free(big[i]);
	heap_ok("at the end");
	return done_testing();
}
