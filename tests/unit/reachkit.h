/*
 * What the tests comparing diff's reachability with check share
 * (test_reach.c, test_nlb.c): check's verdict on one key of a reach
 * class. Include after cmocka.h.
 */
#ifndef VPCFW_TEST_REACHKIT_H
#define VPCFW_TEST_REACHKIT_H

#include <stdbool.h>

#include "pipeline.h"
#include "reach-private.h"

/* check's verdict on key of class c from src (address sa) to dst (da),
 * the request from source port sport (TCP/UDP), its reply over the whole
 * ephemeral range as diff evaluates it. hairpin: to dst's public IP (da
 * its private address, as query_build gives it). */
static inline bool reachkit_check(const struct lab *lab, const struct pipeline_end *src,
				  const struct pipeline_end *dst, const struct ip_addr *sa,
				  const struct ip_addr *da, enum reach_class c, uint32_t key,
				  uint16_t sport, const struct reach_opts *o, bool hairpin)
{
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.via_public = hairpin;
	q.client = *src;
	q.server = *dst;
	q.request.src = *sa;
	q.request.dst = *da;
	q.request.proto = c == REACH_OTHER ? (uint8_t)key : reach_class_proto(c, sa->family);
	if (c == REACH_TCP || c == REACH_UDP) {
		q.request.dport = (uint16_t)key;
		q.request.sport = sport;
	} else if (c == REACH_ICMP) {
		q.request.icmp_type = (uint8_t)(key >> 8);
		q.request.icmp_code = (uint8_t)(key & 0xff);
	}
	q.eph_lo = o->eph_lo;
	q.eph_hi = o->eph_hi;
	struct pipeline_check res;
	pipeline_check(lab, &q, &res);
	return res.verdict == VERDICT_ACCEPT;
}

#endif
