/*
 * Reachability as interval sets (reach.h): one partition of the key domain
 * per stage, built from the rules by interval arithmetic, and the diff of
 * two labs swept over the union of all partition boundaries. Each stage
 * here mirrors its counterpart in rules/pipeline.c, exemptions included;
 * the differential test in tests/unit/test_reach.c keeps them in step.
 */
#include "reach.h"

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
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct reach_iv *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
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
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct reach_seg *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct reach_seg){.lo = lo, .hi = hi, .accept = accept, .why = *why};
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct reach_seg *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
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
	qsort(fm->segs.v, fm->segs.n, sizeof(*fm->segs.v), seg_cmp);
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
static bool key_excluded(enum reach_class c, uint32_t key)
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

/* The peer part of an SG rule (the protocol part is rule_keys). */
static bool sg_peer_matches(const struct lab *lab, const struct sg_rule *r, const struct ip_addr *a)
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
		if (!valid_index(r->peer, lab->n_groups))
			return false;
		for (size_t i = 0; i < lab->groups[r->peer].n_members; i++)
			if (ip_addr_eq(&lab->groups[r->peer].members[i], a))
				return true;
		return false;
	}
	return false;
}

/* ---- stage maps ---- */

struct build {
	const struct lab *lab;
	enum reach_class cls;
	uint8_t proto;
	uint32_t key_max;
	const struct reach_opts *o;
	struct ivl match; /* scratch */
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
	qsort(out.v, out.n, sizeof(*out.v), seg_cmp);
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
			if (rule->egress != egress || !sg_peer_matches(lab, rule, peer))
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

static bool is_response_route_refused(const struct stage_verdict *v)
{
	return v->reason == REASON_ROUTE_ENDPOINT || v->reason == REASON_ROUTE_EIGW;
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
	    is_response_route_refused(&v)) {
		v.verdict = VERDICT_REJECT;
		v.reason = REASON_ENDPOINT_INBOUND;
	}
	return map_const(b, map, v.verdict == VERDICT_ACCEPT, &v);
}

/* A reply NACL stage over the whole ephemeral range: one verdict, as
 * nacl_evaluate_ports gives it (the rule of the first refused port, else
 * of the lowest port). */
static int eph_map(struct build *b, struct reach_map *full, struct reach_map *map)
{
	uint16_t lo = b->o->eph_lo, hi = b->o->eph_hi;
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
		r = eph_map(b, &full, map);
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
	if (!r)
		r = response_nacl(b, dst, src, false, &reply, &ic, &p->maps[p->n_maps++]);
	return r;
}

void reach_opts_init(struct reach_opts *o)
{
	o->eph_lo = PIPELINE_EPHEMERAL_LO;
	o->eph_hi = PIPELINE_EPHEMERAL_HI;
}

int reach_path_build(const struct lab *lab, const struct pipeline_end *src,
		     const struct pipeline_end *dst, const struct ip_addr *src_addr,
		     const struct ip_addr *dst_addr, enum reach_class c, const struct reach_opts *o,
		     struct reach_path *out)
{
	memset(out, 0, sizeof(*out));
	struct build b = {.lab = lab, .cls = c, .o = o, .key_max = reach_class_key_max(c)};
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

static const struct reach_seg *map_find(const struct reach_map *m, uint32_t key)
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
	if (key > p->key_max || key_excluded(p->cls, key))
		return false;
	for (size_t i = 0; i < p->n_maps; i++) {
		const struct reach_seg *s = map_find(&p->maps[i], key);
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

/* Every key where some partition of the paths changes, plus the edges
 * of the excluded OTHER keys; sorted, unique, ending with key_max + 1. */
static int boundaries(const struct reach_path *const *paths, size_t n_paths, enum reach_class c,
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
	qsort(v, m, sizeof(*v), u32_cmp);
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
	if (boundaries(one, 1, p->cls, p->key_max, &b, &nb) < 0)
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

/* ---- the diff of two labs ---- */

void reach_changes_init(struct reach_changes *c)
{
	memset(c, 0, sizeof(*c));
}

void reach_changes_free(struct reach_changes *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->items[i].from);
		free(c->items[i].to);
		free(c->items[i].stage);
		free(c->items[i].rule);
	}
	free(c->items);
	memset(c, 0, sizeof(*c));
}

/* An endpoint compared across the two labs: an ENI (its index on each
 * side, -1 where it does not exist) or an outside representative. */
struct rd_end {
	char *label;
	int32_t eni[2];
	bool outside;
	bool dest_only;	     /* an AWS service address: never a source */
	struct ip_addr addr; /* outside only */
};

struct rd_ends {
	struct rd_end *v;
	size_t n, cap;
};

static int ends_push(struct rd_ends *l, const struct rd_end *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;
		struct rd_end *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *e;
	return 0;
}

static void ends_free(struct rd_ends *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].label);
	free(l->v);
}

