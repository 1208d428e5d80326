/*
 * NAT gateways in the forwarding decision (AWS-SEMANTICS §4, §9). A public
 * NAT gateway sends what an instance behind it opens to the internet from
 * its Elastic IP and a port it picks, takes back only the replies to that
 * port from the very host and port the connection went to, and its flows
 * are tracked on the instance's ENI whatever the security groups say.
 * Its subnet's NACL sees the reply come in to the gateway's own port. A
 * private NAT gateway does the same with its private IP.
 *
 * Which packets take a NAT gateway is the route stage's (route_nat.c); the
 * table of translations is natgw.c; the frame rewrite is the data path's.
 */
#include "forward-private.h"

#include <errno.h>
#include <string.h>

#include "model_index.h"
#include "natgw.h"
#include "packet.h"
#include "pipeline-private.h"

void fwd_nat_route_in(const struct lab *lab, const struct fwd_input *in,
		      const struct pipeline_end *s, const struct pipeline_end *t,
		      const struct flow *f, struct pipeline_result *r)
{
	struct stage_verdict v, hop;
	pipeline_route_stage(lab, s, t, f, &v);
	pipeline_collect(r, &v);
	int32_t subnet = pipeline_route_nat_subnet(lab, &v);
	const struct eni *inside = end_eni(lab, t);
	if (v.verdict != VERDICT_ACCEPT || subnet < 0 || !inside)
		return;
	/* ICMP has no port for a NACL: the echo identifier is not one */
	bool ports = f->proto == PROTO_TCP || f->proto == PROTO_UDP;
	struct flow at_gateway = *f;
	if (ports)
		at_gateway.dport = in->nat_port;
	pipeline_nat_crossing(lab, v.gateway, subnet, false, false, &at_gateway, at_gateway.dport,
			      at_gateway.dport, &hop);
	pipeline_collect(r, &hop);
	pipeline_nat_crossing(lab, v.gateway, subnet, true, inside->subnet == subnet, f, f->dport,
			      f->dport, &hop);
	pipeline_collect(r, &hop);
}

void fwd_nat_judge(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d)
{
	const struct stage_verdict *v = fwd_stage_of(&d->res, STAGE_ROUTE);
	if (!v || v->verdict != VERDICT_ACCEPT || v->reason != REASON_ROUTE_NAT ||
	    !valid_index(v->gateway, lab->n_gateways))
		return;
	d->nat.gateway = v->gateway;
	for (int i = 0; i < 2; i++)
		if (d->side[i].ct == FWD_CT_UNTRACKED)
			d->side[i].ct = FWD_CT_INSERT;
	const struct gateway *g = &lab->gateways[v->gateway];
	if (d->path != FWD_PATH_OUT || in->wire.src.family != IP_V4)
		return;
	d->nat.out = true;
	/* its Elastic IP, a private gateway's private IP (none: nothing to
	 * translate to, forward_nat_commit drops it); the outside end's view
	 * keeps the inside address: it has no zone, and check's response
	 * comes back through the gateway's table to it (in->reply), as the
	 * data path's does by forward_nat_packet */
	d->xlate.src.has_addr = gateway_nat_addr(g, &d->xlate.src.addr);
}
