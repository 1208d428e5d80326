/*
 * The Mermaid flowchart behind `vpcfw graph`. Every Mermaid id is generated
 * (v0, v0z1, s3, n7, h2, igw0, inet: none starts with o or x, which Mermaid
 * reads as an arrow head right after a link) so lab names never reach
 * Mermaid's grammar; names appear only inside quoted labels, with the
 * characters Mermaid would read as syntax written as its #entity; codes.
 * Edges are collected, sorted and merged so the output is the same for the
 * same lab and one pair of nodes gets one edge listing every rule between
 * them.
 */
#include "escape.h"
#include "graph.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_MAX 48

struct edge {
	size_t from, to; /* node numbers, see node_id */
	char label[LABEL_MAX];
};

struct edges {
	struct edge *v;
	size_t n, cap;
	bool oom;
};

/* Node numbering: ENIs first, then outside hosts, the internet, and the
 * managed prefix lists. */
static size_t inet_node(const struct lab *lab)
{
	return lab->n_enis + lab->n_outside;
}

static void node_id(const struct lab *lab, size_t node, char *buf, size_t len)
{
	if (node < lab->n_enis)
		snprintf(buf, len, "n%zu", node);
	else if (node < inet_node(lab))
		snprintf(buf, len, "h%zu", node - lab->n_enis);
	else if (node == inet_node(lab))
		snprintf(buf, len, "inet");
	else
		snprintf(buf, len, "p%zu", node - inet_node(lab) - 1);
}

static void edge_add(struct edges *e, size_t from, size_t to, const char *label)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		struct edge *v = realloc(e->v, cap * sizeof(*v));
		if (!v) {
			e->oom = true;
			return;
		}
		e->v = v;
		e->cap = cap;
	}
	struct edge *x = &e->v[e->n++];
	x->from = from;
	x->to = to;
	snprintf(x->label, sizeof(x->label), "%s", label);
}

static int edge_cmp(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	return strcmp(x->label, y->label);
}

/* Mermaid reads quotes, brackets and '#' inside labels as syntax; its
 * entity codes (#quot; #35; ...) print them literally. */
static const char *const mermaid_escapes[128] = {
    ['"'] = "#quot;", ['#'] = "#35;", ['<'] = "#lt;", ['>'] = "#gt;", ['&'] = "#amp;",
    ['`'] = "#96;",   ['\n'] = " ",   ['\r'] = " ",   ['\t'] = " ",
};

static void put_escaped(FILE *out, const char *s)
{
	escape_put(out, s, mermaid_escapes, NULL);
}

static void port_range(int32_t from, int32_t to, char *buf, size_t len)
{
	if (from < 0 || (from == 0 && to == 65535))
		snprintf(buf, len, "all");
	else if (from == to)
		snprintf(buf, len, "%d", from);
	else
		snprintf(buf, len, "%d-%d", from, to);
}

/* "tcp/8080", "udp/1024-65535", "icmp/8:0", "all traffic", "proto 47". */
static void rule_label(const struct sg_rule *r, char *buf, size_t len)
{
	char ports[24];
	switch (r->protocol) {
	case PROTO_ALL:
		snprintf(buf, len, "all traffic");
		break;
	case PROTO_TCP:
	case PROTO_UDP:
		port_range(r->from_port, r->to_port, ports, sizeof(ports));
		snprintf(buf, len, "%s/%s", r->protocol == PROTO_TCP ? "tcp" : "udp", ports);
		break;
	case PROTO_ICMP:
	case PROTO_ICMPV6: {
		const char *name = r->protocol == PROTO_ICMP ? "icmp" : "icmpv6";
		if (r->from_port < 0)
			snprintf(buf, len, "%s/all", name);
		else if (r->to_port < 0)
			snprintf(buf, len, "%s/%d", name, r->from_port);
		else
			snprintf(buf, len, "%s/%d:%d", name, r->from_port, r->to_port);
		break;
	}
	default:
		snprintf(buf, len, "proto %d", r->protocol);
	}
}

static bool eni_has_group(const struct eni *e, int32_t g)
{
	for (size_t i = 0; i < e->n_groups; i++)
		if (e->groups[i] == g)
			return true;
	return false;
}

