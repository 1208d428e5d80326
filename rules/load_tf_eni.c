/*
 * Terraform resources that become ENIs of the lab: aws_instance (its
 * primary interface), aws_network_interface (+ _sg_attachment and
 * _attachment), and the services whose groups attach to interfaces AWS
 * creates for them: load balancers (aws_lb, aws_alb, aws_elb), RDS
 * (aws_db_instance), Lambda vpc_config, launch configurations/templates
 * through their autoscaling groups, ElastiCache. Each ENI remembers its
 * resource address, so `--from aws_instance.web` names it. Addresses known
 * only after apply are picked in the subnet by load_tf_finish.c.
 */
#include <stdio.h>
#include <string.h>

#include "load-tf-private.h"
#include "load_build.h"

static void add_ip(struct loader *l, struct eni *e, const char *text, const char *path)
{
	struct ip_addr a;
	int family = text && strchr(text, ':') ? IP_V6 : IP_V4;
	if (!text || !*text || !ld_addr(l, text, path, family, &a))
		return;
	if (family == IP_V6)
		ld_add_addr(l, &e->ipv6, &e->n_ipv6, &a);
	else
		ld_add_addr(l, &e->ipv4, &e->n_ipv4, &a);
}

static void add_ips(struct tf_doc *t, const struct tf_res *r, struct eni *e, const char *key)
{
	const json_t *v = json_object_get(r->values, key);
	const char *path = jp_key(t->l, r->address, key);
	if (json_is_string(v))
		add_ip(t->l, e, json_string_value(v), path);
	for (size_t i = 0; i < json_array_size(v); i++)
		if (json_is_string(json_array_get(v, i)))
			add_ip(t->l, e, json_string_value(json_array_get(v, i)),
			       jp_idx(t->l, path, i));
}

/* A draft ENI of resource r in subnet (may be NULL: picked later). */
static struct draft_eni eni_draft(struct tf_doc *t, const struct tf_res *r, const char *id,
				  const char *subnet, const char **groups, size_t n_groups)
{
	struct draft_eni d = {.from_aws = true,
			      .public_wanted = 0,
			      .e = {.id = id,
				    .device_index = -1,
				    .subnet = -1,
				    .service = -1,
				    .address = r->address,
				    .origin = r->origin}};
	d.subnet.id = subnet;
	d.subnet.at = tf_origin(t, r, "subnet_id");
	d.groups = arena_calloc(t->l->a, n_groups ? n_groups : 1, sizeof(struct ref));
	for (size_t i = 0; d.groups && i < n_groups; i++)
		d.groups[d.n_groups++] = (struct ref){groups[i], r->origin};
	return d;
}

static void public_ip(struct tf_doc *t, const struct tf_res *r, struct eni *e)
{
	const char *s;
	if (tf_str(t, r, r->values, r->address, "public_ip", &s) && *s)
		e->has_public_ip =
		    ld_addr(t->l, s, jp_key(t->l, r->address, "public_ip"), IP_V4, &e->public_ip);
}

static void group_names(struct tf_doc *t, const struct tf_res *r, const char *eni_id)
{
	const char **names;
	size_t n = tf_ids(t, r, r->values, r->unknown, r->config, "security_groups", &names);
	for (size_t i = 0; i < n; i++)
		tf_pend(t->l, TF_ENI_GROUP_NAME, eni_id, names[i], &r->origin);
}

/* The primary interface: vpc_security_group_ids, else security_groups
 * (names, the default VPC's way), else the VPC's default group. */
