/*
 * The forwarding decision: the one place where AWS decides what happens to
 * an IP packet (AWS-SEMANTICS §1, §4, §9). Given the packet as it is on the
 * wire, where it came in (an ENI's port or an outside host's) and the
 * connections already tracked, it says who sent it and who gets it (the
 * source/destination check; an ENI by private address, an ENI by its public
 * IP through the internet gateway, an outside host or an AWS service), the
 * address translation on the way (1:1 public IP either way, both at once
 * for a hairpin through the internet gateway), every stage's verdict
 * (rules/pipeline's stage primitives, in AWS order, each side seeing the
 * packet as its own rules do), what each ENI's conntrack zone must do and,
 * for a dropped packet, why.
 *
 * Two callers, one decision:
 *  - the data path: forward_packet() per frame, then forward_commit() once
 *    it knows the egress port exists, then carries the decision out
 *    (rewrite, queue, count, flow-log);
 *  - `vpcfw check`: pipeline_check() runs the request and then its response
 *    through forward_decide(), the response against the connection the
 *    request created (struct fwd_input.tracked).
 *
 * Not for: frames (parsing, rewriting, ARP), ports and counters (daemon/),
 * the stages' rule matching (rules/pipeline, sg, nacl, route).
 */
#ifndef VPCFW_FORWARD_H
#define VPCFW_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "conntrack.h"
#include "flow.h"
#include "model.h"
#include "nlb.h"
#include "pipeline.h"

struct pkt;

/* Where a packet enters or leaves, in the lab's terms: an ENI (index into
 * lab->enis) or a declared outside host (index into lab->outside); or, in
 * a lab split across hosts (rules/own.h, docs/scale-out.md), the link to
 * the hosts owning the remote ENIs (index -1): what comes in there was
 * sent by a remote ENI and passed its host's egress stages. A packet for
 * a remote ENI leaves by that ENI's port (FWD_PORT_ENI): the data path
 * maps remote ENIs to the link. */
enum fwd_port_kind { FWD_PORT_NONE, FWD_PORT_ENI, FWD_PORT_OUTSIDE, FWD_PORT_REMOTE };
struct fwd_port {
	enum fwd_port_kind kind;
	int32_t index;
};

/* Why a packet is not forwarded (the daemon maps these to its counters). */
enum fwd_drop {
	FWD_PASS,		  /* forwarded */
	FWD_DROP_UNKNOWN_SOURCE,  /* source address not the sender's (source/dest check) */
	FWD_DROP_UNKNOWN_DEST,	  /* no ENI, outside host or route for the destination */
	FWD_DROP_SELF,		  /* to the ENI it came from */
	FWD_DROP_NO_ROUTE,	  /* route stage: no route (or refused, blackhole, ...) */
	FWD_DROP_NO_PUBLIC_IP,	  /* route stage: to/from the internet without a public IP */
	FWD_DROP_REJECTED,	  /* an SG or NACL stage: res.stages[res.rejected_at] */
	FWD_DROP_CT_ALLOWANCE,	  /* the ENI's conntrack allowance is reached (§4) */
	FWD_DROP_CT_POOL,	  /* vpcfwd's conntrack pool is full */
	FWD_DROP_NAT_UNSOLICITED, /* at a NAT gateway's Elastic IP, answering no mapping */
	FWD_DROP_NAT_PORTS,	  /* the NAT gateway has no port (or table room) left */
};

/* Which way the packet crosses the VPC's edge. */
enum fwd_path {
	FWD_PATH_INSIDE,  /* ENI to ENI by private address, or with an AWS service */
	FWD_PATH_OUT,	  /* ENI to an outside host */
	FWD_PATH_IN,	  /* outside host to an ENI */
	FWD_PATH_HAIRPIN, /* ENI to another ENI's public IP, through the IGW (§9) */
};

/* A lab split across hosts: which end's stages run on another host
 * (d->remote). The sender's host runs SG egress, NACL egress and the
 * route; the receiver's host NACL ingress and SG ingress; each tracks its
 * own ENI's connections, as AWS's per-host state does. */
#define FWD_REMOTE_SRC 1u /* came over the link: its sender's stages ran there */
#define FWD_REMOTE_DST 2u /* goes over the link: its receiver's stages run there */

/* What the way does to one end of the packet (source or destination):
 * its address (IPv4 only) and its port (a TCP/UDP port, an ICMP echo's
 * identifier), each only when has_addr / has_port. */
struct fwd_rewrite {
	bool has_addr, has_port;
	struct ip_addr addr;
	uint16_t port;
};

/* The translation on the way: the internet gateway's 1:1 public IPs, a NAT
 * gateway's, a load balancer's node. The data path applies src's as
 * PKT_REWRITE_SRC and dst's as PKT_REWRITE_DST. */
struct fwd_xlate {
	struct fwd_rewrite src, dst;
};

/* A packet through a NAT gateway (AWS-SEMANTICS §9): gateway indexes
 * lab->gateways, -1 for none. Outbound the gateway picks its port at
 * commit (forward_nat_commit); inbound it was the destination port. */
struct fwd_nat {
	int32_t gateway;
	bool out;
	uint16_t port; /* the gateway's port */
};

/* What one ENI's conntrack zone does with the packet. */
enum fwd_ct {
	FWD_CT_NONE,	  /* no zone (not an ENI), or nothing to track */
	FWD_CT_UPDATE,	  /* a tracked connection's packet: account it */
	FWD_CT_RELATED,	  /* an ICMP error of a tracked connection: passes, no update */
	FWD_CT_INSERT,	  /* an SG rule admitted a new connection: track it */
	FWD_CT_UNTRACKED, /* admitted by a rule of an untracked flow (§4) */
};

