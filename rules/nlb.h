/*
 * Network Load Balancers (AWS-SEMANTICS §4, §9): what the lab knows of
 * them and the one decision every caller shares. A load balancer has a
 * node, an ENI, in each subnet it is enabled in (describe-load-balancers'
 * AvailabilityZones; their ENIs say "ELB net/NAME/…"), listeners (a port
 * and a protocol, forwarding to one target group) and the targets
 * registered in each group (an instance's primary ENI, or an IP address)
 * with their port and health. A client's packet to a node's address on a
 * listener port goes on to one target, on the target's port, with the
 * client's address as its source (client IP preservation); the target's
 * reply goes back through the node. A node has no security group unless
 * the load balancer has some (NLBs may since 2023).
 *
 * Loading is load_aws_lb.c's; the stages through a node and the choice of
 * target are nlb.c's; the forwarding decision's translation and its
 * conntrack bookkeeping forward_nlb.c's. Not for: Application Load
 * Balancers' proxying (docs/deviations.md).
 */
#ifndef VPCFW_NLB_H
#define VPCFW_NLB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "model.h"
#include "pipeline.h"

/* One registered target of a listener's target group. */
struct lb_target {
	const char *id;	     /* "i-…" or the IP address as written */
	int32_t eni;	     /* index into lab->enis; -1: an address no ENI has */
	struct ip_addr addr; /* the address the node sends to */
	uint16_t port;	     /* the target's port (the group's unless registered with one) */
	bool healthy;	     /* describe-target-health "healthy" (or no health known) */
	struct origin origin;
};

struct lb_listener {
	const char *arn; /* or a generated name */
	uint16_t port;
	uint8_t proto;	      /* PROTO_TCP or PROTO_UDP (TCP_UDP: both, tcp_udp set) */
	bool tcp_udp;	      /* "TCP_UDP": either protocol on the port */
	const char *protocol; /* as written: "TCP", "TLS", "UDP", "TCP_UDP" */
	const char *group;    /* the target group's name */
	struct lb_target *targets;
	size_t n_targets;
	struct origin origin;
};

struct load_balancer {
	const char *name;
	const char *arn;
	bool internet_facing;
	bool cross_zone; /* load_balancing.cross_zone.enabled; NLB default false */
	int32_t *nodes;	 /* its ENIs, indices into lab->enis */
	size_t n_nodes;
	struct lb_listener *listeners;
	size_t n_listeners;
	struct origin origin;
};

/* The load balancer whose node ENI eni is, or -1. */
int32_t nlb_of_node(const struct lab *lab, int32_t eni);
/* Its listener for (proto, port), or -1. */
int32_t nlb_listener(const struct load_balancer *lb, uint8_t proto, uint16_t port);

/* A packet's way through a node: which load balancer, node (index into
 * its nodes, and the ENI), listener and target; reply: the target's
 * answer going back. lb -1: not through one. */
struct nlb_pick {
	int32_t lb, node, node_eni, listener, target;
	bool reply;
};

/*
 * The target a flow to node's listener goes to: among the listener's
 * healthy targets (all of them when none is healthy: an NLB fails open)
 * that the node serves (its own zone's, or every zone's with cross-zone
 * load balancing), the one a hash of the flow's 5-tuple picks, so every
 * packet of a flow and every run agree. -1 when there is none.
 */
int32_t nlb_choose_target(const struct lab *lab, int32_t lb, int32_t node, int32_t listener,
			  const struct flow *f);

/* Whether nlb_choose_target returns target for some flow: a target the
 * node serves, healthy unless none it serves is (what `vpcfw diff`
 * follows: the hash spreads a key's source ports over all of them). */
bool nlb_target_possible(const struct lab *lab, int32_t lb, int32_t node, int32_t listener,
			 int32_t target);

/* The node's SG ingress stage (a hop): its groups when the load balancer
 * has some, else SKIPPED with REASON_NLB_NO_GROUP. */
void nlb_node_sg_ingress(const struct lab *lab, const struct pipeline_end *client,
			 const struct pipeline_end *node, const struct flow *at_node,
			 struct stage_verdict *v);
/* The listener's route stage (a hop at the node): ACCEPT REASON_ROUTE_NLB
 * naming the load balancer, listener and target; REJECT without a
 * listener (REASON_NLB_NO_LISTENER) or a target in the lab
 * (REASON_NLB_NO_TARGET). pk->lb and pk->node must be valid. */
void nlb_listener_stage(const struct lab *lab, const struct nlb_pick *pk, struct stage_verdict *v);

/* The words of a stage with an NLB reason; f is the packet explained
 * (to the node: the request; else the reply). */
void nlb_explain(const struct lab *lab, const struct stage_verdict *v, const struct flow *f,
		 char *buf, size_t len);

#endif
