/*
 * Where Terraform leaves things to AWS, what AWS would do: the default VPC
 * and its default subnet for what names no subnet, its main route table
 * to the internet, a VPC or subnet named but not in the lab assumed in a
 * free block, the first free address of a subnet for an interface known
 * only after apply, and a public IP where the subnet maps them. Every
 * assumption is a warning saying what was assumed (load_tf_finish.c
 * calls these once every document is read).
 */
#include <stdio.h>
#include <string.h>

#include "load-tf-private.h"
#include "load_build.h"

static bool addr_used(struct loader *l, const struct ip_addr *a)
{
	for (size_t i = 0; i < l->enis.n; i++) {
		const struct eni *e = &VEC_AT(&l->enis, struct draft_eni, i)->e;
		for (size_t k = 0; k < e->n_ipv4; k++)
			if (ip_addr_eq(&e->ipv4[k], a))
				return true;
	}
	return false;
}

/* The default VPC (aws_default_vpc, else AWS's documented layout:
 * 172.31.0.0/16) and its first default subnet (172.31.0.0/20). */
/* The default VPC: aws_default_vpc, else AWS's documented layout
 * (172.31.0.0/16), made once. */
static const char *default_vpc(struct loader *l, const struct origin *at)
{
	for (size_t i = 0; l->tf && i < l->tf->defaults.n; i++)
		if (VEC_AT(&l->tf->defaults, struct tf_vpc_defaults, i)->default_vpc)
			return VEC_AT(&l->tf->defaults, struct tf_vpc_defaults, i)->vpc_id;
	const char *vpc_id = ld_make_id(l, "vpc", "default", NULL);
	for (size_t i = 0; i < l->vpcs.n; i++)
		if (ld_streq(VEC_AT(&l->vpcs, struct vpc, i)->id, vpc_id))
			return vpc_id;
	struct vpc *v = vec_push(&l->vpcs, sizeof(*v));
	struct ip_prefix *c = arena_calloc(l->a, 1, sizeof(*c));
	if (!v || !c)
		return vpc_id;
	memset(v, 0, sizeof(*v));
	v->id = vpc_id;
	v->name = "default";
	v->default_nacl = v->main_route_table = -1;
	v->origin = *at;
	ip_prefix_parse("172.31.0.0/16", c, NULL);
	v->cidrs = c;
	v->n_cidrs = 1;
	return vpc_id;
}

/* The default VPC's first default subnet (172.31.0.0/20). */
static struct draft_subnet *default_subnet(struct loader *l, const struct origin *at)
{
	const char *vpc_id = default_vpc(l, at);
	struct ip_prefix block;
	ip_prefix_parse("172.31.0.0/20", &block, NULL);
	const char *id = NULL;
	for (size_t i = 0; i < l->subnets.n; i++) {
		struct draft_subnet *d = VEC_AT(&l->subnets, struct draft_subnet, i);
		if (ld_streq(d->s.vpc_id, vpc_id) && ip_prefix_eq(&d->s.cidr, &block))
			return d;
	}
	/* an interface with a known address there names the real subnet */
	for (size_t i = 0; i < l->enis.n && !id; i++) {
		const struct draft_eni *e = VEC_AT(&l->enis, struct draft_eni, i);
		if (e->subnet.id && e->e.n_ipv4 && ip_prefix_contains(&block, &e->e.ipv4[0]) &&
		    !LD_FIND_SUBNET(l, e->subnet.id))
			id = e->subnet.id;
	}
	if (!id)
		id = ld_make_id(l, "subnet", vpc_id, "default");
	struct draft_subnet *s = LD_FIND_SUBNET(l, id);
	if (s || !(s = vec_push(&l->subnets, sizeof(*s))))
		return s;
	memset(s, 0, sizeof(*s));
	s->from_aws = s->synthesised = true;
	s->s.id = id;
	s->s.vpc_id = vpc_id;
	s->s.name = "default";
	s->s.vpc = s->s.nacl = s->s.route_table = -1;
	s->s.origin = *at;
	s->map_public_ip = true; /* default subnets do */
	s->s.cidr = block;
	return s;
}

