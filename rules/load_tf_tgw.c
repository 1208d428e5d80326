/*
 * Terraform transit gateways into the pieces the exports give
 * (load_aws_tgw.c): aws_ec2_transit_gateway, _vpc_attachment,
 * _route_table, _route, _route_table_association and
 * _route_table_propagation. Each resource yields a partial gateway keyed
 * by the table's or the attachment's id; ld_merge_transit folds them once
 * every document is read, as it does for the collector's files.
 *
 * The provider's defaults apply (its documentation): a gateway creates a
 * default route table unless default_route_table_association and
 * _propagation are both "disable"; a VPC attachment is associated with
 * and propagates to it unless transit_gateway_default_route_table_
 * association / _propagation is false. An explicit association resource
 * for the attachment wins over the default one (AWS allows one table per
 * attachment; the provider asks to turn the default off).
 */
#include <string.h>

#include "load-tf-private.h"

static struct gateway *piece(struct tf_doc *t, const struct tf_res *r, enum gateway_kind kind,
			     const char *id)
{
	struct gateway *g = vec_push(&t->l->gateways, sizeof(*g));
	if (!g)
		return NULL;
	memset(g, 0, sizeof(*g));
	g->kind = kind;
	g->id = id;
	g->vpc = -1;
	g->origin = r->origin;
	return g;
}

/* A list of one string in the arena (NULL: no memory). */
static const char **one(struct tf_doc *t, const char *s)
{
	const char **v = arena_calloc(t->l->a, 1, sizeof(char *));
	if (v)
		v[0] = s;
	return v;
}

static const char *id_of(struct tf_doc *t, const struct tf_res *r, const char *key)
{
	return tf_id(t, r, r->values, r->unknown, r->config, key);
}

/* The resource's own gateway, table or attachment: named by its tag, on
 * the gateway its transit_gateway_id names. */
static struct gateway *own_piece(struct tf_doc *t, const struct tf_res *r, enum gateway_kind kind)
{
	struct gateway *g = piece(t, r, kind, r->id);
	if (g) {
		g->name = tf_name_tag(t, r);
		g->transit_id = id_of(t, r, "transit_gateway_id");
	}
	return g;
}

/* "enable" unless the attribute says "disable". */
static bool enabled(struct tf_doc *t, const struct tf_res *r, const char *key)
{
	const char *s = NULL;
	return !tf_str(t, r, r->values, r->address, key, &s) || !s || strcmp(s, "disable");
}

/* The aws_ec2_transit_gateway resource of the document with id, or NULL
 * (a gateway of another stack). */
static const struct tf_res *find_tgw(struct tf_doc *t, const char *id)
{
	for (size_t i = 0; id && i < t->n; i++)
		if (!strcmp(t->res[i].type, "aws_ec2_transit_gateway") && !strcmp(t->res[i].id, id))
			return &t->res[i];
	return NULL;
}

void tf_tgw(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	own_piece(t, r, GW_TRANSIT);
	if (!enabled(t, r, "default_route_table_association") &&
	    !enabled(t, r, "default_route_table_propagation"))
		return;
	const char *ids[] = {tf_tgw_default_table(t, r, "association_default_route_table_id"),
			     tf_tgw_default_table(t, r, "propagation_default_route_table_id")};
	for (size_t i = 0; i < 2; i++) {
		if (i && !strcmp(ids[0], ids[1]))
			break;
		struct gateway *rt = piece(t, r, GW_TRANSIT_ROUTES, ids[i]);
		if (rt)
			rt->transit_id = r->id;
	}
}

/* Whether an aws_ec2_transit_gateway_route_table_association of the
 * document names attachment id. */
static bool associated_explicitly(struct tf_doc *t, const char *id)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct tf_res *a = &t->res[i];
		if (!strcmp(a->type, "aws_ec2_transit_gateway_route_table_association")) {
			const char *att = id_of(t, a, "transit_gateway_attachment_id");
			if (att && !strcmp(att, id))
				return true;
		}
	}
	return false;
}

