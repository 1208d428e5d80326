/*
 * Terraform network resources into the loader's drafts: aws_vpc and
 * aws_default_vpc, aws_subnet, security groups (aws_security_group with
 * inline rules, aws_default_security_group, aws_security_group_rule,
 * aws_vpc_security_group_ingress_rule/_egress_rule), network ACLs
 * (aws_network_acl, aws_default_network_acl, aws_network_acl_rule,
 * aws_network_acl_association), route tables and routes, and the gateways
 * (internet, NAT, endpoints, peering, Elastic IPs; transit gateways:
 * load_tf_tgw.c). The provider's
 * semantics apply (its documentation, cited where it matters): a group it
 * creates has no egress rule unless one is written; the "default" resources
 * hold exactly the rules written. What another resource adds to one of
 * these is left pending for load_tf_finish.c.
 */
#include <stdio.h>
#include <string.h>

#include "load-tf-private.h"
#include "load_build.h"

void tf_block(const struct tf_res *r, const json_t *vals, const json_t *unk, const json_t *cfg,
	      const char *key, size_t i, const json_t **bv, const json_t **bu, const json_t **bc)
{
	(void)r;
	*bv = json_array_get(json_object_get(vals, key), i);
	*bu = json_array_get(json_object_get(unk, key), i);
	*bc = json_array_get(json_object_get(cfg, key), i);
}

static void add_cidr(struct loader *l, struct ip_prefix **list, size_t *n, const char *text,
		     const char *path, int family)
{
	struct ip_prefix p;
	if (text && *text && ld_prefix(l, text, path, family, &p))
		ld_add_prefix(l, list, n, &p);
}

void tf_vpc(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	struct loader *l = t->l;
	for (size_t i = 0; i < l->vpcs.n; i++) {
		const struct vpc *o = VEC_AT(&l->vpcs, struct vpc, i);
		if (!strcmp(o->id, r->id) && o->origin.path && strncmp(o->origin.path, "Vpcs[", 5))
			return; /* aws_default_vpc adopted by two modules, or the same
				 * VPC in a plan and a state: one VPC */
	}
	struct vpc v;
	memset(&v, 0, sizeof(v));
	v.id = r->id;
	v.name = tf_name_tag(t, r);
	v.default_nacl = v.main_route_table = -1;
	v.origin = r->origin;
	const char *c = NULL;
	if (!tf_str(t, r, r->values, r->address, "cidr_block", &c)) {
		ld_warn_at(l, &r->origin, "cidr_block",
			   "the VPC's block is not known until apply: VPC left out");
		return;
	}
	add_cidr(l, &v.cidrs, &v.n_cidrs, c, jp_key(l, r->address, "cidr_block"), IP_V4);
	if (tf_str(t, r, r->values, r->address, "ipv6_cidr_block", &c))
		add_cidr(l, &v.cidrs6, &v.n_cidrs6, c, jp_key(l, r->address, "ipv6_cidr_block"),
			 IP_V6);
	struct vpc *slot = vec_push(&l->vpcs, sizeof(*slot));
	if (slot)
		*slot = v;
	struct tf_vpc_defaults d = {.vpc_id = r->id,
				    .ipv6 = v.n_cidrs6 > 0,
				    .default_vpc = k->arg == TF_DEFAULT,
				    .origin = r->origin};
	if (!tf_str(t, r, r->values, r->address, "default_security_group_id", &d.sg_id))
		d.sg_id = ld_make_id(l, "sg", r->id, "default");
	if (!tf_str(t, r, r->values, r->address, "default_network_acl_id", &d.acl_id))
		d.acl_id = ld_make_id(l, "acl", r->id, "default");
	if (!tf_str(t, r, r->values, r->address, "main_route_table_id", &d.rtb_id))
		d.rtb_id = ld_make_id(l, "rtb", r->id, "main");
	struct tf_vpc_defaults *ds = tf_state(l) ? vec_push(&l->tf->defaults, sizeof(*ds)) : NULL;
	if (ds)
		*ds = d;
}

