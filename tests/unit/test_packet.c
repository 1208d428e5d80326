/*
 * Tests for rules/packet (parser, ARP/NA builders, NAT rewrite) and
 * rules/checksum. Frames are built byte by byte by the helpers below, which
 * also record where each header starts and which malformed reason a cut
 * inside it must give; the truncation tests replay every cut of every good
 * frame from an exactly sized heap buffer, so an out-of-bounds read is an
 * ASan error (run with -DVPCFW_SANITIZE=ON).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "checksum.h"
#include "packet.h"

#define P_TCP 6
#define P_UDP 17
#define P_ICMP 1
#define P_ICMP6 58

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t MAC_R[6] = {0x02, 0x76, 0x70, 0x63, 0, 0x01};

/* ------------------------------------------------------------------ */
/* Frame builder                                                        */

struct mark {
	size_t start;
	int reason;
	bool optional; /* absent (cut exactly at its start) is fine */
};

struct frame {
	uint8_t b[4096];
	size_t len;
	size_t l3;
	size_t l3hdr;
	int family; /* 4, 6; 0 for ARP and others */
	bool arp;
	size_t l4; /* 0: none */
	uint8_t l4proto;
	size_t hdr_end;
	bool finished;
	int nmarks;
	struct mark marks[80];
};

static void put(struct frame *f, const void *d, size_t n)
{
	assert_true(f->len + n <= sizeof(f->b));
	memcpy(f->b + f->len, d, n);
	f->len += n;
}

static void put8(struct frame *f, uint8_t v)
{
	put(f, &v, 1);
}

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(f, b, 2);
}

static void put32(struct frame *f, uint32_t v)
{
	put16(f, (uint16_t)(v >> 16));
	put16(f, (uint16_t)v);
}

static void set16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void mark(struct frame *f, int reason)
{
	assert_true(f->nmarks < 80);
	f->marks[f->nmarks].start = f->len;
	f->marks[f->nmarks].reason = reason;
	f->marks[f->nmarks].optional = reason == -PKT_MAL_ND_OPTION;
	f->nmarks++;
}

static struct ip_addr A(const char *s) {
	struct ip_addr a;
	assert_int_equal(ip_addr_parse(s, &a), 0);
	return a;
}

static void
eth(struct frame *f, uint16_t type)
{
	put(f, MAC_B, 6);
	put(f, MAC_A, 6);
	put16(f, type);
}

static void eth_vlan(struct frame *f, uint16_t tci, uint16_t type)
{
	put(f, MAC_B, 6);
	put(f, MAC_A, 6);
	put16(f, 0x8100);
	put16(f, tci);
	put16(f, type);
}

static void ipv4_opt(struct frame *f, uint8_t proto, const char *src, const char *dst,
		     unsigned optwords)
{
	struct ip_addr s = A(src), d = A(dst);

	f->l3 = f->len;
	f->l3hdr = 20 + optwords * 4;
	f->family = 4;
	put8(f, (uint8_t)(0x45 + optwords));
	put8(f, 0);
	put16(f, 0); /* total length: finish() */
	put16(f, 0x1234);
	put16(f, 0x4000); /* DF */
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put(f, s.b, 4);
	put(f, d.b, 4);
	for (unsigned i = 0; i < optwords * 4; i++)
		put8(f, 1); /* NOP */
}

static void ipv4(struct frame *f, uint8_t proto, const char *src, const char *dst)
{
	ipv4_opt(f, proto, src, dst, 0);
}

static void ipv4_frag(struct frame *f, unsigned offset, bool more)
{
	set16(f->b + f->l3 + 6, (uint16_t)((more ? 0x2000 : 0) | offset / 8));
}

static void ipv6(struct frame *f, uint8_t nh, const char *src, const char *dst)
{
	struct ip_addr s = A(src), d = A(dst);

	f->l3 = f->len;
	f->l3hdr = 40;
	f->family = 6;
	put32(f, 0x60000000);
	put16(f, 0);
	put8(f, nh);
	put8(f, 64);
	put(f, s.b, 16);
	put(f, d.b, 16);
}

/* Hop-by-hop / destination options (one PadN) or a routing header with
 * segments left 0, all 8 bytes. */
static void ext(struct frame *f, uint8_t nh, uint8_t kind)
{
	mark(f, -PKT_MAL_IPV6_EXT_TRUNC);
	put8(f, nh);
	put8(f, 0);
	if (kind == 43) {
		put8(f, 253);
		put8(f, 0);
		put32(f, 0);
	} else {
		put8(f, 1);
		put8(f, 4);
		put32(f, 0);
	}
}

static void ext_ah(struct frame *f, uint8_t nh)
{
	mark(f, -PKT_MAL_IPV6_EXT_TRUNC);
	put8(f, nh);
	put8(f, 4); /* (4 + 2) * 4 = 24 bytes */
	put16(f, 0);
	put32(f, 0x1000);
	put32(f, 1);
	for (int i = 0; i < 12; i++)
		put8(f, 0xaa);
}

static void frag6(struct frame *f, uint8_t nh, unsigned offset, bool more, uint32_t id)
{
	mark(f, -PKT_MAL_IPV6_EXT_TRUNC);
	put8(f, nh);
	put8(f, 0);
	put16(f, (uint16_t)(offset | (more ? 1 : 0)));
	put32(f, id);
}

static void tcp_opt(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags,
		    unsigned optwords)
{
	mark(f, -PKT_MAL_TCP_TRUNC);
	f->l4 = f->len;
	f->l4proto = P_TCP;
	put16(f, sport);
	put16(f, dport);
	put32(f, 1000);
	put32(f, flags & 0x10 ? 2000 : 0);
	put8(f, (uint8_t)((5 + optwords) << 4));
	put8(f, flags);
	put16(f, 64240);
	put16(f, 0);
	put16(f, 0);
	for (unsigned i = 0; i < optwords; i++)
		put32(f, i == 0 ? 0x020405b4 : 0x01010101); /* MSS 1460, NOPs */
}

static void tcp(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags)
{
	tcp_opt(f, sport, dport, flags, 0);
}

static void udp(struct frame *f, uint16_t sport, uint16_t dport)
{
	mark(f, -PKT_MAL_UDP_TRUNC);
	f->l4 = f->len;
	f->l4proto = P_UDP;
	put16(f, sport);
	put16(f, dport);
	put16(f, 0);
	put16(f, 0);
}

static void icmp(struct frame *f, uint8_t type, uint8_t code, uint32_t rest)
{
	mark(f, -PKT_MAL_ICMP_TRUNC);
	f->l4 = f->len;
	f->l4proto = f->family == 6 ? P_ICMP6 : P_ICMP;
	put8(f, type);
	put8(f, code);
	put16(f, 0);
	put32(f, rest);
}

static void nd_target(struct frame *f, const char *target)
{
	struct ip_addr t = A(target);
	put(f, t.b, 16);
}

static void nd_opt(struct frame *f, uint8_t type, const uint8_t mac[6])
{
	mark(f, -PKT_MAL_ND_OPTION);
	put8(f, type);
	put8(f, 1);
	put(f, mac, 6);
}

static void payload(struct frame *f, size_t n)
{
	if (!f->hdr_end)
		f->hdr_end = f->len;
	for (size_t i = 0; i < n; i++)
		put8(f, (uint8_t)(i * 7 + 3));
}

static void finish(struct frame *f);

/* Appends the first n bytes of an inner packet (built without Ethernet)
 * as an ICMP error's quote. */
static void quote(struct frame *f, struct frame *inner, size_t n)
{
	finish(inner);
	assert_true(n <= inner->len);
	mark(f, -PKT_MAL_ICMP_INNER);
	put(f, inner->b, n);
}

static uint16_t l4_checksum(const struct frame *f, size_t l4, size_t end, uint8_t proto)
{
	const uint8_t *ip = f->b + f->l3;
	uint32_t sum;

	if (proto == P_ICMP)
		return csum_ip(f->b + l4, end - l4);
	if (f->family == 4)
		sum = csum_pseudo_v4(ip + 12, ip + 16, proto, (uint32_t)(end - l4));
	else
		sum = csum_pseudo_v6(ip + 8, ip + 24, proto, (uint32_t)(end - l4));
	return csum_fold(csum_add(sum, f->b + l4, end - l4));
}

static size_t csum_field(uint8_t proto)
{
	return proto == P_TCP ? 16 : proto == P_UDP ? 6 : 2;
}

/* Sets every length field to the bytes present and computes checksums. */
static void finish_to(struct frame *f, size_t end)
{
	uint8_t *ip = f->b + f->l3;

	if (!f->hdr_end)
		f->hdr_end = f->len;
	f->finished = true;
	if (f->family == 4) {
		set16(ip + 2, (uint16_t)(end - f->l3));
		set16(ip + 10, 0);
		set16(ip + 10, csum_ip(ip, f->l3hdr));
	} else if (f->family == 6) {
		set16(ip + 4, (uint16_t)(end - f->l3 - 40));
	}
	if (!f->l4 || f->l4 + csum_field(f->l4proto) + 2 > end)
		return;
	if (f->l4proto == P_UDP)
		set16(f->b + f->l4 + 4, (uint16_t)(end - f->l4));
	set16(f->b + f->l4 + csum_field(f->l4proto), 0);
	set16(f->b + f->l4 + csum_field(f->l4proto), l4_checksum(f, f->l4, end, f->l4proto));
}

