# tap.sh: TAP helpers the shell tests source, so each test point is one
# line: check DESCRIPTION COMMAND... runs COMMAND and reports it.
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
check() {
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# The set-up of a test of osmem-run: skip in a sanitized build (its
# runtime must come first in a process), then $run (osmem-run, without an
# inherited LD_PRELOAD: under the self-hosted distcheck a second copy of
# the library would report and write its own as well), $so (the library
# to preload) and $tmp (removed at exit).
osmem_run_setup() {
	if [ "${OSMEM_SANITIZED:-0}" = 1 ]; then
		echo "1..0 # SKIP preloading a sanitized build is not possible"
		exit 0
	fi
	run="env -u LD_PRELOAD ${OSMEM_RUN:-./src/osmem-run}"
	so=${OSMEM_MALLOC_SO:?}
	tmp=$(mktemp -d) || exit 1
	trap 'rm -rf "$tmp"' EXIT
}
