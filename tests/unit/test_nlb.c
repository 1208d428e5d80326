/*
 * rules/nlb.c, forward_nlb.c, load_aws_lb.c, load_lb_resolve.c: Network
 * Load Balancers. What an export holds (describe-load-balancers,
 * listeners, target groups, target health, attributes) and our format's
 * "load_balancers" load into nodes, listeners and targets, with errors and
 * warnings naming the file and JSON path; `check` evaluates the client's
 * flow through the node to a target with the client's address, and the
 * reply back through the node; the data path translates the destination
 * to the target and the source back on replies, found through the node's
 * conntrack zone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "labkit.h"
#include "fwdkit.h"
#include "forward.h"
#include "loadkit.h"
#include "nlb.h"
#include "pipeline.h"
#include "reach.h"
#include "reach-private.h"
#include "reachkit.h"

/* Our format: node n1 in pub (10.9.1.0/24, AZ a), n2 in pub2 (AZ b);
 * app1 (AZ a) and app2 (AZ b) admit 8080 from cl (10.9.3.0/24) only; the
 * edge NACL of pub denies 10.9.4.0/24. LB is spliced in. */
#define LAB_HEAD                                                                                   \
	"{'lab': 't', 'outside': [{'name': 'net', 'addr': '203.0.113.9'}],"                        \
	" 'vpcs': [{'name': 'v', 'cidr': '10.9.0.0/16',"                                           \
	"  'route_tables': [{'name': 'm', 'main': true, 'routes': [{'dest': '0.0.0.0/0', "         \
	"'target': 'igw'}]}],"                                                                     \
	"  'subnets': [{'name': 'pub', 'az': 'a', 'cidr': '10.9.1.0/24', 'nacl': 'edge'},"         \
	"   {'name': 'pub2', 'az': 'b', 'cidr': '10.9.5.0/24', 'nacl': 'open'},"                   \
	"   {'name': 'app', 'az': 'a', 'cidr': '10.9.2.0/24', 'nacl': 'open'},"                    \
	"   {'name': 'app2', 'az': 'b', 'cidr': '10.9.6.0/24', 'nacl': 'open'},"                   \
	"   {'name': 'cl', 'az': 'a', 'cidr': '10.9.3.0/24', 'nacl': 'open'},"                     \
	"   {'name': 'dn', 'az': 'a', 'cidr': '10.9.4.0/24', 'nacl': 'open'}],"                    \
	"  'nacls': [{'name': 'open', 'ingress': [{'rule': 100, 'action': 'allow', 'proto': "      \
	"'all', 'cidr': '0.0.0.0/0'}], 'egress': [{'rule': 100, 'action': 'allow', 'proto': "      \
	"'all', 'cidr': '0.0.0.0/0'}]},"                                                           \
	"   {'name': 'edge', 'ingress': [{'rule': 90, 'action': 'deny', 'proto': 'all', 'cidr': "  \
	"'10.9.4.0/24'}, {'rule': 100, 'action': 'allow', 'proto': 'all', 'cidr': "                \
	"'0.0.0.0/0'}], 'egress': [{'rule': 100, 'action': 'allow', 'proto': 'all', 'cidr': "      \
	"'0.0.0.0/0'}]}],"                                                                         \
	"  'security_groups': [{'name': 'app', 'ingress': [{'proto': 'tcp', 'ports': '8080', "     \
	"'from': '10.9.3.0/24'}]}, {'name': 'c'},"                                                 \
	"   {'name': 'lbsg', 'ingress': [{'proto': 'tcp', 'ports': '80', 'from': "                 \
	"'10.9.4.0/24'}]}],"                                                                       \
	"  'enis': [{'name': 'n1', 'subnet': 'pub', 'ip': ['10.9.1.50'], 'public_ip': "            \
	"'198.51.100.5', 'groups': " NODE_GROUPS ", 'instance': null},"                            \
	"   {'name': 'n2', 'subnet': 'pub2', 'ip': ['10.9.5.50'], 'groups': [], 'instance': "      \
	"null},"                                                                                   \
	"   {'name': 'app1', 'subnet': 'app', 'ip': ['10.9.2.10'], 'groups': ['app']},"            \
	"   {'name': 'app2', 'subnet': 'app2', 'ip': ['10.9.6.10'], 'groups': ['app']},"           \
	"   {'name': 'cli', 'subnet': 'cl', 'ip': ['10.9.3.10'], 'groups': ['c']},"                \
	"   {'name': 'cli2', 'subnet': 'dn', 'ip': ['10.9.4.10'], 'groups': ['c']}]}],"
