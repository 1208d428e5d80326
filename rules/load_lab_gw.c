/*
 * The "gateways" of our lab format (docs/lab-format.md): the NAT
 * gateways, peering connections and other gateways a describe-* export
 * carries, written by `vpcfw import` so that the route stage sees the
 * same paths in the imported lab. Ids are AWS's; the route tables name
 * them as their targets.
 */
#include <string.h>

#include "load-lab-private.h"
#include "load.h"

static const struct {
	const char *name;
	enum gateway_kind kind;
} gw_kinds[] = {
    {"internet", GW_INTERNET},
    {"nat", GW_NAT},
    {"endpoint", GW_ENDPOINT},
    {"peering", GW_PEERING},
    {"transit", GW_TRANSIT},
    {"transit-attachment", GW_TRANSIT_ATTACH},
    {"transit-route-table", GW_TRANSIT_ROUTES},
};

const char *lab_gateway_kind_name(enum gateway_kind kind)
{
	for (size_t i = 0; i < sizeof(gw_kinds) / sizeof(gw_kinds[0]); i++)
		if (gw_kinds[i].kind == kind)
			return gw_kinds[i].name;
	return "?";
}

static bool kind_of(struct loader *l, const char *text, const char *path, enum gateway_kind *out)
{
	for (size_t i = 0; i < sizeof(gw_kinds) / sizeof(gw_kinds[0]); i++)
		if (!strcmp(gw_kinds[i].name, text)) {
			*out = gw_kinds[i].kind;
			return true;
		}
	ld_err(l, path,
	       "unknown gateway kind '%s' (internet, nat, endpoint, peering, transit, "
	       "transit-attachment, transit-route-table)",
	       text);
	return false;
}

static void gw_addr(struct loader *l, const json_t *o, const char *key, const char *path, bool *has,
		    struct ip_addr *a)
{
	const char *s;
	if (j_str(l, o, key, path, false, &s))
		*has = ld_addr(l, s, jp_key(l, path, key), IP_V4, a);
}

static const char *const gw_keys[] = {"kind",	   "id",      "name",	      "vpc",
				      "peer_vpc",  "transit", "state",	      "detail",
				      "subnets",   "enis",    "route_tables", "private_ip",
				      "public_ip", "routes",  "propagations", NULL};

static const char *const route_keys[] = {"dest", "attachment", "state", "propagated", NULL};

/* {"dest": CIDR, "attachment": "tgw-attach-…"} or {"dest": CIDR, "state":
 * "blackhole"}; "propagated": true for one a propagation put there. */
static bool tgw_route(struct loader *l, const json_t *o, const char *path, struct tgw_route *r)
{
	const char *dest, *state = "active";
	memset(r, 0, sizeof(*r));
	if (!want_object(l, o, path) || !lab_keys_ok(l, o, path, route_keys) ||
	    !j_str(l, o, "dest", path, true, &dest) ||
	    !ld_prefix(l, dest, jp_key(l, path, "dest"), 0, &r->dest))
		return false;
	j_str(l, o, "state", path, false, &state);
	j_str(l, o, "attachment", path, false, &r->attachment);
	j_bool(l, o, "propagated", path, false, &r->propagated);
	if (!ld_route_state(l, state, jp_key(l, path, "state"), &r->blackhole))
		return false;
	if (!r->blackhole && !r->attachment) {
		ld_err(l, path, "an active route needs an attachment");
		return false;
	}
	return true;
}

static void tgw_routes(struct loader *l, const json_t *o, const char *path, struct gateway *g)
{
	size_t n = json_array_size(json_object_get(o, "routes"));
	g->tgw_routes = arena_calloc(l->a, n ? n : 1, sizeof(*g->tgw_routes));
	if (!g->tgw_routes)
		return;
	EACH(l, o, "routes", path, i, r, rp)
	{
		if (tgw_route(l, r, rp, &g->tgw_routes[g->n_tgw_routes]))
			g->n_tgw_routes++;
	}
}

static void lab_gateway(struct loader *l, const json_t *o, const char *path)
{
	struct gateway g;
	memset(&g, 0, sizeof(g));
	g.vpc = -1;
	g.origin = ld_origin(l, path);
	const char *kind;
	if (!lab_keys_ok(l, o, path, gw_keys) || !j_str(l, o, "kind", path, true, &kind) ||
	    !kind_of(l, kind, jp_key(l, path, "kind"), &g.kind) ||
	    !j_str(l, o, "id", path, true, &g.id))
		return;
	j_str(l, o, "name", path, false, &g.name);
	j_str(l, o, "vpc", path, false, &g.vpc_id);
	j_str(l, o, "peer_vpc", path, false, &g.peer_vpc_id);
	j_str(l, o, "transit", path, false, &g.transit_id);
	j_str(l, o, "state", path, false, &g.state);
	j_str(l, o, "detail", path, false, &g.detail);
	j_strlist(l, o, "subnets", path, &g.subnet_ids, &g.n_subnet_ids);
	j_strlist(l, o, "enis", path, &g.eni_ids, &g.n_eni_ids);
	j_strlist(l, o, "route_tables", path, &g.route_table_ids, &g.n_route_table_ids);
	gw_addr(l, o, "private_ip", path, &g.has_private_ip, &g.private_ip);
	gw_addr(l, o, "public_ip", path, &g.has_public_ip, &g.public_ip);
	j_strlist(l, o, "propagations", path, &g.propagations, &g.n_propagations);
	tgw_routes(l, o, path, &g);
	struct gateway *slot = vec_push(&l->gateways, sizeof(*slot));
	if (slot)
		*slot = g;
}

void lab_load_gateways(struct loader *l, const json_t *root)
{
	EACH(l, root, "gateways", "", i, o, path)
	{
		lab_gateway(l, o, path);
	}
}
