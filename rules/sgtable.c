/*
 * Compiled SG tables (sgtable.h). Regions: every peer prefix a rule of
 * the direction names (a CIDR, a prefix list's CIDRs, a group member as a
 * host prefix) adds an edge at its first address and one past its last;
 * between two edges every peer matches all addresses or none, so the
 * region's first address speaks for it. Per region, one map per protocol
 * from reach_sg_rules_map (the rules' union with first-match attribution)
 * kept as (first key, group, rule) pieces; a region whose maps equal the
 * one before it is merged into it (the gaps either side of a group member
 * usually are). The untracked decision (§4) needs no region: the rules it
 * looks at name every address of the family.
 */
#include "sgtable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "keyset.h"
#include "reach-private.h"
#include "vec.h"

/* TCP, UDP, ICMP, ICMPv6 by their keys; every other protocol by number. */
enum { MAP_TCP, MAP_UDP, MAP_ICMP, MAP_ICMPV6, MAP_OTHER, MAPS };

static const int map_proto[MAPS] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, PROTO_ALL};

/* Keys from lo up to the next piece's lo go to (group, rule); -1: none. */
struct piece {
	uint32_t lo;
	int32_t group, rule;
};

/* Map k of the region is pieces[off[k]..off[k + 1]). */
struct region {
	struct ip_addr start;
	uint32_t off[MAPS + 1];
};

struct interval {
	uint32_t lo, hi;
};

/* §4 for one family and protocol: the first rule of the other direction
 * letting every reply through, and the keys the direction's rules naming
 * every address allow (opens[off..off + n), sorted, disjoint). */
struct untracked {
	struct sg_match back;
	uint32_t off, n;
};

struct sg_table {
	bool egress;
	struct region *v;
	struct piece *pieces;
	struct interval *opens;
	size_t n, cap, n_pieces, cap_pieces, n_opens, cap_opens;
	struct untracked u[2][2]; /* [IPv6][UDP] */
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

/* The map's pieces appended, neighbours with the same answer joined. */
static int pieces_add(struct sg_table *t, const struct reach_map *m)
{
	size_t first = t->n_pieces;
	for (size_t i = 0; i < m->n; i++) {
		const struct reach_seg *s = &m->segs[i];
		struct piece p = {s->lo, s->accept ? s->why.group : -1,
				  s->accept ? s->why.rule : -1};
		const struct piece *last = t->n_pieces > first ? &t->pieces[t->n_pieces - 1] : NULL;
		if (last && last->group == p.group && last->rule == p.rule)
			continue;
		if (vec_reserve(&t->pieces, &t->cap_pieces, t->n_pieces + 1, sizeof(p)) < 0)
			return -ENOMEM;
		t->pieces[t->n_pieces++] = p;
	}
	return 0;
}

/* Whether the last region answers as the one before it. */
static bool same_as_previous(const struct sg_table *t)
{
	if (t->n < 2)
		return false;
	const struct region *a = &t->v[t->n - 2], *b = &t->v[t->n - 1];
	for (int k = 0; k < MAPS; k++)
		if (a->off[k + 1] - a->off[k] != b->off[k + 1] - b->off[k])
			return false;
	return !memcmp(&t->pieces[a->off[0]], &t->pieces[b->off[0]],
		       (b->off[0] - a->off[0]) * sizeof(*t->pieces));
}

static int region_add(const struct lab *lab, const struct sg_members *members,
		      const struct eni *eni, bool egress, const struct ip_addr *start,
		      struct sg_table *t)
{
	struct stage_verdict base;
	memset(&base, 0, sizeof(base));
	base.group = base.rule = -1;
	if (vec_reserve(&t->v, &t->cap, t->n + 1, sizeof(*t->v)) < 0)
		return -ENOMEM;
	struct region *g = &t->v[t->n++];
	g->start = *start;
	int r = 0;
	for (int k = 0; k < MAPS && !r; k++) {
		struct reach_map m = {0};
		g->off[k] = (uint32_t)t->n_pieces;
		r = reach_sg_rules_map(lab, members, eni, egress, start, map_proto[k],
				       k == MAP_OTHER ? 255 : 65535, &base, &m);
		if (!r)
			r = pieces_add(t, &m);
		free(m.segs);
	}
	g->off[MAPS] = (uint32_t)t->n_pieces;
	if (!r && same_as_previous(t)) {
		t->n_pieces = g->off[0];
		t->n--;
	}
	return r;
}

static int interval_cmp(const void *a, const void *b)
{
	const struct interval *x = a, *y = b;
	return (x->lo > y->lo) - (x->lo < y->lo);
}

/* The keys of protocol proto the direction's rules naming every address
 * of family allow, as sorted disjoint intervals appended to t->opens. */
static int opens_build(const struct lab *lab, const struct eni *eni, uint8_t family, int proto,
		       struct sg_table *t, struct untracked *u)
{
	struct sg_walk w;
	struct sg_match at;
	struct keyset k;
	u->off = (uint32_t)t->n_opens;
	sg_walk_init(&w, lab, eni, t->egress);
	for (const struct sg_rule *x; (x = sg_walk_next(&w, &at));) {
		if (!sg_rule_is_all_addresses(x, family) || !sg_rule_keys(x, proto, &k))
			continue;
		if (vec_reserve(&t->opens, &t->cap_opens, t->n_opens + 1, sizeof(*t->opens)) < 0)
			return -ENOMEM;
		t->opens[t->n_opens++] = (struct interval){k.lo, k.hi};
	}
	struct interval *v = &t->opens[u->off];
	size_t n = t->n_opens - u->off, m = 0;
	if (n)
		qsort(v, n, sizeof(*v), interval_cmp);
	for (size_t i = 0; i < n; i++)
		if (m && v[i].lo <= v[m - 1].hi + 1) {
			if (v[i].hi > v[m - 1].hi)
				v[m - 1].hi = v[i].hi;
		} else {
			v[m++] = v[i];
		}
	t->n_opens = u->off + m;
	u->n = (uint32_t)m;
	return 0;
}

static int untracked_build(const struct lab *lab, const struct eni *eni, struct sg_table *t)
{
	int r = 0;
	for (int v6 = 0; v6 < 2 && !r; v6++)
		for (int udp = 0; udp < 2 && !r; udp++) {
			uint8_t family = v6 ? IP_V6 : IP_V4;
			int proto = udp ? PROTO_UDP : PROTO_TCP;
			struct untracked *u = &t->u[v6][udp];
			struct sg_walk w;
			u->back = (struct sg_match){-1, -1};
			sg_walk_init(&w, lab, eni, !t->egress);
			struct sg_match at;
			for (const struct sg_rule *x; (x = sg_walk_next(&w, &at));)
				if (sg_rule_allows_all_replies(x, family, proto)) {
					u->back = at;
					break;
				}
			r = opens_build(lab, eni, family, proto, t, u);
		}
	return r;
}

int sg_table_build_indexed(const struct lab *lab, const struct sg_members *members,
			   const struct eni *eni, bool egress, struct sg_table **out)
{
	struct sg_table *t = calloc(1, sizeof(*t));
	struct edges e = {0};
	int r = t ? collect_edges(lab, eni, egress, &e) : -ENOMEM;
	if (t)
		t->egress = egress;
	for (size_t i = 0; i < e.n && !r; i++)
		r = region_add(lab, members, eni, egress, &e.v[i], t);
	if (!r)
		r = untracked_build(lab, eni, t);
	free(e.v);
	if (r) {
		sg_table_free(t);
		t = NULL;
	}
	*out = t;
	return r;
}

int sg_table_build(const struct lab *lab, const struct eni *eni, bool egress, struct sg_table **out)
{
	return sg_table_build_indexed(lab, NULL, eni, egress, out);
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

/* The last piece of map k starting at or below key (the first starts at 0). */
static const struct piece *piece_of(const struct sg_table *t, const struct region *g, int k,
				    uint32_t key)
{
	size_t lo = g->off[k], hi = g->off[k + 1];
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (t->pieces[mid].lo <= key)
			lo = mid;
		else
			hi = mid;
	}
	return &t->pieces[lo];
}

bool sg_table_evaluate(const struct sg_table *t, const struct flow *f, struct sg_match *m)
{
	int k = map_of(f->proto);
	uint32_t key = k == MAP_OTHER ? f->proto : keyset_flow_key(f);
	const struct region *g = region_of(t, t->egress ? &f->dst : &f->src);
	const struct piece *p = piece_of(t, g, k, key);
	m->group = p->group;
	m->rule = p->rule;
	return p->group >= 0;
}

static bool opens_have(const struct sg_table *t, const struct untracked *u, uint32_t key)
{
	size_t lo = u->off, hi = u->off + u->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->opens[mid].hi < key)
			lo = mid + 1;
		else if (t->opens[mid].lo > key)
			hi = mid;
		else
			return true;
	}
	return false;
}

