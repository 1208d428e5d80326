/*
 * The four stages of AWS-SEMANTICS §1 in order, plus the route stage for
 * flows that leave the VPC, each producing one stage_verdict that says
 * which rule decided. pipeline_check() adds the response of contract 4:
 * SG stages pass by tracking (or by the rule of an untracked flow), NACL
 * stages are evaluated again, stateless, over the client's whole
 * ephemeral port range when the client port is unknown.
 */
#include "pipeline.h"

#include <stdio.h>
#include <string.h>

#include "nacl.h"
#include "sg.h"

static bool valid_index(int32_t i, size_t n)
{
	return i >= 0 && (size_t)i < n;
}

static const struct eni *end_eni(const struct lab *lab, const struct pipeline_end *e)
{
	if (e->kind != END_ENI || !valid_index(e->eni, lab->n_enis))
		return NULL;
	return &lab->enis[e->eni];
}

static int32_t eni_vpc(const struct lab *lab, const struct eni *e)
{
	if (!e || !valid_index(e->subnet, lab->n_subnets))
		return -1;
	return lab->subnets[e->subnet].vpc;
}

static bool v4_is(const struct ip_addr *a, uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
	return a->b[0] == x && a->b[1] == y && a->b[2] == z && a->b[3] == w;
}

/* fd00:ec2::<low>, the Nitro IPv6 endpoints of the services ("253" in the
 * text is hex: the last 16 bits are 0x0253). */
static bool v6_service_is(const struct ip_addr *a, uint16_t low)
{
	static const uint8_t prefix[14] = {0xfd, 0x00, 0x0e, 0xc2};
	return !memcmp(a->b, prefix, sizeof(prefix)) && a->b[14] == (uint8_t)(low >> 8) &&
	       a->b[15] == (uint8_t)(low & 0xff);
}

/* The link-local addresses of 169.254.0.0/16 AWS serves inside every VPC;
 * AWS's filters leave the whole block alone (§9), so the rest of it is a
 * service end too, never an outside host behind the internet gateway. */
