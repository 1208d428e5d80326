/*
 * What Terraform documents leave to the end, once every file of the lab is
 * read: separate rule, route and association resources join what they
 * name (by id: the object may come from another file, or a describe-*
 * export); the implicit parts of a VPC appear (its default group with
 * AWS's default rules, local routes); group names become ids; and what
 * Terraform does not place is placed as AWS would (load_tf_place.c), with
 * a warning. Runs before load_resolve.c's checks.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "load-tf-private.h"
#include "load_build.h"

static struct draft_eni *find_eni(struct loader *l, const char *id)
{
	size_t i;
	return idmap_get(&l->eni_ids, id, &i) ? VEC_AT(&l->enis, struct draft_eni, i) : NULL;
}

static bool same_rule(const struct sg_rule *a, const struct sg_rule *b)
{
	return a->egress == b->egress && a->protocol == b->protocol &&
	       a->from_port == b->from_port && a->to_port == b->to_port &&
	       a->peer_kind == b->peer_kind &&
	       (a->peer_kind == SG_PEER_CIDR ? ip_prefix_eq(&a->cidr, &b->cidr)
					     : ld_streq(a->peer_id, b->peer_id));
}

/* Once refreshed, a group's inline rules repeat its separate rule
 * resources: the union is taken. */
static void join_rule(struct loader *l, const struct tf_pending *p)
{
	struct draft_group *d = LD_FIND_GROUP(l, p->target);
	if (!d) {
		ld_warn_at(l, &p->origin, NULL,
			   "security group %s is not in the lab: rule left out", p->target);
		return;
	}
	struct security_group *g = &d->g;
	for (size_t i = 0; i < g->n_rules; i++)
		if (same_rule(&g->rules[i], &p->rule))
			return;
	struct sg_rule *rules = ld_grow(l, g->rules, g->n_rules, sizeof(*rules));
	if (!rules)
		return;
	rules[g->n_rules++] = p->rule;
	g->rules = rules;
}

static void join_entry(struct loader *l, const struct tf_pending *p)
{
	struct draft_nacl *d = LD_FIND_NACL(l, p->target);
	if (!d) {
		ld_warn_at(l, &p->origin, NULL, "network ACL %s is not in the lab: entry left out",
			   p->target);
		return;
	}
	struct nacl *n = &d->n;
	struct nacl_entry **list = p->entry.egress ? &n->egress : &n->ingress;
	size_t *count = p->entry.egress ? &n->n_egress : &n->n_ingress;
	for (size_t i = 0; i < *count; i++)
		if ((*list)[i].rule_number == p->entry.rule_number &&
		    (*list)[i].allow == p->entry.allow &&
		    ip_prefix_eq(&(*list)[i].cidr, &p->entry.cidr))
			return; /* the refreshed inline copy of this rule */
	struct nacl_entry *e = ld_grow(l, *list, *count, sizeof(*e));
	if (!e)
		return;
	e[(*count)++] = p->entry;
	*list = e;
}

static void add_ref(struct loader *l, struct ref **list, size_t *n, const char *id,
		    const struct origin *at)
{
	struct ref *r = ld_grow(l, *list, *n, sizeof(*r));
	if (!r)
		return;
	r[(*n)++] = (struct ref){id, *at};
	*list = r;
}

static void join_route(struct loader *l, const struct tf_pending *p)
{
	struct draft_rt *d = LD_FIND_RT(l, p->target);
	if (!d) {
		ld_warn_at(l, &p->origin, NULL, "route table %s is not in the lab: %s left out",
			   p->target, p->kind == TF_ROUTE ? "route" : "association");
		return;
	}
	struct route_table *t = &d->rt;
	if (p->kind == TF_ROUTE) {
		struct route *r = ld_grow(l, t->routes, t->n_routes, sizeof(*r));
		if (r) {
			r[t->n_routes++] = p->route;
			t->routes = r;
		}
	} else if (p->kind == TF_RTB_ASSOC) {
		add_ref(l, &d->assoc, &d->n_assoc, p->other, &p->origin);
	} else {
		t->main = true;
	}
}

