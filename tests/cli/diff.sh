#!/bin/bash
# `vpcfw diff` end to end (DESIGN.md contract 7): copies example labs to a
# temporary directory, changes rules with python3 (port 22 opened to
# 0.0.0.0/0 on a security group; a NACL rule narrowed), and checks the
# exact lines, --json, the exit codes (0 none, 1 some, 2 error), and that
# every reported flow really flips its `vpcfw check` verdict.
# Needs no root. Env: VPCFW_SOURCE_DIR, VPCFW_BINARY_DIR (set by ctest).
set -u

src=${VPCFW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPCFW_BINARY_DIR:-$src/build}/vpcfw
[ -x "$bin" ] || { echo "no vpcfw binary at $bin" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 needed to edit labs" >&2; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vpcfw-diff.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# run_diff WANT-RC OLD NEW [ARGS...]: output in $tmp/out, $tmp/err.
run_diff() {
	local want=$1
	shift
	"$bin" diff "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" != "$want" ]; then
		fail "diff $* exited $rc, want $want"
		sed 's/^/    /' "$tmp/out" "$tmp/err" >&2
	fi
}

# Generated ids (sg-..., acl-...) are the loader's business, not ours.
normalise() { sed -E 's/sg-[0-9a-f]{8,}/sg-ID/g; s/acl-[0-9a-f]{8,}/acl-ID/g' "$1"; }

expect_lines() {
	normalise "$tmp/out" >"$tmp/got"
	if ! diff -u "$tmp/want" "$tmp/got" >"$tmp/delta"; then
		fail "$1: output differs"
		sed 's/^/    /' "$tmp/delta" >&2
	fi
}

# Every reported change must flip `vpcfw check` between OLD and NEW.
cross_check() {
	local old=$1 new=$2 sign from to proto port
	sed -nE 's/^([+-]) [^ ]+ \(([^)]*)\) -> [^ ]+ \(([^)]*)\) (tcp|udp) ([0-9]+):.*/\1 \2 \3 \4 \5/p' \
		"$tmp/out" >"$tmp/flows"
	[ -s "$tmp/flows" ] || fail "cross-check: no flow found in the output"
	while read -r sign from to proto port; do
		"$bin" check "$old" --from "$from" --to "$to" --proto "$proto" --port "$port" \
			>/dev/null 2>&1
		local o=$?
		"$bin" check "$new" --from "$from" --to "$to" --proto "$proto" --port "$port" \
			>/dev/null 2>&1
		local n=$?
		local want_o=1 want_n=0
		[ "$sign" = "-" ] && want_o=0 want_n=1
		[ "$o" = "$want_o" ] && [ "$n" = "$want_n" ] ||
			fail "check $from -> $to $proto $port: old $o new $n, diff said $sign"
	done <"$tmp/flows"
}

cp -r "$src/examples/prototype" "$tmp/p-old"
cp -r "$src/examples/prototype" "$tmp/p-new"
cp -r "$src/examples/million" "$tmp/m-old"
cp -r "$src/examples/million" "$tmp/m-new"

# 1. identical labs: nothing to say, exit 0
run_diff 0 "$tmp/p-old" "$tmp/p-new"
[ -s "$tmp/out" ] && fail "identical labs printed something"
run_diff 0 "$tmp/m-old" "$tmp/m-new" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["changes"] == [], d' \
	"$tmp/out" || fail "identical labs: --json has changes"

