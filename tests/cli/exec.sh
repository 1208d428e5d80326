#!/bin/bash
# `vpcfw exec` argument handling and errors, no namespaces needed: --help,
# a missing command, an unknown option and an unknown name all fail with
# 125 (vpcfw exec's own failures, as env(1) does) and say why; as non-root
# it refuses before looking anything up. Running programs inside a lab's
# namespaces (and the exit status passing through) is proven by the root
# test tests/integration/itest_topology.c. Env: VPCFW_BINARY_DIR.
set -u

src=${VPCFW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPCFW_BINARY_DIR:-$src/build}/vpcfw
[ -x "$bin" ] || { echo "no vpcfw binary at $bin" >&2; exit 1; }
fails=0 runs=0

# expect RC PATTERN ARGS...: vpcfw exec ARGS exits RC and prints PATTERN.
expect() {
	local want=$1 pat=$2 out rc
	shift 2
	runs=$((runs + 1))
	out=$("$bin" exec "$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ] || ! grep -q -- "$pat" <<<"$out"; then
		echo "FAIL: vpcfw exec $* exited $rc (want $want), output:" >&2
		sed 's/^/    /' <<<"$out" >&2
		fails=$((fails + 1))
	fi
}

expect 0 "usage: vpcfw exec" --help
expect 125 "no command given" some-name
expect 125 "no command given" some-name --
expect 125 "unknown option '--bogus'" --bogus some-name -- true
expect 125 "usage: vpcfw exec"
if [ "$(id -u)" = 0 ]; then
	expect 125 "no namespace for 'vpcfw-cli-test-$$-none'" "vpcfw-cli-test-$$-none" -- true
	expect 125 "no namespace for 'x$$' in lab nolab$$" --lab "nolab$$" "x$$" -- true
	if command -v runuser >/dev/null && runuser -u nobody -- test -x "$bin" 2>/dev/null; then
		runs=$((runs + 1))
		out=$(runuser -u nobody -- "$bin" exec anything -- true 2>&1)
		rc=$?
		if [ "$rc" != 125 ] || ! grep -q "needs root" <<<"$out"; then
			echo "FAIL: non-root exec exited $rc: $out" >&2
			fails=$((fails + 1))
		fi
	fi
else
	expect 125 "needs root" anything -- true
fi
echo "exec.sh: $runs checks, $fails failed"
[ "$fails" = 0 ]
