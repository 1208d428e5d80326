#!/usr/bin/env bash
# Routes the route stage must not ignore (labs/routes.json, AWS-SEMANTICS
# 9): a blackhole route drops what it matches even where 0.0.0.0/0 would
# reach the internet gateway, and a route more specific than the local
# route (middlebox routing, not modelled: docs/deviations.md) refuses the
# flows it would detour instead of letting them through as local traffic.
# `vpcfw check` names the route that decided.
. "$(dirname "$0")/lib.sh"
need python3
itest_init
lab=$(lab_prepare routes)
daemon_start "$lab"
tcp_server app 80
tcp_server oth 80
tcp_server web 80
for host in net bh; do
	bg_in_ns "$host" socat TCP-LISTEN:8000,fork,reuseaddr 'SYSTEM:echo peer=$SOCAT_PEERADDR'
	wait_listen "$host" tcp 8000
done
servers_ready

check "web -> 203.0.113.60 by 0.0.0.0/0 -> igw" tcp_reaches web 203.0.113.60 8000 peer=192.0.2.30
check "web -> 198.51.100.70: the blackhole route drops it" tcp_blocked web 198.51.100.70 8000
check "198.51.100.70 -> web's public IP: no way back through the blackhole" \
	tcp_blocked bh 192.0.2.30 80
check "203.0.113.60 -> web's public IP" tcp_reaches net 192.0.2.30 80 hello-from-web
check "web -> oth (local route)" tcp_reaches web 10.83.3.30 80 hello-from-oth
check "web -> app: refused, rtb public sends 10.83.2.0/24 to an appliance" \
	tcp_blocked web 10.83.2.20 80
check "app -> web: the reply would take that route" tcp_blocked app 10.83.1.10 80
check "oth -> app (local route in the main table)" tcp_reaches oth 10.83.2.20 80 hello-from-app
check "vpcfw check: blackhole named at the route stage" \
	bash -c "'$VPCFW' check '$lab' --from 10.83.1.10 --to 198.51.100.70 --proto tcp --port 8000 |
		grep -Eq '^  route +REJECT .*198.51.100.0/24 -> igw-0aaaaaaaaaaaaaaaa is a blackhole route'"
check "vpcfw check: the middlebox route named at the route stage" \
	bash -c "'$VPCFW' check '$lab' --from 10.83.1.10 --to 10.83.2.20 --proto tcp --port 80 |
		grep -Eq '^  route +REJECT .*sends 10.83.2.0/24 to eni-0bbbbbbbbbbbbbbbb, a route more specific'"
check "the daemon reports its counters" daemon_stats
check "drops counted: no-route" stat_ge "d['drops'].get('no-route', 0)" 3

itest_finish
