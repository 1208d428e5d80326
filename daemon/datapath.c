/*
 * The frame handler of vpcfwd. One captured frame: parse once (rules/packet),
 * answer ARP / Neighbor Solicitation as the VPC router, or take the IP path:
 * one call to rules/forward decides everything AWS decides (who sent it,
 * who gets it, the internet gateway's translation, the stages, which
 * conntrack zones track it and why a packet is dropped), and this file only
 * carries the decision out: the tracked connections are committed, the
 * frame is rewritten and queued on the egress port, or dropped silently, as
 * AWS sends no RST or ICMP error (AWS-SEMANTICS §1, §4). Every frame ends
 * in one accounting exit (dp_account): counters per ENI and stage, flow
 * logs (§6), rejected frames saved per ENI for Wireshark.
 *
 * Not here: set-up and reload (datapath_setup.c), fragments (dp_frag.c),
 * counters' snapshots and names (datapath_stats.c), building namespaces
 * (daemon/topology), the event loop (daemon/loop), any policy decision
 * (rules/forward). The packet path counts instead of logging and
 * allocates nothing but a tracked connection from the conntrack pool.
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
#include "flowlog.h"
#include "forward.h"
#include "model.h"
#include "natgw.h"
#include "packet.h"
#include "port.h"
#include "topology.h"

_Static_assert(PKT_MAL__COUNT <= DP_MALFORMED_MAX, "dp_stats.malformed too small");

#define DP_SWEEP_BUDGET 4096
#define DP_REPLY_MAX 128

static struct fwd_port dp_fwd_port(const struct topology_port *tp)
{
	if (tp->kind == TOPOLOGY_PORT_ENI)
		return (struct fwd_port){FWD_PORT_ENI, tp->eni};
	if (tp->kind == TOPOLOGY_PORT_REMOTE) /* a lab split across hosts */
		return (struct fwd_port){FWD_PORT_REMOTE, -1};
	return (struct fwd_port){FWD_PORT_OUTSIDE, tp->outside};
}

/* ------------------------------------------------------------ ARP / ND */

static void dp_send_reply(struct dp_worker *w, const struct dp_port *in, const uint8_t *frame,
			  int len)
{
	if (len > 0)
		port_tx_queue(w->tx, in->tp->ifindex, frame, (size_t)len);
}

/* Whether the router answers for target on this port: every address but
 * the asker's own (every address resolves to the router, so even traffic
 * inside one subnet crosses the daemon, as in a VPC). */
static bool dp_answers_for(const struct datapath *dp, const struct dp_port *in,
			   const struct ip_addr *asker, const struct ip_addr *target)
{
	struct fwd_port port = dp_fwd_port(in->tp);

	return !ip_addr_eq(asker, target) && !forward_port_owns(dp->lab, &port, target);
}

/* -1 when answered, else the drop reason. */
static int dp_arp(struct dp_worker *w, const struct dp_port *in, const struct pkt *p)
{
	const struct datapath *dp = w->dp;
	uint8_t buf[DP_REPLY_MAX];
	int len;

	if (p->arp.op != PKT_ARP_REQUEST || !dp_answers_for(dp, in, &p->arp.spa, &p->arp.tpa))
		return DP_DROP_ARP_IGNORED;
	len = pkt_build_arp_reply(p, in->tp->mac, buf, sizeof(buf));
	if (len < 0)
		return DP_DROP_ARP_IGNORED;
	dp_send_reply(w, in, buf, len);
	return -1;
}

/* -1 when answered, else the drop reason. */
static int dp_nd(struct dp_worker *w, const struct dp_port *in, const struct pkt *p)
{
	const struct datapath *dp = w->dp;
	uint8_t buf[DP_REPLY_MAX];
	int len;

	if (p->icmp_type != PKT_ICMP6_NEIGH_SOLICIT ||
	    !dp_answers_for(dp, in, &p->src, &p->nd_target))
		return DP_DROP_ND_IGNORED;
	len = pkt_build_na(p, in->tp->mac, true, buf, sizeof(buf));
	if (len < 0)
		return DP_DROP_ND_IGNORED;
	dp_send_reply(w, in, buf, len);
	return -1;
}

/* ------------------------------------------------------------- IP path */

/* Wire packets a GSO frame of the offload mode stands for (flow logs count
 * packets as the wire carries them); 1 otherwise. */
