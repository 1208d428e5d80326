#!/usr/bin/env bash
# 802.1Q-tagged frames are dropped and counted, as a VPC does (issue 14,
# item 5): cli sends srv the same UDP datagram (udp/5353, which srv's
# group and both NACLs allow) three ways, from a raw socket: untagged, with
# an 802.1Q tag, and with an 802.1ad tag. Only the untagged one reaches
# srv; the tagged ones are counted as drops.vlan-tagged, not filtered on
# the inner packet and delivered still tagged.
. "$(dirname "$0")/lib.sh"
need python3
itest_init
daemon_start "$(lab_prepare basic)"
check "cli pings srv (its gateway's MAC is learnt)" in_ns cli ping -c 1 -W 2 10.71.2.20

cat >"$TMP/listen.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("eth0", 0))
s.settimeout(0.2)
end = time.time() + float(sys.argv[1])
seen = set()
open(sys.argv[2], "w").close()  # ready
while time.time() < end:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    for tag in (b"vlan-test-untagged", b"vlan-test-8021q", b"vlan-test-8021ad"):
        if tag in f:
            seen.add(tag.decode())
print(" ".join(sorted(seen)) or "nothing")
PY
cat >"$TMP/send.py" <<'PY'
import socket, struct, subprocess, sys
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
gw = subprocess.run(["ip", "neigh", "show", "10.71.1.1"], capture_output=True, text=True).stdout.split()
dst = bytes.fromhex(gw[gw.index("lladdr") + 1].replace(":", ""))
src = bytes.fromhex(open("/sys/class/net/eth0/address").read().strip().replace(":", ""))
def frame(tag, marker):
    payload = marker.encode()
    udp = struct.pack("!HHHH", 40000, 5353, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton("10.71.1.10"), socket.inet_aton("10.71.2.20"))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst + src + tag + b"\x08\x00" + ip + udp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for _ in range(3):
    s.send(frame(b"", "vlan-test-untagged"))
    s.send(frame(b"\x81\x00\x00\x64", "vlan-test-8021q"))
    s.send(frame(b"\x88\xa8\x00\x64", "vlan-test-8021ad"))
PY
ip netns exec "$(ns srv)" python3 "$TMP/listen.py" 4 "$TMP/listening" >"$TMP/seen" 2>&1 &
listener=$!
ITEST_PIDS+=("$listener")
for _ in $(seq 50); do [ -e "$TMP/listening" ] && break; sleep 0.1; done
check "cli sends the three frames" in_ns cli python3 "$TMP/send.py"
wait "$listener"
say "srv saw: $(cat "$TMP/seen")"
check "the untagged datagram reaches srv" grep -q 'vlan-test-untagged' "$TMP/seen"
check_not "the 802.1Q-tagged one does not" grep -q 'vlan-test-8021q' "$TMP/seen"
check_not "the 802.1ad-tagged one does not" grep -q 'vlan-test-8021ad' "$TMP/seen"
check "the daemon reports its counters" daemon_stats
check "the 6 tagged frames are counted as drops.vlan-tagged" \
	test "$(stat "d['drops'].get('vlan-tagged', 0)")" -eq 6
itest_finish