static size_t name_count(const struct lab *lab, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; name && i < lab->n_enis; i++)
		n += lab->enis[i].name && !strcmp(lab->enis[i].name, name);
	return n;
}

static bool eni_id_in(const struct lab *lab, const char *id)
{
	for (size_t i = 0; i < lab->n_enis; i++)
		if (!strcmp(lab->enis[i].id, id))
			return true;
	return false;
}

/* The old ENI the new one j continues: same ENI id, else the same Name
 * tag when that Name is unique in both labs. */
static int32_t eni_match(const struct lab *old_lab, const struct lab *new_lab, size_t j,
			 const bool *taken)
{
	const struct eni *e = &new_lab->enis[j];
	for (size_t i = 0; i < old_lab->n_enis; i++)
		if (!taken[i] && !strcmp(old_lab->enis[i].id, e->id))
			return (int32_t)i;
	if (!e->name || name_count(new_lab, e->name) != 1 || name_count(old_lab, e->name) != 1)
		return -1;
	for (size_t i = 0; i < old_lab->n_enis; i++)
		if (!taken[i] && old_lab->enis[i].name && !strcmp(old_lab->enis[i].name, e->name) &&
		    !eni_id_in(new_lab, old_lab->enis[i].id))
			return (int32_t)i;
	return -1;
}

static int end_cmp(const void *a, const void *b)
{
	const struct rd_end *x = a, *y = b;
	if (x->outside != y->outside)
		return x->outside ? 1 : -1;
	if (x->outside)
		return x->addr.family != y->addr.family ? x->addr.family - y->addr.family
							: ip_addr_cmp(&x->addr, &y->addr);
	return strcmp(x->label, y->label);
}

static int eni_end(struct rd_ends *l, const struct lab *lab, int32_t old_i, int32_t new_i)
{
	struct rd_end e = {.eni = {old_i, new_i}};
	e.label = strdup(lab_eni_label(lab, new_i >= 0 ? new_i : old_i));
	if (!e.label || ends_push(l, &e) < 0) {
		free(e.label);
		return -ENOMEM;
	}
	return 0;
}

/* Two ENIs with one label would print as one: name them by ENI id. */
static int unique_labels(struct rd_ends *l, const struct lab *old_lab, const struct lab *new_lab)
{
	for (size_t i = 0; i < l->n; i++) {
		bool dup = false;
		for (size_t k = 0; k < l->n && !dup; k++)
			dup = k != i && !strcmp(l->v[i].label, l->v[k].label);
		if (!dup)
			continue;
		const struct rd_end *e = &l->v[i];
		const char *id =
		    e->eni[1] >= 0 ? new_lab->enis[e->eni[1]].id : old_lab->enis[e->eni[0]].id;
		char *s = strdup(id);
		if (!s)
			return -ENOMEM;
		free(l->v[i].label);
		l->v[i].label = s;
	}
	return 0;
}

static int collect_enis(const struct lab *old_lab, const struct lab *new_lab, struct rd_ends *l)
{
	bool *taken = calloc(old_lab->n_enis + 1, sizeof(*taken));
	if (!taken)
		return -ENOMEM;
	int r = 0;
	for (size_t j = 0; j < new_lab->n_enis && !r; j++) {
		int32_t i = eni_match(old_lab, new_lab, j, taken);
		if (i >= 0)
			taken[i] = true;
		r = eni_end(l, new_lab, i, (int32_t)j);
	}
	for (size_t i = 0; i < old_lab->n_enis && !r; i++)
		if (!taken[i])
			r = eni_end(l, old_lab, (int32_t)i, -1);
	free(taken);
	if (!r)
		r = unique_labels(l, old_lab, new_lab);
	return r;
}

/* ---- outside representatives ---- */

typedef unsigned __int128 u128;

static unsigned fam_bits(uint8_t family)
{
	return family == IP_V6 ? 128 : 32;
}

static u128 addr_value(const struct ip_addr *a)
{
	u128 v = 0;
	unsigned bytes = fam_bits(a->family) / 8;
	for (unsigned i = 0; i < bytes; i++)
		v = (v << 8) | a->b[i];
	return v;
}

