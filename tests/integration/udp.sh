#!/usr/bin/env bash
# Real UDP through vpcfwd (labs/basic.json): a request/response on an
# allowed port gets its answer (the reply passes as a tracked flow), over
# IPv4 and IPv6; a NACL-denied and an SG-closed port get nothing.
. "$(dirname "$0")/lib.sh"
itest_init
daemon_start "$(lab_prepare basic)"

for p in 5353 5354 5355; do udp_server srv "$p"; done
servers_ready

check "udp 10.71.2.20:5353 answered" udp_reaches cli 10.71.2.20 5353 hello-from-srv
check "udp [2001:db8:71:2::20]:5353 answered over IPv6" udp_reaches cli 2001:db8:71:2::20 5353 hello-from-srv
check "udp :5354 denied by the server subnet's NACL (rule 92)" udp_blocked cli 10.71.2.20 5354
check "udp :5354 denied over IPv6 (rule 93)" udp_blocked cli 2001:db8:71:2::20 5354
check "udp :5355 not opened by the server's group" udp_blocked cli 10.71.2.20 5355

itest_finish
