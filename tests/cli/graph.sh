#!/bin/bash
# `vpcfw graph` on the shipped examples, as a user runs it: the Mermaid text
# must nest VPC > AZ > subnet subgraphs, draw every ENI once, show the ALB
# reaching the app tier by group reference and the internet reaching the
# ALB, and be byte-identical between runs and between stdout and --out.
# No renderer is assumed (mmdc needs a browser): the checks are structural.
set -u

bin="$VPCFW_BINARY_DIR/vpcfw"
src="$VPCFW_SOURCE_DIR"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vpcfw-graph.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/out.mmd" ] && sed 's/^/  | /' "$tmp/out.mmd" >&2
	exit 1
}

[ -x "$bin" ] || fail "no vpcfw binary at $bin"

count() { # count PATTERN FILE: lines matching an extended regex
	grep -cE "$1" "$2" || true
}

# Node id of the ENI whose label starts with NAME.
node_of() {
	sed -nE "s/^ *(n[0-9]+)\[\"$1 .*/\1/p; s/^ *(n[0-9]+)\[\"$1<br\/>.*/\1/p" "$2" | head -1
}

# Structure every lab's graph must have; prints nothing, fails loudly.
check_common() {
	local f=$1
	[ "$(head -1 "$f")" = "flowchart LR" ] || fail "$f: first line is not 'flowchart LR'"
	local opened closed
	opened=$(count '^ *subgraph ' "$f")
	closed=$(count '^ *end$' "$f")
	[ "$opened" -gt 0 ] || fail "$f: no subgraph"
	[ "$opened" = "$closed" ] || fail "$f: $opened subgraphs but $closed 'end' lines"
	# ids are generated: nothing but n/h/p/s/v/igw/inet ids start a statement
	local bad
	bad=$(grep -vE '^(flowchart LR|  *(subgraph (v[0-9]+(z[0-9]+)?|s[0-9]+) \[".*"\]|end|(n|h)[0-9]+\[".*"\]|inet\(\("internet"\)\)|igw[0-9]+\{\{".*"\}\}|igw[0-9]+ -\.- s[0-9]+|inet --- igw[0-9]+|p[0-9]+\[/".*"/\]|(n[0-9]+|h[0-9]+|p[0-9]+|inet) -->\|"[^"]*"\| n[0-9]+))$' "$f")
	[ -z "$bad" ] || fail "$f: lines outside the expected grammar: $bad"
	# every edge ends at a node that exists
	local id
	for id in $(sed -nE 's/.*\| (n[0-9]+)$/\1/p' "$f" | sort -u); do
		grep -qE "^ *$id\[" "$f" || fail "$f: edge to undeclared node $id"
	done
}

lab="$src/examples/ten-thousand"
[ -d "$lab" ] || { echo "FAIL: $lab absent (it is in the tree)"; exit 1; }

"$bin" graph "$lab" >"$tmp/out.mmd" 2>"$tmp/err" || fail "graph exited $? ($(cat "$tmp/err"))"
check_common "$tmp/out.mmd"
f="$tmp/out.mmd"

# one VPC, two AZs, six subnets
[ "$(count '^  subgraph v[0-9]+ ' "$f")" = 1 ] || fail "expected 1 VPC subgraph"
[ "$(count '^    subgraph v[0-9]+z[0-9]+ ' "$f")" = 2 ] || fail "expected 2 AZ subgraphs"
[ "$(count '^      subgraph s[0-9]+ ' "$f")" = 6 ] || fail "expected 6 subnet subgraphs"
[ "$(count '^        n[0-9]+\[' "$f")" = 6 ] || fail "expected 6 ENI nodes inside subnets"
grep -q '"us-east-1a"' "$f" || fail "AZ us-east-1a not labelled"
grep -qE 'subgraph s[0-9]+ \["public-a / [^"]*10\.0\.0\.0/24<br/>[^"]*NACL [^"]*<br/>public"\]' "$f" ||
	fail "public-a not labelled with its CIDR, NACL and 'public'"
