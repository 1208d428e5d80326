#!/bin/bash
# SARIF 2.1.0 from `vpcfw lint`, `vpcfw test` and `vpcfw diff`, checked
# against the properties the SARIF 2.1.0 schema requires (version,
# $schema, runs[].tool.driver.name, results[].message.text) and those code
# scanning needs (ruleId, level, a location: artifactLocation.uri with a
# region, or logicalLocations naming the JSON path); the lines point at
# the rules. Also: a `vpcfw test` run that stops early (the lab does not
# load) still writes its JUnit file (one errored test case) and SARIF.
. "$(dirname "$0")/lib.sh"


# validate FILE: checks the log; prints "ruleId startLine uri" per result.
validate() {
	python3 - "$1" <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))
assert log.get("version") == "2.1.0", "version"
assert isinstance(log.get("$schema"), str) and "sarif-2.1.0" in log["$schema"], "$schema"
runs = log.get("runs")
assert isinstance(runs, list) and runs, "runs"
for run in runs:
    driver = run["tool"]["driver"]
    assert isinstance(driver.get("name"), str) and driver["name"], "tool.driver.name"
    rules = driver.get("rules", [])
    for r in rules:
        assert isinstance(r.get("id"), str) and r["id"], "rule id"
    assert isinstance(run.get("results"), list), "results"
    for res in run["results"]:
        assert isinstance(res["message"]["text"], str) and res["message"]["text"], "message.text"
        assert isinstance(res.get("ruleId"), str) and res["ruleId"], "ruleId"
        assert res.get("level") in ("none", "note", "warning", "error"), "level"
        if "ruleIndex" in res:
            assert rules[res["ruleIndex"]]["id"] == res["ruleId"], "ruleIndex"
        locs = res.get("locations")
        assert isinstance(locs, list) and locs, "locations"
        line = "-"
        for loc in locs:
            phys = loc.get("physicalLocation")
            logical = loc.get("logicalLocations", [])
            has_region = False
            if phys:
                assert isinstance(phys["artifactLocation"]["uri"], str) and phys["artifactLocation"]["uri"], "uri"
                if "region" in phys:
                    assert isinstance(phys["region"]["startLine"], int) and phys["region"]["startLine"] >= 1, "startLine"
                    has_region = True
                    line = phys["region"]["startLine"]
            for l in logical:
                assert isinstance(l["fullyQualifiedName"], str) and l["fullyQualifiedName"], "logical name"
            assert phys and (has_region or logical), "a uri with a region, or logical locations"
        uri = locs[0]["physicalLocation"]["artifactLocation"]["uri"]
        print(res["ruleId"], line, uri)
PY
}

lab=$src/tests/lint-lab/lab.json

# lint: one result per finding, each at its rule's line in the lab file
if cli_rc 1 "$bin" lint "$lab" --sarif "$tmp/lint.sarif"; then
	validate "$tmp/lint.sarif" >"$tmp/lint.res" || fail "lint SARIF invalid"
	[ "$(wc -l <"$tmp/lint.res")" = 11 ] || fail "lint SARIF: $(wc -l <"$tmp/lint.res") results, want 11"
	line=$(awk '$1 == "nacl-shadowed" {print $2}' "$tmp/lint.res")
	sed -n "${line}p" "$lab" | grep -q '"rule": 120' || fail "nacl-shadowed result at line $line, not rule 120"
	line=$(awk '$1 == "open-admin-port" {print $2}' "$tmp/lint.res")
	sed -n "${line}p" "$lab" | grep -q '"ports": "22", "from": "0.0.0.0/0"' ||
		fail "open-admin-port result at line $line, not the bastion rule"
fi
cli_rc 0 "$bin" lint "$src/examples/prototype" --sarif "$tmp/clean.sarif" &&
	{ [ "$(validate "$tmp/clean.sarif" | wc -l)" = 0 ] || fail "clean lab: SARIF results"; }

# test: a failed expectation at its line in the expectations file, and
# the unexercised rules as notes at theirs
proto=$src/examples/prototype
mkdir -p "$tmp/wrong"
sed 's/^lab: lab.json/lab: '"$(printf '%s' "$proto/lab.json" | sed 's/[\/&]/\\&/g')"'/' \
	"$proto/expect.yaml" >"$tmp/wrong/expect.yaml"
python3 - "$tmp/wrong/expect.yaml" <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
# the "no SSH from the internet" expectation now claims SSH is open
for i, l in enumerate(lines):
    if "no SSH from the internet" in l:
        j = next(k for k in range(i, len(lines)) if "verdict:" in lines[k])
        lines[j] = lines[j].replace("reject", "accept")
