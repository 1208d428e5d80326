#!/usr/bin/env bash
# Transit gateway peering on real packets (labs/tgw_peering.json): VPC p on
# gateway A, VPCs q and r on gateway B, A and B peered. A's table sends q's
# block over the peering attachment into B, whose table for its side of the
# attachment delivers to q, and B's sends p's block back the same way: TCP,
# UDP and ping pass between p and q. A's table has no static route to r's
# block (AWS propagates nothing over peering): p's requests to r stop at A,
# and r's replies to p would too. `vpcfw check` gives the same verdict for
# every flow and names both gateways.
. "$(dirname "$0")/lib.sh"
need python3 ping
itest_init
lab=$(lab_prepare tgw_peering)
daemon_start "$lab"
for host in p q r; do
	tcp_server "$host" 80
	udp_server "$host" 9000
done
servers_ready

declare -A addr=([p]=10.94.1.10 [q]=10.95.1.10 [r]=10.96.1.10)

# verdict, agree, pass, refuse (addr: the hosts' addresses by name)
. "$(dirname "$0")/tgw_flows.bash"

for p in "tcp 80" "udp 9000" "icmp"; do
	# shellcheck disable=SC2086 # "PROTO [PORT]"
	pass p q $p
	# shellcheck disable=SC2086
	pass q p $p
	# shellcheck disable=SC2086
	refuse p r $p
	# shellcheck disable=SC2086
	refuse r p $p
done

check "vpcfw check names both gateways and the peering attachment" \
	bash -c "'$VPCFW' check '$lab' --from p-$LAB --to ${addr[q]} --proto tcp --port 80 |
		grep -Eq '^  route +ACCEPT .*tgw-0c1b2c3d4e5f6071a, .* -> tgw-attach-0a1b2c3d4e5f607ff, into peer tgw-0c1b2c3d4e5f6071b by its side of tgw-attach-0a1b2c3d4e5f607ff, TGW route table tgw-rtb-0a1b2c3d4e5f6070b: 10.95.0.0/16 -> tgw-attach-0a1b2c3d4e5f60795'"
check "vpcfw check names the table without a route to r" \
	bash -c "'$VPCFW' check '$lab' --from p-$LAB --to ${addr[r]} --proto tcp --port 80 |
		grep -Eq '^  route +REJECT .*TGW route table tgw-rtb-0a1b2c3d4e5f6070a has no route to 10.96.1.10'"
check "the daemon reports its counters" daemon_stats
check "route-stage drops counted (no-route)" stat_ge "d['drops'].get('no-route', 0)" 6

itest_finish
