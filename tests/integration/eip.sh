#!/usr/bin/env bash
# A public IP belongs to one private address, not to the ENI (labs/eip.json,
# AWS-SEMANTICS 9): the internet gateway maps each public IP 1:1 onto its
# own private address, a secondary address without one reaches nothing
# outside, and an Elastic IP on a secondary address is that address's,
# even when the primary has none. Servers print the local address a
# connection arrived at, the outside host the address it came from.
. "$(dirname "$0")/lib.sh"
need python3
itest_init
lab=$(lab_prepare eip)
daemon_start "$lab"
for host in web sec; do
	bg_in_ns "$host" socat TCP-LISTEN:80,fork,reuseaddr 'SYSTEM:echo me=$SOCAT_SOCKADDR'
	wait_listen "$host" tcp 80
done
bg_in_ns net socat TCP-LISTEN:8000,fork,reuseaddr 'SYSTEM:echo peer=$SOCAT_PEERADDR'
wait_listen net tcp 8000

# FROM SRC ADDR PORT: a TCP connection from the address SRC of FROM
bound_probe() {
	local t=${5:-2}
	probe "$1" timeout $((t + 2)) socat -T"$t" - "TCP:$3:$4,connect-timeout=$t,bind=$2" </dev/null
}
bound_reaches() { # FROM SRC ADDR PORT EXPECT
	bound_probe "$1" "$2" "$3" "$4" 5
	[[ "$PROBE_OUT" == *"$5"* ]] || { say "  got rc=$PROBE_RC out='$PROBE_OUT' err='$PROBE_ERR'"; return 1; }
}
bound_blocked() { # FROM SRC ADDR PORT
	bound_probe "$1" "$2" "$3" "$4"
	timed_out || { say "  not a silent drop: rc=$PROBE_RC out='$PROBE_OUT'"; return 1; }
}

check "net -> 198.51.100.41 arrives at sec's secondary 10.85.1.21" \
	tcp_reaches net 198.51.100.41 80 me=10.85.1.21
check "net -> 198.51.100.40 arrives at web's primary 10.85.1.10" \
	tcp_reaches net 198.51.100.40 80 me=10.85.1.10
check "sec from 10.85.1.21 -> net: seen from its Elastic IP 198.51.100.41" \
	bound_reaches sec 10.85.1.21 203.0.113.70 8000 peer=198.51.100.41
check "sec from its primary 10.85.1.20 (no public IP) -> net" \
	bound_blocked sec 10.85.1.20 203.0.113.70 8000
check "web from 10.85.1.10 -> net: seen from 198.51.100.40" \
	bound_reaches web 10.85.1.10 203.0.113.70 8000 peer=198.51.100.40
check "web from its secondary 10.85.1.11 (no public IP of its own) -> net" \
	bound_blocked web 10.85.1.11 203.0.113.70 8000
check "vpcfw check names the address without a public IP" \
	bash -c "'$VPCFW' check '$lab' --from 10.85.1.11 --to 203.0.113.70 --proto tcp --port 8000 |
		grep -Eq '^  route +REJECT .*its address 10.85.1.11 has no public IPv4 address of its own'"
check "vpcfw check: net -> 198.51.100.41:80 ACCEPT" \
	"$VPCFW" check "$lab" --from 203.0.113.70 --to 198.51.100.41 --proto tcp --port 80
check "the daemon reports its counters" daemon_stats
check "drops counted: no-public-ip" stat_ge "d['drops'].get('no-public-ip', 0)" 2

itest_finish
