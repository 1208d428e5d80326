/*
 * The NAT gateway hop of the route stage (AWS-SEMANTICS §9): a private
 * subnet's route sends the packet to a NAT gateway, an interface in
 * another (public) subnet with no security group, whose subnet's NACL
 * sees the packet come in from the sender and go out to the internet
 * gateway by that subnet's own route table, the NAT gateway's Elastic IP
 * its source outside; replies take the same crossings back. Who may open
 * a connection through it (only the inside) is a whole-flow question:
 * pipeline_route_outbound_only().
 *
 * A private NAT gateway (ConnectivityType private) is the same hop with
 * its private IP as the source, onwards by its subnet's route table to a
 * transit gateway or a virtual private gateway, never an internet gateway.
 *
 * Not for: the address translation and its tracking on real packets (the
 * daemon's data path).
 */
#include "route-private.h"
#include "pipeline-private.h"

#include <string.h>

static int32_t nat_subnet(const struct lab *lab, int32_t gateway)
{
	if (!valid_index(gateway, lab->n_gateways))
		return -1;
	const struct gateway *g = &lab->gateways[gateway];
	return g->n_subnet_ids ? lab_find_subnet(lab, g->subnet_ids[0]) : -1;
}

int32_t route_nat_onward(const struct lab *lab, int32_t gateway, const struct ip_addr *far,
			 const struct route_table **rt, int32_t *rt_index)
{
	*rt = route_subnet_table(lab, nat_subnet(lab, gateway), rt_index);
	return *rt ? route_lookup(lab, *rt, far, false) : -1;
}

int32_t pipeline_route_nat_subnet(const struct lab *lab, const struct stage_verdict *route)
{
	return route->reason == REASON_ROUTE_NAT ? nat_subnet(lab, route->gateway) : -1;
}

bool route_nat_private(const struct gateway *g)
{
	return g->detail && !strcmp(g->detail, "private");
}

/* A NAT gateway the lab describes, in service: "available" (an export
 * without a state is taken as it). */
static bool nat_usable(const struct lab *lab, int32_t gateway)
{
	const struct gateway *g = &lab->gateways[gateway];
	if (g->state && strcmp(g->state, "available"))
		return false;
	return nat_subnet(lab, gateway) >= 0;
}

/* Where the gateway's subnet sends far leads there: an internet gateway
 * for a public NAT gateway; for a private one a virtual private gateway,
 * or a transit gateway whose route tables carry it to far. */
static bool onward_ok(const struct lab *lab, int32_t gateway, const struct ip_addr *far,
		      const struct route_table *rt, int32_t r)
{
	if (r < 0 || rt->routes[r].blackhole)
		return false;
	const struct route *on = &rt->routes[r];
	if (!route_nat_private(&lab->gateways[gateway]))
		return on->kind == ROUTE_IGW;
	if (on->kind == ROUTE_VGW)
		return true;
	if (on->kind != ROUTE_TGW)
		return false;
	struct tgw_walk w;
	route_tgw_walk(lab, nat_subnet(lab, gateway), -1, far, on, &w);
	return w.fault == TGW_OK;
}

static bool nat_carries(uint8_t proto)
{
	return proto == PROTO_TCP || proto == PROTO_UDP || proto == PROTO_ICMP;
}

void route_via_nat(const struct lab *lab, const struct flow *f, const struct ip_addr *far,
		   const struct route *via, struct stage_verdict *v)
{
	v->gateway = route_find_gateway(lab, GW_NAT, via->target);
	v->reason = REASON_NAT_MISSING;
	/* IPv6 through a NAT gateway is NAT64 (64:ff9b::/96): not modelled */
	if (v->gateway < 0 || !nat_usable(lab, v->gateway) || far->family != IP_V4)
		return;
	if (!nat_carries(f->proto)) {
		v->reason = REASON_NAT_PROTOCOL;
		return;
	}
	const struct route_table *rt;
	int32_t rt_index;
	int32_t r = route_nat_onward(lab, v->gateway, far, &rt, &rt_index);
	if (!onward_ok(lab, v->gateway, far, rt, r)) {
		v->reason = REASON_NAT_NO_ROUTE;
		return;
	}
	v->verdict = VERDICT_ACCEPT;
	v->reason = REASON_ROUTE_NAT;
}

void pipeline_nat_crossing(const struct lab *lab, int32_t gateway, int32_t subnet, bool egress,
			   bool same_subnet, const struct flow *f, uint16_t lo, uint16_t hi,
			   struct stage_verdict *v)
{
	verdict_init(v, egress ? STAGE_NACL_EGRESS : STAGE_NACL_INGRESS);
	v->hop = true;
	v->gateway = gateway;
	v->subnet = subnet;
	if (same_subnet) {
		v->reason = REASON_SAME_SUBNET;
		return;
	}
	pipeline_nacl_rules(lab, subnet, egress, f, lo, hi, v);
}

void route_nat_hops(const struct lab *lab, const struct pipeline_end *src,
		    const struct stage_verdict *route, const struct flow *f, bool reply,
		    uint16_t lo, uint16_t hi, struct pipeline_result *out)
{
	int32_t subnet = nat_subnet(lab, route->gateway);
	const struct eni *inside =
	    valid_index(route->eni, lab->n_enis) ? &lab->enis[route->eni] : NULL;
	if (subnet < 0 || !inside)
		return;
	bool same = inside->subnet == subnet;
	bool outbound = src->kind == END_ENI; /* the inside end sends */
	/* ports: the far end sends to the NAT gateway's own ports */
	uint16_t in_lo = reply && !outbound ? PIPELINE_NAT_PORT_LO : lo;
	uint16_t in_hi = reply && !outbound ? PIPELINE_NAT_PORT_HI : hi;
	if (!reply)
		in_lo = in_hi = lo = hi = f->dport;
	struct stage_verdict v;
	pipeline_nat_crossing(lab, route->gateway, subnet, false, outbound && same, f, in_lo, in_hi,
			      &v);
	pipeline_collect(out, &v);
	pipeline_nat_crossing(lab, route->gateway, subnet, true, !outbound && same, f, lo, hi, &v);
	pipeline_collect(out, &v);
}
