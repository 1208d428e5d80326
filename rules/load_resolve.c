/*
 * The second half of loading: once every file is read, this resolves ids
 * into indices, fills what AWS would fill (default NACL, missing VPCs of
 * exported subnets, ENI names, timeouts, group members), and checks AWS's
 * constraints (AWS-SEMANTICS §2, §3, §5): each violation an error at the
 * file and JSON path of the object, quotas warnings. Builds the final
 * struct lab in the loader's arena; never reads a file.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-private.h"
#include "load_build.h"

#define NACL_QUOTA_RULES 20
#define NACL_QUOTA_RULES_MAX 40
#define NACL_QUOTA_PER_VPC 200
#define SG_QUOTA_RULES 60
#define ENI_QUOTA_GROUPS 5
#define ENI_MAX_GROUPS 16
#define ENI_QUOTA_GROUP_RULES 1000

static bool streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* The first object with that id, as lab_find_* would find it, in O(1). */
static int32_t ix_find(const struct idmap *m, const char *id)
{
	size_t i;
	return idmap_get(m, id, &i) ? (int32_t)i : -1;
}

static void build_index(struct loader *l, struct lab *lab)
{
	for (size_t i = 0; i < lab->n_vpcs; i++)
		idmap_put(&l->ix_vpcs, lab->vpcs[i].id, i);
	for (size_t i = 0; i < lab->n_subnets; i++)
		idmap_put(&l->ix_subnets, lab->subnets[i].id, i);
	for (size_t i = 0; i < lab->n_groups; i++)
		idmap_put(&l->ix_groups, lab->groups[i].id, i);
}

static const char *fmt_addr(struct loader *l, const struct ip_addr *a)
{
	char buf[IP_ADDR_STRLEN];
	return arena_strdup(l->tmp, ip_addr_format(a, buf, sizeof(buf)));
}