void tf_subnet(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	struct draft_subnet d = {
	    .from_aws = true,
	    .s = {.id = r->id,
		  .vpc = -1,
		  .nacl = -1,
		  .route_table = -1,
		  .origin = r->origin}}; /* what Terraform does not manage may be missing */
	struct subnet *s = &d.s;
	s->name = tf_name_tag(t, r);
	tf_str(t, r, r->values, r->address, "availability_zone", &s->az);
	tf_bool(r->values, "map_public_ip_on_launch", &d.map_public_ip);
	s->vpc_id = tf_id(t, r, r->values, r->unknown, r->config, "vpc_id");
	const char *c = NULL;
	if (!tf_str(t, r, r->values, r->address, "cidr_block", &c) ||
	    !ld_prefix(t->l, c, jp_key(t->l, r->address, "cidr_block"), IP_V4, &s->cidr)) {
		ld_warn_at(t->l, &r->origin, "cidr_block",
			   "the subnet's block is not known until apply: subnet left out");
		return;
	}
	if (tf_str(t, r, r->values, r->address, "ipv6_cidr_block", &c) && *c)
		s->has_cidr6 = ld_prefix(t->l, c, jp_key(t->l, r->address, "ipv6_cidr_block"),
					 IP_V6, &s->cidr6);
	if (!s->vpc_id) {
		ld_warn_at(t->l, &r->origin, "vpc_id",
			   "the subnet's VPC is not known: subnet left out");
		return;
	}
	struct draft_subnet *slot = vec_push(&t->l->subnets, sizeof(*slot));
	if (slot)
		*slot = d;
}

/* protocol, from_port and to_port (or ip_protocol of the newer rule
 * resources) as AWS's IpProtocol/FromPort/ToPort: for ICMP the ports are
 * the type and code, -1 meaning any (provider docs, aws_security_group). */
static bool sg_proto(struct tf_doc *t, const json_t *b, const char *path, struct sg_rule *base)
{
	struct loader *l = t->l;
	const char *key = json_object_get(b, "ip_protocol") ? "ip_protocol" : "protocol";
	const json_t *pv = json_object_get(b, key);
	char num[24];
	const char *text = ld_number_or_string(pv, num, sizeof(num));
	if (!text) {
		ld_err(l, jp_key(l, path, key), "the rule's protocol is missing");
		return false;
	}
	if (!ld_protocol(l, text, jp_key(l, path, key), &base->protocol))
		return false;
	long long f = -1, to = -1;
	bool hf = tf_int(t, b, path, "from_port", &f), ht = tf_int(t, b, path, "to_port", &to);
	base->from_port = base->to_port = -1;
	if (base->protocol == PROTO_TCP || base->protocol == PROTO_UDP) {
		if (!hf || !ht || f < 0 || to > 65535 || f > to) {
			ld_err(l, jp_key(l, path, "from_port"),
			       "port range %lld-%lld is not valid (0-65535, from <= to)", f, to);
			return false;
		}
	} else if (base->protocol == PROTO_ICMP || base->protocol == PROTO_ICMPV6) {
		if (f < -1 || f > 255 || to < -1 || to > 255) {
			ld_err(l, jp_key(l, path, "from_port"),
			       "ICMP type %lld code %lld is outside -1..255", f, to);
			return false;
		}
	} else {
		f = to = -1;
	}
	base->from_port = (int32_t)f;
	base->to_port = (int32_t)to;
	return true;
}

static void push_sg_rule(struct vec *out, const struct sg_rule *base, enum sg_peer_kind kind,
			 const struct ip_prefix *cidr, const char *peer_id)
{
	struct sg_rule *r = vec_push(out, sizeof(*r));
	if (!r)
		return;
	*r = *base;
	r->peer_kind = kind;
	if (cidr)
		r->cidr = *cidr;
	r->peer_id = peer_id;
	r->peer = -1;
}

static void cidr_peers(struct tf_doc *t, const json_t *b, const char *path, const char *key,
		       int family, const struct sg_rule *base, struct vec *out)
{
	const json_t *v = json_object_get(b, key);
	const json_t *one = json_is_string(v) ? v : NULL;
	size_t n = one ? 1 : json_array_size(v);
	for (size_t i = 0; i < n; i++) {
		const json_t *c = one ? one : json_array_get(v, i);
		const char *cp =
		    one ? jp_key(t->l, path, key) : jp_idx(t->l, jp_key(t->l, path, key), i);
		struct ip_prefix p;
		if (json_is_string(c) && *json_string_value(c) &&
		    ld_prefix(t->l, json_string_value(c), cp, family, &p))
			push_sg_rule(out, base, SG_PEER_CIDR, &p, NULL);
	}
}

