/*
 * Readers for the describe-* kinds around the filtering model: internet
 * and NAT gateways, VPC endpoints, peering connections, transit gateways
 * and their VPC attachments (struct gateway), Elastic IPs, and the
 * services that own requester-managed ENIs (load balancers, RDS,
 * ElastiCache, OpenSearch). They are loaded faithfully so that path
 * evaluation can use them; what they change in today's model is small:
 * an Elastic IP gives its ENI a public address, a service names its ENIs.
 * Unknown VPCs and subnets are normal here (another account's side of a
 * peering, a partial export) and never an error.
 */
#include <stdio.h>
#include <string.h>

#include "load-private.h"
#include "load_build.h"

static void push_gateway(struct loader *l, const struct gateway *g)
{
	struct gateway *slot = vec_push(&l->gateways, sizeof(*slot));
	if (slot)
		*slot = *g;
}

/* A gateway of kind from o: false (nothing to add) without its id key.
 * Every kind carries its Name tag; the fields most kinds share, VpcId and
 * State, are read where o has them (an internet gateway keeps them per
 * attachment, a peering connection per side and in Status). */
static bool gw_begin(struct loader *l, const json_t *o, const char *path, enum gateway_kind kind,
		     const char *id_key, struct gateway *g)
{
	*g = (struct gateway){.kind = kind, .vpc = -1, .origin = ld_origin(l, path)};
	if (!j_str(l, o, id_key, path, true, &g->id))
		return false;
	g->name = j_name_tag(l, o, path);
	J_STRS(l, o, path, J_OPT("VpcId", &g->vpc_id), J_OPT("State", &g->state));
	return true;
}

/* The member key of each object of an array (Groups[].GroupId) as a list. */
static void id_list(struct loader *l, const json_t *o, const char *key, const char *member,
		    const char *path, const char ***out, size_t *n)
{
	const json_t *arr = json_object_get(o, key);
	*n = 0;
	*out = arena_calloc(l->a, json_array_size(arr) ? json_array_size(arr) : 1, sizeof(char *));
	if (!*out)
		return;
	EACH(l, o, key, path, i, it, ip)
	{
		const char *id = NULL;
		if (json_is_string(it) && !member)
			(*out)[(*n)++] = arena_strdup(l->a, json_string_value(it));
		else if (member && want_object(l, it, ip) && j_str(l, it, member, ip, true, &id))
			(*out)[(*n)++] = id;
		else if (!member)
			ld_err(l, ip, "expected a string, found %s", json_kind(it));
	}
}

/* An internet gateway attached to several VPCs is one gateway per VPC. */
void aws_igw(struct loader *l, const json_t *o, const char *path)
{
	struct gateway g;
	if (!gw_begin(l, o, path, GW_INTERNET, "InternetGatewayId", &g))
		return;
	size_t attached = 0;
	EACH(l, o, "Attachments", path, i, a, ap)
	{
		if (!want_object(l, a, ap) || !j_str(l, a, "VpcId", ap, true, &g.vpc_id))
			continue;
		j_str(l, a, "State", ap, false, &g.state);
		g.origin = ld_origin(l, ap);
		push_gateway(l, &g);
		attached++;
	}
	if (!attached) {
		g.vpc_id = NULL;
		push_gateway(l, &g); /* detached: kept, it routes nothing */
	}
}

void aws_nat(struct loader *l, const json_t *o, const char *path)
{
	struct gateway g;
	if (!gw_begin(l, o, path, GW_NAT, "NatGatewayId", &g))
		return;
	j_str(l, o, "ConnectivityType", path, false, &g.detail);
	g.subnet_ids = arena_calloc(l->a, 1, sizeof(char *));
	if (g.subnet_ids && j_str(l, o, "SubnetId", path, false, &g.subnet_ids[0]))
		g.n_subnet_ids = 1;
	const json_t *addrs = json_object_get(o, "NatGatewayAddresses");
	g.eni_ids =
	    arena_calloc(l->a, json_array_size(addrs) ? json_array_size(addrs) : 1, sizeof(char *));
	EACH(l, o, "NatGatewayAddresses", path, i, a, ap)
	{
		const char *s;
		if (!want_object(l, a, ap))
			continue;
		if (g.eni_ids && j_str(l, a, "NetworkInterfaceId", ap, false, &s))
			g.eni_ids[g.n_eni_ids++] = s;
		if (!g.has_private_ip && j_str(l, a, "PrivateIp", ap, false, &s))
			g.has_private_ip =
			    ld_addr(l, s, jp_key(l, ap, "PrivateIp"), IP_V4, &g.private_ip);
		if (!g.has_public_ip && j_str(l, a, "PublicIp", ap, false, &s))
			g.has_public_ip =
			    ld_addr(l, s, jp_key(l, ap, "PublicIp"), IP_V4, &g.public_ip);
	}
	push_gateway(l, &g);
}

