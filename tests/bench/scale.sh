#!/bin/bash
# How long vpcfwd takes to build and to remove an account-sized lab, and
# its memory, beside the floor measured in the same run: `ip netns add` and
# one veth pair per ENI (into a router namespace) through `ip -batch`, then
# `ip netns del` of them all. Figures only, never assertions (issue 9).
#
#   ready: vpcfwd started until its "ready:" line (when it has also told
#          systemd READY=1), and the topology's share (until its "lab ...
#          built" line); RSS: the daemon's VmRSS then (and its peak);
#   stop:  SIGTERM until the process is gone; then checked: no namespace,
#          bind mount or run file of the lab left, and none of the processes
#          started in it with `vpcfw exec` ("left" counts them all);
#   bytes per ENI: the RSS difference between two sizes over their ENIs.
#
# EXEC=K starts `vpcfw exec ENI -- sleep` in the first K ENIs once the lab
# is ready (not timed), so that the stop also ends them (default 0).
# tests/bench/datapath.sh prints this figure as its scale part.
#
# The lab: ../shared/tools/biglab.py N when it is there (20 subnets, 50
# security groups of 20 rules, 20 NACLs; BIGLAB=path overrides), else a
# plain one of N ENIs; ENI names get this run's token so nothing collides.
# Root. Usage: scale.sh [N...] (default: 100 1000)
set -u
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=${VPCFW_BINARY_DIR:-$src/build}
biglab=${BIGLAB:-$src/../shared/tools/biglab.py}
. "$src/tests/integration/biglab.bash"
sizes=("$@")
exec_n=${EXEC:-0}
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1000)
tag=s$(printf '%04x' $((($$ ^ RANDOM) & 0xffff)))
tmp=$(mktemp -d "/tmp/vpcfw-scale-$tag.XXXXXX")
pid=
procs=()

ours() { ip netns list 2>/dev/null | awk '{print $1}' | grep -cE -- "-$tag(-[0-9]+)?$"; }
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for p in "${procs[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E -- "-$tag(-[0-9]+)?$"); do
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "/run/vpcfw/$tag" "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

lab() { # N FILE
	if [ -f "$biglab" ]; then
		python3 "$biglab" "$1"
	else
		python3 -c 'import json, sys
n = int(sys.argv[1])
print(json.dumps({"lab": "x", "vpcs": [{"name": "v", "cidr": "10.0.0.0/16",
  "subnets": [{"name": f"s{i}", "cidr": f"10.0.{i * 4}.0/22"} for i in range(20)],
  "security_groups": [{"name": "sg", "ingress": [{"proto": "tcp", "ports": "22", "from": "sg"}]}],
  "enis": [{"name": f"e{i}", "subnet": f"s{i % 20}", "groups": ["sg"],
            "ip": [f"10.0.{(i % 20) * 4 + (i // 20) // 250}.{(i // 20) % 250 + 4}"]} for i in range(n)]}]}))' "$1"
	fi | biglab_tag "$tag" >"$2"
}

floor() { # N: "create remove" in ms
	local n=$1 r=vpcfw-r-$tag i t0 t1 t2
	{ echo "netns add $r"; for ((i = 0; i < n; i++)); do echo "netns add vpcfw-f$i-$tag"; done; } >"$tmp/add"
	for ((i = 0; i < n; i++)); do echo "link add f$i type veth peer name eth0 netns vpcfw-f$i-$tag"; done >"$tmp/veth"
	{ for ((i = 0; i < n; i++)); do echo "netns del vpcfw-f$i-$tag"; done; echo "netns del $r"; } >"$tmp/del"
	t0=$(now_ms)
	ip -batch "$tmp/add" && ip -n "$r" -batch "$tmp/veth" || return 1
	t1=$(now_ms)
	ip -batch "$tmp/del" || return 1
	t2=$(now_ms)
	echo "$((t1 - t0)) $((t2 - t1))"
}

