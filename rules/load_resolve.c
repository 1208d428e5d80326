/*
 * The second half of loading: once every file is read, this resolves ids
 * into indices, fills what AWS would fill (default NACL, missing VPCs of
 * exported subnets, ENI names, timeouts, group members), and checks AWS's
 * constraints (AWS-SEMANTICS §2, §3, §5): each violation an error at the
 * file and JSON path of the object, quotas warnings. Builds the final
 * struct lab in the loader's arena; never reads a file. This file fills in
 * and builds; the checks are load_resolve_net.c's and load_resolve_eni.c's.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-resolve-private.h"
#include "load_build.h"

static void build_index(struct loader *l, struct lab *lab)
{
	for (size_t i = 0; i < lab->n_vpcs; i++)
		idmap_put(&l->ix_vpcs, lab->vpcs[i].id, i);
	for (size_t i = 0; i < lab->n_subnets; i++)
		idmap_put(&l->ix_subnets, lab->subnets[i].id, i);
	for (size_t i = 0; i < lab->n_groups; i++)
		idmap_put(&l->ix_groups, lab->groups[i].id, i);
}

static int32_t vec_find_vpc(struct vec *v, const char *id)
{
	for (size_t i = 0; i < v->n; i++)
		if (ld_streq(VEC_AT(v, struct vpc, i)->id, id))
			return (int32_t)i;
	return -1;
}

/* Users often export only some describe-* outputs: a subnet whose VPC is
 * missing gets a VPC made of its subnets' own blocks, with a warning. The
 * synthesised VPCs follow the real ones (index >= l->n_real_vpcs). */
static void synth_vpcs(struct loader *l)
{
	l->n_real_vpcs = l->vpcs.n;
	for (size_t i = 0; i < l->subnets.n; i++) {
		struct draft_subnet *d = VEC_AT(&l->subnets, struct draft_subnet, i);
		int32_t v = vec_find_vpc(&l->vpcs, d->s.vpc_id);
		if (v < 0) {
			struct vpc *n = vec_push(&l->vpcs, sizeof(*n));
			if (!n)
				return;
			n->id = d->s.vpc_id;
			n->default_nacl = -1;
			n->main_route_table = -1;
			n->origin = d->s.origin;
			v = (int32_t)l->vpcs.n - 1;
			ld_warn_at(l, &d->s.origin, "VpcId",
				   "VPC %s is not in the lab (no describe-vpcs output for it): "
				   "assuming one whose blocks are its subnets' CIDRs",
				   d->s.vpc_id);
		}
		if ((size_t)v < l->n_real_vpcs)
			continue;
		struct vpc *vp = VEC_AT(&l->vpcs, struct vpc, v);
		ld_add_block(l, &vp->cidrs, &vp->n_cidrs, &d->s.cidr);
		if (d->s.has_cidr6)
			ld_add_block(l, &vp->cidrs6, &vp->n_cidrs6, &d->s.cidr6);
	}
}

static void synth_default_nacls(struct loader *l)
{
	size_t n_vpcs = l->vpcs.n;
	for (size_t i = 0; i < n_vpcs; i++) {
		struct vpc *v = VEC_AT(&l->vpcs, struct vpc, i);
		bool found = false, any = false;
		for (size_t k = 0; k < l->nacls.n; k++) {
			struct draft_nacl *d = VEC_AT(&l->nacls, struct draft_nacl, k);
			if (ld_streq(d->n.vpc_id, v->id)) {
				any = true;
				found |= d->n.is_default;
			}
		}
		if (found)
			continue;
		ld_default_nacl(l, v->id, v->id, v->n_cidrs6 > 0, &v->origin);
		ld_warn_at(l, &v->origin, NULL,
			   any ? "VPC %s has network ACLs but no default one (IsDefault): subnets "
				 "without an association get AWS's default NACL (allow all)"
			       : "VPC %s has no network ACL in the lab (no describe-network-acls "
				 "output for it): its subnets get AWS's default NACL (allow all)",
			   v->id);
	}
}

/* Entries of get-managed-prefix-list-entries files join their list; a
 * list known only from such a file is created from it. */
static void merge_pl_entries(struct loader *l)
{
	for (size_t i = 0; i < l->pl_entries.n; i++) {
		struct draft_pl_entries *e = VEC_AT(&l->pl_entries, struct draft_pl_entries, i);
		struct prefix_list *p = NULL;
		for (size_t k = 0; k < l->pls.n && !p; k++)
			if (ld_streq(VEC_AT(&l->pls, struct prefix_list, k)->id, e->id))
				p = VEC_AT(&l->pls, struct prefix_list, k);
		if (!p) {
			p = vec_push(&l->pls, sizeof(*p));
			if (!p)
				return;
			p->id = e->id;
			p->family = e->n_cidrs ? e->cidrs[0].addr.family : IP_V4;
			p->max_entries = (uint32_t)e->n_cidrs;
			p->origin = e->origin;
		} else if (p->n_cidrs) {
			ld_err_at(l, &e->origin, NULL, "entries of %s are given twice (also %s)",
				  e->id, ld_where(l, &p->origin));
			continue;
		}
		p->cidrs = e->cidrs;
		p->n_cidrs = e->n_cidrs;
		if (!p->family)
			p->family = p->n_cidrs ? p->cidrs[0].addr.family : IP_V4;
		for (size_t k = 0; k < e->n_cidrs; k++)
			if (e->cidrs[k].addr.family != p->family)
				ld_err_at(l, &e->origin, arena_printf(l->tmp, "[%zu].Cidr", k),
					  "%s is not of the list's address family (%s)",
					  ld_fmt_prefix(l, &e->cidrs[k]),
					  p->family == IP_V4 ? "IPv4" : "IPv6");
	}
}

