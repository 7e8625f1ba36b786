#!/bin/sh
# run-t: osmem-run end to end: it runs a program under libosmem with the
# options its flags name, prints the figures with --stats, documents
# every flag in --help, and refuses an unknown one.
set -u
. "$(dirname "$0")/tap.sh"
osmem_run_setup
echo "1..19"

seq 1 50000 | sort -r >"$tmp/in"
$run --lib="$so" --stats -- sort -n "$tmp/in" >"$tmp/out" 2>"$tmp/err"
check "the program runs and its output is right" \
	sh -c "seq 1 50000 | cmp -s - '$tmp/out'"
check "--stats prints the figures at exit" \
	grep -q "^osmem: bytes in use" "$tmp/err"

$run --lib="$so" -- sh -c 'grep -q libosmem-malloc /proc/$$/maps' 
check "the program has libosmem-malloc.so mapped" [ $? -eq 0 ]

$run --lib="$so" --limit=64K -- sort -n "$tmp/in" >/dev/null 2>"$tmp/err2"
check "--limit=64K makes sort fail for want of memory" [ $? -ne 0 ]

$run --help >"$tmp/help"
missing=
for flag in stats stats-file leaks leak-exitcode frames profile heap-map limit mmap-threshold \
    trim-threshold release-threshold tcache arenas junk canary quarantine \
    guard check-every check lib help version; do
	grep -q -- "--$flag" "$tmp/help" || missing="$missing $flag"
done
check "--help documents every flag${missing:+ (missing:$missing)}" \
	[ -z "$missing" ]

$run --lib="$so" --stats=json -- sort -n "$tmp/in" >/dev/null 2>"$tmp/json"
check "--stats=json: stderr holds one JSON object with the program's name" \
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['program'] == 'sort' and d['pid'] > 0
assert d['heap']['resident'] <= d['heap']['reserved']
assert sum(r['used'] for r in d['sizes']) > 0 and len(d['arenas']) >= 1
" "$tmp/json"
$run --lib="$so" --stats=json --stats-file "$tmp/st.json" -- \
	sh -c "sort -n '$tmp/in' | uniq >/dev/null"
set -- "$tmp"/st*.json
check "--stats-file: a pipeline's processes write a file each ($#: $*)" \
	[ $# -eq 2 ]
check "and each parses" python3 -c "
import json, sys
names = sorted(json.load(open(f))['program'] for f in sys.argv[1:])
assert names == ['sort', 'uniq'], names
" "$@"

# sort loses a block (memcheck says so too).
$run --lib="$so" --leaks --leak-exitcode=9 --heap-map="$tmp/map.svg" -- \
	sort -n "$tmp/in" >/dev/null 2>"$tmp/err4"
status=$?
check "--leaks --leak-exitcode=9: sort's lost block, status 9 ($status)" \
	sh -c "[ $status -eq 9 ] && grep -q '^osmem: definitely lost: [1-9][0-9]* bytes in 1 blocks' '$tmp/err4'"
# The same bytes definitely lost as memcheck's, where valgrind is here.
ours=$(sed -n 's/^osmem: definitely lost: \([0-9]*\) bytes.*/\1/p' "$tmp/err4")
if command -v valgrind >/dev/null && [ "${OSMEM_VALGRIND:-0}" != 1 ]; then
	env -u LD_PRELOAD valgrind --leak-check=full sort -n "$tmp/in" \
		>/dev/null 2>"$tmp/vg"
	theirs=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$tmp/vg" | tr -d ,)
	check "sort's definitely lost bytes are memcheck's ($ours = ${theirs:-?})" \
		[ "${ours:-x}" = "${theirs:-y}" ]
else
	skip "no valgrind to compare the leak check with"
fi
$run --lib="$so" --leaks=error -- sort -n "$tmp/in" >/dev/null 2>&1
status=$?
check "--leaks=error: a process that lost blocks exits with 23 ($status)" \
	[ $status -eq 23 ]
check "--heap-map writes an SVG map at exit" \
	grep -q "libosmem heap map" "$tmp/map.svg"

$run --no-such-flag true 2>"$tmp/err3"
status=$?
check "an unknown flag is refused with status 2" \
	sh -c "[ $status -eq 2 ] && grep -q 'unknown option --no-such-flag' '$tmp/err3'"

$run --version >"$tmp/version"
check "--version names the version: $(cat "$tmp/version")" \
	grep -qx "osmem-run (libosmem) [0-9][0-9.]*" "$tmp/version"

$run --lib "$so" --limit 64K -- sort -n "$tmp/in" >/dev/null 2>&1
check "a value may follow its flag as the next argument (--limit 64K)" \
	[ $? -ne 0 ]
$run --limit 2>"$tmp/err5"
status=$?
check "a flag missing its value is refused with status 2" \
	sh -c "[ $status -eq 2 ] && grep -q -- '--limit needs a value' '$tmp/err5'"

# %p and %e: one map per process of a pipeline, named by program and pid.
$run --lib="$so" --heap-map "$tmp/%e.%p.txt" -- \
	sh -c "sort -n '$tmp/in' | uniq >/dev/null"
set -- "$tmp"/sort.*.txt
check "%e and %p: sort's map is named by its program and pid ($1)" \
	[ -f "$1" ] && grep -q "libosmem heap map" "$1"
set -- "$tmp"/uniq.*.txt
check "and uniq's, in the same pipeline, is its own ($1)" \
	[ -f "$1" ] && grep -q "libosmem heap map" "$1"

# (LD_PRELOAD cleared: under a self-hosted build a second copy of the
# library would say it too.)
$run --lib="$so" --heap-map=/nonexistent/dir/map.svg -- true \
	2>"$tmp/err6"
check "a map path that cannot be written is reported once at start-up" \
	[ "$(grep -c "cannot write the heap map to /nonexistent/dir/map.svg" \
		"$tmp/err6")" -eq 1 ]