static int32_t vec_find_vpc(struct vec *v, const char *id)
{
	for (size_t i = 0; i < v->n; i++)
		if (streq(VEC_AT(v, struct vpc, i)->id, id))
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
			if (streq(d->n.vpc_id, v->id)) {
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
			if (streq(VEC_AT(&l->pls, struct prefix_list, k)->id, e->id))
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
				if (streq(VEC_AT(&l->pls, struct prefix_list, p)->id,
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

static void check_vpcs(struct loader *l, struct lab *lab)
{
	for (size_t i = 0; i < lab->n_vpcs; i++) {
		struct vpc *v = &lab->vpcs[i];
		int32_t first = ix_find(&l->ix_vpcs, v->id);
		if (first >= 0 && (size_t)first != i)
			ld_err_at(l, &v->origin, NULL, "VPC %s is defined twice (also %s)", v->id,
				  ld_where(l, &lab->vpcs[first].origin));
		bool synthesised = i >= l->n_real_vpcs;
		for (size_t c = 0; c < v->n_cidrs && !synthesised; c++)
			if (v->cidrs[c].len < 16 || v->cidrs[c].len > 28)
				ld_err_at(l, &v->origin, NULL,
					  "VPC block %s: an IPv4 VPC block is /16 to /28",
					  ld_fmt_prefix(l, &v->cidrs[c]));
		for (size_t k = 0; k < i; k++)
			for (size_t a = 0; a < v->n_cidrs; a++)
				for (size_t b = 0; b < lab->vpcs[k].n_cidrs; b++)
					if (ip_prefix_overlaps(&v->cidrs[a],
							       &lab->vpcs[k].cidrs[b]))
						ld_warn_at(l, &v->origin, NULL,
							   "VPC block %s overlaps %s of VPC %s: "
							   "vpcfw tells ENIs apart by address, so "
							   "their addresses must still differ",
							   ld_fmt_prefix(l, &v->cidrs[a]),
							   ld_fmt_prefix(l, &lab->vpcs[k].cidrs[b]),
							   lab->vpcs[k].id);
	}
}

static bool in_blocks(const struct ip_prefix *blocks, size_t n, const struct ip_prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (ip_prefix_covers(&blocks[i], p))
			return true;
	return false;
}

/* An export AWS wrote holds what AWS accepted: a subnet outside its VPC's
 * exported blocks means the export missed a block (or a disassociated one
 * was left out). */
static void subnet_outside_export(struct loader *l, struct lab *lab, const struct subnet *s)
{
	struct vpc *v = &lab->vpcs[s->vpc];
	ld_warn_at(l, &s->origin, NULL,
		   "subnet %s (%s) is outside the exported IPv4 blocks of VPC %s: assuming the "
		   "VPC holds that block too",
		   s->id, ld_fmt_prefix(l, &s->cidr), v->id);
	ld_add_block(l, &v->cidrs, &v->n_cidrs, &s->cidr);
}

static void check_subnets(struct loader *l, struct lab *lab, const struct draft_subnet *drafts)
{
	for (size_t i = 0; i < lab->n_subnets; i++) {
		struct subnet *s = &lab->subnets[i];
		int32_t first = ix_find(&l->ix_subnets, s->id);
		if (first >= 0 && (size_t)first != i)
			ld_err_at(l, &s->origin, NULL, "subnet %s is defined twice (also %s)",
				  s->id, ld_where(l, &lab->subnets[first].origin));
		s->vpc = ix_find(&l->ix_vpcs, s->vpc_id);
		if (s->vpc < 0)
			continue; /* cannot happen: synth_vpcs made it */
		const struct vpc *v = &lab->vpcs[s->vpc];
		if (s->cidr.len < 16 || s->cidr.len > 28)
			ld_err_at(l, &s->origin, NULL,
				  "subnet %s is a /%u: IPv4 subnets are /16 to /28", s->id,
				  s->cidr.len);
		else if (!in_blocks(v->cidrs, v->n_cidrs, &s->cidr) && drafts[i].from_aws)
			subnet_outside_export(l, lab, s);
		else if (!in_blocks(v->cidrs, v->n_cidrs, &s->cidr))
			ld_err_at(l, &s->origin, NULL,
				  "subnet %s (%s) is outside the IPv4 blocks of VPC %s", s->id,
				  ld_fmt_prefix(l, &s->cidr), v->id);
		if (s->has_cidr6) {
			if (s->cidr6.len < 44 || s->cidr6.len > 64)
				ld_err_at(l, &s->origin, NULL,
					  "subnet %s IPv6 block is a /%u: IPv6 subnets are /64 "
					  "(/44 to /64)",
					  s->id, s->cidr6.len);
			else if (!in_blocks(v->cidrs6, v->n_cidrs6, &s->cidr6))
				ld_err_at(l, &s->origin, NULL,
					  "subnet %s (%s) is outside the IPv6 blocks of VPC %s",
					  s->id, ld_fmt_prefix(l, &s->cidr6), v->id);
		}
		for (size_t k = 0; k < i; k++) {
			const struct subnet *o = &lab->subnets[k];
			if (o->vpc != s->vpc || streq(o->id, s->id) || drafts[i].synthesised ||
			    drafts[k].synthesised)
				continue;
			if (ip_prefix_overlaps(&o->cidr, &s->cidr))
				ld_err_at(l, &s->origin, NULL,
					  "subnet %s (%s) overlaps subnet %s (%s) of the same VPC",
					  s->id, ld_fmt_prefix(l, &s->cidr), o->id,
					  ld_fmt_prefix(l, &o->cidr));
			if (o->has_cidr6 && s->has_cidr6 &&
			    ip_prefix_overlaps(&o->cidr6, &s->cidr6))
				ld_err_at(l, &s->origin, NULL,
					  "subnet %s (%s) overlaps subnet %s (%s) of the same VPC",
					  s->id, ld_fmt_prefix(l, &s->cidr6), o->id,
					  ld_fmt_prefix(l, &o->cidr6));
		}
	}
}

static int cmp_entry(const void *a, const void *b)
{
	const struct nacl_entry *x = a, *y = b;
	return x->rule_number < y->rule_number ? -1 : x->rule_number > y->rule_number;
}

static void check_entries(struct loader *l, const struct nacl *n, struct nacl_entry *e,
			  size_t count, const char *dir)
{
	qsort(e, count, sizeof(*e), cmp_entry);
	for (size_t i = 1; i < count; i++)
		if (e[i].rule_number == e[i - 1].rule_number)
			ld_err_at(l, &e[i].origin, NULL,
				  "rule number %u is used twice in the %s rules of %s (also %s)",
				  e[i].rule_number, dir, n->id, ld_where(l, &e[i - 1].origin));
	if (count > NACL_QUOTA_RULES_MAX)
		ld_warn_at(l, &n->origin, NULL,
			   "%zu %s rules exceed AWS's maximum of %d per direction", count, dir,
			   NACL_QUOTA_RULES_MAX);
	else if (count > NACL_QUOTA_RULES)
		ld_warn_at(l, &n->origin, NULL,
			   "%zu %s rules exceed AWS's default quota of %d per direction "
			   "(adjustable to %d)",
			   count, dir, NACL_QUOTA_RULES, NACL_QUOTA_RULES_MAX);
}

/* A network ACL or route table and the subnet field its associations set. */
struct assoc_owner {
	const char *kind, *kinds; /* "network ACL", "network ACLs" */
	const char *id, *vpc_id;
	int32_t vpc, index;
	size_t field; /* offsetof(struct subnet, nacl or route_table) */
	const char *(*id_of)(const struct lab *lab, int32_t index);
};

static const char *nacl_id(const struct lab *lab, int32_t i)
{
	return lab->nacls[i].id;
}

static const char *route_table_id(const struct lab *lab, int32_t i)
{
	return lab->route_tables[i].id;
}

/* Explicit associations (describe-*: Associations[].SubnetId): a subnet of
 * the owner's VPC, associated with one owner of each kind only. */
static void associate_subnets(struct loader *l, struct lab *lab, const struct ref *assoc, size_t n,
			      const struct assoc_owner *o)
{
	for (size_t a = 0; a < n; a++) {
		const struct ref *r = &assoc[a];
		int32_t s = ix_find(&l->ix_subnets, r->id);
		if (s < 0) {
			/* AWS accepts it: the subnet is just not in this export */
			ld_warn_at(l, &r->at, "SubnetId",
				   "subnet %s is not in the lab: association ignored", r->id);
			continue;
		}
		struct subnet *sn = &lab->subnets[s];
		int32_t *slot = (int32_t *)((char *)sn + o->field);
		if (sn->vpc != o->vpc)
			ld_err_at(l, &r->at, "SubnetId", "subnet %s is in VPC %s, %s %s in VPC %s",
				  r->id, sn->vpc_id, o->kind, o->id, o->vpc_id);
		else if (*slot >= 0 && *slot != o->index)
			ld_err_at(l, &r->at, "SubnetId",
				  "subnet %s is associated with two %s (%s and %s)", r->id,
				  o->kinds, o->id_of(lab, *slot), o->id);
		else
			*slot = o->index;
	}
}

static void check_nacls(struct loader *l, struct lab *lab, struct draft_nacl *drafts)
{
	for (size_t i = 0; i < lab->n_nacls; i++) {
		struct nacl *n = &lab->nacls[i];
		for (size_t k = 0; k < i; k++) {
			if (streq(lab->nacls[k].id, n->id)) {
				ld_err_at(l, &n->origin, NULL,
					  "network ACL %s is defined twice (also %s)", n->id,
					  ld_where(l, &lab->nacls[k].origin));
				break;
			}
		}
		n->vpc = ix_find(&l->ix_vpcs, n->vpc_id);
		if (n->vpc < 0)
			ld_warn_at(l, &n->origin, "VpcId",
				   "VPC %s of network ACL %s is not in the lab: it filters nothing",
				   n->vpc_id, n->id);
		check_entries(l, n, n->ingress, n->n_ingress, "ingress");
		check_entries(l, n, n->egress, n->n_egress, "egress");
		if (n->vpc >= 0 && n->is_default) {
			struct vpc *v = &lab->vpcs[n->vpc];
			if (v->default_nacl >= 0)
				ld_err_at(l, &n->origin, NULL,
					  "VPC %s has two default network ACLs (%s and %s)", v->id,
					  lab->nacls[v->default_nacl].id, n->id);
			else
				v->default_nacl = (int32_t)i;
		}
		struct assoc_owner o = {"network ACL",
					"network ACLs",
					n->id,
					n->vpc_id,
					n->vpc,
					(int32_t)i,
					offsetof(struct subnet, nacl),
					nacl_id};
		associate_subnets(l, lab, drafts[i].assoc, drafts[i].n_assoc, &o);
	}
	for (size_t v = 0; v < lab->n_vpcs; v++) {
		size_t count = 0;
		for (size_t i = 0; i < lab->n_nacls; i++)
			count += lab->nacls[i].vpc == (int32_t)v;
		if (count > NACL_QUOTA_PER_VPC)
			ld_warn_at(l, &lab->vpcs[v].origin, NULL,
				   "%zu network ACLs exceed AWS's quota of %d per VPC", count,
				   NACL_QUOTA_PER_VPC);
	}
}

/* A VPC of an export without describe-route-tables: its subnets reach
 * only the VPC (AWS always has a table; say what is assumed). */
static void warn_no_route_table(struct loader *l, const struct lab *lab)
{
	for (size_t v = 0; v < lab->n_vpcs; v++) {
		bool any = false;
		for (size_t i = 0; i < lab->n_route_tables && !any; i++)
			any = lab->route_tables[i].vpc == (int32_t)v;
		if (any)
			continue;
		const struct vpc *p = &lab->vpcs[v];
		ld_warn_at(l, &p->origin, NULL,
			   "VPC %s has no route table in the lab (no describe-route-tables "
			   "output?): assumed only %s; flows with hosts outside the VPC are "
			   "rejected at the route stage",
			   p->id, ld_local_routes(l, p->cidrs, p->n_cidrs, p->cidrs6, p->n_cidrs6));
	}
}

/* Routes more specific than the local route (middlebox routing, §9): not
 * modelled, so said at load time (the route stage refuses their flows). */
static void warn_middlebox_routes(struct loader *l, const struct lab *lab,
				  const struct route_table *t)
{
	const struct vpc *v = &lab->vpcs[t->vpc];
	for (size_t i = 0; i < t->n_routes; i++) {
		const struct route *r = &t->routes[i];
		const struct ip_prefix *b = r->dest.addr.family == IP_V6 ? v->cidrs6 : v->cidrs;
		size_t n = r->dest.addr.family == IP_V6 ? v->n_cidrs6 : v->n_cidrs;
		bool inside = false;
		for (size_t k = 0; k < n && !inside; k++)
			inside = ip_prefix_covers(&b[k], &r->dest);
		if (inside && r->kind != ROUTE_LOCAL)
			ld_warn_at(
			    l, &t->origin, NULL,
			    "route %s -> %s is more specific than the local route (middlebox "
			    "routing): not modelled, flows between subnets that it would "
			    "detour are rejected at the route stage",
			    ld_fmt_prefix(l, &r->dest), r->target ? r->target : "?");
	}
}

static void check_route_tables(struct loader *l, struct lab *lab, struct draft_rt *drafts)
{
	for (size_t i = 0; i < lab->n_route_tables; i++) {
		struct route_table *t = &lab->route_tables[i];
		for (size_t k = 0; k < i; k++) {
			if (streq(lab->route_tables[k].id, t->id)) {
				ld_err_at(l, &t->origin, NULL,
					  "route table %s is defined twice (also %s)", t->id,
					  ld_where(l, &lab->route_tables[k].origin));
				break;
			}
		}
		t->vpc = ix_find(&l->ix_vpcs, t->vpc_id);
		if (t->vpc < 0) {
			ld_warn_at(l, &t->origin, "VpcId",
				   "VPC %s of route table %s is not in the lab", t->vpc_id, t->id);
			continue;
		}
		struct vpc *v = &lab->vpcs[t->vpc];
		if (t->main) {
			if (v->main_route_table >= 0)
				ld_err_at(l, &t->origin, NULL,
					  "VPC %s has two main route tables (%s and %s)", v->id,
					  lab->route_tables[v->main_route_table].id, t->id);
			else
				v->main_route_table = (int32_t)i;
		}
		warn_middlebox_routes(l, lab, t);
		struct assoc_owner o = {"route table",
					"route tables",
					t->id,
					t->vpc_id,
					t->vpc,
					(int32_t)i,
					offsetof(struct subnet, route_table),
					route_table_id};
		associate_subnets(l, lab, drafts[i].assoc, drafts[i].n_assoc, &o);
	}
}

/* Our format names a subnet's NACL and route table on the subnet. */
static void subnet_refs(struct loader *l, struct lab *lab, struct draft_subnet *drafts)
{
	for (size_t i = 0; i < lab->n_subnets; i++) {
		struct subnet *s = &lab->subnets[i];
		const struct draft_subnet *d = &drafts[i];
		if (d->nacl_ref.id) {
			int32_t n = lab_find_nacl(lab, d->nacl_ref.id);
			if (n >= 0 && s->nacl >= 0 && s->nacl != n)
				ld_err_at(l, &d->nacl_ref.at, NULL,
					  "subnet %s is associated with two network ACLs", s->id);
			else if (n >= 0)
				s->nacl = n;
		}
		if (d->rt_ref.id) {
			int32_t t = -1;
			for (size_t k = 0; k < lab->n_route_tables; k++)
				if (streq(lab->route_tables[k].id, d->rt_ref.id))
					t = (int32_t)k;
			if (t >= 0)
				s->route_table = t;
		}
		if (s->vpc < 0)
			continue;
		const struct vpc *v = &lab->vpcs[s->vpc];
		if (s->nacl < 0)
			s->nacl = v->default_nacl;
		if (s->route_table < 0)
			s->route_table = v->main_route_table;
	}
}

static void check_prefix_lists(struct loader *l, struct lab *lab)
{
	for (size_t i = 0; i < lab->n_prefix_lists; i++) {
		struct prefix_list *p = &lab->prefix_lists[i];
		for (size_t k = 0; k < i; k++) {
			if (streq(lab->prefix_lists[k].id, p->id)) {
				ld_err_at(l, &p->origin, NULL,
					  "prefix list %s is defined twice (also %s)", p->id,
					  ld_where(l, &lab->prefix_lists[k].origin));
				break;
			}
		}
		if (!p->n_cidrs)
			ld_warn_at(l, &p->origin, NULL,
				   "prefix list %s has no entries (add its "
				   "get-managed-prefix-list-entries output as %s.json): rules "
				   "naming it match nothing",
				   p->id, p->id);
		if (p->max_entries && p->n_cidrs > p->max_entries)
			ld_err_at(l, &p->origin, NULL,
				  "prefix list %s has %zu entries, more than its MaxEntries %u",
				  p->id, p->n_cidrs, p->max_entries);
	}
}

/* An unknown peer in describe-* output is a group or list that was not
 * exported (another account, a peered VPC): the rule then matches nothing,
 * a warning. In our format it is a typo: an error. */
static void check_rule_peer(struct loader *l, struct lab *lab, struct sg_rule *r, bool from_aws)
{
	r->peer = -1;
	if (r->peer_kind == SG_PEER_CIDR)
		return;
	bool group = r->peer_kind == SG_PEER_GROUP;
	r->peer =
	    group ? ix_find(&l->ix_groups, r->peer_id) : lab_find_prefix_list(lab, r->peer_id);
	if (r->peer >= 0)
		return;
	const char *what = group ? "security group" : "prefix list";
	if (from_aws)
		ld_warn_at(l, &r->origin, NULL,
			   "%s %s is not in the lab: this rule matches no address", what,
			   r->peer_id);
	else
		ld_err_at(l, &r->origin, NULL, "unknown %s %s", what, r->peer_id);
}

static void check_groups(struct loader *l, struct lab *lab, struct draft_group *drafts)
{
	for (size_t i = 0; i < lab->n_groups; i++) {
		struct security_group *g = &lab->groups[i];
		int32_t first = ix_find(&l->ix_groups, g->id);
		if (first >= 0 && (size_t)first != i)
			ld_err_at(l, &g->origin, NULL,
				  "security group %s is defined twice (also %s)", g->id,
				  ld_where(l, &lab->groups[first].origin));
		g->vpc = g->vpc_id ? ix_find(&l->ix_vpcs, g->vpc_id) : -1;
		if (g->vpc_id && g->vpc < 0 && lab->n_vpcs)
			ld_warn_at(l, &g->origin, "VpcId",
				   "VPC %s of security group %s is not in the lab", g->vpc_id,
				   g->id);
		size_t in = 0, out = 0;
		for (size_t k = 0; k < g->n_rules; k++) {
			check_rule_peer(l, lab, &g->rules[k], drafts[i].from_aws);
			if (g->rules[k].egress)
				out++;
			else
				in++;
		}
		if (in > SG_QUOTA_RULES || out > SG_QUOTA_RULES)
			ld_warn_at(l, &g->origin, NULL,
				   "%zu inbound and %zu outbound rules: AWS's quota is %d each way",
				   in, out, SG_QUOTA_RULES);
	}
}

static size_t group_rules_max(const struct security_group *g)
{
	size_t in = 0, out = 0;
	for (size_t k = 0; k < g->n_rules; k++) {
		if (g->rules[k].egress)
			out++;
		else
			in++;
	}
	return in > out ? in : out;
}

static void eni_groups(struct loader *l, struct lab *lab, struct eni *e, const struct draft_eni *d)
{
	e->groups = arena_calloc(l->a, d->n_groups ? d->n_groups : 1, sizeof(int32_t));
	e->n_groups = 0;
	if (!e->groups)
		return;
	size_t max_rules = 0;
	for (size_t k = 0; k < d->n_groups; k++) {
		const struct ref *r = &d->groups[k];
		int32_t g = ix_find(&l->ix_groups, r->id);
		if (g < 0 && d->from_aws) {
			ld_warn_at(
			    l, &r->at, NULL,
			    "security group %s is not in the lab: assuming it admits nothing",
			    r->id);
			continue;
		}
		if (g < 0) {
			ld_err_at(l, &r->at, NULL, "unknown security group %s", r->id);
			continue;
		}
		const struct security_group *sg = &lab->groups[g];
		if (e->subnet >= 0 && sg->vpc >= 0 && sg->vpc != lab->subnets[e->subnet].vpc)
			(d->from_aws ? ld_warn_at : ld_err_at)(
			    l, &r->at, NULL, "security group %s belongs to VPC %s, the ENI to %s%s",
			    r->id, sg->vpc_id, lab->subnets[e->subnet].vpc_id,
			    d->from_aws ? " (as exported; applied as it is)" : "");
		bool dup = false;
		for (size_t j = 0; j < e->n_groups; j++)
			dup |= e->groups[j] == g;
		if (dup)
			continue;
		e->groups[e->n_groups++] = g;
		size_t m = group_rules_max(sg);
		if (m > max_rules)
			max_rules = m;
	}
	if (d->n_groups == 0 && d->from_aws && d->iface_type && strcmp(d->iface_type, "interface"))
		ld_warn_at(l, &e->origin, NULL,
			   "ENI %s (%s) has no security group: AWS applies none to it, vpcfw's "
			   "security-group stages let nothing through it",
			   e->id, d->iface_type);
	else if (d->n_groups == 0 && d->from_aws) /* our format said so already */
		ld_err_at(l, &e->origin, NULL, "ENI %s has no security group (1 to %d)", e->id,
			  ENI_MAX_GROUPS);
	else if (d->n_groups > ENI_MAX_GROUPS)
		ld_err_at(l, &e->origin, NULL, "ENI %s has %zu security groups: at most %d", e->id,
			  d->n_groups, ENI_MAX_GROUPS);
	else if (d->n_groups > ENI_QUOTA_GROUPS)
		ld_warn_at(l, &e->origin, NULL,
			   "ENI %s has %zu security groups: AWS's default quota is %d "
			   "(adjustable to %d)",
			   e->id, d->n_groups, ENI_QUOTA_GROUPS, ENI_MAX_GROUPS);
	if (e->n_groups * max_rules > ENI_QUOTA_GROUP_RULES)
		ld_warn_at(l, &e->origin, NULL,
			   "%zu groups x %zu rules exceed AWS's quota of %d rules per ENI",
			   e->n_groups, max_rules, ENI_QUOTA_GROUP_RULES);
}

/* Network, router (+1), DNS (+2), reserved (+3) and, for IPv4, broadcast
 * (AWS-SEMANTICS §5). */
static const char *reserved_role(const struct ip_prefix *p, const struct ip_addr *a)
{
	static const char *const roles[] = {"the network address", "the VPC router",
					    "the Amazon DNS server", "reserved by AWS"};
	for (uint64_t k = 0; k < 4; k++) {
		struct ip_addr r;
		ip_prefix_nth(p, k, &r);
		if (ip_addr_eq(&r, a))
			return roles[k];
	}
	struct ip_addr last;
	ip_prefix_last(p, &last);
	if (ip_addr_eq(&last, a))
		return p->addr.family == IP_V4 ? "the broadcast address" : "reserved by AWS";
	return NULL;
}

static void eni_addrs(struct loader *l, struct lab *lab, size_t idx, bool from_aws)
{
	void (*report)(struct loader *, const struct origin *, const char *, const char *, ...) =
	    from_aws ? ld_warn_at : ld_err_at; /* an export shows what AWS accepted */
	struct eni *e = &lab->enis[idx];
	if (e->subnet < 0)
		return;
	const struct subnet *s = &lab->subnets[e->subnet];
	for (int v6 = 0; v6 < 2; v6++) {
		const struct ip_addr *list = v6 ? e->ipv6 : e->ipv4;
		size_t n = v6 ? e->n_ipv6 : e->n_ipv4;
		for (size_t i = 0; i < n; i++) {
			const struct ip_addr *a = &list[i];
			const struct ip_prefix *p = v6 ? &s->cidr6 : &s->cidr;
			if (v6 && !s->has_cidr6) {
				report(l, &e->origin, NULL,
				       "ENI %s has IPv6 address %s but subnet %s has no IPv6 block",
				       e->id, fmt_addr(l, a), s->id);
				continue;
			}
			if (!ip_prefix_contains(p, a)) {
				report(l, &e->origin, NULL,
				       "ENI %s address %s is outside its subnet %s (%s)", e->id,
				       fmt_addr(l, a), s->id, ld_fmt_prefix(l, p));
				continue;
			}
			/* an assumed subnet's block is a guess: its edges prove nothing */
			const char *role =
			    VEC_AT(&l->subnets, struct draft_subnet, e->subnet)->synthesised
				? NULL
				: reserved_role(p, a);
			if (role)
				report(l, &e->origin, NULL,
				       "ENI %s address %s is %s of subnet %s: AWS reserves it",
				       e->id, fmt_addr(l, a), role, s->id);
		}
	}
}

/* AWS's configurable ranges (§4); outside them a warning, since tests
 * legitimately shorten timeouts. */
static void check_timeouts(struct loader *l, const struct origin *o, const char *sub,
			   const struct ct_timeouts *t)
{
	static const struct {
		size_t off;
		const char *name;
		uint32_t lo, hi;
	} ranges[] = {
	    {offsetof(struct ct_timeouts, tcp_established), "tcp_established", 60, 432000},
	    {offsetof(struct ct_timeouts, udp_stream), "udp_stream", 60, 180},
	    {offsetof(struct ct_timeouts, udp), "udp", 30, 60},
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		uint32_t v = *(const uint32_t *)((const char *)t + ranges[i].off);
		if (v && (v < ranges[i].lo || v > ranges[i].hi))
			ld_warn_at(l, o, arena_printf(l->tmp, "%s.%s", sub, ranges[i].name),
				   "%u s is outside AWS's range %u-%u", v, ranges[i].lo,
				   ranges[i].hi);
	}
}

static void fill_timeouts(struct ct_timeouts *t, const struct ct_timeouts *def)
{
	uint32_t *f[] = {
	    &t->tcp_established, &t->tcp_transient, &t->udp_stream, &t->udp, &t->icmp, &t->other};
	const uint32_t *d[] = {&def->tcp_established,
			       &def->tcp_transient,
			       &def->udp_stream,
			       &def->udp,
			       &def->icmp,
			       &def->other};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!*f[i])
			*f[i] = *d[i];
}

static void check_enis(struct loader *l, struct lab *lab, struct draft_eni *drafts)
{
	for (size_t i = 0; i < lab->n_enis; i++) {
		struct eni *e = &lab->enis[i];
		const struct draft_eni *d = &drafts[i];
		e->name = d->own_name ? d->own_name : d->instance_name;
		e->instance_name = d->instance_name;
		e->subnet = d->subnet.id ? ix_find(&l->ix_subnets, d->subnet.id) : -1;
		if (e->subnet < 0 && d->subnet.id)
			ld_err_at(l, &d->subnet.at, NULL, "unknown subnet %s", d->subnet.id);
		if (e->subnet >= 0 && d->vpc_id &&
		    !streq(d->vpc_id, lab->subnets[e->subnet].vpc_id))
			ld_err_at(l, &e->origin, "VpcId",
				  "ENI %s is in VPC %s but its subnet %s in %s", e->id, d->vpc_id,
				  d->subnet.id, lab->subnets[e->subnet].vpc_id);
		if (!e->n_ipv4 && !e->n_ipv6 && d->from_aws && !d->addr_given)
			ld_err_at(l, &e->origin, NULL, "ENI %s has no private address", e->id);
		eni_groups(l, lab, e, d);
		eni_addrs(l, lab, i, d->from_aws);
		if (d->explicit_timeouts)
			check_timeouts(l, &e->origin, "timeouts", &e->timeouts);
		fill_timeouts(&e->timeouts, &lab->opts.default_timeouts);
		if (!e->ct_allowance)
			e->ct_allowance = lab->opts.default_ct_allowance;
	}
}

static void check_outside(struct loader *l, struct lab *lab)
{
	for (size_t i = 0; i < lab->n_outside; i++) {
		struct outside_host *h = &lab->outside[i];
		for (size_t k = 0; k < i; k++)
			if (streq(lab->outside[k].name, h->name))
				ld_err_at(l, &h->origin, "name",
					  "outside host '%s' is declared twice", h->name);
		for (size_t k = 0; k < lab->n_enis; k++)
			if (streq(lab->enis[k].name, h->name))
				ld_err_at(l, &h->origin, "name",
					  "'%s' names both an outside host and ENI %s", h->name,
					  lab->enis[k].id);
		if (lab_eni_by_addr(lab, &h->addr) >= 0 || lab_eni_by_public_ip(lab, &h->addr) >= 0)
			ld_err_at(l, &h->origin, "addr", "%s belongs to an ENI of the lab",
				  fmt_addr(l, &h->addr));
		else if (lab_addr_in_vpc(lab, &h->addr))
			ld_warn_at(l, &h->origin, "addr",
				   "outside host %s is inside a VPC CIDR block",
				   fmt_addr(l, &h->addr));
	}
}

/* §3: a group reference means the private addresses of every ENI that
 * carries the group (IPv6 ones too unless the lab says otherwise). */
static void fill_members(struct loader *l, struct lab *lab)
{
	for (size_t g = 0; g < lab->n_groups; g++) {
		struct security_group *sg = &lab->groups[g];
		size_t n = 0;
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < lab->n_enis; i++) {
				const struct eni *e = &lab->enis[i];
				bool carries = false;
				for (size_t k = 0; k < e->n_groups; k++)
					carries |= e->groups[k] == (int32_t)g;
				if (!carries)
					continue;
				size_t add =
				    e->n_ipv4 + (lab->opts.sg_ref_includes_ipv6 ? e->n_ipv6 : 0);
				if (pass == 0) {
					n += add;
					continue;
				}
				if (e->n_ipv4)
					memcpy(&sg->members[sg->n_members], e->ipv4,
					       e->n_ipv4 * sizeof(struct ip_addr));
				sg->n_members += e->n_ipv4;
				if (lab->opts.sg_ref_includes_ipv6 && e->n_ipv6) {
					memcpy(&sg->members[sg->n_members], e->ipv6,
					       e->n_ipv6 * sizeof(struct ip_addr));
					sg->n_members += e->n_ipv6;
				}
			}
			if (pass == 0) {
				sg->members = arena_calloc(l->a, n ? n : 1, sizeof(struct ip_addr));
				if (!sg->members)
					return;
			}
		}
	}
}

/* Duplicates are found by sorting, not by comparing every pair: exports
 * of large accounts hold thousands of ENIs. */
struct eni_key {
	const struct lab *lab;
	struct ip_addr addr;
	size_t eni;
};

static int cmp_addr_key(const void *a, const void *b)
{
	const struct eni_key *x = a, *y = b;
	int c = ip_addr_cmp(&x->addr, &y->addr);
	if (c)
		return c;
	return x->eni < y->eni ? -1 : x->eni > y->eni;
}

static void report_dup_addrs(struct loader *l, struct lab *lab, struct eni_key *keys, size_t n,
			     const char *what)
{
	qsort(keys, n, sizeof(*keys), cmp_addr_key);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (!ip_addr_eq(&keys[i].addr, &keys[first].addr)) {
			first = i;
			continue;
		}
		const struct eni *e = &lab->enis[keys[i].eni];
		ld_err_at(l, &e->origin, NULL, "%s %s of ENI %s is also used by ENI %s", what,
			  fmt_addr(l, &keys[i].addr), e->id, lab->enis[keys[first].eni].id);
	}
}