grep -qE 'subgraph s[0-9]+ \["app-a / [^"]*<br/>private"\]' "$f" || fail "app-a not private"

alb=$(node_of alb-a "$f")
alb_b=$(node_of alb-b "$f")
app=$(node_of app-1 "$f")
db=$(node_of db-w "$f")
[ -n "$alb" ] && [ -n "$app" ] && [ -n "$db" ] && [ -n "$alb_b" ] || fail "ENI nodes not found"
grep -qE "^  $alb -->\|\"tcp/8080\"\| $app\$" "$f" || fail "no alb -> app edge (tcp/8080)"
grep -qE "^  $alb_b -->\|\"tcp/8080\"\| $app\$" "$f" || fail "no alb-b -> app edge"
grep -qE "^  $app -->\|\"tcp/5432\"\| $db\$" "$f" || fail "no app -> db edge (tcp/5432)"
grep -qE "^  $alb -->.*\| $db\$" "$f" && fail "alb -> db edge drawn, but no rule allows it"
grep -qE "^  inet -->\|\"tcp/443, tcp/80\"\| $alb\$" "$f" || fail "no internet -> alb edge"
grep -qE "^  inet -->.*\| $app\$" "$f" && fail "internet -> app drawn, but app admits only the ALB"
grep -qE '^  igw[0-9]+\{\{' "$f" || fail "no internet gateway node"
[ "$(count '^  igw0 -\.- s[0-9]+$' "$f")" = 2 ] || fail "IGW should reach the 2 public subnets"
grep -qE '^  h[0-9]+\["client<br/>203\.0\.113\.10"\]' "$f" || fail "outside host client missing"

# deterministic, and --out writes the same bytes
"$bin" graph "$lab" >"$tmp/again.mmd" 2>/dev/null || fail "second run failed"
cmp -s "$f" "$tmp/again.mmd" || fail "two runs differ"
"$bin" graph "$lab" --out "$tmp/file.mmd" >"$tmp/stdout" 2>/dev/null || fail "--out failed"
cmp -s "$f" "$tmp/file.mmd" || fail "--out output differs from stdout"
[ -s "$tmp/stdout" ] && fail "--out also wrote to stdout"
"$bin" graph "$lab/lab.json" >"$tmp/file2.mmd" 2>/dev/null || fail "graph of the lab file failed"
cmp -s "$f" "$tmp/file2.mmd" || fail "graph of the file differs from graph of the directory"

# every other example graphs cleanly too
for ex in "$src"/examples/*/; do
	ls "$ex"*.json >/dev/null 2>&1 || continue
	"$bin" graph "$ex" >"$tmp/ex.mmd" 2>"$tmp/err" || fail "graph $ex exited $?: $(cat "$tmp/err")"
	check_common "$tmp/ex.mmd"
done

# errors: exit 2, diagnostics name the file
printf '{ "vpcs": [ { "name": 5 } ] }\n' >"$tmp/bad.json"
"$bin" graph "$tmp/bad.json" >"$tmp/out2" 2>"$tmp/err"
rc=$?
[ $rc = 2 ] || fail "bad lab: exit $rc, expected 2"
grep -q "bad.json" "$tmp/err" || fail "bad lab: stderr does not name the file: $(cat "$tmp/err")"
[ -s "$tmp/out2" ] && fail "bad lab: something was printed on stdout"
"$bin" graph "$tmp/nonexistent" >/dev/null 2>&1
[ $? = 2 ] || fail "missing lab: expected exit 2"
"$bin" graph >/dev/null 2>&1
[ $? = 2 ] || fail "no LAB: expected exit 2"
"$bin" graph "$lab" "$lab" >/dev/null 2>&1
[ $? = 2 ] || fail "two LABs: expected exit 2"
"$bin" graph "$lab" --out "$tmp/no/such/dir/x.mmd" >/dev/null 2>&1
[ $? = 2 ] || fail "unwritable --out: expected exit 2"
"$bin" graph --help | grep -q "usage: vpcfw graph" || fail "--help"

echo "graph: ok"
