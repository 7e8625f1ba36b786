#!/bin/sh
# valgrind-t: memcheck finds a planted read after free, a write one byte
# past a block and a leak in a program that uses libosmem, and nothing in
# a clean run.  Linked, libosmem itself serves the program and tells
# memcheck of its blocks (client requests).  Preloaded, valgrind's own
# preload comes first and memcheck's allocator takes the program's malloc:
# the bugs are still found, by memcheck alone.  (libosmem-malloc(7).)
set -u
if [ "${OSMEM_SANITIZED:-0}" = 1 ]; then
	echo "1..0 # SKIP not with a sanitizer build"
	exit 0
fi
if ! command -v valgrind >/dev/null 2>&1; then
	echo "1..0 # SKIP valgrind is not installed"
	exit 0
fi
so=${OSMEM_MALLOC_SO:?}
pre=${OSMEM_VGPROG:-./tests/vgprog}
api=${OSMEM_VGPROG_API:-./tests/vgprog-api}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"
vg() { # vg LOG PROGRAM ARG [LD_PRELOAD]
	log=$1 prog=$2 arg=$3 lib=${4:-}
	OSMEM_OPTIONS= LD_PRELOAD=$lib valgrind --leak-check=full \
		--errors-for-leak-kinds=definite \
		"$prog" "$arg" >"$tmp/$log" 2>&1
}
echo "1..8"
for mode in preloaded linked; do
	if [ $mode = preloaded ]; then prog=$pre lib=$so; else prog=$api lib=; fi
	vg uaf.$mode "$prog" use-after-free "$lib"
	check "$mode: a read after free is reported, with the free" \
		grep -q "inside a block of size 100 free'd" "$tmp/uaf.$mode"
	vg over.$mode "$prog" overflow "$lib"
	check "$mode: a write one byte past a block is reported" \
		grep -q "0 bytes after a block of size 100 alloc'd" "$tmp/over.$mode"
	vg leak.$mode "$prog" leak "$lib"
	check "$mode: the leak is reported (300 bytes in 3 blocks)" \
		grep -q "definitely lost: 300 bytes in 3 blocks" "$tmp/leak.$mode"
	vg clean.$mode "$prog" clean "$lib"
	check "$mode: a clean run has no error" \
		grep -q "ERROR SUMMARY: 0 errors" "$tmp/clean.$mode"
done