static void finish(struct frame *f)
{
	finish_to(f, f->len);
}

/* Ethernet padding: bytes after the IP packet, lengths unchanged. */
static void pad(struct frame *f, size_t total)
{
	while (f->len < total)
		put8(f, 0);
}

/* ------------------------------------------------------------------ */
/* Good frames                                                          */

enum { NO_LEN_CUTS = 1 };

struct want {
	enum pkt_kind kind;
	uint8_t proto;
	bool has_ports;
	uint16_t sport, dport;
	bool has_icmp;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;
	bool icmp_error;
	uint8_t inner_proto;
	uint16_t inner_sport, inner_dport;
	bool is_fragment, later_fragment;
};

struct gcase {
	const char *name;
	void (*build)(struct frame *);
	struct want w;
	void (*check)(const struct pkt *, const struct frame *);
	unsigned flags;
};

static void b_v4_tcp_syn(struct frame *f)
{
	eth(f, 0x0800);
	ipv4(f, P_TCP, "10.0.1.10", "10.0.2.20");
	tcp_opt(f, 40000, 5432, PKT_TCP_SYN, 2);
}

static void c_v4_tcp_syn(const struct pkt *p, const struct frame *f)
{
	char buf[IP_ADDR_STRLEN];

	assert_string_equal(ip_addr_format(&p->src, buf, sizeof(buf)), "10.0.1.10");
	assert_string_equal(ip_addr_format(&p->dst, buf, sizeof(buf)), "10.0.2.20");
	assert_memory_equal(p->src_mac, MAC_A, 6);
	assert_memory_equal(p->dst_mac, MAC_B, 6);
	assert_int_equal(p->ethertype, 0x0800);
	assert_int_equal(p->ttl, 64);
	assert_int_equal(p->l3_off, 14);
	assert_int_equal(p->l4_off, 34);
	assert_int_equal(p->l3_len, 20 + 28);
	assert_int_equal(p->payload_off, 34 + 28);
	assert_int_equal(p->payload_len, 0);
	assert_int_equal(p->tcp_seq, 1000);
	assert_int_equal(p->tcp_window, 64240);
	assert_int_equal(p->frame_len, f->len);
	assert_false(p->has_vlan);
}

static void b_v4_opts_udp(struct frame *f)
{
	eth(f, 0x0800);
	ipv4_opt(f, P_UDP, "10.0.1.10", "10.0.0.2", 3);
	udp(f, 53001, 53);
	payload(f, 29);
}

static void c_v4_opts_udp(const struct pkt *p, const struct frame *f)
{
	assert_int_equal(p->l4_off, 14 + 32);
	assert_int_equal(p->l3_len, 32 + 8 + 29);
	assert_int_equal(p->payload_len, 29);
	assert_int_equal(p->payload_off, 14 + 32 + 8);
}

static void b_v4_icmp_echo(struct frame *f)
{
	eth(f, 0x0800);
	ipv4(f, P_ICMP, "10.0.1.10", "10.0.2.20");
	icmp(f, 8, 0, 0x4d2a0007);
	payload(f, 56);
}

static void c_v4_icmp_echo(const struct pkt *p, const struct frame *f)
{
	assert_int_equal(p->icmp_seq, 7);
	assert_int_equal(p->payload_len, 56);
}

static void b_v4_icmp_echo_reply(struct frame *f)
{
	eth(f, 0x0800);
	ipv4(f, P_ICMP, "10.0.2.20", "10.0.1.10");
	icmp(f, 0, 0, 0x4d2a0007);
}

static void b_v4_unreach_tcp(struct frame *f)
{
	struct frame in = {0};

	ipv4(&in, P_TCP, "10.0.1.10", "198.51.100.7");
	tcp(&in, 41000, 443, PKT_TCP_ACK);
	payload(&in, 1400);
	eth(f, 0x0800);
	ipv4(f, P_ICMP, "10.0.0.1", "10.0.1.10");
	icmp(f, 3, 4, 1500); /* fragmentation needed, MTU 1500 */
	quote(f, &in, 28);
}

static void c_v4_unreach_tcp(const struct pkt *p, const struct frame *f)
{
	char buf[IP_ADDR_STRLEN];

	assert_string_equal(ip_addr_format(&p->inner.src, buf, sizeof(buf)), "10.0.1.10");
	assert_string_equal(ip_addr_format(&p->inner.dst, buf, sizeof(buf)), "198.51.100.7");
	assert_int_equal(p->inner.l3_off, 14 + 20 + 8);
	assert_int_equal(p->inner.l4_off, 14 + 20 + 8 + 20);
}

static void b_v4_timex_udp_long_quote(struct frame *f)
{
	struct frame in = {0};

	ipv4_opt(&in, P_UDP, "10.0.1.10", "203.0.113.9", 1);
	udp(&in, 33434, 33435);
	payload(&in, 32);
	eth(f, 0x0800);
	ipv4(f, P_ICMP, "203.0.113.1", "10.0.1.10");
	icmp(f, 11, 0, 0);
	/* RFC 1812 routers quote as much as fits: inner header + payload */
	quote(f, &in, 24 + 8);
	f->hdr_end = f->len;
	put(f, in.b + 32, in.len - 32);
}

static void b_v4_param_icmp(struct frame *f)
{
	struct frame in = {0};

	ipv4(&in, P_ICMP, "10.0.1.10", "10.0.2.20");
	icmp(&in, 8, 0, 0x00990001);
	eth(f, 0x0800);
	ipv4(f, P_ICMP, "10.0.2.20", "10.0.1.10");
	icmp(f, 12, 0, 0x14000000);
	quote(f, &in, 28);
}

static void c_v4_param_icmp(const struct pkt *p, const struct frame *f)
{
	assert_true(p->inner.has_icmp);
	assert_int_equal(p->inner.icmp_type, 8);
	assert_int_equal(p->inner.icmp_id, 0x99);
}

static void b_v4_vlan_tcp(struct frame *f)
{
	eth_vlan(f, 0x2064, 0x0800);
	ipv4(f, P_TCP, "10.0.1.10", "10.0.2.20");
	tcp(f, 40001, 80, PKT_TCP_ACK | PKT_TCP_PSH);
	payload(f, 100);
}

static void c_v4_vlan_tcp(const struct pkt *p, const struct frame *f)
{
	assert_true(p->has_vlan);
	assert_int_equal(p->vlan_tci, 0x2064);
	assert_int_equal(p->ethertype, 0x0800);
	assert_int_equal(p->l3_off, 18);
	assert_int_equal(p->tcp_ack, 2000);
}

static void b_v4_padded_udp(struct frame *f)
{
	eth(f, 0x0800);
	ipv4(f, P_UDP, "10.0.1.10", "10.0.2.20");
	udp(f, 5000, 6000);
	payload(f, 4);
	finish(f);
	pad(f, 60);
}

static void c_v4_padded_udp(const struct pkt *p, const struct frame *f)
{
	assert_int_equal(p->frame_len, 60);
	assert_int_equal(p->l3_len, 32);
	assert_int_equal(p->l4_len, 12);
	assert_int_equal(p->payload_len, 4);
}

static void b_v4_frag_first(struct frame *f)
{
	eth(f, 0x0800);
	ipv4(f, P_UDP, "10.0.1.10", "10.0.2.20");
	ipv4_frag(f, 0, true);
	udp(f, 5000, 6000);
	payload(f, 1472);
	finish(f);
	set16(f->b + f->l4 + 4, 3008); /* the whole datagram */
}

static void b_v4_frag_later(struct frame *f)
{
	eth(f, 0x0800);
	ipv4(f, P_UDP, "10.0.1.10", "10.0.2.20");
	ipv4_frag(f, 1480, true);
	payload(f, 1480);
}

static void c_frag_later(const struct pkt *p, const struct frame *f)
{
	assert_int_equal(p->l4_off, 0);
	assert_int_equal(p->frag_offset, 1480);
	assert_true(p->frag_more);
}

static void b_v4_frag_last(struct frame *f)
{
	eth(f, 0x0800);
	ipv4(f, P_TCP, "10.0.1.10", "10.0.2.20");
	ipv4_frag(f, 2960, false);
	payload(f, 48);
}

static void b_arp_request(struct frame *f)
{
	struct ip_addr s = A("10.0.1.10"), t = A("10.0.1.1");
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	put(f, bcast, 6);
	put(f, MAC_A, 6);
	put16(f, 0x0806);
	f->l3 = f->len;
	f->l3hdr = 28;
	f->arp = true;
	put16(f, 1);
	put16(f, 0x0800);
	put8(f, 6);
	put8(f, 4);
	put16(f, 1);
	put(f, MAC_A, 6);
	put(f, s.b, 4);
	put(f, (uint8_t[6]){0}, 6);
	put(f, t.b, 4);
	pad(f, 60);
}

