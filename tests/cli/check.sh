#!/bin/bash
# `vpcfw check` end to end (DESIGN.md contract 4) on the shipped examples:
# exit codes 0/1/2, the stages and deciding rules in --json, the text
# output naming every stage, and errors that exit 2 with a message.
# Needs no root. Env: VPCFW_SOURCE_DIR, VPCFW_BINARY_DIR (set by ctest).
set -u

src=${VPCFW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPCFW_BINARY_DIR:-$src/build}/vpcfw
[ -x "$bin" ] || { echo "no vpcfw binary at $bin" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 needed to parse JSON" >&2; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vpcfw-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 runs=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect_rc RC LAB ARGS...: runs check, keeps stdout/stderr in $tmp.
expect_rc() {
	local want=$1 lab=$2
	shift 2
	runs=$((runs + 1))
	"$bin" check "$src/examples/$lab" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" != "$want" ]; then
		fail "check $lab $* exited $rc, want $want"
		sed 's/^/    /' "$tmp/out" "$tmp/err" >&2
		return 1
	fi
	return 0
}

# json_expect LAB PYTHON-ASSERTIONS ARGS...: --json output must satisfy the
# assertions (d is the parsed object; stage(dir, name) finds one stage).
json_expect() {
	local rc=$1 lab=$2 code=$3
	shift 3
	expect_rc "$rc" "$lab" "$@" --json || return
	python3 - "$tmp/out" "$code" <<'PY' || fail "json for $lab $*"
import json, sys
d = json.load(open(sys.argv[1]))
STAGES = {"sg-egress", "nacl-egress", "route", "nacl-ingress", "sg-ingress"}
VERDICTS = {"ACCEPT", "REJECT", "SKIPPED"}
assert d["verdict"] in ("ACCEPT", "REJECT"), d["verdict"]
for direction in ("request", "response"):
    part = d[direction]
    assert part["verdict"] in VERDICTS
    names = [s["stage"] for s in part["stages"]]
    if len(names) == 7:  # through a NAT gateway: its subnet's two NACL hops follow the route
        r = names.index("route")
        names = names[:r + 1] + names[r + 3:]
    core = [n for n in names if n != "route"]
    assert core == ["sg-egress", "nacl-egress", "nacl-ingress", "sg-ingress"], names
    for s in part["stages"]:
        for k in ("stage", "verdict", "rule_number", "group_id", "rule", "reason"):
            assert k in s, (k, s)
        assert s["stage"] in STAGES and s["verdict"] in VERDICTS, s
        assert isinstance(s["reason"], str) and s["reason"], s
        if s["stage"].startswith("nacl") and s["verdict"] != "SKIPPED":
            assert isinstance(s["rule_number"], int), s
        if s["stage"].startswith("sg") and s["verdict"] == "ACCEPT" and s["reason"] != "tracked":
            assert s["group_id"] and s["rule"], s
    # stages after a rejecting one are skipped
    seen = False
    for s in part["stages"]:
        if seen:
            assert s["verdict"] == "SKIPPED", s
        seen = seen or s["verdict"] == "REJECT"
    assert (part["verdict"] == "REJECT") == seen or part["verdict"] == "SKIPPED"
ok = d["request"]["verdict"] == "ACCEPT" and d["response"]["verdict"] in ("ACCEPT", "SKIPPED")
assert (d["verdict"] == "ACCEPT") == ok, d["verdict"]
def stage(direction, name):
    return [s for s in d[direction]["stages"] if s["stage"] == name][0]
exec(sys.argv[2])
PY
}

# ---- prototype: one web server, one database ----
P=prototype
if [ -d "$src/examples/$P" ]; then
	json_expect 0 $P '
assert stage("request", "sg-egress")["rule"].endswith("egress tcp 5432 to " + stage("request", "sg-ingress")["group_id"] + " (db)")
assert stage("request", "nacl-egress")["rule_number"] == 100
assert stage("response", "sg-egress")["reason"] == "tracked"
assert stage("response", "sg-ingress")["reason"] == "tracked"
assert d["response"]["port_from"] == 32768 and d["response"]["port_to"] == 60999
' --from web-1 --to db-1 --proto tcp --port 5432
	json_expect 0 $P '
assert stage("request", "route")["verdict"] == "ACCEPT"
assert stage("request", "sg-egress")["verdict"] == "SKIPPED"
assert "ingress tcp 443 from 0.0.0.0/0" in stage("request", "sg-ingress")["rule"]
' --from client --to web-1 --proto tcp --port 443
	# the public IP names the same ENI (the IGW translates 1:1)
	json_expect 0 $P 'assert d["request"]["dst"] == "10.0.1.10"' \
		--from 203.0.113.10 --to 198.51.100.20 --proto tcp --port 80
	# the database has no route from the internet
	json_expect 1 $P '
r = stage("request", "route")
assert r["verdict"] == "REJECT" and "no route" in r["reason"], r
assert d["response"]["verdict"] == "SKIPPED"
assert all(s["verdict"] == "SKIPPED" for s in d["response"]["stages"])
' --from client --to db-1 --proto tcp --port 5432
	json_expect 1 $P '
s = stage("request", "sg-egress")
assert s["verdict"] == "REJECT" and s["reason"].startswith("no rule matched"), s
' --from web-1 --to db-1 --proto tcp --port 22
	# the db group allows nothing out; a reply needs no rule (tracked)
	json_expect 1 $P 'assert stage("request", "sg-egress")["verdict"] == "REJECT"' \
		--from db-1 --to web-1 --proto tcp --port 443
	# ICMP: "fragmentation needed" in, no reply expected
	json_expect 0 $P '
assert d["response"]["verdict"] == "SKIPPED"
assert "no response" in d["response"]["reason"]
' --from client --to web-1 --proto icmp --icmp-type 3 --icmp-code 4
	json_expect 1 $P 'assert stage("request", "sg-ingress")["verdict"] == "REJECT"' \
		--from client --to web-1 --proto icmp
	# AWS services (§1): the Amazon DNS server (base+2) and the metadata
	# service are not filtered by NACLs, and SGs never block DNS
	json_expect 0 $P '
assert all(s["verdict"] == "SKIPPED" and "Amazon DNS server" in s["reason"]
           for s in d["request"]["stages"]), d["request"]["stages"]
assert not any(s["stage"] == "route" for s in d["request"]["stages"])
' --from web-1 --to 10.0.0.2 --proto udp --port 53
	json_expect 0 $P '
assert stage("request", "nacl-egress")["reason"].startswith("instance metadata service")
' --from web-1 --to 169.254.169.254 --proto tcp --port 80
	# text output names every stage and the deciding rules
	if expect_rc 0 $P --from web-1 --to db-1 --proto tcp --port 5432; then
		for w in "request:" "response:" sg-egress nacl-egress nacl-ingress sg-ingress \
			"rule 100" "tracked" "verdict: ACCEPT"; do
			grep -q -- "$w" "$tmp/out" || fail "text output lacks '$w'"
		done
		[ "$(grep -c ACCEPT "$tmp/out")" -ge 9 ] || fail "text output: stages missing"
	fi
	if expect_rc 1 $P --from web-1 --to db-1 --proto tcp --port 22; then
		grep -q "no rule matched" "$tmp/out" || fail "text REJECT lacks 'no rule matched'"
		grep -q "verdict: REJECT" "$tmp/out" || fail "text lacks 'verdict: REJECT'"
	fi
	# errors: exit 2 and a message on stderr, nothing on stdout
	for args in "--from nobody --to db-1 --proto tcp --port 5432" \
		"--from web-1 --to db-1 --proto tcp" \
		"--from web-1 --to db-1 --proto bogus --port 1" \
		"--from web-1 --to db-1 --proto icmp --port 1" \
		"--from web-1 --to db-1 --proto tcp --port 70000" \
		"--from web-1 --to db-1 --proto tcp --port 1 --ephemeral 9-2" \
		"--from 10.0.1.10 --to 2001:db8::1 --proto tcp --port 80" \
		"--from web-1 --to 2001:db8::1 --proto icmp" \
		"--from 203.0.113.10 --to 192.0.2.1 --proto tcp --port 80" \
		"--from web-1 --to web-1 --proto tcp --port 80" \
		"--to db-1 --proto tcp --port 80"; do
		# shellcheck disable=SC2086
		if expect_rc 2 $P $args; then
			[ -s "$tmp/err" ] || fail "no message on stderr for: $args"
			[ -s "$tmp/out" ] && fail "output on stdout for an error: $args"
		fi
	done
	runs=$((runs + 1))
	"$bin" check "$tmp/no-such-lab" --from a --to b --proto tcp --port 1 >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc = 2 ] || fail "missing lab exited $rc"
	grep -q "no-such-lab" "$tmp/err" || fail "missing lab: message does not name the path"
	printf '{"vpcs": [' >"$tmp/broken.json"
	runs=$((runs + 1))
	"$bin" check "$tmp/broken.json" --from a --to b --proto tcp --port 1 >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc = 2 ] || fail "broken JSON exited $rc"
	grep -q "broken.json" "$tmp/err" || fail "broken JSON: message does not name the file"
