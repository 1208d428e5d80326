/*
 * Reader for vpcfw's own lab format (docs/lab-format.md): one hand-written
 * JSON file with VPCs holding their subnets, route tables, NACLs, security
 * groups and ENIs, plus lab-wide prefix lists, outside hosts and options.
 * Objects are named; ids are optional and generated deterministically when
 * absent, and names are turned into ids here so that load_resolve.c treats
 * this format and describe-* output alike. Unknown keys are errors: in a
 * hand-written file they are typos.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-private.h"

/* Names declared in one VPC (or lab-wide for prefix lists), with ids. */
struct named {
	const char *name;
	const char *id;
};

/* A list of named objects with an index by name and by id. */
struct names {
	struct vec v; /* struct named */
	struct idmap map;
};

static void names_free(struct names *n)
{
	vec_free(&n->v);
	idmap_free(&n->map);
}

struct scope {
	const char *vpc_name;
	const char *vpc_id;
	bool has_ipv6;
	struct ip_prefix *cidrs;
	size_t n_cidrs;
	struct ip_prefix *cidrs6;
	size_t n_cidrs6;
	struct names subnets, nacls, rts, groups;
	struct names *pls; /* lab-wide */
};

#define FOREACH(arr, i, item)                                                                      \
	for (size_t i = 0; i < json_array_size(arr); i++)                                          \
		for (const json_t *item = json_array_get(arr, i); item; item = NULL)

bool check_keys(struct loader *l, const json_t *o, const char *path, const char *const *allowed)
{
	if (!json_is_object(o)) {
		ld_err(l, path, "expected an object, found %s", json_kind(o));
		return false;
	}
	const char *k;
	const json_t *v;
	bool ok = true;
	json_object_foreach((json_t *)o, k, v)
	{
		bool found = false;
		for (const char *const *a = allowed; *a && !found; a++)
			found = !strcmp(*a, k);
		if (!found) {
			ld_err(l, jp_key(l, path, k), "unknown key");
			ok = false;
		}
	}
	return ok;
}

static const char *named_find(const struct names *n, const char *ref)
{
	size_t i;
	if (!idmap_get(&n->map, ref, &i))
		return NULL;
	return VEC_AT(&n->v, struct named, i)->id;
}

/* Registers a named object; its id is given or made from the names. A
 * failed declaration still takes its slot (id NULL) so that the n-th object
 * of an array stays the n-th entry of v. */
static const char *declare(struct loader *l, struct names *v, const json_t *o, const char *path,
			   const char *prefix, const char *vpc_name, const char **name_out)
{
	const char *name = NULL, *id = NULL;
	struct named *n = vec_push(&v->v, sizeof(*n));
	if (!n)
		return NULL;
	size_t idx = v->v.n - 1;
	j_str(l, o, "name", path, true, &name);
	j_str(l, o, "id", path, false, &id);
	if (name_out)
		*name_out = name;
	if (!name)
		return NULL;
	if (named_find(v, name)) {
		ld_err(l, jp_key(l, path, "name"), "'%s' is declared twice", name);
		return NULL;
	}
	if (id && strncmp(id, prefix, strlen(prefix))) {
		ld_err(l, jp_key(l, path, "id"), "'%s' does not look like an id (%s-...)", id,
		       prefix);
		return NULL;
	}
	if (!id)
		id = ld_make_id(l, prefix, vpc_name, name);
	n = VEC_AT(&v->v, struct named, idx);
	n->name = name;
	n->id = id;
	idmap_put(&v->map, name, idx);
	idmap_put(&v->map, id, idx);
	return id;
}

static bool lab_prefix_list(struct loader *l, const char *text, const char *path, int family,
			    struct ip_prefix **out, size_t *n)
{
	struct ip_prefix p;
	if (!ld_prefix(l, text, path, family, &p))
		return false;
	struct ip_prefix *grown = arena_calloc(l->a, *n + 1, sizeof(p));
	if (!grown)
		return false;
	if (*n)
		memcpy(grown, *out, *n * sizeof(p));
	grown[(*n)++] = p;
	*out = grown;
	return true;
}

/* "443", "1024-65535" or 443. */
static bool parse_ports(struct loader *l, const json_t *v, const char *path, long *from, long *to)
{
	if (json_is_integer(v)) {
		*from = *to = (long)json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		*from = strtol(s, &end, 10);
		if (end == s) {
			ld_err(l, path, "'%s' is not a port or port range (e.g. 443 or 1024-65535)",
			       s);
			return false;
		}
		*to = *from;
		if (*end == '-') {
			const char *t = end + 1;
			*to = strtol(t, &end, 10);
			if (end == t) {
				ld_err(l, path,
				       "'%s' is not a port or port range (e.g. 443 or 1024-65535)",
				       s);
				return false;
			}
		}
		if (*end) {
			ld_err(l, path, "'%s' is not a port or port range (e.g. 443 or 1024-65535)",
			       s);
			return false;
		}
	} else {
		ld_err(l, path, "expected a port or port range, found %s", json_kind(v));
		return false;
	}
	if (*from < 0 || *from > 65535 || *to < 0 || *to > 65535) {
		ld_err(l, path, "port range %ld-%ld is outside 0-65535", *from, *to);
		return false;
	}
	if (*from > *to) {
		ld_err(l, path, "port range %ld-%ld runs backwards", *from, *to);
		return false;
	}
	return true;
}

static bool lab_proto(struct loader *l, const json_t *o, const char *path, int16_t *out)
{
	const json_t *v = json_object_get(o, "proto");
	const char *pp = jp_key(l, path, "proto");
	if (!v) {
		ld_err(l, pp, "required key is missing");
		return false;
	}
	char num[16];
	const char *text;
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		text = num;
	} else if (json_is_string(v)) {
		text = json_string_value(v);
	} else {
		ld_err(l, pp, "expected a protocol name or number, found %s", json_kind(v));
		return false;
	}
	return ld_protocol(l, text, pp, out);
}

