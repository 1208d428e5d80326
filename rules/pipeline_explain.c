/*
 * The words of the pipeline: stage, verdict and reason names, and the
 * human explanation of one stage verdict (the rule as text, the route
 * used, the service exempted).
 */
#include "pipeline.h"
#include "pipeline-private.h"
#include "route-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "enum_name.h"
#include "model_index.h"
#include "nacl.h"
#include "nlb.h"
#include "sg.h"

const char *pipeline_stage_name(enum pipeline_stage s)
{
	static const char *const names[] = {
	    [STAGE_SG_EGRESS] = "sg-egress",   [STAGE_NACL_EGRESS] = "nacl-egress",
	    [STAGE_ROUTE] = "route",	       [STAGE_NACL_INGRESS] = "nacl-ingress",
	    [STAGE_SG_INGRESS] = "sg-ingress",
	};
	return ENUM_NAME(names, s, "?");
}

const char *pipeline_verdict_name(enum pipeline_verdict v)
{
	static const char *const names[] = {
	    [VERDICT_ACCEPT] = "ACCEPT",
	    [VERDICT_REJECT] = "REJECT",
	    [VERDICT_SKIPPED] = "SKIPPED",
	};
	return ENUM_NAME(names, v, "SKIPPED");
}

const char *pipeline_reason_name(enum pipeline_reason r)
{
	static const char *const names[] = {
	    [REASON_RULE] = "rule",
	    [REASON_NO_RULE] = "no-rule",
	    [REASON_TRACKED] = "tracked",
	    [REASON_UNTRACKED] = "untracked",
	    [REASON_SAME_SUBNET] = "same-subnet",
	    [REASON_OUTSIDE] = "outside",
	    [REASON_SERVICE] = "aws-service",
	    [REASON_EARLIER_REJECT] = "earlier-reject",
	    [REASON_REQUEST_REJECTED] = "request-rejected",
	    [REASON_NO_RESPONSE] = "no-response",
	    [REASON_ROUTE_IGW] = "igw",
	    [REASON_NO_ROUTE] = "no-route",
	    [REASON_NO_PUBLIC_IP] = "no-public-ip",
	    [REASON_OTHER_VPC] = "other-vpc",
	    [REASON_NO_HOST] = "no-host",
	    [REASON_ROUTE_ENDPOINT] = "gateway-endpoint",
	    [REASON_ENDPOINT_INBOUND] = "outbound-only",
	    [REASON_ROUTE_EIGW] = "egress-only-igw",
	    [REASON_BLACKHOLE] = "blackhole",
	    [REASON_ROUTE_LOCAL] = "local",
	    [REASON_MIDDLEBOX] = "middlebox-route",
	    [REASON_ROUTE_NAT] = "nat-gateway",
	    [REASON_NAT_MISSING] = "nat-gateway-missing",
	    [REASON_NAT_NO_ROUTE] = "nat-gateway-no-route",
	    [REASON_NAT_PROTOCOL] = "nat-gateway-protocol",
	    [REASON_ROUTE_PEERING] = "peering",
	    [REASON_PEERING_MISMATCH] = "peering-unusable",
	    [REASON_ROUTE_VGW] = "vpn-gateway",
	    [REASON_ROUTE_TGW] = "transit-gateway",
	    [REASON_TGW_UNUSABLE] = "transit-gateway-unusable",
	    [REASON_ROUTE_NLB] = "load-balancer",
	    [REASON_NLB_NO_LISTENER] = "load-balancer-no-listener",
	    [REASON_NLB_NO_TARGET] = "load-balancer-no-target",
	    [REASON_NLB_NO_GROUP] = "load-balancer-no-group",
	};
	return ENUM_NAME(names, r, "?");
}

