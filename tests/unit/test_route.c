/*
 * rules/route*.c: the route stage's paths past one VPC's internet gateway
 * (AWS-SEMANTICS §9). A NAT gateway: the private subnet's route to it, its
 * subnet's NACL inbound and outbound (no SG), its subnet's route to the
 * internet gateway, its Elastic IP the source outside; replies come back
 * over the NAT gateway's ports 1024-65535; nothing from outside opens a
 * connection through it. Each path positive and negative, and `diff`
 * seeing a NAT route come and go.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "diag.h"
#include "labkit.h"
#include "load.h"
#include "loadkit.h"
#include "pipeline.h"
#include "reach.h"

static const int32_t END = -1;

/* A NAT gateway of the lab (describe-nat-gateways as the loader keeps it). */
static int32_t kit_nat(struct lab *lab, const char *id, const char *subnet, const char *priv,
		       const char *pub, const char *state)
{
	if (!lab->gateways)
		lab->gateways = kit_alloc(lab, KIT_MAX, sizeof(struct gateway));
	struct gateway *g = &lab->gateways[lab->n_gateways];
	memset(g, 0, sizeof(*g));
	g->kind = GW_NAT;
	g->id = kit_str(lab, id);
	g->vpc = 0;
	g->state = kit_str(lab, state);
	g->detail = "public";
	g->subnet_ids = kit_alloc(lab, 1, sizeof(char *));
	g->subnet_ids[0] = kit_str(lab, subnet);
	g->n_subnet_ids = 1;
	g->has_private_ip = true;
	g->private_ip = kit_addr(priv);
	g->has_public_ip = pub != NULL;
	if (pub)
		g->public_ip = kit_addr(pub);
	return (int32_t)lab->n_gateways++;
}

/* One VPC: a public subnet holding the NAT gateway (its own NACL, an igw
 * route) and a private subnet routing 0/0 to it (the default NACL). The
 * NAT subnet's NACL lets in what the private subnet sends to port 80/443
 * and replies to the NAT gateway's ports; it lets out port 80/443 and the
 * replies to the private subnet's ephemeral ports. */
struct nat_lab {
	struct lab *lab;
	int32_t vpc, acl_def, acl_nat, rt_pub, rt_priv, sn_pub, sn_priv;
	int32_t g_app, app, nat_eni, jump, nat;
};

