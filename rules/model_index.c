/*
 * The lab's addresses, sorted once when it is loaded: which ENI owns a
 * private address, which private address a public IP maps to. The data
 * path asks both for every packet (issue 9: 1,000 ENIs made the scans the
 * cost of a packet), and which NAT gateway an address belongs to (its
 * Elastic IP, a private gateway's private IP: asked for every IPv4 packet
 * from an outside host; an export holds hundreds of gateways). A lab
 * built by hand (the unit tests' kit) has no index and is scanned; the
 * answers are the same, lowest ENI or gateway index first.
 */
#include "model_index.h"

#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct addr_entry {
	struct ip_addr addr; /* the key: a private or a public address */
	struct ip_addr priv; /* public entries: the private address it maps to */
	int32_t eni;	     /* NAT entries: the gateway's index */
	uint32_t order; /* the scan's order among one ENI's entries */
};

struct lab_addr_index {
	struct addr_entry *priv, *pub, *nat;
	size_t n_priv, n_pub, n_nat;
};

static int entry_cmp(const void *x, const void *y)
{
	const struct addr_entry *a = x, *b = y;
	int c = ip_addr_cmp(&a->addr, &b->addr);

	if (c)
		return c;
	if (a->eni != b->eni)
		return a->eni < b->eni ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

bool gateway_nat_addr(const struct gateway *g, struct ip_addr *a)
{
	bool private = g->detail && !strcmp(g->detail, "private");
	if (g->kind != GW_NAT || !(private ? g->has_private_ip : g->has_public_ip))
		return false;
	*a = private ? g->private_ip : g->public_ip;
	return true;
}

static void count(const struct lab *lab, size_t *n_priv, size_t *n_pub, size_t *n_nat)
{
	*n_priv = *n_pub = *n_nat = 0;
	struct ip_addr a;
	for (size_t i = 0; i < lab->n_gateways; i++)
		*n_nat += gateway_nat_addr(&lab->gateways[i], &a);
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];

		*n_priv += e->n_ipv4 + e->n_ipv6;
		*n_pub += (e->has_public_ip && e->n_ipv4) + e->n_publics;
	}
}

static void fill(const struct lab *lab, struct lab_addr_index *ix)
{
	size_t p = 0, q = 0, r = 0;
	struct ip_addr a;

	for (size_t i = 0; i < lab->n_gateways; i++)
		if (gateway_nat_addr(&lab->gateways[i], &a))
			ix->nat[r++] = (struct addr_entry){.addr = a, .eni = (int32_t)i};

	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		uint32_t order = 0;

		for (size_t k = 0; k < e->n_ipv4 + e->n_ipv6; k++)
			ix->priv[p++] = (struct addr_entry){
			    .addr = k < e->n_ipv4 ? e->ipv4[k] : e->ipv6[k - e->n_ipv4],
			    .eni = (int32_t)i,
			    .order = order++};
		if (e->has_public_ip && e->n_ipv4)
			ix->pub[q++] = (struct addr_entry){
			    .addr = e->public_ip, .priv = e->ipv4[0], .eni = (int32_t)i, .order = order++};
		for (size_t k = 0; k < e->n_publics; k++)
			ix->pub[q++] = (struct addr_entry){.addr = e->publics[k].pub,
							   .priv = e->publics[k].priv,
							   .eni = (int32_t)i,
							   .order = order++};
	}
}

int lab_index_addresses(struct lab *lab)
{
	struct lab_addr_index *ix = arena_calloc(lab->arena, 1, sizeof(*ix));

	if (!ix)
		return -1;
	count(lab, &ix->n_priv, &ix->n_pub, &ix->n_nat);
	ix->priv = arena_calloc(lab->arena, ix->n_priv ? ix->n_priv : 1, sizeof(*ix->priv));
	ix->pub = arena_calloc(lab->arena, ix->n_pub ? ix->n_pub : 1, sizeof(*ix->pub));
	ix->nat = arena_calloc(lab->arena, ix->n_nat ? ix->n_nat : 1, sizeof(*ix->nat));
	if (!ix->priv || !ix->pub || !ix->nat)
		return -1;
	fill(lab, ix);
	qsort(ix->priv, ix->n_priv, sizeof(*ix->priv), entry_cmp);
	qsort(ix->pub, ix->n_pub, sizeof(*ix->pub), entry_cmp);
	qsort(ix->nat, ix->n_nat, sizeof(*ix->nat), entry_cmp);
	lab->addr_index = ix;
	return 0;
}

/* The first entry for a (lowest ENI index), or NULL. */
static const struct addr_entry *lower_bound(const struct addr_entry *v, size_t n,
					    const struct ip_addr *a)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ip_addr_cmp(&v[mid].addr, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && ip_addr_eq(&v[lo].addr, a) ? &v[lo] : NULL;
}

bool lab_index_eni_by_addr(const struct lab *lab, const struct ip_addr *a, int32_t *eni)
{
	const struct lab_addr_index *ix = lab->addr_index;
	const struct addr_entry *e;

	if (!ix)
		return false;
	e = lower_bound(ix->priv, ix->n_priv, a);
	*eni = e ? e->eni : -1;
	return true;
}

bool lab_index_private_of_public(const struct lab *lab, const struct ip_addr *pub,
				 struct ip_addr *priv, int32_t *eni)
{
	const struct lab_addr_index *ix = lab->addr_index;
	const struct addr_entry *e;

	if (!ix)
		return false;
	e = lower_bound(ix->pub, ix->n_pub, pub);
	*eni = e ? e->eni : -1;
	if (e)
		*priv = e->priv;
	return true;
}

int32_t lab_nat_by_address(const struct lab *lab, const struct ip_addr *a)
{
	const struct lab_addr_index *ix = lab->addr_index;
	struct ip_addr g;

	if (ix) {
		const struct addr_entry *e = lower_bound(ix->nat, ix->n_nat, a);
		return e ? e->eni : -1;
	}
	for (size_t i = 0; i < lab->n_gateways; i++)
		if (gateway_nat_addr(&lab->gateways[i], &g) && ip_addr_eq(&g, a))
			return (int32_t)i;
	return -1;
}
