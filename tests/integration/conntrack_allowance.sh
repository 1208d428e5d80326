#!/usr/bin/env bash
# The connection-tracking allowance (AWS-SEMANTICS 4, DESIGN "What bad input
# gets"), with labs/allowance.json: srv may track 3 connections. A client
# holds 3 open TCP connections; a 4th new one is dropped (it times out) and
# counted as conntrack_allowance_exceeded on srv's ENI, while the 3
# established connections keep exchanging data.
. "$(dirname "$0")/lib.sh"
need python3
itest_init
daemon_start "$(lab_prepare allowance)"
bg_in_ns srv socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat
wait_listen srv tcp 7000
srv_eni=$(eni_id srv)

cat >"$TMP/client.py" <<'PY'
import socket, sys
dst = ("10.77.2.20", 7000)

def echo(s, msg):
    s.sendall(msg)
    got = b""
    while not got.endswith(b"\n"):
        chunk = s.recv(100)
        if not chunk:
            break
        got += chunk
    return got == msg

held = []
for i in range(3):
    s = socket.create_connection(dst, timeout=3)
    if echo(s, b"first %d\n" % i):
        held.append(s)
print("held", len(held))
try:
    s = socket.create_connection(dst, timeout=2)
    print("fourth", "connected" if echo(s, b"fourth\n") else "silent")
except OSError as e:
    print("fourth", "refused", e)
ok = sum(1 for i, s in enumerate(held) if echo(s, b"again %d\n" % i))
print("established", ok)
PY
out=$(in_ns cli timeout 20 python3 "$TMP/client.py" 2>&1)
say "client: $(echo "$out" | tr '\n' ';')"

check "3 connections up to the allowance are tracked and work" grep -q '^held 3$' <<<"$out"
check "a 4th new connection is dropped (times out)" grep -q '^fourth refused' <<<"$out"
check "the 3 established connections keep working" grep -q '^established 3$' <<<"$out"
check "the daemon reports its counters" daemon_stats
check "conntrack_allowance_exceeded counted on srv's ENI" \
	stat_ge "d['enis']['$srv_eni']['conntrack_allowance_exceeded']" 1
check "conntrack_allowance_exceeded counted in the totals" \
	stat_ge "d['conntrack_allowance_exceeded']" 1

itest_finish
