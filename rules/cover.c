/*
 * Rule coverage and the covering flow set (see cover.h for what
 * "exercised" and "reachable" mean and why the representatives are
 * complete). The generator evaluates every representative flow with
 * pipeline_check(), exactly as `vpcfw test` will, so a generated flow
 * covers in the test what it covered here.
 */
#include "cover.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacl.h"
#include "query.h"
#include "sg.h"

static bool valid_index(int32_t i, size_t n)
{
	return i >= 0 && (size_t)i < n;
}

int rule_index_build(const struct lab *lab, struct rule_index *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->group_off = calloc(lab->n_groups + 1, sizeof(size_t));
	ri->nacl_off = calloc(lab->n_nacls + 1, sizeof(size_t));
	if (!ri->group_off || !ri->nacl_off)
		return -ENOMEM;
	size_t n = 0;
	for (size_t g = 0; g < lab->n_groups; g++) {
		ri->group_off[g] = n;
		n += lab->groups[g].n_rules;
	}
	for (size_t a = 0; a < lab->n_nacls; a++) {
		ri->nacl_off[a] = n;
		n += lab->nacls[a].n_ingress + lab->nacls[a].n_egress;
	}
	ri->refs = calloc(n ? n : 1, sizeof(*ri->refs));
	if (!ri->refs)
		return -ENOMEM;
	ri->total = n;
	for (size_t g = 0; g < lab->n_groups; g++)
		for (size_t r = 0; r < lab->groups[g].n_rules; r++)
			ri->refs[ri->group_off[g] + r] = (struct rule_ref){
			    RULE_SG, (int32_t)g, (int32_t)r, lab->groups[g].rules[r].egress};
	for (size_t a = 0; a < lab->n_nacls; a++) {
		const struct nacl *acl = &lab->nacls[a];
		for (size_t i = 0; i < acl->n_ingress + acl->n_egress; i++) {
			bool eg = i >= acl->n_ingress;
			ri->refs[ri->nacl_off[a] + i] = (struct rule_ref){
			    RULE_NACL, (int32_t)a, (int32_t)(eg ? i - acl->n_ingress : i), eg};
		}
	}
	return 0;
}

void rule_index_free(struct rule_index *ri)
{
	free(ri->refs);
	free(ri->group_off);
	free(ri->nacl_off);
	memset(ri, 0, sizeof(*ri));
}

size_t rule_index_sg(const struct rule_index *ri, int32_t group, int32_t rule)
{
	return ri->group_off[group] + (size_t)rule;
}

size_t rule_index_nacl(const struct lab *lab, const struct rule_index *ri, int32_t nacl,
		       bool egress, size_t entry)
{
	return ri->nacl_off[nacl] + (egress ? lab->nacls[nacl].n_ingress : 0) + entry;
}

const struct sg_rule *rule_ref_sg(const struct lab *lab, const struct rule_ref *r)
{
	if (r->kind != RULE_SG)
		return NULL;
	return &lab->groups[r->owner].rules[r->index];
}

const struct nacl_entry *rule_ref_nacl(const struct lab *lab, const struct rule_ref *r)
{
	if (r->kind != RULE_NACL)
		return NULL;
	const struct nacl *acl = &lab->nacls[r->owner];
	return r->egress ? &acl->egress[r->index] : &acl->ingress[r->index];
}

const struct origin *rule_ref_origin(const struct lab *lab, const struct rule_ref *r)
{
	return r->kind == RULE_SG ? &rule_ref_sg(lab, r)->origin : &rule_ref_nacl(lab, r)->origin;
}

const char *rule_ref_format(const struct lab *lab, const struct rule_ref *r, char *buf, size_t len)
{
	if (r->kind == RULE_SG)
		return sg_rule_format(lab, r->owner, r->index, buf, len);
	const struct nacl *acl = &lab->nacls[r->owner];
	struct nacl_decision d = {.entry = rule_ref_nacl(lab, r)};
	char rule[200];
	d.rule_number = d.entry->rule_number;
	d.allow = d.entry->allow;
	nacl_decision_format(&d, r->egress, rule, sizeof(rule));
	if (acl->name)
		snprintf(buf, len, "%s (%s) %s %s", acl->id, acl->name,
			 r->egress ? "egress" : "ingress", rule);
	else
		snprintf(buf, len, "%s %s %s", acl->id, r->egress ? "egress" : "ingress", rule);
	return buf;
}

/* ---- what one evaluated flow exercised ---- */

