/*
 * What one SG rule or NACL entry matches of a packet's protocol fields,
 * as a set of keys: the one predicate both the per-packet evaluation
 * (sg.c, nacl.c: is this packet's key in the set?) and `diff`'s interval
 * maps (rules/reach: the set as intervals) are built on, so the two can
 * never read a rule differently.
 *
 * The key of a packet within its protocol: the destination port (TCP,
 * UDP), type << 8 | code (ICMP, ICMPv6), 0 for any other protocol. Asked
 * for protocol PROTO_ALL instead, the keys are the protocol numbers the
 * rule matches (diff's class of "every other protocol").
 *
 * Not for: the peer half of a rule (CIDR, prefix list, group): sg.c,
 * nacl.c.
 */
#ifndef VPCFW_KEYSET_H
#define VPCFW_KEYSET_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "model.h"

#define KEYSET_ICMP(type, code) (((uint32_t)(type) << 8) | (uint32_t)(code))

/* The keys lo..hi whose low byte, under mask (0 or 0xff), is val: ICMP's
 * "any type, code c" is every 256th key. */
struct keyset {
	uint32_t lo, hi, mask, val;
};

static inline bool keyset_has(const struct keyset *k, uint32_t key)
{
	return k->lo <= key && key <= k->hi && (key & k->mask) == k->val;
}

/* The key of a packet within its protocol. */
static inline uint32_t keyset_flow_key(const struct flow *f)
{
	if (f->proto == PROTO_TCP || f->proto == PROTO_UDP)
		return f->dport;
	if (f->proto == PROTO_ICMP || f->proto == PROTO_ICMPV6)
		return KEYSET_ICMP(f->icmp_type, f->icmp_code);
	return 0;
}

static inline void keyset_range(struct keyset *k, uint32_t lo, uint32_t hi)
{
	*k = (struct keyset){lo, hi, 0, 0};
}

/* ICMP type/code with -1 = any (AWS-SEMANTICS §2, §3); a value above 255
 * matches nothing. */
static inline bool keyset_icmp(int32_t type, int32_t code, struct keyset *k)
{
	if (type > 255 || code > 255)
		return false;
	if (type < 0 && code < 0)
		keyset_range(k, 0, 0xffff);
	else if (code < 0)
		keyset_range(k, KEYSET_ICMP(type, 0), KEYSET_ICMP(type, 255));
	else if (type >= 0)
		keyset_range(k, KEYSET_ICMP(type, code), KEYSET_ICMP(type, code));
	else
		*k = (struct keyset){0, 0xffff, 0xff, (uint32_t)code};
	return true;
}

/* The keys a rule of protocol rule_proto matches in protocol proto (see
 * the top; PROTO_ALL: protocol numbers). port_lo..port_hi: its TCP/UDP
 * destination ports, open ends already resolved; type/code: its ICMP
 * fields. false when it matches none. */
static inline bool keyset_of_rule(int rule_proto, int32_t port_lo, int32_t port_hi, int32_t type,
				  int32_t code, int proto, struct keyset *k)
{
	if (proto == PROTO_ALL) {
		if (rule_proto == PROTO_ALL)
			keyset_range(k, 0, 255);
		else
			keyset_range(k, (uint32_t)rule_proto, (uint32_t)rule_proto);
		return rule_proto == PROTO_ALL || (rule_proto >= 0 && rule_proto <= 255);
	}
	if (rule_proto == PROTO_ALL) {
		keyset_range(k, 0, UINT32_MAX);
		return true;
	}
	if (rule_proto != proto)
		return false;
	if (proto == PROTO_TCP || proto == PROTO_UDP) {
		keyset_range(k, (uint32_t)port_lo, (uint32_t)port_hi);
		return port_lo <= port_hi;
	}
	if (proto == PROTO_ICMP || proto == PROTO_ICMPV6)
		return keyset_icmp(type, code, k);
	keyset_range(k, 0, UINT32_MAX);
	return true;
}

#endif