#define NODE_GROUPS "[]"
#define LB_OK                                                                                      \
	"'load_balancers': [{'name': 'web', 'scheme': 'internet-facing', 'nodes': ['n1', 'n2'],"   \
	" 'listeners': [{'port': 80, 'target_port': 8080, 'targets': ['app1', 'app2']}]}]}"

static struct lab *load_ok(const char *json)
{
	struct result res;
	load_as(&res, "t.json", json, false);
	expect_ok(&res);
	diag_free(&res.d);
	return res.lab;
}

static struct pipeline_end eni_end(const struct lab *lab, const char *name)
{
	struct endpoint ep;
	assert_int_equal(lab_resolve_endpoint(lab, name, &ep), 0);
	return (struct pipeline_end){END_ENI, ep.eni, SERVICE_NONE};
}

static void run_check(const struct lab *lab, struct pipeline_end client, const char *from,
		      const char *to, uint16_t port, struct pipeline_check *c)
{
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.client = client;
	q.request = kit_flow(from, to, PROTO_TCP, port);
	pipeline_end_of_addr(lab, 0, &q.request.dst, &q.server);
	q.request.sport = 40000;
	q.has_sport = true;
	pipeline_check(lab, &q, c);
}

static const struct stage_verdict *rejecting(const struct pipeline_result *r)
{
	assert_true(r->rejected_at >= 0);
	return &r->stages[r->rejected_at];
}

/* The listener's route stage of a result. */
static const struct stage_verdict *nlb_stage(const struct pipeline_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->stages[i].stage == STAGE_ROUTE && r->stages[i].reason != REASON_ROUTE_IGW &&
		    r->stages[i].hop)
			if (r->stages[i].reason == REASON_ROUTE_NLB ||
			    r->stages[i].reason == REASON_NLB_NO_LISTENER ||
			    r->stages[i].reason == REASON_NLB_NO_TARGET)
				return &r->stages[i];
	fail_msg("no load balancer stage");
	return NULL;
}

static void test_lab_format_loads(void **state)
{
	(void)state;
	struct lab *lab = load_ok(LAB_HEAD LB_OK);
	assert_int_equal(lab->n_load_balancers, 1);
	const struct load_balancer *lb = &lab->load_balancers[0];
	assert_string_equal(lb->name, "web");
	assert_true(lb->internet_facing);
	assert_false(lb->cross_zone);
	assert_int_equal(lb->n_nodes, 2);
	assert_int_equal(lb->n_listeners, 1);
	assert_int_equal(lb->listeners[0].port, 80);
	assert_int_equal(lb->listeners[0].proto, PROTO_TCP);
	assert_string_equal(lb->listeners[0].group, "web-tg-80");
	assert_int_equal(lb->listeners[0].n_targets, 2);
	assert_int_equal(lb->listeners[0].targets[0].port, 8080);
	assert_true(lb->listeners[0].targets[0].healthy);
	assert_int_equal(nlb_of_node(lab, eni_end(lab, "n2").eni), 0);
	assert_int_equal(nlb_of_node(lab, eni_end(lab, "app1").eni), -1);
	lab_free(lab);
}

/* describe-* exports, including Batfish's collector shapes. */
static const char *const exp_names[] = {"x/Vpcs.json",
					"x/Subnets.json",
					"x/SecurityGroups.json",
					"x/NetworkInterfaces.json",
					"x/LoadBalancers.json",
					"x/LoadBalancerListeners.json",
					"x/TargetGroups.json",
					"x/LoadBalancerTargetHealth.json",
					"x/LoadBalancerAttributes.json"};