static void value_addr(u128 v, uint8_t family, struct ip_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	unsigned bytes = fam_bits(family) / 8;
	for (unsigned i = bytes; i-- > 0;) {
		a->b[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static u128 prefix_last(const struct ip_prefix *p)
{
	unsigned host = fam_bits(p->addr.family) - p->len;
	u128 mask = host >= 128 ? ~(u128)0 : (((u128)1 << host) - 1);
	return addr_value(&p->addr) | mask;
}

struct pfxl {
	struct ip_prefix *v;
	size_t n, cap;
};

static int pfx_add(struct pfxl *l, const struct ip_prefix *p)
{
	for (size_t i = 0; i < l->n; i++)
		if (ip_prefix_eq(&l->v[i], p))
			return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct ip_prefix *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *p;
	return 0;
}

/* Every CIDR a rule, prefix list or route of the lab names. */
static int rule_cidrs(const struct lab *lab, struct pfxl *l)
{
	int r = 0;
	for (size_t i = 0; i < lab->n_nacls && !r; i++) {
		const struct nacl *a = &lab->nacls[i];
		for (size_t k = 0; k < a->n_ingress && !r; k++)
			r = pfx_add(l, &a->ingress[k].cidr);
		for (size_t k = 0; k < a->n_egress && !r; k++)
			r = pfx_add(l, &a->egress[k].cidr);
	}
	for (size_t i = 0; i < lab->n_groups && !r; i++)
		for (size_t k = 0; k < lab->groups[i].n_rules && !r; k++)
			if (lab->groups[i].rules[k].peer_kind == SG_PEER_CIDR)
				r = pfx_add(l, &lab->groups[i].rules[k].cidr);
	for (size_t i = 0; i < lab->n_prefix_lists && !r; i++)
		for (size_t k = 0; k < lab->prefix_lists[i].n_cidrs && !r; k++)
			r = pfx_add(l, &lab->prefix_lists[i].cidrs[k]);
	for (size_t i = 0; i < lab->n_route_tables && !r; i++)
		for (size_t k = 0; k < lab->route_tables[i].n_routes && !r; k++)
			r = pfx_add(l, &lab->route_tables[i].routes[k].dest);
	return r;
}

/* What a representative must avoid: VPC blocks and ENI addresses. */
static int inside_cidrs(const struct lab *lab, struct pfxl *vpcs, struct pfxl *hosts)
{
	int r = 0;
	for (size_t i = 0; i < lab->n_vpcs && !r; i++) {
		for (size_t k = 0; k < lab->vpcs[i].n_cidrs && !r; k++)
			r = pfx_add(vpcs, &lab->vpcs[i].cidrs[k]);
		for (size_t k = 0; k < lab->vpcs[i].n_cidrs6 && !r; k++)
			r = pfx_add(vpcs, &lab->vpcs[i].cidrs6[k]);
	}
	for (size_t i = 0; i < lab->n_enis && !r; i++) {
		const struct eni *e = &lab->enis[i];
		struct ip_prefix h;
		for (size_t k = 0; k < e->n_ipv4 && !r; k++) {
			ip_prefix_host(&e->ipv4[k], &h);
			r = pfx_add(hosts, &h);
		}
		for (size_t k = 0; k < e->n_ipv6 && !r; k++) {
			ip_prefix_host(&e->ipv6[k], &h);
			r = pfx_add(hosts, &h);
		}
	}
	return r;
}

static int pfx_start_cmp(const void *a, const void *b)
{
	const struct ip_prefix *x = a, *y = b;
	u128 u = addr_value(&x->addr), v = addr_value(&y->addr);
	if (u != v)
		return u < v ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len; /* wider first */
}

static bool covered_by_any(const struct pfxl *l, const struct ip_prefix *p)
{
	for (size_t i = 0; i < l->n; i++)
		if (ip_prefix_covers(&l->v[i], p))
			return true;
	return false;
}

/* The lowest address of c inside none of the strictly narrower prefixes
 * of avoid; false when they cover all of c. Prefixes nest or are
 * disjoint, so one pass over them sorted by start finds it. */
static bool first_free(const struct ip_prefix *c, const struct pfxl *avoid, struct ip_prefix *tmp,
		       struct ip_addr *out)
{
	size_t n = 0;
	for (size_t i = 0; i < avoid->n; i++)
		if (!ip_prefix_eq(&avoid->v[i], c) && ip_prefix_covers(c, &avoid->v[i]))
			tmp[n++] = avoid->v[i];
	qsort(tmp, n, sizeof(*tmp), pfx_start_cmp);
	u128 cand = addr_value(&c->addr), last = prefix_last(c);
	for (size_t i = 0; i < n; i++) {
		u128 lo = addr_value(&tmp[i].addr), hi = prefix_last(&tmp[i]);
		if (hi < cand)
			continue;
		if (lo > cand)
			break;
		if (hi >= last)
			return false;
		cand = hi + 1;
	}
	value_addr(cand, c->addr.family, out);
	return true;
}

static int outside_end(struct rd_ends *l, const struct ip_prefix *c, const struct ip_addr *a,
		       bool dest_only)
{
	char buf[IP_PREFIX_STRLEN];
	struct rd_end e = {.eni = {-1, -1}, .outside = true, .dest_only = dest_only, .addr = *a};
	e.label = strdup(ip_prefix_format(c, buf, sizeof(buf)));
	if (!e.label || ends_push(l, &e) < 0) {
		free(e.label);
		return -ENOMEM;
	}
	return 0;
}

/* The VPC's service addresses outside its blocks (pipeline.c's
 * service_of_addr): under a named CIDR they behave unlike the rest of it,
 * so each gets a representative of its own, appended to named. They are
 * compared as destinations only: a service opens no connection. */
static int service_cidrs(struct pfxl *named)
{
	static const char *const services[] = {
	    "169.254.0.0/16",	  "169.254.169.253/32", "169.254.169.254/32", "169.254.169.123/32",
	    "169.254.169.250/32", "169.254.169.251/32", "169.254.170.2/32",   "255.255.255.255/32",
	    "fd00:ec2::253/128",  "fd00:ec2::254/128",	"fd00:ec2::123/128"};
	size_t n = named->n;
	int r = 0;
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]) && !r; i++) {
		struct ip_prefix p;
		if (ip_prefix_parse(services[i], &p, NULL) < 0)
			continue;
		for (size_t k = 0; k < n && !r; k++)
			if (ip_prefix_covers(&named->v[k], &p)) {
				r = pfx_add(named, &p);
				break;
			}
	}
	return r;
}

