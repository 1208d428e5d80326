/*
 * The Terraform reader (rules/load_tf*.c): plans (resource_changes,
 * configuration references for what is unknown until apply) and states
 * (values.root_module, child modules), count and for_each indexes, the
 * provider's semantics for groups and NACLs, what is assumed and said, and
 * the exact diagnostics of bad values. Every real plan and state in the
 * corpus loads with no error.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "load.h"
#include "loadkit.h"
#include "pipeline.h"

/* One resource_changes entry that is created. */
#define CREATE(addr, type, name, after, unknown)                                                   \
	"{'address':'" addr "','mode':'managed','type':'" type "','name':'" name                   \
	"','change':{'actions':['create'],'after':" after ",'after_unknown':" unknown "}}"

#define PLAN_VPC                                                                                   \
	CREATE("aws_vpc.main", "aws_vpc", "main", "{'cidr_block':'10.0.0.0/16'}",                  \
	       "{'id':true,'default_security_group_id':true}")                                     \
	"," CREATE("aws_subnet.app", "aws_subnet", "app", "{'cidr_block':'10.0.1.0/24'}",          \
		   "{'id':true,'vpc_id':true}")

#define PLAN_CONFIG_VPC                                                                            \
	"{'address':'aws_subnet.app','expressions':{'vpc_id':{'references':['aws_vpc.main.id',"    \
	"'aws_vpc.main']}}}"

static const struct security_group *group(const struct lab *lab, const char *name)
{
	for (size_t i = 0; i < lab->n_groups; i++)
		if (lab->groups[i].name && !strcmp(lab->groups[i].name, name))
			return &lab->groups[i];
	return NULL;
}

static size_t count_rules(const struct security_group *g, bool egress)
{
	size_t n = 0;
	for (size_t i = 0; i < g->n_rules; i++)
		n += g->rules[i].egress == egress;
	return n;
}

static const struct eni *by_name(const struct lab *lab, const char *name)
{
	struct endpoint ep;
	if (lab_resolve_endpoint(lab, name, &ep) || ep.kind != ENDPOINT_ENI)
		return NULL;
	return &lab->enis[ep.eni];
}

static const char *addr_text(const struct ip_addr *a)
{
	static char buf[IP_ADDR_STRLEN];
	return ip_addr_format(a, buf, sizeof(buf));
}

/* A plan that creates everything: ids, memberships and rule targets are
 * known only through configuration references. */
static void test_plan_references(void **state)
{
	(void)state;
	struct result res;
	load_as(
	    &res, "plan.json",
	    "{'format_version':'1.2','terraform_version':'1.5.0','resource_changes':[" PLAN_VPC
	    "," CREATE(
		"aws_security_group.web", "aws_security_group", "web",
		"{'name':'web','ingress':[{'from_port':443,'to_port':443,'protocol':'tcp',"
		"'cidr_blocks':['0.0.0.0/0'],'ipv6_cidr_blocks':[],'prefix_list_ids':[],"
		"'security_groups':[],'self':false,'description':''}]}",
		"{'id':true,'vpc_id':true,'egress':true}") "," CREATE("aws_security_group.db",
								      "aws_security_group", "db",
								      "{'name':'db','egress':[]}",
								      "{'id':true,'vpc_id':true,'"
								      "ingress':true}") "," CREATE("aws_security_group_rule.db_in",
												   "aws_security_group_rule",
												   "db_in",
												   "{'type':'ingress','from_port':5432,'to_port':5432,"
												   "'protocol':'tcp','self':false}",
												   "{'id':true,'security_group_id':true,"
												   "'source_security_group_id':true}") ","
																       "{'address':'aws_instance.web[0]','mode':'managed','type':'aws_instance','name':'web',"
																       "'index':0,'change':{'actions':['create'],'after':{'tags':{'Name':'web-1'}},"
																       "'after_unknown':{'id':true,'private_ip':true,'subnet_id':true,"
																       "'vpc_security_group_ids':true}}},"
																       "{'address':'aws_instance.db[\\\"a\\\"]','mode':'managed','type':'aws_instance',"
																       "'name':'db','index':'a','change':{'actions':['delete','create'],'after':{},"
																       "'after_unknown':{'id':true,'private_ip':true,'subnet_id':true,"
																       "'vpc_security_group_ids':true}}},"
																       "{'address':'aws_instance.gone','mode':'managed','type':'aws_instance','name':'gone',"
																       "'change':{'actions':['delete'],'before':{'private_ip':'10.0.1.99'},'after':null}}],"
																       "'configuration':{'root_module':{'resources':[" PLAN_CONFIG_VPC
																       ","
																       "{'address':'aws_security_group.web','expressions':{'vpc_id':{'references':"
																       "['aws_vpc.main.id','aws_vpc.main']}}},"
																       "{'address':'aws_security_group.db','expressions':{'vpc_id':{'references':"
																       "['aws_vpc.main.id']}}},"
																       "{'address':'aws_security_group_rule.db_in','expressions':{'security_group_id':"
																       "{'references':['aws_security_group.db.id','aws_security_group.db']},"
																       "'source_security_group_id':{'references':['aws_security_group.web.id']}}},"
																       "{'address':'aws_instance.web','expressions':{'subnet_id':{'references':"
																       "['aws_subnet.app.id']},'vpc_security_group_ids':{'references':"
																       "['aws_security_group.web.id']}}},"
																       "{'address':'aws_instance.db','expressions':{'subnet_id':{'references':"
																       "['aws_subnet.app']},'vpc_security_group_ids':{'references':"
																       "['aws_security_group.db']}}}]}}}",
	    false);
	expect_ok(&res);
	const struct lab *lab = res.lab;
	const struct security_group *web = group(lab, "web"), *db = group(lab, "db");
	assert_non_null(web);
	assert_non_null(db);
	/* the provider removes AWS's default egress rule of a new group */
	assert_int_equal(count_rules(web, false), 1);
	assert_int_equal(count_rules(web, true), 0);
	assert_int_equal(count_rules(db, true), 0);
	/* the separate rule names web through a reference */
	assert_int_equal(count_rules(db, false), 1);
	assert_int_equal(db->rules[0].peer_kind, SG_PEER_GROUP);
	assert_string_equal(db->rules[0].peer_id, web->id);
	assert_string_equal(db->rules[0].origin.path, "aws_security_group_rule.db_in");
	assert_int_equal(web->n_members, 1); /* aws_instance.web[0] */

	const struct eni *w = by_name(lab, "aws_instance.web[0]");
	assert_non_null(w);
	assert_string_equal(addr_text(&w->ipv4[0]), "10.0.1.4");
	assert_string_equal(lab->groups[w->groups[0]].name, "web");
	assert_true(has(&res.d, DIAG_WARNING, "plan.json", "aws_instance.web[0]",
			"no private address known until apply: assuming 10.0.1.4, the first free "
			"address of subnet subnet-0b6a44d9c57f01f65"));
	const struct eni *d = by_name(lab, "aws_instance.db[\"a\"]"); /* replaced, kept */
	assert_non_null(d);
	assert_string_equal(addr_text(&d->ipv4[0]), "10.0.1.5");
	assert_null(by_name(lab, "aws_instance.gone"));
	assert_int_equal(lab->n_enis, 2);
	done(&res);
}

