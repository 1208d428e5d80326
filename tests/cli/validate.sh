#!/bin/bash
# vpcfw validate, end to end: exit codes (0 loads, 2 errors; --strict makes
# warnings errors), every diagnostic printed as "file: path: level: message",
# the summary, the examples and (when present) the public corpus.
set -u
BIN="${VPCFW_BINARY_DIR:?}/vpcfw"
SRC="${VPCFW_SOURCE_DIR:?}"
TMP=$(mktemp -d /tmp/vpcfw-validate.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0

# run EXPECTED_STATUS ARGS...: output in $TMP/out and $TMP/err
run() {
	local want=$1
	shift
	"$BIN" validate "$@" >"$TMP/out" 2>"$TMP/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: vpcfw validate $* exited $got, expected $want"
		sed 's/^/  out: /' "$TMP/out"
		sed 's/^/  err: /' "$TMP/err"
		fails=$((fails + 1))
		return 1
	fi
	return 0
}

# expect FILE TEXT: a line of FILE ($TMP/out or $TMP/err) is exactly TEXT
expect() {
	if ! grep -qxF -- "$2" "$1"; then
		echo "FAIL: missing line in $(basename "$1"): $2"
		sed 's/^/  have: /' "$1"
		fails=$((fails + 1))
	fi
}

[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }

for ex in prototype/lab.json ten-thousand/lab.json million/lab.json aws-export; do
	run 0 "$SRC/examples/$ex" && expect "$TMP/out" "0 errors, 0 warnings"
	run 0 --strict "$SRC/examples/$ex" && expect "$TMP/out" "0 errors, 0 warnings (--strict)"
	[ -s "$TMP/err" ] && { echo "FAIL: $ex printed diagnostics"; fails=$((fails + 1)); }
done
run 0 "$SRC/examples/ten-thousand/lab.json"
expect "$TMP/out" "lab ten-thousand ($SRC/examples/ten-thousand/lab.json)"
expect "$TMP/out" "  1 VPC, 6 subnets, 6 ENIs, 2 outside hosts"

# Errors in two files of one lab: all reported, exit 2, no summary.
mkdir "$TMP/bad"
cat >"$TMP/bad/subnets.json" <<'JSON'
{"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/33"}]}
JSON
cat >"$TMP/bad/groups.json" <<'JSON'
{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [
  {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}
JSON
run 2 "$TMP/bad"
expect "$TMP/err" "$TMP/bad/subnets.json: Subnets[0].CidrBlock: error: '10.0.0.0/33' is not an IPv4 CIDR block"
expect "$TMP/err" "$TMP/bad/groups.json: SecurityGroups[0].IpPermissions[0].FromPort: error: port range 443-80 runs backwards"
expect "$TMP/out" "2 errors, 0 warnings"
grep -q "^lab " "$TMP/out" && { echo "FAIL: summary printed for a failed lab"; fails=$((fails + 1)); }

# A warning: exit 0, but 2 with --strict.
cat >"$TMP/warn.json" <<'JSON'
{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [
  {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "2.2.2.2/28"}]}]}]}
JSON
W="$TMP/warn.json: SecurityGroups[0].IpPermissions[0].IpRanges[0].CidrIp"
run 0 "$TMP/warn.json" && expect "$TMP/err" "$W: warning: '2.2.2.2/28' has host bits set; using 2.2.2.0/28"
expect "$TMP/out" "0 errors, 1 warning"
run 2 --strict "$TMP/warn.json" && expect "$TMP/err" "$W: error: '2.2.2.2/28' has host bits set; using 2.2.2.0/28"

# An export without describe-route-tables: a warning naming what is assumed.
cat >"$TMP/nort.json" <<'JSON'
{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"}]}
JSON
run 0 "$TMP/nort.json" && expect "$TMP/err" "$TMP/nort.json: Vpcs[0]: warning: VPC vpc-1 has no route table in the lab (no describe-route-tables output?): assumed only 10.0.0.0/16 -> local; flows with hosts outside the VPC are rejected at the route stage"
expect "$TMP/out" "0 errors, 2 warnings" # and the assumed default NACL

# Our format: a typo is an error at its path.
cat >"$TMP/typo.json" <<'JSON'
{"lab": "typo", "vpcs": [{"name": "v", "cidr": "10.0.0.0/16", "subnet": []}]}
JSON
run 2 "$TMP/typo.json" && expect "$TMP/err" "$TMP/typo.json: vpcs[0].subnet: error: unknown key"

# Not a lab at all, a missing path, bad usage.
echo '{"hello": "world"}' >"$TMP/other.json"
run 2 "$TMP/other.json" && expect "$TMP/err" "$TMP/other.json: error: not a lab file: its top-level keys match neither the vpcfw lab format (vpcs, ...), Terraform JSON, nor any aws describe-* output vpcfw knows"
run 2 "$TMP/none.json" && expect "$TMP/err" "$TMP/none.json: error: cannot open: No such file or directory"
run 2
run 2 a b
run 2 --bogus "$TMP/warn.json"
run 0 --help

# Real exports by other people, when the corpus is next to the tree.
CORPUS="$SRC/../shared/corpus"
if [ -d "$CORPUS" ]; then
	for d in batfish/test-subnet batfish/test-public-private-subnet batfish/test-vpc-peering \
		batfish/hybrid-cloud-aws-us-west-2 pybatfish-hybrid-cloud/us-east-2; do
		run 0 "$CORPUS/$d"
	done
	run 2 "$CORPUS/batfish/sg-unit/SecurityGroupTest.json" && expect "$TMP/out" "5 errors, 0 warnings"
	run 2 "$CORPUS/cloudmapper-demo"
elif [ "${CI:-}" = true ]; then
	echo "FAIL: corpus not found at $CORPUS (CI puts shared/ beside the clone)"
	fails=$((fails + 1))
else
	echo "corpus not found at $CORPUS: skipping that part"
fi

if [ "$fails" -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "validate.sh: all passed"
