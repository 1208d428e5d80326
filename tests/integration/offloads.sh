#!/usr/bin/env bash
# vpcfwd --offloads on (labs/basic.json): with checksum and segmentation
# offloads kept on the veths, the data path still delivers intact data and
# still filters: bulk TCP over IPv4 and IPv6, jumbo UDP and ICMP, and the
# refused ports stay refused.
. "$(dirname "$0")/lib.sh"
need ping
itest_init
daemon_start "$(lab_prepare basic)" --offloads on
check "the topology kept the offloads" \
	bash -c "ip netns exec $(ns cli) ethtool -k eth0 | grep -q '^tcp-segmentation-offload: on'"
tcp_server srv 8080
tcp_server srv 8082
udp_server srv 5353
servers_ready

check "tcp connects" tcp_reaches cli 10.71.2.20 8080 hello-from-srv
check "32 MiB download arrives intact" bulk_ok srv 10.71.2.20 9000 cli 32
check "32 MiB download over IPv6 arrives intact" bulk_ok srv 2001:db8:71:2::20 9000 cli 32
big_udp() { # an 8000-byte datagram and its answer
	probe cli bash -c "head -c 8000 /dev/zero | tr '\\0' x | timeout 7 socat -T5 - UDP:10.71.2.20:5353"
	[[ "$PROBE_OUT" == *hello-from-srv* ]]
}
check "an 8000-byte UDP datagram is answered" big_udp
jumbo_ping() { in_ns cli ping -4 -n -c 1 -W 2 -M "do" -s 8973 10.71.2.20 >/dev/null 2>&1; }
check "an 8973-byte echo with DF passes" jumbo_ping
check "tcp :8082 is still refused by the security group" tcp_blocked cli 10.71.2.20 8082
check "tcp :8081 is still refused by the NACL" tcp_blocked cli 10.71.2.20 8081

itest_finish
