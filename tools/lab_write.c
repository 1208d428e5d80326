/*
 * A loaded lab written back in the vpcfw lab format (docs/lab-format.md),
 * for `vpcfw import`: every object keeps its AWS id, and its name where
 * the name is unique where the format needs it (else the id stands for
 * it); references are written as ids. What the format says implicitly is
 * written explicitly (an empty egress list, the default NACL, the main
 * route table), so loading the result gives the same verdicts. Rules that
 * name a group or list missing from the lab match nothing and are left
 * out, with a note.
 */
#include "lab_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static json_t *str(const char *s)
{
	return json_string(s ? s : "");
}

static json_t *prefix(const struct ip_prefix *p)
{
	char buf[IP_PREFIX_STRLEN];
	return json_string(ip_prefix_format(p, buf, sizeof(buf)));
}

static json_t *addr(const struct ip_addr *a)
{
	char buf[IP_ADDR_STRLEN];
	return json_string(ip_addr_format(a, buf, sizeof(buf)));
}

static json_t *proto(int16_t p)
{
	char buf[8];
	snprintf(buf, sizeof(buf), "%d", p);
	return json_string(p == PROTO_ALL ? "-1" : buf);
}

static json_t *ports(uint32_t from, uint32_t to)
{
	char buf[24];
	if (from == to)
		snprintf(buf, sizeof(buf), "%u", from);
	else
		snprintf(buf, sizeof(buf), "%u-%u", from, to);
	return json_string(buf);
}

/* name, else id when the name is missing or taken by an earlier object;
 * remembered in seen (heap: labs hold thousands of ENIs). */
static const char *take_name(const char **seen, size_t *n, const char *name, const char *id)
{
	const char *u = name && *name ? name : id;
	for (size_t i = 0; seen && i < *n && u != id; i++)
		if (!strcmp(seen[i], name))
			u = id;
	if (seen)
		seen[(*n)++] = u;
	return u;
}

static json_t *nacl_entries(const struct nacl_entry *e, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "rule", json_integer(e[i].rule_number));
		json_object_set_new(o, "action", json_string(e[i].allow ? "allow" : "deny"));
		json_object_set_new(o, "proto", proto(e[i].protocol));
		json_object_set_new(o, "cidr", prefix(&e[i].cidr));
		if (e[i].protocol == PROTO_TCP || e[i].protocol == PROTO_UDP)
			json_object_set_new(o, "ports", ports(e[i].port_from, e[i].port_to));
		if (e[i].protocol == PROTO_ICMP || e[i].protocol == PROTO_ICMPV6) {
			json_object_set_new(o, "icmp_type", json_integer(e[i].icmp_type));
			json_object_set_new(o, "icmp_code", json_integer(e[i].icmp_code));
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *sg_peer(const struct lab *lab, const struct sg_rule *r)
{
	if (r->peer_kind == SG_PEER_CIDR)
		return prefix(&r->cidr);
	if (r->peer < 0)
		return NULL;
	return str(r->peer_kind == SG_PEER_GROUP ? lab->groups[r->peer].id
						 : lab->prefix_lists[r->peer].id);
}

static json_t *sg_rules(const struct lab *lab, const struct security_group *g, bool egress,
			FILE *notes)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < g->n_rules; i++) {
		const struct sg_rule *r = &g->rules[i];
		if (r->egress != egress)
			continue;
		json_t *peer = sg_peer(lab, r);
		if (!peer) {
			fprintf(notes,
				"note: %s: a rule naming %s (not in the lab) matches nothing: left "
				"out\n",
				g->id, r->peer_id ? r->peer_id : "?");
			continue;
		}
		json_t *o = json_object();
		json_object_set_new(o, "proto", proto(r->protocol));
		if ((r->protocol == PROTO_TCP || r->protocol == PROTO_UDP) && r->from_port >= 0)
			json_object_set_new(o, "ports",
					    ports((uint32_t)r->from_port, (uint32_t)r->to_port));
		if (r->protocol == PROTO_ICMP || r->protocol == PROTO_ICMPV6) {
			json_object_set_new(o, "icmp_type", json_integer(r->from_port));
			json_object_set_new(o, "icmp_code", json_integer(r->to_port));
		}
		json_object_set_new(o, egress ? "to" : "from", peer);
		if (r->description && *r->description)
			json_object_set_new(o, "description", str(r->description));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* Writing the objects of one kind in one VPC (v; prefix lists belong to
 * none): the names already given among them (take_name), where notes go. */
struct kind_writer {
	const struct lab *lab;
	size_t v;
	FILE *notes;
	const char **names;
	size_t n_names;
};

/* Whether w writes an object of VPC vpc; groups of no VPC go to the first. */
static bool in_vpc(const struct kind_writer *w, int32_t vpc)
{
	return vpc == (int32_t)w->v || (vpc < 0 && w->v == 0 && w->lab->n_vpcs);
}

/* {"name", "id"} to add to: the name unique among its kind (take_name). */
static json_t *named_object(struct kind_writer *w, const char *name, const char *id)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", str(take_name(w->names, &w->n_names, name, id)));
	json_object_set_new(o, "id", str(id));
	return o;
}