/* One address per distinct outside CIDR: all addresses of c outside
 * every narrower named CIDR, VPC block and ENI match exactly the same
 * rules and routes, so the first of them speaks for the whole class. */
static int collect_outside(const struct lab *old_lab, const struct lab *new_lab, struct rd_ends *l)
{
	struct pfxl named = {0}, vpcs = {0}, avoid = {0};
	int r = rule_cidrs(old_lab, &named);
	if (!r)
		r = rule_cidrs(new_lab, &named);
	size_t n_rules = named.n;
	if (!r)
		r = service_cidrs(&named);
	if (!r)
		r = inside_cidrs(old_lab, &vpcs, &avoid);
	if (!r)
		r = inside_cidrs(new_lab, &vpcs, &avoid);
	for (size_t i = 0; i < named.n && !r; i++)
		r = pfx_add(&avoid, &named.v[i]);
	for (size_t i = 0; i < vpcs.n && !r; i++)
		r = pfx_add(&avoid, &vpcs.v[i]);
	struct ip_prefix *tmp = r ? NULL : malloc((avoid.n + 1) * sizeof(*tmp));
	if (!r && !tmp)
		r = -ENOMEM;
	for (size_t i = 0; i < named.n && !r; i++) {
		struct ip_addr a;
		if (covered_by_any(&vpcs, &named.v[i]) || !first_free(&named.v[i], &avoid, tmp, &a))
			continue;
		r = outside_end(l, &named.v[i], &a, i >= n_rules);
	}
	free(tmp);
	free(named.v);
	free(vpcs.v);
	free(avoid.v);
	return r;
}

/* ---- pairs ---- */

static int32_t eni_vpc(const struct lab *lab, int32_t eni)
{
	if (!valid_index(eni, lab->n_enis))
		return -1;
	int32_t s = lab->enis[eni].subnet;
	return valid_index(s, lab->n_subnets) ? lab->subnets[s].vpc : -1;
}

static bool end_addr(const struct lab *lab, const struct rd_end *e, int side, uint8_t fam,
		     struct ip_addr *out)
{
	if (e->outside) {
		*out = e->addr;
		return e->addr.family == fam;
	}
	if (e->eni[side] < 0)
		return false;
	const struct eni *x = &lab->enis[e->eni[side]];
	if (fam == IP_V4 && x->n_ipv4) {
		*out = x->ipv4[0];
		return true;
	}
	if (fam == IP_V6 && x->n_ipv6) {
		*out = x->ipv6[0];
		return true;
	}
	return false;
}

