#!/usr/bin/env bash
# Real TCP through vpcfwd (labs/basic.json): an allowed port connects over
# IPv4 and IPv6; a port the server's NACL denies and a port its security
# group does not open both time out (AWS sends no RST), as does a server
# whose group has no rule at all.
. "$(dirname "$0")/lib.sh"
itest_init
daemon_start "$(lab_prepare basic)"

for p in 8080 8081 8082; do tcp_server srv "$p"; done
tcp_server srv2 8080
tcp_server srv3 8080
servers_ready

check "tcp 10.71.2.20:8080 allowed by SG and NACL" tcp_reaches cli 10.71.2.20 8080 hello-from-srv
check "tcp [2001:db8:71:2::20]:8080 allowed over IPv6" tcp_reaches cli 2001:db8:71:2::20 8080 hello-from-srv
check "tcp to another subnet whose NACL admits only 8080" tcp_reaches cli 10.71.3.30 8080 hello-from-srv3
check "tcp :8081 denied by the server subnet's NACL (rule 90)" tcp_blocked cli 10.71.2.20 8081
check "tcp :8081 denied by the NACL over IPv6 (rule 91)" tcp_blocked cli 2001:db8:71:2::20 8081
check "tcp :8082 not opened by the server's security group" tcp_blocked cli 10.71.2.20 8082
check "tcp to a server whose group has no inbound rule" tcp_blocked cli 10.71.2.21 8080
check "tcp the server's group does not open towards the client" tcp_blocked srv 10.71.1.10 8080
check "the allowed port still works after the refusals" tcp_reaches cli 10.71.2.20 8080 hello-from-srv
check "16 MiB download arrives intact (jumbo segments, checksums)" bulk_ok srv 10.71.2.20 9000 cli 16
check "16 MiB download over IPv6 arrives intact" bulk_ok srv 2001:db8:71:2::20 9000 cli 16

itest_finish