bool sg_table_untracked(const struct sg_table *t, const struct flow *f, struct sg_match *reverse)
{
	if (f->proto != PROTO_TCP && f->proto != PROTO_UDP)
		return false;
	const struct untracked *u = &t->u[f->src.family == IP_V6][f->proto == PROTO_UDP];
	if (reverse)
		*reverse = u->back;
	return u->back.group >= 0 && opens_have(t, u, keyset_flow_key(f));
}

size_t sg_table_regions(const struct sg_table *t)
{
	return t->n;
}

size_t sg_table_bytes(const struct sg_table *t)
{
	return sizeof(*t) + t->n * sizeof(*t->v) + t->n_pieces * sizeof(*t->pieces) +
	       t->n_opens * sizeof(*t->opens);
}

/* n elements of size into the arena; a zero count still gets a block so
 * that the table's pointers are never NULL. */
static void *arena_copy(struct arena *a, const void *src, size_t n, size_t size)
{
	void *p = arena_calloc(a, n ? n : 1, size);
	if (p && n)
		memcpy(p, src, n * size);
	return p;
}

const struct sg_table *sg_table_pack(const struct sg_table *t, struct arena *a)
{
	struct sg_table *c = arena_alloc(a, sizeof(*c));
	if (!c)
		return NULL;
	*c = *t;
	c->cap = c->n;
	c->cap_pieces = c->n_pieces;
	c->cap_opens = c->n_opens;
	c->v = arena_copy(a, t->v, t->n, sizeof(*t->v));
	c->pieces = arena_copy(a, t->pieces, t->n_pieces, sizeof(*t->pieces));
	c->opens = arena_copy(a, t->opens, t->n_opens, sizeof(*t->opens));
	return c->v && c->pieces && c->opens ? c : NULL;
}

void sg_table_free(struct sg_table *t)
{
	if (!t)
		return;
	free(t->v);
	free(t->pieces);
	free(t->opens);
	free(t);
}
