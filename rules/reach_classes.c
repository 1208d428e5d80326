/*
 * Equivalence classes of the endpoints of a diff (rd_classes in
 * reach-private.h), so that reach_diff evaluates each pair of classes once
 * instead of each pair of endpoints: an account's ENIs are many, the ways
 * the rules can treat them few. A class key lists everything of an ENI a
 * path reads besides its own index and address; when in doubt a field
 * goes into the key (a finer class costs time, a coarser one a wrong
 * answer). tests/unit/test_reach.c compares the result with pair-by-pair
 * evaluation on generated labs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reach-private.h"
#include "vec.h"

struct u32v {
	uint32_t *v;
	size_t n, cap;
};

static int u32_push(struct u32v *l, uint32_t x)
{
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	l->v[l->n++] = x;
	return 0;
}

/* An address and whose it is (a group's member, an ENI's address). */
struct owned {
	struct ip_addr addr;
	int32_t owner;
};

struct ownedv {
	struct owned *v;
	size_t n, cap;
};

static int owned_push(struct ownedv *l, const struct ip_addr *a, int32_t owner)
{
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	l->v[l->n++] = (struct owned){.addr = *a, .owner = owner};
	return 0;
}

static int owned_cmp(const void *x, const void *y)
{
	const struct owned *a = x, *b = y;
	int c = ip_addr_cmp(&a->addr, &b->addr);
	return c ? c : (a->owner > b->owner) - (a->owner < b->owner);
}

