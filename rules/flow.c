/*
 * Small helpers over struct flow shared by NACL, SG and pipeline
 * evaluation and by their explanations.
 */
#include "flow.h"

#include <stdio.h>

#include "model.h"

bool flow_has_ports(const struct flow *f)
{
	return f->proto == PROTO_TCP || f->proto == PROTO_UDP;
}

bool flow_is_icmp(const struct flow *f)
{
	return f->proto == PROTO_ICMP || f->proto == PROTO_ICMPV6;
}

void flow_reverse(const struct flow *f, struct flow *out)
{
	struct flow r = *f;
	r.src = f->dst;
	r.dst = f->src;
	r.sport = f->dport;
	r.dport = f->sport;
	*out = r;
}

const char *flow_proto_name(int proto, char *buf, size_t len)
{
	switch (proto) {
	case PROTO_ALL:
		snprintf(buf, len, "all traffic");
		break;
	case PROTO_TCP:
		snprintf(buf, len, "tcp");
		break;
	case PROTO_UDP:
		snprintf(buf, len, "udp");
		break;
	case PROTO_ICMP:
		snprintf(buf, len, "icmp");
		break;
	case PROTO_ICMPV6:
		snprintf(buf, len, "icmpv6");
		break;
	default:
		snprintf(buf, len, "proto %d", proto);
		break;
	}
	return buf;
}
