#!/usr/bin/env bash
# vpcfwd's lifecycle, as an operator sees it (labs/basic.json): it builds
# namespaces, veths, nft table and state file, keeps the router namespace's
# own kernel out of the data path, and SIGTERM removes everything. After a
# SIGKILL the leftovers are found and removed by the next start of the same
# lab, which then works. Without privileges it refuses to start and creates
# nothing. A second lab with another name runs beside the first.
. "$(dirname "$0")/lib.sh"
need nft setpriv
itest_init
chmod 755 "$TMP"
lab=$(lab_prepare basic)
chmod 644 "$lab"
router=vpcfw-router-$LAB

ours() { ip netns list | awk '{print $1}' | grep -cE "^vpcfw-(.*-)?$LAB$"; }
mounts() { grep -cE "/run/netns/vpcfw-(.*-)?$LAB " /proc/mounts; }
nothing_left() {
	[ "$(ours)" -eq 0 ] && [ "$(mounts)" -eq 0 ] && [ ! -e "/run/vpcfw/$LAB/topology.state" ] ||
		{ say "  left: $(ip netns list | grep -E "$LAB" | tr '\n' ' ') mounts=$(mounts)"; return 1; }
}
ip_in_receives() { # the router kernel's own IPv4 + IPv6 input counters
	ip netns exec "$router" awk '
		/^Ip: / && !h { h = 1; for (i = 2; i <= NF; i++) if ($i == "InReceives") c = i; next }
		/^Ip: / { s += $c }
		$1 == "Ip6InReceives" { s += $2 }
		END { print s + 0 }' /proc/net/snmp /proc/net/snmp6
}

# Refusals come first: nothing may exist afterwards.
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$VPCFWD" --lab "$lab" --name "$LAB" --flow-log "$TMP/u/flow.log" 2>&1)
rc=$?
check "unprivileged user: refused with exit 1" test "$rc" -eq 1
check "unprivileged user: says which capability is missing and that it refuses" \
	grep -q 'missing CAP_NET_ADMIN.*refusing to start\|refusing to start' <<<"$(echo "$out" | tr '\n' ' ')"
out=$(setpriv --bounding-set=-net_admin --inh-caps=-net_admin \
	"$VPCFWD" --lab "$lab" --name "$LAB" --flow-log "$TMP/u/flow.log" 2>&1)
rc=$?
check "root without CAP_NET_ADMIN: refused with exit 1" test "$rc" -eq 1
check "root without CAP_NET_ADMIN: names it" grep -q 'missing CAP_NET_ADMIN' <<<"$out"
check "refused starts created nothing" nothing_left

daemon_start "$lab"
check "one namespace per ENI plus the router's" test "$(ours)" -eq 5
check "namespaces are bind-mounted for ip netns" test "$(mounts)" -eq 5
check "the state file lists them" test -s "/run/vpcfw/$LAB/topology.state"
check "the router namespace holds the netdev drop table" \
	bash -c "ip netns exec $router nft list tables | grep -q 'netdev vpcfw-$LAB'"
tcp_server srv 8080
servers_ready
before=$(ip_in_receives)
check "traffic flows" tcp_reaches cli 10.71.2.20 8080 hello-from-srv
check "traffic flows over IPv6" tcp_reaches cli 2001:db8:71:2::20 8080 hello-from-srv
after=$(ip_in_receives)
check "the router namespace's kernel received no IP packet ($before -> $after)" \
	test "$before" -eq "$after"
nft_dropped() {
	ip netns exec "$router" nft list table netdev "vpcfw-$LAB" |
		awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) } END { print s + 0 }'
}
check "... because its nft ingress chains dropped every frame ($(nft_dropped) so far)" \
	test "$(nft_dropped)" -gt 0

daemon_stop TERM
rc=$?
check "SIGTERM: exit status 0" test "$rc" -eq 0
check "SIGTERM: no namespace, mount or state file left" nothing_left
check "SIGTERM: the log says it removed the lab" daemon_log_has "lab $LAB stopped"
check "SIGTERM: the flow log was written" test -s "$FLOWLOG"

daemon_start "$lab"
daemon_stop KILL
check "SIGKILL leaves the namespaces (what the next start must clean)" test "$(ours)" -eq 5
daemon_start "$lab"
check "restart after SIGKILL: the leftovers were found and removed" \
	daemon_log_has "removed [0-9]+ namespaces a previous vpcfwd"
check "restart after SIGKILL: exactly one set of namespaces" test "$(ours)" -eq 5
tcp_server srv 8080
servers_ready
check "restart after SIGKILL: traffic flows" tcp_reaches cli 10.71.2.20 8080 hello-from-srv

# A second lab beside the first: other ENI names, another lab name.
lab2=$(lab_prepare samesubnet)
"$VPCFWD" --lab "$lab2" --name "x-$LAB" --flow-log "$TMP/x/flow.log" 2>"$TMP/second.log" &
second=$!
ITEST_PIDS+=("$second")
for _ in $(seq 100); do grep -q 'ready: lab' "$TMP/second.log" && break; sleep 0.1; done
check "a second lab with another name starts beside the first" grep -q "ready: lab x-$LAB" "$TMP/second.log"
tcp_server b 8080
servers_ready
check "the second lab carries traffic" tcp_reaches a 10.73.1.11 8080 hello-from-b
check "the first lab still carries traffic" tcp_reaches cli 10.71.2.20 8080 hello-from-srv
kill -TERM "$second"
wait "$second"
check "the second lab stops cleanly" test $? -eq 0
check "stopping the second lab left the first one's namespaces" test "$(ours)" -eq 5

daemon_stop TERM
check "final SIGTERM: nothing left" nothing_left

itest_finish
