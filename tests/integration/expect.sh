#!/bin/bash
# `vpcfw test` with real traffic (DESIGN.md contract 6), as a CI job runs
# it. Every example's expect.yaml (Name tags suffixed with this run's lab
# name so namespaces are unique) passes with vpcfw test starting its own
# vpcfwd and leaving nothing behind; a file with one wrong
# expectation exits 1 with exactly one JUnit failure; a --generate'd file
# of every pair and port agrees with real traffic; on the basic test
# lab, served by a vpcfwd already running, TCP, UDP, ICMP and ICMPv6 probes
# agree with the offline verdicts, and a port already bound in the
# destination namespace is an error for that flow (exit 2), not a pass.
. "$(dirname "$0")/lib.sh"
itest_init
need python3

# example_prepare NAME: the example's lab and expect.yaml with every
# endpoint name given "-$LAB", into $TMP/NAME/ (expect.yaml path printed).
example_prepare() {
	mkdir -p "$TMP/$1"
	python3 - "$VPCFW_SOURCE_DIR/examples/$1" "$TMP/$1" "$LAB" <<'PY'
import json, re, sys
src, dst, run = sys.argv[1:]
exp = open(src + "/expect.yaml").read()
names = set(re.findall(r"^\s+(?:from|to): (\S+)$", exp, re.M))
lab = json.load(open(src + "/lab.json"))
# only endpoints are renamed: a prefix list may share a name with a host
ends = lab.get("outside", []) + [e for v in lab["vpcs"] for e in v.get("enis", [])]
for e in ends:
    if e.get("name") in names:
        e["name"] = "%s-%s" % (e["name"], run)
for n in names:
    exp = re.sub(r"^(\s+(?:from|to): )%s$" % re.escape(n), r"\g<1>%s-%s" % (n, run), exp, flags=re.M)
exp = re.sub(r"^lab: .*$", "lab: lab.json", exp, flags=re.M)
json.dump(lab, open(dst + "/lab.json", "w"), indent=1)
open(dst + "/expect.yaml", "w").write(exp)
PY
	echo "$TMP/$1/expect.yaml"
}

# export_prepare: the aws-export example (unchanged describe-* files plus
# outside.json) with its Name tags and outside hosts suffixed "-$LAB", into
# $TMP/aws-export/ (expect.yaml path printed).
export_prepare() {
	local dst=$TMP/aws-export
	cp -r "$VPCFW_SOURCE_DIR/examples/aws-export" "$dst"
	python3 - "$dst" "$LAB" <<'PY'
import glob, json, re, sys
dst, run = sys.argv[1:]
exp = open(dst + "/expect.yaml").read()
names = set(re.findall(r"^\s+(?:from|to): (\S+)$", exp, re.M))
for path in glob.glob(dst + "/*.json"):
    text = open(path).read()
    for n in names:  # Name tag values of instances and interfaces
        text = text.replace('"Value": "%s"' % n, '"Value": "%s-%s"' % (n, run))
    doc = json.loads(text)
    for h in doc.get("outside", []):
        if h["name"] in names:
            h["name"] = "%s-%s" % (h["name"], run)
    json.dump(doc, open(path, "w"), indent=1)
for n in names:
    exp = re.sub(r"^(\s+(?:from|to): )%s$" % re.escape(n), r"\g<1>%s-%s" % (n, run), exp, flags=re.M)
open(dst + "/expect.yaml", "w").write(exp)
PY
	echo "$dst/expect.yaml"
}

# junit_summary FILE: "tests failures errors" then the failed case names.
junit_summary() {
	python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as E
s = E.parse(sys.argv[1]).getroot().find("testsuite")
print(s.get("tests"), s.get("failures"), s.get("errors"))
for c in s.findall("testcase"):
    if c.find("failure") is not None or c.find("error") is not None:
        print("failed:", c.get("name"))
PY
}