static const char *service_name(enum vpc_service s)
{
	static const char *const names[] = {
	    [SERVICE_DNS] = "Amazon DNS server",
	    [SERVICE_METADATA] = "instance metadata service",
	    [SERVICE_TIME_SYNC] = "Amazon Time Sync Service",
	    [SERVICE_DHCP] = "DHCP (broadcast)",
	    [SERVICE_ROUTER] = "VPC router (DHCP)",
	    [SERVICE_ECS_METADATA] = "ECS task metadata endpoint",
	    [SERVICE_LICENSE] = "Windows license activation",
	    [SERVICE_LINK_LOCAL] = "link-local address",
	};
	return ENUM_NAME(names, s, "AWS service");
}

static const struct nacl_entry *find_entry(const struct nacl *acl, bool egress, uint32_t number)
{
	const struct nacl_entry *list = egress ? acl->egress : acl->ingress;
	size_t n = egress ? acl->n_egress : acl->n_ingress;
	for (size_t i = 0; i < n; i++)
		if (list[i].rule_number == number)
			return &list[i];
	return NULL;
}

static void explain_nacl(const struct lab *lab, const struct stage_verdict *v, char *buf,
			 size_t len)
{
	bool egress = v->stage == STAGE_NACL_EGRESS;
	if (!valid_index(v->nacl, lab->n_nacls)) {
		snprintf(buf, len, "subnet has no network ACL: denied");
		return;
	}
	const struct nacl *acl = &lab->nacls[v->nacl];
	struct nacl_decision d = {.allow = v->verdict == VERDICT_ACCEPT,
				  .rule_number = v->rule_number,
				  .entry = find_entry(acl, egress, v->rule_number)};
	char rule[160];
	nacl_decision_format(&d, egress, rule, sizeof(rule));
	const char *prefix = d.entry ? "" : "no rule matched: ";
	if (v->hop && valid_index(v->gateway, lab->n_gateways)) {
		int n = snprintf(buf, len,
				 "at NAT gateway %s, %s its subnet: ", lab->gateways[v->gateway].id,
				 egress ? "leaving" : "entering");
		if (n > 0 && (size_t)n < len) {
			buf += n;
			len -= (size_t)n;
		}
	}
	if (v->has_port && v->verdict == VERDICT_REJECT)
		snprintf(buf, len, "reply port %u refused (first of %u-%u): %s%s %s", v->port,
			 v->port_lo, v->port_hi, prefix, acl->id, rule);
	else if (v->has_port)
		snprintf(buf, len, "%s%s %s (ports %u-%u all allowed)", prefix, acl->id, rule,
			 v->port_lo, v->port_hi);
	else
		snprintf(buf, len, "%s%s %s", prefix, acl->id, rule);
}

/* The NAT gateway whose interface e is, or NULL. */
static const struct gateway *nat_of_eni(const struct lab *lab, const struct eni *e)
{
	for (size_t i = 0; i < lab->n_gateways; i++) {
		const struct gateway *g = &lab->gateways[i];
		for (size_t k = 0; g->kind == GW_NAT && k < g->n_eni_ids; k++)
			if (g->eni_ids[k] && !strcmp(g->eni_ids[k], e->id))
				return g;
	}
	return NULL;
}

static void explain_no_rule(const struct lab *lab, const struct stage_verdict *v, char *buf,
			    size_t len)
{
	const struct eni *e = valid_index(v->eni, lab->n_enis) ? &lab->enis[v->eni] : NULL;
	const char *dir = v->stage == STAGE_SG_EGRESS ? "egress" : "ingress";
	const struct gateway *nat = e ? nat_of_eni(lab, e) : NULL;
	if (nat && v->stage == STAGE_SG_INGRESS) {
		snprintf(buf, len,
			 "%s is the interface of NAT gateway %s, which takes no connection opened "
			 "towards it (only replies to connections from behind it)",
			 e->id, nat->id);
		return;
	}
	if (!e || !e->n_groups) {
		snprintf(buf, len, "no rule matched: %s has no security group (%s)",
			 lab_eni_label(lab, v->eni), dir);
		return;
	}
	size_t off = (size_t)snprintf(buf, len, "no rule matched in");
	for (size_t i = 0; e && i < e->n_groups && off < len; i++) {
		int32_t g = e->groups[i];
		if (!valid_index(g, lab->n_groups))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s %s", i ? "," : "",
					lab->groups[g].id);
	}
	if (off < len)
		snprintf(buf + off, len - off, " (%s %s)", lab_eni_label(lab, v->eni), dir);
}

