/*
 * The loader on collector folders (rules/load.c, load_aws_gw.c,
 * load_partial.c): the describe-* kinds around the filtering model load
 * into lab->gateways, eips and services; kinds vpcfw does not model are
 * named once as skipped; SDK recordings are unwrapped; pages and accounts
 * merge; directories are read recursively and A,B lists merge. Every
 * diagnostic is checked exactly (file, JSON path, message).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "load.h"
#include "loadkit.h"

#define BASE                                                                                       \
	"'Vpcs':[{'VpcId':'vpc-1','CidrBlock':'10.0.0.0/16'}],"                                    \
	"'Subnets':[{'SubnetId':'subnet-a','VpcId':'vpc-1','CidrBlock':'10.0.1.0/24'}],"           \
	"'SecurityGroups':[{'GroupId':'sg-1','VpcId':'vpc-1'}],"                                   \
	"'NetworkAcls':[{'NetworkAclId':'acl-1','VpcId':'vpc-1','IsDefault':true,'Entries':[]}]"

static const struct gateway *gw(const struct lab *lab, const char *id)
{
	for (size_t i = 0; i < lab->n_gateways; i++)
		if (!strcmp(lab->gateways[i].id, id))
			return &lab->gateways[i];
	return NULL;
}

static void test_gateways(void **state)
{
	(void)state;
	struct result res;
	load_as(
	    &res, "t.json",
	    "{" BASE ",'InternetGateways':[{'InternetGatewayId':'igw-1','Attachments':"
	    "[{'State':'available','VpcId':'vpc-1'}],'Tags':[{'Key':'Name','Value':'edge'}]}],"
	    "'NatGateways':[{'NatGatewayId':'nat-1','VpcId':'vpc-1','SubnetId':'subnet-a',"
	    "'State':'available','NatGatewayAddresses':[{'NetworkInterfaceId':'eni-n',"
	    "'PrivateIp':'10.0.1.50','PublicIp':'198.51.100.9'}]}],"
	    "'VpcEndpoints':[{'VpcEndpointId':'vpce-1','VpcId':'vpc-1','VpcEndpointType':"
	    "'Gateway','ServiceName':'com.amazonaws.us-east-1.s3','RouteTableIds':['rtb-1'],"
	    "'SubnetIds':[],'NetworkInterfaceIds':[]}],"
	    "'VpcPeeringConnections':[{'VpcPeeringConnectionId':'pcx-1','RequesterVpcInfo':"
	    "{'VpcId':'vpc-1'},'AccepterVpcInfo':{'VpcId':'vpc-9'},'Status':{'Code':'active'}}],"
	    "'TransitGateways':[{'TransitGatewayId':'tgw-1','State':'available'}],"
	    "'TransitGatewayVpcAttachments':[{'TransitGatewayAttachmentId':'tgw-attach-1',"
	    "'TransitGatewayId':'tgw-1','VpcId':'vpc-1','SubnetIds':['subnet-a']}]}",
	    false);
	expect_ok(&res);
	assert_int_equal(res.lab->n_gateways, 6);
	const struct gateway *g = gw(res.lab, "igw-1");
	assert_int_equal(g->kind, GW_INTERNET);
	assert_string_equal(g->name, "edge");
	assert_int_equal(g->vpc, 0);
	g = gw(res.lab, "nat-1");
	assert_int_equal(g->kind, GW_NAT);
	assert_true(g->has_public_ip && g->has_private_ip);
	assert_string_equal(g->eni_ids[0], "eni-n");
	assert_string_equal(g->subnet_ids[0], "subnet-a");
	g = gw(res.lab, "vpce-1");
	assert_string_equal(g->detail, "Gateway com.amazonaws.us-east-1.s3");
	assert_string_equal(g->route_table_ids[0], "rtb-1");
	g = gw(res.lab, "pcx-1");
	assert_string_equal(g->peer_vpc_id, "vpc-9"); /* another account: fine */
	assert_string_equal(g->state, "active");
	g = gw(res.lab, "tgw-attach-1");
	assert_string_equal(g->transit_id, "tgw-1");
	assert_int_equal(g->n_subnet_ids, 1);
	done(&res);

	one_error("{'InternetGateways':[{'Attachments':[]}]}",
		  "InternetGateways[0].InternetGatewayId", "required key is missing");
	one_error("{" BASE ",'NatGateways':[{'NatGatewayId':'nat-1','NatGatewayAddresses':"
		  "[{'PublicIp':'300.1.1.1'}]}]}",
		  "NatGateways[0].NatGatewayAddresses[0].PublicIp",
		  "'300.1.1.1' is not an IPv4 address");
	one_error("{'VpcEndpoints':[{'VpcEndpointId':'vpce-1','SubnetIds':[7]}]}",
		  "VpcEndpoints[0].SubnetIds[0]", "expected a string, found an integer");
}