/* ports / icmp_type / icmp_code by protocol: the same rules for NACL
 * entries and SG rules. ICMP type and code go to *from / *to. */
static bool lab_match(struct loader *l, const json_t *o, const char *path, int16_t proto,
		      long *from, long *to)
{
	const json_t *ports = json_object_get(o, "ports");
	const json_t *ty = json_object_get(o, "icmp_type");
	const json_t *co = json_object_get(o, "icmp_code");
	bool icmp = proto == PROTO_ICMP || proto == PROTO_ICMPV6;
	bool l4 = proto == PROTO_TCP || proto == PROTO_UDP;
	if (ports && !l4) {
		ld_err(l, jp_key(l, path, "ports"), "ports apply to tcp and udp only");
		return false;
	}
	if ((ty || co) && !icmp) {
		ld_err(l, jp_key(l, path, ty ? "icmp_type" : "icmp_code"),
		       "icmp_type and icmp_code apply to icmp and icmpv6 only");
		return false;
	}
	if (l4) {
		*from = 0;
		*to = 65535;
		return !ports || parse_ports(l, ports, jp_key(l, path, "ports"), from, to);
	}
	*from = *to = -1;
	if (!icmp)
		return true;
	long long t = -1, c = -1;
	bool ok = true;
	if (ty)
		ok &= j_int(l, o, "icmp_type", path, false, &t);
	if (co)
		ok &= j_int(l, o, "icmp_code", path, false, &c);
	if (!ok)
		return false;
	if (t < -1 || t > 255) {
		ld_err(l, jp_key(l, path, "icmp_type"), "ICMP type %lld is outside -1..255", t);
		return false;
	}
	if (c < -1 || c > 255) {
		ld_err(l, jp_key(l, path, "icmp_code"), "ICMP code %lld is outside -1..255", c);
		return false;
	}
	if (t == -1 && c != -1) {
		ld_err(l, jp_key(l, path, "icmp_code"), "ICMP code %lld needs an icmp_type", c);
		return false;
	}
	*from = (long)t;
	*to = (long)c;
	return true;
}

static const char *const nacl_entry_keys[] = {
    "rule", "action", "proto", "cidr", "ports", "icmp_type", "icmp_code", "description", NULL};

static bool lab_nacl_entry(struct loader *l, const json_t *o, const char *path, bool egress,
			   struct nacl_entry *n)
{
	if (!check_keys(l, o, path, nacl_entry_keys))
		return false;
	memset(n, 0, sizeof(*n));
	n->egress = egress;
	n->origin = ld_origin(l, path);
	long long num = 0;
	const char *action = NULL, *cidr = NULL;
	bool ok = j_int(l, o, "rule", path, true, &num);
	if (ok && (num < 1 || num > NACL_RULE_MAX)) {
		ld_err(l, jp_key(l, path, "rule"), "rule number %lld is outside 1-%d", num,
		       NACL_RULE_MAX);
		ok = false;
	}
	n->rule_number = (uint32_t)num;
	if (j_str(l, o, "action", path, true, &action)) {
		if (!strcmp(action, "allow")) {
			n->allow = true;
		} else if (strcmp(action, "deny")) {
			ld_err(l, jp_key(l, path, "action"),
			       "'%s' is not a rule action (allow or deny)", action);
			ok = false;
		}
	} else {
		ok = false;
	}
	if (j_str(l, o, "cidr", path, true, &cidr))
		ok &= ld_prefix(l, cidr, jp_key(l, path, "cidr"), 0, &n->cidr);
	else
		ok = false;
	long from, to;
	if (!lab_proto(l, o, path, &n->protocol) || !lab_match(l, o, path, n->protocol, &from, &to))
		return false;
	if (n->protocol == PROTO_TCP || n->protocol == PROTO_UDP) {
		n->port_from = (uint16_t)from;
		n->port_to = (uint16_t)to;
		n->icmp_type = n->icmp_code = -1;
	} else {
		n->port_from = 0;
		n->port_to = 65535;
		n->icmp_type = (int16_t)from;
		n->icmp_code = (int16_t)to;
	}
	return ok;
}

static void lab_nacl_entries(struct loader *l, const json_t *o, const char *path, bool egress,
			     struct nacl_entry **out, size_t *n)
{
	const char *key = egress ? "egress" : "ingress";
	const json_t *arr = j_array(l, o, key, path, false);
	size_t len = arr ? json_array_size(arr) : 0;
	*out = arena_calloc(l->a, len ? len : 1, sizeof(struct nacl_entry));
	*n = 0;
	if (!*out)
		return;
	const char *base = jp_key(l, path, key);
	FOREACH(arr, i, e)
	{
		if (lab_nacl_entry(l, e, jp_idx(l, base, i), egress, &(*out)[*n]))
			(*n)++;
	}
}

static const char *const nacl_keys[] = {"name",	  "id",		 "default", "ingress",
					"egress", "description", NULL};

static void lab_nacl(struct loader *l, struct scope *s, const json_t *o, const char *path)
{
	if (!check_keys(l, o, path, nacl_keys))
		return;
	struct draft_nacl d;
	memset(&d, 0, sizeof(d));
	struct nacl *n = &d.n;
	n->vpc = -1;
	n->vpc_id = s->vpc_id;
	n->origin = ld_origin(l, path);
	n->id = declare(l, &s->nacls, o, path, "acl", s->vpc_name, &n->name);
	j_bool(l, o, "default", path, false, &n->is_default);
	lab_nacl_entries(l, o, path, false, &n->ingress, &n->n_ingress);
	lab_nacl_entries(l, o, path, true, &n->egress, &n->n_egress);
	if (!n->id)
		return;
	struct draft_nacl *slot = vec_push(&l->nacls, sizeof(*slot));
	if (slot)
		*slot = d;
}

