/*
 * Transit gateway route tables as Batfish's collector saves them (one
 * file per API call): describe-transit-gateway-route-tables
 * (TransitGatewayRouteTables), search-transit-gateway-routes per table
 * (TransitGatewayStaticRoutes: {TransitGatewayRouteTableId, Routes}),
 * get-transit-gateway-route-table-propagations per table
 * (TransitGatewayPropagations) and describe-transit-gateway-attachments
 * (TransitGatewayAttachments: every attachment's resource type and the
 * table it is associated with). Each file yields a partial gateway; the
 * pieces of one id are folded into one after every file is read
 * (ld_merge_transit), since a directory is read in name order and an
 * attachment is described by two files. A peering attachment between
 * transit gateways is listed by both accounts under one id, each side
 * with its own gateway and association: two gateways.
 */
#include <string.h>

#include "load-private.h"

static void push(struct loader *l, const struct gateway *g)
{
	struct gateway *slot = vec_push(&l->gateways, sizeof(*slot));
	if (slot)
		*slot = *g;
}

static void begin(struct loader *l, const char *path, enum gateway_kind kind, struct gateway *g)
{
	*g = (struct gateway){.kind = kind, .vpc = -1, .origin = ld_origin(l, path)};
}

void aws_tgw_route_table(struct loader *l, const json_t *o, const char *path)
{
	struct gateway g;
	begin(l, path, GW_TRANSIT_ROUTES, &g);
	if (!j_str(l, o, "TransitGatewayRouteTableId", path, true, &g.id))
		return;
	J_STRS(l, o, path, J_OPT("TransitGatewayId", &g.transit_id), J_OPT("State", &g.state));
	g.name = j_name_tag(l, o, path);
	push(l, &g);
}

/* One route of search-transit-gateway-routes: false when unusable. */
static bool tgw_route(struct loader *l, const json_t *o, const char *path, struct tgw_route *r)
{
	const char *dest, *state = "active", *type = "static";
	memset(r, 0, sizeof(*r));
	J_STRS(l, o, path, J_OPT("State", &state), J_OPT("Type", &type));
	if (!j_str(l, o, "DestinationCidrBlock", path, true, &dest) ||
	    !ld_prefix(l, dest, jp_key(l, path, "DestinationCidrBlock"), 0, &r->dest) ||
	    !ld_route_state(l, state, jp_key(l, path, "State"), &r->blackhole))
		return false;
	r->propagated = !strcmp(type, "propagated");
	EACH(l, o, "TransitGatewayAttachments", path, i, a, ap)
	{
		if (want_object(l, a, ap) && !r->attachment)
			j_str(l, a, "TransitGatewayAttachmentId", ap, true, &r->attachment);
	}
	if (!r->blackhole && !r->attachment) {
		ld_err(l, path, "an active route needs TransitGatewayAttachments");
		return false;
	}
	return true;
}

void aws_tgw_routes(struct loader *l, const json_t *o, const char *path)
{
	struct gateway g;
	begin(l, path, GW_TRANSIT_ROUTES, &g);
	if (!j_str(l, o, "TransitGatewayRouteTableId", path, true, &g.id))
		return;
	const json_t *arr = json_object_get(o, "Routes");
	g.tgw_routes = arena_calloc(l->a, json_array_size(arr) + 1, sizeof(*g.tgw_routes));
	if (!g.tgw_routes)
		return;
	EACH(l, o, "Routes", path, i, r, rp)
	{
		if (want_object(l, r, rp) && tgw_route(l, r, rp, &g.tgw_routes[g.n_tgw_routes]))
			g.n_tgw_routes++;
	}
	push(l, &g);
}

void aws_tgw_propagations(struct loader *l, const json_t *o, const char *path)
{
	struct gateway g;
	begin(l, path, GW_TRANSIT_ROUTES, &g);
	if (!j_str(l, o, "TransitGatewayRouteTableId", path, true, &g.id))
		return;
	const char *key = "TransitGatewayRouteTablePropagations";
	g.propagations =
	    arena_calloc(l->a, json_array_size(json_object_get(o, key)) + 1, sizeof(char *));
	if (!g.propagations)
		return;
	EACH(l, o, key, path, i, p, pp)
	{
		const char *id, *state = "enabled";
		if (!want_object(l, p, pp) ||
		    !j_str(l, p, "TransitGatewayAttachmentId", pp, true, &id))
			continue;
		j_str(l, p, "State", pp, false, &state);
		if (!strcmp(state, "enabled"))
			g.propagations[g.n_propagations++] = id;
	}
	push(l, &g);
}

