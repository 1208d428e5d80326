#!/bin/bash
# What each veth offload costs the kernel's own TCP path, for docs/offloads.md.
# Two namespaces joined by one veth pair (sender a, receiver b), iperf3 TCP,
# each configuration RUNS times, median printed beside the all-on baseline
# of the same invocation. Root; namespaces are unique per run and removed on
# every exit path. Usage: offloads.sh [SECONDS] [RUNS]
set -u
secs=${1:-3}
runs=${2:-3}
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
a=vpcfw-ob$$a b=vpcfw-ob$$b srv=
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null
	ip netns del "$a" 2>/dev/null
	ip netns del "$b" 2>/dev/null
}
trap cleanup EXIT INT TERM
ip netns add "$a" && ip netns add "$b" || exit 1
ip -n "$a" link add dev eth0 type veth peer name eth0 netns "$b" || exit 1
ip -n "$a" addr add 192.0.2.1/24 dev eth0
ip -n "$b" addr add 192.0.2.2/24 dev eth0
for n in "$a" "$b"; do ip -n "$n" link set lo up; ip -n "$n" link set eth0 up; done
ip netns exec "$b" iperf3 -s -B 192.0.2.2 >/dev/null 2>&1 &
srv=$!
sleep 0.5

# name|sender ethtool -K args|receiver ethtool -K args (the veth default is
# tx checksum, TSO and GSO on, GRO off)
configs=(
	"veth default|tx on tso on gso on|gro off"
	"+ GRO on|tx on tso on gso on|gro on"
	"TSO off|tx on tso off gso on|gro off"
	"tx csum + TSO off, GSO on (vpcfw)|tx off tso off gso on tx-udp-segmentation off|gro off"
	"tx csum + TSO + GSO off|tx off tso off gso off tx-udp-segmentation off|gro off"
)

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

apply() { # sender-args receiver-args
	ip netns exec "$a" ethtool -K eth0 $1 >/dev/null 2>&1
	ip netns exec "$b" ethtool -K eth0 $2 >/dev/null 2>&1
	# the receiver's transmit side carries the ACKs: same settings as the sender
	ip netns exec "$b" ethtool -K eth0 $1 >/dev/null 2>&1
}
reset() {
	for n in "$a" "$b"; do
		ip netns exec "$n" ethtool -K eth0 tx on tso on gso on gro off \
			tx-udp-segmentation on >/dev/null 2>&1
	done
}
# "Gbit/s:CPU-ms per GB" (client + server CPU time, from iperf3's own
# accounting: less sensitive to other load on the machine than throughput).
measure() {
	ip netns exec "$a" iperf3 -c 192.0.2.2 -t $secs -J 2>/dev/null | python3 -c '
import json, sys
e = json.load(sys.stdin)["end"]
gb = e["sum_received"]["bytes"] / 1e9
cpu = (e["cpu_utilization_percent"]["host_total"] + e["cpu_utilization_percent"]["remote_total"]) / 100 * e["sum_received"]["seconds"]
print("%.3f:%.0f" % (e["sum_received"]["bits_per_second"] / 1e9, cpu * 1000 / gb))' 2>/dev/null || echo 0:0
}

# Rounds interleave the configurations, so load from other work on the
# machine spreads over all of them instead of skewing one.
for mtu in 9001 1500; do
	ip -n "$a" link set eth0 mtu $mtu
	ip -n "$b" link set eth0 mtu $mtu
	declare -A res=()
	for r in $(seq $runs); do
		for i in "${!configs[@]}"; do
			IFS='|' read -r name snd rcv <<<"${configs[$i]}"
			apply "$snd" "$rcv"
			res[$i]="${res[$i]:-} $(measure)"
			reset
		done
	done
	printf '\nMTU %s, iperf3 TCP %ss, %s interleaved rounds: medians, ratios to the veth default\n' \
		$mtu $secs $runs
	printf '  %-36s %8s %6s %10s %6s\n' configuration Gbit/s ratio "CPU ms/GB" ratio
	base= basecpu=
	for i in "${!configs[@]}"; do
		IFS='|' read -r name snd rcv <<<"${configs[$i]}"
		g=$(echo ${res[$i]} | tr ' ' '\n' | cut -d: -f1 | median)
		c=$(echo ${res[$i]} | tr ' ' '\n' | cut -d: -f2 | median)
		[ -z "$base" ] && base=$g basecpu=$c
		printf '  %-36s %8.2f %5.2fx %10.0f %5.2fx   runs:%s\n' "$name" "$g" \
			"$(python3 -c "print($g/$base if $base else 0)")" "$c" \
			"$(python3 -c "print($c/$basecpu if $basecpu else 0)")" "${res[$i]}"
	done
	unset res
done
