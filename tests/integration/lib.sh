# Shared harness of the real-traffic tests (sourced, never run). Each test
# reads like a user's session: start vpcfwd on a small lab, run ordinary
# programs (socat, ping, curl) inside the lab's namespaces, assert what they
# saw. Not a framework: a few helpers and the cleanup every test needs.
#
# Guarantees: every name is unique per run (the lab name is random), and an
# EXIT/INT/TERM trap kills the daemon and every process the test started and
# deletes every namespace of the run, whether the test passed or not.
# Exit codes follow ctest: 0 pass, 1 fail, 77 skipped (not root, tool missing).

ITEST_NAME=$(basename "${0%.sh}")
ITEST_FAILS=0
ITEST_CHECKS=0
ITEST_PIDS=()
DAEMON_PID=
LAB=
TMP=

: "${VPCFW_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${VPCFW_BINARY_DIR:=$VPCFW_SOURCE_DIR/build}"
LABS_DIR=$VPCFW_SOURCE_DIR/tests/integration/labs
VPCFWD=$VPCFW_BINARY_DIR/vpcfwd
VPCFW=$VPCFW_BINARY_DIR/vpcfw

say() { printf '%s: %s\n' "$ITEST_NAME" "$*"; }

skip() {
	say "SKIP: $*"
	exit 77
}

# Records one assertion. check DESC CMD... passes when CMD succeeds.
check() {
	local desc=$1
	shift
	ITEST_CHECKS=$((ITEST_CHECKS + 1))
	if "$@"; then
		say "ok   $desc"
	else
		say "FAIL $desc"
		ITEST_FAILS=$((ITEST_FAILS + 1))
	fi
}

# The opposite: passes when CMD fails.
check_not() {
	local desc=$1
	shift
	ITEST_CHECKS=$((ITEST_CHECKS + 1))
	if "$@"; then
		say "FAIL $desc"
		ITEST_FAILS=$((ITEST_FAILS + 1))
	else
		say "ok   $desc"
	fi
}

fail() {
	ITEST_CHECKS=$((ITEST_CHECKS + 1))
	ITEST_FAILS=$((ITEST_FAILS + 1))
	say "FAIL $*"
}

need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
	done
}

# Namespaces of this run. The daemon names an ENI's namespace vpcfw-<label>
# (its Name tag) and the router's vpcfw-router-<lab>; test labs carry @RUN@
# in every Name (lab_prepare puts the random lab name there), so every
# namespace of the run ends in -$LAB. ITEST_EXTRA_NS lists fixed names a
# test created itself (the default lab's).
ITEST_EXTRA_NS=()
itest_namespaces() {
	local n
	[ -n "$LAB" ] || return 0
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^vpcfw-(.*-)?${LAB}(-|$)"
	awk '$1 == "router" { print $2 } $1 == "port" { print $3 }' \
		"/run/vpcfw/$LAB/topology.state" 2>/dev/null
	for n in "${ITEST_EXTRA_NS[@]}"; do
		[ -e "/run/netns/$n" ] && echo "$n"
	done
	return 0
}

itest_cleanup() {
	local rc=$? pid ns
	trap - EXIT INT TERM
	for pid in "${ITEST_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
	[ -n "$DAEMON_PID" ] && wait "$DAEMON_PID" 2>/dev/null
	for ns in $(itest_namespaces | sort -u); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$LAB" ] && rm -rf "/run/vpcfw/$LAB"
	[ -n "${DAEMON_DEFAULT_FLOWLOG:-}" ] && [ -n "$LAB" ] && rm -rf "/var/log/vpcfw/$LAB"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -s "$TMP/vpcfwd.log" ]; then
		say "--- vpcfwd log (last 40 lines)"
		tail -n 40 "$TMP/vpcfwd.log"
	fi
	[ -n "$TMP" ] && rm -rf "$TMP"
	exit "$rc"
}

itest_init() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
	need ip socat timeout
	[ -x "$VPCFWD" ] || { say "FAIL: $VPCFWD not built"; exit 1; }
	# 5 characters keep "<short name>-$LAB" within the loader's 10 for
	# namespace labels; a token some namespace or state already uses is
	# never taken.
	for _ in $(seq 20); do
		LAB=$(printf 't%04x' $(((RANDOM ^ $$ ^ RANDOM << 3) & 0xffff)))
		compgen -G "/run/netns/*$LAB*" >/dev/null || compgen -G "/run/vpcfw/*$LAB*" >/dev/null || break
	done
	TMP=$(mktemp -d "/tmp/vpcfw-itest-$LAB.XXXXXX")
	trap itest_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	FLOWLOG=$TMP/flow.log
	say "lab name $LAB, scratch $TMP"
}