static bool is_primary_v4(const struct lab *lab, int32_t eni, const struct ip_addr *a)
{
	const struct eni *e = valid_index(eni, lab->n_enis) ? &lab->enis[eni] : NULL;
	return !e || !e->n_ipv4 || ip_addr_eq(a, &e->ipv4[0]);
}

/* The NAT gateway hop: the route to it, the gateway, its subnet's route on. */
static void explain_nat(const struct lab *lab, const struct stage_verdict *v,
			const struct ip_addr *far_addr, bool from_far, const struct route_table *rt,
			const struct route *r, char *buf, size_t len)
{
	char dest[IP_PREFIX_STRLEN], dest2[IP_PREFIX_STRLEN], pub[IP_ADDR_STRLEN] = "";
	char far[IP_ADDR_STRLEN], unknown[64];
	ip_addr_format(far_addr, far, sizeof(far));
	int n = snprintf(buf, len, "%s: %s -> %s", rt->id,
			 ip_prefix_format(&r->dest, dest, sizeof(dest)), r->target);
	if (n < 0 || (size_t)n >= len)
		return;
	buf += n;
	len -= (size_t)n;
	const struct gateway *g =
	    valid_index(v->gateway, lab->n_gateways) ? &lab->gateways[v->gateway] : NULL;
	if (!g) {
		snprintf(buf, len,
			 ": that NAT gateway is not in the lab (its subnet, NACL and "
			 "Elastic IP are unknown): dropped");
		return;
	}
	const char *sub = g->n_subnet_ids ? g->subnet_ids[0] : "?";
	const struct route_table *nrt = NULL;
	int32_t nrt_index;
	int32_t nr = route_nat_onward(lab, v->gateway, far_addr, &nrt, &nrt_index);
	const struct route *on = nrt && nr >= 0 ? &nrt->routes[nr] : NULL;
	bool private = route_nat_private(g);
	const char *own = private ? "private IP" : "Elastic IP";
	struct ip_addr a;
	if (gateway_nat_addr(g, &a))
		ip_addr_format(&a, pub, sizeof(pub));
	switch (v->reason) {
	case REASON_ROUTE_NAT:
		if (!*pub)
			snprintf(unknown, sizeof(unknown), "(its %s, unknown in this input)", own);
		snprintf(buf, len, " (%sNAT gateway in %s), then %s: %s -> %s; %s %s%s %s",
			 private ? "private " : "", sub, nrt->id,
			 ip_prefix_format(&on->dest, dest2, sizeof(dest2)), on->target, far,
			 from_far ? "sends to its " : "sees the source", from_far ? own : "",
			 *pub ? pub : unknown);
		break;
	case REASON_NAT_NO_ROUTE:
		if (on)
			snprintf(buf, len,
				 " (NAT gateway in %s), but %s sends %s to %s%s, not %s: dropped",
				 sub, nrt->id, ip_prefix_format(&on->dest, dest2, sizeof(dest2)),
				 on->target, on->blackhole ? " (a blackhole)" : "",
				 private ? "a transit or virtual private gateway that leads there "
					   "(a private NAT gateway)"
					 : "an internet gateway");
		else
			snprintf(buf, len,
				 " (NAT gateway in %s), but %s has no route to %s: dropped", sub,
				 nrt ? nrt->id : "its subnet (no route table)", far);
		break;
	case REASON_NAT_PROTOCOL:
		snprintf(buf, len, ": a NAT gateway carries TCP, UDP and ICMP only: dropped");
		break;
	default:
		snprintf(buf, len, ": NAT gateway %s is %s%s: dropped", g->id,
			 g->state && strcmp(g->state, "available") ? g->state : "usable",
			 far_addr->family == IP_V6 ? " for IPv4 only (NAT64 is not modelled)" : "");
		break;
	}
}