fi

# ---- ten-thousand: ALB, app tier, Aurora, custom NACLs ----
T=ten-thousand
if [ -d "$src/examples/$T" ]; then
	json_expect 0 $T '
assert stage("request", "nacl-ingress")["rule_number"] == 100
assert stage("response", "nacl-egress")["rule_number"] == 110
' --from client --to alb-a --proto tcp --port 443
	json_expect 0 $T '
assert d["request"]["src"] == "2001:db8:ff00::10"
assert stage("request", "nacl-ingress")["rule_number"] == 120
assert stage("response", "nacl-egress")["rule_number"] == 120
' --from client6 --to alb-a --proto tcp --port 443
	json_expect 0 $T '
assert stage("request", "sg-ingress")["rule"].endswith("(alb)")
assert stage("response", "nacl-egress")["rule_number"] == 110
assert stage("response", "nacl-ingress")["rule_number"] == 140
' --from alb-a --to app-1 --proto tcp --port 8080
	json_expect 0 $T '' --from app-2 --to db-w --proto tcp --port 5432
	json_expect 0 $T '' --from db-w --to db-r --proto tcp --port 5432
	json_expect 1 $T 'assert stage("request", "route")["verdict"] == "REJECT"' \
		--from client --to app-1 --proto tcp --port 8080
	json_expect 1 $T 'assert stage("request", "sg-egress")["verdict"] == "REJECT"' \
		--from alb-a --to db-w --proto tcp --port 5432
	json_expect 1 $T '
