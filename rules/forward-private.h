/*
 * What the forwarding decision's files share (forward.c: resolve and
 * judge; forward_ct.c: the data path's conntrack half; forward_nat.c:
 * NAT gateways). Nobody else includes this.
 */
#ifndef VPCFW_FORWARD_PRIVATE_H
#define VPCFW_FORWARD_PRIVATE_H

#include "forward.h"

/* The result's stage of that kind (the first), or NULL. */
static inline struct stage_verdict *fwd_stage_of(struct pipeline_result *r, enum pipeline_stage s)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->stages[i].stage == s)
			return &r->stages[i];
	return NULL;
}

/* forward_packet, with in.nat_port set (a NAT gateway's reply). */
void fwd_packet_as(const struct lab *lab, struct conntrack *ct, uint64_t now_ns,
		   const struct fwd_port *port, const struct pkt *p, uint16_t nat_port,
		   struct fwd_decision *d);

/* What the decision does for a NAT gateway once the stages are known: the
 * Elastic IP as source outbound, the flow force-tracked on the instance's
 * ENI (AWS-SEMANTICS §4). forward_judge calls it. */
void fwd_nat_judge(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d);

/* The route stage and the NAT gateway's two hops for a reply with
 * in->nat_port: its subnet's NACL sees the reply come in to the gateway's
 * own port (stages_composed calls it). */
void fwd_nat_route_in(const struct lab *lab, const struct fwd_input *in,
		      const struct pipeline_end *s, const struct pipeline_end *t,
		      const struct flow *f, struct pipeline_result *r);

#endif
