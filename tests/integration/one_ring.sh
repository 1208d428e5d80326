#!/usr/bin/env bash
# One capture ring per router and worker, whatever the number of ports
# (issue 9): a lab of 24 ENIs in two subnets runs with exactly two packet
# sockets per worker thread in the router namespace (its ring, bound to no
# interface, and its transmit socket), and every ENI's traffic is still told apart by the port it came
# in on: each ENI reaches e0 and e23 (the source check drops a frame
# attributed to the wrong port), a reload that adds an ENI needs no new
# socket and its port carries traffic at once, and what vpcfwd sends is
# never read back (no frame is counted twice).
. "$(dirname "$0")/lib.sh"
need ping python3
itest_init
router=vpcfw-router-$LAB

# N ENIs alternating over two subnets, everything allowed inside the VPC.
write_lab() { # N FILE
	python3 - "$1" "$LAB" >"$2" <<-'EOF'
	import json, sys
	n, run = int(sys.argv[1]), sys.argv[2]
	allow = [{"rule": 100, "action": "allow", "proto": "all", "cidr": "10.74.0.0/16"}]
	vpc = {"name": "it", "cidr": "10.74.0.0/16",
	       "subnets": [{"name": "s%d" % s, "cidr": "10.74.%d.0/24" % (s + 1), "nacl": "open"}
	                   for s in range(2)],
	       "nacls": [{"name": "open", "ingress": allow, "egress": allow}],
	       "security_groups": [{"name": "vpc", "ingress": [{"proto": "all", "from": "10.74.0.0/16"}],
	                            "egress": [{"proto": "all", "to": "10.74.0.0/16"}]}],
	       "enis": [{"name": "e%d-%s" % (i, run), "subnet": "s%d" % (i % 2),
	                 "ip": "10.74.%d.%d" % (i % 2 + 1, 10 + i), "groups": ["vpc"]} for i in range(n)]}
	json.dump({"lab": "it-one-ring", "vpcs": [vpc]}, sys.stdout)
	EOF
}
addr() { echo "10.74.$(($1 % 2 + 1)).$((10 + $1))"; }
# Packet sockets in the router namespace (/proc/net/packet lists them per
# namespace, one line each after the header).
packet_sockets() { ip netns exec "$router" awk 'NR > 1' /proc/net/packet | wc -l; }
ports() { ip -n "$router" -o link show | grep -vc ' lo:'; }

write_lab 24 "$TMP/lab.json"
daemon_start "$TMP/lab.json"
check "the router has a port per ENI" test "$(ports)" -eq 24
# Per worker thread (docs/datapath.md): its ring and its transmit socket.
daemon_stats || fail "no stats"
workers=$(stat "len(d['workers'])")
check "two packet sockets per worker ($workers) in the router namespace for 24 ports" \
	test "$(packet_sockets)" -eq $((2 * workers))
check "the capture socket is bound to no interface" \
	ip netns exec "$router" awk 'NR > 1 && $5 == 0 { f = 1 } END { exit !f }' /proc/net/packet

every_eni_reaches() { # TARGET
	local i bad=0
	for i in $(seq 0 23); do
		[ "$i" -eq "$1" ] && continue
		in_ns "e$i" ping -c1 -W2 "$(addr "$1")" >/dev/null 2>&1 || { say "  e$i -> e$1 lost"; bad=1; }
	done
	return $bad
}
check "every ENI pings e0 (the frames are told apart by ingress port)" every_eni_reaches 0
check "every ENI pings e23" every_eni_reaches 23
tcp_server e17 8080
servers_ready
check "e4 -> e17 tcp" tcp_reaches e4 "$(addr 17)" 8080 hello-from-e17
check "e5 -> e17 tcp (same subnet as e17)" tcp_reaches e5 "$(addr 17)" 8080 hello-from-e17

stat() { # a global counter of the SIGUSR1 dump
	kill -USR1 "$DAEMON_PID"
	sleep 0.5
	grep -o "\"$1\":[0-9]*" "$TMP/vpcfwd.log" | tail -n 1 | cut -d: -f2
}
# 46 pings out and back: an outgoing copy read back would double rx.
rx_tx_match() {
	local rx tx
	rx=$(stat rx_packets)
	tx=$(stat tx_packets)
	[ -n "$rx" ] && [ -n "$tx" ] && [ "$rx" -ge "$tx" ] && [ "$rx" -lt $((tx * 2)) ] ||
		{ say "  rx $rx tx $tx"; return 1; }
}
check "frames sent are not read back as received" rx_tx_match

write_lab 25 "$TMP/lab.json"
kill -HUP "$DAEMON_PID"
reloaded() { grep -q 'reload.*25 ENIs\|reloaded' "$TMP/vpcfwd.log" && test "$(ports)" -eq 25; }
for _ in $(seq 100); do reloaded && break; sleep 0.1; done
check "a reload adds the 25th ENI's port" test "$(ports)" -eq 25
check "still two packet sockets per worker" test "$(packet_sockets)" -eq $((2 * workers))
check "the new ENI pings e0 and e23" \
	bash -c "ip netns exec $(ns e24) ping -c1 -W2 $(addr 0) && ip netns exec $(ns e24) ping -c1 -W2 $(addr 23)"
check "e0 pings the new ENI" in_ns e0 ping -c1 -W2 "$(addr 24)"

itest_finish
