#!/usr/bin/env bash
# Every core (issue 9): vpcfwd with --workers 2, then --workers 1, gets
# AWS's answer for many TCP connections and UDP flows opened at once,
# through a 1:1 public IP (outside host -> web's public IP), a hairpin
# (web2 -> web's public IP through the internet gateway) and a NAT gateway
# (app -> the outside host, seen from the gateway's Elastic IP): the two
# directions of such connections carry different tuples and may be read by
# different workers. Every worker receives frames; a per-ENI allowance of
# 20 admits exactly 20 of 50 connections opened in parallel, however the
# kernel spreads them; a rules reload under traffic loses no connection.
. "$(dirname "$0")/lib.sh"
need python3 socat
itest_init

write_lab() { # OUT [EXTRA_WEB_PORT]
	python3 - "$LAB" "${2:-}" >"$1" <<'PY'
import json, sys
run, extra = sys.argv[1], sys.argv[2]
allow = [{"rule": 100, "action": "allow", "proto": "all", "cidr": "0.0.0.0/0"}]
web_in = [{"proto": "tcp", "ports": "80", "from": "0.0.0.0/0"},
          {"proto": "udp", "ports": "9000", "from": "0.0.0.0/0"}]
if extra:
    web_in.append({"proto": "tcp", "ports": extra, "from": "0.0.0.0/0"})
out_all = [{"proto": "all", "to": "0.0.0.0/0"}]
lab = {
    "lab": "it-workers",
    "outside": [{"name": "net-" + run, "addr": "203.0.113.80"}],
    "gateways": [{"kind": "nat", "id": "nat-0a1b2c3d4e5f60719", "vpc": "vpc-0a1b2c3d4e5f60719",
                  "subnets": ["subnet-0a1b2c3d4e5f60721"], "private_ip": "10.79.1.5",
                  "public_ip": "198.51.100.90", "state": "available"}],
    "vpcs": [{
        "name": "w", "id": "vpc-0a1b2c3d4e5f60719", "cidr": "10.79.0.0/16",
        "route_tables": [
            {"name": "public", "routes": [{"dest": "0.0.0.0/0", "target": "igw"}]},
            {"name": "private", "main": True,
             "routes": [{"dest": "0.0.0.0/0", "target": "nat-0a1b2c3d4e5f60719"}]}],
        "subnets": [
            {"name": "pub", "id": "subnet-0a1b2c3d4e5f60721", "cidr": "10.79.1.0/24",
             "nacl": "open", "route_table": "public"},
            {"name": "priv", "id": "subnet-0a1b2c3d4e5f60722", "cidr": "10.79.2.0/24",
             "nacl": "open"}],
        "nacls": [{"name": "open", "ingress": allow, "egress": allow}],
        "security_groups": [
            {"name": "web", "ingress": web_in, "egress": out_all},
            {"name": "cli", "ingress": [], "egress": out_all},
            {"name": "lim", "ingress": [{"proto": "tcp", "ports": "7000",
                                         "from": "10.79.0.0/16"}], "egress": []}],
        "enis": [
            {"name": "web-" + run, "subnet": "pub", "ip": "10.79.1.10",
             "public_ip": "198.51.100.91", "groups": ["web"]},
            {"name": "web2-" + run, "subnet": "pub", "ip": "10.79.1.11",
             "public_ip": "198.51.100.92", "groups": ["cli"]},
            {"name": "app-" + run, "subnet": "priv", "ip": "10.79.2.10", "groups": ["cli"]},
            {"name": "lim-" + run, "subnet": "pub", "ip": "10.79.1.30", "groups": ["lim"],
             "conntrack_allowance": 20}]}]}
json.dump(lab, sys.stdout)
PY
}