/* Edges into every ENI carrying group g from the nodes rule r admits. */
static void rule_edges(const struct lab *lab, int32_t g, const struct sg_rule *r,
		       struct edges *edges)
{
	char label[LABEL_MAX];
	rule_label(r, label, sizeof(label));
	for (size_t to = 0; to < lab->n_enis; to++) {
		if (!eni_has_group(&lab->enis[to], g))
			continue;
		if (r->peer_kind == SG_PEER_GROUP) {
			for (size_t from = 0; from < lab->n_enis; from++)
				if (from != to && eni_has_group(&lab->enis[from], r->peer))
					edge_add(edges, from, to, label);
		} else if (r->peer_kind == SG_PEER_PREFIX_LIST) {
			edge_add(edges, inet_node(lab) + 1 + (size_t)r->peer, to, label);
		} else if (r->peer_kind == SG_PEER_CIDR) {
			if (ip_prefix_is_all(&r->cidr)) {
				edge_add(edges, inet_node(lab), to, label);
				continue;
			}
			for (size_t o = 0; o < lab->n_outside; o++)
				if (ip_prefix_contains(&r->cidr, &lab->outside[o].addr))
					edge_add(edges, lab->n_enis + o, to, label);
		}
	}
}

static void collect_edges(const struct lab *lab, struct edges *edges)
{
	for (size_t g = 0; g < lab->n_groups; g++) {
		const struct security_group *sg = &lab->groups[g];
		for (size_t i = 0; i < sg->n_rules; i++) {
			const struct sg_rule *r = &sg->rules[i];
			if (r->egress)
				continue;
			if (r->peer_kind == SG_PEER_GROUP &&
			    (r->peer < 0 || (size_t)r->peer >= lab->n_groups))
				continue; /* unresolved reference: nothing to draw */
			if (r->peer_kind == SG_PEER_PREFIX_LIST &&
			    (r->peer < 0 || (size_t)r->peer >= lab->n_prefix_lists))
				continue;
			rule_edges(lab, (int32_t)g, r, edges);
		}
	}
	if (edges->n)
		qsort(edges->v, edges->n, sizeof(*edges->v), edge_cmp);
}

static bool is_default_route(const struct route *r)
{
	return ip_prefix_is_all(&r->dest);
}

/* AWS-SEMANTICS §5: public when its route table sends 0.0.0.0/0 or ::/0 to
 * an internet gateway. Returns that gateway's route, or NULL. */
static const struct route *subnet_igw_route(const struct lab *lab, const struct subnet *s)
{
	if (s->route_table < 0 || (size_t)s->route_table >= lab->n_route_tables)
		return NULL;
	const struct route_table *t = &lab->route_tables[s->route_table];
	for (size_t i = 0; i < t->n_routes; i++)
		if (t->routes[i].kind == ROUTE_IGW && is_default_route(&t->routes[i]))
			return &t->routes[i];
	return NULL;
}

/* Internet gateways are only known by the routes naming them: the k-th
 * distinct target among all IGW routes, in lab order, gets id igw<k>. */
struct igws {
	const char **names;
	size_t n;
};

static const char *igw_name(const struct route *r)
{
	return r->target ? r->target : "igw";
}

static int igws_find(const struct igws *g, const char *name)
{
	for (size_t k = 0; k < g->n; k++)
		if (!strcmp(g->names[k], name))
			return (int)k;
	return -1;
}

static int igws_collect(const struct lab *lab, struct igws *g)
{
	size_t total = 0;
	for (size_t t = 0; t < lab->n_route_tables; t++)
		total += lab->route_tables[t].n_routes;
	g->n = 0;
	g->names = calloc(total ? total : 1, sizeof(*g->names));
	if (!g->names)
		return -ENOMEM;
	for (size_t t = 0; t < lab->n_route_tables; t++) {
		const struct route_table *rt = &lab->route_tables[t];
		for (size_t i = 0; i < rt->n_routes; i++)
			if (rt->routes[i].kind == ROUTE_IGW &&
			    igws_find(g, igw_name(&rt->routes[i])) < 0)
				g->names[g->n++] = igw_name(&rt->routes[i]);
	}
	return 0;
}

static void put_prefix(FILE *out, const struct ip_prefix *p)
{
	char buf[IP_PREFIX_STRLEN];
	fputs(ip_prefix_format(p, buf, sizeof(buf)), out);
}

static void put_addr(FILE *out, const struct ip_addr *a)
{
	char buf[IP_ADDR_STRLEN];
	fputs(ip_addr_format(a, buf, sizeof(buf)), out);
}

/* Each on a line of its own within a node's label. */
static void put_addr_lines(FILE *out, const struct ip_addr *a, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		fputs("<br/>", out);
		put_addr(out, &a[k]);
	}
}