/* A peer: a CIDR, a security group (name or sg- id) or a prefix list
 * (name or pl- id); "sg:NAME" / "pl:NAME" say which when names clash. */
static bool lab_peer(struct loader *l, struct scope *s, const char *text, const char *path,
		     struct sg_rule *r)
{
	if (strchr(text, '/')) {
		r->peer_kind = SG_PEER_CIDR;
		return ld_prefix(l, text, path, 0, &r->cidr);
	}
	const char *name = text;
	bool want_sg = true, want_pl = true;
	if (!strncmp(text, "sg:", 3)) {
		name = text + 3;
		want_pl = false;
	} else if (!strncmp(text, "pl:", 3)) {
		name = text + 3;
		want_sg = false;
	}
	const char *sg = want_sg ? named_find(&s->groups, name) : NULL;
	const char *pl = want_pl ? named_find(s->pls, name) : NULL;
	if (sg && pl) {
		ld_err(l, path,
		       "'%s' names both a security group and a prefix list: write "
		       "sg:%s or pl:%s",
		       name, name, name);
		return false;
	}
	if (!sg && !pl && want_sg && !strncmp(name, "sg-", 3))
		sg = name; /* a group of another VPC (peering): resolved later */
	if (!sg && !pl && want_pl && !strncmp(name, "pl-", 3))
		pl = name;
	if (!sg && !pl) {
		ld_err(l, path,
		       "'%s' is neither a CIDR block, a security group of VPC %s nor a "
		       "prefix list",
		       text, s->vpc_name);
		return false;
	}
	r->peer_kind = sg ? SG_PEER_GROUP : SG_PEER_PREFIX_LIST;
	r->peer_id = arena_strdup(l->a, sg ? sg : pl);
	return true;
}

static const char *const sg_rule_keys_in[] = {"proto", "ports",	      "icmp_type", "icmp_code",
					      "from",  "description", NULL};
static const char *const sg_rule_keys_out[] = {"proto", "ports",       "icmp_type", "icmp_code",
					       "to",	"description", NULL};

static void lab_sg_rule(struct loader *l, struct scope *s, const json_t *o, const char *path,
			bool egress, struct vec *rules)
{
	if (!check_keys(l, o, path, egress ? sg_rule_keys_out : sg_rule_keys_in))
		return;
	struct sg_rule base;
	memset(&base, 0, sizeof(base));
	base.egress = egress;
	base.peer = -1;
	j_str(l, o, "description", path, false, &base.description);
	long from, to;
	if (!lab_proto(l, o, path, &base.protocol) ||
	    !lab_match(l, o, path, base.protocol, &from, &to))
		return;
	base.from_port = (int32_t)from;
	base.to_port = (int32_t)to;
	const char *key = egress ? "to" : "from";
	const char **peers;
	size_t n;
	if (!j_strlist(l, o, key, path, &peers, &n))
		return;
	if (!n) {
		ld_err(l, jp_key(l, path, key), "required key is missing (the rule's peers)");
		return;
	}
	bool list = json_is_array(json_object_get(o, key));
	for (size_t i = 0; i < n; i++) {
		const char *pp = list ? jp_idx(l, jp_key(l, path, key), i) : jp_key(l, path, key);
		struct sg_rule r = base;
		r.origin = ld_origin(l, pp);
		if (!lab_peer(l, s, peers[i], pp, &r))
			continue;
		struct sg_rule *slot = vec_push(rules, sizeof(*slot));
		if (slot)
			*slot = r;
	}
}

/* A new group's outbound rule as AWS creates it: all traffic to 0.0.0.0/0,
 * and to ::/0 in a VPC with IPv6. */
static void default_egress(struct loader *l, struct scope *s, const char *path, struct vec *rules)
{
	for (int v6 = 0; v6 <= (s->has_ipv6 ? 1 : 0); v6++) {
		struct sg_rule *r = vec_push(rules, sizeof(*r));
		if (!r)
			return;
		r->egress = true;
		r->protocol = PROTO_ALL;
		r->from_port = r->to_port = -1;
		r->peer_kind = SG_PEER_CIDR;
		r->peer = -1;
		ip_prefix_parse(v6 ? "::/0" : "0.0.0.0/0", &r->cidr, NULL);
		r->description = "default outbound rule";
		r->origin = ld_origin(l, path);
	}
}

static const char *const sg_keys[] = {"name", "id", "description", "ingress", "egress", NULL};

static void lab_group(struct loader *l, struct scope *s, const json_t *o, const char *path,
		      size_t idx)
{
	struct draft_group d;
	memset(&d, 0, sizeof(d));
	struct security_group *g = &d.g;
	g->vpc = -1;
	g->vpc_id = s->vpc_id;
	g->origin = ld_origin(l, path);
	/* declared in a first pass so that rules may name any group */
	struct named *n = VEC_AT(&s->groups.v, struct named, idx);
	if (!n->id)
		return;
	g->id = n->id;
	g->name = n->name;
	j_str(l, o, "description", path, false, &g->description);
	struct vec rules = {0};
	for (int eg = 0; eg < 2; eg++) {
		const char *key = eg ? "egress" : "ingress";
		const json_t *arr = j_array(l, o, key, path, false);
		if (!arr && eg && !json_object_get(o, key))
			default_egress(l, s, jp_key(l, path, key), &rules);
		const char *base = jp_key(l, path, key);
		FOREACH(arr, i, r)
		{
			lab_sg_rule(l, s, r, jp_idx(l, base, i), eg, &rules);
		}
	}
	g->rules = arena_calloc(l->a, rules.n ? rules.n : 1, sizeof(struct sg_rule));
	if (g->rules && rules.n) {
		memcpy(g->rules, rules.items, rules.n * sizeof(struct sg_rule));
		g->n_rules = rules.n;
	}
	vec_free(&rules);
	struct draft_group *slot = vec_push(&l->groups, sizeof(*slot));
	if (slot)
		*slot = d;
}

