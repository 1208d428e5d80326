/*
 * One packet as the rule engine sees it: addresses, protocol, ports or
 * ICMP type/code. The data path fills it from a parsed packet
 * (rules/packet), `vpcfw check` from its arguments; NACL, SG and pipeline
 * evaluation take nothing else. Not a conntrack key (rules/conntrack has
 * its own, normalised both ways) and not a parsed packet.
 */
#ifndef VPCFW_FLOW_H
#define VPCFW_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct flow {
	struct ip_addr src, dst;      /* same family */
	uint8_t proto;		      /* IP protocol number (PROTO_TCP, ...) */
	uint16_t sport, dport;	      /* TCP/UDP; 0 for other protocols */
	uint8_t icmp_type, icmp_code; /* ICMP/ICMPv6; 0 for other protocols */
};

/* Whether NACL/SG port ranges apply (TCP and UDP only, AWS-SEMANTICS §2/§3). */
bool flow_has_ports(const struct flow *f);
/* Whether ICMP type/code apply (ICMP for IPv4, ICMPv6 for IPv6). */
bool flow_is_icmp(const struct flow *f);
/* The same packet the other way: addresses and ports swapped, ICMP fields
 * copied unchanged (an echo reply's type is the caller's business). */
void flow_reverse(const struct flow *f, struct flow *out);

/* "tcp", "udp", "icmp", "icmpv6", "all traffic" (PROTO_ALL), else "proto N".
 * Returns buf. */
const char *flow_proto_name(int proto, char *buf, size_t len);

#endif