static void test_addresses(void **state)
{
	(void)state;
	struct result res;
	load_as(&res, "t.json",
		"{" BASE ",'NetworkInterfaces':[{'NetworkInterfaceId':'eni-1','SubnetId':"
		"'subnet-a','PrivateIpAddress':'10.0.1.10','Groups':[{'GroupId':'sg-1'}]}],"
		"'Addresses':[{'AllocationId':'eipalloc-1','PublicIp':'198.51.100.7',"
		"'NetworkInterfaceId':'eni-1','PrivateIpAddress':'10.0.1.10'},"
		"{'AllocationId':'eipalloc-2','PublicIp':'198.51.100.8'}]}",
		false);
	expect_ok(&res);
	assert_int_equal(res.lab->n_eips, 2);
	assert_true(res.lab->enis[0].has_public_ip);
	char buf[IP_ADDR_STRLEN];
	assert_string_equal(ip_addr_format(&res.lab->enis[0].public_ip, buf, sizeof(buf)),
			    "198.51.100.7");
	done(&res);
	/* an EIP of a secondary address belongs to that address alone
	 * (AWS-SEMANTICS §9): the primary keeps none */
	load_as(&res, "t.json",
		"{" BASE ",'NetworkInterfaces':[{'NetworkInterfaceId':'eni-1','SubnetId':"
		"'subnet-a','PrivateIpAddress':'10.0.1.10','PrivateIpAddresses':["
		"{'PrivateIpAddress':'10.0.1.10','Primary':true},{'PrivateIpAddress':"
		"'10.0.1.11'}],'Groups':[{'GroupId':'sg-1'}]}],'Addresses':[{'PublicIp':"
		"'198.51.100.7','NetworkInterfaceId':'eni-1','PrivateIpAddress':'10.0.1.11'}]}",
		false);
	expect_ok(&res);
	const struct eni *e = &res.lab->enis[0];
	assert_null(eni_public_of(e, &e->ipv4[0]));
	assert_non_null(eni_public_of(e, &e->ipv4[1]));
	assert_string_equal(ip_addr_format(eni_public_of(e, &e->ipv4[1]), buf, sizeof(buf)),
			    "198.51.100.7");
	done(&res);
	/* an EIP naming an address the ENI does not have maps nothing */
	one_warning("{" BASE ",'NetworkInterfaces':[{'NetworkInterfaceId':'eni-1','SubnetId':"
		    "'subnet-a','PrivateIpAddress':'10.0.1.10','Groups':[{'GroupId':'sg-1'}]}],"
		    "'Addresses':[{'PublicIp':'198.51.100.7','NetworkInterfaceId':'eni-1',"
		    "'PrivateIpAddress':'10.0.1.12'}]}",
		    "Addresses[0]",
		    "Elastic IP 198.51.100.7 of ENI eni-1: its private address is not one of the "
		    "ENI's; it is not mapped");
	one_error("{'Addresses':[{'AllocationId':'eipalloc-1'}]}", "Addresses[0].PublicIp",
		  "required key is missing");
}

static void test_services(void **state)
{
	(void)state;
	struct result res;
	load_as(&res, "t.json",
		"{" BASE ",'NetworkInterfaces':[{'NetworkInterfaceId':'eni-1','SubnetId':"
		"'subnet-a','PrivateIpAddress':'10.0.1.10','Description':'ELB app/web/0123abcd',"
		"'InterfaceType':'interface','Groups':[{'GroupId':'sg-1'}]}],"
		"'LoadBalancers':[{'LoadBalancerName':'web','VpcId':'vpc-1','SecurityGroups':"
		"['sg-1'],'AvailabilityZones':[{'SubnetId':'subnet-a','ZoneName':'us-east-1a'}]}],"
		"'DBInstances':[{'DBInstanceIdentifier':'db','VpcSecurityGroups':[{"
		"'VpcSecurityGroupId':'sg-1'}],'DBSubnetGroup':{'VpcId':'vpc-1','Subnets':[{"
		"'SubnetIdentifier':'subnet-a'}]}}],"
		"'CacheClusters':[{'CacheClusterId':'c1','SecurityGroups':[{'SecurityGroupId':"
		"'sg-1'}]}],"
		"'DomainStatusList':[{'DomainName':'es','VPCOptions':{'VPCId':'vpc-1','SubnetIds':"
		"['subnet-a'],'SecurityGroupIds':['sg-1']}}]}",
		false);
	expect_ok(&res);
	assert_int_equal(res.lab->n_services, 4);
	assert_string_equal(res.lab->services[0].kind, "load-balancer");
	assert_string_equal(res.lab->services[0].subnet_ids[0], "subnet-a");
	assert_string_equal(res.lab->services[1].kind, "rds");
	assert_string_equal(res.lab->services[1].group_ids[0], "sg-1");
	assert_string_equal(res.lab->services[2].kind, "elasticache");
	assert_string_equal(res.lab->services[3].kind, "opensearch");
	assert_int_equal(res.lab->enis[0].service, 0); /* the ELB's own interface */
	done(&res);
	one_error("{'DBInstances':[{'DBSubnetGroup':{}}]}", "DBInstances[0].DBInstanceIdentifier",
		  "required key is missing");
}

