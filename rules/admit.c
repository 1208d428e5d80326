/*
 * Every blocker and its change (see admit.h). The stages are the
 * pipeline's own functions called one by one; only the response's NACL
 * stages over the client's ephemeral range are walked here, interval by
 * interval, because the fix needs every refused port and the lowest
 * refusing entry, not just the first refused port.
 */
#include "admit.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nacl.h"

static bool valid_index(int32_t i, size_t n)
{
	return i >= 0 && (size_t)i < n;
}

static struct admit_blocker *add(struct admit_report *r, bool response,
				 const struct stage_verdict *v, const struct flow *f, bool fixable,
				 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static struct admit_blocker *add(struct admit_report *r, bool response,
				 const struct stage_verdict *v, const struct flow *f, bool fixable,
				 const char *fmt, ...)
{
	if (r->n == ADMIT_MAX)
		return NULL;
	struct admit_blocker *b = &r->items[r->n++];
	b->response = response;
	b->v = *v;
	b->flow = *f;
	b->fixable = fixable;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->change, sizeof(b->change), fmt, ap);
	va_end(ap);
	b->same_as = -1;
	/* one route or public IP admits the request and its response alike */
	for (size_t i = 0; i + 1 < r->n && b->same_as < 0; i++)
		if (!strcmp(r->items[i].change, b->change))
			b->same_as = (int)i;
	return b;
}

/* "tcp 5432", "tcp 32768-60999", "icmp type 8 code 0", "proto 47". */
static void what_text(const struct flow *f, uint16_t lo, uint16_t hi, char *buf, size_t len)
{
	char p[16];
	flow_proto_name(f->proto, p, sizeof(p));
	if (flow_has_ports(f) && lo != hi)
		snprintf(buf, len, "%s %u-%u", p, lo, hi);
	else if (flow_has_ports(f))
		snprintf(buf, len, "%s %u", p, lo);
	else if (flow_is_icmp(f))
		snprintf(buf, len, "%s type %u code %u", p, f->icmp_type, f->icmp_code);
	else
		snprintf(buf, len, "%s", p);
}

static void group_text(const struct lab *lab, int32_t g, char *buf, size_t len)
{
	const struct security_group *sg = &lab->groups[g];
	if (sg->name)
		snprintf(buf, len, "%s (%s)", sg->id, sg->name);
	else
		snprintf(buf, len, "%s", sg->id);
}

/* What an SG rule should name as its peer: the other ENI's first group
 * (as AWS's own suggestions reference groups), else the address. */
static void sg_peer(const struct lab *lab, const struct pipeline_end *peer,
		    const struct ip_addr *addr, char *buf, size_t len)
{
	struct ip_prefix host;
	if (peer->kind == END_ENI && valid_index(peer->eni, lab->n_enis) &&
	    lab->enis[peer->eni].n_groups &&
	    valid_index(lab->enis[peer->eni].groups[0], lab->n_groups)) {
		group_text(lab, lab->enis[peer->eni].groups[0], buf, len);
		return;
	}
	ip_prefix_host(addr, &host);
	ip_prefix_format(&host, buf, len);
}

/* What a NACL entry should name: the other end's subnet, else the address. */
static void nacl_peer(const struct lab *lab, const struct pipeline_end *peer,
		      const struct ip_addr *addr, char *buf, size_t len)
{
	struct ip_prefix host;
	if (peer->kind == END_ENI && valid_index(peer->eni, lab->n_enis) &&
	    valid_index(lab->enis[peer->eni].subnet, lab->n_subnets)) {
		const struct subnet *s = &lab->subnets[lab->enis[peer->eni].subnet];
		if (addr->family == IP_V4) {
			ip_prefix_format(&s->cidr, buf, len);
			return;
		}
		if (s->has_cidr6) {
			ip_prefix_format(&s->cidr6, buf, len);
			return;
		}
	}
	ip_prefix_host(addr, &host);
	ip_prefix_format(&host, buf, len);
}

static void sg_blocker(const struct lab *lab, struct admit_report *r, bool response,
		       const struct stage_verdict *v, const struct flow *f,
		       const struct pipeline_end *peer)
{
	bool egress = v->stage == STAGE_SG_EGRESS;
	char what[64], who[200], grp[200];
	what_text(f, f->dport, f->dport, what, sizeof(what));
	sg_peer(lab, peer, egress ? &f->dst : &f->src, who, sizeof(who));
	const struct eni *e = valid_index(v->eni, lab->n_enis) ? &lab->enis[v->eni] : NULL;
	if (!e || !e->n_groups || !valid_index(e->groups[0], lab->n_groups)) {
		add(r, response, v, f, true, "attach to %s a security group with %s: %s %s %s",
		    lab_eni_label(lab, v->eni), egress ? "egress" : "ingress", what,
		    egress ? "to" : "from", who);
		return;
	}
	group_text(lab, e->groups[0], grp, sizeof(grp));
	add(r, response, v, f, true, "add to %s %s: %s %s %s", grp, egress ? "egress" : "ingress",
	    what, egress ? "to" : "from", who);
}

