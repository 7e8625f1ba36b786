/*
 * control.c: the program's say over the allocator at run time:
 * osmem_trim gives free memory back to the system, and osmem_mallopt
 * takes glibc's mallopt parameters (the same numbers, so
 * libosmem-malloc.so passes mallopt through unchanged): the mmap
 * threshold, the trim threshold, the top pad and the thread caches' size
 * are honoured; glibc's other parameters are accepted and ignored, as
 * osmem_mallopt(3) documents.  Layer 6.
 */
#include "tcache.h"

struct trim {
	size_t pad;
	int done;
};

static int
drain(struct osmem__arena *a, unsigned i, void *arg)
{
	(void)i, (void)arg;
	osmem__remote_drain(a, NULL, NULL);
	return 0;
}

static int
trim(struct osmem__arena *a, unsigned i, void *arg)
{
	struct trim *t = arg;
	(void)i;
	t->done |= osmem__arena_trim(a, t->pad, 1);
	return 0;
}

int
osmem_trim(size_t pad)
{
	struct trim t = {pad, 0};
	osmem__ensure_init();
	osmem__tc_flush(osmem__tc);
	osmem__arena_each(drain, NULL, 0);
	osmem__arena_each(trim, &t, 1);
	size_t kept = osmem__g.arena[0].st.kept;
	osmem__large_drop(0);
	return t.done || kept;
}

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
		if (value < 0 || (size_t)value > OSMEM_MMAP_THRESHOLD_MAX)
			ok = 0;
		else
			cfg->mmap_threshold = (size_t)value;
		cfg->fixed_thresholds = ok;
		break;
	case OSMEM_M_TRIM_THRESHOLD:
		/* glibc takes the value as unsigned: -1 turns trimming off. */
		cfg->trim_threshold = (size_t)(unsigned long)(long)value;
		if (value < 0)
			cfg->trim_threshold = SIZE_MAX;
		cfg->fixed_thresholds = 1;
		break;
	case OSMEM_M_TOP_PAD:
		cfg->top_pad = value < 0 ? 0 : (size_t)value;
		cfg->fixed_thresholds = 1;
		break;
	case OSMEM_M_TCACHE_COUNT:
		if (value < 0 || value > (int)OSMEM_TC_CAP_MAX)
			ok = 0;
		else
			cfg->tc_cap = (size_t)value;
		break;
	default:
		break; /* accepted, ignored */
	}
	osmem__unlock(&a->lock);
	if (ok && param == OSMEM_M_TCACHE_COUNT)
		osmem__tc_set_cap(osmem__tc, (unsigned)value);
	return ok;
}