#define EXP_HEAD                                                                                   \
	"{'Vpcs': [{'VpcId': 'vpc-1', 'CidrBlock': '10.1.0.0/16'}]}",                              \
	    "{'Subnets': [{'SubnetId': 'subnet-a', 'VpcId': 'vpc-1', 'CidrBlock': "                \
	    "'10.1.1.0/24', 'AvailabilityZone': 'z1'}]}",                                          \
	    "{'SecurityGroups': [{'GroupId': 'sg-1', 'VpcId': 'vpc-1', 'IpPermissions': [], "      \
	    "'IpPermissionsEgress': []}]}",                                                        \
	    "{'NetworkInterfaces': [{'NetworkInterfaceId': 'eni-n', 'SubnetId': 'subnet-a', "      \
	    "'PrivateIpAddress': '10.1.1.5', 'InterfaceType': 'network_load_balancer', "           \
	    "'Description': 'ELB net/lb1/abc', 'Groups': []}, {'NetworkInterfaceId': 'eni-t', "    \
	    "'SubnetId': 'subnet-a', 'PrivateIpAddress': '10.1.1.9', 'Groups': [{'GroupId': "      \
	    "'sg-1'}], 'Attachment': {'InstanceId': 'i-t', 'DeviceIndex': 0}}]}",                  \
	    "{'LoadBalancers': [{'LoadBalancerName': 'lb1', 'LoadBalancerArn': 'arn:lb1', "        \
	    "'Type': 'network', 'Scheme': 'internal', 'VpcId': 'vpc-1', 'AvailabilityZones': "     \
	    "[{'SubnetId': 'subnet-a', 'ZoneName': 'z1'}]}]}"
#define EXP_TAIL                                                                                   \
	"{'TargetGroups': [{'TargetGroupArn': 'arn:tg1', 'TargetGroupName': 'tg1', 'Port': 80, "   \
	"'Protocol': 'TCP', 'TargetType': 'instance'}]}",                                          \
	    "{'LoadBalancerTargetHealth': [{'TargetGroupArn': 'arn:tg1', "                         \
	    "'TargetHealthDescriptions': [{'Target': {'Id': 'i-t', 'Port': 22}, 'TargetHealth': "  \
	    "{'State': 'healthy'}}, {'Target': {'Id': 'i-gone'}, 'TargetHealth': {'State': "       \
	    "'unhealthy'}}]}]}",                                                                   \
	    "{'LoadBalancerAttributes': [{'LoadBalancerArn': 'arn:lb1', 'Attributes': [{'Key': "   \
	    "'load_balancing.cross_zone.enabled', 'Value': 'true'}]}]}"
#define LISTENERS(port)                                                                            \
	"{'LoadBalancerListeners': [{'LoadBalancerArn': 'arn:lb1', 'Listeners': [{'Port': " port   \
	", 'Protocol': 'TCP', 'DefaultActions': [{'Type': 'forward', 'TargetGroupArn': "           \
	"'arn:tg1'}]}]}]}"

static void test_exports_load(void **state)
{
	(void)state;
	const char *const docs[] = {EXP_HEAD, LISTENERS("80"), EXP_TAIL};
	struct result res;
	load_many(&res, 9, exp_names, docs);
	expect_ok(&res);
	struct lab *lab = res.lab;
	assert_int_equal(lab->n_load_balancers, 1);
	const struct load_balancer *lb = &lab->load_balancers[0];
	assert_false(lb->internet_facing);
	assert_true(lb->cross_zone);
	assert_int_equal(lb->n_nodes, 1);
	assert_string_equal(lab->enis[lb->nodes[0]].id, "eni-n");
	assert_int_equal(lb->listeners[0].n_targets, 1); /* i-gone is not in the lab */
	assert_int_equal(lb->listeners[0].targets[0].port, 22);
	assert_string_equal(lab->enis[lb->listeners[0].targets[0].eni].id, "eni-t");
	assert_true(has(&res.d, DIAG_WARNING, "x/LoadBalancerTargetHealth.json",
			"LoadBalancerTargetHealth[0].TargetHealthDescriptions[1].Target.Id",
			"target i-gone is not in the lab: flows to it are refused at the load "
			"balancer"));
	done(&res);
}

