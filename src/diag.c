/*
 * diag.c: one-line diagnostics without stdio or allocation, and the abort
 * that follows a detected corruption.  Messages look like
 *   osmem: double free of 0x5581c3a0 (block of 48 bytes)
 * Layer 2.
 */
#include "diag.h"
#include "os.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

size_t
osmem__fmt_hex(char *buf, uintptr_t v)
{
	char tmp[2 * sizeof v];
	size_t n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	buf[0] = '0';
	buf[1] = 'x';
	for (size_t i = 0; i < n; i++)
		buf[2 + i] = tmp[n - 1 - i];
	return n + 2;
}

size_t
osmem__fmt_dec(char *buf, size_t v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

void
osmem__fmt_size(char *buf, size_t v, int unit)
{
	static const char suffix[] = "KMGT";
	int k = 0;
	while (unit && v && k < 4 && !(v & 1023)) {
		v >>= 10;
		k++;
	}
	size_t n = osmem__fmt_dec(buf, v);
	if (k)
		buf[n++] = suffix[k - 1];
	buf[n] = '\0';
}

static size_t
put(char *buf, size_t at, const char *s)
{
	size_t n = strlen(s);
	memcpy(buf + at, s, n);
	return at + n;
}

static void
say_in(const char *what, const void *ptr, const char *in, size_t size)
{
	char buf[256];
	size_t n = put(buf, 0, "osmem: ");
	if (strlen(what) > 160)
		what = "heap corruption";
	n = put(buf, n, what);
	buf[n++] = ' ';
	n += osmem__fmt_hex(buf + n, (uintptr_t)ptr);
	if (size) {
		n = put(buf, n, " (");
		n = put(buf, n, in);
		buf[n++] = ' ';
		n += osmem__fmt_dec(buf + n, size);
		n = put(buf, n, " bytes)");
	}
	buf[n++] = '\n';
	osmem__os_write(2, buf, n);
}

static void
say(const char *what, const void *ptr, size_t size)
{
	say_in(what, ptr, "block of", size);
}

void
osmem__fatal_in(const char *what, const void *ptr, const char *in, size_t size)
{
	say_in(what, ptr, in, size);
	osmem__os_abort();
}

void
osmem__warn(const char *what, const char *name)
{
	char buf[256];
	size_t n = put(buf, 0, "osmem: ");
	if (strlen(what) + strlen(name) > 200)
		name = "(a long name)";
	n = put(buf, n, what);
	buf[n++] = ' ';
	n = put(buf, n, name);
	buf[n++] = '\n';
	osmem__os_write(2, buf, n);
}

int
osmem__report(const char *what, const void *ptr, size_t size)
{
	say(what, ptr, size);
	return -1;
}

void
osmem__fatal(const char *what, const void *ptr, size_t size)
{
	say(what, ptr, size);
	osmem__os_abort();
}

void
osmem__assert_fail(const char *expr, const char *file, int line)
{
	char buf[256];
	size_t n = put(buf, 0, "osmem: assertion failed: ");
	if (strlen(expr) + strlen(file) > 200)
		expr = "(long)";
	n = put(buf, n, expr);
	n = put(buf, n, " at ");
	n = put(buf, n, file);
	buf[n++] = ':';
	n += osmem__fmt_dec(buf + n, (size_t)line);
	buf[n++] = '\n';
	osmem__os_write(2, buf, n);
	osmem__os_abort();
}

int osmem__output_owner;

void
osmem__path_pid(const char *path, char *name, size_t len)
{
	size_t n = 0, dot = 0;
	int has_pid = 0, pid = osmem__os_pid();
	for (; *path && n + 24 < len; path++) {
		if (path[0] == '%' && path[1] == 'p') {
			n += osmem__fmt_dec(name + n, (size_t)pid);
			path++;
			has_pid = 1;
		} else if (path[0] == '%' && path[1] == 'e') {
			const char *e = osmem__os_progname();
			for (; *e && n + 24 < len; e++)
				name[n++] = *e;
			path++;
		} else {
			if (*path == '/')
				dot = 0;
			else if (*path == '.')
				dot = n;
			name[n++] = *path;
		}
	}
	name[n] = '\0';
	if (has_pid || !osmem__output_owner || pid == osmem__output_owner)
		return;
	/* Another process's output: ".PID" before the extension. */
	char tail[64];
	size_t at = dot ? dot : n, t = strlen(name + at);
	if (t >= sizeof tail)
		return;
	memcpy(tail, name + at, t + 1);
	name[at] = '.';
	at += 1 + osmem__fmt_dec(name + at + 1, (size_t)pid);
	if (at + t < len)
		memcpy(name + at, tail, t + 1);
}

void
osmem__flush(struct osmem__out *o)
{
	osmem__os_write(o->fd, o->buf, o->len);
	o->len = 0;
}

void
osmem__put(struct osmem__out *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	if (o->len + (size_t)n > sizeof o->buf)
		osmem__flush(o);
	memcpy(o->buf + o->len, line, (size_t)n);
	o->len += (size_t)n;
}