static bool route_target(struct loader *l, struct scope *s, const char *t, struct route *r)
{
	if (!strcmp(t, "local")) {
		r->kind = ROUTE_LOCAL;
		r->target = "local";
	} else if (!strcmp(t, "igw") || !strncmp(t, "igw-", 4)) {
		r->kind = ROUTE_IGW;
		r->target = t[3] ? t : ld_make_id(l, "igw", s->vpc_name, "");
	} else if (!strcmp(t, "nat") || !strncmp(t, "nat-", 4)) {
		r->kind = ROUTE_NAT;
		r->target = t[3] ? t : ld_make_id(l, "nat", s->vpc_name, "");
	} else {
		r->kind = route_kind(t);
		r->target = t;
	}
	return true;
}

static const char *const rt_keys[] = {"name", "id", "main", "routes", NULL};
static const char *const route_keys[] = {"dest", "target", "state", NULL};

static void lab_route_table(struct loader *l, struct scope *s, const json_t *o, const char *path)
{
	if (!check_keys(l, o, path, rt_keys))
		return;
	struct draft_rt d;
	memset(&d, 0, sizeof(d));
	struct route_table *t = &d.rt;
	t->vpc = -1;
	t->vpc_id = s->vpc_id;
	t->origin = ld_origin(l, path);
	t->id = declare(l, &s->rts, o, path, "rtb", s->vpc_name, NULL);
	j_bool(l, o, "main", path, false, &t->main);
	const json_t *arr = j_array(l, o, "routes", path, false);
	size_t n = s->n_cidrs + s->n_cidrs6 + (arr ? json_array_size(arr) : 0);
	t->routes = arena_calloc(l->a, n ? n : 1, sizeof(struct route));
	d.pl_routes = arena_calloc(l->a, n ? n : 1, sizeof(struct pl_route));
	if (!t->routes || !d.pl_routes)
		return;
	/* every table starts with the local routes of the VPC's blocks */
	for (size_t i = 0; i < s->n_cidrs + s->n_cidrs6; i++) {
		struct route *r = &t->routes[t->n_routes++];
		r->dest = i < s->n_cidrs ? s->cidrs[i] : s->cidrs6[i - s->n_cidrs];
		r->kind = ROUTE_LOCAL;
		r->target = "local";
	}
	const char *base = jp_key(l, path, "routes");
	FOREACH(arr, i, ro)
	{
		const char *rp = jp_idx(l, base, i);
		const char *dest = NULL, *target = NULL;
		if (!check_keys(l, ro, rp, route_keys))
			continue;
		struct route *r = &t->routes[t->n_routes];
		const char *state = NULL;
		bool blackhole = false;
		bool ok = j_str(l, ro, "dest", rp, true, &dest);
		ok &= j_str(l, ro, "target", rp, true, &target);
		if (j_str(l, ro, "state", rp, false, &state))
			ok &= ld_route_state(l, state, jp_key(l, rp, "state"), &blackhole);
		if (!ok)
			continue;
		r->blackhole = blackhole;
		if (!strchr(dest, '/')) { /* a prefix list: a gateway endpoint's route */
			struct pl_route *pr = &d.pl_routes[d.n_pl_routes];
			const char *name = strncmp(dest, "pl:", 3) ? dest : dest + 3;
			pr->pl_id = named_find(s->pls, name);
			if (!pr->pl_id && !strncmp(name, "pl-", 3))
				pr->pl_id = name;
			pr->at = ld_origin(l, rp);
			if (!pr->pl_id)
				ld_err(l, jp_key(l, rp, "dest"),
				       "'%s' is neither a CIDR block nor a prefix list", dest);
			else if (route_target(l, s, target, &pr->r))
				d.pl_routes[d.n_pl_routes++].r.blackhole = blackhole;
			continue;
		}
		if (ld_prefix(l, dest, jp_key(l, rp, "dest"), 0, &r->dest) &&
		    route_target(l, s, target, r))
			t->n_routes++;
	}
	if (!t->id)
		return;
	struct draft_rt *slot = vec_push(&l->rts, sizeof(*slot));
	if (slot)
		*slot = d;
}

static struct ref lab_ref(struct loader *l, struct names *names, const json_t *o, const char *key,
			  const char *path, const char *what, const char *vpc_name)
{
	struct ref r = {NULL, ld_origin(l, jp_key(l, path, key))};
	const char *text;
	if (!j_str(l, o, key, path, false, &text))
		return r;
	r.id = named_find(names, text);
	if (!r.id)
		ld_err(l, r.at.path, "no %s named '%s' in VPC %s", what, text, vpc_name);
	return r;
}

static const char *const subnet_keys[] = {"name", "id",	  "az",		 "cidr",
					  "ipv6", "nacl", "route_table", NULL};

static void lab_subnet(struct loader *l, struct scope *s, const json_t *o, const char *path,
		       size_t idx)
{
	struct draft_subnet d;
	memset(&d, 0, sizeof(d));
	struct subnet *sn = &d.s;
	sn->vpc = -1;
	sn->nacl = -1;
	sn->route_table = -1;
	sn->vpc_id = s->vpc_id;
	sn->origin = ld_origin(l, path);
	struct named *n = VEC_AT(&s->subnets.v, struct named, idx);
	if (!n->id)
		return;
	sn->id = n->id;
	sn->name = n->name;
	j_str(l, o, "az", path, false, &sn->az);
	const char *c;
	bool ok = j_str(l, o, "cidr", path, true, &c) &&
		  ld_prefix(l, c, jp_key(l, path, "cidr"), IP_V4, &sn->cidr);
	if (j_str(l, o, "ipv6", path, false, &c) &&
	    ld_prefix(l, c, jp_key(l, path, "ipv6"), IP_V6, &sn->cidr6))
		sn->has_cidr6 = true;
	d.nacl_ref = lab_ref(l, &s->nacls, o, "nacl", path, "network ACL", s->vpc_name);
	d.rt_ref = lab_ref(l, &s->rts, o, "route_table", path, "route table", s->vpc_name);
	if (!ok)
		return;
	struct draft_subnet *slot = vec_push(&l->subnets, sizeof(*slot));
	if (slot)
		*slot = d;
}

