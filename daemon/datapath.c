/*
 * The frame handler of vpcfwd. One captured frame: parse once (rules/packet),
 * answer ARP / Neighbor Solicitation as the VPC router, or take the IP path:
 * who sent it (the ENI or outside host behind the ingress port, source
 * checked as AWS's source/destination check does), where it goes (an ENI by
 * private address; from an outside host an ENI's public IP, translated 1:1),
 * which ENIs already track the connection (rules/conntrack, one zone per
 * ENI), the four stages (rules/pipeline, SG stages passing for tracked
 * flows), new tracked connections for what the SG rules admitted, then the
 * frame is rewritten and queued on the destination port or dropped
 * silently, as AWS sends no RST or ICMP error (AWS-SEMANTICS §1, §4).
 * Every verdict is counted per ENI and stage and aggregated into flow logs
 * (§6); rejected frames can be saved per ENI for Wireshark.
 *
 * Not here: set-up and reload (datapath_setup.c), counters' snapshots and
 * names (datapath_stats.c), building namespaces (daemon/topology), the
 * event loop (daemon/loop), any policy decision (rules/pipeline decides).
 * The packet path counts instead of logging and allocates nothing but a
 * tracked connection from the conntrack pool.
 */
#include "datapath.h"

#include <errno.h>
#include <linux/virtio_net.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conntrack.h"
#include "datapath-private.h"
#include "flow.h"
#include "flowlog.h"
#include "model.h"
#include "packet.h"
#include "pipeline.h"
#include "sg.h"
#include "port.h"
#include "topology.h"

_Static_assert(PKT_MAL__COUNT <= DP_MALFORMED_MAX, "dp_stats.malformed too small");

#define DP_SWEEP_BUDGET 4096
#define DP_REPLY_MAX 128

/* ------------------------------------------------------- small helpers */

static bool dp_addr_in(const struct ip_addr *list, size_t n, const struct ip_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (ip_addr_eq(&list[i], a))
			return true;
	return false;
}

static bool dp_eni_owns(const struct eni *e, const struct ip_addr *a)
{
	return a->family == IP_V4 ? dp_addr_in(e->ipv4, e->n_ipv4, a)
				  : dp_addr_in(e->ipv6, e->n_ipv6, a);
}

static int32_t dp_outside_by_addr(const struct lab *lab, const struct ip_addr *a)
{
	for (size_t i = 0; i < lab->n_outside; i++)
		if (ip_addr_eq(&lab->outside[i].addr, a))
			return (int32_t)i;
	return -1;
}

static void dp_flow_from_pkt(const struct pkt *p, struct flow *f)
{
	memset(f, 0, sizeof(*f));
	f->src = p->src;
	f->dst = p->dst;
	f->proto = p->proto;
	if (p->has_ports) {
		f->sport = p->sport;
		f->dport = p->dport;
	}
	if (p->has_icmp) {
		f->icmp_type = p->icmp_type;
		f->icmp_code = p->icmp_code;
	}
}

static void dp_tuple_from_flow(const struct flow *f, const struct pkt *p, struct ct_tuple *t)
{
	memset(t, 0, sizeof(*t));
	t->src = f->src;
	t->dst = f->dst;
	t->proto = f->proto;
	t->sport = f->sport;
	t->dport = f->dport;
	t->icmp_type = f->icmp_type;
	t->icmp_code = f->icmp_code;
	t->icmp_id = p->has_icmp ? p->icmp_id : 0;
	t->tcp_flags = p->proto == PROTO_TCP ? p->tcp_flags : 0;
}

/* The quoted packet of an ICMP error, in the private address space the
 * tracker keys on: nat_pub -> nat_priv undoes the internet gateway's 1:1
 * translation of an ENI's address (nat_pub NULL: none). */
static void dp_inner_tuple(const struct pkt *p, const struct ip_addr *nat_pub,
			   const struct ip_addr *nat_priv, struct ct_tuple *t)
{
	const struct pkt_inner *in = &p->inner;

	memset(t, 0, sizeof(*t));
	t->src = in->src;
	t->dst = in->dst;
	if (nat_pub && ip_addr_eq(&t->src, nat_pub))
		t->src = *nat_priv;
	if (nat_pub && ip_addr_eq(&t->dst, nat_pub))
		t->dst = *nat_priv;
	t->proto = in->proto;
	if (in->has_ports) {
		t->sport = in->sport;
		t->dport = in->dport;
	}
	if (in->has_icmp) {
		t->icmp_type = in->icmp_type;
		t->icmp_code = in->icmp_code;
		t->icmp_id = in->icmp_id;
	}
}

