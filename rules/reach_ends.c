/*
 * The endpoints `vpcfw diff` compares (reach_diff in reach.h): every ENI of
 * either lab, matched across the two by ENI id or a unique Name tag, each
 * ENI with a public IPv4 address once more as a hairpin's destination,
 * and one representative address per outside CIDR the rules name. Only the
 * choice of endpoints; what is compared between them is reach_diff.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reach-private.h"
#include "vec.h"

static int ends_push(struct rd_ends *l, const struct rd_end *e)
{
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	l->v[l->n++] = *e;
	return 0;
}

void reach_ends_free(struct rd_ends *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].label);
	free(l->v);
}

static size_t name_count(const struct lab *lab, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; name && i < lab->n_enis; i++)
		n += lab->enis[i].name && !strcmp(lab->enis[i].name, name);
	return n;
}

static bool eni_id_in(const struct lab *lab, const char *id)
{
	for (size_t i = 0; i < lab->n_enis; i++)
		if (!strcmp(lab->enis[i].id, id))
			return true;
	return false;
}

/* Old ENIs sorted by (id, index), to find an id without a scan of every
 * ENI for each: an account has thousands. */
struct id_entry {
	const char *id;
	int32_t eni;
};

struct id_index {
	const struct lab *lab;
	struct id_entry *v;
};

static int id_cmp(const void *a, const void *b)
{
	const struct id_entry *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	return c ? c : (x->eni > y->eni) - (x->eni < y->eni);
}

static int id_index_build(const struct lab *lab, struct id_index *ix)
{
	ix->lab = lab;
	ix->v = malloc((lab->n_enis + 1) * sizeof(*ix->v));
	if (!ix->v)
		return -ENOMEM;
	for (size_t i = 0; i < lab->n_enis; i++)
		ix->v[i] = (struct id_entry){lab->enis[i].id, (int32_t)i};
	qsort(ix->v, lab->n_enis, sizeof(*ix->v), id_cmp);
	return 0;
}

/* The lowest-numbered ENI not taken with this id, or -1. */
static int32_t id_find(const struct id_index *ix, const char *id, const bool *taken)
{
	size_t lo = 0, hi = ix->lab->n_enis;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(ix->v[mid].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ix->lab->n_enis && !strcmp(ix->v[lo].id, id); lo++)
		if (!taken[ix->v[lo].eni])
			return ix->v[lo].eni;
	return -1;
}

/* The old ENI the new one j continues: same ENI id, else the same Name
 * tag when that Name is unique in both labs. */
static int32_t eni_match(const struct id_index *old_ids, const struct lab *new_lab, size_t j,
			 const bool *taken)
{
	const struct lab *old_lab = old_ids->lab;
	const struct eni *e = &new_lab->enis[j];
	int32_t by_id = id_find(old_ids, e->id, taken);
	if (by_id >= 0)
		return by_id;
	if (!e->name || name_count(new_lab, e->name) != 1 || name_count(old_lab, e->name) != 1)
		return -1;
	for (size_t i = 0; i < old_lab->n_enis; i++)
		if (!taken[i] && old_lab->enis[i].name && !strcmp(old_lab->enis[i].name, e->name) &&
		    !eni_id_in(new_lab, old_lab->enis[i].id))
			return (int32_t)i;
	return -1;
}

static int end_cmp(const void *a, const void *b)
{
	const struct rd_end *x = a, *y = b;
	if (x->outside != y->outside)
		return x->outside ? 1 : -1;
	if (x->outside)
		return x->addr.family != y->addr.family ? x->addr.family - y->addr.family
							: ip_addr_cmp(&x->addr, &y->addr);
	return strcmp(x->label, y->label);
}

