/*
 * Conntrack keys and the per-protocol state of UDP, ICMP/ICMPv6 and every
 * other protocol (TCP has its own file). What makes two packets one flow is
 * decided here, from AWS-SEMANTICS §4: TCP/UDP by 5-tuple, ICMP echo by
 * addresses + identifier with the reply answering the request, anything
 * else by the address pair and protocol number. Not here: the table, expiry.
 */
#include <errno.h>
#include <string.h>

#include "conntrack-private.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO 8
#define ICMP6_ECHO 128
#define ICMP6_ECHO_REPLY 129

/* port[1] of an ICMP key: which slot asked, and whether it is an echo. */
#define KEY_ICMP_ASKER_SHIFT 8
#define KEY_ICMP_NOT_ECHO 0x200

bool ct_icmp_is_error(uint8_t proto, uint8_t type)
{
	if (proto == PROTO_ICMP)
		return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
	if (proto == PROTO_ICMPV6)
		return type >= 1 && type <= 4;
	return false;
}

static bool is_icmp(uint8_t proto, uint8_t family)
{
	return (proto == PROTO_ICMP && family == IP_V4) ||
	       (proto == PROTO_ICMPV6 && family == IP_V6);
}

/* -1, 0, 1 as (a, pa) orders before, equal to, after (b, pb). Any total
 * order does (it only has to be the same both ways), so the addresses are
 * compared as native words rather than bytes. */
static int endpoint_cmp(const struct ip_addr *a, uint16_t pa, const struct ip_addr *b, uint16_t pb)
{
	uint64_t x[2], y[2];

	memcpy(x, a->b, 16);
	memcpy(y, b->b, 16);
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	if (x[1] != y[1])
		return x[1] < y[1] ? -1 : 1;
	return pa < pb ? -1 : pa > pb;
}

/* Whether an ICMP type is an echo request (1), an echo reply (0), or
 * neither (-1). */
static int icmp_echo_kind(uint8_t family, uint8_t type)
{
	if (family == IP_V4)
		return type == ICMP_ECHO ? 1 : type == ICMP_ECHO_REPLY ? 0 : -1;
	return type == ICMP6_ECHO ? 1 : type == ICMP6_ECHO_REPLY ? 0 : -1;
}

static void icmp_ports(const struct ct_tuple *t, uint8_t family, int src_side, uint16_t port[2])
{
	int echo = icmp_echo_kind(family, t->icmp_type);

	if (echo >= 0) {
		/* The reply travels from the asked back to the asker. */
		int asker = echo ? src_side : !src_side;

		port[0] = t->icmp_id;
		port[1] = (uint16_t)((asker << KEY_ICMP_ASKER_SHIFT) |
				     (family == IP_V4 ? ICMP_ECHO : ICMP6_ECHO));
		return;
	}
	/* Other ICMP types expect no answer (DESIGN.md contract 4): the
	 * sender is the asker, so the same type back is another flow. */
	port[0] = t->icmp_code;
	port[1] = (uint16_t)(KEY_ICMP_NOT_ECHO | (src_side << KEY_ICMP_ASKER_SHIFT) | t->icmp_type);
}

int ct_key_build(uint32_t zone, const struct ct_tuple *t, struct ct_key *k, int *src_side)
{
	uint8_t family = t->src.family;
	bool ports = t->proto == PROTO_TCP || t->proto == PROTO_UDP;
	uint16_t sp = ports ? t->sport : 0, dp = ports ? t->dport : 0;
	uint16_t port[2];
	int side;

	if ((family != IP_V4 && family != IP_V6) || t->dst.family != family || zone > CT_ZONE_MAX)
		return -EINVAL;
	if (is_icmp(t->proto, family) && ct_icmp_is_error(t->proto, t->icmp_type))
		return -EINVAL;
	side = endpoint_cmp(&t->src, sp, &t->dst, dp) > 0;
	memcpy(k->addr[side], t->src.b, 16);
	memcpy(k->addr[!side], t->dst.b, 16);
	if (is_icmp(t->proto, family)) {
		icmp_ports(t, family, side, port);
	} else {
		port[side] = sp;
		port[!side] = dp;
	}
	ct_key_set_meta(k, port[0], port[1], (uint16_t)zone, t->proto, family);
	*src_side = side;
	return 0;
}

