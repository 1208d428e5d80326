#!/usr/bin/env bash
# The Debian package, end to end, as a user gets it (issue 4, "Install and
# package"): `cpack -G DEB` in a build tree of its own, `apt-get install
# ./vpcfw_*.deb` into this machine, then only installed files are used:
# `vpcfw validate/check/test --offline` and `vpcfwd -n` on the installed
# examples; the installed vpcfwd started the way vpcfwd@NAME.service starts
# it (its ExecStart, lab in /etc/vpcfw/NAME, the unit's capability bounding
# set and no_new_privs) under a unique lab name, real TCP through it with
# the installed `vpcfw exec`, SIGTERM, nothing left; `apt-get remove`.
# Root, no stdin; cleans up (daemon, package, files) even when it fails.
# Usage: .ci/package-test.sh [BUILD_DIR]   (default build-package-ci)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=${1:-build-package-ci}
[ "$(id -u)" -eq 0 ] || { echo "package-test: needs root (apt-get install)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

name=pk$(printf '%04x' $((RANDOM ^ $$)))
etc=/etc/vpcfw/$name
log=/var/log/vpcfw/$name
tmp=$(mktemp -d "/tmp/vpcfw-package-$name.XXXXXX")
pid=""
installed_by_us=""
fails=0 checks=0
say() { echo "package-test: $*"; }
check() { # DESC CMD...
	local d=$1
	shift
	checks=$((checks + 1))
	if "$@" >"$tmp/check.out" 2>&1; then
		say "ok   $d"
	else
		say "FAIL $d"
		sed 's/^/    /' "$tmp/check.out" | tail -n 20
		fails=$((fails + 1))
	fi
}
cleanup() {
	local rc=$?
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$installed_by_us" ] && apt-get purge -y -qq vpcfw >/dev/null 2>&1
	rm -rf "$etc" "$log" "$tmp"
	rmdir /etc/vpcfw /var/log/vpcfw 2>/dev/null
	exit "$rc"
}
bg=()
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "== build and cpack in $build (lab name $name)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
	>/dev/null || exit 1
cmake --build "$build" -j "$(nproc)" --target vpcfw vpcfwd >/dev/null || exit 1
rm -f "$build"/vpcfw_*.deb
(cd "$build" && cpack -G DEB) || exit 1
deb=$(ls "$build"/vpcfw_*.deb)
[ -f "$deb" ] || { say "FAIL no .deb built"; exit 1; }
dpkg-deb -I "$deb" | sed -n '/Package:/,$p'

say "== install"
installed() { dpkg-query -W -f='${Status}' vpcfw 2>/dev/null | grep -q 'install ok installed'; }
installed && { say "vpcfw is already installed: refusing to replace it"; exit 1; }
# A removed package's postrm left by an interrupted earlier run.
dpkg --purge vpcfw >/dev/null 2>&1
installed_by_us=1
check "apt-get install ./$(basename "$deb")" apt-get install -y -qq "$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
check "dpkg says installed" bash -c "dpkg -s vpcfw | grep -q '^Status: install ok installed'"
for f in /usr/bin/vpcfw /usr/sbin/vpcfwd /usr/lib/systemd/system/vpcfwd.service \
	/usr/lib/systemd/system/vpcfwd@.service /usr/share/man/man1/vpcfw.1 \
	/usr/share/man/man8/vpcfwd.8 /usr/share/doc/vpcfw/README.md \
	/usr/share/vpcfw/examples/prototype/lab.json; do
	check "installed: $f" test -s "$f"
done
check "every library of the installed binaries resolves" \
	bash -c "! ldd /usr/bin/vpcfw /usr/sbin/vpcfwd | grep -q 'not found'"
check "the installed units name the installed daemon" \
	grep -q '^ExecStart=/usr/sbin/vpcfwd --lab /etc/vpcfw/%i' /usr/lib/systemd/system/vpcfwd@.service
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify --man=no /usr/lib/systemd/system/vpcfwd.service \
		/usr/lib/systemd/system/vpcfwd@demo.service 2>&1 | grep vpcfwd)
	check "systemd-analyze verify: the installed units are clean${out:+ ($out)}" test -z "$out"
fi

say "== offline, with the installed files only"
ex=/usr/share/vpcfw/examples
for lab in prototype ten-thousand million aws-export; do
	path=$ex/$lab
	[ -f "$path/lab.json" ] && path=$path/lab.json
	check "vpcfw validate $lab" /usr/bin/vpcfw validate "$path"
	check "vpcfwd -n --lab $lab" /usr/sbin/vpcfwd -n -q --lab "$path"
	check "vpcfw test --offline $lab/expect.yaml" \
		bash -c "/usr/bin/vpcfw test --offline '$ex/$lab/expect.yaml' >'$tmp/test-$lab.out'"