/* A pcx- route that carries nothing: why. */
static void explain_peering(const struct lab *lab, const struct stage_verdict *v, const char *far,
			    const struct route_table *rt, const struct route *r, char *buf,
			    size_t len)
{
	char dest[IP_PREFIX_STRLEN];
	const struct gateway *g =
	    valid_index(v->gateway, lab->n_gateways) ? &lab->gateways[v->gateway] : NULL;
	int n = snprintf(buf, len, "%s: %s -> %s: ", rt->id,
			 ip_prefix_format(&r->dest, dest, sizeof(dest)), r->target);
	if (n < 0 || (size_t)n >= len)
		return;
	if (!g)
		snprintf(buf + n, len - (size_t)n, "that peering connection is not in the lab");
	else if (g->state && strcmp(g->state, "active"))
		snprintf(buf + n, len - (size_t)n, "the peering connection is %s, not active",
			 g->state);
	else
		snprintf(buf + n, len - (size_t)n,
			 "it joins %s and %s, which is not the way to %s (no transitive routing)",
			 g->vpc_id ? g->vpc_id : "?", g->peer_vpc_id ? g->peer_vpc_id : "?", far);
}

/* Appends to buf (holding *n characters) while it has room. */
static void append(char *buf, size_t len, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	if (*n >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	*n = k < 0 ? len : *n + (size_t)k;
}

static const char *gw_id(const struct lab *lab, int32_t g)
{
	return valid_index(g, lab->n_gateways) ? lab->gateways[g].id : "?";
}

/* Why a transit gateway's last hop carries nothing. */
static const char *tgw_fault_text(const struct lab *lab, const struct tgw_walk *w, const char *far,
				  char *buf, size_t len)
{
	const struct gateway *to =
	    valid_index(w->to, lab->n_gateways) ? &lab->gateways[w->to] : NULL;
	switch (w->fault) {
	case TGW_BLACKHOLE:
		return "a blackhole route: dropped";
	case TGW_TARGET_UNUSABLE:
		snprintf(buf, len, "an attachment %s: dropped",
			 to ? to->state : "that is not in the lab");
		return buf;
	case TGW_WRONG_VPC:
		snprintf(buf, len, "which leads to %s, not to %s: dropped",
			 to && to->vpc_id   ? to->vpc_id
			 : to && to->detail ? to->detail
					    : "?",
			 far);
		return buf;
	case TGW_NO_AZ_DST:
		return "which has no subnet in the receiver's Availability Zone: dropped";
	case TGW_PEERING:
		return "a peering attachment whose peer gateway's side is not in the lab: dropped";
	case TGW_LOOP:
		snprintf(buf, len,
			 "a peering attachment: more than %d transit gateways on the way, a "
			 "routing loop: dropped",
			 TGW_MAX_HOPS);
		return buf;
	default:
		snprintf(buf, len, "into %s",
			 to && to->vpc_id   ? to->vpc_id
			 : to && to->detail ? to->detail
					    : "?");
		return buf;
	}
}

/* One gateway of the walk: the table of its entry attachment and the
 * route that picked the next attachment; false where the walk stops. */
static bool explain_tgw_hop(const struct lab *lab, const struct tgw_hop *h, bool last,
			    const char *far, char *buf, size_t len, size_t *n)
{
	char dest[IP_PREFIX_STRLEN];
	const struct gateway *from = &lab->gateways[h->from];
	if (h->table < 0) {
		append(buf, len, n, " is associated with %s%s: dropped",
		       from->n_route_table_ids ? from->route_table_ids[0] : "no TGW route table",
		       from->n_route_table_ids ? ", which is not in the lab" : "");
		return false;
	}
	append(buf, len, n, ", TGW route table %s", gw_id(lab, h->table));
	if (h->route == -1) {
		append(buf, len, n, " has no route to %s: dropped", far);
		return false;
	}
	const struct gateway *t = &lab->gateways[h->table];
	bool blackhole = h->route >= 0 && t->tgw_routes[h->route].blackhole;
	const char *target = h->route >= 0 && t->tgw_routes[h->route].attachment
				 ? t->tgw_routes[h->route].attachment
				 : gw_id(lab, h->to);
	append(buf, len, n, ": %s -> %s%s", ip_prefix_format(&h->dest, dest, sizeof(dest)),
	       blackhole ? "blackhole" : target,
	       h->route == TGW_ROUTE_PROPAGATED ? " (propagated)" : "");
	return !last;
}

/* Each hop of a tgw- route: the VPC route, the sender's attachment, its
 * TGW route table and route, then for each peering attachment crossed the
 * peer gateway and its table and route, the target attachment; or where
 * it stops. */
static void explain_tgw(const struct lab *lab, const struct stage_verdict *v,
			const struct ip_addr *far_addr, const char *far,
			const struct route_table *rt, const struct route *r, char *buf, size_t len)
{
	char dest[IP_PREFIX_STRLEN], why[160];
	size_t n = 0;
	int32_t far_eni = lab_eni_by_addr(lab, far_addr);
	struct tgw_walk w;
	route_tgw_walk(lab, v->subnet, far_eni >= 0 ? lab->enis[far_eni].subnet : -1, far_addr, r,
		       &w);
	append(buf, len, &n, "%s: %s -> %s", rt->id, ip_prefix_format(&r->dest, dest, sizeof(dest)),
	       r->target);
	const struct subnet *s = &lab->subnets[v->subnet];
	if (w.fault == TGW_NOT_ATTACHED) {
		append(buf, len, &n, ", but %s has no available attachment to it: dropped",
		       s->vpc_id ? s->vpc_id : "the VPC");
		return;
	}
	append(buf, len, &n, ", attachment %s", gw_id(lab, w.from));
	if (w.fault == TGW_NO_AZ_SRC) {
		append(buf, len, &n, " has no subnet in %s, the zone of %s: dropped",
		       s->az ? s->az : "?", s->id);
		return;
	}
	for (size_t i = 0; i < w.n_hops; i++) {
		if (i) {
			const struct gateway *in = &lab->gateways[w.hop[i].from];
			append(buf, len, &n, ", into peer %s by its side of %s",
			       in->transit_id ? in->transit_id : "?", in->id);
		}
		if (!explain_tgw_hop(lab, &w.hop[i], i + 1 == w.n_hops, far, buf, len, &n))
			break;
	}
	const struct tgw_hop *h = &w.hop[w.n_hops - 1];
	if (h->table >= 0 && h->route != -1)
		append(buf, len, &n, ", %s", tgw_fault_text(lab, &w, far, why, sizeof(why)));
}

/* Reasons whose text quotes the route that decided. A route verdict made
 * without one (no table or no matching route) says only where the packet
 * was going. */
static bool names_route(enum pipeline_reason reason)
{
	switch (reason) {
	case REASON_ROUTE_IGW:
	case REASON_ROUTE_ENDPOINT:
	case REASON_ROUTE_EIGW:
	case REASON_ENDPOINT_INBOUND:
	case REASON_BLACKHOLE:
	case REASON_MIDDLEBOX:
	case REASON_ROUTE_NAT:
	case REASON_NAT_MISSING:
	case REASON_NAT_NO_ROUTE:
	case REASON_NAT_PROTOCOL:
	case REASON_ROUTE_PEERING:
	case REASON_PEERING_MISMATCH:
	case REASON_ROUTE_VGW:
	case REASON_ROUTE_TGW:
	case REASON_TGW_UNUSABLE:
		return true;
	default:
		return false;
	}
}

/* "rtb-1: 0.0.0.0/0 -> igw-1" and what the reason adds to it. */
static void route_line(const struct route_table *rt, const struct route *r, const char *tail,
		       char *buf, size_t len)
{
	char dest[IP_PREFIX_STRLEN];

	snprintf(buf, len, "%s: %s -> %s%s", rt->id, ip_prefix_format(&r->dest, dest, sizeof(dest)),
		 r->target, tail);
}

static void explain_route(const struct lab *lab, const struct stage_verdict *v,
			  const struct flow *f, char *buf, size_t len)
{
	char far[IP_ADDR_STRLEN], own[IP_ADDR_STRLEN], dest[IP_PREFIX_STRLEN];
	bool from_eni = valid_index(v->eni, lab->n_enis) && lab_eni_by_addr(lab, &f->src) == v->eni;
	ip_addr_format(from_eni ? &f->dst : &f->src, far, sizeof(far));
	const struct route_table *rt = valid_index(v->route_table, lab->n_route_tables)
					   ? &lab->route_tables[v->route_table]
					   : NULL;
	const struct route *r =
	    rt && valid_index(v->route, rt->n_routes) ? &rt->routes[v->route] : NULL;
	const char *label = lab_eni_label(lab, v->eni);
	if (!r && names_route(v->reason)) {
		snprintf(buf, len, "route to %s", far);
		return;
	}
	switch (v->reason) {
	case REASON_ROUTE_IGW:
		route_line(rt, r, f->src.family == IP_V4 ? ", public IP present" : "", buf, len);
		break;
	case REASON_NO_PUBLIC_IP:
		if (is_primary_v4(lab, v->eni, from_eni ? &f->src : &f->dst))
			snprintf(buf, len, "%s has no public IPv4 address: %s cannot be reached",
				 label, far);
		else
			snprintf(buf, len,
				 "%s: its address %s has no public IPv4 address of its own: %s "
				 "cannot be reached",
				 label,
				 ip_addr_format(from_eni ? &f->src : &f->dst, own, sizeof(own)),
				 far);
		break;
	case REASON_OTHER_VPC:
		if (!rt)
			snprintf(buf, len,
				 "the subnet of %s has no route table: no route to %s "
				 "in another VPC",
				 label, far);
		else if (!r)
			snprintf(buf, len, "%s has no route to %s in another VPC", rt->id, far);
		else
			snprintf(
			    buf, len, "%s sends %s to %s, which does not lead into the VPC of %s",
			    rt->id, ip_prefix_format(&r->dest, dest, sizeof(dest)), r->target, far);
		break;
	case REASON_ROUTE_PEERING:
		route_line(rt, r, " (VPC peering)", buf, len);
		break;
	case REASON_PEERING_MISMATCH:
		explain_peering(lab, v, far, rt, r, buf, len);
		break;
	case REASON_ROUTE_TGW:
	case REASON_TGW_UNUSABLE:
		if (!valid_index(v->subnet, lab->n_subnets))
			snprintf(buf, len, "route to %s", far);
		else
			explain_tgw(lab, v, from_eni ? &f->dst : &f->src, far, rt, r, buf, len);
		break;
	case REASON_ROUTE_VGW:
		route_line(rt, r,
			   " (virtual private gateway: VPN or Direct Connect, private addresses)",
			   buf, len);
		break;
	case REASON_ROUTE_ENDPOINT:
		route_line(rt, r, " (gateway endpoint)", buf, len);
		break;
	case REASON_ROUTE_EIGW:
		route_line(rt, r, " (egress-only internet gateway)", buf, len);
		break;
	case REASON_ENDPOINT_INBOUND:
		snprintf(buf, len,
			 "%s reaches the VPC only through %s, which carries only connections "
			 "opened from inside the VPC",
			 far, r->target);
		break;
	case REASON_ROUTE_NAT:
	case REASON_NAT_MISSING:
	case REASON_NAT_NO_ROUTE:
	case REASON_NAT_PROTOCOL:
		explain_nat(lab, v, from_eni ? &f->dst : &f->src, !from_eni, rt, r, buf, len);
		break;
	case REASON_NO_HOST:
		snprintf(buf, len, "%s is inside the VPC but no ENI of the lab has it", far);
		break;
	case REASON_BLACKHOLE:
		route_line(rt, r, " is a blackhole route (its target is gone): dropped", buf, len);
		break;
	case REASON_ROUTE_LOCAL:
		if (r)
			snprintf(buf, len, "%s: %s -> local", rt->id,
				 ip_prefix_format(&r->dest, dest, sizeof(dest)));
		else
			snprintf(buf, len, "local route to %s", far);
		break;
	case REASON_MIDDLEBOX:
		snprintf(buf, len,
			 "%s sends %s to %s, a route more specific than the local route "
			 "(middlebox routing is not modelled)",
			 rt->id, ip_prefix_format(&r->dest, dest, sizeof(dest)), r->target);
		break;
	default:
		if (!rt)
			snprintf(buf, len, "the subnet of %s has no route table: no route to %s",
				 label, far);
		else if (!r)
			snprintf(buf, len, "%s has no route to %s", rt->id, far);
		else
			snprintf(buf, len, "%s sends %s to %s, not an internet gateway", rt->id,
				 ip_prefix_format(&r->dest, dest, sizeof(dest)),
				 r->target ? r->target : "?");
		break;
	}
}

const char *pipeline_explain(const struct lab *lab, const struct stage_verdict *v,
			     const struct flow *f, char *buf, size_t len)
{
	char rule[320];
	bool sg = v->stage == STAGE_SG_EGRESS || v->stage == STAGE_SG_INGRESS;
	switch (v->reason) {
	case REASON_RULE:
		if (sg)
			snprintf(buf, len, "%s",
				 sg_rule_format(lab, v->group, v->rule, rule, sizeof(rule)));
		else
			explain_nacl(lab, v, buf, len);
		break;
	case REASON_NO_RULE:
		explain_no_rule(lab, v, buf, len);
		break;
	case REASON_TRACKED:
		snprintf(buf, len, "tracked");
		break;
	case REASON_UNTRACKED:
		snprintf(buf, len, "untracked: %s",
			 sg_rule_format(lab, v->group, v->rule, rule, sizeof(rule)));
		break;
	case REASON_SAME_SUBNET:
		snprintf(buf, len, "same subnet (%s%s): network ACLs do not apply",
			 valid_index(v->subnet, lab->n_subnets) ? lab->subnets[v->subnet].id : "?",
			 v->hop && valid_index(v->gateway, lab->n_gateways) ? ", the NAT gateway's"
									    : "");
		break;
	case REASON_OUTSIDE:
		snprintf(buf, len, "outside host: no %s of the lab on that side",
			 sg ? "security group" : "network ACL");
		break;
	case REASON_SERVICE:
		snprintf(buf, len, "%s: not filtered by %s", service_name(v->service),
			 sg ? "security groups" : "network ACLs");
		break;
	case REASON_EARLIER_REJECT:
		snprintf(buf, len, "not evaluated: an earlier stage rejected");
		break;
	case REASON_REQUEST_REJECTED:
		snprintf(buf, len, "request rejected: no response");
		break;
	case REASON_NO_RESPONSE:
		snprintf(buf, len, "no response expected for ICMP type %u", f->icmp_type);
		break;
	case REASON_ROUTE_NLB:
	case REASON_NLB_NO_LISTENER:
	case REASON_NLB_NO_TARGET:
	case REASON_NLB_NO_GROUP:
		nlb_explain(lab, v, f, buf, len);
		break;
	default:
		explain_route(lab, v, f, buf, len);
		break;
	}
	return buf;
}