static void check_unique_addrs(struct loader *l, struct lab *lab)
{
	size_t n = 0;
	for (size_t i = 0; i < lab->n_enis; i++)
		n += lab->enis[i].n_ipv4 + lab->enis[i].n_ipv6;
	struct eni_key *keys = calloc(n ? n : 1, sizeof(*keys));
	size_t n_pub = lab->n_enis;
	for (size_t i = 0; i < lab->n_enis; i++)
		n_pub += lab->enis[i].n_publics;
	struct eni_key *pub = calloc(n_pub ? n_pub : 1, sizeof(*pub));
	if (keys && pub) {
		size_t np = 0;
		n = 0;
		for (size_t i = 0; i < lab->n_enis; i++) {
			const struct eni *e = &lab->enis[i];
			for (size_t k = 0; k < e->n_ipv4; k++)
				keys[n++] = (struct eni_key){lab, e->ipv4[k], i};
			for (size_t k = 0; k < e->n_ipv6; k++)
				keys[n++] = (struct eni_key){lab, e->ipv6[k], i};
			if (e->has_public_ip)
				pub[np++] = (struct eni_key){lab, e->public_ip, i};
			for (size_t k = 0; k < e->n_publics; k++)
				pub[np++] = (struct eni_key){lab, e->publics[k].pub, i};
		}
		report_dup_addrs(l, lab, keys, n, "address");
		report_dup_addrs(l, lab, pub, np, "public IP");
	}
	free(keys);
	free(pub);
}