/* What one object of a kind writes: NULL when object i is not written
 * (another VPC's). */
typedef json_t *write_one_fn(struct kind_writer *w, size_t i);

/* The array of the count objects of a kind, names unique among them. */
static json_t *named_array(const struct lab *lab, size_t v, size_t count, FILE *notes,
			   write_one_fn *one)
{
	json_t *arr = json_array();
	struct kind_writer w = {lab, v, notes, calloc(count + 1, sizeof(char *)), 0};
	for (size_t i = 0; i < count; i++) {
		json_t *o = one(&w, i);
		if (o)
			json_array_append_new(arr, o);
	}
	free(w.names);
	return arr;
}

static json_t *group_one(struct kind_writer *w, size_t i)
{
	const struct security_group *g = &w->lab->groups[i];
	if (!in_vpc(w, g->vpc))
		return NULL;
	json_t *o = named_object(w, g->name, g->id);
	if (g->description)
		json_object_set_new(o, "description", str(g->description));
	json_object_set_new(o, "ingress", sg_rules(w->lab, g, false, w->notes));
	json_object_set_new(o, "egress", sg_rules(w->lab, g, true, w->notes));
	return o;
}

static json_t *nacl_one(struct kind_writer *w, size_t i)
{
	const struct nacl *a = &w->lab->nacls[i];
	if (a->vpc != (int32_t)w->v)
		return NULL;
	json_t *o = named_object(w, a->name, a->id);
	json_object_set_new(o, "default",
			    json_boolean((int32_t)i == w->lab->vpcs[w->v].default_nacl));
	json_object_set_new(o, "ingress", nacl_entries(a->ingress, a->n_ingress));
	json_object_set_new(o, "egress", nacl_entries(a->egress, a->n_egress));
	return o;
}

