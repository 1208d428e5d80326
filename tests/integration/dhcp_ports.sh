#!/usr/bin/env bash
# UDP 67/68 between two instances (labs/dhcp.json) is ordinary traffic for
# the NACLs (AWS-SEMANTICS 9): only an instance's exchange with the VPC's
# own DHCP service is exempt. The server subnet's NACL lets in UDP 5000
# only, so a "DHCP server" on another instance is out of reach, as any
# other UDP port would be; `vpcfw check` says the same.
. "$(dirname "$0")/lib.sh"
itest_init
lab=$(lab_prepare dhcp)
daemon_start "$lab"
for p in 5000 67 68; do udp_server srv "$p"; done
servers_ready

check "udp 10.82.2.20:5000 answered (NACL rule 100)" udp_reaches cli 10.82.2.20 5000 hello-from-srv
check "udp 10.82.2.20:67 dropped by the server subnet's NACL" udp_blocked cli 10.82.2.20 67
check "udp 10.82.2.20:68 dropped by the server subnet's NACL" udp_blocked cli 10.82.2.20 68
check "vpcfw check agrees: udp 67 rejected at nacl-ingress" \
	bash -c "'$VPCFW' check '$lab' --from 10.82.1.10 --to 10.82.2.20 --proto udp --port 67 |
		grep -Eq '^  nacl-ingress +REJECT'"

itest_finish
