#!/bin/bash
# `vpcfw lint` end to end, no root: on the planted-problems labs
# (tests/lint-lab: our format, and aws/ in describe-* shapes) --json
# reports exactly the problems planted.json / aws-planted.json list (each
# one, and nothing on the clean parts), every finding carrying id,
# severity, message and its rules described in full; the example labs are
# clean; --severity filters; bad input exits 2.
. "$(dirname "$0")/lib.sh"

run_rc() { local want=$1; shift; cli_rc "$want" "$bin" lint "$@"; }

lab=$src/tests/lint-lab/lab.json

# signatures FILE: one line per finding, "id owner direction rule" as
# planted.json writes them; checks the contract's fields on the way.
signatures() {
	python3 - "$1" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert set(doc) == {"findings"}, doc.keys()
for f in doc["findings"]:
    for k in ("id", "severity", "message", "rules"):
        assert k in f, (k, f)
    assert f["severity"] in ("note", "warning", "error"), f
    assert f["message"], f
    if not f["rules"]:
        print(f["id"], f["group"]["name"])
        continue
    for r in f["rules"]:
        owner = r.get("group") or r.get("nacl")
        assert owner and owner["id"] and "name" in owner, r
        assert r["direction"] in ("ingress", "egress"), r
        assert "protocol" in r and r["file"] and r["json_path"], r
        if r["kind"] == "nacl-entry":
            assert isinstance(r["rule_number"], int) and r["action"] in ("allow", "deny"), r
            assert r["cidr"], r
        else:
            assert r["kind"] == "sg-rule" and len(r["peer"]) >= 1, r
    r = f["rules"][0]
    owner = (r.get("group") or r.get("nacl"))["name"]
    if r["kind"] == "nacl-entry":
        print(f["id"], owner, r["direction"], r["rule_number"])
    else:
        p = r["peer"]
        peer = p.get("cidr") or p.get("group_name") or p.get("prefix_list_name")
        print(f["id"], owner, r["direction"], r["protocol"],
              "%d-%d" % (r["from_port"], r["to_port"]), peer)
PY
}

# planted LAB PLANTED: lint --json must report exactly the findings listed.
planted() {
	run_rc 1 "$1" --json || return
	signatures "$tmp/out" | sort >"$tmp/got" || fail "$1: lint --json output breaks the contract"
	python3 -c 'import json,sys; [print(f["finding"]) for f in json.load(open(sys.argv[1]))["findings"]]' \
		"$2" | sort >"$tmp/want"
	diff -u "$tmp/want" "$tmp/got" >&2 || fail "$1: findings differ from $2 (- planted, + reported)"
}
# our lab format, and the same kind of problems in unchanged describe-* exports
planted "$lab" "$src/tests/lint-lab/planted.json"
grep -E ' (clean|web|default) ' "$tmp/got" >&2 && fail "a finding on a clean part"
planted "$src/tests/lint-lab/aws" "$src/tests/lint-lab/aws-planted.json"

# text output: one line per finding and the count
if run_rc 1 "$lab"; then
	tail -n 1 "$tmp/out" | grep -qx "11 findings in $lab" || fail "text summary: $(tail -n 1 "$tmp/out")"
	grep -q '^error open-admin-port: .*bastion.* 22 (SSH)' "$tmp/out" || fail "text: open-admin-port line"
	grep -q "at $lab: vpcs\[0\].nacls\[0\].ingress\[4\]" "$tmp/out" || fail "text: location of the shadowed entry"
fi

# --severity error keeps the five errors: contradicted, admin port, three missing returns
if run_rc 1 "$lab" --json --severity error; then
	ids=$(python3 -c 'import json,sys; print(" ".join(sorted(f["id"] for f in json.load(sys.stdin)["findings"])))' <"$tmp/out")
	[ "$ids" = "nacl-contradicted nacl-no-return nacl-no-return nacl-no-return open-admin-port" ] ||
		fail "--severity error kept: $ids"
fi
run_rc 1 "$lab" --severity note >/dev/null
run_rc 2 "$lab" --severity fatal
run_rc 2
run_rc 2 /nonexistent-lab
grep -q "nonexistent-lab" "$tmp/err" || fail "bad lab: the error names no path"
run_rc 0 --help

# The reference architectures are clean. (aws-export puts AWS's default
# group, all traffic out, beside shop-app on one ENI: its default outbound
# rule covers shop-app's egress rules, which is no finding.)
for ex in prototype ten-thousand million aws-export; do
	run_rc 0 "$src/examples/$ex" && { grep -qx "0 findings in $src/examples/$ex" "$tmp/out" || fail "$ex summary"; }
done

cli_finish "lint"
