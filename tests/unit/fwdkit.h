/*
 * What the tests of the forwarding decision share (test_forward.c,
 * test_natgw.c): a small tracker and a TCP packet as the parser gives it.
 * Include after cmocka.h and labkit.h.
 */
#ifndef VPCFW_TEST_FWDKIT_H
#define VPCFW_TEST_FWDKIT_H

#include "conntrack.h"
#include "packet.h"

static inline struct conntrack *make_ct(size_t n_zones)
{
	struct ct_config cfg = {
	    .capacity = 64, .n_zones = (uint32_t)n_zones, .allowance = 16, .hash_seed = 7};
	cfg.timeouts = (struct ct_timeouts){.tcp_established = 3600,
					    .tcp_transient = 60,
					    .udp_stream = 180,
					    .udp = 30,
					    .icmp = 30,
					    .other = 600};
	struct conntrack *ct;
	assert_int_equal(ct_create(&cfg, &ct), 0);
	return ct;
}

static inline struct pkt tcp_pkt(const char *src, const char *dst, uint16_t sport,
				 uint16_t dport, uint8_t flags)
{
	return (struct pkt){.kind = PKT_IPV4,
			    .src = kit_addr(src),
			    .dst = kit_addr(dst),
			    .proto = PROTO_TCP,
			    .l3_len = 60,
			    .has_ports = true,
			    .sport = sport,
			    .dport = dport,
			    .tcp_flags = flags};
}

#endif