static void c_arp_request(const struct pkt *p, const struct frame *f)
{
	char buf[IP_ADDR_STRLEN];

	assert_int_equal(p->arp.op, PKT_ARP_REQUEST);
	assert_memory_equal(p->arp.sha, MAC_A, 6);
	assert_string_equal(ip_addr_format(&p->arp.spa, buf, sizeof(buf)), "10.0.1.10");
	assert_string_equal(ip_addr_format(&p->arp.tpa, buf, sizeof(buf)), "10.0.1.1");
}

static void b_other_lldp(struct frame *f)
{
	eth(f, 0x88cc);
	payload(f, 40);
}

static void b_other_8023(struct frame *f)
{
	eth(f, 46); /* an 802.3 length, LLC follows */
	payload(f, 46);
}

static void b_v6_tcp(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, P_TCP, "2001:db8:1::10", "2001:db8:2::20");
	tcp(f, 40000, 443, PKT_TCP_SYN | PKT_TCP_ECE | PKT_TCP_CWR);
}

static void c_v6_tcp(const struct pkt *p, const struct frame *f)
{
	char buf[IP_ADDR_STRLEN];

	assert_string_equal(ip_addr_format(&p->src, buf, sizeof(buf)), "2001:db8:1::10");
	assert_int_equal(p->src.family, IP_V6);
	assert_int_equal(p->tcp_flags & PKT_TCP_SYN, PKT_TCP_SYN);
	assert_int_equal(p->l3_len, 60);
	assert_int_equal(p->l4_off, 54);
}

static void b_v6_ext_udp(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, 0, "2001:db8:1::10", "2001:db8:2::20");
	ext(f, 60, 0);
	ext(f, 43, 60);
	ext(f, P_UDP, 43);
	udp(f, 5353, 53);
	payload(f, 12);
}

static void c_v6_ext_udp(const struct pkt *p, const struct frame *f)
{
	assert_int_equal(p->l4_off, 14 + 40 + 24);
	assert_int_equal(p->payload_len, 12);
}

static void b_v6_ah_tcp(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, 51, "2001:db8:1::10", "2001:db8:2::20");
	ext_ah(f, P_TCP);
	tcp(f, 1, 2, PKT_TCP_RST);
}

static void b_v6_esp(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, 50, "2001:db8:1::10", "2001:db8:2::20");
	payload(f, 64);
}

static void b_v6_nonext(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, 60, "2001:db8:1::10", "2001:db8:2::20");
	ext(f, 59, 60);
	f->hdr_end = f->len;
}

static void b_v6_echo(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, P_ICMP6, "2001:db8:1::10", "2001:db8:2::20");
	icmp(f, 128, 0, 0x12340001);
	payload(f, 56);
}

static void b_v6_echo_reply(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, P_ICMP6, "2001:db8:2::20", "2001:db8:1::10");
	icmp(f, 129, 0, 0x12340001);
}

static void b_v6_ptb_udp(struct frame *f)
{
	struct frame in = {0};

	ipv6(&in, 60, "2001:db8:1::10", "2001:db8:2::20");
	ext(&in, P_UDP, 60);
	udp(&in, 4000, 4500);
	payload(&in, 1400);
	eth(f, 0x86dd);
	ipv6(f, P_ICMP6, "2001:db8:1::1", "2001:db8:1::10");
	icmp(f, 2, 0, 1280);
	quote(f, &in, 40 + 8 + 8);
	f->hdr_end = f->len;
	put(f, in.b + 56, 100);
}

static void b_v6_unreach_echo(struct frame *f)
{
	struct frame in = {0};

	ipv6(&in, P_ICMP6, "2001:db8:1::10", "2001:db8:9::1");
	icmp(&in, 128, 0, 0x00420009);
	eth(f, 0x86dd);
	ipv6(f, P_ICMP6, "2001:db8:1::1", "2001:db8:1::10");
	icmp(f, 1, 3, 0);
	quote(f, &in, 48);
}

static void c_v6_unreach_echo(const struct pkt *p, const struct frame *f)
{
	assert_true(p->inner.has_icmp);
	assert_int_equal(p->inner.icmp_type, 128);
	assert_int_equal(p->inner.icmp_id, 0x42);
}

static void b_v6_ns(struct frame *f)
{
	put(f, (uint8_t[6]){0x33, 0x33, 0xff, 0, 0, 1}, 6);
	put(f, MAC_A, 6);
	put16(f, 0x86dd);
	ipv6(f, P_ICMP6, "2001:db8:1::10", "ff02::1:ff00:1");
	f->b[f->l3 + 7] = 255;
	icmp(f, 135, 0, 0);
	nd_target(f, "2001:db8:1::1");
	nd_opt(f, 1, MAC_A);
}

static void c_v6_ns(const struct pkt *p, const struct frame *f)
{
	char buf[IP_ADDR_STRLEN];

	assert_string_equal(ip_addr_format(&p->nd_target, buf, sizeof(buf)), "2001:db8:1::1");
	assert_true(p->has_nd_lladdr);
	assert_memory_equal(p->nd_lladdr, MAC_A, 6);
	assert_int_equal(p->ttl, 255);
}

static void b_v6_na(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, P_ICMP6, "2001:db8:1::20", "2001:db8:1::10");
	icmp(f, 136, 0, 0x60000000); /* S|O */
	nd_target(f, "2001:db8:1::20");
	nd_opt(f, 2, MAC_B);
}

static void c_v6_na(const struct pkt *p, const struct frame *f)
{
	assert_int_equal(p->nd_flags, PKT_ND_NA_SOLICITED | PKT_ND_NA_OVERRIDE);
	assert_true(p->has_nd_lladdr);
	assert_memory_equal(p->nd_lladdr, MAC_B, 6);
}

static void b_v6_rs(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, P_ICMP6, "fe80::10", "ff02::2");
	icmp(f, 133, 0, 0);
	nd_opt(f, 1, MAC_A);
}

static void b_v6_frag_first(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, 44, "2001:db8:1::10", "2001:db8:2::20");
	frag6(f, P_UDP, 0, true, 0xabcdef01);
	udp(f, 7000, 7001);
	payload(f, 1224);
	finish(f);
	set16(f->b + f->l4 + 4, 3000);
}

static void c_v6_frag(const struct pkt *p, const struct frame *f)
{
	assert_int_equal(p->frag_id, 0xabcdef01);
}

static void b_v6_frag_later(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, 0, "2001:db8:1::10", "2001:db8:2::20");
	ext(f, 44, 0);
	frag6(f, P_UDP, 1232, false, 0xabcdef01);
	payload(f, 100);
}

static void b_v6_atomic_frag(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, 44, "2001:db8:1::10", "2001:db8:2::20");
	frag6(f, P_TCP, 0, false, 7);
	tcp(f, 1234, 22, PKT_TCP_ACK);
}

#define PORTS(s, d) .has_ports = true, .sport = s, .dport = d
#define ICMPT(t, c, i) .has_icmp = true, .icmp_type = t, .icmp_code = c, .icmp_id = i

#define W4(p, ...) .w = {.kind = PKT_IPV4, .proto = p, __VA_ARGS__}
#define W6(p, ...) .w = {.kind = PKT_IPV6, .proto = p, __VA_ARGS__}
#define INNER(p, s, d) .icmp_error = true, .inner_proto = p, .inner_sport = s, .inner_dport = d

