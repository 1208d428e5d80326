/*
 * From names to a pipeline_query: what `vpcfw check`, `vpcfw test` and
 * `vpcfw diff` share. Resolves the two endpoints (DESIGN.md contract 3),
 * picks one address family (an IP address or the ICMP flavour fixes it;
 * mixed families are an error), turns outside addresses into outside or
 * AWS-service ends, and fills the request flow with contract 4's defaults
 * (ICMP 8/0 or ICMPv6 128/0, the 32768-60999 ephemeral range).
 *
 * Not for: evaluating (rules/pipeline) or printing; errors come back as
 * text in the caller's buffer, prefixed by nothing.
 *
 * Usage:
 *	struct query_spec s;
 *	query_spec_init(&s);
 *	s.from = "web-1"; s.to = "db-1"; s.proto = PROTO_TCP; s.port = 5432;
 *	struct pipeline_query q;
 *	if (query_build(lab, &s, &q, err, sizeof(err), warn, sizeof(warn)) < 0) ...
 *	pipeline_check(lab, &q, &result);
 */
#ifndef VPCFW_QUERY_H
#define VPCFW_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "pipeline.h"

struct query_spec {
	const char *from, *to; /* instance id, ENI id, Name tag or IP address */
	int proto;	       /* 0..255; PROTO_ALL is not one flow and is refused */
	int port;	       /* TCP/UDP destination port; -1 none (an error for TCP/UDP) */
	int sport; /* TCP/UDP client port; -1: the reply is checked over eph_lo..eph_hi */
	int icmp_type, icmp_code; /* -1: 8/0 (ICMP), 128/0 (ICMPv6) */
	uint16_t eph_lo, eph_hi;
};

void query_spec_init(struct query_spec *s);

/* "tcp", "udp", "icmp", "icmpv6" (any case) or 0..255. 0 or -EINVAL. */
int query_proto_parse(const char *s, int *proto);

/* 0 and *q filled; or a negative errno-style code and the reason in err
 * (-ENOENT unknown name, -EEXIST ambiguous Name tag, -EINVAL bad
 * combination, -EAFNOSUPPORT no common family). warn (may be NULL) gets a
 * warning or an empty string: an outside address inside a VPC CIDR. */
int query_build(const struct lab *lab, const struct query_spec *s, struct pipeline_query *q,
		char *err, size_t errlen, char *warn, size_t warnlen);

#endif