/* The first entry for a, or l->n. */
static size_t owned_first(const struct ownedv *l, const struct ip_addr *a)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ip_addr_cmp(&l->v[mid].addr, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int pfx_cmp(const void *x, const void *y)
{
	const struct ip_prefix *a = x, *b = y;
	int c = ip_addr_cmp(&a->addr, &b->addr);
	return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int pfx_append_cb(void *l, const struct ip_prefix *p)
{
	return ip_prefix_list_add(l, p, false);
}

/* Every CIDR the lab's rules, prefix lists, routes, VPCs and subnets name. */
static int lab_prefixes(const struct lab *lab, struct ip_prefix_list *l)
{
	int r = reach_rule_cidrs(lab, pfx_append_cb, l);
	if (!r)
		r = reach_vpc_cidrs(lab, l, false);
	for (size_t i = 0; i < lab->n_subnets && !r; i++) {
		r = ip_prefix_list_add(l, &lab->subnets[i].cidr, false);
		if (!r && lab->subnets[i].has_cidr6)
			r = ip_prefix_list_add(l, &lab->subnets[i].cidr6, false);
	}
	return r;
}

/* What the keys are made from: both labs' CIDRs (sorted, unique), and per
 * lab the group members and the ENI addresses by address. */
struct key_ctx {
	const struct lab *labs[2];
	struct ip_prefix_list cidrs;
	struct ownedv members[2], owners[2];
};

static int ctx_init(struct key_ctx *x, const struct lab *old_lab, const struct lab *new_lab)
{
	memset(x, 0, sizeof(*x));
	x->labs[0] = old_lab;
	x->labs[1] = new_lab;
	int r = 0;
	for (int s = 0; s < 2 && !r; s++) {
		const struct lab *lab = x->labs[s];
		r = lab_prefixes(lab, &x->cidrs);
		for (size_t g = 0; g < lab->n_groups && !r; g++)
			for (size_t m = 0; m < lab->groups[g].n_members && !r; m++)
				r = owned_push(&x->members[s], &lab->groups[g].members[m],
					       (int32_t)g);
		for (size_t i = 0; i < lab->n_enis && !r; i++) {
			const struct eni *e = &lab->enis[i];
			for (size_t k = 0; k < e->n_ipv4 && !r; k++)
				r = owned_push(&x->owners[s], &e->ipv4[k], (int32_t)i);
			for (size_t k = 0; k < e->n_ipv6 && !r; k++)
				r = owned_push(&x->owners[s], &e->ipv6[k], (int32_t)i);
		}
		reach_sort(x->members[s].v, x->members[s].n, sizeof(struct owned), owned_cmp);
		reach_sort(x->owners[s].v, x->owners[s].n, sizeof(struct owned), owned_cmp);
	}
	reach_sort(x->cidrs.v, x->cidrs.n, sizeof(struct ip_prefix), pfx_cmp);
	size_t u = 0;
	for (size_t i = 0; i < x->cidrs.n; i++)
		if (!u || pfx_cmp(&x->cidrs.v[u - 1], &x->cidrs.v[i]))
			x->cidrs.v[u++] = x->cidrs.v[i];
	x->cidrs.n = u;
	return r;
}

static void ctx_free(struct key_ctx *x)
{
	free(x->cidrs.v);
	for (int s = 0; s < 2; s++) {
		free(x->members[s].v);
		free(x->owners[s].v);
	}
}

/* The narrowest named CIDR holding a: it fixes every CIDR holding a, as
 * named CIDRs nest or are disjoint. */
static uint32_t narrowest(const struct key_ctx *x, const struct ip_addr *a)
{
	uint32_t best = UINT32_MAX;
	for (size_t i = 0; i < x->cidrs.n; i++)
		if (ip_prefix_contains(&x->cidrs.v[i], a) &&
		    (best == UINT32_MAX || x->cidrs.v[i].len > x->cidrs.v[best].len))
			best = (uint32_t)i;
	return best;
}

static const struct ip_addr *eni_addr(const struct eni *e, uint8_t fam)
{
	if (fam == IP_V4)
		return e->n_ipv4 ? &e->ipv4[0] : NULL;
	return e->n_ipv6 ? &e->ipv6[0] : NULL;
}

/* The key of ENI i of lab side s, evaluated by its address of fam. */
static int side_key(const struct key_ctx *x, int s, int32_t i, uint8_t fam, struct u32v *k)
{
	if (i < 0)
		return u32_push(k, UINT32_MAX);
	const struct lab *lab = x->labs[s];
	const struct eni *e = &lab->enis[i];
	const struct ip_addr *a = eni_addr(e, fam);
	if (!a)
		return u32_push(k, UINT32_MAX - 1);
	int r = u32_push(k, (uint32_t)e->subnet);
	if (!r)
		r = u32_push(k, (uint32_t)e->n_groups);
	for (size_t g = 0; g < e->n_groups && !r; g++)
		r = u32_push(k, (uint32_t)e->groups[g]);
	if (!r)
		r = u32_push(k, narrowest(x, a));
	const struct ownedv *mem = &x->members[s];
	for (size_t m = owned_first(mem, a); m < mem->n && !r && ip_addr_eq(&mem->v[m].addr, a);
	     m++)
		r = u32_push(k, (uint32_t)mem->v[m].owner);
	if (!r) /* ends the member list */
		r = u32_push(k, UINT32_MAX);
	/* explanations look an address's ENI up (lab_eni_by_addr): the
	 * first ENI holding it */
	size_t o = owned_first(&x->owners[s], a);
	if (!r)
		r = u32_push(k, o < x->owners[s].n && x->owners[s].v[o].owner == i);
	/* a public IP is the ENI's own, and a load balancer's node or target
	 * is read by paths to the node: such an ENI is a class of its own */
	bool own = e->has_public_ip || e->n_publics || reach_nlb_involves(lab, i);
	if (!r)
		r = u32_push(k, own ? (uint32_t)i + 1 : 0);
	return r;
}

struct keyed {
	const uint32_t *k;
	size_t n;
	size_t end;
};

static int keyed_cmp(const void *x, const void *y)
{
	const struct keyed *a = x, *b = y;
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	int c = memcmp(a->k, b->k, a->n * sizeof(*a->k));
	if (c)
		return c;
	return (a->end > b->end) - (a->end < b->end);
}

/* Class ids of family fam into ids[], numbered in order of first key. */
static int family_classes(const struct key_ctx *x, const struct rd_ends *ends, uint8_t fam,
			  uint32_t *ids, size_t *n_classes)
{
	struct u32v keys = {0};
	size_t *off = malloc((ends->n + 1) * sizeof(*off));
	struct keyed *kd = malloc((ends->n + 1) * sizeof(*kd));
	int r = off && kd ? 0 : -ENOMEM;
	for (size_t i = 0; i < ends->n && !r; i++) {
		const struct rd_end *e = &ends->v[i];
		off[i] = keys.n;
		if (e->outside || e->via_public) { /* a class of its own */
			r = u32_push(&keys, UINT32_MAX);
			if (!r)
				r = u32_push(&keys, (uint32_t)i);
			continue;
		}
		r = u32_push(&keys, 0);
		for (int s = 0; s < 2 && !r; s++)
			r = side_key(x, s, e->eni[s], fam, &keys);
	}
	for (size_t i = 0; i < ends->n && !r; i++) {
		size_t end = i + 1 < ends->n ? off[i + 1] : keys.n;
		kd[i] = (struct keyed){.k = keys.v + off[i], .n = end - off[i], .end = i};
	}
	if (!r)
		qsort(kd, ends->n, sizeof(*kd), keyed_cmp);
	size_t n = 0;
	for (size_t i = 0; i < ends->n && !r; i++) {
		if (i && (kd[i].n != kd[i - 1].n ||
			  memcmp(kd[i].k, kd[i - 1].k, kd[i].n * sizeof(*kd[i].k))))
			n++;
		ids[kd[i].end] = (uint32_t)n;
	}
	*n_classes = ends->n ? n + 1 : 0;
	free(keys.v);
	free(off);
	free(kd);
	return r;
}

int reach_classes_build(const struct lab *old_lab, const struct lab *new_lab,
			const struct rd_ends *ends, struct rd_classes *out)
{
	static const uint8_t fams[2] = {IP_V4, IP_V6};
	struct key_ctx x;
	memset(out, 0, sizeof(*out));
	int r = ctx_init(&x, old_lab, new_lab);
	for (int f = 0; f < 2 && !r; f++) {
		out->id[f] = calloc(ends->n + 1, sizeof(*out->id[f]));
		r = out->id[f] ? family_classes(&x, ends, fams[f], out->id[f], &out->n[f])
			       : -ENOMEM;
	}
	ctx_free(&x);
	return r;
}

void reach_classes_free(struct rd_classes *c)
{
	free(c->id[0]);
	free(c->id[1]);
	memset(c, 0, sizeof(*c));
}
