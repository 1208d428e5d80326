#!/usr/bin/env bash
# A NAT gateway, a VPN gateway and a VPC peering on real packets
# (labs/natgw.json, AWS-SEMANTICS 4, 9): app, in a private subnet without a
# public IP, fetches from the internet host net through the NAT gateway,
# and net sees the gateway's Elastic IP 198.51.100.77 (TCP, UDP, ping);
# nothing net opens to the Elastic IP or to app gets in, and the daemon
# counts it. ICMP errors about app's connections come back through the
# gateway: a port unreachable (app's socket sees "Connection refused") and
# a "fragmentation needed" (app's kernel learns the path MTU); app's own
# port unreachable goes out through the gateway's mapping. The NAT
# gateway's subnet NACL is crossed on the way (it refuses UDP 9100). Over
# the virtual private gateway app and the on-premises host reach each
# other by private address both ways; over
# the peering app and peer (another VPC) do too. app2 reaches the
# on-premises host through a private NAT gateway, from its private IP.
# `vpcfw check` agrees.
. "$(dirname "$0")/lib.sh"
need curl python3 ping
itest_init
lab=$(lab_prepare natgw)
daemon_start "$lab"
http_server app 80
tcp_server peer 80
for host in net onprem; do
	bg_in_ns "$host" socat TCP-LISTEN:8000,fork,reuseaddr \
		'SYSTEM:echo peer=$SOCAT_PEERADDR port=$SOCAT_PEERPORT'
	wait_listen "$host" tcp 8000
done
http_server net 8080
bg_in_ns net socat TCP-LISTEN:7000,fork,reuseaddr PIPE
# a UDP server that answers with the address it saw
bg_in_ns net python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9000))
while True:
    _, peer = s.recvfrom(65535)
    s.sendto(("udp-peer=%s:%d\n" % peer).encode(), peer)
