/*
 * The lab model: a VPC (or several) with its subnets, ENIs, security groups,
 * network ACLs, managed prefix lists, route tables and outside hosts, as one
 * immutable snapshot. Loaders build it (rules/load.h); evaluation, the
 * daemon and the CLI only read it. Cross references are resolved by the
 * loader into indices (int32_t, -1 = none) so nothing on the packet path
 * compares strings. Everything lives in lab->arena.
 */
#ifndef VPCFW_MODEL_H
#define VPCFW_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct arena;

/* Protocol "-1" in AWS: every IP protocol, ports and ICMP types ignored. */
#define PROTO_ALL (-1)
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

/* The implicit final "*" rules, reported under the numbers
 * describe-network-acls prints for them (AWS-SEMANTICS §2). */
#define NACL_RULE_STAR_V4 32767
#define NACL_RULE_STAR_V6 32768
#define NACL_RULE_MAX 32766

/* Where a model element came from, for explanations and error messages. */
struct origin {
	const char *file;
	const char *path; /* JSON path inside file; for Terraform, the attribute's address */
	/* Terraform: the address of the resource that wrote it
	 * ("module.app.aws_security_group.web"), else NULL */
	const char *resource;
};

struct nacl_entry {
	uint32_t rule_number; /* 1..32766; the implicit * rules are not stored */
	bool egress;
	bool allow;
	int16_t protocol; /* PROTO_ALL or 0..255 */
	struct ip_prefix cidr; /* source on ingress, destination on egress */
	uint16_t port_from, port_to; /* TCP/UDP destination port; 0..65535 if absent */
	int16_t icmp_type, icmp_code; /* ICMP/ICMPv6; -1 = any */
	struct origin origin;
};

struct nacl {
	const char *id;
	const char *vpc_id;
	const char *name; /* Name tag or NULL */
	int32_t vpc;
	bool is_default;
	/* Each list sorted by rule number, numbers unique within a list. */
	struct nacl_entry *ingress;
	size_t n_ingress;
	struct nacl_entry *egress;
	size_t n_egress;
	struct origin origin;
};

enum sg_peer_kind { SG_PEER_CIDR, SG_PEER_PREFIX_LIST, SG_PEER_GROUP };

/* One peer of one IpPermission: AWS's "security group rule". */
struct sg_rule {
	bool egress;
	int16_t protocol; /* PROTO_ALL or 0..255 */
	/* TCP/UDP: port range. ICMP/ICMPv6: from = type, to = code, -1 = any.
	 * Other protocols and PROTO_ALL: ignored (-1/-1 in exports). */
	int32_t from_port, to_port;
	enum sg_peer_kind peer_kind;
	struct ip_prefix cidr; /* SG_PEER_CIDR */
	const char *peer_id; /* pl-… or sg-… for the other kinds */
	int32_t peer; /* index into lab->prefix_lists or lab->groups */
	const char *description;
	struct origin origin;
};

struct security_group {
	const char *id;
	const char *name; /* GroupName */
	const char *vpc_id;
	const char *description;
	int32_t vpc;
	struct sg_rule *rules; /* ingress and egress mixed, in file order */
	size_t n_rules;
	/* Private addresses of every ENI carrying this group, filled by the
	 * loader for group references (AWS-SEMANTICS §3). IPv6 addresses are
	 * included only when lab->opts.sg_ref_includes_ipv6. */
	struct ip_addr *members;
	size_t n_members;
	struct origin origin;
};

struct prefix_list {
	const char *id;
	const char *name;
	uint8_t family; /* IP_V4 or IP_V6 */
	uint32_t max_entries;
	struct ip_prefix *cidrs;
	size_t n_cidrs;
	struct origin origin;
};

/* What a route sends to, classified once when the lab is loaded
 * (route_kind()), never again per packet. */
enum route_target {
	ROUTE_LOCAL,	/* "local": the VPC's own blocks */
	ROUTE_IGW,	/* igw-: internet gateway */
	ROUTE_NAT,	/* nat-: NAT gateway */
	ROUTE_EIGW,	/* eigw-: egress-only internet gateway (IPv6) */
	ROUTE_ENDPOINT, /* vpce-: gateway endpoint, or a Gateway Load Balancer endpoint */
	ROUTE_PEERING,	/* pcx-: VPC peering connection */
	ROUTE_TGW,	/* tgw-: transit gateway */
	ROUTE_VGW,	/* vgw-: virtual private gateway (VPN, Direct Connect) */
	ROUTE_ENI,	/* eni- or i-: a network interface or instance (appliance) */
	ROUTE_OTHER	/* local/carrier gateways, core networks, anything else */
};

