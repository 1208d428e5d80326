# Shared set-up of the CLI tests that read vpcfw's JSON (sourced, never
# run): where the sources and the binary are, a scratch directory removed
# on exit, and failure counting. Each test ends with `cli_finish NAME`.
# Env: VPCFW_SOURCE_DIR, VPCFW_BINARY_DIR (set by ctest).
set -u

src=${VPCFW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPCFW_BINARY_DIR:-$src/build}/vpcfw
[ -x "$bin" ] || { echo "no vpcfw binary at $bin" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 needed to read JSON" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vpcfw-$(basename "${0%.sh}").XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# cli_rc WANT CMD...: CMD must exit WANT; its output in $tmp/out, $tmp/err.
cli_rc() {
	local want=$1
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	[ "$got" = "$want" ] && return 0
	fail "${*#"$bin "} exited $got, want $want"
	sed 's/^/    /' "$tmp/out" "$tmp/err" >&2
	return 1
}

cli_finish() {
	[ "$fails" = 0 ] || { echo "$fails failures" >&2; exit 1; }
	echo "$1: all passed"
}
