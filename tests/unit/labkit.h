/*
 * Building small labs in C for the rules-engine unit tests and benchmarks,
 * without the loader: everything in one arena, indices resolved as the
 * loader resolves them (NACL lists sorted by number, subnets pointing at
 * their NACL and route table, group members from the ENIs). Aborts on
 * misuse: this is test scaffolding, and a broken fixture must fail loudly.
 *
 * Usage:
 *	struct lab *lab = kit_new();
 *	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", NULL);
 *	int32_t acl = kit_nacl(lab, "acl-1", vpc, true);
 *	kit_nacl_rule(lab, acl, false, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
 *	...
 *	kit_finish(lab);	// group members
 *	kit_free(lab);
 */
#ifndef VPCFW_TEST_LABKIT_H
#define VPCFW_TEST_LABKIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "arena.h"
#include "flow.h"
#include "model.h"
#include "diag.h"
#include "load.h"

#define KIT_MAX 64  /* of each kind of object */
#define KIT_LIST 64 /* NACL entries per direction, routes, prefix list CIDRs */

static inline void kit_die(const char *what, const char *arg)
{
	fprintf(stderr, "labkit: %s: %s\n", what, arg ? arg : "(null)");
	abort();
}

static inline struct ip_prefix kit_prefix(const char *s)
{
	struct ip_prefix p;
	if (ip_prefix_parse(s, &p, NULL) < 0)
		kit_die("bad prefix", s);
	return p;
}

static inline struct ip_addr kit_addr(const char *s)
{
	struct ip_addr a;
	if (ip_addr_parse(s, &a) < 0)
		kit_die("bad address", s);
	return a;
}

/* A TCP/UDP flow from a fixed client port to dport (other protocols: no
 * ports), and an ICMP/ICMPv6 flow of one type and code. */
static inline struct flow kit_flow(const char *src, const char *dst, int proto, unsigned dport)
{
	struct flow f = {.src = kit_addr(src), .dst = kit_addr(dst), .proto = (uint8_t)proto};
	if (proto == PROTO_TCP || proto == PROTO_UDP) {
		f.sport = 40000;
		f.dport = (uint16_t)dport;
	}
	return f;
}

static inline struct flow kit_icmp(const char *src, const char *dst, int proto, int type, int code)
{
	struct flow f = {.src = kit_addr(src), .dst = kit_addr(dst), .proto = (uint8_t)proto};
	f.icmp_type = (uint8_t)type;
	f.icmp_code = (uint8_t)code;
	return f;
}

static inline void *kit_alloc(struct lab *lab, size_t n, size_t size)
{
	void *p = arena_calloc(lab->arena, n, size);
	if (!p)
		kit_die("out of memory", "arena");
	return p;
}

static inline char *kit_str(struct lab *lab, const char *s)
{
	return s ? arena_strdup(lab->arena, s) : NULL;
}

static inline struct lab *kit_new(void)
{
	struct arena *a = arena_create();
	if (!a)
		kit_die("out of memory", "arena");
	struct lab *lab = arena_calloc(a, 1, sizeof(*lab));
	lab->arena = a;
	lab->name = "kit";
	lab->opts.sg_ref_includes_ipv6 = true;
	lab->opts.sg_filters_link_local = false;
	lab->opts.mtu = 9001;
	lab->vpcs = kit_alloc(lab, KIT_MAX, sizeof(struct vpc));
	lab->subnets = kit_alloc(lab, KIT_MAX, sizeof(struct subnet));
	lab->enis = kit_alloc(lab, KIT_MAX, sizeof(struct eni));
	lab->groups = kit_alloc(lab, KIT_MAX, sizeof(struct security_group));
	lab->nacls = kit_alloc(lab, KIT_MAX, sizeof(struct nacl));
	lab->prefix_lists = kit_alloc(lab, KIT_MAX, sizeof(struct prefix_list));
	lab->route_tables = kit_alloc(lab, KIT_MAX, sizeof(struct route_table));
	return lab;
}

static inline void kit_free(struct lab *lab)
{
	if (lab)
		arena_destroy(lab->arena);
}

static inline void kit_room(size_t n, const char *what)
{
	if (n >= KIT_MAX)
		kit_die("too many", what);
}

