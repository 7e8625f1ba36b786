/*
 * options.c: tunables at run time.  osmem_mallopt takes glibc's mallopt
 * parameters (the same numbers, so libosmem-malloc.so passes mallopt
 * through unchanged): the mmap threshold, the trim threshold and the top
 * pad are honoured; glibc's other parameters are accepted and ignored, as
 * osmem_mallopt(3) documents.
 */
#include "os.h"

/* glibc's largest mmap threshold on 64-bit systems: half of 64 MiB. */
#define MAX_MMAP_THRESHOLD ((size_t)32 << 20)

int
osmem_mallopt(int param, int value)
{
	osmem__ensure_init();
	struct osmem__config *cfg = &osmem__g.cfg;
	struct osmem__arena *a = &osmem__g.arena[0];
	int ok = 1;
	osmem__lock(&a->lock);
	switch (param) {
	case OSMEM_M_MMAP_THRESHOLD:
		if (value < 0 || (size_t)value > MAX_MMAP_THRESHOLD)
			ok = 0;
		else
			cfg->mmap_threshold = (size_t)value;
		break;
	case OSMEM_M_TRIM_THRESHOLD:
		/* glibc takes the value as unsigned: -1 turns trimming off. */
		cfg->trim_threshold = (size_t)(unsigned long)(long)value;
		if (value < 0)
			cfg->trim_threshold = SIZE_MAX;
		break;
	case OSMEM_M_TOP_PAD:
		cfg->top_pad = value < 0 ? 0 : (size_t)value;
		break;
	case OSMEM_M_TCACHE_COUNT:
		if (value < 0 || value > 255)
			ok = 0;
		else
			cfg->tc_cap = (unsigned)value;
		break;
	default:
		break; /* accepted, ignored */
	}
	osmem__unlock(&a->lock);
	if (ok && param == OSMEM_M_TCACHE_COUNT)
		osmem__tc_set_cap(osmem__tc, (unsigned)value);
	return ok;
}
