/*
 * AWS's evaluation order for one packet (AWS-SEMANTICS §1): SG egress of
 * the sender, NACL egress of its subnet, NACL ingress of the receiver's
 * subnet, SG ingress of the receiver; plus a "route" stage for flows that
 * leave the VPC (internet gateway route and public IP, NAT gateway,
 * peering, VPN gateway, gateway endpoint), followed through a NAT gateway
 * by the two NACL crossings of its subnet (stages with .hop set).
 * Every stage yields one struct stage_verdict that carries its provenance
 * (NACL id and rule number, group and rule, reason): the same record feeds
 * `vpcfw check`, the daemon's counters and flow logs (pf's habit).
 *
 * Callers:
 *  - rules/forward*.c (forward_decide(), the one forwarding decision that
 *    the data path and `vpcfw check` share): pipeline_evaluate() with
 *    flags saying which ENIs already track the connection (their SG stages
 *    pass as "tracked"; NACL stages always run), or the stage functions one
 *    by one; the data path calls forward_packet(), never these directly;
 *  - `vpcfw check` / `vpcfw test`: pipeline_check() evaluates a request
 *    and its response through forward_decide() (DESIGN.md contract 4),
 *    including the response over the client's whole ephemeral port range.
 *
 * Not for: connection tracking state (rules/conntrack), parsing packets,
 * printing (the caller formats with pipeline_explain()).
 */
#ifndef VPCFW_PIPELINE_H
#define VPCFW_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "model.h"

enum pipeline_stage {
	STAGE_SG_EGRESS,
	STAGE_NACL_EGRESS,
	STAGE_ROUTE, /* only for flows leaving the VPC or its local route */
	STAGE_NACL_INGRESS,
	STAGE_SG_INGRESS,
	STAGE_MAX
};

enum pipeline_verdict { VERDICT_ACCEPT, VERDICT_REJECT, VERDICT_SKIPPED };

/* Why a stage gave its verdict. */
enum pipeline_reason {
	REASON_RULE,		 /* a rule decided: NACL rule (incl. "*") or SG rule */
	REASON_NO_RULE,		 /* SG: no rule of any group allowed */
	REASON_TRACKED,		 /* SG: part of a connection tracked on that ENI */
	REASON_UNTRACKED,	 /* SG: reply of an untracked flow, allowed by a rule */
	REASON_SAME_SUBNET,	 /* NACL: both ends in one subnet */
	REASON_OUTSIDE,		 /* the stage belongs to a host outside the VPC */
	REASON_SERVICE,		 /* AWS service traffic no NACL/SG filters (§1) */
	REASON_EARLIER_REJECT,	 /* an earlier stage rejected the packet */
	REASON_REQUEST_REJECTED, /* response: the request never got there */
	REASON_NO_RESPONSE,	 /* response: this ICMP type gets no reply */
	REASON_ROUTE_IGW,	 /* route: to/from the internet gateway */
	REASON_NO_ROUTE,	 /* route: the subnet's table has no igw route */
	REASON_NO_PUBLIC_IP,	 /* route: IPv4 to/from the internet without a public IP */
	REASON_OTHER_VPC,	 /* route: ENIs of different VPCs, no route towards the other */
	REASON_NO_HOST,		 /* route: an address inside a VPC CIDR that no ENI has */
	REASON_ROUTE_ENDPOINT,	 /* route: through a gateway endpoint (vpce-, S3/DynamoDB) */
	REASON_ENDPOINT_INBOUND, /* route: through a vpce-/eigw- route only connections
				  * the VPC opens pass (set by pipeline_check) */
	REASON_ROUTE_EIGW,	 /* route: IPv6 through an egress-only internet gateway */
	REASON_BLACKHOLE,	 /* route: the matching route is a blackhole (target gone) */
	REASON_ROUTE_LOCAL,	 /* route: between subnets by the local route */
	REASON_MIDDLEBOX,	 /* route: a route more specific than the local route
				  * (middlebox routing, not modelled) */
	REASON_ROUTE_NAT,	 /* route: through a NAT gateway and its subnet's internet
				  * gateway route, its Elastic IP the source outside */
	REASON_NAT_MISSING,	 /* route: the NAT gateway is not in the lab, not available
				  * or without a public IP */
	REASON_NAT_NO_ROUTE,	 /* route: the NAT gateway's subnet has no internet
				  * gateway route to the far end */
	REASON_NAT_PROTOCOL,	 /* route: a NAT gateway carries TCP, UDP and ICMP only */
	REASON_ROUTE_PEERING,	 /* route: to the peer VPC over an active peering connection */
	REASON_PEERING_MISMATCH, /* route: a pcx- route whose peering is not in the lab, not
				  * active, or does not join the two VPCs */
	REASON_ROUTE_VGW,	 /* route: to on-premises over a virtual private gateway */
	REASON_ROUTE_TGW,	 /* route: through a transit gateway to its target attachment */
	REASON_TGW_UNUSABLE,	 /* route: a tgw- route the transit gateway does not carry on */
	REASON_ROUTE_NLB,	 /* route: a Network Load Balancer's listener to a target
				  * (rules/nlb.h), or its target's reply back */
	REASON_NLB_NO_LISTENER,	 /* route: no listener of the load balancer on that port */
	REASON_NLB_NO_TARGET,	 /* route: the listener has no target the node can reach */
	REASON_NLB_NO_GROUP,	 /* SG: a load balancer node without security groups */
	REASON__COUNT		 /* keep last: sizes counter arrays */
};

