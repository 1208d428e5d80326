#!/bin/bash
# A Terraform plan as the lab of real traffic: TerraGoat's plan (from the
# shared corpus, written by another project) runs under vpcfw test, which
# starts vpcfwd for it; the internet reaches the web instance on 80 and
# not on 443, the web instance reaches the RDS instance on 3306 and not on
# 5432, as AWS decides, and real traffic agrees with the offline verdicts.
# The resources that become ENIs are renamed with this run's lab name, so
# their namespaces (named from ids made from the addresses) are unique.
. "$(dirname "$0")/lib.sh"
itest_init
need python3
PLAN="$VPCFW_SOURCE_DIR/../shared/corpus/terraform/checkov-terragoat-tfplan.json"
[ -f "$PLAN" ] || { say "FAIL: no corpus plan at $PLAN (CI puts shared/ beside the clone)"; exit 1; }

python3 - "$PLAN" "$TMP/plan.json" "$LAB" <<'PY'
import json, sys
src, dst, run = sys.argv[1:]
plan = json.load(open(src))
kinds = {"aws_instance", "aws_elb", "aws_db_instance", "aws_eks_cluster",
         "aws_network_interface", "aws_lambda_function"}
renamed = {}
for r in plan["resource_changes"]:
    if r["type"] in kinds and "module_address" not in r:
        old = r["address"]
        r["name"] = "%s_%s" % (r["name"], run)
        r["address"] = "%s.%s" % (r["type"], r["name"])
        renamed[old] = r["address"]
for r in plan["configuration"]["root_module"]["resources"]:
    r["address"] = renamed.get(r["address"], r["address"])
json.dump(plan, open(dst, "w"))
PY

W="aws_instance.web_host_$LAB"
D="aws_db_instance.default_$LAB"
cat >"$TMP/expect.yaml" <<YAML
lab: plan.json
expect:
  - { from: 203.0.113.9, to: $W, proto: tcp, port: 80, verdict: accept }
  - { from: 203.0.113.9, to: $W, proto: tcp, port: 443, verdict: reject }
  - { from: $W, to: $D, proto: tcp, port: 3306, verdict: accept }
  - { from: $W, to: $D, proto: tcp, port: 5432, verdict: reject }
YAML

rc=0
"$VPCFW" test "$TMP/expect.yaml" >"$TMP/vt.out" 2>&1 || rc=$?
check "TerraGoat plan: every expectation met with real traffic (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || sed 's/^/    /' "$TMP/vt.out"
check "... 4 passed" grep -q "^4 passed, 0 failed" "$TMP/vt.out"
check "... real traffic reached the web instance's public IP" \
	grep -q "real:    ACCEPT (connected" "$TMP/vt.out"
check_not "... and nothing disagreed with the offline verdict" grep -q "DISAGREE" "$TMP/vt.out"

itest_finish
