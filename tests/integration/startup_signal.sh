#!/usr/bin/env bash
# A stop request at any moment of start-up removes everything built so far
# (issue 9): vpcfwd building a lab of $N ENIs gets SIGTERM (or SIGINT) right
# away, once the router namespace exists, with about a third and two thirds
# of the namespaces built, and after it is ready; each time it exits with
# status 0 (or, signalled before its handlers exist, dies having built
# nothing) and leaves no namespace, mount, state file or process behind.
# Then the same during a reload that adds $N ENIs to a running lab: the
# stop waits for the reload, then removes old and new alike.
. "$(dirname "$0")/lib.sh"
need python3
itest_init
N=${STARTUP_SIGNAL_ENIS:-150}

# gen N FILE: a lab of N ENIs over 4 subnets, each ENI named e<i>-$LAB so
# every namespace carries this run's token.
gen() {
	python3 - "$1" "$LAB" >"$2" <<'EOF'
import json, sys
n, tag = int(sys.argv[1]), sys.argv[2]
subnets = [{"name": f"s{i}", "cidr": f"10.93.{i * 4}.0/22"} for i in range(4)]
enis = [{"name": f"e{i}-{tag}", "subnet": f"s{i % 4}", "groups": ["sg"],
         "ip": [f"10.93.{(i % 4) * 4 + (i // 4) // 250}.{(i // 4) % 250 + 4}"]} for i in range(n)]
print(json.dumps({"lab": tag, "vpcs": [{"name": "v", "cidr": "10.93.0.0/16", "subnets": subnets,
      "security_groups": [{"name": "sg", "ingress": [{"proto": "tcp", "ports": "22", "from": "sg"}]}],
      "enis": enis}]}))
EOF
}

ours() { ip netns list 2>/dev/null | awk '{print $1}' | grep -cE "^vpcfw-(.*-)?$LAB$"; }
mounts() { grep -cE "/run/netns/vpcfw-(.*-)?$LAB " /proc/mounts; }
procs() { # processes (other than us) in a namespace of this run
	local n c=0
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^vpcfw-(.*-)?$LAB$"); do
		c=$((c + $(ip netns pids "$n" 2>/dev/null | wc -l)))
	done
	echo "$c"
}
nothing_left() {
	[ "$(ours)" -eq 0 ] && [ "$(mounts)" -eq 0 ] && [ ! -e "/run/vpcfw/$LAB" ] ||
		{ say "  left: namespaces=$(ours) mounts=$(mounts) run=$(ls "/run/vpcfw/$LAB" 2>&1)"; return 1; }
}

start_bg() { # LABFILE: vpcfwd in the background, not waiting for ready
	: >"$TMP/vpcfwd.log"
	"$VPCFWD" --name "$LAB" --lab "$1" --flow-log "$FLOWLOG" -v 2>>"$TMP/vpcfwd.log" &
	DAEMON_PID=$!
}
wait_for() { # TESTCMD...: up to 60 s, while the daemon lives
	for _ in $(seq 3000); do
		"$@" && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
		sleep 0.02
	done
	return 1
}
at_least() { [ "$(ours)" -ge "$1" ]; }
ready() { grep -q 'ready: lab' "$TMP/vpcfwd.log"; }

# stop_when SIGNAL WHAT TESTCMD...: starts the lab, signals it once
# TESTCMD holds (none: at once), checks it exits cleanly leaving nothing.
stop_when() {
	local sig=$1 what=$2 rc=0
	shift 2
	start_bg "$TMP/big.json"
	if [ $# -gt 0 ] && ! wait_for "$@"; then
		fail "$what: the moment never came"
		tail -n 5 "$TMP/vpcfwd.log"
	fi
	local seen=$(ours)
	daemon_stop "$sig" || rc=$?
	say "  $what: $seen namespaces when signalled; $(grep -c . "$TMP/vpcfwd.log") log lines"
	# Before its handlers are installed (while loading the lab) the signal's
	# default action ends vpcfwd, which has built nothing yet.
	local killed=$((128 + $(kill -l "$sig")))
	if [ "$rc" -eq "$killed" ] && [ "$seen" -eq 0 ]; then
		say "  ended by SIG$sig before it had built anything"
		rc=0
	fi
	check "SIG$sig $what: vpcfwd exits with status 0" test "$rc" -eq 0
	check "SIG$sig $what: nothing is left" nothing_left
	check_not "SIG$sig $what: no sanitizer report" \
		grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP/vpcfwd.log"
}

gen "$N" "$TMP/big.json"
stop_when TERM "at once"
stop_when TERM "once the router namespace exists" at_least 1
stop_when INT "with a third of the namespaces" at_least $((N / 3))
stop_when TERM "with two thirds of the namespaces" at_least $((2 * N / 3))
stop_when TERM "once ready" ready

# A reload that adds N ENIs to a running lab of 4, stopped while it builds.
gen 4 "$TMP/grow.json"
start_bg "$TMP/grow.json"
wait_for ready || fail "the small lab never became ready"
"$VPCFW" exec "e1-$LAB" -- sleep 300 >/dev/null 2>&1 &
sleeper=$!
ITEST_PIDS+=("$sleeper")
wait_for test "$(procs)" -ge 1
gen "$N" "$TMP/grow.json"
kill -HUP "$DAEMON_PID"
wait_for at_least 6
rc=0
seen=$(ours)
daemon_stop TERM || rc=$?
say "  reload: $seen namespaces when signalled"
check "SIGTERM during a reload adding $N ENIs: vpcfwd exits with status 0" test "$rc" -eq 0
check "... nothing is left, old ENIs or new" nothing_left
check "... and what vpcfw exec started is ended" gone "$sleeper"
itest_finish