struct route {
	struct ip_prefix dest;
	enum route_target kind;
	const char *target; /* "local", "igw-…", "nat-…", or another id */
	/* "State": "blackhole": the target is gone; the route still wins the
	 * longest prefix match and drops what it matches (AWS-SEMANTICS §9). */
	bool blackhole;
};

struct route_table {
	const char *id;
	const char *vpc_id;
	int32_t vpc;
	bool main;
	struct route *routes;
	size_t n_routes;
	struct origin origin;
};

struct vpc {
	const char *id;
	const char *name;
	struct ip_prefix *cidrs; /* IPv4 blocks, primary first */
	size_t n_cidrs;
	struct ip_prefix *cidrs6;
	size_t n_cidrs6;
	int32_t default_nacl; /* the NACL of unassociated subnets */
	int32_t main_route_table; /* -1 when the lab has none */
	struct origin origin;
};

struct subnet {
	const char *id;
	const char *vpc_id;
	const char *name;
	const char *az;
	int32_t vpc;
	struct ip_prefix cidr; /* IPv4 */
	bool has_cidr6;
	struct ip_prefix cidr6;
	int32_t nacl; /* explicit association, else the VPC's default NACL */
	int32_t route_table; /* explicit association, else the main table, or -1 */
	struct origin origin;
};

/* Idle timeouts in seconds (AWS-SEMANTICS §4). */
struct ct_timeouts {
	uint32_t tcp_established; /* 432000 */
	uint32_t tcp_transient; /* not yet established or closing: unverified */
	uint32_t udp_stream; /* 180 */
	uint32_t udp; /* 30 */
	uint32_t icmp; /* unverified */
	uint32_t other; /* 600 */
};

/* A public IPv4 and the private address the internet gateway maps it to. */
struct eni_public {
	struct ip_addr priv, pub;
};

struct eni {
	const char *id;
	const char *instance_id; /* NULL when not attached */
	const char *name; /* Name tag of the ENI, else of its instance, or NULL */
	const char *instance_name; /* Name tag of its instance, or NULL */
	const char *description;
	int32_t device_index; /* attachment device index, -1 if unknown */
	int32_t subnet;
	struct ip_addr *ipv4; /* private IPv4 addresses, primary first */
	size_t n_ipv4;
	struct ip_addr *ipv6;
	size_t n_ipv6;
	bool has_public_ip;
	struct ip_addr public_ip; /* public or Elastic IP of the primary address ipv4[0] */
	/* Public or Elastic IPs of secondary private addresses: an Elastic IP
	 * belongs to one private address, not to the ENI (AWS-SEMANTICS §9).
	 * Use eni_public_of() rather than these fields. */
	struct eni_public *publics;
	size_t n_publics;
	int32_t *groups; /* indices into lab->groups, 1..16 of them */
	size_t n_groups;
	struct ct_timeouts timeouts;
	uint32_t ct_allowance; /* tracked connections this ENI may hold */
	/* The Terraform resource address that made it ("aws_instance.web",
	 * "module.app.aws_instance.this[0]"), a name on the command line too;
	 * NULL for other inputs. */
	const char *address;
	/* The service owning a requester-managed ENI (a load balancer, RDS,
	 * ElastiCache or OpenSearch): index into lab->services, or -1. */
	int32_t service;
	/* Owned by another host's vpcfwd (a lab split across hosts,
	 * docs/scale-out.md): no namespace here, and its own stages run on
	 * its host. Only lab_own (rules/own.h) sets it. */
	bool remote;
	struct origin origin;
};

/* A host outside every VPC (the internet, a corporate network), declared
 * by the lab; documentation ranges in examples (RFC 5737). */
struct outside_host {
	const char *name;
	struct ip_addr addr;
	bool remote; /* built by another host's vpcfwd (lab_own) */
	struct origin origin;
};

/* What carries traffic past a subnet: loaded faithfully from describe-*
 * output and Terraform so path evaluation can use them; nothing on the
 * packet path reads these yet except through route targets. */
enum gateway_kind {
	GW_INTERNET,	   /* igw-: describe-internet-gateways, attached VPC */
	GW_NAT,		   /* nat-: subnet, ENI, private and public address */
	GW_ENDPOINT,	   /* vpce-: Gateway (route tables) or Interface (ENIs) */
	GW_PEERING,	   /* pcx-: requester vpc_id, accepter peer_vpc_id */
	GW_TRANSIT,	   /* tgw- */
	GW_TRANSIT_ATTACH, /* tgw-attach-: vpc_id, transit_id, subnets */
	GW_TRANSIT_ROUTES, /* tgw-rtb-: a transit gateway route table */
};

