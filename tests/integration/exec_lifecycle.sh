#!/usr/bin/env bash
# What `vpcfw exec` starts in a lab ends with the lab (issue 14, item 5):
# a server started in srv and a sleeper in cli are ended when vpcfwd stops
# on SIGTERM; after a `kill -9` of the daemon they live on until the next
# start of the lab, which ends them (and says so) before it removes the
# namespaces they hold. A start that loses the race for the lab's state
# file names the situation, never "pid 0".
. "$(dirname "$0")/lib.sh"
need python3
itest_init
lab=$(lab_prepare basic)

# exec_bg NAME CMD...: started with vpcfw exec, which execs CMD in place.
exec_bg() {
	local n=$1
	shift
	"$VPCFW" exec "$n-$LAB" -- "$@" >>"$TMP/exec.log" 2>&1 &
	ITEST_PIDS+=($!)
	LAST_PID=$!
}
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
in_lab_ns() { grep -q "$1" <(ip netns pids "$(ns "$2")" 2>/dev/null); }

daemon_start "$lab"
exec_bg srv socat TCP-LISTEN:7100,fork,reuseaddr SYSTEM:"echo hello"
server=$LAST_PID
exec_bg cli sleep 300
sleeper=$LAST_PID
wait_listen srv tcp 7100
check "vpcfw exec started a server in srv" in_lab_ns "$server" srv
check "... and a sleeper in cli" in_lab_ns "$sleeper" cli
check "vpcfwd stops on SIGTERM with status 0" daemon_stop TERM
check "the server started with vpcfw exec is ended with the lab" gone "$server"
check "so is the sleeper" gone "$sleeper"
check "the log says how many were ended" daemon_log_has "ended 2 processes still running in the lab's namespaces"

: >"$TMP/vpcfwd.log"
daemon_start "$lab"
exec_bg cli sleep 300
sleeper=$LAST_PID
for _ in $(seq 50); do in_lab_ns "$sleeper" cli && break; sleep 0.1; done
check "a new sleeper runs in cli" in_lab_ns "$sleeper" cli
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
check "after kill -9 of vpcfwd the sleeper is still there (nobody could end it)" alive "$sleeper"
: >"$TMP/vpcfwd.log"
daemon_start "$lab"
check "the next start ends it" gone "$sleeper"
check "... and says so" daemon_log_has "ended 1 processes still running in them"
check "vpcfwd stops on SIGTERM with status 0" daemon_stop TERM

# The race's loser: the state file exists and is locked, its owner not yet
# written (as between topo_state_open's open and its write).
mkdir -p "/run/vpcfw/$LAB"
: >"/run/vpcfw/$LAB/topology.state"
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1])
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(30)' "/run/vpcfw/$LAB/topology.state" "$TMP/locked" &
locker=$!
ITEST_PIDS+=("$locker")
for _ in $(seq 50); do [ -e "$TMP/locked" ] && break; sleep 0.1; done
rc=0
timeout -s INT 30 "$VPCFWD" --name "$LAB" --lab "$lab" --flow-log "$FLOWLOG" >"$TMP/race.log" 2>&1 || rc=$?
say "  vpcfwd: $(tr '\n' ' ' <"$TMP/race.log")"
check "a start that loses the race fails (exit 1)" test "$rc" -eq 1
check "... saying another process is starting the lab" \
	grep -q "lab $LAB is being started by another process (it holds .* and has not written its pid yet)" "$TMP/race.log"
check_not "... never 'pid 0'" grep -q "pid 0" "$TMP/race.log"
kill "$locker"
wait "$locker" 2>/dev/null
rc=0
timeout -s INT 30 "$VPCFWD" --name "$LAB" --lab "$lab" --flow-log "$FLOWLOG" >"$TMP/race.log" 2>&1 || rc=$?
say "  vpcfwd: $(tr '\n' ' ' <"$TMP/race.log")"
check "a fresh state file naming no owner yet is a start in progress too" \
	grep -q "being started by another process (.* names no owner yet)" "$TMP/race.log"
rm -rf "/run/vpcfw/$LAB"
itest_finish
