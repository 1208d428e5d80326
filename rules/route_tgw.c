/*
 * The transit gateway hop of the route stage (AWS-SEMANTICS §9): a
 * subnet's route sends the packet to tgw-X; it enters X through the
 * sender VPC's attachment, which needs a subnet in the sender's
 * Availability Zone (AWS: "resources in Availability Zones without an
 * attachment subnet cannot reach the transit gateway"); the TGW route
 * table that attachment is associated with decides by longest prefix
 * match among its static routes and the blocks of the VPCs whose
 * attachments propagate to it (a static route beats a propagated one of
 * the same prefix; a blackhole drops); the target attachment delivers
 * into the receiver's VPC through its subnet in the receiver's zone
 * (Batfish's test-transit-gateway drops the packet at the VPC otherwise;
 * the reply could not leave that zone anyway), or to on-premises hosts
 * over a VPN, Direct Connect or Connect attachment. The reply is the same
 * question asked of the receiver's table, so asymmetric paths (two
 * gateways, one per direction) come out as AWS runs them.
 *
 * A route to a peering attachment carries the packet on into the peer
 * gateway (walk_gateways).
 *
 * Not for: the NACLs of the attachment subnets, appliance mode
 * (docs/deviations.md).
 */
#include "route-private.h"
#include "pipeline-private.h"

#include <string.h>

static bool same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* In service: "available", or no state written. */
static bool available(const struct gateway *g)
{
	return !g->state || !strcmp(g->state, "available");
}

/* Whether one of the attachment's subnets lies in az (an unknown zone on
 * the lab's side matches: a lab without zones cannot tell). */
static bool covers_az(const struct lab *lab, const struct gateway *g, const char *az)
{
	if (!az)
		return true;
	for (size_t i = 0; i < g->n_subnet_ids; i++) {
		int32_t s = lab_find_subnet(lab, g->subnet_ids[i]);
		if (s >= 0 && (!lab->subnets[s].az || same(lab->subnets[s].az, az)))
			return true;
	}
	return false;
}

/* The attachment of the VPC vpc to transit gateway tgw, preferring one in
 * az; -1 when the VPC is not attached. */
static int32_t find_attachment(const struct lab *lab, const char *tgw, int32_t vpc, const char *az)
{
	int32_t found = -1;
	for (size_t i = 0; i < lab->n_gateways; i++) {
		const struct gateway *g = &lab->gateways[i];
		if (g->kind != GW_TRANSIT_ATTACH || g->vpc != vpc || !same(g->transit_id, tgw) ||
		    !available(g))
			continue;
		found = (int32_t)i;
		if (covers_az(lab, g, az))
			break;
	}
	return found;
}

static bool is_vpc_attachment(const struct gateway *g)
{
	return !g->detail || !strcmp(g->detail, "vpc");
}

/* The attachment id as seen from transit gateway tgw: the two sides of a
 * peering attachment share its id, each on its own gateway. */
static int32_t attachment_on(const struct lab *lab, const char *id, const char *tgw)
{
	for (size_t i = 0; i < lab->n_gateways; i++) {
		const struct gateway *g = &lab->gateways[i];
		if (g->kind == GW_TRANSIT_ATTACH && same(g->id, id) &&
		    (!g->transit_id || !tgw || same(g->transit_id, tgw)))
			return (int32_t)i;
	}
	return -1;
}

static bool is_peering(const struct gateway *g)
{
	return g->detail && !strcmp(g->detail, "peering");
}

/* The peer gateway's side of peering attachment near (available), or -1. */
static int32_t far_side(const struct lab *lab, const struct gateway *near)
{
	for (size_t i = 0; i < lab->n_gateways; i++) {
		const struct gateway *g = &lab->gateways[i];
		if (g != near && g->kind == GW_TRANSIT_ATTACH && same(g->id, near->id) &&
		    g->transit_id && !same(g->transit_id, near->transit_id) && available(g))
			return (int32_t)i;
	}
	return -1;
}

/* The blocks of a VPC attachment that propagates to the table, as routes
 * competing in h's longest prefix match. */
static void match_propagation(const struct lab *lab, const char *attachment, const char *tgw,
			      const struct ip_addr *dst, struct tgw_hop *h)
{
	int32_t a = attachment_on(lab, attachment, tgw);
	if (a < 0 || !valid_index(lab->gateways[a].vpc, lab->n_vpcs))
		return;
	const struct vpc *v = &lab->vpcs[lab->gateways[a].vpc];
	const struct ip_prefix *blocks = dst->family == IP_V6 ? v->cidrs6 : v->cidrs;
	size_t n = dst->family == IP_V6 ? v->n_cidrs6 : v->n_cidrs;
	for (size_t i = 0; i < n; i++) {
		if (!ip_prefix_contains(&blocks[i], dst) ||
		    (h->route != -1 && blocks[i].len <= h->dest.len))
			continue;
		h->route = TGW_ROUTE_PROPAGATED;
		h->dest = blocks[i];
		h->to = a;
	}
}

/* Longest prefix match in table t of gateway tgw; a static route wins a
 * tie. */
