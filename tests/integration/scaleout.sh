#!/usr/bin/env bash
# One lab larger than one machine (docs/scale-out.md), on one machine: two
# vpcfwd processes each own half of labs/scaleout.json (A: subnet a, B:
# subnet b; --own) and are joined by the kernel's VXLAN over a veth
# underlay between two namespaces of their own (--remote). Real TCP, UDP
# and ICMP between the halves gets AWS's answer both ways, each host
# evaluating its own stages: the sender's SG egress, NACL egress and route
# on the sender's daemon, the receiver's NACL ingress and SG ingress on the
# receiver's, each tracking its own ENIs' connections; `vpcfw check`
# (which sees the whole lab) agrees with every verdict.
. "$(dirname "$0")/lib.sh"
itest_init
need python3
LAB_B=b-$LAB # a second lab name: a second router namespace and state
VX_A=vxa-$LAB VX_B=vxb-$LAB
UA=vpcfw-ua-$LAB UB=vpcfw-ub-$LAB # the "hosts'" underlay namespaces
PID_B=

scaleout_cleanup() {
	local rc=$?
	if [ -n "$PID_B" ] && kill -0 "$PID_B" 2>/dev/null; then
		kill -TERM "$PID_B"
		for _ in $(seq 50); do
			kill -0 "$PID_B" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$PID_B" 2>/dev/null
		wait "$PID_B" 2>/dev/null
	fi
	# a VXLAN still in this namespace (no daemon took it) goes with its
	# underlay's namespace, but say so explicitly
	ip link del "$VX_A" 2>/dev/null
	ip link del "$VX_B" 2>/dev/null
	rm -rf "/run/vpcfw/$LAB_B"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -s "$TMP/vpcfwd-b.log" ]; then
		say "--- vpcfwd B log (last 40 lines)"
		tail -n 40 "$TMP/vpcfwd-b.log"
	fi
	(exit "$rc")
	itest_cleanup
}
trap scaleout_cleanup EXIT

# The underlay: two namespaces joined by a veth (the hosts' network), a
# VXLAN device in each bound to it, moved to this namespace for vpcfwd to
# take (as an operator makes one on a real host, docs/scale-out.md).
underlay() {
	ip netns add "$UA" && ip netns add "$UB" &&
		ip -n "$UA" link add u0 mtu 9100 type veth peer name u0 mtu 9100 netns "$UB" &&
		ip -n "$UA" addr add 192.0.2.1/30 dev u0 && ip -n "$UB" addr add 192.0.2.2/30 dev u0 &&
		ip -n "$UA" link set u0 up && ip -n "$UB" link set u0 up &&
		ip -n "$UA" link add "$VX_A" type vxlan id 4242 local 192.0.2.1 remote 192.0.2.2 \
			dstport 4789 dev u0 &&
		ip -n "$UB" link add "$VX_B" type vxlan id 4242 local 192.0.2.2 remote 192.0.2.1 \
			dstport 4789 dev u0 &&
		ip -n "$UA" link set "$VX_A" netns $$ && ip -n "$UB" link set "$VX_B" netns $$
}
underlay || fail "cannot build the VXLAN underlay"

LABFILE=$(lab_prepare scaleout)
daemon_start "$LABFILE" --own a --remote "$VX_A"
: >"$TMP/vpcfwd-b.log"
"$VPCFWD" --name "$LAB_B" --lab "$LABFILE" --own subnet-0b0000000000000bb --remote "$VX_B" \
	--flow-log "$TMP/flow-b.log" --flow-log-interval 1 -v 2>>"$TMP/vpcfwd-b.log" &
PID_B=$!
for _ in $(seq 300); do
	grep -q 'ready: lab' "$TMP/vpcfwd-b.log" && break
	kill -0 "$PID_B" 2>/dev/null || break
	sleep 0.1
done
grep -q 'ready: lab' "$TMP/vpcfwd-b.log" || fail "vpcfwd B did not start"

check "A built only its half (a1, a2), B only its own (b1, b2)" bash -c "
	[ -e /run/netns/$(ns a1) ] && [ -e /run/netns/$(ns b1) ] &&
	grep -q '$(ns a1)' /run/vpcfw/$LAB/topology.state &&
	! grep -q '$(ns b1)' /run/vpcfw/$LAB/topology.state &&
	grep -q '$(ns b2)' /run/vpcfw/$LAB_B/topology.state &&
	! grep -q '$(ns a2)' /run/vpcfw/$LAB_B/topology.state"
check "the VXLAN devices are the router namespaces' now" bash -c "
	ip -n vpcfw-router-$LAB link show $VX_A >/dev/null &&
	ip -n vpcfw-router-$LAB_B link show $VX_B >/dev/null"

tcp_server b1 5432
udp_server b1 5353
tcp_server b2 5432
tcp_server b2 6000
tcp_server a1 7000
servers_ready

# Each verdict on real traffic, and `vpcfw check` on the whole lab.
agrees() { # FROM TO PROTO PORT EXIT
	local rc=0
	"$VPCFW" check "$LABFILE" --from "$1-$LAB" --to "$2-$LAB" --proto "$3" \
		${4:+--port "$4"} >"$TMP/check.out" 2>&1 || rc=$?
	[ "$rc" -eq "$5" ] || { say "  vpcfw check exit $rc: $(tr '\n' ';' <"$TMP/check.out")"; return 1; }
}
check "a1 -> b1 tcp/5432 (db admits group app, across the hosts)" \
	tcp_reaches a1 10.77.2.10 5432 hello-from-b1
