/*
 * The route stage between ENIs of two VPCs (AWS-SEMANTICS §9): the
 * sender's subnet route table must send the receiver's address to an
 * active VPC peering connection joining exactly these two VPCs (no
 * transitive routing: a peering leads only into its peer, and only to
 * the peer's own blocks). The reply is the same question asked of the
 * receiver's table. The NACLs of both subnets and both ENIs' SGs are the
 * pipeline's ordinary stages; group references across the peering are
 * sg.c's (a group's members are lab-wide).
 *
 * Not for: transit gateways (route_tgw.c), the internet gateway hairpin.
 */
#include "route-private.h"
#include "pipeline-private.h"

#include <string.h>

static bool same_id(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* Whether the peering joins the VPCs of a and b, either way round. */
static bool peering_joins(const struct lab *lab, const struct gateway *g, int32_t va, int32_t vb)
{
	if (!valid_index(va, lab->n_vpcs) || !valid_index(vb, lab->n_vpcs))
		return false;
	const char *a = lab->vpcs[va].id, *b = lab->vpcs[vb].id;
	return (same_id(g->vpc_id, a) && same_id(g->peer_vpc_id, b)) ||
	       (same_id(g->vpc_id, b) && same_id(g->peer_vpc_id, a));
}

/* The peer's blocks only: a peering never carries traffic on to a third
 * network (no edge-to-edge routing). */
static bool in_vpc_blocks(const struct lab *lab, int32_t vpc, const struct ip_addr *a)
{
	const struct vpc *v = &lab->vpcs[vpc];
	const struct ip_prefix *blocks = a->family == IP_V6 ? v->cidrs6 : v->cidrs;
	size_t n = a->family == IP_V6 ? v->n_cidrs6 : v->n_cidrs;
	for (size_t i = 0; i < n; i++)
		if (ip_prefix_contains(&blocks[i], a))
			return true;
	return false;
}

static void route_via_peering(const struct lab *lab, int32_t va, int32_t vb,
			      const struct ip_addr *dst, const struct route *via,
			      struct stage_verdict *v)
{
	v->gateway = route_find_gateway(lab, GW_PEERING, via->target);
	v->reason = REASON_PEERING_MISMATCH;
	if (v->gateway < 0)
		return;
	const struct gateway *g = &lab->gateways[v->gateway];
	if (g->state && strcmp(g->state, "active"))
		return;
	if (!peering_joins(lab, g, va, vb) || !in_vpc_blocks(lab, vb, dst))
		return;
	v->verdict = VERDICT_ACCEPT;
	v->reason = REASON_ROUTE_PEERING;
}

void route_between_vpcs(const struct lab *lab, const struct eni *a, const struct eni *b,
			const struct flow *f, struct stage_verdict *v)
{
	v->reason = REASON_OTHER_VPC;
	const struct route_table *rt = route_subnet_table(lab, a->subnet, &v->route_table);
	v->route = rt ? route_lookup(lab, rt, &f->dst, false) : -1;
	if (v->route < 0)
		return;
	const struct route *via = &rt->routes[v->route];
	if (via->blackhole)
		v->reason = REASON_BLACKHOLE;
	else if (via->kind == ROUTE_PEERING)
		route_via_peering(lab, eni_vpc(lab, a), eni_vpc(lab, b), &f->dst, via, v);
	else if (via->kind == ROUTE_TGW)
		route_via_tgw(lab, a->subnet, b->subnet, &f->dst, via, v);
}