static const struct gcase good[] = {
    {"v4 tcp syn", b_v4_tcp_syn, W4(P_TCP, PORTS(40000, 5432)), .check = c_v4_tcp_syn},
    {"v4 options udp", b_v4_opts_udp, W4(P_UDP, PORTS(53001, 53)), .check = c_v4_opts_udp},
    {"v4 echo", b_v4_icmp_echo, W4(P_ICMP, ICMPT(8, 0, 0x4d2a)), .check = c_v4_icmp_echo},
    {"v4 echo reply", b_v4_icmp_echo_reply, W4(P_ICMP, ICMPT(0, 0, 0x4d2a))},
    {"v4 frag-needed quoting tcp", b_v4_unreach_tcp,
     W4(P_ICMP, ICMPT(3, 4, 0), INNER(P_TCP, 41000, 443)), .check = c_v4_unreach_tcp},
    {"v4 time exceeded quoting udp", b_v4_timex_udp_long_quote,
     W4(P_ICMP, ICMPT(11, 0, 0), INNER(P_UDP, 33434, 33435))},
    {"v4 param problem quoting echo", b_v4_param_icmp,
     W4(P_ICMP, ICMPT(12, 0, 0), INNER(P_ICMP, 0, 0)), .check = c_v4_param_icmp},
    {"v4 vlan tcp", b_v4_vlan_tcp, W4(P_TCP, PORTS(40001, 80)), .check = c_v4_vlan_tcp},
    {"v4 padded udp", b_v4_padded_udp, W4(P_UDP, PORTS(5000, 6000)), .check = c_v4_padded_udp},
    {"v4 first fragment", b_v4_frag_first, W4(P_UDP, PORTS(5000, 6000), .is_fragment = true),
     .flags = NO_LEN_CUTS},
    {"v4 later fragment", b_v4_frag_later, W4(P_UDP, .is_fragment = true, .later_fragment = true),
     .check = c_frag_later},
    {"v4 last fragment", b_v4_frag_last, W4(P_TCP, .is_fragment = true, .later_fragment = true)},
    {"arp request", b_arp_request, .w = {.kind = PKT_ARP}, .check = c_arp_request},
    {"lldp", b_other_lldp, .w = {.kind = PKT_OTHER}},
    {"802.3", b_other_8023, .w = {.kind = PKT_OTHER}},
    {"v6 tcp ecn syn", b_v6_tcp, W6(P_TCP, PORTS(40000, 443)), .check = c_v6_tcp},
    {"v6 hbh+dst+rt udp", b_v6_ext_udp, W6(P_UDP, PORTS(5353, 53)), .check = c_v6_ext_udp},
    {"v6 ah tcp", b_v6_ah_tcp, W6(P_TCP, PORTS(1, 2))},
    {"v6 esp", b_v6_esp, W6(50)},
    {"v6 no next header", b_v6_nonext, W6(59)},
    {"v6 echo", b_v6_echo, W6(P_ICMP6, ICMPT(128, 0, 0x1234))},
    {"v6 echo reply", b_v6_echo_reply, W6(P_ICMP6, ICMPT(129, 0, 0x1234))},
    {"v6 packet too big quoting udp", b_v6_ptb_udp,
     W6(P_ICMP6, ICMPT(2, 0, 0), INNER(P_UDP, 4000, 4500))},
    {"v6 unreachable quoting echo", b_v6_unreach_echo,
     W6(P_ICMP6, ICMPT(1, 3, 0), INNER(P_ICMP6, 0, 0)), .check = c_v6_unreach_echo},
    {"v6 neighbor solicitation", b_v6_ns, W6(P_ICMP6, ICMPT(135, 0, 0)), .check = c_v6_ns},
    {"v6 neighbor advertisement", b_v6_na, W6(P_ICMP6, ICMPT(136, 0, 0)), .check = c_v6_na},
    {"v6 router solicitation", b_v6_rs, W6(P_ICMP6, ICMPT(133, 0, 0))},
    {"v6 first fragment", b_v6_frag_first, W6(P_UDP, PORTS(7000, 7001), .is_fragment = true),
     .check = c_v6_frag, .flags = NO_LEN_CUTS},
    {"v6 later fragment", b_v6_frag_later, W6(P_UDP, .is_fragment = true, .later_fragment = true),
     .check = c_v6_frag},
    {"v6 atomic fragment", b_v6_atomic_frag, W6(P_TCP, PORTS(1234, 22))},
};
#define NGOOD (sizeof(good) / sizeof(good[0]))

static void build(const struct gcase *c, struct frame *f)
{
	memset(f, 0, sizeof(*f));
	c->build(f);
	if (f->family && !f->finished)
		finish(f);
}

static const struct gcase *find_case(const char *name)
{
	for (size_t i = 0; i < NGOOD; i++)
		if (!strcmp(good[i].name, name))
			return &good[i];
	fail_msg("no case %s", name);
	return NULL;
}

/* Parses len bytes from an exactly sized heap copy: any read past the end
 * is caught by ASan. */
static int parse_exact(const uint8_t *b, size_t len, struct pkt *p)
{
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, b, len);
	r = pkt_parse(copy, len, p);
	free(copy);
	return r;
}

/* What every successful parse promises, whatever the input. */
static void check_invariants(const struct pkt *p, size_t len)
{
	if (p->kind != PKT_IPV4 && p->kind != PKT_IPV6)
		return;
	size_t end = (size_t)p->l3_off + p->l3_len;
	assert_true(end <= len);
	if (p->l4_off) {
		assert_true(p->l4_off >= p->l3_off + 20);
		assert_true(p->l4_off <= end);
		assert_int_equal(p->l4_off + p->l4_len, end);
	} else {
		assert_true(p->later_fragment);
		assert_false(p->has_ports);
		assert_false(p->has_icmp);
	}
	if (p->has_ports || p->has_icmp)
		assert_true(p->payload_off + p->payload_len <= end);
	if (p->icmp_error) {
		assert_true(p->inner.l3_off >= p->l4_off + 8u);
		assert_true(p->inner.l3_off < end);
		if (p->inner.l4_off)
			assert_true(p->inner.l4_off + 8u <= end);
	}
}

static void check_want(const struct gcase *c, const struct pkt *p, const struct frame *f)
{
	const struct want *w = &c->w;

	assert_int_equal(p->kind, w->kind);
	if (w->kind == PKT_IPV4 || w->kind == PKT_IPV6) {
		assert_int_equal(p->src.family, w->kind == PKT_IPV4 ? IP_V4 : IP_V6);
		assert_int_equal(p->proto, w->proto);
		assert_int_equal(p->l3_len, w->kind == PKT_IPV4 ? get16(f->b + f->l3 + 2)
								: 40u + get16(f->b + f->l3 + 4));
		assert_int_equal(p->l3_off, f->l3);
		assert_int_equal(p->has_ports, w->has_ports);
		assert_int_equal(p->sport, w->sport);
		assert_int_equal(p->dport, w->dport);
		assert_int_equal(p->has_icmp, w->has_icmp);
		assert_int_equal(p->icmp_type, w->icmp_type);
		assert_int_equal(p->icmp_code, w->icmp_code);
		assert_int_equal(p->icmp_id, w->icmp_id);
		assert_int_equal(p->icmp_error, w->icmp_error);
		assert_int_equal(p->is_fragment, w->is_fragment);
		assert_int_equal(p->later_fragment, w->later_fragment);
		if (w->icmp_error) {
			assert_int_equal(p->inner.proto, w->inner_proto);
			assert_int_equal(p->inner.src.family, p->src.family);
			assert_true(ip_addr_eq(&p->inner.src, &p->dst));
			if (w->inner_proto == P_TCP || w->inner_proto == P_UDP) {
				assert_true(p->inner.has_ports);
				assert_int_equal(p->inner.sport, w->inner_sport);
				assert_int_equal(p->inner.dport, w->inner_dport);
			}
		}
	}
	check_invariants(p, f->len);
	if (c->check)
		c->check(p, f);
}

/* VPCFW_PACKET_SEEDS=DIR writes every good frame there: the fuzzer's seed
 * corpus (tests/fuzz/fuzz_packet.c). */
static void write_seed(const char *dir, size_t i, const struct frame *f)
{
	char path[4096];
	FILE *out;

	snprintf(path, sizeof(path), "%s/good-%02zu", dir, i);
	out = fopen(path, "wb");
	assert_non_null(out);
	assert_int_equal(fwrite(f->b, 1, f->len, out), f->len);
	fclose(out);
}

static void test_good_frames(void **state)
{
	const char *seeds = getenv("VPCFW_PACKET_SEEDS");

	for (size_t i = 0; i < NGOOD; i++) {
		struct frame f;
		struct pkt p;

		build(&good[i], &f);
		if (seeds)
			write_seed(seeds, i, &f);
		int r = parse_exact(f.b, f.len, &p);
		if (r != 0)
			fail_msg("%s: %s", good[i].name, pkt_malformed_name(r));
		check_want(&good[i], &p, &f);
	}
}

/* The reason a cut of the captured length at c must give. */
static int caplen_reason(const struct frame *f, size_t c)
{
	size_t l2 = f->l3 ? f->l3 : 14;

	if (c < 14)
		return -PKT_MAL_ETH_TRUNC;
	if (c < l2 && l2 == 18)
		return -PKT_MAL_VLAN_TRUNC;
	if (!f->family && !f->arp)
		return 0;
	if (c < f->l3 + f->l3hdr)
		return f->arp ? -PKT_MAL_ARP_TRUNC : -PKT_MAL_IP_TRUNC;
	if (f->arp)
		return 0;
	size_t ip_end =
	    f->l3 + (f->family == 4 ? get16(f->b + f->l3 + 2) : 40u + get16(f->b + f->l3 + 4));
	return c < ip_end ? -PKT_MAL_IP_TOTLEN_CAPLEN : 0;
}

static void test_truncated_caplen(void **state)
{
	unsigned cuts = 0;

	for (size_t i = 0; i < NGOOD; i++) {
		struct frame f;
		struct pkt p;

		build(&good[i], &f);
		for (size_t c = 0; c < f.len; c++, cuts++) {
			int want = caplen_reason(&f, c), r = parse_exact(f.b, c, &p);
			if (r != want)
				fail_msg("%s cut at %zu: %s, want %s", good[i].name, c,
					 pkt_malformed_name(r), pkt_malformed_name(want));
			if (!r)
				check_invariants(&p, c);
		}
	}
	print_message("%u caplen cuts\n", cuts);
}

/* Cuts inside the IP payload with every length field saying so: the
 * reason comes from the header the cut falls into. */
