#!/bin/sh
# fastpath-t: pins the cost of the fast path.  Counts with callgrind the
# instructions of malloc(64)+free through libosmem-malloc.so (as a program
# calls them, through the PLT), as the difference of two run lengths so
# start-up does not count, and fails if a pair costs more than the budget.
# Measured at 63, call counting included (8 of them the loop itself; glibc 2.36: 139, jemalloc and
# tcmalloc: 77), so the budget leaves room for noise, not for a new branch.
set -u
if [ "${OSMEM_SANITIZED:-0}" = 1 ]; then
	echo "1..0 # SKIP preloading a sanitized build is not possible"
	exit 0
fi
budget=${OSMEM_FASTPATH_BUDGET:-66}
so=${OSMEM_MALLOC_SO:?}
prog=${OSMEM_PAIRS:-./tests/pairs}
echo "1..2"
if ! command -v valgrind >/dev/null 2>&1; then
	echo "ok 1 # SKIP valgrind is not installed"
	echo "ok 2 # SKIP valgrind is not installed"
	exit 0
fi
count() {
	# valgrind=0: count the plain fast path, not the memcheck annotations
	OSMEM_OPTIONS=valgrind=0 LD_PRELOAD=$so valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$prog" "$1" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a=$(count 100000)
b=$(count 200000)
if [ -n "$a" ] && [ -n "$b" ]; then
	echo "ok 1 - callgrind counted both runs ($a, $b instructions)"
else
	echo "not ok 1 - callgrind counted both runs"
	exit 1
fi
per=$(( (b - a) / 100000 ))
if [ "$per" -le "$budget" ]; then
	echo "ok 2 - malloc+free pair: $per instructions (budget $budget)"
else
	echo "not ok 2 - malloc+free pair: $per instructions (budget $budget)"
	exit 1
fi
