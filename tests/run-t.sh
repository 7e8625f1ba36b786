#!/bin/sh
# run-t: osmem-run end to end: it runs a program under libosmem with the
# options its flags name, prints the figures with --stats, documents
# every flag in --help, and refuses an unknown one.
set -u
if [ "${OSMEM_SANITIZED:-0}" = 1 ]; then
	echo "1..0 # SKIP preloading a sanitized build is not possible"
	exit 0
fi
run=${OSMEM_RUN:-./src/osmem-run}
so=${OSMEM_MALLOC_SO:?}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"
echo "1..8"

seq 1 50000 | sort -r >"$tmp/in"
"$run" --lib="$so" --stats -- sort -n "$tmp/in" >"$tmp/out" 2>"$tmp/err"
check "the program runs and its output is right" \
	sh -c "seq 1 50000 | cmp -s - '$tmp/out'"
check "--stats prints the figures at exit" \
	grep -q "^osmem: bytes in use" "$tmp/err"

"$run" --lib="$so" -- sh -c 'grep -q libosmem-malloc /proc/$$/maps' 
check "the program has libosmem-malloc.so mapped" [ $? -eq 0 ]

"$run" --lib="$so" --limit=64K -- sort -n "$tmp/in" >/dev/null 2>"$tmp/err2"
check "--limit=64K makes sort fail for want of memory" [ $? -ne 0 ]

"$run" --help >"$tmp/help"
missing=
for flag in stats leaks leak-exitcode heap-map limit mmap-threshold \
    trim-threshold release-threshold tcache arenas junk canary quarantine \
    guard check-every check lib help; do
	grep -q -- "--$flag" "$tmp/help" || missing="$missing $flag"
done
check "--help documents every flag${missing:+ (missing:$missing)}" \
	[ -z "$missing" ]

"$run" --lib="$so" --leaks --leak-exitcode=9 --heap-map="$tmp/map.svg" -- \
	sort -n "$tmp/in" >/dev/null 2>"$tmp/err4"
check "--leaks --leak-exitcode=9: sort's blocks left at exit, status 9" \
	[ $? -eq 9 ] && grep -q "^osmem: leaks: " "$tmp/err4"
check "--heap-map writes an SVG map at exit" \
	grep -q "libosmem heap map" "$tmp/map.svg"

"$run" --no-such-flag true 2>"$tmp/err3"
check "an unknown flag is refused with status 2" \
	[ $? -eq 2 ] && grep -q "unknown option --no-such-flag" "$tmp/err3"