open(p, "w").write("\n".join(lines))
PY
if cli_rc 1 "$bin" test "$tmp/wrong/expect.yaml" --offline --coverage --sarif "$tmp/test.sarif"; then
	validate "$tmp/test.sarif" >"$tmp/test.res" || fail "test SARIF invalid"
	line=$(awk '$1 == "expectation-not-met" {print $2}' "$tmp/test.res")
	sed -n "${line}p" "$tmp/wrong/expect.yaml" | grep -q "no SSH from the internet" ||
		fail "expectation-not-met at line $line, not the SSH item"
	[ "$(grep -c '^rule-unexercised ' "$tmp/test.res")" = 2 ] || fail "test SARIF: unexercised notes"
fi

# diff: the opened flow at the rule that opens it, in NEW
mkdir -p "$tmp/new"
sed 's/"ports": "443", "from": "0.0.0.0\/0"/"ports": "443-444", "from": "0.0.0.0\/0"/' \
	"$proto/lab.json" >"$tmp/new/lab.json"
if cli_rc 1 "$bin" diff "$proto" "$tmp/new" --sarif "$tmp/diff.sarif"; then
	validate "$tmp/diff.sarif" >"$tmp/diff.res" || fail "diff SARIF invalid"
	read -r id line uri <"$tmp/diff.res"
	[ "$id $uri" = "flow-opened $tmp/new/lab.json" ] || fail "diff result: $id $uri"
	sed -n "${line}p" "$tmp/new/lab.json" | grep -q '443-444' || fail "diff result at line $line"
fi
cli_rc 0 "$bin" diff "$proto" "$proto" --sarif "$tmp/same.sarif" &&
	{ [ "$(validate "$tmp/same.sarif" | wc -l)" = 0 ] || fail "no change: SARIF results"; }

# a run that stops early: the lab does not load
printf '{ "vpcs": [ { "name": "x", "cidr": "10.0.0.0/33" } ] }\n' >"$tmp/broken.json"
printf 'lab: broken.json\nexpect:\n  - { from: a, to: b, proto: tcp, port: 1, verdict: accept }\n' \
	>"$tmp/early.yaml"
if cli_rc 2 "$bin" test "$tmp/early.yaml" --offline --junit "$tmp/early.xml" --sarif "$tmp/early.sarif"; then
	python3 - "$tmp/early.xml" <<'PY' || fail "early stop: JUnit is not one errored case"
import sys, xml.etree.ElementTree as E
s = E.parse(sys.argv[1]).getroot().find("testsuite")
cases = s.findall("testcase")
assert s.get("tests") == "1" and s.get("errors") == "1" and len(cases) == 1
err = cases[0].find("error")
assert err is not None and err.get("type") == "run-error"
assert "broken.json" in err.text and "10.0.0.0/33" in err.text, err.text
PY
	validate "$tmp/early.sarif" | grep -q "^run-error 1 $tmp/early.yaml$" || fail "early stop: SARIF"
fi

# A lab read from Terraform: each result names the resource address that
# wrote the rule (a logical location of kind "resource", the attribute as
# the member) and points at the line where the plan describes it.
tg="$src/../shared/corpus/terraform/checkov-terragoat-tfplan.json"
[ -f "$tg" ] || fail "no Terraform corpus at $tg (CI puts shared/ beside the clone)"
if [ -f "$tg" ] && cli_rc 1 "$bin" lint "$tg" --sarif "$tmp/tf.sarif"; then
	validate "$tmp/tf.sarif" >/dev/null || fail "Terraform lint SARIF invalid"
	want=$(grep -n '"address": "aws_security_group.web-node"' "$tg" | head -1 | cut -d: -f1)
	python3 - "$tmp/tf.sarif" "$want" <<'PY' || fail "Terraform SARIF: not at aws_security_group.web-node"
import json, sys
res = json.load(open(sys.argv[1]))["runs"][0]["results"]
r = [r for r in res if r["ruleId"] == "open-admin-port"]
assert len(r) == 1, res
loc = r[0]["locations"][0]
names = {l["kind"]: l["fullyQualifiedName"] for l in loc["logicalLocations"]}
assert names == {"resource": "aws_security_group.web-node",
                 "member": "aws_security_group.web-node.ingress[0]"}, names
assert loc["physicalLocation"]["region"]["startLine"] == int(sys.argv[2]), loc
PY
fi

cli_finish "sarif"