static enum vpc_service link_local_service(const struct ip_addr *a)
{
	static const struct {
		uint8_t c, d;
		enum vpc_service s;
	} known[] = {
	    {169, 253, SERVICE_DNS},	   {169, 254, SERVICE_METADATA},
	    {169, 123, SERVICE_TIME_SYNC}, {169, 250, SERVICE_LICENSE},
	    {169, 251, SERVICE_LICENSE},   {170, 2, SERVICE_ECS_METADATA},
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (v4_is(a, 169, 254, known[i].c, known[i].d))
			return known[i].s;
	return SERVICE_LINK_LOCAL;
}

/* base+1 of a subnet of the VPC: the VPC router, which also serves DHCP. */
static bool is_subnet_router(const struct lab *lab, int32_t vpc, const struct ip_addr *a)
{
	for (size_t i = 0; i < lab->n_subnets; i++) {
		struct ip_addr router;
		if (lab->subnets[i].vpc != vpc || !ip_prefix_contains(&lab->subnets[i].cidr, a))
			continue;
		ip_prefix_nth(&lab->subnets[i].cidr, 1, &router);
		return ip_addr_eq(a, &router);
	}
	return false;
}

/* Compared as bytes: this runs for packets to addresses no ENI owns. */
static enum vpc_service service_of_addr(const struct lab *lab, int32_t vpc, const struct ip_addr *a)
{
	if (a->family == IP_V4) {
		if (valid_index(vpc, lab->n_vpcs) && lab->vpcs[vpc].n_cidrs) {
			struct ip_addr dns;
			ip_prefix_nth(&lab->vpcs[vpc].cidrs[0], 2, &dns);
			if (ip_addr_eq(a, &dns))
				return SERVICE_DNS;
		}
		if (a->b[0] == 169 && a->b[1] == 254)
			return link_local_service(a);
		if (v4_is(a, 255, 255, 255, 255))
			return SERVICE_DHCP;
		if (valid_index(vpc, lab->n_vpcs) && is_subnet_router(lab, vpc, a))
			return SERVICE_ROUTER;
		return SERVICE_NONE;
	}
	if (v6_service_is(a, 0x0253))
		return SERVICE_DNS;
	if (v6_service_is(a, 0x0254))
		return SERVICE_METADATA;
	if (v6_service_is(a, 0x0123))
		return SERVICE_TIME_SYNC;
	return SERVICE_NONE;
}

void pipeline_end_of_addr(const struct lab *lab, int32_t vpc, const struct ip_addr *a,
			  struct pipeline_end *out)
{
	out->eni = lab_eni_by_addr(lab, a);
	out->service = SERVICE_NONE;
	if (out->eni >= 0) {
		out->kind = END_ENI;
		return;
	}
	out->service = service_of_addr(lab, vpc, a);
	out->kind = out->service != SERVICE_NONE ? END_SERVICE : END_OUTSIDE;
}

/* Traffic no NACL filters (§1, §9): to or from a service address of the
 * VPC. DHCP is exempt as the exchange with the VPC's DHCP service (the
 * broadcast address or the VPC router), never as UDP 67/68 between any
 * two hosts. */
static enum vpc_service nacl_exempt(const struct pipeline_end *src, const struct pipeline_end *dst)
{
	if (src->kind == END_SERVICE)
		return src->service;
	if (dst->kind == END_SERVICE)
		return dst->service;
	return SERVICE_NONE;
}

enum sg_exemption pipeline_sg_exemption(const struct lab *lab, const struct pipeline_end *peer,
					uint8_t proto, uint16_t *lo, uint16_t *hi)
{
	if (peer->kind != END_SERVICE)
		return SG_EXEMPT_NONE;
	switch (peer->service) {
	case SERVICE_DNS:
		*lo = *hi = 53;
		return proto == PROTO_TCP || proto == PROTO_UDP ? SG_EXEMPT_PORTS : SG_EXEMPT_NONE;
	case SERVICE_DHCP:
	case SERVICE_ROUTER:
		*lo = 67;
		*hi = 68;
		return proto == PROTO_UDP ? SG_EXEMPT_PORTS : SG_EXEMPT_NONE;
	case SERVICE_NONE:
		return SG_EXEMPT_NONE;
	default: /* the link-local services: unverified, the lab's option */
		return lab->opts.sg_filters_link_local ? SG_EXEMPT_NONE : SG_EXEMPT_ALL;
	}
}

static bool port_in(uint16_t p, uint16_t lo, uint16_t hi)
{
	return lo <= p && p <= hi;
}

/* Traffic no SG filters (§1): DNS with the Amazon DNS server and DHCP
 * with the VPC's DHCP service always; the link-local services unless the
 * lab says SGs filter them. */
static enum vpc_service sg_exempt(const struct lab *lab, const struct pipeline_end *peer,
				  const struct flow *f)
{
	uint16_t lo = 0, hi = 0;
	switch (pipeline_sg_exemption(lab, peer, f->proto, &lo, &hi)) {
	case SG_EXEMPT_ALL:
		return peer->service;
	case SG_EXEMPT_PORTS:
		if (flow_has_ports(f) && (port_in(f->dport, lo, hi) || port_in(f->sport, lo, hi)))
			return peer->service;
		return SERVICE_NONE;
	default:
		return SERVICE_NONE;
	}
}

static void verdict_init(struct stage_verdict *v, enum pipeline_stage stage)
{
	memset(v, 0, sizeof(*v));
	v->stage = stage;
	v->verdict = VERDICT_SKIPPED;
	v->eni = v->subnet = v->nacl = v->group = v->rule = -1;
	v->route_table = v->route = -1;
}

static void skip(struct stage_verdict *v, enum pipeline_reason r, enum vpc_service s)
{
	v->verdict = VERDICT_SKIPPED;
	v->reason = r;
	v->service = s;
}

/* The stage belongs to an end that is no ENI of the lab. */
static void skip_not_eni(struct stage_verdict *v, const struct pipeline_end *e)
{
	if (e->kind == END_SERVICE)
		skip(v, REASON_SERVICE, e->service);
	else
		skip(v, REASON_OUTSIDE, SERVICE_NONE);
}

void pipeline_sg_stage(const struct lab *lab, const struct pipeline_end *src,
		       const struct pipeline_end *dst, bool egress, const struct flow *f,
		       bool tracked, struct stage_verdict *v)
{
	const struct pipeline_end *self = egress ? src : dst;
	const struct pipeline_end *peer = egress ? dst : src;
	verdict_init(v, egress ? STAGE_SG_EGRESS : STAGE_SG_INGRESS);
	const struct eni *e = end_eni(lab, self);
	if (!e) {
		skip_not_eni(v, self);
		return;
	}
	v->eni = self->eni;
	enum vpc_service s = sg_exempt(lab, peer, f);
	if (s != SERVICE_NONE) {
		skip(v, REASON_SERVICE, s);
		return;
	}
	if (tracked) {
		v->verdict = VERDICT_ACCEPT;
		v->reason = REASON_TRACKED;
		return;
	}
	struct sg_match m;
	if (!sg_evaluate(lab, e, egress, f, &m)) {
		v->verdict = VERDICT_REJECT;
		v->reason = REASON_NO_RULE;
		return;
	}
	v->verdict = VERDICT_ACCEPT;
	v->reason = REASON_RULE;
	v->group = m.group;
	v->rule = m.rule;
	v->untracked = sg_flow_is_untracked(lab, e, egress, f, NULL);
}

/* The NACL stage over destination ports lo..hi (lo == hi for a packet). */
static void nacl_stage_ports(const struct lab *lab, const struct pipeline_end *src,
			     const struct pipeline_end *dst, bool egress, const struct flow *f,
			     uint16_t lo, uint16_t hi, struct stage_verdict *v)
{
	const struct pipeline_end *self = egress ? src : dst;
	verdict_init(v, egress ? STAGE_NACL_EGRESS : STAGE_NACL_INGRESS);
	const struct eni *e = end_eni(lab, self);
	if (!e) {
		skip_not_eni(v, self);
		return;
	}
	v->subnet = e->subnet;
	const struct eni *other = end_eni(lab, egress ? dst : src);
	if (other && other->subnet == e->subnet) {
		skip(v, REASON_SAME_SUBNET, SERVICE_NONE);
		return;
	}
	enum vpc_service s = nacl_exempt(src, dst);
	if (s != SERVICE_NONE) {
		skip(v, REASON_SERVICE, s);
		return;
	}
	v->reason = REASON_RULE;
	v->verdict = VERDICT_REJECT;
	if (!valid_index(e->subnet, lab->n_subnets) ||
	    !valid_index(lab->subnets[e->subnet].nacl, lab->n_nacls)) {
		/* a loader invariant broken: deny rather than run open (§8) */
		v->rule_number = f->src.family == IP_V6 ? NACL_RULE_STAR_V6 : NACL_RULE_STAR_V4;
		return;
	}
	v->nacl = lab->subnets[e->subnet].nacl;
	struct nacl_decision d;
	uint16_t port;
	bool ok = nacl_evaluate_ports(&lab->nacls[v->nacl], egress, f, lo, hi, &port, &d);
	v->verdict = ok ? VERDICT_ACCEPT : VERDICT_REJECT;
	v->rule_number = d.rule_number;
	if (flow_has_ports(f) && lo != hi) {
		v->has_port = true;
		v->port = ok ? lo : port;
		v->port_lo = lo;
		v->port_hi = hi;
	}
}

void pipeline_nacl_stage(const struct lab *lab, const struct pipeline_end *src,
			 const struct pipeline_end *dst, bool egress, const struct flow *f,
			 struct stage_verdict *v)
{
	nacl_stage_ports(lab, src, dst, egress, f, f->dport, f->dport, v);
}

/* The subnet's route table (explicit association, else the main one). */
static const struct route_table *subnet_table(const struct lab *lab, int32_t subnet, int32_t *index)
{
	*index = -1;
	if (!valid_index(subnet, lab->n_subnets))
		return NULL;
	*index = lab->subnets[subnet].route_table;
	return valid_index(*index, lab->n_route_tables) ? &lab->route_tables[*index] : NULL;
}

/* Whether a route's destination lies inside a block of the table's VPC:
 * the local route itself or a route more specific than it (§9). */
static bool route_in_vpc(const struct lab *lab, const struct route_table *rt, const struct route *r)
{
	if (!valid_index(rt->vpc, lab->n_vpcs))
		return false;
	const struct vpc *v = &lab->vpcs[rt->vpc];
	const struct ip_prefix *blocks = r->dest.addr.family == IP_V6 ? v->cidrs6 : v->cidrs;
	size_t n = r->dest.addr.family == IP_V6 ? v->n_cidrs6 : v->n_cidrs;
	for (size_t i = 0; i < n; i++)
		if (ip_prefix_covers(&blocks[i], &r->dest))
			return true;
	return false;
}

/* Longest prefix match in one route table; -1 when nothing matches.
 * in_vpc: only among the local route and routes more specific than it
 * (a packet to an address of the VPC never takes 0.0.0.0/0). */
static int32_t route_lookup(const struct lab *lab, const struct route_table *rt,
			    const struct ip_addr *a, bool in_vpc)
{
	int32_t best = -1;
	for (size_t i = 0; i < rt->n_routes; i++) {
		if (!ip_prefix_contains(&rt->routes[i].dest, a))
			continue;
		if (in_vpc && rt->routes[i].kind != ROUTE_LOCAL &&
		    !route_in_vpc(lab, rt, &rt->routes[i]))
			continue;
		if (best < 0 || rt->routes[i].dest.len > rt->routes[best].dest.len)
			best = (int32_t)i;
	}
	return best;
}

/* Whether the sender's subnet sends a packet to another subnet of its VPC
 * anywhere but the local route: a route more specific than the local
 * route (middlebox routing) or a blackhole one. Inside one subnet no
 * route table is consulted. */
static bool leaves_local_route(const struct lab *lab, const struct eni *from, const struct eni *to,
			       const struct ip_addr *dst)
{
	int32_t index;
	if (from->subnet == to->subnet)
		return false;
	const struct route_table *rt = subnet_table(lab, from->subnet, &index);
	if (!rt)
		return false;
	int32_t r = route_lookup(lab, rt, dst, true);
	return r >= 0 && (rt->routes[r].kind != ROUTE_LOCAL || rt->routes[r].blackhole);
}

bool pipeline_needs_route(const struct lab *lab, const struct pipeline_end *src,
			  const struct pipeline_end *dst, const struct flow *f)
{
	if (src->kind == END_SERVICE || dst->kind == END_SERVICE)
		return false;
	if (src->kind == END_OUTSIDE || dst->kind == END_OUTSIDE)
		return true;
	const struct eni *a = end_eni(lab, src), *b = end_eni(lab, dst);
	if (!a || !b)
		return false;
	if (eni_vpc(lab, a) != eni_vpc(lab, b))
		return true;
	/* either direction: the response reuses the request's stage list */
	return leaves_local_route(lab, a, b, &f->dst) || leaves_local_route(lab, b, a, &f->src);
}

static bool is_gateway_endpoint(const struct route *r)
{
	return r->kind == ROUTE_OTHER && r->target && !strncmp(r->target, "vpce-", 5);
}

static bool is_egress_only_igw(const struct route *r)
{
	return r->kind == ROUTE_OTHER && r->target && !strncmp(r->target, "eigw-", 5);
}

/* Between two subnets of one VPC: the sender's table decides. */
static void route_inside_vpc(const struct lab *lab, const struct pipeline_end *src,
			     const struct flow *f, struct stage_verdict *v)
{
	const struct eni *a = end_eni(lab, src);
	v->eni = src->eni;
	v->subnet = a->subnet;
	v->verdict = VERDICT_ACCEPT;
	v->reason = REASON_ROUTE_LOCAL;
	const struct route_table *rt = subnet_table(lab, a->subnet, &v->route_table);
	if (!rt)
		return; /* the local route needs no table */
	v->route = route_lookup(lab, rt, &f->dst, true);
	if (v->route < 0)
		return;
	const struct route *via = &rt->routes[v->route];
	if (via->blackhole) {
		v->verdict = VERDICT_REJECT;
		v->reason = REASON_BLACKHOLE;
	} else if (via->kind != ROUTE_LOCAL) {
		v->verdict = VERDICT_REJECT;
		v->reason = REASON_MIDDLEBOX;
	}
}

/* The route to a host outside the VPC, from the ENI inside (its address
 * own, the other end far). */
static void route_to_outside(const struct lab *lab, const struct eni *inside,
			     const struct ip_addr *own, const struct ip_addr *far,
			     struct stage_verdict *v)
{
	v->subnet = inside->subnet;
	if (lab_addr_in_vpc(lab, far)) {
		v->reason = REASON_NO_HOST;
		return;
	}
	v->reason = REASON_NO_ROUTE;
	const struct route_table *rt = subnet_table(lab, inside->subnet, &v->route_table);
	if (!rt)
		return;
	v->route = route_lookup(lab, rt, far, false);
	if (v->route < 0)
		return;
	const struct route *via = &rt->routes[v->route];
	if (via->blackhole) {
		v->reason = REASON_BLACKHOLE;
		return;
	}
	if (is_gateway_endpoint(via)) {
		/* private path to the service's prefix list: no public IP needed */
		v->verdict = VERDICT_ACCEPT;
		v->reason = REASON_ROUTE_ENDPOINT;
		return;
	}
	if (is_egress_only_igw(via) && far->family == IP_V6) {
		/* per packet the replies must pass too; who opened the
		 * connection is pipeline_check's (or conntrack's) business */
		v->verdict = VERDICT_ACCEPT;
		v->reason = REASON_ROUTE_EIGW;
		return;
	}
	if (via->kind != ROUTE_IGW)
		return;
	/* the IGW translates IPv4 1:1 to the public IP of that very private
	 * address; IPv6 is global (§5, §9) */
	if (far->family == IP_V4 && !eni_public_of(inside, own)) {
		v->reason = REASON_NO_PUBLIC_IP;
		return;
	}
	v->verdict = VERDICT_ACCEPT;
	v->reason = REASON_ROUTE_IGW;
}

void pipeline_route_stage(const struct lab *lab, const struct pipeline_end *src,
			  const struct pipeline_end *dst, const struct flow *f,
			  struct stage_verdict *v)
{
	verdict_init(v, STAGE_ROUTE);
	v->verdict = VERDICT_REJECT;
	const struct eni *a = end_eni(lab, src), *b = end_eni(lab, dst);
	if (a && b) {
		if (eni_vpc(lab, a) == eni_vpc(lab, b))
			route_inside_vpc(lab, src, f, v);
		else
			v->reason = REASON_OTHER_VPC;
		return;
	}
	if (!a && !b) {
		v->reason = REASON_NO_ROUTE;
		return;
	}
	v->eni = a ? src->eni : dst->eni;
	route_to_outside(lab, a ? a : b, a ? &f->src : &f->dst, a ? &f->dst : &f->src, v);
}

/* Appends a stage in AWS order; after a REJECT the rest are skipped. */
static void collect(struct pipeline_result *out, const struct stage_verdict *v)
{
	struct stage_verdict *slot = &out->stages[out->n];
	*slot = *v;
	if (out->rejected_at >= 0) {
		/* keep whose stage it was, drop what the evaluation found */
		verdict_init(slot, v->stage);
		slot->eni = v->eni;
		slot->subnet = v->subnet;
		slot->reason = REASON_EARLIER_REJECT;
	} else if (v->verdict == VERDICT_REJECT) {
		out->rejected_at = (int)out->n;
		out->verdict = VERDICT_REJECT;
	}
	out->n++;
}

static void result_init(struct pipeline_result *out)
{
	memset(out, 0, sizeof(*out));
	out->verdict = VERDICT_ACCEPT;
	out->rejected_at = -1;
}

/* A stage not evaluated because an earlier one rejected: only whose
 * stage it is, so the explanation can still name it. */
static void not_evaluated(const struct lab *lab, const struct pipeline_end *src,
			  const struct pipeline_end *dst, enum pipeline_stage stage,
			  struct stage_verdict *v)
{
	verdict_init(v, stage);
	const struct pipeline_end *self =
	    stage == STAGE_SG_EGRESS || stage == STAGE_NACL_EGRESS ? src : dst;
	const struct eni *e = end_eni(lab, self);
	if (!e || stage == STAGE_ROUTE)
		return;
	if (stage == STAGE_SG_EGRESS || stage == STAGE_SG_INGRESS)
		v->eni = self->eni;
	else
		v->subnet = e->subnet;
}

void pipeline_evaluate(const struct lab *lab, const struct pipeline_end *src,
		       const struct pipeline_end *dst, const struct flow *f, unsigned flags,
		       struct pipeline_result *out)
{
	struct stage_verdict v;
	result_init(out);
	pipeline_sg_stage(lab, src, dst, true, f, flags & PIPELINE_SRC_TRACKED, &v);
	collect(out, &v);
	if (out->rejected_at < 0)
		pipeline_nacl_stage(lab, src, dst, true, f, &v);
	else
		not_evaluated(lab, src, dst, STAGE_NACL_EGRESS, &v);
	collect(out, &v);
	if (pipeline_needs_route(lab, src, dst, f)) {
		if (out->rejected_at < 0)
			pipeline_route_stage(lab, src, dst, f, &v);
		else
			not_evaluated(lab, src, dst, STAGE_ROUTE, &v);
		collect(out, &v);
	}
	if (out->rejected_at < 0)
		pipeline_nacl_stage(lab, src, dst, false, f, &v);
	else
		not_evaluated(lab, src, dst, STAGE_NACL_INGRESS, &v);
	collect(out, &v);
	if (out->rejected_at < 0)
		pipeline_sg_stage(lab, src, dst, false, f, flags & PIPELINE_DST_TRACKED, &v);
	else
		not_evaluated(lab, src, dst, STAGE_SG_INGRESS, &v);
	collect(out, &v);
}

void pipeline_query_init(struct pipeline_query *q)
{
	memset(q, 0, sizeof(*q));
	q->client.kind = q->server.kind = END_OUTSIDE;
	q->client.eni = q->server.eni = -1;
	q->eph_lo = PIPELINE_EPHEMERAL_LO;
	q->eph_hi = PIPELINE_EPHEMERAL_HI;
}

/* Whether a request gets a reply to check, and what it looks like
 * (contract 4: of ICMP only echo requests do). */
static bool make_reply(const struct flow *req, struct flow *reply)
{
	flow_reverse(req, reply);
	if (req->proto == PROTO_ICMP && req->src.family == IP_V4) {
		if (req->icmp_type != 8)
			return false;
		reply->icmp_type = 0;
		reply->icmp_code = 0;
	} else if (req->proto == PROTO_ICMPV6 && req->src.family == IP_V6) {
		if (req->icmp_type != 128)
			return false;
		reply->icmp_type = 129;
		reply->icmp_code = 0;
	} else if (flow_is_icmp(req)) {
		return false; /* ICMP over the wrong family: nothing answers */
	}
	return true;
}

/* A response SG stage: tracked, or for a flow untracked on that ENI the
 * other-direction rule that lets every reply through (§4). */
static void response_sg_stage(const struct lab *lab, const struct pipeline_check *c,
			      const struct pipeline_end *src, const struct pipeline_end *dst,
			      bool egress, const struct flow *request, struct stage_verdict *v)
{
	pipeline_sg_stage(lab, src, dst, egress, &c->reply, true, v);
	if (v->reason != REASON_TRACKED)
		return;
	/* the request crossed this ENI in the other direction */
	const struct pipeline_end *self = egress ? src : dst;
	const struct eni *e = end_eni(lab, self);
	struct sg_match back;
	if (e && sg_flow_is_untracked(lab, e, !egress, request, &back)) {
		v->reason = REASON_UNTRACKED;
		v->group = back.group;
		v->rule = back.rule;
		v->untracked = true;
	}
}

static void skip_all(struct pipeline_result *r, enum pipeline_reason why, bool route)
{
	static const enum pipeline_stage order[] = {STAGE_SG_EGRESS, STAGE_NACL_EGRESS, STAGE_ROUTE,
						    STAGE_NACL_INGRESS, STAGE_SG_INGRESS};
	result_init(r);
	r->verdict = VERDICT_SKIPPED;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (order[i] == STAGE_ROUTE && !route)
			continue;
		verdict_init(&r->stages[r->n], order[i]);
		r->stages[r->n].reason = why;
		r->n++;
	}
}