void tf_instance(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	const char *eni_id = NULL;
	if (!tf_str(t, r, r->values, r->address, "primary_network_interface_id", &eni_id))
		eni_id = ld_make_id(t->l, "eni", r->id, "0");
	const char **groups;
	size_t ng =
	    tf_ids(t, r, r->values, r->unknown, r->config, "vpc_security_group_ids", &groups);
	const char *subnet = tf_id(t, r, r->values, r->unknown, r->config, "subnet_id");
	struct draft_eni d = eni_draft(t, r, eni_id, subnet && *subnet ? subnet : NULL, groups, ng);
	d.e.instance_id = r->id;
	d.e.device_index = 0;
	d.instance_name = tf_name_tag(t, r);
	add_ips(t, r, &d.e, "private_ip");
	add_ips(t, r, &d.e, "secondary_private_ips");
	add_ips(t, r, &d.e, "ipv6_addresses");
	public_ip(t, r, &d.e);
	bool pub = false;
	d.public_wanted = tf_bool(r->values, "associate_public_ip_address", &pub) ? pub : -1;
	d.addr_given = d.e.n_ipv4 || d.e.n_ipv6;
	/* network_interface blocks attach existing interfaces; one at device
	 * index 0 is the primary interface, so the instance makes none */
	bool own = true;
	const json_t *list = json_object_get(r->values, "network_interface");
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *bv, *bu, *bc;
		tf_block(r, r->values, r->unknown, r->config, "network_interface", i, &bv, &bu,
			 &bc);
		const char *other = tf_id(t, r, bv, bu, bc, "network_interface_id");
		long long di = -1;
		tf_int(t, bv, r->address, "device_index", &di);
		struct tf_pending *p =
		    other ? tf_pend(t->l, TF_ENI_ATTACH, other, r->id, &r->origin) : NULL;
		if (p)
			p->device_index = (int32_t)di;
		own &= !(p && di == 0);
	}
	if (!own)
		return;
	if (!ng)
		group_names(t, r, eni_id);
	ld_add_eni(t->l, &d);
}

void tf_interface(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	const char **groups;
	size_t ng = tf_ids(t, r, r->values, r->unknown, r->config, "security_groups", &groups);
	const char *subnet = tf_id(t, r, r->values, r->unknown, r->config, "subnet_id");
	struct draft_eni d = eni_draft(t, r, r->id, subnet, groups, ng);
	d.own_name = tf_name_tag(t, r);
	tf_str(t, r, r->values, r->address, "description", &d.e.description);
	add_ips(t, r, &d.e, "private_ip");
	add_ips(t, r, &d.e, "private_ips");
	add_ips(t, r, &d.e, "ipv6_addresses");
	d.addr_given = d.e.n_ipv4 || d.e.n_ipv6;
	const json_t *at = json_array_get(json_object_get(r->values, "attachment"), 0);
	if (json_is_object(at)) {
		long long di = -1;
		tf_str(t, r, at, r->address, "instance", &d.e.instance_id);
		if (tf_int(t, at, r->address, "device_index", &di) && di >= 0 && di <= 255)
			d.e.device_index = (int32_t)di;
	}
	ld_add_eni(t->l, &d);
}

void tf_eni_link(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	bool attach = k->arg == TF_ENI_ATTACH;
	const char *eni = tf_id(t, r, r->values, r->unknown, r->config, "network_interface_id");
	const char *other = tf_id(t, r, r->values, r->unknown, r->config,
				  attach ? "instance_id" : "security_group_id");
	if (!eni || !other) {
		ld_warn_at(t->l, &r->origin, NULL,
			   "the interface or its %s is not known: %s left out",
			   attach ? "instance" : "group", r->type);
		return;
	}
	struct tf_pending *p =
	    tf_pend(t->l, attach ? TF_ENI_ATTACH : TF_ENI_GROUP, eni, other, &r->origin);
	long long di = -1;
	if (p && attach && tf_int(t, r->values, r->address, "device_index", &di))
		p->device_index = (int32_t)di;
}

/* A service's interfaces: one per subnet, in the service's groups (none:
 * the VPC's default group), addresses picked in the subnet later. */
static void service_enis(struct tf_doc *t, const struct tf_res *r, const char *kind,
			 const char *vpc_id, const char **subnets, size_t ns, const char **groups,
			 size_t ng, bool per_subnet, bool public)
{
	struct service *s = vec_push(&t->l->services, sizeof(*s));
	if (!s)
		return;
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->name = r->address;
	s->vpc_id = vpc_id;
	s->subnet_ids = subnets;
	s->n_subnet_ids = ns;
	s->group_ids = groups;
	s->n_group_ids = ng;
	s->origin = r->origin;
	if (!ns)
		ld_warn_at(t->l, &r->origin, NULL,
			   "%s: no subnet known, so no interface of it is in the lab", kind);
	for (size_t i = 0; i < ns && (per_subnet || i == 0); i++) {
		const char *id = ld_make_id(t->l, "eni", r->address, subnets[i]);
		struct draft_eni d = eni_draft(t, r, id, subnets[i], groups, ng);
		d.vpc_id = vpc_id;
		d.public_wanted = public;
		d.e.description = arena_printf(t->l->a, "%s %s", kind, r->address);
		/* labelled by the resource address: a Terraform local name such as
		 * "default" repeats across resources */
		d.iface_type = "interface";
		ld_add_eni(t->l, &d);
		if (!ng)
			tf_pend(t->l, TF_ENI_GROUP_NAME, id, "default", &r->origin);
	}
}

