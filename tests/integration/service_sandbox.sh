#!/usr/bin/env bash
# The hardening of systemd/vpcfwd@.service holds for the real daemon. No
# systemd as PID 1 is needed: the settings are read from the unit file and
# reproduced or measured directly, with real TCP through the lab.
#  - CapabilityBoundingSet + NoNewPrivileges: vpcfwd runs under setpriv with
#    exactly that bounding set and no_new_privs, and carries traffic;
#  - SystemCallFilter: every system call vpcfwd makes (strace -f, start,
#    traffic, SIGHUP reload, SIGUSR1, SIGTERM) is in the unit's filter as
#    expanded by systemd-analyze syscall-filter;
#  - RestrictAddressFamilies: every socket() family is listed;
#  - RestrictNamespaces=net: unshare/setns only ever ask for CLONE_NEWNET;
#  - MemoryDenyWriteExecute: no writable+executable mapping, no mprotect
#    to PROT_EXEC of a writable one.
# Skipped under sanitizers (their runtime's own calls are not the daemon's).
. "$(dirname "$0")/lib.sh"
need strace setpriv systemd-analyze
itest_init
ldd "$VPCFWD" | grep -qE 'libasan|libubsan' && skip "sanitizer build: syscalls of the runtime"
unit=$VPCFW_SOURCE_DIR/systemd/vpcfwd@.service
setting() { sed -n "s/^$1=//p" "$unit"; }
lab=$(lab_prepare basic)

caps=$(setting CapabilityBoundingSet | tr '[:upper:]' '[:lower:]' | sed 's/cap_/+/g; s/ /,/g')
[ -n "$caps" ] || { say "FAIL: no CapabilityBoundingSet in $unit"; exit 1; }
# daemon_start runs $VPCFWD: a wrapper applies the unit's limits and
# strace; the daemon itself is found by its command line.
cat >"$TMP/wrap.sh" <<EOF
#!/bin/sh
exec strace -f -qq -o "$TMP/strace.out" \\
	setpriv --bounding-set=-all,$caps --inh-caps=-all --no-new-privs "$VPCFWD" "\$@"
EOF
chmod 755 "$TMP/wrap.sh"
# With a control group: its files are chowned to it (CAP_CHOWN).
VPCFWD=$TMP/wrap.sh daemon_start "$lab" --control-group "$(id -gn nobody)"
say "bounding set from the unit: $caps"
real=$(pgrep -f "^$VPCFW_BINARY_DIR/vpcfwd --name $LAB" | head -n 1)
check "the daemon runs (pid $real)" test -n "$real"
# Killed at cleanup even if the strace wrapper dies first.
[ -n "$real" ] && ITEST_PIDS+=("$real")
check "its effective capabilities are the unit's bounding set" \
	bash -c "[ \"\$(awk '/^CapEff/ {print \$2}' /proc/$real/status)\" = \"\$(awk '/^CapBnd/ {print \$2}' /proc/$real/status)\" ] &&
		[ \"\$(awk '/^CapBnd/ {print \$2}' /proc/$real/status)\" = 0000000000203021 ]"
check "no_new_privs is set" grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$real/status"

tcp_server srv 8080
servers_ready
check "TCP passes under the unit's limits" tcp_reaches cli 10.71.2.20 8080 hello-from-srv
check "TCP over IPv6 passes" tcp_reaches cli 2001:db8:71:2::20 8080 hello-from-srv
check "no writable and executable mapping (MemoryDenyWriteExecute)" \
	bash -c "! awk '{print \$2}' /proc/$real/maps | grep -q 'w.x'"
kill -HUP "$real"
check "SIGHUP reload under the unit's limits" \
	bash -c "for i in \$(seq 50); do grep -q 'reloaded lab' '$TMP/vpcfwd.log' && exit 0; sleep 0.1; done; exit 1"
check "traffic after the reload" tcp_reaches cli 10.71.2.20 8080 hello-from-srv
kill -USR1 "$real"
sleep 0.5
kill -TERM "$real"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
check "SIGTERM: clean exit ($rc)" test "$rc" -eq 0

# Only the daemon's own calls: from its execve on, in its threads.
awk -v bin="$VPCFW_BINARY_DIR/vpcfwd" '
	!on && index($0, "execve(\"" bin "\"") { on = 1 }
	on' "$TMP/strace.out" >"$TMP/daemon.strace"
grep -oE '^[0-9]+ +[a-z_0-9]+\(' "$TMP/daemon.strace" | awk '{ sub(/\(/, "", $2); print $2 }' |
	sort -u >"$TMP/used"
expand() {
	local g
	for g in "$@"; do
		if [[ $g == @* ]]; then
			# shellcheck disable=SC2046 # one word per line
			expand $(systemd-analyze syscall-filter "$g" | sed -n '/^ *#/d; s/^  *//p')
		else
			echo "$g"
		fi
	done
}
# shellcheck disable=SC2046 # the unit's words
expand $(setting SystemCallFilter) | sort -u >"$TMP/allowed"
outside=$(grep -vxFf "$TMP/allowed" "$TMP/used" | tr '\n' ' ')
check "$(wc -l <"$TMP/used") distinct syscalls, all in SystemCallFilter=$(setting SystemCallFilter)${outside:+ (outside: $outside)}" \
	test -z "$outside"
check "the trace saw the set-up calls (unshare, setns, mount)" \
	bash -c "grep -qx unshare '$TMP/used' && grep -qx setns '$TMP/used' && grep -qx mount '$TMP/used'"
families=$(grep -oE ' socket\(AF_[A-Z0-9]+' "$TMP/daemon.strace" | sed 's/.*(//' | sort -u | tr '\n' ' ')
allowed_af=" $(setting RestrictAddressFamilies) "
bad_af=
for f in $families; do [[ $allowed_af == *" $f "* ]] || bad_af="$bad_af $f"; done
check "socket families used ($families) all in RestrictAddressFamilies${bad_af:+ (not:$bad_af)}" test -z "$bad_af"
check "unshare/setns only for network namespaces (RestrictNamespaces=$(setting RestrictNamespaces))" \
	bash -c "! grep -E ' (unshare|setns)\(' '$TMP/daemon.strace' | grep -v CLONE_NEWNET | grep -q ."
check "no mprotect/mmap asking for write and exec together" \
	bash -c "! grep -E ' (mmap|mprotect)\(' '$TMP/daemon.strace' | grep 'PROT_WRITE' | grep -q 'PROT_EXEC'"
itest_finish
