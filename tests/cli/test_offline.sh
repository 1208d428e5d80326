#!/bin/bash
# `vpcfw test --offline` end to end (DESIGN.md contract 6), no root: every
# example's expect.yaml passes; a copy with one expectation turned wrong
# exits 1 with exactly one JUnit failure naming it; selectors expand;
# --generate writes each example's reachability, which then passes; bad
# input (unknown endpoint, impossible port, YAML error, selector matching
# nothing) exits 2 naming file, line and key, and its JUnit is one
# errored test case carrying those messages (a CI view shows why).
# Env: VPCFW_SOURCE_DIR, VPCFW_BINARY_DIR (set by ctest).
set -u

src=${VPCFW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPCFW_BINARY_DIR:-$src/build}/vpcfw
[ -x "$bin" ] || { echo "no vpcfw binary at $bin" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 needed to parse JUnit" >&2; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vpcfw-testoff.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 runs=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# run_rc RC ARGS...: vpcfw test ARGS must exit RC; output in $tmp/out, $tmp/err.
run_rc() {
	local want=$1
	shift
	runs=$((runs + 1))
	"$bin" test "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	[ "$rc" = "$want" ] && return 0
	fail "vpcfw test $* exited $rc, want $want"
	sed 's/^/    /' "$tmp/out" "$tmp/err" >&2
	return 1
}

# junit_count FILE: prints "tests failures errors" and one line per failure name.
junit_summary() {
	python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
s = r.find("testsuite")
print(s.get("tests"), s.get("failures"), s.get("errors"), len(s.findall("testcase")))
for c in s.findall("testcase"):
    if c.find("failure") is not None:
        print("failed:", c.get("name"))
PY
}

n_examples=0
for ex in "$src"/examples/*/expect.yaml; do
	n_examples=$((n_examples + 1))
	name=$(basename "$(dirname "$ex")")
	n=$(grep -c '^  - ' "$ex")
	if run_rc 0 "$ex" --offline --junit "$tmp/$name.xml"; then
		tail -n 1 "$tmp/out" | grep -qx "$n passed, 0 failed" ||
			fail "$name: summary '$(tail -n 1 "$tmp/out")', want '$n passed, 0 failed'"
		[ "$(junit_summary "$tmp/$name.xml")" = "$n 0 0 $n" ] ||
			fail "$name: JUnit $(junit_summary "$tmp/$name.xml"), want $n cases, none failed"
	fi
done
[ "$n_examples" -ge 3 ] || fail "only $n_examples examples with expect.yaml"

# --generate: today's reachability, which then passes as it is.
for lab in "$src"/examples/*/; do
	name=$(basename "$lab")
	runs=$((runs + 1))
	"$bin" test --generate "$lab" >"$tmp/gen-$name.yaml" 2>"$tmp/err" ||
		{ fail "generate $name"; continue; }
	n=$(grep -c '^  - ' "$tmp/gen-$name.yaml")
	[ "$n" -gt 0 ] || fail "generate $name: no flow"
	run_rc 0 "$tmp/gen-$name.yaml" --lab "$lab" --offline &&
		{ tail -n 1 "$tmp/out" | grep -qx "$n passed, 0 failed" || fail "generated $name"; }
done
run_rc 2 --generate /nonexistent-lab

# One wrong expectation: the prototype's "no SSH from the internet" claimed open.
proto=$src/examples/prototype
mkdir -p "$tmp/wrong"
python3 - "$proto/expect.yaml" "$tmp/wrong/expect.yaml" "$proto" <<'PY'
import sys
text = open(sys.argv[1]).read()
text = text.replace("lab: lab.json", "lab: " + sys.argv[3] + "/lab.json")
head, sep, tail = text.partition("name: no SSH from the internet")
tail = tail.replace("verdict: reject", "verdict: accept", 1)
assert sep, "the prototype's SSH expectation is gone"
open(sys.argv[2], "w").write(head + sep + tail)
PY
n=$(grep -c '^  - ' "$tmp/wrong/expect.yaml")
if run_rc 1 "$tmp/wrong/expect.yaml" --offline --junit "$tmp/wrong.xml"; then
	tail -n 1 "$tmp/out" | grep -qx "$((n - 1)) passed, 1 failed" ||
		fail "wrong: summary '$(tail -n 1 "$tmp/out")'"
	want=$(printf '%s\n%s' "$n 1 0 $n" "failed: no SSH from the internet")
	[ "$(junit_summary "$tmp/wrong.xml")" = "$want" ] ||
		fail "wrong: JUnit '$(junit_summary "$tmp/wrong.xml")', want '$want'"
	grep -q "sg-ingress REJECT web-1" "$tmp/wrong.xml" ||
		fail "wrong: the JUnit failure does not carry the deciding stage"
fi

# --json: the same verdicts, one object.
if run_rc 1 "$tmp/wrong/expect.yaml" --offline --json; then
	python3 - "$tmp/out" <<'PY' || fail "wrong: --json"
import json, sys
d = json.load(open(sys.argv[1]))
bad = [f for f in d["flows"] if f["result"] != "pass"]
assert d["failed"] == 1 and len(bad) == 1, d
assert bad[0]["name"] == "no SSH from the internet" and bad[0]["offline"] == "REJECT", bad
PY
fi

# Selectors expand to every ENI pair; --lab overrides the file's lab.
cat >"$tmp/sel.yaml" <<'YAML'
lab: /nonexistent
expect:
  - from: "app-*"
    to: "sg:db"
    proto: tcp
    port: 5432
    verdict: accept
YAML
if run_rc 0 "$tmp/sel.yaml" --lab "$src/examples/ten-thousand/lab.json" --offline; then
	tail -n 1 "$tmp/out" | grep -qx "4 passed, 0 failed" ||
		fail "selectors: '$(tail -n 1 "$tmp/out")', want 4 flows (2 apps x 2 databases)"
fi

# Bad input: exit 2, every problem named with file:line: key; the JUnit
# file is one errored test case with every message.
cat >"$tmp/bad.yaml" <<YAML
lab: $proto/lab.json
expect:
  - from: nobody
    to: web-1
    proto: tcp
    port: 443
    verdict: accept
  - from: web-1
    to: "subnet:nope"
    proto: tcp
    port: 443
    verdict: accept
YAML
if run_rc 2 "$tmp/bad.yaml" --offline --junit "$tmp/bad.xml"; then
	grep -q "^$tmp/bad.yaml:3: from: unknown endpoint 'nobody'" "$tmp/err" ||
		fail "bad: unknown endpoint not named with file:line: key"
	grep -q "^$tmp/bad.yaml:9: to: selector 'subnet:nope' matches no ENI" "$tmp/err" ||
		fail "bad: empty selector not named"
	[ "$(junit_summary "$tmp/bad.xml" | head -n 1)" = "1 0 1 1" ] ||
		fail "bad: JUnit '$(junit_summary "$tmp/bad.xml")', want one errored case"
	grep -q 'type="run-error"' "$tmp/bad.xml" && grep -q "unknown endpoint .*nobody" "$tmp/bad.xml" &&
		grep -q "subnet:nope" "$tmp/bad.xml" ||
		fail "bad: the JUnit case does not carry every problem"
fi
printf 'lab: %s/lab.json\nexpect:\n  - from: web-1\n    to: db-1\n    proto: tcp\n    port: 99999\n    verdict: accept\n' \
	"$proto" >"$tmp/port.yaml"
run_rc 2 "$tmp/port.yaml" --offline &&
	{ grep -q "^$tmp/port.yaml:6: port: impossible port '99999'" "$tmp/err" || fail "bad port"; }
printf 'lab: x\nexpect:\n  - from: [web-1\n' >"$tmp/syntax.yaml"
run_rc 2 "$tmp/syntax.yaml" --offline &&
	{ grep -q "^$tmp/syntax.yaml:[0-9]*: YAML syntax error" "$tmp/err" || fail "YAML error"; }
run_rc 2 "$tmp/missing.yaml" --offline
run_rc 2 --offline

echo "$runs runs, $fails failures"
[ "$fails" -eq 0 ]
