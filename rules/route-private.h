/*
 * What the route stage's files share (route.c: route tables, longest
 * prefix match and the stage itself; route_nat.c: the NAT gateway hop;
 * route_peer.c: VPC peering; route_tgw.c: transit gateways).
 * Nobody else includes this but pipeline_explain.c, which retraces a
 * transit gateway's hops to name them.
 */
#ifndef VPCFW_ROUTE_PRIVATE_H
#define VPCFW_ROUTE_PRIVATE_H

#include "pipeline.h"

/* The subnet's route table (explicit association, else the main one);
 * *index its index, -1 and NULL when it has none. */
const struct route_table *route_subnet_table(const struct lab *lab, int32_t subnet, int32_t *index);
/* Longest prefix match in one table; -1 when nothing matches. in_vpc:
 * only among the local route and routes more specific than it. */
int32_t route_lookup(const struct lab *lab, const struct route_table *rt, const struct ip_addr *a,
		     bool in_vpc);
/* The gateway of that kind and id, or -1. */
int32_t route_find_gateway(const struct lab *lab, enum gateway_kind kind, const char *id);

/* The NAT gateway a route sends a flow f to, far its outside end: fills
 * v's verdict, reason and gateway. */
void route_via_nat(const struct lab *lab, const struct flow *f, const struct ip_addr *far,
		   const struct route *via, struct stage_verdict *v);
/* The NACL crossings of the NAT gateway's subnet after its route stage
 * (pipeline_route_collect). */
void route_nat_hops(const struct lab *lab, const struct pipeline_end *src,
		    const struct stage_verdict *route, const struct flow *f, bool reply,
		    uint16_t lo, uint16_t hi, struct pipeline_result *out);
/* The onward route of a NAT gateway to far: its subnet's table (*rt, its
 * index in *rt_index) and the route (index, or -1). */
int32_t route_nat_onward(const struct lab *lab, int32_t gateway, const struct ip_addr *far,
			 const struct route_table **rt, int32_t *rt_index);
/* A private NAT gateway (ConnectivityType private): its private IP is the
 * source it gives, a transit or virtual private gateway its way on. */
bool route_nat_private(const struct gateway *g);

/* From ENI a to ENI b of another VPC (route_peer.c): the sender's table
 * decides. v's ENI and subnet are the sender's already. */
void route_between_vpcs(const struct lab *lab, const struct eni *a, const struct eni *b,
			const struct flow *f, struct stage_verdict *v);

/* What stops a flow in a transit gateway, hop by hop (route_tgw.c). */
enum tgw_fault {
	TGW_OK,
	TGW_NOT_ATTACHED,    /* the sender's VPC has no available attachment to it */
	TGW_NO_AZ_SRC,	     /* nor one with a subnet in the sender's zone */
	TGW_NOT_ASSOCIATED,  /* the attachment has no (known) TGW route table */
	TGW_NO_ROUTE,	     /* that table has no route to the address */
	TGW_BLACKHOLE,	     /* its route is a blackhole */
	TGW_TARGET_UNUSABLE, /* the target attachment is not in the lab or not available */
	TGW_WRONG_VPC,	     /* it leads elsewhere than the receiver */
	TGW_NO_AZ_DST,	     /* it has no subnet in the receiver's zone */
	TGW_PEERING,	     /* a peering attachment whose far side is not in the lab */
	TGW_LOOP,	     /* more peering hops than TGW_MAX_HOPS: a routing loop */
};

/* tgw_hop.route of a route a propagation put in the table. */
#define TGW_ROUTE_PROPAGATED (-2)
/* Transit gateways one packet may cross over peering attachments. */
#define TGW_MAX_HOPS 4

/* One transit gateway on the way: entered through `from`, whose
 * associated table `table` sends the packet by `route` to `to`. */
struct tgw_hop {
	int32_t from;	       /* the attachment it enters by (lab->gateways), or -1 */
	int32_t table;	       /* its TGW route table (lab->gateways), or -1 */
	int32_t route;	       /* index in its tgw_routes, TGW_ROUTE_PROPAGATED or -1 */
	struct ip_prefix dest; /* the matching route's destination */
	int32_t to;	       /* the target attachment (lab->gateways), or -1 */
};

/* hop[0] is the sender's gateway; each peering attachment crossed adds a
 * hop; the last one is where the walk delivered or stopped. from and to
 * repeat the first hop's entry and the last hop's target. */
struct tgw_walk {
	enum tgw_fault fault;
	int32_t from; /* the sender's attachment (lab->gateways), or -1 */
	int32_t to;   /* the last target attachment (lab->gateways), or -1 */
	size_t n_hops;
	struct tgw_hop hop[TGW_MAX_HOPS];
};

/* Follows the VPC route via (tgw-…) of a sender in src_subnet to dst,
 * whose subnet is dst_subnet (-1: a host outside every VPC). */
void route_tgw_walk(const struct lab *lab, int32_t src_subnet, int32_t dst_subnet,
		    const struct ip_addr *dst, const struct route *via, struct tgw_walk *w);
/* The walk as the route stage's verdict, reason and gateway (the target
 * attachment, or the sender's when the walk stops). */
void route_via_tgw(const struct lab *lab, int32_t src_subnet, int32_t dst_subnet,
		   const struct ip_addr *dst, const struct route *via, struct stage_verdict *v);

#endif