/* cidr6 may be NULL. */
static inline int32_t kit_vpc(struct lab *lab, const char *id, const char *cidr, const char *cidr6)
{
	kit_room(lab->n_vpcs, "vpcs");
	struct vpc *v = &lab->vpcs[lab->n_vpcs];
	v->id = kit_str(lab, id);
	v->cidrs = kit_alloc(lab, 1, sizeof(struct ip_prefix));
	v->cidrs[0] = kit_prefix(cidr);
	v->n_cidrs = 1;
	if (cidr6) {
		v->cidrs6 = kit_alloc(lab, 1, sizeof(struct ip_prefix));
		v->cidrs6[0] = kit_prefix(cidr6);
		v->n_cidrs6 = 1;
	}
	v->default_nacl = -1;
	v->main_route_table = -1;
	return (int32_t)lab->n_vpcs++;
}

static inline int32_t kit_nacl(struct lab *lab, const char *id, int32_t vpc, bool is_default)
{
	kit_room(lab->n_nacls, "nacls");
	struct nacl *n = &lab->nacls[lab->n_nacls];
	n->id = kit_str(lab, id);
	n->vpc = vpc;
	n->vpc_id = lab->vpcs[vpc].id;
	n->is_default = is_default;
	n->ingress = kit_alloc(lab, KIT_LIST, sizeof(struct nacl_entry));
	n->egress = kit_alloc(lab, KIT_LIST, sizeof(struct nacl_entry));
	if (is_default)
		lab->vpcs[vpc].default_nacl = (int32_t)lab->n_nacls;
	return (int32_t)lab->n_nacls++;
}

/* Inserts in rule-number order, as the loader keeps the lists. */
static inline struct nacl_entry *kit_nacl_entry(struct lab *lab, int32_t acl, bool egress,
						uint32_t number, bool allow, int proto,
						const char *cidr)
{
	struct nacl *n = &lab->nacls[acl];
	struct nacl_entry *list = egress ? n->egress : n->ingress;
	size_t *count = egress ? &n->n_egress : &n->n_ingress;
	if (*count >= KIT_LIST)
		kit_die("too many entries in", n->id);
	size_t at = 0;
	while (at < *count && list[at].rule_number < number)
		at++;
	if (at < *count && list[at].rule_number == number)
		kit_die("duplicate rule number in", n->id);
	memmove(&list[at + 1], &list[at], (*count - at) * sizeof(*list));
	(*count)++;
	struct nacl_entry *e = &list[at];
	memset(e, 0, sizeof(*e));
	e->rule_number = number;
	e->egress = egress;
	e->allow = allow;
	e->protocol = (int16_t)proto;
	e->cidr = kit_prefix(cidr);
	e->port_from = 0;
	e->port_to = 65535;
	e->icmp_type = e->icmp_code = -1;
	return e;
}

/* TCP/UDP rules: from..to ports; other protocols ignore them. */
static inline void kit_nacl_rule(struct lab *lab, int32_t acl, bool egress, uint32_t number,
				 bool allow, int proto, const char *cidr, unsigned from,
				 unsigned to)
{
	struct nacl_entry *e = kit_nacl_entry(lab, acl, egress, number, allow, proto, cidr);
	if (proto == PROTO_TCP || proto == PROTO_UDP) {
		e->port_from = (uint16_t)from;
		e->port_to = (uint16_t)to;
	}
}

static inline void kit_nacl_icmp(struct lab *lab, int32_t acl, bool egress, uint32_t number,
				 bool allow, int proto, const char *cidr, int type, int code)
{
	struct nacl_entry *e = kit_nacl_entry(lab, acl, egress, number, allow, proto, cidr);
	e->icmp_type = (int16_t)type;
	e->icmp_code = (int16_t)code;
}

static inline int32_t kit_route_table(struct lab *lab, const char *id, int32_t vpc, bool main)
{
	kit_room(lab->n_route_tables, "route tables");
	struct route_table *rt = &lab->route_tables[lab->n_route_tables];
	rt->id = kit_str(lab, id);
	rt->vpc = vpc;
	rt->vpc_id = lab->vpcs[vpc].id;
	rt->main = main;
	rt->routes = kit_alloc(lab, KIT_LIST, sizeof(struct route));
	if (main)
		lab->vpcs[vpc].main_route_table = (int32_t)lab->n_route_tables;
	return (int32_t)lab->n_route_tables++;
}

/* target: "local", "igw-…", "nat-…" or anything else. */
static inline void kit_route(struct lab *lab, int32_t rt, const char *dest, const char *target)
{
	struct route_table *t = &lab->route_tables[rt];
	if (t->n_routes >= KIT_LIST)
		kit_die("too many routes in", t->id);
	struct route *r = &t->routes[t->n_routes++];
	r->dest = kit_prefix(dest);
	r->target = kit_str(lab, target);
	r->kind = route_kind(target);
}

