#!/usr/bin/env bash
# Installs the Debian packages vpcfw builds and tests with. Used by .ci/run
# and by the README's set-up commands; safe to run again.
set -euo pipefail
packages=(
	build-essential cmake pkg-config
	libpcap-dev libmnl-dev libnftnl-dev libjansson-dev libyaml-dev libcmocka-dev
	libsystemd-dev
	iproute2 nftables ethtool iputils-ping socat curl iperf3 python3 procps
	systemd strace dpkg-dev util-linux sockperf
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