# Ends the test: stops the daemon still running (it must exit 0 and its
# log must hold no sanitizer report), then exit 1 when any check failed.
daemon_clean_exit() {
	local rc=0
	daemon_stop TERM || rc=$?
	[ "$rc" -eq 0 ] || { say "  vpcfwd exited with status $rc"; return 1; }
	! grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP/vpcfwd.log"
}
itest_finish() {
	if [ -n "$DAEMON_PID" ]; then
		check "vpcfwd stops on SIGTERM with status 0 and no sanitizer report" daemon_clean_exit
	fi
	if [ "$ITEST_FAILS" -gt 0 ]; then
		say "$ITEST_FAILS of $ITEST_CHECKS checks failed"
		exit 1
	fi
	if [ "$ITEST_CHECKS" -eq 0 ]; then
		say "no checks ran"
		exit 1
	fi
	say "all $ITEST_CHECKS checks passed"
	exit 0
}

# daemon_start LABFILE|- [vpcfwd options...]: starts vpcfwd in the
# background under this run's lab name ("-": the built-in default lab) with
# a 1 s flow log in $FLOWLOG, and waits for its "ready:" line. With
# DAEMON_DEFAULT_FLOWLOG=1 the daemon picks its default flow-log path,
# removed at cleanup.
daemon_start() {
	local lab=$1
	shift
	local args=(--name "$LAB" --flow-log-interval 1 -v)
	if [ -n "${DAEMON_DEFAULT_FLOWLOG:-}" ]; then
		FLOWLOG=/var/log/vpcfw/$LAB/flow.log
	else
		args+=(--flow-log "$FLOWLOG")
	fi
	[ "$lab" != - ] && args+=(--lab "$lab")
	: >"$TMP/vpcfwd.log"
	# VPCFWD_WORKERS=N runs the suite with N packet threads (workers.sh).
	[ -n "${VPCFWD_WORKERS:-}" ] && args+=(--workers "$VPCFWD_WORKERS")
	"$VPCFWD" "${args[@]}" "$@" 2>>"$TMP/vpcfwd.log" &
	DAEMON_PID=$!
	daemon_wait_ready
}

# READY_TIMEOUT (seconds, default 30): a large lab under ASan on a busy
# runner can take longer than a small one to build.
daemon_wait_ready() {
	local i limit=${READY_TIMEOUT:-30}
	for i in $(seq $((limit * 10))); do
		if grep -q 'ready: lab' "$TMP/vpcfwd.log" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			say "vpcfwd exited before it was ready:"
			cat "$TMP/vpcfwd.log"
			exit 1
		fi
		sleep 0.1
	done
	say "vpcfwd not ready after $limit s"
	exit 1
}

# daemon_stop [SIGNAL]: stops the daemon and waits; returns its exit status.
daemon_stop() {
	local sig=${1:-TERM} rc=0
	[ -n "$DAEMON_PID" ] || return 0
	kill -"$sig" "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" || rc=$?
	DAEMON_PID=
	return "$rc"
}

# lab_prepare NAME: tests/integration/labs/NAME.json with @RUN@ replaced by
# the run's lab name, written to $TMP/NAME.json (path printed).
lab_prepare() {
	sed "s/@RUN@/$LAB/g" "$LABS_DIR/$1.json" >"$TMP/$1.json" || exit 1
	echo "$TMP/$1.json"
}

# The namespace of an ENI or outside host of the running lab, by its short
# name in the lab file ("web" for "web-@RUN@"), as topology.h names it;
# direct `ip netns exec` keeps tests independent of the CLI, which has its
# own test (default_lab.sh). NS_FIXED=1 (default lab): no suffix.
ns() {
	if [ -n "${NS_FIXED:-}" ]; then
		printf 'vpcfw-%s' "$1"
	else
		printf 'vpcfw-%s-%s' "$1" "$LAB"
	fi
}

in_ns() {
	local n=$1
	shift
	ip netns exec "$(ns "$n")" "$@"
}

# bg_in_ns NAME CMD...: a background process in NAME's namespace, killed at
# cleanup (ip netns exec execs CMD, so $! is CMD itself).
bg_in_ns() {
	local n=$1
	shift
	ip netns exec "$(ns "$n")" "$@" >>"$TMP/servers.log" 2>&1 &
	ITEST_PIDS+=($!)
}