/* A route of a transit gateway route table: static (or, as
 * search-transit-gateway-routes lists them, propagated) to one
 * attachment, or a blackhole. Routes a propagation adds are not stored:
 * the route stage reads them off the propagating attachment's VPC. */
struct tgw_route {
	struct ip_prefix dest;
	const char *attachment; /* tgw-attach-…; NULL for a blackhole */
	bool blackhole;
	bool propagated; /* loses to a static route of the same prefix */
};

struct gateway {
	enum gateway_kind kind;
	const char *id;
	const char *name;	 /* Name tag or NULL */
	const char *vpc_id;	 /* NULL for a transit gateway */
	int32_t vpc;		 /* -1 when that VPC is not in the lab (another account) */
	const char *peer_vpc_id; /* GW_PEERING: the accepter's VPC */
	const char *transit_id;	 /* GW_TRANSIT_ATTACH: its transit gateway */
	const char *state;	 /* "available", "active", "pending-acceptance", ... */
	const char *detail;	 /* endpoint: type and service name; NAT: connectivity */
	const char **subnet_ids; /* NAT: one; interface endpoints, attachments */
	size_t n_subnet_ids;
	const char **eni_ids; /* NAT, interface endpoint */
	size_t n_eni_ids;
	const char **route_table_ids; /* gateway endpoint */
	size_t n_route_table_ids;
	bool has_private_ip, has_public_ip;
	struct ip_addr private_ip, public_ip; /* NAT */
	struct origin origin;
	/* GW_TRANSIT_ROUTES (transit_id its gateway; a GW_TRANSIT_ATTACH
	 * names the table it is associated with as its route_table_ids[0],
	 * and its resource type, "vpc" when absent, as detail) */
	struct tgw_route *tgw_routes;
	size_t n_tgw_routes;
	const char **propagations; /* attachments whose VPC blocks it learns */
	size_t n_propagations;
};

/* An Elastic IP (describe-addresses): mapped 1:1 to a private address. */
struct elastic_ip {
	const char *allocation_id;
	struct ip_addr public_ip;
	const char *eni_id; /* NULL when unassociated */
	bool has_private_ip;
	struct ip_addr private_ip;
	struct origin origin;
};

/* A service owning requester-managed ENIs, with the groups and subnets it
 * puts them in: describe-load-balancers, describe-db-instances,
 * ElastiCache and OpenSearch domains, Terraform load balancers, Lambda
 * vpc_config, launch configurations. */
struct service {
	const char *kind; /* "load-balancer", "rds", "elasticache", "opensearch", ... */
	const char *name;
	const char *vpc_id;
	const char **subnet_ids;
	size_t n_subnet_ids;
	const char **group_ids;
	size_t n_group_ids;
	struct origin origin;
};

/* AWS behaviours the documentation leaves open (marked unverified in
 * AWS-SEMANTICS): configurable per lab, defaults as documented there. */
struct lab_options {
	bool sg_ref_includes_ipv6; /* §3, default true */
	bool sg_filters_link_local; /* §1 metadata/time sync through SGs, default false */
	uint32_t mtu; /* 9001 */
	struct ct_timeouts default_timeouts;
	uint32_t default_ct_allowance;
	uint32_t nat_idle_s;	   /* NAT gateways' idle timeout, any protocol: 350 */
	uint32_t nat_max_mappings; /* all NAT gateways' translations: 65536 */
};

struct lab_addr_index;
struct sg_tables;
struct load_balancer; /* rules/nlb.h */

struct lab {
	struct arena *arena;
	const char *name; /* short name, used in namespace names */
	const char *source; /* the path it was loaded from */
	struct lab_options opts;
	struct vpc *vpcs;
	size_t n_vpcs;
	struct subnet *subnets;
	size_t n_subnets;
	struct eni *enis;
	size_t n_enis;
	struct security_group *groups;
	size_t n_groups;
	struct nacl *nacls;
	size_t n_nacls;
	struct prefix_list *prefix_lists;
	size_t n_prefix_lists;
	struct route_table *route_tables;
	size_t n_route_tables;
	struct outside_host *outside;
	size_t n_outside;
	struct gateway *gateways;
	size_t n_gateways;
	struct elastic_ip *eips;
	size_t n_eips;
	struct service *services;
	size_t n_services;
	/* Network Load Balancers with their nodes, listeners and targets */
	struct load_balancer *load_balancers;
	size_t n_load_balancers;
	/* Addresses sorted at load (model_index.c); NULL: scanned. */
	const struct lab_addr_index *addr_index;
	/* Compiled SG tables (sgtable.h), in the arena; NULL: rules scanned. */
	const struct sg_tables *sg_tables;
};