/* Gateway endpoints and egress-only internet gateways carry connections
 * the VPC opens (and their replies): per packet indistinguishable from the
 * request of an outside client; only a whole-flow evaluation knows who
 * opened it. */
static void refuse_endpoint_inbound(const struct pipeline_end *client, struct pipeline_result *r)
{
	if (client->kind != END_OUTSIDE)
		return;
	for (size_t i = 0; i < r->n; i++) {
		struct stage_verdict *v = &r->stages[i];
		if (v->stage != STAGE_ROUTE ||
		    (v->reason != REASON_ROUTE_ENDPOINT && v->reason != REASON_ROUTE_EIGW))
			continue;
		v->verdict = VERDICT_REJECT;
		v->reason = REASON_ENDPOINT_INBOUND;
		r->verdict = VERDICT_REJECT;
		r->rejected_at = (int)i;
		for (size_t k = i + 1; k < r->n; k++) {
			struct stage_verdict *w = &r->stages[k];
			int32_t eni = w->eni, subnet = w->subnet;
			verdict_init(w, w->stage);
			w->eni = eni;
			w->subnet = subnet;
			w->reason = REASON_EARLIER_REJECT;
		}
		return; /* one route stage per path */
	}
}

void pipeline_check(const struct lab *lab, const struct pipeline_query *q,
		    struct pipeline_check *out)
{
	memset(out, 0, sizeof(*out));
	const struct pipeline_end *client = &q->client, *server = &q->server;
	bool route = pipeline_needs_route(lab, client, server, &q->request);
	pipeline_evaluate(lab, client, server, &q->request, 0, &out->request);
	refuse_endpoint_inbound(client, &out->request);
	bool expects = make_reply(&q->request, &out->reply);
	out->reply_lo = q->has_sport ? q->request.sport : q->eph_lo;
	out->reply_hi = q->has_sport ? q->request.sport : q->eph_hi;
	if (!flow_has_ports(&q->request))
		out->reply_lo = out->reply_hi = 0;
	out->reply.dport = out->reply_lo;
	if (out->request.verdict == VERDICT_REJECT || !expects) {
		out->response_reason = out->request.verdict == VERDICT_REJECT
					   ? REASON_REQUEST_REJECTED
					   : REASON_NO_RESPONSE;
		skip_all(&out->response, out->response_reason, route);
		out->verdict = out->request.verdict;
		return;
	}
	out->has_response = true;
	struct pipeline_result *r = &out->response;
	struct stage_verdict v;
	result_init(r);
	response_sg_stage(lab, out, server, client, true, &q->request, &v);
	collect(r, &v);
	nacl_stage_ports(lab, server, client, true, &out->reply, out->reply_lo, out->reply_hi, &v);
	collect(r, &v);
	if (route) {
		pipeline_route_stage(lab, server, client, &out->reply, &v);
		collect(r, &v);
	}
	nacl_stage_ports(lab, server, client, false, &out->reply, out->reply_lo, out->reply_hi, &v);
	collect(r, &v);
	response_sg_stage(lab, out, server, client, false, &q->request, &v);
	collect(r, &v);
	out->verdict = r->verdict;
}

