/*
 * Readers for unchanged `aws ec2 describe-*` output (AWS-SEMANTICS §7):
 * each turns one document into draft objects of the loader, checking types
 * and values as it goes and reporting every problem with its JSON path.
 * Cross references (subnet -> VPC, ENI -> groups, ...) are only recorded
 * here; load_resolve.c resolves and validates them once every file is read.
 * This file: VPCs, subnets, interfaces and instances, route tables, prefix
 * lists; groups and NACLs are load_aws_rules.c's, gateways and services
 * load_aws_gw.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-private.h"
#include "load_build.h"

/* An association's state: exports keep disassociated blocks around. */
static bool block_associated(struct loader *l, const json_t *assoc, const char *state_key,
			     const char *path)
{
	const json_t *st = j_object(l, assoc, state_key, path, false);
	const char *s = NULL;
	if (!st || !j_str(l, st, "State", jp_key(l, path, state_key), false, &s))
		return true;
	return !strcmp(s, "associated") || !strcmp(s, "associating");
}

void aws_vpc(struct loader *l, const json_t *o, const char *path)
{
	struct vpc v = {.default_nacl = -1, .main_route_table = -1, .origin = ld_origin(l, path)};
	j_str(l, o, "VpcId", path, true, &v.id);
	v.name = j_name_tag(l, o, path);
	const char *primary = NULL;
	struct ip_prefix p;
	if (j_str(l, o, "CidrBlock", path, false, &primary) &&
	    ld_prefix(l, primary, jp_key(l, path, "CidrBlock"), IP_V4, &p))
		ld_add_prefix(l, &v.cidrs, &v.n_cidrs, &p);
	static const struct {
		const char *set, *block, *state;
		int family;
	} sets[] = {
	    {"CidrBlockAssociationSet", "CidrBlock", "CidrBlockState", IP_V4},
	    {"Ipv6CidrBlockAssociationSet", "Ipv6CidrBlock", "Ipv6CidrBlockState", IP_V6},
	};
	for (size_t k = 0; k < 2; k++) {
		EACH(l, o, sets[k].set, path, i, a, ap)
		{
			const char *c;
			if (want_object(l, a, ap) && j_str(l, a, sets[k].block, ap, true, &c) &&
			    block_associated(l, a, sets[k].state, ap) &&
			    ld_prefix(l, c, jp_key(l, ap, sets[k].block), sets[k].family, &p))
				ld_add_prefix(l, k ? &v.cidrs6 : &v.cidrs,
					      k ? &v.n_cidrs6 : &v.n_cidrs, &p);
		}
	}
	if (!v.n_cidrs && !v.n_cidrs6)
		ld_err(l, path, "VPC has no CIDR block");
	struct vpc *slot = vec_push(&l->vpcs, sizeof(*slot));
	if (slot)
		*slot = v;
}

void aws_subnet(struct loader *l, const json_t *o, const char *path)
{
	struct draft_subnet d = {
	    .from_aws = true,
	    .s = {.vpc = -1, .nacl = -1, .route_table = -1, .origin = ld_origin(l, path)}};
	struct subnet *s = &d.s;
	j_str(l, o, "SubnetId", path, true, &s->id);
	j_str(l, o, "VpcId", path, true, &s->vpc_id);
	j_str(l, o, "AvailabilityZone", path, false, &s->az);
	s->name = j_name_tag(l, o, path);
	const char *c;
	bool ok = true;
	if (j_str(l, o, "CidrBlock", path, true, &c))
		ok = ld_prefix(l, c, jp_key(l, path, "CidrBlock"), IP_V4, &s->cidr);
	else
		ok = false;
	EACH(l, o, "Ipv6CidrBlockAssociationSet", path, i, a, ap)
	{
		if (!want_object(l, a, ap) || !j_str(l, a, "Ipv6CidrBlock", ap, true, &c) ||
		    !block_associated(l, a, "Ipv6CidrBlockState", ap))
			continue;
		if (s->has_cidr6) {
			ld_err(l, ap, "a subnet has at most one IPv6 CIDR block");
			continue;
		}
		if (ld_prefix(l, c, jp_key(l, ap, "Ipv6CidrBlock"), IP_V6, &s->cidr6))
			s->has_cidr6 = true;
	}
	if (!ok || !s->id || !s->vpc_id)
		return;
	struct draft_subnet *slot = vec_push(&l->subnets, sizeof(*slot));
	if (slot)
		*slot = d;
}

/* Association.PublicIp of the private address priv: the ENI's own
 * Association is its primary address's, each PrivateIpAddresses entry's
 * is that address's (AWS-SEMANTICS §9). */