static void id_peers(struct tf_doc *t, const struct tf_res *r, const json_t *b, const json_t *unk,
		     const json_t *cfg, const char *key, enum sg_peer_kind kind,
		     const struct sg_rule *base, struct vec *out)
{
	const char **ids;
	size_t n = tf_ids(t, r, b, unk, cfg, key, &ids);
	for (size_t i = 0; i < n; i++)
		if (*ids[i])
			push_sg_rule(out, base, kind, NULL, ids[i]);
}

/* Security group rules in AWS's terms from the provider's fields (shared
 * by inline blocks and the separate rule resources). */
static void tf_sg_rules(struct tf_doc *t, const struct tf_res *r, const json_t *b,
			const json_t *unk, const json_t *cfg, const char *path, bool egress,
			const char *self_id, struct vec *out)
{
	struct sg_rule base;
	memset(&base, 0, sizeof(base));
	base.egress = egress;
	base.origin = r->origin;
	base.origin.path = arena_strdup(t->l->a, path); /* path is in l->tmp */
	tf_str(t, r, b, path, "description", &base.description);
	if (!sg_proto(t, b, path, &base))
		return;
	size_t before = out->n;
	cidr_peers(t, b, path, "cidr_blocks", IP_V4, &base, out);
	cidr_peers(t, b, path, "ipv6_cidr_blocks", IP_V6, &base, out);
	cidr_peers(t, b, path, "cidr_ipv4", IP_V4, &base, out);
	cidr_peers(t, b, path, "cidr_ipv6", IP_V6, &base, out);
	id_peers(t, r, b, unk, cfg, "prefix_list_ids", SG_PEER_PREFIX_LIST, &base, out);
	id_peers(t, r, b, unk, cfg, "prefix_list_id", SG_PEER_PREFIX_LIST, &base, out);
	id_peers(t, r, b, unk, cfg, "security_groups", SG_PEER_GROUP, &base, out);
	id_peers(t, r, b, unk, cfg, "source_security_group_id", SG_PEER_GROUP, &base, out);
	id_peers(t, r, b, unk, cfg, "referenced_security_group_id", SG_PEER_GROUP, &base, out);
	bool self = false;
	if (tf_bool(b, "self", &self) && self && self_id)
		push_sg_rule(out, &base, SG_PEER_GROUP, NULL, self_id);
	if (out->n == before)
		ld_warn(t->l, path,
			"the rule names no peer known before apply (cidr_blocks, "
			"security_groups, self, ...): it allows nothing");
}

static void store_rules(struct loader *l, struct security_group *g, struct vec *rules)
{
	g->rules = arena_calloc(l->a, rules->n ? rules->n : 1, sizeof(struct sg_rule));
	if (g->rules && rules->n)
		memcpy(g->rules, rules->items, rules->n * sizeof(struct sg_rule));
	g->n_rules = g->rules ? rules->n : 0;
	vec_free(rules);
}

/* Inline ingress/egress. A new aws_security_group without an egress
 * block has no outbound rule: "Terraform will remove this default rule"
 * (provider docs); a state lists what is there, separate rules included. */