/* As query_build's to_end: an outside address seen from the other end's
 * VPC may be an AWS service address; it is never an ENI. */
static void end_of(const struct lab *lab, const struct rd_end *e, const struct rd_end *other,
		   int side, const struct ip_addr *a, struct pipeline_end *out)
{
	if (!e->outside) {
		*out = (struct pipeline_end){.kind = END_ENI, .eni = e->eni[side]};
		return;
	}
	pipeline_end_of_addr(lab, eni_vpc(lab, other->eni[side]), a, out);
	if (out->kind == END_ENI)
		*out = (struct pipeline_end){.kind = END_OUTSIDE, .eni = -1};
}

struct rd_side {
	const struct lab *lab;
	bool valid;
	struct pipeline_end src, dst;
	struct ip_addr sa, da;
	struct reach_path path;
};

static void side_init(struct rd_side *s, const struct lab *lab, int side, const struct rd_end *a,
		      const struct rd_end *b, uint8_t fam)
{
	memset(s, 0, sizeof(*s));
	s->lab = lab;
	s->valid = end_addr(lab, a, side, fam, &s->sa) && end_addr(lab, b, side, fam, &s->da);
	if (!s->valid)
		return;
	end_of(lab, a, b, side, &s->sa, &s->src);
	end_of(lab, b, a, side, &s->da, &s->dst);
}

static const struct reach_map *map_like(const struct reach_path *p, const struct reach_map *m)
{
	for (size_t i = 0; i < p->n_maps; i++)
		if (p->maps[i].response == m->response &&
		    p->maps[i].segs[0].why.stage == m->segs[0].why.stage)
			return &p->maps[i];
	return NULL;
}

/* The SG rule that admits a flow at its destination (or, for an outside
 * destination, at its source). */
static const struct reach_map *endpoint_map(const struct reach_path *p)
{
	const struct reach_map *pick = &p->maps[0];
	for (size_t i = 0; i < p->n_maps; i++)
		if (!p->maps[i].response && p->maps[i].segs[0].why.stage == STAGE_SG_INGRESS &&
		    p->maps[i].segs[0].why.eni >= 0)
			pick = &p->maps[i];
	return pick;
}

/* Names the rule of a change: for an open the NEW side's verdict at the
 * stage where OLD rejected, for a close the OLD side's at the stage where
 * NEW rejects. */
static int attribute(const struct rd_side *decider, const struct rd_side *other, size_t rejected,
		     uint32_t key, bool open, char **stage, char **rule)
{
	char buf[1024], st[64];
	if (!other->valid) {
		/* an endpoint of one lab only: name what lets the flow in there */
		const struct reach_map *m = endpoint_map(&decider->path);
		const struct reach_seg *s = map_find(m, key);
		char why[900];
		snprintf(st, sizeof(st), "%s", pipeline_stage_name(s->why.stage));
		snprintf(buf, sizeof(buf), "only in the %s lab: %s", open ? "NEW" : "OLD",
			 pipeline_explain(decider->lab, &s->why, &m->flow, why, sizeof(why)));
	} else {
		const struct reach_map *ref = &other->path.maps[rejected];
		const struct reach_map *m = map_like(&decider->path, ref);
		const struct lab *lab = decider->lab;
		if (!m) {
			m = ref;
			lab = other->lab;
		}
		const struct reach_seg *s = map_find(m, key);
		snprintf(st, sizeof(st), "%s%s", m->response ? "response " : "",
			 pipeline_stage_name(s->why.stage));
		pipeline_explain(lab, &s->why, &m->flow, buf, sizeof(buf));
	}
	*stage = strdup(st);
	*rule = strdup(buf);
	return *stage && *rule ? 0 : -ENOMEM;
}

