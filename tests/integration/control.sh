#!/usr/bin/env bash
# The control socket and the online CLI (docs/control.md, issue 4): a user
# runs vpcfwd on a small lab, opens a TCP connection between two ENIs, and
# sees it with `vpcfw status`, `vpcfw flows` and `vpcfw stats --json`; the
# socket is root's alone; clients that send garbage, a megabyte without a
# newline, hang up mid-request, or crowd the daemon lose only their own
# connection while another client still gets right answers and traffic
# still flows. `vpcfw reload` of a broken lab prints every error (file and
# JSON path) and exits 2 with the old rules running; a reload that removes
# the SG rule of a live connection leaves it alone and refuses new ones
# (AWS-SEMANTICS 4); a NACL change kills it. `vpcfw top` prints rows.
. "$(dirname "$0")/lib.sh"
need python3 stat
itest_init
lab=$(lab_prepare reload)
daemon_start "$lab"
SOCK=/run/vpcfw/$LAB/control.sock
bg_in_ns srv socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat
tcp_server srv 7001
wait_listen srv tcp 7000
servers_ready

# The CLI against this run's daemon; output in $TMP/out, $TMP/err.
v() {
	VRC=0
	"$VPCFW" "$@" >"$TMP/out" 2>"$TMP/err" || VRC=$?
}
# jq-like assertions: json_ok FILE PYTHON-EXPR over r (the reply).
json_ok() {
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("  assertion false:", sys.argv[2], file=sys.stderr)
sys.exit(0 if ok else 1)' "$1" "$2"
}

check "the control socket exists" test -S "$SOCK"
# (lib.sh has a stat() of its own: the coreutils one by name)
sock_mode() { command stat -c "%U %a" "$SOCK"; }
check "it belongs to root with mode 0600" test "$(sock_mode)" = "root 600"

# A long-lived connection cli -> srv:7000, driven step by step (lib.sh).
long_client cli 10.79.2.20 7000 3
check "a long-lived connection cli -> srv tcp/7000 is established" client_says '^step 1 ok'

# ---- status
v status --lab "$LAB" --json
check "vpcfw status --json exits 0" test "$VRC" -eq 0
cp "$TMP/out" "$TMP/status.json"
check "status names the lab, the daemon's pid and rules generation 0" json_ok "$TMP/status.json" \
	"r['ok'] and r['v'] == 1 and r['lab'] == '$LAB' and r['pid'] == $DAEMON_PID and r['generation'] == 0"
check "status gives the source path and the flow-log path" json_ok "$TMP/status.json" \
	"r['source'] == '$lab' and r['flow_log'] == '$FLOWLOG' and r['uptime'] >= 0"
check "status lists the 3 ENIs with namespace and port" json_ok "$TMP/status.json" \
	"len(r['enis']) == 3 and r['ports'] == 3 and sorted(e['namespace'] for e in r['enis']) == sorted(['vpcfw-cli-$LAB', 'vpcfw-srv-$LAB', 'vpcfw-usrv-$LAB']) and all(e['port'] for e in r['enis'])"
SRV_ENI=$(python3 -c 'import json,sys; print([e["id"] for e in json.load(open(sys.argv[1]))["enis"] if e["name"] == "srv-'"$LAB"'"][0])' "$TMP/status.json")
v status --lab "$LAB"
check "the text status names the lab and srv's namespace" \
	grep -q "lab $LAB: vpcfwd pid $DAEMON_PID" "$TMP/out"