# vtest RC ARGS...: vpcfw test must exit RC (output in $TMP/vt.out).
# VT_RUN: the state directory the run's own vpcfwd would have (vpcfw test
# names it vtest-<its pid in hex>); other runs on the machine have others.
vtest() {
	local want=$1 rc=0 pid
	shift
	"$VPCFW" test "$@" >"$TMP/vt.out" 2>&1 &
	pid=$!
	VT_RUN=/run/vpcfw/vtest-$(printf '%x' "$pid")
	wait "$pid" || rc=$?
	[ "$rc" -eq "$want" ] && return 0
	say "  vpcfw test $* exited $rc, want $want:"
	sed 's/^/    /' "$TMP/vt.out"
	return 1
}

# Nothing of a run's own vpcfwd is left: no process, state dir or namespace.
nothing_left() {
	! pgrep -f "vpcfwd --lab $TMP/" >/dev/null &&
		[ ! -e "$VT_RUN" ] &&
		[ -z "$(ip netns list | awk '{print $1}' | grep -- "-$LAB\$")" ]
}

for ex in prototype ten-thousand million aws-export; do
	if [ "$ex" = aws-export ]; then f=$(export_prepare); else f=$(example_prepare $ex); fi
	n=$(grep -c '^  - ' "$f")
	check "$ex: every expectation met with real traffic (vpcfw test starts vpcfwd)" \
		vtest 0 "$f" --junit "$TMP/$ex.xml"
	check "$ex: summary '$n passed, 0 failed'" grep -qx "$n passed, 0 failed" "$TMP/vt.out"
	check "$ex: vpcfw test says it started its own vpcfwd" \
		grep -q "real traffic: vpcfwd started for this run (lab name vtest-" "$TMP/vt.out"
	check "$ex: every flow was really sent" \
		test "$(grep -c '^      real:    \(ACCEPT\|REJECT\) (' "$TMP/vt.out")" -eq "$n"
	check "$ex: JUnit has $n cases, none failed" \
		test "$(junit_summary "$TMP/$ex.xml")" = "$n 0 0"
	check "$ex: the run's vpcfwd and its namespaces are gone" nothing_left
done

# Every pair and port `--generate` lists for ten-thousand (TCP, UDP, ICMP)
# agrees with real traffic.
"$VPCFW" test --generate "$TMP/ten-thousand/lab.json" >"$TMP/gen.yaml"
n=$(grep -c '^  - ' "$TMP/gen.yaml")
check "generated ten-thousand file ($n flows): real traffic agrees, all met" \
	vtest 0 "$TMP/gen.yaml"
check "... '$n passed, 0 failed'" grep -qx "$n passed, 0 failed" "$TMP/vt.out"

# One wrong expectation: the prototype's SSH from the internet claimed open.
f=$TMP/prototype/expect.yaml
python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
h, s, r = t.partition("name: no SSH from the internet")
open(p, "w").write(h + s + r.replace("verdict: reject", "verdict: accept", 1))
PY
n=$(grep -c '^  - ' "$f")
check "one wrong expectation: exit 1" vtest 1 "$f" --junit "$TMP/wrong.xml"
check "one wrong expectation: '$((n - 1)) passed, 1 failed'" \
	grep -qx "$((n - 1)) passed, 1 failed" "$TMP/vt.out"
check "one wrong expectation: exactly one JUnit failure, the SSH one" \
	test "$(junit_summary "$TMP/wrong.xml")" = "$(printf '%s\n%s' "$n 1 0" "failed: no SSH from the internet")"
check "one wrong expectation: real traffic agreed with the offline REJECT" \
	grep -q "real:    REJECT" "$TMP/vt.out"

# An outside address the lab does not declare gets a host for the run,
# behind the internet gateway: from it to the web server's public IP.
cat >"$TMP/outside.yaml" <<YAML
lab: $TMP/prototype/lab.json
expect:
  - { from: 198.51.100.77, to: web-1-$LAB, proto: tcp, port: 443, verdict: accept }
  - { from: 198.51.100.77, to: web-1-$LAB, proto: tcp, port: 22, verdict: reject }
  - { from: web-1-$LAB, to: 198.51.100.77, proto: tcp, port: 443, verdict: accept }
YAML
check "an undeclared outside address gets a host for the run" vtest 0 "$TMP/outside.yaml"
check "... and all three flows went through vpcfwd" \
	test "$(grep -c '^      real:    \(ACCEPT\|REJECT\) (' "$TMP/vt.out")" -eq 3
