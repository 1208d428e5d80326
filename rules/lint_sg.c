/*
 * The lint checks on security groups: sg-redundant (rules as a union,
 * §3), open-admin-port, sg-ref-empty, sg-unattached and the SG half of
 * family-gap. Verdicts come from rules/sg, never a copy of its logic.
 *
 * Not for: NACL checks (lint_nacl.c), the findings and the driver (lint.c).
 */
#include "lint.h"
#include "lint-private.h"

#include <stdio.h>
#include <string.h>

#include "sg.h"

/* ---- sg-redundant ---- */

static size_t group_enis(const struct lab *lab, int32_t g)
{
	size_t n = 0;
	for (size_t i = 0; i < lab->n_enis; i++)
		for (size_t k = 0; k < lab->enis[i].n_groups; k++)
			n += lab->enis[i].groups[k] == g;
	return n;
}

/* Whether every ENI carrying g (at least one) carries h too: then h's
 * rules apply wherever g's do. */
static bool always_with(const struct lab *lab, int32_t g, int32_t h)
{
	size_t n = 0;
	for (size_t i = 0; i < lab->n_enis; i++) {
		if (!lab_eni_has_group(&lab->enis[i], g))
			continue;
		if (!lab_eni_has_group(&lab->enis[i], h))
			return false;
		n++;
	}
	return n > 0;
}

/* Whether outer's peer includes every address inner's does. Group
 * membership changes as instances come and go, so a group is covered only
 * by itself; a prefix list by itself or a CIDR covering all its entries. */
static bool peer_covers(const struct lab *lab, const struct sg_rule *outer,
			const struct sg_rule *inner)
{
	switch (inner->peer_kind) {
	case SG_PEER_CIDR:
		return outer->peer_kind == SG_PEER_CIDR &&
		       ip_prefix_covers(&outer->cidr, &inner->cidr);
	case SG_PEER_GROUP:
		return outer->peer_kind == SG_PEER_GROUP && outer->peer == inner->peer &&
		       inner->peer >= 0;
	case SG_PEER_PREFIX_LIST:
		if (outer->peer_kind == SG_PEER_PREFIX_LIST)
			return outer->peer == inner->peer && inner->peer >= 0;
		if (outer->peer_kind != SG_PEER_CIDR || inner->peer < 0 ||
		    !lab->prefix_lists[inner->peer].n_cidrs)
			return false;
		for (size_t i = 0; i < lab->prefix_lists[inner->peer].n_cidrs; i++)
			if (!ip_prefix_covers(&outer->cidr,
					      &lab->prefix_lists[inner->peer].cidrs[i]))
				return false;
		return true;
	}
	return false;
}

static bool sg_rule_covers(const struct lab *lab, const struct sg_rule *outer,
			   const struct sg_rule *inner)
{
	return outer->egress == inner->egress &&
	       lint_proto_covers(outer->protocol, inner->protocol) &&
	       lint_keys_cover(lint_rule_keys(outer), lint_rule_keys(inner), outer->protocol) &&
	       peer_covers(lab, outer, inner);
}

/* AWS's default outbound rule, which every new group gets: all traffic to
 * 0.0.0.0/0 (and ::/0). Two groups on one ENI both carry it as a matter
 * of course, and it makes every egress rule of the ENI's other groups
 * redundant; calling those redundant is noise. */
static bool is_default_egress(const struct sg_rule *x)
{
	return x->egress && x->protocol == PROTO_ALL && x->peer_kind == SG_PEER_CIDR &&
	       ip_prefix_is_all(&x->cidr);
}

/* The rule making (g, r) redundant, or false. Of two identical rules only
 * the later one (in rule_index order) is reported. */
static bool find_cover(const struct lab *lab, int32_t g, size_t r, int32_t *og, size_t *orr)
{
	const struct sg_rule *x = &lab->groups[g].rules[r];
	if (is_default_egress(x))
		return false;
	for (size_t h = 0; h < lab->n_groups; h++) {
		if ((int32_t)h != g && !always_with(lab, g, (int32_t)h))
			continue;
		for (size_t k = 0; k < lab->groups[h].n_rules; k++) {
			const struct sg_rule *y = &lab->groups[h].rules[k];
			if (((int32_t)h == g && k == r) || !sg_rule_covers(lab, y, x))
				continue;
			/* another group's default outbound rule covers every egress
			 * rule of its ENIs' other groups as a matter of course */
			if ((int32_t)h != g && is_default_egress(y))
				continue;
			bool later = (int32_t)h > g || ((int32_t)h == g && k > r);
			if (sg_rule_covers(lab, x, y) && later)
				continue; /* identical: the later one is the redundant one */
			*og = (int32_t)h;
			*orr = k;
			return true;
		}
	}
	return false;
}

