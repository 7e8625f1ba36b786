/*
 * preload.h: for tests of libosmem-malloc.so.  These programs are built
 * normally (not linked with libosmem); preload_self() runs the program
 * again with the just-built library in LD_PRELOAD, as a user would, and
 * osmem() finds the library's osmem_ functions at run time to prove the
 * standard calls reached it.
 */
#ifndef OSMEM_TEST_PRELOAD_H
#define OSMEM_TEST_PRELOAD_H

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"

#ifndef OSMEM_MALLOC_SO
#error "OSMEM_MALLOC_SO must name the built libosmem-malloc.so"
#endif

static void __attribute__((unused)) preload_self(char **argv)
{
	if (getenv("OSMEM_TEST_PRELOADED"))
		return;
	/* A sanitizer's runtime must come first in a process, so a library
	 * built with one cannot be preloaded into this program. */
	const char *san = getenv("OSMEM_SANITIZED");
	if (san && *san == '1') {
		tap_out("1..0 # SKIP preloading a sanitized build is not "
		        "possible\n");
		exit(0);
	}
	setenv("OSMEM_TEST_PRELOADED", "1", 1);
	setenv("LD_PRELOAD", OSMEM_MALLOC_SO, 1);
	execv(argv[0], argv); /* not /proc/self/exe: valgrind's, under it */
	bail("cannot run again under LD_PRELOAD=%s", OSMEM_MALLOC_SO);
}

/* A function of the preloaded library, or bail out. */
static void *__attribute__((unused)) osmem(const char *name)
{
	void *f = dlsym(RTLD_DEFAULT, name);
	if (!f)
		bail("%s not found: libosmem-malloc.so is not loaded", name);
	return f;
}

#endif /* OSMEM_TEST_PRELOAD_H */
