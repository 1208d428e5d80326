#!/usr/bin/env bash
# Data-path benchmark (not a test: figures, never assertions; PERF.md).
# One invocation measures, side by side on the same machine and minute:
#   vpcfwd  - tests/bench/two-subnet.json run by vpcfwd (client and server
#             ENI namespaces, the daemon's router namespace in between);
#   kernel  - the same kind of namespaces joined by a router namespace that
#             forwards in the kernel, with an nftables conntrack ruleset
#             equivalent to the lab's rules (policy drop, established
#             accepted, the server's ports opened for new flows);
# with the same MTU (9001) and offload settings (OFFLOADS, default "off";
# "off on" measures both), and prints a table of medians of RUNS runs:
# iperf3 TCP throughput, 64-byte UDP packets/s delivered (iperf3 -u -l 64,
# receiver side), small packets delivered when the generator is not the
# bottleneck (trafgen from netsniff-ng: 64-byte UDP frames from a TX ring
# over 16 flows, counted at the server's eth0), UDP request/response round
# trip (sockperf ping-pong p50, RTT = 2 x its half-round-trip figure), new
# TCP connections/s (python3; with the client's SYN retransmits, which
# explain a collapsed run), the vpcfwd/kernel ratio, min/median/max of
# the connection rate and the small-packet rate (so that a collapsed run
# shows), the capture ring's drops, and the daemon's CPU time. Both
# paths exist at once and every figure is taken on one, then the other,
# round by round, so that both see the same moments of a noisy machine.
#
# Then the scale figure (tests/bench/scale.sh): for each size in SCALE, an
# account-sized lab of that many ENIs started and stopped by vpcfwd
# (seconds to ready, seconds to stop, RSS, what was left) beside the floor
# (ip netns + one veth pair per ENI, batched, and their removal), and the
# daemon's bytes per ENI between the two sizes.
#
# This machine's figures depend on what else runs, so the traffic figures
# are taken in each condition of CONDITIONS (issue 9's three by default),
# the load started just before a condition's rounds and ended after them:
#   quiet  - nothing added;
#   busy   - a nice -n 19 CPU-bound spinner per core (both cores busy,
#            but every other process comes first);
#   onejob - one CPU-bound job at ordinary priority pinned to the last core
#            (another job on one core: it competes as an equal there).
# After every condition and offload setting, a summary table: condition x
# figure, kernel+nft, vpcfwd, ratio (conditions x offloads x ~(RUNS x 10
# x SECS + 20) s: ~20 min with the defaults; RUNS=1 SECS=2 for a quick pass).
#
# WORKERS and BUSY_POLL pass vpcfwd's --workers and --busy-poll (empty:
# its defaults, the CPUs it may use and 50 us). SPIN=1 (former option) is
# CONDITIONS=busy.
#
# usage: sudo tests/bench/datapath.sh [BUILD_DIR]
#        env: RUNS=3 SECS=5 OFFLOADS="off on" CONDITIONS="quiet busy onejob"
#             UDP_RATE=2G SCALE="100 1000" ("": none) WORKERS= BUSY_POLL=
# Everything it creates is named after a random run id and removed on exit.
set -u

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-${VPCFW_BINARY_DIR:-$SRC/build}}
VPCFWD=$BUILD/vpcfwd
RUNS=${RUNS:-3}
SECS=${SECS:-5}
OFFLOADS=${OFFLOADS:-off on}
UDP_RATE=${UDP_RATE:-2G}
SCALE=${SCALE-100 1000}
WORKERS=${WORKERS:-}
BUSY_POLL=${BUSY_POLL:-}
[ "${SPIN:-0}" = 1 ] && CONDITIONS=${CONDITIONS:-busy}
CONDITIONS=${CONDITIONS:-quiet busy onejob}
SPINNERS=()
MTU=9001
SRV=10.80.2.20
CLI=10.80.1.10

