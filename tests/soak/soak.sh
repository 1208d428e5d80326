#!/usr/bin/env bash
# Soak test (issue 14, item 7; not in CI: it runs for an hour by default).
# One lab (tests/integration/labs/basic.json), for DURATION:
#   - traffic: cli opens a new TCP connection to srv tcp/8080 and exchanges
#     a line every 20 ms, sends a UDP datagram to srv udp/5353 and waits for
#     its answer every 20 ms, pings srv every 200 ms, and keeps one long TCP
#     connection to srv tcp/9000 echoing a line a second (tracked across
#     every reload);
#   - reloads: every RELOAD seconds, alternately SIGHUP and `vpcfw reload`;
#   - control requests: `vpcfw status`, `flows --json` and `stats --json`
#     every second.
# Every SAMPLE seconds one line: the daemon's resident memory, open
# descriptors, tracked flows, kernel capture drops, drops by reason, and the
# clients' failures. At the end, the first/last/peak figures and a verdict:
# exit 1 when the daemon died, its descriptors grew, its memory grew by more
# than 20 % after the warm-up (WARMUP s, 300 by default: by then every idle
# timeout has run once and the connection table is as full as it gets; a
# shorter run does not judge memory), a reload failed, or a client saw a
# failure (reloads under load must lose nothing).
#
# Usage (root): tests/soak/soak.sh [DURATION] with DURATION like 3600, 90s,
# 30m or 2h (default 1h); SAMPLE (60) and RELOAD (10) from the environment.
# VPCFW_BINARY_DIR as for the integration tests (default: build/).
ITEST_NAME=soak
. "$(dirname "$0")/../integration/lib.sh"

duration_s() {
	case $1 in
	*h) echo $((${1%h} * 3600)) ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}
DURATION=$(duration_s "${1:-1h}")
SAMPLE=${SAMPLE:-60}
WARMUP=${WARMUP:-300}
RELOAD=${RELOAD:-10}
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -gt 0 ]] || { echo "usage: $0 [DURATION: 3600, 30m, 2h]" >&2; exit 2; }

need python3 ping
itest_init
lab=$(lab_prepare basic)
daemon_start "$lab"
tcp_server srv 8080
# One socket answering every datagram (socat's forking UDP server misses
# datagrams that arrive while it forks).
bg_in_ns srv python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(b"hello-from-srv " + d, a)'
bg_in_ns srv socat TCP-LISTEN:9000,fork,reuseaddr EXEC:cat
servers_ready
wait_listen srv tcp 9000
wait_listen srv udp 5353
say "soak for ${DURATION}s: sample every ${SAMPLE}s, reload every ${RELOAD}s (vpcfwd pid $DAEMON_PID)"

# The clients count what they did and what failed, in $TMP/<name>.count
# ("NAME ok N fail M", rewritten every second).
cat >"$TMP/clients.py" <<'PY'
import socket, sys, threading, time
tmp, end = sys.argv[1], time.time() + float(sys.argv[2])
counts = {}

def count(name, ok):
    c = counts.setdefault(name, [0, 0])
    c[0 if ok else 1] += 1

def tcp_new():
    while time.time() < end:
        try:
            s = socket.create_connection(("10.71.2.20", 8080), timeout=3)
            count("tcp_new", s.recv(100).startswith(b"hello-from-srv"))
            s.close()
        except OSError:
            count("tcp_new", False)
        time.sleep(0.02)

def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    while time.time() < end:
        try:
            s.sendto(b"q", ("10.71.2.20", 5353))
            count("udp", s.recvfrom(100)[0].startswith(b"hello-from-srv"))
        except OSError:
            count("udp", False)
        time.sleep(0.02)

def tcp_long():
    s, i = None, 0
    while time.time() < end:
        i += 1
        try:
            if s is None:
                s = socket.create_connection(("10.71.2.20", 9000), timeout=3)
            s.sendall(b"line %d\n" % i)
            count("tcp_long", s.recv(100) == b"line %d\n" % i)
        except OSError as e:
            print("tcp_long:", e, flush=True)
            count("tcp_long", False)
            s = None
        time.sleep(1)

def report():
    while time.time() < end + 5:
        for name, (ok, fail) in list(counts.items()):
            with open("%s/%s.count" % (tmp, name), "w") as f:
                f.write("%s ok %d fail %d\n" % (name, ok, fail))
        time.sleep(1)

threads = [threading.Thread(target=f, daemon=True) for f in (tcp_new, udp, tcp_long)]
for t in threads:
    t.start()
report()
PY
ip netns exec "$(ns cli)" python3 "$TMP/clients.py" "$TMP" "$DURATION" >>"$TMP/clients.log" 2>&1 &
ITEST_PIDS+=($!)
ip netns exec "$(ns cli)" ping -i 0.2 -w "$DURATION" 10.71.2.20 >"$TMP/ping.log" 2>&1 &
ITEST_PIDS+=($!)

