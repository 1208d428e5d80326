#!/usr/bin/env bash
# NACLs are stateless (AWS-SEMANTICS 2, 6): labs/ephemeral.json admits
# tcp/8080 into the server subnet but lets replies out only to ports
# 1024-32767. A client on an ephemeral port (45000) gets no SYN-ACK, so
# the connection breaks although the request was accepted; the flow log
# shows ACCEPT for the request and REJECT for the reply on the server's
# ENI. The same client from port 20000 connects: only the reply port
# differs.
. "$(dirname "$0")/lib.sh"
itest_init
daemon_start "$(lab_prepare ephemeral)"
tcp_server srv 8080
servers_ready
srv_eni=$(eni_id srv)
check "the server's ENI id is known from the state file" test -n "$srv_eni"

from_port() { # PORT SECONDS: connect from that source port
	probe cli timeout $(($2 + 2)) socat -T"$2" - \
		"TCP:10.72.2.20:8080,connect-timeout=$2,sourceport=$1,reuseaddr" </dev/null
}
reaches_from() { from_port "$1" 5 && [[ "$PROBE_OUT" == *hello-from-srv* ]]; }
breaks_from() { from_port "$1" 2; timed_out; }

check "from ephemeral port 45000: the reply is denied, the connection times out" breaks_from 45000
check "from port 20000 (in the egress rule's range): connects" reaches_from 20000
check "from the kernel's own ephemeral port: times out too" tcp_blocked cli 10.72.2.20 8080

check "flow log: request from 45000 ACCEPTed on the server's ENI" \
	flowlog_has "$srv_eni" 10.72.1.10 10.72.2.20 45000 8080 6 ACCEPT
check "flow log: reply to 45000 REJECTed on the server's ENI" \
	flowlog_has "$srv_eni" 10.72.2.20 10.72.1.10 8080 45000 6 REJECT
check "flow log: reply to 20000 ACCEPTed" \
	flowlog_has "$srv_eni" 10.72.2.20 10.72.1.10 8080 20000 6 ACCEPT
check_not "flow log: no ACCEPT for a reply to 45000" \
	grep -Eq "$(flowlog_v2_re "$srv_eni" 10.72.2.20 10.72.1.10 8080 45000 6 ACCEPT)" "$FLOWLOG"

itest_finish