[ "$(id -u)" -eq 0 ] || { echo "datapath.sh: needs root" >&2; exit 77; }
for t in iperf3 sockperf trafgen python3 nft ethtool ip; do
	command -v "$t" >/dev/null || { echo "datapath.sh: $t not installed" >&2; exit 77; }
done
[ -x "$VPCFWD" ] || { echo "datapath.sh: $VPCFWD not built" >&2; exit 1; }
for c in $CONDITIONS; do
	case $c in quiet | busy | onejob) ;; *) echo "datapath.sh: unknown condition $c" >&2; exit 2 ;; esac
done

ID=$(printf 'b%04x' $(((RANDOM ^ $$) & 0xffff)))
TMP=$(mktemp -d "/tmp/vpcfw-bench-$ID.XXXXXX")
PIDS=()
DAEMON=
KNS=("kb-cli-$ID" "kb-srv-$ID" "kb-rt-$ID")

cleanup() {
	local p n
	for p in "${PIDS[@]}" "${SPINNERS[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$DAEMON" ] && { kill -TERM "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null; }
	for n in "${KNS[@]}" $(ip netns list | awk '{print $1}' | grep -E "^(vpcfw-(.*-)?|kf[0-9r]*-)$ID$"); do
		[ -e "/run/netns/$n" ] || continue
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "$TMP" "/run/vpcfw/$ID"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }
# min/median/max of numbers, one a line
spread() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[1] "/" v[int((NR + 1) / 2)] "/" v[NR]; else print "nan" }'; }

# The daemon's CPU seconds so far (utime + stime).
cpu_of() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' \
		"/proc/$1/stat" 2>/dev/null || echo 0
}

set_offloads() { # NS DEV on|off
	local what=(tx "$3" tso "$3" gso "$3" gro "$3")
	ip netns exec "$1" ethtool -K "$2" "${what[@]}" >/dev/null 2>&1
	ip netns exec "$1" ethtool -K "$2" tx-udp-segmentation "$3" >/dev/null 2>&1
	return 0
}

# The kernel path: cli and srv as the lab has them, a router namespace
# forwarding between the two subnets, and nftables conntrack rules.
kernel_up() { # OFFLOADS
	local c=${KNS[0]} s=${KNS[1]} r=${KNS[2]}
	ip netns add "$c" && ip netns add "$s" && ip netns add "$r" || return 1
	ip link add eth0 netns "$c" type veth peer name c0 netns "$r"
	ip link add eth0 netns "$s" type veth peer name s0 netns "$r"
	for n in "$c:eth0" "$s:eth0" "$r:c0" "$r:s0"; do
		ip -n "${n%%:*}" link set "${n#*:}" mtu "$MTU" up
		set_offloads "${n%%:*}" "${n#*:}" "$1"
	done
	for n in "$c" "$s" "$r"; do ip -n "$n" link set lo up; done
	ip -n "$c" addr add "$CLI/24" dev eth0
	ip -n "$s" addr add "$SRV/24" dev eth0
	ip -n "$r" addr add 10.80.1.1/24 dev c0
	ip -n "$r" addr add 10.80.2.1/24 dev s0
	ip -n "$c" route add default via 10.80.1.1
	ip -n "$s" route add default via 10.80.2.1
	ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$r" nft -f - <<-EOF
	table inet bench {
		chain forward {
			type filter hook forward priority 0; policy drop;
			ct state established,related accept
			ct state invalid drop
			ip saddr 10.80.1.0/24 ip daddr $SRV tcp dport { 5201, 7000 } accept
			ip saddr 10.80.1.0/24 ip daddr $SRV udp dport { 5201, 11111 } accept
		}
	}
	EOF
}

kernel_down() {
	local n
	for n in "${KNS[@]}"; do ip netns del "$n" 2>/dev/null; done
}

