#!/bin/bash
# `vpcfw diff` at account scale: for 100, 1,000 and 10,000 ENIs, an account-
# sized lab from biglab.py and an edited copy (SG rules widened, opened and
# dropped, NACL entries flipped, narrowed and added, a few ENIs' groups
# changed), diffed by bench_diff: equivalence classes (vpcfw diff today)
# beside pair by pair (before classes; left out at 10,000 ENIs, where it
# takes about an hour: the 1,000 figure times the ratio of pairs is printed
# as an estimate instead). Figures only, never assertions; what else runs
# on the machine changes them, so say so when quoting.
# Env: BIGLAB (default ../shared/tools/biglab.py beside the checkout),
# VPCFW_BINARY_DIR (default build), SIZES (default "100 1000 10000").
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=${VPCFW_BINARY_DIR:-$src/build}
biglab=${BIGLAB:-$src/../shared/tools/biglab.py}
[ -r "$biglab" ] || { echo "no biglab.py at $biglab (set BIGLAB)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vpcfw-diffscale.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

edit() {
	python3 - "$1" <<'PY'
import json, random, sys
lab = json.load(open(sys.argv[1]))
rng = random.Random(9)
v = lab["vpcs"][0]
sgs, nacls, enis = v["security_groups"], v["nacls"], v["enis"]
sgs[3]["ingress"][0]["ports"] = "1000-3000"
sgs[7]["ingress"][2]["from"] = "0.0.0.0/0"
del sgs[11]["ingress"][5]
sgs[20]["ingress"].append({"proto": "udp", "ports": "53", "from": "10.0.8.0/24"})
a = nacls[2]["ingress"][1]
a["action"] = "deny" if a["action"] == "allow" else "allow"
nacls[5]["egress"][3].update(ports="2000-2100", proto="tcp")
nacls[9]["ingress"].insert(0, {"rule": 50, "action": "deny", "proto": "tcp", "ports": "22",
                               "cidr": "10.0.0.0/16"})
for i in rng.sample(range(len(enis)), min(5, len(enis))):
    g = enis[i]["groups"]
    if len(g) > 1:
        g.pop()
    else:
        g.append(f"sg{(int(g[0][2:]) + 13) % len(sgs)}")
json.dump(lab, sys.stdout)
PY
}

pw_time= pw_pairs=
for n in ${SIZES:-100 1000 10000}; do
	python3 "$biglab" "$n" >"$tmp/old$n.json"
	edit "$tmp/old$n.json" >"$tmp/new$n.json"
	skip=
	[ "$n" -gt 2000 ] && skip=--no-pairwise
	"$bin/tests/bench_diff" $skip "$tmp/old$n.json" "$tmp/new$n.json" | tee "$tmp/out$n"
	pairs=$(sed -nE 's/.* ([0-9]+) ordered pairs.*/\1/p' "$tmp/out$n")
	t=$(sed -nE 's/^reach_diff pair by pair[^0-9]*([0-9.]+) s.*/\1/p' "$tmp/out$n")
	if [ -n "$t" ]; then
		pw_time=$t pw_pairs=$pairs
	elif [ -n "$pw_pairs" ]; then
		awk -v t="$pw_time" -v p="$pw_pairs" -v q="$pairs" 'BEGIN {
			printf "pair by pair, estimated from the last measured size: %.0f s\n", t * q / p }'
	fi
	echo
done
