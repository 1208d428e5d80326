#!/usr/bin/env bash
# Rule changes (AWS-SEMANTICS 4 and 8) through SIGHUP, with labs/reload*.json:
# removing the security-group rule that admitted a connection does not cut
# it (AWS keeps tracked connections; kernel- or OVN-based emulators cut
# them) but stops new ones; a lab that fails to load is refused and the
# running rules stay; a NACL change takes effect on the next packet, even
# for the tracked connection. An untracked flow (rules open to 0.0.0.0/0
# both ways) has no such protection: it is cut with its rule.
. "$(dirname "$0")/lib.sh"
need python3
itest_init
lab=$(lab_prepare reload)
daemon_start "$lab"
bg_in_ns srv socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat
bg_in_ns usrv socat TCP-LISTEN:7100,fork,reuseaddr EXEC:cat
tcp_server srv 7001
wait_listen srv tcp 7000 && wait_listen usrv tcp 7100
servers_ready

# reload_to FILE: the lab file becomes FILE (a labs/ name or a path), then
# SIGHUP, and wait for the daemon's verdict on it.
reload_to() {
	local before
	if [ -f "$LABS_DIR/$1.json" ]; then
		sed "s/@RUN@/$LAB/g" "$LABS_DIR/$1.json" >"$lab"
	else
		cp "$1" "$lab"
	fi
	before=$(grep -cE 'reloaded lab|reload failed|reload refused' "$TMP/vpcfwd.log")
	kill -HUP "$DAEMON_PID"
	for _ in $(seq 100); do
		[ "$(grep -cE 'reloaded lab|reload failed|reload refused' "$TMP/vpcfwd.log")" -gt "$before" ] &&
			return 0
		sleep 0.1
	done
	return 1
}

# One long-lived connection to tcp/7000, driven step by step: the client
# echoes a line each time the test creates $TMP/goN.
cat >"$TMP/client.py" <<'PY'
import os, socket, sys, time
tmp = sys.argv[1]
conns = {"tracked": socket.create_connection(("10.79.2.20", 7000), timeout=2),
         "untracked": socket.create_connection(("10.79.2.30", 7100), timeout=2)}
for step in (1, 2, 3):
    if step > 1:
        while not os.path.exists("%s/go%d" % (tmp, step)):
            time.sleep(0.05)
    for kind, s in conns.items():
        if step == 3 and kind == "untracked":
            continue
        try:
            s.sendall(b"line %d\n" % step)
            got = s.recv(100)
            res = "ok" if got == b"line %d\n" % step else "wrong"
        except socket.timeout:
            res = "timeout"
        except OSError as e:
            res = "error %s" % e
        print("step", step, kind, res, flush=True)
PY
ip netns exec "$(ns cli)" python3 "$TMP/client.py" "$TMP" >"$TMP/client.out" 2>&1 &
ITEST_PIDS+=($!)
check "a tracked connection to tcp/7000 is established" client_says '^step 1 tracked ok'
check "an untracked connection to usrv tcp/7100 is established" client_says '^step 1 untracked ok'

check "SIGHUP with the tcp/7000 and tcp/7100 rules removed is applied" reload_to reload-nosg
check "the log says so" daemon_log_has "reloaded lab $LAB"
check "a new connection to tcp/7000 is refused now" tcp_blocked cli 10.79.2.20 7000
check "tcp/7001, still allowed, connects" tcp_reaches cli 10.79.2.20 7001 hello-from-srv
touch "$TMP/go2"
check "the tracked connection admitted by the removed rule goes on" client_says '^step 2 tracked ok'
check "the untracked connection is cut with its rule" client_says '^step 2 untracked timeout'

echo '{ "lab": "it-reload", "vpcs": [ { "name": "it", "cidr": "not a cidr" } ] }' >"$TMP/bad.json"
check "SIGHUP with a broken lab is answered" reload_to "$TMP/bad.json"
check "the broken lab is refused, the running rules stay" \
	daemon_log_has "reload failed: keeping the running rules"
check "the loader's message names the file and the JSON path" \
	daemon_log_has "$lab: vpcs\[0\]\.cidr"
check "after the refused reload tcp/7001 still connects" tcp_reaches cli 10.79.2.20 7001 hello-from-srv
check "after the refused reload tcp/7000 is still refused" tcp_blocked cli 10.79.2.20 7000

check "SIGHUP with a NACL denying tcp/7000 is applied" reload_to reload-nacl
touch "$TMP/go3"
check "the NACL cuts the tracked connection at its next packet" client_says '^step 3 tracked timeout'

itest_finish