# Servers answer with a line naming themselves, so a client proves it
# reached the right one. Each is remembered for servers_ready.
ITEST_LISTEN=()
tcp_server() { # NAME PORT
	bg_in_ns "$1" socat TCP6-LISTEN:"$2",ipv6only=0,fork,reuseaddr SYSTEM:"echo hello-from-$1"
	ITEST_LISTEN+=("$1 tcp $2")
}
# UDP: one socket answering every datagram. socat's UDP6-RECVFROM with
# fork stopped answering now and then after a few requests (seen with
# tcpdump: the request arrived, no answer left), which made UDP checks
# flaky.
udp_server() { # NAME PORT
	bg_in_ns "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
answer = ("hello-from-%s\n" % sys.argv[2]).encode()
while True:
    _, peer = s.recvfrom(65535)
    s.sendto(answer, peer)
' "$2" "$1"
	ITEST_LISTEN+=("$1 udp $2")
}
http_server() { # NAME PORT
	mkdir -p "$TMP/www-$1"
	echo "page-of-$1" >"$TMP/www-$1/index.html"
	bg_in_ns "$1" python3 -m http.server --bind :: --directory "$TMP/www-$1" "$2"
	ITEST_LISTEN+=("$1 tcp $2")
}
# Waits until every server started so far listens.
servers_ready() {
	local s
	for s in "${ITEST_LISTEN[@]}"; do
		# shellcheck disable=SC2086 # "NAME PROTO PORT"
		wait_listen $s || return 1
	done
}

# A long-lived TCP connection FROM -> ADDR:PORT driven step by step, for
# tests of what a reload does to existing flows: the client sends a line
# and expects its echo at step 1, then at step N each time the test runs
# `client_step N`; each step prints "step N ok|timeout|wrong|error ...".
long_client() { # FROM ADDR PORT STEPS [TIMEOUT]
	cat >"$TMP/client.py" <<'PY'
import os, socket, sys, time
tmp, addr, port, steps, timeout = sys.argv[1:]
s = socket.create_connection((addr, int(port)), timeout=float(timeout))
for step in range(1, int(steps) + 1):
    if step > 1:
        while not os.path.exists("%s/go%d" % (tmp, step)):
            time.sleep(0.05)
    try:
        s.sendall(b"line %d\n" % step)
        got = s.recv(100)
        res = "ok" if got == b"line %d\n" % step else "wrong"
    except socket.timeout:
        res = "timeout"
    except OSError as e:
        res = "error %s" % e
    print("step", step, res, flush=True)
PY
	: >"$TMP/client.out"
	ip netns exec "$(ns "$1")" python3 "$TMP/client.py" "$TMP" "$2" "$3" "$4" "${5:-2}" \
		>>"$TMP/client.out" 2>&1 &
	ITEST_PIDS+=($!)
}
client_step() { touch "$TMP/go$1"; }
client_says() { # TEXT: wait for a line of the client
	for _ in $(seq 60); do
		grep -q "$1" "$TMP/client.out" && return 0
		sleep 0.1
	done
	say "  client: $(tr '\n' ';' <"$TMP/client.out")"
	return 1
}

# Waits until NAME listens on PORT (tcp or udp) so the first probe of a test
# never races the server's start.
wait_listen() { # NAME PROTO PORT
	local flag=-ltn
	[ "$2" = udp ] && flag=-lun
	for _ in $(seq 150); do
		in_ns "$1" ss "$flag" "sport = :$3" 2>/dev/null | grep -q ":$3" && return 0
		sleep 0.1
	done
	say "server in $1 not listening on $2/$3"
	return 1
}