/* Every rule of the stage's ENI that allows f: SGs are a union (§3). */
static void mark_sg(const struct lab *lab, const struct rule_index *ri,
		    const struct stage_verdict *v, const struct flow *f, uint8_t *hit)
{
	if (v->verdict != VERDICT_ACCEPT ||
	    (v->reason != REASON_RULE && v->reason != REASON_UNTRACKED) ||
	    !valid_index(v->eni, lab->n_enis))
		return;
	bool egress = v->stage == STAGE_SG_EGRESS;
	const struct eni *e = &lab->enis[v->eni];
	for (size_t k = 0; k < e->n_groups; k++) {
		int32_t g = e->groups[k];
		if (!valid_index(g, lab->n_groups))
			continue;
		for (size_t r = 0; r < lab->groups[g].n_rules; r++) {
			const struct sg_rule *x = &lab->groups[g].rules[r];
			if (x->egress == egress && sg_rule_matches(lab, x, f))
				hit[rule_index_sg(ri, g, (int32_t)r)] = 1;
		}
	}
}

static void mark_decision(const struct lab *lab, const struct rule_index *ri, int32_t a,
			  bool egress, const struct nacl_decision *d, uint8_t *hit)
{
	if (!d->entry)
		return; /* the implicit "*" entry */
	const struct nacl_entry *base = egress ? lab->nacls[a].egress : lab->nacls[a].ingress;
	hit[rule_index_nacl(lab, ri, a, egress, (size_t)(d->entry - base))] = 1;
}

/* The entry deciding each port the stage evaluated (§2: first match). */
static void mark_nacl(const struct lab *lab, const struct rule_index *ri,
		      const struct stage_verdict *v, const struct flow *f, uint8_t *hit)
{
	if (v->verdict == VERDICT_SKIPPED || v->reason != REASON_RULE ||
	    !valid_index(v->nacl, lab->n_nacls))
		return;
	bool egress = v->stage == STAGE_NACL_EGRESS;
	const struct nacl *acl = &lab->nacls[v->nacl];
	struct nacl_decision d;
	if (!v->has_port || !flow_has_ports(f)) {
		nacl_evaluate(acl, egress, f, &d);
		mark_decision(lab, ri, v->nacl, egress, &d, hit);
		return;
	}
	struct flow g = *f;
	uint32_t limit = (uint32_t)v->port_hi + 1;
	for (uint32_t p = v->port_lo; p <= v->port_hi; p = nacl_next_port(acl, egress, p, limit)) {
		g.dport = (uint16_t)p;
		nacl_evaluate(acl, egress, &g, &d);
		mark_decision(lab, ri, v->nacl, egress, &d, hit);
	}
}

static void mark_result(const struct lab *lab, const struct rule_index *ri,
			const struct pipeline_result *r, const struct flow *f, uint8_t *hit)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct stage_verdict *v = &r->stages[i];
		if (v->stage == STAGE_SG_EGRESS || v->stage == STAGE_SG_INGRESS)
			mark_sg(lab, ri, v, f, hit);
		else if (v->stage == STAGE_NACL_EGRESS || v->stage == STAGE_NACL_INGRESS)
			mark_nacl(lab, ri, v, f, hit);
	}
}

void cover_mark(const struct lab *lab, const struct rule_index *ri, const struct pipeline_query *q,
		const struct pipeline_check *c, uint8_t *hit)
{
	mark_result(lab, ri, &c->request, &q->request, hit);
	if (c->has_response)
		mark_result(lab, ri, &c->response, &c->reply, hit);
}

/* ---- representatives ---- */

struct end_rep {
	char name[64];
	struct ip_addr addr;
	int32_t eni; /* index into lab->enis, -1 for an outside address */
};

struct rep_list {
	struct end_rep *v;
	size_t n, cap;
};

static int rep_add(struct rep_list *l, const char *name, const struct ip_addr *a, int32_t eni)
{
	for (size_t i = 0; i < l->n; i++)
		if (ip_addr_eq(&l->v[i].addr, a))
			return 0;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 32;
		struct end_rep *v = realloc(l->v, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = nc;
	}
	struct end_rep *r = &l->v[l->n++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->addr = *a;
	r->eni = eni;
	return 0;
}

struct prefix_set {
	struct ip_prefix *v;
	size_t n, cap;
};

static void prefix_add(struct prefix_set *s, const struct ip_prefix *p)
{
	for (size_t i = 0; i < s->n; i++)
		if (ip_prefix_eq(&s->v[i], p))
			return;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		struct ip_prefix *v = realloc(s->v, nc * sizeof(*v));
		if (!v)
			return;
		s->v = v;
		s->cap = nc;
	}
	s->v[s->n++] = *p;
}