static bool overlaps_vpc(struct loader *l, const struct ip_prefix *p)
{
	for (size_t i = 0; i < l->vpcs.n; i++) {
		const struct vpc *v = VEC_AT(&l->vpcs, struct vpc, i);
		for (size_t c = 0; c < v->n_cidrs; c++)
			if (ip_prefix_overlaps(&v->cidrs[c], p))
				return true;
	}
	return false;
}

/* A VPC named but not in the lab, for interfaces placed in it: the first
 * 10.N.0.0/16 no VPC of the lab uses. */
static struct vpc *assumed_vpc(struct loader *l, const char *id, const struct origin *at)
{
	for (size_t i = 0; i < l->vpcs.n; i++)
		if (ld_streq(VEC_AT(&l->vpcs, struct vpc, i)->id, id))
			return VEC_AT(&l->vpcs, struct vpc, i);
	struct ip_prefix *c = arena_calloc(l->a, 1, sizeof(*c));
	if (!c)
		return NULL;
	for (int n = 0; n < 256; n++) {
		char text[32];
		snprintf(text, sizeof(text), "10.%d.0.0/16", n);
		ip_prefix_parse(text, c, NULL);
		if (!overlaps_vpc(l, c))
			break;
	}
	struct vpc *v = vec_push(&l->vpcs, sizeof(*v));
	if (!v)
		return NULL;
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->default_nacl = v->main_route_table = -1;
	v->origin = *at;
	v->cidrs = c;
	v->n_cidrs = 1;
	char buf[IP_PREFIX_STRLEN];
	ld_warn_at(l, at, NULL,
		   "VPC %s is not in the lab: assuming it holds %s (its real block is unknown; "
		   "rules naming CIDRs may decide differently in AWS)",
		   id, ip_prefix_format(c, buf, sizeof(buf)));
	return v;
}

/* A subnet named but not in the lab, with no known address in it: the
 * first free /24 of its VPC (the one named beside it, else its groups',
 * else the file's default VPC, else an assumed one). */
static bool holds_an_eni(struct loader *l, const struct ip_prefix *p)
{
	for (size_t i = 0; i < l->enis.n; i++) {
		const struct eni *e = &VEC_AT(&l->enis, struct draft_eni, i)->e;
		for (size_t k = 0; k < e->n_ipv4; k++)
			if (ip_prefix_contains(p, &e->ipv4[k]))
				return true;
	}
	return false;
}

/* The VPC of an interface's groups (a group's vpc_id, or the VPC whose
 * default group it is), when nothing else says where it is. */
static const char *groups_vpc(struct loader *l, const struct draft_eni *d)
{
	for (size_t i = 0; i < d->n_groups; i++) {
		struct draft_group *g = LD_FIND_GROUP(l, d->groups[i].id);
		if (g && g->g.vpc_id)
			return g->g.vpc_id;
		for (size_t k = 0; l->tf && k < l->tf->defaults.n; k++) {
			const struct tf_vpc_defaults *vd =
			    VEC_AT(&l->tf->defaults, struct tf_vpc_defaults, k);
			if (ld_streq(vd->sg_id, d->groups[i].id))
				return vd->vpc_id;
		}
	}
	return NULL;
}