# Client probes. A reachable service answers with its line; a blocked one
# must be silent, as AWS drops without RST or ICMP error: the probe has to
# time out, and an error such as "Connection refused" or "No route to host"
# counts as NOT blocked (something answered, or the test itself is wrong).
# socat's -T bounds inactivity, connect-timeout the handshake, and
# timeout(1) the whole run, so a blocked flow costs at most ~3 s.
sockaddr() { # ADDR PORT -> socat's address syntax
	if [[ "$1" == *:* ]]; then printf '[%s]:%s' "$1" "$2"; else printf '%s:%s' "$1" "$2"; fi
}
probe() { # FROM CMD... : PROBE_OUT, PROBE_ERR, PROBE_RC
	local from=$1
	shift
	PROBE_RC=0
	PROBE_OUT=$(in_ns "$from" "$@" 2>"$TMP/probe.err") || PROBE_RC=$?
	PROBE_ERR=$(cat "$TMP/probe.err")
}
tcp_probe() { # FROM ADDR PORT [SECONDS]: connect within SECONDS (default 2)
	local t=${4:-2}
	probe "$1" timeout $((t + 2)) socat -T"$t" - "TCP:$(sockaddr "$2" "$3"),connect-timeout=$t" </dev/null
}
timed_out() {
	[ -z "$PROBE_OUT" ] && { [ "$PROBE_RC" -eq 124 ] || [[ "$PROBE_ERR" == *"timed out"* ]]; }
}
tcp_reaches() { # FROM ADDR PORT EXPECT (generous: a loaded CI machine is slow)
	tcp_probe "$1" "$2" "$3" 5
	[[ "$PROBE_OUT" == *"$4"* ]]
}
tcp_blocked() { # FROM ADDR PORT: silently dropped (the connect times out)
	tcp_probe "$1" "$2" "$3"
	timed_out || { say "  not a silent drop: rc=$PROBE_RC out='$PROBE_OUT' err='${PROBE_ERR##*] }'"; return 1; }
}
# -t: after its input ends socat waits this long for the answer (0.5 s by
# default, too short on a loaded machine: an answer would come too late to
# count, and a blocked probe would pass without having waited).
udp_probe() { # FROM ADDR PORT [SECONDS]: the answer within SECONDS (default 2)
	local t=${4:-2}
	PROBE_RC=0
	PROBE_OUT=$(echo ping | in_ns "$1" timeout $((t + 2)) socat -T"$t" -t"$t" - "UDP:$(sockaddr "$2" "$3")" \
		2>"$TMP/probe.err") || PROBE_RC=$?
	PROBE_ERR=$(cat "$TMP/probe.err")
}
udp_reaches() { # FROM ADDR PORT EXPECT
	udp_probe "$1" "$2" "$3" 5
	[[ "$PROBE_OUT" == *"$4"* ]]
}
udp_blocked() { # FROM ADDR PORT: no answer and no ICMP error either
	udp_probe "$1" "$2" "$3"
	[ -z "$PROBE_OUT" ] && [ -z "$PROBE_ERR" ] ||
		{ say "  not a silent drop: rc=$PROBE_RC out='$PROBE_OUT' err='${PROBE_ERR##*] }'"; return 1; }
}
http_reaches() { # FROM URL EXPECT
	probe "$1" curl -sS -g --connect-timeout 5 -m 8 "$2"
	[[ "$PROBE_OUT" == *"$3"* ]]
}
http_blocked() { # FROM URL: curl's exit 28 is its timeout
	probe "$1" curl -sS -g --connect-timeout 2 -m 3 "$2"
	[ "$PROBE_RC" -eq 28 ] || { say "  not a silent drop: curl rc=$PROBE_RC $PROBE_ERR"; return 1; }
}
ping_probe() { # FROM ADDR: two echo requests
	local v=-4
	[[ "$2" == *:* ]] && v=-6
	probe "$1" ping "$v" -n -c 2 -i 0.3 -W 2 "$2"
}
ping_reaches() { # FROM ADDR (IPv4 or IPv6): at least one reply of two
	ping_probe "$1" "$2"
	[ "$PROBE_RC" -eq 0 ]
}
ping_blocked() { # FROM ADDR: no reply and no "unreachable" from anywhere
	ping_probe "$1" "$2"
	[ "$PROBE_RC" -eq 1 ] && [[ "$PROBE_OUT" != *nreachable* ]] && [[ "$PROBE_OUT" == *" 0 received"* ]] ||
		{ say "  not a silent drop: ping rc=$PROBE_RC $(echo "$PROBE_OUT" | grep -iE 'unreach|received' | head -n 2)"; return 1; }
}

# bulk_ok SERVER ADDR PORT CLIENT MB: the client downloads MB of random
# bytes from a one-shot server and gets them intact (every segment through
# the daemon, checksums and MTU right, or TCP would stall).
bulk_ok() {
	head -c "${5}M" /dev/urandom >"$TMP/blob"
	rm -f "$TMP/got"
	bg_in_ns "$1" socat -u FILE:"$TMP/blob" TCP6-LISTEN:"$3",ipv6only=0,reuseaddr
	wait_listen "$1" tcp "$3" || return 1
	in_ns "$4" timeout 60 socat -u "TCP:$(sockaddr "$2" "$3")" FILE:"$TMP/got",create,trunc ||
		{ say "  transfer failed after $(stat -c %s "$TMP/got" 2>/dev/null) bytes"; return 1; }
	cmp -s "$TMP/blob" "$TMP/got" ||
		{ say "  received $(stat -c %s "$TMP/got") bytes, not the ${5} MiB sent"; return 1; }
}

