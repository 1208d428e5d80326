#!/usr/bin/env bash
# Real ICMP echo through vpcfwd (labs/basic.json): the server's group allows
# echo requests from the front subnet and the reply is tracked; a group
# without the rule drops them; a subnet whose NACL admits only tcp/8080
# drops them although the group would allow them.
. "$(dirname "$0")/lib.sh"
need ping
itest_init
daemon_start "$(lab_prepare basic)"

check "ping 10.71.2.20 (group allows echo, NACL allows all)" ping_reaches cli 10.71.2.20
check "ping 10.71.2.21 (group without rules)" ping_blocked cli 10.71.2.21
check "ping 10.71.3.30 (group allows, NACL closed to ICMP)" ping_blocked cli 10.71.3.30
check "ping from the server to the client (client's group has no inbound rule)" \
	ping_blocked srv 10.71.1.10
jumbo() { # SIZE: one echo of SIZE payload bytes with DF set
	in_ns cli ping -4 -n -c 1 -W 2 -M "do" -s "$1" 10.71.2.20 >/dev/null 2>&1
}
check "MTU 9001 as in a VPC: an 8973-byte echo (9001 on the wire) with DF passes" jumbo 8973
check_not "an 8974-byte echo with DF exceeds the MTU" jumbo 8974
check "refusals leave the allowed path working: ping 10.71.2.20 again" ping_reaches cli 10.71.2.20

itest_finish
