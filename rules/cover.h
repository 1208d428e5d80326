/*
 * Rule coverage, for `vpcfw test --coverage` and `vpcfw test --generate
 * --cover`: which SG rules and NACL entries a set of flows exercises, and a
 * small set of flows (in the spirit of ATPG) that exercises every rule a
 * flow can reach.
 *
 * A rule is the lab's own: one SG rule (one peer of an IpPermission) or one
 * numbered NACL entry; the implicit "*" entries are not rules of the lab.
 * A flow exercises (AWS-SEMANTICS §2, §3, §4):
 *  - a NACL entry when it is the first match, and so decides, at a NACL
 *    stage the flow's request or response was evaluated at (for a response
 *    over the client's ephemeral range, every entry deciding some port);
 *  - an SG rule when it allows the packet at an SG stage evaluated by
 *    rules: the request's SG stages, and a response's SG stage of an
 *    untracked flow. SG rules are a union without order, so every rule
 *    that allows the packet decides it, not only the one explanations name.
 * A rule is reachable when some flow exercises it. cover_generate()
 * searches a complete set of representatives: every ENI (primary IPv4,
 * first IPv6), the lab's outside hosts and one address per class of outside
 * addresses every rule, prefix list and VPC block treat alike; per protocol
 * one port per interval between rule boundaries, each ICMP type/code a rule
 * names plus echo, every other protocol a rule names. Within a class every
 * flow meets exactly the same rules, so a rule no representative exercises
 * is exercised by no flow.
 *
 * Not for: printing (tools/), evaluation itself (rules/pipeline).
 *
 * Usage:
 *	struct rule_index ri;
 *	rule_index_build(lab, &ri);
 *	uint8_t *hit = calloc(ri.total, 1);
 *	cover_mark(lab, &ri, &query, &check, hit);
 *	...
 *	rule_index_free(&ri);
 */
#ifndef VPCFW_COVER_H
#define VPCFW_COVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "pipeline.h"

enum rule_kind { RULE_SG, RULE_NACL };

/* One rule of the lab. */
struct rule_ref {
	enum rule_kind kind;
	int32_t owner; /* index into lab->groups or lab->nacls */
	int32_t index; /* SG: into the group's rules; NACL: into the ingress/egress list */
	bool egress;
};

/* Every rule of the lab, numbered: the groups' rules in group order, then
 * each NACL's ingress and egress entries. */
struct rule_index {
	struct rule_ref *refs;
	size_t total;
	size_t *group_off; /* first number of each group's rules */
	size_t *nacl_off;  /* first number of each NACL's entries (ingress, then egress) */
};

/* 0 or -ENOMEM. Free with rule_index_free (also after a failure). */
int rule_index_build(const struct lab *lab, struct rule_index *ri);
void rule_index_free(struct rule_index *ri);
size_t rule_index_sg(const struct rule_index *ri, int32_t group, int32_t rule);
size_t rule_index_nacl(const struct lab *lab, const struct rule_index *ri, int32_t nacl,
		       bool egress, size_t entry);

const struct sg_rule *rule_ref_sg(const struct lab *lab, const struct rule_ref *r);
const struct nacl_entry *rule_ref_nacl(const struct lab *lab, const struct rule_ref *r);
const struct origin *rule_ref_origin(const struct lab *lab, const struct rule_ref *r);

/* "sg-0abc (web) ingress tcp 22 from 0.0.0.0/0", "acl-0def (private)
 * egress rule 100: allow tcp 1024-65535 to 0.0.0.0/0". Returns buf. */
const char *rule_ref_format(const struct lab *lab, const struct rule_ref *r, char *buf, size_t len);

/* Marks hit[k] = 1 for every rule the evaluated flow exercised. */
void cover_mark(const struct lab *lab, const struct rule_index *ri, const struct pipeline_query *q,
		const struct pipeline_check *c, uint8_t *hit);

/* One generated flow, named as an expectations file names endpoints. */
struct cover_flow {
	char from[64], to[64];
	int proto;		  /* 6, 17, 1, 58 or another protocol number */
	int port;		  /* TCP/UDP, else -1 */
	int icmp_type, icmp_code; /* ICMP, else -1 */
	bool accept;		  /* the verdict now */
	size_t *rules;		  /* the rules it covers first (numbers of rule_index) */
	size_t n_rules;
};

struct cover_plan {
	struct cover_flow *flows;
	size_t n;
	uint8_t *reachable; /* per rule number */
	size_t n_reachable;
	/* Rules whose search ran out of COVER_SEARCH_BUDGET evaluations
	 * before finding a flow: reachability not decided (never on labs of
	 * the examples' size; said so rather than called unreachable). */
	uint8_t *undecided;
	size_t n_undecided;
};

#define COVER_SEARCH_BUDGET 200000

/* A small set of flows exercising every reachable rule. Rule by rule,
 * only the representative flows that can meet the rule are tried (its
 * group's or NACL's ENIs, ends inside its peer, keys inside its range,
 * keys the ENIs' SG stages can pass at all), the first exercising it is
 * kept; a greedy set cover then keeps the fewest of those found. 0 or
 * -ENOMEM. */
int cover_generate(const struct lab *lab, const struct rule_index *ri, struct cover_plan *out);

/* Every representative flow evaluated, no pruning: the slow reference
 * cover_generate's reachable set is tested against. 0 or -ENOMEM. */
int cover_reachable_exhaustive(const struct lab *lab, const struct rule_index *ri,
			       uint8_t *reachable);
void cover_plan_free(struct cover_plan *p);

#endif
