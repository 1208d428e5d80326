/*
 * Partial and overlapping exports, before the lab is built: the same object
 * in several describe-* files (two regions' views of one VPC, an SDK
 * recording before and after a change) is kept once; an ENI's subnet that
 * was not exported is assumed from its ENIs' addresses. Each assumption is
 * a warning that says what was assumed (load_resolve.c calls these).
 */
#include <string.h>

#include "load-private.h"

/* The same object in several describe-* files (two regions' exports of
 * one shared VPC, an SDK recording before and after a change): AWS ids are
 * global, so the first description is kept and later ones dropped, with a
 * warning. In our format or Terraform a repeated id stays an error. */
struct dedupe_kind {
	const char *what;
	size_t size;
	const char *(*id)(const void *item);
	const struct origin *(*origin)(const void *item);
	bool (*exported)(const void *item);
};

static void dedupe(struct loader *l, struct vec *v, const struct dedupe_kind *k)
{
	struct idmap seen = {0};
	size_t out = 0;
	for (size_t i = 0; i < v->n; i++) {
		char *item = (char *)v->items + i * k->size;
		size_t first = 0;
		const char *prev;
		if (k->id(item) && k->exported(item) && idmap_get(&seen, k->id(item), &first) &&
		    (prev = (char *)v->items + first * k->size, k->exported(prev)) &&
		    !ld_streq(k->origin(prev)->file, k->origin(item)->file)) {
			ld_warn_at(l, k->origin(item), NULL,
				   "%s %s is described again (also %s): the first description "
				   "is kept",
				   k->what, k->id(item), ld_where(l, k->origin(prev)));
			continue;
		}
		if (out != i)
			memmove((char *)v->items + out * k->size, item, k->size);
		if (k->id(item))
			idmap_put(&seen, k->id((char *)v->items + out * k->size), out);
		out++;
	}
	v->n = out;
	idmap_free(&seen);
}

static const char *vpc_idf(const void *p)
{
	return ((const struct vpc *)p)->id;
}
static const struct origin *vpc_of(const void *p)
{
	return &((const struct vpc *)p)->origin;
}
static bool vpc_exported(const void *p)
{
	const char *path = ((const struct vpc *)p)->origin.path;
	return path && !strncmp(path, "Vpcs[", 5);
}
static const char *sn_id(const void *p)
{
	return ((const struct draft_subnet *)p)->s.id;
}
static const struct origin *sn_of(const void *p)
{
	return &((const struct draft_subnet *)p)->s.origin;
}
static bool sn_exported(const void *p)
{
	return ((const struct draft_subnet *)p)->from_aws;
}
static const char *sg_id(const void *p)
{
	return ((const struct draft_group *)p)->g.id;
}
static const struct origin *sg_of(const void *p)
{
	return &((const struct draft_group *)p)->g.origin;
}
static bool sg_exported(const void *p)
{
	return ((const struct draft_group *)p)->from_aws;
}
static const char *acl_id(const void *p)
{
	return ((const struct draft_nacl *)p)->n.id;
}
static const struct origin *acl_of(const void *p)
{
	return &((const struct draft_nacl *)p)->n.origin;
}
static bool acl_exported(const void *p)
{
	return ((const struct draft_nacl *)p)->from_aws;
}
static const char *rt_id(const void *p)
{
	return ((const struct draft_rt *)p)->rt.id;
}
static const struct origin *rt_of(const void *p)
{
	return &((const struct draft_rt *)p)->rt.origin;
}
static bool rt_exported(const void *p)
{
	return ((const struct draft_rt *)p)->from_aws;
}
static const char *pl_idf(const void *p)
{
	return ((const struct prefix_list *)p)->id;
}
static const struct origin *pl_of(const void *p)
{
	return &((const struct prefix_list *)p)->origin;
}
static bool pl_exported(const void *p)
{
	const char *path = ((const struct prefix_list *)p)->origin.path;
	return path && !strncmp(path, "PrefixLists[", 12);
}