static int change_push(struct reach_changes *out, const struct reach_change *c)
{
	if (out->n == out->cap) {
		size_t cap = out->cap ? 2 * out->cap : 64;
		struct reach_change *v = realloc(out->items, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		out->items = v;
		out->cap = cap;
	}
	out->items[out->n++] = *c;
	return 0;
}

/* Extends the previous change of this pair and class when it is the same
 * verdict by the same rule right below lo. */
static bool change_extend(struct reach_changes *out, size_t first, uint32_t lo, uint32_t hi,
			  bool open, const char *stage, const char *rule)
{
	if (out->n <= first)
		return false;
	struct reach_change *p = &out->items[out->n - 1];
	if (p->open != open || p->hi + 1 != lo || strcmp(p->stage, stage) || strcmp(p->rule, rule))
		return false;
	p->hi = hi;
	return true;
}

static int diff_segment(struct reach_changes *out, size_t first, const struct rd_side *o,
			const struct rd_side *n, const struct rd_end *a, const struct rd_end *b,
			enum reach_class c, uint32_t lo, uint32_t hi)
{
	size_t mo = 0, mn = 0;
	bool ao = o->valid && reach_path_accepts(&o->path, lo, &mo);
	bool an = n->valid && reach_path_accepts(&n->path, lo, &mn);
	if (ao == an)
		return 0;
	char *stage, *rule;
	int r = an ? attribute(n, o, mo, lo, true, &stage, &rule)
		   : attribute(o, n, mn, lo, false, &stage, &rule);
	if (r || change_extend(out, first, lo, hi, an, stage, rule)) {
		free(stage);
		free(rule);
		return r;
	}
	const struct rd_side *s = n->valid ? n : o;
	struct reach_change ch = {.from = strdup(a->label),
				  .to = strdup(b->label),
				  .from_addr = s->sa,
				  .to_addr = s->da,
				  .cls = c,
				  .proto = s->path.proto,
				  .lo = lo,
				  .hi = hi,
				  .open = an,
				  .stage = stage,
				  .rule = rule};
	if (!ch.from || !ch.to || change_push(out, &ch) < 0) {
		free(ch.from);
		free(ch.to);
		free(stage);
		free(rule);
		return -ENOMEM;
	}
	return 0;
}

static int diff_class(struct reach_changes *out, struct rd_side *o, struct rd_side *n,
		      const struct rd_end *a, const struct rd_end *b, enum reach_class c,
		      const struct reach_opts *opts)
{
	int r = 0;
	if (o->valid)
		r = reach_path_build(o->lab, &o->src, &o->dst, &o->sa, &o->da, c, opts, &o->path);
	if (!r && n->valid)
		r = reach_path_build(n->lab, &n->src, &n->dst, &n->sa, &n->da, c, opts, &n->path);
	uint32_t *bd = NULL;
	size_t nb = 0;
	const struct reach_path *paths[2] = {o->valid ? &o->path : NULL,
					     n->valid ? &n->path : NULL};
	if (!r)
		r = boundaries(paths, 2, c, reach_class_key_max(c), &bd, &nb);
	size_t first = out->n;
	for (size_t i = 0; i + 1 < nb && !r; i++)
		if (!key_excluded(c, bd[i]))
			r = diff_segment(out, first, o, n, a, b, c, bd[i], bd[i + 1] - 1);
	free(bd);
	reach_path_free(&o->path);
	reach_path_free(&n->path);
	return r;
}

static int diff_pair(const struct lab *old_lab, const struct lab *new_lab, const struct rd_end *a,
		     const struct rd_end *b, uint8_t fam, const struct reach_opts *o,
		     struct reach_changes *out)
{
	struct rd_side so, sn;
	side_init(&so, old_lab, 0, a, b, fam);
	side_init(&sn, new_lab, 1, a, b, fam);
	if (!so.valid && !sn.valid)
		return 0;
	out->n_pairs++;
	int r = 0;
	for (int c = 0; c < REACH__COUNT && !r; c++)
		r = diff_class(out, &so, &sn, a, b, (enum reach_class)c, o);
	return r;
}

int reach_diff(const struct lab *old_lab, const struct lab *new_lab, const struct reach_opts *o,
	       struct reach_changes *out)
{
	struct rd_ends ends = {0};
	int r = collect_enis(old_lab, new_lab, &ends);
	if (!r)
		r = collect_outside(old_lab, new_lab, &ends);
	if (!r && ends.n) /* a lab of groups only (a Terraform plan): no ends, no array */
		qsort(ends.v, ends.n, sizeof(*ends.v), end_cmp);
	out->n_endpoints = ends.n;
	static const uint8_t fams[2] = {IP_V4, IP_V6};
	for (size_t f = 0; f < 2 && !r; f++)
		for (size_t i = 0; i < ends.n && !r; i++)
			for (size_t k = 0; k < ends.n && !r; k++)
				if (i != k && !(ends.v[i].outside && ends.v[k].outside) &&
				    !ends.v[i].dest_only)
					r = diff_pair(old_lab, new_lab, &ends.v[i], &ends.v[k],
						      fams[f], o, out);
	ends_free(&ends);
	return r;
}