static void put_prefix_lines(FILE *out, const struct ip_prefix *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		fputs("<br/>", out);
		put_prefix(out, &p[k]);
	}
}

static void put_eni(FILE *out, const struct lab *lab, size_t i, const char *indent)
{
	const struct eni *e = &lab->enis[i];
	fprintf(out, "%sn%zu[\"", indent, i);
	put_escaped(out, lab_eni_label(lab, (int32_t)i));
	if (e->id && strcmp(e->id, lab_eni_label(lab, (int32_t)i))) {
		fputs(" (", out);
		put_escaped(out, e->id);
		fputs(")", out);
	}
	put_addr_lines(out, e->ipv4, e->n_ipv4);
	put_addr_lines(out, e->ipv6, e->n_ipv6);
	if (e->has_public_ip) {
		fputs("<br/>public ", out);
		put_addr(out, &e->public_ip);
	}
	fputs(e->n_groups ? "<br/>sg:" : "<br/>sg: none", out);
	for (size_t k = 0; k < e->n_groups; k++) {
		int32_t g = e->groups[k];
		fputs(k ? ", " : " ", out);
		if (g < 0 || (size_t)g >= lab->n_groups) {
			fputs("?", out);
			continue;
		}
		const struct security_group *sg = &lab->groups[g];
		put_escaped(out, sg->name ? sg->name : sg->id);
	}
	fputs("\"]\n", out);
}

/* "name / id", or whichever of the two there is when they are one. */
static void put_name_id(FILE *out, const char *name, const char *id)
{
	if (name && id && strcmp(name, id)) {
		put_escaped(out, name);
		fputs(" / ", out);
	}
	put_escaped(out, id ? id : name);
}

static void put_subnet(FILE *out, const struct lab *lab, size_t s)
{
	const struct subnet *sn = &lab->subnets[s];
	fprintf(out, "      subgraph s%zu [\"", s);
	put_name_id(out, sn->name, sn->id);
	fputs("<br/>", out);
	put_prefix(out, &sn->cidr);
	if (sn->has_cidr6) {
		fputs("<br/>", out);
		put_prefix(out, &sn->cidr6);
	}
	fputs("<br/>NACL ", out);
	if (sn->nacl >= 0 && (size_t)sn->nacl < lab->n_nacls)
		put_escaped(out, lab->nacls[sn->nacl].id);
	else
		fputs("none", out);
	fputs(subnet_igw_route(lab, sn) ? "<br/>public" : "<br/>private", out);
	fputs("\"]\n", out);
	for (size_t i = 0; i < lab->n_enis; i++)
		if (lab->enis[i].subnet == (int32_t)s)
			put_eni(out, lab, i, "        ");
	fputs("      end\n", out);
}

