#!/bin/sh
# fastpath-t: pins the cost of the fast path.  Counts with callgrind the
# instructions of malloc(n)+free through libosmem-malloc.so (as a program
# calls them, through the PLT), as the difference of two run lengths so
# start-up does not count, and fails if a pair costs more than the budget.
# Sizes: 64 bytes, 1500 and 2000 (chunks with bit 10 of the size set,
# which a wrong mask once sent down the slow path), and 8 (the smallest
# requests, which take a branch of their own in the bin's formula).
# Measured at 48 (50 for 8 bytes), call counting included (about 10 of
# them the loop and the PLT; glibc 2.36: 139, jemalloc and tcmalloc: 77),
# so the budget leaves room for the small requests' branch, not for a new
# one.  The last point counts with no OSMEM_OPTIONS at all: under valgrind
# tools other than memcheck, libosmem keeps its ordinary paths (it once
# turned the memcheck annotations on under any tool: 701 instructions).
set -u
if [ "${OSMEM_SANITIZED:-0}" = 1 ]; then
	echo "1..0 # SKIP preloading a sanitized build is not possible"
	exit 0
fi
budget=${OSMEM_FASTPATH_BUDGET:-50}
so=${OSMEM_MALLOC_SO:?}
prog=${OSMEM_PAIRS:-./tests/pairs}
sizes="64 1500 2000 8"
echo "1..6"
if ! command -v valgrind >/dev/null 2>&1; then
	for i in 1 2 3 4 5 6; do echo "ok $i # SKIP valgrind is not installed"; done
	exit 0
fi
count() {
	# valgrind=0: count the plain fast path, not the memcheck annotations
	OSMEM_OPTIONS=${opts-valgrind=0} LD_PRELOAD=$so valgrind \
		--tool=callgrind --callgrind-out-file=/dev/null "$prog" "$1" "$2" \
		2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a=$(count 100000 64)
b=$(count 200000 64)
if [ -n "$a" ] && [ -n "$b" ]; then
	echo "ok 1 - callgrind counted both runs ($a, $b instructions)"
else
	echo "not ok 1 - callgrind counted both runs"
	exit 1
fi
t=2
for size in $sizes; do
	[ "$size" = 64 ] || { a=$(count 100000 "$size"); b=$(count 200000 "$size"); }
	per=$(( (b - a) / 100000 ))
	if [ "$per" -le "$budget" ]; then
		echo "ok $t - malloc($size)+free pair: $per instructions (budget $budget)"
	else
		echo "not ok $t - malloc($size)+free pair: $per instructions (budget $budget)"
	fi
	t=$((t + 1))
done
opts= a=$(count 100000 64)
opts= b=$(count 200000 64)
per=$(( (b - a) / 100000 ))
if [ -n "$a" ] && [ -n "$b" ] && [ "$per" -le "$budget" ]; then
	echo "ok $t - malloc(64)+free pair under callgrind, no options: $per instructions (budget $budget)"
else
	echo "not ok $t - malloc(64)+free pair under callgrind, no options: ${per:-?} instructions (budget $budget)"
fi
