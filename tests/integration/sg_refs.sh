#!/usr/bin/env bash
# Security groups referencing groups, and several groups on one ENI
# (AWS-SEMANTICS 3), with labs/sgref.json: db's group admits tcp/5432 only
# from members of group app, whatever their subnet and from any of their
# private addresses; web is no member.
# mul carries web80 and ssh22 and is open on the union (80 and 22), on
# nothing else.
. "$(dirname "$0")/lib.sh"
itest_init
daemon_start "$(lab_prepare sgref)"
tcp_server db 5432
for p in 80 22 23; do tcp_server mul "$p"; done
servers_ready

check "app1 (group app) -> db:5432" tcp_reaches app1 10.74.3.10 5432 hello-from-db
check "app2 (group app, another subnet) -> db:5432" tcp_reaches app2 10.74.3.10 5432 hello-from-db
check "app2's secondary private address is configured" \
	bash -c "ip -n $(ns app2) -o addr show dev eth0 | grep -q 'inet 10.74.2.11/24'"
from_secondary() {
	probe app2 timeout 7 socat -T5 - "TCP:10.74.3.10:5432,connect-timeout=5,bind=10.74.2.11" </dev/null
	[[ "$PROBE_OUT" == *hello-from-db* ]]
}
check "app2 from its secondary address -> db:5432 (every private address is a member)" from_secondary
check "web (not a member of app) -> db:5432" tcp_blocked web 10.74.3.10 5432
check "mul (groups web80, ssh22) -> db:5432" tcp_blocked mul 10.74.3.10 5432
check "web -> mul:80 (group web80)" tcp_reaches web 10.74.3.20 80 hello-from-mul
check "web -> mul:22 (group ssh22)" tcp_reaches web 10.74.3.20 22 hello-from-mul
check "web -> mul:23 (neither group)" tcp_blocked web 10.74.3.20 23

itest_finish
