#!/usr/bin/env bash
# The internet gateway (AWS-SEMANTICS 1, 5), with labs/igw.json: an outside
# host (203.0.113.50, in its own namespace) reaches web through its public
# IP 198.51.100.20, and web sees the outside address; web reaches the
# outside host from its public IP. Without a public IP (nopub) or without a
# route to the igw (priv's subnet) nothing passes, and the daemon counts
# why.
. "$(dirname "$0")/lib.sh"
need curl python3
itest_init
daemon_start "$(lab_prepare igw)"
http_server web 80
tcp_server nopb 80
tcp_server priv 80
bg_in_ns net socat TCP-LISTEN:8000,fork,reuseaddr 'SYSTEM:echo peer=$SOCAT_PEERADDR'
wait_listen net tcp 8000
servers_ready

check "outside host -> web's public IP: curl http://198.51.100.20/" \
	http_reaches net http://198.51.100.20/ page-of-web
check "web saw the outside host's own address (1:1 NAT of the public IP only)" \
	grep -Eq '^(::ffff:)?203\.0\.113\.50 .*"GET / HTTP' "$TMP/servers.log"
check "outside host -> priv's public IP (its subnet has no igw route)" \
	tcp_blocked net 198.51.100.21 80
check "outside host -> nopub's private address (no public IP)" \
	tcp_blocked net 10.76.1.11 80
check "outside host -> web's private address (only the public IP is routed)" \
	tcp_blocked net 10.76.1.10 80
check "web -> outside host: seen from web's public IP" \
	tcp_reaches web 203.0.113.50 8000 peer=198.51.100.20
check "nopub -> outside host (no public IP)" tcp_blocked nopb 203.0.113.50 8000
check "priv -> outside host (no igw route)" tcp_blocked priv 203.0.113.50 8000

check "the daemon reports its counters" daemon_stats
check "drops counted: no-route" stat_ge "d['drops'].get('no-route', 0)" 1
check "drops counted: no-public-ip" stat_ge "d['drops'].get('no-public-ip', 0)" 1

itest_finish
