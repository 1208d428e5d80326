/*
 * The resolver's checks of ENIs and outside hosts: groups (AWS's quotas),
 * addresses inside their subnet and off AWS's reserved ones, timeouts,
 * unique addresses, device indices and names; then each group's members.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-resolve-private.h"

#define ENI_QUOTA_GROUPS 5
#define ENI_MAX_GROUPS 16
#define ENI_QUOTA_GROUP_RULES 1000

static const char *fmt_addr(struct loader *l, const struct ip_addr *a)
{
	char buf[IP_ADDR_STRLEN];
	return arena_strdup(l->tmp, ip_addr_format(a, buf, sizeof(buf)));
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
		int32_t g = ld_ix_find(&l->ix_groups, r->id);
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
	/* an NLB's node: load_lb_resolve.c says whether its load balancer is known */
	bool nlb_node = ld_streq(d->iface_type, "network_load_balancer");
	if (d->n_groups == 0 && nlb_node)
		;
	else if (d->n_groups == 0 && d->from_aws && d->iface_type &&
		 strcmp(d->iface_type, "interface"))
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

void ld_check_enis(struct loader *l, struct lab *lab, struct draft_eni *drafts)
{
	for (size_t i = 0; i < lab->n_enis; i++) {
		struct eni *e = &lab->enis[i];
		const struct draft_eni *d = &drafts[i];
		e->name = d->own_name ? d->own_name : d->instance_name;
		e->instance_name = d->instance_name;
		e->subnet = d->subnet.id ? ld_ix_find(&l->ix_subnets, d->subnet.id) : -1;
		if (e->subnet < 0 && d->subnet.id)
			ld_err_at(l, &d->subnet.at, NULL, "unknown subnet %s", d->subnet.id);
		if (e->subnet >= 0 && d->vpc_id &&
		    !ld_streq(d->vpc_id, lab->subnets[e->subnet].vpc_id))
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

void ld_check_outside(struct loader *l, struct lab *lab)
{
	for (size_t i = 0; i < lab->n_outside; i++) {
		struct outside_host *h = &lab->outside[i];
		for (size_t k = 0; k < i; k++)
			if (ld_streq(lab->outside[k].name, h->name))
				ld_err_at(l, &h->origin, "name",
					  "outside host '%s' is declared twice", h->name);
		for (size_t k = 0; k < lab->n_enis; k++)
			if (ld_streq(lab->enis[k].name, h->name))
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
void ld_fill_members(struct loader *l, struct lab *lab)
{
	for (size_t g = 0; g < lab->n_groups; g++) {
		struct security_group *sg = &lab->groups[g];
		size_t n = 0;
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < lab->n_enis; i++) {
				const struct eni *e = &lab->enis[i];
				if (!lab_eni_has_group(e, (int32_t)g))
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

void ld_check_unique_addrs(struct loader *l, struct lab *lab)
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

/* The ENIs keep() accepts, sorted by cmp (a heap array; NULL without
 * memory). */
static struct eni_key *sorted_enis(struct lab *lab, bool (*keep)(const struct eni *),
				   int (*cmp)(const void *, const void *), size_t *n)
{
	struct eni_key *keys = calloc(lab->n_enis ? lab->n_enis : 1, sizeof(*keys));
	*n = 0;
	if (!keys)
		return NULL;
	for (size_t i = 0; i < lab->n_enis; i++)
		if (keep(&lab->enis[i]))
			keys[(*n)++] = (struct eni_key){.lab = lab, .eni = i};
	qsort(keys, *n, sizeof(*keys), cmp);
	return keys;
}

static bool has_device(const struct eni *e)
{
	return e->instance_id && e->device_index >= 0;
}

static bool has_name(const struct eni *e)
{
	return e->name != NULL;
}

/* One ENI per device index of an instance. */
void ld_check_devices(struct loader *l, struct lab *lab)
{
	size_t n;
	struct eni_key *keys = sorted_enis(lab, has_device, cmp_device, &n);
	if (!keys)
		return;
	for (size_t i = 1; i < n; i++) {
		const struct eni *o = &lab->enis[keys[i - 1].eni], *e = &lab->enis[keys[i].eni];
		if (ld_streq(o->instance_id, e->instance_id) && o->device_index == e->device_index)
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
void ld_check_names(struct loader *l, struct lab *lab)
{
	size_t n;
	struct eni_key *keys = sorted_enis(lab, has_name, cmp_name, &n);
	if (!keys)
		return;
	for (size_t i = 0; i < n;) {
		const struct eni *first = &lab->enis[keys[i].eni];
		bool clash = false;
		size_t k = i + 1;
		for (; k < n && ld_streq(lab->enis[keys[k].eni].name, first->name); k++) {
			const struct eni *o = &lab->enis[keys[k].eni];
			clash |=
			    !first->instance_id || !ld_streq(o->instance_id, first->instance_id);
		}
		if (clash)
			ld_warn_at(l, &first->origin, NULL,
				   "several ENIs are named '%s': name them by id or address",
				   first->name);
		i = k;
	}
	free(keys);
}
