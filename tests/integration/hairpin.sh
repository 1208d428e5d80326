#!/usr/bin/env bash
# Hairpin through the internet gateway (AWS-SEMANTICS 9, labs/hairpin.json):
# cli reaches srv's public IP through the igw and arrives from its own
# public IP, so srv's rule for that address lets it in and its group
# reference does not (by private address it is the other way round).
# Without a public IP of the sender (nopb) or a route back to the igw in
# the receiver's subnet (back) nothing passes, and `vpcfw check` says what
# the daemon does. Servers print the address a connection came from.
. "$(dirname "$0")/lib.sh"
need python3
itest_init
lab=$(lab_prepare hairpin)
daemon_start "$lab"
for port in 80 81 82; do
	for host in srv back; do
		bg_in_ns "$host" socat TCP-LISTEN:$port,fork,reuseaddr 'SYSTEM:echo peer=$SOCAT_PEERADDR'
		wait_listen "$host" tcp $port
	done
done

check "cli -> srv's public IP: arrives from cli's public IP" \
	tcp_reaches cli 198.51.100.61 80 peer=198.51.100.60
check "cli -> srv's public IP, port 82 open to all: from cli's public IP" \
	tcp_reaches cli 198.51.100.61 82 peer=198.51.100.60
check "cli -> srv's public IP, port 81: a group reference never matches a public IP" \
	tcp_blocked cli 198.51.100.61 81
check "cli -> srv's private address, port 81: the reference matches" \
	tcp_reaches cli 10.79.2.10 81 peer=10.79.1.10
check "cli -> srv's private address, port 80: only cli's public IP is let in" \
	tcp_blocked cli 10.79.2.10 80
check "nopb (no public IP) -> srv's public IP" tcp_blocked nopb 198.51.100.61 82
check "cli -> back's public IP (back's subnet has no igw route back)" \
	tcp_blocked cli 198.51.100.62 82

# check_says FROM TO PORT EXIT: `vpcfw check` gives the daemon's verdict
check_says() {
	"$VPCFW" check "$lab" --from "$1" --to "$2" --proto tcp --port "$3" >"$TMP/check.out"
	local rc=$?
	[[ $rc == "$4" ]] || { say "  exit $rc, want $4:"; cat "$TMP/check.out"; return 1; }
}
check "vpcfw check: cli -> srv's public IP:80 ACCEPT" check_says 10.79.1.10 198.51.100.61 80 0
check "vpcfw check: cli -> srv's public IP:81 REJECT" check_says 10.79.1.10 198.51.100.61 81 1
check "vpcfw check: cli -> srv's private address:81 ACCEPT" check_says 10.79.1.10 10.79.2.10 81 0
check "vpcfw check: cli -> srv's private address:80 REJECT" check_says 10.79.1.10 10.79.2.10 80 1
check "vpcfw check: nopb -> srv's public IP:82 REJECT" check_says 10.79.1.11 198.51.100.61 82 1
check "vpcfw check: cli -> back's public IP:82 REJECT" check_says 10.79.1.10 198.51.100.62 82 1

check "the daemon reports its counters" daemon_stats
check "drops counted: no-public-ip" stat_ge "d['drops'].get('no-public-ip', 0)" 1
check "drops counted: no-route" stat_ge "d['drops'].get('no-route', 0)" 1
check "srv's refusals counted at its sg-ingress" \
	stat_ge "d['enis']['$(eni_id srv)']['rejected_packets'].get('sg-ingress', 0)" 2

itest_finish