check "... vpcfw check: ACCEPT" agrees a1 b1 tcp 5432 0
check "a1 -> b1 tcp/5432 over IPv6 (the group reference covers its IPv6 address)" \
	tcp_reaches a1 2001:db8:77:2::10 5432 hello-from-b1
check "a1 -> b1 udp/5353, and its reply" udp_reaches a1 10.77.2.10 5353 hello-from-b1
check "... vpcfw check: ACCEPT" agrees a1 b1 udp 5353 0
check "a1 pings b1" ping_reaches a1 10.77.2.10
check "... vpcfw check: ACCEPT" agrees a1 b1 icmp "" 0
check "b1 -> a1 tcp/7000 (the other way: B sends, A receives)" \
	tcp_reaches b1 10.77.1.10 7000 hello-from-a1
check "... vpcfw check: ACCEPT" agrees b1 a1 tcp 7000 0
check "b1 cannot ping a1 (app admits no ICMP; the echo a1 sent was tracked, this is none)" \
	ping_blocked b1 10.77.1.10
check "... vpcfw check: REJECT" agrees b1 a1 icmp "" 1
check "a2 -> b2 tcp/5432: a2's SG egress (web: tcp/80 only) refuses on A" \
	tcp_blocked a2 10.77.2.20 5432
check "... vpcfw check: REJECT" agrees a2 b2 tcp 5432 1
check "a1 -> b2 tcp/6000: b's NACL ingress denies on B" tcp_blocked a1 10.77.2.20 6000
check "... vpcfw check: REJECT" agrees a1 b2 tcp 6000 1
check "a1 -> b2 tcp/5432 (b2 admits all; the NACL only denies 6000)" \
	tcp_reaches a1 10.77.2.20 5432 hello-from-b2
check "... vpcfw check: ACCEPT" agrees a1 b2 tcp 5432 0

# Who counted what: each refusal on the daemon of the host whose stage
# refused it, and each host tracked its own ENI's side of the connections.
stats_of() { # PID LOG: the newest counters of that daemon into $TMP/stats.json
	local before
	before=$(grep -c 'stats {' "$2")
	kill -USR1 "$1" || return 1
	for _ in $(seq 50); do
		[ "$(grep -c 'stats {' "$2")" -gt "$before" ] && break
		sleep 0.1
	done
	grep 'stats {' "$2" | tail -n 1 | sed 's/^[^{]*//' >"$TMP/stats.json"
	[ -s "$TMP/stats.json" ]
}
stat_true() { [ "$(stat "$1")" = True ]; }
rejected() { # ENI-ID STAGE
	stat "d['enis']['$1']['rejected_packets'].get('$2', 0)"
}
A2=eni-0a000000000000a02 B2=eni-0b000000000000b02 A1=eni-0a000000000000a01
B1=eni-0b000000000000b01
check "A's counters" stats_of "$DAEMON_PID" "$TMP/vpcfwd.log"
check "A counted a2's sg-egress refusal" stat_ge "d['enis']['$A2']['rejected_packets'].get('sg-egress', 0)" 1
check "A counted no nacl-ingress refusal (b's NACL is B's)" \
	test "$(rejected $B2 nacl-ingress)" = 0
check "A counted a1's ICMP refusal at its sg-ingress" \
	stat_ge "d['enis']['$A1']['rejected_packets'].get('sg-ingress', 0)" 1
check "A tracks a1's connections, none of b1's" \
	stat_true "d['enis']['$A1']['tracked'] > 0 and d['enis']['$B1']['tracked'] == 0"
check "B's counters" stats_of "$PID_B" "$TMP/vpcfwd-b.log"
check "B counted b2's nacl-ingress refusal" stat_ge "d['enis']['$B2']['rejected_packets'].get('nacl-ingress', 0)" 1
check "B counted no sg-egress refusal (a2's SG is A's)" test "$(rejected $A2 sg-egress)" = 0
check "B tracks b1's connections, none of a1's" \
	stat_true "d['enis']['$B1']['tracked'] > 0 and d['enis']['$A1']['tracked'] == 0"

# A reload of the same lab (rules only) keeps the split: --own applies to
# every load.
reloaded() {
	kill -HUP "$DAEMON_PID"
	for _ in $(seq 100); do
		grep -q 'reloaded lab' "$TMP/vpcfwd.log" && return 0
		sleep 0.1
	done
	return 1
}
check "A reloads the lab (SIGHUP)" reloaded
check "... and a1 -> b1 tcp/5432 still crosses the hosts" \
	tcp_reaches a1 10.77.2.10 5432 hello-from-b1
check "... and a2 -> b2 tcp/5432 is still refused" tcp_blocked a2 10.77.2.20 5432

kill -TERM "$PID_B"
RC_B=0
wait "$PID_B" || RC_B=$?
PID_B=
check "vpcfwd B stops on SIGTERM with status 0" test "$RC_B" -eq 0
check "... and no sanitizer report in its log" \
	bash -c "! grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$TMP/vpcfwd-b.log'"
check "B's namespaces and VXLAN are gone" bash -c "
	! [ -e /run/netns/$(ns b1) ] && ! [ -e /run/netns/vpcfw-router-$LAB_B ] &&
	! ip link show $VX_B >/dev/null 2>&1"
itest_finish