/* nacl -1: the VPC's default NACL; rt -1: the main table (or none). */
static inline int32_t kit_subnet(struct lab *lab, const char *id, int32_t vpc, const char *cidr,
				 const char *cidr6, int32_t nacl, int32_t rt)
{
	kit_room(lab->n_subnets, "subnets");
	struct subnet *s = &lab->subnets[lab->n_subnets];
	s->id = kit_str(lab, id);
	s->vpc = vpc;
	s->vpc_id = lab->vpcs[vpc].id;
	s->cidr = kit_prefix(cidr);
	if (cidr6) {
		s->has_cidr6 = true;
		s->cidr6 = kit_prefix(cidr6);
	}
	s->nacl = nacl >= 0 ? nacl : lab->vpcs[vpc].default_nacl;
	s->route_table = rt >= 0 ? rt : lab->vpcs[vpc].main_route_table;
	return (int32_t)lab->n_subnets++;
}

static inline int32_t kit_group_cap(struct lab *lab, const char *id, const char *name, int32_t vpc,
				    size_t cap)
{
	kit_room(lab->n_groups, "groups");
	struct security_group *g = &lab->groups[lab->n_groups];
	g->id = kit_str(lab, id);
	g->name = kit_str(lab, name);
	g->vpc = vpc;
	g->vpc_id = vpc >= 0 ? lab->vpcs[vpc].id : NULL;
	g->rules = kit_alloc(lab, cap, sizeof(struct sg_rule));
	/* the capacity rides in origin.path (the kit has no file to name) */
	size_t *room = kit_alloc(lab, 1, sizeof(size_t));
	*room = cap;
	g->origin.path = (const char *)room;
	return (int32_t)lab->n_groups++;
}

static inline int32_t kit_group(struct lab *lab, const char *id, const char *name, int32_t vpc)
{
	return kit_group_cap(lab, id, name, vpc, KIT_LIST);
}

static inline int32_t kit_find_group(const struct lab *lab, const char *id)
{
	for (size_t i = 0; i < lab->n_groups; i++)
		if (!strcmp(lab->groups[i].id, id))
			return (int32_t)i;
	return -1;
}

static inline int32_t kit_find_pl(const struct lab *lab, const char *id)
{
	for (size_t i = 0; i < lab->n_prefix_lists; i++)
		if (!strcmp(lab->prefix_lists[i].id, id))
			return (int32_t)i;
	return -1;
}

/* peer: a CIDR, "sg-…" (a group of the kit) or "pl-…" (a prefix list).
 * TCP/UDP: from..to ports; ICMP: from = type, to = code (-1 any). */
static inline void kit_sg_rule(struct lab *lab, int32_t group, bool egress, int proto, int from,
			       int to, const char *peer)
{
	struct security_group *g = &lab->groups[group];
	if (g->n_rules >= *(const size_t *)(const void *)g->origin.path)
		kit_die("too many rules in", g->id);
	struct sg_rule *r = &g->rules[g->n_rules++];
	memset(r, 0, sizeof(*r));
	r->egress = egress;
	r->protocol = (int16_t)proto;
	r->from_port = from;
	r->to_port = to;
	r->peer = -1;
	if (!strncmp(peer, "sg-", 3)) {
		r->peer_kind = SG_PEER_GROUP;
		r->peer_id = kit_str(lab, peer);
		r->peer = kit_find_group(lab, peer);
		if (r->peer < 0)
			kit_die("unknown group", peer);
	} else if (!strncmp(peer, "pl-", 3)) {
		r->peer_kind = SG_PEER_PREFIX_LIST;
		r->peer_id = kit_str(lab, peer);
		r->peer = kit_find_pl(lab, peer);
		if (r->peer < 0)
			kit_die("unknown prefix list", peer);
	} else {
		r->peer_kind = SG_PEER_CIDR;
		r->cidr = kit_prefix(peer);
	}
}

/* cidrs: NULL-terminated. */
static inline int32_t kit_prefix_list(struct lab *lab, const char *id, const char *name,
				      const char *const *cidrs)
{
	kit_room(lab->n_prefix_lists, "prefix lists");
	struct prefix_list *pl = &lab->prefix_lists[lab->n_prefix_lists];
	pl->id = kit_str(lab, id);
	pl->name = kit_str(lab, name);
	pl->cidrs = kit_alloc(lab, KIT_LIST, sizeof(struct ip_prefix));
	for (size_t i = 0; cidrs[i]; i++) {
		if (i >= KIT_LIST)
			kit_die("too many CIDRs in", id);
		pl->cidrs[pl->n_cidrs++] = kit_prefix(cidrs[i]);
	}
	pl->family = pl->n_cidrs ? pl->cidrs[0].addr.family : IP_V4;
	pl->max_entries = KIT_LIST;
	return (int32_t)lab->n_prefix_lists++;
}