check "... and nothing of that run is left" nothing_left

# The basic lab, served by a vpcfwd already running: vpcfw test uses it.
daemon_start "$(lab_prepare basic)"
cat >"$TMP/basic.yaml" <<YAML
lab: $TMP/basic.json
timeout_ms: 1500
expect:
  - { from: cli-$LAB, to: srv-$LAB, proto: tcp, port: 8080, verdict: accept }
  - { from: cli-$LAB, to: srv-$LAB, proto: tcp, port: 8081, verdict: reject }
  - { from: cli-$LAB, to: srv-$LAB, proto: udp, port: 5353, verdict: accept }
  - { from: cli-$LAB, to: srv-$LAB, proto: udp, port: 5354, verdict: reject }
  - { from: cli-$LAB, to: srv-$LAB, proto: icmp, verdict: accept }
  - { from: cli-$LAB, to: srv-$LAB, proto: icmpv6, verdict: accept }
  - { from: srv-$LAB, to: cli-$LAB, proto: tcp, port: 8080, verdict: reject }
  - { from: "subnet:front", to: srv-$LAB, proto: tcp, port: 9000, verdict: accept }
YAML
check "basic: TCP, UDP, ICMP, ICMPv6 probes agree through the running vpcfwd" \
	vtest 0 "$TMP/basic.yaml" --json
check "basic: --json says 8 flows, each real outcome as offline" python3 - "$TMP/vt.out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["passed"] == 8 and d["failed"] == 0, d
assert all(f["real"] == f["offline"] for f in d["flows"]), d["flows"]
PY
check "basic: vpcfw test used the running vpcfwd" python3 -c '
import json, sys
assert json.load(open(sys.argv[1]))["real_traffic"] == "a running vpcfwd"' "$TMP/vt.out"
check "basic: no second vpcfwd was started" eval '! grep -q "vpcfwd started for this run" "$TMP/vt.out" && [ ! -e "$VT_RUN" ]'

# Exit 3: the offline verdict comes from a lab where srv no longer opens
# tcp/9000 while the running vpcfwd still forwards it (the same namespaces,
# the old rules): real traffic and the offline verdict disagree, and that
# is reported as a vpcfw bug, never as an ordinary failure.
sed 's/"ports": "9000"/"ports": "9001"/' "$TMP/basic.json" >"$TMP/basic-changed.json"
check "changed rules offline vs running vpcfwd: exit 3" \
	vtest 3 "$TMP/basic.yaml" --lab "$TMP/basic-changed.json" --junit "$TMP/bug.xml"
check "... the flow is shown as a vpcfw bug with both verdicts" \
	grep -q "vpcfw bug: real traffic and the offline verdict disagree" "$TMP/vt.out"
check "... and is the one JUnit failure, of type vpcfw-bug" python3 - "$TMP/bug.xml" <<'PY'
import sys, xml.etree.ElementTree as E
s = E.parse(sys.argv[1]).getroot().find("testsuite")
f = [c for c in s.findall("testcase") if c.find("failure") is not None]
assert s.get("failures") == "1" and len(f) == 1, s.attrib
assert f[0].find("failure").get("type") == "vpcfw-bug", f[0].find("failure").attrib
assert "tcp 9000" in f[0].get("name"), f[0].get("name")
PY

# A running vpcfwd has no host for an undeclared address: an error, named.
printf 'lab: %s\nexpect:\n  - { from: cli-%s, to: 198.51.100.77, proto: tcp, port: 80, verdict: reject }\n' \
	"$TMP/basic.json" "$LAB" >"$TMP/nohost.yaml"
check "served lab, undeclared outside address: exit 2" vtest 2 "$TMP/nohost.yaml"
check "... saying the running vpcfwd has no host for it" \
	grep -q "the running vpcfwd has no host for this outside address" "$TMP/vt.out"

# A port already bound in the destination namespace: an error, not a pass.
tcp_server srv 8080
servers_ready || fail "socat on srv:8080 did not start"
check "basic: a bound port makes the flow an error (exit 2)" vtest 2 "$TMP/basic.yaml"
check "basic: the error names the bound port" grep -q "cannot listen on tcp port 8080" "$TMP/vt.out"

itest_finish
