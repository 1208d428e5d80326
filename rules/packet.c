/*
 * Ethernet frame parsing into struct pkt, the VPC router's ARP/ND answers
 * and the 1:1 NAT address rewrite. Every read goes through an explicit
 * "is there room" test against the end of the region it belongs to: the
 * captured frame for headers, the IP packet's own end (total length,
 * payload length) for everything above L3, and the quoted bytes for the
 * packet inside an ICMP error. Offsets are size_t until stored.
 */
#include "packet.h"

#include <errno.h>
#include <string.h>

#include "checksum.h"
#include "enum_name.h"
#include "model.h" /* PROTO_* */

#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define ARP_LEN 28
#define TCP_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8
#define ND_NS_LEN 24 /* type .. target */
#define ND_OPT_SLLA 1
#define ND_OPT_TLLA 2

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void addr_v4(struct ip_addr *a, const uint8_t *p)
{
	memset(a, 0, sizeof(*a));
	a->family = IP_V4;
	memcpy(a->b, p, 4);
}

static void addr_v6(struct ip_addr *a, const uint8_t *p)
{
	a->family = IP_V6;
	memcpy(a->b, p, 16);
}

static const char *const malformed_names[PKT_MAL__COUNT] = {
    [PKT_MAL_NONE] = "ok",
    [PKT_MAL_ETH_TRUNC] = "ethernet-truncated",
    [PKT_MAL_VLAN_TRUNC] = "vlan-truncated",
    [PKT_MAL_ARP_TRUNC] = "arp-truncated",
    [PKT_MAL_ARP_FORMAT] = "arp-bad-format",
    [PKT_MAL_IP_TRUNC] = "ip-truncated",
    [PKT_MAL_IP_VERSION] = "ip-bad-version",
    [PKT_MAL_IPV4_IHL] = "ipv4-bad-ihl",
    [PKT_MAL_IPV4_CSUM] = "ipv4-bad-checksum",
    [PKT_MAL_IP_TOTLEN] = "ip-bad-total-length",
    [PKT_MAL_IP_TOTLEN_CAPLEN] = "ip-length-exceeds-frame",
    [PKT_MAL_FRAG] = "ip-bad-fragment",
    [PKT_MAL_IPV6_EXT_TRUNC] = "ipv6-ext-header-truncated",
    [PKT_MAL_IPV6_EXT_CHAIN] = "ipv6-ext-header-chain-too-long",
    [PKT_MAL_IPV6_EXT_ORDER] = "ipv6-hop-by-hop-not-first",
    [PKT_MAL_TCP_TRUNC] = "tcp-truncated",
    [PKT_MAL_TCP_DOFF] = "tcp-bad-data-offset",
    [PKT_MAL_UDP_TRUNC] = "udp-truncated",
    [PKT_MAL_UDP_LEN] = "udp-bad-length",
    [PKT_MAL_ICMP_TRUNC] = "icmp-truncated",
    [PKT_MAL_ICMP_INNER] = "icmp-bad-quoted-packet",
    [PKT_MAL_ND_OPTION] = "nd-bad-option",
};

const char *pkt_malformed_name(int reason)
{
	if (reason < 0)
		reason = -reason;
	return ENUM_NAME(malformed_names, reason, "unknown");
}

bool pkt_icmp_is_error(uint8_t family, uint8_t type)
{
	if (family == IP_V6)
		return type >= PKT_ICMP6_DEST_UNREACH && type <= PKT_ICMP6_PARAM_PROBLEM;
	/* 4 source quench and 5 redirect quote the packet too (as Linux
	 * conntrack's icmp_error treats them). */
	return type == PKT_ICMP_DEST_UNREACH || type == 4 || type == 5 ||
	       type == PKT_ICMP_TIME_EXCEEDED || type == PKT_ICMP_PARAM_PROBLEM;
}

/* ICMP query messages whose identifier pairs request and reply: echo,
 * timestamp, information, address mask (as Linux conntrack tracks them). */