daemon_up() { # OFFLOADS
	sed "s/@RUN@/$ID/g" "$SRC/tests/bench/two-subnet.json" >"$TMP/lab.json"
	: >"$TMP/vpcfwd.log"
	"$VPCFWD" --lab "$TMP/lab.json" --name "$ID" --offloads "$1" \
		--flow-log "$TMP/flow.log" ${WORKERS:+--workers "$WORKERS"} \
		${BUSY_POLL:+--busy-poll "$BUSY_POLL"} 2>>"$TMP/vpcfwd.log" &
	DAEMON=$!
	for _ in $(seq 300); do
		grep -q 'ready: lab' "$TMP/vpcfwd.log" && return 0
		kill -0 "$DAEMON" 2>/dev/null || break
		sleep 0.1
	done
	echo "datapath.sh: vpcfwd did not start:" >&2
	cat "$TMP/vpcfwd.log" >&2
	return 1
}

daemon_down() {
	kill -TERM "$DAEMON" 2>/dev/null
	wait "$DAEMON" 2>/dev/null
	DAEMON=
}

servers_up() { # SRV_NS
	ip netns exec "$1" iperf3 -s -B "$SRV" >/dev/null 2>&1 &
	PIDS+=($!)
	ip netns exec "$1" sockperf server -i "$SRV" -p 11111 >/dev/null 2>&1 &
	PIDS+=($!)
	ip netns exec "$1" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("'"$SRV"'", 7000)); s.listen(1024)
while True:
    c, _ = s.accept(); c.send(b"x"); c.close()
' >/dev/null 2>&1 &
	PIDS+=($!)
	sleep 1
}

servers_down() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	PIDS=()
}

tcp_gbps() { # CLI_NS
	ip netns exec "$1" iperf3 -c "$SRV" -t "$SECS" -J 2>/dev/null | python3 -c '
import json, sys
try: print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print("nan")'
}

udp_kpps() { # CLI_NS: 64-byte datagrams delivered per second, receiver side
	ip netns exec "$1" iperf3 -c "$SRV" -u -l 64 -b "$UDP_RATE" -t "$SECS" -J 2>/dev/null | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)["end"]["sum"]
    print("%.1f" % ((s["packets"] - s["lost_packets"]) / s["seconds"] / 1e3))
except Exception: print("nan")'
}

rtt_us() { # CLI_NS: sockperf ping-pong p50, as a round trip
	ip netns exec "$1" sockperf ping-pong -i "$SRV" -p 11111 -t "$SECS" 2>/dev/null |
		awk '/percentile 50.000/ { printf "%.1f\n", 2 * $NF; found = 1 } END { if (!found) print "nan" }'
}

small_kpps() { # CLI_NS SRV_NS: trafgen's 64-byte frames delivered per second
	local gw me r0 r1
	ip netns exec "$1" ping -c1 -W1 "$SRV" >/dev/null 2>&1
	gw=$(ip -n "$1" neigh show 10.80.1.1 | awk '/lladdr/ { print $5; exit }')
	me=$(ip -n "$1" link show eth0 | awk '/ether/ { print $2 }')
	[ -n "$gw" ] && [ -n "$me" ] || { echo nan; return; }
	cat >"$TMP/trafgen.cfg" <<-EOF
	{ eth(da=$gw, sa=$me, type=0x0800), ipv4(saddr=$CLI, daddr=$SRV, ttl=64, proto=17),
	  udp(sp=dinc(40000, 40015), dp=5201), fill(0x41, 22) }
	EOF
	r0=$(ip netns exec "$2" cat /sys/class/net/eth0/statistics/rx_packets)
	ip netns exec "$1" timeout "$SECS" trafgen -o eth0 -c "$TMP/trafgen.cfg" -P 1 >/dev/null 2>&1
	r1=$(ip netns exec "$2" cat /sys/class/net/eth0/statistics/rx_packets)
	awk -v a="$r0" -v b="$r1" -v s="$SECS" 'BEGIN { printf "%.1f\n", (b - a) / s / 1e3 }'
}