static void eni_public_ip(struct loader *l, const json_t *o, const char *path, struct eni *e,
			  const struct ip_addr *priv)
{
	const json_t *as = j_object(l, o, "Association", path, false);
	const char *pub;
	struct ip_addr a;
	if (as && priv && j_str(l, as, "PublicIp", jp_key(l, path, "Association"), false, &pub) &&
	    ld_addr(l, pub, jp_key(l, jp_key(l, path, "Association"), "PublicIp"), IP_V4, &a))
		ld_eni_public(l, e, priv, &a);
}

/* The primary address first: PrivateIpAddress, then PrivateIpAddresses in
 * order (the entry marked Primary is the same address). */
static void eni_ipv4(struct loader *l, const json_t *o, const char *path, struct eni *e)
{
	const char *s;
	struct ip_addr a;
	if (j_str(l, o, "PrivateIpAddress", path, false, &s) &&
	    ld_addr(l, s, jp_key(l, path, "PrivateIpAddress"), IP_V4, &a))
		ld_add_addr(l, &e->ipv4, &e->n_ipv4, &a);
	EACH(l, o, "PrivateIpAddresses", path, i, p, pp)
	{
		bool primary = false;
		if (!want_object(l, p, pp) || !j_str(l, p, "PrivateIpAddress", pp, true, &s) ||
		    !ld_addr(l, s, jp_key(l, pp, "PrivateIpAddress"), IP_V4, &a))
			continue;
		j_bool(l, p, "Primary", pp, false, &primary);
		if (primary && e->n_ipv4 && !ip_addr_eq(&e->ipv4[0], &a))
			ld_err(l, pp, "the primary address %s differs from PrivateIpAddress", s);
		ld_add_addr(l, &e->ipv4, &e->n_ipv4, &a);
		eni_public_ip(l, p, pp, e, &a);
	}
	EACH(l, o, "Ipv6Addresses", path, i, p, pp)
	{
		if (want_object(l, p, pp) && j_str(l, p, "Ipv6Address", pp, true, &s) &&
		    ld_addr(l, s, jp_key(l, pp, "Ipv6Address"), IP_V6, &a))
			ld_add_addr(l, &e->ipv6, &e->n_ipv6, &a);
	}
}

static void eni_groups(struct loader *l, const json_t *o, const char *path, struct draft_eni *d)
{
	size_t n = json_array_size(json_object_get(o, "Groups")); /* EACH reports a wrong type */
	d->groups = arena_calloc(l->a, n ? n : 1, sizeof(struct ref));
	if (!d->groups)
		return;
	EACH(l, o, "Groups", path, i, g, gp)
	{
		struct ref r = {NULL, ld_origin(l, gp)};
		if (want_object(l, g, gp) && j_str(l, g, "GroupId", gp, true, &r.id))
			d->groups[d->n_groups++] = r;
	}
}

/* One network interface, from describe-network-interfaces or nested in
 * describe-instances (then instance_id and instance_name come from there). */
static void aws_interface(struct loader *l, const json_t *o, const char *path,
			  const char *instance_id, const char *instance_name)
{
	struct draft_eni d = {
	    .from_aws = true,
	    .e = {.device_index = -1, .subnet = -1, .origin = ld_origin(l, path)}};
	struct eni *e = &d.e;
	bool ok = j_str(l, o, "NetworkInterfaceId", path, true, &e->id);
	d.subnet.at = ld_origin(l, jp_key(l, path, "SubnetId"));
	ok &= j_str(l, o, "SubnetId", path, true, &d.subnet.id);
	j_str(l, o, "VpcId", path, false, &d.vpc_id);
	j_str(l, o, "Description", path, false, &e->description);
	j_str(l, o, "InterfaceType", path, false, &d.iface_type);
	d.own_name = j_name_tag(l, o, path);
	d.instance_name = instance_name;
	e->instance_id = instance_id;
	const json_t *at = j_object(l, o, "Attachment", path, false);
	if (at) {
		const char *ap = jp_key(l, path, "Attachment");
		long long di;
		if (!instance_id)
			j_str(l, at, "InstanceId", ap, false, &e->instance_id);
		if (j_int(l, at, "DeviceIndex", ap, false, &di)) {
			if (di < 0 || di > 255)
				ld_err(l, jp_key(l, ap, "DeviceIndex"),
				       "device index %lld is outside 0-255", di);
			else
				e->device_index = (int32_t)di;
		}
	}
	d.addr_given = json_object_get(o, "PrivateIpAddress") ||
		       json_array_size(json_object_get(o, "PrivateIpAddresses")) ||
		       json_array_size(json_object_get(o, "Ipv6Addresses"));
	eni_ipv4(l, o, path, e);
	eni_public_ip(l, o, path, e, e->n_ipv4 ? &e->ipv4[0] : NULL);
	eni_groups(l, o, path, &d);
	if (ok)
		ld_add_eni(l, &d);
}