static int cmp_device(const void *a, const void *b)
{
	const struct eni_key *x = a, *y = b;
	const struct eni *e = &x->lab->enis[x->eni], *f = &y->lab->enis[y->eni];
	int c = strcmp(e->instance_id, f->instance_id);
	if (c)
		return c;
	if (e->device_index != f->device_index)
		return e->device_index < f->device_index ? -1 : 1;
	return x->eni < y->eni ? -1 : x->eni > y->eni;
}

/* One ENI per device index of an instance. */
static void check_devices(struct loader *l, struct lab *lab)
{
	struct eni_key *keys = calloc(lab->n_enis ? lab->n_enis : 1, sizeof(*keys));
	size_t n = 0;
	if (!keys)
		return;
	for (size_t i = 0; i < lab->n_enis; i++)
		if (lab->enis[i].instance_id && lab->enis[i].device_index >= 0)
			keys[n++] = (struct eni_key){.lab = lab, .eni = i};
	qsort(keys, n, sizeof(*keys), cmp_device);
	for (size_t i = 1; i < n; i++) {
		const struct eni *o = &lab->enis[keys[i - 1].eni], *e = &lab->enis[keys[i].eni];
		if (streq(o->instance_id, e->instance_id) && o->device_index == e->device_index)
			ld_err_at(l, &e->origin, NULL,
				  "ENI %s and ENI %s are both device %d of instance %s", o->id,
				  e->id, e->device_index, e->instance_id);
	}
	free(keys);
}

