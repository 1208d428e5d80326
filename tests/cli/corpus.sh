#!/bin/bash
# Third-party material as users have it (../shared/corpus): every collector
# folder under real/ validates with no error (batfish-unit-fixtures aside:
# single-object test files), folders merge as A,B, and the Terraform plans
# and states of other projects load and give AWS's verdicts, endpoints
# named by resource address. vpcfw diff from a Terraform state to a plan
# is how CI compares before and after (docs/ci.md).
. "$(dirname "$0")/lib.sh"
CORPUS="$src/../shared/corpus"
[ -d "$CORPUS/real" ] || { echo "FAIL: no corpus at $CORPUS (CI puts shared/ beside the clone)"; exit 1; }

# validate LAB: exit 0 and "0 errors"
validate() {
	"$bin" validate "$1" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ $rc != 0 ] || ! grep -q "^0 errors" "$tmp/out"; then
		fail "vpcfw validate $1 exited $rc"
		grep ': error: ' "$tmp/err" | head -5 | sed 's/^/  /'
	fi
}

n=0
for d in "$CORPUS"/real/*/; do
	case "$d" in */batfish-unit-fixtures/) continue ;; esac
	validate "$d"
	n=$((n + 1))
done
[ $n -ge 12 ] || fail "only $n folders under real/"

# accounts/<id>/<region>/: read recursively, both accounts in one lab
"$bin" validate "$CORPUS/real/batfish-vpc-peering-multi-account" >"$tmp/out" 2>&1
grep -q "^  2 VPCs," "$tmp/out" || fail "multi-account: $(grep VPC "$tmp/out")"
# A,B: two folders, one lab
validate "$CORPUS/real/batfish-nat-gateway,$CORPUS/real/batfish-vpn-gateway"
"$bin" validate "$CORPUS/real/batfish-nat-gateway,$CORPUS/real/batfish-vpn-gateway" >"$tmp/out" 2>/dev/null
grep -q "^  2 VPCs, 4 subnets, 5 ENIs" "$tmp/out" || fail "A,B: $(grep VPC "$tmp/out")"
grep -q "^lab batfish-nat-gateway " "$tmp/out" || fail "A,B is named after A: $(head -1 "$tmp/out")"

TF="$CORPUS/terraform"
for f in "$TF"/*.json; do
	validate "$f"
done

# check LAB FROM TO PORT VERDICT: tcp, as AWS decides it
check() {
	local out
	out=$("$bin" check "$1" --from "$2" --to "$3" --proto tcp --port "$4" 2>&1 | tail -1)
	[ "$out" = "verdict: $5" ] || fail "check $(basename "$1") $2 -> $3 tcp $4: $out, AWS: $5"
}

G="$TF/checkov-terragoat-tfplan.json"
# web-node admits 22 and 80 from anywhere; the subnet maps public IPs and
# routes 0.0.0.0/0 to the internet gateway (aws_route by reference)
check "$G" 203.0.113.9 aws_instance.web_host 80 ACCEPT
check "$G" 203.0.113.9 aws_instance.web_host 22 ACCEPT
check "$G" 203.0.113.9 aws_instance.web_host 443 REJECT
# the RDS group admits 3306 from the VPC block only (aws_security_group_rule)
check "$G" aws_instance.web_host aws_db_instance.default 3306 ACCEPT
check "$G" aws_instance.web_host aws_db_instance.default 5432 REJECT
check "$G" 203.0.113.9 aws_db_instance.default 3306 REJECT
# an internet-facing classic ELB in web-node; an interface with no group
# given is in the VPC's default group (members only)
check "$G" 203.0.113.9 aws_elb.weblb 80 ACCEPT
check "$G" 203.0.113.9 aws_elb.weblb 443 REJECT
check "$G" aws_instance.web_host aws_network_interface.web-eni 22 REJECT

# the explanation names the resource (and block) that wrote the rule
"$bin" check "$G" --from 203.0.113.9 --to aws_instance.web_host --proto tcp --port 80 --json \
	>"$tmp/check.json" 2>/dev/null
grep -q '"path": "aws_security_group.web-node.ingress\[1\]"' "$tmp/check.json" ||
	fail "check --json names no resource address for the SG rule"
"$bin" check "$G" --from 203.0.113.9 --to aws_instance.web_host --proto tcp --port 80 \
	>"$tmp/check.txt" 2>/dev/null
grep -q '^ *written by aws_security_group.web-node.ingress\[1\]$' "$tmp/check.txt" ||
	fail "check names no resource address for the SG rule: $(cat "$tmp/check.txt")"

M="$TF/tfcompliance-resource-mounting-plan.out.json"
# no subnet: the default VPC's default subnet; the group by reference only
check "$M" 203.0.113.9 aws_instance.test_instance 443 ACCEPT
check "$M" 203.0.113.9 aws_instance.test_instance 22 REJECT
check "$M" aws_instance.test_instance 203.0.113.9 80 ACCEPT

A="$TF/tfcompliance-issue-249-plan.out.json"
# an ALB, a Lambda and an autoscaling group in subnets the file does not
# hold: assumed blocks; rules between groups decide as in AWS
check "$A" module.alb.aws_alb.alb module.myapp-asg.aws_autoscaling_group.asg 4000 ACCEPT
check "$A" module.alb.aws_alb.alb module.myapp-asg.aws_autoscaling_group.asg 8080 REJECT
check "$A" module.myapp-asg.aws_autoscaling_group.asg module.alb.aws_alb.alb 80 REJECT

S="$TF/infracost-terraform_v0.14_state.json"
P="$TF/infracost-terraform_v0.14_plan.json"
# every instance in the default VPC's default group: each other yes, the
# internet no; module addresses, count and for_each indexes name them
check "$S" aws_instance.instance_1 'module.instances.aws_instance.module_instance_counted[0]' 22 ACCEPT
check "$S" 'aws_instance.instance_named["test.1"]' module.instances.aws_instance.module_instance_1 5432 ACCEPT
check "$S" 203.0.113.9 aws_instance.instance_1 22 REJECT
check "$P" aws_instance.instance_2 'aws_instance.instance_named["test.1"]' 443 ACCEPT

# diff from the state to the plan: what the change opens, by address
"$bin" diff "$S" "$P" >"$tmp/diff" 2>"$tmp/err"
rc=$?
[ $rc = 1 ] || fail "diff state plan exited $rc, expected 1 (new instances): $(head -3 "$tmp/err")"
grep -q '^+ aws_instance.instance_1 (172.31.4.10) -> aws_instance.instance_2 (172.31.0.4) tcp 0-65535: sg-ingress: only in the NEW lab: sg-5277e14a (default) ingress all traffic from sg-5277e14a (default)$' "$tmp/diff" ||
	fail "diff state plan: no line for instance_2; have: $(head -2 "$tmp/diff")"
grep -q '^-' "$tmp/diff" && fail "diff state plan closes something: $(grep -m1 '^-' "$tmp/diff")"
# the same plan against itself, and under another name: nothing (ids
# made for what apply will create do not depend on the file's name)
"$bin" diff "$P" "$P" >/dev/null 2>&1 || fail "diff plan plan exited $?"
cp "$G" "$tmp/before.json"
cp "$G" "$tmp/after.json"
"$bin" diff "$tmp/before.json" "$tmp/after.json" >"$tmp/d2" 2>&1 ||
	fail "diff of one plan under two names exited $?: $(head -2 "$tmp/d2")"

cli_finish corpus
