/*
 * Read-only queries over a loaded lab: lookups by id and by address, and
 * endpoint naming (DESIGN.md contract 3). Linear scans: labs hold tens to
 * a few thousand objects and these run at load, in the CLI and on the slow
 * path only, never per packet of a tracked flow. Building the lab is the
 * loader's job (load.c), not this file's.
 */
#include "model.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

static bool id_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* The first of n items (of size bytes) whose id, a string at id_off in
 * the item, is id; -1 when none. */
static int32_t find_id(const void *items, size_t n, size_t size, size_t id_off, const char *id)
{
	for (size_t i = 0; i < n; i++) {
		const char *item_id;
		memcpy(&item_id, (const char *)items + i * size + id_off, sizeof(item_id));
		if (id_eq(item_id, id))
			return (int32_t)i;
	}
	return -1;
}

#define FIND_ID(arr, n, type) find_id(arr, n, sizeof(type), offsetof(type, id), want)

int32_t lab_find_vpc(const struct lab *lab, const char *want)
{
	return FIND_ID(lab->vpcs, lab->n_vpcs, struct vpc);
}

int32_t lab_find_subnet(const struct lab *lab, const char *want)
{
	return FIND_ID(lab->subnets, lab->n_subnets, struct subnet);
}

int32_t lab_find_group(const struct lab *lab, const char *want)
{
	return FIND_ID(lab->groups, lab->n_groups, struct security_group);
}

int32_t lab_find_nacl(const struct lab *lab, const char *want)
{
	return FIND_ID(lab->nacls, lab->n_nacls, struct nacl);
}

int32_t lab_find_prefix_list(const struct lab *lab, const char *want)
{
	return FIND_ID(lab->prefix_lists, lab->n_prefix_lists, struct prefix_list);
}

static bool addr_in_list(const struct ip_addr *list, size_t n, const struct ip_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (ip_addr_eq(&list[i], a))
			return true;
	return false;
}

bool eni_has_addr(const struct eni *e, const struct ip_addr *a)
{
	return a->family == IP_V4 ? addr_in_list(e->ipv4, e->n_ipv4, a)
				  : addr_in_list(e->ipv6, e->n_ipv6, a);
}

int32_t lab_eni_by_addr(const struct lab *lab, const struct ip_addr *a)
{
	int32_t found;

	if (lab_index_eni_by_addr(lab, a, &found))
		return found;
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		if (eni_has_addr(e, a))
			return (int32_t)i;
	}
	return -1;
}

const struct ip_addr *eni_public_of(const struct eni *e, const struct ip_addr *priv)
{
	if (priv->family != IP_V4)
		return NULL;
	if (e->has_public_ip && e->n_ipv4 && ip_addr_eq(&e->ipv4[0], priv))
		return &e->public_ip;
	for (size_t i = 0; i < e->n_publics; i++)
		if (ip_addr_eq(&e->publics[i].priv, priv))
			return &e->publics[i].pub;
	return NULL;
}

int32_t lab_private_of_public(const struct lab *lab, const struct ip_addr *pub,
			      struct ip_addr *priv)
{
	int32_t found;

	if (lab_index_private_of_public(lab, pub, priv, &found))
		return found;
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		if (e->has_public_ip && e->n_ipv4 && ip_addr_eq(&e->public_ip, pub)) {
			*priv = e->ipv4[0];
			return (int32_t)i;
		}
		for (size_t k = 0; k < e->n_publics; k++) {
			if (ip_addr_eq(&e->publics[k].pub, pub)) {
				*priv = e->publics[k].priv;
				return (int32_t)i;
			}
		}
	}
	return -1;
}

int32_t lab_eni_by_public_ip(const struct lab *lab, const struct ip_addr *a)
{
	struct ip_addr priv;
	return lab_private_of_public(lab, a, &priv);
}

int32_t lab_subnet_by_addr(const struct lab *lab, const struct ip_addr *a)
{
	for (size_t i = 0; i < lab->n_subnets; i++) {
		const struct subnet *s = &lab->subnets[i];
		if (ip_prefix_contains(&s->cidr, a))
			return (int32_t)i;
		if (s->has_cidr6 && ip_prefix_contains(&s->cidr6, a))
			return (int32_t)i;
	}
	return -1;
}

bool lab_addr_in_vpc(const struct lab *lab, const struct ip_addr *a)
{
	for (size_t i = 0; i < lab->n_vpcs; i++) {
		const struct vpc *v = &lab->vpcs[i];
		for (size_t j = 0; j < v->n_cidrs; j++)
			if (ip_prefix_contains(&v->cidrs[j], a))
				return true;
		for (size_t j = 0; j < v->n_cidrs6; j++)
			if (ip_prefix_contains(&v->cidrs6[j], a))
				return true;
	}
	return false;
}