/* A state: known ids, modules, the VPC's default group implied. */
static void test_state_modules_defaults(void **state)
{
	(void)state;
	struct result res;
	load_as(
	    &res, "state.json",
	    "{'format_version':'0.1','terraform_version':'0.14.11','values':{'root_module':{"
	    "'resources':[{'address':'aws_vpc.v','mode':'managed','type':'aws_vpc','name':'v',"
	    "'values':{'id':'vpc-1','cidr_block':'10.0.0.0/16','default_security_group_id':"
	    "'sg-d'}},{'address':'aws_subnet.s','mode':'managed','type':'aws_subnet','name':'s',"
	    "'values':{'id':'subnet-1','vpc_id':'vpc-1','cidr_block':'10.0.1.0/24'}},"
	    "{'address':'aws_instance.bare','mode':'managed','type':'aws_instance','name':'bare',"
	    "'values':{'id':'i-2','subnet_id':'subnet-1','private_ip':'10.0.1.20',"
	    "'vpc_security_group_ids':[]}}],"
	    "'child_modules':[{'address':'module.app','resources':[{'address':"
	    "'module.app.aws_instance.this[0]','mode':'managed','type':'aws_instance','name':"
	    "'this','index':0,'values':{'id':'i-1','subnet_id':'subnet-1','private_ip':"
	    "'10.0.1.10','vpc_security_group_ids':['sg-d'],'primary_network_interface_id':"
	    "'eni-1'}},{'address':'module.app.data.aws_ami.x','mode':'data','type':'aws_ami',"
	    "'name':'x','values':{'id':'ami-1'}}]}]}}}",
	    false);
	expect_ok(&res);
	const struct eni *e = by_name(res.lab, "module.app.aws_instance.this[0]");
	assert_non_null(e);
	assert_string_equal(e->id, "eni-1");
	assert_string_equal(e->instance_id, "i-1");
	const struct eni *b = by_name(res.lab, "aws_instance.bare");
	assert_non_null(b);
	/* no group: the VPC's default one, with AWS's default rules */
	assert_string_equal(res.lab->groups[b->groups[0]].id, "sg-d");
	assert_true(
	    has(&res.d, DIAG_WARNING, "state.json", "aws_instance.bare",
		"default security group sg-d of VPC vpc-1 is not in the lab: assuming "
		"AWS's default rules (all traffic from the group itself, all traffic out)"));
	const struct security_group *d = group(res.lab, "default");
	assert_int_equal(d->n_rules, 2);
	assert_int_equal(d->rules[0].peer_kind, SG_PEER_GROUP);
	assert_int_equal(d->n_members, 2);
	done(&res);

	/* aws_default_security_group: exactly the rules written */
	load_as(&res, "state.json",
		"{'format_version':'1.0','values':{'root_module':{'resources':[{'address':"
		"'aws_vpc.v','mode':'managed','type':'aws_vpc','name':'v','values':{'id':'vpc-1',"
		"'cidr_block':'10.0.0.0/16','default_security_group_id':'sg-d'}},{'address':"
		"'aws_default_security_group.d','mode':'managed','type':"
		"'aws_default_security_group','name':'d','values':{'id':'sg-d','vpc_id':'vpc-1',"
		"'ingress':[],'egress':[{'protocol':'tcp','from_port':443,'to_port':443,"
		"'cidr_blocks':['0.0.0.0/0']}]}},{'address':'aws_instance.i','mode':'managed',"
		"'type':'aws_instance','name':'i','values':{'id':'i-1','private_ip':'10.0.0.10',"
		"'subnet_id':'subnet-x'}}]}}}",
		false);
	expect_ok(&res);
	const struct security_group *g = group(res.lab, "default");
	assert_string_equal(g->id, "sg-d");
	assert_int_equal(g->n_rules, 1);
	assert_int_equal(g->rules[0].to_port, 443);
	done(&res);
}

