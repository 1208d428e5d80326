/*
 * What the forwarding decision's files share (forward.c: resolve and
 * judge; forward_ct.c: the data path's conntrack half; forward_nat.c:
 * NAT gateways). Nobody else includes this.
 */
#ifndef VPCFW_FORWARD_PRIVATE_H
#define VPCFW_FORWARD_PRIVATE_H

#include "forward.h"

/* The result's stage of that kind (the first not at a hop: a NAT
 * gateway's or a load balancer node's), or NULL. */
static inline struct stage_verdict *fwd_stage_of(struct pipeline_result *r, enum pipeline_stage s)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->stages[i].stage == s && !r->stages[i].hop)
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

/* Load balancer nodes (forward_nlb.c). fwd_nlb_resolve, at the end of
 * forward_resolve: a request to a node's listener retargeted at its
 * target, a reply through it (in->via_nlb) given the node's address. */
void fwd_nlb_resolve(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d);
/* The stages of a packet through a node (d->nlb.lb >= 0), in place of
 * forward_judge's; fwd_nlb_judge then force-tracks it (§4). */
void fwd_nlb_stages(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d);
void fwd_nlb_judge(struct fwd_decision *d);
/* The data path: a packet t from an ENI (port) that a node's zone tracks
 * as a reply sets in->via_nlb and in->nlb; after forward_commit the node's
 * zone tracks (or accounts) the translated flow. */
void fwd_nlb_reply_of(const struct lab *lab, struct conntrack *ct, uint64_t now,
		      const struct fwd_port *port, const struct ct_tuple *t, struct fwd_input *in);
void fwd_nlb_commit(struct conntrack *ct, uint64_t now_ns, uint32_t gen, uint32_t l3_len,
		    struct fwd_decision *d);

#endif
