/*
 * Golden test of rules/packet on real traffic (OVS's pcap-driven tests):
 * tests/data/packet-golden.pcap holds what tcpdump captured on an
 * instance's link while ping, ping -6, socat and curl ran through a router
 * namespace (ARP, router and neighbor solicitation, echo, TCP over both
 * families, RST, port unreachable, time exceeded, fragmentation needed,
 * packet too big, IPv4 and IPv6 fragments, net unreachable); it was made by
 * tests/data/packet-golden-capture.sh. Each frame is parsed and described
 * on one line, and the lines must equal tests/data/packet-golden.txt,
 * which was checked by hand against `tcpdump -nn -e -v -r`.
 * VPCFW_UPDATE_GOLDEN=1 rewrites the .txt (review the diff!).
 *
 * The pcap file format is read here directly (classic libpcap, either
 * byte order, micro- or nanosecond) so the test links only vpcfw_rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "packet.h"

struct out {
	char *s;
	size_t len, cap;
};

static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->s + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < o->cap - o->len)
			break;
		o->cap = o->cap * 2 + (size_t)n + 64;
		char *grown = realloc(o->s, o->cap);
		assert_non_null(grown);
		o->s = grown;
	}
	o->len += (size_t)n;
}

static const char *fmt_addr(const struct ip_addr *a, char *buf)
{
	return ip_addr_format(a, buf, IP_ADDR_STRLEN);
}

static const char *fmt_mac(const uint8_t *m, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static void describe_inner(struct out *o, const struct pkt_inner *in)
{
	char a[IP_ADDR_STRLEN], b[IP_ADDR_STRLEN];

	outf(o, " | inner %s > %s proto %u", fmt_addr(&in->src, a), fmt_addr(&in->dst, b),
	     in->proto);
	if (in->has_ports)
		outf(o, " ports %u > %u", in->sport, in->dport);
	if (in->has_icmp)
		outf(o, " icmp %u/%u id %u", in->icmp_type, in->icmp_code, in->icmp_id);
}

static void describe_l4(struct out *o, const struct pkt *p)
{
	char a[IP_ADDR_STRLEN], m[18];

	if (p->has_ports && p->proto == 6)
		outf(o, " tcp %u > %u flags 0x%02x payload %u", p->sport, p->dport, p->tcp_flags,
		     p->payload_len);
	else if (p->has_ports)
		outf(o, " udp %u > %u payload %u", p->sport, p->dport, p->payload_len);
	if (p->has_icmp) {
		outf(o, " icmp %u/%u", p->icmp_type, p->icmp_code);
		if (p->icmp_id || p->icmp_seq)
			outf(o, " id %u seq %u", p->icmp_id, p->icmp_seq);
	}
	if (p->nd_target.family)
		outf(o, " target %s flags 0x%02x", fmt_addr(&p->nd_target, a), p->nd_flags);
	if (p->has_nd_lladdr)
		outf(o, " lladdr %s", fmt_mac(p->nd_lladdr, m));
	if (p->icmp_error)
		describe_inner(o, &p->inner);
}

static void describe(struct out *o, unsigned n, const struct pkt *p, int rc)
{
	char a[IP_ADDR_STRLEN], b[IP_ADDR_STRLEN], m1[18], m2[18];

	outf(o, "%u ", n);
	if (rc < 0) {
		outf(o, "malformed %s\n", pkt_malformed_name(rc));
		return;
	}
	outf(o, "%s > %s ", fmt_mac(p->src_mac, m1), fmt_mac(p->dst_mac, m2));
	if (p->has_vlan)
		outf(o, "vlan %u ", p->vlan_tci & 0xfff);
	switch (p->kind) {
	case PKT_OTHER:
		outf(o, "other 0x%04x\n", p->ethertype);
		return;
	case PKT_ARP:
		outf(o, "arp op %u %s %s > %s %s\n", p->arp.op, fmt_mac(p->arp.sha, m1),
		     fmt_addr(&p->arp.spa, a), fmt_mac(p->arp.tha, m2), fmt_addr(&p->arp.tpa, b));
		return;
	default:
		break;
	}
	outf(o, "%s %s > %s ttl %u len %u proto %u l4 @%u", p->kind == PKT_IPV4 ? "ipv4" : "ipv6",
	     fmt_addr(&p->src, a), fmt_addr(&p->dst, b), p->ttl, p->l3_len, p->proto, p->l4_off);
	if (p->is_fragment)
		outf(o, " frag id 0x%x off %u%s", p->frag_id, p->frag_offset,
		     p->frag_more ? " more" : "");
	describe_l4(o, p);
	outf(o, "\n");
}

static uint32_t rd32(const uint8_t *b, bool swap)
{
	uint32_t v;

	memcpy(&v, b, 4);
	return swap ? __builtin_bswap32(v) : v;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n;

	if (!f)
		return NULL;
	*len = 0;
	do {
		cap = cap * 2 + 65536;
		uint8_t *grown = realloc(buf, cap);
		assert_non_null(grown);
		buf = grown;
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
	} while (*len == cap);
	fclose(f);
	return buf;
}

/* Parses every record of a classic pcap file; returns the number. */
static unsigned describe_pcap(const uint8_t *b, size_t len, struct out *o)
{
	unsigned n = 0;
	size_t off = 24;
	bool swap = false;

	assert_true(len >= 24);
	uint32_t magic;
	memcpy(&magic, b, 4);
	if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du)
		swap = false;
	else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u)
		swap = true;
	else
		fail_msg("not a classic pcap file");
	assert_int_equal(rd32(b + 20, swap), 1); /* LINKTYPE_ETHERNET */

	while (off + 16 <= len) {
		uint32_t caplen = rd32(b + off + 8, swap);
		struct pkt p;
		uint8_t *frame;
		int rc;

		off += 16;
		assert_true(caplen <= len - off);
		frame = malloc(caplen ? caplen : 1); /* exact size: ASan sees overreads */
		assert_non_null(frame);
		memcpy(frame, b + off, caplen);
		rc = pkt_parse(frame, caplen, &p);
		describe(o, ++n, &p, rc);
		free(frame);
		off += caplen;
	}
	assert_int_equal(off, len);
	return n;
}