# 2. port 22 opened to the world on the web server's group
python3 - "$tmp/p-new/lab.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for g in d["vpcs"][0]["security_groups"]:
    if g["name"] == "web":
        g["ingress"].append({"proto": "tcp", "ports": "22", "from": "0.0.0.0/0"})
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
run_diff 1 "$tmp/p-old" "$tmp/p-new"
cat >"$tmp/want" <<'EOF2'
+ 0.0.0.0/0 (0.0.0.0) -> web-1 (10.0.1.10) tcp 22: sg-ingress: sg-ID (web) ingress tcp 22 from 0.0.0.0/0
EOF2
expect_lines "ssh opened"
[ -s "$tmp/err" ] && fail "ssh opened: stderr not empty in a pipe: $(cat -v "$tmp/err")"
cross_check "$tmp/p-old" "$tmp/p-new"
# on a terminal stderr gets a progress line, erased at the end; stdout is the same
python3 - "$bin" "$tmp/p-old" "$tmp/p-new" "$tmp/tty-out" "$tmp/tty-err" <<'PY' ||
import os, subprocess, sys
vpcfw, old, new, out, err = sys.argv[1:]
master, slave = os.openpty()
with open(out, "w") as o:
    p = subprocess.Popen([vpcfw, "diff", old, new], stdout=o, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    sys.exit(p.wait() != 1 or not open(err, "wb").write(seen) or
             b"% of the pairs compared" not in seen or not seen.endswith(b"\r\x1b[K"))
PY
	fail "tty: no progress line on a terminal, or not erased: $(cat -v "$tmp/tty-err" 2>/dev/null)"
cmp -s "$tmp/out" "$tmp/tty-out" || fail "tty: stdout differs from the pipe's"
# and back: the same flow closed, naming the OLD side's rule
run_diff 1 "$tmp/p-new" "$tmp/p-old"
sed 's/^+/-/' "$tmp/want" >"$tmp/want2" && mv "$tmp/want2" "$tmp/want"
expect_lines "ssh closed"

# 3. a NACL rule narrowed: the ALBs lose port 8080 on every app instance
python3 - "$tmp/m-new/lab.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for n in d["vpcs"][0]["nacls"]:
    if n["name"] == "app":
        for r in n["ingress"]:
            if r["rule"] == 100:
                r["ports"] = "8081"
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
run_diff 1 "$tmp/m-old" "$tmp/m-new"
: >"$tmp/want"
for alb in "alb-a (10.0.0.10)" "alb-b (10.0.1.10)"; do
	for app in "app-1 (10.0.10.10)" "app-2 (10.0.11.10)" "app-3 (10.0.10.11)" \
		"app-4 (10.0.11.11)"; do
		echo "- $alb -> $app tcp 8080: nacl-ingress: acl-ID rule 100: allow tcp 8080 from 10.0.0.0/23" >>"$tmp/want"
	done
done
expect_lines "nacl narrowed"
cross_check "$tmp/m-old" "$tmp/m-new"
run_diff 1 "$tmp/m-old" "$tmp/m-new" --json
python3 - "$tmp/out" <<'PY' || fail "nacl narrowed: --json"
import json, sys
d = json.load(open(sys.argv[1]))
c = d["changes"]
assert len(c) == 8, len(c)
for x in c:
    assert x["change"] == "close" and x["proto"] == "tcp" and x["ports"] == [8080, 8080], x
    assert x["from"].startswith("alb-") and x["to"].startswith("app-"), x
    assert "rule 100" in x["rule"] and x["stage"] == "nacl-ingress", x
PY

# 4. ICMP, other protocols and an all-traffic group reference: ICMP ranges
# are printed per type (3/4 was already allowed), and the JSON says the same
cp -r "$src/examples/prototype" "$tmp/p-icmp"
python3 - "$tmp/p-icmp/lab.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for g in d["vpcs"][0]["security_groups"]:
    if g["name"] == "web":
        g["ingress"].append({"proto": "icmp", "icmp_type": -1, "icmp_code": -1,
                             "from": "0.0.0.0/0"})
        g["ingress"].append({"proto": "47", "from": "0.0.0.0/0"})
    if g["name"] == "db":
        g["ingress"].append({"proto": "-1", "from": "web"})
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
run_diff 1 "$tmp/p-old" "$tmp/p-icmp"
web='sg-ID (web) ingress icmp type any code any from 0.0.0.0/0'
cat >"$tmp/want" <<EOF2
+ web-1 (10.0.1.10) -> db-1 (10.0.2.10) tcp 443: sg-ingress: sg-ID (db) ingress all traffic from sg-ID (web)
+ 0.0.0.0/0 (0.0.0.0) -> web-1 (10.0.1.10) icmp types 0-2: sg-ingress: $web
+ 0.0.0.0/0 (0.0.0.0) -> web-1 (10.0.1.10) icmp type 3 codes 0-3: sg-ingress: $web
+ 0.0.0.0/0 (0.0.0.0) -> web-1 (10.0.1.10) icmp type 3 codes 5-255: sg-ingress: $web
+ 0.0.0.0/0 (0.0.0.0) -> web-1 (10.0.1.10) icmp types 4-255: sg-ingress: $web
+ 0.0.0.0/0 (0.0.0.0) -> web-1 (10.0.1.10) proto 47: sg-ingress: sg-ID (web) ingress proto 47 from 0.0.0.0/0
EOF2
expect_lines "icmp and other protocols"
cross_check "$tmp/p-old" "$tmp/p-icmp"
"$bin" check "$tmp/p-icmp" --from 0.0.0.0 --to web-1 --proto icmp --icmp-type 3 --icmp-code 7 \
	>/dev/null 2>&1 || fail "check disagrees: icmp 3/7 should be open"
"$bin" check "$tmp/p-old" --from 0.0.0.0 --to web-1 --proto icmp --icmp-type 3 --icmp-code 7 \
	>/dev/null 2>&1 && fail "check disagrees: icmp 3/7 was closed"
run_diff 1 "$tmp/p-old" "$tmp/p-icmp" --json
python3 - "$tmp/out" <<'PY' || fail "icmp: --json"
import json, sys
c = json.load(open(sys.argv[1]))["changes"]
got = [(x["proto"], x.get("icmp"), x.get("protocol"), x.get("ports")) for x in c]
assert got == [
    ("tcp", None, None, [443, 443]),
    ("icmp", {"type": [0, 2], "code": [0, 255]}, None, None),
    ("icmp", {"type": 3, "code": [0, 3]}, None, None),
    ("icmp", {"type": 3, "code": [5, 255]}, None, None),
    ("icmp", {"type": [4, 255], "code": [0, 255]}, None, None),
    ("other", None, 47, None),
], got
assert all(x["change"] == "open" and x["family"] == "ipv4" for x in c), c
PY

# 5. errors: a broken lab, a missing lab, bad options -> exit 2
mkdir "$tmp/broken" && echo '{"vpcs": [ {"name": ' >"$tmp/broken/lab.json"
run_diff 2 "$tmp/p-old" "$tmp/broken"
[ -s "$tmp/err" ] || fail "broken lab: no message"
run_diff 2 "$tmp/p-old" "$tmp/does-not-exist"
run_diff 2 "$tmp/p-old"
run_diff 2 "$tmp/p-old" "$tmp/p-new" --ephemeral 60999-32768
run_diff 2 "$tmp/p-old" "$tmp/p-new" --bogus

if [ "$fails" -gt 0 ]; then
	echo "$fails failure(s)" >&2
	exit 1
fi
echo "diff: all checks passed"