check "... and srv's namespace" grep -q "vpcfw-srv-$LAB" "$TMP/out"
# Only when no other lab runs (another daemon may start meanwhile: then the
# CLI rightly asks for --lab and the check does not apply).
nsocks() { ls /run/vpcfw/*/control.sock 2>/dev/null | wc -l; }
if [ "$(nsocks)" -eq 1 ]; then
	v status
	if grep -q "several labs are running" "$TMP/err" && [ "$(nsocks)" -gt 1 ]; then
		say "another lab started meanwhile: the check without --lab is not run"
	else
		check "without --lab the only running lab is used" grep -q "lab $LAB:" "$TMP/out"
	fi
fi
v status --lab "nosuch$LAB"
check "a lab nobody runs: exit 2 and a message" \
	test "$VRC" -eq 2 -a -n "$(grep 'no vpcfwd is serving' "$TMP/err")"

# ---- flows
v flows "srv-$LAB" --lab "$LAB" --json
cp "$TMP/out" "$TMP/flows.json"
check "vpcfw flows srv --json exits 0 and shows srv's ENI only" json_ok "$TMP/flows.json" \
	"r['ok'] and [e['id'] for e in r['enis']] == ['$SRV_ENI']"
check "srv tracks the connection from cli: 5-tuple, ESTABLISHED, packets both ways" \
	json_ok "$TMP/flows.json" \
	"any(f['proto'] == 'tcp' and f['src'] == '10.79.1.10' and f['dst'] == '10.79.2.20' and f['dport'] == 7000 and f['state'] == 'ESTABLISHED' and f['packets']['original'] >= 2 and f['packets']['reply'] >= 2 and f['bytes']['original'] > 0 and f['idle'] >= 0 for f in r['enis'][0]['flows'])"
check "the flow names the SG rule that admitted it" json_ok "$TMP/flows.json" \
	"any(f['dport'] == 7000 and '7000' in f['rule'] and 'ingress' in f['rule'] for f in r['enis'][0]['flows'])"
v flows --lab "$LAB"
check "the text flows lists the connection under each ENI" \
	grep -q "tcp    10.79.1.10:[0-9]* -> 10.79.2.20:7000 .*ESTABLISHED" "$TMP/out"
v flows nosuch --lab "$LAB"
check "flows of an unknown ENI: exit 2 with the daemon's error" \
	test "$VRC" -eq 2 -a -n "$(grep 'no ENI named "nosuch"' "$TMP/err")"

# ---- stats
v stats --lab "$LAB" --json
cp "$TMP/out" "$TMP/stats.json"
check "vpcfw stats --json: per ENI accepted packets and bytes, srv's ingress counted" \
	json_ok "$TMP/stats.json" \
	"[e for e in r['enis'] if e['id'] == '$SRV_ENI'][0]['accepted_packets']['ingress'] >= 2 and [e for e in r['enis'] if e['id'] == '$SRV_ENI'][0]['accepted_bytes']['ingress'] > 0"
check "... rejected per stage, allowance exceeded/available per ENI" json_ok "$TMP/stats.json" \
	"all(set(e['rejected_packets']) == {'sg-egress', 'nacl-egress', 'nacl-ingress', 'sg-ingress'} and e['conntrack_allowance_available'] > 0 and e['conntrack_allowance_exceeded'] == 0 for e in r['enis'])"
check "... malformed frames and drops by reason" json_ok "$TMP/stats.json" \
	"'no-route' in r['global']['drops'] and len(r['global']['malformed']) > 0 and 'conntrack_allowance_exceeded' in r['global']"
v stats --lab "$LAB"
check "the text stats has a row for srv" grep -q "^$SRV_ENI" "$TMP/out"

# ---- bad clients: each loses its own connection only
cat >"$TMP/abuse.py" <<'PY'
import json, socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s
def reply(s):
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            d = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not d:
            return None
        buf += d
    return json.loads(buf)
def ask(s, obj):
    s.sendall(json.dumps(obj).encode() + b"\n")
    return reply(s)
good = conn()                     # a well-behaved client, open throughout
res = {}
s = conn()
s.sendall(b"this is not json\n")
r = reply(s)
res["garbage"] = r is not None and r["ok"] is False and "not JSON" in r["error"]
r = ask(s, {"v": 1, "cmd": "status"})
res["same client after garbage"] = r is not None and r["ok"] is True
r = ask(s, {"v": 2, "cmd": "status"})
res["version mismatch"] = r is not None and r["ok"] is False and "version" in r["error"]
r = ask(s, {"v": 1, "cmd": "frobnicate"})
res["unknown command"] = r is not None and r["ok"] is False
r = ask(s, [1, 2])
res["not an object"] = r is not None and r["ok"] is False
s.close()
big = conn()                      # 1 MiB without a newline
try:
    big.sendall(b"x" * (1 << 20))
    r = reply(big)
    res["1 MiB without newline"] = r is None or (r["ok"] is False and "longer" in r["error"])
except (BrokenPipeError, ConnectionResetError):
    res["1 MiB without newline"] = True
big.close()
half = conn()                     # hangs up mid-request
half.sendall(b'{"v":1,"cmd":"sta')
half.close()
crowd = []                        # more clients than allowed
refused = False
for i in range(40):
    c = conn()
    crowd.append(c)
    c.settimeout(0.2)
    try:
        d = c.recv(4096)
        if d and b"too many clients" in d:
            refused = True
            break
    except socket.timeout:
        pass
res["too many clients refused"] = refused
for c in crowd:
    c.close()
r = ask(good, {"v": 1, "cmd": "status"})
res["good client still answered"] = r is not None and r["ok"] and r["lab"] == sys.argv[2]
r = ask(good, {"v": 1, "cmd": "flows", "limit": 1})
res["flows limit"] = r is not None and r["ok"] and sum(len(e["flows"]) for e in r["enis"]) <= 1
pipe = conn()                     # 200 requests in one write, replies read late
pipe.sendall(b'{"v":1,"cmd":"status"}\n' * 200)
time.sleep(0.5)
t0 = time.time()
data = b""
while data.count(b"\n") < 200 and time.time() - t0 < 10:
    try:
        d = pipe.recv(1 << 16)
    except socket.timeout:
        break
    if not d:
        break
    data += d
answered = sum(1 for l in data.split(b"\n")[:200] if l and json.loads(l)["ok"])
res["200 pipelined requests all answered"] = answered == 200 and time.time() - t0 < 10
pipe.close()
for k, v in res.items():
    print(("ok   " if v else "FAIL ") + k)
PY
timeout 60 python3 "$TMP/abuse.py" "$SOCK" "$LAB" >"$TMP/abuse.out" 2>&1
while read -r verdict what; do
	check "bad clients: $what" test "$verdict" = ok
done <"$TMP/abuse.out"
check "bad clients: all 10 checks ran" test "$(grep -c '^ok\|^FAIL' "$TMP/abuse.out")" -eq 10 ||
	cat "$TMP/abuse.out"
check "the daemon is alive after the bad clients" kill -0 "$DAEMON_PID"
check "a new vpcfw status answers after the bad clients" \
	bash -c "'$VPCFW' status --lab '$LAB' | grep -q 'lab $LAB:'"
check "and traffic still flows: tcp/7001 connects" tcp_reaches cli 10.79.2.20 7001 hello-from-srv

# ---- peers other than root (SO_PEERCRED, even with the file opened up)
nobody_status() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$VPCFW" status --lab "$LAB" \
		>"$TMP/nobody.out" 2>&1
}
NOBODY_RUNS=
if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$VPCFW" --help >/dev/null 2>&1; then
	NOBODY_RUNS=1
	check_not "nobody cannot use the 0600 socket" nobody_status
	check "... and is told why" grep -q 'permission denied' "$TMP/nobody.out"
	chmod 0666 "$SOCK"
	nobody_status
	check "with the file opened up, SO_PEERCRED still refuses nobody" \
		grep -q 'permission denied: root only' "$TMP/nobody.out"
	chmod 0600 "$SOCK"
else
	say "nobody cannot run $VPCFW here: peer-credential checks not run"
fi

# ---- reload
echo '{ "lab": "it-reload", "vpcs": [ { "name": "it", "cidr": "not a cidr", "subnets": [ { "name": "x", "cidr": "nope" } ] } ] }' \
	>"$TMP/bad.json"
v reload "$TMP/bad.json" --lab "$LAB"
check "vpcfw reload of a broken lab exits 2" test "$VRC" -eq 2
check "... printing the file and the JSON path of each error" \
	grep -q "$TMP/bad.json: vpcs\[0\]\.cidr" "$TMP/err"
check "... every error, not only the first" \
	test "$(grep -c "$TMP/bad.json: vpcs\[0\]" "$TMP/err")" -ge 2
v status --lab "$LAB" --json
check "the running rules stay: generation 0, same source" \
	json_ok "$TMP/out" "r['generation'] == 0 and r['source'] == '$lab'"
check "after the refused reload tcp/7001 still connects" tcp_reaches cli 10.79.2.20 7001 hello-from-srv
v reload "$TMP/nonexistent.json" --lab "$LAB"
check "reload of a missing file exits 2" test "$VRC" -eq 2

sed "s/@RUN@/$LAB/g" "$LABS_DIR/reload-nosg.json" >"$TMP/nosg.json"
(cd "$TMP" && "$VPCFW" reload nosg.json --lab "$LAB") >"$TMP/out" 2>"$TMP/err"
check "vpcfw reload with a relative path to a lab without the tcp/7000 rule: exit 0" \
	grep -q "rules generation 1" "$TMP/out"
v status --lab "$LAB" --json
check "status shows generation 1 and the new source" \
	json_ok "$TMP/out" "r['generation'] == 1 and r['source'] == '$TMP/nosg.json'"
check "a new connection to tcp/7000 is refused now" tcp_blocked cli 10.79.2.20 7000
client_step 2
check "the long-lived connection admitted by the removed rule goes on (AWS-SEMANTICS 4)" \
	client_says '^step 2 ok'
v flows "srv-$LAB" --lab "$LAB" --json
check "vpcfw flows still shows it" json_ok "$TMP/out" \
	"any(f['dport'] == 7000 and f['state'] == 'ESTABLISHED' for f in r['enis'][0]['flows'])"
check "... saying its rule was removed by a reload" json_ok "$TMP/out" \
	"any(f['dport'] == 7000 and 'removed or changed by a reload' in f['rule'] and f['rule_generation'] == 0 for f in r['enis'][0]['flows'])"

sed "s/@RUN@/$LAB/g" "$LABS_DIR/reload-nacl.json" >"$TMP/nacl.json"
v reload "$TMP/nacl.json" --lab "$LAB"
check "vpcfw reload with a NACL denying tcp/7000: exit 0, generation 2" \
	grep -q 'rules generation 2' "$TMP/out"
client_step 3
check "the NACL kills the tracked connection at its next packet" client_says '^step 3 timeout'
v reload --lab "$LAB"
check "vpcfw reload without a path reloads the source in use (generation 3)" \
	grep -q 'rules generation 3' "$TMP/out"

# ---- top
v top --lab "$LAB" --iterations 2 --interval 0.3
check "vpcfw top --iterations 2 exits 0" test "$VRC" -eq 0
check "... and prints two screens with a row per ENI" \
	test "$(grep -c "^$SRV_ENI " "$TMP/out")" -eq 2 -a "$(grep -c 'ACCEPT/s' "$TMP/out")" -eq 2

# ---- --control-group: the socket opened to one group, SO_PEERCRED still checked
GROUP=$(getent group 65534 | cut -d: -f1)
if [ -n "$NOBODY_RUNS" ] && [ -n "$GROUP" ] && getent group 1 >/dev/null; then
	check "vpcfwd stops cleanly before the restart" daemon_clean_exit
	daemon_start "$lab" --control-group "$GROUP"
	check "with --control-group the socket is root:$GROUP 0660" \
		test "$(command stat -c '%U %G %a' "$SOCK")" = "root $GROUP 660"
	check "a member of the group is served" nobody_status
	check "... with the right answer" grep -q "lab $LAB:" "$TMP/nobody.out"
	chmod 0666 "$SOCK"
	other_status() {
		setpriv --reuid=65534 --regid=1 --clear-groups "$VPCFW" status --lab "$LAB" \
			>"$TMP/nobody.out" 2>&1
	}
	check_not "with the file opened up, a non-member is refused by SO_PEERCRED" other_status
	check "... and told why" grep -q 'root or the control group only' "$TMP/nobody.out"
	chmod 0660 "$SOCK"
	v status --lab "$LAB" --json
	check "status names the control group" json_ok "$TMP/out" "r['control_group'] == '$GROUP'"
fi

itest_finish