static void test_golden(void **state)
{
	const char *src = getenv("VPCFW_SOURCE_DIR");
	char pcap_path[4096], txt_path[4096];
	struct out o = {0};
	uint8_t *pcap, *want;
	size_t pcap_len, want_len;

	if (!src) {
		print_message("VPCFW_SOURCE_DIR not set (run through ctest)\n");
		skip();
	}
	snprintf(pcap_path, sizeof(pcap_path), "%s/tests/data/packet-golden.pcap", src);
	snprintf(txt_path, sizeof(txt_path), "%s/tests/data/packet-golden.txt", src);
	pcap = slurp(pcap_path, &pcap_len);
	if (!pcap)
		fail_msg("cannot read %s", pcap_path);
	unsigned n = describe_pcap(pcap, pcap_len, &o);
	free(pcap);
	print_message("%u frames\n", n);

	if (getenv("VPCFW_UPDATE_GOLDEN")) {
		FILE *f = fopen(txt_path, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(o.s, 1, o.len, f), o.len);
		fclose(f);
	}
	want = slurp(txt_path, &want_len);
	if (!want)
		fail_msg("cannot read %s", txt_path);
	/* Report the first differing line, not just "differs". */
	const char *g = o.s, *w = (const char *)want;
	size_t gl = o.len, wl = want_len;
	for (unsigned line = 1; gl || wl; line++) {
		const char *ge = memchr(g, '\n', gl), *we = memchr(w, '\n', wl);
		size_t gn = ge ? (size_t)(ge - g) + 1 : gl, wn = we ? (size_t)(we - w) + 1 : wl;
		if (gn != wn || memcmp(g, w, gn) != 0)
			fail_msg("line %u:\n got: %.*s\nwant: %.*s", line, (int)gn, g, (int)wn, w);
		g += gn, gl -= gn, w += wn, wl -= wn;
	}
	free(want);
	free(o.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
