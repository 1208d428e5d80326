/*
 * The forwarding decision without a tracker (forward.h): who the wire
 * destination is and what the internet gateway translates on the way
 * (forward_resolve), then the stages in AWS order and what follows from
 * them (forward_judge). The data path's conntrack half is forward_ct.c.
 */
#include "forward-private.h"

#include <string.h>

#include "own.h"
#include "packet.h"
#include "pipeline-private.h"
#include "sg.h"

void forward_input_init(struct fwd_input *in, const struct pipeline_end *from,
			const struct flow *wire)
{
	memset(in, 0, sizeof(*in));
	in->from = *from;
	in->wire = *wire;
	in->port_lo = in->port_hi = wire->dport;
}

static bool v6_link_local(const struct ip_addr *a)
{
	return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

/* IPv6 that stays on the link (MLD reports, traffic from :: or to and from
 * fe80::/10, to multicast): a VPC router routes none of it, and it is not
 * a spoofed source either. */
static bool link_scope(const struct pkt *p)
{
	static const struct ip_addr unspecified = {.family = IP_V6};
	return p->dst.b[0] == 0xff || v6_link_local(&p->src) || v6_link_local(&p->dst) ||
	       ip_addr_eq(&p->src, &unspecified);
}

/* An ENI's interface is untagged: AWS drops what an instance sends with an
 * 802.1Q or 802.1ad tag, whatever it carries, ARP included (the parser
 * reads through one tag; filtering the inner packet and delivering it
 * still tagged would carry a VLAN a VPC has not). */
enum fwd_frame forward_classify(const struct pkt *p)
{
	if (p->has_vlan || p->ethertype == PKT_ETHERTYPE_QINQ || p->ethertype == 0x9100)
		return FWD_FRAME_VLAN;
	if (p->kind == PKT_ARP)
		return FWD_FRAME_ARP;
	if (p->kind != PKT_IPV4 && p->kind != PKT_IPV6)
		return FWD_FRAME_NOT_IP;
	if (p->kind != PKT_IPV6)
		return FWD_FRAME_IP;
	if (p->has_icmp && p->proto == PROTO_ICMPV6 && p->icmp_type >= PKT_ICMP6_ROUTER_SOLICIT &&
	    p->icmp_type <= 137)
		return FWD_FRAME_ND;
	return link_scope(p) ? FWD_FRAME_LINK_SCOPE : FWD_FRAME_IP;
}

bool forward_port_owns(const struct lab *lab, const struct fwd_port *port, const struct ip_addr *a)
{
	if (port->kind == FWD_PORT_REMOTE) /* the link sends for the remote ENIs */
		return lab_eni_remote(lab, lab_eni_by_addr(lab, a));
	if (port->kind == FWD_PORT_OUTSIDE && valid_index(port->index, lab->n_outside))
		return ip_addr_eq(&lab->outside[port->index].addr, a);
	if (port->kind != FWD_PORT_ENI || !valid_index(port->index, lab->n_enis))
		return false;
	return eni_has_addr(&lab->enis[port->index], a);
}

static int32_t outside_host_of(const struct lab *lab, const struct ip_addr *a)
{
	for (size_t i = 0; i < lab->n_outside; i++)
		if (ip_addr_eq(&lab->outside[i].addr, a))
			return (int32_t)i;
	return -1;
}

static const struct pipeline_end outside_end = {END_OUTSIDE, -1, SERVICE_NONE};

/* A destination that is no ENI's private or public address: a service of
 * the sender's VPC or an outside host (one the lab declares stays one). */
static void resolve_beyond(const struct lab *lab, const struct fwd_input *in,
			   struct fwd_decision *d)
{
	const struct ip_addr *dst = &in->wire.dst;
	int32_t host = outside_host_of(lab, dst);
	if (host >= 0)
		d->dst = outside_end;
	else
		pipeline_end_of_addr(lab, eni_vpc(lab, end_eni(lab, &in->from)), dst, &d->dst);
	if (in->from.kind != END_ENI) {
		d->drop = FWD_DROP_UNKNOWN_DEST; /* nothing routes outside to outside */
		return;
	}
	d->path = d->dst.kind == END_OUTSIDE ? FWD_PATH_OUT : FWD_PATH_INSIDE;
	if (d->path == FWD_PATH_OUT)
		d->egress = (struct fwd_port){FWD_PORT_OUTSIDE, host};
}

/* To an ENI by its public IP: from outside the IGW translates the
 * destination 1:1 (§1, §9); from another ENI the packet hairpins through
 * the IGW and arrives from the sender's public IP as well. */
static void resolve_public(const struct lab *lab, const struct fwd_input *in,
			   const struct ip_addr *priv, struct fwd_decision *d, struct flow *seen)
{
	d->xlate.dst.has_addr = true;
	d->xlate.dst.addr = *priv;
	seen->dst = *priv;
	const struct eni *from = end_eni(lab, &in->from);
	if (!from) {
		d->path = in->from.kind == END_OUTSIDE ? FWD_PATH_IN : FWD_PATH_INSIDE;
		return;
	}
	d->path = FWD_PATH_HAIRPIN;
	const struct ip_addr *pub = eni_public_of(from, &in->wire.src);
	if (pub) { /* else the route stage refuses it: no public IP */
		d->xlate.src.has_addr = true;
		d->xlate.src.addr = *pub;
		seen->src = *pub;
	}
}

static void side_init(struct fwd_side *s, int32_t eni, const struct flow *f)
{
	memset(s, 0, sizeof(*s));
	s->eni = eni;
	s->flow = *f;
}

/*
 * A lab split across hosts (own.h): an end another host owns has its
 * stages and its conntrack zone on that host, so it is no ENI of this
 * one. Only ENI to ENI by private address crosses hosts
 * (docs/scale-out.md, limits): what would need a gateway, a load
 * balancer or an outside host of another host is dropped as unroutable
 * here, and so is a frame from the link for another remote ENI (hosts do
 * not relay each other's).
 */
static void resolve_split(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d)
{
	bool src = in->from.kind == END_ENI && lab_eni_remote(lab, in->from.eni);
	bool dst = d->dst.kind == END_ENI && lab_eni_remote(lab, d->dst.eni);
	bool far = d->egress.kind == FWD_PORT_OUTSIDE &&
		   valid_index(d->egress.index, lab->n_outside) &&
		   lab->outside[d->egress.index].remote;

	if (!src && !dst && !far)
		return;
	if (far || (src && dst) || d->path != FWD_PATH_INSIDE || d->nlb.lb >= 0) {
		d->drop = FWD_DROP_UNKNOWN_DEST;
		return;
	}
	d->remote = src ? FWD_REMOTE_SRC : FWD_REMOTE_DST;
	d->side[src ? 0 : 1].eni = -1;
}

void forward_resolve(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->drop_side = -1;
	d->res.verdict = VERDICT_SKIPPED;
	d->res.rejected_at = -1;
	d->src = in->from;
	d->egress = (struct fwd_port){FWD_PORT_NONE, -1};
	d->nat.gateway = -1;
	d->nlb.lb = -1;
	const struct flow *w = &in->wire;
	struct flow seen = *w; /* the packet as the receiver gets it */
	int32_t from = in->from.kind == END_ENI ? in->from.eni : -1;
	struct ip_addr priv;
	int32_t to = lab_eni_by_addr(lab, &w->dst);
	bool public = false;
	if (to < 0 && w->dst.family == IP_V4) {
		to = lab_private_of_public(lab, &w->dst, &priv);
		public = to >= 0;
	}
	if (to >= 0 && to == from) {
		d->drop = FWD_DROP_SELF;
		return;
	}
	if (to < 0) {
		resolve_beyond(lab, in, d);
	} else {
		d->dst = (struct pipeline_end){END_ENI, to, SERVICE_NONE};
		d->egress = (struct fwd_port){FWD_PORT_ENI, to};
		if (public)
			resolve_public(lab, in, &priv, d, &seen);
		else
			d->path = in->from.kind == END_OUTSIDE ? FWD_PATH_IN : FWD_PATH_INSIDE;
	}
	side_init(&d->side[0], from, w);
	side_init(&d->side[1], d->dst.kind == END_ENI ? d->dst.eni : -1, &seen);
	fwd_nlb_resolve(lab, in, d);
	if (d->drop == FWD_PASS)
		resolve_split(lab, in, d);
}

/* ------------------------------------------------------------- stages */

/*
 * The stages one by one: a hairpin meets both ENIs' filters as internet
 * traffic (the other end is the internet gateway, §9) and both route
 * tables, the sender's with the sender's view of the packet, the
 * receiver's with its own; check's response evaluates NACLs over a range
 * of reply ports. Everything else is pipeline_evaluate's packet.
 */
static void stages_composed(const struct lab *lab, const struct fwd_input *in,
			    struct fwd_decision *d)
{
	bool hp = d->path == FWD_PATH_HAIRPIN;
	const struct pipeline_end *s = &d->src, *t = &d->dst;
	const struct pipeline_end *s_peer = hp ? &outside_end : t, *t_peer = hp ? &outside_end : s;
	const struct flow *f0 = hp ? &d->side[0].flow : &d->side[1].flow, *f1 = &d->side[1].flow;
	struct pipeline_result *r = &d->res;
	struct stage_verdict v;
	pipeline_result_init(r);
	pipeline_sg_stage(lab, s, s_peer, true, f0, in->tracked & PIPELINE_SRC_TRACKED, &v);
	pipeline_collect(r, &v);
	pipeline_nacl_stage_ports(lab, s, s_peer, true, f0, in->port_lo, in->port_hi, &v);
	pipeline_collect(r, &v);
	if (hp) {
		pipeline_route_stage(lab, s, &outside_end, f0, &v);
		pipeline_collect(r, &v);
		pipeline_route_stage(lab, &outside_end, t, f1, &v);
		pipeline_collect(r, &v);
	} else if (in->nat_port) {
		fwd_nat_route_in(lab, in, s, t, f1, r);
	} else if (pipeline_needs_route(lab, s, t, f1)) {
		/* and through a NAT gateway the NACL crossings of its subnet */
		pipeline_route_collect(lab, s, t, f1, in->reply, in->port_lo, in->port_hi, r);
	}
	pipeline_nacl_stage_ports(lab, t_peer, t, false, f1, in->port_lo, in->port_hi, &v);
	pipeline_collect(r, &v);
	pipeline_sg_stage(lab, t_peer, t, false, f1, in->tracked & PIPELINE_DST_TRACKED, &v);
	pipeline_collect(r, &v);
}

/* A lab split across hosts: the stages of this host's end only, in AWS
 * order (the sender's host: SG egress, NACL egress, route; the
 * receiver's: NACL ingress, SG ingress). Together the two hosts evaluate
 * what pipeline_evaluate does on one. */
static void stages_split(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d)
{
	const struct pipeline_end *s = &d->src, *t = &d->dst;
	const struct flow *f = &d->side[1].flow;
	struct pipeline_result *r = &d->res;
	struct stage_verdict v;

	pipeline_result_init(r);
	if (!(d->remote & FWD_REMOTE_SRC)) {
		pipeline_sg_stage(lab, s, t, true, f, in->tracked & PIPELINE_SRC_TRACKED, &v);
		pipeline_collect(r, &v);
		pipeline_nacl_stage_ports(lab, s, t, true, f, in->port_lo, in->port_hi, &v);
		pipeline_collect(r, &v);
		if (pipeline_needs_route(lab, s, t, f))
			pipeline_route_collect(lab, s, t, f, in->reply, in->port_lo, in->port_hi,
					       r);
	}
	if (d->remote & FWD_REMOTE_DST)
		return;
	pipeline_nacl_stage_ports(lab, s, t, false, f, in->port_lo, in->port_hi, &v);
	pipeline_collect(r, &v);
	pipeline_sg_stage(lab, s, t, false, f, in->tracked & PIPELINE_DST_TRACKED, &v);
	pipeline_collect(r, &v);
}

/* Turns stage i into the rejecting one; the stages after it were not
 * evaluated as far as the verdict goes. */
static void reject_at(struct pipeline_result *r, struct stage_verdict *v, enum pipeline_reason why)
{
	size_t i = (size_t)(v - r->stages);
	v->verdict = VERDICT_REJECT;
	v->reason = why;
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
}

/*
 * What the route stage alone cannot tell, one packet at a time:
 *  - an IPv4 packet from outside addressed to a private address gets in
 *    only as a gateway endpoint's reply (a public IP is the way in, §9);
 *  - gateway endpoints and egress-only internet gateways carry only
 *    connections the VPC opened: from outside, a packet the destination
 *    ENI does not track is refused (who opened a flow is the tracker's
 *    knowledge, or check's, never one packet's).
 */
static void refuse_inbound(const struct fwd_input *in, struct fwd_decision *d)
{
	struct stage_verdict *v = fwd_stage_of(&d->res, STAGE_ROUTE);
	if (!v || v->verdict != VERDICT_ACCEPT || d->src.kind != END_OUTSIDE)
		return;
	bool gated = pipeline_route_outbound_only(v->reason);
	/* a virtual private gateway, or a transit gateway's VPN attachment,
	 * carries private addresses both ways */
	bool private_path = v->reason == REASON_ROUTE_VGW || v->reason == REASON_ROUTE_TGW;
	/* a NAT gateway's replies come to its Elastic IP (forward_nat.c):
	 * straight to the private address nothing from outside gets in, even
	 * with the ports of a tracked connection */
	bool nat_bypass = v->reason == REASON_ROUTE_NAT && !in->nat_port && !in->reply &&
			  (in->tracked & PIPELINE_DST_TRACKED);
	if ((nat_bypass || (!gated && !private_path)) && d->path == FWD_PATH_IN &&
	    in->wire.dst.family == IP_V4 && !d->xlate.dst.has_addr)
		reject_at(&d->res, v, REASON_NO_PUBLIC_IP);
	else if (gated && !(in->tracked & PIPELINE_DST_TRACKED))
		reject_at(&d->res, v, REASON_ENDPOINT_INBOUND);
}

/* Leaving through the internet gateway, IPv4 takes the public IP of the
 * sending private address (the route stage has checked there is one). */
static void translate_out(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d)
{
	const struct stage_verdict *v = fwd_stage_of(&d->res, STAGE_ROUTE);
	const struct eni *e = end_eni(lab, &d->src);
	if (d->path != FWD_PATH_OUT || !e || !v || v->verdict != VERDICT_ACCEPT ||
	    v->reason != REASON_ROUTE_IGW || in->wire.src.family != IP_V4)
		return;
	const struct ip_addr *pub = eni_public_of(e, &in->wire.src);
	if (!pub)
		return;
	d->xlate.src.has_addr = true;
	d->xlate.src.addr = *pub;
	d->side[1].flow.src = *pub;
}

/* The packet as side i's SG stage saw it. */
static const struct flow *stage_flow(const struct fwd_decision *d, int i)
{
	return d->path == FWD_PATH_HAIRPIN ? &d->side[i].flow : &d->side[1].flow;
}

/*
 * A packet an SG rule accepted on an ENI that does not track it may answer
 * an untracked flow (§4): its reverse, the flow's request, would be
 * untracked there. Such replies pass by the rule that made the flow
 * untracked and must not create an entry, or the flow would outlive its
 * rule. A packet known to open a connection (a TCP SYN) is no reply.
 */
static void mark_untracked_reply(const struct lab *lab, const struct fwd_input *in,
				 struct fwd_decision *d, int i)
{
	struct stage_verdict *v =
	    fwd_stage_of(&d->res, i == 0 ? STAGE_SG_EGRESS : STAGE_SG_INGRESS);
	const struct flow *f = stage_flow(d, i);
	if (!v || v->verdict != VERDICT_ACCEPT || v->reason != REASON_RULE || v->untracked ||
	    in->opens || in->related || d->side[i].eni < 0 ||
	    (f->proto != PROTO_TCP && f->proto != PROTO_UDP))
		return;
	struct flow rev;
	struct sg_match back;
	flow_reverse(f, &rev);
	if (!sg_flow_is_untracked(lab, &lab->enis[d->side[i].eni], i == 1, &rev, &back))
		return;
	v->reason = REASON_UNTRACKED;
	v->group = back.group;
	v->rule = back.rule;
	v->untracked = true;
}

static enum fwd_ct zone_work(const struct fwd_input *in, struct fwd_decision *d, int i)
{
	const struct stage_verdict *v =
	    fwd_stage_of(&d->res, i == 0 ? STAGE_SG_EGRESS : STAGE_SG_INGRESS);
	if (d->side[i].eni < 0)
		return FWD_CT_NONE;
	if (in->tracked & (i == 0 ? PIPELINE_SRC_TRACKED : PIPELINE_DST_TRACKED))
		return in->related ? FWD_CT_RELATED : FWD_CT_UPDATE;
	if (!v || v->verdict != VERDICT_ACCEPT)
		return FWD_CT_NONE;
	if (v->untracked)
		return FWD_CT_UNTRACKED;
	if (!in->related && v->reason == REASON_RULE)
		return FWD_CT_INSERT;
	return FWD_CT_NONE;
}

static enum fwd_drop drop_of(const struct pipeline_result *r)
{
	if (r->verdict != VERDICT_REJECT)
		return FWD_PASS;
	const struct stage_verdict *v = &r->stages[r->rejected_at];
	if (v->stage != STAGE_ROUTE)
		return FWD_DROP_REJECTED;
	switch (v->reason) {
	case REASON_NO_PUBLIC_IP:
		return FWD_DROP_NO_PUBLIC_IP;
	case REASON_NO_HOST:
		return FWD_DROP_UNKNOWN_DEST;
	default:
		return FWD_DROP_NO_ROUTE;
	}
}

void forward_judge(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d)
{
	if (d->drop != FWD_PASS)
		return;
	d->related = in->related;
	if (d->remote)
		stages_split(lab, in, d);
	else if (d->nlb.lb >= 0)
		fwd_nlb_stages(lab, in, d);
	else if (d->path != FWD_PATH_HAIRPIN && in->port_lo == in->port_hi && !in->reply &&
		 !in->nat_port)
		pipeline_evaluate(lab, &d->src, &d->dst, &d->side[1].flow, in->tracked, &d->res);
	else
		stages_composed(lab, in, d);
	refuse_inbound(in, d);
	for (int i = 0; i < 2; i++) {
		mark_untracked_reply(lab, in, d, i);
		d->side[i].ct = zone_work(in, d, i);
	}
	fwd_nat_judge(lab, in, d);
	fwd_nlb_judge(d);
	translate_out(lab, in, d);
	d->drop = drop_of(&d->res);
}

void forward_decide(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d)
{
	forward_resolve(lab, in, d);
	forward_judge(lab, in, d);
}