static void match_table(const struct lab *lab, const struct gateway *t, const char *tgw,
			const struct ip_addr *dst, struct tgw_hop *h)
{
	h->route = -1;
	for (size_t i = 0; i < t->n_tgw_routes; i++) {
		const struct tgw_route *r = &t->tgw_routes[i];
		if (!ip_prefix_contains(&r->dest, dst))
			continue;
		bool better = h->route == -1 || r->dest.len > h->dest.len ||
			      (r->dest.len == h->dest.len && !r->propagated);
		if (!better)
			continue;
		h->route = (int32_t)i;
		h->dest = r->dest;
		h->to = r->attachment ? attachment_on(lab, r->attachment, tgw) : -1;
	}
	for (size_t i = 0; i < t->n_propagations; i++)
		match_propagation(lab, t->propagations[i], tgw, dst, h);
}

/* One gateway: the table the entry attachment h->from is associated with
 * picks the target attachment. */
static enum tgw_fault cross(const struct lab *lab, const char *tgw, const struct ip_addr *dst,
			    struct tgw_hop *h)
{
	const struct gateway *from = &lab->gateways[h->from];
	if (!from->n_route_table_ids)
		return TGW_NOT_ASSOCIATED;
	h->table = route_find_gateway(lab, GW_TRANSIT_ROUTES, from->route_table_ids[0]);
	if (h->table < 0)
		return TGW_NOT_ASSOCIATED;
	const struct gateway *t = &lab->gateways[h->table];
	match_table(lab, t, tgw, dst, h);
	if (h->route == -1)
		return TGW_NO_ROUTE;
	if (h->route >= 0 && t->tgw_routes[h->route].blackhole)
		return TGW_BLACKHOLE;
	if (h->to < 0 || !available(&lab->gateways[h->to]))
		return TGW_TARGET_UNUSABLE;
	return TGW_OK;
}

/* Where the target attachment leads: into the receiver's VPC through its
 * zone (dst_subnet >= 0), or to on-premises (dst_subnet < 0). */
static enum tgw_fault deliver(const struct lab *lab, const struct gateway *to, int32_t dst_subnet)
{
	if (!valid_index(dst_subnet, lab->n_subnets))
		return is_vpc_attachment(to) ? TGW_WRONG_VPC : TGW_OK;
	const struct subnet *s = &lab->subnets[dst_subnet];
	if (!is_vpc_attachment(to) || to->vpc != s->vpc)
		return TGW_WRONG_VPC;
	return covers_az(lab, to, s->az) ? TGW_OK : TGW_NO_AZ_DST;
}

/* From the sender's attachment, gateway after gateway: a route to a
 * peering attachment carries the packet into the peer gateway, whose
 * table associated with its side of the attachment decides next (AWS
 * propagates nothing over peering: its static routes and the blocks of
 * its own attachments). */
static void walk_gateways(const struct lab *lab, const char *tgw, int32_t dst_subnet,
			  const struct ip_addr *dst, struct tgw_walk *w)
{
	int32_t enter = w->from;
	for (;;) {
		w->fault = TGW_LOOP;
		if (w->n_hops == TGW_MAX_HOPS)
			return;
		struct tgw_hop *h = &w->hop[w->n_hops++];
		*h = (struct tgw_hop){.from = enter, .table = -1, .route = -1, .to = -1};
		w->fault = cross(lab, tgw, dst, h);
		w->to = h->to;
		if (w->fault != TGW_OK)
			return;
		const struct gateway *to = &lab->gateways[h->to];
		if (!is_peering(to)) {
			w->fault = deliver(lab, to, dst_subnet);
			return;
		}
		enter = far_side(lab, to);
		w->fault = TGW_PEERING;
		if (enter < 0)
			return;
		tgw = lab->gateways[enter].transit_id;
	}
}

void route_tgw_walk(const struct lab *lab, int32_t src_subnet, int32_t dst_subnet,
		    const struct ip_addr *dst, const struct route *via, struct tgw_walk *w)
{
	*w = (struct tgw_walk){.fault = TGW_NOT_ATTACHED, .from = -1, .to = -1};
	if (!valid_index(src_subnet, lab->n_subnets))
		return;
	const struct subnet *s = &lab->subnets[src_subnet];
	w->from = find_attachment(lab, via->target, s->vpc, s->az);
	if (w->from < 0)
		return;
	w->fault = TGW_NO_AZ_SRC;
	if (!covers_az(lab, &lab->gateways[w->from], s->az))
		return;
	walk_gateways(lab, via->target, dst_subnet, dst, w);
}

void route_via_tgw(const struct lab *lab, int32_t src_subnet, int32_t dst_subnet,
		   const struct ip_addr *dst, const struct route *via, struct stage_verdict *v)
{
	struct tgw_walk w;
	route_tgw_walk(lab, src_subnet, dst_subnet, dst, via, &w);
	v->gateway = w.fault == TGW_OK ? w.to : w.from;
	v->verdict = w.fault == TGW_OK ? VERDICT_ACCEPT : VERDICT_REJECT;
	v->reason = w.fault == TGW_OK ? REASON_ROUTE_TGW : REASON_TGW_UNUSABLE;
}
