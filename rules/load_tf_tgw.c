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

/* "enable" unless the attribute says "disable". */
static bool enabled(struct tf_doc *t, const struct tf_res *r, const char *key)
{
	const char *s = NULL;
	return !tf_str(t, r, r->values, r->address, key, &s) || !s || strcmp(s, "disable");
}

const char *tf_tgw_default_table(struct tf_doc *t, const struct tf_res *tgw, const char *attr)
{
	const char *s = NULL;
	if (tf_str(t, tgw, tgw->values, tgw->address, attr, &s) && s && *s)
		return s;
	/* unknown until apply: one made id for both, AWS's single default */
	return ld_make_id(t->l, "tgw-rtb", tgw->address, "default");
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

static void tf_tgw(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	struct gateway *g = piece(t, r, GW_TRANSIT, r->id);
	if (g)
		g->name = tf_name_tag(t, r);
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

/* An attachment id propagating to table: a piece of the table. */
static void propagate(struct tf_doc *t, const struct tf_res *r, const char *table, const char *id)
{
	struct gateway *rt = piece(t, r, GW_TRANSIT_ROUTES, table);
	if (!rt)
		return;
	rt->propagations = one(t, id);
	rt->n_propagations = rt->propagations ? 1 : 0;
}

static void tf_attachment(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	struct gateway *g = piece(t, r, GW_TRANSIT_ATTACH, r->id);
	if (!g)
		return;
	g->name = tf_name_tag(t, r);
	g->detail = "vpc";
	g->vpc_id = id_of(t, r, "vpc_id");
	g->transit_id = id_of(t, r, "transit_gateway_id");
	g->n_subnet_ids =
	    tf_ids(t, r, r->values, r->unknown, r->config, "subnet_ids", &g->subnet_ids);
	const struct tf_res *tgw = find_tgw(t, g->transit_id);
	bool assoc = true, prop = true;
	tf_bool(r->values, "transit_gateway_default_route_table_association", &assoc);
	tf_bool(r->values, "transit_gateway_default_route_table_propagation", &prop);
	if (!tgw)
		return;
	/* g stays valid until the next piece is pushed: propagate last */
	const char *id = g->id;
	if (assoc && enabled(t, tgw, "default_route_table_association") &&
	    !associated_explicitly(t, id)) {
		g->route_table_ids =
		    one(t, tf_tgw_default_table(t, tgw, "association_default_route_table_id"));
		g->n_route_table_ids = g->route_table_ids ? 1 : 0;
	}
	if (prop && enabled(t, tgw, "default_route_table_propagation"))
		propagate(t, r, tf_tgw_default_table(t, tgw, "propagation_default_route_table_id"),
			  id);
}

static void tf_table(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	struct gateway *g = piece(t, r, GW_TRANSIT_ROUTES, r->id);
	if (!g)
		return;
	g->name = tf_name_tag(t, r);
	g->transit_id = id_of(t, r, "transit_gateway_id");
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

static void tf_tgw_route(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
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

static void tf_assoc(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	const char *table, *attachment;
	if (!link_ids(t, r, true, &table, &attachment))
		return;
	struct gateway *g = piece(t, r, GW_TRANSIT_ATTACH, attachment);
	if (!g)
		return;
	g->route_table_ids = one(t, table);
	g->n_route_table_ids = g->route_table_ids ? 1 : 0;
}

static void tf_propagation(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	const char *table, *attachment;
	if (link_ids(t, r, true, &table, &attachment))
		propagate(t, r, table, attachment);
}

bool tf_tgw_resource(struct tf_doc *t, const struct tf_res *r)
{
	static const struct tf_kind kinds[] = {
	    {"aws_ec2_transit_gateway", tf_tgw, 0, NULL, NULL},
	    {"aws_ec2_transit_gateway_vpc_attachment", tf_attachment, 0, NULL, NULL},
	    {"aws_ec2_transit_gateway_route_table", tf_table, 0, NULL, NULL},
	    {"aws_ec2_transit_gateway_route", tf_tgw_route, 0, NULL, NULL},
	    {"aws_ec2_transit_gateway_route_table_association", tf_assoc, 0, NULL, NULL},
	    {"aws_ec2_transit_gateway_route_table_propagation", tf_propagation, 0, NULL, NULL},
	};
	return tf_read_kind(t, r, kinds, sizeof(kinds) / sizeof(kinds[0]));
}