/* ipv6, public_ip may be NULL; groups: indices, -1-terminated. */
static inline int32_t kit_eni(struct lab *lab, const char *id, const char *name, int32_t subnet,
			      const char *ipv4, const char *ipv6, const char *public_ip,
			      const int32_t *groups)
{
	kit_room(lab->n_enis, "enis");
	struct eni *e = &lab->enis[lab->n_enis];
	e->id = kit_str(lab, id);
	e->name = kit_str(lab, name);
	e->device_index = 0;
	e->subnet = subnet;
	if (ipv4) {
		e->ipv4 = kit_alloc(lab, 1, sizeof(struct ip_addr));
		e->ipv4[0] = kit_addr(ipv4);
		e->n_ipv4 = 1;
	}
	if (ipv6) {
		e->ipv6 = kit_alloc(lab, 1, sizeof(struct ip_addr));
		e->ipv6[0] = kit_addr(ipv6);
		e->n_ipv6 = 1;
	}
	if (public_ip) {
		e->has_public_ip = true;
		e->public_ip = kit_addr(public_ip);
	}
	size_t n = 0;
	while (groups[n] >= 0)
		n++;
	e->groups = kit_alloc(lab, n ? n : 1, sizeof(int32_t));
	memcpy(e->groups, groups, n * sizeof(int32_t));
	e->n_groups = n;
	e->ct_allowance = 1000;
	return (int32_t)lab->n_enis++;
}

/* A secondary private IPv4 address of an ENI, with its own public IP or
 * none (NULL); before kit_finish. */
static inline void kit_secondary(struct lab *lab, int32_t eni, const char *ipv4,
				 const char *public_ip)
{
	struct eni *e = &lab->enis[eni];
	struct ip_addr *v4 = kit_alloc(lab, e->n_ipv4 + 1, sizeof(*v4));
	memcpy(v4, e->ipv4, e->n_ipv4 * sizeof(*v4));
	v4[e->n_ipv4++] = kit_addr(ipv4);
	e->ipv4 = v4;
	if (!public_ip)
		return;
	struct eni_public *p = kit_alloc(lab, e->n_publics + 1, sizeof(*p));
	if (e->n_publics)
		memcpy(p, e->publics, e->n_publics * sizeof(*p));
	p[e->n_publics++] = (struct eni_public){kit_addr(ipv4), kit_addr(public_ip)};
	e->publics = p;
}

/* Group members as the loader fills them (AWS-SEMANTICS §3). */
static inline void kit_finish(struct lab *lab)
{
	for (size_t g = 0; g < lab->n_groups; g++) {
		struct security_group *sg = &lab->groups[g];
		sg->members = kit_alloc(lab, 2 * KIT_MAX, sizeof(struct ip_addr));
		sg->n_members = 0;
		for (size_t i = 0; i < lab->n_enis; i++) {
			const struct eni *e = &lab->enis[i];
			bool carries = false;
			for (size_t k = 0; k < e->n_groups; k++)
				carries |= e->groups[k] == (int32_t)g;
			if (!carries)
				continue;
			for (size_t k = 0; k < e->n_ipv4; k++)
				sg->members[sg->n_members++] = e->ipv4[k];
			for (size_t k = 0; lab->opts.sg_ref_includes_ipv6 && k < e->n_ipv6; k++)
				sg->members[sg->n_members++] = e->ipv6[k];
		}
	}
}

/* A file of the source tree (ctest sets VPCFW_SOURCE_DIR; by hand, run
 * from the build's tests directory), loaded as vpcfw loads it; NULL when
 * it does not load. */
static inline struct lab *kit_load_source(const char *rel)
{
	const char *root = getenv("VPCFW_SOURCE_DIR");
	char path[4096];
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;

	snprintf(path, sizeof(path), "%s/%s", root ? root : "../..", rel);
	lab_load_opts_init(&o);
	diag_init(&d);
	if (lab_load(path, &o, &lab, &d) != 0)
		lab = NULL;
	diag_free(&d);
	return lab;
}

#endif
