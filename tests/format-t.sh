#!/bin/sh
# format-t: every C file of the tree is as the project's .clang-format
# lays it out.  Layouts differ between clang-format releases, so the check
# is made with the one CI uses (14, Debian 12's) and skipped with others.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/tap.sh"
fmt=${CLANG_FORMAT:-clang-format}
if ! "$fmt" --version 2>/dev/null | grep -q 'version 14\.'; then
	echo "1..0 # SKIP clang-format 14 is not installed"
	exit 0
fi
echo "1..1"
cd "$top" || exit 1
bad=$(for f in src/*.c src/*.h include/*.h tests/*.c tests/*.h \
	tests/fuzz/*.c tests/glibc/*.c tests/glibc/*.h tests/glibc/support/*.h \
	bench/*.c; do
	"$fmt" --style=file --dry-run --Werror "$f" >/dev/null 2>&1 ||
		printf ' %s' "$f"
done)
check "every C file formatted by .clang-format${bad:+; not:$bad}" [ -z "$bad" ]
