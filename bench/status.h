/*
 * status.h: a figure of /proc/self/status in KiB (VmRSS, VmHWM), for the
 * benchmark programs.  VmHWM is the peak; exec starts it afresh, so the
 * parent's memory is not counted.
 */
#ifndef OSMEM_BENCH_STATUS_H
#define OSMEM_BENCH_STATUS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long
status_kib(const char *field)
{
	char line[256];
	long kib = -1;
	size_t len = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, len)) {
			kib = atol(line + len);
			break;
		}
	fclose(f);
	return kib;
}

#endif /* OSMEM_BENCH_STATUS_H */