static void test_truncated_headers(void **state)
{
	unsigned cuts = 0;

	for (size_t i = 0; i < NGOOD; i++) {
		struct frame f, g;
		struct pkt p;

		build(&good[i], &f);
		if (!f.family || (good[i].flags & NO_LEN_CUTS) || good[i].w.later_fragment)
			continue;
		for (size_t c = f.l3 + f.l3hdr; c < f.hdr_end; c++, cuts++) {
			int want = 0;
			for (int m = 0; m < f.nmarks; m++)
				if (f.marks[m].start <= c)
					want = f.marks[m].start == c && f.marks[m].optional
						   ? 0
						   : f.marks[m].reason;
			g = f;
			g.len = c;
			finish_to(&g, c);
			int r = parse_exact(g.b, c, &p);
			if (r != want)
				fail_msg("%s cut at %zu: %s, want %s", good[i].name, c,
					 pkt_malformed_name(r), pkt_malformed_name(want));
		}
	}
	print_message("%u header cuts\n", cuts);
}

/* ------------------------------------------------------------------ */
/* Malformed frames                                                     */

static int parse_frame(struct frame *f)
{
	struct pkt p;
	return parse_exact(f->b, f->len, &p);
}

static void v4_udp(struct frame *f)
{
	memset(f, 0, sizeof(*f));
	eth(f, 0x0800);
	ipv4(f, P_UDP, "10.0.1.10", "10.0.2.20");
	udp(f, 1, 2);
	payload(f, 8);
	finish(f);
}

static void fix_v4_csum(struct frame *f)
{
	set16(f->b + f->l3 + 10, 0);
	set16(f->b + f->l3 + 10, csum_ip(f->b + f->l3, (f->b[f->l3] & 0xf) * 4u));
}

static void test_malformed_ipv4(void **state)
{
	struct frame f;

	v4_udp(&f);
	assert_int_equal(parse_frame(&f), 0);

	f.b[f.l3] = 0x44; /* IHL 4 */
	fix_v4_csum(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_IPV4_IHL);
	f.b[f.l3] = 0x40;
	assert_int_equal(parse_frame(&f), -PKT_MAL_IPV4_IHL);

	v4_udp(&f);
	f.b[f.l3] = 0x65; /* version 6 under ethertype IPv4 */
	assert_int_equal(parse_frame(&f), -PKT_MAL_IP_VERSION);

	v4_udp(&f);
	f.b[f.l3] = 0x4f; /* IHL 15 = 60 bytes > 36 in the frame */
	assert_int_equal(parse_frame(&f), -PKT_MAL_IP_TRUNC);

	v4_udp(&f);
	set16(f.b + f.l3 + 2, (uint16_t)(f.len - f.l3 + 1)); /* total > caplen */
	fix_v4_csum(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_IP_TOTLEN_CAPLEN);
	set16(f.b + f.l3 + 2, 19); /* total < IHL */
	fix_v4_csum(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_IP_TOTLEN);
	set16(f.b + f.l3 + 2, 0);
	fix_v4_csum(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_IP_TOTLEN);

	v4_udp(&f);
	f.b[f.l3 + 8]--; /* TTL changed, checksum not */
	assert_int_equal(parse_frame(&f), -PKT_MAL_IPV4_CSUM);

	/* Ping of death: offset + length past 65535. */
	v4_udp(&f);
	ipv4_frag(&f, 65528, false);
	fix_v4_csum(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_FRAG);
	ipv4_frag(&f, 65496, false); /* 65496 + 36 - 20 + 8... fits */
	fix_v4_csum(&f);
	assert_int_equal(parse_frame(&f), 0);

	/* RFC 1858 overlapping TCP fragment at offset 8. */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ipv4(&f, P_TCP, "10.0.1.10", "10.0.2.20");
	ipv4_frag(&f, 8, false);
	payload(&f, 16);
	finish(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_FRAG);
	ipv4_frag(&f, 16, false);
	fix_v4_csum(&f);
	assert_int_equal(parse_frame(&f), 0);

	/* A first fragment too short for its TCP header. */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ipv4(&f, P_TCP, "10.0.1.10", "10.0.2.20");
	ipv4_frag(&f, 0, true);
	payload(&f, 8);
	finish(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_TCP_TRUNC);
}

static void test_malformed_l4(void **state)
{
	struct frame f;

	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ipv4(&f, P_TCP, "10.0.1.10", "10.0.2.20");
	tcp(&f, 1, 2, PKT_TCP_SYN);
	finish(&f);
	assert_int_equal(parse_frame(&f), 0);
	f.b[f.l4 + 12] = 4 << 4; /* data offset 4 */
	assert_int_equal(parse_frame(&f), -PKT_MAL_TCP_DOFF);
	f.b[f.l4 + 12] = 0;
	assert_int_equal(parse_frame(&f), -PKT_MAL_TCP_DOFF);
	f.b[f.l4 + 12] = 6 << 4; /* options past the packet */
	assert_int_equal(parse_frame(&f), -PKT_MAL_TCP_TRUNC);

	v4_udp(&f);
	set16(f.b + f.l4 + 4, 7);
	assert_int_equal(parse_frame(&f), -PKT_MAL_UDP_LEN);
	set16(f.b + f.l4 + 4, 17); /* one more than the packet has */
	assert_int_equal(parse_frame(&f), -PKT_MAL_UDP_LEN);
	set16(f.b + f.l4 + 4, 12); /* shorter than the packet: trailing bytes */
	struct pkt p;
	assert_int_equal(parse_exact(f.b, f.len, &p), 0);
	assert_int_equal(p.payload_len, 4);

	/* ICMPv4 error quoting an IPv6 header; quoting too little. */
	struct frame in = {0};
	ipv6(&in, P_UDP, "2001:db8::1", "2001:db8::2");
	udp(&in, 1, 2);
	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ipv4(&f, P_ICMP, "10.0.0.1", "10.0.1.10");
	icmp(&f, 3, 1, 0);
	quote(&f, &in, 48);
	finish(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_ICMP_INNER);

	memset(&in, 0, sizeof(in));
	ipv4_opt(&in, P_UDP, "10.0.1.10", "10.0.2.20", 2);
	udp(&in, 1, 2);
	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ipv4(&f, P_ICMP, "10.0.0.1", "10.0.1.10");
	icmp(&f, 3, 1, 0);
	quote(&f, &in, 28 + 7);
	finish(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_ICMP_INNER);

	/* An ICMPv6 error quoting a later fragment: protocol from the
	 * fragment header, no ports. */
	memset(&in, 0, sizeof(in));
	ipv6(&in, 44, "2001:db8:1::10", "2001:db8:2::20");
	frag6(&in, P_UDP, 1232, false, 9);
	payload(&in, 16);
	memset(&f, 0, sizeof(f));
	eth(&f, 0x86dd);
	ipv6(&f, P_ICMP6, "2001:db8:1::1", "2001:db8:1::10");
	icmp(&f, 3, 1, 0);
	quote(&f, &in, 64);
	finish(&f);
	assert_int_equal(parse_exact(f.b, f.len, &p), 0);
	assert_int_equal(p.inner.proto, P_UDP);
	assert_false(p.inner.has_ports);
	assert_int_equal(p.inner.l4_off, 0);

	/* The quoted packet is a later fragment: no ports needed or given. */
	memset(&in, 0, sizeof(in));
	ipv4(&in, P_UDP, "10.0.1.10", "10.0.2.20");
	ipv4_frag(&in, 1480, false);
	payload(&in, 4);
	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ipv4(&f, P_ICMP, "10.0.0.1", "10.0.1.10");
	icmp(&f, 11, 1, 0);
	quote(&f, &in, 24);
	finish(&f);
	assert_int_equal(parse_exact(f.b, f.len, &p), 0);
	assert_true(p.icmp_error);
	assert_false(p.inner.has_ports);
	assert_int_equal(p.inner.l4_off, 0);
}

static void v6_chain(struct frame *f, unsigned n)
{
	memset(f, 0, sizeof(*f));
	eth(f, 0x86dd);
	ipv6(f, n ? 60 : P_UDP, "2001:db8::1", "2001:db8::2");
	for (unsigned i = 0; i < n; i++)
		ext(f, i + 1 < n ? 60 : P_UDP, 60);
	udp(f, 1, 2);
	finish(f);
}

