#!/usr/bin/env bash
# The bugs other emulators shipped (AWS-SEMANTICS 8), with labs/gates.json.
# Both gates: a flow needs the sender's SG egress AND the receiver's SG
# ingress, and across subnets the sender subnet's NACL egress AND the
# receiver subnet's NACL ingress; either one closed alone blocks. First
# match by number: NACL rule 100 allow tcp/22 wins over 200 deny tcp/22,
# 110 deny tcp/23 over 210 allow tcp/23, although the file lists the
# higher numbers first. IPv6 is no exception: IPv4 rules never match it.
. "$(dirname "$0")/lib.sh"
itest_init
daemon_start "$(lab_prepare gates)"
tcp_server ro 80
tcp_server rs 80
for p in 22 23 80 81 82; do tcp_server y1 "$p"; done
servers_ready

check "SG: open egress and open ingress connect" tcp_reaches so 10.75.1.20 80 hello-from-ro
check "SG: sender egress closed alone blocks (receiver open)" \
	tcp_blocked ss 10.75.1.20 80
check "SG: receiver ingress closed alone blocks (sender open)" \
	tcp_blocked so 10.75.1.21 80
check "SG: both closed blocks" tcp_blocked ss 10.75.1.21 80

check "NACL: both open across subnets (tcp/80)" tcp_reaches x1 10.75.3.10 80 hello-from-y1
check "NACL: sender subnet's egress closed alone blocks (tcp/81)" \
	tcp_blocked x1 10.75.3.10 81
check "NACL: receiver subnet's ingress closed alone blocks (tcp/82)" \
	tcp_blocked x1 10.75.3.10 82

check "IPv6 passes where the rules allow it (so -> ro, one subnet)" \
	tcp_reaches so 2001:db8:75:1::20 80 hello-from-ro
check "IPv4-only NACL rules never match IPv6: x1 -> y1 over IPv6 meets rule 32768" \
	tcp_blocked x1 2001:db8:75:3::10 80

check "first match: 100 allow tcp/22 before 200 deny tcp/22 allows" \
	tcp_reaches x1 10.75.3.10 22 hello-from-y1
check "first match: 110 deny tcp/23 before 210 allow tcp/23 denies" \
	tcp_blocked x1 10.75.3.10 23

# The counters say which gate closed each refused flow, on the ENI where
# it closed (the sender's for egress stages, the receiver's for ingress).
rejected_at() { # NAME STAGE
	stat_ge "d['enis']['$(eni_id "$1")']['rejected_packets'].get('$2', 0)" 1
}
check "the daemon reports its counters" daemon_stats
check "ss's refusal counted at its sg-egress" rejected_at ss sg-egress
check "rs's refusal counted at its sg-ingress" rejected_at rs sg-ingress
check "tcp/81 counted at x1's nacl-egress" rejected_at x1 nacl-egress
check "tcp/82 and tcp/23 counted at y1's nacl-ingress" rejected_at y1 nacl-ingress
check "ro never rejected anything" stat_ge "-sum(d['enis']['$(eni_id ro)']['rejected_packets'].values())" 0

itest_finish