/* Ports lo..hi of a NACL stage: the refused ones (as one span) and the
 * lowest entry refusing any. false when all pass. */
static bool nacl_refused(const struct nacl *acl, bool egress, const struct flow *f, uint16_t lo,
			 uint16_t hi, uint16_t *rlo, uint16_t *rhi, uint32_t *rule)
{
	struct flow g = *f;
	struct nacl_decision d;
	bool refused = false;
	if (!flow_has_ports(f)) {
		*rlo = *rhi = 0;
		if (nacl_evaluate(acl, egress, f, &d))
			return false;
		*rule = d.rule_number;
		return true;
	}
	uint32_t limit = (uint32_t)hi + 1;
	for (uint32_t p = lo, next; p <= hi; p = next) {
		next = nacl_next_port(acl, egress, p, limit);
		g.dport = (uint16_t)p;
		if (nacl_evaluate(acl, egress, &g, &d))
			continue;
		if (!refused || d.rule_number < *rule)
			*rule = d.rule_number;
		if (!refused)
			*rlo = (uint16_t)p;
		*rhi = (uint16_t)(next - 1);
		refused = true;
	}
	return refused;
}

static void nacl_blocker(const struct lab *lab, struct admit_report *r, bool response,
			 const struct pipeline_end *src, const struct pipeline_end *dst,
			 bool egress, const struct flow *f, uint16_t lo, uint16_t hi)
{
	struct stage_verdict v;
	struct flow g = *f;
	g.dport = lo;
	pipeline_nacl_stage(lab, src, dst, egress, &g, &v);
	if (v.verdict == VERDICT_SKIPPED || !valid_index(v.nacl, lab->n_nacls)) {
		if (v.verdict == VERDICT_REJECT)
			add(r, response, &v, &g, true, "associate the subnet with a network ACL");
		return;
	}
	const struct nacl *acl = &lab->nacls[v.nacl];
	uint16_t rlo = lo, rhi = hi;
	uint32_t rule = 0;
	if (!nacl_refused(acl, egress, f, lo, hi, &rlo, &rhi, &rule))
		return;
	char what[64], who[IP_PREFIX_STRLEN], name[160];
	v.verdict = VERDICT_REJECT;
	v.rule_number = rule;
	g.dport = rlo;
	what_text(f, rlo, rhi, what, sizeof(what));
	nacl_peer(lab, egress ? dst : src, egress ? &f->dst : &f->src, who, sizeof(who));
	if (acl->name)
		snprintf(name, sizeof(name), "%s (%s)", acl->id, acl->name);
	else
		snprintf(name, sizeof(name), "%s", acl->id);
	add(r, response, &v, &g, true, "NACL %s %s: an allow for %s %s %s numbered before rule %u",
	    name, egress ? "egress" : "ingress", what, egress ? "to" : "from", who, rule);
}

static void route_blocker(const struct lab *lab, struct admit_report *r, bool response,
			  const struct stage_verdict *v, const struct flow *f)
{
	const char *rt = valid_index(v->route_table, lab->n_route_tables)
			     ? lab->route_tables[v->route_table].id
			     : NULL;
	const char *subnet =
	    valid_index(v->subnet, lab->n_subnets) ? lab->subnets[v->subnet].id : "the subnet";
	const char *all = f->src.family == IP_V6 ? "::/0" : "0.0.0.0/0";
	const char *label = lab_eni_label(lab, v->eni);
	/* past the route, IPv4 to the internet needs a public address too (§9) */
	bool ip4 = f->src.family == IP_V4 && valid_index(v->eni, lab->n_enis) &&
		   !lab->enis[v->eni].has_public_ip;
	switch (v->reason) {
	case REASON_NO_PUBLIC_IP:
		add(r, response, v, f, true, "give %s a public IPv4 or Elastic IP address",
		    lab_eni_label(lab, v->eni));
		break;
	case REASON_NO_ROUTE:
		if (rt)
			add(r, response, v, f, true,
			    "route table %s (of %s): a route for %s to an internet gateway%s%s%s",
			    rt, subnet, all, ip4 ? "; and give " : "", ip4 ? label : "",
			    ip4 ? " a public IPv4 or Elastic IP address" : "");
		else
			add(r, response, v, f, true,
			    "associate %s with a route table routing %s to an internet "
			    "gateway%s%s%s",
			    subnet, all, ip4 ? "; and give " : "", ip4 ? label : "",
			    ip4 ? " a public IPv4 or Elastic IP address" : "");
		break;
	case REASON_OTHER_VPC:
		add(r, response, v, f, true,
		    "route table %s (of %s): a route for the other VPC's block to an active "
		    "VPC peering connection joining both VPCs",
		    rt ? rt : "?", subnet);
		break;
	case REASON_NO_HOST:
		add(r, response, v, f, false,
		    "none in the rules: no ENI of the lab has that address of the VPC");
		break;
	case REASON_ENDPOINT_INBOUND:
		add(r, response, v, f, false,
		    "none in the rules: that route carries only connections opened from inside");
		break;
	default:
		add(r, response, v, f, true,
		    "route table %s (of %s): route the destination to an internet gateway",
		    rt ? rt : "?", subnet);
		break;
	}
}