/* Runs check on every rule of every group. */
static void each_sg_rule(struct lint_ctx *c, void (*check)(struct lint_ctx *c, int32_t g, size_t r))
{
	for (size_t g = 0; g < c->lab->n_groups; g++)
		for (size_t r = 0; r < c->lab->groups[g].n_rules; r++)
			check(c, (int32_t)g, r);
}

static void sg_redundant_one(struct lint_ctx *c, int32_t g, size_t r)
{
	char t1[320], t2[320];
	int32_t og;
	size_t orr;
	if (!find_cover(c->lab, g, r, &og, &orr))
		return;
	struct lint_finding *f =
	    lint_add(c, "sg-redundant", "%s allows nothing that %s does not: %s",
		     lint_rtext(c->lab, lint_sg_ref_of(c->lab, g, r), t1, sizeof(t1)),
		     lint_rtext(c->lab, lint_sg_ref_of(c->lab, og, orr), t2, sizeof(t2)),
		     og == g ? "same group" : "that group is on every ENI this one is on");
	lint_add_rule(f, lint_sg_ref_of(c->lab, g, r));
	lint_add_rule(f, lint_sg_ref_of(c->lab, og, orr));
}

void lint_check_sg_redundant(struct lint_ctx *c)
{
	each_sg_rule(c, sg_redundant_one);
}

/* ---- open-admin-port ---- */

static const struct {
	uint16_t port;
	int proto; /* PROTO_TCP, or PROTO_ALL for TCP and UDP */
	const char *what;
} admin_ports[] = {
    {22, PROTO_TCP, "SSH"},
    {23, PROTO_TCP, "Telnet"},
    {3389, PROTO_ALL, "RDP"},
    {5985, PROTO_TCP, "WinRM"},
    {5986, PROTO_TCP, "WinRM"},
    {3306, PROTO_TCP, "MySQL"},
    {5432, PROTO_TCP, "PostgreSQL"},
    {1433, PROTO_TCP, "SQL Server"},
    {1521, PROTO_TCP, "Oracle"},
    {6379, PROTO_TCP, "Redis"},
    {11211, PROTO_ALL, "Memcached"},
    {27017, PROTO_TCP, "MongoDB"},
    {9200, PROTO_TCP, "Elasticsearch"},
    {9300, PROTO_TCP, "Elasticsearch"},
    {2379, PROTO_TCP, "etcd"},
};

static bool opens_port(const struct sg_rule *r, int proto, uint16_t port)
{
	if (r->protocol == PROTO_ALL)
		return true;
	if (r->protocol != PROTO_TCP && r->protocol != PROTO_UDP)
		return false;
	if (proto != PROTO_ALL && r->protocol != proto)
		return false;
	struct keys k = lint_rule_keys(r);
	return port >= k.lo && port <= k.hi;
}

/* A peer of every address: 0.0.0.0/0, ::/0, or a prefix list holding one. */
static bool peer_is_everyone(const struct lab *lab, const struct sg_rule *x)
{
	if (x->peer_kind == SG_PEER_CIDR)
		return ip_prefix_is_all(&x->cidr);
	if (x->peer_kind != SG_PEER_PREFIX_LIST || x->peer < 0)
		return false;
	const struct prefix_list *pl = &lab->prefix_lists[x->peer];
	for (size_t i = 0; i < pl->n_cidrs; i++)
		if (ip_prefix_is_all(&pl->cidrs[i]))
			return true;
	return false;
}

static void admin_one(struct lint_ctx *c, int32_t g, size_t r)
{
	char t[320], list[256];
	const struct sg_rule *x = &c->lab->groups[g].rules[r];
	if (x->egress || !peer_is_everyone(c->lab, x))
		return;
	size_t off = 0, n = 0;
	list[0] = '\0';
	for (size_t i = 0; i < sizeof(admin_ports) / sizeof(admin_ports[0]); i++) {
		if (!opens_port(x, admin_ports[i].proto, admin_ports[i].port) ||
		    off >= sizeof(list))
			continue;
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u (%s)",
					n++ ? ", " : "", admin_ports[i].port, admin_ports[i].what);
	}
	if (!n)
		return;
	struct lint_finding *f =
	    lint_add(c, "open-admin-port", "%s opens %s to every address on the internet",
		     lint_rtext(c->lab, lint_sg_ref_of(c->lab, g, r), t, sizeof(t)), list);
	lint_add_rule(f, lint_sg_ref_of(c->lab, g, r));
}

