/*
 * Security group evaluation (AWS-SEMANTICS §3) and the untracked-flow
 * decision (§4). Rules are allow-only, so the first rule that allows is as
 * good an answer as any for the verdict; we report the first in group
 * order, then rule order, so explanations are stable.
 */
#include "sg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool valid_index(int32_t i, size_t n)
{
	return i >= 0 && (size_t)i < n;
}

/* Whether group g's members hold a: a binary search in the sorted copy
 * when the caller built one (sg_members), else a scan. */
static bool group_has(const struct lab *lab, const struct sg_members *idx, int32_t g,
		      const struct ip_addr *a)
{
	const struct security_group *sg = &lab->groups[g];
	if (!idx) {
		for (size_t i = 0; i < sg->n_members; i++)
			if (ip_addr_eq(&sg->members[i], a))
				return true;
		return false;
	}
	const struct ip_addr *v = idx->sorted[g];
	size_t lo = 0, hi = sg->n_members;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = ip_addr_cmp(&v[mid], a);
		if (!c)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool sg_rule_peer_has(const struct lab *lab, const struct sg_members *idx, const struct sg_rule *r,
		      const struct ip_addr *a)
{
	switch (r->peer_kind) {
	case SG_PEER_CIDR:
		return ip_prefix_contains(&r->cidr, a);
	case SG_PEER_PREFIX_LIST: {
		if (!valid_index(r->peer, lab->n_prefix_lists))
			return false;
		const struct prefix_list *pl = &lab->prefix_lists[r->peer];
		for (size_t i = 0; i < pl->n_cidrs; i++)
			if (ip_prefix_contains(&pl->cidrs[i], a))
				return true;
		return false;
	}
	case SG_PEER_GROUP:
		/* the peer's private addresses, never its public IP (§3) */
		return valid_index(r->peer, lab->n_groups) && group_has(lab, idx, r->peer, a);
	}
	return false;
}

static int addr_cmp(const void *x, const void *y)
{
	return ip_addr_cmp(x, y);
}

int sg_members_build(const struct lab *lab, struct sg_members *out)
{
	out->n = 0;
	out->sorted = calloc(lab->n_groups + 1, sizeof(*out->sorted));
	if (!out->sorted)
		return -ENOMEM;
	for (size_t g = 0; g < lab->n_groups; g++, out->n++) {
		size_t n = lab->groups[g].n_members;
		struct ip_addr *v = malloc((n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		if (n)
			memcpy(v, lab->groups[g].members, n * sizeof(*v));
		qsort(v, n, sizeof(*v), addr_cmp);
		out->sorted[g] = v;
	}
	return 0;
}

void sg_members_free(struct sg_members *m)
{
	for (size_t g = 0; g < m->n; g++)
		free(m->sorted[g]);
	free(m->sorted);
	memset(m, 0, sizeof(*m));
}

/* AWS's range semantics for SG ports: -1 is an open end. Inline: the
 * first packet's scan over every rule runs through here. */
static inline __attribute__((always_inline)) bool rule_keys(const struct sg_rule *r, int proto,
							    struct keyset *k)
{
	int32_t lo = r->from_port < 0 ? 0 : r->from_port;
	int32_t hi = r->to_port < 0 || r->to_port > 65535 ? 65535 : r->to_port;
	return keyset_of_rule(r->protocol, lo, hi, r->from_port, r->to_port, proto, k);
}

bool sg_rule_keys(const struct sg_rule *r, int proto, struct keyset *k)
{
	return rule_keys(r, proto, k);
}

static inline __attribute__((always_inline)) bool
rule_matches(const struct lab *lab, const struct sg_rule *r, const struct flow *f, uint32_t key)
{
	struct keyset k;
	return rule_keys(r, f->proto, &k) && keyset_has(&k, key) &&
	       sg_rule_peer_has(lab, NULL, r, r->egress ? &f->dst : &f->src);
}

bool sg_rule_matches(const struct lab *lab, const struct sg_rule *r, const struct flow *f)
{
	return rule_matches(lab, r, f, keyset_flow_key(f));
}

bool sg_evaluate_scan(const struct lab *lab, const struct eni *eni, bool egress,
		      const struct flow *f, struct sg_match *m)
{
	uint32_t key = keyset_flow_key(f);
	struct sg_walk w;
	sg_walk_init(&w, lab, eni, egress);
	for (const struct sg_rule *r; (r = sg_walk_next(&w, m));)
		if (rule_matches(lab, r, f, key))
			return true;
	m->group = -1;
	m->rule = -1;
	return false;
}

bool sg_rule_is_all_addresses(const struct sg_rule *r, uint8_t family)
{
	return r->peer_kind == SG_PEER_CIDR && ip_prefix_is_all(&r->cidr) &&
	       r->cidr.addr.family == family;
}

bool sg_rule_allows_all_replies(const struct sg_rule *r, uint8_t family, int proto)
{
	struct keyset k;
	return sg_rule_is_all_addresses(r, family) && rule_keys(r, proto, &k) && k.lo == 0 &&
	       k.hi >= 65535;
}

bool sg_flow_untracked_scan(const struct lab *lab, const struct eni *eni, bool egress,
			    const struct flow *f, struct sg_match *reverse)
{
	if (f->proto != PROTO_TCP && f->proto != PROTO_UDP)
		return false;
	bool open_rule = false;
	struct sg_match back = {-1, -1};
	uint32_t key = keyset_flow_key(f);
	for (size_t g = 0; g < eni->n_groups && !(open_rule && back.group >= 0); g++) {
		int32_t gi = eni->groups[g];
		if (!valid_index(gi, lab->n_groups))
			continue;
		const struct security_group *sg = &lab->groups[gi];
		for (size_t i = 0; i < sg->n_rules; i++) {
			const struct sg_rule *r = &sg->rules[i];
			if (r->egress == egress) {
				if (!open_rule && sg_rule_is_all_addresses(r, f->src.family) &&
				    rule_matches(lab, r, f, key))
					open_rule = true;
			} else if (back.group < 0 &&
				   sg_rule_allows_all_replies(r, f->src.family, f->proto)) {
				back.group = gi;
				back.rule = (int32_t)i;
			}
		}
	}
	if (reverse)
		*reverse = back;
	return open_rule && back.group >= 0;
}

static void ports_text(const struct sg_rule *r, char *buf, size_t len)
{
	int32_t from = r->from_port, to = r->to_port;
	if (r->protocol == PROTO_TCP || r->protocol == PROTO_UDP) {
		if (from < 0)
			from = 0;
		if (to < 0)
			to = 65535;
		if (from == to)
			snprintf(buf, len, " %d", from);
		else
			snprintf(buf, len, " %d-%d", from, to);
	} else if (r->protocol == PROTO_ICMP || r->protocol == PROTO_ICMPV6) {
		char t[12] = "any", c[12] = "any";
		if (from >= 0)
			snprintf(t, sizeof(t), "%d", from);
		if (to >= 0)
			snprintf(c, sizeof(c), "%d", to);
		snprintf(buf, len, " type %s code %s", t, c);
	} else {
		buf[0] = '\0';
	}
}

static void peer_text(const struct lab *lab, const struct sg_rule *r, char *buf, size_t len)
{
	const char *name = NULL;
	switch (r->peer_kind) {
	case SG_PEER_CIDR:
		ip_prefix_format(&r->cidr, buf, len);
		return;
	case SG_PEER_PREFIX_LIST:
		if (valid_index(r->peer, lab->n_prefix_lists))
			name = lab->prefix_lists[r->peer].name;
		break;
	case SG_PEER_GROUP:
		if (valid_index(r->peer, lab->n_groups))
			name = lab->groups[r->peer].name;
		break;
	}
	if (name)
		snprintf(buf, len, "%s (%s)", r->peer_id ? r->peer_id : "?", name);
	else
		snprintf(buf, len, "%s", r->peer_id ? r->peer_id : "?");
}

const char *sg_rule_format(const struct lab *lab, int32_t group, int32_t rule, char *buf,
			   size_t len)
{
	if (!valid_index(group, lab->n_groups) || !valid_index(rule, lab->groups[group].n_rules)) {
		snprintf(buf, len, "?");
		return buf;
	}
	const struct security_group *g = &lab->groups[group];
	const struct sg_rule *r = &g->rules[rule];
	char proto[16], ports[40], peer[IP_PREFIX_STRLEN + 80], gname[160];
	if (g->name)
		snprintf(gname, sizeof(gname), "%s (%s)", g->id, g->name);
	else
		snprintf(gname, sizeof(gname), "%s", g->id);
	flow_proto_name(r->protocol, proto, sizeof(proto));
	ports_text(r, ports, sizeof(ports));
	peer_text(lab, r, peer, sizeof(peer));
	snprintf(buf, len, "%s %s %s%s %s %s", gname, r->egress ? "egress" : "ingress", proto,
		 ports, r->egress ? "to" : "from", peer);
	return buf;
}