static void join_eni(struct loader *l, const struct tf_pending *p)
{
	struct draft_eni *d = find_eni(l, p->target);
	if (!d) {
		ld_warn_at(l, &p->origin, NULL, "network interface %s is not in the lab: %s",
			   p->target, "left out");
		return;
	}
	if (p->kind == TF_ENI_GROUP) {
		add_ref(l, &d->groups, &d->n_groups, p->other, &p->origin);
	} else if (p->kind == TF_ENI_ATTACH) {
		d->e.instance_id = p->other;
		if (p->device_index >= 0 && p->device_index <= 255)
			d->e.device_index = p->device_index;
	}
}

static const char *subnet_vpc(struct loader *l, const struct draft_eni *d)
{
	struct draft_subnet *s = LD_FIND_SUBNET(l, d->subnet.id);
	if (s)
		return s->s.vpc_id;
	for (size_t i = 0; d->e.n_ipv4 && i < l->vpcs.n; i++) {
		const struct vpc *v = VEC_AT(&l->vpcs, struct vpc, i);
		for (size_t c = 0; c < v->n_cidrs; c++)
			if (ip_prefix_contains(&v->cidrs[c], &d->e.ipv4[0]))
				return v->id;
	}
	return NULL;
}

static const char *default_group_id(struct loader *l, const char *vpc_id)
{
	struct tf_vpc_defaults *vd = tf_defaults_of(l, vpc_id);
	return vd ? vd->sg_id : ld_make_id(l, "sg", vpc_id ? vpc_id : "?", "default");
}

/* A group named on an instance ("default" is the VPC's default group). */
static void join_group_name(struct loader *l, const struct tf_pending *p)
{
	struct draft_eni *d = find_eni(l, p->target);
	if (!d)
		return;
	const char *vpc = d->vpc_id;
	const char *id = NULL;
	for (size_t i = 0; i < l->groups.n && !id; i++) {
		const struct security_group *g = &VEC_AT(&l->groups, struct draft_group, i)->g;
		if (ld_streq(g->name, p->other) && (!vpc || !g->vpc_id || ld_streq(g->vpc_id, vpc)))
			id = g->id;
	}
	if (!id && !strcmp(p->other, "default"))
		id = default_group_id(l, vpc);
	if (!id) {
		ld_warn_at(l, &p->origin, "security_groups",
			   "security group '%s' is not in the lab: assuming it admits nothing",
			   p->other);
		return;
	}
	add_ref(l, &d->groups, &d->n_groups, id, &p->origin);
}

/* AWS's default group (AWS-SEMANTICS §3): all traffic from members of
 * the group itself, all traffic out. */
static void synth_default_group(struct loader *l, const char *id, const char *vpc_id,
				const struct origin *at)
{
	struct draft_group *d = vec_push(&l->groups, sizeof(*d));
	struct sg_rule *r = arena_calloc(l->a, 3, sizeof(*r));
	if (!d || !r)
		return;
	memset(d, 0, sizeof(*d));
	d->from_aws = true;
	d->g.id = id;
	d->g.name = "default";
	d->g.vpc_id = vpc_id;
	d->g.vpc = -1;
	d->g.origin = *at;
	struct tf_vpc_defaults *vd = tf_defaults_of(l, vpc_id);
	size_t n = 0;
	r[n] = (struct sg_rule){.protocol = PROTO_ALL,
				.from_port = -1,
				.to_port = -1,
				.peer_kind = SG_PEER_GROUP,
				.peer_id = id,
				.peer = -1,
				.origin = *at};
	r[++n] = (struct sg_rule){.egress = true,
				  .protocol = PROTO_ALL,
				  .from_port = -1,
				  .to_port = -1,
				  .peer_kind = SG_PEER_CIDR,
				  .peer = -1,
				  .origin = *at};
	ip_prefix_parse("0.0.0.0/0", &r[n].cidr, NULL);
	if (vd && vd->ipv6) {
		r[n + 1] = r[n];
		ip_prefix_parse("::/0", &r[++n].cidr, NULL);
	}
	d->g.rules = r;
	d->g.n_rules = n + 1;
	ld_warn_at(l, at, NULL,
		   "default security group %s of VPC %s is not in the lab: assuming AWS's "
		   "default rules (all traffic from the group itself, all traffic out)",
		   id, vpc_id ? vpc_id : "?");
}