static bool icmp_has_id(uint8_t family, uint8_t type)
{
	if (family == IP_V6)
		return type == PKT_ICMP6_ECHO || type == PKT_ICMP6_ECHO_REPLY;
	return type == PKT_ICMP_ECHO || type == PKT_ICMP_ECHO_REPLY || (type >= 13 && type <= 18);
}

static int parse_arp(const uint8_t *f, size_t len, size_t off, struct pkt *p)
{
	const uint8_t *a = f + off;

	if (len - off < ARP_LEN)
		return -PKT_MAL_ARP_TRUNC;
	if (rd16(a) != 1 || rd16(a + 2) != PKT_ETHERTYPE_IPV4 || a[4] != PKT_ETH_ALEN || a[5] != 4)
		return -PKT_MAL_ARP_FORMAT;
	p->kind = PKT_ARP;
	p->l3_off = (uint16_t)off;
	p->l3_len = ARP_LEN;
	p->arp.op = rd16(a + 6);
	memcpy(p->arp.sha, a + 8, PKT_ETH_ALEN);
	addr_v4(&p->arp.spa, a + 14);
	memcpy(p->arp.tha, a + 18, PKT_ETH_ALEN);
	addr_v4(&p->arp.tpa, a + 24);
	return 0;
}

/*
 * The IPv6 extension header walk, shared by the packet and the packet
 * quoted in an ICMPv6 error. Stops at the first header that is not an
 * extension header (the upper layer, ESP, no next header) or after a
 * fragment header with a non-zero offset, where the upper layer header
 * lives in another fragment.
 */
struct v6_walk {
	uint8_t proto;
	size_t l4_off; /* 0 for a later fragment */
	bool seen_fragment_header;
	bool is_fragment;
	bool later_fragment;
	bool frag_more;
	uint16_t frag_offset;
	uint32_t frag_id;
};

static int v6_ext_len(const uint8_t *h, uint8_t nh, size_t room, size_t *hlen)
{
	if (room < 8)
		return -PKT_MAL_IPV6_EXT_TRUNC;
	if (nh == PKT_IPPROTO_FRAGMENT)
		*hlen = 8;
	else if (nh == PKT_IPPROTO_AH)
		*hlen = ((size_t)h[1] + 2) * 4; /* RFC 4302: 32-bit words minus 2 */
	else
		*hlen = ((size_t)h[1] + 1) * 8;
	if (*hlen > room)
		return -PKT_MAL_IPV6_EXT_TRUNC;
	return 0;
}

static bool v6_is_ext(uint8_t nh)
{
	return nh == PKT_IPPROTO_HOPOPTS || nh == PKT_IPPROTO_ROUTING ||
	       nh == PKT_IPPROTO_FRAGMENT || nh == PKT_IPPROTO_DSTOPTS || nh == PKT_IPPROTO_AH;
}

/* RFC 8200 4.5: non-last fragments are multiples of 8 bytes, and no
 * fragment reaches past the 65535-byte limit of the original packet. */
static int v6_fragment(const uint8_t *h, size_t frag_payload, struct v6_walk *w)
{
	if (w->seen_fragment_header)
		return -PKT_MAL_FRAG; /* RFC 8200 4.1: at most once */
	w->seen_fragment_header = true;
	w->frag_offset = rd16(h + 2) & 0xfff8;
	w->frag_more = h[3] & 1;
	w->frag_id = rd32(h + 4);
	w->is_fragment = w->frag_offset || w->frag_more;
	w->later_fragment = w->frag_offset != 0;
	if (w->frag_more && frag_payload % 8)
		return -PKT_MAL_FRAG;
	if ((size_t)w->frag_offset + frag_payload > 65535)
		return -PKT_MAL_FRAG;
	return 0;
}