/* The resource of this document whose values[key] is value. */
static const struct tf_res *find_by(struct tf_doc *t, const char *type, const char *key,
				    const char *value)
{
	for (size_t i = 0; value && i < t->n; i++) {
		const json_t *v = json_object_get(t->res[i].values, key);
		if (!strcmp(t->res[i].type, type) &&
		    ((json_is_string(v) && !strcmp(json_string_value(v), value)) ||
		     !strcmp(t->res[i].id, value)))
			return &t->res[i];
	}
	return NULL;
}

/* The subnets of a DB or cache subnet group named by key. */
static size_t group_subnets(struct tf_doc *t, const struct tf_res *r, const char *key,
			    const char *type, const char ***subnets)
{
	const char *name = tf_id(t, r, r->values, r->unknown, r->config, key);
	const struct tf_res *g = find_by(t, type, "name", name);
	*subnets = NULL;
	return g ? tf_ids(t, g, g->values, g->unknown, g->config, "subnet_ids", subnets) : 0;
}

static bool publicly_accessible(const struct tf_res *r)
{
	bool pub = false;
	return tf_bool(r->values, "publicly_accessible", &pub) && pub;
}

void tf_db(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	const char **groups, **subnets;
	size_t ng =
	    tf_ids(t, r, r->values, r->unknown, r->config, "vpc_security_group_ids", &groups);
	size_t ns = group_subnets(t, r, "db_subnet_group_name", "aws_db_subnet_group", &subnets);
	service_enis(t, r, "rds", NULL, subnets, ns, groups, ng, false, publicly_accessible(r));
}

/* An internet-facing load balancer's nodes have public addresses. */
void tf_lb(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	bool internal = false;
	tf_bool(r->values, "internal", &internal);
	const char **groups, **subnets;
	size_t ng = tf_ids(t, r, r->values, r->unknown, r->config, "security_groups", &groups);
	size_t ns = tf_ids(t, r, r->values, r->unknown, r->config, "subnets", &subnets);
	service_enis(t, r, "load-balancer", tf_id(t, r, r->values, r->unknown, r->config, "vpc_id"),
		     subnets, ns, groups, ng, true, !internal);
}

void tf_vpc_config(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	const char *kind = k->what;
	const json_t *bv, *bu, *bc;
	tf_block(r, r->values, r->unknown, r->config, "vpc_config", 0, &bv, &bu, &bc);
	if (!json_is_object(bv))
		return; /* not in a VPC: no interface */
	const char **groups, **subnets;
	size_t ng = tf_ids(t, r, bv, bu, bc, "security_group_ids", &groups);
	size_t ns = tf_ids(t, r, bv, bu, bc, "subnet_ids", &subnets);
	service_enis(t, r, kind, tf_id(t, r, bv, bu, bc, "vpc_id"), subnets, ns, groups, ng, false,
		     false);
}

/* An autoscaling group's instances carry its launch configuration's (or
 * template's) groups in its vpc_zone_identifier subnets. */
void tf_asg(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	const char **groups = NULL, **subnets;
	size_t ng = 0;
	size_t ns = tf_ids(t, r, r->values, r->unknown, r->config, "vpc_zone_identifier", &subnets);
	const char *lc = tf_id(t, r, r->values, r->unknown, r->config, "launch_configuration");
	const struct tf_res *c = find_by(t, "aws_launch_configuration", "name", lc);
	if (c)
		ng = tf_ids(t, c, c->values, c->unknown, c->config, "security_groups", &groups);
	const json_t *tv, *tu, *tc;
	tf_block(r, r->values, r->unknown, r->config, "launch_template", 0, &tv, &tu, &tc);
	const char *lt = json_is_object(tv) ? tf_id(t, r, tv, tu, tc, "id") : NULL;
	const struct tf_res *tpl = find_by(t, "aws_launch_template", "id", lt);
	if (tpl && !ng)
		ng = tf_ids(t, tpl, tpl->values, tpl->unknown, tpl->config,
			    "vpc_security_group_ids", &groups);
	service_enis(t, r, "autoscaling-group", NULL, subnets, ns, groups, ng, false, false);
}

void tf_cache(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	const char **groups, **subnets;
	size_t ng = tf_ids(t, r, r->values, r->unknown, r->config, "security_group_ids", &groups);
	size_t ns =
	    group_subnets(t, r, "subnet_group_name", "aws_elasticache_subnet_group", &subnets);
	service_enis(t, r, "elasticache", NULL, subnets, ns, groups, ng, false, false);
}