/* No group: the VPC's default group, as AWS gives it. */
static void default_groups(struct loader *l, struct draft_eni *d)
{
	const char *def = default_group_id(l, d->vpc_id);
	if (!d->n_groups)
		add_ref(l, &d->groups, &d->n_groups, def, &d->e.origin);
	for (size_t i = 0; i < d->n_groups; i++)
		if (ld_streq(d->groups[i].id, def) && !LD_FIND_GROUP(l, def))
			synth_default_group(l, def, d->vpc_id, &d->e.origin);
}

/* Interfaces of Terraform resources (those with an address). */
static void finish_enis(struct loader *l, struct tf_state *st)
{
	/* interfaces with known addresses first: the subnets they imply are
	 * assumed before any block is picked for interfaces without one */
	for (size_t i = 0; i < l->enis.n; i++) {
		struct draft_eni *d = VEC_AT(&l->enis, struct draft_eni, i);
		if (d->e.address && !d->vpc_id && (d->e.n_ipv4 || d->e.n_ipv6))
			d->vpc_id = subnet_vpc(l, d);
	}
	ld_synth_subnets(l);
	for (size_t i = 0; i < l->enis.n; i++) {
		struct draft_eni *d = VEC_AT(&l->enis, struct draft_eni, i);
		if (!d->e.address)
			continue;
		if (!d->e.n_ipv4 && !d->e.n_ipv6)
			tf_assume_address(l, d);
		if (!d->vpc_id)
			d->vpc_id = subnet_vpc(l, d);
		tf_assume_public_ip(l, d);
	}
	for (size_t i = 0; i < st->pending.n; i++) {
		struct tf_pending *p = VEC_AT(&st->pending, struct tf_pending, i);
		if (p->kind == TF_ENI_GROUP_NAME)
			join_group_name(l, p);
	}
	size_t out = 0;
	for (size_t i = 0; i < l->enis.n; i++) {
		struct draft_eni *d = VEC_AT(&l->enis, struct draft_eni, i);
		if (d->e.address && !d->e.n_ipv4 && !d->e.n_ipv6)
			continue; /* could not be placed (said above) */
		if (d->e.address)
			default_groups(l, d);
		*VEC_AT(&l->enis, struct draft_eni, out++) = *d;
	}
	l->enis.n = out;
	idmap_free(&l->eni_ids);
	for (size_t i = 0; i < l->enis.n; i++)
		idmap_put(&l->eni_ids, VEC_AT(&l->enis, struct draft_eni, i)->e.id, i);
}

/* The VPC whose default (an id at id_off in struct tf_vpc_defaults) is id. */
static const char *default_of(const struct tf_state *st, size_t id_off, const char *id)
{
	const struct tf_vpc_defaults *d =
	    ld_find(st->defaults.items, st->defaults.n, sizeof(*d), id_off, id);
	return d ? d->vpc_id : NULL;
}

/* The default NACL or route table of a VPC, named by id only in a plan. */
static void default_vpcs(struct loader *l)
{
	const struct tf_state *st = l->tf;
	for (size_t i = 0; i < l->nacls.n; i++) {
		struct draft_nacl *n = VEC_AT(&l->nacls, struct draft_nacl, i);
		if (!n->n.vpc_id)
			n->n.vpc_id =
			    default_of(st, offsetof(struct tf_vpc_defaults, acl_id), n->n.id);
	}
	for (size_t i = 0; i < l->rts.n; i++) {
		struct draft_rt *r = VEC_AT(&l->rts, struct draft_rt, i);
		if (!r->rt.vpc_id)
			r->rt.vpc_id =
			    default_of(st, offsetof(struct tf_vpc_defaults, rtb_id), r->rt.id);
	}
}