/* Once refreshed, inline rules repeat the separate rule resources. */
static void test_union_and_nacls(void **state)
{
	(void)state;
	struct result res;
	load_as(
	    &res, "state.json",
	    "{'format_version':'1.0','values':{'root_module':{'resources':[{'address':"
	    "'aws_vpc.v','mode':'managed','type':'aws_vpc','name':'v','values':{'id':'vpc-1',"
	    "'cidr_block':'10.0.0.0/16'}},{'address':'aws_subnet.s','mode':'managed','type':"
	    "'aws_subnet','name':'s','values':{'id':'subnet-1','vpc_id':'vpc-1','cidr_block':"
	    "'10.0.1.0/24'}},{'address':'aws_security_group.g','mode':'managed','type':"
	    "'aws_security_group','name':'g','values':{'id':'sg-1','vpc_id':'vpc-1','name':'g',"
	    "'ingress':[{'protocol':'tcp','from_port':22,'to_port':22,'cidr_blocks':"
	    "['10.0.0.0/8'],'self':false}],'egress':[]}},{'address':"
	    "'aws_security_group_rule.ssh','mode':'managed','type':'aws_security_group_rule',"
	    "'name':'ssh','values':{'type':'ingress','security_group_id':'sg-1','protocol':'tcp',"
	    "'from_port':22,'to_port':22,'cidr_blocks':['10.0.0.0/8']}},{'address':"
	    "'aws_network_acl.n','mode':'managed','type':'aws_network_acl','name':'n','values':"
	    "{'id':'acl-1','vpc_id':'vpc-1','subnet_ids':['subnet-1'],'ingress':[{'rule_no':100,"
	    "'action':'allow','protocol':'6','cidr_block':'0.0.0.0/0','from_port':443,"
	    "'to_port':443,'icmp_type':0,'icmp_code':0,'ipv6_cidr_block':''}],'egress':[]}},"
	    "{'address':'aws_network_acl_rule.out','mode':'managed','type':"
	    "'aws_network_acl_rule','name':'out','values':{'network_acl_id':'acl-1',"
	    "'rule_number':100,'egress':true,'protocol':'-1','rule_action':'allow','cidr_block':"
	    "'0.0.0.0/0'}}]}}}",
	    false);
	expect_ok(&res);
	assert_int_equal(group(res.lab, "g")->n_rules, 1);
	/* where each was written outlives the load (ASan watches this) */
	assert_string_equal(group(res.lab, "g")->rules[0].origin.path,
			    "aws_security_group.g.ingress[0]");
	const struct nacl *n = &res.lab->nacls[lab_find_nacl(res.lab, "acl-1")];
	assert_int_equal(n->n_ingress, 1);
	assert_int_equal(n->ingress[0].port_from, 443);
	assert_string_equal(n->ingress[0].origin.path, "aws_network_acl.n.ingress[0]");
	assert_int_equal(n->n_egress, 1);
	assert_string_equal(n->egress[0].origin.path, "aws_network_acl_rule.out");
	assert_int_equal(res.lab->subnets[0].nacl, lab_find_nacl(res.lab, "acl-1"));
	done(&res);
}

#define STATE_SG(rule)                                                                             \
	"{'format_version':'1.0','values':{'root_module':{'resources':[{'address':"                \
	"'aws_security_group.web','mode':'managed','type':'aws_security_group','name':'web',"      \
	"'values':{'id':'sg-1','name':'web','ingress':[" rule "]}}]}}}"

static void tf_error(const char *doc, const char *path, const char *msg)
{
	struct result res;
	load_as(&res, "t.json", doc, false);
	expect_fail(&res);
	assert_true(has(&res.d, DIAG_ERROR, "t.json", path, msg));
	done(&res);
}

