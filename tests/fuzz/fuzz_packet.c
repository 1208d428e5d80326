/*
 * libFuzzer harness for rules/packet: any byte string is a captured frame.
 * The parser must not read outside it (ASan), must not hit undefined
 * behaviour (UBSan), and what it accepts must be self-consistent; the ARP
 * and NA builders and the NAT rewrite are driven from every accepted frame
 * and their output must parse back. Built with -DVPCFW_FUZZ=ON
 * (tests/fuzz/CMakeLists.txt) and run by .ci/fuzz from the seeds in
 * tests/fuzz/corpus/fuzz_packet/ (the frames of tests/data/packet-golden.pcap);
 * by hand, as fuzz_load.c says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "packet.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static void check_parsed(const struct pkt *p, size_t len)
{
	if (p->kind != PKT_IPV4 && p->kind != PKT_IPV6)
		return;
	size_t end = (size_t)p->l3_off + p->l3_len;
	CHECK(end <= len);
	CHECK(p->src.family == p->dst.family);
	if (!p->l4_off) {
		CHECK(p->later_fragment && !p->has_ports && !p->has_icmp);
		return;
	}
	CHECK(p->l4_off <= end && p->l4_off + p->l4_len == end);
	if (p->has_ports || p->has_icmp)
		CHECK(p->payload_off + (size_t)p->payload_len <= end);
	if (p->icmp_error) {
		CHECK(p->inner.src.family == p->src.family);
		CHECK(p->inner.l3_off >= p->l4_off + 8u && p->inner.l3_off < end);
		if (p->inner.l4_off)
			CHECK(p->inner.l4_off + 8u <= end);
	}
}

static void try_builders(const struct pkt *p)
{
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
	uint8_t buf[128];
	struct pkt q;
	int n;

	n = pkt_build_arp_reply(p, mac, buf, sizeof(buf));
	if (n > 0) {
		CHECK(pkt_parse(buf, (size_t)n, &q) == 0 && q.kind == PKT_ARP);
		CHECK(q.arp.op == PKT_ARP_REPLY);
	}
	n = pkt_build_na(p, mac, true, buf, sizeof(buf));
	if (n > 0) {
		CHECK(pkt_parse(buf, (size_t)n, &q) == 0);
		CHECK(q.icmp_type == PKT_ICMP6_NEIGH_ADVERT && q.has_nd_lladdr);
		uint32_t sum = csum_pseudo_v6(q.src.b, q.dst.b, 58, q.l4_len);
		CHECK(csum_fold(csum_add(sum, buf + q.l4_off, q.l4_len)) == 0);
	}
}

static void try_rewrite(const uint8_t *data, size_t size, const struct pkt *p)
{
	struct ip_addr pub = {.family = IP_V4, .b = {203, 0, 113, 50}};
	struct pkt q = *p, r;
	uint8_t *copy;

	if (p->kind != PKT_IPV4)
		return;
	copy = malloc(size);
	if (!copy)
		return;
	memcpy(copy, data, size);
	CHECK(pkt_rewrite_ipv4(copy, size, &q, PKT_REWRITE_SRC, &pub, 0) == 0);
	CHECK(pkt_rewrite_ipv4(copy, size, &q, PKT_REWRITE_DST, &pub, 0) == 0);
	/* Still valid: the header checksum was fixed incrementally. */
	CHECK(pkt_parse(copy, size, &r) == 0);
	CHECK(r.kind == PKT_IPV4 && ip_addr_eq(&r.src, &pub) && ip_addr_eq(&r.dst, &pub));
	CHECK(r.proto == p->proto && r.sport == p->sport && r.dport == p->dport);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt p;
	int r = pkt_parse(data, size, &p);

	CHECK(r <= 0 && r > -PKT_MAL__COUNT);
	if (r < 0)
		return 0;
	check_parsed(&p, size);
	try_builders(&p);
	try_rewrite(data, size, &p);
	return 0;
}
