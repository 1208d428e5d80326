#!/bin/bash
# Rule coverage end to end, no root: `vpcfw test --coverage --json` names
# exactly the rules the expectations left unexercised (worked out by hand
# for examples/prototype); --min-coverage fails the run below it;
# `--generate --cover` reaches 100 % of the reachable rules of every
# example lab, and the rules it calls unreachable are exactly those AWS's
# evaluation order keeps every packet from (listed below with the reason).
. "$(dirname "$0")/lib.sh"

run_rc() { local want=$1; shift; cli_rc "$want" "$bin" test "$@"; }

# unexercised FILE: "exercised total" then the unexercised rules' texts.
unexercised() {
	python3 - "$1" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["coverage"]
assert c["total"] == len(c["exercised"]) + len(c["unexercised"]), c
for r in c["exercised"] + c["unexercised"]:
    assert (r.get("group") or r.get("nacl"))["id"] and r["direction"] and r["text"], r
print(len(c["exercised"]), c["total"])
for r in c["unexercised"]:
    print(r["text"])
PY
}

# examples/prototype/expect.yaml sends: client -> web-1 tcp 443, 80, 22;
# client -> db-1 5432; web-1 -> db-1 5432; db-1 -> web-1 80. So web's
# ingress ICMP 3/4 rule is never met (no ICMP flow) and web's egress 443
# to 0.0.0.0/0 neither (web-1 opens no connection to the internet);
# everything else decides one of those flows. 6 of 8.
proto=$src/examples/prototype
if run_rc 0 "$proto/expect.yaml" --offline --coverage --json; then
	unexercised "$tmp/out" | sed 's/sg-[0-9a-f]* //' >"$tmp/got"
	printf '%s\n' "6 8" "(web) ingress icmp type 3 code 4 from 0.0.0.0/0" \
		"(web) egress tcp 443 to 0.0.0.0/0" >"$tmp/want"
	diff -u "$tmp/want" "$tmp/got" >&2 || fail "prototype: unexercised rules"
fi
if run_rc 0 "$proto/expect.yaml" --offline --coverage; then
	grep -qx "coverage: 6 of 8 rules exercised (75.0%)" "$tmp/out" || fail "coverage text total"
	grep -q "not exercised: .*(web) egress tcp 443 to 0.0.0.0/0" "$tmp/out" || fail "coverage text rule"
fi
run_rc 0 "$proto/expect.yaml" --offline --min-coverage 75
run_rc 1 "$proto/expect.yaml" --offline --min-coverage 80 &&
	{ grep -q "below --min-coverage" "$tmp/err" || fail "min-coverage says nothing"; }
run_rc 2 "$proto/expect.yaml" --offline --min-coverage 101
run_rc 2 "$proto/expect.yaml" --offline --cover

# Rules no packet can reach, per example, by AWS's order (SG egress, NACL
# egress, route, NACL ingress, SG ingress; first match in NACLs):
#  aws-export: the default group's "all from itself" — only one ENI
#    carries it, and a flow needs two ends; shop-app's udp 123 to the Time
#    Sync Service — security groups do not filter it (AWS-SEMANTICS §1).
#  ten-thousand, million: the VPC's default NACL serves no subnet.
#  million: app NACL ingress 200 (deny tcp 22 from 0.0.0.0/0) — the app
#    subnets have no internet route, and no ENI's SG egress allows tcp 22
#    to the app tier, so no tcp 22 packet reaches that NACL.
unreachable() {
	case $1 in
	prototype) ;;
	aws-export) printf '%s\n' "(default) ingress all traffic from sg-0d3e4f5a6b7c8091b (default)" \
		"(shop-app) egress udp 123 to 169.254.169.123/32" ;;
	ten-thousand) printf '%s\n' "(default) ingress rule 100: allow all traffic from 0.0.0.0/0" \
		"(default) ingress rule 101: allow all traffic from ::/0" \
		"(default) egress rule 100: allow all traffic to 0.0.0.0/0" \
		"(default) egress rule 101: allow all traffic to ::/0" ;;
	million) printf '%s\n' "(app) ingress rule 200: deny tcp 22 from 0.0.0.0/0" \
		"(default) ingress rule 100: allow all traffic from 0.0.0.0/0" \
		"(default) ingress rule 101: allow all traffic from ::/0" \
		"(default) egress rule 100: allow all traffic to 0.0.0.0/0" \
		"(default) egress rule 101: allow all traffic to ::/0" ;;
	*) echo "no reference for $1" ;;
	esac
}

n=0
for lab in "$src"/examples/*/; do
	name=$(basename "$lab")
	n=$((n + 1))
	"$bin" test --generate "$lab" --cover >"$tmp/$name.yaml" 2>"$tmp/err" ||
		{ fail "generate --cover $name"; continue; }
	flows=$(grep -c '^  - ' "$tmp/$name.yaml")
	grep -B1 '^  - ' "$tmp/$name.yaml" | grep -q '^  # covers ' || fail "$name: flows without a covers comment"
	run_rc 0 "$tmp/$name.yaml" --lab "$lab" --offline --coverage --json || continue
	unexercised "$tmp/out" >"$tmp/$name.cov"
	read -r ex total <"$tmp/$name.cov"
	tail -n +2 "$tmp/$name.cov" | sed 's/^[a-z]*-[0-9a-f]* //' >"$tmp/$name.un"
	sed -n 's/^# unreachable: [a-z]*-[0-9a-f]* //p' "$tmp/$name.yaml" >"$tmp/$name.said"
	unreachable "$name" >"$tmp/$name.ref"
	# every rule the file does not exercise is one the generator called
	# unreachable, and those are exactly the reference's
	diff -u "$tmp/$name.said" "$tmp/$name.un" >&2 || fail "$name: unexercised rules are not the unreachable ones"
	diff -u "$tmp/$name.ref" "$tmp/$name.said" >&2 || fail "$name: unreachable rules differ from the reference"
	reach=$((total - $(wc -l <"$tmp/$name.ref")))
	[ "$ex" = "$reach" ] || fail "$name: $ex exercised of $reach reachable"
	grep -q "^# --cover): $reach of $total rules reachable, $flows flows" "$tmp/$name.yaml" ||
		fail "$name: header: $(sed -n 2p "$tmp/$name.yaml")"
	[ "$flows" -le "$reach" ] || fail "$name: $flows flows for $reach rules is not small"
	echo "$name: $flows flows exercise $ex of $reach reachable rules ($total in all)"
done
[ "$n" -ge 4 ] || fail "only $n example labs"

cli_finish "coverage"
