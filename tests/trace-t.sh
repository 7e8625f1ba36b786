#!/bin/sh
# trace-t: OSMEM_TRACE records every call of a program (one file per
# process with %p), in the documented format, and bench/replay replays the
# trace, every call of it, reaching the same peak of live bytes under
# libosmem and glibc.
set -u
if [ "${OSMEM_SANITIZED:-0}" = 1 ]; then
	echo "1..0 # SKIP preloading a sanitized build is not possible"
	exit 0
fi
so=${OSMEM_MALLOC_SO:?}
replay=${OSMEM_REPLAY:-./bench/replay}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"
echo "1..8"

seq 1 20000 | sort -R --random-source=/dev/zero >"$tmp/in"
OSMEM_TRACE="$tmp/t.%p" LD_PRELOAD=$so sort -n "$tmp/in" >"$tmp/out"
set -- "$tmp"/t.*
check "one trace file per process (%p)" [ $# -eq 1 ] && [ -s "$1" ]
trace=$1
check "it starts with its header" \
	[ "$(head -n 1 "$trace")" = "# osmem trace 1" ]
bad=$(grep -v -E '^(# osmem trace 1|m 0x[0-9a-f]+ 0x[0-9a-f]+|f 0x[0-9a-f]+|r 0x[0-9a-f]+ 0x[0-9a-f]+ 0x[0-9a-f]+|a 0x[0-9a-f]+ 0x[0-9a-f]+ 0x[0-9a-f]+)$' "$trace" | head -3)
check "every line is in the documented format${bad:+: $bad}" [ -z "$bad" ]
m=$(grep -c '^m' "$trace")
check "it records the program's allocations ($m mallocs)" [ "$m" -gt 100 ]

if [ -x "$replay" ]; then
	a=$(LD_PRELOAD=$so "$replay" "$trace")
	b=$("$replay" "$trace")
	live_a=$(echo "$a" | sed -n 's/.*peak_live_kib=\([0-9]*\).*/\1/p')
	live_b=$(echo "$b" | sed -n 's/.*peak_live_kib=\([0-9]*\).*/\1/p')
	check "replay under libosmem: $a" [ -n "$live_a" ] && [ "$live_a" -gt 0 ]
	check "same peak of live bytes under glibc ($live_b KiB)" \
		[ "$live_a" = "$live_b" ]
	# replay parses the whole trace before it starts: every call in it
	# is replayed, none dropped by the parser
	ops=$(echo "$a" | sed -n 's/.*ops=\([0-9]*\).*/\1/p')
	calls=$(grep -c '^[mfra] ' "$trace")
	check "every call of the trace is replayed ($ops of $calls)" \
		[ "$ops" = "$calls" ]
else
	skip "bench/replay is not built"
	skip "bench/replay is not built"
	skip "bench/replay is not built"
fi

OSMEM_TRACE=/nonexistent/dir/t.%p LD_PRELOAD=$so /bin/true 2>"$tmp/err"
check "a trace file that cannot be opened is reported once at start-up" \
	[ "$(grep -c "^osmem: cannot write the trace to /nonexistent/dir/t\." \
		"$tmp/err")" -eq 1 ]