static int v6_walk(const uint8_t *f, size_t off, size_t end, uint8_t nh, struct v6_walk *w)
{
	memset(w, 0, sizeof(*w));
	for (unsigned n = 0; v6_is_ext(nh); n++) {
		size_t hlen;
		int r;

		if (n == PKT_IPV6_MAX_EXT)
			return -PKT_MAL_IPV6_EXT_CHAIN;
		if (nh == PKT_IPPROTO_HOPOPTS && n != 0)
			return -PKT_MAL_IPV6_EXT_ORDER;
		r = v6_ext_len(f + off, nh, end - off, &hlen);
		if (r < 0)
			return r;
		if (nh == PKT_IPPROTO_FRAGMENT) {
			r = v6_fragment(f + off, end - off - hlen, w);
			if (r < 0)
				return r;
		}
		nh = f[off];
		off += hlen;
		if (w->later_fragment) {
			w->proto = nh;
			return 0;
		}
	}
	w->proto = nh;
	w->l4_off = off;
	return 0;
}

/* TCP and UDP begin alike: source port, destination port. */
static void read_ports(struct pkt *p, const uint8_t *l4)
{
	p->has_ports = true;
	p->sport = rd16(l4);
	p->dport = rd16(l4 + 2);
}

/* What the upper layer carries after its header, at off. */
static void set_payload(struct pkt *p, size_t off, size_t len)
{
	p->payload_off = (uint16_t)off;
	p->payload_len = (uint32_t)len;
}

static int parse_tcp(const uint8_t *f, size_t off, size_t end, struct pkt *p)
{
	const uint8_t *t = f + off;
	size_t doff;

	if (end - off < TCP_HLEN)
		return -PKT_MAL_TCP_TRUNC;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < TCP_HLEN)
		return -PKT_MAL_TCP_DOFF;
	if (doff > end - off)
		return -PKT_MAL_TCP_TRUNC;
	read_ports(p, t);
	p->tcp_seq = rd32(t + 4);
	p->tcp_ack = rd32(t + 8);
	p->tcp_flags = t[13];
	p->tcp_window = rd16(t + 14);
	set_payload(p, off + doff, end - off - doff);
	return 0;
}

static int parse_udp(const uint8_t *f, size_t off, size_t end, struct pkt *p)
{
	const uint8_t *u = f + off;
	size_t ulen;

	if (end - off < UDP_HLEN)
		return -PKT_MAL_UDP_TRUNC;
	ulen = rd16(u + 4);
	/* A first fragment carries only part of the datagram ulen counts. */
	if (ulen < UDP_HLEN || (!p->is_fragment && ulen > end - off))
		return -PKT_MAL_UDP_LEN;
	read_ports(p, u);
	set_payload(p, off + UDP_HLEN, (p->is_fragment ? end - off : ulen) - UDP_HLEN);
	return 0;
}

/* The upper layer of a quoted packet: only the first 8 bytes are promised
 * (RFC 792, RFC 4443 quote at least that much), enough for the ports or
 * the ICMP type, code and identifier. */
static int parse_inner_l4(const uint8_t *f, size_t off, size_t end, struct pkt_inner *in)
{
	const uint8_t *h = f + off;

	if (in->proto != PROTO_TCP && in->proto != PROTO_UDP && in->proto != PROTO_ICMP &&
	    in->proto != PROTO_ICMPV6)
		return 0;
	if (end - off < 8)
		return -PKT_MAL_ICMP_INNER;
	in->l4_off = (uint16_t)off;
	if (in->proto == PROTO_TCP || in->proto == PROTO_UDP) {
		in->has_ports = true;
		in->sport = rd16(h);
		in->dport = rd16(h + 2);
		return 0;
	}
	uint8_t family = in->src.family;
	if ((in->proto == PROTO_ICMP) != (family == IP_V4))
		return 0; /* ICMP inside IPv6 or ICMPv6 inside IPv4: opaque */
	in->has_icmp = true;
	in->icmp_type = h[0];
	in->icmp_code = h[1];
	if (icmp_has_id(family, h[0]))
		in->icmp_id = rd16(h + 4);
	return 0;
}