/* The VPC's own service addresses, which NACLs never filter
 * (AWS-SEMANTICS §1, §9): not outside hosts, no route stage. */
enum vpc_service {
	SERVICE_NONE,
	SERVICE_DNS,	      /* base+2 of the VPC's primary CIDR, 169.254.169.253, fd00:ec2::253 */
	SERVICE_METADATA,     /* 169.254.169.254, fd00:ec2::254 */
	SERVICE_TIME_SYNC,    /* 169.254.169.123, fd00:ec2::123 */
	SERVICE_DHCP,	      /* 255.255.255.255, where a DHCP client broadcasts */
	SERVICE_ROUTER,	      /* base+1 of a subnet: the VPC router, which answers DHCP */
	SERVICE_ECS_METADATA, /* 169.254.170.2, the ECS task metadata endpoint */
	SERVICE_LICENSE,      /* 169.254.169.250-251, Windows license activation (KMS) */
	SERVICE_LINK_LOCAL,   /* any other address of 169.254.0.0/16 */
};

/* One end of a packet. */
enum pipeline_end_kind { END_ENI, END_SERVICE, END_OUTSIDE };
struct pipeline_end {
	enum pipeline_end_kind kind;
	int32_t eni;		  /* END_ENI: index into lab->enis, else -1 */
	enum vpc_service service; /* END_SERVICE */
};

struct stage_verdict {
	enum pipeline_stage stage;
	enum pipeline_verdict verdict;
	enum pipeline_reason reason;
	enum vpc_service service; /* REASON_SERVICE */
	int32_t eni;		  /* SG stages: whose groups; -1 */
	int32_t subnet;		  /* NACL and route stages: whose NACL / route table; -1 */
	int32_t nacl;		  /* NACL stages: index into lab->nacls; -1 */
	uint32_t rule_number;	  /* NACL rule that decided (32767/32768 for "*"); 0 */
	int32_t group;		  /* SG: index into lab->groups of the deciding rule; -1 */
	int32_t rule;		  /* SG: index into that group's rules; -1 */
	bool untracked;		  /* SG ACCEPT by a rule: the flow is untracked on this ENI */
	int32_t route_table;	  /* route stage: index into lab->route_tables; -1 */
	int32_t route;		  /* route stage: index of the route used; -1 */
	/* NACL stage over a range of reply ports (pipeline_check without a
	 * client port): port_lo..port_hi was evaluated; port is the first
	 * refused one (REJECT), else port_lo. */
	bool has_port;
	uint16_t port;
	uint16_t port_lo, port_hi;
	/* A stage at a hop past the route stage (the NACL crossings of a NAT
	 * gateway's subnet): hop set, gateway indexes lab->gateways. The route
	 * stage sets gateway too (-1: none) for its NAT and peering reasons;
	 * other records leave it 0, so read it only there (hop false). */
	bool hop;
	int32_t gateway;
	/* The NLB reasons: indices into lab->load_balancers, its listeners
	 * and that listener's targets (-1 each when none); read only there. */
	int32_t lb, lb_listener, lb_target;
};

/* The five stages of AWS-SEMANTICS §1; a hairpin through the internet
 * gateway meets both ENIs' route tables (rules/forward.h); a NAT gateway
 * adds the two NACL crossings of its subnet after the route stage. */
