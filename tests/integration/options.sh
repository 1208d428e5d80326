#!/usr/bin/env bash
# vpcfwd's output options, with labs/basic.json: without --flow-log the
# flow log goes to /var/log/vpcfw/<lab>/flow.log (directories created); a
# custom --flow-log-format writes AWS's fields in the order given (tcp-flags
# ORs FIN, SYN, RST and SYN-ACK as AWS does, flow-direction says
# ingress/egress, type IPv4/IPv6);
# --pcap-dir saves rejected frames per ENI as pcap files that tcpdump reads.
. "$(dirname "$0")/lib.sh"
need tcpdump python3
itest_init
DAEMON_DEFAULT_FLOWLOG=1
fmt='${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${action} ${tcp-flags} ${flow-direction} ${type} ${vpc-id} ${subnet-id}'
daemon_start "$(lab_prepare basic)" --flow-log-format "$fmt" --pcap-dir "$TMP/pcap"
check "default flow-log path under /var/log/vpcfw/<lab>/" daemon_log_has "flow log /var/log/vpcfw/$LAB/flow.log"
for p in 8080 8082; do tcp_server srv "$p"; done
servers_ready
cli=$(eni_id cli)
srv=$(eni_id srv)

from() { # SPORT DADDR DPORT
	in_ns cli timeout 6 socat -T1 - "TCP:$2:$3,sourceport=$1,reuseaddr,connect-timeout=1" \
		</dev/null >/dev/null 2>&1
}
from 41001 10.71.2.20 8080
from 41002 10.71.2.20 8082
from 41003 '[2001:db8:71:2::20]' 8080

custom() { # ENI SRC DST SPORT DPORT ACTION DIRECTION TYPE: a matching record
	flowlog_wait "^[0-9] $1 $2 $3 $4 $5 6 [0-9]+ $6 [0-9]+ $7 $8 vpc-[0-9a-f]+ subnet-[0-9a-f]+$" 6
}
check "custom format: request on the client's ENI, egress" \
	custom "$cli" 10.71.1.10 10.71.2.20 41001 8080 ACCEPT egress IPv4
check "custom format: request on the server's ENI, ingress" \
	custom "$srv" 10.71.1.10 10.71.2.20 41001 8080 ACCEPT ingress IPv4
check "custom format: rejected request on the server's ENI" \
	custom "$srv" 10.71.1.10 10.71.2.20 41002 8082 REJECT ingress IPv4
check "custom format: IPv6 record typed IPv6" \
	custom "$srv" 2001:db8:71:1::10 2001:db8:71:2::20 41003 8080 ACCEPT ingress IPv6
check "the flow log file exists at the default path" test -s "$FLOWLOG"
# AWS logs only FIN 1, SYN 2, RST 4 and SYN-ACK 18 in tcp-flags, OR-ed over
# the interval (ACK and PSH alone give 0).
tcp_flags() { # SPORT DPORT DIRECTION: the OR over the server's records
	local f=0 v
	for v in $(awk -v e="$srv" -v s="$1" -v d="$2" -v dir="$3" \
		'$2 == e && $5 == s && $6 == d && $11 == dir { print $10 }' "$FLOWLOG"); do
		f=$((f | v))
	done
	echo "$f"
}
flags_are() { # SPORT DPORT DIRECTION VALUE
	local f
	f=$(tcp_flags "$1" "$2" "$3")
	[ "$f" -eq "$4" ] || { say "  tcp-flags $f, expected $4: $(grep " $1 $2 " "$FLOWLOG" | tr '\n' ';')"; return 1; }
}
check "tcp-flags of the request: SYN|FIN = 3" flags_are 41001 8080 ingress 3
check "tcp-flags of the reply: SYN-ACK|FIN = 19" flags_are 8080 41001 egress 19
check "the version field is the format's highest field version (5)" \
	bash -c "grep -q \"^5 $srv \" '$FLOWLOG'"

daemon_stop TERM
pcap=$TMP/pcap/$srv.pcap
check "rejected frames were saved as $srv.pcap" test -s "$pcap"
check "tcpdump reads it and finds the rejected SYN to 8082" \
	bash -c "tcpdump -nr '$pcap' 2>/dev/null | grep -q '10.71.1.10.41002 > 10.71.2.20.8082: Flags \[S\]'"
check "no accepted frame was saved" \
	bash -c "! tcpdump -nr '$pcap' 2>/dev/null | grep -q '\.8080'"

itest_finish