/* Every CIDR a rule, a prefix list, a VPC block or a subnet names. */
static void lab_prefixes(const struct lab *lab, struct prefix_set *s)
{
	for (size_t g = 0; g < lab->n_groups; g++)
		for (size_t r = 0; r < lab->groups[g].n_rules; r++)
			if (lab->groups[g].rules[r].peer_kind == SG_PEER_CIDR)
				prefix_add(s, &lab->groups[g].rules[r].cidr);
	for (size_t a = 0; a < lab->n_nacls; a++)
		for (size_t i = 0; i < nacl_entry_count(&lab->nacls[a]); i++)
			prefix_add(s, &nacl_entry_at(&lab->nacls[a], i)->cidr);
	for (size_t p = 0; p < lab->n_prefix_lists; p++)
		for (size_t i = 0; i < lab->prefix_lists[p].n_cidrs; i++)
			prefix_add(s, &lab->prefix_lists[p].cidrs[i]);
	for (size_t r = 0; r < lab->n_route_tables; r++)
		for (size_t i = 0; i < lab->route_tables[r].n_routes; i++)
			prefix_add(s, &lab->route_tables[r].routes[i].dest);
}

static bool in_vpc_block(const struct lab *lab, const struct ip_addr *a)
{
	return lab_addr_in_vpc(lab, a);
}

/* The narrower prefix (strictly inside c) holding a, or NULL. */
static const struct ip_prefix *narrower_at(const struct prefix_set *s, const struct ip_prefix *c,
					   const struct ip_addr *a)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].len > c->len && ip_prefix_covers(c, &s->v[i]) &&
		    ip_prefix_contains(&s->v[i], a))
			return &s->v[i];
	return NULL;
}

/* An address usable as an outside host: no ENI's, no VPC block's, no AWS
 * service's (those never meet the rules as outside hosts do). */
static bool outside_ok(const struct lab *lab, const struct ip_addr *a)
{
	struct pipeline_end e;
	if (in_vpc_block(lab, a))
		return false;
	pipeline_end_of_addr(lab, 0, a, &e);
	return e.kind == END_OUTSIDE;
}

/* The lowest address of c inside no narrower lab prefix and no VPC block:
 * it meets exactly the rules every other such address of c meets. The
 * documentation ranges are preferred when they qualify, for readable
 * files. false when none exists. */
static bool class_rep(const struct lab *lab, const struct prefix_set *s, const struct ip_prefix *c,
		      struct ip_addr *out)
{
	static const char *const seeds[] = {"203.0.113.100", "198.51.100.100", "192.0.2.100",
					    "2001:db8:ffff::100"};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct ip_addr a;
		if (ip_addr_parse(seeds[i], &a) == 0 && ip_prefix_contains(c, &a) &&
		    !narrower_at(s, c, &a) && outside_ok(lab, &a)) {
			*out = a;
			return true;
		}
	}
	struct ip_addr a = c->addr;
	if (c->len < (c->addr.family == IP_V4 ? 31 : 127) && !ip_addr_next(&a))
		return false;
	for (int guard = 0; guard < 4096 && ip_prefix_contains(c, &a); guard++) {
		const struct ip_prefix *n = narrower_at(s, c, &a);
		if (n) {
			ip_prefix_last(n, &a);
		} else if (outside_ok(lab, &a)) {
			*out = a;
			return true;
		} else if (in_vpc_block(lab, &a)) {
			for (size_t v = 0; v < lab->n_vpcs; v++) {
				const struct vpc *vp = &lab->vpcs[v];
				for (size_t k = 0; k < vp->n_cidrs; k++)
					if (ip_prefix_contains(&vp->cidrs[k], &a))
						ip_prefix_last(&vp->cidrs[k], &a);
				for (size_t k = 0; k < vp->n_cidrs6; k++)
					if (ip_prefix_contains(&vp->cidrs6[k], &a))
						ip_prefix_last(&vp->cidrs6[k], &a);
			}
		}
		if (!ip_addr_next(&a))
			return false;
	}
	return false;
}

