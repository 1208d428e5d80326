/*
 * Shared only by the resolver's files: load_resolve.c (what AWS would fill
 * in, then the built lab), load_resolve_net.c (VPCs, subnets, NACLs, route
 * tables, prefix lists and groups checked against AWS's constraints) and
 * load_resolve_eni.c (ENIs, outside hosts, addresses, names). Each check
 * reports every violation at the object's file and JSON path and sets the
 * built lab's indices; ld_finish calls them in order.
 */
#ifndef VPCFW_LOAD_RESOLVE_PRIVATE_H
#define VPCFW_LOAD_RESOLVE_PRIVATE_H

#include "load-private.h"

/* The first object with that id, as lab_find_* would find it, in O(1)
 * (the loader's ix_* maps); -1 when none. */
static inline int32_t ld_ix_find(const struct idmap *m, const char *id)
{
	size_t i;
	return idmap_get(m, id, &i) ? (int32_t)i : -1;
}

/* load_resolve_net.c */
void ld_check_vpcs(struct loader *l, struct lab *lab);
void ld_check_subnets(struct loader *l, struct lab *lab, const struct draft_subnet *drafts);
void ld_check_nacls(struct loader *l, struct lab *lab, struct draft_nacl *drafts);
void ld_check_route_tables(struct loader *l, struct lab *lab, struct draft_rt *drafts);
void ld_warn_no_route_table(struct loader *l, const struct lab *lab);
/* Our format names a subnet's NACL and route table on the subnet. */
void ld_subnet_refs(struct loader *l, struct lab *lab, struct draft_subnet *drafts);
void ld_check_prefix_lists(struct loader *l, struct lab *lab);
void ld_check_groups(struct loader *l, struct lab *lab, struct draft_group *drafts);

/* load_resolve_eni.c */
void ld_check_enis(struct loader *l, struct lab *lab, struct draft_eni *drafts);
void ld_check_unique_addrs(struct loader *l, struct lab *lab);
void ld_check_devices(struct loader *l, struct lab *lab);
void ld_check_outside(struct loader *l, struct lab *lab);
void ld_check_names(struct loader *l, struct lab *lab);
/* §3: a group reference means the private addresses of its members. */
void ld_fill_members(struct loader *l, struct lab *lab);

#endif
