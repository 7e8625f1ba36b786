/*
 * trace.c: recording what a program asks of the allocator, for replaying
 * it under other allocators (bench/replay).  With OSMEM_TRACE=FILE in the
 * environment at start-up ("%p" in FILE becomes the process id), every
 * call is appended to FILE, one line each:
 *
 *   m SIZE ADDR          malloc or calloc of SIZE bytes, returning ADDR
 *   a ALIGN SIZE ADDR    aligned allocation
 *   r OLD SIZE NEW       realloc of OLD to SIZE bytes, returning NEW
 *   f ADDR               free
 *
 * (numbers in hex).  Recording turns the thread caches off so every call
 * takes the slow paths, where it is recorded; lines are buffered, under a
 * lock, and written when the buffer fills, before fork and at exit.
 * Layer 7.
 */
#include "tools.h"

#include <string.h>

osmem__lock_t osmem__trace_lock;
static struct {
	int fd;
	size_t len;
	char buf[1 << 16];
} t = {.fd = -1};

/* The calling thread is inside realloc: its inner calls are not its own. */
static __thread int quiet __attribute__((tls_model("initial-exec")));

void
osmem__trace_open(void)
{
	const char *path = osmem__g.cfg.trace[0]
	                       ? osmem__g.cfg.trace
	                       : osmem__os_env("OSMEM_TRACE");
	char name[512];
	if (!path || !*path)
		return;
	osmem__path_pid(path, name, sizeof name);
	t.fd = osmem__os_open_append(name);
	if (t.fd < 0) {
		osmem__warn("cannot write the trace to", name);
		return;
	}
	osmem__os_write(t.fd, "# osmem trace 1\n", 16);
	osmem__g.tracing = 1;
}

void
osmem__trace_flush(void)
{
	if (t.fd < 0)
		return;
	osmem__lock(&osmem__trace_lock);
	osmem__trace_write_out();
	osmem__unlock(&osmem__trace_lock);
}

/* Write the buffered lines; the trace lock held. */
void
osmem__trace_write_out(void)
{
	if (t.fd < 0)
		return;
	osmem__os_write(t.fd, t.buf, t.len);
	t.len = 0;
}

/* Record one call: op and up to three numbers. */
void
osmem__trace(char op, int count, uintptr_t x, uintptr_t y, uintptr_t z)
{
	if (quiet)
		return;
	char line[80];
	size_t n = 0;
	line[n++] = op;
	uintptr_t v[3] = {x, y, z};
	for (int i = 0; i < count; i++) {
		line[n++] = ' ';
		n += osmem__fmt_hex(line + n, v[i]);
	}
	line[n++] = '\n';
	osmem__lock(&osmem__trace_lock);
	if (t.len + n > sizeof t.buf) {
		osmem__os_write(t.fd, t.buf, t.len);
		t.len = 0;
	}
	memcpy(t.buf + t.len, line, n);
	t.len += n;
	osmem__unlock(&osmem__trace_lock);
}

void
osmem__trace_quiet(int on)
{
	quiet = on;
}