static uint32_t dp_segments(const struct dp_worker *w, const struct pkt *p)
{
	const struct virtio_net_hdr *vh = port_vnet_hdr(w->ring);

	if (!vh || vh->gso_type == VIRTIO_NET_HDR_GSO_NONE || vh->gso_size == 0 ||
	    p->payload_len == 0)
		return 1;
	return (uint32_t)((p->payload_len + vh->gso_size - 1u) / vh->gso_size);
}

/* natgw_rewrite_port's which (0 source, 1 destination) is pkt_rewrite_ipv4's. */
_Static_assert(PKT_REWRITE_SRC == 0 && PKT_REWRITE_DST == 1, "one index for an end");

/* One end's translation on the frame out. A later fragment has no ports:
 * its first one's were rewritten. */
static void dp_rewrite(uint8_t *out, size_t len, struct pkt *p, enum pkt_rewrite_field end,
		       const struct fwd_rewrite *r, unsigned flags)
{
	if (r->has_addr)
		pkt_rewrite_ipv4(out, len, p, end, &r->addr, flags);
	if (r->has_port && !p->later_fragment)
		natgw_rewrite_port(out, len, p, end, r->port, flags != 0);
}

/* The frame as the destination sees it: MACs of the egress port and the
 * ENI's eth0 (TTL untouched, as in a VPC), the decision's address
 * translation applied. A frame of the offload mode is rewritten in place
 * (the buffer is ours until the flush) and sent on with its virtio-net
 * header. false when the transmit queue had no room. */
static bool dp_forward(struct dp_worker *w, const struct topology_port *egress,
		       const struct fwd_decision *d, struct pkt *p, const uint8_t *frame,
		       size_t len)
{
	const struct virtio_net_hdr *vh = port_vnet_hdr(w->ring);
	unsigned flags = 0;
	uint8_t *out;

	if (vh) {
		out = (uint8_t *)frame;
		if (port_tx_queue_ref(w->tx, egress->ifindex, out, len, vh) < 0)
			out = NULL;
		if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			flags = PKT_REWRITE_L4_PARTIAL;
	} else {
		out = port_tx_slot(w->tx, egress->ifindex, len);
		if (out)
			memcpy(out, frame, len);
	}
	if (!out)
		return false;
	memcpy(out, egress->peer_mac, PKT_ETH_ALEN);
	memcpy(out + PKT_ETH_ALEN, egress->mac, PKT_ETH_ALEN);
	dp_rewrite(out, len, p, PKT_REWRITE_SRC, &d->xlate.src, flags);
	dp_rewrite(out, len, p, PKT_REWRITE_DST, &d->xlate.dst, flags);
	return true;
}

static const struct topology_port *dp_egress(const struct datapath *dp, const struct fwd_port *e)
{
	if (e->kind == FWD_PORT_ENI)
		return dp->enis[e->index].tp;
	return topology_port_of_outside(dp->topo, e->index);
}

/* The NAT gateways' table for the running lab: a reload carries the
 * mappings of the gateways it keeps (same id and Elastic IP, wherever they
 * are in the list: natgw_carry) and drops those of the others. NULL when
 * the lab has none or there is no memory (then NAT packets are dropped
 * and counted). */
static struct natgw *dp_nat(struct datapath *dp)
{
	struct natgw *t;

	if (dp->nat_lab == dp->lab)
		return dp->nat;
	dp->nat_lab = dp->lab; /* compared, never read (reset by a reload) */
	if (natgw_for_lab(dp->lab, dp->nat, &t) < 0)
		t = NULL;
	natgw_destroy(dp->nat);
	dp->nat = t;
	return t;
}

/* rules/forward decides; the egress port must exist before the tracker
 * commits the connection. The decision is taken whole under ct_lock: the
 * tracker, the NAT table and the fragment table are every worker's, and a
 * zone's allowance is checked and taken in one step. */
static const struct topology_port *dp_decide(struct dp_worker *w, const struct dp_port *in,
					     const struct pkt *p, struct fwd_decision *d)
{
	struct datapath *dp = w->dp;
	struct fwd_port port = dp_fwd_port(in->tp);
	const struct topology_port *out = NULL;

	pthread_mutex_lock(&dp->ct_lock);
	struct natgw *nat = dp_nat(dp);

	forward_nat_packet(dp->lab, dp->ct, nat, w->now_ns, &port, p, d);
	if (d->drop == FWD_PASS && !(out = dp_egress(dp, &d->egress)))
		d->drop = FWD_DROP_UNKNOWN_DEST;
	if (d->drop == FWD_PASS)
		forward_nat_commit(dp->ct, nat, w->now_ns, dp->generation, p, d);
	if (d->drop == FWD_PASS && p->is_fragment)
		dp_frag_record(dp, w->now_ns, in->tp, p, d, out);
	pthread_mutex_unlock(&dp->ct_lock);
	return out;
}