/* The address an ENI endpoint starts with: primary IPv4, else first IPv6.
 * lab_endpoint_addr switches family when the peer needs it. */
static void eni_endpoint(const struct lab *lab, int32_t i, struct endpoint *out)
{
	const struct eni *e = &lab->enis[i];
	memset(out, 0, sizeof(*out));
	out->kind = ENDPOINT_ENI;
	out->eni = i;
	out->outside = -1;
	if (e->n_ipv4)
		out->addr = e->ipv4[0];
	else if (e->n_ipv6)
		out->addr = e->ipv6[0];
}

/* The ENI at the lowest device index among those whose string at key_off
 * is key. unknown_last: an ENI with a known index beats one without (an
 * instance's ENIs: AWS's primary is device 0); otherwise the first found
 * keeps its place unless a later one's index is lower. */
static int32_t lowest_device(const struct lab *lab, size_t key_off, const char *key,
			     bool unknown_last)
{
	int32_t best = -1;
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		const char *k;
		memcpy(&k, (const char *)e + key_off, sizeof(k));
		if (!id_eq(k, key))
			continue;
		if (best < 0 ||
		    (e->device_index >= 0 && ((unknown_last && lab->enis[best].device_index < 0) ||
					      e->device_index < lab->enis[best].device_index)))
			best = (int32_t)i;
	}
	return best;
}

static int32_t instance_primary_eni(const struct lab *lab, const char *instance_id)
{
	return lowest_device(lab, offsetof(struct eni, instance_id), instance_id, true);
}

/* Whether an ENI's name is its own Name tag rather than its instance's. */
static bool own_name(const struct eni *e)
{
	return e->name && !(e->instance_name && !strcmp(e->name, e->instance_name));
}

/* The ENI a Name tag means: an ENI's own Name means that ENI, an
 * instance's Name its device-0 ENI. Several different ENIs so named are
 * ambiguous unless they are all of one instance (then: its primary).
 * Returns the ENI, -1 when absent, -2 when ambiguous. */
static int32_t eni_by_name(const struct lab *lab, const char *name)
{
	int32_t found = -1;
	bool several = false;
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		int32_t cand = -1;
		if (own_name(e) && id_eq(e->name, name))
			cand = (int32_t)i;
		else if (id_eq(e->instance_name, name) || (!own_name(e) && id_eq(e->name, name)))
			cand =
			    e->instance_id ? instance_primary_eni(lab, e->instance_id) : (int32_t)i;
		if (cand < 0 || cand == found)
			continue;
		if (found >= 0)
			several = true;
		if (found < 0)
			found = cand;
	}
	if (!several)
		return found;
	/* all of one instance? */
	const char *inst = lab->enis[found].instance_id;
	for (size_t i = 0; i < lab->n_enis && inst; i++) {
		const struct eni *e = &lab->enis[i];
		bool named = id_eq(e->name, name) || id_eq(e->instance_name, name);
		if (named && !id_eq(e->instance_id, inst))
			return -2;
	}
	return inst ? instance_primary_eni(lab, inst) : -2;
}

static int32_t outside_by_name(const struct lab *lab, const char *name)
{
	for (size_t i = 0; i < lab->n_outside; i++)
		if (id_eq(lab->outside[i].name, name))
			return (int32_t)i;
	return -1;
}

static int32_t outside_by_addr(const struct lab *lab, const struct ip_addr *a)
{
	for (size_t i = 0; i < lab->n_outside; i++)
		if (ip_addr_eq(&lab->outside[i].addr, a))
			return (int32_t)i;
	return -1;
}

static void outside_endpoint(const struct lab *lab, int32_t idx, const struct ip_addr *a,
			     struct endpoint *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = ENDPOINT_OUTSIDE;
	out->eni = -1;
	out->outside = idx;
	out->addr = *a;
	out->in_vpc_cidr = lab_addr_in_vpc(lab, a);
}

static int resolve_address(const struct lab *lab, const struct ip_addr *a, struct endpoint *out)
{
	int32_t i = lab_eni_by_addr(lab, a);
	if (i >= 0) {
		eni_endpoint(lab, i, out);
		out->addr = *a; /* a secondary address means that address */
		return 0;
	}
	/* The IGW maps a public IP 1:1 onto its private address (§1, §9). */
	struct ip_addr priv;
	i = lab_private_of_public(lab, a, &priv);
	if (i >= 0) {
		eni_endpoint(lab, i, out);
		out->addr = priv;
		return 0;
	}
	outside_endpoint(lab, outside_by_addr(lab, a), a, out);
	return 0;
}