static void test_diagnostics(void **state)
{
	(void)state;
	tf_error(STATE_SG("{'protocol':'tpc','from_port':1,'to_port':2,'cidr_blocks':["
			  "'0.0.0.0/0']}"),
		 "aws_security_group.web.ingress[0].protocol",
		 "unknown protocol 'tpc' (expected tcp, udp, icmp, icmpv6, -1 or a number 0-255)");
	tf_error(STATE_SG("{'protocol':'tcp','from_port':80,'to_port':20,'cidr_blocks':["
			  "'0.0.0.0/0']}"),
		 "aws_security_group.web.ingress[0].from_port",
		 "port range 80-20 is not valid (0-65535, from <= to)");
	tf_error(STATE_SG("{'protocol':'tcp','from_port':'x','to_port':20}"),
		 "aws_security_group.web.ingress[0].from_port",
		 "expected an integer, found a string");
	tf_error(STATE_SG("{'protocol':'tcp','from_port':1,'to_port':2,'cidr_blocks':["
			  "'10.0.0.0/33']}"),
		 "aws_security_group.web.ingress[0].cidr_blocks[0]",
		 "'10.0.0.0/33' is not an IPv4 CIDR block");
	tf_error("{'format_version':'1.0','values':{'root_module':{'resources':[{'address':"
		 "'aws_network_acl_rule.r','mode':'managed','type':'aws_network_acl_rule','name':"
		 "'r','values':{'network_acl_id':'acl-1','rule_number':100,'egress':false,"
		 "'protocol':'-1','rule_action':'permit','cidr_block':'0.0.0.0/0'}}]}}}",
		 "aws_network_acl_rule.r.action", "'permit' is not a rule action (allow or deny)");
	one_warning("{'format_version':'1.0','values':{'root_module':{'resources':[{'address':"
		    "'aws_security_group_rule.r','mode':'managed','type':'aws_security_group_rule',"
		    "'name':'r','values':{'type':'ingress','security_group_id':'sg-9','protocol':"
		    "'-1','from_port':0,'to_port':0,'cidr_blocks':['0.0.0.0/0']}}]}}}",
		    "aws_security_group_rule.r",
		    "security group sg-9 is not in the lab: rule left out");
	one_warning(STATE_SG("{'protocol':'tcp','from_port':1,'to_port':2}"),
		    "aws_security_group.web.ingress[0]",
		    "the rule names no peer known before apply (cidr_blocks, security_groups, "
		    "self, ...): it allows nothing");
	one_warning(
	    "{'format_version':'9.0','values':{'root_module':{'resources':[]}}}", "format_version",
	    "Terraform JSON format 9.0 is newer than vpcfw knows (0.1 to 1.2): read as 1.x");
}

/* The newer rule resources: one rule each, by ip_protocol and cidr_ipv4 /
 * referenced_security_group_id. */
static void test_vpc_rule_resources(void **state)
{
	(void)state;
	struct result res;
	load_as(&res, "state.json",
		"{'format_version':'1.2','values':{'root_module':{'resources':[{'address':"
		"'aws_security_group.a','mode':'managed','type':'aws_security_group','name':'a',"
		"'values':{'id':'sg-1','name':'a'}},{'address':'aws_security_group.b','mode':"
		"'managed','type':'aws_security_group','name':'b','values':{'id':'sg-2','name':"
		"'b'}},{'address':'aws_vpc_security_group_ingress_rule.https','mode':'managed',"
		"'type':'aws_vpc_security_group_ingress_rule','name':'https','values':{"
		"'security_group_id':'sg-1','ip_protocol':'tcp','from_port':443,'to_port':443,"
		"'cidr_ipv4':'0.0.0.0/0'}},{'address':'aws_vpc_security_group_egress_rule.all',"
		"'mode':'managed','type':'aws_vpc_security_group_egress_rule','name':'all',"
		"'values':{'security_group_id':'sg-1','ip_protocol':'-1',"
		"'referenced_security_group_id':'sg-2'}}]}}}",
		false);
	expect_ok(&res);
	const struct security_group *a = group(res.lab, "a");
	assert_int_equal(a->n_rules, 2);
	assert_false(a->rules[0].egress);
	assert_int_equal(a->rules[0].protocol, PROTO_TCP);
	assert_int_equal(a->rules[0].from_port, 443);
	assert_int_equal(a->rules[0].peer_kind, SG_PEER_CIDR);
	assert_true(a->rules[1].egress);
	assert_int_equal(a->rules[1].protocol, PROTO_ALL);
	assert_int_equal(a->rules[1].peer_kind, SG_PEER_GROUP);
	assert_string_equal(a->rules[1].peer_id, "sg-2");
	assert_string_equal(a->rules[1].origin.path, "aws_vpc_security_group_egress_rule.all");
	done(&res);
}