exec_in() { # K: a sleep in each of the first K ENIs of this run, by vpcfw exec
	local n
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E -- "^vpcfw-.*-$tag$" |
		grep -v "^vpcfw-router-" | head -n "$1"); do
		"$bin/vpcfw" exec "${n#vpcfw-}" -- sleep 600 </dev/null >/dev/null 2>&1 &
		procs+=($!)
	done
	sleep 0.5 # until they have joined their namespaces
}
alive() { local p k=0; for p in "${procs[@]}"; do kill -0 "$p" 2>/dev/null && k=$((k + 1)); done; echo $k; }

kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }


daemon() { # N: "ready built stop rss_kib hwm_kib left", ms and KiB
	local t0 t1 tb= t2 rss hwm
	lab "$1" "$tmp/lab.json"
	: >"$tmp/log"
	t0=$(now_ms)
	"$bin/vpcfwd" --lab "$tmp/lab.json" --name "$tag" --flow-log "$tmp/flow.log" -v \
		2>"$tmp/log" &
	pid=$!
	until grep -q 'ready: lab' "$tmp/log" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || { echo "vpcfwd failed:" >&2; cat "$tmp/log" >&2; pid=; return 1; }
		[ -z "$tb" ] && grep -q "lab $tag built" "$tmp/log" && tb=$(now_ms)
		sleep 0.01
	done
	t1=$(now_ms)
	[ -n "$tb" ] || tb=$t1
	rss=$(kib "$pid" VmRSS)
	hwm=$(kib "$pid" VmHWM)
	procs=()
	[ "$exec_n" -gt 0 ] && exec_in "$exec_n"
	t2=$(now_ms)
	kill -TERM "$pid"
	wait "$pid"
	pid=
	t3=$(now_ms)
	sleep 0.1 # SIGKILLed ones: until their parent (this shell) has reaped them
	left=$(($(ours) + $(grep -c "/run/netns/.*-$tag " /proc/mounts) + $(ls "/run/vpcfw/$tag" 2>/dev/null | wc -l) + $(alive)))
	echo "$((t1 - t0)) $((tb - t0)) $((t3 - t2)) $rss $hwm $left"
}

echo "# vpcfwd at scale vs. the ip-netns+veth floor ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(free -g | awk '/^Mem:/ {print $7}') GiB available)"
echo "# ready (topology: its share, until the lab's namespaces are built), stop, RSS at ready,"
echo "# left: namespaces, mounts and run files of the lab and processes started in it after the stop"
[ "$exec_n" -gt 0 ] && echo "# $exec_n processes started with vpcfw exec in the lab before each stop"
fmt='%-6s %-13s %-13s %-10s %-10s %-10s %-10s %-10s %s\n'
printf "$fmt" ENIs floor-create floor-remove ready topology stop RSS peak-RSS left
per_eni=0 # KiB of RSS per ENI seen so far: a size that cannot fit is skipped
prev_n= prev_rss=
for n in "${sizes[@]}"; do
	avail=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
	if [ $((per_eni * n * 5 / 4)) -gt "$avail" ]; then
		echo "$n: skipped, would need ~$((per_eni * n / 1048576)) GiB at $((per_eni / 1024)) MiB per ENI ($((avail / 1048576)) GiB available)"
		continue
	fi
	f=$(floor "$n") || { echo "floor failed at $n" >&2; continue; }
	d=$(daemon "$n") || { echo "vpcfwd failed at $n" >&2; continue; }
	set -- $f $d
	per_eni=$(($6 / n))
	printf "$fmt" "$n" "$(secs "$1") s" "$(secs "$2") s" "$(secs "$3") s" "$(secs "$4") s" \
		"$(secs "$5") s" "$(($6 / 1024)) MiB" "$(($7 / 1024)) MiB" "$8"
	[ -n "$prev_n" ] && [ "$n" != "$prev_n" ] &&
		echo "daemon bytes per ENI (RSS, $prev_n -> $n ENIs): $((($6 - prev_rss) * 1024 / (n - prev_n)))"
	prev_n=$n prev_rss=$6
done
