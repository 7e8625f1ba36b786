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
#include <stdlib.h>
#include <string.h>

struct dwfl_callbacks {
	void *find_elf, *find_debuginfo, *section_address;
	char **debuginfo_path;
};

static struct {
	void *dwfl;
	void (*end)(void *);
	void *(*addrmodule)(void *, uint64_t);
	int (*getsymtab)(void *);
	const char *(*getsym_info)(void *, int, Elf64_Sym *, uint64_t *,
	                           uint32_t *, void **, uint64_t *);
	void *(*getsrc)(void *, uint64_t);
	const char *(*lineinfo)(void *, uint64_t *, int *, int *, uint64_t *,
	                        uint64_t *);
	const char *(*modinfo)(void *, void ***, uint64_t *, uint64_t *,
	                       uint64_t *, uint64_t *, const char **,
	                       const char **);
} dw;
static struct dwfl_callbacks callbacks;
/* C++ names made readable, where libstdc++ is there to do it. */
static char *(*demangle)(const char *, char *, size_t *, int *);

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
	void *cxx = osmem__os_library("libstdc++.so.6");
	if (cxx)
		*(void **)&demangle =
		    osmem__os_library_sym(cxx, "__cxa_demangle");
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
	    !SYM(getsymtab, "dwfl_module_getsymtab") ||
	    !SYM(getsym_info, "dwfl_module_getsym_info") ||
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

/*
 * Each module's functions, sorted by address, read once: libdw's own
 * look-up by address (dwfl_module_addrinfo) goes through the whole
 * symbol table each time, which for a profile of cc1 (some 20,000
 * addresses to name, 100,000 symbols) took seconds.
 */
struct fsym {
	uint64_t lo, hi;
	const char *name;
};
static struct module {
	void *mod;
	struct fsym *s;
	size_t n;
} mods[256];
static size_t nmods;

static int
by_lo(const void *a, const void *b)
{
	uint64_t x = ((const struct fsym *)a)->lo,
	         y = ((const struct fsym *)b)->lo;
	return x < y ? -1 : x > y;
}

static const struct module *
module_of(void *m)
{
	for (size_t i = 0; i < nmods; i++)
		if (mods[i].mod == m)
			return &mods[i];
	if (nmods == sizeof mods / sizeof mods[0])
		return NULL;
	struct module *md = &mods[nmods++];
	md->mod = m;
	int n = dw.getsymtab(m);
	md->s = n > 0 ? malloc((size_t)n * sizeof *md->s) : NULL;
	for (int i = 0; md->s && i < n; i++) {
		Elf64_Sym sym;
		uint64_t addr;
		const char *name =
		    dw.getsym_info(m, i, &sym, &addr, NULL, NULL, NULL);
		int type = ELF64_ST_TYPE(sym.st_info);
		if (!name || !*name || sym.st_shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC))
			continue;
		md->s[md->n++] = (struct fsym){addr, addr + sym.st_size, name};
	}
	if (md->n)
		qsort(md->s, md->n, sizeof *md->s, by_lo);
	return md;
}

/* The function of module m holding address at, and its offset there. */
static const char *
function_at(void *m, uint64_t at, uint64_t *off)
{
	const struct module *md = module_of(m);
	size_t lo = 0, hi = md ? md->n : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (md->s[mid].lo <= at)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* The last function starting at or below: it must hold at (a size
	 * of 0 is taken to run to the next one). */
	if (!lo ||
	    (md->s[lo - 1].hi > md->s[lo - 1].lo && at >= md->s[lo - 1].hi))
		return NULL;
	*off = at - md->s[lo - 1].lo;
	return md->s[lo - 1].name;
}

void
osmem__symbols_close(void)
{
	for (size_t i = 0; i < nmods; i++)
		free(mods[i].s);
	nmods = 0;
	if (dw.dwfl)
		dw.end(dw.dwfl);
	dw.dwfl = NULL;
}

/* Name fn into buf if it is a mangled C++ name; fn otherwise. */
static const char *
readable(const char *fn, char *buf, size_t len)
{
	int status = -1;
	char *d = fn && demangle && fn[0] == '_' && fn[1] == 'Z'
	              ? demangle(fn, NULL, NULL, &status)
	              : NULL;
	if (!d || status != 0)
		return fn;
	snprintf(buf, len, "%s", d);
	free(d);
	return buf;
}

/* What is known of the code at return address pc. */
struct frame {
	const char *fn, *src, *object; /* NULL if unknown */
	char name[256];                /* fn demangled */
	int line;
	unsigned long fn_off, obj_off; /* pc's offsets */
};

static void
describe(uintptr_t pc, struct frame *f, int want_line)
{
	memset(f, 0, sizeof *f);
	uint64_t at = pc - 1;
	void *m = dw.dwfl ? dw.addrmodule(dw.dwfl, at) : NULL;
	if (m) {
		uint64_t start = 0, off = 0;
		const char *file = NULL;
		const char *name =
		    dw.modinfo(m, NULL, &start, NULL, NULL, NULL, &file, NULL);
		f->object = base_name(file ? file : name);
		f->obj_off = (unsigned long)(pc - start);
		f->fn = readable(function_at(m, at, &off), f->name,
		                 sizeof f->name);
		f->fn_off = (unsigned long)off + 1;
		void *line = want_line ? dw.getsrc(m, at) : NULL;
		f->src =
		    line ? dw.lineinfo(line, NULL, &f->line, NULL, NULL, NULL)
		         : NULL;
		return;
	}
	const void *sym_at = NULL, *base = NULL;
	if (osmem__os_symbol((const void *)at, &f->fn, &sym_at, &f->object,
	                     &base)) {
		f->object = base_name(f->object);
		f->fn = readable(f->fn, f->name, sizeof f->name);
		f->fn_off = (unsigned long)(pc - (uintptr_t)sym_at);
		f->obj_off = (unsigned long)(pc - (uintptr_t)base);
	}
}

void
osmem__symbol_name(uintptr_t pc, char *out, size_t len)
{
	struct frame f;
	describe(pc, &f, 1);
	if (f.fn && f.src)
		snprintf(out, len, "%s:%d in %s (%s+%#lx)", base_name(f.src),
		         f.line, f.fn, f.object, f.obj_off);
	else if (f.fn)
		snprintf(out, len, "%s+%#lx (%s+%#lx)", f.fn, f.fn_off,
		         f.object, f.obj_off);
	else if (f.object)
		snprintf(out, len, "%s+%#lx", f.object, f.obj_off);
	else
		snprintf(out, len, "%#lx", (unsigned long)pc);
}

void
osmem__symbol_short(uintptr_t pc, char *out, size_t len)
{
	struct frame f;
	describe(pc, &f, 0);
	if (f.fn)
		snprintf(out, len, "%s", f.fn);
	else if (f.object)
		snprintf(out, len, "%s+%#lx", f.object, f.obj_off);
	else
		snprintf(out, len, "%#lx", (unsigned long)pc);
}