static void test_loader_errors(void **state)
{
	(void)state;
	const char *const docs[] = {EXP_HEAD, LISTENERS("70000"), EXP_TAIL};
	struct result res;
	load_many(&res, 9, exp_names, docs);
	expect_fail(&res);
	assert_true(has(&res.d, DIAG_ERROR, "x/LoadBalancerListeners.json",
			"LoadBalancerListeners[0].Listeners[0].Port",
			"port 70000 is outside 1-65535"));
	done(&res);
	/* aws_elb and the NLB reader read one object: one error, not two */
	one_error("{'LoadBalancers': [{'Type': 'network'}]}", "LoadBalancers[0].LoadBalancerName",
		  "required key is missing");
	one_warning("{'Vpcs': [{'VpcId': 'vpc-1', 'CidrBlock': '10.0.0.0/16'}], 'NetworkAcls': [], "
		    "'Listeners': [{'Port': 80, 'LoadBalancerArn': 'arn:x'}]}",
		    "Listeners[0]",
		    "listener of load balancer arn:x, which is not in the lab: ignored");
	one_error(LAB_HEAD "'load_balancers': [{'name': 'w', 'nodes': ['nope'], 'listeners': []}]}",
		  "load_balancers[0].nodes[0]", "no ENI named 'nope' in the lab");
	one_error(LAB_HEAD "'load_balancers': [{'name': 'w', 'nodes': ['n1'], 'listeners': "
			   "[{'port': 80, 'targets': ['app1'], 'prot': 'TCP'}]}]}",
		  "load_balancers[0].listeners[0].prot", "unknown key");
	one_error(LAB_HEAD "'load_balancers': [{'name': 'w', 'nodes': ['n1'], 'listeners': "
			   "[{'port': 80, 'protocol': 'SCTP', 'targets': ['app1']}]}]}",
		  "load_balancers[0].listeners[0].protocol",
		  "unknown listener protocol 'SCTP' (TCP, TLS, UDP, TCP_UDP)");
	one_warning(LAB_HEAD "'load_balancers': [{'name': 'w', 'nodes': ['n1'], 'listeners': "
			     "[{'port': 80, 'targets': ['10.9.9.9']}]}]}",
		    "load_balancers[0].listeners[0].targets[0]",
		    "target 10.9.9.9 is an address no ENI of the lab has: flows to it are refused "
		    "at the load balancer");
}