/* ------------------------------------------------------------ ARP / ND */

static void dp_send_reply(struct datapath *dp, const struct dp_port *in, const uint8_t *frame,
			  int len)
{
	if (len > 0)
		port_tx_queue(dp->tx, in->tp->ifindex, frame, (size_t)len);
}

/* Whether the router answers for target on this port: every address but
 * the asker's own (every address resolves to the router, so even traffic
 * inside one subnet crosses the daemon, as in a VPC). */
static bool dp_answers_for(const struct datapath *dp, const struct dp_port *in,
			   const struct ip_addr *asker, const struct ip_addr *target)
{
	if (ip_addr_eq(asker, target))
		return false;
	if (in->tp->kind == TOPOLOGY_PORT_ENI)
		return !dp_eni_owns(&dp->lab->enis[in->tp->eni], target);
	return !ip_addr_eq(&dp->lab->outside[in->tp->outside].addr, target);
}

static void dp_arp(struct datapath *dp, const struct dp_port *in, const struct pkt *p)
{
	uint8_t buf[DP_REPLY_MAX];
	int len;

	if (p->arp.op != PKT_ARP_REQUEST || !dp_answers_for(dp, in, &p->arp.spa, &p->arp.tpa)) {
		dp->st.drops[DP_DROP_ARP_IGNORED]++;
		return;
	}
	len = pkt_build_arp_reply(p, in->tp->mac, buf, sizeof(buf));
	if (len < 0) {
		dp->st.drops[DP_DROP_ARP_IGNORED]++;
		return;
	}
	dp_send_reply(dp, in, buf, len);
	dp->st.arp_replies++;
}

static bool dp_is_nd(const struct pkt *p)
{
	return p->kind == PKT_IPV6 && p->has_icmp && p->proto == PROTO_ICMPV6 &&
	       p->icmp_type >= PKT_ICMP6_ROUTER_SOLICIT && p->icmp_type <= 137;
}