static const struct topology_port *dp_follow(struct dp_worker *w, const struct dp_port *in,
					     const struct pkt *p, struct fwd_decision *d)
{
	const struct topology_port *out;

	pthread_mutex_lock(&w->dp->ct_lock);
	out = dp_frag_follow(w->dp, w->now_ns, in->tp, p, d);
	pthread_mutex_unlock(&w->dp->ct_lock);
	return out;
}

/* ----------------------------------------------------------- accounting */

static void dp_flowlog(struct dp_worker *w, const struct fwd_decision *d, int side,
		       enum flowlog_action a, const struct pkt *p)
{
	struct datapath *dp = w->dp;
	const struct flow *f = &d->side[side].flow;
	int32_t eni = d->side[side].eni;
	struct flowlog_packet fp;

	/* a later fragment is counted, not logged: its ports are its first's */
	if (!dp->fl || eni < 0 || p->later_fragment)
		return;
	memset(&fp, 0, sizeof(fp));
	fp.iface = &dp->enis[eni].fl;
	fp.direction = side == 0 ? FLOWLOG_EGRESS : FLOWLOG_INGRESS;
	fp.action = a;
	fp.src = f->src;
	fp.dst = f->dst;
	fp.protocol = p->proto;
	fp.sport = f->sport;
	fp.dport = f->dport;
	fp.tcp_flags = p->proto == PROTO_TCP ? p->tcp_flags : 0;
	fp.bytes = p->l3_len;
	fp.segments = dp_segments(w, p);
	flowlog_add(dp->fl, &fp, (uint64_t)w->now_s);
}

/* A rejection counts on the ENI whose stage rejected it and is logged
 * REJECT there (the sender's egress stays ACCEPT when the receiver
 * refused, §6); the frame is saved in that ENI's dump. */
static void dp_account_reject(struct dp_worker *w, const struct fwd_decision *d,
			      const struct pkt *p, const struct pcap_pkthdr *h,
			      const uint8_t *frame)
{
	static const enum dp_stage stage[STAGE_MAX] = {[STAGE_SG_EGRESS] = DP_STAGE_SG_EGRESS,
						       [STAGE_NACL_EGRESS] = DP_STAGE_NACL_EGRESS,
						       [STAGE_NACL_INGRESS] = DP_STAGE_NACL_INGRESS,
						       [STAGE_SG_INGRESS] = DP_STAGE_SG_INGRESS};
	enum pipeline_stage s = d->res.stages[d->res.rejected_at].stage;
	int side = s == STAGE_SG_EGRESS || s == STAGE_NACL_EGRESS ? 0 : 1;
	int32_t eni = d->side[side].eni;
	struct datapath *dp = w->dp;

	if (side == 1)
		dp_flowlog(w, d, 0, FLOWLOG_ACCEPT, p);
	dp_flowlog(w, d, side, FLOWLOG_REJECT, p);
	dp_count(&w->st.rejected_pkts, 1);
	if (eni < 0)
		return;
	dp_count(&w->es[eni].rejected_pkts[stage[s]], 1);
	dp_count(&w->es[eni].rejected_bytes[stage[s]], p->l3_len);
	if (dp->enis[eni].dump)
		pcap_dump((u_char *)dp->enis[eni].dump, h, frame);
}

/* What each ENI's conntrack zone did with the packet (sides before n). */
static void dp_account_zones(struct dp_worker *w, const struct fwd_decision *d, int n)
{
	for (int i = 0; i < n; i++) {
		int32_t eni = d->side[i].eni;

		if (eni < 0)
			continue;
		if (d->side[i].ct == FWD_CT_UPDATE || d->side[i].ct == FWD_CT_RELATED)
			dp_count(&w->es[eni].fast_path_pkts, 1);
		else if (d->side[i].ct == FWD_CT_UNTRACKED)
			dp_count(&w->es[eni].untracked_pkts, 1);
	}
}

