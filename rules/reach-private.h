/*
 * Shared only by rules/reach*.c: the interval maths (reach_iv.c) under the
 * stage maps (reach.c) and the diff driver (reach_diff.c), and the
 * endpoints a diff compares (reach_ends.c); and sgtable.c, whose compiled
 * SG tables are built from the same maps. Not for other modules: reach.h is the interface.
 */
#ifndef VPCFW_REACH_PRIVATE_H
#define VPCFW_REACH_PRIVATE_H

#include <stdlib.h>

#include "reach.h"
#include "sg.h"

/* Protocols with a class of their own never count as REACH_OTHER keys. */
bool reach_key_excluded(enum reach_class c, uint32_t key);

/* The piece of m holding key, or NULL. */
const struct reach_seg *reach_map_find(const struct reach_map *m, uint32_t key);

/* Every key where some partition of the paths (NULL entries skipped)
 * changes, plus the edges of the excluded OTHER keys; sorted, unique,
 * ending with key_max + 1. malloc'd; 0 or -ENOMEM. */
int reach_boundaries(const struct reach_path *const *paths, size_t n_paths, enum reach_class c,
		     uint32_t key_max, uint32_t **out, size_t *n);

/* ---- interval maths (reach_iv.c) ---- */

struct ivl {
	struct reach_iv *v;
	size_t n, cap;
};

int reach_ivl_push(struct ivl *l, uint32_t lo, uint32_t hi);

struct segl {
	struct reach_seg *v;
	size_t n, cap;
};

/* A partition by first match: each key goes to the first rule that
 * matches it, the rest to the default. */
struct first_match {
	struct ivl free; /* keys no rule has decided yet, sorted */
	struct ivl next;
	struct segl segs;
};

/* 0 or -ENOMEM; release with reach_fm_release either way. */
int reach_fm_init(struct first_match *fm, uint32_t key_max);
void reach_fm_release(struct first_match *fm);
/* Assigns match ∩ free to (accept, why); free -= match. match is sorted
 * and disjoint. */
int reach_fm_apply(struct first_match *fm, const struct ivl *match, bool accept,
		   const struct stage_verdict *why);
/* Whatever is left gets the default verdict; the partition goes to map. */
int reach_fm_finish(struct first_match *fm, bool accept, const struct stage_verdict *why,
		    struct reach_map *map);

/* map: one piece 0..key_max. */
int reach_map_const(struct reach_map *map, uint32_t key_max, bool accept,
		    const struct stage_verdict *why);
/* Keys lo..hi of map get (accept, why) instead: an exemption. */
int reach_map_override(struct reach_map *map, uint32_t lo, uint32_t hi, bool accept,
		       const struct stage_verdict *why);

/* reach_path_build with the lab's sorted member lists (NULL: none). */
int reach_path_build_indexed(const struct lab *lab, const struct sg_members *members,
			     const struct pipeline_end *src, const struct pipeline_end *dst,
			     const struct ip_addr *src_addr, const struct ip_addr *dst_addr,
			     enum reach_class c, const struct reach_opts *o,
			     struct reach_path *out);

/* Calls add for every CIDR a NACL entry, SG rule, prefix list or route of
 * lab names, until add returns nonzero; returns that, else 0. */
int reach_rule_cidrs(const struct lab *lab, int (*add)(void *arg, const struct ip_prefix *p),
		     void *arg);

/* The SG rules of eni in one direction over every key 0..key_max of
 * key_proto (keyset.h) for one peer address: the first allowing rule per
 * key in sg_evaluate's order (group, rule in the verdict), the rest
 * base with REASON_NO_RULE. Also the compiled tables of sgtable.c. 0 or
 * -ENOMEM; map->segs malloc'd. */
int reach_sg_rules_map(const struct lab *lab, const struct sg_members *members,
		       const struct eni *eni, bool egress, const struct ip_addr *peer,
		       int key_proto, uint32_t key_max, const struct stage_verdict *base,
		       struct reach_map *map);

/* Appends every CIDR block of the lab's VPCs (with unique, once each);
 * 0 or -ENOMEM. */
int reach_vpc_cidrs(const struct lab *lab, struct ip_prefix_list *l, bool unique);

/* An endpoint compared across the two labs: an ENI (its index on each
 * side, -1 where it does not exist) or an outside representative. */