static const char *const timeout_keys[] = {
    "tcp_established", "tcp_transient", "udp_stream", "udp", "icmp", "other", NULL};

static void lab_timeouts(struct loader *l, const json_t *o, const char *path, struct ct_timeouts *t)
{
	if (!check_keys(l, o, path, timeout_keys))
		return;
	uint32_t *fields[] = {
	    &t->tcp_established, &t->tcp_transient, &t->udp_stream, &t->udp, &t->icmp, &t->other};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		long long v;
		if (!j_int(l, o, timeout_keys[i], path, false, &v))
			continue;
		if (v < 1 || v > 4320000) {
			ld_err(l, jp_key(l, path, timeout_keys[i]),
			       "timeout %lld s is outside 1-4320000", v);
			continue;
		}
		*fields[i] = (uint32_t)v;
	}
}

static bool lab_allowance(struct loader *l, const json_t *o, const char *path, uint32_t *out)
{
	long long v;
	if (!j_int(l, o, "conntrack_allowance", path, false, &v))
		return false;
	if (v < 1 || v > 100000000) {
		ld_err(l, jp_key(l, path, "conntrack_allowance"),
		       "%lld connections is outside 1-100000000", v);
		return false;
	}
	*out = (uint32_t)v;
	return true;
}

static struct ref *lab_group_refs(struct loader *l, struct scope *s, const json_t *o,
				  const char *path, size_t *n)
{
	const char **names;
	size_t k;
	*n = 0;
	if (!j_strlist(l, o, "groups", path, &names, &k))
		return NULL;
	if (!k && json_is_array(json_object_get(o, "groups"))) {
		/* an AWS-managed interface (NAT gateway, NLB, transit gateway
		 * attachment) has none: vpcfw import writes it so */
		ld_warn(l, jp_key(l, path, "groups"),
			"no security group: AWS applies none to an AWS-managed interface; "
			"vpcfw's security-group stages let nothing through it");
		return NULL;
	}
	if (!k) {
		ld_err(l, jp_key(l, path, "groups"),
		       "required key is missing (an ENI has 1 to 16 security groups)");
		return NULL;
	}
	struct ref *refs = arena_calloc(l->a, k, sizeof(*refs));
	if (!refs)
		return NULL;
	bool list = json_is_array(json_object_get(o, "groups"));
	for (size_t i = 0; i < k; i++) {
		const char *gp =
		    list ? jp_idx(l, jp_key(l, path, "groups"), i) : jp_key(l, path, "groups");
		const char *id = named_find(&s->groups, names[i]);
		if (!id && !strncmp(names[i], "sg-", 3))
			id = names[i];
		if (!id) {
			ld_err(l, gp, "no security group named '%s' in VPC %s", names[i],
			       s->vpc_name);
			continue;
		}
		refs[*n].id = id;
		refs[*n].at = ld_origin(l, gp);
		(*n)++;
	}
	return refs;
}

static void lab_addrs(struct loader *l, const json_t *o, const char *key, const char *path,
		      int family, struct ip_addr **out, size_t *n)
{
	const char **texts;
	size_t k;
	*n = 0;
	if (!j_strlist(l, o, key, path, &texts, &k) || !k)
		return;
	*out = arena_calloc(l->a, k, sizeof(struct ip_addr));
	if (!*out)
		return;
	bool list = json_is_array(json_object_get(o, key));
	for (size_t i = 0; i < k; i++) {
		const char *ap = list ? jp_idx(l, jp_key(l, path, key), i) : jp_key(l, path, key);
		if (ld_addr(l, texts[i], ap, family, &(*out)[*n]))
			(*n)++;
	}
}

/* instance: absent -> an instance of its own (id made from the ENI's
 * name); "i-..." -> that id; another string -> a named instance several ENIs
 * may share; null -> not attached (a load balancer node, an endpoint). */
static void lab_instance(struct loader *l, struct scope *s, const json_t *o, const char *path,
			 const char *eni_name, struct draft_eni *d)
{
	const json_t *v = json_object_get(o, "instance");
	long long di = 0;
	if (j_int(l, o, "device_index", path, false, &di) && (di < 0 || di > 255)) {
		ld_err(l, jp_key(l, path, "device_index"), "device index %lld is outside 0-255",
		       di);
		di = 0;
	}
	if (json_is_null(v)) {
		d->e.device_index = -1;
		return;
	}
	d->e.device_index = (int32_t)di;
	if (!v) {
		d->e.instance_id = ld_make_id(l, "i", s->vpc_name, eni_name ? eni_name : "");
		return;
	}
	const char *t;
	if (!j_str(l, o, "instance", path, false, &t))
		return;
	if (!strncmp(t, "i-", 2)) {
		d->e.instance_id = t;
	} else {
		d->e.instance_id = ld_make_id(l, "i", s->vpc_name, t);
		d->instance_name = t;
	}
}

static bool name_is_short(const char *n)
{
	size_t len = strlen(n);
	if (len < 1 || len > 10)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') || *n == '-'))
			return false;
	return true;
}

static const char *const eni_keys[] = {
    "name",    "id",	   "subnet",	   "ip",	  "ipv6",     "public_ip",
    "groups",  "instance", "device_index", "description", "timeouts", "conntrack_allowance",
    "address", NULL};

/* "public_ip": the primary address's public IP, or an object mapping
 * private addresses of the ENI to theirs (an Elastic IP belongs to one
 * private address, AWS-SEMANTICS §9). */
