#!/usr/bin/env bash
# Reloads that change the topology (issue 4, "Hot reload"), with
# labs/rtopo*.json: adding an ENI in a new subnet builds its namespace and
# it connects where the rules allow; removing an unrelated ENI removes its
# namespace; neither disturbs a long-lived TCP connection between two
# unchanged ENIs; changing an ENI's address rebuilds its namespace. A reload whose topology cannot be built (an ENI's
# namespace name is taken by a namespace this test created, or a port
# cannot be created half-way through) is refused with the reason, and the
# running rules and namespaces stay as they were.
. "$(dirname "$0")/lib.sh"
need python3
itest_init
lab=$(lab_prepare rtopo)
daemon_start "$lab"
bg_in_ns srv socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat
tcp_server srv 7001
wait_listen srv tcp 7000
servers_ready

# reload_to NAME: the lab file becomes labs/NAME.json, then SIGHUP, and
# wait for the daemon's verdict on it.
reload_to() {
	local before
	sed "s/@RUN@/$LAB/g" "$LABS_DIR/$1.json" >"$lab"
	before=$(grep -cE 'reloaded lab|reload failed|reload refused' "$TMP/vpcfwd.log")
	kill -HUP "$DAEMON_PID"
	for _ in $(seq 100); do
		[ "$(grep -cE 'reloaded lab|reload failed|reload refused' "$TMP/vpcfwd.log")" -gt "$before" ] &&
			return 0
		sleep 0.1
	done
	return 1
}
ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
ns_gone() { ! ns_exists "$1"; }

# One long-lived connection cli -> srv tcp/7000, driven step by step (lib.sh).
long_client cli 10.79.2.20 7000 6 3
check "a long-lived connection cli -> srv tcp/7000 is established" client_says '^step 1 ok'
check "ENI old has its namespace" ns_exists "$(ns old)"

check "SIGHUP adding subnet extra with ENI new is applied" reload_to rtopo-add
check "the log says so" daemon_log_has "reloaded lab $LAB"
check "ENI new's namespace appears" ns_exists "$(ns new)"
check "new connects to srv tcp/7001 (allowed from the VPC)" \
	tcp_reaches new 10.79.2.20 7001 hello-from-srv
check "new cannot reach cli (its group admits nothing)" tcp_blocked new 10.79.1.10 7001
client_step 2
check "the long-lived connection goes on across the added ENI" client_says '^step 2 ok'

check "SIGHUP removing ENI old (and srv's tcp/7000 rule) is applied" reload_to rtopo-remove
check "ENI old's namespace is gone" ns_gone "$(ns old)"
check "ENI new's namespace stays" ns_exists "$(ns new)"
client_step 3
check "the tracked connection goes on across the removed ENI (zones moved)" client_says '^step 3 ok'
check "new still connects to srv tcp/7001" tcp_reaches new 10.79.2.20 7001 hello-from-srv

check "SIGHUP moving ENI new to 10.79.3.33 is applied" reload_to rtopo-move
check "new's namespace was rebuilt with the new address" \
	bash -c "ip -n $(ns new) -4 -o addr show dev eth0 | grep -q ' 10.79.3.33/24 '"
check "new connects to srv tcp/7001 from its new address" \
	tcp_reaches new 10.79.2.20 7001 hello-from-srv
client_step 4
check "the long-lived connection goes on across the changed ENI" client_says '^step 4 ok'

# A namespace that is not the lab's, under the name ENI bad would get.
ip netns add "$(ns bad)"
check "SIGHUP adding ENI bad, whose namespace is taken, is answered" reload_to rtopo-bad
check "the reload is refused with the reason" \
	daemon_log_has "reload refused: namespace $(ns bad) already exists"
check "the foreign namespace is left alone" ns_exists "$(ns bad)"
check "no interface of the lab was put into it" \
	bash -c "[ \"\$(ip -n $(ns bad) -o link | grep -vc ' lo:')\" -eq 0 ]"
client_step 5
check "the long-lived connection goes on after the refused reload" client_says '^step 5 ok'
check "the running rules stay: new still connects to srv tcp/7001" \
	tcp_reaches new 10.79.2.20 7001 hello-from-srv
check "the running topology stays: cli, srv and new keep their namespaces" \
	bash -c "ip netns list | grep -q '^$(ns cli)' && ip netns list | grep -q '^$(ns srv)' && ip netns list | grep -q '^$(ns new)'"
check "the state file lists exactly the running ENIs" \
	bash -c "grep '^port' /run/vpcfw/$LAB/topology.state | awk '{print \$3}' | sort | tr '\n' ' ' | grep -qx '$(printf '%s\n' "$(ns cli)" "$(ns new)" "$(ns srv)" | sort | tr '\n' ' ')'"

# A failure half-way through the update: the router port name the next
# built port gets is taken by an interface the test adds, so building ENI new's
# rebuilt port (its address changes back) fails after its old port was
# removed. The update is undone: new is rebuilt as it was, two never
# appears, and the data path captures on the rebuilt port.
router=vpcfw-router-$LAB
prefix=$(ip -n "$router" -o link | awk -F': ' '{print $2}' | sed -n 's/^\(p[0-9a-f]\{4\}\)-.*/\1/p' | head -n 1)
for k in $(seq 0 100); do
	ip -n "$router" link show "$prefix-$k" >/dev/null 2>&1 || break
done
ip -n "$router" link add "$prefix-$k" type veth peer name "vq$LAB"
check "SIGHUP with a port that cannot be built ($prefix-$k taken) is answered" reload_to rtopo-bad2
check "the reload is refused with the kernel's reason" daemon_log_has "reload refused: creating veth $prefix-$k"
check "ENI two's namespace never stays" ns_gone "$(ns two)"
check "ENI new is rebuilt as it ran, with 10.79.3.33" \
	bash -c "ip -n $(ns new) -4 -o addr show dev eth0 | grep -q ' 10.79.3.33/24 '"
check "the rebuilt new connects to srv tcp/7001 (its capture was reopened)" \
	tcp_reaches new 10.79.2.20 7001 hello-from-srv
check "the state file no longer lists the port that was never built" \
	bash -c "! grep -q '^port $prefix-$k ' /run/vpcfw/$LAB/topology.state"
client_step 6
check "the long-lived connection goes on after the undone update" client_says '^step 6 ok'
ip -n "$router" link del "$prefix-$k"

# A daemon killed after those reloads leaves a state file that names what
# exists now (new's namespace included): the next start removes it all.
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
ip netns del "$(ns bad)"
sed "s/@RUN@/$LAB/g" "$LABS_DIR/rtopo.json" >"$lab"
daemon_start "$lab"
check "a start after SIGKILL removes the dead daemon's 4 namespaces, new's included" \
	daemon_log_has "removed 4 namespaces"
check "the restarted lab has no namespace of ENI new" ns_gone "$(ns new)"
check "the restarted lab has ENI old again" ns_exists "$(ns old)"

itest_finish