/* An instance whose primary interface is an aws_network_interface: one
 * ENI, at device 0 of the instance. */
static void test_instance_interfaces(void **state)
{
	(void)state;
	struct result res;
	load_as(&res, "state.json",
		"{'format_version':'1.0','values':{'root_module':{'resources':[{'address':"
		"'aws_vpc.v','mode':'managed','type':'aws_vpc','name':'v','values':{'id':'vpc-1',"
		"'cidr_block':'10.0.0.0/16','default_security_group_id':'sg-d'}},{'address':"
		"'aws_subnet.s','mode':'managed','type':'aws_subnet','name':'s','values':{'id':"
		"'subnet-1','vpc_id':'vpc-1','cidr_block':'10.0.1.0/24'}},{'address':"
		"'aws_security_group.g','mode':'managed','type':'aws_security_group','name':'g',"
		"'values':{'id':'sg-1','vpc_id':'vpc-1','name':'g','ingress':[],'egress':[]}},"
		"{'address':'aws_network_interface.n','mode':'managed','type':"
		"'aws_network_interface','name':'n','values':{'id':'eni-9','subnet_id':'subnet-1',"
		"'private_ips':['10.0.1.30'],'security_groups':['sg-1']}},{'address':"
		"'aws_network_interface_sg_attachment.a','mode':'managed','type':"
		"'aws_network_interface_sg_attachment','name':'a','values':{'network_interface_id':"
		"'eni-9','security_group_id':'sg-d'}},{'address':'aws_instance.i','mode':'managed',"
		"'type':'aws_instance','name':'i','values':{'id':'i-1','network_interface':[{"
		"'network_interface_id':'eni-9','device_index':0}]}}]}}}",
		false);
	expect_ok(&res);
	assert_int_equal(res.lab->n_enis, 1);
	const struct eni *e = &res.lab->enis[0];
	assert_string_equal(e->instance_id, "i-1");
	assert_int_equal(e->device_index, 0);
	assert_int_equal(e->n_groups, 2); /* sg-1 and, attached, sg-d */
	assert_ptr_equal(by_name(res.lab, "i-1"), e);
	done(&res);
}

/* A load balancer in subnets and a VPC the file does not hold: assumed
 * blocks, each said. */
static void test_assumed_placement(void **state)
{
	(void)state;
	struct result res;
	load_as(&res, "lb.json",
		"{'format_version':'1.0','values':{'root_module':{'resources':[{'address':"
		"'aws_security_group.lb','mode':'managed','type':'aws_security_group','name':'lb',"
		"'values':{'id':'sg-1','vpc_id':'vpc-9','name':'lb','ingress':[],'egress':[]}},"
		"{'address':'aws_lb.web','mode':'managed','type':'aws_lb','name':'web','values':{"
		"'id':'arn:lb','vpc_id':'vpc-9','security_groups':['sg-1'],'subnets':["
		"'subnet-x','subnet-y']}}]}}}",
		false);
	expect_ok(&res);
	assert_true(has(&res.d, DIAG_WARNING, "lb.json", "aws_lb.web.subnet_id",
			"VPC vpc-9 is not in the lab: assuming it holds 10.0.0.0/16 (its real "
			"block is unknown; rules naming CIDRs may decide differently in AWS)"));
	assert_true(has(&res.d, DIAG_WARNING, "lb.json", "aws_lb.web.subnet_id",
			"subnet subnet-y is not in the lab and no address in it is known: "
			"assuming 10.0.1.0/24 in VPC vpc-9"));
	assert_int_equal(res.lab->n_enis, 2); /* one per subnet */
	assert_non_null(by_name(res.lab, "aws_lb.web"));
	assert_int_equal(res.lab->n_services, 1);
	done(&res);
}

/* vpcfw import keeps the address in our format: it still names the ENI. */
static void test_address_in_lab_format(void **state)
{
	(void)state;
	struct result res;
	load_as(
	    &res, "lab.json",
	    "{'lab':'t','vpcs':[{'name':'v','cidr':'10.0.0.0/16','subnets':[{'name':'s',"
	    "'cidr':'10.0.1.0/24'}],'security_groups':[{'name':'g'}],'enis':[{'name':'web',"
	    "'subnet':'s','ip':'10.0.1.10','groups':'g','address':'module.a.aws_instance.w[0]'}]"
	    "}]}",
	    false);
	expect_ok(&res);
	const struct eni *e = by_name(res.lab, "module.a.aws_instance.w[0]");
	assert_non_null(e);
	assert_string_equal(e->name, "web");
	done(&res);
}

/* Shapes no Terraform writes: errors or nothing, never a crash (the first
 * one crashed a fuzzing run: an index with no bracket in the address). */