# The client namespace's SYN retransmissions so far (TcpExt TCPSynRetrans):
# a lost SYN or SYN-ACK costs the client a second, which is how a
# connection-rate run collapses.
syn_retrans() { # NS
	ip netns exec "$1" awk '/^TcpExt:/ { if (!n) { for (i = 2; i <= NF; i++) k[i] = $i; n = 1 }
		else for (i = 2; i <= NF; i++) if (k[i] == "TCPSynRetrans") print $i }' /proc/net/netstat
}

conn_per_s() { # CLI_NS: "rate syn-retransmits"
	local s0 s1 v
	s0=$(syn_retrans "$1")
	v=$(conn_once "$1")
	s1=$(syn_retrans "$1")
	echo "$v $((${s1:-0} - ${s0:-0}))"
}

conn_once() { # CLI_NS
	ip netns exec "$1" python3 -c '
import socket, time
n, end = 0, time.time() + '"$SECS"'
while time.time() < end:
    try:
        s = socket.create_connection(("'"$SRV"'", 7000), timeout=2); s.recv(1); s.close(); n += 1
    except OSError:
        pass
print("%.0f" % (n / '"$SECS"'))' 2>/dev/null || echo nan
}

# measure: RUNS rounds; each round takes every figure on the kernel path,
# then at once on vpcfwd, so both see the same moment of a noisy machine.
# Medians into R[kernel.*] and R[vpcfwd.*]; VWALL sums vpcfwd's seconds.
declare -A R
VWALL=0
measure() {
	local i f p t0 t1 v t
	local -A vals=()
	for i in $(seq "$RUNS"); do
		for f in tcp udp small rtt conn; do
			for p in kernel vpcfwd; do
				local ns=${KNS[0]} srv=${KNS[1]}
				[ "$p" = vpcfwd ] && ns=vpcfw-cli-$ID srv=vpcfw-srv-$ID
				t0=$(date +%s.%N)
				case $f in
				tcp) v=$(tcp_gbps "$ns") ;;
				udp) v=$(udp_kpps "$ns") ;;
				small) v=$(small_kpps "$ns" "$srv") ;;
				rtt) v=$(rtt_us "$ns") ;;
				conn)
					read -r v t <<<"$(conn_per_s "$ns")"
					vals[$p.synrt]+="$t"$'\n'
					;;
				esac
				t1=$(date +%s.%N)
				[ "$p" = vpcfwd ] && VWALL=$(awk -v a="$VWALL" -v b="$t0" -v c="$t1" 'BEGIN { print a + c - b }')
				vals[$p.$f]+="$v"$'\n'
			done
		done
		echo "  run $i: kernel tcp $(echo "${vals[kernel.tcp]}" | grep -v '^$' | tail -n 1) /" \
			"vpcfwd $(echo "${vals[vpcfwd.tcp]}" | grep -v '^$' | tail -n 1) Gbps," \
			"udp $(echo "${vals[kernel.udp]}" | grep -v '^$' | tail -n 1) /" \
			"$(echo "${vals[vpcfwd.udp]}" | grep -v '^$' | tail -n 1) kpps," \
			"small $(echo "${vals[kernel.small]}" | grep -v '^$' | tail -n 1) /" \
			"$(echo "${vals[vpcfwd.small]}" | grep -v '^$' | tail -n 1) kpps," \
			"rtt $(echo "${vals[kernel.rtt]}" | grep -v '^$' | tail -n 1) /" \
			"$(echo "${vals[vpcfwd.rtt]}" | grep -v '^$' | tail -n 1) us," \
			"conn $(echo "${vals[kernel.conn]}" | grep -v '^$' | tail -n 1) /" \
			"$(echo "${vals[vpcfwd.conn]}" | grep -v '^$' | tail -n 1) per s" >&2
	done
	for f in tcp udp small rtt conn; do
		for p in kernel vpcfwd; do
			R[$p.$f]=$(echo "${vals[$p.$f]}" | grep -v '^$' | median)
			R[$p.$f.spread]=$(echo "${vals[$p.$f]}" | grep -v '^$' | spread)
		done
	done
	for p in kernel vpcfwd; do
		R[$p.synrt]=$(echo "${vals[$p.synrt]}" | awk '{ n += $1 } END { print n + 0 }')
	done
}