/* The format adds the local routes itself. */
static json_t *route_tables(const struct lab *lab, size_t v)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < lab->n_route_tables; i++) {
		const struct route_table *t = &lab->route_tables[i];
		if (t->vpc != (int32_t)v)
			continue;
		json_t *o = json_object(), *routes = json_array();
		json_object_set_new(o, "name", str(t->id));
		json_object_set_new(o, "id", str(t->id));
		json_object_set_new(o, "main",
				    json_boolean((int32_t)i == lab->vpcs[v].main_route_table));
		for (size_t k = 0; k < t->n_routes; k++) {
			const struct route *r = &t->routes[k];
			if (r->kind == ROUTE_LOCAL || !r->target || !strcmp(r->target, "-"))
				continue;
			json_t *ro = json_object();
			json_object_set_new(ro, "dest", prefix(&r->dest));
			json_object_set_new(ro, "target", str(r->target));
			json_array_append_new(routes, ro);
		}
		json_object_set_new(o, "routes", routes);
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *subnet_one(struct kind_writer *w, size_t i)
{
	const struct lab *lab = w->lab;
	const struct subnet *s = &lab->subnets[i];
	if (s->vpc != (int32_t)w->v)
		return NULL;
	json_t *o = named_object(w, s->name, s->id);
	if (s->az)
		json_object_set_new(o, "az", str(s->az));
	json_object_set_new(o, "cidr", prefix(&s->cidr));
	if (s->has_cidr6)
		json_object_set_new(o, "ipv6", prefix(&s->cidr6));
	if (s->nacl >= 0)
		json_object_set_new(o, "nacl", str(lab->nacls[s->nacl].id));
	if (s->route_table >= 0)
		json_object_set_new(o, "route_table", str(lab->route_tables[s->route_table].id));
	return o;
}

static json_t *addr_list(const struct ip_addr *a, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, addr(&a[i]));
	return arr;
}

static json_t *enis(const struct lab *lab, size_t v, const char **seen, size_t *n_seen)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		if (e->subnet < 0 || lab->subnets[e->subnet].vpc != (int32_t)v)
			continue;
		json_t *o = json_object(), *gs = json_array();
		const char *name = take_name(seen, n_seen, e->name, e->id);
		json_object_set_new(o, "name", str(name));
		json_object_set_new(o, "id", str(e->id));
		json_object_set_new(o, "subnet", str(lab->subnets[e->subnet].id));
		if (e->n_ipv4)
			json_object_set_new(o, "ip", addr_list(e->ipv4, e->n_ipv4));
		if (e->n_ipv6)
			json_object_set_new(o, "ipv6", addr_list(e->ipv6, e->n_ipv6));
		if (e->has_public_ip)
			json_object_set_new(o, "public_ip", addr(&e->public_ip));
		for (size_t k = 0; k < e->n_groups; k++)
			json_array_append_new(gs, str(lab->groups[e->groups[k]].id));
		json_object_set_new(o, "groups", gs);
		json_object_set_new(o, "instance",
				    e->instance_id ? str(e->instance_id) : json_null());
		if (e->instance_id && e->device_index >= 0)
			json_object_set_new(o, "device_index", json_integer(e->device_index));
		if (e->description)
			json_object_set_new(o, "description", str(e->description));
		if (e->address)
			json_object_set_new(o, "address", str(e->address));
		if (e->ct_allowance != lab->opts.default_ct_allowance)
			json_object_set_new(o, "conntrack_allowance",
					    json_integer(e->ct_allowance));
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *vpcs(const struct lab *lab, FILE *notes)
{
	json_t *arr = json_array();
	const char **seen_vpc = calloc(lab->n_vpcs + 1, sizeof(char *));
	const char **seen_eni = calloc(lab->n_enis + 1, sizeof(char *));
	size_t n_vpc = 0, n_eni = 0;
	for (size_t v = 0; v < lab->n_vpcs; v++) {
		const struct vpc *p = &lab->vpcs[v];
		json_t *o = json_object(), *c4 = json_array(), *c6 = json_array();
		const char *name = take_name(seen_vpc, &n_vpc, p->name, p->id);
		json_object_set_new(o, "name", str(name));
		json_object_set_new(o, "id", str(p->id));
		for (size_t i = 0; i < p->n_cidrs; i++)
			json_array_append_new(c4, prefix(&p->cidrs[i]));
		for (size_t i = 0; i < p->n_cidrs6; i++)
			json_array_append_new(c6, prefix(&p->cidrs6[i]));
		json_object_set_new(o, "cidr", c4);
		if (p->n_cidrs6)
			json_object_set_new(o, "ipv6", c6);
		else
			json_decref(c6);
		json_object_set_new(o, "route_tables", route_tables(lab, v));
		json_object_set_new(o, "subnets",
				    named_array(lab, v, lab->n_subnets, notes, subnet_one));
		json_object_set_new(o, "nacls", named_array(lab, v, lab->n_nacls, notes, nacl_one));
		json_object_set_new(o, "security_groups",
				    named_array(lab, v, lab->n_groups, notes, group_one));
		json_object_set_new(o, "enis", enis(lab, v, seen_eni, &n_eni));
		json_array_append_new(arr, o);
	}
	free(seen_vpc);
	free(seen_eni);
	return arr;
}