static void request_blockers(const struct lab *lab, const struct pipeline_query *q,
			     struct admit_report *r)
{
	const struct pipeline_end *c = &q->client, *s = &q->server;
	const struct flow *f = &q->request;
	struct stage_verdict v;
	pipeline_sg_stage(lab, c, s, true, f, false, &v);
	if (v.verdict == VERDICT_REJECT)
		sg_blocker(lab, r, false, &v, f, s);
	nacl_blocker(lab, r, false, c, s, true, f, f->dport, f->dport);
	if (pipeline_needs_route(lab, c, s, f)) {
		pipeline_route_stage(lab, c, s, f, &v);
		/* gateway endpoints, egress-only and NAT gateways carry only
		 * what the VPC opens (pipeline_check refuses the rest the same way) */
		if (c->kind == END_OUTSIDE && pipeline_route_outbound_only(v.reason)) {
			v.verdict = VERDICT_REJECT;
			v.reason = REASON_ENDPOINT_INBOUND;
		}
		if (v.verdict == VERDICT_REJECT)
			route_blocker(lab, r, false, &v, f);
	}
	nacl_blocker(lab, r, false, c, s, false, f, f->dport, f->dport);
	pipeline_sg_stage(lab, c, s, false, f, false, &v);
	if (v.verdict == VERDICT_REJECT)
		sg_blocker(lab, r, false, &v, f, c);
}

/* The response's packet; false when none is expected (contract 4: of
 * ICMP only echo requests are answered). */
static bool reply_of(const struct flow *req, struct flow *reply)
{
	flow_reverse(req, reply);
	if (!flow_is_icmp(req))
		return req->proto != PROTO_ICMP && req->proto != PROTO_ICMPV6;
	if (req->proto == PROTO_ICMP && req->icmp_type == 8)
		reply->icmp_type = 0;
	else if (req->proto == PROTO_ICMPV6 && req->icmp_type == 128)
		reply->icmp_type = 129;
	else
		return false;
	reply->icmp_code = 0;
	return true;
}

/* The response's SG stages pass by tracking (§4): only its NACL and
 * route stages can block it. */
static void response_blockers(const struct lab *lab, const struct pipeline_query *q,
			      struct admit_report *r)
{
	const struct pipeline_end *c = &q->client, *s = &q->server;
	struct flow reply;
	if (!reply_of(&q->request, &reply))
		return;
	uint16_t lo = 0, hi = 0;
	if (flow_has_ports(&reply)) {
		lo = q->has_sport ? q->request.sport : q->eph_lo;
		hi = q->has_sport ? q->request.sport : q->eph_hi;
	}
	reply.dport = lo;
	nacl_blocker(lab, r, true, s, c, true, &reply, lo, hi);
	if (pipeline_needs_route(lab, s, c, &reply)) {
		struct stage_verdict v;
		pipeline_route_stage(lab, s, c, &reply, &v);
		if (v.verdict == VERDICT_REJECT)
			route_blocker(lab, r, true, &v, &reply);
	}
	nacl_blocker(lab, r, true, s, c, false, &reply, lo, hi);
}

void admit_analyze(const struct lab *lab, const struct pipeline_query *q, struct admit_report *out)
{
	memset(out, 0, sizeof(*out));
	request_blockers(lab, q, out);
	response_blockers(lab, q, out);
	out->fixable = true;
	for (size_t i = 0; i < out->n; i++) {
		out->fixable &= out->items[i].fixable;
		out->n_changes += out->items[i].same_as < 0;
	}
}
