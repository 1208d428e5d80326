#!/usr/bin/env bash
# Installs the Debian packages vpcfw builds and tests with. Used by .ci/run
# and by the README's set-up commands; safe to run again. Every tool a test
# needs is here: CI fails a test that skips (tests/CMakeLists.txt,
# VPCFW_FORBID_SKIPS), so a missing one is a red build, not a silent pass.
# Who needs what: tcpdump (options.sh reads the reject captures), setpriv
# and util-linux (output_files.sh, service_sandbox.sh), strace and
# systemd-analyze (service_sandbox.sh, systemd_units.sh), clang and
# libclang-rt-dev (the libFuzzer targets, .ci/fuzz), iperf3, sockperf and
# netsniff-ng's trafgen (benchmarks: tests/bench/datapath.sh), valgrind (the
# memcheck/ copies of the unit tests).
set -euo pipefail
packages=(
	build-essential cmake pkg-config
	libpcap-dev libmnl-dev libnftnl-dev libjansson-dev libyaml-dev libcmocka-dev
	libsystemd-dev
	iproute2 nftables ethtool iputils-ping socat curl iperf3 python3 procps
	systemd strace dpkg-dev util-linux sockperf tcpdump netsniff-ng
	clang libclang-rt-dev valgrind
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