# The load of a condition, in SPINNERS (ended by load_stop and on exit).
load_start() { # CONDITION
	local c
	case $1 in
	busy)
		for c in $(seq 0 $(($(nproc) - 1))); do
			nice -n 19 taskset -c "$c" sh -c 'while :; do :; done' &
			SPINNERS+=($!)
		done
		;;
	onejob)
		taskset -c $(($(nproc) - 1)) sh -c 'while :; do :; done' &
		SPINNERS+=($!)
		;;
	esac
}

load_stop() {
	local p
	for p in "${SPINNERS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	SPINNERS=()
}

describe() { # CONDITION
	case $1 in
	quiet) echo "quiet: nothing added" ;;
	busy) echo "busy: a nice -n 19 spinner pinned to each of the $(nproc) cores" ;;
	onejob) echo "onejob: one CPU-bound job at nice 0 pinned to core $(($(nproc) - 1))" ;;
	esac
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }

row() { printf '%-38s %12s %12s %8s\n' "$1" "$2" "$3" "$(ratio "$3" "$2")"; }

# One condition and offload setting: its table (medians in R).
report() { # TITLE (uses R, cpu, wall, drops)
	echo
	echo "$1"
	printf '%-38s %12s %12s %8s\n' "figure (median of $RUNS)" kernel+nft vpcfwd ratio
	row "TCP throughput, Gbps" "${R[kernel.tcp]}" "${R[vpcfwd.tcp]}"
	row "UDP 64 B delivered, kpps" "${R[kernel.udp]}" "${R[vpcfwd.udp]}"
	row "64 B frames (trafgen) delivered, kpps" "${R[kernel.small]}" "${R[vpcfwd.small]}"
	row "UDP request/response RTT p50, us" "${R[kernel.rtt]}" "${R[vpcfwd.rtt]}"
	row "new TCP connections/s" "${R[kernel.conn]}" "${R[vpcfwd.conn]}"
	echo "min/median/max: new TCP connections/s kernel ${R[kernel.conn.spread]}," \
		"vpcfwd ${R[vpcfwd.conn.spread]}; trafgen kpps kernel ${R[kernel.small.spread]}," \
		"vpcfwd ${R[vpcfwd.small.spread]}"
	echo "client SYN retransmits during the connection runs: kernel ${R[kernel.synrt]}, vpcfwd ${R[vpcfwd.synrt]}"
	echo "added RTT at p50: $(added "${R[vpcfwd.rtt]}" "${R[kernel.rtt]}") us"
	echo "vpcfwd CPU: ${cpu} s during ${wall} s of traffic through it ($(awk -v c="$cpu" -v w="$wall" 'BEGIN { printf "%.0f", (w > 0 ? 100 * c / w : 0) }')% of one core)"
	echo "vpcfwd counters at the end: $drops"
}

added() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%+.1f", a - b; else print "-" }'; }