void tf_group(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	bool is_default = k->arg == TF_DEFAULT;
	struct loader *l = t->l;
	struct draft_group d = {
	    .from_aws = true, .from_tf = true, .g = {.id = r->id, .vpc = -1, .origin = r->origin}};
	struct security_group *g = &d.g;
	if (!tf_str(t, r, r->values, r->address, "name", &g->name))
		g->name = is_default ? "default" : r->name;
	tf_str(t, r, r->values, r->address, "description", &g->description);
	g->vpc_id = tf_id(t, r, r->values, r->unknown, r->config, "vpc_id");
	if (is_default && !json_is_string(json_object_get(r->values, "id"))) {
		struct tf_vpc_defaults *vd = tf_defaults_of(l, g->vpc_id);
		if (vd)
			g->id = vd->sg_id;
	}
	struct vec rules = {0};
	for (int eg = 0; eg < 2; eg++) {
		const char *key = eg ? "egress" : "ingress";
		const json_t *list = json_object_get(r->values, key);
		for (size_t i = 0; i < json_array_size(list); i++) {
			const json_t *bv, *bu, *bc;
			tf_block(r, r->values, r->unknown, r->config, key, i, &bv, &bu, &bc);
			const char *bp = jp_idx(l, jp_key(l, r->address, key), i);
			if (json_is_object(bv))
				tf_sg_rules(t, r, bv, bu, bc, bp, eg, g->id, &rules);
		}
	}
	store_rules(l, g, &rules);
	struct draft_group *slot = vec_push(&l->groups, sizeof(*slot));
	if (slot)
		*slot = d;
}

/* aws_security_group_rule and aws_vpc_security_group_{in,e}gress_rule. */
void tf_group_rule(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	bool egress = k->arg == TF_EGRESS;
	struct loader *l = t->l;
	const char *group = tf_id(t, r, r->values, r->unknown, r->config, "security_group_id");
	if (k->arg == TF_BY_TYPE) {
		const char *type = NULL;
		tf_str(t, r, r->values, r->address, "type", &type);
		if (!type || (strcmp(type, "ingress") && strcmp(type, "egress"))) {
			ld_err_at(l, &r->origin, "type", "'%s' is not ingress or egress",
				  type ? type : "");
			return;
		}
		egress = !strcmp(type, "egress");
	}
	if (!group) {
		ld_warn_at(l, &r->origin, "security_group_id",
			   "the rule's group is not known: rule left out");
		return;
	}
	struct vec rules = {0};
	tf_sg_rules(t, r, r->values, r->unknown, r->config, r->address, egress, group, &rules);
	for (size_t i = 0; i < rules.n; i++) {
		struct tf_pending *p = tf_pend(l, TF_SG_RULE, group, NULL, &r->origin);
		if (p)
			p->rule = *VEC_AT(&rules, struct sg_rule, i);
	}
	vec_free(&rules);
}

/* One NACL entry: inline blocks say rule_no/action, aws_network_acl_rule
 * rule_number/rule_action. */
static bool tf_acl_entry(struct tf_doc *t, const struct tf_res *r, const json_t *b,
			 const char *path, bool egress, struct nacl_entry *e)
{
	struct loader *l = t->l;
	memset(e, 0, sizeof(*e));
	e->egress = egress;
	e->origin = r->origin;
	e->origin.path = arena_strdup(l->a, path); /* path is in l->tmp */
	long long num = 0, f = 0, to = 0, ty = -1, co = -1;
	const char *action = NULL, *c4 = NULL, *c6 = NULL;
	bool ok =
	    tf_int(t, b, path, json_object_get(b, "rule_no") ? "rule_no" : "rule_number", &num);
	ok &=
	    tf_str(t, r, b, path, json_object_get(b, "action") ? "action" : "rule_action", &action);
	const json_t *pv = json_object_get(b, "protocol");
	char buf[32];
	const char *proto = json_string_value(pv);
	if (json_is_integer(pv)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(pv));
		proto = buf;
	}
	if (!ok || !proto) {
		ld_err(l, path, "an entry needs a rule number, an action and a protocol");
		return false;
	}
	if (!ld_protocol(l, proto, jp_key(l, path, "protocol"), &e->protocol))
		return false;
	if (strcmp(action, "allow") && strcmp(action, "deny")) {
		ld_err(l, jp_key(l, path, "action"), "'%s' is not a rule action (allow or deny)",
		       action);
		return false;
	}
	e->allow = !strcmp(action, "allow");
	if (num < 1 || num > NACL_RULE_MAX) {
		ld_err(l, jp_key(l, path, "rule_no"), "rule number %lld is outside 1-%d", num,
		       NACL_RULE_MAX);
		return false;
	}
	e->rule_number = (uint32_t)num;
	bool h4 = tf_str(t, r, b, path, "cidr_block", &c4) && *c4;
	bool h6 = tf_str(t, r, b, path, "ipv6_cidr_block", &c6) && *c6;
	if (h4 == h6) {
		ld_err(l, path, "an entry needs exactly one of cidr_block and ipv6_cidr_block");
		return false;
	}
	if (!ld_prefix(l, h4 ? c4 : c6, jp_key(l, path, h4 ? "cidr_block" : "ipv6_cidr_block"),
		       h4 ? IP_V4 : IP_V6, &e->cidr))
		return false;
	e->port_from = 0;
	e->port_to = 65535;
	e->icmp_type = e->icmp_code = -1;
	if (e->protocol == PROTO_TCP || e->protocol == PROTO_UDP) {
		tf_int(t, b, path, "from_port", &f);
		tf_int(t, b, path, "to_port", &to);
		if (f < 0 || to > 65535 || f > to) {
			ld_err(l, jp_key(l, path, "from_port"),
			       "port range %lld-%lld is not valid (0-65535, from <= to)", f, to);
			return false;
		}
		e->port_from = (uint16_t)f;
		e->port_to = (uint16_t)to;
	} else if (e->protocol == PROTO_ICMP || e->protocol == PROTO_ICMPV6) {
		tf_int(t, b, path, "icmp_type", &ty);
		tf_int(t, b, path, "icmp_code", &co);
		if (ty < -1 || ty > 255 || co < -1 || co > 255) {
			ld_err(l, jp_key(l, path, "icmp_type"),
			       "ICMP type %lld code %lld is outside -1..255", ty, co);
			return false;
		}
		e->icmp_type = (int16_t)ty;
		e->icmp_code = (int16_t)co;
	}
	return true;
}

