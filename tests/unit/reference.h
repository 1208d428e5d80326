/*
 * Deliberately naive NACL and SG evaluators for differential tests
 * (STYLE.md, after WireGuard's allowedips selftest): written from
 * AWS-SEMANTICS §2/§3 without sharing a line with rules/, bit-by-bit
 * prefix tests, full scans, group membership recomputed from the ENIs.
 * Slow on purpose; never used outside tests. Also a seeded PRNG so every
 * failure reproduces.
 */
#ifndef VPCFW_TEST_REFERENCE_H
#define VPCFW_TEST_REFERENCE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "flow.h"
#include "model.h"

/* xorshift64*: seeded by the caller through *state */
static inline uint32_t ref_rnd(uint64_t *state, uint32_t n)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (uint32_t)((x * 2685821657736338717ull) >> 33) % n;
}

static inline bool ref_contains(const struct ip_prefix *p, const struct ip_addr *a)
{
	if (p->addr.family != a->family)
		return false;
	for (unsigned i = 0; i < p->len; i++) {
		unsigned bit = 7 - i % 8;
		if (((p->addr.b[i / 8] >> bit) & 1) != ((a->b[i / 8] >> bit) & 1))
			return false;
	}
	return true;
}

static inline bool ref_nacl_matches(const struct nacl_entry *e, const struct flow *f)
{
	if (!ref_contains(&e->cidr, e->egress ? &f->dst : &f->src))
		return false;
	if (e->protocol == -1)
		return true;
	if (e->protocol != f->proto)
		return false;
	if (f->proto == 6 || f->proto == 17)
		return e->port_from <= f->dport && f->dport <= e->port_to;
	if (f->proto == 1 || f->proto == 58)
		return (e->icmp_type == -1 || e->icmp_type == f->icmp_type) &&
		       (e->icmp_code == -1 || e->icmp_code == f->icmp_code);
	return true;
}

/* The lowest-numbered matching entry decides: every entry is searched,
 * never relying on the list being sorted. */
static inline bool ref_nacl(const struct nacl *acl, bool egress, const struct flow *f,
			    uint32_t *rule)
{
	const struct nacl_entry *list = egress ? acl->egress : acl->ingress;
	size_t n = egress ? acl->n_egress : acl->n_ingress;
	const struct nacl_entry *best = NULL;
	for (size_t i = 0; i < n; i++)
		if (ref_nacl_matches(&list[i], f) &&
		    (!best || list[i].rule_number < best->rule_number))
			best = &list[i];
	if (!best) {
		*rule = f->src.family == IP_V6 ? 32768 : 32767;
		return false;
	}
	*rule = best->rule_number;
	return best->allow;
}

/* Group membership from the ENIs themselves, not from members[]. */
static inline bool ref_member(const struct lab *lab, int32_t g, const struct ip_addr *a)
{
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		bool carries = false;
		for (size_t k = 0; k < e->n_groups; k++)
			carries |= e->groups[k] == g;
		if (!carries)
			continue;
		for (size_t k = 0; k < e->n_ipv4; k++)
			if (!memcmp(&e->ipv4[k], a, sizeof(*a)))
				return true;
		for (size_t k = 0; lab->opts.sg_ref_includes_ipv6 && k < e->n_ipv6; k++)
			if (!memcmp(&e->ipv6[k], a, sizeof(*a)))
				return true;
	}
	return false;
}

static inline bool ref_sg_rule(const struct lab *lab, const struct sg_rule *r, bool egress,
			       const struct flow *f)
{
	if (r->egress != egress)
		return false;
	const struct ip_addr *peer = egress ? &f->dst : &f->src;
	bool peer_ok = false;
	if (r->peer_kind == SG_PEER_CIDR) {
		peer_ok = ref_contains(&r->cidr, peer);
	} else if (r->peer_kind == SG_PEER_PREFIX_LIST) {
		const struct prefix_list *pl = &lab->prefix_lists[r->peer];
		for (size_t i = 0; i < pl->n_cidrs; i++)
			peer_ok |= ref_contains(&pl->cidrs[i], peer);
	} else {
		peer_ok = ref_member(lab, r->peer, peer);
	}
	if (!peer_ok)
		return false;
	if (r->protocol == -1)
		return true;
	if (r->protocol != f->proto)
		return false;
	if (f->proto == 6 || f->proto == 17)
		return r->from_port <= f->dport && f->dport <= r->to_port;
	if (f->proto == 1 || f->proto == 58)
		return (r->from_port == -1 || r->from_port == f->icmp_type) &&
		       (r->to_port == -1 || r->to_port == f->icmp_code);
	return true;
}

/* Any rule of any of the ENI's groups allows (the union, §3). */
static inline bool ref_sg(const struct lab *lab, const struct eni *e, bool egress,
			  const struct flow *f)
{
	bool any = false;
	for (size_t g = 0; g < e->n_groups; g++) {
		const struct security_group *sg = &lab->groups[e->groups[g]];
		for (size_t r = 0; r < sg->n_rules; r++)
			any |= ref_sg_rule(lab, &sg->rules[r], egress, f);
	}
	return any;
}

#endif