static void test_hostile_shapes(void **state)
{
	(void)state;
	static const char *const docs[] = {
	    "{'format_version':'1.0','resource_changes':[{'address':']','mode':'managed','type':"
	    "'aws_vpc','name':'x','index':0,'change':{'actions':['create'],'after':{}}}]}",
	    "{'format_version':'1.0','resource_changes':[{'address':'','mode':'managed','type':"
	    "'aws_instance','name':'','index':'','change':{'actions':[],'after':{'subnet_id':7}}}]"
	    "}",
	    "{'format_version':'1.0','resource_changes':{},'values':[]}",
	    "{'format_version':'1.0','values':{'root_module':{'child_modules':[{'address':5},"
	    "{'resources':[null,1,{'address':'aws_subnet.s'}]}]}}}",
	    "{'format_version':'1.0','resource_changes':[{'address':'aws_instance.i','mode':"
	    "'managed','type':'aws_instance','name':'i','change':{'actions':['create'],'after':{},"
	    "'after_unknown':{'subnet_id':true}}}],'configuration':{'root_module':{'resources':"
	    "[{'address':'aws_instance.i','expressions':{'subnet_id':{'references':["
	    "'aws_subnet.[','aws_subnet','.x','aws_subnet.a[','var.x',7]}}}],'module_calls':5}}}",
	    /* one reference naming twelve counted instances */
	    "{'format_version':'1.0','resource_changes':["
	    "{'address':'aws_security_group.g[0]','mode':'managed','type':'aws_security_group',"
	    "'name':'g','index':0,'change':{'actions':['create'],'after':{}}},"
	    "{'address':'aws_security_group.g[1]','mode':'managed','type':'aws_security_group',"
	    "'name':'g','index':1,'change':{'actions':['create'],'after':{}}},"
	    "{'address':'aws_security_group.g[2]','mode':'managed','type':'aws_security_group',"
	    "'name':'g','index':2,'change':{'actions':['create'],'after':{}}},"
	    "{'address':'aws_security_group.g[3]','mode':'managed','type':'aws_security_group',"
	    "'name':'g','index':3,'change':{'actions':['create'],'after':{}}},"
	    "{'address':'aws_security_group.g[4]','mode':'managed','type':'aws_security_group',"
	    "'name':'g','index':4,'change':{'actions':['create'],'after':{}}},"
	    "{'address':'aws_instance.i','mode':'managed','type':'aws_instance','name':'i',"
	    "'change':{'actions':['create'],'after':{'private_ip':'172.31.0.9'},"
	    "'after_unknown':{'vpc_security_group_ids':true}}}],'configuration':{'root_module':"
	    "{'resources':[{'address':'aws_instance.i','expressions':{'vpc_security_group_ids':"
	    "{'references':['aws_security_group.g','aws_security_group.g.id']}}}]}}}",
	    "{'format_version':'1.0','resource_changes':[{'address':'module.a[0].aws_vpc.v',"
	    "'module_address':'module.a[0]','mode':'managed','type':'aws_vpc','name':'v',"
	    "'change':{'actions':['create'],'after':{'cidr_block':'10.0.0.0/16'}}}],"
	    "'configuration':{'root_module':{'module_calls':{'a':{'module':{'resources':[]}}}}}}",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct result res;
		load_as(&res, "t.json", docs[i], false);
		assert_true((res.r == 0) == (res.lab != NULL));
		done(&res);
	}
}

/* the documents read one resource a line */
/* clang-format off */
/* One resource of a state's root module. */
#define RES(type, name, values)                                                                    \
	"{'address':'" type "." name "','mode':'managed','type':'" type "','name':'" name          \
	"','values':" values "}"

/* Two VPCs, an instance in each (SSH from 10.0.0.0/8), each subnet's
 * route table sending the other's block to tgw-1; then extra, the
 * gateway's own resources. */