/* The quoted IPv4 header: its total length describes the original packet,
 * not the quote, so only the header itself and the 8 bytes after it are
 * checked against the quote's end. */
static int parse_inner_v4(const uint8_t *f, size_t off, size_t end, struct pkt_inner *in)
{
	const uint8_t *ip = f + off;
	size_t ihl;

	if (end - off < IPV4_HLEN || ip[0] >> 4 != 4)
		return -PKT_MAL_ICMP_INNER;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	if (ihl < IPV4_HLEN || ihl > end - off)
		return -PKT_MAL_ICMP_INNER;
	in->l3_off = (uint16_t)off;
	in->proto = ip[9];
	addr_v4(&in->src, ip + 12);
	addr_v4(&in->dst, ip + 16);
	if (rd16(ip + 6) & 0x1fff)
		return 0; /* a later fragment: its L4 header is elsewhere */
	return parse_inner_l4(f, off + ihl, end, in);
}

static int parse_inner_v6(const uint8_t *f, size_t off, size_t end, struct pkt_inner *in)
{
	const uint8_t *ip = f + off;
	struct v6_walk w;

	if (end - off < IPV6_HLEN || ip[0] >> 4 != 6)
		return -PKT_MAL_ICMP_INNER;
	in->l3_off = (uint16_t)off;
	addr_v6(&in->src, ip + 8);
	addr_v6(&in->dst, ip + 24);
	if (v6_walk(f, off + IPV6_HLEN, end, ip[6], &w) < 0)
		return -PKT_MAL_ICMP_INNER;
	in->proto = w.proto;
	if (w.later_fragment)
		return 0;
	return parse_inner_l4(f, w.l4_off, end, in);
}

/* RFC 4861 4.6: options are (type, length in units of 8 bytes); a zero
 * length must be refused, or a receiver would loop. */
static int parse_nd_options(const uint8_t *f, size_t off, size_t end, uint8_t want, struct pkt *p)
{
	while (off < end) {
		size_t olen;

		if (end - off < 2)
			return -PKT_MAL_ND_OPTION;
		olen = (size_t)f[off + 1] * 8;
		if (olen == 0 || olen > end - off)
			return -PKT_MAL_ND_OPTION;
		if (f[off] == want && olen >= 2 + PKT_ETH_ALEN) {
			p->has_nd_lladdr = true;
			memcpy(p->nd_lladdr, f + off + 2, PKT_ETH_ALEN);
		}
		off += olen;
	}
	return 0;
}

static int parse_nd(const uint8_t *f, size_t off, size_t end, struct pkt *p)
{
	const uint8_t *h = f + off;

	switch (p->icmp_type) {
	case PKT_ICMP6_ROUTER_SOLICIT:
		return parse_nd_options(f, off + 8, end, ND_OPT_SLLA, p);
	case PKT_ICMP6_NEIGH_SOLICIT:
	case PKT_ICMP6_NEIGH_ADVERT:
		if (end - off < ND_NS_LEN)
			return -PKT_MAL_ICMP_TRUNC;
		addr_v6(&p->nd_target, h + 8);
		if (p->icmp_type == PKT_ICMP6_NEIGH_ADVERT) {
			p->nd_flags = h[4] & 0xe0;
			return parse_nd_options(f, off + ND_NS_LEN, end, ND_OPT_TLLA, p);
		}
		return parse_nd_options(f, off + ND_NS_LEN, end, ND_OPT_SLLA, p);
	default:
		return 0;
	}
}

static int parse_icmp(const uint8_t *f, size_t off, size_t end, struct pkt *p)
{
	const uint8_t *h = f + off;
	uint8_t family = p->src.family;

	if (end - off < ICMP_HLEN)
		return -PKT_MAL_ICMP_TRUNC;
	p->has_icmp = true;
	p->icmp_type = h[0];
	p->icmp_code = h[1];
	set_payload(p, off + ICMP_HLEN, end - off - ICMP_HLEN);
	if (icmp_has_id(family, h[0])) {
		p->icmp_id = rd16(h + 4);
		p->icmp_seq = rd16(h + 6);
	}
	if (pkt_icmp_is_error(family, h[0])) {
		p->icmp_error = true;
		if (family == IP_V4)
			return parse_inner_v4(f, off + ICMP_HLEN, end, &p->inner);
		return parse_inner_v6(f, off + ICMP_HLEN, end, &p->inner);
	}
	if (family == IP_V6)
		return parse_nd(f, off, end, p);
	return 0;
}