static int collect_ends(const struct lab *lab, struct rep_list *l)
{
	char buf[IP_ADDR_STRLEN];
	int r = 0;
	for (size_t i = 0; i < lab->n_enis && r == 0; i++) {
		const struct eni *e = &lab->enis[i];
		if (e->n_ipv4)
			r = rep_add(l, lab_eni_ref(lab, (int32_t)i), &e->ipv4[0], (int32_t)i);
		if (r == 0 && e->n_ipv6)
			r = rep_add(l, ip_addr_format(&e->ipv6[0], buf, sizeof(buf)), &e->ipv6[0],
				    (int32_t)i);
	}
	for (size_t i = 0; i < lab->n_outside && r == 0; i++)
		r = rep_add(l, lab->outside[i].name, &lab->outside[i].addr, -1);
	struct prefix_set s = {0};
	lab_prefixes(lab, &s);
	for (size_t i = 0; i < s.n && r == 0; i++) {
		struct ip_addr a;
		if (class_rep(lab, &s, &s.v[i], &a))
			r = rep_add(l, ip_addr_format(&a, buf, sizeof(buf)), &a, -1);
	}
	free(s.v);
	return r;
}

/* ---- keys ---- */

struct key {
	int proto, port, type, code;
};

struct key_list {
	struct key *v;
	size_t n, cap;
};

static void key_add(struct key_list *l, int proto, int port, int type, int code)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].proto == proto && l->v[i].port == port && l->v[i].type == type &&
		    l->v[i].code == code)
			return;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct key *v = realloc(l->v, nc * sizeof(*v));
		if (!v)
			return;
		l->v = v;
		l->cap = nc;
	}
	l->v[l->n++] = (struct key){proto, port, type, code};
}

/* One port per interval between rule boundaries, for TCP and UDP. */
static void port_keys(int proto, int32_t from, int32_t to, struct key_list *l)
{
	if (from < 0)
		from = 0;
	if (to < 0 || to > 65535)
		to = 65535;
	key_add(l, proto, from < 1 ? 1 : from, -1, -1);
	if (to < 65535)
		key_add(l, proto, to + 1, -1, -1);
}

static void icmp_key(int proto, int type, int code, struct key_list *l)
{
	int echo = proto == PROTO_ICMP ? 8 : 128;
	key_add(l, proto, -1, type < 0 ? echo : type, code < 0 ? 0 : code);
}

static void rule_keys(int proto, int32_t from, int32_t to, struct key_list *l)
{
	if (proto == PROTO_TCP || proto == PROTO_UDP)
		port_keys(proto, from, to, l);
	else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6)
		icmp_key(proto, from, to, l);
	else if (proto >= 0)
		key_add(l, proto, -1, -1, -1);
}

static void collect_keys(const struct lab *lab, struct key_list *l)
{
	port_keys(PROTO_TCP, 1, 65535, l);
	port_keys(PROTO_UDP, 1, 65535, l);
	icmp_key(PROTO_ICMP, -1, -1, l);
	icmp_key(PROTO_ICMPV6, -1, -1, l);
	for (size_t g = 0; g < lab->n_groups; g++)
		for (size_t r = 0; r < lab->groups[g].n_rules; r++) {
			const struct sg_rule *x = &lab->groups[g].rules[r];
			rule_keys(x->protocol, x->from_port, x->to_port, l);
		}
	for (size_t a = 0; a < lab->n_nacls; a++)
		for (size_t i = 0; i < nacl_entry_count(&lab->nacls[a]); i++) {
			const struct nacl_entry *e = nacl_entry_at(&lab->nacls[a], i);
			bool icmp = e->protocol == PROTO_ICMP || e->protocol == PROTO_ICMPV6;
			rule_keys(e->protocol, icmp ? e->icmp_type : e->port_from,
				  icmp ? e->icmp_code : e->port_to, l);
		}
}

static bool key_fits(const struct key *k, enum ip_family f)
{
	if (k->proto == PROTO_ICMP)
		return f == IP_V4;
	if (k->proto == PROTO_ICMPV6)
		return f == IP_V6;
	return true;
}

/* ---- the greedy cover ---- */

struct candidate {
	size_t from, to, key;
	bool accept;
	size_t *rules;
	size_t n;
};

struct cand_list {
	struct candidate *v;
	size_t n, cap;
};

static int cand_add(struct cand_list *l, const struct candidate *c)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 256;
		struct candidate *v = realloc(l->v, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = nc;
	}
	l->v[l->n++] = *c;
	return 0;
}

