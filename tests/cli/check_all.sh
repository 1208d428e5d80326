#!/bin/bash
# `vpcfw check --all` end to end, no root: every stage that would reject a
# flow (each evaluated as if the others admitted it) and the smallest set
# of changes admitting it. The blockers below are worked out by hand from
# the labs and AWS's order (AWS-SEMANTICS §1: SG egress, NACL egress,
# route, NACL ingress, SG ingress; the reply meets the NACLs again, its SG
# stages pass by tracking) and §2 (first match; the reply goes to the
# client's ephemeral ports 32768-60999).
. "$(dirname "$0")/lib.sh"

# blockers RC LAB FROM TO PORT: check --all --json must exit RC; prints
# "direction stage change" per blocker, group and NACL ids cut out.
blockers() {
	local want=$1 lab=$2 from=$3 to=$4 port=$5
	"$bin" check "$lab" --from "$from" --to "$to" --proto tcp --port "$port" --all --json \
		>"$tmp/out" 2>"$tmp/err"
	local got=$?
	[ "$got" = "$want" ] || { fail "check $from -> $to $port exited $got, want $want"; return; }
	python3 - "$tmp/out" <<'PY'
import json, re, sys
for b in json.load(open(sys.argv[1]))["blockers"]:
    assert b["verdict"] == "REJECT" and b["reason"], b
    print(b["direction"], b["stage"], re.sub(r"(sg|acl|rtb|subnet)-[0-9a-f]+ ", "", b["change"]))
PY
}

expect_blockers() {
	local name=$1
	shift
	: >"$tmp/want"
	[ $# = 0 ] || printf '%s\n' "$@" >"$tmp/want"
	diff -u "$tmp/want" "$tmp/got" >&2 || fail "$name: blockers differ (- expected, + got)"
}

proto=$src/examples/prototype
lab=$src/tests/lint-lab/lab.json

# db has no egress rule and web no ingress for 5432: both SG stages
# block; the default NACL allows all.
blockers 1 "$proto" db-1 web-1 5432 >"$tmp/got"
expect_blockers "prototype db-1 -> web-1" \
	"request sg-egress add to (db) egress: tcp 5432 to (web)" \
	"request sg-ingress add to (web) ingress: tcp 5432 from (db)"

# app NACL rule 90 denies SSH from everywhere before 100 allows it from
# the bastion subnet; everything else admits it.
blockers 1 "$lab" bastion-1 app-1 22 >"$tmp/got"
expect_blockers "bastion -> app ssh" \
	"request nacl-ingress NACL (app) ingress: an allow for tcp 22 from 10.20.30.0/24 numbered before rule 90"

# the request passes; the db NACL sends replies only to the public subnet
blockers 1 "$lab" app-1 db-1 5432 >"$tmp/got"
expect_blockers "app -> db" \
	"response nacl-egress NACL (db) egress: an allow for tcp 32768-60999 to 10.20.10.0/24 numbered before rule 32767"

# from the internet to the database: no internet route (and no public
# IP), NACL and SG ingress, the NACL egress of the reply, and the reply's
# route, fixed by the same route as the request's: 4 changes.
blockers 1 "$lab" user db-1 5432 >"$tmp/got"
expect_blockers "user -> db" \
	"request route route table (of subnet-03182b3bd472827c7): a route for 0.0.0.0/0 to an internet gateway; and give db-1 a public IPv4 or Elastic IP address" \
	"request nacl-ingress NACL (db) ingress: an allow for tcp 5432 from 203.0.113.10/32 numbered before rule 32767" \
	"request sg-ingress add to (db) ingress: tcp 5432 from 203.0.113.10/32" \
	"response nacl-egress NACL (db) egress: an allow for tcp 32768-60999 to 203.0.113.10/32 numbered before rule 32767" \
	"response route route table (of subnet-03182b3bd472827c7): a route for 0.0.0.0/0 to an internet gateway; and give db-1 a public IPv4 or Elastic IP address"
"$bin" check "$lab" --from user --to db-1 --proto tcp --port 5432 --all >"$tmp/out"
grep -qx "smallest change set that admits the flow: 4 changes" "$tmp/out" || fail "user -> db: change count"
grep -qx "    change: the same as above" "$tmp/out" || fail "user -> db: the shared route change"

# an accepted flow has none
blockers 0 "$lab" user alb-1 443 >"$tmp/got"
expect_blockers "user -> alb"
"$bin" check "$lab" --from user --to alb-1 --proto tcp --port 443 --all | grep -qx "blockers: none" ||
	fail "accepted flow: no 'blockers: none'"

# without --all nothing changes: no blockers key
"$bin" check "$proto" --from db-1 --to web-1 --proto tcp --port 5432 --json >"$tmp/out"
python3 -c 'import json,sys; assert "blockers" not in json.load(open(sys.argv[1]))' "$tmp/out" ||
	fail "blockers without --all"

cli_finish "check --all"
