#!/bin/sh
# profile-t: osmem-run --profile on a program with a known heap
# (tests/profprog.c): the summary's figures, the folded stacks (parsed as
# flamegraph.pl reads them: "frame;frame;... bytes", summing to the
# peak), the two SVG files (well-formed XML, and rendered by a headless
# Chromium where there is one), and one set of files per process.
set -u
. "$(dirname "$0")/tap.sh"
osmem_run_setup
prog=${OSMEM_PROFPROG:?}
echo "1..12"

# Without %p the name is the first process's; the peak is known.
$run --lib="$so" --profile="$tmp/prof" -- "$prog" 2>"$tmp/err"
check "the program runs under --profile (status $?)" [ $? -eq 0 ]
peak=$(sed -n 's/.*peak heap \([0-9]*\) bytes.*/\1/p' "$tmp/err")
want=$((1048576 + 10 * 100000 + 5 * 1000))
check "the summary's peak heap is the program's ($peak = $want)" \
	[ "${peak:-0}" -eq $want ]
temps=$(sed -n 's/.*allocations (\([0-9]*\) temporary).*/\1/p' "$tmp/err")
check "the 1000 temporary blocks are counted (${temps:-none})" \
	[ "${temps:-0}" -ge 1000 ]
check "the top stack at the peak is keep_table's, 1 MiB" \
	grep -q "^osmem:   1048576 bytes at the peak, 1 calls, .*: keep_table < main" "$tmp/err"

f=$tmp/prof.folded
check "NAME.folded, NAME.svg and NAME.flame.svg are written" \
	[ -s "$f" ] && [ -s "$tmp/prof.svg" ] && [ -s "$tmp/prof.flame.svg" ]
# flamegraph.pl's reading: the last field is the count, the rest the
# frames, separated by ';', none empty.
bad=$(awk '{ n = $NF; sub(/ [0-9]+$/, ""); k = split($0, fr, ";");
	for (i = 1; i <= k; i++) if (fr[i] == "") { print NR; next }
	if (n !~ /^[0-9]+$/) print NR }' "$f" | head -1)
sum=$(awk '{ s += $NF } END { print s + 0 }' "$f")
check "every folded line parses (${bad:+bad line $bad}), and they sum to the peak ($sum)" \
	[ -z "$bad" ] && [ "$sum" -eq "${peak:-0}" ]
check "the phase's blocks are under load_phase, helper's under it" \
	sh -c "grep -q 'main;load_phase 1000000\$' '$f' &&
		grep -q 'main;load_phase;small_helper 5000\$' '$f'"
check "both pictures are well-formed XML" python3 -c "
import sys, xml.etree.ElementTree as E
for f in sys.argv[1:]:
    assert E.parse(f).getroot().tag.endswith('svg'), f
" "$tmp/prof.svg" "$tmp/prof.flame.svg"
check "the time chart marks the peak and names keep_table" \
	sh -c "grep -q '>peak 2.0 MiB at ' '$tmp/prof.svg' &&
		grep -q '>keep_table &lt; main' '$tmp/prof.svg'"

chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$chrome" ]; then
	timeout 60 "$chrome" --headless --no-sandbox --disable-gpu \
		--screenshot="$tmp/shot.png" --window-size=1100,560 \
		"file://$tmp/prof.svg" >/dev/null 2>&1
	size=$(wc -c <"$tmp/shot.png" 2>/dev/null || echo 0)
	check "Chromium renders the chart (a $size-byte screenshot)" \
		[ "$size" -gt 10000 ]
else
	skip "no Chromium to render the chart"
fi

# Each process of a pipeline: the shell owns NAME (dash leaves by _exit,
# writing none), the two others add their pids.
$run --lib="$so" --profile="$tmp/pipe" -- sh -c "'$prog' | '$prog'"
count=$(ls "$tmp"/pipe*.folded | wc -l)
check "a pipeline's two processes write two profiles ($count)" \
	[ "$count" -eq 2 ]

$run --lib="$so" --profile=/nonexistent/dir/prof -- "$prog" 2>"$tmp/err7"
check "a profile that cannot be written is reported once, at start-up" \
	[ "$(grep -c "cannot write the profile to /nonexistent/dir/prof.svg" \
		"$tmp/err7")" -eq 1 ]