/* One end of the packet as its own rules see it: [0] the sender, [1] the
 * receiver. Through the internet gateway the two views differ (the
 * receiver sees the translated addresses). */
struct fwd_side {
	int32_t eni;	  /* index into lab->enis, -1 for an outside host or service */
	struct flow flow; /* the packet in this end's address space */
	enum fwd_ct ct;
	/* forward_packet's conntrack lookup, for forward_commit */
	struct ct_conn *conn;
	enum ct_dir dir;
	struct ct_tuple tuple;
};

struct fwd_decision {
	enum fwd_drop drop;
	int drop_side; /* FWD_DROP_CT_*: the side whose zone refused */
	enum fwd_path path;
	struct pipeline_end src, dst;
	struct fwd_side side[2];
	struct fwd_port egress;
	struct fwd_xlate xlate;
	struct fwd_nat nat;
	struct nlb_pick nlb;	    /* through a load balancer's node (rules/nlb.h); lb -1 */
	struct pipeline_result res; /* n == 0 when dropped before the stages */
	bool related;		    /* an ICMP error answering a tracked flow */
	bool looked_up;		    /* conntrack was asked (fast/slow path counting) */
	unsigned remote;	    /* FWD_REMOTE_*: side[i].eni is then -1 (no zone here) */
};

/* One packet for forward_decide. */
struct fwd_input {
	struct pipeline_end from;  /* the sender: an ENI, an outside host or a service */
	struct flow wire;	   /* addresses as the sender wrote them */
	unsigned tracked;	   /* PIPELINE_SRC_TRACKED / _DST_TRACKED: who tracks it */
	bool opens;		   /* known to open a connection (a TCP SYN, check's request) */
	bool related;		   /* an ICMP error quoting a packet of a tracked flow */
	uint16_t port_lo, port_hi; /* NACL stages over these destination ports (check's
				    * response without a client port); lo == hi == dport */
	bool reply;		   /* check's response: through a NAT gateway the far end
				    * sends to the gateway's own ports */
	uint16_t nat_port;	   /* a NAT gateway's reply (wire translated back): the
				    * gateway's port it came to, for its subnet's NACL */
	bool via_nlb;		   /* a target's reply through a load balancer's node: */
	struct nlb_pick nlb;	   /* which (check: the request's; the data path: the
				    * node's conntrack zone, forward_nlb.c) */
};

void forward_input_init(struct fwd_input *in, const struct pipeline_end *from,
			const struct flow *wire);

/* Who the wire destination is and what the internet gateway translates:
 * ends, sides' flows, path, egress. d->drop says when nothing routes it. */
void forward_resolve(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d);
/* The stages of a resolved packet and what follows from them: drop reason,
 * the conntrack zones' work, the source translation of the way out. */
void forward_judge(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d);
/* Both, for a packet with no tracker at hand (`vpcfw check`). */
void forward_decide(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d);

/* What the VPC router does with a frame before any IP forwarding. */
enum fwd_frame {
	FWD_FRAME_IP,	      /* an IP packet: forward_packet decides */
	FWD_FRAME_ARP,	      /* answered as the router (forward_port_owns) */
	FWD_FRAME_ND,	      /* ICMPv6 router/neighbor discovery: NS answered, rest ignored */
	FWD_FRAME_VLAN,	      /* 802.1Q/802.1ad-tagged: dropped */
	FWD_FRAME_NOT_IP,     /* neither IP nor ARP: dropped */
	FWD_FRAME_LINK_SCOPE, /* IPv6 that stays on the link: never routed */
};
enum fwd_frame forward_classify(const struct pkt *p);

/* Whether the address is the port's own (an ENI's private address, an
 * outside host's address): the source/destination check, and whom the
 * router answers ARP for. */
bool forward_port_owns(const struct lab *lab, const struct fwd_port *port, const struct ip_addr *a);

/* The data path's call: one parsed IP packet p that came in through port,
 * looked up in ct (which may reclaim expired entries) and decided. */
void forward_packet(const struct lab *lab, struct conntrack *ct, uint64_t now_ns,
		    const struct fwd_port *port, const struct pkt *p, struct fwd_decision *d);

/* After a FWD_PASS decision whose egress exists: updates and creates the
 * tracked connections of its sides (rules generation gen for the rule
 * references). A refused insert (allowance or pool) turns the decision into
 * a drop, and an entry it created for the other side is taken back. */
void forward_commit(struct conntrack *ct, uint64_t now_ns, uint32_t gen, const struct pkt *p,
		    struct fwd_decision *d);

/* The data path through NAT gateways (forward_nat.c): forward_packet,
 * except that a packet to a NAT gateway's Elastic IP is looked up in its
 * translation table nat and decided as the reply it translates back to
 * (or dropped as unsolicited). */
struct natgw;
void forward_nat_packet(const struct lab *lab, struct conntrack *ct, struct natgw *nat,
			uint64_t now_ns, const struct fwd_port *port, const struct pkt *p,
			struct fwd_decision *d);
/* forward_commit, after the NAT gateway's port is taken for an outbound
 * packet (d->xlate gets it; no port left: FWD_DROP_NAT_PORTS). */
void forward_nat_commit(struct conntrack *ct, struct natgw *nat, uint64_t now_ns, uint32_t gen,
			const struct pkt *p, struct fwd_decision *d);
#endif
