/*
 * Reachability as interval sets, for `vpcfw diff` (DESIGN.md contract 7).
 * For an ordered pair of ends and a protocol class, every stage of the
 * path (SG egress, NACL egress, route, NACL ingress, SG ingress, and the
 * response's NACL and route stages over the client's ephemeral ports) is
 * turned into a partition of the key domain: destination ports (TCP/UDP),
 * type<<8|code (ICMP for IPv4, ICMPv6 for IPv6) or protocol numbers (every
 * other protocol). NACL first match becomes "what earlier rules left
 * unassigned, intersected with this rule's range" (a deny carves a hole in
 * later allows); SGs are the union of their rules; the path accepts the
 * intersection of its stages. Each piece keeps the stage_verdict that
 * decides it, so a change can name its rule. Never port by port.
 *
 * The answers agree with pipeline_check() (tests/unit/test_reach.c proves
 * it on generated labs), including the AWS service exemptions.
 *
 * Not for: printing (tools/cmd_diff.c), loading, per-packet evaluation.
 *
 * Usage:
 *	struct reach_changes ch;
 *	reach_changes_init(&ch);
 *	struct reach_opts o;
 *	reach_opts_init(&o);
 *	if (reach_diff(old_lab, new_lab, &o, &ch) < 0) ...
 *	for (i < ch.n) ch.items[i] ...
 *	reach_changes_free(&ch);
 */
#ifndef VPCFW_REACH_H
#define VPCFW_REACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "model.h"
#include "pipeline.h"

/* The key of each class: TCP/UDP destination port 0..65535, ICMP
 * type<<8|code 0..65535, OTHER the protocol number 0..255 (1, 6, 17 and
 * 58 are never accepted there: they have their own classes). */
enum reach_class { REACH_TCP, REACH_UDP, REACH_ICMP, REACH_OTHER, REACH__COUNT };

#define REACH_ICMP_KEY(type, code) (((uint32_t)(type) << 8) | (uint32_t)(code))

struct reach_opts {
	uint16_t eph_lo, eph_hi; /* client's ephemeral ports, 32768-60999 */
	/* Evaluate every pair of endpoints on its own instead of once per
	 * pair of equivalence classes: the slow reference the class-based
	 * evaluation is tested against. Same result either way. */
	bool pairwise;
	/* Called now and then by reach_diff with the work done so far out of
	 * total (done == total at the end); NULL for none. */
	void (*progress)(void *arg, size_t done, size_t total);
	void *progress_arg;
};

void reach_opts_init(struct reach_opts *o);

/* One piece of one stage's partition: keys lo..hi get verdict why. */
struct reach_seg {
	uint32_t lo, hi;
	bool accept;
	struct stage_verdict why;
};

struct reach_map {
	bool response;		/* a stage of the response (reply flow) */
	struct flow flow;	/* the flow the stage saw, key fields zero */
	struct reach_seg *segs; /* sorted, disjoint, covering 0..key_max */
	size_t n;
};

#define REACH_MAX_MAPS 14 /* 5 + 3 stages, 2 + 2 NAT gateway NACL crossings */

struct reach_path {
	enum reach_class cls;
	uint8_t proto; /* 6, 17, 1 or 58; 0 for REACH_OTHER */
	uint32_t key_max;
	struct reach_map maps[REACH_MAX_MAPS];
	size_t n_maps;
};

struct reach_iv {
	uint32_t lo, hi;
};

/* The protocol number a class uses in family f (REACH_OTHER: 0). */
uint8_t reach_class_proto(enum reach_class c, enum ip_family f);
uint32_t reach_class_key_max(enum reach_class c);

/* Builds the stage partitions of the path src -> dst (addresses of one
 * family, ends as pipeline_end_of_addr gives them; at least one an ENI).
 * 0, or -ENOMEM. Free with reach_path_free (also after a failure). */
int reach_path_build(const struct lab *lab, const struct pipeline_end *src,
		     const struct pipeline_end *dst, const struct ip_addr *src_addr,
		     const struct ip_addr *dst_addr, enum reach_class c, const struct reach_opts *o,
		     struct reach_path *out);
void reach_path_free(struct reach_path *p);

/* Whether the whole path accepts key; *map (may be NULL) the index of the
 * first rejecting map, or n_maps. */
bool reach_path_accepts(const struct reach_path *p, uint32_t key, size_t *map);

/* The accepted keys as sorted, merged intervals (malloc'd, caller frees).
 * 0 or -ENOMEM. */
int reach_path_accepted(const struct reach_path *p, struct reach_iv **out, size_t *n);

/* One change between two labs. */
struct reach_change {
	char *from, *to;		   /* ENI label, or the outside CIDR */
	struct ip_addr from_addr, to_addr; /* the addresses evaluated */
	enum reach_class cls;
	uint8_t proto; /* 6, 17, 1, 58; REACH_OTHER: 0 (lo..hi are protocols) */
	uint32_t lo, hi;
	bool open;   /* accepted in NEW only; else closed */
	char *stage; /* "sg-ingress", "response nacl-egress", ... */
	char *rule;  /* the deciding rule: NEW side for an open, OLD side for a close */
};

struct reach_changes {
	struct reach_change *items;
	size_t n, cap;
	size_t n_endpoints, n_pairs; /* what was compared, for the summary */
};

void reach_changes_init(struct reach_changes *c);
void reach_changes_free(struct reach_changes *c);

/* Every (from, to, class, key range) whose verdict differs between old
 * and new. Order: IPv4 before IPv6, then source and destination in
 * endpoint order (ENIs by label, then outside representatives by
 * address), class, lo; adjacent keys with the same change and rule are
 * one range. Endpoints: every ENI (matched by ENI id, else by a Name tag
 * unique in both labs; an ENI of one lab only is compared with "no
 * path"), by its primary IPv4 / first IPv6 address (contract 3), and one
 * representative address per distinct CIDR named by a NACL entry, an SG
 * rule, a prefix list or a route of either lab, unless inside a VPC
 * block: the lowest address of the CIDR inside no narrower such CIDR, no
 * VPC block and no ENI address (private or public). Every address of
 * that remainder matches exactly the same rules and routes, so one
 * address decides for all of them. The VPC's service addresses outside its blocks (169.254.0.0/16
 * and its named services, the DHCP broadcast, fd00:ec2::) under such a CIDR get representatives of
 * their own, compared as destinations only. Each ENI with a public IPv4 address is also a
 * destination of the other ENIs by that address, labelled "<ENI> (public IP)": the hairpin through
 * the internet gateway pipeline_check evaluates (AWS-SEMANTICS §9); no representative is an ENI's
 * public IP. Endpoints that every path treats alike (same subnet, groups, group memberships and
 * rule-relevant address class in both labs) form one class; each pair of classes is evaluated once
 * and its changes worded for each pair of its members. 0, or -ENOMEM. */
int reach_diff(const struct lab *old_lab, const struct lab *new_lab, const struct reach_opts *o,
	       struct reach_changes *out);

#endif