reloads=0 reload_failures=0 control=0 control_failures=0
reload_once() {
	local before
	before=$(grep -cE 'reloaded lab|reload failed|reload refused' "$TMP/vpcfwd.log")
	if ((reloads % 2)); then
		"$VPCFW" reload --lab "$LAB" >/dev/null 2>&1 || reload_failures=$((reload_failures + 1))
	else
		kill -HUP "$DAEMON_PID"
		for _ in $(seq 100); do
			[ "$(grep -cE 'reloaded lab|reload failed|reload refused' "$TMP/vpcfwd.log")" -gt "$before" ] && break
			sleep 0.05
		done
		grep -E 'reloaded lab|reload failed|reload refused' "$TMP/vpcfwd.log" | tail -n 1 |
			grep -q 'reloaded lab' || reload_failures=$((reload_failures + 1))
	fi
	reloads=$((reloads + 1))
}
control_once() {
	local c
	for c in "status" "flows --json" "stats --json"; do
		# shellcheck disable=SC2086 # the command and its option
		timeout 10 "$VPCFW" $c --lab "$LAB" >/dev/null 2>&1 || control_failures=$((control_failures + 1))
		control=$((control + 1))
	done
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status" 2>/dev/null; }
fds() { find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
client_fails() { cat "$TMP"/*.count 2>/dev/null | awk '{ f += $5 } END { print f + 0 }'; }
client_oks() { cat "$TMP"/*.count 2>/dev/null | awk '{ o += $3 } END { print o + 0 }'; }

samples=()
sample() {
	local rss fd tracked kdrops drops
	daemon_stats || return 1
	rss=$(rss_kb) fd=$(fds)
	tracked=$(stat "sum(e['tracked'] for e in d['enis'].values())")
	kdrops=$(stat "d['pcap_kernel_drops']")
	drops=$(stat "' '.join('%s=%d' % kv for kv in sorted(d['drops'].items()) if kv[1]) or '-'")
	samples+=("$rss $fd $(($(date +%s) - start))")
	printf '%s: t=%5ds rss=%6d KiB fds=%3d tracked=%5d kernel_drops=%d drops[%s] reloads=%d (failed %d) control=%d (failed %d) client ok=%d failed=%d\n' \
		"$ITEST_NAME" "$(($(date +%s) - start))" "$rss" "$fd" "$tracked" "$kdrops" "$drops" \
		"$reloads" "$reload_failures" "$control" "$control_failures" "$(client_oks)" "$(client_fails)"
}

start=$(date +%s)
next_sample=$start next_reload=$((start + RELOAD))
sample
while [ "$(date +%s)" -lt $((start + DURATION)) ]; do
	kill -0 "$DAEMON_PID" 2>/dev/null || { fail "vpcfwd died"; break; }
	now=$(date +%s)
	if [ "$now" -ge "$next_reload" ]; then
		reload_once
		next_reload=$((now + RELOAD))
	fi
	control_once
	if [ "$now" -ge $((next_sample + SAMPLE)) ]; then
		sample
		next_sample=$now
	fi
	sleep 1
done
sleep 5 # the clients write their last counts
sample

# The first sample after the warm-up is the baseline for memory; the
# first after start-up for descriptors.
warm=
for x in "${samples[@]}"; do
	read -r _ _ t <<<"$x"
	[ "$t" -ge "$WARMUP" ] && { warm=$x; break; }
done
read -r _ first_fd _ <<<"${samples[1]:-${samples[0]}}"
read -r last_rss last_fd _ <<<"${samples[-1]}"
peak_rss=$(printf '%s\n' "${samples[@]}" | awk '$1 > m { m = $1 } END { print m }')
peak_fd=$(printf '%s\n' "${samples[@]}" | awk '$2 > m { m = $2 } END { print m }')
lost=$(grep -oE '[0-9]+% packet loss' "$TMP/ping.log" | tail -n 1)
if [ -n "$warm" ]; then
	read -r warm_rss _ <<<"$warm"
	say "memory: $warm_rss KiB after the ${WARMUP}s warm-up, $last_rss KiB at the end, $peak_rss KiB peak"
else
	say "memory: $last_rss KiB at the end, $peak_rss KiB peak (run shorter than the ${WARMUP}s warm-up: growth not judged)"
fi
say "descriptors: $first_fd after start-up, $last_fd at the end, $peak_fd peak"
say "reloads: $reloads ($reload_failures failed); control requests: $control ($control_failures failed)"
say "clients: $(client_oks) exchanges, $(client_fails) failed ($(cat "$TMP"/*.count 2>/dev/null | tr '\n' ';')); ping: ${lost:-no summary}"
check "vpcfwd ran to the end" kill -0 "$DAEMON_PID"
check "its descriptors did not grow" test "$last_fd" -le "$first_fd"
if [ -n "$warm" ]; then
	check "its memory grew by 20 % at most after the warm-up" test "$last_rss" -le $((warm_rss * 12 / 10))
fi
check "every reload was applied" test "$reload_failures" -eq 0
check "every control request was answered" test "$control_failures" -eq 0
check "no client exchange failed" test "$(client_fails)" -eq 0
itest_finish
