#!/usr/bin/env bash
# VPC Flow Logs (AWS-SEMANTICS 6, DESIGN contract 5) written by vpcfwd for
# real traffic through labs/basic.json, default version-2 format, 1 s
# aggregation: each record is checked field by field. An accepted TCP flow
# is logged on both ENIs in both directions; an SG-rejected and a
# NACL-rejected flow are REJECT on the receiver's ENI (where they were
# rejected) and never ACCEPT there; UDP, ICMP and IPv6 carry their own
# protocol numbers and addresses; a flow longer than the interval is split
# into one record per interval.
. "$(dirname "$0")/lib.sh"
need python3 ping
itest_init
t0=$(date +%s)
daemon_start "$(lab_prepare basic)"
for p in 8080 8081 8082; do tcp_server srv "$p"; done
udp_server srv 5353
servers_ready
cli=$(eni_id cli)
srv=$(eni_id srv)
check "ENI ids known" test -n "$cli" -a -n "$srv"

from() { # SPORT PROTO DADDR DPORT
	echo ping | in_ns cli timeout 6 socat -T1 - \
		"$2:$3:$4,sourceport=$1,reuseaddr${5:-}" >/dev/null 2>&1
}
from 40001 TCP 10.71.2.20 8080
from 40002 TCP 10.71.2.20 8082 ,connect-timeout=1
from 40003 TCP 10.71.2.20 8081 ,connect-timeout=1
from 40004 UDP 10.71.2.20 5353
in_ns cli ping -c 2 -W 1 10.71.2.20 >/dev/null 2>&1
from 40005 TCP6 '[2001:db8:71:2::20]' 8080
# A UDP flow of ~3.5 s, one datagram every 0.5 s: one record per 1 s interval.
in_ns cli python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.71.1.10", 40006))
for _ in range(8):
    s.sendto(b"x", ("10.71.2.20", 5353)); time.sleep(0.5)
' 2>/dev/null

check "request ACCEPT on the client's ENI" flowlog_has "$cli" 10.71.1.10 10.71.2.20 40001 8080 6 ACCEPT
check "request ACCEPT on the server's ENI" flowlog_has "$srv" 10.71.1.10 10.71.2.20 40001 8080 6 ACCEPT
check "reply ACCEPT on the server's ENI" flowlog_has "$srv" 10.71.2.20 10.71.1.10 8080 40001 6 ACCEPT
check "reply ACCEPT on the client's ENI" flowlog_has "$cli" 10.71.2.20 10.71.1.10 8080 40001 6 ACCEPT
check "SG-rejected request REJECT on the server's ENI" \
	flowlog_has "$srv" 10.71.1.10 10.71.2.20 40002 8082 6 REJECT
check "NACL-rejected request REJECT on the server's ENI" \
	flowlog_has "$srv" 10.71.1.10 10.71.2.20 40003 8081 6 REJECT
check_not "no ACCEPT on the server's ENI for the rejected flows" \
	grep -Eq "^2 [^ ]+ $srv 10\.71\.1\.10 10\.71\.2\.20 4000[23] 808[12] 6 .* ACCEPT OK$" "$FLOWLOG"
check "UDP request ACCEPT, protocol 17" flowlog_has "$srv" 10.71.1.10 10.71.2.20 40004 5353 17 ACCEPT
check "UDP reply ACCEPT" flowlog_has "$srv" 10.71.2.20 10.71.1.10 5353 40004 17 ACCEPT
check "ICMP echo ACCEPT, protocol 1" \
	flowlog_wait "^2 [^ ]+ $srv 10\.71\.1\.10 10\.71\.2\.20 [^ ]+ [^ ]+ 1 [0-9]+ [0-9]+ [0-9]+ [0-9]+ ACCEPT OK$"
check "IPv6 request ACCEPT with IPv6 addresses" \
	flowlog_has "$srv" 2001:db8:71:1::10 2001:db8:71:2::20 40005 8080 6 ACCEPT
records_of_long_flow() {
	sleep 2
	[ "$(grep -Ec "^2 [^ ]+ $srv 10\.71\.1\.10 10\.71\.2\.20 40006 5353 17 " "$FLOWLOG")" -ge 3 ]
}
check "a 3.5 s flow gives at least 3 records of the 1 s interval" records_of_long_flow

# Field by field, every record of the run.
now=$(date +%s)
python3 - "$FLOWLOG" "$t0" "$now" "$cli" "$srv" >"$TMP/fields.out" 2>&1 <<'PY'
import re, sys
path, t0, now, cli, srv = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
bad = []
n = 0
for line in open(path):
    line = line.rstrip("\n")
    if not line or line.startswith("version "):
        continue
    n += 1
    f = line.split(" ")
    def need(ok, what):
        if not ok:
            bad.append("%s: %s" % (what, line))
    need(len(f) == 14, "14 fields")
    if len(f) != 14:
        continue
    ver, acct, eni, src, dst, sp, dp, proto, pk, by, start, end, action, status = f
    need(ver == "2", "version 2")
    need(acct == "-" or re.fullmatch(r"\d{12}", acct), "account-id")
    need(eni in (cli, srv) or re.fullmatch(r"eni-[0-9a-f]+", eni), "interface-id")
    need(re.fullmatch(r"[0-9a-f.:]+", src) and re.fullmatch(r"[0-9a-f.:]+", dst), "addresses")
    if proto in ("1", "58"):
        need(sp in ("-", "0") or sp.isdigit(), "ICMP ports")
    else:
        need(sp.isdigit() and dp.isdigit() and int(sp) < 65536 and int(dp) < 65536, "ports")
    need(proto in ("1", "6", "17", "58"), "protocol")
    need(pk.isdigit() and int(pk) >= 1, "packets")
    need(by.isdigit() and pk.isdigit() and int(by) >= 20 * int(pk), "bytes >= 20 per packet")
    need(start.isdigit() and end.isdigit() and int(start) <= int(end), "start <= end")
    need(start.isdigit() and t0 - 1 <= int(start) <= now + 2, "start within the run")
    need(end.isdigit() and start.isdigit() and int(end) - int(start) <= 2, "end - start within the 1 s interval")
    need(action in ("ACCEPT", "REJECT"), "action")
    need(status == "OK", "log-status OK for a record with traffic")
print("records", n)
for b in bad[:20]:
    print("BAD", b)
sys.exit(1 if bad or n == 0 else 0)
PY
rc=$?
say "$(head -n 1 "$TMP/fields.out")"
grep BAD "$TMP/fields.out" | head -n 5
check "every record is well formed (14 fields, types, times)" test "$rc" -eq 0

daemon_stop TERM
check "flow log ends with complete lines after SIGTERM (flushed on exit)" \
	bash -c "[ -s '$FLOWLOG' ] && [ -z \"\$(tail -c 1 '$FLOWLOG')\" ]"

itest_finish