static void test_malformed_ipv6(void **state)
{
	struct frame f;
	struct pkt p;

	v6_chain(&f, PKT_IPV6_MAX_EXT);
	assert_int_equal(parse_exact(f.b, f.len, &p), 0);
	assert_int_equal(p.proto, P_UDP);
	v6_chain(&f, PKT_IPV6_MAX_EXT + 1);
	assert_int_equal(parse_frame(&f), -PKT_MAL_IPV6_EXT_CHAIN);
	/* A long chain of destination options headers can't loop: each
	 * header consumes at least 8 bytes and the walk is counted. */
	v6_chain(&f, 60);
	assert_int_equal(parse_frame(&f), -PKT_MAL_IPV6_EXT_CHAIN);

	v6_chain(&f, 2);
	f.b[f.l3 + 40] = 0; /* dstopts -> hop-by-hop second */
	assert_int_equal(parse_frame(&f), -PKT_MAL_IPV6_EXT_ORDER);

	v6_chain(&f, 1);
	f.b[f.l3 + 41] = 2; /* ext length 24 > the 16 bytes left */
	assert_int_equal(parse_frame(&f), -PKT_MAL_IPV6_EXT_TRUNC);

	v6_chain(&f, 0);
	set16(f.b + f.l3 + 4, (uint16_t)(f.len - f.l3 - 40 + 1)); /* payload > caplen */
	assert_int_equal(parse_frame(&f), -PKT_MAL_IP_TOTLEN_CAPLEN);
	f.b[f.l3] = 0x40;
	assert_int_equal(parse_frame(&f), -PKT_MAL_IP_VERSION);

	/* Non-last fragment whose length is not a multiple of 8. */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	frag6(&f, P_UDP, 0, true, 1);
	udp(&f, 1, 2);
	payload(&f, 3);
	finish(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_FRAG);
	/* Two fragment headers. */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	frag6(&f, 44, 0, false, 1);
	frag6(&f, P_UDP, 0, false, 1);
	udp(&f, 1, 2);
	finish(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_FRAG);
	/* Past 65535 once reassembled. */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	frag6(&f, P_UDP, 65528, false, 1);
	payload(&f, 16);
	finish(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_FRAG);
}

static void test_malformed_arp_nd(void **state)
{
	struct frame f;

	build(find_case("arp request"), &f);
	assert_true(f.arp);
	f.b[f.l3 + 1] = 6; /* htype 6 (IEEE 802) */
	assert_int_equal(parse_frame(&f), -PKT_MAL_ARP_FORMAT);
	build(find_case("arp request"), &f);
	f.b[f.l3 + 5] = 16; /* plen 16 */
	assert_int_equal(parse_frame(&f), -PKT_MAL_ARP_FORMAT);

	memset(&f, 0, sizeof(f));
	b_v6_ns(&f);
	f.b[f.len - 7] = 0; /* option length 0: a receiver would loop */
	finish(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_ND_OPTION);

	memset(&f, 0, sizeof(f));
	b_v6_ns(&f);
	f.b[f.len - 7] = 2; /* option claims 16 bytes, 8 present */
	finish(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_ND_OPTION);

	memset(&f, 0, sizeof(f));
	b_v6_ns(&f);
	put8(&f, 1); /* one stray byte after the options */
	finish(&f);
	assert_int_equal(parse_frame(&f), -PKT_MAL_ND_OPTION);

	/* VLAN tag cut off; double tag is "other". */
	memset(&f, 0, sizeof(f));
	eth_vlan(&f, 5, 0x8100);
	put16(&f, 6);
	put16(&f, 0x0800);
	payload(&f, 30);
	struct pkt p;
	assert_int_equal(parse_exact(f.b, f.len, &p), 0);
	assert_int_equal(p.kind, PKT_OTHER);
	assert_int_equal(parse_exact(f.b, 17, &p), -PKT_MAL_VLAN_TRUNC);
	assert_int_equal(pkt_parse(NULL, 0, &p), -PKT_MAL_ETH_TRUNC);
}

static void test_malformed_names(void **state)
{
	for (int i = 0; i < PKT_MAL__COUNT; i++) {
		const char *n = pkt_malformed_name(-i);
		assert_string_not_equal(n, "unknown");
		assert_string_equal(n, pkt_malformed_name(i));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(n, pkt_malformed_name(j));
	}
	assert_string_equal(pkt_malformed_name(PKT_MAL__COUNT), "unknown");
	assert_string_equal(pkt_malformed_name(-1000), "unknown");
	assert_string_equal(pkt_malformed_name(0), "ok");
}

/* Random byte flips, truncations and length-field edits of every good
 * frame: the parser must never crash or read out of bounds (ASan), and
 * whatever it accepts must satisfy the invariants. Deterministic. */
static uint32_t rng_state = 0x9e3779b9;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void test_mutations(void **state)
{
	unsigned accepted = 0, runs = 0;

	for (int iter = 0; iter < 40000; iter++) {
		struct frame f;
		struct pkt p;

		build(&good[rng() % NGOOD], &f);
		int flips = 1 + (int)(rng() % 4);
		for (int k = 0; k < flips; k++) {
			size_t at = rng() % f.len;
			/* Favour the header bytes where lengths live. */
			if (rng() % 2 && f.len > 80)
				at = rng() % 80;
			f.b[at] = (uint8_t)rng();
		}
		if (f.family == 4 && rng() % 2)
			fix_v4_csum(&f);
		size_t len = rng() % 4 ? f.len : rng() % (f.len + 1);
		runs++;
		if (parse_exact(f.b, len, &p) == 0) {
			accepted++;
			check_invariants(&p, len);
		}
	}
	print_message("%u mutated frames, %u accepted\n", runs, accepted);
}

/* Which ICMP types carry a quoted packet (AWS-SEMANTICS §4: they belong
 * to the flow they answer) and which pair request and reply by id. */
static void test_icmp_classes(void **state)
{
	for (unsigned t = 0; t < 256; t++) {
		bool v4 = t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
		bool v6 = t >= 1 && t <= 4;
		assert_int_equal(pkt_icmp_is_error(IP_V4, (uint8_t)t), v4);
		assert_int_equal(pkt_icmp_is_error(IP_V6, (uint8_t)t), v6);
	}

	/* Timestamp (13) pairs by id like echo; ICMP carried in IPv6 (proto
	 * 1) and ICMPv6 in IPv4 (58) are opaque payloads, not parsed. */
	struct frame f = {0};
	struct pkt p;
	eth(&f, 0x0800);
	ipv4(&f, P_ICMP, "10.0.1.10", "10.0.2.20");
	icmp(&f, 13, 0, 0x00070001);
	payload(&f, 12);
	finish(&f);
	assert_int_equal(parse_exact(f.b, f.len, &p), 0);
	assert_int_equal(p.icmp_id, 7);

	memset(&f, 0, sizeof(f));
	eth(&f, 0x86dd);
	ipv6(&f, P_ICMP, "2001:db8::1", "2001:db8::2");
	payload(&f, 4);
	finish(&f);
	assert_int_equal(parse_exact(f.b, f.len, &p), 0);
	assert_int_equal(p.proto, P_ICMP);
	assert_false(p.has_icmp);
	assert_int_equal(p.l4_off, 54);

	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ipv4(&f, P_ICMP6, "10.0.1.10", "10.0.2.20");
	payload(&f, 2);
	finish(&f);
	assert_int_equal(parse_exact(f.b, f.len, &p), 0);
	assert_false(p.has_icmp);
}

/* ------------------------------------------------------------------ */
/* Builders                                                             */

static void test_arp_reply(void **state)
{
	struct frame f;
	struct pkt req, rep;
	uint8_t buf[64];
	char s[IP_ADDR_STRLEN];

	build(find_case("arp request"), &f);
	assert_int_equal(pkt_parse(f.b, f.len, &req), 0);
	int n = pkt_build_arp_reply(&req, MAC_R, buf, sizeof(buf));
	assert_int_equal(n, 42);
	assert_int_equal(parse_exact(buf, (size_t)n, &rep), 0);
	assert_int_equal(rep.kind, PKT_ARP);
	assert_int_equal(rep.arp.op, PKT_ARP_REPLY);
	assert_memory_equal(rep.dst_mac, MAC_A, 6);
	assert_memory_equal(rep.src_mac, MAC_R, 6);
	assert_memory_equal(rep.arp.sha, MAC_R, 6);
	assert_memory_equal(rep.arp.tha, MAC_A, 6);
	assert_string_equal(ip_addr_format(&rep.arp.spa, s, sizeof(s)), "10.0.1.1");
	assert_string_equal(ip_addr_format(&rep.arp.tpa, s, sizeof(s)), "10.0.1.10");

	assert_int_equal(pkt_build_arp_reply(&req, MAC_R, buf, 41), -ENOSPC);
	assert_int_equal(pkt_build_arp_reply(&rep, MAC_R, buf, sizeof(buf)), -EINVAL);

	struct pkt probe = req;
	memset(probe.arp.spa.b, 0, 4); /* RFC 5227 probe */
	assert_int_equal(pkt_build_arp_reply(&probe, MAC_R, buf, sizeof(buf)), -ENOMSG);
	probe = req;
	probe.arp.spa = probe.arp.tpa; /* announcement */
	assert_int_equal(pkt_build_arp_reply(&probe, MAC_R, buf, sizeof(buf)), -ENOMSG);

	struct pkt other;
	build(find_case("v4 tcp syn"), &f);
	assert_int_equal(pkt_parse(f.b, f.len, &other), 0);
	assert_int_equal(pkt_build_arp_reply(&other, MAC_R, buf, sizeof(buf)), -EINVAL);

	/* VLAN-tagged request: the reply keeps the tag. */
	req.has_vlan = true;
	req.vlan_tci = 42;
	n = pkt_build_arp_reply(&req, MAC_R, buf, sizeof(buf));
	assert_int_equal(n, 46);
	assert_int_equal(parse_exact(buf, (size_t)n, &rep), 0);
	assert_true(rep.has_vlan);
	assert_int_equal(rep.vlan_tci, 42);
	assert_int_equal(rep.arp.op, PKT_ARP_REPLY);
}

