/*
 * diag.h: one-line diagnostics without stdio or allocation (diag.c), the
 * abort that follows a detected corruption, the number and file-name
 * formatting the reports share, and the buffered, formatted output the
 * tools' reports and pictures are written with.  Layer 2.
 */
#ifndef OSMEM_DIAG_H
#define OSMEM_DIAG_H

#include "base.h"

/* "osmem: WHAT PTR (block of SIZE bytes)" on stderr, then abort. */
OSMEM_INTERNAL OSMEM_NORETURN void osmem__fatal(const char *what,
                                                const void *ptr, size_t size);
/* "osmem: WHAT PTR (IN SIZE bytes)", then abort. */
OSMEM_INTERNAL OSMEM_NORETURN void osmem__fatal_in(const char *what,
                                                   const void *ptr,
                                                   const char *in,
                                                   size_t size);
/* The same line as osmem__fatal without the abort; returns -1 for the
 * checkers. */
OSMEM_INTERNAL int osmem__report(const char *what, const void *ptr,
                                 size_t size);
/* "osmem: WHAT NAME" on stderr, for a file the allocator cannot write. */
OSMEM_INTERNAL void osmem__warn(const char *what, const char *name);
/* v in hex with 0x, or in decimal, into buf: the characters written. */
OSMEM_INTERNAL size_t osmem__fmt_hex(char *buf, uintptr_t v);
OSMEM_INTERNAL size_t osmem__fmt_dec(char *buf, size_t v);
/* v as a string in buf (24 bytes): with a K, M, G or T suffix when unit
 * and v is a whole number of them, else in decimal. */
OSMEM_INTERNAL void osmem__fmt_size(char *buf, size_t v, int unit);
/* A file name from a template in which %p stands for the process id and
 * %e for the program's name.  A template without %p names the output of
 * one process, the owner: any other (a child) gets ".PID" inserted
 * before the extension, so no process overwrites another's. */
OSMEM_INTERNAL void osmem__path_pid(const char *path, char *name, size_t len);
/* The owner's process id (0: every process is its own owner). */
extern int osmem__output_owner OSMEM_INTERNAL;

/* Buffered output to a file descriptor, formatted on the stack (stdio's
 * snprintf, which does not allocate for these formats). */
struct osmem__out {
	int fd;
	size_t len;
	char buf[4096];
};
OSMEM_INTERNAL void osmem__put(struct osmem__out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
OSMEM_INTERNAL void osmem__flush(struct osmem__out *o);

#endif /* OSMEM_DIAG_H */