/* Drops drafts whose VPC stayed unknown: they would filter nothing. */
#define DROP_NO_VPC(l, vec, type, member, what)                                                    \
	do {                                                                                       \
		size_t o_ = 0;                                                                     \
		for (size_t i_ = 0; i_ < (vec)->n; i_++) {                                         \
			type *d_ = VEC_AT(vec, type, i_);                                          \
			if (!d_->member.vpc_id) {                                                  \
				ld_warn_at(l, &d_->member.origin, "vpc_id",                        \
					   what " %s: its VPC is not known: left out",             \
					   d_->member.id);                                         \
				continue;                                                          \
			}                                                                          \
			*VEC_AT(vec, type, o_++) = *d_;                                            \
		}                                                                                  \
		(vec)->n = o_;                                                                     \
	} while (0)

/* Terraform's route tables hold the local route implicitly. */
static void local_routes(struct loader *l)
{
	for (size_t i = 0; i < l->rts.n; i++) {
		struct draft_rt *d = VEC_AT(&l->rts, struct draft_rt, i);
		const struct vpc *v = NULL;
		for (size_t k = 0; d->from_tf && !v && k < l->vpcs.n; k++)
			if (ld_streq(VEC_AT(&l->vpcs, struct vpc, k)->id, d->rt.vpc_id))
				v = VEC_AT(&l->vpcs, struct vpc, k);
		if (!v)
			continue;
		size_t add = v->n_cidrs + v->n_cidrs6;
		struct route *r = arena_calloc(l->a, d->rt.n_routes + add + 1, sizeof(*r));
		if (!r)
			return;
		for (size_t k = 0; k < add; k++) {
			r[k].dest = k < v->n_cidrs ? v->cidrs[k] : v->cidrs6[k - v->n_cidrs];
			r[k].kind = ROUTE_LOCAL;
			r[k].target = "local";
		}
		if (d->rt.n_routes)
			memcpy(r + add, d->rt.routes, d->rt.n_routes * sizeof(*r));
		d->rt.routes = r;
		d->rt.n_routes += add;
	}
}

/* An Elastic IP given to an instance is on its primary interface. */
static void eip_instances(struct loader *l)
{
	for (size_t i = 0; i < l->eips.n; i++) {
		struct elastic_ip *e = VEC_AT(&l->eips, struct elastic_ip, i);
		if (!e->eni_id || strncmp(e->eni_id, "i-", 2))
			continue;
		for (size_t k = 0; k < l->enis.n; k++) {
			const struct eni *n = &VEC_AT(&l->enis, struct draft_eni, k)->e;
			if (ld_streq(n->instance_id, e->eni_id) && n->device_index <= 0)
				e->eni_id = n->id;
		}
	}
}

void tf_finish(struct loader *l)
{
	struct tf_state *st = l->tf;
	if (!st)
		return;
	for (size_t i = 0; i < st->pending.n; i++) {
		const struct tf_pending *p = VEC_AT(&st->pending, struct tf_pending, i);
		switch (p->kind) {
		case TF_SG_RULE:
			join_rule(l, p);
			break;
		case TF_ACL_ENTRY:
			join_entry(l, p);
			break;
		case TF_ACL_ASSOC: {
			struct draft_nacl *n = LD_FIND_NACL(l, p->target);
			if (n)
				add_ref(l, &n->assoc, &n->n_assoc, p->other, &p->origin);
			else
				ld_warn_at(l, &p->origin, NULL,
					   "network ACL %s is not in the lab: association left out",
					   p->target);
			break;
		}
		case TF_ROUTE:
		case TF_RTB_ASSOC:
		case TF_RTB_MAIN:
			join_route(l, p);
			break;
		case TF_ENI_GROUP:
		case TF_ENI_ATTACH:
			join_eni(l, p);
			break;
		case TF_ENI_GROUP_NAME:
			break; /* once interfaces know their VPC */
		}
	}
	default_vpcs(l);
	DROP_NO_VPC(l, &l->nacls, struct draft_nacl, n, "network ACL");
	DROP_NO_VPC(l, &l->rts, struct draft_rt, rt, "route table");
	finish_enis(l, st);
	tf_default_vpc_groups(l);
	tf_default_vpc_routes(l);
	local_routes(l);
	eip_instances(l);
}
