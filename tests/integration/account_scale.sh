#!/usr/bin/env bash
# Issue 9's "done when", as a user would try it: the account-sized lab of
# ../shared/tools/biglab.py (1,000 ENIs in 20 subnets, 50 security groups of
# 21 rules, 20 NACLs of 20 entries) runs under vpcfwd on this machine, and
# real traffic between its ENIs gets AWS's answer.
#
# A seeded sample of ENI pairs (the same every run) covers TCP, UDP and ICMP,
# each ACCEPT and REJECT, each within one subnet and across subnets; for each
# pair `vpcfw check --json` (offline) gives the verdict for the concrete
# ports and real traffic sent with `vpcfw exec` must get the same: an answer
# from the right server when ACCEPT, silence (no RST, no ICMP error) when
# REJECT. A refusal is then counted by `vpcfw stats` at the stage check
# named, and SIGTERM removes everything: namespaces, mounts, run files, the
# servers started in the lab.
#
# Ready time, RSS and stop time are printed; only the fit is asserted, and
# loosely (RSS under 1 GiB: the issue asks for a 7 GiB machine; ASan's
# shadow memory gets 2 GiB). biglab's groups admit no ICMP, so the test adds
# one rule, "sg0 and sg1 admit ICMP from 10.0.0.0/18" (subnets s0-s15),
# for ICMP to have ACCEPT pairs as well as REJECT ones.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/biglab.bash"
itest_init
need python3 ping ss

# At 1,000 ENIs one stats line of the daemon's log is ~0.5 MB: a failure
# shows the log's tail with long lines cut (the daemon stopped first, so
# its last lines are in the file cut).
account_scale_cleanup() {
	local rc=$?
	if [ "$rc" -ne 0 ] && [ -n "$DAEMON_PID" ]; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		for _ in $(seq 100); do
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			sleep 0.1
		done
	fi
	if [ -s "$TMP/vpcfwd.log" ]; then
		cut -c1-300 "$TMP/vpcfwd.log" >"$TMP/vpcfwd.cut" && mv "$TMP/vpcfwd.cut" "$TMP/vpcfwd.log"
	fi
	(exit "$rc")
	itest_cleanup
}
trap account_scale_cleanup EXIT
BIGLAB=$VPCFW_SOURCE_DIR/../shared/tools/biglab.py
N_ENIS=1000
PARALLEL=8
SEED=9

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%03d s' $(($1 / 1000)) $(($1 % 1000)); }

# CI has the shared folder beside the clone: a missing generator is a
# failure, never a skip.
[ -f "$BIGLAB" ] || { fail "$BIGLAB missing (CI has it beside the clone)"; itest_finish; }
LABFILE=$TMP/big.json
biglab_make "$BIGLAB" "$N_ENIS" "$LAB" "$LABFILE" || { fail "biglab.py $N_ENIS failed"; itest_finish; }
python3 - "$LABFILE" <<'PY' || { fail "cannot add the ICMP rule"; itest_finish; }
import json, sys
lab = json.load(open(sys.argv[1]))
for g in lab["vpcs"][0]["security_groups"]:
    if g["name"] in ("sg0", "sg1"):
        g["ingress"].append({"proto": "icmp", "from": "10.0.0.0/18"})
json.dump(lab, open(sys.argv[1], "w"))
PY

t0=$(now_ms)
READY_TIMEOUT=120 daemon_start "$LABFILE" # 1,000 ENIs: minutes, not seconds, on a slow ASan runner
t_ready=$(($(now_ms) - t0))
rss_kib=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status")
say "$N_ENIS ENIs: ready after $(secs "$t_ready"), daemon RSS $((rss_kib / 1024)) MiB"
rss_limit=$((1024 * 1024))
ldd "$VPCFWD" 2>/dev/null | grep -q libasan && rss_limit=$((2 * 1024 * 1024))
check "the daemon fits a 7 GiB machine with room to spare (RSS < $((rss_limit / 1048576)) GiB)" \
	test "$rss_kib" -lt "$rss_limit"
