/*
 * rules/model.c: lookups by id and address, and endpoint naming
 * (DESIGN.md contract 3) over labs loaded by the real loader.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "load.h"

static char *J(const char *s)
{
	char *d = strdup(s);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static struct lab *load(const char *json)
{
	struct lab_load_opts o;
	lab_load_opts_init(&o);
	struct diag_list d;
	diag_init(&d);
	char *doc = J(json);
	struct lab *lab = NULL;
	int r = lab_load_buffer("m.json", doc, strlen(doc), &o, &lab, &d);
	char buf[1024];
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", diag_format(&d.items[i], buf, sizeof(buf)));
	free(doc);
	diag_free(&d);
	assert_int_equal(r, 0);
	return lab;
}

/* An instance "app" with two ENIs (device 1 listed first, neither with a
 * Name of its own), an instance "web" with a public IP, two instances both
 * named "twin", an unattached ENI without any name. */
static const char *aws_doc =
    "{'Vpcs':[{'VpcId':'vpc-1','CidrBlock':'10.0.0.0/16','Ipv6CidrBlockAssociationSet':"
    "[{'Ipv6CidrBlock':'2001:db8:5::/56'}]}],"
    "'Subnets':[{'SubnetId':'subnet-a','VpcId':'vpc-1','CidrBlock':'10.0.1.0/24',"
    "'Ipv6CidrBlockAssociationSet':[{'Ipv6CidrBlock':'2001:db8:5:1::/64'}]},"
    "{'SubnetId':'subnet-b','VpcId':'vpc-1','CidrBlock':'10.0.2.0/24'}],"
    "'SecurityGroups':[{'GroupId':'sg-1','VpcId':'vpc-1'}],"
    "'NetworkAcls':[{'NetworkAclId':'acl-1','VpcId':'vpc-1','IsDefault':true,'Entries':[]}],"
    "'Reservations':[{'Instances':["
    "{'InstanceId':'i-app','Tags':[{'Key':'Name','Value':'app'}],'NetworkInterfaces':["
    "{'NetworkInterfaceId':'eni-app1','SubnetId':'subnet-b','PrivateIpAddress':'10.0.2.21',"
    "'Attachment':{'DeviceIndex':1},'Groups':[{'GroupId':'sg-1'}]},"
    "{'NetworkInterfaceId':'eni-app0','SubnetId':'subnet-a','PrivateIpAddress':'10.0.1.20',"
    "'PrivateIpAddresses':[{'PrivateIpAddress':'10.0.1.20','Primary':true},"
    "{'PrivateIpAddress':'10.0.1.25','Primary':false}],"
    "'Ipv6Addresses':[{'Ipv6Address':'2001:db8:5:1::20'}],"
    "'Attachment':{'DeviceIndex':0},'Groups':[{'GroupId':'sg-1'}]}]},"
    "{'InstanceId':'i-web','Tags':[{'Key':'Name','Value':'web'}],'NetworkInterfaces':["
    "{'NetworkInterfaceId':'eni-web','SubnetId':'subnet-a','PrivateIpAddress':'10.0.1.10',"
    "'Association':{'PublicIp':'198.51.100.9'},'TagSet':[{'Key':'Name','Value':'web-eth0'}],"
    "'Attachment':{'DeviceIndex':0},'Groups':[{'GroupId':'sg-1'}]}]},"
    "{'InstanceId':'i-t1','Tags':[{'Key':'Name','Value':'twin'}],'NetworkInterfaces':["
    "{'NetworkInterfaceId':'eni-t1','SubnetId':'subnet-b','PrivateIpAddress':'10.0.2.31',"
    "'Attachment':{'DeviceIndex':0},'Groups':[{'GroupId':'sg-1'}]}]},"
    "{'InstanceId':'i-t2','Tags':[{'Key':'Name','Value':'twin'}],'NetworkInterfaces':["
    "{'NetworkInterfaceId':'eni-t2','SubnetId':'subnet-b','PrivateIpAddress':'10.0.2.32',"
    "'Attachment':{'DeviceIndex':0},'Groups':[{'GroupId':'sg-1'}]}]}]}],"
    "'NetworkInterfaces':[{'NetworkInterfaceId':'eni-free','SubnetId':'subnet-b',"
    "'PrivateIpAddress':'10.0.2.40','Groups':[{'GroupId':'sg-1'}]}]}";

static int32_t eni_index(const struct lab *lab, const char *id)
{
	for (size_t i = 0; i < lab->n_enis; i++)
		if (!strcmp(lab->enis[i].id, id))
			return (int32_t)i;
	fail_msg("no ENI %s", id);
	return -1;
}

static struct ip_addr A(const char *s) {
	struct ip_addr a;
	assert_int_equal(ip_addr_parse(s, &a), 0);
	return a;
}

