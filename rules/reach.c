/*
 * Reachability as interval sets (reach.h): one partition of the key domain
 * per stage, built from the rules by interval arithmetic, and the sweep
 * over the union of several partitions' boundaries. The diff of two labs
 * is in reach_diff.c, its endpoints in reach_ends.c. Each stage
 * here mirrors its counterpart in rules/pipeline.c, exemptions included;
 * the differential test in tests/unit/test_reach.c keeps them in step.
 */
#include "reach.h"
#include "reach-private.h"
#include "vec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- interval lists ---- */

struct ivl {
	struct reach_iv *v;
	size_t n, cap;
};

static int ivl_push(struct ivl *l, uint32_t lo, uint32_t hi)
{
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	l->v[l->n++] = (struct reach_iv){lo, hi};
	return 0;
}

struct segl {
	struct reach_seg *v;
	size_t n, cap;
};

static int segl_push(struct segl *l, uint32_t lo, uint32_t hi, bool accept,
		     const struct stage_verdict *why)
{
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	l->v[l->n++] = (struct reach_seg){.lo = lo, .hi = hi, .accept = accept, .why = *why};
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct reach_seg *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Segments by lo (never two alike: they are disjoint). Most lists are
 * short, where an insertion sort beats qsort's set-up, and a diff sorts
 * millions of them. */
static void seg_sort(struct reach_seg *v, size_t n)
{
	if (n > 24) {
		qsort(v, n, sizeof(*v), seg_cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct reach_seg x = v[i];
		size_t k = i;
		for (; k > 0 && v[k - 1].lo > x.lo; k--)
			v[k] = v[k - 1];
		v[k] = x;
	}
}

/* ---- first match: what earlier rules left unassigned, cut by this one ---- */

struct first_match {
	struct ivl free; /* keys no rule has decided yet, sorted */
	struct ivl next;
	struct segl segs;
};

static int fm_init(struct first_match *fm, uint32_t key_max)
{
	memset(fm, 0, sizeof(*fm));
	return ivl_push(&fm->free, 0, key_max);
}

static void fm_release(struct first_match *fm)
{
	free(fm->free.v);
	free(fm->next.v);
	free(fm->segs.v);
}

/* Assigns match ∩ free to (accept, why); free -= match. match is sorted
 * and disjoint. */
static int fm_apply(struct first_match *fm, const struct ivl *match, bool accept,
		    const struct stage_verdict *why)
{
	fm->next.n = 0;
	size_t j = 0;
	for (size_t i = 0; i < fm->free.n; i++) {
		uint32_t cur = fm->free.v[i].lo, end = fm->free.v[i].hi;
		bool done = false;
		while (j < match->n && match->v[j].hi < cur)
			j++;
		for (size_t k = j; k < match->n && !done && match->v[k].lo <= end; k++) {
			const struct reach_iv *m = &match->v[k];
			if (m->lo > cur && ivl_push(&fm->next, cur, m->lo - 1) < 0)
				return -ENOMEM;
			uint32_t lo = m->lo > cur ? m->lo : cur;
			uint32_t hi = m->hi < end ? m->hi : end;
			if (segl_push(&fm->segs, lo, hi, accept, why) < 0)
				return -ENOMEM;
			if (hi == end)
				done = true;
			else
				cur = hi + 1;
		}
		if (!done && ivl_push(&fm->next, cur, end) < 0)
			return -ENOMEM;
	}
	struct ivl t = fm->free;
	fm->free = fm->next;
	fm->next = t;
	return 0;
}

/* Whatever is left gets the default verdict; the result goes to map. */
static int fm_finish(struct first_match *fm, bool accept, const struct stage_verdict *why,
		     struct reach_map *map)
{
	for (size_t i = 0; i < fm->free.n; i++)
		if (segl_push(&fm->segs, fm->free.v[i].lo, fm->free.v[i].hi, accept, why) < 0)
			return -ENOMEM;
	seg_sort(fm->segs.v, fm->segs.n);
	map->segs = fm->segs.v;
	map->n = fm->segs.n;
	fm->segs.v = NULL;
	return 0;
}

/* ---- what one rule matches, as keys ---- */

uint8_t reach_class_proto(enum reach_class c, enum ip_family f)
{
	switch (c) {
	case REACH_TCP:
		return PROTO_TCP;
	case REACH_UDP:
		return PROTO_UDP;
	case REACH_ICMP:
		return f == IP_V6 ? PROTO_ICMPV6 : PROTO_ICMP;
	default:
		return 0;
	}
}

uint32_t reach_class_key_max(enum reach_class c)
{
	return c == REACH_OTHER ? 255 : 65535;
}

static bool class_has_ports(enum reach_class c)
{
	return c == REACH_TCP || c == REACH_UDP;
}

/* Protocols with a class of their own never count as OTHER keys. */
bool reach_key_excluded(enum reach_class c, uint32_t key)
{
	return c == REACH_OTHER &&
	       (key == PROTO_ICMP || key == PROTO_TCP || key == PROTO_UDP || key == PROTO_ICMPV6);
}

/* type/code with -1 = any; a value above 255 matches nothing. */
static int icmp_keys(int32_t type, int32_t code, struct ivl *m)
{
	if (type > 255 || code > 255)
		return 0;
	if (type < 0 && code < 0)
		return ivl_push(m, 0, 65535);
	if (type >= 0 && code < 0)
		return ivl_push(m, REACH_ICMP_KEY(type, 0), REACH_ICMP_KEY(type, 255));
	if (type >= 0)
		return ivl_push(m, REACH_ICMP_KEY(type, code), REACH_ICMP_KEY(type, code));
	for (uint32_t t = 0; t < 256; t++)
		if (ivl_push(m, REACH_ICMP_KEY(t, code), REACH_ICMP_KEY(t, code)) < 0)
			return -ENOMEM;
	return 0;
}

/* The keys a rule of protocol `protocol` matches in class c (proto: the
 * class's protocol number). ports: the rule's TCP/UDP range, already
 * clamped; type/code: its ICMP fields. */
static int rule_keys(int protocol, enum reach_class c, uint8_t proto, int32_t lo, int32_t hi,
		     int32_t type, int32_t code, struct ivl *m)
{
	m->n = 0;
	if (protocol == PROTO_ALL)
		return ivl_push(m, 0, reach_class_key_max(c));
	if (c == REACH_OTHER)
		return protocol >= 0 && protocol <= 255
			   ? ivl_push(m, (uint32_t)protocol, (uint32_t)protocol)
			   : 0;
	if (protocol != proto)
		return 0;
	if (class_has_ports(c))
		return lo <= hi ? ivl_push(m, (uint32_t)lo, (uint32_t)hi) : 0;
	return icmp_keys(type, code, m);
}

static int nacl_entry_keys(const struct nacl_entry *e, enum reach_class c, uint8_t proto,
			   struct ivl *m)
{
	return rule_keys(e->protocol, c, proto, e->port_from, e->port_to, e->icmp_type,
			 e->icmp_code, m);
}

/* AWS's range semantics for SG ports (-1 = open end), as sg.c reads them. */
static int sg_rule_keys(const struct sg_rule *r, enum reach_class c, uint8_t proto, struct ivl *m)
{
	int32_t lo = r->from_port < 0 ? 0 : r->from_port;
	int32_t hi = r->to_port < 0 ? 65535 : r->to_port;
	if (hi > 65535)
		hi = 65535;
	return rule_keys(r->protocol, c, proto, lo, hi, r->from_port, r->to_port, m);
}

static bool valid_index(int32_t i, size_t n)
{
	return i >= 0 && (size_t)i < n;
}

/* Whether group g's member list holds a: a binary search in the sorted
 * copy when there is one (reach_members), else a scan. */
static bool group_has(const struct lab *lab, const struct reach_members *mem, int32_t g,
		      const struct ip_addr *a)
{
	if (!mem) {
		for (size_t i = 0; i < lab->groups[g].n_members; i++)
			if (ip_addr_eq(&lab->groups[g].members[i], a))
				return true;
		return false;
	}
	const struct ip_addr *v = mem->sorted[g];
	size_t lo = 0, hi = lab->groups[g].n_members;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = ip_addr_cmp(&v[mid], a);
		if (!c)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* The peer part of an SG rule (the protocol part is rule_keys). */
static bool sg_peer_matches(const struct lab *lab, const struct reach_members *mem,
			    const struct sg_rule *r, const struct ip_addr *a)
{
	switch (r->peer_kind) {
	case SG_PEER_CIDR:
		return ip_prefix_contains(&r->cidr, a);
	case SG_PEER_PREFIX_LIST:
		if (!valid_index(r->peer, lab->n_prefix_lists))
			return false;
		for (size_t i = 0; i < lab->prefix_lists[r->peer].n_cidrs; i++)
			if (ip_prefix_contains(&lab->prefix_lists[r->peer].cidrs[i], a))
				return true;
		return false;
	case SG_PEER_GROUP:
		return valid_index(r->peer, lab->n_groups) && group_has(lab, mem, r->peer, a);
	}
	return false;
}

static int addr_cmp(const void *x, const void *y)
{
	return ip_addr_cmp(x, y);
}

int reach_members_build(const struct lab *lab, struct reach_members *out)
{
	out->n = 0;
	out->sorted = calloc(lab->n_groups + 1, sizeof(*out->sorted));
	if (!out->sorted)
		return -ENOMEM;
	for (size_t g = 0; g < lab->n_groups; g++, out->n++) {
		size_t n = lab->groups[g].n_members;
		struct ip_addr *v = malloc((n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		if (n)
			memcpy(v, lab->groups[g].members, n * sizeof(*v));
		qsort(v, n, sizeof(*v), addr_cmp);
		out->sorted[g] = v;
	}
	return 0;
}

void reach_members_free(struct reach_members *m)
{
	for (size_t g = 0; g < m->n; g++)
		free(m->sorted[g]);
	free(m->sorted);
	memset(m, 0, sizeof(*m));
}

/* ---- stage maps ---- */

struct build {
	const struct lab *lab;
	enum reach_class cls;
	uint8_t proto;
	uint32_t key_max;
	const struct reach_opts *o;
	const struct reach_members *members; /* NULL: scan member lists */
	struct ivl match;		     /* scratch */
};

static void why_init(struct stage_verdict *v, enum pipeline_stage stage)
{
	memset(v, 0, sizeof(*v));
	v->stage = stage;
	v->verdict = VERDICT_SKIPPED;
	v->eni = v->subnet = v->nacl = v->group = v->rule = -1;
	v->route_table = v->route = -1;
}

static int map_const(const struct build *b, struct reach_map *map, bool accept,
		     const struct stage_verdict *why)
{
	map->segs = malloc(sizeof(*map->segs));
	if (!map->segs)
		return -ENOMEM;
	map->segs[0] = (struct reach_seg){.lo = 0, .hi = b->key_max, .accept = accept, .why = *why};
	map->n = 1;
	return 0;
}

/* keys lo..hi of map get (accept, why) instead: an exemption. */
static int map_override(struct reach_map *map, uint32_t lo, uint32_t hi, bool accept,
			const struct stage_verdict *why)
{
	struct segl out = {0};
	int r = 0;
	for (size_t i = 0; i < map->n && !r; i++) {
		const struct reach_seg *s = &map->segs[i];
		if (s->hi < lo || s->lo > hi) {
			r = segl_push(&out, s->lo, s->hi, s->accept, &s->why);
			continue;
		}
		if (s->lo < lo)
			r = segl_push(&out, s->lo, lo - 1, s->accept, &s->why);
		if (!r && s->hi > hi)
			r = segl_push(&out, hi + 1, s->hi, s->accept, &s->why);
	}
	if (!r)
		r = segl_push(&out, lo, hi, accept, why);
	if (r) {
		free(out.v);
		return r;
	}
	seg_sort(out.v, out.n);
	free(map->segs);
	map->segs = out.v;
	map->n = out.n;
	return 0;
}

static const struct eni *end_eni(const struct lab *lab, const struct pipeline_end *e)
{
	if (e->kind != END_ENI || !valid_index(e->eni, lab->n_enis))
		return NULL;
	return &lab->enis[e->eni];
}

static void why_skip_not_eni(struct stage_verdict *v, const struct pipeline_end *e)
{
	v->reason = e->kind == END_SERVICE ? REASON_SERVICE : REASON_OUTSIDE;
	v->service = e->kind == END_SERVICE ? e->service : SERVICE_NONE;
}

/* SGs are allow-only: first match with allow everywhere and "no rule"
 * as the default is their union, with sg_evaluate's attribution. */
static int sg_rules_map(struct build *b, const struct eni *e, int32_t eni, bool egress,
			const struct ip_addr *peer, struct stage_verdict *base,
			struct reach_map *map)
{
	const struct lab *lab = b->lab;
	struct first_match fm;
	int r = fm_init(&fm, b->key_max);
	for (size_t g = 0; g < e->n_groups && !r; g++) {
		int32_t gi = e->groups[g];
		if (!valid_index(gi, lab->n_groups))
			continue;
		const struct security_group *sg = &lab->groups[gi];
		for (size_t i = 0; i < sg->n_rules && !r; i++) {
			const struct sg_rule *rule = &sg->rules[i];
			if (rule->egress != egress || !sg_peer_matches(lab, b->members, rule, peer))
				continue;
			struct stage_verdict why = *base;
			why.verdict = VERDICT_ACCEPT;
			why.reason = REASON_RULE;
			why.group = gi;
			why.rule = (int32_t)i;
			r = sg_rule_keys(rule, b->cls, b->proto, &b->match);
			if (!r && b->match.n)
				r = fm_apply(&fm, &b->match, true, &why);
		}
	}
	struct stage_verdict none = *base;
	none.eni = eni;
	none.verdict = VERDICT_REJECT;
	none.reason = REASON_NO_RULE;
	if (!r)
		r = fm_finish(&fm, false, &none, map);
	fm_release(&fm);
	return r;
}

/* pipeline_sg_stage over every key of the class (a request stage). */
static int sg_map(struct build *b, const struct pipeline_end *src, const struct pipeline_end *dst,
		  bool egress, const struct flow *f, struct reach_map *map)
{
	const struct pipeline_end *self = egress ? src : dst;
	const struct pipeline_end *peer = egress ? dst : src;
	struct stage_verdict why;
	why_init(&why, egress ? STAGE_SG_EGRESS : STAGE_SG_INGRESS);
	map->flow = *f;
	const struct eni *e = end_eni(b->lab, self);
	if (!e) {
		why_skip_not_eni(&why, self);
		return map_const(b, map, true, &why);
	}
	why.eni = self->eni;
	struct stage_verdict exempt = why;
	exempt.reason = REASON_SERVICE;
	exempt.service = peer->service;
	uint16_t lo = 0, hi = 0;
	enum sg_exemption ex = pipeline_sg_exemption(b->lab, peer, b->proto, &lo, &hi);
	if (!class_has_ports(b->cls) && ex == SG_EXEMPT_PORTS)
		ex = SG_EXEMPT_NONE;
	if (ex == SG_EXEMPT_ALL || (ex == SG_EXEMPT_PORTS && lo <= f->sport && f->sport <= hi))
		return map_const(b, map, true, &exempt);
	int r = sg_rules_map(b, e, self->eni, egress, egress ? &f->dst : &f->src, &why, map);
	if (!r && ex == SG_EXEMPT_PORTS)
		r = map_override(map, lo, hi, true, &exempt);
	return r;
}

static uint32_t star_rule(const struct ip_addr *a)
{
	return a->family == IP_V6 ? NACL_RULE_STAR_V6 : NACL_RULE_STAR_V4;
}

static int nacl_rules_map(struct build *b, int32_t acl_index, bool egress, const struct flow *f,
			  struct stage_verdict *base, struct reach_map *map)
{
	const struct nacl *acl = &b->lab->nacls[acl_index];
	const struct nacl_entry *list = egress ? acl->egress : acl->ingress;
	size_t n = egress ? acl->n_egress : acl->n_ingress;
	const struct ip_addr *peer = egress ? &f->dst : &f->src;
	struct first_match fm;
	int r = fm_init(&fm, b->key_max);
	base->nacl = acl_index;
	base->reason = REASON_RULE;
	for (size_t i = 0; i < n && !r; i++) {
		if (!ip_prefix_contains(&list[i].cidr, peer))
			continue;
		struct stage_verdict why = *base;
		why.verdict = list[i].allow ? VERDICT_ACCEPT : VERDICT_REJECT;
		why.rule_number = list[i].rule_number;
		r = nacl_entry_keys(&list[i], b->cls, b->proto, &b->match);
		if (!r && b->match.n)
			r = fm_apply(&fm, &b->match, list[i].allow, &why);
	}
	struct stage_verdict star = *base;
	star.verdict = VERDICT_REJECT;
	star.rule_number = star_rule(&f->dst);
	if (!r)
		r = fm_finish(&fm, false, &star, map);
	fm_release(&fm);
	return r;
}

/* pipeline's nacl stage over every key. */
static int nacl_map(struct build *b, const struct pipeline_end *src, const struct pipeline_end *dst,
		    bool egress, const struct flow *f, struct reach_map *map)
{
	const struct lab *lab = b->lab;
	const struct pipeline_end *self = egress ? src : dst;
	struct stage_verdict why;
	why_init(&why, egress ? STAGE_NACL_EGRESS : STAGE_NACL_INGRESS);
	map->flow = *f;
	const struct eni *e = end_eni(lab, self);
	if (!e) {
		why_skip_not_eni(&why, self);
		return map_const(b, map, true, &why);
	}
	why.subnet = e->subnet;
	const struct eni *other = end_eni(lab, egress ? dst : src);
	if (other && other->subnet == e->subnet) {
		why.reason = REASON_SAME_SUBNET;
		return map_const(b, map, true, &why);
	}
	if (src->kind == END_SERVICE || dst->kind == END_SERVICE) {
		struct stage_verdict exempt = why;
		exempt.reason = REASON_SERVICE;
		exempt.service = src->kind == END_SERVICE ? src->service : dst->service;
		return map_const(b, map, true, &exempt);
	}
	if (!valid_index(e->subnet, lab->n_subnets) ||
	    !valid_index(lab->subnets[e->subnet].nacl, lab->n_nacls)) {
		why.verdict = VERDICT_REJECT;
		why.reason = REASON_RULE;
		why.rule_number = star_rule(&f->src);
		return map_const(b, map, false, &why);
	}
	return nacl_rules_map(b, lab->subnets[e->subnet].nacl, egress, f, &why, map);
}

/* The route stage does not look at ports or types: one verdict. */
static int route_map(struct build *b, const struct pipeline_end *src,
		     const struct pipeline_end *dst, const struct flow *f, bool request,
		     struct reach_map *map)
{
	struct stage_verdict v;
	map->flow = *f;
	pipeline_route_stage(b->lab, src, dst, f, &v);
	/* pipeline_check's refuse_endpoint_inbound */
	if (request && src->kind == END_OUTSIDE && v.verdict == VERDICT_ACCEPT &&
	    pipeline_route_outbound_only(v.reason)) {
		v.verdict = VERDICT_REJECT;
		v.reason = REASON_ENDPOINT_INBOUND;
	}
	return map_const(b, map, v.verdict == VERDICT_ACCEPT, &v);
}

/* A reply NACL stage over the whole ephemeral range: one verdict, as
 * nacl_evaluate_ports gives it (the rule of the first refused port, else
 * of the lowest port). */
static int eph_map(struct build *b, uint16_t lo, uint16_t hi, struct reach_map *full,
		   struct reach_map *map)
{
	const struct reach_seg *pick = NULL;
	uint32_t port = lo;
	for (size_t i = 0; i < full->n; i++) {
		const struct reach_seg *s = &full->segs[i];
		if (s->hi < lo || s->lo > hi)
			continue;
		if (!pick)
			pick = s;
		if (!s->accept) {
			pick = s;
			port = s->lo > lo ? s->lo : lo;
			break;
		}
	}
	if (!pick) /* lo..hi lies inside the domain, which full covers */
		pick = &full->segs[0];
	struct stage_verdict why = pick->why;
	if (why.reason == REASON_RULE && lo != hi) {
		why.has_port = true;
		why.port = (uint16_t)port;
		why.port_lo = lo;
		why.port_hi = hi;
	}
	map->flow = full->flow;
	bool accept = pick->accept;
	free(full->segs);
	full->segs = NULL;
	return map_const(b, map, accept, &why);
}

/* The echo request and reply types of the family (contract 4). */
static void icmp_echo(enum ip_family fam, uint8_t *req_type, uint8_t *reply_type)
{
	*req_type = fam == IP_V6 ? 128 : 8;
	*reply_type = fam == IP_V6 ? 129 : 0;
}

/* An ICMP response stage: only echo requests (any code) have one; every
 * other key passes with "no response". */
static int icmp_response_map(struct build *b, struct reach_map *full, uint8_t req_type,
			     uint8_t reply_type, struct reach_map *map)
{
	uint32_t key = REACH_ICMP_KEY(reply_type, 0);
	const struct reach_seg *s = full->segs;
	for (size_t i = 0; i < full->n; i++)
		if (full->segs[i].lo <= key && key <= full->segs[i].hi)
			s = &full->segs[i];
	struct stage_verdict why = s->why;
	bool accept = s->accept;
	map->flow = full->flow;
	free(full->segs);
	full->segs = NULL;
	struct stage_verdict none;
	why_init(&none, why.stage);
	none.reason = REASON_NO_RESPONSE;
	int r = map_const(b, map, true, &none);
	if (!r)
		r = map_override(map, REACH_ICMP_KEY(req_type, 0), REACH_ICMP_KEY(req_type, 255),
				 accept, &why);
	return r;
}

/* The reply's ICMP types, or 0/0 for other classes. */
struct reply_icmp {
	uint8_t req_type, reply_type;
};

/* A response NACL stage (server -> client), reduced to what a request key
 * depends on: TCP/UDP one verdict for the whole ephemeral range, ICMP one
 * for echo requests, other protocols key by key. */
static int response_nacl(struct build *b, const struct pipeline_end *server,
			 const struct pipeline_end *client, bool egress, const struct flow *reply,
			 const struct reply_icmp *ic, struct reach_map *map)
{
	map->response = true;
	if (b->cls == REACH_OTHER)
		return nacl_map(b, server, client, egress, reply, map);
	struct reach_map full = {0};
	int r = nacl_map(b, server, client, egress, reply, &full);
	if (!r && class_has_ports(b->cls))
		r = eph_map(b, b->o->eph_lo, b->o->eph_hi, &full, map);
	else if (!r)
		r = icmp_response_map(b, &full, ic->req_type, ic->reply_type, map);
	free(full.segs);
	return r;
}

static int response_route(struct build *b, const struct pipeline_end *server,
			  const struct pipeline_end *client, const struct flow *reply,
			  const struct reply_icmp *ic, struct reach_map *map)
{
	map->response = true;
	if (b->cls != REACH_ICMP)
		return route_map(b, server, client, reply, false, map);
	struct reach_map full = {0};
	int r = route_map(b, server, client, reply, false, &full);
	if (!r)
		r = icmp_response_map(b, &full, ic->req_type, ic->reply_type, map);
	free(full.segs);
	return r;
}

/* The NACL crossings of a NAT gateway's subnet after the route stage, as
 * pipeline_route_collect makes them: in from the sender's side, out to
 * the receiver's; skipped where the inside ENI shares that subnet. A
 * response (ic set) passes the far end's packets to the NAT gateway's
 * own ports and the NAT gateway's to the client's ephemeral range. */
static int hop_maps(struct build *b, const struct pipeline_end *src,
		    const struct pipeline_end *dst, const struct flow *f,
		    const struct reply_icmp *ic, struct reach_path *p)
{
	struct stage_verdict route;
	pipeline_route_stage(b->lab, src, dst, f, &route);
	int32_t subnet = pipeline_route_nat_subnet(b->lab, &route);
	const struct eni *inside = end_eni(b->lab, src->kind == END_ENI ? src : dst);
	bool outbound = src->kind == END_ENI;
	int r = 0;
	for (int egress = 0; subnet >= 0 && inside && egress < 2 && !r; egress++) {
		struct reach_map *map = &p->maps[p->n_maps++], full = {0};
		struct stage_verdict why;
		why_init(&why, egress ? STAGE_NACL_EGRESS : STAGE_NACL_INGRESS);
		why.subnet = subnet;
		why.hop = true;
		why.gateway = route.gateway;
		map->flow = *f;
		map->response = ic != NULL;
		if (inside->subnet == subnet && outbound != (bool)egress) {
			why.reason = REASON_SAME_SUBNET;
			r = map_const(b, map, true, &why);
			continue;
		}
		r = nacl_rules_map(b, b->lab->subnets[subnet].nacl, egress, f, &why,
				   ic ? &full : map);
		bool nat_ports = !outbound && !egress;
		if (!r && ic && class_has_ports(b->cls))
			r = eph_map(b, nat_ports ? PIPELINE_NAT_PORT_LO : b->o->eph_lo,
				    nat_ports ? PIPELINE_NAT_PORT_HI : b->o->eph_hi, &full, map);
		else if (!r && ic)
			r = icmp_response_map(b, &full, ic->req_type, ic->reply_type, map);
		free(full.segs);
	}
	return r;
}

/* The response's stages (contract 4): its SG stages pass by tracking (or
 * the rule of an untracked flow) and never reject, so only the NACLs and
 * the route are left. */
static int response_maps(struct build *b, const struct pipeline_end *src,
			 const struct pipeline_end *dst, const struct flow *req, bool route,
			 struct reach_path *p)
{
	struct flow reply;
	struct reply_icmp ic = {0, 0};
	flow_reverse(req, &reply);
	if (class_has_ports(b->cls)) {
		reply.dport = b->o->eph_lo;
	} else if (b->cls == REACH_ICMP) {
		icmp_echo((enum ip_family)req->src.family, &ic.req_type, &ic.reply_type);
		reply.icmp_type = ic.reply_type;
		reply.icmp_code = 0;
	}
	int r = response_nacl(b, dst, src, true, &reply, &ic, &p->maps[p->n_maps++]);
	if (!r && route)
		r = response_route(b, dst, src, &reply, &ic, &p->maps[p->n_maps++]);
	if (!r && route)
		r = hop_maps(b, dst, src, &reply, &ic, p);
	if (!r)
		r = response_nacl(b, dst, src, false, &reply, &ic, &p->maps[p->n_maps++]);
	return r;
}

void reach_opts_init(struct reach_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->eph_lo = PIPELINE_EPHEMERAL_LO;
	o->eph_hi = PIPELINE_EPHEMERAL_HI;
}

int reach_path_build(const struct lab *lab, const struct pipeline_end *src,
		     const struct pipeline_end *dst, const struct ip_addr *src_addr,
		     const struct ip_addr *dst_addr, enum reach_class c, const struct reach_opts *o,
		     struct reach_path *out)
{
	return reach_path_build_indexed(lab, NULL, src, dst, src_addr, dst_addr, c, o, out);
}

int reach_path_build_indexed(const struct lab *lab, const struct reach_members *members,
			     const struct pipeline_end *src, const struct pipeline_end *dst,
			     const struct ip_addr *src_addr, const struct ip_addr *dst_addr,
			     enum reach_class c, const struct reach_opts *o, struct reach_path *out)
{
	memset(out, 0, sizeof(*out));
	struct build b = {
	    .lab = lab, .cls = c, .o = o, .members = members, .key_max = reach_class_key_max(c)};
	b.proto = reach_class_proto(c, (enum ip_family)src_addr->family);
	out->cls = c;
	out->proto = b.proto;
	out->key_max = b.key_max;
	struct flow f = {.src = *src_addr, .dst = *dst_addr, .proto = b.proto};
	if (class_has_ports(c))
		f.sport = o->eph_lo; /* what query_build gives a request without --sport */
	bool route = pipeline_needs_route(lab, src, dst, &f);
	int r = sg_map(&b, src, dst, true, &f, &out->maps[out->n_maps++]);
	if (!r)
		r = nacl_map(&b, src, dst, true, &f, &out->maps[out->n_maps++]);
	if (!r && route)
		r = route_map(&b, src, dst, &f, true, &out->maps[out->n_maps++]);
	if (!r && route)
		r = hop_maps(&b, src, dst, &f, NULL, out);
	if (!r)
		r = nacl_map(&b, src, dst, false, &f, &out->maps[out->n_maps++]);
	if (!r)
		r = sg_map(&b, src, dst, false, &f, &out->maps[out->n_maps++]);
	if (!r)
		r = response_maps(&b, src, dst, &f, route, out);
	free(b.match.v);
	return r;
}

void reach_path_free(struct reach_path *p)
{
	for (size_t i = 0; i < p->n_maps; i++)
		free(p->maps[i].segs);
	memset(p, 0, sizeof(*p));
}

const struct reach_seg *reach_map_find(const struct reach_map *m, uint32_t key)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->segs[mid].hi < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && m->segs[lo].lo <= key ? &m->segs[lo] : NULL;
}

bool reach_path_accepts(const struct reach_path *p, uint32_t key, size_t *map)
{
	if (map)
		*map = p->n_maps;
	if (key > p->key_max || reach_key_excluded(p->cls, key))
		return false;
	for (size_t i = 0; i < p->n_maps; i++) {
		const struct reach_seg *s = reach_map_find(&p->maps[i], key);
		if (!s || !s->accept) {
			if (map)
				*map = i;
			return false;
		}
	}
	return true;
}

/* ---- sweeping several partitions at once ---- */

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* As seg_sort, for keys. */
static void u32_sort(uint32_t *v, size_t n)
{
	if (n > 24) {
		qsort(v, n, sizeof(*v), u32_cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		size_t k = i;
		for (; k > 0 && v[k - 1] > x; k--)
			v[k] = v[k - 1];
		v[k] = x;
	}
}

/* Every key where some partition of the paths changes, plus the edges
 * of the excluded OTHER keys; sorted, unique, ending with key_max + 1. */
int reach_boundaries(const struct reach_path *const *paths, size_t n_paths, enum reach_class c,
		     uint32_t key_max, uint32_t **out, size_t *n)
{
	size_t cap = 12;
	for (size_t k = 0; k < n_paths; k++)
		for (size_t i = 0; paths[k] && i < paths[k]->n_maps; i++)
			cap += paths[k]->maps[i].n;
	uint32_t *v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t m = 0;
	v[m++] = 0;
	v[m++] = key_max + 1;
	if (c == REACH_OTHER) {
		static const uint32_t ex[] = {PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ICMPV6};
		for (size_t i = 0; i < 4; i++) {
			v[m++] = ex[i];
			v[m++] = ex[i] + 1;
		}
	}
	for (size_t k = 0; k < n_paths; k++)
		for (size_t i = 0; paths[k] && i < paths[k]->n_maps; i++)
			for (size_t j = 0; j < paths[k]->maps[i].n; j++)
				v[m++] = paths[k]->maps[i].segs[j].lo;
	u32_sort(v, m);
	size_t u = 0;
	for (size_t i = 0; i < m; i++)
		if (!u || v[u - 1] != v[i])
			v[u++] = v[i];
	*out = v;
	*n = u;
	return 0;
}

int reach_path_accepted(const struct reach_path *p, struct reach_iv **out, size_t *n)
{
	uint32_t *b;
	size_t nb;
	*out = NULL;
	*n = 0;
	const struct reach_path *one[1] = {p};
	if (reach_boundaries(one, 1, p->cls, p->key_max, &b, &nb) < 0)
		return -ENOMEM;
	struct ivl acc = {0};
	int r = 0;
	for (size_t i = 0; i + 1 < nb && !r; i++) {
		if (!reach_path_accepts(p, b[i], NULL))
			continue;
		if (acc.n && acc.v[acc.n - 1].hi + 1 == b[i])
			acc.v[acc.n - 1].hi = b[i + 1] - 1;
		else
			r = ivl_push(&acc, b[i], b[i + 1] - 1);
	}
	free(b);
	if (r) {
		free(acc.v);
		return r;
	}
	*out = acc.v;
	*n = acc.n;
	return 0;
}
