/*
 * Partial and overlapping exports, before the lab is built: the same object
 * in several describe-* files (two regions' views of one VPC, an SDK
 * recording before and after a change) is kept once; an ENI's subnet that
 * was not exported is assumed from its ENIs' addresses. Each assumption is
 * a warning that says what was assumed (load_resolve.c calls these).
 */
#include <stddef.h>
#include <string.h>

#include "load-private.h"

/* The same object in several describe-* files (two regions' exports of
 * one shared VPC, an SDK recording before and after a change): AWS ids are
 * global, so the first description is kept and later ones dropped, with a
 * warning. In our format or Terraform a repeated id stays an error. */
struct dedupe_kind {
	const char *what;
	size_t size, id_off, origin_off;
	/* exported: the bool from_aws at from_aws_off, or, for the kinds
	 * without one, an origin path starting with export_path */
	size_t from_aws_off;
	const char *export_path;
};

static const char *item_id(const struct dedupe_kind *k, const char *item)
{
	const char *id;
	memcpy(&id, item + k->id_off, sizeof(id));
	return id;
}

static const struct origin *item_origin(const struct dedupe_kind *k, const char *item)
{
	return (const struct origin *)(item + k->origin_off);
}

static bool item_exported(const struct dedupe_kind *k, const char *item)
{
	if (!k->export_path)
		return *(const bool *)(item + k->from_aws_off);
	const char *path = item_origin(k, item)->path;
	return path && !strncmp(path, k->export_path, strlen(k->export_path));
}

static void dedupe(struct loader *l, struct vec *v, const struct dedupe_kind *k)
{
	struct idmap seen = {0};
	size_t out = 0;
	for (size_t i = 0; i < v->n; i++) {
		char *item = (char *)v->items + i * k->size;
		size_t first = 0;
		const char *prev;
		if (item_id(k, item) && item_exported(k, item) &&
		    idmap_get(&seen, item_id(k, item), &first) &&
		    (prev = (char *)v->items + first * k->size, item_exported(k, prev)) &&
		    !ld_streq(item_origin(k, prev)->file, item_origin(k, item)->file)) {
			ld_warn_at(l, item_origin(k, item), NULL,
				   "%s %s is described again (also %s): the first description "
				   "is kept",
				   k->what, item_id(k, item), ld_where(l, item_origin(k, prev)));
			continue;
		}
		if (out != i)
			memmove((char *)v->items + out * k->size, item, k->size);
		if (item_id(k, item))
			idmap_put(&seen, item_id(k, (char *)v->items + out * k->size), out);
		out++;
	}
	v->n = out;
	idmap_free(&seen);
}

/* A kind of draft (its object is member m) or of model object (m empty). */
#define DRAFT(what, type, m)                                                                       \
	{                                                                                          \
		what, sizeof(type), offsetof(type, m.id), offsetof(type, m.origin),                \
		    offsetof(type, from_aws), NULL                                                 \
	}
#define OBJECT(what, type, path)                                                                   \
	{                                                                                          \
		what, sizeof(type), offsetof(type, id), offsetof(type, origin), 0, path            \
	}

void ld_dedupe_exports(struct loader *l)
{
	static const struct dedupe_kind kinds[] = {
	    OBJECT("VPC", struct vpc, "Vpcs["),
	    DRAFT("subnet", struct draft_subnet, s),
	    DRAFT("security group", struct draft_group, g),
	    DRAFT("network ACL", struct draft_nacl, n),
	    DRAFT("route table", struct draft_rt, rt),
	    OBJECT("prefix list", struct prefix_list, "PrefixLists["),
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
	*d = (struct draft_subnet){
	    .from_aws = true,
	    .synthesised = true,
	    .s = {.id = e->subnet.id,
		  .vpc_id = e->vpc_id,
		  .vpc = -1,
		  .nacl = -1,
		  .route_table = -1,
		  .origin = e->subnet.at},
	};
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