static int eni_end(struct rd_ends *l, const struct lab *lab, int32_t old_i, int32_t new_i)
{
	struct rd_end e = {.eni = {old_i, new_i}};
	e.label = strdup(lab_eni_label(lab, new_i >= 0 ? new_i : old_i));
	if (!e.label || ends_push(l, &e) < 0) {
		free(e.label);
		return -ENOMEM;
	}
	return 0;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether two ends share a label; -ENOMEM. Sorted, so that the usual
 * answer, no, takes no quadratic scan. */
static int any_shared_label(const struct rd_ends *l)
{
	char **v = malloc((l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		v[i] = l->v[i].label;
	qsort(v, l->n, sizeof(*v), label_cmp);
	int any = 0;
	for (size_t i = 1; i < l->n && !any; i++)
		any = !strcmp(v[i - 1], v[i]);
	free(v);
	return any;
}

/* Two ENIs with one label would print as one: name them by ENI id. */
static int unique_labels(struct rd_ends *l, const struct lab *old_lab, const struct lab *new_lab)
{
	int any = any_shared_label(l);
	if (any <= 0)
		return any;
	for (size_t i = 0; i < l->n; i++) {
		bool dup = false;
		for (size_t k = 0; k < l->n && !dup; k++)
			dup = k != i && !strcmp(l->v[i].label, l->v[k].label);
		if (!dup)
			continue;
		const struct rd_end *e = &l->v[i];
		const char *id =
		    e->eni[1] >= 0 ? new_lab->enis[e->eni[1]].id : old_lab->enis[e->eni[0]].id;
		char *s = strdup(id);
		if (!s)
			return -ENOMEM;
		free(l->v[i].label);
		l->v[i].label = s;
	}
	return 0;
}

/* Each ENI with a public IPv4 address in either lab, once more as the
 * destination of hairpins (rd_end.via_public), labelled apart. */
static int public_ends(const struct lab *old_lab, const struct lab *new_lab, struct rd_ends *l)
{
	const struct lab *labs[2] = {old_lab, new_lab};
	size_t n = l->n;
	for (size_t i = 0; i < n; i++) {
		struct rd_end e = l->v[i];
		bool has = false;
		for (int s = 0; s < 2; s++)
			has |= e.eni[s] >= 0 && labs[s]->enis[e.eni[s]].has_public_ip;
		if (!has)
			continue;
		size_t len = strlen(e.label) + sizeof(" (public IP)");
		e.label = malloc(len);
		if (!e.label)
			return -ENOMEM;
		snprintf(e.label, len, "%s (public IP)", l->v[i].label);
		e.via_public = true;
		e.dest_only = true;
		if (ends_push(l, &e) < 0) {
			free(e.label);
			return -ENOMEM;
		}
	}
	return 0;
}

static int collect_enis(const struct lab *old_lab, const struct lab *new_lab, struct rd_ends *l)
{
	bool *taken = calloc(old_lab->n_enis + 1, sizeof(*taken));
	struct id_index old_ids = {0};
	int r = taken ? id_index_build(old_lab, &old_ids) : -ENOMEM;
	for (size_t j = 0; j < new_lab->n_enis && !r; j++) {
		int32_t i = eni_match(&old_ids, new_lab, j, taken);
		if (i >= 0)
			taken[i] = true;
		r = eni_end(l, new_lab, i, (int32_t)j);
	}
	for (size_t i = 0; i < old_lab->n_enis && !r; i++)
		if (!taken[i])
			r = eni_end(l, old_lab, (int32_t)i, -1);
	free(taken);
	free(old_ids.v);
	if (!r)
		r = unique_labels(l, old_lab, new_lab);
	if (!r)
		r = public_ends(old_lab, new_lab, l);
	return r;
}

/* ---- outside representatives ---- */

int reach_rule_cidrs(const struct lab *lab, int (*add)(void *arg, const struct ip_prefix *p),
		     void *arg)
{
	int r = 0;
	for (size_t i = 0; i < lab->n_nacls && !r; i++) {
		const struct nacl *a = &lab->nacls[i];
		for (size_t k = 0; k < a->n_ingress && !r; k++)
			r = add(arg, &a->ingress[k].cidr);
		for (size_t k = 0; k < a->n_egress && !r; k++)
			r = add(arg, &a->egress[k].cidr);
	}
	for (size_t i = 0; i < lab->n_groups && !r; i++)
		for (size_t k = 0; k < lab->groups[i].n_rules && !r; k++)
			if (lab->groups[i].rules[k].peer_kind == SG_PEER_CIDR)
				r = add(arg, &lab->groups[i].rules[k].cidr);
	for (size_t i = 0; i < lab->n_prefix_lists && !r; i++)
		for (size_t k = 0; k < lab->prefix_lists[i].n_cidrs && !r; k++)
			r = add(arg, &lab->prefix_lists[i].cidrs[k]);
	for (size_t i = 0; i < lab->n_route_tables && !r; i++)
		for (size_t k = 0; k < lab->route_tables[i].n_routes && !r; k++)
			r = add(arg, &lab->route_tables[i].routes[k].dest);
	return r;
}

int reach_vpc_cidrs(const struct lab *lab, struct ip_prefix_list *l, bool unique)
{
	int r = 0;
	for (size_t i = 0; i < lab->n_vpcs && !r; i++) {
		for (size_t k = 0; k < lab->vpcs[i].n_cidrs && !r; k++)
			r = ip_prefix_list_add(l, &lab->vpcs[i].cidrs[k], unique);
		for (size_t k = 0; k < lab->vpcs[i].n_cidrs6 && !r; k++)
			r = ip_prefix_list_add(l, &lab->vpcs[i].cidrs6[k], unique);
	}
	return r;
}

static int pfx_add_cb(void *l, const struct ip_prefix *p)
{
	return ip_prefix_list_add(l, p, true);
}

/* Every CIDR a rule, prefix list or route of the lab names. */
static int rule_cidrs(const struct lab *lab, struct ip_prefix_list *l)
{
	return reach_rule_cidrs(lab, pfx_add_cb, l);
}

/* What a representative must avoid: VPC blocks and ENI addresses. hosts
 * may repeat (first_free does not mind): an account has thousands, too
 * many to keep unique by scanning. */
static int inside_cidrs(const struct lab *lab, struct ip_prefix_list *vpcs,
			struct ip_prefix_list *hosts)
{
	int r = reach_vpc_cidrs(lab, vpcs, true);
	for (size_t i = 0; i < lab->n_enis && !r; i++) {
		const struct eni *e = &lab->enis[i];
		struct ip_prefix h;
		for (size_t k = 0; k < e->n_ipv4 && !r; k++) {
			ip_prefix_host(&e->ipv4[k], &h);
			r = ip_prefix_list_add(hosts, &h, false);
		}
		for (size_t k = 0; k < e->n_ipv6 && !r; k++) {
			ip_prefix_host(&e->ipv6[k], &h);
			r = ip_prefix_list_add(hosts, &h, false);
		}
		/* an ENI's public IP is compared as the ENI itself (from
		 * outside) or a hairpin to it (public_ends), never as outside */
		if (e->has_public_ip && !r) {
			ip_prefix_host(&e->public_ip, &h);
			r = ip_prefix_list_add(hosts, &h, false);
		}
	}
	return r;
}

static int pfx_start_cmp(const void *a, const void *b)
{
	const struct ip_prefix *x = a, *y = b;
	int c = ip_addr_cmp(&x->addr, &y->addr);
	return c ? c : (x->len > y->len) - (x->len < y->len); /* wider first */
}

static bool covered_by_any(const struct ip_prefix_list *l, const struct ip_prefix *p)
{
	for (size_t i = 0; i < l->n; i++)
		if (ip_prefix_covers(&l->v[i], p))
			return true;
	return false;
}

/* The lowest address of c inside none of the strictly narrower prefixes
 * of avoid; false when they cover all of c. Prefixes nest or are
 * disjoint, so one pass over them sorted by start finds it. */
static bool first_free(const struct ip_prefix *c, const struct ip_prefix_list *avoid,
		       struct ip_prefix *tmp, struct ip_addr *out)
{
	size_t n = 0;
	for (size_t i = 0; i < avoid->n; i++)
		if (!ip_prefix_eq(&avoid->v[i], c) && ip_prefix_covers(c, &avoid->v[i]))
			tmp[n++] = avoid->v[i];
	qsort(tmp, n, sizeof(*tmp), pfx_start_cmp);
	struct ip_addr cand = c->addr, last, hi;
	ip_prefix_last(c, &last);
	for (size_t i = 0; i < n; i++) {
		ip_prefix_last(&tmp[i], &hi);
		if (ip_addr_cmp(&hi, &cand) < 0)
			continue;
		if (ip_addr_cmp(&tmp[i].addr, &cand) > 0)
			break;
		if (ip_addr_cmp(&hi, &last) >= 0)
			return false;
		cand = hi;
		ip_addr_next(&cand); /* below last: never wraps */
	}
	*out = cand;
	return true;
}

static int outside_end(struct rd_ends *l, const struct ip_prefix *c, const struct ip_addr *a,
		       bool dest_only)
{
	char buf[IP_PREFIX_STRLEN];
	struct rd_end e = {.eni = {-1, -1}, .outside = true, .dest_only = dest_only, .addr = *a};
	e.label = strdup(ip_prefix_format(c, buf, sizeof(buf)));
	if (!e.label || ends_push(l, &e) < 0) {
		free(e.label);
		return -ENOMEM;
	}
	return 0;
}

/* The VPC's service addresses outside its blocks
 * (pipeline_service_prefixes): under a named CIDR they behave unlike the
 * rest of it, so each gets a representative of its own, appended to
 * named. They are compared as destinations only: a service opens no
 * connection. */
static int service_cidrs(struct ip_prefix_list *named)
{
	struct ip_prefix services[PIPELINE_SERVICE_PREFIXES];
	size_t n_services = pipeline_service_prefixes(services);
	size_t n = named->n;
	int r = 0;
	for (size_t i = 0; i < n_services && !r; i++)
		for (size_t k = 0; k < n && !r; k++)
			if (ip_prefix_covers(&named->v[k], &services[i])) {
				r = ip_prefix_list_add(named, &services[i], true);
				break;
			}
	return r;
}

/* A named /32 that is an ENI's public IP (first_free avoids only the
 * narrower ones): the ENI's, compared as the ENI or a hairpin to it. */
static bool is_public_ip(const struct lab *lab, const struct ip_addr *a)
{
	struct ip_addr priv;
	return a->family == IP_V4 && lab_private_of_public(lab, a, &priv) >= 0;
}

/* One address per distinct outside CIDR: all addresses of c outside
 * every narrower named CIDR, VPC block and ENI match exactly the same
 * rules and routes, so the first of them speaks for the whole class. */
static int collect_outside(const struct lab *old_lab, const struct lab *new_lab, struct rd_ends *l)
{
	struct ip_prefix_list named = {0}, vpcs = {0}, avoid = {0};
	int r = rule_cidrs(old_lab, &named);
	if (!r)
		r = rule_cidrs(new_lab, &named);
	size_t n_rules = named.n;
	if (!r)
		r = service_cidrs(&named);
	if (!r)
		r = inside_cidrs(old_lab, &vpcs, &avoid);
	if (!r)
		r = inside_cidrs(new_lab, &vpcs, &avoid);
	for (size_t i = 0; i < named.n && !r; i++)
		r = ip_prefix_list_add(&avoid, &named.v[i], false);
	for (size_t i = 0; i < vpcs.n && !r; i++)
		r = ip_prefix_list_add(&avoid, &vpcs.v[i], false);
	struct ip_prefix *tmp = r ? NULL : malloc((avoid.n + 1) * sizeof(*tmp));
	if (!r && !tmp)
		r = -ENOMEM;
	for (size_t i = 0; i < named.n && !r; i++) {
		struct ip_addr a;
		if (covered_by_any(&vpcs, &named.v[i]) ||
		    !first_free(&named.v[i], &avoid, tmp, &a) || is_public_ip(old_lab, &a) ||
		    is_public_ip(new_lab, &a))
			continue;
		r = outside_end(l, &named.v[i], &a, i >= n_rules);
	}
	free(tmp);
	free(named.v);
	free(vpcs.v);
	free(avoid.v);
	return r;
}

int reach_ends_collect(const struct lab *old_lab, const struct lab *new_lab, struct rd_ends *l)
{
	int r = collect_enis(old_lab, new_lab, l);
	if (!r)
		r = collect_outside(old_lab, new_lab, l);
	if (!r)
		reach_sort(l->v, l->n, sizeof(*l->v), end_cmp);
	return r;
}