static void verify_icmp6_checksum(const uint8_t *b, const struct pkt *p)
{
	const uint8_t *ip = b + p->l3_off;
	uint32_t sum = csum_pseudo_v6(ip + 8, ip + 24, P_ICMP6, p->l4_len);
	assert_int_equal(csum_fold(csum_add(sum, b + p->l4_off, p->l4_len)), 0);
}

static void test_na(void **state)
{
	struct frame f;
	struct pkt ns, na;
	uint8_t buf[128];
	char s[IP_ADDR_STRLEN];

	memset(&f, 0, sizeof(f));
	b_v6_ns(&f);
	finish(&f);
	assert_int_equal(pkt_parse(f.b, f.len, &ns), 0);
	int n = pkt_build_na(&ns, MAC_R, true, buf, sizeof(buf));
	assert_int_equal(n, 14 + 40 + 32);
	assert_int_equal(parse_exact(buf, (size_t)n, &na), 0);
	assert_int_equal(na.kind, PKT_IPV6);
	assert_int_equal(na.icmp_type, PKT_ICMP6_NEIGH_ADVERT);
	assert_int_equal(na.icmp_code, 0);
	assert_int_equal(na.ttl, 255);
	assert_int_equal(na.nd_flags, PKT_ND_NA_ROUTER | PKT_ND_NA_SOLICITED | PKT_ND_NA_OVERRIDE);
	assert_true(ip_addr_eq(&na.nd_target, &ns.nd_target));
	assert_true(ip_addr_eq(&na.src, &ns.nd_target));
	assert_true(ip_addr_eq(&na.dst, &ns.src));
	assert_string_equal(ip_addr_format(&na.dst, s, sizeof(s)), "2001:db8:1::10");
	assert_true(na.has_nd_lladdr);
	assert_memory_equal(na.nd_lladdr, MAC_R, 6);
	assert_memory_equal(na.src_mac, MAC_R, 6);
	assert_memory_equal(na.dst_mac, MAC_A, 6); /* from the source LL option */
	verify_icmp6_checksum(buf, &na);

	/* No source LL option: to the Ethernet source; R flag off. */
	struct pkt ns2 = ns;
	ns2.has_nd_lladdr = false;
	memcpy(ns2.src_mac, MAC_B, 6);
	n = pkt_build_na(&ns2, MAC_R, false, buf, sizeof(buf));
	assert_int_equal(parse_exact(buf, (size_t)n, &na), 0);
	assert_memory_equal(na.dst_mac, MAC_B, 6);
	assert_int_equal(na.nd_flags, PKT_ND_NA_SOLICITED | PKT_ND_NA_OVERRIDE);
	verify_icmp6_checksum(buf, &na);

	assert_int_equal(pkt_build_na(&ns, MAC_R, true, buf, 85), -ENOSPC);
	assert_int_equal(pkt_build_na(&na, MAC_R, true, buf, sizeof(buf)), -EINVAL);
	ns2 = ns;
	memset(ns2.src.b, 0, 16); /* DAD */
	assert_int_equal(pkt_build_na(&ns2, MAC_R, true, buf, sizeof(buf)), -ENOMSG);
	ns2 = ns;
	ns2.ttl = 64; /* not on-link */
	assert_int_equal(pkt_build_na(&ns2, MAC_R, true, buf, sizeof(buf)), -ENOMSG);
}

/* ------------------------------------------------------------------ */
/* Checksums and the NAT rewrite                                        */