static void dp_account_accept(struct dp_worker *w, const struct fwd_decision *d,
			      const struct pkt *p)
{
	dp_count(&w->st.accepted_pkts, 1);
	dp_account_zones(w, d, 2);
	for (int i = 0; i < 2; i++) {
		int32_t eni = d->side[i].eni;

		if (eni < 0)
			continue;
		dp_count(&w->es[eni].accepted_pkts[i == 0 ? DP_DIR_EGRESS : DP_DIR_INGRESS], 1);
		dp_count(&w->es[eni].accepted_bytes[i == 0 ? DP_DIR_EGRESS : DP_DIR_INGRESS],
			 p->l3_len);
		dp_flowlog(w, d, i, FLOWLOG_ACCEPT, p);
	}
}

/* The connection table refused a new flow (§4): dropped, counted as AWS
 * counts it on the ENI whose allowance (or vpcfwd's pool) ran out. */
static void dp_account_ct_full(struct dp_worker *w, const struct fwd_decision *d)
{
	int32_t eni = d->side[d->drop_side].eni;

	dp_account_zones(w, d, d->drop_side);
	dp_count(&w->st.rejected_pkts, 1);
	if (d->drop == FWD_DROP_CT_ALLOWANCE) {
		dp_count(&w->es[eni].conntrack_allowance_exceeded, 1);
		dp_count(&w->st.conntrack_allowance_exceeded, 1);
	} else {
		dp_count(&w->es[eni].conntrack_pool_exhausted, 1);
		dp_count(&w->st.conntrack_pool_exhausted, 1);
	}
}

static enum dp_drop dp_drop_of(enum fwd_drop why)
{
	switch (why) {
	case FWD_DROP_UNKNOWN_SOURCE:
		return DP_DROP_UNKNOWN_SOURCE;
	case FWD_DROP_SELF:
		return DP_DROP_HAIRPIN;
	case FWD_DROP_NO_PUBLIC_IP:
		return DP_DROP_NO_PUBLIC_IP;
	case FWD_DROP_NO_ROUTE:
		return DP_DROP_NO_ROUTE;
	case FWD_DROP_NAT_UNSOLICITED:
		return DP_DROP_NAT_UNSOLICITED;
	case FWD_DROP_NAT_PORTS:
		return DP_DROP_NAT_PORTS;
	default:
		return DP_DROP_UNKNOWN_DEST;
	}
}

/* What rules/forward decided, counted. The flow-log table and the ENIs'
 * reject dumps are every worker's (records stay exact): their lock is
 * taken once per frame, and only when they exist. */
static void dp_account_decision(struct dp_worker *w, const struct fwd_decision *d,
				const struct pkt *p, const struct pcap_pkthdr *h,
				const uint8_t *frame)
{
	struct datapath *dp = w->dp;
	bool out = dp->fl || dp->dead;

	if (d->drop == FWD_DROP_CT_ALLOWANCE || d->drop == FWD_DROP_CT_POOL) {
		dp_account_ct_full(w, d);
		return;
	}
	if (d->drop != FWD_PASS && d->drop != FWD_DROP_REJECTED) {
		dp_count(&w->st.drops[dp_drop_of(d->drop)], 1);
		return;
	}
	if (out)
		pthread_mutex_lock(&dp->out_lock);
	if (d->drop == FWD_PASS)
		dp_account_accept(w, d, p);
	else
		dp_account_reject(w, d, p, h, frame);
	if (out)
		pthread_mutex_unlock(&dp->out_lock);
}

/* What became of one frame. */
struct dp_outcome {
	int drop;		      /* enum dp_drop before or beside the decision; -1 */
	int malformed;		      /* rules/packet's reason; 0 */
	const struct fwd_decision *d; /* an IP packet's decision, carried out; or NULL */
	enum fwd_frame answered;      /* FWD_FRAME_ARP / _ND: the router replied */
};

/* The one place a frame's fate is counted, flow-logged and dumped. */
static void dp_account(struct dp_worker *w, const struct dp_outcome *o, const struct pkt *p,
		       const struct pcap_pkthdr *h, const uint8_t *frame)
{
	const struct fwd_decision *d = o->d;
	struct dp_stats *st = &w->st;

	dp_count(&st->rx_pkts, 1);
	dp_count(&st->rx_bytes, h->len);
	if (o->answered == FWD_FRAME_ARP)
		dp_count(&st->arp_replies, 1);
	else if (o->answered == FWD_FRAME_ND)
		dp_count(&st->nd_replies, 1);
	if (o->malformed) {
		dp_count(&st->malformed_total, 1);
		dp_count(&st->malformed[o->malformed < DP_MALFORMED_MAX ? o->malformed : 0], 1);
	}
	if (d && d->looked_up) {
		bool fast = (d->side[0].eni < 0 || d->side[0].conn) &&
			    (d->side[1].eni < 0 || d->side[1].conn);
		dp_count(fast ? &st->fast_path_pkts : &st->slow_path_pkts, 1);
	}
	if (d)
		dp_account_decision(w, d, p, h, frame);
	if (o->drop >= 0)
		dp_count(&st->drops[o->drop], 1);
}