static bool same_az(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

/* Subnets of VPC v grouped by AZ, AZs in the order their first subnet
 * appears. */
static void put_azs(FILE *out, const struct lab *lab, size_t v)
{
	size_t z = 0;
	for (size_t s = 0; s < lab->n_subnets; s++) {
		const struct subnet *sn = &lab->subnets[s];
		if (sn->vpc != (int32_t)v)
			continue;
		bool first = true;
		for (size_t p = 0; p < s && first; p++)
			if (lab->subnets[p].vpc == (int32_t)v &&
			    same_az(lab->subnets[p].az, sn->az))
				first = false;
		if (!first)
			continue;
		fprintf(out, "    subgraph v%zuz%zu [\"", v, z++);
		put_escaped(out, sn->az ? sn->az : "no AZ");
		fputs("\"]\n", out);
		for (size_t t = s; t < lab->n_subnets; t++)
			if (lab->subnets[t].vpc == (int32_t)v &&
			    same_az(lab->subnets[t].az, sn->az))
				put_subnet(out, lab, t);
		fputs("    end\n", out);
	}
}

static void put_vpc(FILE *out, const struct lab *lab, size_t v)
{
	const struct vpc *vpc = &lab->vpcs[v];
	fprintf(out, "  subgraph v%zu [\"", v);
	put_name_id(out, vpc->name, vpc->id);
	put_prefix_lines(out, vpc->cidrs, vpc->n_cidrs);
	put_prefix_lines(out, vpc->cidrs6, vpc->n_cidrs6);
	fputs("\"]\n", out);
	put_azs(out, lab, v);
	fputs("  end\n", out);
}

/* The gateway nodes, a dotted line to each public subnet, and the
 * internet behind them. */
static void put_igws(FILE *out, const struct lab *lab, const struct igws *g)
{
	for (size_t k = 0; k < g->n; k++) {
		fprintf(out, "  igw%zu{{\"", k);
		put_escaped(out, g->names[k]);
		fputs("<br/>internet gateway\"}}\n", out);
	}
	for (size_t s = 0; s < lab->n_subnets; s++) {
		const struct route *r = subnet_igw_route(lab, &lab->subnets[s]);
		if (r)
			fprintf(out, "  igw%d -.- s%zu\n", igws_find(g, igw_name(r)), s);
	}
	for (size_t k = 0; k < g->n; k++)
		fprintf(out, "  inet --- igw%zu\n", k);
}

static void put_outside(FILE *out, const struct lab *lab)
{
	for (size_t o = 0; o < lab->n_outside; o++) {
		fprintf(out, "  h%zu[\"", o);
		put_escaped(out, lab->outside[o].name);
		fputs("<br/>", out);
		put_addr(out, &lab->outside[o].addr);
		fputs("\"]\n", out);
	}
}

/* A node for each prefix list some rule admits traffic from (VPC
 * endpoints and corporate ranges appear as prefix lists in rules). */
static void put_prefix_lists(FILE *out, const struct lab *lab, const struct edges *e)
{
	for (size_t pl = 0; pl < lab->n_prefix_lists; pl++) {
		bool used = false;
		for (size_t i = 0; i < e->n && !used; i++)
			used = e->v[i].from == inet_node(lab) + 1 + pl;
		if (!used)
			continue;
		const struct prefix_list *p = &lab->prefix_lists[pl];
		fprintf(out, "  p%zu[/\"", pl);
		put_escaped(out, p->id);
		if (p->name) {
			fputs(" ", out);
			put_escaped(out, p->name);
		}
		for (size_t k = 0; k < p->n_cidrs && k < 3; k++) {
			fputs("<br/>", out);
			put_prefix(out, &p->cidrs[k]);
		}
		if (p->n_cidrs > 3)
			fprintf(out, "<br/>+%zu more", p->n_cidrs - 3);
		fputs("\"/]\n", out);
	}
}

static void put_edges(FILE *out, const struct lab *lab, const struct edges *e)
{
	for (size_t i = 0; i < e->n;) {
		size_t j = i;
		char from[24], to[24];
		node_id(lab, e->v[i].from, from, sizeof(from));
		node_id(lab, e->v[i].to, to, sizeof(to));
		fprintf(out, "  %s -->|\"", from);
		for (; j < e->n && e->v[j].from == e->v[i].from && e->v[j].to == e->v[i].to; j++) {
			if (j > i && !strcmp(e->v[j].label, e->v[j - 1].label))
				continue;
			if (j > i)
				fputs(", ", out);
			put_escaped(out, e->v[j].label);
		}
		fprintf(out, "\"| %s\n", to);
		i = j;
	}
}

static bool needs_internet(const struct lab *lab, const struct igws *g, const struct edges *e)
{
	if (g->n)
		return true;
	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].from == inet_node(lab))
			return true;
	return false;
}

static bool vpc_valid(const struct lab *lab, int32_t v)
{
	return v >= 0 && (size_t)v < lab->n_vpcs;
}

int graph_mermaid(const struct lab *lab, FILE *out)
{
	struct edges edges = {0};
	struct igws igws = {0};
	collect_edges(lab, &edges);
	if (edges.oom || igws_collect(lab, &igws) < 0) {
		free(edges.v);
		free(igws.names);
		return -ENOMEM;
	}
	fputs("flowchart LR\n", out);
	if (needs_internet(lab, &igws, &edges))
		fputs("  inet((\"internet\"))\n", out);
	put_outside(out, lab);
	for (size_t v = 0; v < lab->n_vpcs; v++)
		put_vpc(out, lab, v);
	/* a lab the loader let through always nests everything in a VPC;
	 * anything else is still drawn, outside, rather than lost */
	for (size_t s = 0; s < lab->n_subnets; s++)
		if (!vpc_valid(lab, lab->subnets[s].vpc))
			put_subnet(out, lab, s);
	for (size_t i = 0; i < lab->n_enis; i++) {
		int32_t s = lab->enis[i].subnet;
		if (s < 0 || (size_t)s >= lab->n_subnets)
			put_eni(out, lab, i, "  ");
	}
	put_igws(out, lab, &igws);
	put_prefix_lists(out, lab, &edges);
	put_edges(out, lab, &edges);
	free(edges.v);
	free(igws.names);
	return ferror(out) ? -EIO : 0;
}