void aws_endpoint(struct loader *l, const json_t *o, const char *path)
{
	struct gateway g;
	if (!gw_begin(l, o, path, GW_ENDPOINT, "VpcEndpointId", &g))
		return;
	const char *type = "Gateway", *service = "?";
	J_STRS(l, o, path, J_OPT("VpcEndpointType", &type), J_OPT("ServiceName", &service));
	g.detail = arena_printf(l->a, "%s %s", type, service);
	id_list(l, o, "SubnetIds", NULL, path, &g.subnet_ids, &g.n_subnet_ids);
	id_list(l, o, "NetworkInterfaceIds", NULL, path, &g.eni_ids, &g.n_eni_ids);
	id_list(l, o, "RouteTableIds", NULL, path, &g.route_table_ids, &g.n_route_table_ids);
	push_gateway(l, &g);
}

void aws_peering(struct loader *l, const json_t *o, const char *path)
{
	struct gateway g;
	if (!gw_begin(l, o, path, GW_PEERING, "VpcPeeringConnectionId", &g))
		return;
	const json_t *req = j_object(l, o, "RequesterVpcInfo", path, false);
	const json_t *acc = j_object(l, o, "AccepterVpcInfo", path, false);
	if (req)
		j_str(l, req, "VpcId", jp_key(l, path, "RequesterVpcInfo"), false, &g.vpc_id);
	if (acc)
		j_str(l, acc, "VpcId", jp_key(l, path, "AccepterVpcInfo"), false, &g.peer_vpc_id);
	const json_t *st = j_object(l, o, "Status", path, false);
	if (st)
		j_str(l, st, "Code", jp_key(l, path, "Status"), false, &g.state);
	push_gateway(l, &g);
}

void aws_transit(struct loader *l, const json_t *o, const char *path)
{
	struct gateway g;
	if (gw_begin(l, o, path, GW_TRANSIT, "TransitGatewayId", &g))
		push_gateway(l, &g);
}

void aws_transit_attach(struct loader *l, const json_t *o, const char *path)
{
	struct gateway g;
	if (!gw_begin(l, o, path, GW_TRANSIT_ATTACH, "TransitGatewayAttachmentId", &g))
		return;
	j_str(l, o, "TransitGatewayId", path, false, &g.transit_id);
	id_list(l, o, "SubnetIds", NULL, path, &g.subnet_ids, &g.n_subnet_ids);
	push_gateway(l, &g);
}

void aws_address(struct loader *l, const json_t *o, const char *path)
{
	struct elastic_ip e;
	memset(&e, 0, sizeof(e));
	e.origin = ld_origin(l, path);
	const char *s;
	j_str(l, o, "AllocationId", path, false, &e.allocation_id);
	if (!j_str(l, o, "PublicIp", path, true, &s) ||
	    !ld_addr(l, s, jp_key(l, path, "PublicIp"), IP_V4, &e.public_ip))
		return;
	j_str(l, o, "NetworkInterfaceId", path, false, &e.eni_id);
	if (j_str(l, o, "PrivateIpAddress", path, false, &s))
		e.has_private_ip =
		    ld_addr(l, s, jp_key(l, path, "PrivateIpAddress"), IP_V4, &e.private_ip);
	struct elastic_ip *slot = vec_push(&l->eips, sizeof(*slot));
	if (slot)
		*slot = e;
}

static void push_service(struct loader *l, const struct service *s)
{
	struct service *slot = vec_push(&l->services, sizeof(*slot));
	if (slot)
		*slot = *s;
}

/* A service of kind named by o's name_key: false without it. */
static bool svc_begin(struct loader *l, const json_t *o, const char *path, const char *kind,
		      const char *name_key, struct service *s)
{
	*s = (struct service){.kind = kind, .origin = ld_origin(l, path)};
	return j_str(l, o, name_key, path, true, &s->name);
}

/* describe-load-balancers of elbv2 (AvailabilityZones[].SubnetId,
 * SecurityGroups) and of the classic ELB API (Subnets, SecurityGroups). */
void aws_elb(struct loader *l, const json_t *o, const char *path)
{
	struct service s;
	if (!svc_begin(l, o, path, "load-balancer", "LoadBalancerName", &s))
		return;
	j_str(l, o, "VpcId", path, false, &s.vpc_id);
	if (!s.vpc_id)
		j_str(l, o, "VPCId", path, false, &s.vpc_id);
	id_list(l, o, "SecurityGroups", NULL, path, &s.group_ids, &s.n_group_ids);
	if (json_object_get(o, "AvailabilityZones") &&
	    json_is_object(json_array_get(json_object_get(o, "AvailabilityZones"), 0)))
		id_list(l, o, "AvailabilityZones", "SubnetId", path, &s.subnet_ids,
			&s.n_subnet_ids);
	else
		id_list(l, o, "Subnets", NULL, path, &s.subnet_ids, &s.n_subnet_ids);
	push_service(l, &s);
}

/* The VPC and subnets a service keeps in a sub-object of o (RDS's
 * DBSubnetGroup, OpenSearch's VPCOptions): that object, or NULL without
 * it, with *sub_path its JSON path. */
