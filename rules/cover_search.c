/*
 * cover_generate(): rule by rule, evaluate only the representative flows
 * that can meet the rule, keep the first that exercises it, then let the
 * greedy cover (cover_reps.c) keep the fewest flows found. Every flow is
 * evaluated with pipeline_check(), exactly as `vpcfw test` will, so a
 * generated flow covers in the test what it covered here.
 *
 * Not for: choosing the representatives (cover_reps.c) or marking what a
 * flow exercised (cover.c).
 */
#include "cover.h"
#include "cover-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keyset.h"
#include "query.h"
#include "sg.h"

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

/* Whether a rule of protocol proto with ports (or ICMP type/code) lo..hi,
 * -1 an open end, matches the key: keyset.h's reading of every rule. */
static bool key_in(const struct key *k, int proto, int32_t lo, int32_t hi)
{
	struct keyset ks;
	int32_t port_hi = hi < 0 || hi > 65535 ? 65535 : hi;
	bool icmp = k->proto == PROTO_ICMP || k->proto == PROTO_ICMPV6;
	uint32_t key = icmp ? KEYSET_ICMP(k->type, k->code) : (uint32_t)(k->port < 0 ? 0 : k->port);
	return keyset_of_rule(proto, lo < 0 ? 0 : lo, port_hi, lo, hi, k->proto, &ks) &&
	       keyset_has(&ks, key);
}

static bool key_interval_all(int32_t from, int32_t to)
{
	return from <= 0 && (to < 0 || to >= 65535);
}

/* Whether any rule of the ENI's groups in that direction allows the key,
 * whatever the peer. */
static bool sg_key_ok(const struct lab *lab, const struct eni *e, bool egress, const struct key *k)
{
	struct sg_walk w;
	struct sg_match at;
	sg_walk_init(&w, lab, e, egress);
	for (const struct sg_rule *x; (x = sg_walk_next(&w, &at));)
		if (key_in(k, x->protocol, x->from_port, x->to_port))
			return true;
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
		if (!cover_valid_index(x->peer, lab->n_prefix_lists))
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
	if (nacl >= 0 &&
	    (e->eni < 0 || !cover_valid_index(lab->enis[e->eni].subnet, lab->n_subnets) ||
	     lab->subnets[lab->enis[e->eni].subnet].nacl != nacl))
		return false;
	return !peer || peer_has(lab, peer, e);
}

static bool search_key(const struct gen *g, const struct search *s, size_t a, size_t b, size_t k)
{
	const struct key *key = &g->keys.v[k];
	if (!cover_key_fits(key, g->ends.v[a].addr.family))
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
	if (!cd.rules || cover_cand_add(&g->found, &cd) < 0) {
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

/* The NACL's subnets on one side of the flows searched (on_src: the
 * source), the entry's CIDR on the other. */
static void place_nacl(struct search *s, bool on_src, int32_t nacl, const struct ip_prefix *cidr)
{
	if (on_src) {
		s->src_nacl = nacl;
		s->dst_pfx = cidr;
	} else {
		s->dst_nacl = nacl;
		s->src_pfx = cidr;
	}
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
	place_nacl(&s, e->egress, r->owner, &e->cidr);
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
	place_nacl(&u, !e->egress, r->owner, &e->cidr);
	return run_search(g, &u);
}

static int gen_init(struct gen *g, const struct lab *lab, const struct rule_index *ri)
{
	memset(g, 0, sizeof(*g));
	g->lab = lab;
	g->ri = ri;
	int r = cover_collect_ends(lab, &g->ends);
	if (r < 0)
		return r;
	cover_collect_keys(lab, &g->keys);
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
		r = cover_greedy(&g.ends, &g.keys, &g.found, ri->total, out);
	gen_free(&g);
	return r;
}