/* Evaluates one representative flow; keeps it when it exercises a rule. */
static int try_flow(const struct lab *lab, const struct rule_index *ri, const struct rep_list *ends,
		    const struct key_list *keys, size_t a, size_t b, size_t k, uint8_t *hit,
		    struct cand_list *out)
{
	struct query_spec s;
	struct pipeline_query q;
	struct pipeline_check c;
	char err[256];
	const struct key *key = &keys->v[k];
	query_spec_init(&s);
	s.from = ends->v[a].name;
	s.to = ends->v[b].name;
	s.proto = key->proto;
	s.port = key->port;
	s.icmp_type = key->type;
	s.icmp_code = key->code;
	if (query_build(lab, &s, &q, err, sizeof(err), NULL, 0) < 0)
		return 0;
	pipeline_check(lab, &q, &c);
	memset(hit, 0, ri->total);
	cover_mark(lab, ri, &q, &c, hit);
	struct candidate cd = {a, b, k, c.verdict == VERDICT_ACCEPT, NULL, 0};
	for (size_t i = 0; i < ri->total; i++)
		cd.n += hit[i];
	if (!cd.n)
		return 0;
	cd.rules = malloc(cd.n * sizeof(size_t));
	if (!cd.rules)
		return -ENOMEM;
	for (size_t i = 0, j = 0; i < ri->total; i++)
		if (hit[i])
			cd.rules[j++] = i;
	if (cand_add(out, &cd) < 0) {
		free(cd.rules);
		return -ENOMEM;
	}
	return 0;
}

static int all_candidates(const struct lab *lab, const struct rule_index *ri,
			  const struct rep_list *ends, const struct key_list *keys,
			  struct cand_list *out)
{
	uint8_t *hit = malloc(ri->total ? ri->total : 1);
	int r = hit ? 0 : -ENOMEM;
	for (size_t a = 0; a < ends->n && r == 0; a++)
		for (size_t b = 0; b < ends->n && r == 0; b++) {
			if (a == b || (ends->v[a].eni < 0 && ends->v[b].eni < 0) ||
			    ends->v[a].addr.family != ends->v[b].addr.family)
				continue;
			for (size_t k = 0; k < keys->n && r == 0; k++)
				if (key_fits(&keys->v[k], ends->v[a].addr.family))
					r = try_flow(lab, ri, ends, keys, a, b, k, hit, out);
		}
	free(hit);
	return r;
}

static size_t new_rules(const struct candidate *c, const uint8_t *covered)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		n += !covered[c->rules[i]];
	return n;
}