static void test_check_verdicts(void **state)
{
	(void)state;
	struct lab *lab = load_ok(LAB_HEAD LB_OK);
	struct pipeline_check c;
	/* the listener: on to app1 (same zone as n1), the client's address kept */
	run_check(lab, eni_end(lab, "cli"), "10.9.3.10", "10.9.1.50", 80, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	const struct stage_verdict *v = nlb_stage(&c.request);
	assert_int_equal(v->reason, REASON_ROUTE_NLB);
	assert_int_equal(lab->load_balancers[0].listeners[0].targets[v->lb_target].eni,
			 eni_end(lab, "app1").eni);
	const struct stage_verdict *last = &c.request.stages[c.request.n - 1];
	assert_int_equal(last->stage, STAGE_SG_INGRESS);
	assert_int_equal(last->eni, eni_end(lab, "app1").eni);
	assert_int_equal(nlb_stage(&c.response)->reason, REASON_ROUTE_NLB);
	/* node n2 (zone b, no cross-zone) sends to app2 only */
	run_check(lab, eni_end(lab, "cli"), "10.9.3.10", "10.9.5.50", 80, &c);
	v = nlb_stage(&c.request);
	assert_int_equal(lab->load_balancers[0].listeners[0].targets[v->lb_target].eni,
			 eni_end(lab, "app2").eni);
	/* no listener on 81: refused at the node */
	run_check(lab, eni_end(lab, "cli"), "10.9.3.10", "10.9.1.50", 81, &c);
	assert_int_equal(rejecting(&c.request)->reason, REASON_NLB_NO_LISTENER);
	/* the node subnet's NACL denies the client */
	run_check(lab, eni_end(lab, "cli2"), "10.9.4.10", "10.9.1.50", 80, &c);
	v = rejecting(&c.request);
	assert_int_equal(v->stage, STAGE_NACL_INGRESS);
	assert_int_equal(v->rule_number, 90);
	/* from outside by the public IP: the target's group sees 203.0.113.9 */
	run_check(lab, (struct pipeline_end){END_OUTSIDE, -1, SERVICE_NONE}, "203.0.113.9",
		  "10.9.1.50", 80, &c);
	v = rejecting(&c.request);
	assert_int_equal(v->stage, STAGE_SG_INGRESS);
	assert_int_equal(v->reason, REASON_NO_RULE);
	assert_int_equal(v->eni, eni_end(lab, "app1").eni);
	lab_free(lab);
}

/* A node with groups (NLBs may have them): they filter at the node. */
static void test_node_groups(void **state)
{
	(void)state;
#undef NODE_GROUPS
#define NODE_GROUPS "['lbsg']"
	struct lab *lab = load_ok(LAB_HEAD LB_OK);
	struct pipeline_check c;
	run_check(lab, eni_end(lab, "cli"), "10.9.3.10", "10.9.1.50", 80, &c);
	const struct stage_verdict *v = rejecting(&c.request);
	assert_int_equal(v->stage, STAGE_SG_INGRESS);
	assert_int_equal(v->eni, eni_end(lab, "n1").eni);
	assert_true(v->hop);
	lab_free(lab);
}
#undef NODE_GROUPS
#define NODE_GROUPS "[]"

/* No healthy target: an NLB fails open; the pick is stable per flow. */
static void test_choose_target(void **state)
{
	(void)state;
	struct lab *lab = load_ok(LAB_HEAD "'load_balancers': [{'name': 'w', 'nodes': ['n1'], "
					   "'cross_zone': true, 'listeners': [{'port': 80, "
					   "'target_port': 8080, 'targets': [{'target': 'app1', "
					   "'healthy': false}, 'app2']}]}]}");
	struct flow f = kit_flow("10.9.3.10", "10.9.1.50", PROTO_TCP, 80);
	for (uint16_t p = 1000; p < 1050; p++) {
		f.sport = p;
		assert_int_equal(nlb_choose_target(lab, 0, 0, 0, &f), 1); /* only app2 is healthy */
	}
	lab->load_balancers[0].listeners[0].targets[1].healthy = false;
	bool seen[2] = {false, false};
	for (uint16_t p = 1000; p < 1050; p++) {
		f.sport = p;
		int32_t t = nlb_choose_target(lab, 0, 0, 0, &f);
		assert_true(t == 0 || t == 1);
		assert_int_equal(nlb_choose_target(lab, 0, 0, 0, &f), t);
		seen[t] = true;
	}
	assert_true(seen[0] && seen[1]);
	lab_free(lab);
}

/* The data path: SYN to the node -> to the target's 8080; the target's
 * SYN-ACK -> from the node's 80, found through the node's zone. */
static void test_forward_translation(void **state)
{
	(void)state;
	struct lab *lab = load_ok(LAB_HEAD LB_OK);
	struct conntrack *ct = make_ct(lab->n_enis);
	int32_t cli = eni_end(lab, "cli").eni, app1 = eni_end(lab, "app1").eni;
	struct fwd_decision d;
	struct pkt syn = tcp_pkt("10.9.3.10", "10.9.1.50", 40000, 80, PKT_TCP_SYN);
	forward_packet(lab, ct, 1000000000ull, &(struct fwd_port){FWD_PORT_ENI, cli}, &syn, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_int_equal(d.egress.index, app1);
	assert_true(d.xlate.dst.has_addr && d.xlate.dst.has_port);
	assert_true(ip_addr_eq(&d.xlate.dst.addr, &lab->enis[app1].ipv4[0]));
	assert_int_equal(d.xlate.dst.port, 8080);
	forward_commit(ct, 1000000000ull, 0, &syn, &d);
	assert_int_equal(d.drop, FWD_PASS);
	struct pkt synack =
	    tcp_pkt("10.9.2.10", "10.9.3.10", 8080, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	forward_packet(lab, ct, 1100000000ull, &(struct fwd_port){FWD_PORT_ENI, app1}, &synack, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_int_equal(d.egress.index, cli);
	assert_true(d.xlate.src.has_addr && d.xlate.src.has_port);
	assert_true(ip_addr_eq(&d.xlate.src.addr, &lab->enis[eni_end(lab, "n1").eni].ipv4[0]));
	assert_int_equal(d.xlate.src.port, 80);
	assert_true(d.nlb.reply);
	forward_commit(ct, 1100000000ull, 0, &synack, &d);
	/* app1's own connection to cli from 8080, never through the node: as it is */
	struct pkt other = tcp_pkt("10.9.2.10", "10.9.3.10", 8080, 41000, PKT_TCP_SYN);
	forward_packet(lab, ct, 1200000000ull, &(struct fwd_port){FWD_PORT_ENI, app1}, &other, &d);
	assert_false(d.xlate.src.has_addr);
	assert_int_equal(d.nlb.lb, -1);
	ct_destroy(ct);
	lab_free(lab);
}

/* docs/deviations.md: a target no ENI of the lab has is refused at the node. */
static void test_no_target(void **state)
{
	(void)state;
	struct result res;
	load_as(&res, "t.json",
		LAB_HEAD "'load_balancers': [{'name': 'w', 'nodes': ['n1'], 'listeners': "
			 "[{'port': 80, 'targets': ['10.9.9.9']}]}]}",
		false);
	expect_ok(&res);
	struct pipeline_check c;
	run_check(res.lab, eni_end(res.lab, "cli"), "10.9.3.10", "10.9.1.50", 80, &c);
	const struct stage_verdict *v = rejecting(&c.request);
	assert_int_equal(v->stage, STAGE_ROUTE);
	assert_int_equal(v->reason, REASON_NLB_NO_TARGET);
	char why[512];
	struct flow req = kit_flow("10.9.3.10", "10.9.1.50", PROTO_TCP, 80);
	pipeline_explain(res.lab, v, &req, why, sizeof(why));
	assert_non_null(strstr(why, "load balancer w"));
	done(&res);
}

static bool has_text(const struct diag_list *d, const char *text)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->items[i].msg, text))
			return true;
	return false;
}

/* A node whose load balancer is not described: warned (docs/deviations.md),
 * and nothing passes it. */
static void test_orphan_node(void **state)
{
	(void)state;
	struct result res;
	load_as(&res, "t.json", LAB_HEAD "'load_balancers': []}", false);
	expect_ok(&res);
	assert_false(has_text(&res.d, "Network Load Balancer the lab does not describe"));
	done(&res);
	const char *doc = "{'vpcs': [{'name': 'v', 'cidr': '10.9.0.0/16', 'subnets': [{'name': "
			  "'s', 'cidr': '10.9.1.0/24'}], 'security_groups': [{'name': 'g'}], "
			  "'enis': [{'name': 'n', 'id': 'eni-n', 'subnet': 's', 'ip': "
			  "['10.9.1.50'], 'groups': [], 'instance': null, 'description': 'ELB "
			  "net/web/0123'}, {'name': 'c', 'subnet': 's', 'ip': ['10.9.1.10'], "
			  "'groups': ['g']}]}]}";
	load_as(&res, "t.json", doc, false);
	expect_ok(&res);
	assert_true(has(&res.d, DIAG_WARNING, "t.json", "vpcs[0].enis[0]",
			"ENI eni-n is a node of a Network Load Balancer the lab does not describe "
			"(describe-load-balancers, describe-listeners, describe-target-groups): "
			"nothing passes it"));
	struct pipeline_check c;
	run_check(res.lab, eni_end(res.lab, "c"), "10.9.1.10", "10.9.1.50", 80, &c);
	assert_int_equal(rejecting(&c.request)->stage, STAGE_SG_INGRESS);
	done(&res);
}

/* The changes from cli to n1 covering TCP port, or NULL. */
static const struct reach_change *change_at(const struct reach_changes *ch, const char *to,
					    uint16_t port)
{
	for (size_t i = 0; i < ch->n; i++) {
		const struct reach_change *c = &ch->items[i];
		if (!strcmp(c->from, "cli") && !strcmp(c->to, to) && c->cls == REACH_TCP &&
		    c->lo <= port && port <= c->hi)
			return c;
	}
	return NULL;
}

static void diff_of(const char *old_json, const char *new_json, struct reach_changes *ch)
{
	struct lab *a = load_ok(old_json), *b = load_ok(new_json);
	struct reach_opts o;
	reach_opts_init(&o);
	reach_changes_init(ch);
	assert_int_equal(reach_diff(a, b, &o, ch), 0);
	/* by class and pair by pair alike */
	struct reach_changes pw;
	reach_changes_init(&pw);
	o.pairwise = true;
	assert_int_equal(reach_diff(a, b, &o, &pw), 0);
	assert_int_equal(pw.n, ch->n);
	reach_changes_free(&pw);
	lab_free(a);
	lab_free(b);
}

/* diff follows a node's listener to its targets, as check does: a listener
 * moved from 80 to 81, a target's group that stops admitting the client,
 * the node subnet's NACL that stops letting the node reach the target,
 * each closes cli -> n1 on 80 (and the move opens 81). */
static void test_diff_follows(void **state)
{
	(void)state;
	struct reach_changes ch;
	diff_of(LAB_HEAD LB_OK,
		LAB_HEAD "'load_balancers': [{'name': 'web', 'nodes': ['n1', 'n2'], "
			 "'listeners': [{'port': 81, 'target_port': 8080, 'targets': ['app1', "
			 "'app2']}]}]}",
		&ch);
	const struct reach_change *c = change_at(&ch, "n1", 80);
	assert_non_null(c);
	assert_false(c->open);
	assert_non_null(strstr(c->rule, "load balancer web"));
	c = change_at(&ch, "n1", 81);
	assert_non_null(c);
	assert_true(c->open);
	assert_null(change_at(&ch, "n1", 79));
	reach_changes_free(&ch);

	/* the targets' group admits 8081 instead of 8080 */
	char *old = strdup(LAB_HEAD LB_OK), *neu = strdup(LAB_HEAD LB_OK);
	char *p = strstr(neu, "'ports': '8080'");
	assert_non_null(p);
	memcpy(p, "'ports': '8081'", strlen("'ports': '8081'"));
	diff_of(old, neu, &ch);
	c = change_at(&ch, "n1", 80);
	assert_non_null(c);
	assert_false(c->open);
	assert_string_equal(c->stage, "sg-ingress");
	assert_non_null(strstr(c->rule, "8080"));
	assert_non_null(change_at(&ch, "n2", 80)); /* n2's target app2 too */
	assert_non_null(change_at(&ch, "app1", 8080));
	reach_changes_free(&ch);
	free(neu);

	/* the node subnet's NACL stops letting anything out to app (10.9.2.0/24) */
	neu = strdup(LAB_HEAD LB_OK);
	const char *was = "'egress': [{'rule': 100, 'action': 'allow', 'proto': 'all', 'cidr': "
			  "'0.0.0.0/0'}]}]";
	p = strstr(neu, was);
	assert_non_null(p);
	const char *now = "'egress': [{'rule': 10, 'action': 'deny', 'proto': 'all', 'cidr': "
			  "'10.9.2.0/24'}, {'rule': 100, 'action': 'allow', 'proto': 'all', "
			  "'cidr': '0.0.0.0/0'}]}]";
	size_t len = strlen(neu) - strlen(was) + strlen(now) + 1;
	char *buf = malloc(len);
	snprintf(buf, len, "%.*s%s%s", (int)(p - neu), neu, now, p + strlen(was));
	diff_of(old, buf, &ch);
	c = change_at(&ch, "n1", 80);
	assert_non_null(c);
	assert_false(c->open);
	assert_string_equal(c->stage, "nacl-egress");
	assert_null(change_at(&ch, "n2", 80)); /* n2 (subnet pub2) sends to app2 */
	reach_changes_free(&ch);
	free(buf);
	free(neu);
	free(old);
}

/* check's verdict on key k of class c from src to node: every flow, i.e.
 * the conjunction over source ports enough to reach every target the
 * node may choose (the hash spreads them), each with its reply over the
 * whole ephemeral range as diff evaluates it. */
static bool check_all(const struct lab *lab, const struct pipeline_end *src,
		      const struct pipeline_end *node, const struct ip_addr *sa,
		      const struct ip_addr *da, enum reach_class c, uint32_t k,
		      const struct reach_opts *o)
{
	bool ports = c == REACH_TCP || c == REACH_UDP;
	for (int s = 0; s < (ports ? 24 : 1); s++)
		if (!reachkit_check(lab, src, node, sa, da, c, k, (uint16_t)(o->eph_lo + s), o,
				    false))
			return false;
	return true;
}

/* Key by key, diff's path from src to node agrees with check_all. */
static size_t agree_path(const struct lab *lab, const struct pipeline_end *src,
			 const struct pipeline_end *node, const struct ip_addr *sa,
			 enum reach_class c, const struct reach_opts *o, bool *followed)
{
	const struct ip_addr *da = &lab->enis[node->eni].ipv4[0];
	struct reach_path p;
	*followed = reach_nlb_follows(lab, src, node, da);
	if (*followed)
		assert_int_equal(reach_nlb_build(lab, NULL, src, node->eni, sa, da, c, o, &p), 0);
	else
		assert_int_equal(reach_path_build(lab, src, node, sa, da, c, o, &p), 0);
	uint32_t keys[64] = {0, 1, 79, 80, 81, 443, 8080, 8081, 53, 1024, 65535, 0x0800, 6, 17, 47};
	size_t nk = 15, checked = 0;
	for (size_t m = 0; m < p.n_maps; m++)
		for (size_t i = 0; i < p.maps[m].n && nk + 2 < 64; i++) {
			keys[nk++] = p.maps[m].segs[i].lo;
			keys[nk++] = p.maps[m].segs[i].hi;
		}
	for (size_t i = 0; i < nk; i++) {
		uint32_t k = keys[i];
		if (k > p.key_max || (c == REACH_OTHER && (k == 1 || k == 6 || k == 17 || k == 58)))
			continue;
		bool want = check_all(lab, src, node, sa, da, c, k, o);
		bool got = reach_path_accepts(&p, k, NULL);
		if (want != got)
			fail_msg("%s -> %s class %d key %u: check %d, diff %d",
				 src->kind == END_ENI ? lab->enis[src->eni].id : "outside",
				 lab->enis[node->eni].id, c, k, want, got);
		checked++;
	}
	reach_path_free(&p);
	return checked;
}

/* Every client (each ENI, an outside host) to every node of lab. */
static size_t agree_lab(const char *json, size_t *followed)
{
	struct lab *lab = load_ok(json);
	struct reach_opts o;
	reach_opts_init(&o);
	struct ip_addr out = kit_addr("203.0.113.9");
	size_t checked = 0;
	const struct load_balancer *lb = &lab->load_balancers[0];
	for (size_t n = 0; n < lb->n_nodes; n++) {
		struct pipeline_end node = {END_ENI, lb->nodes[n], SERVICE_NONE};
		for (size_t i = 0; i <= lab->n_enis; i++) {
			if ((int32_t)i == node.eni)
				continue;
			struct pipeline_end src = {END_OUTSIDE, -1, SERVICE_NONE};
			const struct ip_addr *sa = &out;
			if (i < lab->n_enis) {
				src = (struct pipeline_end){END_ENI, (int32_t)i, SERVICE_NONE};
				sa = &lab->enis[i].ipv4[0];
			}
			for (int c = 0; c < REACH__COUNT; c++) {
				bool f;
				checked +=
				    agree_path(lab, &src, &node, sa, (enum reach_class)c, &o, &f);
				*followed += f;
			}
		}
	}
	lab_free(lab);
	return checked;
}

/* diff's paths to nodes agree with check key by key: nodes with and
 * without groups and public IPs, cross-zone, unhealthy targets, targets
 * that disagree (one refuses: the key is closed), a target outside the
 * lab, a UDP listener. */
static void test_diff_agrees_with_check(void **state)
{
	(void)state;
	size_t checked = 0, followed = 0;
	checked += agree_lab(LAB_HEAD LB_OK, &followed);
#undef NODE_GROUPS
#define NODE_GROUPS "['lbsg']"
	checked += agree_lab(LAB_HEAD LB_OK, &followed);
#undef NODE_GROUPS
#define NODE_GROUPS "[]"
	checked += agree_lab(
	    LAB_HEAD "'load_balancers': [{'name': 'w', 'nodes': ['n1', 'n2'], 'cross_zone': true, "
		     "'listeners': [{'port': 80, 'target_port': 8080, 'targets': [{'target': "
		     "'app1', 'healthy': false}, 'app2', 'cli2']}, {'port': 443, 'target_port': "
		     "8080, 'targets': ['app1', 'app2', 'cli']}, {'port': 53, 'protocol': 'UDP', "
		     "'target_port': 8080, 'targets': ['app1']}]}]}",
	    &followed);
	checked += agree_lab(
	    LAB_HEAD "'load_balancers': [{'name': 'w', 'nodes': ['n1'], 'cross_zone': true, "
		     "'listeners': [{'port': 80, 'target_port': 8080, 'targets': ['app1', "
		     "'10.9.9.9']}, {'port': 8080, 'targets': ['app1', 'app2']}]}]}",
	    &followed);
	/* cli a target of its own flows (loopback): refused, as check's reply
	 * never leaves it; cli admits 8080 from its own subnet here */
	const char *lab_self =
	    LAB_HEAD "'load_balancers': [{'name': 'w', 'nodes': ['n1'], "
		     "'cross_zone': true, 'listeners': [{'port': 80, 'target_port': "
		     "8080, 'targets': ['app1', 'cli']}]}]}";
	const char *was = "'ip': ['10.9.3.10'], 'groups': ['c']";
	const char *g = strstr(lab_self, was);
	assert_non_null(g);
	size_t len = strlen(lab_self) + 8;
	char *self = malloc(len);
	snprintf(self, len, "%.*s'ip': ['10.9.3.10'], 'groups': ['app']%s", (int)(g - lab_self),
		 lab_self, g + strlen(was));
	checked += agree_lab(self, &followed);
	free(self);
	print_message("nlb agreement: %zu keys on %zu followed paths agree with check\n", checked,
		      followed);
	assert_true(followed > 100);
	assert_true(checked > 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lab_format_loads),
	    cmocka_unit_test(test_exports_load),
	    cmocka_unit_test(test_loader_errors),
	    cmocka_unit_test(test_check_verdicts),
	    cmocka_unit_test(test_node_groups),
	    cmocka_unit_test(test_choose_target),
	    cmocka_unit_test(test_forward_translation),
	    cmocka_unit_test(test_orphan_node),
	    cmocka_unit_test(test_diff_follows),
	    cmocka_unit_test(test_diff_agrees_with_check),
	    cmocka_unit_test(test_no_target),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