# A TCP echo (threads) on PORT and a UDP echo on UDP_PORT, in NAME.
cat >"$TMP/echo.py" <<'PY'
import socket, sys, threading
def tcp(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(512)
    def one(c):
        with c:
            while True:
                d = c.recv(4096)
                if not d: return
                c.sendall(d)
    while True:
        c, _ = s.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()
def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        d, peer = s.recvfrom(65535)
        s.sendto(d, peer)
for i, p in enumerate(sys.argv[1:]):
    kind, port = p.split(":")
    t = threading.Thread(target=tcp if kind == "tcp" else udp, args=(int(port),), daemon=True)
    t.start()
threading.Event().wait()
PY

# N TCP connections and N UDP flows to ADDR at once (threads); each sends
# its own line and must get it back. HOLD: keep every TCP connection open
# until all were tried (for the allowance). Prints "tcp OK/N udp OK/N".
cat >"$TMP/many.py" <<'PY'
import socket, sys, threading
addr, tport, uport, n, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "hold"
ok = {"tcp": 0, "udp": 0}
lock = threading.Lock()
held = []
def tcp(i):
    msg = b"tcp %d\n" % i
    try:
        s = socket.create_connection((addr, tport), timeout=4)
        s.settimeout(4)
        s.sendall(msg)
        got = b""
        while not got.endswith(b"\n"):
            d = s.recv(100)
            if not d: break
            got += d
        if got == msg:
            with lock: ok["tcp"] += 1
        if hold: held.append(s)
        else: s.close()
    except OSError:
        pass
def udp(i):
    msg = b"udp %d\n" % i
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    for _ in range(3):
        try:
            s.sendto(msg, (addr, uport))
            if s.recv(100) == msg:
                with lock: ok["udp"] += 1
                return
        except OSError:
            pass
ts = [threading.Thread(target=tcp, args=(i,)) for i in range(n if tport else 0)]
ts += [threading.Thread(target=udp, args=(i,)) for i in range(n if uport else 0)]
for t in ts: t.start()
for t in ts: t.join()
print("tcp %d/%d udp %d/%d" % (ok["tcp"], n if tport else 0, ok["udp"], n if uport else 0))
PY

many() { # FROM ADDR TCP_PORT UDP_PORT N [hold] -> MANY_OUT
	MANY_OUT=$(in_ns "$1" timeout 60 python3 "$TMP/many.py" "$2" "$3" "$4" "$5" "${6:-no}" 2>&1)
	say "  $1 -> $2: $MANY_OUT"
}
all_answered() { many "$@" && [ "$MANY_OUT" = "tcp $5/$5 udp $5/$5" ]; }
none_missing() { # like all_answered, TCP only
	many "$1" "$2" "$3" 0 "$4" && [ "$MANY_OUT" = "tcp $4/$4 udp 0/0" ]
}

round() { # WORKERS
	local w=$1 lim_eni
	write_lab "$TMP/lab.json"
	daemon_start "$TMP/lab.json" --workers "$w"
	bg_in_ns web python3 "$TMP/echo.py" tcp:80 udp:9000
	bg_in_ns net python3 "$TMP/echo.py" tcp:8000 udp:9001
	bg_in_ns lim python3 "$TMP/echo.py" tcp:7000
	wait_listen web tcp 80 && wait_listen net tcp 8000 && wait_listen lim tcp 7000 ||
		fail "servers did not start"
	wait_listen web udp 9000 && wait_listen net udp 9001 || fail "UDP servers did not start"

	check "[$w] net -> web's public IP: 64 TCP connections and 64 UDP flows at once" \
		all_answered net 198.51.100.91 80 9000 64
	check "[$w] hairpin web2 -> web's public IP: 32 TCP and 32 UDP at once" \
		all_answered web2 198.51.100.91 80 9000 32
	check "[$w] app -> net through the NAT gateway: 64 TCP and 64 UDP at once" \
		all_answered app 203.0.113.80 8000 9001 64
	check "[$w] nothing reaches app from outside (the NAT gateway's EIP)" \
		tcp_blocked net 198.51.100.90 8000

	lim_eni=$(eni_id lim)
	many app 10.79.1.30 7000 0 50 hold
	check "[$w] allowance 20: exactly 20 of 50 parallel connections admitted" \
		test "$MANY_OUT" = "tcp 20/50 udp 0/0"
	check "[$w] the daemon reports its counters" daemon_stats
	check "[$w] refusals counted on lim's ENI" \
		stat_ge "d['enis']['$lim_eni']['conntrack_allowance_exceeded']" 30
	check "[$w] $w workers in the stats" test "$(stat "len(d['workers'])")" -eq "$w"
	check "[$w] every worker received frames" \
		test "$(stat "all(x['rx_pkts'] > 0 for x in d['workers'])")" = True
	check "[$w] the workers' frames add up to rx_packets" \
		test "$(stat "sum(x['rx_pkts'] for x in d['workers']) == d['rx_packets']")" = True

	# A rules reload (web gains port 81) while 8 rounds of 100 TCP
	# connections and 100 UDP flows run.
	in_ns net bash -c "for k in \$(seq 8); do timeout 60 python3 $TMP/many.py \
		198.51.100.91 80 9000 100 no; done" >"$TMP/under-reload.out" 2>&1 &
	local bg=$!
	sleep 0.5
	write_lab "$TMP/lab.json" 81
	kill -HUP "$DAEMON_PID"
	wait "$bg"
	say "  under reload: $(tr '\n' ';' <"$TMP/under-reload.out")"
	check "[$w] a reload under traffic loses no connection or flow" \
		test "$(grep -cx 'tcp 100/100 udp 100/100' "$TMP/under-reload.out")" -eq 8
	for _ in $(seq 50); do daemon_log_has 'reloaded' && break; sleep 0.1; done
	check "[$w] the reload committed" daemon_log_has 'reloaded'
	check "[$w] vpcfwd stops on SIGTERM with status 0 and no sanitizer report" daemon_clean_exit
}

round 2
pkill_servers() {
	local p
	for p in "${ITEST_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	ITEST_PIDS=()
}
pkill_servers
round 1

itest_finish