static int emit(const struct rep_list *ends, const struct key_list *keys, const struct candidate *c,
		uint8_t *covered, struct cover_plan *p)
{
	struct cover_flow *v = realloc(p->flows, (p->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->flows = v;
	struct cover_flow *f = &p->flows[p->n];
	memset(f, 0, sizeof(*f));
	snprintf(f->from, sizeof(f->from), "%s", ends->v[c->from].name);
	snprintf(f->to, sizeof(f->to), "%s", ends->v[c->to].name);
	const struct key *k = &keys->v[c->key];
	f->proto = k->proto;
	f->port = k->port;
	f->icmp_type = k->type;
	f->icmp_code = k->code;
	f->accept = c->accept;
	f->rules = malloc(c->n * sizeof(size_t));
	if (!f->rules)
		return -ENOMEM;
	p->n++;
	for (size_t i = 0; i < c->n; i++)
		if (!covered[c->rules[i]]) {
			covered[c->rules[i]] = 1;
			f->rules[f->n_rules++] = c->rules[i];
		}
	return 0;
}

static int greedy(const struct rep_list *ends, const struct key_list *keys,
		  const struct cand_list *cands, size_t total, struct cover_plan *p)
{
	uint8_t *covered = calloc(total ? total : 1, 1);
	if (!covered)
		return -ENOMEM;
	int r = 0;
	for (;;) {
		size_t best = 0, best_n = 0;
		for (size_t i = 0; i < cands->n; i++) {
			size_t n = new_rules(&cands->v[i], covered);
			if (n > best_n) {
				best = i;
				best_n = n;
			}
		}
		if (!best_n || (r = emit(ends, keys, &cands->v[best], covered, p)) < 0)
			break;
	}
	free(covered);
	return r;
}

/* ---- the search, rule by rule ---- */

/* Each rule has its own small set of flows that can exercise it (every
 * other flow meets it never): the ends its group, NACL or peer names, the
 * keys inside its range. A flow only gets past an ENI's SG stage with a
 * key some rule of that direction allows, whatever the peer: keys no rule
 * allows are skipped before evaluating (eg_ok, in_ok). */
struct gen {
	const struct lab *lab;
	const struct rule_index *ri;
	struct rep_list ends;
	struct key_list keys;
	uint8_t *eg_ok, *in_ok; /* [end * keys.n + key] */
	uint8_t *hit;		/* scratch, per rule */
	uint8_t *covered;
	struct cand_list found;
	size_t budget; /* evaluations left for the current rule */
	int err;
};

/* What one rule's search covers. */
struct search {
	size_t target;
	const struct ip_prefix *src_pfx, *dst_pfx;
	int32_t src_group, dst_group; /* ends carrying the group; -1 any */
	int32_t src_nacl, dst_nacl;   /* ENI ends in subnets of the NACL; -1 any */
	const struct sg_rule *src_peer, *dst_peer;
	int proto; /* PROTO_ALL: any key */
	int32_t lo, hi;
	bool reply_keys; /* any key of proto (a reply's request), not only lo..hi */
	bool need_src, need_dst;
};

static bool key_in(const struct key *k, int proto, int32_t lo, int32_t hi)
{
	if (proto == PROTO_ALL)
		return true;
	if (k->proto != proto)
		return false;
	if (proto == PROTO_TCP || proto == PROTO_UDP)
		return k->port >= (lo < 0 ? 0 : lo) && k->port <= (hi < 0 ? 65535 : hi);
	if (proto == PROTO_ICMP || proto == PROTO_ICMPV6)
		return (lo < 0 || k->type == lo) && (hi < 0 || k->code == hi);
	return true;
}

static bool key_interval_all(int32_t from, int32_t to)
{
	return from <= 0 && (to < 0 || to >= 65535);
}

/* Whether any rule of the ENI's groups in that direction allows the key,
 * whatever the peer. */
static bool sg_key_ok(const struct lab *lab, const struct eni *e, bool egress, const struct key *k)
{
	for (size_t i = 0; i < e->n_groups; i++) {
		int32_t g = e->groups[i];
		if (!valid_index(g, lab->n_groups))
			continue;
		for (size_t r = 0; r < lab->groups[g].n_rules; r++) {
			const struct sg_rule *x = &lab->groups[g].rules[r];
			if (x->egress == egress && key_in(k, x->protocol, x->from_port, x->to_port))
				return true;
		}
	}
	return false;
}

static bool peer_has(const struct lab *lab, const struct sg_rule *x, const struct end_rep *e)
{
	switch (x->peer_kind) {
	case SG_PEER_CIDR:
		return ip_prefix_contains(&x->cidr, &e->addr);
	case SG_PEER_GROUP:
		return e->eni >= 0 && lab_eni_has_group(&lab->enis[e->eni], x->peer);
	case SG_PEER_PREFIX_LIST:
		if (!valid_index(x->peer, lab->n_prefix_lists))
			return false;
		for (size_t i = 0; i < lab->prefix_lists[x->peer].n_cidrs; i++)
			if (ip_prefix_contains(&lab->prefix_lists[x->peer].cidrs[i], &e->addr))
				return true;
		return false;
	}
	return false;
}

static bool end_fits(const struct gen *g, const struct end_rep *e, const struct ip_prefix *pfx,
		     int32_t group, int32_t nacl, const struct sg_rule *peer)
{
	const struct lab *lab = g->lab;
	if (pfx && !ip_prefix_contains(pfx, &e->addr))
		return false;
	if (group >= 0 && (e->eni < 0 || !lab_eni_has_group(&lab->enis[e->eni], group)))
		return false;
	if (nacl >= 0 && (e->eni < 0 || !valid_index(lab->enis[e->eni].subnet, lab->n_subnets) ||
			  lab->subnets[lab->enis[e->eni].subnet].nacl != nacl))
		return false;
	return !peer || peer_has(lab, peer, e);
}

static bool search_key(const struct gen *g, const struct search *s, size_t a, size_t b, size_t k)
{
	const struct key *key = &g->keys.v[k];
	if (!key_fits(key, g->ends.v[a].addr.family))
		return false;
	/* a reply's key is whatever its request's was: any key of the protocol */
	if (!key_in(key, s->proto, s->reply_keys ? -1 : s->lo, s->reply_keys ? -1 : s->hi))
		return false;
	size_t nk = g->keys.n;
	if (s->need_src && g->ends.v[a].eni >= 0 && !g->eg_ok[a * nk + k])
		return false;
	return !(s->need_dst && g->ends.v[b].eni >= 0 && !g->in_ok[b * nk + k]);
}

/* Evaluates one flow as `vpcfw test` will; keeps it when it exercises
 * the target. */
static bool evaluate(struct gen *g, size_t target, size_t a, size_t b, size_t k)
{
	struct query_spec s;
	struct pipeline_query q;
	struct pipeline_check c;
	char err[256];
	const struct key *key = &g->keys.v[k];
	g->budget--;
	query_spec_init(&s);
	s.from = g->ends.v[a].name;
	s.to = g->ends.v[b].name;
	s.proto = key->proto;
	s.port = key->port;
	s.icmp_type = key->type;
	s.icmp_code = key->code;
	if (query_build(g->lab, &s, &q, err, sizeof(err), NULL, 0) < 0)
		return false;
	pipeline_check(g->lab, &q, &c);
	memset(g->hit, 0, g->ri->total);
	cover_mark(g->lab, g->ri, &q, &c, g->hit);
	if (!g->hit[target])
		return false;
	struct candidate cd = {a, b, k, c.verdict == VERDICT_ACCEPT, NULL, 0};
	for (size_t i = 0; i < g->ri->total; i++)
		cd.n += g->hit[i];
	cd.rules = malloc(cd.n * sizeof(size_t));
	if (!cd.rules || cand_add(&g->found, &cd) < 0) {
		free(cd.rules);
		g->err = -ENOMEM;
		return true;
	}
	for (size_t i = 0, j = 0; i < g->ri->total; i++)
		if (g->hit[i]) {
			cd.rules[j++] = i;
			g->covered[i] = 1;
		}
	return true;
}

static bool run_search(struct gen *g, const struct search *s)
{
	for (size_t a = 0; a < g->ends.n; a++) {
		if (!end_fits(g, &g->ends.v[a], s->src_pfx, s->src_group, s->src_nacl, s->src_peer))
			continue;
		for (size_t b = 0; b < g->ends.n; b++) {
			const struct end_rep *eb = &g->ends.v[b];
			if (a == b || eb->addr.family != g->ends.v[a].addr.family ||
			    (eb->eni < 0 && g->ends.v[a].eni < 0) ||
			    !end_fits(g, eb, s->dst_pfx, s->dst_group, s->dst_nacl, s->dst_peer))
				continue;
			for (size_t k = 0; k < g->keys.n; k++) {
				if (!search_key(g, s, a, b, k))
					continue;
				if (!g->budget)
					return false;
				if (evaluate(g, s->target, a, b, k))
					return true;
			}
		}
	}
	return false;
}

static struct search search_init(size_t target)
{
	return (struct search){
	    .target = target, .src_group = -1, .dst_group = -1, .src_nacl = -1, .dst_nacl = -1};
}

/* An SG rule: by a request through its stage; a rule for all addresses
 * and ports also by the replies of flows it leaves untracked (§4). */
static bool search_sg(struct gen *g, size_t i, const struct rule_ref *r)
{
	const struct sg_rule *x = rule_ref_sg(g->lab, r);
	struct search s = search_init(i);
	s.proto = x->protocol;
	s.lo = x->from_port;
	s.hi = x->to_port;
	if (x->egress) {
		s.src_group = r->owner;
		s.dst_peer = x;
	} else {
		s.dst_group = r->owner;
		s.src_peer = x;
		s.need_src = true;
	}
	if (run_search(g, &s))
		return true;
	bool all_ports =
	    x->protocol == PROTO_ALL || (key_interval_all(x->from_port, x->to_port) &&
					 (x->protocol == PROTO_TCP || x->protocol == PROTO_UDP));
	if (x->peer_kind != SG_PEER_CIDR || !ip_prefix_is_all(&x->cidr) || !all_ports)
		return false;
	struct search u = search_init(i);
	u.proto = x->protocol;
	u.reply_keys = true;
	u.need_src = u.need_dst = true;
	if (x->egress)
		u.dst_group = r->owner;
	else
		u.src_group = r->owner;
	return run_search(g, &u);
}

/* Whether a NACL entry can match a response: the client's ephemeral
 * ports, an echo reply, or any packet of its protocol. */
static bool entry_meets_replies(const struct nacl_entry *e)
{
	if (e->protocol == PROTO_TCP || e->protocol == PROTO_UDP)
		return e->port_to >= PIPELINE_EPHEMERAL_LO && e->port_from <= PIPELINE_EPHEMERAL_HI;
	if (e->protocol == PROTO_ICMP)
		return e->icmp_type < 0 || e->icmp_type == 0;
	if (e->protocol == PROTO_ICMPV6)
		return e->icmp_type < 0 || e->icmp_type == 129;
	return true;
}

/* A NACL entry: by a request through its NACL in its direction, or by
 * the response of a flow the other way (§2: stateless). */
static bool search_nacl(struct gen *g, size_t i, const struct rule_ref *r)
{
	const struct nacl_entry *e = rule_ref_nacl(g->lab, r);
	bool icmp = e->protocol == PROTO_ICMP || e->protocol == PROTO_ICMPV6;
	struct search s = search_init(i);
	s.proto = e->protocol;
	s.lo = icmp ? e->icmp_type : e->port_from;
	s.hi = icmp ? e->icmp_code : e->port_to;
	s.need_src = true;
	if (e->egress) {
		s.src_nacl = r->owner;
		s.dst_pfx = &e->cidr;
	} else {
		s.dst_nacl = r->owner;
		s.src_pfx = &e->cidr;
	}
	if (run_search(g, &s))
		return true;
	if (!entry_meets_replies(e))
		return false;
	struct search u = search_init(i);
	u.need_src = u.need_dst = true;
	if (icmp) {
		u.proto = e->protocol;
		u.lo = e->protocol == PROTO_ICMP ? 8 : 128;
		u.hi = 0;
	} else {
		u.proto = e->protocol;
		u.reply_keys = true;
	}
	if (e->egress) {
		u.dst_nacl = r->owner;
		u.src_pfx = &e->cidr;
	} else {
		u.src_nacl = r->owner;
		u.dst_pfx = &e->cidr;
	}
	return run_search(g, &u);
}

static int gen_init(struct gen *g, const struct lab *lab, const struct rule_index *ri)
{
	memset(g, 0, sizeof(*g));
	g->lab = lab;
	g->ri = ri;
	int r = collect_ends(lab, &g->ends);
	if (r < 0)
		return r;
	collect_keys(lab, &g->keys);
	size_t n = g->ends.n * g->keys.n + 1;
	g->eg_ok = calloc(n, 1);
	g->in_ok = calloc(n, 1);
	g->hit = calloc(ri->total + 1, 1);
	g->covered = calloc(ri->total + 1, 1);
	if (!g->eg_ok || !g->in_ok || !g->hit || !g->covered)
		return -ENOMEM;
	for (size_t a = 0; a < g->ends.n; a++) {
		if (g->ends.v[a].eni < 0)
			continue;
		const struct eni *e = &lab->enis[g->ends.v[a].eni];
		for (size_t k = 0; k < g->keys.n; k++) {
			g->eg_ok[a * g->keys.n + k] = sg_key_ok(lab, e, true, &g->keys.v[k]);
			g->in_ok[a * g->keys.n + k] = sg_key_ok(lab, e, false, &g->keys.v[k]);
		}
	}
	return 0;
}

static void gen_free(struct gen *g)
{
	for (size_t i = 0; i < g->found.n; i++)
		free(g->found.v[i].rules);
	free(g->found.v);
	free(g->keys.v);
	free(g->ends.v);
	free(g->eg_ok);
	free(g->in_ok);
	free(g->hit);
	free(g->covered);
}

int cover_generate(const struct lab *lab, const struct rule_index *ri, struct cover_plan *out)
{
	struct gen g;
	memset(out, 0, sizeof(*out));
	int r = gen_init(&g, lab, ri);
	out->reachable = calloc(ri->total + 1, 1);
	out->undecided = calloc(ri->total + 1, 1);
	if (r == 0 && (!out->reachable || !out->undecided))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < ri->total && !g.err; i++) {
		if (g.covered[i])
			continue;
		g.budget = COVER_SEARCH_BUDGET;
		const struct rule_ref *ref = &ri->refs[i];
		bool found = ref->kind == RULE_SG ? search_sg(&g, i, ref) : search_nacl(&g, i, ref);
		if (!found && !g.budget) {
			out->undecided[i] = 1;
			out->n_undecided++;
		}
	}
	if (r == 0)
		r = g.err;
	for (size_t i = 0; r == 0 && i < ri->total; i++) {
		out->reachable[i] = g.covered[i];
		out->n_reachable += g.covered[i];
	}
	if (r == 0)
		r = greedy(&g.ends, &g.keys, &g.found, ri->total, out);
	gen_free(&g);
	return r;
}

int cover_reachable_exhaustive(const struct lab *lab, const struct rule_index *ri,
			       uint8_t *reachable)
{
	struct rep_list ends = {0};
	struct key_list keys = {0};
	struct cand_list cands = {0};
	int r = collect_ends(lab, &ends);
	if (r == 0) {
		collect_keys(lab, &keys);
		r = all_candidates(lab, ri, &ends, &keys, &cands);
	}
	memset(reachable, 0, ri->total);
	for (size_t i = 0; i < cands.n; i++) {
		for (size_t k = 0; k < cands.v[i].n; k++)
			reachable[cands.v[i].rules[k]] = 1;
		free(cands.v[i].rules);
	}
	free(cands.v);
	free(keys.v);
	free(ends.v);
	return r;
}

void cover_plan_free(struct cover_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->flows[i].rules);
	free(p->flows);
	free(p->reachable);
	free(p->undecided);
	memset(p, 0, sizeof(*p));
}
