#!/bin/sh
# layers-t: the sources keep their layers (src/layers): every file in the
# table, includes and uses only of its own layer or below (the uses read
# from the built objects), no circle of files; the check catches a
# planted upward include and a planted upward call; and no source file is
# over 500 lines, no header over 250.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/src
objdir=${OSMEM_OBJDIR:-$top/src}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"
echo "1..6"

# The library's objects: libtool's PIC ones if built, else the static.
dir=$objdir/.libs
ls "$dir"/*.o >/dev/null 2>&1 || dir=$objdir
objs=$(ls "$dir"/*.o | grep -v -e bench_ -e libosmem_malloc_la-alloc)

out=$(sh "$top/build-aux/layers" "$src")
check "every file in the table, every include of its layer or below${out:+: $out}" \
	[ -z "$out" ]
# shellcheck disable=SC2086
out=$(sh "$top/build-aux/layers" "$src" $objs)
check "every use of its layer or below, no circle${out:+: $out}" [ -z "$out" ]

cp "$src"/*.c "$src"/*.h "$src"/layers "$tmp"/
sed 's|^#include "core.h"$|#include "core.h"\n#include "tools.h"|' \
	"$src/heap.c" >"$tmp/heap.c"
out=$(sh "$top/build-aux/layers" "$tmp")
check "a planted include of a higher layer is caught: $out" \
	[ "$out" = "heap.c (layer 4) includes tools.h (layer 7)" ]

# bins.o replaced by one that calls up into the trace.
if printf 'void osmem__trace_flush(void);\nvoid osmem__bin_x(void);\nvoid osmem__bin_x(void) { osmem__trace_flush(); }\n' \
	>"$tmp/bins.c" && ${CC:-cc} -c -o "$tmp/bins.o" "$tmp/bins.c" 2>/dev/null; then
	# shellcheck disable=SC2086
	out=$(sh "$top/build-aux/layers" "$src" $(printf '%s\n' $objs |
		grep -v '/bins\.o$') "$tmp/bins.o")
	check "a planted call of a higher layer is caught: $out" \
		[ "$out" = "bins.c (layer 4) uses trace.c (layer 7) 1 times" ]
else
	skip "no C compiler for the planted call"
fi

long=$(wc -l "$src"/*.c | awk '$2 != "total" && $1 > 500 { print $2 " " $1 }')
check "no source file over 500 lines${long:+: $long}" [ -z "$long" ]
long=$(wc -l "$src"/*.h | awk '$2 != "total" && $1 > 250 { print $2 " " $1 }')
check "no header over 250 lines${long:+: $long}" [ -z "$long" ]
exit 0