static void store_entries(struct loader *l, struct vec *v, struct nacl_entry **out, size_t *n)
{
	*out = arena_calloc(l->a, v->n ? v->n : 1, sizeof(struct nacl_entry));
	if (*out && v->n)
		memcpy(*out, v->items, v->n * sizeof(struct nacl_entry));
	*n = *out ? v->n : 0;
	vec_free(v);
}

static void subnet_assocs(struct tf_doc *t, const struct tf_res *r, struct ref **out, size_t *n)
{
	const char **ids;
	size_t k = tf_ids(t, r, r->values, r->unknown, r->config, "subnet_ids", &ids);
	*out = arena_calloc(t->l->a, k ? k : 1, sizeof(struct ref));
	*n = 0;
	for (size_t i = 0; *out && i < k; i++)
		(*out)[(*n)++] = (struct ref){ids[i], tf_origin(t, r, "subnet_ids")};
}

/* A new NACL denies all but what it lists; an aws_default_network_acl
 * holds exactly the entries written (provider docs). Entries unknown in a
 * plan are those of separate aws_network_acl_rule resources. */
/* A default NACL or route table: its own id (key) when the document has
 * it, else the id it was given. */
static const char *own_id(struct tf_doc *t, const struct tf_res *r, bool is_default,
			  const char *key, const char *id)
{
	const char *own = is_default ? tf_id(t, r, r->values, r->unknown, r->config, key) : NULL;
	return own ? own : id;
}

void tf_acl(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	bool is_default = k->arg == TF_DEFAULT;
	struct loader *l = t->l;
	struct draft_nacl d = {.from_aws = true,
			       .n = {.id = r->id, .vpc = -1, .is_default = is_default}};
	struct nacl *n = &d.n;
	n->name = tf_name_tag(t, r);
	n->origin = r->origin;
	n->vpc_id = tf_id(t, r, r->values, r->unknown, r->config, "vpc_id");
	n->id = own_id(t, r, is_default, "default_network_acl_id", n->id);
	struct vec in = {0}, out = {0};
	for (int eg = 0; eg < 2; eg++) {
		const char *key = eg ? "egress" : "ingress";
		const json_t *list = json_object_get(r->values, key);
		for (size_t i = 0; i < json_array_size(list); i++) {
			struct nacl_entry e;
			const char *bp = jp_idx(l, jp_key(l, r->address, key), i);
			if (!tf_acl_entry(t, r, json_array_get(list, i), bp, eg, &e))
				continue;
			struct nacl_entry *slot = vec_push(eg ? &out : &in, sizeof(*slot));
			if (slot)
				*slot = e;
		}
	}
	store_entries(l, &in, &n->ingress, &n->n_ingress);
	store_entries(l, &out, &n->egress, &n->n_egress);
	subnet_assocs(t, r, &d.assoc, &d.n_assoc);
	struct draft_nacl *slot = vec_push(&l->nacls, sizeof(*slot));
	if (slot)
		*slot = d;
}