static int cmp_name(const void *a, const void *b)
{
	const struct eni_key *x = a, *y = b;
	int c = strcmp(x->lab->enis[x->eni].name, y->lab->enis[y->eni].name);
	if (c)
		return c;
	return x->eni < y->eni ? -1 : x->eni > y->eni;
}

/* Several ENIs of different owners sharing one Name tag cannot be named on
 * the command line by it (contract 3): said once per name, at its first ENI. */
static void check_names(struct loader *l, struct lab *lab)
{
	struct eni_key *keys = calloc(lab->n_enis ? lab->n_enis : 1, sizeof(*keys));
	size_t n = 0;
	if (!keys)
		return;
	for (size_t i = 0; i < lab->n_enis; i++)
		if (lab->enis[i].name)
			keys[n++] = (struct eni_key){.lab = lab, .eni = i};
	qsort(keys, n, sizeof(*keys), cmp_name);
	for (size_t i = 0; i < n;) {
		const struct eni *first = &lab->enis[keys[i].eni];
		bool clash = false;
		size_t k = i + 1;
		for (; k < n && streq(lab->enis[keys[k].eni].name, first->name); k++) {
			const struct eni *o = &lab->enis[keys[k].eni];
			clash |= !first->instance_id || !streq(o->instance_id, first->instance_id);
		}
		if (clash)
			ld_warn_at(l, &first->origin, NULL,
				   "several ENIs are named '%s': name them by id or address",
				   first->name);
		i = k;
	}
	free(keys);
}

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

	lab->n_vpcs = l->vpcs.n;
	lab->vpcs = arena_calloc(l->a, l->vpcs.n ? l->vpcs.n : 1, sizeof(struct vpc));
	lab->n_prefix_lists = l->pls.n;
	lab->prefix_lists = arena_calloc(l->a, l->pls.n ? l->pls.n : 1, sizeof(struct prefix_list));
	lab->n_outside = l->outside.n;
	lab->outside =
	    arena_calloc(l->a, l->outside.n ? l->outside.n : 1, sizeof(struct outside_host));
	if (!lab->vpcs || !lab->prefix_lists || !lab->outside)
		return NULL;
	if (l->vpcs.n)
		memcpy(lab->vpcs, l->vpcs.items, l->vpcs.n * sizeof(struct vpc));
	if (l->pls.n)
		memcpy(lab->prefix_lists, l->pls.items, l->pls.n * sizeof(struct prefix_list));
	if (l->outside.n)
		memcpy(lab->outside, l->outside.items, l->outside.n * sizeof(struct outside_host));
	COPY_OUT(l, &l->subnets, struct draft_subnet, s, &lab->subnets, &lab->n_subnets);
	COPY_OUT(l, &l->nacls, struct draft_nacl, n, &lab->nacls, &lab->n_nacls);
	COPY_OUT(l, &l->groups, struct draft_group, g, &lab->groups, &lab->n_groups);
	COPY_OUT(l, &l->enis, struct draft_eni, e, &lab->enis, &lab->n_enis);
	if (!lab->subnets || !lab->nacls || !lab->groups || !lab->enis)
		return NULL;
	lab->n_route_tables = l->rts.n;
	lab->route_tables = arena_calloc(l->a, l->rts.n ? l->rts.n : 1, sizeof(struct route_table));
	if (!lab->route_tables)
		return NULL;
	for (size_t i = 0; i < l->rts.n; i++)
		lab->route_tables[i] = VEC_AT(&l->rts, struct draft_rt, i)->rt;
	COPY_VEC(l, &l->gateways, &lab->gateways, &lab->n_gateways);
	COPY_VEC(l, &l->eips, &lab->eips, &lab->n_eips);
	COPY_VEC(l, &l->services, &lab->services, &lab->n_services);
	if (!lab->gateways || !lab->eips || !lab->services)
		return NULL;

	build_index(l, lab);
	check_vpcs(l, lab);
	check_subnets(l, lab, l->subnets.items);
	check_nacls(l, lab, l->nacls.items);
	check_route_tables(l, lab, l->rts.items);
	warn_no_route_table(l, lab);
	subnet_refs(l, lab, l->subnets.items);
	check_prefix_lists(l, lab);
	check_groups(l, lab, l->groups.items);
	check_enis(l, lab, l->enis.items);
	ld_attach_gateways(l, lab);
	check_unique_addrs(l, lab);
	check_devices(l, lab);
	check_outside(l, lab);
	check_names(l, lab);
	fill_members(l, lab);
	return lab;
}
