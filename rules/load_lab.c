/*
 * Reader for vpcfw's own lab format (docs/lab-format.md): one hand-written
 * JSON file with VPCs holding their subnets, route tables, NACLs, security
 * groups and ENIs, plus lab-wide prefix lists, outside hosts and options.
 * Objects are named; ids are optional and generated deterministically when
 * absent, and names are turned into ids here so that load_resolve.c treats
 * this format and describe-* output alike. Unknown keys are errors: in a
 * hand-written file they are typos. This file reads the document, its VPCs,
 * subnets, route tables, prefix lists, outside hosts and options; rules are
 * load_lab_rules.c's, ENIs load_lab_eni.c's, names load_lab_names.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-lab-private.h"
#include "load_build.h"

/* o[key], a CIDR or a list of them, appended to *out; each bad one is an
 * error at its own path. */
static void lab_cidrs(struct loader *l, const json_t *o, const char *key, const char *path,
		      int family, struct ip_prefix **out, size_t *n)
{
	const char **texts;
	size_t k;
	if (!j_strlist(l, o, key, path, &texts, &k))
		return;
	bool list = json_is_array(json_object_get(o, key));
	for (size_t i = 0; i < k; i++) {
		const char *at = list ? jp_idx(l, jp_key(l, path, key), i) : jp_key(l, path, key);
		struct ip_prefix p;
		struct ip_prefix *grown;
		if (!ld_prefix(l, texts[i], at, family, &p) ||
		    !(grown = ld_grow(l, *out, *n, sizeof(p))))
			continue;
		grown[(*n)++] = p;
		*out = grown;
	}
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
	if (!lab_keys_ok(l, o, path, rt_keys))
		return;
	struct draft_rt d = {.rt = {.vpc = -1, .vpc_id = s->vpc_id, .origin = ld_origin(l, path)}};
	struct route_table *t = &d.rt;
	t->id = lab_declare(l, &s->rts, o, path, "rtb", s->vpc_name, NULL);
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
		if (!lab_keys_ok(l, ro, rp, route_keys))
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
			pr->pl_id = lab_named_find(s->pls, name);
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

static const char *const subnet_keys[] = {"name", "id",	  "az",		 "cidr",
					  "ipv6", "nacl", "route_table", NULL};

static void lab_subnet(struct loader *l, struct scope *s, const json_t *o, const char *path,
		       size_t idx)
{
	struct draft_subnet d = {.s = {.vpc = -1,
				       .nacl = -1,
				       .route_table = -1,
				       .vpc_id = s->vpc_id,
				       .origin = ld_origin(l, path)}};
	struct subnet *sn = &d.s;
	if (!lab_declared(&s->subnets, idx, &sn->id, &sn->name))
		return;
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

static void declare_all(struct loader *l, struct scope *s, const json_t *vpc, const char *path,
			const char *key, struct names *names, const char *prefix)
{
	const json_t *arr = j_array(l, vpc, key, path, false);
	const char *base = jp_key(l, path, key);
	FOREACH(arr, i, o)
	{
		const char *p = jp_idx(l, base, i);
		if (json_is_object(o)) {
			lab_declare(l, names, o, p, prefix, s->vpc_name, NULL);
		} else {
			ld_err(l, p, "expected an object, found %s", json_kind(o));
			vec_push(&names->v, sizeof(struct named));
		}
	}
}

static const char *const vpc_keys[] = {"name",	  "id",		  "cidr",  "ipv6",
				       "subnets", "route_tables", "nacls", "security_groups",
				       "enis",	  "description",  NULL};

/* The VPC's main table when the lab names none: only the local routes. */
static void synth_main_table(struct loader *l, struct scope *s, const char *path, bool any_table)
{
	struct draft_rt d = {.rt = {.id = ld_make_id(l, "rtb", s->vpc_name, "main"),
				    .vpc_id = s->vpc_id,
				    .vpc = -1,
				    .main = true,
				    .origin = ld_origin(l, path)}};
	struct route_table *t = &d.rt;
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
	if (!lab_keys_ok(l, o, path, vpc_keys))
		return;
	struct scope s;
	memset(&s, 0, sizeof(s));
	s.pls = pls;
	struct vpc v = {.default_nacl = -1, .main_route_table = -1, .origin = ld_origin(l, path)};
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
	lab_cidrs(l, o, "cidr", path, IP_V4, &v.cidrs, &v.n_cidrs);
	if (!json_object_get(o, "cidr"))
		ld_err(l, jp_key(l, path, "cidr"), "required key is missing");
	lab_cidrs(l, o, "ipv6", path, IP_V6, &v.cidrs6, &v.n_cidrs6);
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
	if (!has_default) { /* AWS's, allow all: the lab declares none */
		struct origin at = ld_origin(l, path);
		ld_default_nacl(l, s.vpc_id, s.vpc_name, s.has_ipv6, &at);
	}
	if (!has_main)
		synth_main_table(l, &s, path, has_table);
	/* declare_all reported a wrong type already */
	const json_t *arr = json_object_get(o, "subnets");
	FOREACH(arr, i, so)
	{
		const char *sp = jp_idx(l, jp_key(l, path, "subnets"), i);
		if (i < s.subnets.v.n && json_is_object(so) && lab_keys_ok(l, so, sp, subnet_keys))
			lab_subnet(l, &s, so, sp, i);
	}
	arr = json_object_get(o, "security_groups");
	FOREACH(arr, i, go)
	{
		const char *gp = jp_idx(l, jp_key(l, path, "security_groups"), i);
		if (i < s.groups.v.n && json_is_object(go))
			lab_group(l, &s, go, gp, i);
	}
	arr = j_array(l, o, "enis", path, false);
	FOREACH(arr, i, eo)
	{
		lab_eni(l, &s, eo, jp_idx(l, jp_key(l, path, "enis"), i), enis);
	}
	lab_names_free(&s.subnets);
	lab_names_free(&s.nacls);
	lab_names_free(&s.rts);
	lab_names_free(&s.groups);
}

static const char *const pl_keys[] = {"name", "id", "family", "max_entries", "cidrs", NULL};

static void lab_prefix_lists(struct loader *l, const json_t *root, struct names *names)
{
	const json_t *arr = j_array(l, root, "prefix_lists", "", false);
	FOREACH(arr, i, o)
	{
		const char *path = jp_idx(l, "prefix_lists", i);
		if (!lab_keys_ok(l, o, path, pl_keys))
			continue;
		struct prefix_list p = {.origin = ld_origin(l, path)};
		p.id = lab_declare(l, names, o, path, "pl", "", &p.name);
		lab_cidrs(l, o, "cidrs", path, 0, &p.cidrs, &p.n_cidrs);
		const char *fam = NULL;
		if (j_str(l, o, "family", path, false, &fam))
			ld_family(l, fam, jp_key(l, path, "family"), "ipv4 or ipv6", &p.family);
		else if (p.n_cidrs) {
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

static void lab_outside_host(struct loader *l, const json_t *o, const char *path)
{
	if (!lab_keys_ok(l, o, path, outside_keys))
		return;
	struct outside_host h = {.origin = ld_origin(l, path)};
	const char *a = NULL;
	bool ok = j_str(l, o, "name", path, true, &h.name);
	ok &= j_str(l, o, "addr", path, true, &a);
	if (!ok || !ld_addr(l, a, jp_key(l, path, "addr"), 0, &h.addr))
		return;
	if (!lab_name_is_short(h.name))
		ld_warn(l, jp_key(l, path, "name"),
			"'%s' is not a short name (1-10 of a-z 0-9 -): it becomes the "
			"namespace name vpcfw-%s",
			h.name, h.name);
	struct outside_host *slot = vec_push(&l->outside, sizeof(*slot));
	if (slot)
		*slot = h;
}

static const char *const option_keys[] = {"sg_ref_includes_ipv6",
					  "sg_filters_link_local",
					  "mtu",
					  "timeouts",
					  "conntrack_allowance",
					  "nat_idle_timeout",
					  "nat_max_mappings",
					  NULL};

/* An integer option in lo-hi, left as it was when absent or wrong. */
static void option_in(struct loader *l, const json_t *o, const char *key, long long lo,
		      long long hi, uint32_t *out)
{
	long long v;
	if (!j_int(l, o, key, "options", false, &v))
		return;
	if (v < lo || v > hi)
		ld_err(l, jp_key(l, "options", key), "%lld is outside %lld-%lld", v, lo, hi);
	else
		*out = (uint32_t)v;
}

static void lab_options(struct loader *l, const json_t *root)
{
	const json_t *o = j_object(l, root, "options", "", false);
	if (!o || !lab_keys_ok(l, o, "options", option_keys))
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
	/* NAT gateways (AWS-SEMANTICS §9): 350 s idle is AWS's, the table's
	 * size ours (every mapping's memory is taken at start) */
	option_in(l, o, "nat_idle_timeout", 1, 4320000, &l->opts.nat_idle_s);
	option_in(l, o, "nat_max_mappings", 1, 4194304, &l->opts.nat_max_mappings);
}

static const char *const lab_keys[] = {
    "lab",	    "description", "comment",  "options",	 "outside",
    "prefix_lists", "vpcs",	   "gateways", "load_balancers", NULL};

void lab_format_load(struct loader *l, const json_t *root)
{
	if (++l->n_lab_files > 1) {
		ld_err(l, NULL, "a lab holds one vpcfw lab file; this is the second");
		return;
	}
	if (!lab_keys_ok(l, root, "", lab_keys))
		return;
	const char *name;
	if (j_str(l, root, "lab", "", false, &name))
		l->lab_name = name;
	lab_options(l, root);
	struct names pl_names = {0}, eni_names = {0};
	lab_prefix_lists(l, root, &pl_names);
	ld_each_object(l, root, "outside", "", lab_outside_host);
	const json_t *arr = j_array(l, root, "vpcs", "", false);
	FOREACH(arr, i, v)
	{
		lab_vpc(l, v, jp_idx(l, "vpcs", i), &pl_names, &eni_names);
	}
	lab_names_free(&pl_names);
	lab_names_free(&eni_names);
	lab_load_gateways(l, root);
	lab_load_balancers(l, root);
}