void tf_acl_rule(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	const char *acl = tf_id(t, r, r->values, r->unknown, r->config, "network_acl_id");
	bool egress = false;
	tf_bool(r->values, "egress", &egress);
	struct nacl_entry e;
	if (!tf_acl_entry(t, r, r->values, r->address, egress, &e))
		return;
	if (!acl) {
		ld_warn_at(t->l, &r->origin, "network_acl_id",
			   "the entry's NACL is not known: entry left out");
		return;
	}
	struct tf_pending *p = tf_pend(t->l, TF_ACL_ENTRY, acl, NULL, &r->origin);
	if (p)
		p->entry = e;
}

/* Two ids a resource links (an association): pending until all is read. */
/* k->what: the attribute naming the target, k->other: the other end. */
void tf_link(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	enum tf_pending_kind kind = (enum tf_pending_kind)k->arg;
	const char *target_key = k->what, *other_key = k->other;
	const char *target = tf_id(t, r, r->values, r->unknown, r->config, target_key);
	const char *other = tf_id(t, r, r->values, r->unknown, r->config, other_key);
	if (!target || !other) {
		ld_warn_at(t->l, &r->origin, NULL, "%s or %s is not known: %s left out", target_key,
			   other_key, r->type);
		return;
	}
	tf_pend(t->l, kind, target, other, &r->origin);
}

static const char *const route_targets[] = {
    "gateway_id",
    "nat_gateway_id",
    "transit_gateway_id",
    "vpc_peering_connection_id",
    "network_interface_id",
    "vpc_endpoint_id",
    "egress_only_gateway_id",
    "local_gateway_id",
    "carrier_gateway_id",
    "core_network_arn",
    "instance_id",
};

/* A route of a route block or an aws_route; false when it is not one. */
static bool tf_route(struct tf_doc *t, const struct tf_res *r, const json_t *b, const json_t *u,
		     const json_t *c, const char *path, struct route *out)
{
	memset(out, 0, sizeof(*out));
	const char *d4 = NULL, *d6 = NULL;
	bool h4 = (tf_str(t, r, b, path, "cidr_block", &d4) ||
		   tf_str(t, r, b, path, "destination_cidr_block", &d4)) &&
		  *d4;
	bool h6 = (tf_str(t, r, b, path, "ipv6_cidr_block", &d6) ||
		   tf_str(t, r, b, path, "destination_ipv6_cidr_block", &d6)) &&
		  *d6;
	if (h4 == h6)
		return false; /* a prefix-list destination: not modelled here */
	if (!ld_prefix(t->l, h4 ? d4 : d6, path, h4 ? IP_V4 : IP_V6, &out->dest))
		return false;
	for (size_t i = 0; i < sizeof(route_targets) / sizeof(route_targets[0]); i++) {
		const char *id = tf_id(t, r, b, u, c, route_targets[i]);
		if (id && *id) {
			out->target = id;
			break;
		}
	}
	if (!out->target)
		out->target = "-";
	out->kind = route_kind(out->target);
	return true;
}

void tf_route_table(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	bool is_default = k->arg == TF_DEFAULT;
	struct loader *l = t->l;
	struct draft_rt d = {
	    .from_aws = true,
	    .from_tf = true,
	    .rt = {.id = r->id, .vpc = -1, .main = is_default, .origin = r->origin}};
	struct route_table *rt = &d.rt;
	rt->vpc_id = tf_id(t, r, r->values, r->unknown, r->config, "vpc_id");
	rt->id = own_id(t, r, is_default, "default_route_table_id", rt->id);
	const json_t *list = json_object_get(r->values, "route");
	rt->routes = arena_calloc(l->a, json_array_size(list) + 1, sizeof(struct route));
	d.assoc = arena_calloc(l->a, 1, sizeof(struct ref));
	d.pl_routes = arena_calloc(l->a, 1, sizeof(struct pl_route));
	if (!rt->routes || !d.assoc || !d.pl_routes)
		return;
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *bv, *bu, *bc;
		tf_block(r, r->values, r->unknown, r->config, "route", i, &bv, &bu, &bc);
		if (tf_route(t, r, bv, bu, bc, jp_idx(l, jp_key(l, r->address, "route"), i),
			     &rt->routes[rt->n_routes]))
			rt->n_routes++;
	}
	struct draft_rt *slot = vec_push(&l->rts, sizeof(*slot));
	if (slot)
		*slot = d;
}

