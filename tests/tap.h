/*
 * tap.h: a tiny TAP producer for the tests.  It never calls malloc (output
 * is formatted on the stack and written with write(2)), so it cannot
 * disturb the heap under test.  Header-only: each test is one program.
 */
#ifndef OSMEM_TAP_H
#define OSMEM_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_n, tap_failed;

static void
tap_out(const char *s)
{
	size_t len = strlen(s);
	while (len > 0) {
		ssize_t w = write(1, s, len);
		if (w <= 0)
			return;
		s += w;
		len -= (size_t)w;
	}
}

static void
tap_vline(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n = (size_t)snprintf(buf, sizeof buf, "%s", prefix);
	if (n < sizeof buf)
		vsnprintf(buf + n, sizeof buf - n, fmt, ap);
	buf[sizeof buf - 2] = '\0';
	strcat(buf, "\n");
	tap_out(buf);
}

static void __attribute__((format(printf, 1, 2), unused))
plan(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vline("1..", fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 1, 2), unused))
diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vline("# ", fmt, ap);
	va_end(ap);
}

/* One test point; returns cond so callers can stop on failure. */
static int __attribute__((format(printf, 2, 3), unused))
ok(int cond, const char *fmt, ...)
{
	char prefix[64];
	va_list ap;
	tap_n++;
	if (!cond)
		tap_failed++;
	snprintf(prefix, sizeof prefix, "%sok %d - ", cond ? "" : "not ",
	         tap_n);
	va_start(ap, fmt);
	tap_vline(prefix, fmt, ap);
	va_end(ap);
	return cond;
}

static void __attribute__((format(printf, 1, 2), unused))
skip(const char *fmt, ...)
{
	char prefix[64];
	va_list ap;
	tap_n++;
	snprintf(prefix, sizeof prefix, "ok %d # SKIP ", tap_n);
	va_start(ap, fmt);
	tap_vline(prefix, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 1, 2), noreturn, unused))
bail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vline("Bail out! ", fmt, ap);
	va_end(ap);
	exit(1);
}

/* Plan at the end, when the count is only known then. */
static int __attribute__((unused)) done_testing(void)
{
	char buf[32];
	snprintf(buf, sizeof buf, "1..%d\n", tap_n);
	tap_out(buf);
	return tap_failed ? 1 : 0;
}

#endif /* OSMEM_TAP_H */
