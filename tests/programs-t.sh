#!/bin/sh
# programs-t: real programs run under LD_PRELOAD=libosmem-malloc.so give
# the same output as without it.  A program that is not installed is
# skipped (TAP SKIP); .ci/run installs them all.
#
# Environment: OSMEM_MALLOC_SO (set by make check) names the library.
set -u
if [ "${OSMEM_SANITIZED:-0}" = 1 ]; then
	echo "1..0 # SKIP preloading a sanitized build is not possible"
	exit 0
fi
so=${OSMEM_MALLOC_SO:?set OSMEM_MALLOC_SO to the built libosmem-malloc.so}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"

# same NAME CMD...: run CMD plainly and preloaded; compare stdout+status.
# The preloaded run must also really have libosmem mapped.
same() {
	name=$1; shift
	"$@" >"$tmp/plain" 2>"$tmp/plain.err"; s1=$?
	LD_PRELOAD=$so "$@" >"$tmp/osmem" 2>"$tmp/osmem.err"; s2=$?
	if [ "$s1" -eq "$s2" ] && cmp -s "$tmp/plain" "$tmp/osmem" &&
	   [ -s "$tmp/plain" ]; then
		ok "$name: same output ($(wc -c <"$tmp/plain") bytes), status $s1"
	else
		not_ok "$name: status $s1 vs $s2"
		diff "$tmp/plain" "$tmp/osmem" | head -5 | sed 's/^/# /'
		head -5 "$tmp/osmem.err" | sed 's/^/# /'
	fi
}

have() { command -v "$1" >/dev/null 2>&1; }

echo "1..8"

# The library really is what these programs get.
if LD_PRELOAD=$so sh -c 'grep -q libosmem-malloc /proc/$$/maps'; then
	ok "a preloaded shell maps libosmem-malloc.so"
else
	not_ok "a preloaded shell maps libosmem-malloc.so"
fi

# sort: a million numbers, numerically.
awk 'BEGIN { srand(7); for (i = 0; i < 1000000; i++) print int(rand() * 1e9) }' \
	>"$tmp/nums"
same "sort -n of 1,000,000 lines" sort -n "$tmp/nums"

# python3 with its own allocator off, so every object is a malloc.
py=
for c in /usr/bin/python3 python3; do have "$c" && { py=$c; break; }; done
if [ -n "$py" ]; then
	cat >"$tmp/work.py" <<'PY'
import collections, difflib, json, re, sqlite3, textwrap, zlib
words = [("w%05d" % (i * 7919 % 50000)) * (1 + i % 5) for i in range(200000)]
count = collections.Counter(w[:3] for w in words)
doc = json.dumps({"words": words[:20000], "count": count.most_common(50)})
assert json.loads(doc)["count"][0][0] == count.most_common(1)[0][0]
db = sqlite3.connect(":memory:")
db.execute("create table t (k text, v integer)")
db.executemany("insert into t values (?, ?)", ((w, len(w)) for w in words))
rows = db.execute("select substr(k,1,3), sum(v) from t group by 1 order by 2 desc limit 5").fetchall()
text = " ".join(words[:5000])
diff = list(difflib.unified_diff(textwrap.wrap(text, 60)[:200], textwrap.wrap(text[7:], 60)[:200], lineterm=""))
print(len(doc), rows, len(diff), zlib.crc32(re.sub(r"w0+", "W", text).encode()))
PY
	PYTHONMALLOC=malloc same "python3 (PYTHONMALLOC=malloc): json, sqlite3, difflib, re" \
		"$py" "$tmp/work.py"
else
	skip "python3 is not installed"
fi

# gcc compiling a real file: the object file must be the same.
src=$(dirname "$0")/../src/bins.c
if have gcc && [ -f "$src" ]; then
	inc="-I$(dirname "$0")/../src -I$(dirname "$0")/../include -I."
	cfg="$tmp/config.h"; : >"$cfg"
	gcc -O2 -g -c -include "$cfg" $inc -I"$tmp" "$src" -o "$tmp/a.o" 2>/dev/null
	LD_PRELOAD=$so gcc -O2 -g -c -include "$cfg" $inc -I"$tmp" "$src" -o "$tmp/b.o" 2>/dev/null
	if [ -s "$tmp/a.o" ] && cmp -s "$tmp/a.o" "$tmp/b.o"; then
		ok "gcc -O2 -g compiles src/bins.c to the same object file"
	else
		not_ok "gcc -O2 -g compiles src/bins.c to the same object file"
	fi
else
	skip "gcc is not installed"
fi

# perl: hashes, regexes, sorting.
if have perl; then
	same "perl: 300,000 hash entries, regexes, sort" perl -e '
		my %h; for my $i (1..300000) { $h{"k$i"} = "v" x ($i % 97) }
		my @k = sort { length($h{$b}) <=> length($h{$a}) || $a cmp $b } keys %h;
		my $m = grep { /^k(\d)\1/ } @k;
		print scalar(@k), " $k[0] $k[-1] $m\n";'
else
	skip "perl is not installed"
fi

# sqlite3: a table of 200,000 rows, an index, aggregates.
if have sqlite3; then
	same "sqlite3: 200,000 rows, index, group by" sqlite3 :memory: '
		create table t(a integer, b text);
		with recursive c(x) as (select 1 union all select x + 1 from c where x < 200000)
		insert into t select x, printf("%08d", x * 7919 % 100003) from c;
		create index tb on t(b);
		select count(*), sum(a), min(b), max(b) from t;
		select substr(b, 1, 3), count(*) from t group by 1 order by 2 desc limit 5;'
else
	skip "sqlite3 is not installed"
fi

# git: make a repository, commit, and read the history back.
if have git; then
	export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid \
		GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid \
		GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' \
		GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' GIT_CONFIG_NOSYSTEM=1 \
		HOME=$tmp
	gitrun() {
		d=$(mktemp -d "$tmp/g.XXXXXX")
		git -C "$d" init -q -b main &&
		for i in 1 2 3 4 5; do
			seq 1 $((i * 20000)) >"$d/f$i" &&
			git -C "$d" add "f$i" &&
			git -C "$d" commit -q -m "commit $i" || return 1
		done
		git -C "$d" log --stat --format='%H %s' &&
		git -C "$d" gc -q && git -C "$d" count-objects -v | grep -v size
	}
	same "git: init, 5 commits, log --stat, gc" gitrun
else
	skip "git is not installed"
fi

# awk: associative arrays and string building.
same "awk: 500,000 array entries" awk 'BEGIN {
	for (i = 0; i < 500000; i++) a[i % 100003] = a[i % 100003] "x";
	n = 0; for (k in a) n += length(a[k]); print n, length(a) }'

[ "$failed" -eq 0 ]