/* The attachment's resource type (detail), and its association when
 * "associated" (route_table_ids[0]). */
void aws_tgw_attachment(struct loader *l, const json_t *o, const char *path)
{
	struct gateway g;
	begin(l, path, GW_TRANSIT_ATTACH, &g);
	const char *type = NULL, *resource = NULL;
	if (!j_str(l, o, "TransitGatewayAttachmentId", path, true, &g.id))
		return;
	J_STRS(l, o, path, J_OPT("TransitGatewayId", &g.transit_id), J_OPT("State", &g.state),
	       J_OPT("ResourceType", &type), J_OPT("ResourceId", &resource));
	g.name = j_name_tag(l, o, path);
	g.detail = type;
	if (type && !strcmp(type, "vpc"))
		g.vpc_id = resource;
	const json_t *as = j_object(l, o, "Association", path, false);
	const char *ap = jp_key(l, path, "Association"), *table = NULL, *state = "associated";
	if (as)
		J_STRS(l, as, ap, J_OPT("TransitGatewayRouteTableId", &table),
		       J_OPT("State", &state));
	if (table && !strcmp(state, "associated")) {
		g.route_table_ids = arena_calloc(l->a, 1, sizeof(char *));
		if (g.route_table_ids) {
			g.route_table_ids[0] = table;
			g.n_route_table_ids = 1;
		}
	}
	push(l, &g);
}

/* a's list followed by b's (in the arena); a kept when b is empty. */
static bool concat(struct loader *l, void **a, size_t *na, const void *b, size_t nb, size_t size)
{
	if (!nb)
		return true;
	char *out = arena_calloc(l->a, *na + nb, size);
	if (!out)
		return false;
	if (*na)
		memcpy(out, *a, *na * size);
	memcpy(out + *na * size, b, nb * size);
	*a = out;
	*na += nb;
	return true;
}

/* A field, or a list and its count, one file left unset. */
#define FILL(field)                                                                                \
	do {                                                                                       \
		if (!into->field)                                                                  \
			into->field = from->field;                                                 \
	} while (0)
#define FILL_LIST(list, n)                                                                         \
	do {                                                                                       \
		if (!into->n) {                                                                    \
			into->list = from->list;                                                   \
			into->n = from->n;                                                         \
		}                                                                                  \
	} while (0)

/* What one file says of a table or an attachment added to another's. */
static bool fold(struct loader *l, struct gateway *into, const struct gateway *from)
{
	FILL(name);
	FILL(vpc_id);
	FILL(transit_id);
	FILL(state);
	FILL(detail);
	FILL_LIST(subnet_ids, n_subnet_ids);
	FILL_LIST(route_table_ids, n_route_table_ids);
	return concat(l, (void **)&into->tgw_routes, &into->n_tgw_routes, from->tgw_routes,
		      from->n_tgw_routes, sizeof(*from->tgw_routes)) &&
	       concat(l, (void **)&into->propagations, &into->n_propagations, from->propagations,
		      from->n_propagations, sizeof(*from->propagations));
}

static bool is_transit_piece(const struct gateway *g)
{
	return g->kind == GW_TRANSIT_ATTACH || g->kind == GW_TRANSIT_ROUTES;
}

/* Pieces of one table or attachment. The two sides of a peering
 * attachment share its id, each with its own gateway: both are kept. */
static bool same_piece(const struct gateway *a, const struct gateway *b)
{
	return a->kind == b->kind && ld_streq(a->id, b->id) &&
	       (!a->transit_id || !b->transit_id || ld_streq(a->transit_id, b->transit_id));
}

void ld_merge_transit(struct loader *l)
{
	struct gateway *gs = l->gateways.items;
	size_t kept = 0;
	for (size_t i = 0; i < l->gateways.n; i++) {
		size_t k = is_transit_piece(&gs[i]) ? 0 : kept;
		while (k < kept && !same_piece(&gs[k], &gs[i]))
			k++;
		if (k < kept) {
			if (!fold(l, &gs[k], &gs[i]))
				ld_err(l, NULL, "out of memory");
			continue;
		}
		gs[kept++] = gs[i];
	}
	l->gateways.n = kept;
}
