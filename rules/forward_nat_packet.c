/*
 * The data path's call when the lab has NAT gateways (forward.h): a packet
 * to a NAT gateway's Elastic IP is a reply only if its table knows the
 * port, from the very host and port the connection went to; the rest is
 * forward_packet's decision, then the table's mapping for what leaves
 * through a NAT gateway. Above forward_ct.c and forward_nat.c, called by
 * neither.
 */
#include "forward-private.h"

#include <errno.h>
#include <string.h>

#include "model_index.h"
#include "natgw.h"
#include "packet.h"
#include "pipeline-private.h"

/* The ports a NAT gateway translates: TCP/UDP ports, an ICMP echo's
 * identifier (the request's out, the reply's back). false for anything
 * else (ICMP errors, other protocols, later fragments). */
static bool nat_ports(const struct pkt *p, bool echo_reply, uint16_t *own, uint16_t *far)
{
	if (p->has_ports && (p->proto == PROTO_TCP || p->proto == PROTO_UDP)) {
		*own = echo_reply ? p->dport : p->sport;
		*far = echo_reply ? p->sport : p->dport;
		return true;
	}
	uint8_t type = echo_reply ? 0 : 8; /* ICMP echo reply / request */
	if (p->has_icmp && p->proto == PROTO_ICMP && !p->icmp_error && p->icmp_type == type) {
		*own = p->icmp_id;
		*far = 0;
		return true;
	}
	return false;
}

static void unsolicited(struct fwd_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->drop = FWD_DROP_NAT_UNSOLICITED;
	d->drop_side = -1;
	d->res.verdict = VERDICT_SKIPPED;
	d->res.rejected_at = -1;
	d->egress = (struct fwd_port){FWD_PORT_NONE, -1};
	d->nat.gateway = -1;
	d->side[0].eni = d->side[1].eni = -1;
}

/* An ICMP error to the Elastic IP quotes a packet the gateway sent out
 * (from EIP:nat_port to far:far_port), whoever on the way sends it (a
 * router's "fragmentation needed"): the mapping is the quoted packet's,
 * and the error goes to the instance as the quoted packet's answer does
 * (AWS-SEMANTICS §4: an error belongs to the flow it answers). Looked up
 * without refreshing the mapping: an error keeps no connection alive. */
static int nat_related(struct natgw *nat, uint32_t gw, const struct pkt *p, uint64_t now_ns,
		       uint16_t *nat_port, struct natgw_key *k, struct pkt *back)
{
	const struct pkt_inner *q = &p->inner;
	uint16_t far_port;
	if (q->src.family != IP_V4 || !ip_addr_eq(&q->src, &p->dst))
		return -ENOENT;
	if (q->has_ports && (q->proto == PROTO_TCP || q->proto == PROTO_UDP)) {
		*nat_port = q->sport;
		far_port = q->dport;
	} else if (q->has_icmp && q->proto == PROTO_ICMP && q->icmp_type == 8) {
		*nat_port = q->icmp_id;
		far_port = 0;
	} else {
		return -ENOENT;
	}
	int rc = natgw_related(nat, gw, q->proto, &q->dst, far_port, *nat_port, now_ns, k);
	if (rc < 0)
		return rc;
	*back = *p;
	back->dst = back->inner.src = k->inside;
	if (q->has_ports)
		back->inner.sport = k->inside_port;
	else
		back->inner.icmp_id = k->inside_port;
	return 0;
}

/* A reply from far:far_port to the gateway's nat_port: the mapping's
 * connection, and the reply as the instance gets it. */
static int nat_reply(struct natgw *nat, uint32_t gw, const struct pkt *p, uint64_t now_ns,
		     uint16_t *nat_port, struct natgw_key *k, struct pkt *back)
{
	uint16_t far_port;
	if (!nat_ports(p, true, nat_port, &far_port))
		return -ENOENT;
	int rc = natgw_inbound(nat, gw, p->proto, &p->src, far_port, *nat_port, now_ns, k);
	if (rc < 0)
		return rc;
	*back = *p;
	back->dst = k->inside;
	if (back->has_ports)
		back->dport = k->inside_port;
	else
		back->icmp_id = k->inside_port;
	return 0;
}