static struct nat_lab nat_lab(bool with_nat_route)
{
	struct nat_lab n;
	struct lab *lab = n.lab = kit_new();
	n.vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8:1::/56");
	n.acl_def = kit_nacl(lab, "acl-def", n.vpc, true);
	kit_nacl_rule(lab, n.acl_def, false, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
	kit_nacl_rule(lab, n.acl_def, true, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
	kit_nacl_rule(lab, n.acl_def, false, 101, true, PROTO_ALL, "::/0", 0, 0);
	kit_nacl_rule(lab, n.acl_def, true, 101, true, PROTO_ALL, "::/0", 0, 0);
	n.acl_nat = kit_nacl(lab, "acl-nat", n.vpc, false);
	kit_nacl_rule(lab, n.acl_nat, false, 100, true, PROTO_TCP, "10.0.2.0/24", 80, 443);
	kit_nacl_rule(lab, n.acl_nat, false, 110, true, PROTO_TCP, "0.0.0.0/0", 1024, 65535);
	kit_nacl_icmp(lab, n.acl_nat, false, 120, true, PROTO_ICMP, "0.0.0.0/0", -1, -1);
	kit_nacl_rule(lab, n.acl_nat, true, 100, true, PROTO_TCP, "0.0.0.0/0", 80, 443);
	kit_nacl_rule(lab, n.acl_nat, true, 110, true, PROTO_TCP, "10.0.2.0/24", 32768, 60999);
	kit_nacl_icmp(lab, n.acl_nat, true, 120, true, PROTO_ICMP, "0.0.0.0/0", -1, -1);
	n.rt_priv = kit_route_table(lab, "rtb-priv", n.vpc, true);
	kit_route(lab, n.rt_priv, "10.0.0.0/16", "local");
	if (with_nat_route) {
		kit_route(lab, n.rt_priv, "0.0.0.0/0", "nat-1");
		kit_route(lab, n.rt_priv, "64:ff9b::/96", "nat-1"); /* NAT64 */
	}
	n.rt_pub = kit_route_table(lab, "rtb-pub", n.vpc, false);
	kit_route(lab, n.rt_pub, "10.0.0.0/16", "local");
	kit_route(lab, n.rt_pub, "0.0.0.0/0", "igw-1");
	n.sn_pub = kit_subnet(lab, "subnet-pub", n.vpc, "10.0.1.0/24", NULL, n.acl_nat, n.rt_pub);
	n.sn_priv =
	    kit_subnet(lab, "subnet-priv", n.vpc, "10.0.2.0/24", "2001:db8:1:2::/64", -1, -1);
	n.g_app = kit_group(lab, "sg-app", "app", n.vpc);
	kit_sg_rule(lab, n.g_app, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, n.g_app, true, PROTO_ALL, -1, -1, "::/0");
	n.app = kit_eni(lab, "eni-app", "app", n.sn_priv, "10.0.2.20", "2001:db8:1:2::20", NULL,
			(int32_t[]){n.g_app, END});
	n.nat_eni = kit_eni(lab, "eni-nat", NULL, n.sn_pub, "10.0.1.50", NULL, "198.51.100.7",
			    (int32_t[]){END});
	n.jump = kit_eni(lab, "eni-jump", "jump", n.sn_pub, "10.0.1.10", NULL, NULL,
			 (int32_t[]){n.g_app, END});
	n.nat = kit_nat(lab, "nat-1", "subnet-pub", "10.0.1.50", "198.51.100.7", "available");
	kit_finish(lab);
	return n;
}

static struct pipeline_end eni_end(int32_t eni)
{
	return (struct pipeline_end){.kind = END_ENI, .eni = eni, .service = SERVICE_NONE};
}

static struct pipeline_end outside_end(void)
{
	return (struct pipeline_end){.kind = END_OUTSIDE, .eni = -1, .service = SERVICE_NONE};
}

static void check(const struct lab *lab, struct pipeline_end client, struct pipeline_end server,
		  struct flow f, struct pipeline_check *c)
{
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.client = client;
	q.server = server;
	q.request = f;
	pipeline_check(lab, &q, c);
}

static void expect_stage(const struct stage_verdict *v, enum pipeline_stage stage,
			 enum pipeline_verdict verdict, int32_t subnet, bool hop)
{
	assert_int_equal(v->stage, stage);
	assert_int_equal(v->verdict, verdict);
	assert_int_equal(v->subnet, subnet);
	assert_int_equal(v->hop, hop);
}

/* The NAT gateway's hops in both directions, each named. */
static void test_nat_outbound_and_back(void **state)
{
	(void)state;
	struct nat_lab n = nat_lab(true);
	struct pipeline_check c;
	struct flow f = kit_flow("10.0.2.20", "203.0.113.5", PROTO_TCP, 80);
	check(n.lab, eni_end(n.app), outside_end(), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	const struct pipeline_result *r = &c.request;
	assert_int_equal(r->n, 7);
	expect_stage(&r->stages[1], STAGE_NACL_EGRESS, VERDICT_ACCEPT, n.sn_priv, false);
	expect_stage(&r->stages[2], STAGE_ROUTE, VERDICT_ACCEPT, n.sn_priv, false);
	assert_int_equal(r->stages[2].reason, REASON_ROUTE_NAT);
	expect_stage(&r->stages[3], STAGE_NACL_INGRESS, VERDICT_ACCEPT, n.sn_pub, true);
	assert_int_equal(r->stages[3].rule_number, 100);
	assert_int_equal(r->stages[3].gateway, n.nat);
	expect_stage(&r->stages[4], STAGE_NACL_EGRESS, VERDICT_ACCEPT, n.sn_pub, true);
	assert_int_equal(r->stages[4].rule_number, 100);
	assert_int_equal(r->stages[5].reason, REASON_OUTSIDE);
	char why[512];
	assert_string_equal(
	    pipeline_explain(n.lab, &r->stages[2], &f, why, sizeof(why)),
	    "rtb-priv: 0.0.0.0/0 -> nat-1 (NAT gateway in subnet-pub), then rtb-pub: "
	    "0.0.0.0/0 -> igw-1; 203.0.113.5 sees the source 198.51.100.7");
	assert_string_equal(
	    pipeline_explain(n.lab, &r->stages[3], &f, why, sizeof(why)),
	    "at NAT gateway nat-1, entering its subnet: acl-nat rule 100: allow tcp "
	    "80-443 from 10.0.2.0/24");
	/* the reply: to the NAT gateway's ports, then to the client's */
	const struct pipeline_result *b = &c.response;
	assert_int_equal(b->n, 7);
	expect_stage(&b->stages[2], STAGE_ROUTE, VERDICT_ACCEPT, n.sn_priv, false);
	expect_stage(&b->stages[3], STAGE_NACL_INGRESS, VERDICT_ACCEPT, n.sn_pub, true);
	assert_int_equal(b->stages[3].rule_number, 110);
	assert_int_equal(b->stages[3].port_lo, 1024);
	assert_int_equal(b->stages[3].port_hi, 65535);
	expect_stage(&b->stages[4], STAGE_NACL_EGRESS, VERDICT_ACCEPT, n.sn_pub, true);
	assert_int_equal(b->stages[4].rule_number, 110);
	assert_int_equal(b->stages[4].port_lo, 32768);
	expect_stage(&b->stages[5], STAGE_NACL_INGRESS, VERDICT_ACCEPT, n.sn_priv, false);
	assert_int_equal(b->stages[6].reason, REASON_TRACKED);
	/* ICMP echo passes too; one packet of it has the same seven stages */
	struct flow ping = kit_icmp("10.0.2.20", "203.0.113.5", PROTO_ICMP, 8, 0);
	check(n.lab, eni_end(n.app), outside_end(), ping, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	struct pipeline_result p;
	struct pipeline_end app = eni_end(n.app), out = outside_end();
	pipeline_evaluate(n.lab, &app, &out, &ping, 0, &p);
	assert_int_equal(p.verdict, VERDICT_ACCEPT);
	assert_int_equal(p.n, 7);
	kit_free(n.lab);
}

/* The NAT gateway's subnet's NACL decides both ways. */
static void test_nat_subnet_nacl(void **state)
{
	(void)state;
	struct nat_lab n = nat_lab(true);
	struct pipeline_check c;
	/* port 22 is not let into the NAT gateway's subnet */
	struct flow f = kit_flow("10.0.2.20", "203.0.113.5", PROTO_TCP, 22);
	check(n.lab, eni_end(n.app), outside_end(), f, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.request.rejected_at, 3);
	assert_true(c.request.stages[3].hop);
	assert_int_equal(c.request.stages[3].rule_number, NACL_RULE_STAR_V4);
	assert_int_equal(c.request.stages[4].reason, REASON_EARLIER_REJECT);
	kit_free(n.lab);
	/* replies to the NAT gateway's low ports are not let in */
	n = nat_lab(true);
	struct nacl *acl = &n.lab->nacls[n.acl_nat];
	acl->ingress[1].port_from = 32768;
	f = kit_flow("10.0.2.20", "203.0.113.5", PROTO_TCP, 443);
	check(n.lab, eni_end(n.app), outside_end(), f, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.request.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.response.rejected_at, 3);
	assert_int_equal(c.response.stages[3].port, 1024);
	char why[512];
	assert_string_equal(
	    pipeline_explain(n.lab, &c.response.stages[3], &c.reply, why, sizeof(why)),
	    "at NAT gateway nat-1, entering its subnet: reply port 1024 refused (first of "
	    "1024-65535): no rule matched: acl-nat rule * (32767): deny all traffic from "
	    "0.0.0.0/0");
	kit_free(n.lab);
}

/* Where the NAT gateway cannot carry a flow, the route stage says why. */
static void test_nat_refusals(void **state)
{
	(void)state;
	struct nat_lab n = nat_lab(true);
	struct pipeline_check c;
	struct pipeline_end app = eni_end(n.app);
	struct flow f = kit_flow("10.0.2.20", "203.0.113.5", PROTO_TCP, 80);
	char why[512];
	/* a protocol other than TCP, UDP, ICMP */
	struct flow gre = kit_flow("10.0.2.20", "203.0.113.5", 47, 0);
	check(n.lab, app, outside_end(), gre, &c);
	assert_int_equal(c.request.rejected_at, 2);
	assert_int_equal(c.request.stages[2].reason, REASON_NAT_PROTOCOL);
	/* NAT64: not modelled, refused */
	struct flow f6 = kit_flow("2001:db8:1:2::20", "64:ff9b::c000:205", PROTO_TCP, 80);
	check(n.lab, app, outside_end(), f6, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_NAT_MISSING);
	assert_string_equal(pipeline_explain(n.lab, &c.request.stages[2], &f6, why, sizeof(why)),
			    "rtb-priv: 64:ff9b::/96 -> nat-1: NAT gateway nat-1 is usable for IPv4 "
			    "only (NAT64 is not modelled): dropped");
	/* a private NAT gateway goes on to a transit or virtual private
	 * gateway, never to the internet (test_natgw.c: where it goes) */
	n.lab->gateways[n.nat].detail = "private";
	check(n.lab, app, outside_end(), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_NAT_NO_ROUTE);
	assert_string_equal(
	    pipeline_explain(n.lab, &c.request.stages[2], &f, why, sizeof(why)),
	    "rtb-priv: 0.0.0.0/0 -> nat-1 (NAT gateway in subnet-pub), but rtb-pub sends "
	    "0.0.0.0/0 to igw-1, not a transit or virtual private gateway that leads there (a "
	    "private NAT gateway): dropped");
	n.lab->gateways[n.nat].detail = "public";
	/* not available */
	n.lab->gateways[n.nat].state = "deleted";
	check(n.lab, app, outside_end(), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_NAT_MISSING);
	assert_string_equal(pipeline_explain(n.lab, &c.request.stages[2], &f, why, sizeof(why)),
			    "rtb-priv: 0.0.0.0/0 -> nat-1: NAT gateway nat-1 is deleted: dropped");
	n.lab->gateways[n.nat].state = "available";
	/* its subnet has no internet gateway route */
	n.lab->route_tables[n.rt_pub].routes[1].blackhole = true;
	check(n.lab, app, outside_end(), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_NAT_NO_ROUTE);
	assert_string_equal(pipeline_explain(n.lab, &c.request.stages[2], &f, why, sizeof(why)),
			    "rtb-priv: 0.0.0.0/0 -> nat-1 (NAT gateway in subnet-pub), but rtb-pub "
			    "sends 0.0.0.0/0 to igw-1 (a blackhole), not an internet gateway: "
			    "dropped");
	n.lab->route_tables[n.rt_pub].n_routes = 1;
	check(n.lab, app, outside_end(), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_NAT_NO_ROUTE);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	/* a NAT gateway the lab does not describe */
	n.lab->route_tables[n.rt_pub].n_routes = 2;
	n.lab->route_tables[n.rt_pub].routes[1].blackhole = false;
	n.lab->n_gateways = 0;
	check(n.lab, app, outside_end(), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_NAT_MISSING);
	n.lab->n_gateways = 1;
	check(n.lab, app, outside_end(), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	kit_free(n.lab);
}

/* Nothing from outside opens a connection through a NAT gateway: not to
 * the instances behind it, not to the gateway itself, not from its own
 * subnet. A packet from outside alone is a reply and passes. */
static void test_nat_inbound_refused(void **state)
{
	(void)state;
	struct nat_lab n = nat_lab(true);
	struct pipeline_check c;
	struct flow f = kit_flow("203.0.113.5", "10.0.2.20", PROTO_TCP, 80);
	check(n.lab, outside_end(), eni_end(n.app), f, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.request.rejected_at, 2);
	assert_int_equal(c.request.stages[2].reason, REASON_ENDPOINT_INBOUND);
	char why[512];
	assert_string_equal(pipeline_explain(n.lab, &c.request.stages[2], &f, why, sizeof(why)),
			    "203.0.113.5 reaches the VPC only through nat-1, which carries only "
			    "connections opened from inside the VPC");
	struct pipeline_result p;
	struct pipeline_end out = outside_end(), app = eni_end(n.app);
	pipeline_evaluate(n.lab, &out, &app, &f, 0, &p);
	assert_int_equal(p.stages[2].reason, REASON_ROUTE_NAT);
	/* to its Elastic IP, and from its own subnet: it has no SG, admits nothing */
	f = kit_flow("203.0.113.5", "10.0.1.50", PROTO_TCP, 8080);
	check(n.lab, outside_end(), eni_end(n.nat_eni), f, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.request.stages[c.request.rejected_at].stage, STAGE_SG_INGRESS);
	f = kit_flow("10.0.1.10", "10.0.1.50", PROTO_TCP, 80);
	check(n.lab, eni_end(n.jump), eni_end(n.nat_eni), f, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.request.stages[c.request.rejected_at].stage, STAGE_SG_INGRESS);
	kit_free(n.lab);
}

/* vpcfw diff sees a NAT route come: the private instance reaches the
 * internet; and go: it does not. */
static void test_diff_nat_route(void **state)
{
	(void)state;
	struct nat_lab before = nat_lab(false), after = nat_lab(true);
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_changes ch;
	for (int dir = 0; dir < 2; dir++) {
		reach_changes_init(&ch);
		struct lab *old_lab = dir ? after.lab : before.lab;
		struct lab *new_lab = dir ? before.lab : after.lab;
		assert_int_equal(reach_diff(old_lab, new_lab, &o, &ch), 0);
		bool web = false;
		for (size_t i = 0; i < ch.n; i++) {
			const struct reach_change *x = &ch.items[i];
			assert_int_equal(x->open, dir == 0);
			assert_string_equal(x->from, "app");
			if (x->cls == REACH_TCP && x->lo <= 80 && 443 <= x->hi)
				web = !strcmp(x->stage, "route");
		}
		assert_true(web);
		reach_changes_free(&ch);
	}
	kit_free(before.lab);
	kit_free(after.lab);
}

/* ... and the NAT gateway's subnet's NACL, port by port as check sees it. */
static void test_diff_nat_subnet_nacl(void **state)
{
	(void)state;
	struct nat_lab before = nat_lab(true), after = nat_lab(true);
	after.lab->nacls[after.acl_nat].ingress[0].port_to = 80; /* 443 no longer let in */
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_changes ch;
	reach_changes_init(&ch);
	assert_int_equal(reach_diff(before.lab, after.lab, &o, &ch), 0);
	bool https = false;
	for (size_t i = 0; i < ch.n; i++) {
		const struct reach_change *x = &ch.items[i];
		assert_false(x->open);
		assert_string_equal(x->from, "app");
		https |= x->cls == REACH_TCP && x->lo == 81 && x->hi == 443 &&
			 !strcmp(x->stage, "nacl-ingress");
	}
	assert_true(https);
	reach_changes_free(&ch);
	/* the path's maps agree with check, request and response; then with
	 * replies to the NAT gateway's ports 1024-32767 refused */
	struct pipeline_end app = eni_end(after.app), out = outside_end();
	struct ip_addr sa = kit_addr("10.0.2.20"), da = kit_addr("203.0.113.5");
	for (int round = 0; round < 2; round++) {
		struct lab *lab = after.lab;
		lab->nacls[after.acl_nat].ingress[1].port_from = round ? 32768 : 1024;
		struct reach_path path;
		assert_int_equal(reach_path_build(lab, &app, &out, &sa, &da, REACH_TCP, &o, &path),
				 0);
		size_t accepted = 0;
		for (unsigned port = 0; port < 65536; port += port < 1100 ? 1 : 97) {
			struct pipeline_check c;
			check(lab, app, out, kit_flow("10.0.2.20", "203.0.113.5", PROTO_TCP, port),
			      &c);
			assert_int_equal(reach_path_accepts(&path, port, NULL),
					 c.verdict == VERDICT_ACCEPT);
			accepted += c.verdict == VERDICT_ACCEPT;
		}
		assert_int_equal(accepted, round ? 0 : 1); /* port 80 alone */
		reach_path_free(&path);
	}
	/* ICMP: echo through the NAT gateway and back, then not let in */
	struct reach_path path;
	for (int round = 0; round < 2; round++) {
		after.lab->nacls[after.acl_nat].ingress[2].allow = round == 0;
		assert_int_equal(
		    reach_path_build(after.lab, &app, &out, &sa, &da, REACH_ICMP, &o, &path), 0);
		struct pipeline_check c;
		check(after.lab, app, out, kit_icmp("10.0.2.20", "203.0.113.5", PROTO_ICMP, 8, 0),
		      &c);
		assert_int_equal(c.verdict, round ? VERDICT_REJECT : VERDICT_ACCEPT);
		assert_int_equal(reach_path_accepts(&path, REACH_ICMP_KEY(8, 0), NULL),
				 c.verdict == VERDICT_ACCEPT);
		reach_path_free(&path);
	}
	kit_free(before.lab);
	kit_free(after.lab);
}

/* A gateway of another kind (peering: vpc_id requester, peer the accepter). */
static int32_t kit_gateway(struct lab *lab, enum gateway_kind kind, const char *id,
			   const char *vpc_id, const char *peer, const char *state)
{
	int32_t g = kit_nat(lab, id, "-", "10.255.255.255", NULL, state);
	lab->gateways[g].kind = kind;
	lab->gateways[g].vpc_id = kit_str(lab, vpc_id);
	lab->gateways[g].peer_vpc_id = kit_str(lab, peer);
	return g;
}

/* Two VPCs joined by pcx-1: a (10.1.0.0/16) and b (10.2.0.0/16), one
 * subnet and one instance each; b admits SSH from a's group (a reference
 * across the peering), a admits nothing. A third VPC c (10.3.0.0/16)
 * peers with b only. Default NACLs allow all. */
struct peer_lab {
	struct lab *lab;
	int32_t rt_a, rt_b, a, b, c, pcx;
};

static struct peer_lab peer_lab(void)
{
	struct peer_lab p;
	struct lab *lab = p.lab = kit_new();
	static const char *const names[] = {"a", "b", "c"};
	int32_t eni[3], g[3];
	for (int i = 0; i < 3; i++) {
		char id[32], cidr[32], sub[32], addr[32];
		snprintf(id, sizeof(id), "vpc-%s", names[i]);
		snprintf(cidr, sizeof(cidr), "10.%d.0.0/16", i + 1);
		int32_t vpc = kit_vpc(lab, id, cidr, NULL);
		snprintf(id, sizeof(id), "acl-%s", names[i]);
		int32_t acl = kit_nacl(lab, id, vpc, true);
		kit_nacl_rule(lab, acl, false, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
		kit_nacl_rule(lab, acl, true, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
		snprintf(id, sizeof(id), "rtb-%s", names[i]);
		int32_t rt = kit_route_table(lab, id, vpc, true);
		kit_route(lab, rt, cidr, "local");
		if (i == 0)
			p.rt_a = rt;
		if (i == 1)
			p.rt_b = rt;
		snprintf(id, sizeof(id), "subnet-%s", names[i]);
		snprintf(sub, sizeof(sub), "10.%d.1.0/24", i + 1);
		int32_t sn = kit_subnet(lab, id, vpc, sub, NULL, -1, -1);
		snprintf(id, sizeof(id), "sg-%s", names[i]);
		g[i] = kit_group(lab, id, names[i], vpc);
		kit_sg_rule(lab, g[i], true, PROTO_ALL, -1, -1, "0.0.0.0/0");
		snprintf(id, sizeof(id), "eni-%s", names[i]);
		snprintf(addr, sizeof(addr), "10.%d.1.10", i + 1);
		eni[i] = kit_eni(lab, id, names[i], sn, addr, NULL, NULL, (int32_t[]){g[i], END});
	}
	kit_sg_rule(lab, g[1], false, PROTO_TCP, 22, 22, "sg-a");
	kit_sg_rule(lab, g[2], false, PROTO_TCP, 22, 22, "0.0.0.0/0");
	kit_route(lab, p.rt_a, "10.2.0.0/16", "pcx-1");
	kit_route(lab, p.rt_b, "10.1.0.0/16", "pcx-1");
	kit_route(lab, p.rt_b, "10.3.0.0/16", "pcx-2");
	p.pcx = kit_gateway(lab, GW_PEERING, "pcx-1", "vpc-a", "vpc-b", "active");
	kit_gateway(lab, GW_PEERING, "pcx-2", "vpc-c", "vpc-b", "active");
	p.a = eni[0];
	p.b = eni[1];
	p.c = eni[2];
	kit_finish(lab);
	return p;
}

/* Peering: both sides' tables, the peer's group referenced, each side's
 * NACL; nothing transitive, nothing over a peering not active. */
static void test_peering(void **state)
{
	(void)state;
	struct peer_lab p = peer_lab();
	struct pipeline_check c;
	char why[512];
	struct flow f = kit_flow("10.1.1.10", "10.2.1.10", PROTO_TCP, 22);
	check(p.lab, eni_end(p.a), eni_end(p.b), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.request.n, 5);
	assert_int_equal(c.request.stages[2].reason, REASON_ROUTE_PEERING);
	assert_int_equal(c.request.stages[3].reason, REASON_RULE); /* b's NACL */
	assert_int_equal(c.response.stages[2].reason, REASON_ROUTE_PEERING);
	assert_string_equal(pipeline_explain(p.lab, &c.request.stages[2], &f, why, sizeof(why)),
			    "rtb-a: 10.2.0.0/16 -> pcx-1 (VPC peering)");
	/* c has no route to b at all */
	f = kit_flow("10.3.1.10", "10.2.1.10", PROTO_TCP, 22);
	check(p.lab, eni_end(p.c), eni_end(p.b), f, &c);
	assert_int_equal(c.request.rejected_at, 2);
	assert_int_equal(c.request.stages[2].reason, REASON_OTHER_VPC);
	/* b -> c over pcx-2 passes the route; c's table has no way back */
	f = kit_flow("10.2.1.10", "10.3.1.10", PROTO_TCP, 22);
	check(p.lab, eni_end(p.b), eni_end(p.c), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_ROUTE_PEERING);
	assert_int_equal(c.response.stages[2].reason, REASON_OTHER_VPC);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	/* with it, c reaches b's SG, whose reference admits only a's members */
	kit_route(p.lab, 2, "10.2.0.0/16", "pcx-2");
	check(p.lab, eni_end(p.b), eni_end(p.c), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	f = kit_flow("10.3.1.10", "10.2.1.10", PROTO_TCP, 22);
	check(p.lab, eni_end(p.c), eni_end(p.b), f, &c);
	assert_int_equal(c.request.rejected_at, 4);
	assert_int_equal(c.request.stages[4].reason, REASON_NO_RULE);
	kit_route(p.lab, p.rt_a, "10.3.0.0/16", "pcx-1");
	f = kit_flow("10.1.1.10", "10.3.1.10", PROTO_TCP, 22);
	check(p.lab, eni_end(p.a), eni_end(p.c), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_PEERING_MISMATCH);
	assert_string_equal(
	    pipeline_explain(p.lab, &c.request.stages[2], &f, why, sizeof(why)),
	    "rtb-a: 10.3.0.0/16 -> pcx-1: it joins vpc-a and vpc-b, which is not the "
	    "way to 10.3.1.10 (no transitive routing)");
	/* a -> b: b's return route missing, then the peering not active */
	p.lab->route_tables[p.rt_b].n_routes = 1;
	f = kit_flow("10.1.1.10", "10.2.1.10", PROTO_TCP, 22);
	check(p.lab, eni_end(p.a), eni_end(p.b), f, &c);
	assert_int_equal(c.request.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.response.rejected_at, 2);
	assert_string_equal(
	    pipeline_explain(p.lab, &c.response.stages[2], &c.reply, why, sizeof(why)),
	    "rtb-b has no route to 10.1.1.10 in another VPC");
	p.lab->route_tables[p.rt_b].n_routes = 3;
	p.lab->gateways[p.pcx].state = "pending-acceptance";
	check(p.lab, eni_end(p.a), eni_end(p.b), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_PEERING_MISMATCH);
	assert_string_equal(pipeline_explain(p.lab, &c.request.stages[2], &f, why, sizeof(why)),
			    "rtb-a: 10.2.0.0/16 -> pcx-1: the peering connection is "
			    "pending-acceptance, not active");
	kit_free(p.lab);
}

/* A virtual private gateway: on-premises hosts reach private instances
 * and are reached by them, no public IP; a blackhole route drops. */
static void test_vpn_gateway(void **state)
{
	(void)state;
	struct nat_lab n = nat_lab(false);
	kit_route(n.lab, n.rt_priv, "172.16.0.0/12", "vgw-1");
	kit_sg_rule(n.lab, n.g_app, false, PROTO_TCP, 22, 22, "172.16.0.0/12");
	struct pipeline_check c;
	struct flow f = kit_flow("172.16.5.5", "10.0.2.20", PROTO_TCP, 22);
	check(n.lab, outside_end(), eni_end(n.app), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.request.stages[2].reason, REASON_ROUTE_VGW);
	f = kit_flow("10.0.2.20", "172.16.5.5", PROTO_TCP, 443);
	check(n.lab, eni_end(n.app), outside_end(), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	/* elsewhere no route: the internet stays out of reach */
	f = kit_flow("10.0.2.20", "203.0.113.5", PROTO_TCP, 443);
	check(n.lab, eni_end(n.app), outside_end(), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_NO_ROUTE);
	n.lab->route_tables[n.rt_priv].routes[1].blackhole = true;
	f = kit_flow("10.0.2.20", "172.16.5.5", PROTO_TCP, 443);
	check(n.lab, eni_end(n.app), outside_end(), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_BLACKHOLE);
	kit_free(n.lab);
}

/* A transit gateway piece: an attachment of VPC vpc (its one subnet, the
 * TGW route table it is associated with, NULL: none) or, with vpc -1, a
 * TGW route table. */
static int32_t kit_tgw_piece(struct lab *lab, enum gateway_kind kind, const char *id, int32_t vpc,
			     const char *subnet, const char *table)
{
	int32_t g = kit_gateway(lab, kind, id, vpc >= 0 ? lab->vpcs[vpc].id : NULL, NULL, NULL);
	struct gateway *x = &lab->gateways[g];
	x->vpc = vpc;
	x->transit_id = "tgw-1";
	x->detail = NULL; /* a VPC attachment */
	x->subnet_ids[0] = kit_str(lab, subnet ? subnet : "-");
	x->n_subnet_ids = subnet ? 1 : 0;
	x->route_table_ids = kit_alloc(lab, 1, sizeof(char *));
	x->route_table_ids[0] = table;
	x->n_route_table_ids = table ? 1 : 0;
	x->tgw_routes = kit_alloc(lab, 8, sizeof(struct tgw_route));
	x->propagations = kit_alloc(lab, 8, sizeof(char *));
	return g;
}

static void kit_tgw_route(struct lab *lab, int32_t table, const char *dest, const char *attach)
{
	struct gateway *t = &lab->gateways[table];
	struct tgw_route *r = &t->tgw_routes[t->n_tgw_routes++];
	r->dest = kit_prefix(dest);
	r->attachment = attach;
	r->blackhole = attach == NULL;
}

/* peer_lab's a and b joined by transit gateway tgw-1 instead (c stays
 * out): both VPCs attached in zone az-1 and associated with tgw-rtb-1,
 * to which both propagate; b admits SSH from a's block. */
struct tgw_lab {
	struct peer_lab p;
	int32_t att_a, att_b, table;
};

static struct tgw_lab tgw_lab(void)
{
	struct tgw_lab t = {.p = peer_lab()};
	struct lab *lab = t.p.lab;
	lab->route_tables[t.p.rt_a].routes[1] =
	    (struct route){.dest = kit_prefix("10.2.0.0/16"), .kind = ROUTE_TGW, .target = "tgw-1"};
	lab->route_tables[t.p.rt_b].routes[1] =
	    (struct route){.dest = kit_prefix("10.1.0.0/16"), .kind = ROUTE_TGW, .target = "tgw-1"};
	for (int i = 0; i < 3; i++)
		lab->subnets[i].az = "az-1";
	kit_sg_rule(lab, 1, false, PROTO_TCP, 22, 22, "10.1.0.0/16");
	t.att_a = kit_tgw_piece(lab, GW_TRANSIT_ATTACH, "tgw-attach-a", 0, "subnet-a", "tgw-rtb-1");
	t.att_b = kit_tgw_piece(lab, GW_TRANSIT_ATTACH, "tgw-attach-b", 1, "subnet-b", "tgw-rtb-1");
	t.table = kit_tgw_piece(lab, GW_TRANSIT_ROUTES, "tgw-rtb-1", -1, NULL, NULL);
	struct gateway *rt = &lab->gateways[t.table];
	rt->propagations[rt->n_propagations++] = "tgw-attach-a";
	rt->propagations[rt->n_propagations++] = "tgw-attach-b";
	return t;
}

static const char *route_why(const struct lab *lab, const struct stage_verdict *v,
			     const struct flow *f)
{
	static char why[1024];
	assert_int_equal(v->stage, STAGE_ROUTE);
	return pipeline_explain(lab, v, f, why, sizeof(why));
}

/* a -> b and back through tgw-1, each hop named; b -> a reaches a's
 * groups, which admit nothing (Batfish's DENIED_IN). */
static void test_tgw_both_ways(void **state)
{
	(void)state;
	struct tgw_lab t = tgw_lab();
	struct pipeline_check c;
	struct flow f = kit_flow("10.1.1.10", "10.2.1.10", PROTO_TCP, 22);
	check(t.p.lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.request.stages[2].reason, REASON_ROUTE_TGW);
	assert_int_equal(c.response.stages[2].reason, REASON_ROUTE_TGW);
	assert_string_equal(route_why(t.p.lab, &c.request.stages[2], &f),
			    "rtb-a: 10.2.0.0/16 -> tgw-1, attachment tgw-attach-a, TGW route table "
			    "tgw-rtb-1: 10.2.0.0/16 -> tgw-attach-b (propagated), into vpc-b");
	assert_string_equal(route_why(t.p.lab, &c.response.stages[2], &c.reply),
			    "rtb-b: 10.1.0.0/16 -> tgw-1, attachment tgw-attach-b, TGW route table "
			    "tgw-rtb-1: 10.1.0.0/16 -> tgw-attach-a (propagated), into vpc-a");
	f = kit_flow("10.2.1.10", "10.1.1.10", PROTO_TCP, 22);
	check(t.p.lab, eni_end(t.p.b), eni_end(t.p.a), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_ROUTE_TGW);
	assert_int_equal(c.request.rejected_at, 4);
	assert_int_equal(c.request.stages[4].reason, REASON_NO_RULE);
	/* c's VPC has no attachment: its tgw- route leads nowhere */
	kit_route(t.p.lab, 2, "10.2.0.0/16", "tgw-1");
	f = kit_flow("10.3.1.10", "10.2.1.10", PROTO_TCP, 22);
	check(t.p.lab, eni_end(t.p.c), eni_end(t.p.b), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_TGW_UNUSABLE);
	assert_string_equal(route_why(t.p.lab, &c.request.stages[2], &f),
			    "rtb-c: 10.2.0.0/16 -> tgw-1, but vpc-c has no available attachment "
			    "to it: dropped");
	kit_free(t.p.lab);
}

/* An attachment associated with no TGW route table, or with one the lab
 * does not have, carries nothing. */
static void test_tgw_association_missing(void **state)
{
	(void)state;
	struct tgw_lab t = tgw_lab();
	struct pipeline_check c;
	struct flow f = kit_flow("10.1.1.10", "10.2.1.10", PROTO_TCP, 22);
	t.p.lab->gateways[t.att_a].n_route_table_ids = 0;
	check(t.p.lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.request.rejected_at, 2);
	assert_int_equal(c.request.stages[2].reason, REASON_TGW_UNUSABLE);
	assert_string_equal(route_why(t.p.lab, &c.request.stages[2], &f),
			    "rtb-a: 10.2.0.0/16 -> tgw-1, attachment tgw-attach-a is associated "
			    "with no TGW route table: dropped");
	t.p.lab->gateways[t.att_a].n_route_table_ids = 1;
	t.p.lab->gateways[t.att_a].route_table_ids[0] = "tgw-rtb-gone";
	check(t.p.lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_string_equal(route_why(t.p.lab, &c.request.stages[2], &f),
			    "rtb-a: 10.2.0.0/16 -> tgw-1, attachment tgw-attach-a is associated "
			    "with tgw-rtb-gone, which is not in the lab: dropped");
	kit_free(t.p.lab);
}

/* A blackhole wins the longest prefix match, and a static route beats a
 * propagated one of the same prefix; a more specific static route to the
 * right attachment wins again. */
static void test_tgw_blackhole(void **state)
{
	(void)state;
	struct tgw_lab t = tgw_lab();
	struct pipeline_check c;
	struct flow f = kit_flow("10.1.1.10", "10.2.1.10", PROTO_TCP, 22);
	kit_tgw_route(t.p.lab, t.table, "10.2.0.0/16", NULL);
	check(t.p.lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.request.stages[2].reason, REASON_TGW_UNUSABLE);
	assert_string_equal(route_why(t.p.lab, &c.request.stages[2], &f),
			    "rtb-a: 10.2.0.0/16 -> tgw-1, attachment tgw-attach-a, TGW route table "
			    "tgw-rtb-1: 10.2.0.0/16 -> blackhole, a blackhole route: dropped");
	kit_tgw_route(t.p.lab, t.table, "10.2.1.0/24", "tgw-attach-b");
	check(t.p.lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_string_equal(route_why(t.p.lab, &c.request.stages[2], &f),
			    "rtb-a: 10.2.0.0/16 -> tgw-1, attachment tgw-attach-a, TGW route table "
			    "tgw-rtb-1: 10.2.1.0/24 -> tgw-attach-b, into vpc-b");
	/* a static route to an attachment of the wrong VPC */
	t.p.lab->gateways[t.table].tgw_routes[1].attachment = "tgw-attach-a";
	check(t.p.lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_string_equal(route_why(t.p.lab, &c.request.stages[2], &f),
			    "rtb-a: 10.2.0.0/16 -> tgw-1, attachment tgw-attach-a, TGW route table "
			    "tgw-rtb-1: 10.2.1.0/24 -> tgw-attach-a, which leads to vpc-a, not to "
			    "10.2.1.10: dropped");
	kit_free(t.p.lab);
}

/* b does not propagate: its block is unknown to the table, so a cannot
 * reach it and b's connections to a get no replies. */
static void test_tgw_no_propagation(void **state)
{
	(void)state;
	struct tgw_lab t = tgw_lab();
	t.p.lab->gateways[t.table].n_propagations = 1; /* tgw-attach-a only */
	struct pipeline_check c;
	struct flow f = kit_flow("10.1.1.10", "10.2.1.10", PROTO_TCP, 22);
	check(t.p.lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_int_equal(c.request.rejected_at, 2);
	assert_string_equal(route_why(t.p.lab, &c.request.stages[2], &f),
			    "rtb-a: 10.2.0.0/16 -> tgw-1, attachment tgw-attach-a, TGW route table "
			    "tgw-rtb-1 has no route to 10.2.1.10: dropped");
	kit_sg_rule(t.p.lab, 0, false, PROTO_TCP, 22, 22, "10.2.0.0/16");
	f = kit_flow("10.2.1.10", "10.1.1.10", PROTO_TCP, 22);
	check(t.p.lab, eni_end(t.p.b), eni_end(t.p.a), f, &c);
	assert_int_equal(c.request.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.response.rejected_at, 2);
	assert_int_equal(c.response.stages[2].reason, REASON_TGW_UNUSABLE);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	kit_free(t.p.lab);
}

/* Two gateways, one per direction (Batfish's asymmetric-paths network):
 * a sends through tgw-1, b answers through tgw-2, each attachment
 * associated with a table the other side propagates to. */
static void test_tgw_asymmetric(void **state)
{
	(void)state;
	struct tgw_lab t = tgw_lab();
	struct lab *lab = t.p.lab;
	lab->route_tables[t.p.rt_b].routes[1].target = "tgw-2";
	lab->gateways[t.table].n_propagations = 0;
	lab->gateways[t.table].propagations[lab->gateways[t.table].n_propagations++] =
	    "tgw-attach-b";
	int32_t b2 = kit_tgw_piece(lab, GW_TRANSIT_ATTACH, "tgw-attach-b2", 1, "subnet-b", "rt-2");
	int32_t a2 = kit_tgw_piece(lab, GW_TRANSIT_ATTACH, "tgw-attach-a2", 0, "subnet-a", NULL);
	int32_t rt2 = kit_tgw_piece(lab, GW_TRANSIT_ROUTES, "rt-2", -1, NULL, NULL);
	lab->gateways[b2].transit_id = lab->gateways[a2].transit_id = "tgw-2";
	lab->gateways[rt2].propagations[lab->gateways[rt2].n_propagations++] = "tgw-attach-a2";
	struct pipeline_check c;
	struct flow f = kit_flow("10.1.1.10", "10.2.1.10", PROTO_TCP, 22);
	check(lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_string_equal(
	    route_why(lab, &c.response.stages[2], &c.reply),
	    "rtb-b: 10.1.0.0/16 -> tgw-2, attachment tgw-attach-b2, TGW route table "
	    "rt-2: 10.1.0.0/16 -> tgw-attach-a2 (propagated), into vpc-a");
	/* without the way back */
	lab->gateways[rt2].n_propagations = 0;
	check(lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_int_equal(c.request.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.response.stages[2].reason, REASON_TGW_UNUSABLE);
	kit_free(lab);
}

/* Availability Zones: a sender in a zone its VPC's attachment has no
 * subnet in cannot reach the gateway, nor is a receiver there reached. */
static void test_tgw_zones(void **state)
{
	(void)state;
	struct tgw_lab t = tgw_lab();
	struct lab *lab = t.p.lab;
	int32_t a2 = kit_subnet(lab, "subnet-a2", 0, "10.1.2.0/24", NULL, -1, -1);
	lab->subnets[a2].az = "az-2";
	lab->gateways[t.att_a].subnet_ids[0] = "subnet-a2";
	struct pipeline_check c;
	struct flow f = kit_flow("10.1.1.10", "10.2.1.10", PROTO_TCP, 22);
	check(lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_TGW_UNUSABLE);
	assert_string_equal(route_why(lab, &c.request.stages[2], &f),
			    "rtb-a: 10.2.0.0/16 -> tgw-1, attachment tgw-attach-a has no subnet in "
			    "az-1, the zone of subnet-a: dropped");
	f = kit_flow("10.2.1.10", "10.1.1.10", PROTO_TCP, 22);
	check(lab, eni_end(t.p.b), eni_end(t.p.a), f, &c);
	assert_string_equal(route_why(lab, &c.request.stages[2], &f),
			    "rtb-b: 10.1.0.0/16 -> tgw-1, attachment tgw-attach-b, TGW route table "
			    "tgw-rtb-1: 10.1.0.0/16 -> tgw-attach-a (propagated), which has no "
			    "subnet in the receiver's Availability Zone: dropped");
	kit_free(lab);
}

/* tgw_lab's on-premises 172.16.0.0/12 over a VPN attachment of tgw-1,
 * routed there by tgw-rtb-1 and by rtb-a; the attachment's index. */
static int32_t tgw_vpn(struct tgw_lab *t)
{
	struct lab *lab = t->p.lab;
	int32_t vpn = kit_tgw_piece(lab, GW_TRANSIT_ATTACH, "tgw-attach-vpn", -1, NULL, NULL);
	lab->gateways[vpn].detail = "vpn";
	kit_tgw_route(lab, t->table, "172.16.0.0/12", "tgw-attach-vpn");
	kit_route(lab, t->p.rt_a, "172.16.0.0/12", "tgw-1");
	return vpn;
}

/* On-premises hosts over a VPN attachment of the gateway, both ways. */
static void test_tgw_vpn(void **state)
{
	(void)state;
	struct tgw_lab t = tgw_lab();
	struct lab *lab = t.p.lab;
	tgw_vpn(&t);
	kit_sg_rule(lab, 0, false, PROTO_TCP, 22, 22, "172.16.0.0/12");
	struct pipeline_check c;
	struct flow f = kit_flow("10.1.1.10", "172.16.5.5", PROTO_TCP, 443);
	check(lab, eni_end(t.p.a), outside_end(), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_string_equal(route_why(lab, &c.request.stages[2], &f),
			    "rtb-a: 172.16.0.0/12 -> tgw-1, attachment tgw-attach-a, TGW route "
			    "table tgw-rtb-1: 172.16.0.0/12 -> tgw-attach-vpn, into vpn");
	f = kit_flow("172.16.5.5", "10.1.1.10", PROTO_TCP, 22);
	check(lab, outside_end(), eni_end(t.p.a), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	kit_free(lab);
}

/* tgw_lab with b moved to its own gateway tgw-2 (table tgw-rtb-2, b
 * propagating), the gateways peered by tgw-attach-p, each side associated
 * with its gateway's table, and each table a static route to the other
 * VPC over the peering attachment (AWS propagates nothing over it). */
static struct tgw_lab tgw_peered_lab(void)
{
	struct tgw_lab t = tgw_lab();
	struct lab *lab = t.p.lab;
	lab->route_tables[t.p.rt_b].routes[1].target = "tgw-2";
	struct gateway *b = &lab->gateways[t.att_b];
	b->transit_id = "tgw-2";
	b->route_table_ids[0] = "tgw-rtb-2";
	lab->gateways[t.table].n_propagations = 1; /* a only */
	int32_t t2 = kit_tgw_piece(lab, GW_TRANSIT_ROUTES, "tgw-rtb-2", -1, NULL, NULL);
	lab->gateways[t2].transit_id = "tgw-2";
	lab->gateways[t2].propagations[lab->gateways[t2].n_propagations++] = "tgw-attach-b";
	int32_t near = kit_tgw_piece(lab, GW_TRANSIT_ATTACH, "tgw-attach-p", -1, NULL, "tgw-rtb-1");
	int32_t far = kit_tgw_piece(lab, GW_TRANSIT_ATTACH, "tgw-attach-p", -1, NULL, "tgw-rtb-2");
	lab->gateways[near].detail = lab->gateways[far].detail = "peering";
	lab->gateways[far].transit_id = "tgw-2";
	kit_tgw_route(lab, t.table, "10.2.0.0/16", "tgw-attach-p");
	kit_tgw_route(lab, t2, "10.1.0.0/16", "tgw-attach-p");
	return t;
}

/* Batfish's AwsConfigurationTransitGatewayPeeringTest in small: a -> b
 * through tgw-1, the peering attachment and tgw-2, each hop named; a
 * missing static route on the far gateway stops the reply there; a
 * peering attachment whose far side the lab lacks, and routes sending the
 * packet back and forth between the gateways, drop it. */
static void test_tgw_peering(void **state)
{
	(void)state;
	struct tgw_lab t = tgw_peered_lab();
	struct lab *lab = t.p.lab;
	int32_t t2 = (int32_t)lab->n_gateways - 3, far = (int32_t)lab->n_gateways - 1;
	assert_string_equal(lab->gateways[t2].id, "tgw-rtb-2");
	struct pipeline_check c;
	struct flow f = kit_flow("10.1.1.10", "10.2.1.10", PROTO_TCP, 22);
	check(lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.request.stages[2].reason, REASON_ROUTE_TGW);
	assert_string_equal(route_why(lab, &c.request.stages[2], &f),
			    "rtb-a: 10.2.0.0/16 -> tgw-1, attachment tgw-attach-a, TGW route "
			    "table tgw-rtb-1: 10.2.0.0/16 -> tgw-attach-p, into peer tgw-2 by its "
			    "side of tgw-attach-p, TGW route table tgw-rtb-2: 10.2.0.0/16 -> "
			    "tgw-attach-b (propagated), into vpc-b");
	/* the far table's static route gone: the reply stops at tgw-1 */
	lab->gateways[t2].n_tgw_routes = 0;
	check(lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.response.stages[2].reason, REASON_TGW_UNUSABLE);
	struct flow back = kit_flow("10.2.1.10", "10.1.1.10", PROTO_TCP, 40000);
	assert_string_equal(route_why(lab, &c.response.stages[2], &back),
			    "rtb-b: 10.1.0.0/16 -> tgw-2, attachment tgw-attach-b, TGW route "
			    "table tgw-rtb-2 has no route to 10.1.1.10: dropped");
	/* a route back over the peering for b's block: the packet loops */
	kit_tgw_route(lab, t2, "10.2.0.0/16", "tgw-attach-p");
	check(lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_TGW_UNUSABLE);
	assert_non_null(strstr(route_why(lab, &c.request.stages[2], &f),
			       "more than 4 transit gateways on the way, a routing loop: dropped"));
	/* tgw-2's side unknown (one account exported) */
	assert_string_equal(lab->gateways[far].transit_id, "tgw-2");
	lab->gateways[far].state = "deleted";
	check(lab, eni_end(t.p.a), eni_end(t.p.b), f, &c);
	assert_string_equal(route_why(lab, &c.request.stages[2], &f),
			    "rtb-a: 10.2.0.0/16 -> tgw-1, attachment tgw-attach-a, TGW route "
			    "table tgw-rtb-1: 10.2.0.0/16 -> tgw-attach-p, a peering attachment "
			    "whose peer gateway's side is not in the lab: dropped");
	kit_free(lab);
}

/* A private NAT gateway (ConnectivityType private): app reaches
 * on-premises through it and a virtual private gateway, seen from the
 * gateway's private IP; nothing from there opens a connection through it
 * (the internet is out of its reach: test_nat_refusals). */
static void test_private_nat_vgw(void **state)
{
	(void)state;
	struct nat_lab n = nat_lab(true);
	n.lab->gateways[n.nat].detail = "private";
	kit_route(n.lab, n.rt_pub, "172.16.0.0/12", "vgw-1");
	struct pipeline_check c;
	struct flow f = kit_flow("10.0.2.20", "172.16.5.5", PROTO_TCP, 443);
	check(n.lab, eni_end(n.app), outside_end(), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.request.stages[2].reason, REASON_ROUTE_NAT);
	assert_string_equal(
	    route_why(n.lab, &c.request.stages[2], &f),
	    "rtb-priv: 0.0.0.0/0 -> nat-1 (private NAT gateway in subnet-pub), then "
	    "rtb-pub: 172.16.0.0/12 -> vgw-1; 172.16.5.5 sees the source 10.0.1.50");
	/* the gateway's subnet NACL is crossed (acl-nat admits 80-443 in) */
	f.dport = 8080;
	check(n.lab, eni_end(n.app), outside_end(), f, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_true(c.request.stages[c.request.rejected_at].hop);
	f = kit_flow("172.16.5.5", "10.0.2.20", PROTO_TCP, 443);
	check(n.lab, outside_end(), eni_end(n.app), f, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.request.stages[2].reason, REASON_ENDPOINT_INBOUND);
	kit_free(n.lab);
}

/* The same through a transit gateway: the NAT gateway's subnet sends
 * on-premises traffic to tgw-1, whose VPN attachment carries it; without
 * that attachment's route the private NAT gateway leads nowhere. */
static void test_private_nat_tgw(void **state)
{
	(void)state;
	struct tgw_lab t = tgw_lab();
	struct lab *lab = t.p.lab;
	tgw_vpn(&t);
	int32_t nat = kit_nat(lab, "nat-p", "subnet-a", "10.1.1.50", NULL, "available");
	lab->gateways[nat].detail = "private";
	int32_t rt = kit_route_table(lab, "rtb-behind", 0, false);
	kit_route(lab, rt, "10.1.0.0/16", "local");
	kit_route(lab, rt, "172.16.0.0/12", "nat-p");
	int32_t sn = kit_subnet(lab, "subnet-behind", 0, "10.1.2.0/24", NULL, -1, rt);
	int32_t behind =
	    kit_eni(lab, "eni-behind", "behind", sn, "10.1.2.10", NULL, NULL, (int32_t[]){0, END});
	kit_finish(lab);
	struct pipeline_check c;
	struct flow f = kit_flow("10.1.2.10", "172.16.5.5", PROTO_TCP, 443);
	check(lab, eni_end(behind), outside_end(), f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.request.stages[2].reason, REASON_ROUTE_NAT);
	assert_string_equal(route_why(lab, &c.request.stages[2], &f),
			    "rtb-behind: 172.16.0.0/12 -> nat-p (private NAT gateway in subnet-a), "
			    "then rtb-a: 172.16.0.0/12 -> tgw-1; 172.16.5.5 sees the source "
			    "10.1.1.50");
	lab->gateways[t.table].n_tgw_routes = 0;
	check(lab, eni_end(behind), outside_end(), f, &c);
	assert_int_equal(c.request.stages[2].reason, REASON_NAT_NO_ROUTE);
	kit_free(lab);
}

/* diff sees a propagation come and go as a path opened or closed at the
 * route stage. */
static void test_diff_tgw_route(void **state)
{
	(void)state;
	struct tgw_lab with = tgw_lab(), without = tgw_lab();
	without.p.lab->gateways[without.table].n_propagations = 1;
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_changes ch;
	for (int dir = 0; dir < 2; dir++) {
		reach_changes_init(&ch);
		struct lab *old_lab = dir ? with.p.lab : without.p.lab;
		struct lab *new_lab = dir ? without.p.lab : with.p.lab;
		assert_int_equal(reach_diff(old_lab, new_lab, &o, &ch), 0);
		bool ssh = false;
		for (size_t i = 0; i < ch.n; i++) {
			const struct reach_change *x = &ch.items[i];
			assert_int_equal(x->open, dir == 0);
			if (!strcmp(x->from, "a") && !strcmp(x->to, "b") && x->cls == REACH_TCP &&
			    x->lo <= 22 && 22 <= x->hi)
				ssh = !strcmp(x->stage, "route");
		}
		assert_true(ssh);
		reach_changes_free(&ch);
	}
	kit_free(with.p.lab);
	kit_free(without.p.lab);
}

/* Batfish's collector files: what five files say of one attachment and
 * one table is folded into one gateway each, whatever the file order. */
static void test_tgw_describe_exports(void **state)
{
	(void)state;
	static const char *const names[] = {
	    "TransitGatewayAttachments.json",	 "TransitGatewayPropagations.json",
	    "TransitGatewayRouteTables.json",	 "TransitGatewayStaticRoutes.json",
	    "TransitGatewayVpcAttachments.json", "Vpcs.json"};
	static const char *const docs[] = {
	    "{'TransitGatewayAttachments':[{'TransitGatewayAttachmentId':'tgw-attach-1',"
	    "'TransitGatewayId':'tgw-1','ResourceType':'vpc','ResourceId':'vpc-1','State':"
	    "'available','Association':{'State':'associated','TransitGatewayRouteTableId':"
	    "'tgw-rtb-1'}},{'TransitGatewayAttachmentId':'tgw-attach-vpn','TransitGatewayId':"
	    "'tgw-1','ResourceType':'vpn','ResourceId':'vpn-1','State':'available'}]}",
	    "{'TransitGatewayPropagations':[{'TransitGatewayRouteTableId':'tgw-rtb-1',"
	    "'TransitGatewayRouteTablePropagations':[{'TransitGatewayAttachmentId':"
	    "'tgw-attach-1','State':'enabled'},{'TransitGatewayAttachmentId':'tgw-attach-vpn',"
	    "'State':'disabled'}]}]}",
	    "{'TransitGatewayRouteTables':[{'TransitGatewayRouteTableId':'tgw-rtb-1',"
	    "'TransitGatewayId':'tgw-1','State':'available'}]}",
	    "{'TransitGatewayStaticRoutes':[{'TransitGatewayRouteTableId':'tgw-rtb-1','Routes':["
	    "{'DestinationCidrBlock':'10.9.0.0/16','State':'blackhole','Type':'static'},"
	    "{'DestinationCidrBlock':'172.16.0.0/12','State':'active','Type':'propagated',"
	    "'TransitGatewayAttachments':[{'TransitGatewayAttachmentId':'tgw-attach-vpn'}]}]}]}",
	    "{'TransitGatewayVpcAttachments':[{'TransitGatewayAttachmentId':'tgw-attach-1',"
	    "'TransitGatewayId':'tgw-1','VpcId':'vpc-1','SubnetIds':['subnet-1']}]}",
	    "{'Vpcs':[{'VpcId':'vpc-1','CidrBlock':'10.0.0.0/16'}]}"};
	struct result res;
	load_many(&res, 6, names, docs);
	expect_ok(&res);
	assert_int_equal(res.lab->n_gateways, 3);
	const struct gateway *att = NULL, *vpn = NULL, *table = NULL;
	for (size_t i = 0; i < res.lab->n_gateways; i++) {
		const struct gateway *g = &res.lab->gateways[i];
		if (g->kind == GW_TRANSIT_ROUTES)
			table = g;
		else if (!strcmp(g->id, "tgw-attach-1"))
			att = g;
		else
			vpn = g;
	}
	assert_non_null(att);
	assert_non_null(vpn);
	assert_non_null(table);
	assert_int_equal(att->vpc, 0);
	assert_int_equal(att->n_subnet_ids, 1);
	assert_int_equal(att->n_route_table_ids, 1);
	assert_string_equal(att->route_table_ids[0], "tgw-rtb-1");
	assert_string_equal(vpn->detail, "vpn");
	assert_int_equal(vpn->n_route_table_ids, 0);
	assert_string_equal(table->transit_id, "tgw-1");
	assert_int_equal(table->n_propagations, 1);
	assert_int_equal(table->n_tgw_routes, 2);
	assert_true(table->tgw_routes[0].blackhole);
	assert_true(table->tgw_routes[1].propagated);
	assert_string_equal(table->tgw_routes[1].attachment, "tgw-attach-vpn");
	done(&res);
	one_error("{'TransitGatewayStaticRoutes':[{'TransitGatewayRouteTableId':'tgw-rtb-1',"
		  "'Routes':[{'DestinationCidrBlock':'10.9.0.0/16','State':'active'}]}]}",
		  "TransitGatewayStaticRoutes[0].Routes[0]",
		  "an active route needs TransitGatewayAttachments");
}

/* Our lab format describes the NAT gateway ("gateways", as vpcfw import
 * writes them): the private instance reaches the internet through it. */
#define NAT_LAB                                                                                    \
	"{'lab':'natlab','vpcs':[{'name':'main','id':'vpc-1','cidr':'10.0.0.0/16',"                \
	"'route_tables':[{'name':'public','id':'rtb-pub','routes':[{'dest':'0.0.0.0/0',"           \
	"'target':'igw-1'}]},{'name':'private','id':'rtb-priv','main':true,'routes':["             \
	"{'dest':'0.0.0.0/0','target':'nat-1'}]}],"                                                \
	"'subnets':[{'name':'pub','id':'subnet-pub','cidr':'10.0.1.0/24','route_table':"           \
	"'public'},{'name':'priv','id':'subnet-priv','cidr':'10.0.2.0/24'}],"                      \
	"'security_groups':[{'name':'app','id':'sg-app','egress':[{'proto':'-1','to':"             \
	"'0.0.0.0/0'}]}],"                                                                         \
	"'enis':[{'name':'app','id':'eni-app','subnet':'priv','ip':'10.0.2.20','groups':"          \
	"['app']}]}],"

static void test_lab_format_gateways(void **state)
{
	(void)state;
	struct result res;
	load_as(&res, "t.json",
		NAT_LAB "'gateways':[{'kind':'nat','id':'nat-1','vpc':'vpc-1','subnets':"
			"['subnet-pub'],'public_ip':'198.51.100.7','state':'available'}]}",
		false);
	expect_ok(&res);
	assert_int_equal(res.lab->n_gateways, 1);
	struct endpoint ep;
	assert_int_equal(lab_resolve_endpoint(res.lab, "app", &ep), 0);
	struct pipeline_check c;
	check(res.lab, eni_end(ep.eni), outside_end(),
	      kit_flow("10.0.2.20", "203.0.113.5", PROTO_TCP, 443), &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.request.stages[2].reason, REASON_ROUTE_NAT);
	assert_string_equal(lab_gateway_kind_name(GW_NAT), "nat");
	done(&res);
	one_error(NAT_LAB "'gateways':[{'kind':'nat-gw','id':'nat-1'}]}", "gateways[0].kind",
		  "unknown gateway kind 'nat-gw' (internet, nat, endpoint, peering, transit, "
		  "transit-attachment, transit-route-table)");
	one_error(NAT_LAB "'gateways':[{'kind':'nat','id':'nat-1','eip':'1.2.3.4'}]}",
		  "gateways[0].eip", "unknown key");
	one_error(NAT_LAB "'gateways':[{'kind':'nat'}]}", "gateways[0].id",
		  "required key is missing");
	/* a transit gateway route table: its routes and propagations */
	load_as(&res, "t.json",
		NAT_LAB "'gateways':[{'kind':'transit-route-table','id':'tgw-rtb-1','transit':"
			"'tgw-1','propagations':['tgw-attach-1'],'routes':[{'dest':'10.9.0.0/16',"
			"'state':'blackhole'},{'dest':'172.16.0.0/12','attachment':'tgw-attach-2',"
			"'propagated':true}]}]}",
		false);
	expect_ok(&res);
	const struct gateway *t = &res.lab->gateways[0];
	assert_int_equal(t->kind, GW_TRANSIT_ROUTES);
	assert_int_equal(t->n_propagations, 1);
	assert_int_equal(t->n_tgw_routes, 2);
	assert_true(t->tgw_routes[0].blackhole);
	assert_true(t->tgw_routes[1].propagated);
	assert_string_equal(t->tgw_routes[1].attachment, "tgw-attach-2");
	done(&res);
	one_error(NAT_LAB "'gateways':[{'kind':'transit-route-table','id':'tgw-rtb-1','routes':"
			  "[{'dest':'10.0.0.0/8'}]}]}",
		  "gateways[0].routes[0]", "an active route needs an attachment");
	one_error(NAT_LAB "'gateways':[{'kind':'transit-route-table','id':'tgw-rtb-1','routes':"
			  "[{'dest':'10.0.0.0/8','via':'x'}]}]}",
		  "gateways[0].routes[0].via", "unknown key");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nat_outbound_and_back),
	    cmocka_unit_test(test_nat_subnet_nacl),
	    cmocka_unit_test(test_nat_refusals),
	    cmocka_unit_test(test_nat_inbound_refused),
	    cmocka_unit_test(test_diff_nat_route),
	    cmocka_unit_test(test_diff_nat_subnet_nacl),
	    cmocka_unit_test(test_peering),
	    cmocka_unit_test(test_vpn_gateway),
	    cmocka_unit_test(test_tgw_both_ways),
	    cmocka_unit_test(test_tgw_association_missing),
	    cmocka_unit_test(test_tgw_blackhole),
	    cmocka_unit_test(test_tgw_no_propagation),
	    cmocka_unit_test(test_tgw_asymmetric),
	    cmocka_unit_test(test_tgw_zones),
	    cmocka_unit_test(test_tgw_vpn),
	    cmocka_unit_test(test_tgw_peering),
	    cmocka_unit_test(test_private_nat_vgw),
	    cmocka_unit_test(test_private_nat_tgw),
	    cmocka_unit_test(test_diff_tgw_route),
	    cmocka_unit_test(test_tgw_describe_exports),
	    cmocka_unit_test(test_lab_format_gateways),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