done
check "vpcfw check: alb-a -> app-1 tcp/8080 ACCEPT (exit 0)" \
	/usr/bin/vpcfw check "$ex/ten-thousand/lab.json" --from alb-a --to app-1 --proto tcp --port 8080
check_rejects() { /usr/bin/vpcfw check "$@" >/dev/null; [ $? -eq 1 ]; }
check "vpcfw check: client -> app-1 tcp/8080 REJECT (exit 1)" \
	check_rejects "$ex/ten-thousand/lab.json" --from client --to app-1 --proto tcp --port 8080

say "== the installed daemon, started as vpcfwd@$name.service would"
unit=/usr/lib/systemd/system/vpcfwd@.service
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr '[:upper:]' '[:lower:]' | sed 's/cap_/+/g; s/ /,/g')
read -r -a argv <<<"$(sed -n 's/^ExecStart=//p' "$unit" | sed "s/%i/$name/g")"
busy=
for ns in vpcfw-web-1 vpcfw-db-1 vpcfw-client "vpcfw-router-$name"; do
	[ -e "/run/netns/$ns" ] && busy="$busy $ns"
done
if [ -n "$busy" ]; then
	say "FAIL namespaces of the prototype lab already exist:$busy (another lab runs it)"
	exit 1
fi
mkdir -p /etc/vpcfw
cp "$ex/prototype/lab.json" "$etc"
say "  ${argv[*]} under bounding set $caps"
setpriv --bounding-set=-all,"$caps" --inh-caps=-all --no-new-privs "${argv[@]}" \
	2>"$tmp/vpcfwd.log" &
pid=$!
ready() {
	for _ in $(seq 300); do
		grep -q 'ready: lab' "$tmp/vpcfwd.log" && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$tmp/vpcfwd.log"; return 1; }
		sleep 0.1
	done
	return 1
}
check "vpcfwd@$name: ready under the unit's capabilities" ready
check "vpcfwd@$name: flow log in /var/log/vpcfw/$name" \
	grep -q "flow log $log/flow.log" "$tmp/vpcfwd.log"
check "vpcfw status --lab $name (installed CLI, control socket)" \
	bash -c "/usr/bin/vpcfw status --lab '$name' >'$tmp/status.out'"
vx() { /usr/bin/vpcfw exec --lab "$name" "$@"; }
db=$(vx db-1 -- ip -4 -o addr show dev eth0 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')
check "vpcfw exec db-1: its address ($db)" test -n "$db"
vx db-1 -- socat TCP-LISTEN:5432,fork,reuseaddr SYSTEM:'echo hello-from-db-1' >/dev/null 2>&1 &
bg+=($!)
for _ in $(seq 50); do
	vx db-1 -- ss -ltn 'sport = :5432' 2>/dev/null | grep -q 5432 && break
	sleep 0.1
done
reaches() { vx web-1 -- timeout 10 socat -T5 - "TCP:$db:5432,connect-timeout=5" </dev/null 2>/dev/null | grep -q hello-from-db-1; }
blocked() {
	local out rc=0
	out=$(vx client -- timeout 5 socat -T2 - "TCP:$db:5432,connect-timeout=2" </dev/null 2>&1) || rc=$?
	# AWS drops silently: a timeout, never an answer, a reset or an ICMP error.
	[ "$rc" -ne 0 ] && ! grep -qiE 'hello|refused|unreachable' <<<"$out"
}
check "web-1 -> db-1 tcp/5432 passes (real TCP through the installed daemon)" reaches
check "client -> db-1 tcp/5432 is silently dropped" blocked
kill "${bg[@]}" 2>/dev/null
wait "${bg[@]}" 2>/dev/null
bg=()
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
check "SIGTERM: vpcfwd exits 0 ($rc)" test "$rc" -eq 0
left() {
	ip netns list | grep -E "^vpcfw-(web-1|db-1|client|router-$name)( |$)"
	grep -E "/run/netns/vpcfw-(web-1|db-1|client|router-$name) " /proc/mounts
	[ -e "/run/vpcfw/$name/topology.state" ] && echo "/run/vpcfw/$name/topology.state"
	pgrep -f "vpcfwd --lab $etc" || true
}
out=$(left)
check "SIGTERM: no namespace, mount, state file or process left${out:+ ($out)}" test -z "$out"
check "the flow log was written" test -s "$log/flow.log"

say "== remove"
check "apt-get remove vpcfw" apt-get remove -y -qq vpcfw
installed_by_us=
check "binaries and units are gone" \
	bash -c '! [ -e /usr/bin/vpcfw ] && ! [ -e /usr/sbin/vpcfwd ] && ! [ -e /usr/lib/systemd/system/vpcfwd.service ]'
check "dpkg --purge clears what remove keeps (the postrm)" dpkg --purge vpcfw
check "no trace of vpcfw left in dpkg" bash -c '! dpkg-query -W vpcfw 2>/dev/null | grep -q .'

echo "package-test: $((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
