/*
 * The resolver's checks of the network objects (AWS-SEMANTICS §2, §3, §5):
 * VPCs, subnets inside their VPC's blocks, NACL entries and associations,
 * route tables and their routes, prefix lists, security groups and their
 * peers. Each violation an error at the object's file and JSON path,
 * quotas warnings; ids become the built lab's indices.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-resolve-private.h"
#include "load_build.h"

#define NACL_QUOTA_RULES 20
#define NACL_QUOTA_RULES_MAX 40
#define NACL_QUOTA_PER_VPC 200
#define SG_QUOTA_RULES 60

/* The error for the second object with an id (first: the earlier one, or
 * NULL when there is none). */
static void once(struct loader *l, const char *what, const char *id, const struct origin *at,
		 const struct origin *first)
{
	if (first)
		ld_err_at(l, at, NULL, "%s %s is defined twice (also %s)", what, id,
			  ld_where(l, first));
}

/* The origin of the object of an ix_* map with that id, unless it is the
 * i-th itself. */
static const struct origin *ix_other(const struct idmap *m, const char *id, size_t i,
				     const void *items, size_t size, size_t origin_off)
{
	int32_t first = ld_ix_find(m, id);
	if (first < 0 || (size_t)first == i)
		return NULL;
	return (const struct origin *)((const char *)items + (size_t)first * size + origin_off);
}

/* The origin of an object before the i-th of items with that id, or NULL. */
#define EARLIER(items, i, type, want)                                                              \
	earlier_origin(ld_find(items, i, sizeof(type), offsetof(type, id), want),                  \
		       offsetof(type, origin))
#define IX_OTHER(m, want, i, items, type)                                                          \
	ix_other(m, want, i, items, sizeof(type), offsetof(type, origin))

static const struct origin *earlier_origin(const void *item, size_t origin_off)
{
	return item ? (const struct origin *)((const char *)item + origin_off) : NULL;
}