# Flow log: waits up to $2 seconds (default 5) for a line matching the
# extended regex $1.
flowlog_wait() {
	local re=$1 t=${2:-5}
	for _ in $(seq $((t * 10))); do
		grep -Eq "$re" "$FLOWLOG" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The daemon's log, for counters and reasons it prints.
daemon_log_has() {
	grep -Eq "$1" "$TMP/vpcfwd.log"
}

# The ENI id behind a short name, from the state file the topology keeps
# (/run/vpcfw/<lab>/topology.state: "port IFNAME NS eni ENI-ID ...").
eni_id() {
	awk -v ns="$(ns "$1")" '$1 == "port" && $3 == ns { print $5 }' \
		"/run/vpcfw/$LAB/topology.state" 2>/dev/null
}

# A v2 default-format record (AWS-SEMANTICS 6): "2 account eni src dst
# sport dport proto packets bytes start end action status".
flowlog_v2_re() { # ENI SRC DST SPORT DPORT PROTO ACTION
	printf '^2 [^ ]+ %s %s %s %s %s %s [0-9]+ [0-9]+ [0-9]+ [0-9]+ %s OK$' "$@"
}
flowlog_has() { # ENI SRC DST SPORT DPORT PROTO ACTION
	flowlog_wait "$(flowlog_v2_re "$@")" 6
}

# daemon_stats: asks vpcfwd for its counters (SIGUSR1 logs them as one
# "stats {json}" line) and saves the newest to $TMP/stats.json.
daemon_stats() {
	local before after
	before=$(grep -c 'stats {' "$TMP/vpcfwd.log")
	kill -USR1 "$DAEMON_PID" || return 1
	for _ in $(seq 50); do
		after=$(grep -c 'stats {' "$TMP/vpcfwd.log")
		[ "$after" -gt "$before" ] && break
		sleep 0.1
	done
	grep 'stats {' "$TMP/vpcfwd.log" | tail -n 1 | sed 's/^[^{]*//' >"$TMP/stats.json"
	[ -s "$TMP/stats.json" ]
}

# stat EXPR: a value of the last daemon_stats snapshot, EXPR a Python
# expression over d, e.g. "d['drops'].get('no-route', 0)".
stat() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$TMP/stats.json" "$1"
}

# stat_ge EXPR N: the counter is at least N.
stat_ge() {
	local v
	v=$(stat "$1") || return 1
	[ "$v" -ge "$2" ]
}

# Run directly (ctest registers every integration/*.sh), this file tests
# its own promise: a test that fails, or is killed with SIGTERM, still
# leaves no namespace and no process behind.
gone() { # PID: exited (a zombie waiting for its reaper counts as gone)
	local st
	[ -n "$1" ] || return 1
	for _ in $(seq 20); do
		st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
		[ -z "$st" ] || [ "$st" = Z ] && return 0
		sleep 0.1
	done
	say "  process $1 still running (state $st)"
	return 1
}
lib_selftest() {
	local lib=${BASH_SOURCE[0]} out rc lab pid
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
	itest_init
	for how in fail term; do
		out=$(ITEST_NAME=inner bash -c '
			. "$1"
			itest_init
			ip netns add "vpcfw-x-$LAB" || exit 3
			bg_in_ns x sleep 300
			echo "lab=$LAB pid=${ITEST_PIDS[0]}"
			if [ "$2" = term ]; then kill -TERM $$; sleep 5; fi
			fail "deliberately"
			itest_finish' inner "$lib" "$how" 2>&1)
		rc=$?
		lab=$(grep -o 'lab=t[0-9a-f]*' <<<"$out" | cut -d= -f2)
		pid=$(grep -o 'pid=[0-9]*' <<<"$out" | cut -d= -f2)
		check "a test that ends by $how exits non-zero ($rc)" test "$rc" -ne 0 -a "$rc" -ne 3
		check "... and removed its namespace" test -n "$lab" -a ! -e "/run/netns/vpcfw-x-$lab"
		check "... and killed the process it started in it" gone "$pid"
	done
	itest_finish
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	lib_selftest
fi
