#!/bin/sh
# glibc-t: glibc's own malloc tests, run under LD_PRELOAD=libosmem-malloc.so.
# The tests are glibc's, taken at run time from the sources on the machine
# (never copied into this tree): OSMEM_GLIBC_SRC names a glibc source tree
# or tarball; otherwise Debian's glibc-source package
# (/usr/src/glibc/glibc-*.tar.xz) is used; with neither, the test skips.
# They build against tests/glibc, this project's stand-in for glibc's
# support/ harness.  The set is every test of glibc 2.36's malloc/ that
# applies to a replacement malloc and that glibc itself passes standalone.
# tst-mallocfork (a signal handler forking while the process is inside
# fork) runs OSMEM_MALLOCFORK_RUNS times in a row (100 unless told).
#
# Environment: OSMEM_MALLOC_SO (set by make check), CC.
set -u
if [ "${OSMEM_SANITIZED:-0}" = 1 ]; then
	echo "1..0 # SKIP preloading a sanitized build is not possible"
	exit 0
fi
so=${OSMEM_MALLOC_SO:?set OSMEM_MALLOC_SO to the built libosmem-malloc.so}
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
runs=${OSMEM_MALLOCFORK_RUNS:-100}
tests="tst-malloc tst-calloc tst-realloc tst-valloc tst-memalign
	tst-posix_memalign tst-pvalloc tst-reallocarray tst-malloc-too-large
	tst-mallinfo2 tst-mallocfork tst-mallocfork2 tst-mallocfork3
	tst-malloc-fork-deadlock tst-malloc-thread-fail tst-malloc-thread-exit
	tst-malloc-tcache-leak tst-free-errno"

src=${OSMEM_GLIBC_SRC:-}
if [ -z "$src" ]; then
	for f in /usr/src/glibc/glibc-*.tar.xz; do
		[ -f "$f" ] && src=$f
	done
fi
if [ -z "$src" ] || [ ! -e "$src" ]; then
	echo "1..0 # SKIP no glibc sources (install glibc-source, or set OSMEM_GLIBC_SRC)"
	exit 0
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
. "$here/tap.sh"

# The malloc/ directory of the sources, in $tmp/malloc.
if [ -d "$src" ]; then
	cp -R "$src/malloc" "$tmp/malloc" || exit 1
else
	top=$(tar -tJf "$src" 2>/dev/null | head -1 | cut -d/ -f1)
	tar -xJf "$src" -C "$tmp" "$top/malloc" || {
		echo "1..0 # SKIP cannot unpack $src"; exit 0; }
	mv "$tmp/$top/malloc" "$tmp/malloc"
fi

set -- $tests
echo "1..$#"
for t in $tests; do
	c=$tmp/malloc/$t.c
	if [ ! -f "$c" ]; then
		skip "$t: not in these sources"
		continue
	fi
	if ! $cc -O2 -g -D_GNU_SOURCE -w -I"$here/glibc" \
	    -I"$here/glibc/support" -o "$tmp/$t" "$c" -pthread \
	    >"$tmp/$t.cc" 2>&1; then
		not_ok "$t: does not build against tests/glibc"
		head -5 "$tmp/$t.cc" | sed 's/^/# /'
		continue
	fi
	n_runs=1
	[ "$t" = tst-mallocfork ] && n_runs=$runs
	i=0 rc=0
	start=$(date +%s)
	while [ "$i" -lt "$n_runs" ]; do
		i=$((i + 1))
		(cd "$tmp" && LD_PRELOAD=$so "./$t") >"$tmp/$t.out" 2>&1
		rc=$?
		[ "$rc" -eq 0 ] || break
	done
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 0 ]; then
		ok "$t passes under libosmem ($n_runs run(s), ${secs}s)"
	elif [ "$rc" -eq 77 ]; then
		skip "$t: unsupported here"
	else
		not_ok "$t: status $rc (run $i of $n_runs)"
		tail -5 "$tmp/$t.out" | sed 's/^/# /'
	fi
done
exit 0
