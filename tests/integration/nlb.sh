#!/usr/bin/env bash
# A Network Load Balancer on real packets (labs/nlb.json, docs/lab-format.md
# "load_balancers"): a client's TCP connection to the node's address on the
# listener port 80 is answered by a target on 8080, which sees the client's
# own address (client IP preservation); from outside through the node's
# public IP as well. A target group that does not admit the client's
# address, or a NACL of the node's subnet that denies it, refuses the
# connection; `vpcfw check` agrees each time. Targets print the address
# the connection came from and their own.
. "$(dirname "$0")/lib.sh"
need python3
itest_init
lab=$(lab_prepare nlb)
daemon_start "$lab"
for host in app1 app2; do
	bg_in_ns "$host" socat TCP-LISTEN:8080,fork,reuseaddr \
		'SYSTEM:echo peer=$SOCAT_PEERADDR me=$SOCAT_SOCKADDR'
	wait_listen "$host" tcp 8080
done

agrees() { # FROM TO EXIT: vpcfw check gives EXIT (0 ACCEPT, 1 REJECT)
	local rc=0
	"$VPCFW" check "$lab" --from "$1" --to "$2" --proto tcp --port 80 >"$TMP/check.out" || rc=$?
	[ "$rc" = "$3" ] || { say "  check exited $rc, want $3"; cat "$TMP/check.out"; return 1; }
}

check "cli -> node 10.86.1.50:80 reaches a target, which sees 10.86.3.10" \
	tcp_reaches cli 10.86.1.50 80 peer=10.86.3.10
grep -Eq "me=10\.86\.2\.1[01]" <<<"$PROBE_OUT" || fail "answered by app1 or app2 on 8080: $PROBE_OUT"
check "vpcfw check: cli -> node ACCEPT" agrees "cli-$LAB" 10.86.1.50 0
check "check names the load balancer, listener and target" \
	grep -Eq "load balancer web \(node eni-[0-9a-f]+\) listener TCP:80 \(target group web-tg-80\) -> target app[12]-$LAB 10\.86\.2\.1[01]:8080" "$TMP/check.out"

check "net -> public 198.51.100.50:80 reaches a target, which sees 203.0.113.80" \
	tcp_reaches net 198.51.100.50 80 peer=203.0.113.80
check "vpcfw check: net -> node's public IP ACCEPT" agrees 203.0.113.80 198.51.100.50 0

check "bad -> 198.51.100.50:80: the targets' group does not admit 192.0.2.80" \
	tcp_blocked bad 198.51.100.50 80
check "vpcfw check: bad REJECT at a target's sg-ingress" agrees 192.0.2.80 198.51.100.50 1
check "  ... the target's group decided" grep -Eq "^  sg-ingress +REJECT +app[12]-$LAB" "$TMP/check.out"

check "cli2 -> node: the node subnet's NACL denies 10.86.4.0/24" tcp_blocked cli2 10.86.1.50 80
check "vpcfw check: cli2 REJECT at the node's nacl-ingress" agrees "cli2-$LAB" 10.86.1.50 1
check "  ... rule 90 decided" grep -Eq "^  nacl-ingress +REJECT .* rule 90: deny" "$TMP/check.out"

check "cli -> node port 81: no listener" tcp_blocked cli 10.86.1.50 81
check "cli -> target directly on 8080 still works (not through the node)" \
	tcp_reaches cli 10.86.2.10 8080 peer=10.86.3.10

# several connections: each answered, spread by the 5-tuple hash
for i in 1 2 3 4 5 6; do
	tcp_probe cli 10.86.1.50 80 5
	echo "$PROBE_OUT" >>"$TMP/spread"
done
check "six connections through the node all answered" \
	bash -c "[ \$(grep -c peer=10.86.3.10 '$TMP/spread') = 6 ]"

itest_finish