void tf_route_res(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	const char *table = tf_id(t, r, r->values, r->unknown, r->config, "route_table_id");
	struct route ro;
	if (!tf_route(t, r, r->values, r->unknown, r->config, r->address, &ro))
		return;
	struct tf_pending *p = table ? tf_pend(t->l, TF_ROUTE, table, NULL, &r->origin) : NULL;
	if (p)
		p->route = ro;
}

static struct gateway *gw_new(struct tf_doc *t, const struct tf_res *r, enum gateway_kind kind)
{
	struct gateway *g = vec_push(&t->l->gateways, sizeof(*g));
	if (!g)
		return NULL;
	memset(g, 0, sizeof(*g));
	g->kind = kind;
	g->id = r->id;
	g->vpc = -1;
	g->name = tf_name_tag(t, r);
	g->origin = r->origin;
	g->vpc_id = tf_id(t, r, r->values, r->unknown, r->config, "vpc_id");
	return g;
}

static void gw_addr(struct tf_doc *t, const struct tf_res *r, const char *key, bool *has,
		    struct ip_addr *a)
{
	const char *s;
	if (tf_str(t, r, r->values, r->address, key, &s) && *s)
		*has = ld_addr(t->l, s, jp_key(t->l, r->address, key), IP_V4, a);
}

void tf_gateway(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	enum gateway_kind kind = (enum gateway_kind)k->arg;
	struct gateway *g = gw_new(t, r, kind);
	if (!g)
		return;
	switch (kind) {
	case GW_NAT:
		g->n_subnet_ids =
		    tf_ids(t, r, r->values, r->unknown, r->config, "subnet_id", &g->subnet_ids);
		gw_addr(t, r, "private_ip", &g->has_private_ip, &g->private_ip);
		gw_addr(t, r, "public_ip", &g->has_public_ip, &g->public_ip);
		tf_str(t, r, r->values, r->address, "connectivity_type", &g->detail);
		break;
	case GW_ENDPOINT:
		tf_str(t, r, r->values, r->address, "service_name", &g->detail);
		g->n_subnet_ids =
		    tf_ids(t, r, r->values, r->unknown, r->config, "subnet_ids", &g->subnet_ids);
		g->n_route_table_ids = tf_ids(t, r, r->values, r->unknown, r->config,
					      "route_table_ids", &g->route_table_ids);
		break;
	case GW_PEERING:
		g->peer_vpc_id = tf_id(t, r, r->values, r->unknown, r->config, "peer_vpc_id");
		break;
	default:
		break;
	}
}

/* An Elastic IP known before apply (a state, or a no-op in a plan). */
void tf_eip(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)k;
	struct elastic_ip e;
	memset(&e, 0, sizeof(e));
	e.origin = r->origin;
	e.allocation_id = r->id;
	const char *s;
	if (!tf_str(t, r, r->values, r->address, "public_ip", &s) || !*s ||
	    !ld_addr(t->l, s, jp_key(t->l, r->address, "public_ip"), IP_V4, &e.public_ip))
		return;
	e.eni_id = tf_id(t, r, r->values, r->unknown, r->config, "network_interface");
	if (!e.eni_id || !*e.eni_id)
		e.eni_id = tf_id(t, r, r->values, r->unknown, r->config, "instance");
	if (tf_str(t, r, r->values, r->address, "private_ip", &s) && *s)
		e.has_private_ip =
		    ld_addr(t->l, s, jp_key(t->l, r->address, "private_ip"), IP_V4, &e.private_ip);
	struct elastic_ip *slot = vec_push(&t->l->eips, sizeof(*slot));
	if (slot)
		*slot = e;
}
