#!/bin/bash
# The systemd units (systemd/vpcfwd.service, systemd/vpcfwd@.service) pass
# `systemd-analyze verify`: every key known, every value parsed, the
# ExecStart binary present. verify needs the binary to exist, so it runs on
# copies whose /usr/sbin/vpcfwd points at the build's vpcfwd; it exits 0 even
# when it complains, so any line it prints about our units is a failure (a
# deliberately broken copy proves the complaint is seen). Also checked: the
# template and the plain unit share one hardening block, and no setting that
# gives the service its own mount namespace crept in (the lab's /run/netns
# bind mounts would be invisible to the host: see vpcfwd(8), SYSTEMD), and
# the units' Documentation= man pages resolve to docs/man/.
# Needs no root. Env: VPCFW_SOURCE_DIR, VPCFW_BINARY_DIR (set by ctest).
set -u

src=${VPCFW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bindir=${VPCFW_BINARY_DIR:-$src/build}
units=$src/systemd
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed" >&2; exit 77; }
[ -x "$bindir/vpcfwd" ] || { echo "FAIL: no vpcfwd at $bindir/vpcfwd" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vpcfw-units.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 runs=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

for u in vpcfwd.service vpcfwd@.service; do
	[ -f "$units/$u" ] || { fail "$units/$u missing"; continue; }
	sed "s#/usr/sbin/vpcfwd#$bindir/vpcfwd#g" "$units/$u" >"$tmp/$u"
done

# verify UNIT...: quiet means clean. Lines about other units (targets of a
# minimal container) are not ours to judge.
verify() {
	(cd "$tmp" && systemd-analyze verify --man=no "$@" 2>&1) | grep -E 'vpcfwd|bogus' || true
}

runs=$((runs + 1))
out=$(verify ./vpcfwd.service)
if [ -z "$out" ]; then ok "vpcfwd.service verifies clean"; else fail "vpcfwd.service: $out"; fi

runs=$((runs + 1))
out=$(verify ./vpcfwd@demo.service)
if [ -z "$out" ]; then ok "vpcfwd@demo.service verifies clean"; else fail "vpcfwd@demo.service: $out"; fi

# Documentation=man:vpcfwd(8) man:vpcfw(1) resolve to our own pages
# (man-db, when installed, reads them through MANPATH).
if command -v man >/dev/null; then
	mkdir -p "$tmp/man/man1" "$tmp/man/man8"
	cp "$src/docs/man/vpcfw.1" "$tmp/man/man1/"
	cp "$src/docs/man/vpcfwd.8" "$tmp/man/man8/"
	for u in ./vpcfwd.service ./vpcfwd@demo.service; do
		runs=$((runs + 1))
		out=$(cd "$tmp" && MANPATH=$tmp/man systemd-analyze verify --man=yes "$u" 2>&1 | grep -E 'vpcfwd|man')
		if [ -z "$out" ]; then ok "$u: its Documentation= man pages exist"; else fail "$u: $out"; fi
	done
fi

# The negative control: the same check must notice a bad key and value.
runs=$((runs + 1))
sed -e 's/^Type=notify$/Type=bogus/' -e 's/^NoNewPrivileges=yes$/NoNewPrivilegez=yes/' \
	"$tmp/vpcfwd.service" >"$tmp/vpcfwd-broken.service"
out=$(verify ./vpcfwd-broken.service)
if grep -qi 'service type' <<<"$out" && grep -q 'NoNewPrivilegez' <<<"$out"; then
	ok "a broken copy is reported (the check can fail)"
else
	fail "systemd-analyze did not report the broken copy: '$out'"
fi

# The contract with the daemon: notify type, reload by SIGHUP, no restart
# loop on a bad lab (exit 2), a watchdog the 1 s tick easily feeds.
for u in vpcfwd.service vpcfwd@.service; do
	# shellcheck disable=SC2016 # $MAINPID is literal unit text
	for want in 'Type=notify' 'NotifyAccess=main' 'ExecReload=/bin/kill -HUP $MAINPID' \
		'RestartPreventExitStatus=2' 'WatchdogSec=30' \
		'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_ADMIN CAP_CHOWN CAP_KILL'; do
		runs=$((runs + 1))
		grep -qxF "$want" "$units/$u" || fail "$u lacks '$want'"
	done
done
runs=$((runs + 1))
grep -qxF 'ExecStart=/usr/sbin/vpcfwd --lab /etc/vpcfw/%i --name %i --flow-log /var/log/vpcfw/%i/flow.log' \
	"$units/vpcfwd@.service" || fail "vpcfwd@.service: ExecStart is not the documented one"

# One hardening block for both units (the lines from CapabilityBoundingSet=
# to ProtectClock=, comments aside).
hardening() {
	sed -n '/^CapabilityBoundingSet=/,/^ProtectClock=/p' "$1" | grep -v '^#'
}
runs=$((runs + 1))
if diff <(hardening "$units/vpcfwd.service") <(hardening "$units/vpcfwd@.service") >"$tmp/diff"; then
	ok "both units carry the same hardening ($(hardening "$units/vpcfwd.service" | wc -l) settings)"
else
	fail "the units' hardening differs:"
	cat "$tmp/diff" >&2
fi

for u in vpcfwd.service vpcfwd@.service; do
	runs=$((runs + 1))
	bad=$(grep -E '^(ProtectSystem|ProtectHome|PrivateTmp|PrivateDevices|PrivateMounts|PrivateNetwork|ReadWritePaths|ReadOnlyPaths|InaccessiblePaths|BindPaths|BindReadOnlyPaths|TemporaryFileSystem|ProtectKernelTunables|ProtectKernelModules|ProtectKernelLogs|ProtectControlGroups|ProtectProc|ProcSubset|ProtectHostname|MountFlags)=' \
		"$units/$u")
	[ -z "$bad" ] || fail "$u: '$bad' gives the service a mount namespace; its netns would not reach the host"
done

if [ "$fails" -gt 0 ]; then
	echo "$fails of $runs checks failed" >&2
	exit 1
fi
echo "all $runs checks passed"
