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
	static const struct {
		int proto;
		const char *name;
	} names[] = {
	    {PROTO_ALL, "all traffic"}, {PROTO_TCP, "tcp"},	  {PROTO_UDP, "udp"},
	    {PROTO_ICMP, "icmp"},	{PROTO_ICMPV6, "icmpv6"},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].proto == proto) {
			snprintf(buf, len, "%s", names[i].name);
			return buf;
		}
	snprintf(buf, len, "proto %d", proto);
	return buf;
}
