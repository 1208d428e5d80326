#!/usr/bin/env bash
# Every ENI's conntrack allowance is its own, whatever reloads happen
# (issue 14, AWS-SEMANTICS 4): labs/ctres.json starts with 2 ENIs (fl, sk),
# a reload adds cl and sv (labs/ctres-4.json), then fl floods sk with
# 141 000 UDP flows, far past its allowance of 65 536. Before the fix the
# pool sized at start-up (2 x 65 536) filled and cl's new TCP connections
# to sv were refused while cl's counters claimed 65 521 available. Now:
# fl's refusals are counted as its allowance, cl -> sv connect 20 of 20,
# nothing is refused for the pool, and "available" is the truth. A last
# reload raising cl's allowance to 300 000 grows the pool to match.
. "$(dirname "$0")/lib.sh"
need python3
itest_init
lab=$(lab_prepare ctres)
daemon_start "$lab"

sed "s/@RUN@/$LAB/g" "$LABS_DIR/ctres-4.json" >"$lab"
kill -HUP "$DAEMON_PID"
for _ in $(seq 100); do
	daemon_log_has 'reloaded lab|reload failed|reload refused' && break
	sleep 0.1
done
check "the reload to 4 ENIs is applied" daemon_log_has "reloaded lab $LAB"
check "the daemon reports its counters" daemon_stats
check "the pool holds room for the 4 allowances (4 x 65536)" \
	stat_ge "d['conntrack_pool_capacity']" 262144
bg_in_ns sv socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat
wait_listen sv tcp 7000

cat >"$TMP/flood.py" <<'PY'
import socket, time
# 3 source ports x 47 000 destination ports: 141 000 distinct UDP flows,
# paced so that the capture keeps up.
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
n = 0
for s in socks:
    for port in range(1024, 1024 + 47000):
        s.sendto(b"x", ("10.81.2.10", port))
        n += 1
        if n % 500 == 0:
            time.sleep(0.004)
print("sent", n)
PY
fl_eni=$(eni_id fl)
sk_eni=$(eni_id sk)
cl_eni=$(eni_id cl)
sv_eni=$(eni_id sv)
# fl's tracked flows once the daemon has drained its capture (a slow,
# sanitized build may still be working through the flood).
fl_tracked_settled() {
	local last=-1 now
	for _ in $(seq 60); do
		daemon_stats || return 1
		now=$(stat "d['enis']['$fl_eni']['tracked']")
		[ "$now" = "$last" ] && break
		last=$now
		sleep 0.5
	done
	echo "$now"
}
# Rounds of fresh flows (new source ports) until fl's allowance is full,
# whatever the capture could not take.
for round in 1 2 3 4; do
	out=$(in_ns fl timeout 120 python3 "$TMP/flood.py" 2>&1)
	tracked=$(fl_tracked_settled)
	say "flood round $round: $out; fl tracks $tracked"
	[ "$tracked" = 65536 ] && break
done
check "the daemon reports its counters after the flood" daemon_stats
say "fl: $(stat "d['enis']['$fl_eni']")"
check "fl holds its whole allowance (65536 tracked)" \
	test "$(stat "d['enis']['$fl_eni']['tracked']")" -eq 65536
check "fl's refused flows are counted as its allowance exceeded" \
	stat_ge "d['enis']['$fl_eni']['conntrack_allowance_exceeded']" 10000
check "sk tracks fl's admitted flows (65536)" \
	test "$(stat "d['enis']['$sk_eni']['tracked']")" -eq 65536

cat >"$TMP/client.py" <<'PY'
import socket
ok = 0
for i in range(20):
    try:
        s = socket.create_connection(("10.81.2.20", 7000), timeout=3)
        s.sendall(b"hello %d\n" % i)
        ok += s.recv(100) == b"hello %d\n" % i
        s.close()
    except OSError as e:
        print("connection", i, e)
print("connected", ok, "of 20")
PY
out=$(in_ns cl timeout 100 python3 "$TMP/client.py" 2>&1)
say "cl -> sv: $(echo "$out" | tr '\n' ';')"
check "cl's new TCP connections to sv all succeed during the flood" grep -q '^connected 20 of 20$' <<<"$out"
check "the daemon reports its counters" daemon_stats
say "cl: $(stat "d['enis']['$cl_eni']")"
check "nothing was refused for the pool" test "$(stat "d['conntrack_pool_exhausted']")" -eq 0
check "cl and sv refused nothing" test "$(stat "d['enis']['$cl_eni']['conntrack_allowance_exceeded'] + d['enis']['$sv_eni']['conntrack_allowance_exceeded'] + d['enis']['$cl_eni']['conntrack_pool_exhausted']")" -eq 0
check "cl's available is its allowance minus what it tracks" \
	test "$(stat "d['enis']['$cl_eni']['conntrack_allowance_available'] + d['enis']['$cl_eni']['tracked']")" -eq 65536
check "fl's available is 0" test "$(stat "d['enis']['$fl_eni']['conntrack_allowance_available']")" -eq 0
# The control socket's stats say the same as SIGUSR1's.
cli_stats_agree() {
	"$VPCFW" stats --lab "$LAB" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
g, enis = d["global"], {e["id"]: e for e in d["enis"]}
assert g["conntrack_pool_exhausted"] == 0 and g["conntrack_pool_capacity"] >= 262144, g
assert g["conntrack_pool_in_use"] >= 65536, g
fl = enis[sys.argv[1]]
assert fl["conntrack_allowance_exceeded"] > 0 and fl["conntrack_pool_exhausted"] == 0, fl
' "$fl_eni"
}
check "vpcfw stats says the same: the pool refused nothing, fl hit its own allowance" \
	cli_stats_agree

# A reload that only raises an allowance (same ENIs) reserves its room too.
python3 - "$LABS_DIR/ctres-4.json" "$lab" "$LAB" <<'PY'
import json, sys
lab = json.loads(open(sys.argv[1]).read().replace("@RUN@", sys.argv[3]))
for e in lab["vpcs"][0]["enis"]:
    if e["name"].startswith("cl-"):
        e["conntrack_allowance"] = 300000
open(sys.argv[2], "w").write(json.dumps(lab))
PY
before=$(grep -c 'reloaded lab' "$TMP/vpcfwd.log")
kill -HUP "$DAEMON_PID"
for _ in $(seq 100); do
	[ "$(grep -c 'reloaded lab' "$TMP/vpcfwd.log")" -gt "$before" ] && break
	sleep 0.1
done
check "the reload raising cl's allowance to 300000 is applied" \
	test "$(grep -c 'reloaded lab' "$TMP/vpcfwd.log")" -gt "$before"
check "the daemon reports its counters" daemon_stats
check "the pool holds room for every allowance (3 x 65536 + 300000)" \
	stat_ge "d['conntrack_pool_capacity']" $((3 * 65536 + 300000))
check "cl's available is its new allowance minus what it tracks" \
	test "$(stat "d['enis']['$cl_eni']['conntrack_allowance_available'] + d['enis']['$cl_eni']['tracked']")" -eq 300000
itest_finish