static void test_checksum_vectors(void **state)
{
	/* RFC 1071 section 3 example: sum ddf2, checksum 220d. */
	static const uint8_t v[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	assert_int_equal((uint16_t)~csum_fold(csum_add(0, v, sizeof(v))), 0xddf2);
	assert_int_equal(csum_ip(v, sizeof(v)), 0x220d);
	/* Odd length pads with zero. */
	static const uint8_t o[] = {0x12, 0x34, 0x56};
	assert_int_equal(csum_ip(o, 3), (uint16_t) ~(0x1234 + 0x5600));
	/* A well-known IPv4 header (Wikipedia's example): b861. */
	uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		       0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	assert_int_equal(csum_ip(h, sizeof(h)), 0xb861);
	set16(h + 10, 0xb861);
	assert_int_equal(csum_ip(h, sizeof(h)), 0);
	/* RFC 1624's own case: a word going 0x5555 -> 0x3285 under checksum
	 * 0xdd2f gives 0x0000, not the 0xffff of equation 2. */
	assert_int_equal(csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

/* RFC 1071 the slow way, as the reference for csum_add/csum_ip. */
static uint16_t naive_csum(const uint8_t *d, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < n; i += 2)
		sum += (uint32_t)(d[i] << 8) | (i + 1 < n ? d[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void test_checksum_reference(void **state)
{
	uint8_t d[300];

	for (int iter = 0; iter < 20000; iter++) {
		size_t n = rng() % sizeof(d), cut = (rng() % (n / 2 + 1)) * 2;
		for (size_t i = 0; i < n; i++)
			d[i] = iter % 5 == 0 ? 0xff : (uint8_t)rng();
		assert_int_equal(csum_ip(d, n), naive_csum(d, n));
		/* chained over an even split, as pseudo-header + segment */
		assert_int_equal(csum_fold(csum_add(csum_add(0, d, cut), d + cut, n - cut)),
				 naive_csum(d, n));
	}
}

static void test_checksum_incremental(void **state)
{
	uint8_t d[64];

	for (int iter = 0; iter < 20000; iter++) {
		for (size_t i = 0; i < sizeof(d); i++)
			d[i] = (uint8_t)rng();
		uint16_t before = csum_ip(d, sizeof(d));
		size_t at = (rng() % 16) * 2, n = (rng() % 2) ? 4 : 16;
		uint8_t old[16], neu[16] = {0};
		memcpy(old, d + at, n);
		for (size_t i = 0; i < n; i++)
			neu[i] = (uint8_t)(iter % 7 == 0 ? 0 : rng());
		memcpy(d + at, neu, n);
		uint16_t want = csum_ip(d, sizeof(d));
		uint16_t got = csum_update(before, old, neu, n);
		/* One's complement has two zeros; both verify. */
		if (got != want)
			assert_true((got == 0 && want == 0xffff) || (got == 0xffff && want == 0));
		/* Partial: uncomplemented folded sum follows the data. */
		uint16_t p_old = (uint16_t)~before, p_new = (uint16_t)~want;
		uint16_t p_got = csum_update_partial(p_old, old, neu, n);
		if (p_got != p_new)
			assert_true((p_got == 0 && p_new == 0xffff) ||
				    (p_got == 0xffff && p_new == 0));
	}
}

static void verify_l4(const struct frame *f, const struct pkt *p)
{
	const uint8_t *ip = f->b + p->l3_off;
	size_t end = (size_t)p->l3_off + p->l3_len;
	uint32_t sum = csum_pseudo_v4(ip + 12, ip + 16, p->proto, (uint32_t)p->l4_len);

	assert_int_equal(csum_ip(ip, (ip[0] & 0xfu) * 4), 0);
	if (p->proto == P_ICMP)
		assert_int_equal(csum_ip(f->b + p->l4_off, end - p->l4_off), 0);
	else
		assert_int_equal(csum_fold(csum_add(sum, f->b + p->l4_off, p->l4_len)), 0);
}

static void test_rewrite_tcp_udp(void **state)
{
	struct frame f;
	struct pkt p, q;
	struct ip_addr pub = A("203.0.113.50"), priv = A("10.0.1.10");
	char s[IP_ADDR_STRLEN];

	build(find_case("v4 tcp syn"), &f); /* 10.0.1.10 -> 10.0.2.20 tcp */
	assert_int_equal(pkt_parse(f.b, f.len, &p), 0);
	assert_int_equal(pkt_rewrite_ipv4(f.b, f.len, &p, PKT_REWRITE_SRC, &pub, 0), 0);
	assert_true(ip_addr_eq(&p.src, &pub));
	verify_l4(&f, &p);
	assert_int_equal(pkt_parse(f.b, f.len, &q), 0);
	assert_string_equal(ip_addr_format(&q.src, s, sizeof(s)), "203.0.113.50");
	assert_int_equal(pkt_rewrite_ipv4(f.b, f.len, &q, PKT_REWRITE_SRC, &priv, 0), 0);
	assert_int_equal(pkt_rewrite_ipv4(f.b, f.len, &q, PKT_REWRITE_DST, &pub, 0), 0);
	verify_l4(&f, &q);
	assert_int_equal(pkt_parse(f.b, f.len, &p), 0);
	assert_true(ip_addr_eq(&p.dst, &pub));

	/* UDP with and without a checksum. */
	build(find_case("v4 options udp"), &f);
	assert_int_equal(pkt_parse(f.b, f.len, &p), 0);
	assert_int_equal(pkt_rewrite_ipv4(f.b, f.len, &p, PKT_REWRITE_DST, &pub, 0), 0);
	verify_l4(&f, &p);
	set16(f.b + p.l4_off + 6, 0);
	assert_int_equal(pkt_rewrite_ipv4(f.b, f.len, &p, PKT_REWRITE_DST, &priv, 0), 0);
	assert_int_equal(get16(f.b + p.l4_off + 6), 0);
	assert_int_equal(csum_ip(f.b + p.l3_off, 32), 0);

	/* Later fragment: IP header only. */
	build(find_case("v4 later fragment"), &f);
	assert_int_equal(pkt_parse(f.b, f.len, &p), 0);
	uint8_t before[1500];
	memcpy(before, f.b + 34, 1480);
	assert_int_equal(pkt_rewrite_ipv4(f.b, f.len, &p, PKT_REWRITE_SRC, &pub, 0), 0);
	assert_int_equal(csum_ip(f.b + p.l3_off, 20), 0);
	assert_memory_equal(before, f.b + 34, 1480);

	/* CHECKSUM_PARTIAL: the field holds fold(pseudo-header), uncomplemented. */
	build(find_case("v4 tcp syn"), &f);
	assert_int_equal(pkt_parse(f.b, f.len, &p), 0);
	uint8_t *ip = f.b + p.l3_off;
	set16(f.b + p.l4_off + 16,
	      (uint16_t)~csum_fold(csum_pseudo_v4(ip + 12, ip + 16, P_TCP, p.l4_len)));
	assert_int_equal(
	    pkt_rewrite_ipv4(f.b, f.len, &p, PKT_REWRITE_SRC, &pub, PKT_REWRITE_L4_PARTIAL), 0);
	assert_int_equal(get16(f.b + p.l4_off + 16),
			 (uint16_t)~csum_fold(csum_pseudo_v4(ip + 12, ip + 16, P_TCP, p.l4_len)));

	/* Refusals. */
	build(find_case("v6 tcp ecn syn"), &f); /* IPv6 */
	assert_int_equal(pkt_parse(f.b, f.len, &p), 0);
	assert_int_equal(pkt_rewrite_ipv4(f.b, f.len, &p, PKT_REWRITE_SRC, &pub, 0), -EINVAL);
	build(find_case("v4 tcp syn"), &f);
	assert_int_equal(pkt_parse(f.b, f.len, &p), 0);
	struct ip_addr v6 = A("2001:db8::1");
	assert_int_equal(pkt_rewrite_ipv4(f.b, f.len, &p, PKT_REWRITE_SRC, &v6, 0), -EINVAL);
	assert_int_equal(pkt_rewrite_ipv4(f.b, f.len - 1, &p, PKT_REWRITE_SRC, &pub, 0), -EINVAL);
}

/* An error from the internet about a packet our instance sent through the
 * 1:1 NAT: the outer destination and the quoted source are the public
 * address; after the rewrite both are private and every checksum,
 * including the quoted UDP one, is what the private packet had. */
static void test_rewrite_icmp_error(void **state)
{
	struct frame orig_priv = {0}, orig_pub = {0}, f = {0};
	struct pkt p, q;
	struct ip_addr priv = A("10.0.1.10");

	ipv4(&orig_priv, P_UDP, "10.0.1.10", "198.51.100.7");
	udp(&orig_priv, 5555, 53);
	payload(&orig_priv, 20);
	ipv4(&orig_pub, P_UDP, "203.0.113.50", "198.51.100.7");
	udp(&orig_pub, 5555, 53);
	payload(&orig_pub, 20);
	eth(&f, 0x0800);
	ipv4(&f, P_ICMP, "198.51.100.1", "203.0.113.50");
	icmp(&f, 3, 3, 0);
	quote(&f, &orig_pub, 28);
	finish(&f);
	finish(&orig_priv);

	assert_int_equal(pkt_parse(f.b, f.len, &p), 0);
	assert_int_equal(pkt_rewrite_ipv4(f.b, f.len, &p, PKT_REWRITE_DST, &priv, 0), 0);
	verify_l4(&f, &p);
	assert_true(ip_addr_eq(&p.inner.src, &priv));
	/* The quote is now byte for byte the private packet's first 28. */
	assert_memory_equal(f.b + p.inner.l3_off, orig_priv.b, 28);
	assert_int_equal(pkt_parse(f.b, f.len, &q), 0);
	assert_true(ip_addr_eq(&q.inner.src, &priv));
	assert_true(ip_addr_eq(&q.dst, &priv));

	/* An outgoing error (our instance answers a probe from outside):
	 * rewriting the outer source fixes the quoted destination. */
	struct frame g = {0}, in_priv = {0}, in_pub = {0};
	struct ip_addr pub = A("203.0.113.50");
	ipv4(&in_priv, P_TCP, "198.51.100.7", "10.0.1.10");
	tcp(&in_priv, 40000, 8080, PKT_TCP_SYN);
	ipv4(&in_pub, P_TCP, "198.51.100.7", "203.0.113.50");
	tcp(&in_pub, 40000, 8080, PKT_TCP_SYN);
	finish(&in_pub);
	eth(&g, 0x0800);
	ipv4(&g, P_ICMP, "10.0.1.10", "198.51.100.7");
	icmp(&g, 3, 3, 0);
	quote(&g, &in_priv, 40); /* whole TCP header: its checksum too */
	finish(&g);
	assert_int_equal(pkt_parse(g.b, g.len, &p), 0);
	assert_int_equal(pkt_rewrite_ipv4(g.b, g.len, &p, PKT_REWRITE_SRC, &pub, 0), 0);
	verify_l4(&g, &p);
	assert_memory_equal(g.b + p.inner.l3_off, in_pub.b, 40);

	/* A quoted UDP datagram without a checksum keeps 0; a quoted later
	 * fragment has only its IP header rewritten. Checksums still hold. */
	struct frame nock = {0}, k = {0};
	ipv4(&nock, P_UDP, "203.0.113.50", "198.51.100.7");
	udp(&nock, 5555, 53);
	finish(&nock);
	set16(nock.b + nock.l4 + 6, 0);
	eth(&k, 0x0800);
	ipv4(&k, P_ICMP, "198.51.100.1", "203.0.113.50");
	icmp(&k, 3, 3, 0);
	mark(&k, -PKT_MAL_ICMP_INNER);
	put(&k, nock.b, 28);
	finish(&k);
	assert_int_equal(pkt_parse(k.b, k.len, &p), 0);
	assert_int_equal(pkt_rewrite_ipv4(k.b, k.len, &p, PKT_REWRITE_DST, &priv, 0), 0);
	verify_l4(&k, &p);
	assert_int_equal(get16(k.b + p.inner.l4_off + 6), 0);
	assert_int_equal(csum_ip(k.b + p.inner.l3_off, 20), 0);

	struct frame fr = {0}, m = {0};
	ipv4(&fr, P_UDP, "203.0.113.50", "198.51.100.7");
	ipv4_frag(&fr, 1480, false);
	payload(&fr, 8);
	eth(&m, 0x0800);
	ipv4(&m, P_ICMP, "198.51.100.1", "203.0.113.50");
	icmp(&m, 11, 1, 0);
	quote(&m, &fr, 28);
	finish(&m);
	assert_int_equal(pkt_parse(m.b, m.len, &p), 0);
	assert_int_equal(p.inner.l4_off, 0);
	assert_int_equal(pkt_rewrite_ipv4(m.b, m.len, &p, PKT_REWRITE_DST, &priv, 0), 0);
	verify_l4(&m, &p);
	assert_true(ip_addr_eq(&p.inner.src, &priv));
	assert_int_equal(csum_ip(m.b + p.inner.l3_off, 20), 0);

	/* A quoted address that is not the translated one stays. */
	struct frame h = {0};
	eth(&h, 0x0800);
	ipv4(&h, P_ICMP, "198.51.100.1", "203.0.113.50");
	icmp(&h, 3, 3, 0);
	quote(&h, &orig_priv, 28); /* quotes 10.0.1.10, not the public one */
	finish(&h);
	assert_int_equal(pkt_parse(h.b, h.len, &p), 0);
	assert_int_equal(pkt_rewrite_ipv4(h.b, h.len, &p, PKT_REWRITE_DST, &priv, 0), 0);
	verify_l4(&h, &p);
	assert_memory_equal(h.b + p.inner.l3_off, orig_priv.b, 28);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_frames),
	    cmocka_unit_test(test_truncated_caplen),
	    cmocka_unit_test(test_truncated_headers),
	    cmocka_unit_test(test_malformed_ipv4),
	    cmocka_unit_test(test_malformed_l4),
	    cmocka_unit_test(test_malformed_ipv6),
	    cmocka_unit_test(test_malformed_arp_nd),
	    cmocka_unit_test(test_malformed_names),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_icmp_classes),
	    cmocka_unit_test(test_arp_reply),
	    cmocka_unit_test(test_na),
	    cmocka_unit_test(test_checksum_vectors),
	    cmocka_unit_test(test_checksum_reference),
	    cmocka_unit_test(test_checksum_incremental),
	    cmocka_unit_test(test_rewrite_tcp_udp),
	    cmocka_unit_test(test_rewrite_icmp_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