void aws_network_interface(struct loader *l, const json_t *o, const char *path)
{
	aws_interface(l, o, path, NULL, NULL);
}

static void aws_instance(struct loader *l, const json_t *o, const char *path)
{
	const char *id = NULL;
	if (!j_str(l, o, "InstanceId", path, true, &id))
		return;
	const char *name = j_name_tag(l, o, path);
	EACH(l, o, "NetworkInterfaces", path, i, n, np)
	{
		if (want_object(l, n, np))
			aws_interface(l, n, np, id, name);
	}
}

void aws_reservation(struct loader *l, const json_t *o, const char *path)
{
	ld_each_object(l, o, "Instances", path, aws_instance);
}

static const char *const route_targets[] = {
    "GatewayId",
    "NatGatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "NetworkInterfaceId",
    "InstanceId",
    "EgressOnlyInternetGatewayId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "CoreNetworkArn",
};

/* 0: no route (not an object, or a bad CIDR, reported); 1: *r; 2: a route
 * to the prefix list *pl_id, its CIDRs filled in later. */
static int aws_route(struct loader *l, const json_t *o, const char *path, struct route *r,
		     const char **pl_id)
{
	if (!want_object(l, o, path))
		return 0;
	memset(r, 0, sizeof(*r));
	const char *c4 = NULL, *c6 = NULL;
	bool h4 = j_str(l, o, "DestinationCidrBlock", path, false, &c4);
	bool h6 = j_str(l, o, "DestinationIpv6CidrBlock", path, false, &c6);
	bool hp = j_str(l, o, "DestinationPrefixListId", path, false, pl_id);
	if (h4 + h6 + hp != 1) {
		ld_err(l, path,
		       "a route needs exactly one of DestinationCidrBlock, "
		       "DestinationIpv6CidrBlock and DestinationPrefixListId");
		return 0;
	}
	if (h4 && !ld_prefix(l, c4, jp_key(l, path, "DestinationCidrBlock"), IP_V4, &r->dest))
		return 0;
	if (h6 && !ld_prefix(l, c6, jp_key(l, path, "DestinationIpv6CidrBlock"), IP_V6, &r->dest))
		return 0;
	for (size_t i = 0; i < sizeof(route_targets) / sizeof(route_targets[0]); i++)
		if (j_str(l, o, route_targets[i], path, false, &r->target))
			break;
	if (!r->target)
		r->target = "-";
	r->kind = route_kind(r->target);
	const char *state = NULL;
	if (j_str(l, o, "State", path, false, &state) &&
	    !ld_route_state(l, state, jp_key(l, path, "State"), &r->blackhole))
		return 0;
	return hp ? 2 : 1;
}

void aws_route_table(struct loader *l, const json_t *o, const char *path)
{
	struct draft_rt d = {.rt = {.vpc = -1, .origin = ld_origin(l, path)}};
	struct route_table *t = &d.rt;
	j_str(l, o, "RouteTableId", path, true, &t->id);
	j_str(l, o, "VpcId", path, true, &t->vpc_id);
	const json_t *routes = json_object_get(o, "Routes"); /* EACH reports a wrong type */
	t->routes =
	    arena_calloc(l->a, routes && json_array_size(routes) ? json_array_size(routes) : 1,
			 sizeof(struct route));
	const json_t *assocs = json_object_get(o, "Associations");
	d.assoc =
	    arena_calloc(l->a, assocs && json_array_size(assocs) ? json_array_size(assocs) : 1,
			 sizeof(struct ref));
	if (!t->routes || !d.assoc)
		return;
	d.from_aws = true;
	d.pl_routes =
	    arena_calloc(l->a, routes && json_array_size(routes) ? json_array_size(routes) : 1,
			 sizeof(struct pl_route));
	if (!d.pl_routes)
		return;
	EACH(l, o, "Routes", path, i, r, rp)
	{
		struct route ro;
		const char *pl = NULL;
		int k = aws_route(l, r, rp, &ro, &pl);
		if (k == 1) {
			t->routes[t->n_routes++] = ro;
		} else if (k == 2) {
			struct pl_route *pr = &d.pl_routes[d.n_pl_routes++];
			pr->r = ro;
			pr->pl_id = pl;
			pr->at = ld_origin(l, rp);
		}
	}
	EACH(l, o, "Associations", path, i, a, ap)
	{
		bool main = false;
		struct ref r = {NULL, ld_origin(l, ap)};
		if (!want_object(l, a, ap))
			continue;
		if (j_bool(l, a, "Main", ap, false, &main) && main)
			t->main = true;
		if (j_str(l, a, "SubnetId", ap, false, &r.id))
			d.assoc[d.n_assoc++] = r;
	}
	if (!t->id || !t->vpc_id)
		return;
	struct draft_rt *slot = vec_push(&l->rts, sizeof(*slot));
	if (slot)
		*slot = d;
}