#define PIPELINE_MAX_STAGES 9

struct pipeline_result {
	enum pipeline_verdict verdict; /* ACCEPT or REJECT (SKIPPED: not evaluated) */
	int rejected_at;	       /* index into stages of the rejecting stage, -1 */
	size_t n;		       /* 4, 5 with a route stage, 6 for a hairpin,
					* 7 through a NAT gateway */
	struct stage_verdict stages[PIPELINE_MAX_STAGES];
};

/* What an address is, seen from an ENI of VPC vpc: one of the lab's ENIs,
 * an AWS service address of that VPC, or an outside host. */
void pipeline_end_of_addr(const struct lab *lab, int32_t vpc, const struct ip_addr *a,
			  struct pipeline_end *out);

/* The VPC's service addresses outside its own blocks, as prefixes (§9):
 * 169.254.0.0/16 and each named link-local service in it, the DHCP
 * broadcast, the fd00:ec2:: endpoints; what pipeline_end_of_addr calls
 * END_SERVICE whatever the VPC. out holds PIPELINE_SERVICE_PREFIXES;
 * returns how many. */
#define PIPELINE_SERVICE_PREFIXES 16
size_t pipeline_service_prefixes(struct ip_prefix *out);

/* What an SG or NACL stage consults for traffic between self (whose
 * stage it is) and peer, before looking at any port or ICMP type: the one
 * place the stages' skip and exemption decisions are made (§1, §9: not
 * an ENI, same subnet, AWS service traffic). pipeline_sg_stage and
 * pipeline_nacl_stage answer one packet from it (first match over the
 * rules it names); rules/reach builds `diff`'s interval maps from the
 * very same scope. Reads only the flow's protocol and family. */
struct stage_scope {
	bool decided; /* no rule is consulted: the verdict is the answer */
	bool egress;
	const struct eni *eni;	 /* SG: whose groups' rules (sg_walk) */
	const struct nacl *nacl; /* NACL: whose entries, first match */
	/* SG: TCP/UDP packets with either port in exempt_lo..exempt_hi are
	 * service traffic (DNS, DHCP): pipeline_scope_exempt's verdict. */
	bool exempt_ports;
	uint16_t exempt_lo, exempt_hi;
	enum vpc_service exempt_service;
};

/* stage: one of the SG and NACL stages. *v gets the stage and whose it
 * is (eni, subnet, nacl), and the whole verdict when out->decided. */
void pipeline_stage_scope(const struct lab *lab, enum pipeline_stage stage,
			  const struct pipeline_end *self, const struct pipeline_end *peer,
			  const struct flow *f, struct stage_verdict *v, struct stage_scope *out);
/* The verdict of the scope's exempt ports, from the scope's v. */
void pipeline_scope_exempt(const struct stage_scope *s, const struct stage_verdict *v,
			   struct stage_verdict *out);

/* Flags for pipeline_evaluate: the connection is already tracked on the
 * source / destination ENI (conntrack hit), so that ENI's SG stage passes
 * without rules (AWS-SEMANTICS §4). NACL stages run regardless. */
#define PIPELINE_SRC_TRACKED 0x1u
#define PIPELINE_DST_TRACKED 0x2u

/* All stages of one packet from src to dst, in AWS order; stages after a
 * rejecting one are SKIPPED (REASON_EARLIER_REJECT). An SG ACCEPT stage
 * with .untracked set tells the data path not to create a tracked
 * connection on that ENI. No allocation, no I/O. */
void pipeline_evaluate(const struct lab *lab, const struct pipeline_end *src,
		       const struct pipeline_end *dst, const struct flow *f, unsigned flags,
		       struct pipeline_result *out);

/* The stages one at a time (pipeline_evaluate is these in order). */
/* egress: the SG egress of src; else the SG ingress of dst. The other end
 * matters for the AWS service exemptions. */
void pipeline_sg_stage(const struct lab *lab, const struct pipeline_end *src,
		       const struct pipeline_end *dst, bool egress, const struct flow *f,
		       bool tracked, struct stage_verdict *v);
void pipeline_nacl_stage(const struct lab *lab, const struct pipeline_end *src,
			 const struct pipeline_end *dst, bool egress, const struct flow *f,
			 struct stage_verdict *v);