check "every ENI has its namespace" \
	test "$(ip netns list | awk '{print $1}' | grep -cE "^vpcfw-e[0-9]+-$LAB$")" -eq "$N_ENIS"

# The sample: candidates drawn with a fixed seed (ports the receiver's
# groups open for the sender, or any port), each judged by `vpcfw check`,
# kept until every (protocol, verdict, same subnet or not) has its share.
# The client's port is fixed per pair and given to check, so the response's
# NACL stages are judged for the port real traffic uses. One line per
# pair: IDX FROM TO DST PROTO PORT SPORT VERDICT SCOPE STAGE ENI.
cat >"$TMP/sample.py" <<'PY'
import ipaddress, json, random, subprocess, sys
vpcfw, labfile, token, seed = sys.argv[1:5]
v = json.load(open(labfile))["vpcs"][0]
enis = v["enis"]
groups = {g["name"]: g for g in v["security_groups"]}
members = {}
for e in enis:
    for g in e["groups"]:
        members.setdefault(g, set()).add(e["name"])
rng = random.Random(int(seed))
WANT = {"cross": 4, "same": 3, "nacl": 3}
buckets = {(p, vd, sc): [] for p in ("tcp", "udp", "icmp") for vd in ("ACCEPT", "REJECT")
           for sc in ("cross", "same")}
buckets["nacl"] = []  # refused by a NACL (the groups refuse most others)
seen = set()

def opened(src, dst, proto):
    """Port ranges dst's groups open to src, to draw likely-ACCEPT ports."""
    ip = ipaddress.ip_address(src["ip"][0])
    out = []
    for g in dst["groups"]:
        for r in groups[g]["ingress"]:
            peer = r["from"]
            ok = (src["name"] in members.get(peer, ()) if peer in groups
                  else ip in ipaddress.ip_network(peer))
            if ok and r["proto"] == proto:
                out.append(r.get("ports", "0-0"))
    return out

subnet_of = {e["name"]: e["subnet"] for e in enis}
acl = {sn["name"]: next(n for n in v["nacls"] if n["name"] == sn["nacl"]) for sn in v["subnets"]}

def nacl_denial(src, dst):
    """A deny entry of the sender's NACL egress or the receiver's NACL
    ingress that names the peer, to draw pairs a NACL may refuse."""
    out = [r for r in acl[dst["subnet"]]["ingress"] if r["action"] == "deny"
           and ipaddress.ip_address(src["ip"][0]) in ipaddress.ip_network(r["cidr"])]
    out += [r for r in acl[src["subnet"]]["egress"] if r["action"] == "deny"
            and ipaddress.ip_address(dst["ip"][0]) in ipaddress.ip_network(r["cidr"])]
    return out

def draw_nacl():
    src, dst = rng.sample(enis, 2)
    rules = nacl_denial(src, dst)
    if not rules:
        return None
    r = rng.choice(rules)
    lo, _, hi = r["ports"].partition("-")
    port = rng.randint(int(lo), int(hi or lo))
    scope = "same" if src["subnet"] == dst["subnet"] else "cross"
    return (r["proto"], scope, src, dst, port) if not 33000 <= port < 34000 else None

def draw():
    if len(buckets["nacl"]) < WANT["nacl"] and rng.random() < 0.5:
        return draw_nacl()
    proto = rng.choice(("tcp", "udp", "icmp"))
    scope = rng.choice(("cross", "same"))
    src = rng.choice(enis)
    peers = [e for e in enis if e is not src and (e["subnet"] == src["subnet"]) == (scope == "same")]
    icmp_open = [e for e in peers if {"sg0", "sg1"} & set(e["groups"])]
    if proto == "icmp" and icmp_open and rng.random() < 0.7:
        peers = icmp_open  # the groups the test lets ICMP into
    dst = rng.choice(peers)
    port = None
    if proto != "icmp":
        ranges = opened(src, dst, proto) if rng.random() < 0.7 else []
        if ranges:
            lo, _, hi = rng.choice(ranges).partition("-")
            port = rng.randint(int(lo), int(hi or lo))
        else:
            port = rng.randint(1024, 65535)
        if 33000 <= port < 34000:  # the clients' ports
            return None
    return proto, scope, src, dst, port