/* A Terraform resource address: the ENI it made with the lowest device
 * index (an aws_instance's primary interface). */
static int32_t eni_by_address(const struct lab *lab, const char *address)
{
	return lowest_device(lab, offsetof(struct eni, address), address, false);
}

int lab_resolve_endpoint(const struct lab *lab, const char *name, struct endpoint *out)
{
	if (!name || !*name)
		return -ENOENT;
	int32_t i = instance_primary_eni(lab, name);
	if (i >= 0) {
		eni_endpoint(lab, i, out);
		return 0;
	}
	for (size_t k = 0; k < lab->n_enis; k++) {
		if (id_eq(lab->enis[k].id, name)) {
			eni_endpoint(lab, (int32_t)k, out);
			return 0;
		}
	}
	i = eni_by_address(lab, name);
	if (i >= 0) {
		eni_endpoint(lab, i, out);
		return 0;
	}
	i = eni_by_name(lab, name);
	if (i == -2)
		return -EEXIST;
	int32_t o = outside_by_name(lab, name);
	if (i >= 0 && o >= 0)
		return -EEXIST;
	if (i >= 0) {
		eni_endpoint(lab, i, out);
		return 0;
	}
	if (o >= 0) {
		outside_endpoint(lab, o, &lab->outside[o].addr, out);
		return 0;
	}
	struct ip_addr a;
	if (ip_addr_parse(name, &a) == 0)
		return resolve_address(lab, &a, out);
	return -ENOENT;
}

int lab_endpoint_addr(const struct lab *lab, struct endpoint *ep, enum ip_family f)
{
	if (ep->kind == ENDPOINT_OUTSIDE)
		return ep->addr.family == f ? 0 : -EAFNOSUPPORT;
	if (ep->eni < 0 || (size_t)ep->eni >= lab->n_enis)
		return -EINVAL;
	if (ep->addr.family == f)
		return 0;
	const struct eni *e = &lab->enis[ep->eni];
	if (f == IP_V4 && e->n_ipv4) {
		ep->addr = e->ipv4[0];
		return 0;
	}
	if (f == IP_V6 && e->n_ipv6) {
		ep->addr = e->ipv6[0];
		return 0;
	}
	return -EAFNOSUPPORT;
}

const char *lab_eni_label(const struct lab *lab, int32_t eni)
{
	if (eni < 0 || (size_t)eni >= lab->n_enis)
		return "?";
	const struct eni *e = &lab->enis[eni];
	if (e->name)
		return e->name;
	if (e->address)
		return e->address; /* a Terraform resource address */
	if (e->instance_id)
		return e->instance_id;
	return e->id ? e->id : "?";
}

const char *lab_eni_ref(const struct lab *lab, int32_t eni)
{
	struct endpoint ep;
	const char *l = lab_eni_label(lab, eni);
	if (lab_resolve_endpoint(lab, l, &ep) == 0 && ep.kind == ENDPOINT_ENI && ep.eni == eni)
		return l;
	return lab->enis[eni].id;
}

bool lab_eni_has_group(const struct eni *e, int32_t g)
{
	for (size_t i = 0; i < e->n_groups; i++)
		if (e->groups[i] == g)
			return true;
	return false;
}

static bool addrs_eq(const struct ip_addr *a, size_t na, const struct ip_addr *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!ip_addr_eq(&a[i], &b[i]))
			return false;
	return true;
}

bool lab_eni_same_addrs(const struct eni *a, const struct eni *b)
{
	return addrs_eq(a->ipv4, a->n_ipv4, b->ipv4, b->n_ipv4) &&
	       addrs_eq(a->ipv6, a->n_ipv6, b->ipv6, b->n_ipv6);
}

enum route_target route_kind(const char *target)
{
	static const struct {
		const char *prefix;
		enum route_target kind;
	} kinds[] = {
	    {"igw-", ROUTE_IGW},       {"nat-", ROUTE_NAT},	{"eigw-", ROUTE_EIGW},
	    {"vpce-", ROUTE_ENDPOINT}, {"pcx-", ROUTE_PEERING}, {"tgw-", ROUTE_TGW},
	    {"vgw-", ROUTE_VGW},       {"eni-", ROUTE_ENI},	{"i-", ROUTE_ENI},
	};

	if (!target)
		return ROUTE_OTHER;
	if (!strcmp(target, "local"))
		return ROUTE_LOCAL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strncmp(target, kinds[i].prefix, strlen(kinds[i].prefix)))
			return kinds[i].kind;
	return ROUTE_OTHER;
}