void ct_key_tuple(const struct ct_key *k, int orig_side, struct ct_tuple *out)
{
	uint8_t family = ct_key_family(k);
	uint16_t port0 = ct_key_port(k, 0), port1 = ct_key_port(k, 1);

	memset(out, 0, sizeof(*out));
	out->src.family = out->dst.family = family;
	memcpy(out->src.b, k->addr[orig_side], 16);
	memcpy(out->dst.b, k->addr[!orig_side], 16);
	out->proto = ct_key_proto(k);
	if (is_icmp(out->proto, family)) {
		int asker = (port1 >> KEY_ICMP_ASKER_SHIFT) & 1;

		if (port1 & KEY_ICMP_NOT_ECHO) {
			out->icmp_type = (uint8_t)port1;
			out->icmp_code = (uint8_t)port0;
			return;
		}
		out->icmp_id = port0;
		if (asker == orig_side)
			out->icmp_type = family == IP_V4 ? ICMP_ECHO : ICMP6_ECHO;
		else
			out->icmp_type = family == IP_V4 ? ICMP_ECHO_REPLY : ICMP6_ECHO_REPLY;
		return;
	}
	out->sport = ct_key_port(k, orig_side);
	out->dport = ct_key_port(k, !orig_side);
}

static bool never_reopens(const struct ct_conn *c, const struct ct_tuple *t)
{
	return false;
}

/* UDP: a stream once more than one request-response exchange was seen
 * (AWS-SEMANTICS §4); an exchange ends at the first reply after a request. */
static void udp_new(struct ct_conn *c, const struct ct_tuple *t)
{
	c->cls = CT_CLASS_UDP;
	c->exchanges = 0;
}

static void udp_update(struct ct_conn *c, enum ct_dir dir, const struct ct_tuple *t)
{
	bool was_reply = c->flags & CT_F_LAST_REPLY;

	if (dir == CT_DIR_REPLY && !was_reply && c->exchanges < UINT8_MAX)
		c->exchanges++;
	if (dir == CT_DIR_REPLY)
		c->flags |= CT_F_LAST_REPLY;
	else
		c->flags &= (uint8_t)~CT_F_LAST_REPLY;
	if (c->exchanges > 1)
		c->cls = CT_CLASS_UDP_STREAM;
}

static void icmp_new(struct ct_conn *c, const struct ct_tuple *t)
{
	c->cls = CT_CLASS_ICMP;
}

static void other_new(struct ct_conn *c, const struct ct_tuple *t)
{
	c->cls = CT_CLASS_OTHER;
}

static void no_update(struct ct_conn *c, enum ct_dir dir, const struct ct_tuple *t)
{
}

static const struct ct_proto ct_proto_udp = {
    .conn_new = udp_new,
    .conn_update = udp_update,
    .reopens = never_reopens,
};

static const struct ct_proto ct_proto_icmp = {
    .conn_new = icmp_new,
    .conn_update = no_update,
    .reopens = never_reopens,
};

static const struct ct_proto ct_proto_other = {
    .conn_new = other_new,
    .conn_update = no_update,
    .reopens = never_reopens,
};

const struct ct_proto *ct_proto_for(uint8_t proto, uint8_t family)
{
	if (proto == PROTO_TCP)
		return &ct_proto_tcp;
	if (proto == PROTO_UDP)
		return &ct_proto_udp;
	if (is_icmp(proto, family))
		return &ct_proto_icmp;
	return &ct_proto_other;
}