static void lab_public_ips(struct loader *l, const json_t *o, const char *path, struct eni *e)
{
	const json_t *v = json_object_get(o, "public_ip");
	const char *at = jp_key(l, path, "public_ip");
	struct ip_addr priv, pub;
	if (!v)
		return;
	if (!json_is_object(v)) {
		const char *text;
		if (!j_str(l, o, "public_ip", path, false, &text) ||
		    !ld_addr(l, text, at, IP_V4, &pub))
			return;
		if (e->n_ipv4)
			ld_eni_public(l, e, &e->ipv4[0], &pub);
		else
			ld_err(l, at, "a public IP needs a private IPv4 address (ip)");
		return;
	}
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)v, key, val)
	{
		const char *kp = jp_key(l, at, key);
		if (!json_is_string(val)) {
			ld_err(l, kp, "expected a string, found %s", json_kind(val));
			continue;
		}
		if (!ld_addr(l, key, kp, IP_V4, &priv) ||
		    !ld_addr(l, json_string_value(val), kp, IP_V4, &pub))
			continue;
		bool own = false;
		for (size_t i = 0; i < e->n_ipv4; i++)
			own |= ip_addr_eq(&e->ipv4[i], &priv);
		if (own)
			ld_eni_public(l, e, &priv, &pub);
		else
			ld_err(l, kp, "%s is not a private address of this ENI (ip)", key);
	}
}

static void lab_eni(struct loader *l, struct scope *s, const json_t *o, const char *path,
		    struct names *names)
{
	if (!check_keys(l, o, path, eni_keys))
		return;
	struct draft_eni d;
	memset(&d, 0, sizeof(d));
	struct eni *e = &d.e;
	e->subnet = -1;
	e->origin = ld_origin(l, path);
	const char *name = NULL;
	e->id = declare(l, names, o, path, "eni", s->vpc_name, &name);
	d.own_name = name;
	if (name && !name_is_short(name))
		ld_warn(l, jp_key(l, path, "name"),
			"'%s' is not a short name (1-10 of a-z 0-9 -): it becomes the namespace "
			"name vpcfw-%s",
			name, name);
	j_str(l, o, "description", path, false, &e->description);
	j_str(l, o, "address", path, false, &e->address); /* kept by vpcfw import */
	d.subnet = lab_ref(l, &s->subnets, o, "subnet", path, "subnet", s->vpc_name);
	if (!json_object_get(o, "subnet"))
		ld_err(l, jp_key(l, path, "subnet"), "required key is missing");
	d.vpc_id = s->vpc_id;
	lab_addrs(l, o, "ip", path, IP_V4, &e->ipv4, &e->n_ipv4);
	lab_addrs(l, o, "ipv6", path, IP_V6, &e->ipv6, &e->n_ipv6);
	if (!json_object_get(o, "ip") && !json_object_get(o, "ipv6"))
		ld_err(l, path, "an ENI needs an address: ip, ipv6 or both");
	lab_public_ips(l, o, path, e);
	d.groups = lab_group_refs(l, s, o, path, &d.n_groups);
	lab_instance(l, s, o, path, name, &d);
	const json_t *t = j_object(l, o, "timeouts", path, false);
	if (t) {
		lab_timeouts(l, t, jp_key(l, path, "timeouts"), &e->timeouts);
		d.explicit_timeouts = true;
	}
	lab_allowance(l, o, path, &e->ct_allowance);
	if (e->id && d.subnet.id)
		ld_add_eni(l, &d);
}

static void declare_all(struct loader *l, struct scope *s, const json_t *vpc, const char *path,
			const char *key, struct names *names, const char *prefix)
{
	const json_t *arr = j_array(l, vpc, key, path, false);
	const char *base = jp_key(l, path, key);
	FOREACH(arr, i, o)
	{
		const char *p = jp_idx(l, base, i);
		if (json_is_object(o)) {
			declare(l, names, o, p, prefix, s->vpc_name, NULL);
		} else {
			ld_err(l, p, "expected an object, found %s", json_kind(o));
			vec_push(&names->v, sizeof(struct named));
		}
	}
}

static const char *const vpc_keys[] = {"name",	  "id",		  "cidr",  "ipv6",
				       "subnets", "route_tables", "nacls", "security_groups",
				       "enis",	  "description",  NULL};

/* The VPC's default NACL when the lab declares none: AWS's, allow all
 * (AWS-SEMANTICS §2), rule 100, and 101 for IPv6. */
static void synth_default_nacl(struct loader *l, struct scope *s, const char *path)
{
	struct draft_nacl d;
	memset(&d, 0, sizeof(d));
	struct nacl *n = &d.n;
	n->id = ld_make_id(l, "acl", s->vpc_name, "default");
	n->name = "default";
	n->vpc_id = s->vpc_id;
	n->vpc = -1;
	n->is_default = true;
	n->origin = ld_origin(l, path);
	size_t k = s->has_ipv6 ? 2 : 1;
	n->ingress = arena_calloc(l->a, k, sizeof(struct nacl_entry));
	n->egress = arena_calloc(l->a, k, sizeof(struct nacl_entry));
	if (!n->ingress || !n->egress)
		return;
	for (size_t eg = 0; eg < 2; eg++) {
		struct nacl_entry *list = eg ? n->egress : n->ingress;
		for (size_t i = 0; i < k; i++) {
			struct nacl_entry *e = &list[i];
			e->rule_number = 100 + (uint32_t)i;
			e->egress = eg;
			e->allow = true;
			e->protocol = PROTO_ALL;
			ip_prefix_parse(i ? "::/0" : "0.0.0.0/0", &e->cidr, NULL);
			e->port_from = 0;
			e->port_to = 65535;
			e->icmp_type = e->icmp_code = -1;
			e->origin = n->origin;
		}
	}
	n->n_ingress = n->n_egress = k;
	struct draft_nacl *slot = vec_push(&l->nacls, sizeof(*slot));
	if (slot)
		*slot = d;
}

