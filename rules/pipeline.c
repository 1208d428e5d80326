/*
 * The four stages of AWS-SEMANTICS §1 in order, plus the route stage for
 * flows that leave the VPC, each producing one stage_verdict that says
 * which rule decided. pipeline_check() adds the response of contract 4:
 * SG stages pass by tracking (or by the rule of an untracked flow), NACL
 * stages are evaluated again, stateless, over the client's whole
 * ephemeral port range when the client port is unknown.
 */
#include "pipeline.h"
#include "pipeline-private.h"

#include <stdio.h>
#include <string.h>

#include "nacl.h"
#include "sg.h"

static bool v4_is(const struct ip_addr *a, uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
	return a->b[0] == x && a->b[1] == y && a->b[2] == z && a->b[3] == w;
}

/* fd00:ec2::<low>, the Nitro IPv6 endpoints of the services ("253" in the
 * text is hex: the last 16 bits are 0x0253). */
static const uint8_t v6_services_prefix[14] = {0xfd, 0x00, 0x0e, 0xc2};
static const struct {
	uint16_t low;
	enum vpc_service s;
} v6_services[] = {{0x0253, SERVICE_DNS}, {0x0254, SERVICE_METADATA}, {0x0123, SERVICE_TIME_SYNC}};

static enum vpc_service v6_service(const struct ip_addr *a)
{
	if (memcmp(a->b, v6_services_prefix, sizeof(v6_services_prefix)))
		return SERVICE_NONE;
	for (size_t i = 0; i < sizeof(v6_services) / sizeof(v6_services[0]); i++)
		if (a->b[14] == (uint8_t)(v6_services[i].low >> 8) &&
		    a->b[15] == (uint8_t)(v6_services[i].low & 0xff))
			return v6_services[i].s;
	return SERVICE_NONE;
}

/* The link-local addresses of 169.254.0.0/16 AWS serves inside every VPC
 * (169.254.c.d); AWS's filters leave the whole block alone (§9), so the
 * rest of it is a service end too, never an outside host behind the
 * internet gateway. */
static const struct {
	uint8_t c, d;
	enum vpc_service s;
} link_local[] = {
    {169, 253, SERVICE_DNS},	 {169, 254, SERVICE_METADATA}, {169, 123, SERVICE_TIME_SYNC},
    {169, 250, SERVICE_LICENSE}, {169, 251, SERVICE_LICENSE},  {170, 2, SERVICE_ECS_METADATA},
};

static enum vpc_service link_local_service(const struct ip_addr *a)
{
	for (size_t i = 0; i < sizeof(link_local) / sizeof(link_local[0]); i++)
		if (v4_is(a, 169, 254, link_local[i].c, link_local[i].d))
			return link_local[i].s;
	return SERVICE_LINK_LOCAL;
}

static void add_prefix(struct ip_prefix *out, size_t *n, const uint8_t *b, uint8_t family,
		       uint8_t len)
{
	struct ip_prefix *p = &out[(*n)++];
	memset(p, 0, sizeof(*p));
	p->addr.family = family;
	memcpy(p->addr.b, b, family == IP_V6 ? 16 : 4);
	p->len = len;
}

_Static_assert(2 + sizeof(link_local) / sizeof(link_local[0]) +
		       sizeof(v6_services) / sizeof(v6_services[0]) <=
		   PIPELINE_SERVICE_PREFIXES,
	       "pipeline_service_prefixes outgrows its callers' arrays");