const char *pipeline_stage_name(enum pipeline_stage s)
{
	switch (s) {
	case STAGE_SG_EGRESS:
		return "sg-egress";
	case STAGE_NACL_EGRESS:
		return "nacl-egress";
	case STAGE_ROUTE:
		return "route";
	case STAGE_NACL_INGRESS:
		return "nacl-ingress";
	case STAGE_SG_INGRESS:
		return "sg-ingress";
	default:
		return "?";
	}
}

const char *pipeline_verdict_name(enum pipeline_verdict v)
{
	switch (v) {
	case VERDICT_ACCEPT:
		return "ACCEPT";
	case VERDICT_REJECT:
		return "REJECT";
	default:
		return "SKIPPED";
	}
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
	};
	if ((size_t)r < sizeof(names) / sizeof(names[0]) && names[r])
		return names[r];
	return "?";
}

static const char *service_name(enum vpc_service s)
{
	switch (s) {
	case SERVICE_DNS:
		return "Amazon DNS server";
	case SERVICE_METADATA:
		return "instance metadata service";
	case SERVICE_TIME_SYNC:
		return "Amazon Time Sync Service";
	case SERVICE_DHCP:
		return "DHCP (broadcast)";
	case SERVICE_ROUTER:
		return "VPC router (DHCP)";
	case SERVICE_ECS_METADATA:
		return "ECS task metadata endpoint";
	case SERVICE_LICENSE:
		return "Windows license activation";
	case SERVICE_LINK_LOCAL:
		return "link-local address";
	default:
		return "AWS service";
	}
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
	if (v->has_port && v->verdict == VERDICT_REJECT)
		snprintf(buf, len, "reply port %u refused (first of %u-%u): %s%s %s", v->port,
			 v->port_lo, v->port_hi, prefix, acl->id, rule);
	else if (v->has_port)
		snprintf(buf, len, "%s%s %s (ports %u-%u all allowed)", prefix, acl->id, rule,
			 v->port_lo, v->port_hi);
	else
		snprintf(buf, len, "%s%s %s", prefix, acl->id, rule);
}