/* The upper layer of an unfragmented packet or of a first fragment. */
static int parse_l4(const uint8_t *f, size_t off, size_t end, struct pkt *p)
{
	p->l4_off = (uint16_t)off;
	p->l4_len = (uint32_t)(end - off);
	switch (p->proto) {
	case PROTO_TCP:
		return parse_tcp(f, off, end, p);
	case PROTO_UDP:
		return parse_udp(f, off, end, p);
	case PROTO_ICMP:
		return p->kind == PKT_IPV4 ? parse_icmp(f, off, end, p) : 0;
	case PROTO_ICMPV6:
		return p->kind == PKT_IPV6 ? parse_icmp(f, off, end, p) : 0;
	default:
		return 0;
	}
}

static int parse_ipv4(const uint8_t *f, size_t len, size_t off, struct pkt *p)
{
	const uint8_t *ip = f + off;
	size_t ihl, tot;
	uint16_t frag;

	if (len - off < IPV4_HLEN)
		return -PKT_MAL_IP_TRUNC;
	if (ip[0] >> 4 != 4)
		return -PKT_MAL_IP_VERSION;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	if (ihl < IPV4_HLEN)
		return -PKT_MAL_IPV4_IHL;
	if (ihl > len - off)
		return -PKT_MAL_IP_TRUNC;
	tot = rd16(ip + 2);
	if (tot < ihl)
		return -PKT_MAL_IP_TOTLEN;
	if (tot > len - off)
		return -PKT_MAL_IP_TOTLEN_CAPLEN;
	if (csum_ip(ip, ihl) != 0)
		return -PKT_MAL_IPV4_CSUM;

	p->kind = PKT_IPV4;
	p->l3_off = (uint16_t)off;
	p->l3_len = (uint32_t)tot;
	p->tos = ip[1];
	p->ttl = ip[8];
	p->proto = ip[9];
	addr_v4(&p->src, ip + 12);
	addr_v4(&p->dst, ip + 16);

	frag = rd16(ip + 6);
	p->frag_id = rd16(ip + 4);
	p->frag_more = frag & 0x2000;
	p->frag_offset = (uint16_t)((frag & 0x1fff) * 8);
	p->is_fragment = p->frag_more || p->frag_offset;
	p->later_fragment = p->frag_offset != 0;
	if ((size_t)p->frag_offset + tot - ihl > 65535)
		return -PKT_MAL_FRAG; /* would reassemble past 64 KiB */
	/* RFC 1858: a TCP fragment at offset 8 can overwrite the flags of
	 * the first one, slipping a SYN past a filter that saw an ACK. */
	if (p->proto == PROTO_TCP && p->frag_offset == 8)
		return -PKT_MAL_FRAG;
	if (p->later_fragment)
		return 0;
	return parse_l4(f, off + ihl, off + tot, p);
}

