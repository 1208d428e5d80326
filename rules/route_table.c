/*
 * Route tables and gateways as the route stage's hops look them up: a
 * subnet's table (explicit association, else the main one), the longest
 * prefix match in it, a gateway by kind and id. The lowest layer of the
 * route stage: route.c, route_nat.c, route_peer.c and route_tgw.c call
 * it; it calls none of them.
 */
#include "pipeline-private.h"
#include "route-private.h"

#include <string.h>

const struct route_table *route_subnet_table(const struct lab *lab, int32_t subnet, int32_t *index)
{
	*index = -1;
	if (!valid_index(subnet, lab->n_subnets))
		return NULL;
	*index = lab->subnets[subnet].route_table;
	return valid_index(*index, lab->n_route_tables) ? &lab->route_tables[*index] : NULL;
}

/* Whether a route's destination lies inside a block of the table's VPC:
 * the local route itself or a route more specific than it (§9). */
static bool route_in_vpc(const struct lab *lab, const struct route_table *rt, const struct route *r)
{
	if (!valid_index(rt->vpc, lab->n_vpcs))
		return false;
	const struct vpc *v = &lab->vpcs[rt->vpc];
	const struct ip_prefix *blocks = r->dest.addr.family == IP_V6 ? v->cidrs6 : v->cidrs;
	size_t n = r->dest.addr.family == IP_V6 ? v->n_cidrs6 : v->n_cidrs;
	for (size_t i = 0; i < n; i++)
		if (ip_prefix_covers(&blocks[i], &r->dest))
			return true;
	return false;
}

/* A packet to an address of the VPC never takes 0.0.0.0/0. */
int32_t route_lookup(const struct lab *lab, const struct route_table *rt, const struct ip_addr *a,
		     bool in_vpc)
{
	int32_t best = -1;
	for (size_t i = 0; i < rt->n_routes; i++) {
		if (!ip_prefix_contains(&rt->routes[i].dest, a))
			continue;
		if (in_vpc && rt->routes[i].kind != ROUTE_LOCAL &&
		    !route_in_vpc(lab, rt, &rt->routes[i]))
			continue;
		if (best < 0 || rt->routes[i].dest.len > rt->routes[best].dest.len)
			best = (int32_t)i;
	}
	return best;
}

static bool id_is(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

int32_t route_find_gateway(const struct lab *lab, enum gateway_kind kind, const char *id)
{
	for (size_t i = 0; i < lab->n_gateways; i++)
		if (lab->gateways[i].kind == kind && id_is(lab->gateways[i].id, id))
			return (int32_t)i;
	return -1;
}
