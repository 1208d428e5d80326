#!/bin/bash
# vpcfw import, end to end: every example, and the corpus inputs whose
# exports agree with themselves, written as one lab file that validates
# with no error and gives the same verdicts as its source (vpcfw diff of
# the two: exit 0, nothing differs). Several paths make one lab; bad
# input and bad usage exit 2.
. "$(dirname "$0")/lib.sh"
CORPUS="$src/../shared/corpus"

# roundtrip SOURCE...: import, validate, and no verdict differs
roundtrip() {
	local out="$tmp/lab.json"
	rm -f "$out"
	if ! "$bin" import "$@" -o "$out" 2>"$tmp/err"; then
		fail "vpcfw import $* exited $?"
		sed 's/^/  /' "$tmp/err" | head -5
		return
	fi
	"$bin" validate "$out" >"$tmp/out" 2>"$tmp/err"
	if ! grep -q "^0 errors" "$tmp/out"; then
		fail "import of $* does not validate"
		grep ': error: ' "$tmp/err" | head -5 | sed 's/^/  /'
		return
	fi
	local src
	src=$(IFS=,; echo "$*")
	"$bin" diff "$src" "$out" >"$tmp/diff" 2>&1
	local rc=$?
	if [ $rc != 0 ]; then
		fail "import of $* changes verdicts (vpcfw diff exited $rc)"
		head -5 "$tmp/diff" | sed 's/^/  /'
	fi
}

for ex in prototype/lab.json ten-thousand/lab.json million/lab.json aws-export; do
	roundtrip "$src/examples/$ex"
done

# ids and names are kept, and one check gives the same answer in both
"$bin" import "$src/examples/ten-thousand/lab.json" -o "$tmp/t.json" 2>/dev/null
for f in "$src/examples/ten-thousand/lab.json" "$tmp/t.json"; do
	# the same answer; only where each rule was written differs
	"$bin" check "$f" --from app-1 --to db-w --proto tcp --port 5432 --json 2>&1 |
		grep -v '"file": \|"path": ' >"$tmp/$(basename "$f").check"
done
cmp -s "$tmp/lab.json.check" "$tmp/t.json.check" || fail "check app-1 -> db-w differs after import"
grep -q "\"verdict\": \"ACCEPT\"" "$tmp/t.json.check" || fail "check app-1 -> db-w: $(head -c 200 "$tmp/t.json.check")"
grep -q '"name": "app-1"' "$tmp/t.json" || fail "ENI name app-1 not kept"

# to standard output without -o; two paths make one lab
"$bin" import "$src/examples/prototype/lab.json" >"$tmp/stdout.json" 2>/dev/null || fail "import to stdout"
grep -q '"vpcs"' "$tmp/stdout.json" || fail "import to stdout wrote no lab"

if [ -d "$CORPUS" ]; then
	for d in real/batfish-load-balancer real/batfish-nat-gateway real/batfish-transit-gateway \
		real/batfish-tgw-asymmetric-paths real/batfish-tgw-peering-multi-account \
		real/batfish-vpc-endpoint-gateway real/batfish-vpc-endpoint-interface \
		real/batfish-vpc-peering-multi-account real/batfish-vpn-gateway \
		real/batfish-ipsec-vpn-host-2017 batfish/test-vpc-peering; do
		roundtrip "$CORPUS/$d"
	done
	for f in "$CORPUS"/terraform/*.json; do
		roundtrip "$f"
	done
	roundtrip "$CORPUS/real/batfish-nat-gateway" "$CORPUS/real/batfish-vpn-gateway"
	# Terraform resource addresses still name the endpoints
	"$bin" import "$CORPUS/terraform/checkov-terragoat-tfplan.json" -o "$tmp/tf.json" 2>/dev/null
	out=$("$bin" check "$tmp/tf.json" --from 203.0.113.9 --to aws_instance.web_host \
		--proto tcp --port 80 2>&1 | tail -1)
	[ "$out" = "verdict: ACCEPT" ] || fail "imported Terraform lab: aws_instance.web_host: $out"
fi

"$bin" import "$tmp/none.json" -o "$tmp/x.json" >/dev/null 2>&1
[ $? = 2 ] || fail "import of a missing path did not exit 2"
[ -e "$tmp/x.json" ] && fail "import of a missing path wrote a file"
"$bin" import >/dev/null 2>&1
[ $? = 2 ] || fail "import without a path did not exit 2"
"$bin" import --bogus x >/dev/null 2>&1
[ $? = 2 ] || fail "import --bogus did not exit 2"
"$bin" import "$src/examples/prototype/lab.json" -o /nonexistent/dir/x.json >/dev/null 2>&1
[ $? = 2 ] || fail "import to an unwritable path did not exit 2"

cli_finish import
