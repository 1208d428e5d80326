#!/usr/bin/env bash
# Reloads off the packet path (issue 14, items 3 and 5): whatever path a
# reload is pointed at, forwarding goes on. cli pings srv every 10 ms
# throughout while the test reloads a FIFO (which used to stop all
# forwarding until a writer came), a directory holding a FIFO, /dev/zero, a
# FIFO put in place of the lab for SIGHUP, a root-only file that is not a
# lab (the error must not quote it), and a valid lab of 45 MB that takes
# seconds to parse; `vpcfw status` answers while that one loads. Not one
# ping may be lost, and none may wait for a load: the largest round trip is
# reported and must stay well under the load's duration (a second; the load
# takes several).
. "$(dirname "$0")/lib.sh"
need python3 ping mkfifo
itest_init
lab=$(lab_prepare offpath)
daemon_start "$lab"

v() {
	VRC=0
	"$VPCFW" "$@" >"$TMP/out" 2>"$TMP/err" || VRC=$?
}
# elapsed CMD...: runs CMD, its wall time in ms in $ELAPSED
elapsed() {
	local t0
	t0=$(date +%s%N)
	"$@"
	ELAPSED=$((($(date +%s%N) - t0) / 1000000))
}

check "srv answers cli's ping before anything else" ping_reaches cli 10.83.2.20

# 2000 pings every 10 ms or so: 20-30 s, longer than everything below.
ip netns exec "$(ns cli)" ping -n -i 0.01 -c 2000 -W 5 10.83.2.20 >"$TMP/ping.out" 2>&1 &
PING_PID=$!
ITEST_PIDS+=("$PING_PID")
sleep 1

mkfifo "$TMP/fifo.json"
elapsed v reload "$TMP/fifo.json" --lab "$LAB"
say "reload of a FIFO answered in $ELAPSED ms"
check "vpcfw reload of a FIFO fails at once (exit 2, under 2 s)" \
	test "$VRC" -eq 2 -a "$ELAPSED" -lt 2000
check "... saying it is not a regular file" grep -q "fifo.json: error: not a regular file" "$TMP/err"

mkdir "$TMP/fifodir" && mkfifo "$TMP/fifodir/a.json"
elapsed v reload "$TMP/fifodir" --lab "$LAB"
check "a directory with a FIFO among its *.json is refused at once too" \
	test "$VRC" -eq 2 -a "$ELAPSED" -lt 2000 -a -n "$(grep 'a.json: error: not a regular file' "$TMP/err")"

elapsed v reload /dev/zero --lab "$LAB"
check "so is /dev/zero, which would never end" \
	test "$VRC" -eq 2 -a "$ELAPSED" -lt 2000 -a -n "$(grep 'not a regular file' "$TMP/err")"

printf 'root:$6$s3cr3tSALT$hash:19000:0:99999:7:::\ndaemon:*:19000::::::\n' >"$TMP/shadow"
chmod 0600 "$TMP/shadow"
v reload "$TMP/shadow" --lab "$LAB"
check "a reload of a root-only file that is no lab fails" test "$VRC" -eq 2
check "... saying only that it is not a lab" grep -q "shadow: error: not a lab file: not JSON" "$TMP/err"
check_not "... and quoting nothing of it" grep -Eq 'root|s3cr3t|daemon' "$TMP/err"

mv "$lab" "$lab.saved" && mkfifo "$lab"
before=$(grep -c 'reload failed' "$TMP/vpcfwd.log")
kill -HUP "$DAEMON_PID"
sighup_answered() {
	for _ in $(seq 30); do
		[ "$(grep -c 'reload failed' "$TMP/vpcfwd.log")" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}
check "SIGHUP with a FIFO in place of the lab is refused within 3 s" sighup_answered
check "... the log names it" daemon_log_has "$lab: error: not a regular file"
rm -f "$lab" && mv "$lab.saved" "$lab"

# The same lab and 15,000 unused security groups of 50 rules each.
python3 - "$lab" "$TMP/big.json" <<'PY'
import json, sys
lab = json.load(open(sys.argv[1]))
vpc = lab["vpcs"][0]
for i in range(15000):
    vpc["security_groups"].append({"name": "pad%d" % i, "egress": [], "ingress": [
        {"proto": "tcp", "ports": str(1000 + k), "from": "10.%d.%d.0/24" % (k, i % 250)}
        for k in range(50)]})
json.dump(lab, open(sys.argv[2], "w"))
PY
say "big lab: $(($(command stat -c %s "$TMP/big.json") / 1000000)) MB"
t0=$(date +%s%N)
"$VPCFW" reload "$TMP/big.json" --lab "$LAB" >"$TMP/big.out" 2>&1 &
BIG_PID=$!
sleep 0.3
elapsed v status --lab "$LAB" --json
STATUS_MS=$ELAPSED
status_during_load() {
	[ "$VRC" -eq 0 ] && kill -0 "$BIG_PID" 2>/dev/null
}
check "while the big lab loads, vpcfw status answers (in $STATUS_MS ms)" status_during_load
check "... under 1 s" test "$STATUS_MS" -lt 1000
wait "$BIG_PID"
BIG_RC=$?
LOAD_MS=$((($(date +%s%N) - t0) / 1000000))
say "the big lab's reload took $LOAD_MS ms"
check "the big lab is swapped in (exit 0, generation 1)" \
	test "$BIG_RC" -eq 0 -a -n "$(grep 'rules generation 1' "$TMP/big.out")"

wait "$PING_PID"
say "ping: $(grep -E 'transmitted|rtt' "$TMP/ping.out" | tr '\n' ' ')"
read -r SENT GOT < <(awk '/transmitted/ { print $1, $4 }' "$TMP/ping.out")
MAX_RTT=$(awk -F/ '/^rtt/ { printf "%d", $6 }' "$TMP/ping.out")
check "not one of $SENT pings was lost during all of it (got ${GOT:-0})" \
	test -n "$SENT" -a "$SENT" -eq 2000 -a "${GOT:-0}" -eq "$SENT"
check "no ping waited for the ${LOAD_MS} ms load: largest round trip ${MAX_RTT} ms" \
	test -n "$MAX_RTT" -a "$MAX_RTT" -lt 1000 -a "$LOAD_MS" -gt 2000

itest_finish