static int parse_ipv6(const uint8_t *f, size_t len, size_t off, struct pkt *p)
{
	const uint8_t *ip = f + off;
	struct v6_walk w;
	size_t tot;
	int r;

	if (len - off < IPV6_HLEN)
		return -PKT_MAL_IP_TRUNC;
	if (ip[0] >> 4 != 6)
		return -PKT_MAL_IP_VERSION;
	/* A payload length of 0 is a jumbogram only with a hop-by-hop jumbo
	 * option, which cannot fit an Ethernet frame: the walk refuses it. */
	tot = IPV6_HLEN + (size_t)rd16(ip + 4);
	if (tot > len - off)
		return -PKT_MAL_IP_TOTLEN_CAPLEN;

	p->kind = PKT_IPV6;
	p->l3_off = (uint16_t)off;
	p->l3_len = (uint32_t)tot;
	p->tos = (uint8_t)(rd16(ip) >> 4);
	p->ttl = ip[7];
	addr_v6(&p->src, ip + 8);
	addr_v6(&p->dst, ip + 24);

	r = v6_walk(f, off + IPV6_HLEN, off + tot, ip[6], &w);
	if (r < 0)
		return r;
	p->proto = w.proto;
	p->is_fragment = w.is_fragment;
	p->later_fragment = w.later_fragment;
	p->frag_more = w.frag_more;
	p->frag_offset = w.frag_offset;
	p->frag_id = w.frag_id;
	if (w.later_fragment)
		return 0;
	return parse_l4(f, w.l4_off, off + tot, p);
}

/* Copying a constant zero struct compiles to a few vector stores, where
 * memset() of this size became `rep stos`, measured at over half of the
 * parse time of a TCP frame (tests/bench/bench_packet.c). */
static const struct pkt pkt_zero;

int pkt_parse(const uint8_t *frame, size_t len, struct pkt *out)
{
	size_t off = PKT_ETH_HLEN;
	uint16_t type;

	*out = pkt_zero;
	out->frame_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	if (!frame || len < PKT_ETH_HLEN)
		return -PKT_MAL_ETH_TRUNC;
	memcpy(out->dst_mac, frame, PKT_ETH_ALEN);
	memcpy(out->src_mac, frame + PKT_ETH_ALEN, PKT_ETH_ALEN);
	type = rd16(frame + 12);
	if (type == PKT_ETHERTYPE_VLAN) {
		if (len < PKT_ETH_HLEN + PKT_VLAN_HLEN)
			return -PKT_MAL_VLAN_TRUNC;
		out->has_vlan = true;
		out->vlan_tci = rd16(frame + 14);
		type = rd16(frame + 16);
		off += PKT_VLAN_HLEN;
	}
	out->ethertype = type;
	switch (type) {
	case PKT_ETHERTYPE_ARP:
		return parse_arp(frame, len, off, out);
	case PKT_ETHERTYPE_IPV4:
		return parse_ipv4(frame, len, off, out);
	case PKT_ETHERTYPE_IPV6:
		return parse_ipv6(frame, len, off, out);
	default:
		out->kind = PKT_OTHER;
		return 0;
	}
}

/* Ethernet header (with the request's VLAN tag) of an answer; returns its
 * length. */
static size_t put_eth(uint8_t *buf, const uint8_t *dst, const uint8_t *src, const struct pkt *req,
		      uint16_t type)
{
	size_t off = PKT_ETH_HLEN;

	memcpy(buf, dst, PKT_ETH_ALEN);
	memcpy(buf + PKT_ETH_ALEN, src, PKT_ETH_ALEN);
	if (req->has_vlan) {
		wr16(buf + 12, PKT_ETHERTYPE_VLAN);
		wr16(buf + 14, req->vlan_tci);
		off += PKT_VLAN_HLEN;
	}
	wr16(buf + off - 2, type);
	return off;
}

static bool ipv4_is_zero(const struct ip_addr *a)
{
	return !a->b[0] && !a->b[1] && !a->b[2] && !a->b[3];
}