want = lambda k: WANT[k if k == "nacl" else k[2]]
idx = 0
for _ in range(20000):
    if all(len(b) >= want(k) for k, b in buckets.items()):
        break
    d = draw()
    if d is None:
        continue
    proto, scope, src, dst, port = d
    if (src["name"], dst["name"], proto) in seen:
        continue
    sport = 33000 + idx
    cmd = [vpcfw, "check", labfile, "--from", src["name"], "--to", dst["name"],
           "--proto", proto, "--json"]
    if port is not None:
        cmd += ["--port", str(port), "--sport", str(sport)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode not in (0, 1):
        sys.exit("vpcfw check failed: %s %s" % (cmd, res.stderr))
    j = json.loads(res.stdout)
    stage, eni = "-", "-"
    if j["request"]["verdict"] == "REJECT":
        st = next(s for s in j["request"]["stages"] if s["verdict"] == "REJECT")
        stage, eni = st["stage"], st.get("eni_id") or "-"
    elif j["verdict"] == "REJECT":
        st = next(s for s in j["response"]["stages"] if s["verdict"] == "REJECT")
        stage = "response-" + st["stage"]
    b = buckets[(proto, j["verdict"], scope)]
    if "nacl" in stage and len(buckets["nacl"]) < WANT["nacl"]:
        b = buckets["nacl"]
    if len(b) >= want((proto, j["verdict"], scope)) and b is not buckets["nacl"]:
        continue
    seen.add((src["name"], dst["name"], proto))
    short = lambda e: e["name"][: -len(token) - 1]
    b.append("%d %s %s %s %s %s %d %s %s %s %s" % (
        idx, short(src), short(dst), dst["ip"][0], proto, port or "-", sport,
        j["verdict"], scope, stage, eni))
    idx += 1
missing = [k for k, b in buckets.items() if len(b) < want(k)]
if missing:
    sys.exit("no sample found for %s" % missing)
for b in buckets.values():
    print("\n".join(b))
PY
t_sample=$(now_ms)
python3 "$TMP/sample.py" "$VPCFW" "$LABFILE" "$LAB" "$SEED" >"$TMP/pairs" ||
	{ fail "cannot draw the sample of pairs"; itest_finish; }
say "sample of $(wc -l <"$TMP/pairs") pairs drawn in $(secs $(($(now_ms) - t_sample)))"
covered() {
	local p v s
	for p in tcp udp icmp; do
		for v in ACCEPT REJECT; do
			for s in same cross; do
				awk -v p="$p" -v v="$v" -v s="$s" '$5 == p && $8 == v && $9 == s { f = 1 } END { exit !f }' \
					"$TMP/pairs" || { say "  no $p $v $s-subnet pair"; return 1; }
			done
		done
	done
}
check "the sample has ACCEPT and REJECT pairs for TCP, UDP and ICMP, within and across subnets" covered

# One server per receiver, started with `vpcfw exec`, on every TCP and UDP
# port of its pairs (REJECT ones too: a refused flow must meet silence, not
# a closed port's RST); it answers naming its ENI, so a client proves it
# reached the right one.
cat >"$TMP/server.py" <<'PY'
import selectors, socket, sys
name, ready, tcp, udp = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
answer = ("hello-from-%s\n" % name).encode()
sel = selectors.DefaultSelector()
for kind, ports in ((socket.SOCK_STREAM, tcp), (socket.SOCK_DGRAM, udp)):
    for p in filter(None, ports.split(",")):
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(p)))
        if kind == socket.SOCK_STREAM:
            s.listen(64)
        sel.register(s, selectors.EVENT_READ)
open(ready, "w").close()
while True:
    for key, _ in sel.select():
        s = key.fileobj
        try:
            if s.type == socket.SOCK_STREAM:
                c, _ = s.accept()
                c.sendall(answer)
                c.close()
            else:
                _, peer = s.recvfrom(65535)
                s.sendto(answer, peer)
        except OSError:
            pass