/* A route to a prefix list is a route to each of its CIDRs. */
static void expand_pl_routes(struct loader *l)
{
	for (size_t i = 0; i < l->rts.n; i++) {
		struct draft_rt *d = VEC_AT(&l->rts, struct draft_rt, i);
		size_t extra = 0;
		const struct prefix_list **lists =
		    arena_calloc(l->tmp, d->n_pl_routes ? d->n_pl_routes : 1, sizeof(*lists));
		if (!lists)
			return;
		for (size_t k = 0; k < d->n_pl_routes; k++) {
			for (size_t p = 0; p < l->pls.n && !lists[k]; p++)
				if (ld_streq(VEC_AT(&l->pls, struct prefix_list, p)->id,
					     d->pl_routes[k].pl_id))
					lists[k] = VEC_AT(&l->pls, struct prefix_list, p);
			if (!lists[k])
				ld_warn_at(l, &d->pl_routes[k].at, NULL,
					   "prefix list %s is not in the lab: route ignored",
					   d->pl_routes[k].pl_id);
			else
				extra += lists[k]->n_cidrs;
		}
		if (!extra)
			continue;
		struct route_table *t = &d->rt;
		struct route *routes = arena_calloc(l->a, t->n_routes + extra, sizeof(*routes));
		if (!routes)
			return;
		if (t->n_routes)
			memcpy(routes, t->routes, t->n_routes * sizeof(*routes));
		for (size_t k = 0; k < d->n_pl_routes; k++) {
			for (size_t c = 0; lists[k] && c < lists[k]->n_cidrs; c++) {
				routes[t->n_routes] = d->pl_routes[k].r;
				routes[t->n_routes++].dest = lists[k]->cidrs[c];
			}
		}
		t->routes = routes;
	}
}

#define COPY_OUT(l, vec, dtype, member, out, count)                                                \
	do {                                                                                       \
		*(count) = (vec)->n;                                                               \
		*(out) = arena_calloc((l)->a, (vec)->n ? (vec)->n : 1, sizeof(**(out)));           \
		for (size_t i_ = 0; *(out) && i_ < (vec)->n; i_++)                                 \
			(*(out))[i_] = VEC_AT(vec, dtype, i_)->member;                             \
	} while (0)

#define COPY_VEC(l, vec, out, count)                                                               \
	do {                                                                                       \
		*(count) = (vec)->n;                                                               \
		*(out) = arena_calloc((l)->a, (vec)->n ? (vec)->n : 1, sizeof(**(out)));           \
		if (*(out) && (vec)->n)                                                            \
			memcpy(*(out), (vec)->items, (vec)->n * sizeof(**(out)));                  \
	} while (0)

struct lab *ld_finish(struct loader *l)
{
	struct lab *lab = arena_alloc(l->a, sizeof(*lab));
	if (!lab)
		return NULL;
	lab->arena = l->a;
	lab->name = l->lab_name;
	lab->opts = l->opts;
	tf_finish(l);
	ld_dedupe_exports(l);
	ld_synth_subnets(l);
	synth_vpcs(l);
	synth_default_nacls(l);
	merge_pl_entries(l);
	expand_pl_routes(l);
	ld_merge_transit(l);

	COPY_VEC(l, &l->vpcs, &lab->vpcs, &lab->n_vpcs);
	COPY_VEC(l, &l->pls, &lab->prefix_lists, &lab->n_prefix_lists);
	COPY_VEC(l, &l->outside, &lab->outside, &lab->n_outside);
	COPY_OUT(l, &l->subnets, struct draft_subnet, s, &lab->subnets, &lab->n_subnets);
	COPY_OUT(l, &l->nacls, struct draft_nacl, n, &lab->nacls, &lab->n_nacls);
	COPY_OUT(l, &l->groups, struct draft_group, g, &lab->groups, &lab->n_groups);
	COPY_OUT(l, &l->enis, struct draft_eni, e, &lab->enis, &lab->n_enis);
	COPY_OUT(l, &l->rts, struct draft_rt, rt, &lab->route_tables, &lab->n_route_tables);
	if (!lab->vpcs || !lab->prefix_lists || !lab->outside || !lab->subnets || !lab->nacls ||
	    !lab->groups || !lab->enis || !lab->route_tables)
		return NULL;
	COPY_VEC(l, &l->gateways, &lab->gateways, &lab->n_gateways);
	COPY_VEC(l, &l->eips, &lab->eips, &lab->n_eips);
	COPY_VEC(l, &l->services, &lab->services, &lab->n_services);
	if (!lab->gateways || !lab->eips || !lab->services)
		return NULL;

	build_index(l, lab);
	ld_check_vpcs(l, lab);
	ld_check_subnets(l, lab, l->subnets.items);
	ld_check_nacls(l, lab, l->nacls.items);
	ld_check_route_tables(l, lab, l->rts.items);
	ld_warn_no_route_table(l, lab);
	ld_subnet_refs(l, lab, l->subnets.items);
	ld_check_prefix_lists(l, lab);
	ld_check_groups(l, lab, l->groups.items);
	ld_check_enis(l, lab, l->enis.items);
	ld_attach_gateways(l, lab);
	ld_load_balancers(l, lab);
	ld_check_unique_addrs(l, lab);
	ld_check_devices(l, lab);
	ld_check_outside(l, lab);
	ld_check_names(l, lab);
	ld_fill_members(l, lab);
	return lab;
}
