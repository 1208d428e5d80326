/*
 * The route stage (AWS-SEMANTICS §1, §5, §9): for a flow that touches a
 * host outside the VPC, an ENI of another VPC or an in-VPC address no ENI
 * has, the sender's subnet route table decides by longest prefix match:
 * the local route, an internet gateway (with the public IP of the very
 * private address for IPv4), a NAT gateway (route_nat.c), an egress-only
 * internet gateway, a gateway endpoint, a transit gateway (route_tgw.c),
 * a blackhole, or nothing.
 */
#include "pipeline.h"
#include "pipeline-private.h"
#include "route-private.h"

#include <string.h>

/* Whether the sender's subnet sends a packet to another subnet of its VPC
 * anywhere but the local route: a route more specific than the local
 * route (middlebox routing) or a blackhole one. Inside one subnet no
 * route table is consulted. */
static bool leaves_local_route(const struct lab *lab, const struct eni *from, const struct eni *to,
			       const struct ip_addr *dst)
{
	int32_t index;
	if (from->subnet == to->subnet)
		return false;
	const struct route_table *rt = route_subnet_table(lab, from->subnet, &index);
	if (!rt)
		return false;
	int32_t r = route_lookup(lab, rt, dst, true);
	return r >= 0 && (rt->routes[r].kind != ROUTE_LOCAL || rt->routes[r].blackhole);
}

bool pipeline_needs_route(const struct lab *lab, const struct pipeline_end *src,
			  const struct pipeline_end *dst, const struct flow *f)
{
	if (src->kind == END_SERVICE || dst->kind == END_SERVICE)
		return false;
	if (src->kind == END_OUTSIDE || dst->kind == END_OUTSIDE)
		return true;
	const struct eni *a = end_eni(lab, src), *b = end_eni(lab, dst);
	if (!a || !b)
		return false;
	if (eni_vpc(lab, a) != eni_vpc(lab, b))
		return true;
	/* either direction: the response reuses the request's stage list */
	return leaves_local_route(lab, a, b, &f->dst) || leaves_local_route(lab, b, a, &f->src);
}

static bool is_gateway_endpoint(const struct route *r)
{
	return r->kind == ROUTE_ENDPOINT;
}

static bool is_egress_only_igw(const struct route *r)
{
	return r->kind == ROUTE_EIGW;
}

/* Between two subnets of one VPC, from ENI a: the sender's table decides. */
static void route_inside_vpc(const struct lab *lab, const struct eni *a, const struct flow *f,
			     struct stage_verdict *v)
{
	v->verdict = VERDICT_ACCEPT;
	v->reason = REASON_ROUTE_LOCAL;
	const struct route_table *rt = route_subnet_table(lab, a->subnet, &v->route_table);
	if (!rt)
		return; /* the local route needs no table */
	v->route = route_lookup(lab, rt, &f->dst, true);
	if (v->route < 0)
		return;
	const struct route *via = &rt->routes[v->route];
	if (via->blackhole) {
		v->verdict = VERDICT_REJECT;
		v->reason = REASON_BLACKHOLE;
	} else if (via->kind != ROUTE_LOCAL) {
		v->verdict = VERDICT_REJECT;
		v->reason = REASON_MIDDLEBOX;
	}
}

/* The route to a host outside the VPC, from the ENI inside (its address
 * own, the other end far). */
static void route_to_outside(const struct lab *lab, const struct eni *inside, const struct flow *f,
			     const struct ip_addr *own, const struct ip_addr *far,
			     struct stage_verdict *v)
{
	v->subnet = inside->subnet;
	if (lab_addr_in_vpc(lab, far)) {
		v->reason = REASON_NO_HOST;
		return;
	}
	v->reason = REASON_NO_ROUTE;
	const struct route_table *rt = route_subnet_table(lab, inside->subnet, &v->route_table);
	if (!rt)
		return;
	v->route = route_lookup(lab, rt, far, false);
	if (v->route < 0)
		return;
	const struct route *via = &rt->routes[v->route];
	if (via->blackhole) {
		v->reason = REASON_BLACKHOLE;
		return;
	}
	if (is_gateway_endpoint(via)) {
		/* private path to the service's prefix list: no public IP needed */
		v->verdict = VERDICT_ACCEPT;
		v->reason = REASON_ROUTE_ENDPOINT;
		return;
	}
	if (is_egress_only_igw(via) && far->family == IP_V6) {
		/* per packet the replies must pass too; who opened the
		 * connection is pipeline_check's (or conntrack's) business */
		v->verdict = VERDICT_ACCEPT;
		v->reason = REASON_ROUTE_EIGW;
		return;
	}
	if (via->kind == ROUTE_NAT) {
		route_via_nat(lab, f, far, via, v);
		return;
	}
	if (via->kind == ROUTE_TGW) {
		/* on-premises over a VPN, Direct Connect or Connect attachment */
		route_via_tgw(lab, inside->subnet, -1, far, via, v);
		return;
	}
	if (via->kind == ROUTE_VGW) {
		/* a VPN or Direct Connect: private addresses both ways, and
		 * on-premises hosts may open connections (unlike a NAT) */
		v->verdict = VERDICT_ACCEPT;
		v->reason = REASON_ROUTE_VGW;
		return;
	}
	if (via->kind != ROUTE_IGW)
		return;
	/* the IGW translates IPv4 1:1 to the public IP of that very private
	 * address; IPv6 is global (§5, §9) */
	if (far->family == IP_V4 && !eni_public_of(inside, own)) {
		v->reason = REASON_NO_PUBLIC_IP;
		return;
	}
	v->verdict = VERDICT_ACCEPT;
	v->reason = REASON_ROUTE_IGW;
}

void pipeline_route_stage(const struct lab *lab, const struct pipeline_end *src,
			  const struct pipeline_end *dst, const struct flow *f,
			  struct stage_verdict *v)
{
	verdict_init(v, STAGE_ROUTE);
	v->gateway = -1;
	v->verdict = VERDICT_REJECT;
	const struct eni *a = end_eni(lab, src), *b = end_eni(lab, dst);
	if (a && b) {
		/* the sender's subnet and its table decide */
		v->eni = src->eni;
		v->subnet = a->subnet;
		if (eni_vpc(lab, a) == eni_vpc(lab, b))
			route_inside_vpc(lab, a, f, v);
		else
			route_between_vpcs(lab, a, b, f, v);
		return;
	}
	if (!a && !b) {
		v->reason = REASON_NO_ROUTE;
		return;
	}
	v->eni = a ? src->eni : dst->eni;
	route_to_outside(lab, a ? a : b, f, a ? &f->src : &f->dst, a ? &f->dst : &f->src, v);
}

void pipeline_route_collect(const struct lab *lab, const struct pipeline_end *src,
			    const struct pipeline_end *dst, const struct flow *f, bool reply,
			    uint16_t lo, uint16_t hi, struct pipeline_result *out)
{
	struct stage_verdict v;
	pipeline_route_stage(lab, src, dst, f, &v);
	pipeline_collect(out, &v);
	if (v.reason == REASON_ROUTE_NAT)
		route_nat_hops(lab, src, &v, f, reply, lo, hi, out);
}

bool pipeline_route_outbound_only(enum pipeline_reason r)
{
	return r == REASON_ROUTE_ENDPOINT || r == REASON_ROUTE_EIGW || r == REASON_ROUTE_NAT;
}