/* Whether a route stage applies: one end outside (or an ENI of another
 * VPC, or an in-VPC address with no ENI). */
bool pipeline_needs_route(const struct lab *lab, const struct pipeline_end *src,
			  const struct pipeline_end *dst, const struct flow *f);
/* The route stage alone: for a NAT gateway, the route to it and its
 * subnet's route on, not the NACL crossings (pipeline_route_collect). */
void pipeline_route_stage(const struct lab *lab, const struct pipeline_end *src,
			  const struct pipeline_end *dst, const struct flow *f,
			  struct stage_verdict *v);
/* The route stage and the stages of the hops it leads through, appended to
 * out with pipeline's rule (after a REJECT the rest are not evaluated):
 * through a NAT gateway, its subnet's NACL inbound then outbound (no SG:
 * a NAT gateway has none). The crossings check destination ports
 * f->dport, or for a whole response (reply set) the NAT gateway's own
 * ports 1024-65535 where the far end sends to it and lo..hi (the client's
 * ephemeral range) where it sends on to the client. */
void pipeline_route_collect(const struct lab *lab, const struct pipeline_end *src,
			    const struct pipeline_end *dst, const struct flow *f, bool reply,
			    uint16_t lo, uint16_t hi, struct pipeline_result *out);
/* The subnet of the NAT gateway a route stage went through (REASON_ROUTE_NAT),
 * whose NACL the hop stages cross; else -1. */
int32_t pipeline_route_nat_subnet(const struct lab *lab, const struct stage_verdict *route);
/* Route reasons that carry only connections opened from inside the VPC
 * (gateway endpoint, egress-only internet gateway, NAT gateway): per
 * packet a reply, for a whole flow opened outside a REJECT. */
bool pipeline_route_outbound_only(enum pipeline_reason r);

/* DESIGN.md contract 4: a request from client to server and its response. */
struct pipeline_query {
	struct pipeline_end client, server;
	struct flow request;	 /* client -> server, in the client's address family */
	bool has_sport;		 /* request.sport is the client's port; else the range */
	uint16_t eph_lo, eph_hi; /* client's ephemeral ports; 32768-60999 */
	/* The client addresses the server by the public IP of request.dst
	 * (request.dst stays the private address): from an ENI that is a
	 * hairpin through the internet gateway (AWS-SEMANTICS §9). */
	bool via_public;
};

struct pipeline_check {
	enum pipeline_verdict verdict; /* ACCEPT only when both directions are */
	struct pipeline_result request;
	/* verdict SKIPPED, every stage SKIPPED with response_reason, when the
	 * request was rejected or no response is expected (ICMP non-echo). */
	struct pipeline_result response;
	enum pipeline_reason response_reason;
	bool has_response;
	struct flow reply;	     /* the response evaluated (dport: see reply_lo/hi) */
	uint16_t reply_lo, reply_hi; /* TCP/UDP: reply destination ports checked */
};

#define PIPELINE_EPHEMERAL_LO 32768
#define PIPELINE_EPHEMERAL_HI 60999
/* The ports a NAT gateway picks for the connections it translates: its
 * subnet's NACL must let replies to all of them in (AWS-SEMANTICS §2). */
#define PIPELINE_NAT_PORT_LO 1024
#define PIPELINE_NAT_PORT_HI 65535

void pipeline_query_init(struct pipeline_query *q);
void pipeline_check(const struct lab *lab, const struct pipeline_query *q,
		    struct pipeline_check *out);

/* "sg-egress", "nacl-egress", "route", "nacl-ingress", "sg-ingress". */
const char *pipeline_stage_name(enum pipeline_stage s);
/* "ACCEPT", "REJECT", "SKIPPED". */
const char *pipeline_verdict_name(enum pipeline_verdict v);
/* Short machine name of a reason ("rule", "tracked", "same-subnet", ...)
 * for counters and JSON consumers. */
const char *pipeline_reason_name(enum pipeline_reason r);
/* The human reason of one stage: the rule as text ("acl-1 rule 100: allow
 * tcp 22 from 0.0.0.0/0", "sg-0abc (app) ingress tcp 8080 from sg-0def
 * (alb)"), "no rule matched in sg-1, sg-2", "same subnet: NACLs do not
 * apply", "tracked", ... Returns buf. */
const char *pipeline_explain(const struct lab *lab, const struct stage_verdict *v,
			     const struct flow *f, char *buf, size_t len);

#endif
