#!/usr/bin/env bash
# Real ICMPv6 echo through vpcfwd (labs/basic.json): IPv6 rules are not
# inert (AWS-SEMANTICS 8). The server's group allows echo requests (type
# 128) from the front /64; neighbour discovery is answered by the VPC
# router; a group without the rule and a NACL without ICMPv6 drop them.
. "$(dirname "$0")/lib.sh"
need ping
itest_init
daemon_start "$(lab_prepare basic)"

check "ping -6 2001:db8:71:2::20 (group allows type 128)" ping_reaches cli 2001:db8:71:2::20
check "ping -6 2001:db8:71:2::21 (group without rules)" ping_blocked cli 2001:db8:71:2::21
check "ping -6 2001:db8:71:3::30 (NACL admits only tcp/8080)" ping_blocked cli 2001:db8:71:3::30
check "ping -6 from the server to the client (no inbound rule)" ping_blocked srv 2001:db8:71:1::10

itest_finish