int pkt_build_arp_reply(const struct pkt *req, const uint8_t mac[PKT_ETH_ALEN], uint8_t *buf,
			size_t cap)
{
	size_t l2 = PKT_ETH_HLEN + (req->has_vlan ? PKT_VLAN_HLEN : 0);
	uint8_t *a;

	if (req->kind != PKT_ARP || req->arp.op != PKT_ARP_REQUEST)
		return -EINVAL;
	/* RFC 5227: a probe (sender 0.0.0.0) or an announcement (sender =
	 * target) checks or claims the sender's own address; a reply
	 * would tell it the address is in use. */
	if (ipv4_is_zero(&req->arp.spa) || ip_addr_eq(&req->arp.spa, &req->arp.tpa))
		return -ENOMSG;
	if (cap < l2 + ARP_LEN)
		return -ENOSPC;
	put_eth(buf, req->arp.sha, mac, req, PKT_ETHERTYPE_ARP);
	a = buf + l2;
	wr16(a, 1);
	wr16(a + 2, PKT_ETHERTYPE_IPV4);
	a[4] = PKT_ETH_ALEN;
	a[5] = 4;
	wr16(a + 6, PKT_ARP_REPLY);
	memcpy(a + 8, mac, PKT_ETH_ALEN);
	memcpy(a + 14, req->arp.tpa.b, 4);
	memcpy(a + 18, req->arp.sha, PKT_ETH_ALEN);
	memcpy(a + 24, req->arp.spa.b, 4);
	return (int)(l2 + ARP_LEN);
}

static bool ipv6_is_unspecified(const struct ip_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->b, zero, 16) == 0;
}

int pkt_build_na(const struct pkt *req, const uint8_t mac[PKT_ETH_ALEN], bool is_router,
		 uint8_t *buf, size_t cap)
{
	size_t l2 = PKT_ETH_HLEN + (req->has_vlan ? PKT_VLAN_HLEN : 0);
	size_t icmp_len = ND_NS_LEN + 8; /* NA + target link-layer option */
	const uint8_t *eth_dst = req->has_nd_lladdr ? req->nd_lladdr : req->src_mac;
	uint8_t *ip, *h;
	uint32_t sum;

	if (req->kind != PKT_IPV6 || !req->has_icmp || req->icmp_type != PKT_ICMP6_NEIGH_SOLICIT ||
	    req->icmp_code != 0)
		return -EINVAL;
	/* RFC 4861 7.1.1: only on-link NSs count; a source of :: is
	 * duplicate address detection of the sender's own address; a
	 * multicast target is invalid. */
	if (req->ttl != 255 || ipv6_is_unspecified(&req->src) || req->nd_target.b[0] == 0xff)
		return -ENOMSG;
	if (cap < l2 + IPV6_HLEN + icmp_len)
		return -ENOSPC;
	put_eth(buf, eth_dst, mac, req, PKT_ETHERTYPE_IPV6);
	ip = buf + l2;
	memset(ip, 0, IPV6_HLEN + icmp_len);
	ip[0] = 0x60;
	wr16(ip + 4, (uint16_t)icmp_len);
	ip[6] = PROTO_ICMPV6;
	ip[7] = 255;
	memcpy(ip + 8, req->nd_target.b, 16);
	memcpy(ip + 24, req->src.b, 16);
	h = ip + IPV6_HLEN;
	h[0] = PKT_ICMP6_NEIGH_ADVERT;
	h[4] = PKT_ND_NA_SOLICITED | PKT_ND_NA_OVERRIDE | (is_router ? PKT_ND_NA_ROUTER : 0);
	memcpy(h + 8, req->nd_target.b, 16);
	h[24] = ND_OPT_TLLA;
	h[25] = 1;
	memcpy(h + 26, mac, PKT_ETH_ALEN);
	sum = csum_pseudo_v6(ip + 8, ip + 24, PROTO_ICMPV6, (uint32_t)icmp_len);
	wr16(h + 2, csum_fold(csum_add(sum, h, icmp_len)));
	return (int)(l2 + IPV6_HLEN + icmp_len);
}

/* Replaces a 16-bit-aligned field and folds the change into a checksum
 * that covers it (check may be NULL when none does). */
static void replace_field(uint8_t *field, const uint8_t *new_, size_t n, uint8_t *check)
{
	if (check)
		wr16(check, csum_update(rd16(check), field, new_, n));
	memcpy(field, new_, n);
}

/* A checksum field inside an ICMP error's quote is itself covered by the
 * ICMP checksum: update it and carry its own change outward. */