/* A piece linking id (a table, or an attachment) to other: an attachment
 * propagating to the table, or the table an attachment is associated
 * with. */
static void linked_piece(struct tf_doc *t, const struct tf_res *r, enum gateway_kind kind,
			 const char *id, const char *other)
{
	struct gateway *g = piece(t, r, kind, id);
	const char **v = g ? one(t, other) : NULL;
	if (!v)
		return;
	if (kind == GW_TRANSIT_ROUTES) {
		g->propagations = v;
		g->n_propagations = 1;
	} else {
		g->route_table_ids = v;
		g->n_route_table_ids = 1;
	}
}

void tf_tgw_attachment(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	struct gateway *g = own_piece(t, r, GW_TRANSIT_ATTACH);
	if (!g)
		return;
	g->detail = "vpc";
	g->vpc_id = id_of(t, r, "vpc_id");
	g->n_subnet_ids =
	    tf_ids(t, r, r->values, r->unknown, r->config, "subnet_ids", &g->subnet_ids);
	const struct tf_res *tgw = find_tgw(t, g->transit_id);
	bool assoc = true, prop = true;
	tf_bool(r->values, "transit_gateway_default_route_table_association", &assoc);
	tf_bool(r->values, "transit_gateway_default_route_table_propagation", &prop);
	if (!tgw)
		return;
	if (assoc && enabled(t, tgw, "default_route_table_association") &&
	    !associated_explicitly(t, r->id))
		linked_piece(t, r, GW_TRANSIT_ATTACH, r->id,
			     tf_tgw_default_table(t, tgw, "association_default_route_table_id"));
	if (prop && enabled(t, tgw, "default_route_table_propagation"))
		linked_piece(t, r, GW_TRANSIT_ROUTES,
			     tf_tgw_default_table(t, tgw, "propagation_default_route_table_id"),
			     r->id);
}

void tf_tgw_table(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	own_piece(t, r, GW_TRANSIT_ROUTES);
}

/* The table and attachment a resource links, or a warning naming what is
 * unknown. */
static bool link_ids(struct tf_doc *t, const struct tf_res *r, bool need_attachment,
		     const char **table, const char **attachment)
{
	*table = id_of(t, r, "transit_gateway_route_table_id");
	*attachment = id_of(t, r, "transit_gateway_attachment_id");
	if (*table && (*attachment || !need_attachment))
		return true;
	ld_warn_at(t->l, &r->origin, NULL,
		   "transit_gateway_route_table_id or transit_gateway_attachment_id is not "
		   "known: %s left out",
		   r->type);
	return false;
}

void tf_tgw_route(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	const char *table, *attachment, *dest = NULL;
	bool blackhole = false;
	tf_bool(r->values, "blackhole", &blackhole);
	if (!link_ids(t, r, !blackhole, &table, &attachment) ||
	    !tf_str(t, r, r->values, r->address, "destination_cidr_block", &dest) || !dest)
		return;
	struct tgw_route *tr = arena_calloc(t->l->a, 1, sizeof(*tr));
	if (!tr || !ld_prefix(t->l, dest, jp_key(t->l, r->address, "destination_cidr_block"), 0,
			      &tr->dest))
		return;
	tr->blackhole = blackhole;
	tr->attachment = blackhole ? NULL : attachment;
	struct gateway *g = piece(t, r, GW_TRANSIT_ROUTES, table);
	if (!g)
		return;
	g->tgw_routes = tr;
	g->n_tgw_routes = 1;
}

void tf_tgw_link(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	const char *table, *attachment;
	if (!link_ids(t, r, true, &table, &attachment))
		return;
	if (k->arg == GW_TRANSIT_ROUTES)
		linked_piece(t, r, GW_TRANSIT_ROUTES, table, attachment);
	else
		linked_piece(t, r, GW_TRANSIT_ATTACH, attachment, table);
}
