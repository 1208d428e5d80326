/*
 * DESIGN.md contract 4: a request from client to server and its response.
 * SG stages of the response pass by tracking (or by the rule of an
 * untracked flow), NACL stages are evaluated again, stateless, over the
 * client's whole ephemeral port range when the client port is unknown.
 */
#include "pipeline.h"
#include "pipeline-private.h"

#include <string.h>

#include "sg.h"

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
	pipeline_result_init(r);
	r->verdict = VERDICT_SKIPPED;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (order[i] == STAGE_ROUTE && !route)
			continue;
		verdict_init(&r->stages[r->n], order[i]);
		r->stages[r->n].reason = why;
		r->n++;
	}
}

/* Gateway endpoints, egress-only internet gateways and NAT gateways carry
 * connections the VPC opens (and their replies): per packet
 * indistinguishable from the request of an outside client; only a
 * whole-flow evaluation knows who opened it. */
static void refuse_endpoint_inbound(const struct pipeline_end *client, struct pipeline_result *r)
{
	if (client->kind != END_OUTSIDE)
		return;
	for (size_t i = 0; i < r->n; i++) {
		struct stage_verdict *v = &r->stages[i];
		if (v->stage != STAGE_ROUTE || !pipeline_route_outbound_only(v->reason))
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
	pipeline_result_init(r);
	response_sg_stage(lab, out, server, client, true, &q->request, &v);
	pipeline_collect(r, &v);
	pipeline_nacl_stage_ports(lab, server, client, true, &out->reply, out->reply_lo, out->reply_hi, &v);
	pipeline_collect(r, &v);
	if (route)
		pipeline_route_collect(lab, server, client, &out->reply, true, out->reply_lo,
				       out->reply_hi, r);
	pipeline_nacl_stage_ports(lab, server, client, false, &out->reply, out->reply_lo, out->reply_hi, &v);
	pipeline_collect(r, &v);
	response_sg_stage(lab, out, server, client, false, &q->request, &v);
	pipeline_collect(r, &v);
	out->verdict = r->verdict;
}
