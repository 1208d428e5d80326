#!/usr/bin/env bash
# ICMP errors of tracked flows (AWS-SEMANTICS 4), with labs/icmperr.json:
# the server's kernel answers a UDP datagram to a closed port with ICMP port
# unreachable; cli's group admits nothing inbound, yet the error reaches cli
# (socat sees "Connection refused") because it belongs to the tracked flow.
# cli2's subnet NACL admits UDP replies but no ICMP: the same error is
# dropped there (silence), while a UDP answer still gets through. A TCP RST
# for a closed port passes the groups the same way.
. "$(dirname "$0")/lib.sh"
itest_init
daemon_start "$(lab_prepare icmperr)"
udp_server srv 5354
servers_ready

refused() { [ -z "$PROBE_OUT" ] && [[ "$PROBE_ERR" == *"Connection refused"* ]]; }
udp_refused() { udp_probe "$1" "$2" "$3"; refused || { say "  rc=$PROBE_RC err='${PROBE_ERR##*] }'"; return 1; }; }
tcp_refused() { tcp_probe "$1" "$2" "$3"; refused || { say "  rc=$PROBE_RC err='${PROBE_ERR##*] }'"; return 1; }; }

check "cli: udp to a closed port gets the ICMP port unreachable through its group" \
	udp_refused cli 10.81.2.20 5353
check "cli: tcp to a closed port gets the RST through its group" tcp_refused cli 10.81.2.20 7
check "cli2: a UDP answer passes its subnet's NACL" udp_reaches cli2 10.81.2.20 5354 hello-from-srv
check "cli2: the ICMP error is dropped by its subnet's NACL (no ICMP rule): silence" \
	udp_blocked cli2 10.81.2.20 5353
check "cli2: the TCP RST (to an allowed port range) passes" tcp_refused cli2 10.81.2.20 7

itest_finish
