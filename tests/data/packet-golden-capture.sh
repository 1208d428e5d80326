#!/bin/bash
# Regenerates tests/data/packet-golden.pcap (root): three namespaces A - R - B with
# documentation/private lab addresses, real ping/socat/curl traffic, captured on A.
# Not a test: a fixture generator; review tests/data/packet-golden.txt after.
set -u
S=pg$$
A=$S-a; R=$S-r; B=$S-b
cleanup() { kill $TD 2>/dev/null; wait $TD 2>/dev/null; for n in $A $R $B; do ip netns del $n 2>/dev/null; done; }
trap cleanup EXIT
for n in $A $R $B; do ip netns add $n; ip -n $n link set lo up; done
ip link add ${S}a type veth peer name ${S}ra
ip link set ${S}a netns $A; ip link set ${S}ra netns $R
ip link add ${S}b type veth peer name ${S}rb
ip link set ${S}b netns $B; ip link set ${S}rb netns $R
ip -n $A link set ${S}a name eth0; ip -n $B link set ${S}b name eth0
ip -n $A link set eth0 address 02:00:00:00:01:0a
ip -n $R link set ${S}ra address 02:00:00:00:01:01
ip -n $A addr add 10.0.1.10/24 dev eth0; ip -n $A addr add 2001:db8:1::10/64 dev eth0 nodad
ip -n $R addr add 10.0.1.1/24 dev ${S}ra; ip -n $R addr add 2001:db8:1::1/64 dev ${S}ra nodad
ip -n $R addr add 10.0.2.1/24 dev ${S}rb; ip -n $R addr add 2001:db8:2::1/64 dev ${S}rb nodad
ip -n $B addr add 10.0.2.20/24 dev eth0; ip -n $B addr add 2001:db8:2::20/64 dev eth0 nodad
ip -n $R link set ${S}rb mtu 1280; ip -n $B link set eth0 mtu 1280
for n in $A $R $B; do ip -n $n link set dev $(ip -n $n -o link | awk -F': ' '$2!="lo"{print $2}' | cut -d@ -f1 | head -1) up; done
ip -n $R link set ${S}ra up; ip -n $R link set ${S}rb up; ip -n $A link set eth0 up; ip -n $B link set eth0 up
ip -n $A route add default via 10.0.1.1; ip -n $A -6 route add default via 2001:db8:1::1
ip -n $B route add default via 10.0.2.1; ip -n $B -6 route add default via 2001:db8:2::1
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
# VLAN 10 on A's link, answered by R
ip -n $A link add link eth0 name eth0.10 type vlan id 10; ip -n $A addr add 10.0.10.10/24 dev eth0.10; ip -n $A link set eth0.10 up
ip -n $R link add link ${S}ra name ra.10 type vlan id 10; ip -n $R addr add 10.0.10.1/24 dev ra.10; ip -n $R link set ra.10 up
sleep 1
ip netns exec $A tcpdump -i eth0 -U -s 0 -w "$(dirname "$0")/packet-golden.pcap" 2>/dev/null & TD=$!
sleep 1.5
ip netns exec $B socat TCP-LISTEN:5432,reuseaddr OPEN:/dev/null & SO=$!
ip netns exec $B socat -6 TCP-LISTEN:443,reuseaddr OPEN:/dev/null & SO6=$!
sleep 0.5
ip netns exec $A ping -c1 -W1 10.0.2.20 >/dev/null            # ARP + echo
ip netns exec $A ping -6 -c1 -W1 2001:db8:2::20 >/dev/null    # NS/NA + echo
ip netns exec $A sh -c 'echo hello | socat - TCP:10.0.2.20:5432' # TCP handshake, data, FIN
ip netns exec $A sh -c 'echo hello | socat - TCP6:[2001:db8:2::20]:443'
ip netns exec $A curl -s -m 1 http://10.0.2.20:81/ >/dev/null   # SYN, RST
ip netns exec $A sh -c 'echo x | socat - UDP:10.0.2.20:9'        # port unreachable quoting udp
ip netns exec $A sh -c 'echo x | socat - UDP6:[2001:db8:2::20]:9'
ip netns exec $A ping -c1 -W1 -t1 10.0.2.20 >/dev/null          # time exceeded
ip netns exec $A ping -6 -c1 -W1 -t1 2001:db8:2::20 >/dev/null
ip netns exec $A ping -c1 -W1 -M do -s 1400 10.0.2.20 >/dev/null # frag needed
ip netns exec $A ping -6 -c1 -W1 -s 1400 2001:db8:2::20 >/dev/null # packet too big
ip netns exec $A ping -c1 -W1 -M dont -s 3000 10.0.1.1 >/dev/null # v4 fragments
ip netns exec $A ping -6 -c1 -W1 -s 3000 2001:db8:1::1 >/dev/null  # v6 fragments
ip netns exec $A ping -c1 -W1 10.0.10.1 >/dev/null                  # VLAN: ARP + echo
sleep 1
kill $SO $SO6 2>/dev/null