static const json_t *svc_network(struct loader *l, const json_t *o, const char *path,
				 const char *key, const char *vpc_key, const char *subnets_key,
				 const char *subnet_member, struct service *s,
				 const char **sub_path)
{
	const json_t *net = j_object(l, o, key, path, false);
	if (!net)
		return NULL;
	*sub_path = jp_key(l, path, key);
	j_str(l, net, vpc_key, *sub_path, false, &s->vpc_id);
	id_list(l, net, subnets_key, subnet_member, *sub_path, &s->subnet_ids, &s->n_subnet_ids);
	return net;
}

void aws_db_instance(struct loader *l, const json_t *o, const char *path)
{
	struct service s;
	const char *sp;
	if (!svc_begin(l, o, path, "rds", "DBInstanceIdentifier", &s))
		return;
	id_list(l, o, "VpcSecurityGroups", "VpcSecurityGroupId", path, &s.group_ids,
		&s.n_group_ids);
	svc_network(l, o, path, "DBSubnetGroup", "VpcId", "Subnets", "SubnetIdentifier", &s, &sp);
	push_service(l, &s);
}

void aws_cache_cluster(struct loader *l, const json_t *o, const char *path)
{
	struct service s;
	if (!svc_begin(l, o, path, "elasticache", "CacheClusterId", &s))
		return;
	id_list(l, o, "SecurityGroups", "SecurityGroupId", path, &s.group_ids, &s.n_group_ids);
	push_service(l, &s);
}

/* OpenSearch keeps its security groups beside its subnets. */
void aws_search_domain(struct loader *l, const json_t *o, const char *path)
{
	struct service s;
	const char *vp;
	if (!svc_begin(l, o, path, "opensearch", "DomainName", &s))
		return;
	const json_t *vo =
	    svc_network(l, o, path, "VPCOptions", "VPCId", "SubnetIds", NULL, &s, &vp);
	if (vo)
		id_list(l, vo, "SecurityGroupIds", NULL, vp, &s.group_ids, &s.n_group_ids);
	push_service(l, &s);
}

static int32_t eni_by_id(const struct lab *lab, const char *id)
{
	for (size_t i = 0; id && i < lab->n_enis; i++)
		if (!strcmp(lab->enis[i].id, id))
			return (int32_t)i;
	return -1;
}

/* An Elastic IP belongs to one private address of its ENI (AWS-SEMANTICS
 * §9): the primary's becomes the ENI's public IP, a secondary's is mapped
 * to that secondary address alone. */
static void attach_eips(struct loader *l, struct lab *lab)
{
	for (size_t i = 0; i < lab->n_eips; i++) {
		const struct elastic_ip *e = &lab->eips[i];
		int32_t k = eni_by_id(lab, e->eni_id);
		if (k < 0)
			continue;
		struct eni *n = &lab->enis[k];
		const struct ip_addr *priv = NULL;
		for (size_t a = 0; a < n->n_ipv4 && !priv; a++)
			if (!e->has_private_ip || ip_addr_eq(&n->ipv4[a], &e->private_ip))
				priv = &n->ipv4[a];
		const struct ip_addr *have = priv ? eni_public_of(n, priv) : NULL;
		if (!priv || (have && !ip_addr_eq(have, &e->public_ip))) {
			char pub[IP_ADDR_STRLEN];
			ld_warn_at(l, &e->origin, NULL,
				   "Elastic IP %s of ENI %s: %s; it is not mapped",
				   ip_addr_format(&e->public_ip, pub, sizeof(pub)), n->id,
				   !priv ? "its private address is not one of the ENI's"
					 : "that private address has another public IP");
			continue;
		}
		ld_eni_public(l, n, priv, &e->public_ip);
	}
}

/* "ELB app/NAME/…", "ELB net/NAME/…", "ELB NAME": the description AWS
 * gives a load balancer's ENIs. */
static bool lb_owns(const struct service *s, const struct eni *e)
{
	const char *d = e->description;
	if (strcmp(s->kind, "load-balancer") || !d || strncmp(d, "ELB ", 4))
		return false;
	d += 4;
	if (!strncmp(d, "app/", 4) || !strncmp(d, "net/", 4) || !strncmp(d, "gwy/", 4))
		d += 4;
	size_t n = strlen(s->name);
	return !strncmp(d, s->name, n) && (d[n] == '/' || d[n] == '\0');
}

void ld_attach_gateways(struct loader *l, struct lab *lab)
{
	for (size_t i = 0; i < lab->n_gateways; i++)
		lab->gateways[i].vpc =
		    lab->gateways[i].vpc_id ? lab_find_vpc(lab, lab->gateways[i].vpc_id) : -1;
	for (size_t i = 0; i < lab->n_enis; i++) {
		lab->enis[i].service = -1;
		for (size_t s = 0; s < lab->n_services; s++)
			if (lb_owns(&lab->services[s], &lab->enis[i]))
				lab->enis[i].service = (int32_t)s;
	}
	attach_eips(l, lab);
}