static void
test_find(void **state)
{
	struct lab *lab = load(aws_doc);
	assert_int_equal(lab_find_vpc(lab, "vpc-1"), 0);
	assert_int_equal(lab_find_vpc(lab, "vpc-2"), -1);
	assert_int_equal(lab_find_subnet(lab, "subnet-b"), 1);
	assert_int_equal(lab_find_subnet(lab, NULL), -1);
	assert_int_equal(lab_find_group(lab, "sg-1"), 0);
	assert_int_equal(lab_find_nacl(lab, "acl-1"), 0);
	assert_int_equal(lab_find_prefix_list(lab, "pl-1"), -1);
	struct ip_addr a = A("10.0.1.25");
	assert_int_equal(lab_eni_by_addr(lab, &a), eni_index(lab, "eni-app0"));
	a = A("2001:db8:5:1::20");
	assert_int_equal(lab_eni_by_addr(lab, &a), eni_index(lab, "eni-app0"));
	a = A("10.0.1.99");
	assert_int_equal(lab_eni_by_addr(lab, &a), -1);
	a = A("198.51.100.9");
	assert_int_equal(lab_eni_by_public_ip(lab, &a), eni_index(lab, "eni-web"));
	assert_int_equal(lab_eni_by_addr(lab, &a), -1);
	a = A("10.0.2.200");
	assert_int_equal(lab_subnet_by_addr(lab, &a), 1);
	a = A("2001:db8:5:1::abcd");
	assert_int_equal(lab_subnet_by_addr(lab, &a), 0);
	a = A("10.0.3.1");
	assert_int_equal(lab_subnet_by_addr(lab, &a), -1);
	assert_true(lab_addr_in_vpc(lab, &a));
	a = A("2001:db8:5:ff::1");
	assert_true(lab_addr_in_vpc(lab, &a));
	a = A("203.0.113.1");
	assert_false(lab_addr_in_vpc(lab, &a));
	lab_free(lab);
}

static void test_resolve_names(void **state)
{
	struct lab *lab = load(aws_doc);
	struct endpoint ep;
	/* an instance means its ENI at device index 0 */
	assert_int_equal(lab_resolve_endpoint(lab, "i-app", &ep), 0);
	assert_int_equal(ep.kind, ENDPOINT_ENI);
	assert_int_equal(ep.eni, eni_index(lab, "eni-app0"));
	assert_int_equal(ep.outside, -1);
	struct ip_addr a = A("10.0.1.20");
	assert_true(ip_addr_eq(&ep.addr, &a));
	/* an ENI id */
	assert_int_equal(lab_resolve_endpoint(lab, "eni-app1", &ep), 0);
	assert_int_equal(ep.eni, eni_index(lab, "eni-app1"));
	/* the instance's Name: both ENIs inherit it, the name means device 0 */
	assert_int_equal(lab_resolve_endpoint(lab, "app", &ep), 0);
	assert_int_equal(ep.eni, eni_index(lab, "eni-app0"));
	/* the ENI's own Name tag wins over the instance's for its label, and
	 * both name it */
	assert_int_equal(lab_resolve_endpoint(lab, "web-eth0", &ep), 0);
	assert_int_equal(ep.eni, eni_index(lab, "eni-web"));
	assert_string_equal(lab_eni_label(lab, ep.eni), "web-eth0");
	assert_int_equal(lab_resolve_endpoint(lab, "web", &ep), 0);
	assert_int_equal(ep.eni, eni_index(lab, "eni-web"));
	assert_string_equal(lab->enis[ep.eni].instance_name, "web");
	/* two instances, one Name */
	assert_int_equal(lab_resolve_endpoint(lab, "twin", &ep), -EEXIST);
	assert_int_equal(lab_resolve_endpoint(lab, "nobody", &ep), -ENOENT);
	assert_int_equal(lab_resolve_endpoint(lab, "", &ep), -ENOENT);
	assert_int_equal(lab_resolve_endpoint(lab, NULL, &ep), -ENOENT);
	/* labels */
	assert_string_equal(lab_eni_label(lab, eni_index(lab, "eni-app1")), "app");
	assert_string_equal(lab_eni_label(lab, eni_index(lab, "eni-free")), "eni-free");
	assert_string_equal(lab_eni_label(lab, -1), "?");
	assert_string_equal(lab_eni_label(lab, 1000), "?");
	lab_free(lab);
}

static void test_resolve_addresses(void **state)
{
	struct lab *lab = load(aws_doc);
	struct endpoint ep;
	/* a secondary address means that address */
	assert_int_equal(lab_resolve_endpoint(lab, "10.0.1.25", &ep), 0);
	assert_int_equal(ep.kind, ENDPOINT_ENI);
	assert_int_equal(ep.eni, eni_index(lab, "eni-app0"));
	struct ip_addr a = A("10.0.1.25");
	assert_true(ip_addr_eq(&ep.addr, &a));
	/* a public IP means the ENI (the IGW translates it, §1) */
	assert_int_equal(lab_resolve_endpoint(lab, "198.51.100.9", &ep), 0);
	assert_int_equal(ep.kind, ENDPOINT_ENI);
	assert_int_equal(ep.eni, eni_index(lab, "eni-web"));
	a = A("10.0.1.10");
	assert_true(ip_addr_eq(&ep.addr, &a));
	/* anything else is outside; inside a VPC block it is flagged */
	assert_int_equal(lab_resolve_endpoint(lab, "203.0.113.7", &ep), 0);
	assert_int_equal(ep.kind, ENDPOINT_OUTSIDE);
	assert_int_equal(ep.outside, -1);
	assert_int_equal(ep.eni, -1);
	assert_false(ep.in_vpc_cidr);
	assert_int_equal(lab_resolve_endpoint(lab, "10.0.9.9", &ep), 0);
	assert_int_equal(ep.kind, ENDPOINT_OUTSIDE);
	assert_true(ep.in_vpc_cidr);
	assert_int_equal(lab_resolve_endpoint(lab, "2001:db8:5:1::20", &ep), 0);
	assert_int_equal(ep.eni, eni_index(lab, "eni-app0"));
	lab_free(lab);
}