/* The VPC's main table when the lab names none: only the local routes. */
static void synth_main_table(struct loader *l, struct scope *s, const char *path, bool any_table)
{
	struct draft_rt d;
	memset(&d, 0, sizeof(d));
	struct route_table *t = &d.rt;
	t->id = ld_make_id(l, "rtb", s->vpc_name, "main");
	t->vpc_id = s->vpc_id;
	t->vpc = -1;
	t->main = true;
	t->origin = ld_origin(l, path);
	size_t n = s->n_cidrs + s->n_cidrs6;
	t->routes = arena_calloc(l->a, n ? n : 1, sizeof(struct route));
	if (!t->routes)
		return;
	for (size_t i = 0; i < n; i++) {
		struct route *r = &t->routes[t->n_routes++];
		r->dest = i < s->n_cidrs ? s->cidrs[i] : s->cidrs6[i - s->n_cidrs];
		r->kind = ROUTE_LOCAL;
		r->target = "local";
	}
	struct draft_rt *slot = vec_push(&l->rts, sizeof(*slot));
	if (slot)
		*slot = d;
	if (!any_table) /* every flow with an outside host ends at the route stage */
		ld_warn(l, path,
			"no route tables: assumed a main route table %s with only %s; flows with "
			"hosts outside the VPC are rejected at the route stage",
			t->id, ld_local_routes(l, s->cidrs, s->n_cidrs, s->cidrs6, s->n_cidrs6));
}

static void each_object(struct loader *l, struct scope *s, const json_t *vpc, const char *path,
			const char *key,
			void (*fn)(struct loader *, struct scope *, const json_t *, const char *))
{
	const json_t *arr = j_array(l, vpc, key, path, false);
	const char *base = jp_key(l, path, key);
	FOREACH(arr, i, o)
	{
		fn(l, s, o, jp_idx(l, base, i));
	}
}

static void lab_vpc(struct loader *l, const json_t *o, const char *path, struct names *pls,
		    struct names *enis)
{
	if (!check_keys(l, o, path, vpc_keys))
		return;
	struct scope s;
	memset(&s, 0, sizeof(s));
	s.pls = pls;
	struct vpc v;
	memset(&v, 0, sizeof(v));
	v.default_nacl = -1;
	v.main_route_table = -1;
	v.origin = ld_origin(l, path);
	j_str(l, o, "name", path, true, &v.name);
	j_str(l, o, "id", path, false, &v.id);
	if (!v.name)
		return;
	if (v.id && strncmp(v.id, "vpc-", 4))
		ld_err(l, jp_key(l, path, "id"), "'%s' does not look like an id (vpc-...)", v.id);
	if (!v.id)
		v.id = ld_make_id(l, "vpc", v.name, "");
	s.vpc_name = v.name;
	s.vpc_id = v.id;
	const char **texts;
	size_t n;
	if (j_strlist(l, o, "cidr", path, &texts, &n)) {
		bool list = json_is_array(json_object_get(o, "cidr"));
		for (size_t i = 0; i < n; i++)
			lab_prefix_list(l, texts[i],
					list ? jp_idx(l, jp_key(l, path, "cidr"), i)
					     : jp_key(l, path, "cidr"),
					IP_V4, &v.cidrs, &v.n_cidrs);
	}
	if (!json_object_get(o, "cidr"))
		ld_err(l, jp_key(l, path, "cidr"), "required key is missing");
	if (j_strlist(l, o, "ipv6", path, &texts, &n)) {
		bool list = json_is_array(json_object_get(o, "ipv6"));
		for (size_t i = 0; i < n; i++)
			lab_prefix_list(l, texts[i],
					list ? jp_idx(l, jp_key(l, path, "ipv6"), i)
					     : jp_key(l, path, "ipv6"),
					IP_V6, &v.cidrs6, &v.n_cidrs6);
	}
	s.cidrs = v.cidrs;
	s.n_cidrs = v.n_cidrs;
	s.cidrs6 = v.cidrs6;
	s.n_cidrs6 = v.n_cidrs6;
	s.has_ipv6 = v.n_cidrs6 > 0;
	struct vpc *slot = vec_push(&l->vpcs, sizeof(*slot));
	if (slot)
		*slot = v;

	/* names first, so that any object may refer to any other */
	declare_all(l, &s, o, path, "subnets", &s.subnets, "subnet");
	declare_all(l, &s, o, path, "security_groups", &s.groups, "sg");
	each_object(l, &s, o, path, "nacls", lab_nacl);
	each_object(l, &s, o, path, "route_tables", lab_route_table);
	bool has_default = false, has_main = false, has_table = false;
	for (size_t i = 0; i < l->nacls.n; i++) {
		struct draft_nacl *dn = VEC_AT(&l->nacls, struct draft_nacl, i);
		has_default |= dn->n.is_default && dn->n.vpc_id == s.vpc_id;
	}
	for (size_t i = 0; i < l->rts.n; i++) {
		struct draft_rt *dr = VEC_AT(&l->rts, struct draft_rt, i);
		has_main |= dr->rt.main && dr->rt.vpc_id == s.vpc_id;
		has_table |= dr->rt.vpc_id == s.vpc_id;
	}
	if (!has_default)
		synth_default_nacl(l, &s, path);
	if (!has_main)
		synth_main_table(l, &s, path, has_table);
	/* declare_all reported a wrong type already */
	const json_t *arr = json_object_get(o, "subnets");
	FOREACH(arr, i, so)
	{
		const char *sp = jp_idx(l, jp_key(l, path, "subnets"), i);
		if (i < s.subnets.v.n && json_is_object(so) && check_keys(l, so, sp, subnet_keys))
			lab_subnet(l, &s, so, sp, i);
	}
	arr = json_object_get(o, "security_groups");
	FOREACH(arr, i, go)
	{
		const char *gp = jp_idx(l, jp_key(l, path, "security_groups"), i);
		if (i < s.groups.v.n && json_is_object(go) && check_keys(l, go, gp, sg_keys))
			lab_group(l, &s, go, gp, i);
	}
	arr = j_array(l, o, "enis", path, false);
	FOREACH(arr, i, eo)
	{
		lab_eni(l, &s, eo, jp_idx(l, jp_key(l, path, "enis"), i), enis);
	}
	names_free(&s.subnets);
	names_free(&s.nacls);
	names_free(&s.rts);
	names_free(&s.groups);
}