static struct draft_subnet *assumed_subnet(struct loader *l, struct draft_eni *d)
{
	if (!d->vpc_id)
		d->vpc_id = groups_vpc(l, d);
	for (size_t i = 0; !d->vpc_id && l->tf && i < l->tf->defaults.n; i++)
		if (VEC_AT(&l->tf->defaults, struct tf_vpc_defaults, i)->default_vpc)
			d->vpc_id = VEC_AT(&l->tf->defaults, struct tf_vpc_defaults, i)->vpc_id;
	const char *vpc_id = d->vpc_id ? d->vpc_id : ld_make_id(l, "vpc", "assumed", NULL);
	struct vpc *v = assumed_vpc(l, vpc_id, &d->subnet.at);
	if (!v || !v->n_cidrs || v->cidrs[0].len > 24)
		return NULL;
	struct ip_prefix p = v->cidrs[0];
	uint64_t n = (uint64_t)1 << (24 - p.len);
	for (uint64_t k = 0; k < n; k++) {
		struct ip_addr base;
		ip_prefix_nth(&v->cidrs[0], k << 8, &base);
		p.addr = base;
		p.len = 24;
		bool used = false;
		for (size_t i = 0; i < l->subnets.n && !used; i++) {
			const struct subnet *s = &VEC_AT(&l->subnets, struct draft_subnet, i)->s;
			used = ld_streq(s->vpc_id, vpc_id) && ip_prefix_overlaps(&s->cidr, &p);
		}
		used |= holds_an_eni(l, &p); /* the block of a subnet assumed later */
		if (used)
			continue;
		struct draft_subnet *s = vec_push(&l->subnets, sizeof(*s));
		if (!s)
			return NULL;
		memset(s, 0, sizeof(*s));
		s->from_aws = s->synthesised = true;
		s->s.id = d->subnet.id;
		s->s.vpc_id = vpc_id;
		s->s.vpc = s->s.nacl = s->s.route_table = -1;
		s->s.origin = d->subnet.at;
		s->s.cidr = p;
		char buf[IP_PREFIX_STRLEN];
		ld_warn_at(l, &d->subnet.at, NULL,
			   "subnet %s is not in the lab and no address in it is known: assuming "
			   "%s in VPC %s",
			   d->subnet.id, ip_prefix_format(&p, buf, sizeof(buf)), vpc_id);
		d->vpc_id = vpc_id;
		return s;
	}
	return NULL;
}

/* The first address of the subnet after AWS's four reserved ones that no
 * other interface holds. Without a subnet, AWS launches into the default
 * VPC's default subnet. */
void tf_assume_address(struct loader *l, struct draft_eni *d)
{
	struct draft_subnet *s = LD_FIND_SUBNET(l, d->subnet.id);
	if (!s && !d->subnet.id && (s = default_subnet(l, &d->e.origin))) {
		d->subnet.id = s->s.id;
		ld_warn_at(l, &d->e.origin, NULL,
			   "no subnet given: assuming the default subnet %s (%s) of the default "
			   "VPC %s",
			   s->s.id, "172.31.0.0/20", s->s.vpc_id);
	}
	if (!s && d->subnet.id)
		s = assumed_subnet(l, d);
	if (!s) {
		ld_warn_at(l, &d->e.origin, NULL,
			   "subnet %s is not in the lab and no address is known: the interface "
			   "is left out",
			   d->subnet.id ? d->subnet.id : "?");
		d->subnet.id = NULL;
		return;
	}
	uint64_t size = s->s.cidr.len >= 32 ? 1 : (uint64_t)1 << (32 - s->s.cidr.len);
	for (uint64_t k = 4; k + 1 < size; k++) {
		struct ip_addr a;
		ip_prefix_nth(&s->s.cidr, k, &a);
		if (addr_used(l, &a))
			continue;
		d->e.ipv4 = arena_calloc(l->a, 1, sizeof(a));
		if (!d->e.ipv4)
			return;
		d->e.ipv4[0] = a;
		d->e.n_ipv4 = 1;
		d->addr_assumed = true;
		char buf[IP_ADDR_STRLEN];
		ld_warn_at(l, &d->e.origin, NULL,
			   "no private address known until apply: assuming %s, the first free "
			   "address of subnet %s",
			   ip_addr_format(&a, buf, sizeof(buf)), s->s.id);
		return;
	}
}

static bool public_used(struct loader *l, const struct ip_addr *a)
{
	for (size_t i = 0; i < l->enis.n; i++) {
		const struct eni *e = &VEC_AT(&l->enis, struct draft_eni, i)->e;
		if (e->has_public_ip && ip_addr_eq(&e->public_ip, a))
			return true;
	}
	return false;
}

/* An instance launched into a subnet that maps public IPs (or asking for
 * one) gets a public IPv4 from AWS at launch; the plan cannot know it, so
 * one of the documentation range 198.51.100.0/24 stands for it. */