void aws_prefix_list(struct loader *l, const json_t *o, const char *path)
{
	struct prefix_list p;
	memset(&p, 0, sizeof(p));
	p.origin = ld_origin(l, path);
	const char *fam = NULL;
	long long max = 0;
	bool ok = j_str(l, o, "PrefixListId", path, true, &p.id);
	j_str(l, o, "PrefixListName", path, false, &p.name);
	if (j_str(l, o, "AddressFamily", path, false, &fam))
		ld_family(l, fam, jp_key(l, path, "AddressFamily"), "IPv4 or IPv6", &p.family);
	if (j_int(l, o, "MaxEntries", path, false, &max)) {
		if (max < 0 || max > 100000)
			ld_err(l, jp_key(l, path, "MaxEntries"), "%lld entries is not valid", max);
		else
			p.max_entries = (uint32_t)max;
	}
	/* describe-prefix-lists (AWS-managed lists such as S3's) carries the
	 * CIDRs inline, where describe-managed-prefix-lists needs
	 * get-managed-prefix-list-entries. */
	const json_t *cidrs = json_object_get(o, "Cidrs");
	if (cidrs && json_array_size(cidrs))
		p.cidrs = arena_calloc(l->a, json_array_size(cidrs), sizeof(struct ip_prefix));
	EACH(l, o, "Cidrs", path, i, c, cp)
	{
		if (!json_is_string(c))
			ld_err(l, cp, "expected a CIDR string, found %s", json_kind(c));
		else if (p.cidrs && ld_prefix(l, json_string_value(c), cp, 0, &p.cidrs[p.n_cidrs]))
			p.n_cidrs++;
	}
	if (p.n_cidrs && !p.family)
		p.family = p.cidrs[0].addr.family;
	if (!ok)
		return;
	struct prefix_list *slot = vec_push(&l->pls, sizeof(*slot));
	if (slot)
		*slot = p;
}

/* "…/pl-0abc123.json" -> "pl-0abc123": the id the entries belong to. */
static const char *pl_id_from_name(struct loader *l, const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	const char *p = strstr(base, "pl-");
	while (p) {
		size_t n = 0;
		while (p[3 + n] && strchr("0123456789abcdef", p[3 + n]))
			n++;
		if (n >= 8) {
			char *id = arena_strdup(l->a, p);
			if (id)
				id[3 + n] = '\0';
			return id;
		}
		p = strstr(p + 3, "pl-");
	}
	return NULL;
}

void aws_load_prefix_list_entries(struct loader *l, const json_t *root, const char *name)
{
	struct draft_pl_entries d;
	memset(&d, 0, sizeof(d));
	d.origin = ld_origin(l, "Entries");
	d.id = pl_id_from_name(l, name);
	if (!d.id) {
		ld_warn(l, "Entries",
			"get-managed-prefix-list-entries output carries no id: entries skipped "
			"(name the file after the prefix list, e.g. pl-0123456789abcdef0.json)");
		return;
	}
	const json_t *arr = j_array(l, root, "Entries", "", true);
	if (!arr)
		return;
	d.cidrs = arena_calloc(l->a, json_array_size(arr) ? json_array_size(arr) : 1,
			       sizeof(struct ip_prefix));
	if (!d.cidrs)
		return;
	EACH(l, root, "Entries", "", i, e, ep)
	{
		const char *c;
		if (want_object(l, e, ep) && j_str(l, e, "Cidr", ep, true, &c) &&
		    ld_prefix(l, c, jp_key(l, ep, "Cidr"), 0, &d.cidrs[d.n_cidrs]))
			d.n_cidrs++;
	}
	struct draft_pl_entries *slot = vec_push(&l->pl_entries, sizeof(*slot));
	if (slot)
		*slot = d;
}