# Issue 9's table: every figure in every condition, side by side.
summary() {
	local cond off f k v name
	echo
	echo "summary: medians of $RUNS, vpcfwd beside kernel forwarding + nftables conntrack"
	printf '%-7s %-38s %12s %12s %8s\n' condition figure kernel+nft vpcfwd ratio
	for cond in $CONDITIONS; do
		for off in $OFFLOADS; do
			for f in tcp udp small rtt conn; do
				case $f in
				tcp) name="TCP, offloads $off, Gbps" ;;
				udp) name="UDP 64 B (iperf3), offloads $off, kpps" ;;
				small) name="64 B trafgen, offloads $off, kpps" ;;
				rtt) name="RTT p50, offloads $off, us" ;;
				conn) name="new TCP conn/s, offloads $off" ;;
				esac
				read -r k v <<<"${SUM[$cond.$off.$f]}"
				printf '%-7s %-38s %12s %12s %8s\n' "$cond" "$name" "$k" "$v" "$(ratio "$v" "$k")"
			done
			read -r k v <<<"${SUM[$cond.$off.rtt]}"
			printf '%-7s %-38s %s\n' "$cond" "  added RTT p50, offloads $off" "$(added "$v" "$k") us"
			printf '%-7s %-38s %s\n' "$cond" "  offloads $off" "${SUMX[$cond.$off]}"
		done
	done
	echo "machine at end: $(uptime | sed 's/.*load average/load average/')"
}

echo "vpcfw data-path benchmark: $(nproc) cores, kernel $(uname -r), MTU $MTU, $RUNS runs x ${SECS}s, medians"
echo "vpcfwd workers: ${WORKERS:-default ($(nproc))}, busy poll: ${BUSY_POLL:-default (50)} us;" \
	"conditions: $CONDITIONS; offloads: $OFFLOADS"
echo "machine at start: $(uptime | sed 's/.*load average/load average/')"
# SUM[cond.off.fig] = "kernel vpcfwd" medians; SUMX[cond.off] = the extras
declare -A SUM SUMX
for cond in $CONDITIONS; do
	for off in $OFFLOADS; do
		echo "== $(describe "$cond"), offloads $off" >&2
		kernel_up "$off" || { echo "datapath.sh: kernel path set-up failed" >&2; exit 1; }
		daemon_up "$off" || exit 1
		servers_up "${KNS[1]}"
		servers_up "vpcfw-srv-$ID"
		VWALL=0
		load_start "$cond"
		cpu0=$(cpu_of "$DAEMON")
		measure
		cpu1=$(cpu_of "$DAEMON")
		load_stop
		kill -USR1 "$DAEMON"
		sleep 0.5
		servers_down
		# the last SIGUSR1 dump's global figures (the per-worker ones follow them)
		drops=$(grep 'pcap_kernel_drops' "$TMP/vpcfwd.log" | tail -n 1 |
			grep -o '"pcap_kernel_drops":[0-9]*\|"malformed_total":[0-9]*\|"tx_errors":[0-9]*' |
			awk -F: '!seen[$1]++' | tr '\n' ' ')
		daemon_down
		kernel_down
		wall=$(awk -v a="$VWALL" 'BEGIN { printf "%.1f", a }')
		cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.1f", b - a }')
		for f in tcp udp small rtt conn; do
			SUM[$cond.$off.$f]="${R[kernel.$f]} ${R[vpcfwd.$f]}"
		done
		SUMX[$cond.$off]="conn min/med/max kernel ${R[kernel.conn.spread]} vpcfwd ${R[vpcfwd.conn.spread]}"
		SUMX[$cond.$off]+=" (SYN retransmits ${R[kernel.synrt]} / ${R[vpcfwd.synrt]});"
		SUMX[$cond.$off]+=" vpcfwd CPU ${cpu} s in ${wall} s; $drops"
		report "$(describe "$cond"), offloads $off"
	done
done

summary

# ---------------------------------------------------------------- scale
# One scale figure for the project: tests/bench/scale.sh measures it (the
# account-sized lab of ../shared/tools/biglab.py beside the ip netns + veth
# floor); this benchmark prints it after the traffic figures.
if [ -n "$SCALE" ]; then
	echo
	# shellcheck disable=SC2086 # SCALE is a list of sizes
	VPCFW_BINARY_DIR=$BUILD bash "$SRC/tests/bench/scale.sh" $SCALE
fi
