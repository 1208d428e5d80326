/*
 * Security group evaluation (AWS-SEMANTICS §3, §4): an ENI's groups are one
 * union of allow rules; ingress rules match the packet's source, egress
 * rules its destination, against a CIDR, any CIDR of a managed prefix list
 * or a private address of an ENI carrying the referenced group
 * (security_group.members, filled by the loader). The answer names the
 * group and rule that allowed, for explanations and flow logs. Also the
 * untracked-flow decision of §4.
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
#include "model.h"

struct sg_match {
	int32_t group; /* index into lab->groups, -1 when nothing allowed */
	int32_t rule;  /* index into that group's rules, -1 likewise */
};

/* Whether one rule allows the packet (its own egress flag picks the peer
 * address: source on ingress, destination on egress). */
bool sg_rule_matches(const struct lab *lab, const struct sg_rule *r, const struct flow *f);

/* First allowing rule of the ENI's groups (group order, then rule order).
 * false and m = {-1, -1} when none allows. */
bool sg_evaluate(const struct lab *lab, const struct eni *eni, bool egress, const struct flow *f,
		 struct sg_match *m);

/* AWS-SEMANTICS §4: a TCP or UDP packet allowed in direction `egress` is
 * untracked on this ENI when a rule allowing it names 0.0.0.0/0 (or ::/0)
 * and a rule of the other direction allows all addresses of the family on
 * every port of the protocol. ICMP and other protocols: always tracked
 * (false). *reverse (may be NULL) gets that other-direction rule, which
 * is what lets the replies through. */
bool sg_flow_is_untracked(const struct lab *lab, const struct eni *eni, bool egress,
			  const struct flow *f, struct sg_match *reverse);

/* "sg-0abc (app) ingress tcp 8080 from sg-0def (alb)". Returns buf. */
const char *sg_rule_format(const struct lab *lab, int32_t group, int32_t rule, char *buf,
			   size_t len);

#endif
