/*
 * The data path's half of the forwarding decision (forward.h): a parsed
 * packet and its port become a fwd_input, each ENI end's conntrack zone is
 * asked whether it tracks the packet (in that end's own address space,
 * ICMP errors by the packet they quote), and after the decision the zones
 * are updated and new connections created (AWS-SEMANTICS §4).
 */
#include "forward-private.h"

#include <errno.h>
#include <string.h>

#include "packet.h"

static void wire_of_pkt(const struct pkt *p, struct flow *f)
{
	*f = (struct flow){.src = p->src, .dst = p->dst, .proto = p->proto};
	if (p->has_ports) {
		f->sport = p->sport;
		f->dport = p->dport;
	}
	if (p->has_icmp) {
		f->icmp_type = p->icmp_type;
		f->icmp_code = p->icmp_code;
	}
}

/* The tracker's view of a packet: the flow as one end sees it, plus what
 * only the wire has (the echo identifier, the TCP flags). */
static void tuple_of(const struct flow *f, const struct pkt *p, struct ct_tuple *t)
{
	*t = (struct ct_tuple){.src = f->src,
			       .dst = f->dst,
			       .proto = f->proto,
			       .tcp_flags = p->proto == PROTO_TCP ? p->tcp_flags : 0,
			       .sport = f->sport,
			       .dport = f->dport,
			       .icmp_type = f->icmp_type,
			       .icmp_code = f->icmp_code,
			       .icmp_id = p->has_icmp ? p->icmp_id : 0};
}

/* An address of the quoted packet in the receiver's address space: the
 * quoted packet went the other way, as the error's sender saw it (the wire
 * view), so the gateway's translation applies to it as to the error. */
static void xlate_inner(const struct fwd_decision *d, struct ip_addr *a)
{
	const struct flow *wire = &d->side[0].flow;
	if (d->xlate.dst.has_addr && ip_addr_eq(a, &wire->dst))
		*a = d->xlate.dst.addr;
	else if (d->xlate.src.has_addr && ip_addr_eq(a, &wire->src))
		*a = d->xlate.src.addr;
}

static void inner_tuple(const struct pkt *p, const struct fwd_decision *d, int side,
			struct ct_tuple *t)
{
	const struct pkt_inner *in = &p->inner;
	*t = (struct ct_tuple){.src = in->src,
			       .dst = in->dst,
			       .proto = in->proto,
			       .sport = in->has_ports ? in->sport : 0,
			       .dport = in->has_ports ? in->dport : 0,
			       .icmp_type = in->has_icmp ? in->icmp_type : 0,
			       .icmp_code = in->has_icmp ? in->icmp_code : 0,
			       .icmp_id = in->has_icmp ? in->icmp_id : 0};
	if (side == 1) {
		xlate_inner(d, &t->src);
		xlate_inner(d, &t->dst);
	}
}

static unsigned lookup(struct conntrack *ct, uint64_t now, const struct pkt *p, bool related,
		       struct fwd_decision *d)
{
	static const unsigned flag[2] = {PIPELINE_SRC_TRACKED, PIPELINE_DST_TRACKED};
	unsigned tracked = 0;
	for (int i = 0; i < 2; i++) {
		struct fwd_side *s = &d->side[i];
		tuple_of(&s->flow, p, &s->tuple);
		if (s->eni < 0)
			continue;
		if (related) {
			struct ct_tuple inner;
			inner_tuple(p, d, i, &inner);
			s->conn = ct_lookup_related(ct, (uint32_t)s->eni, &inner, now, &s->dir);
		} else {
			s->conn = ct_lookup(ct, (uint32_t)s->eni, &s->tuple, now, &s->dir);
		}
		if (s->conn)
			tracked |= flag[i];
	}
	d->looked_up = true;
	return tracked;
}

static bool egress_exists(const struct lab *lab, const struct fwd_port *e)
{
	if (e->kind == FWD_PORT_ENI)
		return e->index >= 0 && (size_t)e->index < lab->n_enis;
	return e->kind == FWD_PORT_OUTSIDE && e->index >= 0 && (size_t)e->index < lab->n_outside;
}

void forward_packet(const struct lab *lab, struct conntrack *ct, uint64_t now_ns,
		    const struct fwd_port *port, const struct pkt *p, struct fwd_decision *d)
{
	fwd_packet_as(lab, ct, now_ns, port, p, 0, d);
}

void fwd_packet_as(const struct lab *lab, struct conntrack *ct, uint64_t now_ns,
		   const struct fwd_port *port, const struct pkt *p, uint16_t nat_port,
		   struct fwd_decision *d)
{
	struct pipeline_end from = {END_OUTSIDE, -1, SERVICE_NONE};
	struct fwd_input in;
	struct flow wire;
	int32_t sender = port->kind == FWD_PORT_ENI ? port->index : -1;
	if (port->kind == FWD_PORT_REMOTE) /* a remote ENI, known by its address */
		sender = lab_eni_by_addr(lab, &p->src);
	if (sender >= 0)
		from = (struct pipeline_end){END_ENI, sender, SERVICE_NONE};
	wire_of_pkt(p, &wire);
	forward_input_init(&in, &from, &wire);
	in.opens =
	    p->proto == PROTO_TCP && (p->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == PKT_TCP_SYN;
	in.related = p->has_icmp && p->icmp_error;
	in.nat_port = nat_port;
	struct ct_tuple t;
	tuple_of(&wire, p, &t);
	fwd_nlb_reply_of(lab, ct, now_ns, port, &t, &in);
	forward_resolve(lab, &in, d);
	if (!forward_port_owns(lab, port, &p->src))
		d->drop = FWD_DROP_UNKNOWN_SOURCE;
	else if (d->drop == FWD_PASS && !egress_exists(lab, &d->egress))
		d->drop = FWD_DROP_UNKNOWN_DEST;
	if (d->drop != FWD_PASS)
		return;
	in.tracked = lookup(ct, now_ns, p, in.related, d);
	forward_judge(lab, &in, d);
}

void forward_commit(struct conntrack *ct, uint64_t now_ns, uint32_t gen, const struct pkt *p,
		    struct fwd_decision *d)
{
	struct ct_conn *created[2] = {NULL, NULL};
	for (int i = 0; i < 2; i++) {
		struct fwd_side *s = &d->side[i];
		if (s->ct == FWD_CT_UPDATE && s->conn)
			ct_update(ct, s->conn, s->dir, &s->tuple, p->l3_len, now_ns);
		if (s->ct != FWD_CT_INSERT)
			continue;
		const struct stage_verdict *v =
		    fwd_stage_of(&d->res, i == 0 ? STAGE_SG_EGRESS : STAGE_SG_INGRESS);
		struct ct_rule_ref ref = {
		    .group = (uint32_t)v->group, .rule = (uint32_t)v->rule, .generation = gen};
		int rc = ct_insert(ct, (uint32_t)s->eni, &s->tuple, p->l3_len, &ref, now_ns,
				   &created[i]);
		/* -EEXIST: tracked meanwhile; -EINVAL: not trackable */
		if (rc != -ENOSPC && rc != -ENOBUFS)
			continue;
		if (i == 1 && created[0])
			ct_remove(ct, created[0]);
		d->drop = rc == -ENOSPC ? FWD_DROP_CT_ALLOWANCE : FWD_DROP_CT_POOL;
		d->drop_side = i;
		return;
	}
	fwd_nlb_commit(ct, now_ns, gen, p->l3_len, d);
}
