/*
 * Security group evaluation (AWS-SEMANTICS §3, §4): an ENI's groups are one
 * union of allow rules; ingress rules match the packet's source, egress
 * rules its destination, against a CIDR, any CIDR of a managed prefix list
 * or a private address of an ENI carrying the referenced group
 * (security_group.members, filled by the loader). The answer names the
 * group and rule that allowed, for explanations and flow logs. Also the
 * untracked-flow decision of §4. Both answer from the lab's compiled
 * tables when the daemon built them (sgtable.h).
 *
 * Not for: connection tracking itself (rules/conntrack) or the AWS service
 * exemptions (DNS, metadata: rules/pipeline).
 *
 * Usage:
 *	struct sg_match m;
 *	if (sg_evaluate(lab, &lab->enis[e], false, &flow, &m))
 *		allowed by lab->groups[m.group].rules[m.rule]
 */
#ifndef VPCFW_SG_H
#define VPCFW_SG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "keyset.h"
#include "model.h"

struct sg_match {
	int32_t group; /* index into lab->groups, -1 when nothing allowed */
	int32_t rule;  /* index into that group's rules, -1 likewise */
};

/* Whether one rule allows the packet (its own egress flag picks the peer
 * address: source on ingress, destination on egress): sg_rule_keys and
 * sg_rule_peer_has, the two halves every SG evaluation is made of. */
bool sg_rule_matches(const struct lab *lab, const struct sg_rule *r, const struct flow *f);

/* The keys of protocol proto the rule allows (keyset.h; -1 ports are open
 * ends); false when none. */
bool sg_rule_keys(const struct sg_rule *r, int proto, struct keyset *k);

/* Each group's member list sorted, so that a rule naming a group is
 * matched by binary search: an account's groups have hundreds of members
 * and `diff` asks millions of times. 0 or -ENOMEM; free with
 * sg_members_free either way. */
struct sg_members {
	struct ip_addr **sorted; /* per group, lab->groups[g].n_members each */
	size_t n;
};
int sg_members_build(const struct lab *lab, struct sg_members *out);
void sg_members_free(struct sg_members *m);

/* Whether the rule's peer (CIDR, prefix list, or a private address of a
 * member of the group) holds a. idx: sorted members, or NULL to scan. */
bool sg_rule_peer_has(const struct lab *lab, const struct sg_members *idx, const struct sg_rule *r,
		      const struct ip_addr *a);

/* The rules an ENI's groups hold for one direction, in the order
 * sg_evaluate reports them (group order, then rule order):
 *	struct sg_walk w;
 *	sg_walk_init(&w, lab, eni, egress);
 *	for (const struct sg_rule *r; (r = sg_walk_next(&w, &m));) ...
 */
struct sg_walk {
	const struct lab *lab;
	const struct eni *eni;
	bool egress;
	size_t g, i;
};

static inline void sg_walk_init(struct sg_walk *w, const struct lab *lab, const struct eni *eni,
				bool egress)
{
	*w = (struct sg_walk){.lab = lab, .eni = eni, .egress = egress};
}

/* The next rule, with its group and index in *at; NULL after the last. */
static inline const struct sg_rule *sg_walk_next(struct sg_walk *w, struct sg_match *at)
{
	for (; w->g < w->eni->n_groups; w->g++, w->i = 0) {
		int32_t gi = w->eni->groups[w->g];
		if (gi < 0 || (size_t)gi >= w->lab->n_groups)
			continue;
		const struct security_group *sg = &w->lab->groups[gi];
		while (w->i < sg->n_rules) {
			const struct sg_rule *r = &sg->rules[w->i++];
			if (r->egress != w->egress)
				continue;
			at->group = gi;
			at->rule = (int32_t)(w->i - 1);
			return r;
		}
	}
	return NULL;
}

/* First allowing rule of the ENI's groups (group order, then rule order).
 * false and m = {-1, -1} when none allows. From the lab's compiled table
 * when it has one for the ENI (sgtable.h), else by scanning the rules. */
bool sg_evaluate(const struct lab *lab, const struct eni *eni, bool egress, const struct flow *f,
		 struct sg_match *m);
/* The same by scanning every rule, tables or not: what the tables are
 * compiled to answer, and what their tests compare them with. */
bool sg_evaluate_scan(const struct lab *lab, const struct eni *eni, bool egress,
		      const struct flow *f, struct sg_match *m);

/* A rule naming every address of family (0.0.0.0/0, ::/0). */
bool sg_rule_is_all_addresses(const struct sg_rule *r, uint8_t family);
/* A rule that lets every reply of protocol proto of family through: all
 * addresses, all ports (§4). */
bool sg_rule_allows_all_replies(const struct sg_rule *r, uint8_t family, int proto);

/* AWS-SEMANTICS §4: a TCP or UDP packet allowed in direction `egress` is
 * untracked on this ENI when a rule allowing it names 0.0.0.0/0 (or ::/0)
 * and a rule of the other direction allows all addresses of the family on
 * every port of the protocol. ICMP and other protocols: always tracked
 * (false). *reverse (may be NULL) gets that other-direction rule, which
 * is what lets the replies through. */
bool sg_flow_is_untracked(const struct lab *lab, const struct eni *eni, bool egress,
			  const struct flow *f, struct sg_match *reverse);
/* The same by scanning every rule, tables or not (as sg_evaluate_scan). */
bool sg_flow_untracked_scan(const struct lab *lab, const struct eni *eni, bool egress,
			    const struct flow *f, struct sg_match *reverse);

/* "sg-0abc (app) ingress tcp 8080 from sg-0def (alb)". Returns buf. */
const char *sg_rule_format(const struct lab *lab, int32_t group, int32_t rule, char *buf,
			   size_t len);

#endif