void ld_dedupe_exports(struct loader *l)
{
	static const struct dedupe_kind kinds[] = {
	    {"VPC", sizeof(struct vpc), vpc_idf, vpc_of, vpc_exported},
	    {"subnet", sizeof(struct draft_subnet), sn_id, sn_of, sn_exported},
	    {"security group", sizeof(struct draft_group), sg_id, sg_of, sg_exported},
	    {"network ACL", sizeof(struct draft_nacl), acl_id, acl_of, acl_exported},
	    {"route table", sizeof(struct draft_rt), rt_id, rt_of, rt_exported},
	    {"prefix list", sizeof(struct prefix_list), pl_idf, pl_of, pl_exported},
	};
	struct vec *vecs[] = {&l->vpcs, &l->subnets, &l->groups, &l->nacls, &l->rts, &l->pls};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		dedupe(l, vecs[i], &kinds[i]);
}

/* The prefix of length len holding a. */
static void prefix_around(const struct ip_addr *addr, uint8_t len, struct ip_prefix *out)
{
	const struct ip_addr copy = *addr; /* out may hold addr */
	const struct ip_addr *a = &copy;
	memset(out, 0, sizeof(*out));
	out->addr.family = a->family;
	out->len = len;
	for (uint8_t bit = 0; bit < len; bit++)
		if (a->b[bit / 8] & (0x80 >> (bit % 8)))
			out->addr.b[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
}

/* Grows p (a /28 at first, AWS's smallest subnet) until it holds a. */
static void prefix_widen(struct ip_prefix *p, const struct ip_addr *a)
{
	while (p->len > 16 && !ip_prefix_contains(p, a))
		prefix_around(&p->addr, (uint8_t)(p->len - 1), p);
}

static struct draft_subnet *synth_subnet(struct loader *l, const struct draft_eni *e)
{
	struct draft_subnet *d = vec_push(&l->subnets, sizeof(*d));
	if (!d)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->from_aws = true;
	d->synthesised = true;
	d->s.id = e->subnet.id;
	d->s.vpc_id = e->vpc_id;
	d->s.vpc = d->s.nacl = d->s.route_table = -1;
	d->s.origin = e->subnet.at;
	prefix_around(&e->e.ipv4[0], 28, &d->s.cidr);
	return d;
}

/* Exports often hold the interfaces but not describe-subnets: an ENI's
 * subnet missing from the lab is assumed to be the smallest block holding
 * its ENIs' addresses, with the NACL and route table AWS gives it (an
 * exported association, else the VPC's default NACL and main table). */
void ld_synth_subnets(struct loader *l)
{
	struct idmap known = {0};
	for (size_t i = 0; i < l->subnets.n; i++)
		idmap_put(&known, VEC_AT(&l->subnets, struct draft_subnet, i)->s.id, i);
	size_t n_before = l->subnets.n;
	for (size_t i = 0; i < l->enis.n; i++) {
		const struct draft_eni *e = VEC_AT(&l->enis, struct draft_eni, i);
		size_t k;
		if (!e->from_aws || !e->subnet.id || !e->vpc_id || !e->e.n_ipv4)
			continue;
		if (!idmap_get(&known, e->subnet.id, &k)) {
			if (!synth_subnet(l, e))
				break;
			k = l->subnets.n - 1;
			idmap_put(&known, e->subnet.id, k);
		}
		struct draft_subnet *d = VEC_AT(&l->subnets, struct draft_subnet, k);
		if (k >= n_before)
			for (size_t a = 0; a < e->e.n_ipv4; a++)
				prefix_widen(&d->s.cidr, &e->e.ipv4[a]);
	}
	for (size_t i = n_before; i < l->subnets.n; i++) {
		struct draft_subnet *d = VEC_AT(&l->subnets, struct draft_subnet, i);
		ld_warn_at(l, &d->s.origin, NULL,
			   "subnet %s is not in the lab: assuming %s (its ENIs' addresses), with "
			   "its exported NACL association or else the VPC's default NACL",
			   d->s.id, ld_fmt_prefix(l, &d->s.cidr));
	}
	idmap_free(&known);
}