static void test_prefix_list_cidrs(void **state)
{
	(void)state;
	struct result res;
	load_as(&res, "t.json",
		"{'PrefixLists':[{'PrefixListId':'pl-63a5400a','PrefixListName':"
		"'com.amazonaws.us-east-1.s3','Cidrs':['54.231.0.0/17','52.216.0.0/15']}]}",
		false);
	expect_ok(&res);
	assert_int_equal(res.d.n_warnings, 0); /* not "has no entries" */
	assert_int_equal(res.lab->prefix_lists[0].n_cidrs, 2);
	assert_int_equal(res.lab->prefix_lists[0].family, IP_V4);
	done(&res);
	one_error("{'PrefixLists':[{'PrefixListId':'pl-1','Cidrs':[5]}]}",
		  "PrefixLists[0].Cidrs[0]", "expected a CIDR string, found an integer");
	one_error("{'PrefixLists':[{'PrefixListId':'pl-1','Cidrs':['1.2.3.0/40']}]}",
		  "PrefixLists[0].Cidrs[0]", "'1.2.3.0/40' is not a CIDR block");
}

static void test_skipped_and_recordings(void **state)
{
	(void)state;
	const char *names[] = {"a/AvailabilityZones.json", "b/AvailabilityZones.json",
			       "c/ec2.DescribeVpcs_1.json", "c/Vpn.json"};
	const char *docs[] = {
	    "{'AvailabilityZones':[{'ZoneName':'us-east-1a'}]}",
	    "{'AvailabilityZones':[{'ZoneName':'us-east-1b'}]}",
	    "{'status_code':200,'data':{'Vpcs':[{'VpcId':'vpc-1','CidrBlock':'10.0.0.0/16'}],"
	    "'ResponseMetadata':{'RequestId':'x'}}}",
	    "{'VpnConnections':[]}",
	};
	struct result res;
	load_many(&res, 4, names, docs);
	expect_ok(&res);
	assert_int_equal(res.lab->n_vpcs, 1);
	assert_true(has(&res.d, DIAG_WARNING, "a/AvailabilityZones.json", "AvailabilityZones",
			"skipped: vpcfw does not model availability zones"));
	/* once per lab; an empty list says nothing */
	assert_int_equal(res.d.n_warnings, 3); /* + the VPC without NACLs, without route tables */
	done(&res);
}

/* Pages of one kind (NextToken) and accounts of one collector merge. */
static void test_pages_and_accounts(void **state)
{
	(void)state;
	const char *names[] = {"acct1/Subnets.json", "acct1/Subnets-2.json", "acct2/Vpcs.json",
			       "acct2/SecurityGroups.json", "acct1/SecurityGroups.json"};
	const char *docs[] = {
	    "{'Subnets':[{'SubnetId':'subnet-a','VpcId':'vpc-1','CidrBlock':'10.0.1.0/24'}],"
	    "'NextToken':'abc'}",
	    "{'Subnets':[{'SubnetId':'subnet-b','VpcId':'vpc-1','CidrBlock':'10.0.2.0/24'}]}",
	    "{'Vpcs':[{'VpcId':'vpc-1','CidrBlock':'10.0.0.0/16'}]}",
	    "{'SecurityGroups':[{'GroupId':'sg-1','VpcId':'vpc-1'}]}",
	    "{'SecurityGroups':[{'GroupId':'sg-1','VpcId':'vpc-1','IpPermissions':[]}]}",
	};
	struct result res;
	load_many(&res, 5, names, docs);
	expect_ok(&res);
	assert_int_equal(res.lab->n_subnets, 2);
	assert_int_equal(res.lab->n_groups, 1);
	assert_true(has(&res.d, DIAG_WARNING, "acct1/SecurityGroups.json", "SecurityGroups[0]",
			"security group sg-1 is described again (also acct2/SecurityGroups.json at "
			"SecurityGroups[0]): the first description is kept"));
	done(&res);
}

static void write_file(const char *path, const char *json)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	char *doc = J(json);
	fputs(doc, f);
	free(doc);
	fclose(f);
}

