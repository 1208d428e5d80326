/*
 * Security group evaluation (AWS-SEMANTICS §3) and the untracked-flow
 * decision (§4). Rules are allow-only, so the first rule that allows is as
 * good an answer as any for the verdict; we report the first in group
 * order, then rule order, so explanations are stable.
 */
#include "sg.h"

#include <stdio.h>

static bool valid_index(int32_t i, size_t n)
{
	return i >= 0 && (size_t)i < n;
}

static bool peer_matches(const struct lab *lab, const struct sg_rule *r, const struct ip_addr *a)
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
	case SG_PEER_GROUP: {
		/* the peer's private addresses, never its public IP (§3) */
		if (!valid_index(r->peer, lab->n_groups))
			return false;
		const struct security_group *g = &lab->groups[r->peer];
		for (size_t i = 0; i < g->n_members; i++)
			if (ip_addr_eq(&g->members[i], a))
				return true;
		return false;
	}
	}
	return false;
}

static bool range_has(int32_t from, int32_t to, int32_t v)
{
	if (from < 0)
		from = 0;
	if (to < 0)
		to = 65535;
	return v >= from && v <= to;
}

/* What a packet offers to the rules, worked out once per evaluation
 * rather than once per rule (the scan is the first packet's cost). */
struct pkt_view {
	const struct flow *f;
	bool ports, icmp;
};

static void view_init(struct pkt_view *v, const struct flow *f)
{
	v->f = f;
	v->ports = flow_has_ports(f);
	v->icmp = flow_is_icmp(f);
}

static bool proto_matches(const struct sg_rule *r, const struct pkt_view *v)
{
	const struct flow *f = v->f;
	if (r->protocol == PROTO_ALL)
		return true;
	if (r->protocol != f->proto)
		return false;
	if (v->ports)
		return range_has(r->from_port, r->to_port, f->dport);
	if (v->icmp)
		return (r->from_port < 0 || r->from_port == f->icmp_type) &&
		       (r->to_port < 0 || r->to_port == f->icmp_code);
	return true;
}

static bool rule_matches(const struct lab *lab, const struct sg_rule *r, const struct pkt_view *v)
{
	const struct ip_addr *peer = r->egress ? &v->f->dst : &v->f->src;
	return proto_matches(r, v) && peer_matches(lab, r, peer);
}

bool sg_rule_matches(const struct lab *lab, const struct sg_rule *r, const struct flow *f)
{
	struct pkt_view v;
	view_init(&v, f);
	return rule_matches(lab, r, &v);
}

bool sg_evaluate(const struct lab *lab, const struct eni *eni, bool egress, const struct flow *f,
		 struct sg_match *m)
{
	struct pkt_view v;
	view_init(&v, f);
	for (size_t g = 0; g < eni->n_groups; g++) {
		int32_t gi = eni->groups[g];
		if (!valid_index(gi, lab->n_groups))
			continue;
		const struct security_group *sg = &lab->groups[gi];
		for (size_t i = 0; i < sg->n_rules; i++) {
			const struct sg_rule *r = &sg->rules[i];
			if (r->egress == egress && rule_matches(lab, r, &v)) {
				m->group = gi;
				m->rule = (int32_t)i;
				return true;
			}
		}
	}
	m->group = -1;
	m->rule = -1;
	return false;
}

static bool is_all_addresses(const struct sg_rule *r, uint8_t family)
{
	return r->peer_kind == SG_PEER_CIDR && ip_prefix_is_all(&r->cidr) &&
	       r->cidr.addr.family == family;
}

/* A rule that lets every reply of the protocol through: all addresses,
 * all ports (§4). */
static bool allows_all_replies(const struct sg_rule *r, const struct flow *f)
{
	if (!is_all_addresses(r, f->src.family))
		return false;
	if (r->protocol == PROTO_ALL)
		return true;
	return r->protocol == f->proto && range_has(r->from_port, r->to_port, 0) &&
	       range_has(r->from_port, r->to_port, 65535);
}

bool sg_flow_is_untracked(const struct lab *lab, const struct eni *eni, bool egress,
			  const struct flow *f, struct sg_match *reverse)
{
	if (f->proto != PROTO_TCP && f->proto != PROTO_UDP)
		return false;
	bool open_rule = false;
	struct sg_match back = {-1, -1};
	struct pkt_view v;
	view_init(&v, f);
	for (size_t g = 0; g < eni->n_groups && !(open_rule && back.group >= 0); g++) {
		int32_t gi = eni->groups[g];
		if (!valid_index(gi, lab->n_groups))
			continue;
		const struct security_group *sg = &lab->groups[gi];
		for (size_t i = 0; i < sg->n_rules; i++) {
			const struct sg_rule *r = &sg->rules[i];
			if (r->egress == egress) {
				if (!open_rule && is_all_addresses(r, f->src.family) &&
				    rule_matches(lab, r, &v))
					open_rule = true;
			} else if (back.group < 0 && allows_all_replies(r, f)) {
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