'
udp_server net 9100
# "fragmentation needed" (next-hop MTU 1200) for every datagram to 9300,
# quoting it as it arrived (from the Elastic IP and the gateway's port)
bg_in_ns net python3 -c '
import socket, struct
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", 9300))
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
while True:
    data, (ip, port) = u.recvfrom(65535)
    ulen = 8 + len(data)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0x4000, 64, 17, 0,
                    socket.inet_aton(ip), socket.inet_aton("203.0.113.60"))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    icmp = struct.pack("!BBHHH", 3, 4, 0, 0, 1200) + h + struct.pack("!HHHH", port, 9300, ulen, 0)
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    r.sendto(icmp, (ip, 0))
'
# answers a second late (app's socket is closed by then) and logs the
# ICMP error that comes back, as its socket's error queue has it
bg_in_ns net python3 -c '
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9400))
s.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR
while True:
    _, peer = s.recvfrom(65535)
    time.sleep(1)
    s.sendto(b"late\n", peer)
    for _ in range(60):
        try:
            _, anc, _, to = s.recvmsg(64, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
        except BlockingIOError:
            time.sleep(0.05)
            continue
        for level, kind, d in anc:
            if level == socket.IPPROTO_IP and kind == 11 and len(d) >= 24:
                err, _, t, c = struct.unpack("=IBBB", d[:7])
                print("late-answer-error errno=%d type=%d code=%d from=%s to=%s:%d peer=%s:%d"
                      % (err, t, c, socket.inet_ntoa(d[20:24]), to[0], to[1], peer[0], peer[1]),
                      flush=True)
        break
'
wait_listen net udp 9000
wait_listen net udp 9300
wait_listen net udp 9400
servers_ready

# nat_source FROM HOST SOURCE: FROM's connection to HOST's port 8000
# arrives from SOURCE and a port of the NAT gateway's (1024-65535)
nat_source() {
	local port
	tcp_reaches "$1" "$2" 8000 "peer=$3 " || return 1
	port=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$PROBE_OUT")
	[ -n "$port" ] && [ "$port" -ge 1024 ] && [ "$port" -le 65535 ] ||
		{ say "  out='$PROBE_OUT': port '$port' not in 1024-65535"; return 1; }
}
eip=198.51.100.77
check "app -> net through the NAT gateway: net sees its Elastic IP and a port in 1024-65535" \
	nat_source app 203.0.113.60 "$eip"
check "app fetches a page from net through the NAT gateway (curl)" \
	http_reaches app http://203.0.113.60:8080/ page-of-net
check "net's HTTP server logged the Elastic IP as the client" \
	grep -Eq "^(::ffff:)?$eip .*\"GET / HTTP" "$TMP/servers.log"
check "UDP app -> net through the NAT gateway: seen from the Elastic IP" \
	udp_reaches app 203.0.113.60 9000 "udp-peer=$eip:"
check "ping app -> net through the NAT gateway (echo identifier translated)" \
	ping_reaches app 203.0.113.60
check "UDP 9100 refused by the NAT gateway subnet's NACL (rule 90)" \
	udp_blocked app 203.0.113.60 9100
refused() { [ -z "$PROBE_OUT" ] && [[ "$PROBE_ERR" == *"Connection refused"* ]]; }
udp_refused() { udp_probe "$1" "$2" "$3"; refused || { say "  rc=$PROBE_RC err='${PROBE_ERR##*] }'"; return 1; }; }
check "UDP app -> a closed port of net: the port unreachable comes back through the NAT gateway" \
	udp_refused app 203.0.113.60 9200
# app's connected UDP socket (don't fragment) learns the path MTU from the
# error: its kernel matched the quoted datagram to it, so the quote names
# app's own address and port
pmtu() {
	probe app timeout 10 python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER: IP_PMTUDISC_DO
s.connect(("203.0.113.60", 9300))
before = s.getsockopt(socket.IPPROTO_IP, 14)  # IP_MTU
s.send(b"x" * 1400)
for _ in range(40):
    time.sleep(0.1)
    if s.getsockopt(socket.IPPROTO_IP, 14) != before:
        break
print("mtu %d -> %d" % (before, s.getsockopt(socket.IPPROTO_IP, 14)))
'
	[[ "$PROBE_OUT" == *"-> 1200"* ]] || { say "  out='$PROBE_OUT' err='$PROBE_ERR'"; return 1; }
}
check "UDP app -> net: \"fragmentation needed\" through the NAT gateway sets app's path MTU" pmtu
# app's own port unreachable, for a late answer through the gateway: net
# gets it from the Elastic IP, quoting its answer to the gateway's port
late_refused() {
	echo x | in_ns app timeout 3 socat -t0.2 - UDP:203.0.113.60:9400 >/dev/null 2>&1
	for _ in $(seq 50); do
		grep -Eq "late-answer-error errno=111 type=3 code=3 from=$eip to=$eip:([0-9]+) peer=$eip:\1" \
			"$TMP/servers.log" && return 0
		sleep 0.1
	done
	say "  $(grep late-answer "$TMP/servers.log")"
	return 1
}
check "app's port unreachable for a late UDP answer goes out through the NAT gateway" late_refused
check "net -> the Elastic IP, TCP (nothing opened from outside)" tcp_blocked net "$eip" 80
check "net -> the Elastic IP, UDP" udp_blocked net "$eip" 9000
check "net -> the Elastic IP, ping" ping_blocked net "$eip"
check "net -> app's private address (no public IP, a NAT route)" \
	tcp_blocked net 10.77.2.10 80

check "VPN: app -> onprem by private address, seen from app's own address" \
	tcp_reaches app 192.168.50.10 8000 "peer=10.77.2.10 "
check "VPN: onprem -> app by private address (no public IP needed)" \
	http_reaches onprem http://10.77.2.10/ page-of-app
check "peering: peer (VPC b) -> app" http_reaches peer http://10.77.2.10/ page-of-app
check "peering: app -> peer" tcp_reaches app 10.78.1.10 80 hello-from-peer

# a private NAT gateway: on-premises sees its private IP, and nothing from
# there gets in through it
check "private NAT: app2 -> onprem, seen from the gateway's private IP and a port of its" \
	nat_source app2 192.168.50.10 10.77.3.5
check "private NAT: onprem -> app2's address (its route is the NAT gateway)" \
	tcp_blocked onprem 10.77.4.10 80
check "private NAT: onprem -> the gateway's private IP" tcp_blocked onprem 10.77.3.5 8000

ck() { "$VPCFW" check "$lab" --from "$1" --to "$2" --proto "$3" --port "$4" | head -n 1; }
check "vpcfw check agrees: app -> net tcp 8000 ACCEPT" \
	grep -q 'ACCEPT$' <<<"$(ck "app-$LAB" 203.0.113.60 tcp 8000)"
check "vpcfw check agrees: app -> net udp 9100 REJECT" \
	grep -q 'REJECT$' <<<"$(ck "app-$LAB" 203.0.113.60 udp 9100)"
check "vpcfw check agrees: net -> app tcp 80 REJECT" \
	grep -q 'REJECT$' <<<"$(ck "net-$LAB" 10.77.2.10 tcp 80)"
check "vpcfw check agrees: onprem -> app tcp 80 ACCEPT" \
	grep -q 'ACCEPT$' <<<"$(ck "onprem-$LAB" 10.77.2.10 tcp 80)"
check "vpcfw check agrees: peer -> app tcp 80 ACCEPT" \
	grep -q 'ACCEPT$' <<<"$(ck "peer-$LAB" 10.77.2.10 tcp 80)"
check "vpcfw check agrees: app2 -> onprem tcp 8000 ACCEPT" \
	grep -q 'ACCEPT$' <<<"$(ck "app2-$LAB" 192.168.50.10 tcp 8000)"
check "vpcfw check agrees: onprem -> app2 tcp 80 REJECT" \
	grep -q 'REJECT$' <<<"$(ck "onprem-$LAB" 10.77.4.10 tcp 80)"

# reload_with PYTHON: the lab file edited by PYTHON (over d), then SIGHUP
# and the daemon's word on it.
reload_with() {
	local before
	python3 - "$lab" "$1" <<'PY' || return 1
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(d, open(sys.argv[1], "w"))
PY
	before=$(grep -c 'reloaded lab' "$TMP/vpcfwd.log")
	kill -HUP "$DAEMON_PID"
	for _ in $(seq 100); do
		[ "$(grep -c 'reloaded lab' "$TMP/vpcfwd.log")" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_listen net tcp 7000
long_client app 203.0.113.60 7000 4
check "a long connection through the NAT gateway: step 1" client_says "step 1 ok"
check "reload: the rules change, the gateways stay" \
	reload_with 'd["description"] = "reloaded"'
client_step 2
check "the NAT connection goes on across that reload" client_says "step 2 ok"
# the table knows a gateway by its id and Elastic IP, not by its place in
# the list: one more gateway before it keeps its translations
check "reload: one more NAT gateway in the lab, before the first" reload_with '
g = dict(d["gateways"][0], id="nat-0f1b2c3d4e5f60718", public_ip="198.51.100.78")
d["gateways"].insert(0, g)'
client_step 3
check "the NAT connection goes on across that reload too" client_says "step 3 ok"
# the gateway replaced by another (a new id, the same address): its
# translations go with it, the next segment leaves from a port of the new
# gateway and the far end, knowing no such connection, resets it
check "reload: the connection's NAT gateway replaced" reload_with '
d["gateways"][1]["id"] = "nat-0c1b2c3d4e5f60718"
d["vpcs"][0]["route_tables"][1]["routes"][0]["target"] = "nat-0c1b2c3d4e5f60718"'
client_step 4
check "the replaced gateway's translations are gone: the connection breaks" \
	client_says "step 4 \(timeout\|error\)"

check "the daemon reports its counters" daemon_stats
check "drops counted: nat-unsolicited" stat_ge "d['drops'].get('nat-unsolicited', 0)" 3

itest_finish
