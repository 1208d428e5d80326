#!/usr/bin/env bash
# `vpcfw diff` against real traffic (issue 6): a pull request opens SSH to
# the world on the prototype's web tier and drops its HTTP rule. The flows
# that real probes see change — every pair and port `vpcfw test --generate`
# lists for either lab, sent through a vpcfwd running OLD and one running
# NEW — must be exactly the flows `vpcfw diff OLD NEW` reports, no more and
# no fewer. The diff names outside addresses by CIDR class; the lab's one
# outside host stands for the class it belongs to.
. "$(dirname "$0")/lib.sh"
itest_init
need python3

# OLD: the prototype with its endpoint names suffixed (unique namespaces);
# NEW: the same plus tcp/22 from 0.0.0.0/0 and minus tcp/80 on group web.
python3 - "$VPCFW_SOURCE_DIR/examples/prototype/lab.json" "$TMP" "$LAB" <<'PY'
import json, sys
src, tmp, run = sys.argv[1:]
lab = json.load(open(src))
lab["lab"] = run
for e in lab["outside"] + [e for v in lab["vpcs"] for e in v["enis"]]:
    e["name"] = "%s-%s" % (e["name"], run)
json.dump(lab, open(tmp + "/old.json", "w"), indent=1)
for v in lab["vpcs"]:
    for g in v["security_groups"]:
        if g["name"] == "web":
            g["ingress"] = [r for r in g["ingress"] if r.get("ports") != "80"]
            g["ingress"].append({"proto": "tcp", "ports": "22", "from": "0.0.0.0/0"})
json.dump(lab, open(tmp + "/new.json", "w"), indent=1)
PY

rc=0
"$VPCFW" diff "$TMP/old.json" "$TMP/new.json" --json >"$TMP/diff.json" || rc=$?
check "vpcfw diff exits 1: reachability changed" test "$rc" -eq 1

# Every flow of either lab's reachability, probed for real against the
# other lab: a flow fails exactly when real traffic differs between them.
# (vpcfw test starts a vpcfwd for each run and stops it after.)
"$VPCFW" test --generate "$TMP/old.json" >"$TMP/gen-old.yaml"
"$VPCFW" test --generate "$TMP/new.json" >"$TMP/gen-new.yaml"
probe_against() { # EXPECT LAB OUT: real run, exit 0 or 1 (never 2 or 3)
	local rc=0
	"$VPCFW" test "$1" --lab "$2" --json >"$3" 2>"$3.err" || rc=$?
	[ "$rc" -le 1 ] || { say "  vpcfw test $1 --lab $2 exited $rc"; cat "$3.err"; return 1; }
}
check "NEW's reachability probed for real on OLD" \
	probe_against "$TMP/gen-new.yaml" "$TMP/old.json" "$TMP/new-on-old.json"
check "OLD's reachability probed for real on NEW" \
	probe_against "$TMP/gen-old.yaml" "$TMP/new.json" "$TMP/old-on-new.json"

compare() {
	python3 - "$TMP" "$LAB" <<'PY'
import ipaddress, json, sys
tmp, run = sys.argv[1:]
lab = json.load(open(tmp + "/old.json"))
hosts = {h["name"]: ipaddress.ip_address(h["addr"]) for h in lab["outside"]}

def key(f):
    return (f["from"], f["to"], f["proto"], f.get("port"))

real, probed = set(), set()
for name in ("new-on-old", "old-on-new"):
    run_ = json.load(open("%s/%s.json" % (tmp, name)))
    if not run_["real_traffic"]:
        print(name, "was not run with real traffic")
        sys.exit(1)
    for f in run_["flows"]:
        if f["real"] is None:      # not sendable (e.g. other protocols)
            continue
        if f["real"] != f["offline"]:
            print("real traffic disagrees with the offline verdict:", f["name"])
            sys.exit(1)
        probed.add(key(f))
        if f["result"] == "fail":
            real.add(key(f))

def ends(name, addr):
    if name in hosts or "/" not in name:
        return [name]
    net = ipaddress.ip_network(name)   # an outside class: the lab's hosts in it
    return [h for h, a in hosts.items() if a in net]

reported = set()
for c in json.load(open(tmp + "/diff.json"))["changes"]:
    if "ports" not in c:
        continue
    lo, hi = c["ports"]
    for a in ends(c["from"], c["from_addr"]):
        for b in ends(c["to"], c["to_addr"]):
            for k in probed:
                if k[:3] == (a, b, c["proto"]) and k[3] is not None and lo <= k[3] <= hi:
                    reported.add(k)

if len(probed) < 40:
    print("only %d flows were really sent" % len(probed))
    sys.exit(1)
print("%d flows probed; changed in real traffic:" % len(probed), sorted(real))
print("reported by vpcfw diff: ", sorted(reported))
want = {("client-" + run, "web-1-" + run, "tcp", 22), ("client-" + run, "web-1-" + run, "tcp", 80)}
sys.exit(0 if real == reported and want <= real else 1)
PY
}
check "the flows real traffic sees change are exactly those vpcfw diff reports" compare

itest_finish