struct rd_end {
	char *label;
	int32_t eni[2];
	bool outside;
	bool dest_only; /* an AWS service address: never a source */
	/* The ENI by its public IPv4 address: a destination only, of other
	 * ENIs, whose packets hairpin through the internet gateway (§9). */
	bool via_public;
	struct ip_addr addr; /* outside only */
	/* Outside only, per lab: what addr is seen as from VPC seen_vpc
	 * (pipeline_end_of_addr looks it up among every ENI), kept. */
	bool seen[2];
	int32_t seen_vpc[2];
	struct pipeline_end seen_as[2];
};

struct rd_ends {
	struct rd_end *v;
	size_t n, cap;
};

/* reach_hairpin.c: the path from ENI from to ENI to by to's public IP,
 * as pipeline_check evaluates a hairpin: from's stages towards the
 * internet gateway, then to's from it, and the response back the same
 * way. 0 or -ENOMEM; free with reach_path_free either way. */
int reach_hairpin_build(const struct lab *lab, const struct sg_members *members, int32_t from,
			int32_t to, enum reach_class c, const struct reach_opts *o,
			struct reach_path *out);

/* reach_nlb.c: whether the diff's path src -> dst (dst's address da) goes
 * through a Network Load Balancer's node to its targets, as forward_nlb.c
 * sends it; then the path, with leg B's stages joined over every target
 * the node may choose. 0, -ENOMEM or -EOVERFLOW; free with
 * reach_path_free either way. */
bool reach_nlb_follows(const struct lab *lab, const struct pipeline_end *src,
		       const struct pipeline_end *dst, const struct ip_addr *da);
int reach_nlb_build(const struct lab *lab, const struct sg_members *members,
		    const struct pipeline_end *src, int32_t node, const struct ip_addr *sa,
		    const struct ip_addr *da, enum reach_class c, const struct reach_opts *o,
		    struct reach_path *out);
/* Whether eni is a node or a target of a load balancer: a path to
 * another ENI reads its rules (reach_classes.c keeps it a class apart). */
bool reach_nlb_involves(const struct lab *lab, int32_t eni);

/* Every endpoint of the diff in output order (reach_diff in reach.h says
 * which). 0 or -ENOMEM; free with reach_ends_free either way. */
int reach_ends_collect(const struct lab *old_lab, const struct lab *new_lab, struct rd_ends *l);
void reach_ends_free(struct rd_ends *l);

/* Equivalence classes of endpoints, per family (0 IPv4, 1 IPv6): two
 * ENIs share a class when, in each lab, they have the same subnet, the
 * same groups in the same order, their address lies in the same groups'
 * member lists and under the same narrowest CIDR any rule, route, VPC or
 * subnet names, and nothing else of theirs (a public IP, an address
 * shared with another ENI) is read by a path. A path between members of
 * two classes then differs from its class pair's first only by ENI index
 * and address. Outside representatives are a class each. */
struct rd_classes {
	uint32_t *id[2]; /* per family, per endpoint */
	size_t n[2];	 /* classes per family */
};

int reach_classes_build(const struct lab *old_lab, const struct lab *new_lab,
			const struct rd_ends *ends, struct rd_classes *out);
void reach_classes_free(struct rd_classes *c);

/* qsort for the growing arrays here, which stay NULL while empty (a lab
 * of groups only, a Terraform plan): qsort(NULL, 0, …) is undefined. */
static inline void reach_sort(void *v, size_t n, size_t size,
			      int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

/* What building one map needs: the lab, the class's keys and scratch. */
struct reach_build {
	const struct lab *lab;
	enum reach_class cls;
	uint8_t proto; /* the flow's; 0 for REACH_OTHER */
	int key_proto; /* what the key sets are asked for: proto, or PROTO_ALL
			* (protocol numbers) for REACH_OTHER */
	uint32_t key_max;
	const struct reach_opts *o;
	const struct sg_members *members; /* NULL: scan member lists */
	struct ivl match;		  /* scratch */
};

/* reach_rules.c: the SG rules of eni seen from peer, and the NACL entries
 * of the scope's NACL, over every key of the class (base: the verdict's
 * provenance, completed per rule). 0 or -ENOMEM. */
int reach_rules_sg(struct reach_build *b, const struct eni *eni, bool egress,
		   const struct ip_addr *peer, const struct stage_verdict *base,
		   struct reach_map *map);
int reach_rules_nacl(struct reach_build *b, const struct stage_scope *s,
		     const struct stage_verdict *base, const struct flow *f, struct reach_map *map);

#endif
