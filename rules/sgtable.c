/*
 * Compiled SG tables (sgtable.h). Regions: every peer prefix a rule of
 * the direction names (a CIDR, a prefix list's CIDRs, a group member as a
 * host prefix) adds an edge at its first address and one past its last;
 * between two edges every peer matches all addresses or none, so the
 * region's first address speaks for it. Per region, one map per protocol
 * from reach_sg_rules_map: the rules' union with first-match attribution.
 */
#include "sgtable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keyset.h"
#include "reach-private.h"
#include "vec.h"

/* TCP, UDP, ICMP, ICMPv6 by their keys; every other protocol by number. */
enum { MAP_TCP, MAP_UDP, MAP_ICMP, MAP_ICMPV6, MAP_OTHER, MAPS };

static const int map_proto[MAPS] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, PROTO_ALL};

struct region {
	struct ip_addr start;
	struct reach_map maps[MAPS];
};

struct sg_table {
	bool egress;
	struct region *v;
	size_t n, cap;
};

struct edges {
	struct ip_addr *v;
	size_t n, cap;
};

static int edge_add(struct edges *e, const struct ip_addr *a)
{
	if (vec_reserve(&e->v, &e->cap, e->n + 1, sizeof(*e->v)) < 0)
		return -ENOMEM;
	e->v[e->n++] = *a;
	return 0;
}

static int prefix_edges(struct edges *e, const struct ip_prefix *p)
{
	struct ip_addr past;
	ip_prefix_last(p, &past);
	int r = edge_add(e, &p->addr);
	if (!r && ip_addr_next(&past)) /* the family's last address has no "past" */
		r = edge_add(e, &past);
	return r;
}

static int peer_edges(const struct lab *lab, const struct sg_rule *x, struct edges *e)
{
	struct ip_prefix host;
	int r = 0;
	if (x->peer_kind == SG_PEER_CIDR)
		return prefix_edges(e, &x->cidr);
	if (x->peer_kind == SG_PEER_PREFIX_LIST && x->peer >= 0 &&
	    (size_t)x->peer < lab->n_prefix_lists)
		for (size_t i = 0; i < lab->prefix_lists[x->peer].n_cidrs && !r; i++)
			r = prefix_edges(e, &lab->prefix_lists[x->peer].cidrs[i]);
	if (x->peer_kind == SG_PEER_GROUP && x->peer >= 0 && (size_t)x->peer < lab->n_groups)
		for (size_t i = 0; i < lab->groups[x->peer].n_members && !r; i++) {
			ip_prefix_host(&lab->groups[x->peer].members[i], &host);
			r = prefix_edges(e, &host);
		}
	return r;
}

static int addr_cmp(const void *a, const void *b)
{
	return ip_addr_cmp(a, b);
}

/* Every region start of the direction, sorted, unique; both families'
 * first addresses always among them. */
static int collect_edges(const struct lab *lab, const struct eni *eni, bool egress, struct edges *e)
{
	struct ip_addr zero4 = {.family = IP_V4}, zero6 = {.family = IP_V6};
	int r = edge_add(e, &zero4);
	if (!r)
		r = edge_add(e, &zero6);
	struct sg_walk w;
	struct sg_match at;
	sg_walk_init(&w, lab, eni, egress);
	for (const struct sg_rule *x; !r && (x = sg_walk_next(&w, &at));)
		r = peer_edges(lab, x, e);
	if (r)
		return r;
	qsort(e->v, e->n, sizeof(*e->v), addr_cmp);
	size_t u = 0;
	for (size_t i = 0; i < e->n; i++)
		if (!u || ip_addr_cmp(&e->v[u - 1], &e->v[i]))
			e->v[u++] = e->v[i];
	e->n = u;
	return 0;
}

static int region_build(const struct lab *lab, const struct eni *eni, bool egress, struct region *g)
{
	struct stage_verdict base;
	memset(&base, 0, sizeof(base));
	base.group = base.rule = -1;
	int r = 0;
	for (int k = 0; k < MAPS && !r; k++)
		r = reach_sg_rules_map(lab, NULL, eni, egress, &g->start, map_proto[k],
				       k == MAP_OTHER ? 255 : 65535, &base, &g->maps[k]);
	return r;
}

int sg_table_build(const struct lab *lab, const struct eni *eni, bool egress, struct sg_table **out)
{
	struct sg_table *t = calloc(1, sizeof(*t));
	struct edges e = {0};
	int r = t ? collect_edges(lab, eni, egress, &e) : -ENOMEM;
	if (!r)
		r = vec_reserve(&t->v, &t->cap, e.n, sizeof(*t->v));
	for (size_t i = 0; i < e.n && !r; i++) {
		struct region *g = &t->v[t->n++];
		memset(g, 0, sizeof(*g));
		g->start = e.v[i];
		r = region_build(lab, eni, egress, g);
	}
	free(e.v);
	if (r) {
		sg_table_free(t);
		t = NULL;
	} else {
		t->egress = egress;
	}
	*out = t;
	return r;
}

static int map_of(uint8_t proto)
{
	switch (proto) {
	case PROTO_TCP:
		return MAP_TCP;
	case PROTO_UDP:
		return MAP_UDP;
	case PROTO_ICMP:
		return MAP_ICMP;
	case PROTO_ICMPV6:
		return MAP_ICMPV6;
	default:
		return MAP_OTHER;
	}
}

/* The last region starting at or below a. */
static const struct region *region_of(const struct sg_table *t, const struct ip_addr *a)
{
	size_t lo = 0, hi = t->n;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (ip_addr_cmp(&t->v[mid].start, a) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return &t->v[lo];
}

bool sg_table_evaluate(const struct sg_table *t, const struct flow *f, struct sg_match *m)
{
	int k = map_of(f->proto);
	uint32_t key = k == MAP_OTHER ? f->proto : keyset_flow_key(f);
	const struct region *g = region_of(t, t->egress ? &f->dst : &f->src);
	const struct reach_seg *s = reach_map_find(&g->maps[k], key);
	bool ok = s && s->accept;
	m->group = ok ? s->why.group : -1;
	m->rule = ok ? s->why.rule : -1;
	return ok;
}

size_t sg_table_regions(const struct sg_table *t)
{
	return t->n;
}

void sg_table_free(struct sg_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		for (int k = 0; k < MAPS; k++)
			free(t->v[i].maps[k].segs);
	free(t->v);
	free(t);
}