PY
SERVERS=()
for to in $(awk '$5 != "icmp" { print $3 }' "$TMP/pairs" | sort -u); do
	tcp=$(awk -v t="$to" '$3 == t && $5 == "tcp" { print $6 }' "$TMP/pairs" | sort -u | paste -sd,)
	udp=$(awk -v t="$to" '$3 == t && $5 == "udp" { print $6 }' "$TMP/pairs" | sort -u | paste -sd,)
	"$VPCFW" exec "$to-$LAB" -- python3 "$TMP/server.py" "$to" "$TMP/ready.$to" "$tcp" "$udp" \
		>>"$TMP/servers.log" 2>&1 &
	SERVERS+=($!)
	ITEST_PIDS+=($!)
done
servers_up() {
	local to
	for _ in $(seq 300); do
		for to in $(awk '$5 != "icmp" { print $3 }' "$TMP/pairs" | sort -u); do
			[ -e "$TMP/ready.$to" ] || continue 2
		done
		return 0
	done
	say "  servers: $(tail -n 5 "$TMP/servers.log" | tr '\n' ';')"
	return 1
}
check "${#SERVERS[@]} servers started with vpcfw exec listen" servers_up

# The client, in the sender's namespace by `vpcfw exec`: prints ACCEPT (the
# receiver's answer came back), REJECT (silence until the timeout) or NOISE
# (an RST, an ICMP error, a wrong answer: no AWS verdict looks like that).
# An expected ACCEPT gets retries, as a lost SYN on a busy machine is not a
# verdict; an expected REJECT waits 2 s.
cat >"$TMP/client.py" <<'PY'
import socket, subprocess, sys, time
proto, dst, port, sport, to, expect = sys.argv[1:7]
tries, wait = (3, 3.0) if expect == "ACCEPT" else (1, 2.0)
want = ("hello-from-%s\n" % to).encode()

def tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sport)))
    s.settimeout(wait)
    try:
        s.connect((dst, int(port)))
        got = s.recv(100)
    except socket.timeout:
        return "REJECT"
    except OSError as e:
        return "NOISE %s" % e
    finally:
        s.close()
    return "ACCEPT" if got == want else "NOISE answer %r" % got

def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sport)))
    s.connect((dst, int(port)))
    s.settimeout(wait / 2)
    try:
        for _ in range(2):
            s.send(b"ping\n")
            try:
                got = s.recv(100)
                return "ACCEPT" if got == want else "NOISE answer %r" % got
            except socket.timeout:
                pass
        return "REJECT"
    except OSError as e:
        return "NOISE %s" % e
    finally:
        s.close()

def icmp():
    r = subprocess.run(["ping", "-4", "-n", "-c", "2", "-i", "0.5", "-W", str(int(wait)), dst],
                       capture_output=True, text=True)
    if "nreachable" in r.stdout or "rohibited" in r.stdout:
        return "NOISE " + r.stdout.replace("\n", ";")
    if r.returncode == 0:
        return "ACCEPT"
    return "REJECT" if r.returncode == 1 and " 0 received" in r.stdout else "NOISE " + r.stdout

for attempt in range(tries):
    out = {"tcp": tcp, "udp": udp, "icmp": icmp}[proto]()
    if out != "REJECT":
        break
print(out, attempt + 1)
PY
probe_pair() { # IDX FROM TO DST PROTO PORT SPORT VERDICT
	timeout 60 "$VPCFW" exec "$2-$LAB" -- python3 "$TMP/client.py" "$5" "$4" "$6" "$7" "$3" "$8" \
		>"$TMP/out.$1" 2>&1
}
# The servers are this shell's jobs too: only the clients are counted and
# waited for.
running() {
	local p k=0
	for p in "${CLIENTS[@]}"; do kill -0 "$p" 2>/dev/null && k=$((k + 1)); done
	echo "$k"
}
CLIENTS=()
t_traffic=$(now_ms)
while read -r idx from to dst proto port sport verdict _; do
	while [ "$(running)" -ge "$PARALLEL" ]; do sleep 0.05; done
	probe_pair "$idx" "$from" "$to" "$dst" "$proto" "$port" "$sport" "$verdict" &
	CLIENTS+=($!)
