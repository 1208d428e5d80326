/*
 * Building the loader's model, shared by every format's reader (load_aws*.c,
 * load_lab*.c, load_tf*.c) and by the resolver (load_resolve*.c): adding
 * and merging ENIs, growing the arena arrays of drafts, finding drafts by
 * id, and AWS's default NACL, made in this one place. These call nothing
 * of the readers, so that load.c -> reader -> builder is a line, not a
 * circle. Shared only by the loader's files; the public interface is load.h.
 */
#ifndef VPCFW_LOAD_BUILD_H
#define VPCFW_LOAD_BUILD_H

#include <stddef.h>

#include "load-private.h"

/* Adds or merges an ENI (an ENI described by describe-instances and
 * describe-network-interfaces is one ENI). */
void ld_add_eni(struct loader *l, struct draft_eni *e);
/* Records pub as the public IPv4 of e's private address priv (the
 * primary's in has_public_ip/public_ip); a second one for the same
 * address is ignored, as describe-* repeats the primary's. */
void ld_eni_public(struct loader *l, struct eni *e, const struct ip_addr *priv,
		   const struct ip_addr *pub);

/* Appends to an arena array unless an equal element is there already. */
void ld_add_prefix(struct loader *l, struct ip_prefix **list, size_t *n, const struct ip_prefix *p);
void ld_add_addr(struct loader *l, struct ip_addr **list, size_t *n, const struct ip_addr *a);
/* Appends a VPC block unless one in the list covers it already. */
void ld_add_block(struct loader *l, struct ip_prefix **list, size_t *n, const struct ip_prefix *p);
/* An arena array of n + 1 items holding the n of items (arrays here are
 * short); NULL without memory. The caller fills item n. */
void *ld_grow(struct loader *l, const void *items, size_t n, size_t size);

/* The first of n items (of size bytes each) whose id, a string at id_off
 * in the item, is id; NULL when none. */
void *ld_find(const void *items, size_t n, size_t size, size_t id_off, const char *id);
#define LD_FIND(v, type, member, want)                                                             \
	((type *)ld_find((v)->items, (v)->n, sizeof(type), offsetof(type, member), want))
#define LD_FIND_GROUP(l, want) LD_FIND(&(l)->groups, struct draft_group, g.id, want)
#define LD_FIND_SUBNET(l, want) LD_FIND(&(l)->subnets, struct draft_subnet, s.id, want)
#define LD_FIND_NACL(l, want) LD_FIND(&(l)->nacls, struct draft_nacl, n.id, want)
#define LD_FIND_RT(l, want) LD_FIND(&(l)->rts, struct draft_rt, rt.id, want)

/* AWS's default NACL of a VPC (AWS-SEMANTICS §2): allow all both ways, rule
 * 100, and 101 for IPv6 when the VPC has an IPv6 block. Its id is made
 * from seed ("acl-…"), where the VPC has no NACL id to give it. Added to
 * l->nacls. */
void ld_default_nacl(struct loader *l, const char *vpc_id, const char *seed, bool ipv6,
		     const struct origin *at);

#endif