static json_t *options(const struct lab *lab)
{
	const struct lab_options *p = &lab->opts;
	const struct ct_timeouts *t = &p->default_timeouts;
	json_t *o = json_object(), *to = json_object();
	json_object_set_new(o, "sg_ref_includes_ipv6", json_boolean(p->sg_ref_includes_ipv6));
	json_object_set_new(o, "sg_filters_link_local", json_boolean(p->sg_filters_link_local));
	json_object_set_new(o, "mtu", json_integer(p->mtu));
	json_object_set_new(o, "conntrack_allowance", json_integer(p->default_ct_allowance));
	if (p->nat_idle_s) /* 0: a lab built in memory, the default */
		json_object_set_new(o, "nat_idle_timeout", json_integer(p->nat_idle_s));
	if (p->nat_max_mappings)
		json_object_set_new(o, "nat_max_mappings", json_integer(p->nat_max_mappings));
	json_object_set_new(to, "tcp_established", json_integer(t->tcp_established));
	json_object_set_new(to, "tcp_transient", json_integer(t->tcp_transient));
	json_object_set_new(to, "udp_stream", json_integer(t->udp_stream));
	json_object_set_new(to, "udp", json_integer(t->udp));
	json_object_set_new(to, "icmp", json_integer(t->icmp));
	json_object_set_new(to, "other", json_integer(t->other));
	json_object_set_new(o, "timeouts", to);
	return o;
}

/* Prefix lists belong to no VPC: w->v is unused. */
static json_t *prefix_list_one(struct kind_writer *w, size_t i)
{
	const struct prefix_list *p = &w->lab->prefix_lists[i];
	json_t *o = named_object(w, p->name, p->id), *c = json_array();
	json_object_set_new(o, "family", json_string(p->family == IP_V6 ? "ipv6" : "ipv4"));
	if (p->max_entries)
		json_object_set_new(o, "max_entries", json_integer(p->max_entries));
	for (size_t k = 0; k < p->n_cidrs; k++)
		json_array_append_new(c, prefix(&p->cidrs[k]));
	json_object_set_new(o, "cidrs", c);
	return o;
}

json_t *lab_write_json(const struct lab *lab, FILE *notes)
{
	json_t *root = json_object(), *out = json_array();
	json_object_set_new(root, "lab", str(lab->name));
	json_object_set_new(root, "description",
			    json_sprintf("imported by vpcfw import from %s", lab->source));
	json_object_set_new(root, "options", options(lab));
	json_object_set_new(root, "prefix_lists",
			    named_array(lab, 0, lab->n_prefix_lists, NULL, prefix_list_one));
	for (size_t i = 0; i < lab->n_outside; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", str(lab->outside[i].name));
		json_object_set_new(o, "addr", addr(&lab->outside[i].addr));
		json_array_append_new(out, o);
	}
	json_object_set_new(root, "outside", out);
	json_object_set_new(root, "vpcs", vpcs(lab, notes));
	if (lab->n_gateways)
		json_object_set_new(root, "gateways", lab_write_gateways(lab));
	if (lab->n_load_balancers)
		json_object_set_new(root, "load_balancers", lab_write_load_balancers(lab));
	size_t lost = 0;
	for (size_t i = 0; i < lab->n_groups; i++)
		lost += lab->groups[i].vpc < 0 && !lab->n_vpcs;
	if (lost)
		fprintf(notes, "note: %zu security groups belong to no VPC of the lab: left out\n",
			lost);
	return root;
}