size_t pipeline_service_prefixes(struct ip_prefix *out)
{
	size_t n = 0;
	add_prefix(out, &n, (const uint8_t[]){169, 254, 0, 0}, IP_V4, 16);
	for (size_t i = 0; i < sizeof(link_local) / sizeof(link_local[0]); i++)
		add_prefix(out, &n, (const uint8_t[]){169, 254, link_local[i].c, link_local[i].d},
			   IP_V4, 32);
	add_prefix(out, &n, (const uint8_t[]){255, 255, 255, 255}, IP_V4, 32);
	for (size_t i = 0; i < sizeof(v6_services) / sizeof(v6_services[0]); i++) {
		uint8_t b[16];
		memcpy(b, v6_services_prefix, sizeof(v6_services_prefix));
		b[14] = (uint8_t)(v6_services[i].low >> 8);
		b[15] = (uint8_t)(v6_services[i].low & 0xff);
		add_prefix(out, &n, b, IP_V6, 128);
	}
	return n;
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
	return v6_service(a);
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

/* How the SG stages treat traffic with peer (§1): an ordinary peer; a
 * service they never filter; or one they skip only for TCP/UDP packets
 * whose source or destination port lies in lo..hi (DNS 53, DHCP 67-68).
 * proto: the packet's protocol. rules/reach gets the same answer through
 * the stage scope (sg_scope). */
enum sg_exemption { SG_EXEMPT_NONE, SG_EXEMPT_ALL, SG_EXEMPT_PORTS };

static enum sg_exemption sg_exemption_of(const struct lab *lab, const struct pipeline_end *peer,
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

static void skip(struct stage_verdict *v, enum pipeline_reason r, enum vpc_service s)
{
	v->verdict = VERDICT_SKIPPED;
	v->reason = r;
	v->service = s;
}

/* Whose stage it is, undecided; NULL when self is no ENI of the lab, and
 * then the stage is skipped for it. */
static const struct eni *scope_init(const struct lab *lab, const struct pipeline_end *self,
				    enum pipeline_stage stage, struct stage_verdict *v,
				    struct stage_scope *s)
{
	verdict_init(v, stage);
	s->decided = true;
	s->egress = stage == STAGE_SG_EGRESS || stage == STAGE_NACL_EGRESS;
	s->eni = NULL;
	s->nacl = NULL;
	s->exempt_ports = false;
	const struct eni *e = end_eni(lab, self);
	if (!e && self->kind == END_SERVICE)
		skip(v, REASON_SERVICE, self->service);
	else if (!e)
		skip(v, REASON_OUTSIDE, SERVICE_NONE);
	return e;
}

/* Traffic no SG filters (§1): DNS with the Amazon DNS server and DHCP
 * with the VPC's DHCP service always, by their ports; the link-local
 * services unless the lab says SGs filter them. */
static void sg_scope(const struct lab *lab, const struct eni *e, const struct pipeline_end *self,
		     const struct pipeline_end *peer, const struct flow *f, struct stage_verdict *v,
		     struct stage_scope *s)
{
	v->eni = self->eni;
	uint16_t lo = 0, hi = 0;
	switch (sg_exemption_of(lab, peer, f->proto, &lo, &hi)) {
	case SG_EXEMPT_ALL:
		skip(v, REASON_SERVICE, peer->service);
		return;
	case SG_EXEMPT_PORTS:
		s->exempt_ports = true;
		s->exempt_lo = lo;
		s->exempt_hi = hi;
		s->exempt_service = peer->service;
		break;
	default:
		break;
	}
	s->decided = false;
	s->eni = e;
}

/* No NACL filters traffic inside one subnet or to or from a service
 * address of the VPC (§1, §9). DHCP is exempt as the exchange with the
 * VPC's DHCP service (the broadcast address or the VPC router), never as
 * UDP 67/68 between any two hosts. */
static void nacl_scope(const struct lab *lab, const struct eni *e, const struct pipeline_end *peer,
		       const struct flow *f, struct stage_verdict *v, struct stage_scope *s)
{
	v->subnet = e->subnet;
	const struct eni *other = end_eni(lab, peer);
	if (other && other->subnet == e->subnet) {
		skip(v, REASON_SAME_SUBNET, SERVICE_NONE);
		return;
	}
	if (peer->kind == END_SERVICE) {
		skip(v, REASON_SERVICE, peer->service);
		return;
	}
	s->nacl = pipeline_subnet_nacl(lab, e->subnet, f, v);
	s->decided = !s->nacl;
}

void pipeline_stage_scope(const struct lab *lab, enum pipeline_stage stage,
			  const struct pipeline_end *self, const struct pipeline_end *peer,
			  const struct flow *f, struct stage_verdict *v, struct stage_scope *out)
{
	const struct eni *e = scope_init(lab, self, stage, v, out);
	if (!e)
		return;
	if (stage == STAGE_SG_EGRESS || stage == STAGE_SG_INGRESS)
		sg_scope(lab, e, self, peer, f, v, out);
	else
		nacl_scope(lab, e, peer, f, v, out);
}

void pipeline_scope_exempt(const struct stage_scope *s, const struct stage_verdict *v,
			   struct stage_verdict *out)
{
	*out = *v;
	skip(out, REASON_SERVICE, s->exempt_service);
}

void pipeline_sg_stage(const struct lab *lab, const struct pipeline_end *src,
		       const struct pipeline_end *dst, bool egress, const struct flow *f,
		       bool tracked, struct stage_verdict *v)
{
	struct stage_scope s;
	pipeline_stage_scope(lab, egress ? STAGE_SG_EGRESS : STAGE_SG_INGRESS, egress ? src : dst,
			     egress ? dst : src, f, v, &s);
	if (s.decided)
		return;
	if (s.exempt_ports && flow_has_ports(f) &&
	    (port_in(f->dport, s.exempt_lo, s.exempt_hi) ||
	     port_in(f->sport, s.exempt_lo, s.exempt_hi))) {
		skip(v, REASON_SERVICE, s.exempt_service);
		return;
	}
	if (tracked) {
		v->verdict = VERDICT_ACCEPT;
		v->reason = REASON_TRACKED;
		return;
	}
	struct sg_match m;
	if (!sg_evaluate(lab, s.eni, egress, f, &m)) {
		v->verdict = VERDICT_REJECT;
		v->reason = REASON_NO_RULE;
		return;
	}
	v->verdict = VERDICT_ACCEPT;
	v->reason = REASON_RULE;
	v->group = m.group;
	v->rule = m.rule;
	v->untracked = sg_flow_is_untracked(lab, s.eni, egress, f, NULL);
}

/* The NACL stage over destination ports lo..hi (lo == hi for a packet). */
void pipeline_nacl_stage_ports(const struct lab *lab, const struct pipeline_end *src,
			       const struct pipeline_end *dst, bool egress, const struct flow *f,
			       uint16_t lo, uint16_t hi, struct stage_verdict *v)
{
	struct stage_scope s;
	pipeline_stage_scope(lab, egress ? STAGE_NACL_EGRESS : STAGE_NACL_INGRESS,
			     egress ? src : dst, egress ? dst : src, f, v, &s);
	if (!s.decided)
		pipeline_nacl_ports_verdict(s.nacl, egress, f, lo, hi, v);
}

void pipeline_nacl_stage(const struct lab *lab, const struct pipeline_end *src,
			 const struct pipeline_end *dst, bool egress, const struct flow *f,
			 struct stage_verdict *v)
{
	pipeline_nacl_stage_ports(lab, src, dst, egress, f, f->dport, f->dport, v);
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

/* One stage of pipeline_evaluate, or its place after a rejecting one. */
static void evaluate_stage(const struct lab *lab, const struct pipeline_end *src,
			   const struct pipeline_end *dst, const struct flow *f, unsigned flags,
			   enum pipeline_stage stage, struct pipeline_result *out)
{
	struct stage_verdict v;
	if (out->rejected_at >= 0)
		not_evaluated(lab, src, dst, stage, &v);
	else if (stage == STAGE_SG_EGRESS)
		pipeline_sg_stage(lab, src, dst, true, f, flags & PIPELINE_SRC_TRACKED, &v);
	else if (stage == STAGE_SG_INGRESS)
		pipeline_sg_stage(lab, src, dst, false, f, flags & PIPELINE_DST_TRACKED, &v);
	else if (stage == STAGE_ROUTE) {
		/* and through a NAT gateway the NACL crossings of its subnet */
		pipeline_route_collect(lab, src, dst, f, false, f->dport, f->dport, out);
		return;
	} else
		pipeline_nacl_stage(lab, src, dst, stage == STAGE_NACL_EGRESS, f, &v);
	pipeline_collect(out, &v);
}

void pipeline_evaluate(const struct lab *lab, const struct pipeline_end *src,
		       const struct pipeline_end *dst, const struct flow *f, unsigned flags,
		       struct pipeline_result *out)
{
	pipeline_result_init(out);
	bool route = pipeline_needs_route(lab, src, dst, f);
	for (int s = 0; s < STAGE_MAX; s++)
		if (s != STAGE_ROUTE || route)
			evaluate_stage(lab, src, dst, f, flags, (enum pipeline_stage)s, out);
}