#define TGW_STATE(tgw, extra)                                                                      \
	"{'format_version':'1.0','values':{'root_module':{'resources':["                           \
	RES("aws_vpc", "a", "{'id':'vpc-a','cidr_block':'10.1.0.0/16'}")                           \
	"," RES("aws_vpc", "b", "{'id':'vpc-b','cidr_block':'10.2.0.0/16'}")                       \
	"," RES("aws_subnet", "a", "{'id':'subnet-a','vpc_id':'vpc-a','cidr_block':'10.1.1.0/24'}") \
	"," RES("aws_subnet", "b", "{'id':'subnet-b','vpc_id':'vpc-b','cidr_block':'10.2.1.0/24'}") \
	"," RES("aws_security_group", "a", "{'id':'sg-a','vpc_id':'vpc-a'," TGW_SG "}")             \
	"," RES("aws_security_group", "b", "{'id':'sg-b','vpc_id':'vpc-b'," TGW_SG "}")             \
	"," RES("aws_instance", "a", "{'id':'i-a','subnet_id':'subnet-a','private_ip':'10.1.1.10'," \
		"'vpc_security_group_ids':['sg-a']}")                                              \
	"," RES("aws_instance", "b", "{'id':'i-b','subnet_id':'subnet-b','private_ip':'10.2.1.10'," \
		"'vpc_security_group_ids':['sg-b']}")                                              \
	"," RES("aws_route_table", "a", "{'id':'rtb-a','vpc_id':'vpc-a','route':[{'cidr_block':"    \
		"'10.2.0.0/16','transit_gateway_id':'tgw-1'}]}")                                   \
	"," RES("aws_route_table", "b", "{'id':'rtb-b','vpc_id':'vpc-b','route':[{'cidr_block':"    \
		"'10.1.0.0/16','transit_gateway_id':'tgw-1'}]}")                                   \
	"," RES("aws_route_table_association", "a", "{'id':'rtbassoc-a','route_table_id':'rtb-a',"  \
		"'subnet_id':'subnet-a'}")                                                         \
	"," RES("aws_route_table_association", "b", "{'id':'rtbassoc-b','route_table_id':'rtb-b',"  \
		"'subnet_id':'subnet-b'}")                                                         \
	"," RES("aws_ec2_transit_gateway", "t", tgw)                                                \
	"," RES("aws_ec2_transit_gateway_vpc_attachment", "a", "{'id':'tgw-attach-a','vpc_id':"     \
		"'vpc-a','transit_gateway_id':'tgw-1','subnet_ids':['subnet-a']" TGW_ATT_DEFAULTS "}") \
	"," RES("aws_ec2_transit_gateway_vpc_attachment", "b", "{'id':'tgw-attach-b','vpc_id':"     \
		"'vpc-b','transit_gateway_id':'tgw-1','subnet_ids':['subnet-b']" TGW_ATT_DEFAULTS "}") \
	extra "]}}}"
#define TGW_SG                                                                                     \
	"'ingress':[{'from_port':22,'to_port':22,'protocol':'tcp','cidr_blocks':['10.0.0.0/8']}],"  \
	"'egress':[{'from_port':0,'to_port':0,'protocol':'-1','cidr_blocks':['0.0.0.0/0']}]"

/* The verdict of SSH from ENI `from` to the address `to`. */
static enum pipeline_verdict ssh(const struct lab *lab, const char *from, const char *to)
{
	struct pipeline_query q;
	pipeline_query_init(&q);
	struct endpoint a, b;
	assert_int_equal(lab_resolve_endpoint(lab, from, &a), 0);
	assert_int_equal(lab_resolve_endpoint(lab, to, &b), 0);
	q.client = (struct pipeline_end){.kind = END_ENI, .eni = a.eni, .service = SERVICE_NONE};
	q.server = (struct pipeline_end){.kind = END_ENI, .eni = b.eni, .service = SERVICE_NONE};
	q.request.src = lab->enis[a.eni].ipv4[0];
	q.request.dst = lab->enis[b.eni].ipv4[0];
	q.request.proto = PROTO_TCP;
	q.request.sport = 40000;
	q.request.dport = 22;
	struct pipeline_check c;
	pipeline_check(lab, &q, &c);
	return c.verdict;
}

/* Transit gateway route tables written as Terraform resources, as the
 * exports give them: explicit tables, routes (a blackhole too),
 * associations and propagations; then the provider's defaults (the
 * gateway's default table, associated and propagated by every VPC
 * attachment unless turned off), ids known only after apply. */