void tf_assume_public_ip(struct loader *l, struct draft_eni *d)
{
	struct draft_subnet *s = LD_FIND_SUBNET(l, d->subnet.id);
	bool wanted = d->public_wanted > 0 || (d->public_wanted < 0 && s && s->map_public_ip);
	if (d->e.has_public_ip || !wanted)
		return;
	struct ip_prefix doc;
	ip_prefix_parse("198.51.100.0/24", &doc, NULL);
	for (uint64_t k = 200; k < 255; k++) {
		struct ip_addr a;
		ip_prefix_nth(&doc, k, &a);
		if (public_used(l, &a))
			continue;
		d->e.has_public_ip = true;
		d->e.public_ip = a;
		char buf[IP_ADDR_STRLEN];
		ld_warn_at(l, &d->e.origin, NULL,
			   "public IPv4 address known only after launch (%s): assuming %s",
			   d->public_wanted > 0 ? "the resource asks for one"
						: "the subnet maps public addresses",
			   ip_addr_format(&a, buf, sizeof(buf)));
		return;
	}
}

/* AWS's default VPC comes with an internet gateway and a main route table
 * sending 0.0.0.0/0 to it; a file adopting the VPC rarely lists them. */
static void default_vpc_routes(struct loader *l, const char *vpc_id, const struct origin *at)
{
	for (size_t i = 0; i < l->rts.n; i++)
		if (ld_streq(VEC_AT(&l->rts, struct draft_rt, i)->rt.vpc_id, vpc_id))
			return;
	struct tf_vpc_defaults *vd = tf_defaults_of(l, vpc_id);
	struct draft_rt *d = vec_push(&l->rts, sizeof(*d));
	struct gateway *g = vec_push(&l->gateways, sizeof(*g));
	struct route *r = arena_calloc(l->a, 1, sizeof(*r));
	if (!d || !g || !r)
		return;
	const char *igw = ld_make_id(l, "igw", vpc_id, "default");
	*g = (struct gateway){
	    .kind = GW_INTERNET, .id = igw, .vpc_id = vpc_id, .vpc = -1, .origin = *at};
	*d = (struct draft_rt){
	    .from_aws = true,
	    .from_tf = true,
	    .rt = {.id = vd ? vd->rtb_id : ld_make_id(l, "rtb", vpc_id, "main"),
		   .vpc_id = vpc_id,
		   .vpc = -1,
		   .main = true,
		   .origin = *at},
	};
	ip_prefix_parse("0.0.0.0/0", &r->dest, NULL);
	r->kind = ROUTE_IGW;
	r->target = igw;
	d->rt.routes = r;
	d->rt.n_routes = 1;
	ld_warn_at(l, at, NULL,
		   "the default VPC %s has no route table in the lab: assuming AWS's main "
		   "route table of a default VPC (local, and 0.0.0.0/0 to internet gateway %s)",
		   vpc_id, igw);
}

void tf_default_vpc_routes(struct loader *l)
{
	const char *made = ld_make_id(l, "vpc", "default", NULL);
	for (size_t i = 0; i < l->vpcs.n; i++) {
		const struct vpc *v = VEC_AT(&l->vpcs, struct vpc, i);
		struct tf_vpc_defaults *vd = tf_defaults_of(l, v->id);
		if ((vd && vd->default_vpc) || ld_streq(v->id, made))
			default_vpc_routes(l, v->id, &v->origin);
	}
}

/* "vpc_id - (Optional) VPC ID. Defaults to the region's default VPC"
 * (provider docs, aws_security_group). */
void tf_default_vpc_groups(struct loader *l)
{
	for (size_t i = 0; i < l->groups.n; i++) {
		struct draft_group *d = VEC_AT(&l->groups, struct draft_group, i);
		if (!d->from_tf || d->g.vpc_id)
			continue;
		d->g.vpc_id = default_vpc(l, &d->g.origin);
		ld_warn_at(l, &d->g.origin, "vpc_id",
			   "no vpc_id: the group is in the default VPC %s", d->g.vpc_id);
	}
}