static void update_quoted_check(uint8_t *check, const uint8_t *old, const uint8_t *new_, size_t n,
				uint8_t *icmp_check, bool zero_means_none)
{
	uint8_t before[2] = {check[0], check[1]};
	uint16_t v = rd16(check);

	if (zero_means_none && v == 0)
		return;
	v = csum_update(v, old, new_, n);
	if (zero_means_none && v == 0)
		v = 0xffff;
	wr16(check, v);
	wr16(icmp_check, csum_update(rd16(icmp_check), before, check, 2));
}

/* The packet an ICMP error quotes carried the translated address the
 * other way round (outer dst = inner src); rewrite it only when it is the
 * same address, so an error about someone else's packet is left alone. */
static void rewrite_inner(uint8_t *f, const struct pkt *p, size_t end, enum pkt_rewrite_field which,
			  const uint8_t *old, const uint8_t *new_)
{
	uint8_t *icmp_check = f + p->l4_off + 2;
	uint8_t *ip = f + p->inner.l3_off;
	uint8_t *field = ip + (which == PKT_REWRITE_DST ? 12 : 16);
	size_t l4 = p->inner.l4_off;

	if (p->inner.src.family != IP_V4 || memcmp(field, old, 4) != 0)
		return;
	update_quoted_check(ip + 10, old, new_, 4, icmp_check, false);
	replace_field(field, new_, 4, icmp_check);
	if (!l4)
		return;
	if (p->inner.proto == PROTO_UDP && l4 + 8 <= end)
		update_quoted_check(f + l4 + 6, old, new_, 4, icmp_check, true);
	else if (p->inner.proto == PROTO_TCP && l4 + 18 <= end)
		update_quoted_check(f + l4 + 16, old, new_, 4, icmp_check, false);
}

static void rewrite_l4_check(uint8_t *check, const uint8_t *old, const uint8_t *new_, bool udp,
			     unsigned flags)
{
	uint16_t v = rd16(check);

	if (flags & PKT_REWRITE_L4_PARTIAL) {
		wr16(check, csum_update_partial(v, old, new_, 4));
		return;
	}
	if (udp && v == 0)
		return; /* UDP over IPv4 without a checksum */
	v = csum_update(v, old, new_, 4);
	wr16(check, udp && v == 0 ? 0xffff : v);
}

int pkt_rewrite_ipv4(uint8_t *frame, size_t len, struct pkt *p, enum pkt_rewrite_field which,
		     const struct ip_addr *addr, unsigned flags)
{
	uint8_t old[4], *ip, *field;
	size_t end;

	if (!frame || p->kind != PKT_IPV4 || addr->family != IP_V4 || len < p->frame_len ||
	    (which != PKT_REWRITE_SRC && which != PKT_REWRITE_DST))
		return -EINVAL;
	ip = frame + p->l3_off;
	field = ip + (which == PKT_REWRITE_SRC ? 12 : 16);
	end = (size_t)p->l3_off + p->l3_len;
	memcpy(old, field, 4);
	replace_field(field, addr->b, 4, ip + 10);
	if (p->l4_off && p->proto == PROTO_TCP)
		rewrite_l4_check(frame + p->l4_off + 16, old, addr->b, false, flags);
	else if (p->l4_off && p->proto == PROTO_UDP)
		rewrite_l4_check(frame + p->l4_off + 6, old, addr->b, true, flags);
	else if (p->l4_off && p->icmp_error)
		rewrite_inner(frame, p, end, which, old, addr->b);

	if (which == PKT_REWRITE_SRC)
		p->src = *addr;
	else
		p->dst = *addr;
	if (p->icmp_error) {
		struct ip_addr *in = which == PKT_REWRITE_DST ? &p->inner.src : &p->inner.dst;
		uint8_t *now = frame + p->inner.l3_off + (which == PKT_REWRITE_DST ? 12 : 16);

		if (in->family == IP_V4)
			memcpy(in->b, now, 4);
	}
	return 0;
}