s = stage("request", "nacl-ingress")
assert s["verdict"] == "REJECT" and s["rule_number"] == 32767, s
' --from client --to alb-a --proto tcp --port 22
	# the response must pass for every port of the client range: 1000-2000
	# meets the public NACL egress rule 110 (1024-65535) only from 1024
	json_expect 1 $T '
s = stage("response", "nacl-egress")
assert s["verdict"] == "REJECT" and s["rule_number"] == 32767, s
assert s.get("refused_port") == 1000, s
assert "1000" in s["reason"]
assert d["request"]["verdict"] == "ACCEPT"
' --from client --to alb-a --proto tcp --port 443 --ephemeral 1000-2000
	json_expect 0 $T 'assert d["response"]["port_from"] == 1024' \
		--from client --to alb-a --proto tcp --port 443 --sport 1024
	json_expect 1 $T '' --from client --to alb-a --proto tcp --port 443 --sport 1023
	# app-1 has no IPv6 address: a family mismatch is an error
	expect_rc 2 $T --from client6 --to app-1 --proto tcp --port 8080
fi

# ---- million: a gateway endpoint to S3 ----
M=million
if [ -d "$src/examples/$M" ]; then
	json_expect 0 $M 'assert "vpce-" in stage("request", "route")["reason"]' \
		--from app-1 --to s3 --proto tcp --port 443
	json_expect 1 $M 'assert stage("request", "route")["verdict"] == "REJECT"' \
		--from s3 --to app-1 --proto tcp --port 443
fi

# ---- real exports nobody here shaped (skipped when the corpus is absent) ----
corpus=$src/../shared/corpus/batfish/test-public-private-subnet
if [ -d "$corpus" ]; then
	run_corpus() {
		local want=$1 code=$2
		shift 2
		runs=$((runs + 1))
		"$bin" check "$corpus" "$@" --json >"$tmp/out" 2>"$tmp/err"
		local rc=$?
		[ "$rc" = "$want" ] || { fail "corpus check $* exited $rc, want $want"; return; }
		python3 -c "import json, sys
d = json.load(open(sys.argv[1]))
st = {s['stage']: s for s in d['request']['stages']}
$code" "$tmp/out" || fail "corpus json for $*"
	}
	# the public instance: ssh from anywhere, replies untracked (all out)
	run_corpus 0 "assert st['route']['verdict'] == 'ACCEPT'
assert [s for s in d['response']['stages'] if s['stage'] == 'sg-egress'][0]['reason'].startswith('untracked')" \
		--from 198.51.100.7 --to eni-09da8cad43844dc1f --proto tcp --port 22
	# the private instance: its subnet routes 0/0 to a VPN gateway, the
	# way on-premises hosts reach it with private addresses
	run_corpus 0 "assert st['route']['verdict'] == 'ACCEPT' and 'vgw-' in st['route']['reason']" \
		--from 198.51.100.7 --to 10.0.1.204 --proto tcp --port 22
	run_corpus 1 "assert st['sg-ingress']['verdict'] == 'REJECT'" \
		--from 198.51.100.7 --to 13.58.55.60 --proto udp --port 53
elif [ "${CI:-}" = true ]; then
	fail "corpus not found at $corpus (CI puts shared/ beside the clone)"
fi

echo "check.sh: $runs runs, $fails failures"
[ $fails = 0 ]
