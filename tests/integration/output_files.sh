#!/usr/bin/env bash
# Output files never follow planted symlinks (issue 14, item 2). An
# unprivileged user (nobody) who creates the --pcap-dir or flow-log
# directory first, and plants symlinks named after the (predictable) ENI
# ids to stand-ins for /etc/passwd and /etc/shadow, gets vpcfwd to refuse
# to start, naming the directory and why; the stand-ins are never written.
# A symlink owned by nobody on the way to the directory is not followed, a
# world-writable directory is refused, a symlink in place of the flow log
# at a reload is not written through (the old file stays in use) while a
# later reload opens a new file under the name (logrotate), and
# directories vpcfwd creates are 0750, its files 0640 with the control
# group.
. "$(dirname "$0")/lib.sh"
need python3 setpriv stat
itest_init
user=nobody
group=$(id -gn "$user")
as_user() { setpriv --reuid="$user" --regid="$group" --clear-groups "$@"; }
lab=$(lab_prepare basic)
base=$TMP/out
mkdir -m 1777 "$base" # as /tmp: anyone may create a directory here
chmod 0755 "$TMP"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$base/standin-passwd"
printf 'root:*:19000:0:99999:7:::\n' >"$base/standin-shadow"
sum_before=$(cat "$base"/standin-* | md5sum)
standins_intact() { [ "$(cat "$base"/standin-* | md5sum)" = "$sum_before" ]; }

# A first, clean run creates missing directories and learns the ENI ids,
# as an attacker would (they are the same at every start).
daemon_start "$lab" --pcap-dir "$base/new/pcap" --control-group "$group" \
	--flow-log "$base/new/logs/flow.log"
check "missing directories are created 0750, root's" \
	test "$(command stat -c '%a %U' "$base/new/pcap" "$base/new/logs" | sort -u)" = "750 root"
check "the flow log is 0640, group $group" \
	test "$(command stat -c '%a %U %G' "$base/new/logs/flow.log")" = "640 root $group"
eni_ids=$(awk '$1 == "port" && $4 == "eni" { print $5 }' "/run/vpcfw/$LAB/topology.state")
first=$(head -n 1 <<<"$eni_ids")
check "each reject capture is 0640, group $group" \
	test "$(command stat -c '%a %U %G' "$base/new/pcap/$first.pcap")" = "640 root $group"

# At a reload the flow log's name is a symlink to the shadow stand-in.
mv "$base/new/logs/flow.log" "$base/new/logs/flow.log.1"
ln -s "$base/standin-shadow" "$base/new/logs/flow.log"
kill -HUP "$DAEMON_PID"
for _ in $(seq 50); do daemon_log_has 'flow log not reopened' && break; sleep 0.1; done
check "a reload does not reopen the flow log through a symlink, and says so" \
	daemon_log_has "flow log not reopened.*flow.log: a symlink: refusing to write through it"
check "the daemon goes on after that reload" daemon_log_has "reloaded lab $LAB"
in_ns cli timeout 3 socat -T1 - TCP:10.71.2.20:9999,connect-timeout=1 </dev/null >/dev/null 2>&1
sleep 2.5
check "records keep going to the old file" test -s "$base/new/logs/flow.log.1"
check "the stand-in for /etc/shadow got no flow record" standins_intact

# logrotate's way, once the symlink is gone: a new file under the name.
rm "$base/new/logs/flow.log"
before=$(grep -c 'reloaded lab' "$TMP/vpcfwd.log")
kill -HUP "$DAEMON_PID"
for _ in $(seq 50); do
	[ "$(grep -c 'reloaded lab' "$TMP/vpcfwd.log")" -gt "$before" ] && break
	sleep 0.1
done
in_ns cli timeout 3 socat -T1 - TCP:10.71.2.20:9998,connect-timeout=1 </dev/null >/dev/null 2>&1
sleep 2.5
check "a later reload reopens the flow log as a new regular file, 0640, group $group" \
	test "$(command stat -c '%F %a %U %G' "$base/new/logs/flow.log")" = "regular file 640 root $group"
check "records go to the new file" grep -q " 9998 6 " "$base/new/logs/flow.log"
daemon_stop TERM
DAEMON_PID=

# refused_start DESC WHY-REGEX OPTIONS...: vpcfwd exits 1 before building
# anything, with a message matching WHY-REGEX.
refused_start() {
	local desc=$1 why=$2 rc=0
	shift 2
	timeout -s INT 20 "$VPCFWD" --name "$LAB" --lab "$lab" "$@" >"$TMP/refused.log" 2>&1 || rc=$?
	say "  vpcfwd: $(tr '\n' ' ' <"$TMP/refused.log")"
	check "$desc: refused (exit 1)" test "$rc" -eq 1
	check "$desc: the message says why" grep -Eq -e "$why" "$TMP/refused.log"
	check "$desc: nothing is left built" test ! -e "/run/netns/vpcfw-router-$LAB"
	check "$desc: the stand-ins are untouched" standins_intact
}

# nobody's own directory with symlinks under every ENI id's capture name.
as_user mkdir -m 0755 "$base/userdir"
for id in $eni_ids; do
	as_user ln -s "$base/standin-passwd" "$base/userdir/$id.pcap"
done
as_user ln -s "$base/standin-shadow" "$base/userdir/flow.log"
check "nobody planted symlinks in a directory of its own" test -L "$base/userdir/$first.pcap"
refused_start "--pcap-dir a directory of another user" \
	"--pcap-dir: $base/userdir: owned by uid [0-9]+, not root" \
	--pcap-dir "$base/userdir" --flow-log "$TMP/flow.log"
refused_start "--flow-log in a directory of another user" \
	"flow log: $base/userdir: owned by uid [0-9]+, not root" --flow-log "$base/userdir/flow.log"

# The same through a symlink nobody owns, to a directory that is root's.
mkdir -m 0755 "$base/rootdir"
as_user ln -s "$base/rootdir" "$base/userdir/link"
refused_start "a symlink of another user on the way" \
	"link is a symlink owned by uid [0-9]+: refusing to follow it" \
	--pcap-dir "$base/userdir/link" --flow-log "$TMP/flow.log"

# A directory anyone may write, as /tmp.
mkdir -m 1777 "$base/sticky"
refused_start "a world-writable --pcap-dir" "writable by others \(mode 1777\)" \
	--pcap-dir "$base/sticky" --flow-log "$TMP/flow.log"

# A root-owned directory holding a symlink under a capture's name.
mkdir -m 0750 "$base/safe"
ln -s "$base/standin-passwd" "$base/safe/$first.pcap"
refused_start "a symlink under an ENI's capture name" \
	"$first.pcap: a symlink: refusing to write through it" \
	--pcap-dir "$base/safe" --flow-log "$TMP/flow.log"
check "the planted symlink still points where it did" \
	test "$(readlink "$base/safe/$first.pcap")" = "$base/standin-passwd"
itest_finish