void lint_check_admin(struct lint_ctx *c)
{
	each_sg_rule(c, admin_one);
}

/* ---- sg-ref-empty, sg-unattached ---- */

void lint_check_refs(struct lint_ctx *c)
{
	char t[320];
	for (size_t g = 0; g < c->lab->n_groups; g++) {
		const struct security_group *sg = &c->lab->groups[g];
		if (!group_enis(c->lab, (int32_t)g)) {
			/* its rules match nothing anyway: one finding for the group */
			if (sg->name && !strcmp(sg->name, "default"))
				continue;
			struct lint_finding *f = lint_add(
			    c, "sg-unattached",
			    "%s%s%s%s is attached to no ENI: its rules apply to nothing", sg->id,
			    sg->name ? " (" : "", sg->name ? sg->name : "", sg->name ? ")" : "");
			if (f)
				f->group = (int32_t)g;
			continue;
		}
		for (size_t r = 0; r < sg->n_rules; r++) {
			const struct sg_rule *x = &sg->rules[r];
			if (x->peer_kind != SG_PEER_GROUP || x->peer < 0 ||
			    group_enis(c->lab, x->peer))
				continue;
			struct lint_finding *f = lint_add(
			    c, "sg-ref-empty",
			    "%s references %s, which no ENI carries: the rule matches nobody",
			    lint_rtext(c->lab, lint_sg_ref_of(c->lab, (int32_t)g, r), t, sizeof(t)),
			    x->peer_id);
			lint_add_rule(f, lint_sg_ref_of(c->lab, (int32_t)g, r));
		}
	}
}

/* ---- family-gap ---- */

/* A dual-stack ENI carrying group g, or -1. */
static int32_t dual_eni_with(const struct lab *lab, int32_t g)
{
	for (size_t i = 0; i < lab->n_enis; i++)
		if (lab->enis[i].n_ipv4 && lab->enis[i].n_ipv6 &&
		    lab_eni_has_group(&lab->enis[i], g))
			return (int32_t)i;
	return -1;
}

static void gap_sg_rule(struct lint_ctx *c, int32_t g, size_t r, int32_t eni)
{
	const struct sg_rule *x = &c->lab->groups[g].rules[r];
	const struct eni *e = &c->lab->enis[eni];
	struct ip_addr other;
	uint8_t fam = x->cidr.addr.family;
	if (x->protocol != PROTO_ALL && x->protocol != PROTO_TCP && x->protocol != PROTO_UDP)
		return;
	if (!lint_internet_addr(c->lab, lint_other_family(fam), &other))
		return;
	struct flow f;
	memset(&f, 0, sizeof(f));
	f.proto = x->protocol == PROTO_ALL ? PROTO_TCP : (uint8_t)x->protocol;
	f.dport = x->protocol == PROTO_ALL ? 443 : (uint16_t)lint_rule_keys(x).lo;
	const struct ip_addr *self = other.family == IP_V6 ? &e->ipv6[0] : &e->ipv4[0];
	f.src = x->egress ? *self : other;
	f.dst = x->egress ? other : *self;
	struct sg_match m;
	if (sg_evaluate(c->lab, e, x->egress, &f, &m))
		return;
	char t1[320], proto[16];
	flow_proto_name(f.proto, proto, sizeof(proto));
	struct lint_finding *fd =
	    lint_add(c, "family-gap",
		     "%s, but %s (dual-stack) allows no %s %s port %u %s all %s addresses: %s shut "
		     "(or %s open) by accident?",
		     lint_rtext(c->lab, lint_sg_ref_of(c->lab, g, r), t1, sizeof(t1)),
		     lab_eni_label(c->lab, eni), lint_fam_name(other.family), proto, f.dport,
		     x->egress ? "to" : "from", lint_fam_name(other.family),
		     lint_fam_name(other.family), lint_fam_name(fam));
	lint_add_rule(fd, lint_sg_ref_of(c->lab, g, r));
}

void lint_check_gap_sg(struct lint_ctx *c)
{
	for (size_t g = 0; g < c->lab->n_groups; g++) {
		int32_t eni = dual_eni_with(c->lab, (int32_t)g);
		if (eni < 0)
			continue;
		for (size_t r = 0; r < c->lab->groups[g].n_rules; r++) {
			const struct sg_rule *x = &c->lab->groups[g].rules[r];
			if (x->peer_kind == SG_PEER_CIDR && ip_prefix_is_all(&x->cidr))
				gap_sg_rule(c, (int32_t)g, r, eni);
		}
	}
}