void ld_check_vpcs(struct loader *l, struct lab *lab)
{
	for (size_t i = 0; i < lab->n_vpcs; i++) {
		struct vpc *v = &lab->vpcs[i];
		once(l, "VPC", v->id, &v->origin,
		     IX_OTHER(&l->ix_vpcs, v->id, i, lab->vpcs, struct vpc));
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

void ld_check_subnets(struct loader *l, struct lab *lab, const struct draft_subnet *drafts)
{
	for (size_t i = 0; i < lab->n_subnets; i++) {
		struct subnet *s = &lab->subnets[i];
		once(l, "subnet", s->id, &s->origin,
		     IX_OTHER(&l->ix_subnets, s->id, i, lab->subnets, struct subnet));
		s->vpc = ld_ix_find(&l->ix_vpcs, s->vpc_id);
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
			if (o->vpc != s->vpc || ld_streq(o->id, s->id) || drafts[i].synthesised ||
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
static const char *nacl_id(const struct lab *lab, int32_t i)
{
	return lab->nacls[i].id;
}

static const char *route_table_id(const struct lab *lab, int32_t i)
{
	return lab->route_tables[i].id;
}

/* What a subnet is associated with: the subnet field it sets. */
static const struct assoc_kind {
	const char *kind, *kinds; /* "network ACL", "network ACLs" */
	size_t field;		  /* offsetof(struct subnet, nacl or route_table) */
	const char *(*id_of)(const struct lab *lab, int32_t index);
} nacl_assoc = {"network ACL", "network ACLs", offsetof(struct subnet, nacl), nacl_id},
  rt_assoc = {"route table", "route tables", offsetof(struct subnet, route_table), route_table_id};

/* A network ACL or route table: the index-th of its kind. */
struct assoc_owner {
	const struct assoc_kind *k;
	const char *id, *vpc_id;
	int32_t vpc, index;
};

/* Explicit associations (describe-*: Associations[].SubnetId): a subnet of
 * the owner's VPC, associated with one owner of each kind only. */
static void associate_subnets(struct loader *l, struct lab *lab, const struct ref *assoc, size_t n,
			      const struct assoc_owner *o)
{
	for (size_t a = 0; a < n; a++) {
		const struct ref *r = &assoc[a];
		int32_t s = ld_ix_find(&l->ix_subnets, r->id);
		if (s < 0) {
			/* AWS accepts it: the subnet is just not in this export */
			ld_warn_at(l, &r->at, "SubnetId",
				   "subnet %s is not in the lab: association ignored", r->id);
			continue;
		}
		struct subnet *sn = &lab->subnets[s];
		int32_t *slot = (int32_t *)((char *)sn + o->k->field);
		if (sn->vpc != o->vpc)
			ld_err_at(l, &r->at, "SubnetId", "subnet %s is in VPC %s, %s %s in VPC %s",
				  r->id, sn->vpc_id, o->k->kind, o->id, o->vpc_id);
		else if (*slot >= 0 && *slot != o->index)
			ld_err_at(l, &r->at, "SubnetId",
				  "subnet %s is associated with two %s (%s and %s)", r->id,
				  o->k->kinds, o->k->id_of(lab, *slot), o->id);
		else
			*slot = o->index;
	}
}

/* The index of the VPC of an object (what id), with a warning when the
 * lab does not hold it. */
static int32_t vpc_of(struct loader *l, const char *vpc_id, const struct origin *at,
		      const char *what, const char *id, const char *why)
{
	int32_t v = ld_ix_find(&l->ix_vpcs, vpc_id);
	if (v < 0)
		ld_warn_at(l, at, "VpcId", "VPC %s of %s %s is not in the lab%s", vpc_id, what, id,
			   why);
	return v;
}

/* A VPC has one default NACL and one main route table: the i-th object
 * takes *slot, or is an error when another (had) holds it. */
static void claim(struct loader *l, int32_t *slot, int32_t i, const char *what, const char *vpc_id,
		  const char *had, const char *id, const struct origin *at)
{
	if (*slot >= 0)
		ld_err_at(l, at, NULL, "VPC %s has two %s (%s and %s)", vpc_id, what, had, id);
	else
		*slot = i;
}

void ld_check_nacls(struct loader *l, struct lab *lab, struct draft_nacl *drafts)
{
	for (size_t i = 0; i < lab->n_nacls; i++) {
		struct nacl *n = &lab->nacls[i];
		once(l, "network ACL", n->id, &n->origin,
		     EARLIER(lab->nacls, i, struct nacl, n->id));
		n->vpc =
		    vpc_of(l, n->vpc_id, &n->origin, "network ACL", n->id, ": it filters nothing");
		check_entries(l, n, n->ingress, n->n_ingress, "ingress");
		check_entries(l, n, n->egress, n->n_egress, "egress");
		if (n->vpc >= 0 && n->is_default) {
			struct vpc *v = &lab->vpcs[n->vpc];
			claim(l, &v->default_nacl, (int32_t)i, "default network ACLs", v->id,
			      v->default_nacl >= 0 ? lab->nacls[v->default_nacl].id : NULL, n->id,
			      &n->origin);
		}
		associate_subnets(
		    l, lab, drafts[i].assoc, drafts[i].n_assoc,
		    &(struct assoc_owner){&nacl_assoc, n->id, n->vpc_id, n->vpc, (int32_t)i});
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
void ld_warn_no_route_table(struct loader *l, const struct lab *lab)
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

void ld_check_route_tables(struct loader *l, struct lab *lab, struct draft_rt *drafts)
{
	for (size_t i = 0; i < lab->n_route_tables; i++) {
		struct route_table *t = &lab->route_tables[i];
		once(l, "route table", t->id, &t->origin,
		     EARLIER(lab->route_tables, i, struct route_table, t->id));
		t->vpc = vpc_of(l, t->vpc_id, &t->origin, "route table", t->id, "");
		if (t->vpc < 0)
			continue;
		struct vpc *v = &lab->vpcs[t->vpc];
		if (t->main)
			claim(l, &v->main_route_table, (int32_t)i, "main route tables", v->id,
			      v->main_route_table >= 0 ? lab->route_tables[v->main_route_table].id
						       : NULL,
			      t->id, &t->origin);
		warn_middlebox_routes(l, lab, t);
		associate_subnets(
		    l, lab, drafts[i].assoc, drafts[i].n_assoc,
		    &(struct assoc_owner){&rt_assoc, t->id, t->vpc_id, t->vpc, (int32_t)i});
	}
}

/* Our format names a subnet's NACL and route table on the subnet. */
void ld_subnet_refs(struct loader *l, struct lab *lab, struct draft_subnet *drafts)
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
				if (ld_streq(lab->route_tables[k].id, d->rt_ref.id))
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

void ld_check_prefix_lists(struct loader *l, struct lab *lab)
{
	for (size_t i = 0; i < lab->n_prefix_lists; i++) {
		struct prefix_list *p = &lab->prefix_lists[i];
		once(l, "prefix list", p->id, &p->origin,
		     EARLIER(lab->prefix_lists, i, struct prefix_list, p->id));
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
	    group ? ld_ix_find(&l->ix_groups, r->peer_id) : lab_find_prefix_list(lab, r->peer_id);
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

void ld_check_groups(struct loader *l, struct lab *lab, struct draft_group *drafts)
{
	for (size_t i = 0; i < lab->n_groups; i++) {
		struct security_group *g = &lab->groups[i];
		once(l, "security group", g->id, &g->origin,
		     IX_OTHER(&l->ix_groups, g->id, i, lab->groups, struct security_group));
		g->vpc = g->vpc_id ? ld_ix_find(&l->ix_vpcs, g->vpc_id) : -1;
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
