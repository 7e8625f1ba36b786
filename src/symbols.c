/*
 * symbols.c: names for the code addresses of recorded stacks, made after
 * the run (at exit, when allocating is safe again), never inside malloc.
 * With elfutils' libdw (libdw.so.1, loaded with dlopen, so the library
 * does not depend on it) a frame is named from the symbol tables and
 * the debug information, where there is any:
 *
 *   leaky.c:12 in leak_small (leaky+0x1149)
 *
 * and without a line, as function+offset and object+offset; without a
 * symbol, as object+offset, which addr2line -e object turns into a line
 * later.  Without libdw, dladdr gives what the dynamic symbol table
 * has.  The addresses are return addresses: the call is the byte before
 * one, so that is the address looked up.
 *
 * The few libdw types used are declared here by their documented layout
 * (libdwfl.h), so no elfutils headers are needed to build.  A
 * DEBUGINFOD_URLS in the environment is dropped first: looking up
 * symbols at exit must not wait on the network.  Layer 7.
 */
#include "tools.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>

struct dwfl_callbacks {
	void *find_elf, *find_debuginfo, *section_address;
	char **debuginfo_path;
};

static struct {
	void *dwfl;
	void (*end)(void *);
	void *(*addrmodule)(void *, uint64_t);
	const char *(*addrinfo)(void *, uint64_t, uint64_t *, Elf64_Sym *,
	                        uint32_t *, void **, uint64_t *);
	void *(*getsrc)(void *, uint64_t);
	const char *(*lineinfo)(void *, uint64_t *, int *, int *, uint64_t *,
	                        uint64_t *);
	const char *(*modinfo)(void *, void ***, uint64_t *, uint64_t *,
	                       uint64_t *, uint64_t *, const char **,
	                       const char **);
} dw;
static struct dwfl_callbacks callbacks;

static const char *
base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	return slash ? slash + 1 : path ? path : "?";
}

void
osmem__symbols_open(void)
{
	if (dw.dwfl)
		return;
	void *lib = osmem__os_library("libdw.so.1");
	if (!lib)
		return;
#define SYM(field, name)                                                      \
	(*(void **)&dw.field = osmem__os_library_sym(lib, name))
	void *(*begin)(const struct dwfl_callbacks *);
	int (*report)(void *, int);
	int (*report_end)(void *, void *, void *);
	*(void **)&begin = osmem__os_library_sym(lib, "dwfl_begin");
	*(void **)&report =
	    osmem__os_library_sym(lib, "dwfl_linux_proc_report");
	*(void **)&report_end = osmem__os_library_sym(lib, "dwfl_report_end");
	callbacks.find_elf =
	    osmem__os_library_sym(lib, "dwfl_linux_proc_find_elf");
	callbacks.find_debuginfo =
	    osmem__os_library_sym(lib, "dwfl_standard_find_debuginfo");
	if (!SYM(end, "dwfl_end") || !SYM(addrmodule, "dwfl_addrmodule") ||
	    !SYM(addrinfo, "dwfl_module_addrinfo") ||
	    !SYM(getsrc, "dwfl_module_getsrc") ||
	    !SYM(lineinfo, "dwfl_lineinfo") ||
	    !SYM(modinfo, "dwfl_module_info") || !begin || !report ||
	    !report_end || !callbacks.find_elf || !callbacks.find_debuginfo)
		return;
#undef SYM
	osmem__os_unsetenv("DEBUGINFOD_URLS");
	void *d = begin(&callbacks);
	if (!d)
		return;
	if (report(d, osmem__os_pid()) != 0 || report_end(d, NULL, NULL)) {
		dw.end(d);
		return;
	}
	dw.dwfl = d;
}

void
osmem__symbols_close(void)
{
	if (dw.dwfl)
		dw.end(dw.dwfl);
	dw.dwfl = NULL;
}

/* The frame at pc by libdw into out; 0 if it knows no module there. */
static int
by_libdw(uintptr_t pc, char *out, size_t len)
{
	uint64_t at = pc - 1;
	void *m = dw.dwfl ? dw.addrmodule(dw.dwfl, at) : NULL;
	if (!m)
		return 0;
	uint64_t start = 0, off = 0;
	const char *file = NULL;
	const char *name =
	    dw.modinfo(m, NULL, &start, NULL, NULL, NULL, &file, NULL);
	const char *object = base_name(file ? file : name);
	Elf64_Sym sym;
	const char *fn = dw.addrinfo(m, at, &off, &sym, NULL, NULL, NULL);
	void *line = dw.getsrc(m, at);
	int lineno = 0;
	const char *src =
	    line ? dw.lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
	unsigned long rel = (unsigned long)(pc - start);
	if (fn && src)
		snprintf(out, len, "%s:%d in %s (%s+%#lx)", base_name(src),
		         lineno, fn, object, rel);
	else if (fn)
		snprintf(out, len, "%s+%#lx (%s+%#lx)", fn,
		         (unsigned long)off + 1, object, rel);
	else
		snprintf(out, len, "%s+%#lx", object, rel);
	return 1;
}

void
osmem__symbol_name(uintptr_t pc, char *out, size_t len)
{
	if (by_libdw(pc, out, len))
		return;
	const char *sym = NULL, *object = NULL;
	const void *sym_at = NULL, *base = NULL;
	if (!osmem__os_symbol((const void *)(pc - 1), &sym, &sym_at, &object,
	                      &base))
		snprintf(out, len, "%#lx", (unsigned long)pc);
	else if (sym)
		snprintf(out, len, "%s+%#lx (%s+%#lx)", sym,
		         (unsigned long)(pc - (uintptr_t)sym_at),
		         base_name(object),
		         (unsigned long)(pc - (uintptr_t)base));
	else
		snprintf(out, len, "%s+%#lx", base_name(object),
		         (unsigned long)(pc - (uintptr_t)base));
}
