/*
 * A stage's rules over every key at once: the SG rules of an ENI (allow
 * only, first match is their union, sg_evaluate's attribution) and a NACL's
 * entries (first match by rule number, then "*"), each rule's keys from
 * sg.c / nacl.c, partitioned by reach_iv.c's first match. Which rules a
 * stage consults is the caller's (reach.c, from the pipeline's stage
 * scope; sgtable.c, for an ENI's compiled table): this file calls neither.
 */
#include "reach-private.h"

#include <errno.h>
#include <stdlib.h>

#include "nacl.h"
#include "sg.h"

/* A rule's key set as sorted intervals of the class's domain. */
static int keyset_ivl(const struct reach_build *b, const struct keyset *k, struct ivl *m)
{
	m->n = 0;
	uint32_t hi = k->hi < b->key_max ? k->hi : b->key_max;
	if (k->lo > hi)
		return 0;
	if (!k->mask)
		return reach_ivl_push(m, k->lo, hi);
	for (uint32_t key = (k->lo & ~k->mask) | k->val; key <= hi; key += k->mask + 1)
		if (key >= k->lo && reach_ivl_push(m, key, key) < 0)
			return -ENOMEM;
	return 0;
}

/* One rule of a first match: its keys get (accept, why) where no earlier
 * rule decided them. */
static int fm_rule(struct reach_build *b, struct first_match *fm, const struct keyset *k, bool accept,
		   const struct stage_verdict *why)
{
	int r = keyset_ivl(b, k, &b->match);
	return r || !b->match.n ? r : reach_fm_apply(fm, &b->match, accept, why);
}

/* The rest gets the stage's default, a refusal; the partition goes to map. */
static int fm_done(struct first_match *fm, int r, const struct stage_verdict *dflt,
		   struct reach_map *map)
{
	if (!r)
		r = reach_fm_finish(fm, false, dflt, map);
	reach_fm_release(fm);
	return r;
}

/* SGs are allow-only: first match with allow everywhere and "no rule"
 * as the default is their union, with sg_evaluate's attribution. */
int reach_rules_sg(struct reach_build *b, const struct eni *eni, bool egress,
			const struct ip_addr *peer, const struct stage_verdict *base,
			struct reach_map *map)
{
	struct first_match fm;
	int r = reach_fm_init(&fm, b->key_max);
	struct sg_walk w;
	struct sg_match at;
	sg_walk_init(&w, b->lab, eni, egress);
	for (const struct sg_rule *rule; !r && (rule = sg_walk_next(&w, &at));) {
		struct keyset k;
		if (!sg_rule_peer_has(b->lab, b->members, rule, peer) ||
		    !sg_rule_keys(rule, b->key_proto, &k))
			continue;
		struct stage_verdict why = *base;
		why.verdict = VERDICT_ACCEPT;
		why.reason = REASON_RULE;
		why.group = at.group;
		why.rule = at.rule;
		r = fm_rule(b, &fm, &k, true, &why);
	}
	struct stage_verdict none = *base;
	none.verdict = VERDICT_REJECT;
	none.reason = REASON_NO_RULE;
	return fm_done(&fm, r, &none, map);
}

int reach_sg_rules_map(const struct lab *lab, const struct sg_members *members,
		       const struct eni *eni, bool egress, const struct ip_addr *peer,
		       int key_proto, uint32_t key_max, const struct stage_verdict *base,
		       struct reach_map *map)
{
	struct reach_build b = {
	    .lab = lab, .members = members, .key_proto = key_proto, .key_max = key_max};
	int r = reach_rules_sg(&b, eni, egress, peer, base, map);
	free(b.match.v);
	return r;
}

/* NACLs: first match by rule number, allow or deny, then "*". */
int reach_rules_nacl(struct reach_build *b, const struct stage_scope *s,
			  const struct stage_verdict *base, const struct flow *f,
			  struct reach_map *map)
{
	size_t n;
	const struct nacl_entry *list = nacl_list(s->nacl, s->egress, &n);
	const struct ip_addr *peer = s->egress ? &f->dst : &f->src;
	struct first_match fm;
	int r = reach_fm_init(&fm, b->key_max);
	for (size_t i = 0; i < n && !r; i++) {
		struct keyset k;
		if (!ip_prefix_contains(&list[i].cidr, peer) ||
		    !nacl_entry_keys(&list[i], b->key_proto, &k))
			continue;
		struct stage_verdict why = *base;
		why.verdict = list[i].allow ? VERDICT_ACCEPT : VERDICT_REJECT;
		why.rule_number = list[i].rule_number;
		r = fm_rule(b, &fm, &k, list[i].allow, &why);
	}
	struct stage_verdict star = *base;
	star.rule_number = f->dst.family == IP_V6 ? NACL_RULE_STAR_V6 : NACL_RULE_STAR_V4;
	return fm_done(&fm, r, &star, map);
}
