#!/usr/bin/env bash
# The newcomer's session (issue "Done when"): `vpcfwd` with no --lab runs
# the built-in ten-thousand lab, and `vpcfw exec NAME -- curl` across its
# tiers sees AWS's answer: alb -> app allowed, app -> db allowed, alb -> db
# refused, the internet client reaches the ALB's public IP but never the
# database; the flow log records both. The default lab's namespace names
# are fixed (vpcfw-alb-a, ...): the test skips when another daemon already
# runs it, and removes only what its own daemon built.
. "$(dirname "$0")/lib.sh"
need curl python3
itest_init
NS_FIXED=1
fixed=(alb-a alb-b app-1 app-2 db-w db-r client client6)
for n in "${fixed[@]}"; do
	[ -e "/run/netns/vpcfw-$n" ] && skip "vpcfw-$n exists: the default lab is already running"
done
[ -x "$VPCFW" ] || { say "FAIL: $VPCFW not built"; exit 1; }
daemon_start -
for n in "${fixed[@]}"; do ITEST_EXTRA_NS+=("vpcfw-$n"); done
check "the ready line names the built-in lab's 6 ENIs" daemon_log_has "ready: lab $LAB, 6 ENIs, 8 ports"

vx() { # NAME CMD...: through the CLI, restricted to this run's lab
	local n=$1
	shift
	"$VPCFW" exec --lab "$LAB" "$n" -- "$@"
}
http_server alb-a 80
http_server app-1 8080
bg_in_ns db-w socat TCP-LISTEN:5432,fork,reuseaddr SYSTEM:"echo hello-from-db-w"
wait_listen db-w tcp 5432
servers_ready

exec_curl() { # NAME URL EXPECT
	local out
	out=$(vx "$1" curl -sS --connect-timeout 5 -m 8 "$2" 2>/dev/null)
	[[ "$out" == *"$3"* ]]
}
exec_curl_times_out() { # NAME URL: curl's own timeout (exit 28), not an error
	vx "$1" curl -sS --connect-timeout 2 -m 3 "$2" >/dev/null 2>&1
	[ $? -eq 28 ]
}
check "vpcfw exec alb-a -- curl app-1:8080 (alb -> app allowed)" \
	exec_curl alb-a http://10.0.10.10:8080/ page-of-app-1
check "vpcfw exec app-1 -- socat db-w:5432 (app -> db allowed)" \
	bash -c "'$VPCFW' exec --lab '$LAB' app-1 -- timeout 8 socat -T5 - TCP:10.0.20.10:5432,connect-timeout=5 </dev/null | grep -q hello-from-db-w"
check "vpcfw exec alb-a -- curl db-w:5432 (alb -> db refused, times out)" \
	exec_curl_times_out alb-a http://10.0.20.10:5432/
check "vpcfw exec client -- curl the ALB's public IP 198.51.100.10" \
	exec_curl client http://198.51.100.10/ page-of-alb-a
check "vpcfw exec client -- curl db-w's address (outside -> db refused)" \
	exec_curl_times_out client http://10.0.20.10:5432/
check "vpcfw exec client -- curl app-1:8080 directly (refused)" \
	exec_curl_times_out client http://10.0.10.10:8080/
check "vpcfw exec passes the command's exit status through" \
	bash -c "'$VPCFW' exec --lab '$LAB' app-1 -- sh -c 'exit 7'; [ \$? -eq 7 ]"

alb=$(eni_id alb-a)
check "flow log: alb-a -> app-1:8080 ACCEPT on alb-a's ENI" \
	flowlog_wait "^2 [^ ]+ $alb 10\.0\.0\.10 10\.0\.10\.10 [0-9]+ 8080 6 [0-9]+ [0-9]+ [0-9]+ [0-9]+ ACCEPT OK$"
check "flow log: alb-a -> db-w:5432 REJECT on alb-a's ENI (its SG egress)" \
	flowlog_wait "^2 [^ ]+ $alb 10\.0\.0\.10 10\.0\.20\.10 [0-9]+ 5432 6 [0-9]+ [0-9]+ [0-9]+ [0-9]+ REJECT OK$"

daemon_stop TERM
check "stopped: none of the default lab's namespaces is left" \
	bash -c "! ls /run/netns/ | grep -qE '^vpcfw-(alb-a|alb-b|app-1|app-2|db-w|db-r|client|client6|router-$LAB)$'"

itest_finish
