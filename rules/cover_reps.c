/*
 * The representative flows of cover.h and the greedy set cover over them:
 * the ends (every ENI, the outside hosts, one address per class of
 * outside addresses), the keys (one port per interval between rule
 * boundaries, the ICMP types and codes rules name), and the slow
 * exhaustive reference that evaluates every representative flow.
 *
 * Not for: the pruned rule-by-rule search (cover_search.c) or marking
 * what one flow exercised (cover.c).
 */
#include "cover.h"
#include "cover-private.h"
#include "vec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacl.h"
#include "query.h"

/* ---- representatives ---- */

static int rep_add(struct rep_list *l, const char *name, const struct ip_addr *a, int32_t eni)
{
	for (size_t i = 0; i < l->n; i++)
		if (ip_addr_eq(&l->v[i].addr, a))
			return 0;
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	struct end_rep *r = &l->v[l->n++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->addr = *a;
	r->eni = eni;
	return 0;
}

/* lab_prefixes has no error path: on ENOMEM the prefix is left out, as
 * the list here always did. */
static void prefix_add(struct ip_prefix_list *s, const struct ip_prefix *p)
{
	(void)ip_prefix_list_add(s, p, true);
}

/* Every CIDR a rule, a prefix list, a VPC block or a subnet names. */
static void lab_prefixes(const struct lab *lab, struct ip_prefix_list *s)
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
static const struct ip_prefix *narrower_at(const struct ip_prefix_list *s,
					   const struct ip_prefix *c, const struct ip_addr *a)
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
static bool class_rep(const struct lab *lab, const struct ip_prefix_list *s,
		      const struct ip_prefix *c, struct ip_addr *out)
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

int cover_collect_ends(const struct lab *lab, struct rep_list *l)
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
	struct ip_prefix_list s = {0};
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

static void key_add(struct key_list *l, int proto, int port, int type, int code)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].proto == proto && l->v[i].port == port && l->v[i].type == type &&
		    l->v[i].code == code)
			return;
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return;
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

void cover_collect_keys(const struct lab *lab, struct key_list *l)
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

bool cover_key_fits(const struct key *k, enum ip_family f)
{
	if (k->proto == PROTO_ICMP)
		return f == IP_V4;
	if (k->proto == PROTO_ICMPV6)
		return f == IP_V6;
	return true;
}

/* ---- the greedy cover ---- */

int cover_cand_add(struct cand_list *l, const struct candidate *c)
{
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
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
	if (cover_cand_add(out, &cd) < 0) {
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
				if (cover_key_fits(&keys->v[k], ends->v[a].addr.family))
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

int cover_greedy(const struct rep_list *ends, const struct key_list *keys,
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

int cover_reachable_exhaustive(const struct lab *lab, const struct rule_index *ri,
			       uint8_t *reachable)
{
	struct rep_list ends = {0};
	struct key_list keys = {0};
	struct cand_list cands = {0};
	int r = cover_collect_ends(lab, &ends);
	if (r == 0) {
		cover_collect_keys(lab, &keys);
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