done <"$TMP/pairs"
wait "${CLIENTS[@]}"
say "traffic of $(wc -l <"$TMP/pairs") pairs sent in $(secs $(($(now_ms) - t_traffic)))"

agrees() { # IDX VERDICT
	local got
	got=$(cat "$TMP/out.$1" 2>/dev/null)
	[ "${got%% *}" = "$2" ] || { say "  real traffic: ${got:-nothing}"; return 1; }
}
while read -r idx from to dst proto port sport verdict scope stage _; do
	what=$proto
	[ "$proto" != icmp ] && what="$proto/$port from port $sport"
	[ "$stage" != - ] && verdict="$verdict at $stage"
	check "$from -> $to ($scope subnet) $what: real traffic gets check's $verdict" \
		agrees "$idx" "${verdict%% *}"
done <"$TMP/pairs"

# Refusals counted where check says they happen: the ICMP one at the
# receiver's sg-ingress, the NACL one at the stage's ENI (the sender's for
# an egress stage, the receiver's for an ingress one), each re-sent alone.
eni_rejected() { # ENI STAGE: the ENI's refusals at STAGE, from vpcfw stats
	"$VPCFW" stats --lab "$LAB" --json | python3 -c 'import json, sys
e = [e for e in json.load(sys.stdin)["enis"] if e["id"] == sys.argv[1]]
print(e[0]["rejected_packets"].get(sys.argv[2], 0) if e else "none")' "$1" "$2"
}
counted() { # FROM DST PROTO PORT STAGE ENI MIN: MIN more refusals after a blocked probe
	local before after
	before=$(eni_rejected "$6" "$5") || return 1
	case $3 in
	icmp) ping_blocked "$1" "$2" ;;
	tcp) tcp_blocked "$1" "$2" "$4" ;;
	udp) udp_blocked "$1" "$2" "$4" ;;
	esac || return 1
	sleep 0.2
	after=$(eni_rejected "$6" "$5") || return 1
	say "  $6 $5 refusals: $before before, $after after"
	[ "$before" != none ] && [ "$after" -ge $((before + $7)) ]
}
stats_pair() { # AWK-CONDITION: the first such rejected pair, with its stage's ENI
	awk "\$8 == \"REJECT\" && \$10 !~ /^(-|response-)/ && ($1)" "$TMP/pairs" | head -n 1
}
read -r _ from to dst proto port _ _ _ stage eni <<<"$(stats_pair '$5 == "icmp"')"
check "the sample has an ICMP pair whose echo request is refused" test -n "$stage"
check "vpcfw stats counts $from's 2 echo requests to $to at $stage of $eni ($to), as check says" \
	counted "$from" "$dst" icmp - "$stage" "$eni" 2
read -r _ from to dst proto port _ _ _ stage _ <<<"$(stats_pair '$10 ~ /^nacl/')"
check "the sample has a pair a NACL refuses" test -n "$stage"
if [ -n "$stage" ]; then
	owner=$to
	[[ $stage == *egress ]] && owner=$from
	eni=$(eni_id "$owner")
	check "vpcfw stats counts $from -> $to $proto/$port at $stage of $eni ($owner), as check says" \
		counted "$from" "$dst" "$proto" "$port" "$stage" "$eni" 1
fi

# The stop: everything the lab made or ran goes with it.
t_stop=$(now_ms)
check "vpcfwd stops on SIGTERM with status 0 and no sanitizer report" daemon_clean_exit
say "stop took $(secs $(($(now_ms) - t_stop)))"
check "no namespace of the lab is left" \
	test "$(ip netns list | awk '{print $1}' | grep -cE -- "-$LAB$")" -eq 0
check "no namespace mount of the lab is left" bash -c "! grep -q -- '-$LAB ' /proc/mounts"
check "no run file of the lab is left" test ! -e "/run/vpcfw/$LAB"
all_gone() {
	local p
	for p in "${SERVERS[@]}"; do gone "$p" || return 1; done
}
check "the ${#SERVERS[@]} servers started with vpcfw exec were ended with the lab" all_gone
itest_finish