void forward_nat_packet(const struct lab *lab, struct conntrack *ct, struct natgw *nat,
			uint64_t now_ns, const struct fwd_port *port, const struct pkt *p,
			struct fwd_decision *d)
{
	int32_t gw = -1;
	if (port->kind == FWD_PORT_OUTSIDE && p->kind == PKT_IPV4)
		gw = lab_nat_by_address(lab, &p->dst);
	if (gw < 0) {
		forward_packet(lab, ct, now_ns, port, p, d);
		return;
	}
	uint16_t nat_port;
	struct natgw_key k;
	struct pkt back;
	bool error = p->has_icmp && p->icmp_error;
	int rc = !nat	 ? -ENOENT
		 : error ? nat_related(nat, (uint32_t)gw, p, now_ns, &nat_port, &k, &back)
			 : nat_reply(nat, (uint32_t)gw, p, now_ns, &nat_port, &k, &back);
	if (rc < 0) {
		unsolicited(d);
		return;
	}
	/* decided as the packet it becomes: to the instance's address and
	 * port (an error: quoting the instance's own packet) */
	fwd_packet_as(lab, ct, now_ns, port, &back, nat_port, d);
	d->nat.gateway = gw;
	d->nat.port = nat_port;
	d->xlate.dst.has_addr = true;
	d->xlate.dst.addr = k.inside;
	d->xlate.dst.has_port = true;
	d->xlate.dst.port = k.inside_port;
}

/* An ICMP error the instance sends about a packet the gateway brought in
 * (from far:far_port to its own address and port, e.g. a late UDP answer
 * to a closed port): out through that packet's mapping, never a new one
 * (the quoted packet's destination becomes the gateway's port again). */
static int nat_error_out(struct natgw *nat, const struct fwd_decision *d, const struct pkt *p,
			 uint64_t now_ns, uint16_t *port)
{
	const struct pkt_inner *q = &p->inner;
	struct natgw_key k = {.gateway = (uint32_t)d->nat.gateway,
			      .proto = q->proto,
			      .inside = q->dst,
			      .far = q->src};
	if (!ip_addr_eq(&q->dst, &p->src))
		return -ENOENT;
	if (q->has_ports && (q->proto == PROTO_TCP || q->proto == PROTO_UDP)) {
		k.inside_port = q->dport;
		k.far_port = q->sport;
	} else if (q->has_icmp && q->proto == PROTO_ICMP && q->icmp_type == 0) {
		k.inside_port = q->icmp_id; /* an echo reply's */
	} else {
		return -ENOENT;
	}
	return natgw_mapped(nat, &k, now_ns, port);
}

void forward_nat_commit(struct conntrack *ct, struct natgw *nat, uint64_t now_ns, uint32_t gen,
			const struct pkt *p, struct fwd_decision *d)
{
	if (d->drop == FWD_PASS && d->nat.out && nat && d->xlate.src.has_addr && p->has_icmp &&
	    p->icmp_error) {
		if (nat_error_out(nat, d, p, now_ns, &d->xlate.src.port) < 0) {
			d->drop = FWD_DROP_NAT_UNSOLICITED;
			return;
		}
		d->nat.port = d->xlate.src.port;
		d->xlate.src.has_port = true;
	} else if (d->drop == FWD_PASS && d->nat.out) {
		struct natgw_key k = {.gateway = (uint32_t)d->nat.gateway,
				      .proto = p->proto,
				      .inside = p->src,
				      .far = p->dst};
		uint16_t port;
		if (!nat || !d->xlate.src.has_addr ||
		    !nat_ports(p, false, &k.inside_port, &k.far_port) ||
		    natgw_outbound(nat, &k, now_ns, &port) < 0) {
			d->drop = FWD_DROP_NAT_PORTS;
			return;
		}
		d->nat.port = port;
		d->xlate.src.has_port = true;
		d->xlate.src.port = port;
	}
	forward_commit(ct, now_ns, gen, p, d);
}
