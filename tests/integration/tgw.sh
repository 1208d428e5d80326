#!/usr/bin/env bash
# A transit gateway on real packets (labs/tgw.json, AWS-SEMANTICS 9): VPCs
# a, b and c attached to one gateway, a TGW route table with propagations,
# static routes (to c and to a VPN attachment leading to the on-premises
# host vpn) and a blackhole. TCP, UDP and ping pass where AWS forwards
# them, and nothing passes where it refuses: the blackhole (either
# direction of the flow), an attachment associated with no table (no way
# back from c), a zone without an attachment subnet (b2), a VPC with no
# route to the VPN (b), the receiver's NACL and SG. `vpcfw check` gives the
# same verdict for every flow and `vpcfw stats` counts the drops.
. "$(dirname "$0")/lib.sh"
need python3 ping
itest_init
lab=$(lab_prepare tgw)
daemon_start "$lab"
for host in a b bz bh c vpn; do
	tcp_server "$host" 80
	udp_server "$host" 9000
done
tcp_server b 81
tcp_server b 82
servers_ready

declare -A addr=([a]=10.91.1.10 [b]=10.92.1.10 [bz]=10.92.2.10 [bh]=10.92.9.10 [c]=10.93.1.10
	[vpn]=198.51.100.40)
a=${addr[a]} bh=${addr[bh]}

# verdict, agree, pass, refuse (addr: the hosts' addresses by name)
. "$(dirname "$0")/tgw_flows.bash"

# propagated routes, both ways
for p in "tcp 80" "udp 9000" "icmp"; do
	# shellcheck disable=SC2086 # "PROTO [PORT]"
	pass a b $p
	# shellcheck disable=SC2086
	pass b a $p
done
# the receiver's own rules still apply past the gateway
refuse a b tcp 81 # b1's NACL rule 90
refuse a b tcp 82 # b's SG admits 80, 81 and UDP 9000 only
# the blackhole 10.92.9.0/24 beats the propagated 10.92.0.0/16: nothing
# goes to bh, and bh's requests get no reply back
for p in "tcp 80" "udp 9000" "icmp"; do
	# shellcheck disable=SC2086
	refuse a bh $p
	# shellcheck disable=SC2086
	refuse bh a $p
done
# c's attachment is associated with no TGW route table: the static route
# carries a's request to c, but c's reply cannot cross back
for p in "tcp 80" "udp 9000" "icmp"; do
	# shellcheck disable=SC2086
	refuse a c $p
	# shellcheck disable=SC2086
	refuse c a $p
done
# b's attachment has no subnet in us-east-1b: b2 is cut off both ways
refuse a bz tcp 80
refuse bz a tcp 80
refuse bz a icmp
# the VPN attachment by the static route 198.51.100.0/24, both ways,
# private addresses (no public IP in the lab)
for p in "tcp 80" "udp 9000" "icmp"; do
	# shellcheck disable=SC2086
	pass a vpn $p
done
pass vpn a tcp 80
# VPC b's route table has no route to 198.51.100.0/24
refuse b vpn tcp 80
refuse vpn b tcp 80

check "vpcfw check names the blackhole" \
	bash -c "'$VPCFW' check '$lab' --from a-$LAB --to $bh --proto tcp --port 80 |
		grep -Eq '^  route +REJECT .*10.92.9.0/24 -> blackhole'"
check "vpcfw check names the attachment with no table" \
	bash -c "'$VPCFW' check '$lab' --from c-$LAB --to $a --proto tcp --port 80 |
		grep -Eq '^  route +REJECT .*tgw-attach-0a1b2c3d4e5f6071c is associated with no TGW route table'"
check "the daemon reports its counters" daemon_stats
check "route-stage drops counted (no-route)" stat_ge "d['drops'].get('no-route', 0)" 20
b_rejected="[e for e in d['enis'].values() if e['name'] == 'b-$LAB'][0]['rejected_packets']"
check "b's NACL drop counted" stat_ge "${b_rejected}['nacl-ingress']" 1
check "b's SG drop counted" stat_ge "${b_rejected}['sg-ingress']" 1

itest_finish
