#!/usr/bin/env bash
# vpcfwd speaks systemd's notify protocol as vpcfwd.service (Type=notify,
# NotifyAccess=main, WatchdogSec) relies on: run with a NOTIFY_SOCKET of our
# own (a python3 AF_UNIX datagram listener that records each message, the
# sender's pid from SCM_CREDENTIALS, and whether the lab's namespaces exist
# at that moment), it sends READY=1 only once the lab is built, RELOADING=1
# then READY=1 around a SIGHUP reload (a failed one too: the old rules keep
# running), WATCHDOG=1 pings while WATCHDOG_USEC is set, and STOPPING=1 on
# SIGTERM before it removes anything. Skipped when vpcfwd was built without
# libsystemd (it then sends nothing by design).
. "$(dirname "$0")/lib.sh"
need python3 ldd
itest_init
ldd "$VPCFWD" | grep -q libsystemd || skip "vpcfwd built without libsystemd"
lab=$(lab_prepare basic)
sock=$TMP/notify.sock
msgs=$TMP/notify.log

python3 - "$sock" "$msgs" "/run/netns/$(ns srv)" >>"$TMP/servers.log" 2>&1 <<'EOF' &
import os, socket, struct, sys
path, out, probe = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
with open(out, "a") as f:
    while True:
        data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = 0
        for level, kind, val in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", val[:12])[0]
        lab = "lab=up" if os.path.ismount(probe) else "lab=down"
        msg = data.decode(errors="replace").strip().replace("\n", " ")
        f.write(f"{pid} {lab} {msg}\n")
        f.flush()
EOF
ITEST_PIDS+=($!)
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { say "FAIL: the notify listener did not start"; exit 1; }

# The messages other than watchdog pings, one per line.
states() { grep -v ' WATCHDOG=1$' "$msgs" | cut -d' ' -f3-; }
wait_states() { # N: at least N non-ping messages within 15 s
	for _ in $(seq 150); do
		[ "$(states | wc -l)" -ge "$1" ] && return 0
		sleep 0.1
	done
	say "  only $(states | wc -l) messages: $(states | tr '\n' '|')"
	return 1
}
nth_state() { states | sed -n "${1}p"; }
starts_with() { [[ "$1" == "$2"* ]]; }

NOTIFY_SOCKET=$sock WATCHDOG_USEC=2000000 daemon_start "$lab"
check "READY=1 arrives" wait_states 1
check "READY=1 is the first message" starts_with "$(nth_state 1)" "READY=1"
check "READY=1 comes once the lab's namespaces exist" \
	grep -qE "^[0-9]+ lab=up READY=1" "$msgs"
check "every message comes from the main pid $DAEMON_PID (NotifyAccess=main)" \
	bash -c "awk '{print \$1}' '$msgs' | sort -u | grep -qx '$DAEMON_PID' &&
		[ \$(awk '{print \$1}' '$msgs' | sort -u | wc -l) -eq 1 ]"

tcp_server srv 8080
servers_ready
check "traffic flows" tcp_reaches cli 10.71.2.20 8080 hello-from-srv

pings() { grep -c ' WATCHDOG=1$' "$msgs"; }
before=$(pings)
sleep 3
check "WATCHDOG=1 pings arrive with WATCHDOG_USEC=2 s ($before, then $(pings) after 3 s)" \
	test "$(pings)" -ge $((before + 2))

kill -HUP "$DAEMON_PID"
check "SIGHUP: two more messages" wait_states 3
check "SIGHUP: RELOADING=1 first ($(nth_state 2))" starts_with "$(nth_state 2)" "RELOADING=1"
check "SIGHUP: then READY=1 ($(nth_state 3))" starts_with "$(nth_state 3)" "READY=1"
check "traffic flows after the reload" tcp_reaches cli 10.71.2.20 8080 hello-from-srv

# A lab that no longer loads: the reload fails, the daemon says READY=1
# again (it still serves the old rules) and keeps running.
cp "$lab" "$TMP/lab.good"
echo '{ "lab": ' >"$lab"
kill -HUP "$DAEMON_PID"
check "failed reload: two more messages" wait_states 5
check "failed reload: RELOADING=1 then READY=1 ($(nth_state 4), $(nth_state 5))" \
	bash -c "[[ '$(nth_state 4)' == RELOADING=1* && '$(nth_state 5)' == READY=1* ]]"
check "failed reload: the daemon logged it and kept the running rules" \
	daemon_log_has 'reload failed: keeping the running rules'
check "failed reload: traffic still flows" tcp_reaches cli 10.71.2.20 8080 hello-from-srv
cp "$TMP/lab.good" "$lab"

check "SIGTERM: the daemon exits 0" daemon_stop TERM
check "SIGTERM: STOPPING=1 is the last message" starts_with "$(states | tail -n 1)" "STOPPING=1"
check "SIGTERM: STOPPING=1 is sent before the lab is removed" \
	grep -qE "^[0-9]+ lab=up STOPPING=1" "$msgs"
check "SIGTERM: no sanitizer report in the daemon's log" \
	bash -c "! grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$TMP/vpcfwd.log'"
check "no namespace of the lab is left" \
	bash -c "! ip netns list | grep -q -- '-$LAB'"
say "messages: $(states | tr '\n' '|') + $(pings) pings"
itest_finish