static void test_endpoint_addr(void **state)
{
	struct lab *lab = load(aws_doc);
	struct endpoint ep;
	assert_int_equal(lab_resolve_endpoint(lab, "app", &ep), 0);
	assert_int_equal(lab_endpoint_addr(lab, &ep, IP_V6), 0);
	struct ip_addr a = A("2001:db8:5:1::20");
	assert_true(ip_addr_eq(&ep.addr, &a));
	assert_int_equal(lab_endpoint_addr(lab, &ep, IP_V4), 0);
	a = A("10.0.1.20");
	assert_true(ip_addr_eq(&ep.addr, &a));
	assert_int_equal(lab_resolve_endpoint(lab, "web", &ep), 0);
	assert_int_equal(lab_endpoint_addr(lab, &ep, IP_V6), -EAFNOSUPPORT);
	assert_int_equal(lab_resolve_endpoint(lab, "203.0.113.7", &ep), 0);
	assert_int_equal(lab_endpoint_addr(lab, &ep, IP_V4), 0);
	assert_int_equal(lab_endpoint_addr(lab, &ep, IP_V6), -EAFNOSUPPORT);
	lab_free(lab);
}

static void test_outside_hosts(void **state)
{
	struct lab *lab =
	    load("{'outside':[{'name':'client','addr':'203.0.113.10'},{'name':'c6','addr':"
		 "'2001:db8:ff::1'}],'vpcs':[{'name':'v','cidr':'10.0.0.0/16','subnets':[{'name':"
		 "'s','cidr':'10.0.0.0/24'}],'security_groups':[{'name':'g'}],'enis':[{'name':"
		 "'web-1','subnet':'s','ip':'10.0.0.10','groups':'g'}]}]}");
	struct endpoint ep;
	assert_int_equal(lab_resolve_endpoint(lab, "client", &ep), 0);
	assert_int_equal(ep.kind, ENDPOINT_OUTSIDE);
	assert_int_equal(ep.outside, 0);
	struct ip_addr a = A("203.0.113.10");
	assert_true(ip_addr_eq(&ep.addr, &a));
	/* the declared host's address finds the declared host */
	assert_int_equal(lab_resolve_endpoint(lab, "2001:db8:ff::1", &ep), 0);
	assert_int_equal(ep.outside, 1);
	assert_int_equal(lab_resolve_endpoint(lab, "web-1", &ep), 0);
	assert_int_equal(ep.kind, ENDPOINT_ENI);
	/* our format: an ENI is its own instance unless told otherwise */
	assert_int_equal(lab_resolve_endpoint(lab, lab->enis[0].instance_id, &ep), 0);
	assert_int_equal(ep.eni, 0);
	lab_free(lab);
}

/* A named instance with two ENIs: the instance's name means device 0, each
 * ENI's own name means that ENI, wherever it is listed. */
static void test_named_instance(void **state)
{
	struct lab *lab = load(
	    "{'vpcs':[{'name':'v','cidr':'10.0.0.0/16','subnets':[{'name':'s','cidr':"
	    "'10.0.0.0/24'}],'security_groups':[{'name':'g'}],'enis':["
	    "{'name':'box-b','subnet':'s','ip':'10.0.0.11','groups':'g','instance':'box',"
	    "'device_index':1},"
	    "{'name':'box-a','subnet':'s','ip':'10.0.0.10','groups':'g','instance':'box'}]}]}");
	struct endpoint ep;
	assert_int_equal(lab_resolve_endpoint(lab, "box", &ep), 0);
	assert_int_equal(ep.eni, 1);
	assert_int_equal(lab_resolve_endpoint(lab, "box-b", &ep), 0);
	assert_int_equal(ep.eni, 0);
	assert_int_equal(lab_resolve_endpoint(lab, "box-a", &ep), 0);
	assert_int_equal(ep.eni, 1);
	assert_string_equal(lab->enis[0].instance_name, "box");
	assert_string_equal(lab->enis[0].instance_id, lab->enis[1].instance_id);
	lab_free(lab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_resolve_names),
	    cmocka_unit_test(test_resolve_addresses),
	    cmocka_unit_test(test_endpoint_addr),
	    cmocka_unit_test(test_outside_hosts),
	    cmocka_unit_test(test_named_instance),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