static void explain_no_rule(const struct lab *lab, const struct stage_verdict *v, char *buf,
			    size_t len)
{
	const struct eni *e = valid_index(v->eni, lab->n_enis) ? &lab->enis[v->eni] : NULL;
	const char *dir = v->stage == STAGE_SG_EGRESS ? "egress" : "ingress";
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
	if ((v->reason == REASON_ROUTE_IGW || v->reason == REASON_ROUTE_ENDPOINT ||
	     v->reason == REASON_ROUTE_EIGW || v->reason == REASON_ENDPOINT_INBOUND ||
	     v->reason == REASON_BLACKHOLE || v->reason == REASON_MIDDLEBOX) &&
	    !r) {
		snprintf(buf, len, "route to %s", far);
		return;
	}
	switch (v->reason) {
	case REASON_ROUTE_IGW:
		snprintf(buf, len, "%s: %s -> %s%s", rt->id,
			 ip_prefix_format(&r->dest, dest, sizeof(dest)), r->target,
			 f->src.family == IP_V4 ? ", public IP present" : "");
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
		snprintf(buf, len, "the ends are in different VPCs (peering is not modelled)");
		break;
	case REASON_ROUTE_ENDPOINT:
		snprintf(buf, len, "%s: %s -> %s (gateway endpoint)", rt->id,
			 ip_prefix_format(&r->dest, dest, sizeof(dest)), r->target);
		break;
	case REASON_ROUTE_EIGW:
		snprintf(buf, len, "%s: %s -> %s (egress-only internet gateway)", rt->id,
			 ip_prefix_format(&r->dest, dest, sizeof(dest)), r->target);
		break;
	case REASON_ENDPOINT_INBOUND:
		snprintf(buf, len,
			 "%s reaches the VPC only through %s, which carries only connections "
			 "opened from inside the VPC",
			 far, r->target);
		break;
	case REASON_NO_HOST:
		snprintf(buf, len, "%s is inside the VPC but no ENI of the lab has it", far);
		break;
	case REASON_BLACKHOLE:
		snprintf(buf, len,
			 "%s: %s -> %s is a blackhole route (its target is gone): dropped", rt->id,
			 ip_prefix_format(&r->dest, dest, sizeof(dest)), r->target);
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
			snprintf(buf, len, "%s sends %s to %s, not an internet gateway%s", rt->id,
				 ip_prefix_format(&r->dest, dest, sizeof(dest)),
				 r->target ? r->target : "?",
				 r->kind == ROUTE_NAT ? " (NAT gateway paths are not modelled)"
						      : "");
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
		snprintf(buf, len, "same subnet (%s): network ACLs do not apply",
			 valid_index(v->subnet, lab->n_subnets) ? lab->subnets[v->subnet].id : "?");
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
	default:
		explain_route(lab, v, f, buf, len);
		break;
	}
	return buf;
}
