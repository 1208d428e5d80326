/*
 * DESIGN.md contract 4: a request from client to server and its response.
 * SG stages of the response pass by tracking (or by the rule of an
 * untracked flow), NACL stages are evaluated again, stateless, over the
 * client's whole ephemeral port range when the client port is unknown.
 */
#include "pipeline.h"
#include "pipeline-private.h"

#include <string.h>

#include "forward.h"

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

/* Every stage of the response skipped for one reason: the request's
 * stages, none evaluated. */
static void skip_all(struct pipeline_result *r, const struct pipeline_result *request,
		     enum pipeline_reason why)
{
	pipeline_result_init(r);
	r->verdict = VERDICT_SKIPPED;
	for (size_t i = 0; i < request->n; i++) {
		verdict_init(&r->stages[r->n], request->stages[i].stage);
		r->stages[r->n].reason = why;
		r->n++;
	}
}

/* The request as the client puts it on the wire: an outside client, or an
 * ENI going through the internet gateway, addresses the server's public
 * IP (IPv4) when its address has one. */
static void request_wire(const struct lab *lab, const struct pipeline_query *q, struct flow *w)
{
	*w = q->request;
	const struct eni *server = end_eni(lab, &q->server);
	if (!server || (q->client.kind != END_OUTSIDE && !q->via_public))
		return;
	const struct ip_addr *pub = eni_public_of(server, &q->request.dst);
	if (pub)
		w->dst = *pub;
}

/* The response as the server sends it: back to the address the request
 * came from as the server saw it, against the connections the request
 * created (the ENIs whose SG stage admitted and tracked it). */
static void response_input(const struct pipeline_check *c, const struct fwd_decision *req,
			   struct fwd_input *in)
{
	struct flow w;
	flow_reverse(&req->side[1].flow, &w);
	w.icmp_type = c->reply.icmp_type;
	w.icmp_code = c->reply.icmp_code;
	w.dport = c->reply.dport;
	forward_input_init(in, &req->dst, &w);
	in->port_lo = c->reply_lo;
	in->port_hi = c->reply_hi;
	in->reply = true;
	in->via_nlb = req->nlb.lb >= 0;
	in->nlb = req->nlb;
	if (req->side[1].ct == FWD_CT_INSERT)
		in->tracked |= PIPELINE_SRC_TRACKED;
	if (req->side[0].ct == FWD_CT_INSERT)
		in->tracked |= PIPELINE_DST_TRACKED;
}

/* Each packet of the flow through the data path's own decision
 * (rules/forward): the request, then the response. */
void pipeline_check(const struct lab *lab, const struct pipeline_query *q,
		    struct pipeline_check *out)
{
	memset(out, 0, sizeof(*out));
	struct fwd_input in;
	struct fwd_decision req, resp;
	struct flow wire;
	request_wire(lab, q, &wire);
	forward_input_init(&in, &q->client, &wire);
	in.opens = true;
	forward_decide(lab, &in, &req);
	out->request = req.res;
	if (req.res.n == 0)
		out->request.verdict = VERDICT_REJECT; /* nothing routes it at all */
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
		skip_all(&out->response, &out->request, out->response_reason);
		out->verdict = out->request.verdict;
		return;
	}
	out->has_response = true;
	response_input(out, &req, &in);
	forward_decide(lab, &in, &resp);
	out->response = resp.res;
	out->verdict = resp.res.n ? resp.res.verdict : VERDICT_REJECT;
}