static const char *const pl_keys[] = {"name", "id", "family", "max_entries", "cidrs", NULL};

static void lab_prefix_lists(struct loader *l, const json_t *root, struct names *names)
{
	const json_t *arr = j_array(l, root, "prefix_lists", "", false);
	FOREACH(arr, i, o)
	{
		const char *path = jp_idx(l, "prefix_lists", i);
		if (!check_keys(l, o, path, pl_keys))
			continue;
		struct prefix_list p;
		memset(&p, 0, sizeof(p));
		p.origin = ld_origin(l, path);
		p.id = declare(l, names, o, path, "pl", "", &p.name);
		const char **texts;
		size_t n;
		if (j_strlist(l, o, "cidrs", path, &texts, &n)) {
			bool list = json_is_array(json_object_get(o, "cidrs"));
			for (size_t k = 0; k < n; k++)
				lab_prefix_list(l, texts[k],
						list ? jp_idx(l, jp_key(l, path, "cidrs"), k)
						     : jp_key(l, path, "cidrs"),
						0, &p.cidrs, &p.n_cidrs);
		}
		const char *fam = NULL;
		if (j_str(l, o, "family", path, false, &fam)) {
			if (!strcasecmp(fam, "ipv4"))
				p.family = IP_V4;
			else if (!strcasecmp(fam, "ipv6"))
				p.family = IP_V6;
			else
				ld_err(l, jp_key(l, path, "family"),
				       "'%s' is not an address family (ipv4 or ipv6)", fam);
		} else if (p.n_cidrs) {
			p.family = p.cidrs[0].addr.family;
		} else {
			p.family = IP_V4;
		}
		long long max;
		p.max_entries = (uint32_t)p.n_cidrs;
		if (j_int(l, o, "max_entries", path, false, &max)) {
			if (max < 1 || max > 100000)
				ld_err(l, jp_key(l, path, "max_entries"),
				       "%lld entries is not valid", max);
			else
				p.max_entries = (uint32_t)max;
		}
		if (!p.id)
			continue;
		struct prefix_list *slot = vec_push(&l->pls, sizeof(*slot));
		if (slot)
			*slot = p;
	}
}

static const char *const outside_keys[] = {"name", "addr", "description", NULL};

static void lab_outside(struct loader *l, const json_t *root)
{
	const json_t *arr = j_array(l, root, "outside", "", false);
	FOREACH(arr, i, o)
	{
		const char *path = jp_idx(l, "outside", i);
		if (!check_keys(l, o, path, outside_keys))
			continue;
		struct outside_host h;
		memset(&h, 0, sizeof(h));
		h.origin = ld_origin(l, path);
		const char *a = NULL;
		bool ok = j_str(l, o, "name", path, true, &h.name);
		ok &= j_str(l, o, "addr", path, true, &a);
		if (!ok || !ld_addr(l, a, jp_key(l, path, "addr"), 0, &h.addr))
			continue;
		if (!name_is_short(h.name))
			ld_warn(l, jp_key(l, path, "name"),
				"'%s' is not a short name (1-10 of a-z 0-9 -): it becomes the "
				"namespace name vpcfw-%s",
				h.name, h.name);
		struct outside_host *slot = vec_push(&l->outside, sizeof(*slot));
		if (slot)
			*slot = h;
	}
}

static const char *const option_keys[] = {"sg_ref_includes_ipv6",
					  "sg_filters_link_local",
					  "mtu",
					  "timeouts",
					  "conntrack_allowance",
					  NULL};

static void lab_options(struct loader *l, const json_t *root)
{
	const json_t *o = j_object(l, root, "options", "", false);
	if (!o || !check_keys(l, o, "options", option_keys))
		return;
	l->have_opts = true;
	j_bool(l, o, "sg_ref_includes_ipv6", "options", false, &l->opts.sg_ref_includes_ipv6);
	j_bool(l, o, "sg_filters_link_local", "options", false, &l->opts.sg_filters_link_local);
	long long mtu;
	if (j_int(l, o, "mtu", "options", false, &mtu)) {
		if (mtu < 1280 || mtu > 9001)
			ld_err(l, "options.mtu", "MTU %lld is outside 1280-9001", mtu);
		else
			l->opts.mtu = (uint32_t)mtu;
	}
	const json_t *t = j_object(l, o, "timeouts", "options", false);
	if (t)
		lab_timeouts(l, t, "options.timeouts", &l->opts.default_timeouts);
	lab_allowance(l, o, "options", &l->opts.default_ct_allowance);
}

static const char *const lab_keys[] = {"lab",		 "description", "comment", "options", "outside",
				       "prefix_lists", "vpcs",	      "gateways", NULL};

void lab_format_load(struct loader *l, const json_t *root)
{
	if (++l->n_lab_files > 1) {
		ld_err(l, NULL, "a lab holds one vpcfw lab file; this is the second");
		return;
	}
	if (!check_keys(l, root, "", lab_keys))
		return;
	const char *name;
	if (j_str(l, root, "lab", "", false, &name))
		l->lab_name = name;
	lab_options(l, root);
	struct names pl_names = {0}, eni_names = {0};
	lab_prefix_lists(l, root, &pl_names);
	lab_outside(l, root);
	const json_t *arr = j_array(l, root, "vpcs", "", false);
	FOREACH(arr, i, v)
	{
		lab_vpc(l, v, jp_idx(l, "vpcs", i), &pl_names, &eni_names);
	}
	names_free(&pl_names);
	names_free(&eni_names);
	lab_load_gateways(l, root);
}