static void test_tgw_route_tables(void **state)
{
	(void)state;
	struct result res;
#define TGW_ATT_DEFAULTS                                                                           \
	",'transit_gateway_default_route_table_association':false,"                                 \
	"'transit_gateway_default_route_table_propagation':false"
	load_as(&res, "tgw.json",
		TGW_STATE("{'id':'tgw-1','default_route_table_association':'disable',"
			  "'default_route_table_propagation':'disable'}",
			  "," RES("aws_ec2_transit_gateway_route_table", "r",
				  "{'id':'tgw-rtb-1','transit_gateway_id':'tgw-1'}")
			  "," RES("aws_ec2_transit_gateway_route_table_association", "a",
				  "{'id':'x','transit_gateway_attachment_id':'tgw-attach-a',"
				  "'transit_gateway_route_table_id':'tgw-rtb-1'}")
			  "," RES("aws_ec2_transit_gateway_route_table_association", "b",
				  "{'id':'y','transit_gateway_attachment_id':'tgw-attach-b',"
				  "'transit_gateway_route_table_id':'tgw-rtb-1'}")
			  "," RES("aws_ec2_transit_gateway_route_table_propagation", "a",
				  "{'id':'z','transit_gateway_attachment_id':'tgw-attach-a',"
				  "'transit_gateway_route_table_id':'tgw-rtb-1'}")
			  "," RES("aws_ec2_transit_gateway_route", "b",
				  "{'id':'w','destination_cidr_block':'10.2.0.0/16',"
				  "'transit_gateway_attachment_id':'tgw-attach-b',"
				  "'transit_gateway_route_table_id':'tgw-rtb-1','blackhole':false}")
			  "," RES("aws_ec2_transit_gateway_route", "hole",
				  "{'id':'v','destination_cidr_block':'10.2.9.0/24',"
				  "'transit_gateway_route_table_id':'tgw-rtb-1','blackhole':true}")),
		false);
	expect_ok(&res);
	size_t tables = 0;
	for (size_t i = 0; i < res.lab->n_gateways; i++) {
		const struct gateway *g = &res.lab->gateways[i];
		if (g->kind == GW_TRANSIT_ROUTES) {
			tables++;
			assert_string_equal(g->id, "tgw-rtb-1");
			assert_int_equal(g->n_tgw_routes, 2);
			assert_int_equal(g->n_propagations, 1);
		} else if (g->kind == GW_TRANSIT_ATTACH) {
			assert_int_equal(g->n_route_table_ids, 1);
			assert_string_equal(g->route_table_ids[0], "tgw-rtb-1");
		}
	}
	assert_int_equal(tables, 1); /* no default table: both turned off */
	/* a -> b by the static route, back by a's propagation */
	assert_int_equal(ssh(res.lab, "aws_instance.a", "aws_instance.b"), VERDICT_ACCEPT);
	done(&res);
#undef TGW_ATT_DEFAULTS
#define TGW_ATT_DEFAULTS ""
	/* the provider's defaults, ids unknown until apply: one default table
	 * both attachments are associated with and propagate to */
	load_as(&res, "tgw.json", TGW_STATE("{'id':'tgw-1'}", ""), false);
	expect_ok(&res);
	assert_int_equal(ssh(res.lab, "aws_instance.a", "aws_instance.b"), VERDICT_ACCEPT);
	assert_int_equal(ssh(res.lab, "aws_instance.b", "aws_instance.a"), VERDICT_ACCEPT);
	done(&res);
	/* the default table's id known; the gateway does not propagate to it,
	 * so it holds no route to b until a propagation resource adds b's */
#define TGW_NO_PROPAGATION                                                                         \
	"{'id':'tgw-1','default_route_table_propagation':'disable',"                                \
	"'association_default_route_table_id':'tgw-rtb-d',"                                          \
	"'propagation_default_route_table_id':'tgw-rtb-d'}"
	load_as(&res, "tgw.json", TGW_STATE(TGW_NO_PROPAGATION, ""), false);
	expect_ok(&res);
	for (size_t i = 0; i < res.lab->n_gateways; i++)
		if (res.lab->gateways[i].kind == GW_TRANSIT_ATTACH)
			assert_string_equal(res.lab->gateways[i].route_table_ids[0], "tgw-rtb-d");
	assert_int_equal(ssh(res.lab, "aws_instance.a", "aws_instance.b"), VERDICT_REJECT);
	done(&res);
	load_as(&res, "tgw.json",
		TGW_STATE(TGW_NO_PROPAGATION,
			  "," RES("aws_ec2_transit_gateway_route_table_propagation", "a",
				  "{'id':'z','transit_gateway_attachment_id':'tgw-attach-a',"
				  "'transit_gateway_route_table_id':'tgw-rtb-d'}")
			  "," RES("aws_ec2_transit_gateway_route_table_propagation", "b",
				  "{'id':'z2','transit_gateway_attachment_id':'tgw-attach-b',"
				  "'transit_gateway_route_table_id':'tgw-rtb-d'}")),
		false);
	expect_ok(&res);
	assert_int_equal(ssh(res.lab, "aws_instance.a", "aws_instance.b"), VERDICT_ACCEPT);
	done(&res);
#undef TGW_NO_PROPAGATION
#undef TGW_ATT_DEFAULTS
}
/* clang-format on */

/* Real plans and states by other projects: no error, never a crash. */
static void test_corpus(void **state)
{
	(void)state;
	const char *src = getenv("VPCFW_SOURCE_DIR");
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/../shared/corpus/terraform", src ? src : "..");
	DIR *d = opendir(dir);
	if (!d) {
		skip();
		return;
	}
	struct dirent *e;
	size_t n = 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".json"))
			continue;
		char path[2048];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct lab_load_opts o;
		lab_load_opts_init(&o);
		struct diag_list dl;
		diag_init(&dl);
		struct lab *lab = NULL;
		int r = lab_load(path, &o, &lab, &dl);
		if (r)
			dump(&dl);
		assert_int_equal(r, 0);
		lab_free(lab);
		diag_free(&dl);
		n++;
	}
	closedir(d);
	assert_true(n >= 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan_references),
	    cmocka_unit_test(test_state_modules_defaults),
	    cmocka_unit_test(test_union_and_nacls),
	    cmocka_unit_test(test_diagnostics),
	    cmocka_unit_test(test_vpc_rule_resources),
	    cmocka_unit_test(test_instance_interfaces),
	    cmocka_unit_test(test_assumed_placement),
	    cmocka_unit_test(test_address_in_lab_format),
	    cmocka_unit_test(test_hostile_shapes),
	    cmocka_unit_test(test_tgw_route_tables),
	    cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