static bool dp_v6_link_local(const struct ip_addr *a)
{
	return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

/* IPv6 that stays on the link (MLD reports, traffic from :: or to and from
 * fe80::/10, to multicast): a VPC router routes none of it, and it is not
 * a spoofed source either. */
static bool dp_is_link_scope(const struct pkt *p)
{
	static const struct ip_addr unspecified = {.family = IP_V6};

	if (p->kind != PKT_IPV6)
		return false;
	return p->dst.b[0] == 0xff || dp_v6_link_local(&p->src) || dp_v6_link_local(&p->dst) ||
	       ip_addr_eq(&p->src, &unspecified);
}

static void dp_nd(struct datapath *dp, const struct dp_port *in, const struct pkt *p)
{
	uint8_t buf[DP_REPLY_MAX];
	int len;

	if (p->icmp_type != PKT_ICMP6_NEIGH_SOLICIT ||
	    !dp_answers_for(dp, in, &p->src, &p->nd_target)) {
		dp->st.drops[DP_DROP_ND_IGNORED]++;
		return;
	}
	len = pkt_build_na(p, in->tp->mac, true, buf, sizeof(buf));
	if (len < 0) {
		dp->st.drops[DP_DROP_ND_IGNORED]++;
		return;
	}
	dp_send_reply(dp, in, buf, len);
	dp->st.nd_replies++;
}

/* ------------------------------------------------------------- routing */

/* Where an IP packet goes, decided before the rules. */
struct dp_route {
	struct pipeline_end src, dst;
	int32_t src_eni, dst_eni; /* -1 for an outside host */
	const struct topology_port *out;
	struct flow flow; /* in the private address space the rules see */
	/* 1:1 NAT at the internet gateway, IPv4 only. */
	bool nat;
	enum pkt_rewrite_field nat_field;
	struct ip_addr nat_addr;	  /* the address written into the frame */
	struct ip_addr nat_pub, nat_priv; /* the ENI's public and private address */
};

static const struct pipeline_end dp_outside_end = {END_OUTSIDE, -1, SERVICE_NONE};

/* Whether traffic between an ENI and an outside address takes a gateway
 * endpoint (a vpce- route to a service's prefix list): that path keeps the
 * ENI's private address, so no public IP and no 1:1 NAT. The route stage
 * is asked so that the data path and `vpcfw check` cannot disagree. */
static bool dp_via_endpoint(const struct lab *lab, int32_t eni, const struct ip_addr *eni_addr,
			    const struct ip_addr *far)
{
	const struct pipeline_end inside = {END_ENI, eni, SERVICE_NONE};
	struct flow f = {.src = *eni_addr, .dst = *far};
	struct stage_verdict v;

	pipeline_route_stage(lab, &inside, &dp_outside_end, &f, &v);
	return v.reason == REASON_ROUTE_ENDPOINT;
}

/* From an ENI: to another ENI by private address, or to an outside host
 * (translated to the ENI's public IPv4 once accepted). */
static int dp_route_from_eni(struct datapath *dp, const struct dp_port *in, const struct pkt *p,
			     struct dp_route *r)
{
	const struct lab *lab = dp->lab;
	const struct eni *src = &lab->enis[in->tp->eni];
	int32_t o;

	if (!dp_eni_owns(src, &p->src))
		return DP_DROP_UNKNOWN_SOURCE;
	r->src_eni = in->tp->eni;
	r->src = (struct pipeline_end){END_ENI, r->src_eni, SERVICE_NONE};
	r->dst_eni = lab_eni_by_addr(lab, &p->dst);
	if (r->dst_eni >= 0) {
		if (r->dst_eni == r->src_eni)
			return DP_DROP_HAIRPIN;
		r->dst = (struct pipeline_end){END_ENI, r->dst_eni, SERVICE_NONE};
		r->out = dp->enis[r->dst_eni].tp;
		return -1;
	}
	o = dp_outside_by_addr(lab, &p->dst);
	if (o < 0)
		return DP_DROP_UNKNOWN_DEST;
	r->dst = dp_outside_end;
	r->out = topology_port_of_outside(dp->topo, o);
	if (!r->out)
		return DP_DROP_UNKNOWN_DEST;
	if (p->kind == PKT_IPV4 && !dp_via_endpoint(lab, r->src_eni, &p->src, &p->dst)) {
		/* the public IP of the sending address, not of the ENI (§9) */
		const struct ip_addr *pub = eni_public_of(src, &p->src);
		if (!pub)
			return DP_DROP_NO_PUBLIC_IP;
		r->nat = true;
		r->nat_field = PKT_REWRITE_SRC;
		r->nat_addr = *pub;
		r->nat_pub = *pub;
		r->nat_priv = p->src;
	}
	return -1;
}

/* From an outside host: IPv4 only to a public IP (matched against the
 * private address it is associated with, AWS-SEMANTICS §1, §9), IPv6 to
 * the ENI's own address. */
static int dp_route_from_outside(struct datapath *dp, const struct dp_port *in, const struct pkt *p,
				 struct dp_route *r)
{
	const struct lab *lab = dp->lab;
	struct ip_addr priv;

	if (!ip_addr_eq(&lab->outside[in->tp->outside].addr, &p->src))
		return DP_DROP_UNKNOWN_SOURCE;
	r->src_eni = -1;
	r->src = dp_outside_end;
	int32_t pub_eni = p->kind == PKT_IPV4 ? lab_private_of_public(lab, &p->dst, &priv) : -1;
	if (p->kind == PKT_IPV4 && pub_eni < 0) {
		/* to a private address: only a gateway endpoint's reply gets there */
		r->dst_eni = lab_eni_by_addr(lab, &p->dst);
		if (r->dst_eni < 0)
			return DP_DROP_UNKNOWN_DEST;
		if (!dp_via_endpoint(lab, r->dst_eni, &p->dst, &p->src))
			return DP_DROP_NO_PUBLIC_IP;
	} else if (p->kind == PKT_IPV4) {
		r->dst_eni = pub_eni;
		r->nat = true;
		r->nat_field = PKT_REWRITE_DST;
		r->nat_addr = priv;
		r->nat_pub = p->dst;
		r->nat_priv = priv;
		r->flow.dst = priv;
	} else {
		r->dst_eni = lab_eni_by_addr(lab, &p->dst);
		if (r->dst_eni < 0)
			return DP_DROP_UNKNOWN_DEST;
	}
	r->dst = (struct pipeline_end){END_ENI, r->dst_eni, SERVICE_NONE};
	r->out = dp->enis[r->dst_eni].tp;
	return -1;
}

/* -1 when routed, else the enum dp_drop reason. */
static int dp_route(struct datapath *dp, const struct dp_port *in, const struct pkt *p,
		    struct dp_route *r)
{
	int drop;

	memset(r, 0, sizeof(*r));
	dp_flow_from_pkt(p, &r->flow);
	if (in->tp->kind == TOPOLOGY_PORT_ENI)
		drop = dp_route_from_eni(dp, in, p, r);
	else
		drop = dp_route_from_outside(dp, in, p, r);
	return drop;
}

/* ---------------------------------------------------------- conntrack */

struct dp_track {
	struct ct_conn *conn[2]; /* [0] source ENI's zone, [1] destination's */
	enum ct_dir dir[2];
	struct ct_tuple tuple;
	bool related; /* an ICMP error answering a tracked flow */
};

static struct ct_conn *dp_ct_find(struct datapath *dp, int32_t eni, const struct pkt *p,
				  const struct dp_route *r, struct dp_track *t, int side)
{
	struct ct_tuple inner;

	if (eni < 0)
		return NULL;
	if (p->has_icmp && p->icmp_error) {
		dp_inner_tuple(p, r->nat ? &r->nat_pub : NULL, &r->nat_priv, &inner);
		return ct_lookup_related(dp->ct, (uint32_t)eni, &inner, dp->now_ns, &t->dir[side]);
	}
	return ct_lookup(dp->ct, (uint32_t)eni, &t->tuple, dp->now_ns, &t->dir[side]);
}

static unsigned dp_ct_lookup(struct datapath *dp, const struct pkt *p, const struct dp_route *r,
			     struct dp_track *t)
{
	unsigned flags = 0;

	memset(t, 0, sizeof(*t));
	dp_tuple_from_flow(&r->flow, p, &t->tuple);
	t->conn[0] = dp_ct_find(dp, r->src_eni, p, r, t, 0);
	t->conn[1] = dp_ct_find(dp, r->dst_eni, p, r, t, 1);
	if (t->conn[0])
		flags |= PIPELINE_SRC_TRACKED;
	if (t->conn[1])
		flags |= PIPELINE_DST_TRACKED;
	t->related = p->has_icmp && p->icmp_error;
	return flags;
}

static const struct stage_verdict *dp_stage(const struct pipeline_result *res,
					    enum pipeline_stage s)
{
	for (size_t i = 0; i < res->n; i++)
		if (res->stages[i].stage == s)
			return &res->stages[i];
	return NULL;
}

/* Whether this SG stage admitted a new connection that must be tracked. */
static bool dp_needs_insert(const struct stage_verdict *v)
{
	return v && v->verdict == VERDICT_ACCEPT && v->reason == REASON_RULE && !v->untracked;
}

static int dp_ct_insert_one(struct datapath *dp, int32_t eni, const struct stage_verdict *v,
			    const struct dp_track *t, uint32_t len, struct ct_conn **out)
{
	struct ct_rule_ref ref = {
	    .group = (uint32_t)v->group, .rule = (uint32_t)v->rule, .generation = dp->generation};
	int rc = ct_insert(dp->ct, (uint32_t)eni, &t->tuple, len, &ref, dp->now_ns, out);

	if (rc == -ENOSPC) {
		dp->enis[eni].st.conntrack_allowance_exceeded++;
		dp->st.conntrack_allowance_exceeded++;
		return rc;
	}
	if (rc == -ENOBUFS) {
		dp->enis[eni].st.conntrack_pool_exhausted++;
		dp->st.conntrack_pool_exhausted++;
		return rc;
	}
	return 0; /* -EEXIST: tracked meanwhile; -EINVAL: not trackable */
}

/*
 * Whether a packet that an SG rule accepted on this ENI answers an untracked
 * flow (AWS-SEMANTICS §4): its reverse, the flow's request, would be
 * untracked here. Such replies are let through by a rule each time and must
 * not create an entry, or the flow would outlive its rule. A TCP SYN is
 * always a new connection of its own.
 */
static bool dp_reply_of_untracked(const struct datapath *dp, int32_t eni, bool egress,
				  const struct dp_route *r, const struct pkt *p)
{
	struct flow rev;

	if (p->proto != PROTO_TCP && p->proto != PROTO_UDP)
		return false;
	if (p->proto == PROTO_TCP && (p->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == PKT_TCP_SYN)
		return false;
	flow_reverse(&r->flow, &rev);
	return sg_flow_is_untracked(dp->lab, &dp->lab->enis[eni], !egress, &rev, NULL);
}

/* After an ACCEPT: account tracked packets, track what the SG rules just
 * admitted. A refused insert (allowance, §4) drops the packet; an entry
 * created for the other zone is then taken back so nothing half-exists. */
static int dp_ct_commit(struct datapath *dp, const struct pipeline_result *res,
			const struct dp_route *r, const struct pkt *p, struct dp_track *t)
{
	uint32_t len = p->l3_len;
	const struct stage_verdict *sv[2] = {dp_stage(res, STAGE_SG_EGRESS),
					     dp_stage(res, STAGE_SG_INGRESS)};
	const int32_t eni[2] = {r->src_eni, r->dst_eni};
	struct ct_conn *created[2] = {NULL, NULL};

	for (int i = 0; i < 2; i++) {
		if (eni[i] < 0)
			continue;
		if (t->conn[i]) {
			if (!t->related)
				ct_update(dp->ct, t->conn[i], t->dir[i], &t->tuple, len,
					  dp->now_ns);
			dp->enis[eni[i]].st.fast_path_pkts++;
			continue;
		}
		bool reply = !t->related && dp_needs_insert(sv[i]) &&
			     dp_reply_of_untracked(dp, eni[i], i == 0, r, p);

		if (t->related || !dp_needs_insert(sv[i]) || reply) {
			if (reply || (sv[i] && sv[i]->untracked))
				dp->enis[eni[i]].st.untracked_pkts++;
			continue;
		}
		if (dp_ct_insert_one(dp, eni[i], sv[i], t, len, &created[i]) < 0) {
			if (i == 1 && created[0])
				ct_remove(dp->ct, created[0]);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ verdicts */

/* Wire packets a GSO frame of the offload mode stands for (flow logs count
 * packets as the wire carries them); 1 otherwise. */
static uint32_t dp_segments(const struct datapath *dp, const struct pkt *p)
{
	const struct virtio_net_hdr *vh = port_vnet_hdr(dp->ports[dp->cur_port].port);

	if (!vh || vh->gso_type == VIRTIO_NET_HDR_GSO_NONE || vh->gso_size == 0 ||
	    p->payload_len == 0)
		return 1;
	return (uint32_t)((p->payload_len + vh->gso_size - 1u) / vh->gso_size);
}

static void dp_flowlog(struct datapath *dp, int32_t eni, enum flowlog_direction d,
		       enum flowlog_action a, const struct pkt *p, const struct dp_route *r)
{
	struct flowlog_packet fp;

	if (!dp->fl || eni < 0)
		return;
	memset(&fp, 0, sizeof(fp));
	fp.iface = &dp->enis[eni].fl;
	fp.direction = d;
	fp.action = a;
	fp.src = r->flow.src;
	fp.dst = r->flow.dst;
	fp.protocol = p->proto;
	fp.sport = r->flow.sport;
	fp.dport = r->flow.dport;
	fp.tcp_flags = p->proto == PROTO_TCP ? p->tcp_flags : 0;
	fp.bytes = p->l3_len;
	fp.segments = dp_segments(dp, p);
	flowlog_add(dp->fl, &fp, (uint64_t)dp->now_s);
}

static void dp_dump_reject(struct datapath *dp, int32_t eni, const struct pcap_pkthdr *h,
			   const uint8_t *frame)
{
	if (eni >= 0 && dp->enis[eni].dump)
		pcap_dump((u_char *)dp->enis[eni].dump, h, frame);
}

static enum dp_drop dp_route_drop(const struct stage_verdict *v)
{
	switch (v->reason) {
	case REASON_NO_PUBLIC_IP:
		return DP_DROP_NO_PUBLIC_IP;
	case REASON_NO_HOST:
		return DP_DROP_UNKNOWN_DEST;
	default:
		return DP_DROP_NO_ROUTE;
	}
}

/* Counts a rejection on the ENI whose stage rejected it and logs REJECT
 * there (the sender's egress stays ACCEPT when the receiver refused). */
static void dp_reject(struct datapath *dp, const struct pipeline_result *res,
		      const struct dp_route *r, const struct pkt *p, const struct pcap_pkthdr *h,
		      const uint8_t *frame)
{
	const struct stage_verdict *v = &res->stages[res->rejected_at];
	int32_t eni;
	enum dp_stage s;

	switch (v->stage) {
	case STAGE_SG_EGRESS:
	case STAGE_NACL_EGRESS:
		s = v->stage == STAGE_SG_EGRESS ? DP_STAGE_SG_EGRESS : DP_STAGE_NACL_EGRESS;
		eni = r->src_eni;
		dp_flowlog(dp, eni, FLOWLOG_EGRESS, FLOWLOG_REJECT, p, r);
		break;
	case STAGE_NACL_INGRESS:
	case STAGE_SG_INGRESS:
		s = v->stage == STAGE_SG_INGRESS ? DP_STAGE_SG_INGRESS : DP_STAGE_NACL_INGRESS;
		eni = r->dst_eni;
		dp_flowlog(dp, r->src_eni, FLOWLOG_EGRESS, FLOWLOG_ACCEPT, p, r);
		dp_flowlog(dp, eni, FLOWLOG_INGRESS, FLOWLOG_REJECT, p, r);
		break;
	default:
		dp->st.drops[dp_route_drop(v)]++;
		return;
	}
	dp->st.rejected_pkts++;
	if (eni < 0)
		return;
	dp->enis[eni].st.rejected_pkts[s]++;
	dp->enis[eni].st.rejected_bytes[s] += p->l3_len;
	dp_dump_reject(dp, eni, h, frame);
}

/* The frame as the destination sees it: MACs of the egress port and the
 * ENI's eth0 (TTL untouched, as in a VPC), 1:1 NAT applied. */
/* The frame as the destination sees it: MACs of the egress port and the
 * ENI's eth0 (TTL untouched, as in a VPC), 1:1 NAT applied. A frame of the
 * offload mode is rewritten in place (the buffer is ours until the flush)
 * and sent on with its virtio-net header. */
static void dp_forward(struct datapath *dp, const struct dp_route *r, struct pkt *p,
		       const uint8_t *frame, size_t len)
{
	const struct virtio_net_hdr *vh = port_vnet_hdr(dp->ports[dp->cur_port].port);
	unsigned flags = 0;
	uint8_t *out;

	if (vh) {
		out = (uint8_t *)frame;
		if (port_tx_queue_ref(dp->tx, r->out->ifindex, out, len, vh) < 0)
			out = NULL;
		if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			flags = PKT_REWRITE_L4_PARTIAL;
	} else {
		out = port_tx_slot(dp->tx, r->out->ifindex, len);
		if (out)
			memcpy(out, frame, len);
	}
	if (!out) {
		dp->st.drops[DP_DROP_TX_FULL]++;
		return;
	}
	memcpy(out, r->out->peer_mac, PKT_ETH_ALEN);
	memcpy(out + PKT_ETH_ALEN, r->out->mac, PKT_ETH_ALEN);
	if (r->nat)
		pkt_rewrite_ipv4(out, len, p, r->nat_field, &r->nat_addr, flags);
}

static void dp_accept(struct datapath *dp, const struct dp_route *r, struct pkt *p,
		      const uint8_t *frame, size_t len)
{
	dp->st.accepted_pkts++;
	if (r->src_eni >= 0) {
		dp->enis[r->src_eni].st.accepted_pkts[DP_DIR_EGRESS]++;
		dp->enis[r->src_eni].st.accepted_bytes[DP_DIR_EGRESS] += p->l3_len;
		dp_flowlog(dp, r->src_eni, FLOWLOG_EGRESS, FLOWLOG_ACCEPT, p, r);
	}
	if (r->dst_eni >= 0) {
		dp->enis[r->dst_eni].st.accepted_pkts[DP_DIR_INGRESS]++;
		dp->enis[r->dst_eni].st.accepted_bytes[DP_DIR_INGRESS] += p->l3_len;
		dp_flowlog(dp, r->dst_eni, FLOWLOG_INGRESS, FLOWLOG_ACCEPT, p, r);
	}
	dp_forward(dp, r, p, frame, len);
}

/* ------------------------------------------------------------ fragments */

static struct dp_frag *dp_frag_slot(struct datapath *dp, const struct pkt *p)
{
	uint32_t h = 2166136261u;
	const uint8_t *parts[2] = {p->src.b, p->dst.b};

	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 16; i++)
			h = (h ^ parts[k][i]) * 16777619u;
	h = (h ^ p->frag_id) * 16777619u;
	h = (h ^ p->proto) * 16777619u;
	return &dp->frags[h % DP_FRAG_SLOTS];
}

static bool dp_frag_match(const struct dp_frag *f, const struct pkt *p, uint64_t now)
{
	return f->used && f->expires_ns > now && f->id == p->frag_id && f->proto == p->proto &&
	       ip_addr_eq(&f->src, &p->src) && ip_addr_eq(&f->dst, &p->dst);
}

/* An accepted first fragment: remember its route for the rest. */
static void dp_frag_record(struct datapath *dp, const struct dp_port *in, const struct pkt *p,
			   const struct dp_route *r)
{
	struct dp_frag *f = dp_frag_slot(dp, p);

	*f = (struct dp_frag){
	    .src = p->src,
	    .dst = p->dst,
	    .id = p->frag_id,
	    .proto = p->proto,
	    .used = true,
	    .expires_ns = dp->now_ns + DP_FRAG_TIMEOUT_NS,
	    .in = in->tp,
	    .src_eni = r->src_eni,
	    .dst_eni = r->dst_eni,
	    .out = r->out,
	    .nat = r->nat,
	    .nat_field = r->nat_field,
	    .nat_addr = r->nat_addr,
	};
}

/* A later fragment has no ports for the rules to look at: it goes where
 * its datagram's first fragment went, or nowhere. */
static void dp_frag_follow(struct datapath *dp, const struct dp_port *in, struct pkt *p,
			   const uint8_t *frame, size_t len)
{
	const struct dp_frag *f = dp_frag_slot(dp, p);
	struct dp_route r;

	if (!dp_frag_match(f, p, dp->now_ns) || f->in != in->tp) {
		dp->st.drops[DP_DROP_FRAGMENT]++;
		return;
	}
	memset(&r, 0, sizeof(r));
	r.src_eni = f->src_eni;
	r.dst_eni = f->dst_eni;
	r.out = f->out;
	r.nat = f->nat;
	r.nat_field = (enum pkt_rewrite_field)f->nat_field;
	r.nat_addr = f->nat_addr;
	dp->st.accepted_pkts++;
	if (r.src_eni >= 0) {
		dp->enis[r.src_eni].st.accepted_pkts[DP_DIR_EGRESS]++;
		dp->enis[r.src_eni].st.accepted_bytes[DP_DIR_EGRESS] += p->l3_len;
	}
	if (r.dst_eni >= 0) {
		dp->enis[r.dst_eni].st.accepted_pkts[DP_DIR_INGRESS]++;
		dp->enis[r.dst_eni].st.accepted_bytes[DP_DIR_INGRESS] += p->l3_len;
	}
	dp_forward(dp, &r, p, frame, len);
}

/* An egress-only internet gateway or a gateway endpoint lets in only what
 * answers a connection opened from inside: from an outside host, a flow the
 * destination ENI does not track has no way in (the route stage alone
 * accepts both ways). */
static bool dp_eigw_unsolicited(const struct pipeline_result *res, const struct dp_route *r,
				const struct dp_track *t)
{
	const struct stage_verdict *v = dp_stage(res, STAGE_ROUTE);

	return r->src_eni < 0 && v &&
	       (v->reason == REASON_ROUTE_EIGW || v->reason == REASON_ROUTE_ENDPOINT) &&
	       !t->conn[1];
}

static void dp_ip(struct datapath *dp, const struct dp_port *in, struct pkt *p,
		  const struct pcap_pkthdr *h, const uint8_t *frame)
{
	struct pipeline_result res;
	struct dp_route r;
	struct dp_track t;
	unsigned flags;
	int drop = dp_route(dp, in, p, &r);

	if (drop >= 0) {
		dp->st.drops[drop]++;
		return;
	}
	flags = dp_ct_lookup(dp, p, &r, &t);
	if ((r.src_eni < 0 || t.conn[0]) && (r.dst_eni < 0 || t.conn[1]))
		dp->st.fast_path_pkts++;
	else
		dp->st.slow_path_pkts++;
	pipeline_evaluate(dp->lab, &r.src, &r.dst, &r.flow, flags, &res);
	if (res.verdict != VERDICT_ACCEPT) {
		dp_reject(dp, &res, &r, p, h, frame);
		return;
	}
	if (dp_eigw_unsolicited(&res, &r, &t)) {
		dp->st.drops[DP_DROP_NO_ROUTE]++;
		return;
	}
	if (dp_ct_commit(dp, &res, &r, p, &t) < 0) {
		dp->st.rejected_pkts++;
		return;
	}
	if (p->is_fragment)
		dp_frag_record(dp, in, p, &r);
	dp_accept(dp, &r, p, frame, h->caplen);
}

void dp_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *frame)
{
	struct datapath *dp = (struct datapath *)user;
	const struct dp_port *in = &dp->ports[dp->cur_port];
	struct pkt p;
	int rc;

	dp->st.rx_pkts++;
	dp->st.rx_bytes += h->len;
	if (h->caplen < h->len) {
		dp->st.drops[DP_DROP_TRUNCATED]++;
		return;
	}
	rc = pkt_parse(frame, h->caplen, &p);
	if (rc < 0) {
		dp->st.malformed_total++;
		dp->st.malformed[(unsigned)-rc < DP_MALFORMED_MAX ? -rc : 0]++;
		return;
	}
	/* An ENI's interface is untagged: AWS drops what an instance sends
	 * with an 802.1Q or 802.1ad tag, whatever it carries, ARP included
	 * (the parser reads through one tag; filtering the inner packet and
	 * delivering it still tagged would carry a VLAN a VPC has not). */
	if (p.has_vlan || p.ethertype == PKT_ETHERTYPE_QINQ || p.ethertype == 0x9100)
		dp->st.drops[DP_DROP_VLAN]++;
	else if (p.kind == PKT_ARP)
		dp_arp(dp, in, &p);
	else if (p.kind == PKT_OTHER)
		dp->st.drops[DP_DROP_NOT_IP]++;
	else if (dp_is_nd(&p))
		dp_nd(dp, in, &p);
	else if (dp_is_link_scope(&p))
		dp->st.drops[DP_DROP_LINK_LOCAL]++;
	else if (p.later_fragment)
		dp_frag_follow(dp, in, &p, frame, h->caplen);
	else
		dp_ip(dp, in, &p, h, frame);
}

const struct conntrack *datapath_conntrack(const struct datapath *dp)
{
	return dp->ct;
}

const struct lab *datapath_lab(const struct datapath *dp)
{
	return dp->lab;
}

/* ------------------------------------------------------------ flow log */

static int dp_flowlog_emit(void *ctx, const struct flowlog_record *r, const char *line, size_t len)
{
	FILE *f = ctx;

	if (fwrite(line, 1, len, f) != len || fputc('\n', f) == EOF)
		return -EIO;
	return 0;
}

void datapath_flowlog_flush(struct datapath *dp, time_t now)
{
	if (!dp->fl || !dp->flf)
		return;
	flowlog_flush(dp->fl, (uint64_t)now, true, dp_flowlog_emit, dp->flf);
	fflush(dp->flf);
}

void datapath_tick(struct datapath *dp, time_t now)
{
	dp_clock(dp);
	ct_sweep(dp->ct, dp->now_ns, DP_SWEEP_BUDGET);
	if (dp->fl && dp->flf) {
		if (flowlog_flush(dp->fl, (uint64_t)now, false, dp_flowlog_emit, dp->flf) != 0)
			fflush(dp->flf);
	}
	for (size_t i = 0; i < dp->n_enis; i++)
		if (dp->enis[i].dump)
			pcap_dump_flush(dp->enis[i].dump);
}
