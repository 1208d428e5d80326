#!/usr/bin/env bash
# Traffic between two ENIs of one subnet never meets a NACL (AWS-SEMANTICS
# 1): in labs/samesubnet.json the shared subnet's NACL has no rule, so it
# denies everything, yet a and b talk over TCP, UDP, ICMP and ICMPv6, and
# still through the daemon (it answers ARP for the whole subnet). c, in the
# other subnet, crosses the deny-all NACL and gets nothing.
. "$(dirname "$0")/lib.sh"
need ping
itest_init
daemon_start "$(lab_prepare samesubnet)"
tcp_server b 8080
udp_server b 5353
tcp_server a 8080
servers_ready

check "a -> b tcp inside the subnet despite a deny-all NACL" tcp_reaches a 10.73.1.11 8080 hello-from-b
check "a -> b tcp over IPv6" tcp_reaches a 2001:db8:73:1::11 8080 hello-from-b
check "a -> b udp" udp_reaches a 10.73.1.11 5353 hello-from-b
check "a -> b ping" ping_reaches a 10.73.1.11
check "a -> b ping -6" ping_reaches a 2001:db8:73:1::11
check "b -> a tcp" tcp_reaches b 10.73.1.10 8080 hello-from-a
# b must have resolved a's address to the router port, not to a's own eth0.
via_router() {
	local seen own
	seen=$(ip -n "$(ns b)" neigh show 10.73.1.10 dev eth0 | awk '{print $3}')
	own=$(ip -n "$(ns a)" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | awk '{print $2}')
	[ -n "$seen" ] && [ -n "$own" ] && [ "$seen" != "$own" ]
}
check "same-subnet traffic crosses the daemon: b resolved a to the router's MAC" via_router
check "c -> b tcp from the other subnet meets the deny-all NACL" tcp_blocked c 10.73.1.11 8080
check "c -> b ping from the other subnet" ping_blocked c 10.73.1.11
check "a -> c (leaving the subnet) meets the NACL too" ping_blocked a 10.73.2.10

itest_finish