/* accounts/<id>/<region>/ as a collector writes it, and A,B lists. */
static void test_recursive_and_lists(void **state)
{
	(void)state;
	char root[] = "/tmp/vpcfw-test-kinds-XXXXXX";
	assert_non_null(mkdtemp(root));
	char p[1024], a[256], b[256];
	snprintf(a, sizeof(a), "%s/accounts", root);
	mkdir(a, 0700);
	snprintf(a, sizeof(a), "%s/accounts/111", root);
	mkdir(a, 0700);
	snprintf(a, sizeof(a), "%s/accounts/111/us-east-1", root);
	mkdir(a, 0700);
	snprintf(b, sizeof(b), "%s/other", root);
	mkdir(b, 0700);
	snprintf(p, sizeof(p), "%s/Vpcs.json", a);
	write_file(p, "{'Vpcs':[{'VpcId':'vpc-1','CidrBlock':'10.0.0.0/16'}]}");
	snprintf(p, sizeof(p), "%s/SOURCE.txt", a);
	write_file(p, "not json, not read");
	snprintf(p, sizeof(p), "%s/Vpcs.json", b);
	write_file(p, "{'Vpcs':[{'VpcId':'vpc-2','CidrBlock':'10.1.0.0/16'}]}");

	struct lab_load_opts o;
	lab_load_opts_init(&o);
	struct diag_list d;
	diag_init(&d);
	struct lab *lab = NULL;
	assert_int_equal(lab_load(root, &o, &lab, &d), 0);
	assert_int_equal(lab->n_vpcs, 2);
	lab_free(lab);
	diag_free(&d);

	char list[2200];
	snprintf(list, sizeof(list), "%s,%s", a, b);
	diag_init(&d);
	assert_int_equal(lab_load(list, &o, &lab, &d), 0);
	assert_int_equal(lab->n_vpcs, 2);
	assert_string_equal(lab->source, list);
	lab_free(lab);
	diag_free(&d);

	/* a bad part is named, the others still read */
	snprintf(list, sizeof(list), "%s,%s/none", a, root);
	snprintf(p, sizeof(p), "%s/none", root);
	diag_init(&d);
	assert_true(lab_load(list, &o, &lab, &d) < 0);
	assert_null(lab);
	assert_true(has(&d, DIAG_ERROR, p, NULL, "cannot open: No such file or directory"));
	diag_free(&d);

	snprintf(p, sizeof(p), "rm -rf '%s'", root);
	assert_int_equal(system(p), 0);
}

/* What a partial export leaves open: said once, never an error. */
static void test_partial_exports(void **state)
{
	(void)state;
	one_warning("{" BASE ",'RouteTables':[{'RouteTableId':'rtb-1','VpcId':'vpc-1',"
		    "'Associations':[{'SubnetId':'subnet-z'}],'Routes':[]}]}",
		    "RouteTables[0].Associations[0].SubnetId",
		    "subnet subnet-z is not in the lab: association ignored");
	struct result res;
	load_as(&res, "t.json",
		"{'Vpcs':[{'VpcId':'vpc-1','CidrBlock':'10.0.0.0/16'}],"
		"'SecurityGroups':[{'GroupId':'sg-1','VpcId':'vpc-1'}],"
		"'NetworkAcls':[{'NetworkAclId':'acl-1','VpcId':'vpc-1','IsDefault':"
		"true,'Entries':[]},{'NetworkAclId':'acl-2','VpcId':'vpc-1','Entries':[],"
		"'Associations':[{'SubnetId':'subnet-z'}]}],"
		"'NetworkInterfaces':[{'NetworkInterfaceId':'eni-1','SubnetId':'subnet-z','VpcId':"
		"'vpc-1','PrivateIpAddress':'10.0.9.10','Groups':[{'GroupId':'sg-1'}]}]}",
		false);
	expect_ok(&res);
	assert_true(has(&res.d, DIAG_WARNING, "t.json", "NetworkInterfaces[0].SubnetId",
			"subnet subnet-z is not in the lab: assuming 10.0.9.0/28 (its ENIs' "
			"addresses), with its exported NACL association or else the VPC's default "
			"NACL"));
	/* the assumed subnet takes its exported NACL association */
	const struct lab *lab = res.lab;
	int32_t s = lab_find_subnet(lab, "subnet-z");
	assert_true(s >= 0);
	assert_string_equal(lab->nacls[lab->subnets[s].nacl].id, "acl-2");
	done(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gateways),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_services),
	    cmocka_unit_test(test_prefix_list_cidrs),
	    cmocka_unit_test(test_skipped_and_recordings),
	    cmocka_unit_test(test_pages_and_accounts),
	    cmocka_unit_test(test_recursive_and_lists),
	    cmocka_unit_test(test_partial_exports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