/* Index lookups by id; -1 when absent. */
int32_t lab_find_vpc(const struct lab *lab, const char *id);
int32_t lab_find_subnet(const struct lab *lab, const char *id);
int32_t lab_find_group(const struct lab *lab, const char *id);
int32_t lab_find_nacl(const struct lab *lab, const char *id);
int32_t lab_find_prefix_list(const struct lab *lab, const char *id);

/* Sorts the lab's private and public addresses for the lookups below
 * (in the lab's arena); the lab must not change afterwards. 0 or -1. */
int lab_index_addresses(struct lab *lab);
/* The index's answers (model_index.c); false when the lab has none. */
bool lab_index_eni_by_addr(const struct lab *lab, const struct ip_addr *a, int32_t *eni);
bool lab_index_private_of_public(const struct lab *lab, const struct ip_addr *pub,
				 struct ip_addr *priv, int32_t *eni);

/* Whether a is one of e's private addresses (IPv4 or IPv6). */
bool eni_has_addr(const struct eni *e, const struct ip_addr *a);
/* The ENI owning a private address (IPv4 or IPv6), or -1. */
int32_t lab_eni_by_addr(const struct lab *lab, const struct ip_addr *a);
/* The ENI whose public IP this is, or -1. */
int32_t lab_eni_by_public_ip(const struct lab *lab, const struct ip_addr *a);
/* The same, and the private address it maps to 1:1 (*priv, when >= 0). */
int32_t lab_private_of_public(const struct lab *lab, const struct ip_addr *pub,
			      struct ip_addr *priv);
/* The public IPv4 of e's private address priv, or NULL (AWS-SEMANTICS §9:
 * a secondary address without one of its own has none). */
const struct ip_addr *eni_public_of(const struct eni *e, const struct ip_addr *priv);
/* The subnet whose IPv4 or IPv6 CIDR contains a, or -1. */
int32_t lab_subnet_by_addr(const struct lab *lab, const struct ip_addr *a);
/* Whether a lies inside any CIDR block of any VPC of the lab. */
bool lab_addr_in_vpc(const struct lab *lab, const struct ip_addr *a);

/* DESIGN.md contract 3: an endpoint named by instance id (its ENI at device
 * index 0), ENI id, Name tag (of the ENI or its instance), Terraform
 * resource address (eni.address) or IP address. */
enum endpoint_kind { ENDPOINT_ENI, ENDPOINT_OUTSIDE };
struct endpoint {
	enum endpoint_kind kind;
	int32_t eni; /* ENDPOINT_ENI */
	int32_t outside; /* index into lab->outside when a declared host, else -1 */
	struct ip_addr addr; /* the address used; see lab_endpoint_addr */
	bool in_vpc_cidr; /* an outside address inside a VPC CIDR (warn) */
};

/* Resolves a name. 0, or -ENOENT when it is neither a known name nor an
 * IP address; -EEXIST when a Name tag is ambiguous. */
int lab_resolve_endpoint(const struct lab *lab, const char *name, struct endpoint *out);

/* Picks the address an ENI endpoint uses for a flow of family f: its primary
 * private IPv4, or its first IPv6. -EAFNOSUPPORT when it has none. */
int lab_endpoint_addr(const struct lab *lab, struct endpoint *ep, enum ip_family f);

/* A printable name for an ENI: Name tag, else Terraform resource address,
 * else instance id, else ENI id. */
const char *lab_eni_label(const struct lab *lab, int32_t eni);
/* A name that resolves back to the ENI (contract 3): its label when that
 * is unambiguous, else its ENI id. For files other commands read back. */
const char *lab_eni_ref(const struct lab *lab, int32_t eni);
/* Whether the ENI carries group g (an index into lab->groups). */
bool lab_eni_has_group(const struct eni *e, int32_t g);
/* Whether two ENIs (of two labs: a reload) hold the same private
 * addresses, in the same order. */
bool lab_eni_same_addrs(const struct eni *a, const struct eni *b);

/* The kind of a route target id ("local", "igw-…", "nat-…", "pcx-…", ...). */
enum route_target route_kind(const char *target);

#endif
