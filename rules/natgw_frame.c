/*
 * The port half of a NAT gateway's translation on a frame (natgw.h): the
 * address half is pkt_rewrite_ipv4's. A TCP/UDP port is covered by the
 * transport checksum (not by the pseudo-header, so a CHECKSUM_PARTIAL sum
 * stays as it is); an ICMP echo identifier by the ICMP checksum.
 */
#include "natgw.h"

#include <errno.h>

#include "checksum.h"
#include "model.h"
#include "packet.h"

static uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void wr16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* A 16-bit field and the checksum at check (NULL: none to fix). */
static void put_field(uint8_t *field, uint16_t v, uint8_t *check, bool udp)
{
	if (check) {
		uint16_t c = rd16(check);
		if (!(udp && c == 0)) { /* UDP over IPv4 without a checksum stays so */
			c = csum_update16(c, rd16(field), v);
			wr16(check, udp && c == 0 ? 0xffff : c);
		}
	}
	wr16(field, v);
}

/* A 16-bit field of the packet an ICMP error quotes, its own checksum at
 * check (NULL: not quoted) and the ICMP checksum, which covers both. */
static void put_quoted(uint8_t *field, uint16_t v, uint8_t *check, bool udp, uint8_t *icmp_check)
{
	uint16_t old_field = rd16(field), old_check = check ? rd16(check) : 0;
	put_field(field, v, check, udp);
	uint16_t c = csum_update16(rd16(icmp_check), old_field, v);
	if (check)
		c = csum_update16(c, old_check, rd16(check));
	wr16(icmp_check, c);
}

/* The quoted packet's port or echo identifier (which as natgw.h says). */
static int rewrite_quoted(uint8_t *frame, struct pkt *p, int which, uint16_t port)
{
	struct pkt_inner *q = &p->inner;
	size_t end = (size_t)p->l3_off + p->l3_len, l4 = q->l4_off;
	uint8_t *icmp_check = frame + p->l4_off + 2;
	if (q->src.family != IP_V4 || !l4 || l4 + 8 > end)
		return -EINVAL;
	if (q->has_ports && (q->proto == PROTO_TCP || q->proto == PROTO_UDP)) {
		bool udp = q->proto == PROTO_UDP;
		size_t at = l4 + (udp ? 6u : 16u);
		uint8_t *check = at + 2 <= end ? frame + at : NULL;
		put_quoted(frame + l4 + (which ? 0 : 2), port, check, udp, icmp_check);
		if (which)
			q->sport = port;
		else
			q->dport = port;
		return 0;
	}
	if (q->has_icmp && q->proto == PROTO_ICMP) {
		put_quoted(frame + l4 + 4, port, frame + l4 + 2, false, icmp_check);
		q->icmp_id = port;
		return 0;
	}
	return -EINVAL;
}

int natgw_rewrite_port(uint8_t *frame, size_t len, struct pkt *p, int which, uint16_t port,
		       bool partial)
{
	if (!frame || p->kind != PKT_IPV4 || !p->l4_off || len < p->frame_len || p->later_fragment)
		return -EINVAL;
	uint8_t *l4 = frame + p->l4_off;
	if (p->has_ports && (p->proto == PROTO_TCP || p->proto == PROTO_UDP)) {
		bool udp = p->proto == PROTO_UDP;
		uint8_t *check = partial ? NULL : l4 + (udp ? 6 : 16);
		put_field(l4 + (which ? 2 : 0), port, check, udp);
		if (which)
			p->dport = port;
		else
			p->sport = port;
		return 0;
	}
	if (p->has_icmp && p->proto == PROTO_ICMP && p->icmp_error)
		return rewrite_quoted(frame, p, which, port);
	if (p->has_icmp && p->proto == PROTO_ICMP && !p->icmp_error) {
		put_field(l4 + 4, port, l4 + 2, false);
		p->icmp_id = port;
		return 0;
	}
	return -EINVAL;
}