/* ------------------------------------------------------- frame handler */

/* Everything but an IP packet to forward: answered or dropped (true), or
 * an IP packet for rules/forward (false). */
static bool dp_not_ip(struct dp_worker *w, const struct dp_port *in, const struct pkt *p,
		      struct dp_outcome *o)
{
	static const enum dp_drop dropped[] = {[FWD_FRAME_VLAN] = DP_DROP_VLAN,
					       [FWD_FRAME_NOT_IP] = DP_DROP_NOT_IP,
					       [FWD_FRAME_LINK_SCOPE] = DP_DROP_LINK_LOCAL};
	enum fwd_frame kind = forward_classify(p);

	if (kind == FWD_FRAME_IP)
		return false;
	if (kind == FWD_FRAME_ARP)
		o->drop = dp_arp(w, in, p);
	else if (kind == FWD_FRAME_ND)
		o->drop = dp_nd(w, in, p);
	else
		o->drop = (int)dropped[kind];
	if (o->drop < 0)
		o->answered = kind;
	return true;
}

void dp_clock(uint64_t *now_ns, time_t *now_s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	*now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	*now_s = time(NULL);
}

void dp_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *frame)
{
	struct dp_worker *w = (struct dp_worker *)user;
	const struct dp_port *in = &w->dp->ports[w->cur_port];
	struct dp_outcome o = {.drop = -1, .answered = FWD_FRAME_IP};
	const struct topology_port *out;
	struct fwd_decision d;
	struct pkt p;
	int rc;

	if (h->caplen < h->len) {
		o.drop = DP_DROP_TRUNCATED;
		goto done;
	}
	rc = pkt_parse(frame, h->caplen, &p);
	if (rc < 0) {
		o.malformed = -rc;
		goto done;
	}
	if (dp_not_ip(w, in, &p, &o))
		goto done;
	if (p.later_fragment)
		out = dp_follow(w, in, &p, &d);
	else
		out = dp_decide(w, in, &p, &d);
	if (!out && p.later_fragment) {
		o.drop = DP_DROP_FRAGMENT;
		goto done;
	}
	o.d = &d;
	if (d.drop == FWD_PASS && !dp_forward(w, out, &d, &p, frame, h->caplen))
		o.drop = DP_DROP_TX_FULL;
done:
	dp_account(w, &o, &p, h, frame);
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
	pthread_mutex_lock(&dp->out_lock);
	flowlog_flush(dp->fl, (uint64_t)now, true, dp_flowlog_emit, dp->flf);
	pthread_mutex_unlock(&dp->out_lock);
	fflush(dp->flf);
}

/* The loop's thread: the workers keep running, the shared tables are
 * taken under their locks a budget at a time. */
void datapath_tick(struct datapath *dp, time_t now)
{
	dp_clock(&dp->now_ns, &dp->now_s);
	pthread_mutex_lock(&dp->ct_lock);
	ct_sweep(dp->ct, dp->now_ns, DP_SWEEP_BUDGET);
	if (dp->nat)
		natgw_sweep(dp->nat, dp->now_ns, DP_SWEEP_BUDGET);
	pthread_mutex_unlock(&dp->ct_lock);
	pthread_mutex_lock(&dp->out_lock);
	if (dp->fl && dp->flf) {
		if (flowlog_flush(dp->fl, (uint64_t)now, false, dp_flowlog_emit, dp->flf) != 0)
			fflush(dp->flf);
	}
	for (size_t i = 0; i < dp->n_enis; i++)
		if (dp->enis[i].dump)
			pcap_dump_flush(dp->enis[i].dump);
	pthread_mutex_unlock(&dp->out_lock);
}

void datapath_tracker_lock(struct datapath *dp)
{
	pthread_mutex_lock(&dp->ct_lock);
}

void datapath_tracker_unlock(struct datapath *dp)
{
	pthread_mutex_unlock(&dp->ct_lock);
}
