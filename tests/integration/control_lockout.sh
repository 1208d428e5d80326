#!/usr/bin/env bash
# Control-plane lockout (issue 14, item 4): a member of the control group
# (here nobody, in nogroup) takes every client slot and trickles one byte
# of a request every half second into each, which used to reset the idle
# timer forever and keep root's `vpcfw status` failing with "too many
# clients". Now root still gets in while the member holds its 16 slots, the
# member's 17th is refused, and the trickling connections are closed 10 s
# after their first byte with a reply saying why, after which the member
# can use the socket again.
. "$(dirname "$0")/lib.sh"
need python3 setpriv getent
itest_init
GROUP=$(getent group 65534 | cut -d: -f1)
[ -n "$GROUP" ] || skip "no group 65534 on this machine"
setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null ||
	skip "setpriv cannot become nobody here"
daemon_start "$(lab_prepare offpath)" --control-group "$GROUP"
SOCK=/run/vpcfw/$LAB/control.sock

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
nobody_status() { as_nobody "$VPCFW" status --lab "$LAB" >"$TMP/nobody.out" 2>&1; }
root_status() { "$VPCFW" status --lab "$LAB" >"$TMP/root.out" 2>&1; }

check "nobody, in the control group, is served at first" nobody_status

cat >"$TMP/hog.py" <<'PY'
import socket, sys, time
path = sys.argv[1]
held, refused = [], 0
for i in range(20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(0.3)
    try:
        d = s.recv(4096)
        if b"too many clients" in d:
            refused += 1
            s.close()
            continue
    except socket.timeout:
        pass
    s.setblocking(False)
    held.append(s)
print("held", len(held), "refused", refused, flush=True)
req = b'{"v":1,"cmd":"status"'
t0 = time.time()
closed, said = {}, {}
while time.time() - t0 < 16 and len(closed) < len(held):
    for i, s in enumerate(held):
        if i in closed:
            continue
        try:
            s.send(req[int((time.time() - t0) * 2) % len(req):][:1])
        except OSError:
            pass
        try:
            d = s.recv(4096)
            said[i] = said.get(i, b"") + d
            if not d:
                closed[i] = time.time() - t0
        except BlockingIOError:
            pass
        except OSError:
            closed[i] = time.time() - t0
    time.sleep(0.5)
times = sorted(closed.values())
print("closed", len(closed), "first", int(times[0]) if times else -1,
      "last", int(times[-1]) if times else -1, flush=True)
print("told", sum(1 for d in said.values() if b"no complete request within 10 s" in d), flush=True)
PY
# The script on stdin: $TMP is root's alone. A python3 nobody may run (not
# a per-user shim of root's).
PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=$(command -v python3)
as_nobody "$PY3" - "$SOCK" <"$TMP/hog.py" >"$TMP/hog.out" 2>&1 &
HOG=$!
ITEST_PIDS+=("$HOG")
for _ in $(seq 100); do
	grep -q '^held' "$TMP/hog.out" && break
	sleep 0.1
done
say "hog: $(head -n 1 "$TMP/hog.out")"
check "the member holds 16 slots, the rest of its 20 refused" \
	grep -q '^held 16 refused 4' "$TMP/hog.out"
sleep 2
check_not "while it trickles into all of them, its own vpcfw status is refused" nobody_status
check "... with \"too many clients\"" grep -q 'too many clients' "$TMP/nobody.out"
check "root's vpcfw status gets in all the same" root_status
check "... and again" root_status
check "... with the right answer" grep -q "lab $LAB:" "$TMP/root.out"

wait "$HOG"
say "hog: $(tail -n 2 "$TMP/hog.out" | tr '\n' ' ')"
read -r _ NCLOSED _ FIRST _ LAST < <(grep '^closed' "$TMP/hog.out")
check "the daemon closed all 16 trickling connections" test "${NCLOSED:-0}" -eq 16
check "... 10-12 s after their first byte, trickle or not (first $FIRST s, last $LAST s)" \
	test "${FIRST:-0}" -ge 9 -a "${LAST:-99}" -le 12
check "... telling each why" grep -q '^told 16' "$TMP/hog.out"
check "then the member is served again" nobody_status

itest_finish
