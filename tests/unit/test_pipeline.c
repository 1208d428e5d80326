/*
 * rules/pipeline: AWS's four stages and the route stage, request and
 * response (DESIGN.md contract 4), proving the AWS-SEMANTICS §8 list:
 * both gates (sender's SG egress AND receiver's SG ingress, both NACLs),
 * first match by number, IPv6 rules effective, NACLs skipped inside one
 * subnet, service exemptions (§1), outside hosts with route and public IP,
 * the response over the whole ephemeral range naming the first refused
 * port, tracked and untracked replies, ICMP echo replies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "labkit.h"
#include "pipeline.h"
#include "reference.h"
#include "sg.h"

static const int32_t END = -1;

/* One VPC, dual stack: a public subnet (custom NACL, igw route), a second
 * public subnet on the default NACL, a private subnet (custom NACL, NAT
 * route). Groups start empty; each test adds the rules it is about. */
struct world {
	struct lab *lab;
	int32_t vpc, acl_default, acl_pub, acl_priv, rt_pub, rt_priv;
	int32_t sn_pub, sn_pub2, sn_priv;
	int32_t g_web, g_app, g_open;
	int32_t web, web2, nopub, app, other, webb;
};

static void allow_all(struct lab *lab, int32_t acl)
{
	for (int eg = 0; eg < 2; eg++) {
		kit_nacl_rule(lab, acl, eg, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
		kit_nacl_rule(lab, acl, eg, 101, true, PROTO_ALL, "::/0", 0, 0);
	}
}

static struct world *world_new(void)
{
	struct world *w = calloc(1, sizeof(*w));
	struct lab *lab = w->lab = kit_new();
	w->vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8:1::/56");
	w->acl_default = kit_nacl(lab, "acl-default", w->vpc, true);
	allow_all(lab, w->acl_default);
	w->acl_pub = kit_nacl(lab, "acl-pub", w->vpc, false);
	w->acl_priv = kit_nacl(lab, "acl-priv", w->vpc, false);
	w->rt_priv = kit_route_table(lab, "rtb-main", w->vpc, true);
	kit_route(lab, w->rt_priv, "10.0.0.0/16", "local");
	kit_route(lab, w->rt_priv, "0.0.0.0/0", "nat-1");
	w->rt_pub = kit_route_table(lab, "rtb-pub", w->vpc, false);
	kit_route(lab, w->rt_pub, "10.0.0.0/16", "local");
	kit_route(lab, w->rt_pub, "2001:db8:1::/56", "local");
	kit_route(lab, w->rt_pub, "0.0.0.0/0", "igw-1");
	kit_route(lab, w->rt_pub, "::/0", "igw-1");
	w->sn_pub = kit_subnet(lab, "subnet-pub", w->vpc, "10.0.1.0/24", "2001:db8:1:1::/64",
			       w->acl_pub, w->rt_pub);
	w->sn_pub2 = kit_subnet(lab, "subnet-pub2", w->vpc, "10.0.3.0/24", "2001:db8:1:3::/64", -1,
				w->rt_pub);
	w->sn_priv = kit_subnet(lab, "subnet-priv", w->vpc, "10.0.2.0/24", "2001:db8:1:2::/64",
				w->acl_priv, -1);
	w->g_web = kit_group(lab, "sg-web", "web", w->vpc);
	w->g_app = kit_group(lab, "sg-app", "app", w->vpc);
	w->g_open = kit_group(lab, "sg-open", "open", w->vpc);
	w->web = kit_eni(lab, "eni-web", "web", w->sn_pub, "10.0.1.10", "2001:db8:1:1::10",
			 "54.0.0.10", (int32_t[]){w->g_web, END});
	w->web2 = kit_eni(lab, "eni-web2", "web2", w->sn_pub, "10.0.1.11", "2001:db8:1:1::11", NULL,
			  (int32_t[]){w->g_web, END});
	w->nopub = w->web2;
	w->app = kit_eni(lab, "eni-app", "app", w->sn_priv, "10.0.2.20", "2001:db8:1:2::20", NULL,
			 (int32_t[]){w->g_app, END});
	w->webb = kit_eni(lab, "eni-webb", "webb", w->sn_pub2, "10.0.3.30", "2001:db8:1:3::30",
			  "54.0.0.30", (int32_t[]){w->g_open, END});
	return w;
}

static void world_free(struct world *w)
{
	kit_free(w->lab);
	free(w);
}

static struct pipeline_end eni_end(int32_t eni)
{
	return (struct pipeline_end){.kind = END_ENI, .eni = eni};
}

static struct pipeline_end outside_end(void)
{
	return (struct pipeline_end){.kind = END_OUTSIDE, .eni = -1};
}

static struct flow tcp(const char *src, const char *dst, unsigned dport)
{
	return (struct flow){.src = kit_addr(src),
			     .dst = kit_addr(dst),
			     .proto = PROTO_TCP,
			     .sport = 40000,
			     .dport = (uint16_t)dport};
}

/* One expected stage: verdict, reason, and the NACL rule number or the
 * SG group id that decided (0 / NULL: not checked). */
struct want {
	enum pipeline_stage stage;
	enum pipeline_verdict verdict;
	enum pipeline_reason reason;
	uint32_t rule_number;
	const char *group;
};

static void expect(const struct lab *lab, const struct pipeline_result *r, const struct flow *f,
		   const struct want *w, size_t n)
{
	char why[512];
	if (r->n != n)
		fail_msg("%zu stages, want %zu", r->n, n);
	for (size_t i = 0; i < n; i++) {
		const struct stage_verdict *v = &r->stages[i];
		pipeline_explain(lab, v, f, why, sizeof(why));
		if (v->stage != w[i].stage || v->verdict != w[i].verdict ||
		    v->reason != w[i].reason)
			fail_msg(
			    "stage %zu: %s %s %s (%s), want %s %s %s", i,
			    pipeline_stage_name(v->stage), pipeline_verdict_name(v->verdict),
			    pipeline_reason_name(v->reason), why, pipeline_stage_name(w[i].stage),
			    pipeline_verdict_name(w[i].verdict), pipeline_reason_name(w[i].reason));
		if (w[i].rule_number && v->rule_number != w[i].rule_number)
			fail_msg("stage %zu: rule %u, want %u (%s)", i, v->rule_number,
				 w[i].rule_number, why);
		if (w[i].group) {
			assert_true(v->group >= 0);
			assert_string_equal(lab->groups[v->group].id, w[i].group);
		}
	}
	/* the overall verdict follows the stages */
	enum pipeline_verdict all = VERDICT_ACCEPT;
	int at = -1;
	for (size_t i = 0; i < n; i++)
		if (r->stages[i].verdict == VERDICT_REJECT && at < 0) {
			all = VERDICT_REJECT;
			at = (int)i;
		}
	if (r->verdict != VERDICT_SKIPPED) {
		assert_int_equal(r->verdict, all);
		assert_int_equal(r->rejected_at, at);
	}
}

#define EXPECT(lab, r, f, ...)                                                                     \
	do {                                                                                       \
		const struct want w_[] = {__VA_ARGS__};                                            \
		expect(lab, r, f, w_, sizeof(w_) / sizeof(w_[0]));                                 \
	} while (0)

#define A VERDICT_ACCEPT
#define R VERDICT_REJECT
#define S VERDICT_SKIPPED

/* pipeline_check of a request from client to server (contract 4). */
static void check_flow(const struct lab *lab, struct pipeline_end client,
		       struct pipeline_end server, const struct flow *f, struct pipeline_check *c)
{
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.client = client;
	q.server = server;
	q.request = *f;
	pipeline_check(lab, &q, c);
}

/* An ACCEPT that no filter looked at: the server is a VPC service (§1). */
static void expect_service_only(const struct lab *lab, const struct pipeline_check *c,
				const struct flow *f)
{
	EXPECT(lab, &c->request, f, {STAGE_SG_EGRESS, S, REASON_SERVICE, 0, NULL},
	       {STAGE_NACL_EGRESS, S, REASON_SERVICE, 0, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_SERVICE, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_SERVICE, 0, NULL});
	assert_int_equal(c->verdict, VERDICT_ACCEPT);
}

/* §8 "both gates, never either": the sender's SG egress AND the
 * receiver's SG ingress must allow. */
static void test_both_sg_gates(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	allow_all(lab, w->acl_pub);
	allow_all(lab, w->acl_priv);
	kit_sg_rule(lab, w->g_web, true, PROTO_TCP, 443, 443, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_app, false, PROTO_TCP, 8080, 8080, "sg-web");
	kit_finish(lab);
	struct pipeline_end web = eni_end(w->web), app = eni_end(w->app);
	struct flow f = tcp("10.0.1.10", "10.0.2.20", 8080);
	struct pipeline_result r;

	/* receiver allows, sender's egress does not */
	pipeline_evaluate(lab, &web, &app, &f, 0, &r);
	EXPECT(lab, &r, &f, {STAGE_SG_EGRESS, R, REASON_NO_RULE, 0, NULL},
	       {STAGE_NACL_EGRESS, S, REASON_EARLIER_REJECT, 0, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL});

	/* sender allows, receiver's ingress does not (port 8081) */
	kit_sg_rule(lab, w->g_web, true, PROTO_TCP, 8000, 8100, "10.0.0.0/16");
	f.dport = 8081;
	pipeline_evaluate(lab, &web, &app, &f, 0, &r);
	EXPECT(lab, &r, &f, {STAGE_SG_EGRESS, A, REASON_RULE, 0, "sg-web"},
	       {STAGE_NACL_EGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_NACL_INGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_SG_INGRESS, R, REASON_NO_RULE, 0, NULL});
	assert_int_equal(r.rejected_at, 3);

	/* both allow */
	f.dport = 8080;
	pipeline_evaluate(lab, &web, &app, &f, 0, &r);
	EXPECT(lab, &r, &f, {STAGE_SG_EGRESS, A, REASON_RULE, 0, "sg-web"},
	       {STAGE_NACL_EGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_NACL_INGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_SG_INGRESS, A, REASON_RULE, 0, "sg-app"});
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	world_free(w);
}

/* Both NACLs across subnets: the sender subnet's egress and the receiver
 * subnet's ingress, each able to refuse on its own. */
static void test_both_nacl_gates(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	kit_sg_rule(lab, w->g_web, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_app, false, PROTO_ALL, -1, -1, "0.0.0.0/0");
	/* acl-pub lets 5432 out; acl-priv does not let it in */
	kit_nacl_rule(lab, w->acl_pub, true, 100, true, PROTO_TCP, "10.0.2.0/24", 5432, 5432);
	kit_nacl_rule(lab, w->acl_priv, false, 100, true, PROTO_TCP, "10.0.1.0/24", 22, 22);
	kit_finish(lab);
	struct pipeline_end web = eni_end(w->web), app = eni_end(w->app);
	struct flow f = tcp("10.0.1.10", "10.0.2.20", 5432);
	struct pipeline_result r;
	pipeline_evaluate(lab, &web, &app, &f, 0, &r);
	EXPECT(lab, &r, &f, {STAGE_SG_EGRESS, A, REASON_RULE, 0, NULL},
	       {STAGE_NACL_EGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_NACL_INGRESS, R, REASON_RULE, NACL_RULE_STAR_V4, NULL},
	       {STAGE_SG_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL});
	assert_int_equal(r.stages[2].nacl, w->acl_priv);
	/* port 22: ingress allows, the sender's egress NACL refuses */
	f.dport = 22;
	pipeline_evaluate(lab, &web, &app, &f, 0, &r);
	EXPECT(lab, &r, &f, {STAGE_SG_EGRESS, A, REASON_RULE, 0, NULL},
	       {STAGE_NACL_EGRESS, R, REASON_RULE, NACL_RULE_STAR_V4, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL});
	assert_int_equal(r.stages[1].nacl, w->acl_pub);
	world_free(w);
}

/* §8 "first match by number, allow or deny", through the pipeline. */
static void test_first_match_in_pipeline(void **state)
{
	for (int reversed = 0; reversed < 2; reversed++) {
		struct world *w = world_new();
		struct lab *lab = w->lab;
		kit_sg_rule(lab, w->g_web, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
		kit_sg_rule(lab, w->g_app, false, PROTO_TCP, 22, 22, "10.0.0.0/16");
		allow_all(lab, w->acl_pub);
		kit_nacl_rule(lab, w->acl_priv, false, 100, !reversed, PROTO_TCP, "0.0.0.0/0", 22,
			      22);
		kit_nacl_rule(lab, w->acl_priv, false, 200, reversed, PROTO_TCP, "0.0.0.0/0", 22,
			      22);
		kit_finish(lab);
		struct pipeline_end web = eni_end(w->web), app = eni_end(w->app);
		struct flow f = tcp("10.0.1.10", "10.0.2.20", 22);
		struct pipeline_result r;
		pipeline_evaluate(lab, &web, &app, &f, 0, &r);
		assert_int_equal(r.stages[2].rule_number, 100);
		assert_int_equal(r.verdict, reversed ? VERDICT_REJECT : VERDICT_ACCEPT);
		world_free(w);
	}
}

/* §1: two ENIs of one subnet never meet a NACL, even a deny-all one. */
static void test_same_subnet_skips_nacls(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab; /* acl-pub has no rules: denies everything */
	kit_sg_rule(lab, w->g_web, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_web, false, PROTO_TCP, 80, 80, "sg-web");
	kit_finish(lab);
	struct pipeline_end a = eni_end(w->web), b = eni_end(w->web2);
	struct flow f = tcp("10.0.1.10", "10.0.1.11", 80);
	struct pipeline_check c;
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.client = a;
	q.server = b;
	q.request = f;
	pipeline_check(lab, &q, &c);
	EXPECT(lab, &c.request, &f, {STAGE_SG_EGRESS, A, REASON_RULE, 0, NULL},
	       {STAGE_NACL_EGRESS, S, REASON_SAME_SUBNET, 0, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_SAME_SUBNET, 0, NULL},
	       {STAGE_SG_INGRESS, A, REASON_RULE, 0, "sg-web"});
	EXPECT(lab, &c.response, &c.reply, {STAGE_SG_EGRESS, A, REASON_TRACKED, 0, NULL},
	       {STAGE_NACL_EGRESS, S, REASON_SAME_SUBNET, 0, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_SAME_SUBNET, 0, NULL},
	       {STAGE_SG_INGRESS, A, REASON_TRACKED, 0, NULL});
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	char why[256];
	assert_string_equal(pipeline_explain(lab, &c.request.stages[1], &f, why, sizeof(why)),
			    "same subnet (subnet-pub): network ACLs do not apply");
	/* across subnets the same deny-all NACL refuses */
	struct pipeline_end x = eni_end(w->webb);
	struct flow g = tcp("10.0.3.30", "10.0.1.10", 80);
	kit_sg_rule(lab, w->g_open, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	struct pipeline_result r;
	pipeline_evaluate(lab, &x, &a, &g, 0, &r);
	assert_int_equal(r.verdict, VERDICT_REJECT);
	assert_int_equal(r.stages[2].stage, STAGE_NACL_INGRESS);
	assert_int_equal(r.stages[2].rule_number, NACL_RULE_STAR_V4);
	world_free(w);
}

/* §8 "IPv6 is not optional": IPv6 NACL entries and SG ranges take effect,
 * IPv4 ones never stand in for them. */
static void test_ipv6_effective(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	kit_sg_rule(lab, w->g_web, true, PROTO_ALL, -1, -1, "::/0");
	kit_sg_rule(lab, w->g_app, false, PROTO_TCP, 443, 443, "2001:db8:1:1::/64");
	kit_nacl_rule(lab, w->acl_pub, true, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
	kit_nacl_rule(lab, w->acl_pub, true, 101, true, PROTO_ALL, "::/0", 0, 0);
	kit_nacl_rule(lab, w->acl_priv, false, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
	kit_finish(lab);
	struct pipeline_end web = eni_end(w->web), app = eni_end(w->app);
	struct flow f6 = tcp("2001:db8:1:1::10", "2001:db8:1:2::20", 443);
	struct pipeline_result r;
	pipeline_evaluate(lab, &web, &app, &f6, 0, &r);
	EXPECT(lab, &r, &f6, {STAGE_SG_EGRESS, A, REASON_RULE, 0, NULL},
	       {STAGE_NACL_EGRESS, A, REASON_RULE, 101, NULL},
	       {STAGE_NACL_INGRESS, R, REASON_RULE, NACL_RULE_STAR_V6, NULL},
	       {STAGE_SG_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL});
	kit_nacl_rule(lab, w->acl_priv, false, 110, true, PROTO_TCP, "::/0", 443, 443);
	pipeline_evaluate(lab, &web, &app, &f6, 0, &r);
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	assert_int_equal(r.stages[2].rule_number, 110);
	/* the same flow over IPv4: the ::/0 egress and the v6 ingress don't count */
	struct flow f4 = tcp("10.0.1.10", "10.0.2.20", 443);
	pipeline_evaluate(lab, &web, &app, &f4, 0, &r);
	EXPECT(lab, &r, &f4, {STAGE_SG_EGRESS, R, REASON_NO_RULE, 0, NULL},
	       {STAGE_NACL_EGRESS, S, REASON_EARLIER_REJECT, 0, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL});
	world_free(w);
}

/* §1: DNS (base+2), metadata, time sync and DHCP are not filtered by
 * NACLs; SGs never block DNS; metadata through SGs per the lab option. */
static void test_service_exemptions(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab; /* deny-all NACLs, empty groups */
	kit_finish(lab);
	struct pipeline_end app = eni_end(w->app), svc;
	struct flow dns = {.src = kit_addr("10.0.2.20"),
			   .dst = kit_addr("10.0.0.2"),
			   .proto = PROTO_UDP,
			   .sport = 40000,
			   .dport = 53};
	pipeline_end_of_addr(lab, w->vpc, &dns.dst, &svc);
	assert_int_equal(svc.kind, END_SERVICE);
	assert_int_equal(svc.service, SERVICE_DNS);
	struct pipeline_check c;
	check_flow(lab, app, svc, &dns, &c);
	expect_service_only(lab, &c, &dns);
	assert_int_equal(c.response.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.response.stages[3].reason, REASON_SERVICE);
	char why[256];
	assert_string_equal(pipeline_explain(lab, &c.request.stages[1], &dns, why, sizeof(why)),
			    "Amazon DNS server: not filtered by network ACLs");

	/* metadata: NACLs never, SGs only when the lab says so */
	struct flow md = tcp("10.0.2.20", "169.254.169.254", 80);
	pipeline_end_of_addr(lab, w->vpc, &md.dst, &svc);
	assert_int_equal(svc.service, SERVICE_METADATA);
	struct pipeline_result r;
	pipeline_evaluate(lab, &app, &svc, &md, 0, &r);
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	assert_int_equal(r.n, 4); /* no route stage for an AWS service */
	lab->opts.sg_filters_link_local = true;
	pipeline_evaluate(lab, &app, &svc, &md, 0, &r);
	EXPECT(lab, &r, &md, {STAGE_SG_EGRESS, R, REASON_NO_RULE, 0, NULL},
	       {STAGE_NACL_EGRESS, S, REASON_EARLIER_REJECT, 0, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL});
	kit_sg_rule(lab, w->g_app, true, PROTO_TCP, 80, 80, "169.254.169.254/32");
	pipeline_evaluate(lab, &app, &svc, &md, 0, &r);
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	assert_int_equal(r.stages[1].reason, REASON_SERVICE);

	/* the IPv6 endpoints; DNS is only DNS for SGs */
	static const struct {
		const char *addr;
		enum vpc_service s;
	} six[] = {{"fd00:ec2::123", SERVICE_TIME_SYNC}, {"fd00:ec2::253", SERVICE_DNS},
		   {"fd00:ec2::254", SERVICE_METADATA},	 {"fd00:ec2::255", SERVICE_NONE},
		   {"fd00:ec3::253", SERVICE_NONE},	 {"169.254.169.253", SERVICE_DNS},
		   {"10.0.0.3", SERVICE_NONE},		 {"10.0.0.2", SERVICE_DNS}};
	for (size_t i = 0; i < sizeof(six) / sizeof(six[0]); i++) {
		struct ip_addr a = kit_addr(six[i].addr);
		pipeline_end_of_addr(lab, w->vpc, &a, &svc);
		if (svc.service != six[i].s)
			fail_msg("%s: service %d, want %d", six[i].addr, svc.service, six[i].s);
		assert_int_equal(svc.kind, six[i].s ? END_SERVICE : END_OUTSIDE);
	}
	struct flow dns_http = tcp("10.0.2.20", "10.0.0.2", 80);
	pipeline_end_of_addr(lab, w->vpc, &dns_http.dst, &svc);
	pipeline_evaluate(lab, &app, &svc, &dns_http, 0, &r);
	assert_int_equal(r.stages[0].verdict, VERDICT_REJECT);

	world_free(w);
}

/* §9, and the Amazon VPC User Guide ("Understanding Amazon DNS": the
 * Route 53 Resolver answers at 169.254.169.253 as well as base+2; security
 * groups and network ACLs leave link-local traffic, 169.254.0.0/16, alone):
 * the link-local service addresses are the VPC's own, never outside hosts
 * behind the internet gateway. */
static void test_link_local_services(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab; /* deny-all NACLs, empty groups */
	kit_finish(lab);
	static const struct {
		const char *addr;
		enum vpc_service s;
	} ll[] = {{"169.254.169.253", SERVICE_DNS},	  {"169.254.169.254", SERVICE_METADATA},
		  {"169.254.169.123", SERVICE_TIME_SYNC}, {"169.254.170.2", SERVICE_ECS_METADATA},
		  {"169.254.169.250", SERVICE_LICENSE},	  {"169.254.169.251", SERVICE_LICENSE},
		  {"169.254.1.1", SERVICE_LINK_LOCAL},	  {"169.255.0.1", SERVICE_NONE},
		  {"10.0.1.1", SERVICE_ROUTER},		  {"10.0.1.2", SERVICE_NONE},
		  {"255.255.255.255", SERVICE_DHCP}};
	struct pipeline_end svc, web = eni_end(w->web);
	for (size_t i = 0; i < sizeof(ll) / sizeof(ll[0]); i++) {
		struct ip_addr a = kit_addr(ll[i].addr);
		pipeline_end_of_addr(lab, w->vpc, &a, &svc);
		if (svc.service != ll[i].s)
			fail_msg("%s: service %d, want %d", ll[i].addr, svc.service, ll[i].s);
		assert_int_equal(svc.kind, ll[i].s ? END_SERVICE : END_OUTSIDE);
	}
	/* web has a public IP and its subnet a 0.0.0.0/0 igw route: the
	 * resolver's link-local address still takes no route stage, and DNS
	 * passes deny-all NACLs and empty groups as base+2 does */
	struct flow dns = {.src = kit_addr("10.0.1.10"),
			   .dst = kit_addr("169.254.169.253"),
			   .proto = PROTO_UDP,
			   .sport = 40000,
			   .dport = 53};
	pipeline_end_of_addr(lab, w->vpc, &dns.dst, &svc);
	struct pipeline_check c;
	check_flow(lab, web, svc, &dns, &c);
	expect_service_only(lab, &c, &dns);
	char why[256];
	assert_string_equal(pipeline_explain(lab, &c.request.stages[1], &dns, why, sizeof(why)),
			    "Amazon DNS server: not filtered by network ACLs");
	/* the ECS task metadata endpoint: like the instance metadata service,
	 * SGs skip it unless the lab says they filter link-local services */
	struct flow ecs = tcp("10.0.1.10", "169.254.170.2", 80);
	pipeline_end_of_addr(lab, w->vpc, &ecs.dst, &svc);
	struct pipeline_result r;
	pipeline_evaluate(lab, &web, &svc, &ecs, 0, &r);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	assert_int_equal(r.stages[1].reason, REASON_SERVICE);
	lab->opts.sg_filters_link_local = true;
	pipeline_evaluate(lab, &web, &svc, &ecs, 0, &r);
	assert_int_equal(r.verdict, VERDICT_REJECT);
	assert_int_equal(r.stages[0].reason, REASON_NO_RULE);
	/* the resolver's DNS exemption does not depend on that option */
	pipeline_end_of_addr(lab, w->vpc, &dns.dst, &svc);
	check_flow(lab, web, svc, &dns, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	world_free(w);
}

/* §9: DHCP is exempt as the exchange between an instance and the VPC's
 * DHCP service (the broadcast a client sends, the VPC router that
 * answers); UDP 67/68 between any other addresses is ordinary traffic. */
static void test_dhcp_only_with_vpc_service(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab; /* deny-all NACLs on both subnets */
	kit_sg_rule(lab, w->g_app, true, PROTO_UDP, 67, 68, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_web, false, PROTO_UDP, 67, 68, "0.0.0.0/0");
	kit_finish(lab);
	struct pipeline_end app = eni_end(w->app), web = eni_end(w->web), in = outside_end();
	struct flow dhcp = {.src = kit_addr("10.0.2.20"),
			    .dst = kit_addr("10.0.1.10"),
			    .proto = PROTO_UDP,
			    .sport = 68,
			    .dport = 67};
	struct pipeline_result r;
	/* between ENIs of two subnets: the NACLs decide, as for any UDP */
	pipeline_evaluate(lab, &app, &web, &dhcp, 0, &r);
	EXPECT(lab, &r, &dhcp, {STAGE_SG_EGRESS, A, REASON_RULE, 0, NULL},
	       {STAGE_NACL_EGRESS, R, REASON_RULE, NACL_RULE_STAR_V4, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL});
	/* from the internet to UDP 67: the NACL ingress decides */
	struct flow from_net = {.src = kit_addr("203.0.113.5"),
				.dst = kit_addr("10.0.1.10"),
				.proto = PROTO_UDP,
				.sport = 68,
				.dport = 67};
	pipeline_evaluate(lab, &in, &web, &from_net, 0, &r);
	assert_int_equal(r.verdict, VERDICT_REJECT);
	assert_int_equal(r.stages[r.rejected_at].stage, STAGE_NACL_INGRESS);
	assert_int_equal(r.stages[r.rejected_at].rule_number, NACL_RULE_STAR_V4);
	/* the client's broadcast and the VPC router (base+1 of its subnet):
	 * no NACL, no SG, even with empty groups */
	static const char *const server[] = {"255.255.255.255", "10.0.2.1"};
	static const enum vpc_service kind[] = {SERVICE_DHCP, SERVICE_ROUTER};
	struct pipeline_end nopub = eni_end(w->nopub);
	for (size_t i = 0; i < 2; i++) {
		struct pipeline_end svc;
		struct flow req = {.src = kit_addr("10.0.1.11"),
				   .dst = kit_addr(server[i]),
				   .proto = PROTO_UDP,
				   .sport = 68,
				   .dport = 67};
		if (i == 1)
			req.src = kit_addr("10.0.2.20");
		pipeline_end_of_addr(lab, w->vpc, &req.dst, &svc);
		assert_int_equal(svc.kind, END_SERVICE);
		assert_int_equal(svc.service, kind[i]);
		struct pipeline_end client = i == 1 ? app : nopub;
		struct pipeline_check c;
		check_flow(lab, client, svc, &req, &c);
		expect_service_only(lab, &c, &req);
		/* other traffic to the router still meets the sender's SG */
		req.sport = 40000;
		req.dport = 80;
		pipeline_evaluate(lab, &client, &svc, &req, 0, &r);
		assert_int_equal(r.stages[0].verdict, VERDICT_REJECT);
	}
	char why[256];
	struct pipeline_end svc;
	struct ip_addr router = kit_addr("10.0.2.1");
	pipeline_end_of_addr(lab, w->vpc, &router, &svc);
	dhcp.dst = router;
	pipeline_evaluate(lab, &app, &svc, &dhcp, 0, &r);
	assert_string_equal(pipeline_explain(lab, &r.stages[1], &dhcp, why, sizeof(why)),
			    "VPC router (DHCP): not filtered by network ACLs");
	world_free(w);
}

/* §1: from outside only the destination subnet's NACL ingress and the
 * ENI's SG ingress apply, plus a route through an internet gateway and a
 * public IP (IPv4). */
static void test_outside_host(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	kit_sg_rule(lab, w->g_web, false, PROTO_TCP, 443, 443, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_web, false, PROTO_TCP, 443, 443, "::/0");
	kit_sg_rule(lab, w->g_app, false, PROTO_TCP, 443, 443, "0.0.0.0/0");
	allow_all(lab, w->acl_pub);
	allow_all(lab, w->acl_priv);
	kit_finish(lab);
	struct pipeline_end in = outside_end(), web = eni_end(w->web);
	struct flow f = tcp("203.0.113.5", "10.0.1.10", 443);
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.client = in;
	q.server = web;
	q.request = f;
	struct pipeline_check c;
	pipeline_check(lab, &q, &c);
	EXPECT(lab, &c.request, &f, {STAGE_SG_EGRESS, S, REASON_OUTSIDE, 0, NULL},
	       {STAGE_NACL_EGRESS, S, REASON_OUTSIDE, 0, NULL},
	       {STAGE_ROUTE, A, REASON_ROUTE_IGW, 0, NULL},
	       {STAGE_NACL_INGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_SG_INGRESS, A, REASON_RULE, 0, "sg-web"});
	EXPECT(lab, &c.response, &c.reply, {STAGE_SG_EGRESS, A, REASON_TRACKED, 0, NULL},
	       {STAGE_NACL_EGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_ROUTE, A, REASON_ROUTE_IGW, 0, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_OUTSIDE, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_OUTSIDE, 0, NULL});
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	char why[256];
	assert_string_equal(pipeline_explain(lab, &c.request.stages[2], &f, why, sizeof(why)),
			    "rtb-pub: 0.0.0.0/0 -> igw-1, public IP present");

	/* the same subnet, no public IP */
	struct pipeline_end nopub = eni_end(w->nopub);
	f = tcp("203.0.113.5", "10.0.1.11", 443);
	struct pipeline_result r;
	pipeline_evaluate(lab, &in, &nopub, &f, 0, &r);
	assert_int_equal(r.verdict, VERDICT_REJECT);
	assert_int_equal(r.rejected_at, 2);
	assert_int_equal(r.stages[2].reason, REASON_NO_PUBLIC_IP);
	/* IPv6 needs no public IP */
	f = tcp("2001:db8:ff::1", "2001:db8:1:1::11", 443);
	pipeline_evaluate(lab, &in, &nopub, &f, 0, &r);
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	/* a private subnet routes 0/0 to a NAT gateway the lab does not
	 * describe: not reachable (tests/unit/test_route.c has NAT paths) */
	struct pipeline_end app = eni_end(w->app);
	f = tcp("203.0.113.5", "10.0.2.20", 443);
	pipeline_evaluate(lab, &in, &app, &f, 0, &r);
	assert_int_equal(r.stages[2].reason, REASON_NAT_MISSING);
	assert_int_equal(r.verdict, VERDICT_REJECT);
	assert_string_equal(pipeline_explain(lab, &r.stages[2], &f, why, sizeof(why)),
			    "rtb-main: 0.0.0.0/0 -> nat-1: that NAT gateway is not in the lab (its "
			    "subnet, NACL and Elastic IP are unknown): dropped");
	/* IPv6 from the private subnet: rtb-main has no ::/0 at all */
	f = tcp("2001:db8:ff::1", "2001:db8:1:2::20", 443);
	pipeline_evaluate(lab, &in, &app, &f, 0, &r);
	assert_int_equal(r.stages[2].reason, REASON_NO_ROUTE);
	assert_int_equal(r.stages[2].route, -1);
	/* an address inside the VPC that no ENI has */
	f = tcp("10.0.1.10", "10.0.2.99", 443);
	kit_sg_rule(lab, w->g_web, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	pipeline_evaluate(lab, &web, &in, &f, 0, &r);
	assert_int_equal(r.stages[2].stage, STAGE_ROUTE);
	assert_int_equal(r.stages[2].reason, REASON_NO_HOST);
	/* a gateway endpoint (S3's prefix list routed to vpce-): a private
	 * path out, no public IP needed; the service never calls in */
	kit_route(lab, w->rt_priv, "192.0.2.0/25", "vpce-1");
	kit_sg_rule(lab, w->g_app, true, PROTO_TCP, 443, 443, "192.0.2.0/25");
	struct pipeline_query qe;
	pipeline_query_init(&qe);
	qe.client = app;
	qe.server = in;
	qe.request = tcp("10.0.2.20", "192.0.2.10", 443);
	pipeline_check(lab, &qe, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.request.stages[2].reason, REASON_ROUTE_ENDPOINT);
	assert_int_equal(c.response.stages[2].reason, REASON_ROUTE_ENDPOINT);
	assert_string_equal(
	    pipeline_explain(lab, &c.request.stages[2], &qe.request, why, sizeof(why)),
	    "rtb-main: 192.0.2.0/25 -> vpce-1 (gateway endpoint)");
	qe.client = in;
	qe.server = app;
	qe.request = tcp("192.0.2.10", "10.0.2.20", 443);
	pipeline_check(lab, &qe, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.request.rejected_at, 2);
	assert_int_equal(c.request.stages[2].reason, REASON_ENDPOINT_INBOUND);
	assert_int_equal(c.request.stages[3].verdict, VERDICT_SKIPPED);
	assert_int_equal(c.request.stages[4].reason, REASON_EARLIER_REJECT);
	assert_int_equal(c.response.verdict, VERDICT_SKIPPED);
	/* IPv6 from the private subnet through an egress-only IGW: out yes, in no */
	kit_route(lab, w->rt_priv, "::/0", "eigw-1");
	kit_sg_rule(lab, w->g_app, true, PROTO_TCP, 443, 443, "::/0");
	qe.client = app;
	qe.server = in;
	qe.request = tcp("2001:db8:1:2::20", "2001:db8:ff::1", 443);
	pipeline_check(lab, &qe, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.request.stages[2].reason, REASON_ROUTE_EIGW);
	qe.client = in;
	qe.server = app;
	qe.request = tcp("2001:db8:ff::1", "2001:db8:1:2::20", 443);
	pipeline_check(lab, &qe, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.request.stages[2].reason, REASON_ENDPOINT_INBOUND);
	assert_string_equal(
	    pipeline_explain(lab, &c.request.stages[2], &qe.request, why, sizeof(why)),
	    "2001:db8:ff::1 reaches the VPC only through eigw-1, which carries only "
	    "connections opened from inside the VPC");
	/* outbound from a public ENI: SG egress, NACL egress, route */
	f = tcp("10.0.1.10", "198.51.100.1", 443);
	pipeline_evaluate(lab, &web, &in, &f, 0, &r);
	EXPECT(lab, &r, &f, {STAGE_SG_EGRESS, A, REASON_RULE, 0, NULL},
	       {STAGE_NACL_EGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_ROUTE, A, REASON_ROUTE_IGW, 0, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_OUTSIDE, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_OUTSIDE, 0, NULL});
	world_free(w);
}

/* Contract 4: without a client port the reply must pass for every port
 * of the ephemeral range, else REJECT naming the first refused port. */
static void test_response_ephemeral_range(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	kit_sg_rule(lab, w->g_web, true, PROTO_TCP, 5432, 5432, "sg-app");
	kit_sg_rule(lab, w->g_app, false, PROTO_TCP, 5432, 5432, "sg-web");
	kit_nacl_rule(lab, w->acl_pub, true, 100, true, PROTO_TCP, "10.0.2.0/24", 5432, 5432);
	kit_nacl_rule(lab, w->acl_pub, false, 100, true, PROTO_TCP, "10.0.2.0/24", 1024, 65535);
	kit_nacl_rule(lab, w->acl_priv, false, 100, true, PROTO_TCP, "10.0.1.0/24", 5432, 5432);
	kit_nacl_rule(lab, w->acl_priv, true, 100, true, PROTO_TCP, "10.0.1.0/24", 49152, 65535);
	kit_finish(lab);
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.client = eni_end(w->web);
	q.server = eni_end(w->app);
	q.request = tcp("10.0.1.10", "10.0.2.20", 5432);
	struct pipeline_check c;
	pipeline_check(lab, &q, &c);
	assert_int_equal(c.request.verdict, VERDICT_ACCEPT);
	EXPECT(lab, &c.response, &c.reply, {STAGE_SG_EGRESS, A, REASON_TRACKED, 0, NULL},
	       {STAGE_NACL_EGRESS, R, REASON_RULE, NACL_RULE_STAR_V4, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL});
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_true(c.response.stages[1].has_port);
	assert_int_equal(c.response.stages[1].port, 32768);
	assert_int_equal(c.reply_lo, 32768);
	assert_int_equal(c.reply_hi, 60999);
	char why[256];
	assert_string_equal(
	    pipeline_explain(lab, &c.response.stages[1], &c.reply, why, sizeof(why)),
	    "reply port 32768 refused (first of 32768-60999): no rule matched: acl-priv rule * "
	    "(32767): deny all traffic to 0.0.0.0/0");
	/* a Windows client's range passes */
	q.eph_lo = 49152;
	q.eph_hi = 65535;
	pipeline_check(lab, &q, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.response.stages[1].rule_number, 100);
	/* widen to 1024-65535 but deny a hole: the hole is named */
	kit_nacl_rule(lab, w->acl_priv, true, 90, false, PROTO_TCP, "10.0.0.0/16", 40000, 40100);
	kit_nacl_rule(lab, w->acl_priv, true, 95, true, PROTO_TCP, "10.0.1.0/24", 1024, 49151);
	pipeline_query_init(&q);
	q.client = eni_end(w->web);
	q.server = eni_end(w->app);
	q.request = tcp("10.0.1.10", "10.0.2.20", 5432);
	pipeline_check(lab, &q, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.response.stages[1].port, 40000);
	assert_int_equal(c.response.stages[1].rule_number, 90);
	/* a known client port outside the hole passes; inside it does not */
	q.has_sport = true;
	q.request.sport = 50000;
	pipeline_check(lab, &q, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.reply.dport, 50000);
	q.request.sport = 40050;
	pipeline_check(lab, &q, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.response.stages[1].rule_number, 90);
	/* the client side's NACL ingress is checked over the range too */
	q.has_sport = false;
	q.eph_lo = 500;
	q.eph_hi = 600;
	pipeline_check(lab, &q, &c);
	assert_int_equal(c.response.stages[1].verdict, VERDICT_REJECT);
	world_free(w);
}

/* §4: the response's SG stages pass by tracking even without rules; an
 * untracked flow's reply is allowed by the rule that made it untracked. */
static void test_response_tracked_and_untracked(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	allow_all(lab, w->acl_pub);
	allow_all(lab, w->acl_priv);
	kit_sg_rule(lab, w->g_web, true, PROTO_TCP, 80, 80, "10.0.2.0/24");
	kit_sg_rule(lab, w->g_app, false, PROTO_TCP, 80, 80, "0.0.0.0/0");
	kit_finish(lab);
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.client = eni_end(w->web);
	q.server = eni_end(w->app);
	q.request = tcp("10.0.1.10", "10.0.2.20", 80);
	struct pipeline_check c;
	pipeline_check(lab, &q, &c);
	assert_false(c.request.stages[0].untracked);
	assert_false(c.request.stages[3].untracked);
	EXPECT(lab, &c.response, &c.reply, {STAGE_SG_EGRESS, A, REASON_TRACKED, 0, NULL},
	       {STAGE_NACL_EGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_NACL_INGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_SG_INGRESS, A, REASON_TRACKED, 0, NULL});
	/* app: all out to anywhere makes its 0/0 ingress rule untracked */
	kit_sg_rule(lab, w->g_app, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	pipeline_check(lab, &q, &c);
	assert_true(c.request.stages[3].untracked);
	EXPECT(lab, &c.response, &c.reply, {STAGE_SG_EGRESS, A, REASON_UNTRACKED, 0, "sg-app"},
	       {STAGE_NACL_EGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_NACL_INGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_SG_INGRESS, A, REASON_TRACKED, 0, NULL});
	assert_int_equal(c.response.stages[0].rule, 1);
	char why[256];
	assert_string_equal(
	    pipeline_explain(lab, &c.response.stages[0], &c.reply, why, sizeof(why)),
	    "untracked: sg-app (app) egress all traffic to 0.0.0.0/0");
	world_free(w);
}

static struct flow icmp(const char *src, const char *dst, int proto, int type)
{
	return (struct flow){.src = kit_addr(src),
			     .dst = kit_addr(dst),
			     .proto = (uint8_t)proto,
			     .icmp_type = (uint8_t)type};
}

/* Only echo requests expect a reply (8->0, 128->129), and the reply is a
 * new packet to the NACLs. */
static void test_icmp_responses(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	kit_sg_rule(lab, w->g_web, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_web, true, PROTO_ALL, -1, -1, "::/0");
	kit_sg_rule(lab, w->g_app, false, PROTO_ICMP, -1, -1, "10.0.0.0/16");
	kit_sg_rule(lab, w->g_app, false, PROTO_ICMPV6, -1, -1, "::/0");
	allow_all(lab, w->acl_pub);
	/* private NACL: echo requests in, but no echo reply out */
	kit_nacl_icmp(lab, w->acl_priv, false, 100, true, PROTO_ICMP, "0.0.0.0/0", -1, -1);
	kit_nacl_icmp(lab, w->acl_priv, true, 100, true, PROTO_ICMP, "0.0.0.0/0", 8, -1);
	kit_nacl_icmp(lab, w->acl_priv, false, 101, true, PROTO_ICMPV6, "::/0", -1, -1);
	kit_nacl_icmp(lab, w->acl_priv, true, 101, true, PROTO_ICMPV6, "::/0", 129, 0);
	kit_finish(lab);
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.client = eni_end(w->web);
	q.server = eni_end(w->app);
	q.request = icmp("10.0.1.10", "10.0.2.20", PROTO_ICMP, 8);
	struct pipeline_check c;
	pipeline_check(lab, &q, &c);
	assert_int_equal(c.request.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.reply.icmp_type, 0);
	assert_int_equal(c.response.stages[1].verdict, VERDICT_REJECT);
	assert_int_equal(c.response.stages[1].rule_number, NACL_RULE_STAR_V4);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	/* a timestamp request: nothing to answer, the request alone decides */
	q.request = icmp("10.0.1.10", "10.0.2.20", PROTO_ICMP, 13);
	pipeline_check(lab, &q, &c);
	assert_false(c.has_response);
	assert_int_equal(c.response_reason, REASON_NO_RESPONSE);
	assert_int_equal(c.response.verdict, VERDICT_SKIPPED);
	for (size_t i = 0; i < c.response.n; i++)
		assert_int_equal(c.response.stages[i].verdict, VERDICT_SKIPPED);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	/* ICMPv6 echo 128 -> 129 passes (rule 101 allows 129 out) */
	q.request = icmp("2001:db8:1:1::10", "2001:db8:1:2::20", PROTO_ICMPV6, 128);
	pipeline_check(lab, &q, &c);
	assert_int_equal(c.reply.icmp_type, 129);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.response.stages[1].rule_number, 101);
	world_free(w);
}

static void test_rejected_request_skips_response(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	kit_finish(lab);
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.client = eni_end(w->web);
	q.server = eni_end(w->app);
	q.request = tcp("10.0.1.10", "10.0.2.20", 22);
	struct pipeline_check c;
	pipeline_check(lab, &q, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_false(c.has_response);
	assert_int_equal(c.response.verdict, VERDICT_SKIPPED);
	EXPECT(lab, &c.response, &c.reply, {STAGE_SG_EGRESS, S, REASON_REQUEST_REJECTED, 0, NULL},
	       {STAGE_NACL_EGRESS, S, REASON_REQUEST_REJECTED, 0, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_REQUEST_REJECTED, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_REQUEST_REJECTED, 0, NULL});
	world_free(w);
}

/* The data path's view: a conntrack hit passes an ENI's SG stage without
 * rules, but the NACLs still run on every packet (§1, §4). */
static void test_tracked_flags(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab; /* empty groups */
	allow_all(lab, w->acl_pub);
	kit_finish(lab);
	struct pipeline_end web = eni_end(w->web), app = eni_end(w->app);
	struct flow f = tcp("10.0.2.20", "10.0.1.10", 40000);
	struct pipeline_result r;
	pipeline_evaluate(lab, &app, &web, &f, PIPELINE_SRC_TRACKED | PIPELINE_DST_TRACKED, &r);
	EXPECT(lab, &r, &f, {STAGE_SG_EGRESS, A, REASON_TRACKED, 0, NULL},
	       {STAGE_NACL_EGRESS, R, REASON_RULE, NACL_RULE_STAR_V4, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL});
	allow_all(lab, w->acl_priv);
	pipeline_evaluate(lab, &app, &web, &f, PIPELINE_SRC_TRACKED | PIPELINE_DST_TRACKED, &r);
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	assert_int_equal(r.stages[3].reason, REASON_TRACKED);
	/* only the source tracked: the receiver's rules still apply */
	pipeline_evaluate(lab, &app, &web, &f, PIPELINE_SRC_TRACKED, &r);
	assert_int_equal(r.verdict, VERDICT_REJECT);
	assert_int_equal(r.rejected_at, 3);
	world_free(w);
}

static void open_web_and_app(struct world *w)
{
	struct lab *lab = w->lab;
	allow_all(lab, w->acl_pub);
	allow_all(lab, w->acl_priv);
	kit_sg_rule(lab, w->g_web, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_web, false, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_app, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_app, false, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_open, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_open, false, PROTO_ALL, -1, -1, "0.0.0.0/0");
	for (int32_t g = w->g_web; g <= w->g_open; g++) {
		kit_sg_rule(lab, g, true, PROTO_ALL, -1, -1, "::/0");
		kit_sg_rule(lab, g, false, PROTO_ALL, -1, -1, "::/0");
	}
	kit_finish(lab);
}

/* An open path that only its route stage (after both egress stages, ACL
 * rule 100) refuses. */
static void expect_refused_by_route(const struct lab *lab, const struct pipeline_result *r,
				    const struct flow *f, enum pipeline_reason why)
{
	EXPECT(lab, r, f, {STAGE_SG_EGRESS, A, REASON_RULE, 0, NULL},
	       {STAGE_NACL_EGRESS, A, REASON_RULE, 100, NULL}, {STAGE_ROUTE, R, why, 0, NULL},
	       {STAGE_NACL_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL},
	       {STAGE_SG_INGRESS, S, REASON_EARLIER_REJECT, 0, NULL});
}

static void kit_blackhole(struct lab *lab, int32_t rt, const char *dest, const char *target)
{
	kit_route(lab, rt, dest, target);
	lab->route_tables[rt].routes[lab->route_tables[rt].n_routes - 1].blackhole = true;
}

/* §9: a route whose target is gone ("State": "blackhole") still wins the
 * longest prefix match, and drops what it matches. */
static void test_blackhole_routes(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	open_web_and_app(w);
	kit_blackhole(lab, w->rt_pub, "198.51.100.0/24", "igw-old");
	kit_blackhole(lab, w->rt_pub, "192.0.2.0/24", "vpce-old");
	struct pipeline_end web = eni_end(w->web), in = outside_end();
	struct flow f = tcp("10.0.1.10", "198.51.100.1", 443);
	struct pipeline_result r;
	pipeline_evaluate(lab, &web, &in, &f, 0, &r);
	expect_refused_by_route(lab, &r, &f, REASON_BLACKHOLE);
	char why[256];
	assert_string_equal(
	    pipeline_explain(lab, &r.stages[2], &f, why, sizeof(why)),
	    "rtb-pub: 198.51.100.0/24 -> igw-old is a blackhole route (its target is "
	    "gone): dropped");
	/* the rest of the internet still goes by 0.0.0.0/0 -> igw-1 */
	f = tcp("10.0.1.10", "203.0.113.5", 443);
	pipeline_evaluate(lab, &web, &in, &f, 0, &r);
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	/* no way back: a connection from a blackholed network is refused */
	struct pipeline_check c;
	f = tcp("198.51.100.1", "10.0.1.10", 443);
	check_flow(lab, in, web, &f, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.request.stages[c.request.rejected_at].reason, REASON_BLACKHOLE);
	/* a blackholed gateway endpoint is no private path either */
	f = tcp("10.0.1.10", "192.0.2.10", 443);
	pipeline_evaluate(lab, &web, &in, &f, 0, &r);
	assert_int_equal(r.stages[2].reason, REASON_BLACKHOLE);
	assert_int_equal(r.verdict, VERDICT_REJECT);
	world_free(w);
}

/* §9: since 2021 a route more specific than the local route may send
 * traffic between subnets to a middlebox (an appliance ENI, a Gateway Load
 * Balancer or Network Firewall endpoint). vpcfw does not model the detour:
 * such a flow is refused at a route stage naming the route, never
 * evaluated as if the route were not there (docs/deviations.md). */
static void test_routes_more_specific_than_local(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	open_web_and_app(w);
	struct pipeline_end web = eni_end(w->web), app = eni_end(w->app), webb = eni_end(w->webb);
	struct flow f = tcp("10.0.1.10", "10.0.2.20", 5432);
	struct pipeline_result r;
	pipeline_evaluate(lab, &web, &app, &f, 0, &r);
	assert_int_equal(r.n, 4); /* the local route: no route stage */
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	/* rtb-pub sends the private subnet to a firewall appliance */
	kit_route(lab, w->rt_pub, "10.0.2.0/24", "eni-0fw");
	pipeline_evaluate(lab, &web, &app, &f, 0, &r);
	expect_refused_by_route(lab, &r, &f, REASON_MIDDLEBOX);
	char why[256];
	assert_string_equal(pipeline_explain(lab, &r.stages[2], &f, why, sizeof(why)),
			    "rtb-pub sends 10.0.2.0/24 to eni-0fw, a route more specific than the "
			    "local route (middlebox routing is not modelled)");
	/* the other way the request takes rtb-main's local route, but the
	 * response goes by rtb-pub: refused there */
	struct flow back = tcp("10.0.2.20", "10.0.1.10", 443);
	struct pipeline_check c;
	check_flow(lab, app, web, &back, &c);
	EXPECT(lab, &c.request, &back, {STAGE_SG_EGRESS, A, REASON_RULE, 0, NULL},
	       {STAGE_NACL_EGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_ROUTE, A, REASON_ROUTE_LOCAL, 0, NULL},
	       {STAGE_NACL_INGRESS, A, REASON_RULE, 100, NULL},
	       {STAGE_SG_INGRESS, A, REASON_RULE, 0, NULL});
	assert_string_equal(pipeline_explain(lab, &c.request.stages[2], &back, why, sizeof(why)),
			    "rtb-main: 10.0.0.0/16 -> local");
	assert_int_equal(c.response.stages[2].reason, REASON_MIDDLEBOX);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	/* a subnet the route does not cover, and IPv6 (rtb-pub has only
	 * ::/0 to the igw, never a route for an address of the VPC) */
	f = tcp("10.0.1.10", "10.0.3.30", 80);
	pipeline_evaluate(lab, &web, &webb, &f, 0, &r);
	assert_int_equal(r.n, 4);
	kit_route(lab, w->rt_priv, "::/0", "eigw-1");
	f = tcp("2001:db8:1:2::20", "2001:db8:1:1::10", 80);
	pipeline_evaluate(lab, &app, &web, &f, 0, &r);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	/* a blackholed more specific route drops between subnets too */
	kit_blackhole(lab, w->rt_pub, "10.0.3.0/24", "eni-0gone");
	f = tcp("10.0.1.10", "10.0.3.30", 80);
	pipeline_evaluate(lab, &web, &webb, &f, 0, &r);
	assert_int_equal(r.stages[2].reason, REASON_BLACKHOLE);
	assert_int_equal(r.verdict, VERDICT_REJECT);
	/* inside one subnet no route table is consulted */
	kit_route(lab, w->rt_pub, "10.0.1.0/24", "eni-0fw");
	struct pipeline_end web2 = eni_end(w->web2);
	f = tcp("10.0.1.10", "10.0.1.11", 80);
	pipeline_evaluate(lab, &web, &web2, &f, 0, &r);
	assert_int_equal(r.n, 4);
	world_free(w);
}

/* §9: a public IPv4 belongs to one private address, not to the ENI. A
 * secondary address without one of its own neither reaches nor is reached
 * from the internet; an Elastic IP on a secondary address maps to that
 * address, even on an ENI whose primary has none. */
static void test_public_ip_per_address(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	kit_secondary(lab, w->web, "10.0.1.12", NULL);
	kit_secondary(lab, w->nopub, "10.0.1.13", "54.0.0.13");
	open_web_and_app(w);
	struct pipeline_end web = eni_end(w->web), nopub = eni_end(w->nopub), in = outside_end();
	struct pipeline_result r;
	char why[256];
	/* web: its primary has 54.0.0.10, its secondary nothing */
	struct flow f = tcp("10.0.1.10", "203.0.113.5", 443);
	pipeline_evaluate(lab, &web, &in, &f, 0, &r);
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	f = tcp("10.0.1.12", "203.0.113.5", 443);
	pipeline_evaluate(lab, &web, &in, &f, 0, &r);
	assert_int_equal(r.verdict, VERDICT_REJECT);
	assert_int_equal(r.stages[2].reason, REASON_NO_PUBLIC_IP);
	assert_string_equal(pipeline_explain(lab, &r.stages[2], &f, why, sizeof(why)),
			    "web: its address 10.0.1.12 has no public IPv4 address of its own: "
			    "203.0.113.5 cannot be reached");
	f = tcp("203.0.113.5", "10.0.1.12", 443);
	pipeline_evaluate(lab, &in, &web, &f, 0, &r);
	assert_int_equal(r.stages[2].reason, REASON_NO_PUBLIC_IP);
	/* nopub: no public IP on its primary, an Elastic IP on 10.0.1.13 */
	f = tcp("10.0.1.11", "203.0.113.5", 443);
	pipeline_evaluate(lab, &nopub, &in, &f, 0, &r);
	assert_int_equal(r.stages[2].reason, REASON_NO_PUBLIC_IP);
	assert_string_equal(pipeline_explain(lab, &r.stages[2], &f, why, sizeof(why)),
			    "web2 has no public IPv4 address: 203.0.113.5 cannot be reached");
	f = tcp("10.0.1.13", "203.0.113.5", 443);
	pipeline_evaluate(lab, &nopub, &in, &f, 0, &r);
	assert_int_equal(r.verdict, VERDICT_ACCEPT);
	assert_int_equal(r.stages[2].reason, REASON_ROUTE_IGW);
	struct pipeline_check c;
	f = tcp("203.0.113.5", "10.0.1.13", 443);
	check_flow(lab, in, nopub, &f, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	/* the internet gateway's 1:1 map: each public IP to its own address */
	struct ip_addr priv, pub = kit_addr("54.0.0.13");
	assert_int_equal(lab_private_of_public(lab, &pub, &priv), w->nopub);
	assert_true(ip_addr_eq(&priv, &lab->enis[w->nopub].ipv4[1]));
	pub = kit_addr("54.0.0.10");
	assert_int_equal(lab_private_of_public(lab, &pub, &priv), w->web);
	assert_true(ip_addr_eq(&priv, &lab->enis[w->web].ipv4[0]));
	struct endpoint ep;
	assert_int_equal(lab_resolve_endpoint(lab, "54.0.0.13", &ep), 0);
	assert_int_equal(ep.eni, w->nopub);
	assert_true(ip_addr_eq(&ep.addr, &lab->enis[w->nopub].ipv4[1]));
	assert_null(eni_public_of(&lab->enis[w->web], &lab->enis[w->web].ipv4[1]));
	world_free(w);
}

static void test_other_vpc_and_explanations(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	int32_t vpc2 = kit_vpc(lab, "vpc-2", "172.16.0.0/16", NULL);
	int32_t acl2 = kit_nacl(lab, "acl-2", vpc2, true);
	allow_all(lab, acl2);
	int32_t sn2 = kit_subnet(lab, "subnet-x", vpc2, "172.16.1.0/24", NULL, acl2, -1);
	int32_t far = kit_eni(lab, "eni-far", "far", sn2, "172.16.1.5", NULL, NULL,
			      (int32_t[]){w->g_open, END});
	kit_sg_rule(lab, w->g_web, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	allow_all(lab, w->acl_pub);
	kit_finish(lab);
	struct pipeline_end web = eni_end(w->web), x = eni_end(far);
	struct flow f = tcp("10.0.1.10", "172.16.1.5", 22);
	struct pipeline_result r;
	pipeline_evaluate(lab, &web, &x, &f, 0, &r);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.stages[2].reason, REASON_OTHER_VPC);
	assert_int_equal(r.verdict, VERDICT_REJECT);
	char why[256];
	assert_string_equal(pipeline_explain(lab, &r.stages[0], &f, why, sizeof(why)),
			    "sg-web (web) egress all traffic to 0.0.0.0/0");
	assert_string_equal(pipeline_explain(lab, &r.stages[1], &f, why, sizeof(why)),
			    "acl-pub rule 100: allow all traffic to 0.0.0.0/0");
	struct pipeline_end app = eni_end(w->app);
	f = tcp("10.0.1.10", "10.0.2.20", 22);
	pipeline_evaluate(lab, &app, &web, &f, 0, &r);
	assert_string_equal(pipeline_explain(lab, &r.stages[0], &f, why, sizeof(why)),
			    "no rule matched in sg-app (app egress)");
	assert_string_equal(pipeline_stage_name(STAGE_ROUTE), "route");
	assert_string_equal(pipeline_verdict_name(VERDICT_SKIPPED), "SKIPPED");
	world_free(w);
}

/* ---- differential: the whole pipeline against the naive reference ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	return ref_rnd(&rng_state, n);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const pool4[] = {"0.0.0.0/0",   "10.0.0.0/16", "10.0.1.0/24",
				    "10.0.2.0/24", "10.0.3.0/24", "10.0.1.10/32"};
static const char *const pool6[] = {"::/0", "2001:db8:1::/56", "2001:db8:1:1::/64",
				    "2001:db8:1:2::/64"};

static unsigned rnd_port(void)
{
	static const unsigned marks[] = {22, 80, 443, 1024, 5432, 32768, 40000, 60999};
	int p = (int)marks[rnd(N(marks))] + (int)rnd(41) - 20;
	return p < 0 ? 0 : p > 65535 ? 65535 : (unsigned)p;
}

static void random_acl(struct lab *lab, int32_t acl)
{
	static const int protos[] = {PROTO_ALL, PROTO_TCP, PROTO_UDP, PROTO_ICMP};
	for (int eg = 0; eg < 2; eg++) {
		unsigned n = 1 + rnd(6);
		for (unsigned i = 0; i < n; i++) {
			uint32_t number = 10 * (1 + i) + rnd(10);
			bool v6 = rnd(4) == 0;
			int proto = protos[rnd(N(protos))];
			const char *cidr = v6 ? pool6[rnd(N(pool6))] : pool4[rnd(N(pool4))];
			bool allow = rnd(4) != 0;
			if (proto == PROTO_ICMP) {
				kit_nacl_icmp(lab, acl, eg, number, allow, proto, cidr,
					      rnd(2) ? -1 : 8, -1);
				continue;
			}
			unsigned a = rnd_port(), b = rnd(3) ? 65535 : rnd_port();
			kit_nacl_rule(lab, acl, eg, number, allow, proto, cidr, a < b ? a : b,
				      a < b ? b : a);
		}
	}
}

static void random_group(struct lab *lab, int32_t g, int32_t ngroups)
{
	static const int protos[] = {PROTO_ALL, PROTO_TCP, PROTO_UDP, PROTO_ICMP};
	if (rnd(2))
		kit_sg_rule(lab, g, false, rnd(2) ? PROTO_ALL : PROTO_TCP, 0, 65535, "10.0.0.0/16");
	if (rnd(3))
		kit_sg_rule(lab, g, true, PROTO_ALL, -1, -1, rnd(2) ? "0.0.0.0/0" : "::/0");
	unsigned n = rnd(6);
	for (unsigned i = 0; i < n; i++) {
		int proto = protos[rnd(N(protos))];
		int from = -1, to = -1;
		if (proto == PROTO_TCP || proto == PROTO_UDP) {
			from = (int)rnd_port();
			to = rnd(2) ? from : 65535;
		} else if (proto == PROTO_ICMP) {
			from = rnd(2) ? -1 : 8;
		}
		char peer[32];
		if (rnd(4) == 0)
			snprintf(peer, sizeof(peer), "sg-%u", rnd((uint32_t)ngroups));
		else
			snprintf(peer, sizeof(peer), "%s",
				 rnd(4) ? pool4[rnd(N(pool4))] : pool6[rnd(N(pool6))]);
		kit_sg_rule(lab, g, rnd(2), proto, from, to, peer);
	}
}

/* AWS-SEMANTICS §1 written out plainly: both SGs, and both NACLs unless
 * one subnet (UDP 67/68 between two ENIs is no DHCP exchange with the
 * VPC, §9). Returns the first refusing stage, or -1. */
/* §9 written out: between subnets of one VPC the sender's table decides;
 * only the local route and routes inside the VPC's blocks (10.0.0.0/16
 * here) compete, and the packet passes only by the local route. */
static bool ref_leaves_local(const struct lab *lab, const struct eni *from, const struct eni *to,
			     const struct ip_addr *dst)
{
	static const char *const blocks[] = {"10.0.0.0/16", "2001:db8:1::/56"};
	const struct subnet *s = &lab->subnets[from->subnet];
	if (from->subnet == to->subnet || s->route_table < 0)
		return false;
	const struct route_table *rt = &lab->route_tables[s->route_table];
	const struct route *best = NULL;
	for (size_t i = 0; i < rt->n_routes; i++) {
		const struct route *r = &rt->routes[i];
		bool inside = false;
		for (size_t k = 0; k < 2; k++) {
			struct ip_prefix b = kit_prefix(blocks[k]);
			inside |= b.addr.family == r->dest.addr.family && r->dest.len >= b.len &&
				  ref_contains(&b, &r->dest.addr);
		}
		if (inside && ref_contains(&r->dest, dst) &&
		    (!best || r->dest.len > best->dest.len))
			best = r;
	}
	return best && (strcmp(best->target, "local") != 0 || best->blackhole);
}

static int ref_path(const struct lab *lab, int32_t a, int32_t b, const struct flow *f)
{
	const struct eni *src = &lab->enis[a], *dst = &lab->enis[b];
	uint32_t rule;
	bool nacls = src->subnet != dst->subnet;
	if (!ref_sg(lab, src, true, f))
		return STAGE_SG_EGRESS;
	if (nacls && !ref_nacl(&lab->nacls[lab->subnets[src->subnet].nacl], true, f, &rule))
		return STAGE_NACL_EGRESS;
	if (ref_leaves_local(lab, src, dst, &f->dst))
		return STAGE_ROUTE;
	if (nacls && !ref_nacl(&lab->nacls[lab->subnets[dst->subnet].nacl], false, f, &rule))
		return STAGE_NACL_INGRESS;
	if (!ref_sg(lab, dst, false, f))
		return STAGE_SG_INGRESS;
	return -1;
}

static void test_differential_pipeline(void **state)
{
	rng_state = 0xfeedf00dull;
	unsigned flows = 0, accepted = 0, replies_refused = 0, by_route = 0;
	for (int set = 0; set < 600; set++) {
		struct lab *lab = kit_new();
		int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8:1::/56");
		int32_t acls[3];
		for (int i = 0; i < 3; i++) {
			char id[16];
			snprintf(id, sizeof(id), "acl-%d", i);
			acls[i] = kit_nacl(lab, id, vpc, i == 0);
			random_acl(lab, acls[i]);
		}
		/* the main table: local, sometimes a middlebox or a blackhole
		 * route more specific than it, and 0/0 (never for the VPC) */
		int32_t rt = kit_route_table(lab, "rtb-main", vpc, true);
		kit_route(lab, rt, "10.0.0.0/16", "local");
		kit_route(lab, rt, "0.0.0.0/0", "igw-1");
		if (rnd(8) == 0)
			kit_route(lab, rt, rnd(2) ? "10.0.2.0/24" : "10.0.2.0/25", "eni-fw");
		if (rnd(10) == 0)
			kit_blackhole(lab, rt, "10.0.3.0/24", "eni-gone");
		int32_t sn[3];
		for (int i = 0; i < 3; i++) {
			char id[16], c4[24], c6[32];
			snprintf(id, sizeof(id), "subnet-%d", i);
			snprintf(c4, sizeof(c4), "10.0.%d.0/24", i + 1);
			snprintf(c6, sizeof(c6), "2001:db8:1:%d::/64", i + 1);
			sn[i] = kit_subnet(lab, id, vpc, c4, c6, acls[rnd(3)], -1);
		}
		int32_t ng = 3;
		for (int32_t g = 0; g < ng; g++) {
			char id[16];
			snprintf(id, sizeof(id), "sg-%d", g);
			kit_group(lab, id, NULL, vpc);
		}
		for (int32_t g = 0; g < ng; g++)
			random_group(lab, g, ng);
		for (int i = 0; i < 5; i++) {
			char id[16], a4[24], a6[32];
			int s = (int)rnd(3);
			snprintf(id, sizeof(id), "eni-%d", i);
			snprintf(a4, sizeof(a4), "10.0.%d.%d", s + 1, 10 + i);
			snprintf(a6, sizeof(a6), "2001:db8:1:%d::%d", s + 1, 10 + i);
			int32_t gs[3] = {(int32_t)rnd(3), rnd(2) ? (int32_t)rnd(3) : END, END};
			kit_eni(lab, id, NULL, sn[s], a4, rnd(2) ? a6 : NULL, NULL, gs);
		}
		kit_finish(lab);
		for (int k = 0; k < 25; k++) {
			int32_t a = (int32_t)rnd(5), b = (int32_t)rnd(5);
			if (a == b)
				continue;
			const struct eni *ea = &lab->enis[a], *eb = &lab->enis[b];
			bool v6 = ea->n_ipv6 && eb->n_ipv6 && rnd(2);
			struct flow f = {.src = v6 ? ea->ipv6[0] : ea->ipv4[0],
					 .dst = v6 ? eb->ipv6[0] : eb->ipv4[0]};
			static const int pp[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP};
			f.proto = (uint8_t)pp[rnd(N(pp))];
			if (f.proto == PROTO_ICMP) {
				if (v6)
					f.proto = PROTO_TCP;
				f.icmp_type = 8;
			}
			if (f.proto != PROTO_ICMP) {
				f.dport = (uint16_t)rnd_port();
				f.sport = 40000;
			}
			struct pipeline_end pa = eni_end(a), pb = eni_end(b);
			struct pipeline_query q;
			pipeline_query_init(&q);
			q.client = pa;
			q.server = pb;
			q.request = f;
			q.eph_lo = (uint16_t)(32768 + rnd(20000));
			q.eph_hi = (uint16_t)(q.eph_lo + rnd(400));
			struct pipeline_check c;
			pipeline_check(lab, &q, &c);
			int want = ref_path(lab, a, b, &f);
			if (want < 0)
				assert_int_equal(c.request.verdict, VERDICT_ACCEPT);
			else if (c.request.rejected_at < 0 ||
				 (int)c.request.stages[c.request.rejected_at].stage != want)
				fail_msg("set %d flow %d: engine rejected at %d, reference at %s",
					 set, k, c.request.rejected_at,
					 pipeline_stage_name((enum pipeline_stage)want));
			/* the reply: SGs tracked, NACLs for every client port */
			/* the response goes by the server subnet's table */
			bool reply_ok = want < 0 && !ref_leaves_local(lab, eb, ea, &f.src);
			replies_refused += want < 0 && !reply_ok;
			if (reply_ok) {
				struct flow r = {
				    .src = f.dst, .dst = f.src, .proto = f.proto, .sport = f.dport};
				if (f.proto == PROTO_ICMP)
					r.icmp_type = 0;
				bool nacls = ea->subnet != eb->subnet;
				unsigned lo = f.proto == PROTO_ICMP ? 0 : q.eph_lo;
				unsigned hi = f.proto == PROTO_ICMP ? 0 : q.eph_hi;
				for (unsigned p = lo; nacls && reply_ok && p <= hi; p++) {
					uint32_t rule;
					r.dport = (uint16_t)p;
					reply_ok =
					    ref_nacl(&lab->nacls[lab->subnets[eb->subnet].nacl],
						     true, &r, &rule) &&
					    ref_nacl(&lab->nacls[lab->subnets[ea->subnet].nacl],
						     false, &r, &rule);
				}
				replies_refused += !reply_ok;
			}
			if ((c.verdict == VERDICT_ACCEPT) != reply_ok)
				fail_msg("set %d flow %d: engine %s, reference %s", set, k,
					 pipeline_verdict_name(c.verdict),
					 reply_ok ? "ACCEPT" : "REJECT");
			flows++;
			accepted += c.verdict == VERDICT_ACCEPT;
			by_route += want == STAGE_ROUTE;
		}
		kit_free(lab);
	}
	print_message("%u flows, %u accepted, %u replies refused, %u refused by a route\n", flows,
		      accepted, replies_refused, by_route);
	assert_true(flows > 10000);
	/* the generator must exercise every outcome */
	assert_true(accepted > flows / 50);
	assert_true(replies_refused > flows / 100);
	assert_true(by_route > flows / 200);
}

/* The internet gateway path written out: the ENI's subnet table sends the
 * far address (longest prefix) to an igw- by a route that is no blackhole,
 * and IPv4 needs a public IP; or to a vgw- (a VPN to on-premises hosts,
 * private addresses both ways: no public IP). */
static bool ref_route(const struct lab *lab, const struct eni *e, const struct ip_addr *far)
{
	const struct subnet *s = &lab->subnets[e->subnet];
	if (s->route_table < 0)
		return false;
	const struct route_table *rt = &lab->route_tables[s->route_table];
	const struct route *best = NULL;
	for (size_t i = 0; i < rt->n_routes; i++)
		if (ref_contains(&rt->routes[i].dest, far) &&
		    (!best || rt->routes[i].dest.len > best->dest.len))
			best = &rt->routes[i];
	if (!best || best->blackhole)
		return false;
	if (!strncmp(best->target, "vgw-", 4))
		return true;
	if (strncmp(best->target, "igw-", 4) != 0)
		return false;
	return far->family == IP_V6 || e->has_public_ip;
}

/* Outside host <-> ENI: only the ENI's side of the stages, plus the route. */
static int ref_outside_path(const struct lab *lab, int32_t eni, bool inbound, const struct flow *f)
{
	const struct eni *e = &lab->enis[eni];
	const struct nacl *acl = &lab->nacls[lab->subnets[e->subnet].nacl];
	uint32_t rule;
	if (!inbound && !ref_sg(lab, e, true, f))
		return STAGE_SG_EGRESS;
	if (!inbound && !ref_nacl(acl, true, f, &rule))
		return STAGE_NACL_EGRESS;
	if (!ref_route(lab, e, inbound ? &f->src : &f->dst))
		return STAGE_ROUTE;
	if (inbound && !ref_nacl(acl, false, f, &rule))
		return STAGE_NACL_INGRESS;
	if (inbound && !ref_sg(lab, e, false, f))
		return STAGE_SG_INGRESS;
	return -1;
}

static void test_differential_outside(void **state)
{
	rng_state = 0xabad1deaull;
	static const char *const far4[] = {"192.0.2.7", "198.51.100.9", "203.0.113.200"};
	static const char *const far6[] = {"2001:db8:ff::7", "2001:db9::1"};
	unsigned flows = 0, accepted = 0, by_route = 0;
	for (int set = 0; set < 500; set++) {
		struct lab *lab = kit_new();
		int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8:1::/56");
		int32_t acls[2];
		for (int i = 0; i < 2; i++) {
			char id[16];
			snprintf(id, sizeof(id), "acl-%d", i);
			acls[i] = kit_nacl(lab, id, vpc, i == 0);
			random_acl(lab, acls[i]);
			/* the internet is 0/0 to a NACL: often let the rest through */
			for (int eg = 0; eg < 2; eg++)
				if (rnd(3))
					kit_nacl_rule(lab, acls[i], eg, 500, true, PROTO_ALL,
						      rnd(2) ? "0.0.0.0/0" : "::/0", 0, 0);
		}
		int32_t rt_pub = kit_route_table(lab, "rtb-pub", vpc, false);
		kit_route(lab, rt_pub, "10.0.0.0/16", "local");
		if (rnd(4))
			kit_route(lab, rt_pub, "0.0.0.0/0", "igw-1");
		if (rnd(2))
			kit_route(lab, rt_pub, "::/0", "igw-1");
		if (rnd(3) == 0)
			kit_route(lab, rt_pub, "198.51.100.0/24", "vgw-1");
		if (rnd(5) == 0) /* the igw of an older route is gone */
			kit_blackhole(lab, rt_pub, "203.0.113.0/24", "igw-old");
		int32_t rt_priv = kit_route_table(lab, "rtb-priv", vpc, true);
		kit_route(lab, rt_priv, "0.0.0.0/0", "nat-1");
		int32_t sn[2];
		for (int i = 0; i < 2; i++) {
			char id[16], c4[24], c6[32];
			snprintf(id, sizeof(id), "subnet-%d", i);
			snprintf(c4, sizeof(c4), "10.0.%d.0/24", i + 1);
			snprintf(c6, sizeof(c6), "2001:db8:1:%d::/64", i + 1);
			sn[i] =
			    kit_subnet(lab, id, vpc, c4, c6, acls[rnd(2)], rnd(3) ? rt_pub : -1);
		}
		for (int32_t g = 0; g < 2; g++) {
			char id[16];
			snprintf(id, sizeof(id), "sg-%d", g);
			kit_group(lab, id, NULL, vpc);
		}
		for (int32_t g = 0; g < 2; g++) {
			random_group(lab, g, 2);
			if (rnd(2))
				kit_sg_rule(lab, g, false, rnd(2) ? PROTO_ALL : PROTO_TCP, 0, 65535,
					    rnd(3) ? "0.0.0.0/0" : "::/0");
		}
		for (int i = 0; i < 3; i++) {
			char id[16], a4[24], a6[32], pub[24];
			int s = (int)rnd(2);
			snprintf(id, sizeof(id), "eni-%d", i);
			snprintf(a4, sizeof(a4), "10.0.%d.%d", s + 1, 10 + i);
			snprintf(a6, sizeof(a6), "2001:db8:1:%d::%d", s + 1, 10 + i);
			snprintf(pub, sizeof(pub), "54.0.0.%d", 10 + i);
			kit_eni(lab, id, NULL, sn[s], a4, a6, rnd(2) ? pub : NULL,
				(int32_t[]){(int32_t)rnd(2), END});
		}
		kit_finish(lab);
		for (int k = 0; k < 25; k++) {
			int32_t e = (int32_t)rnd(3);
			bool inbound = rnd(2), v6 = rnd(3) == 0;
			const struct eni *en = &lab->enis[e];
			struct ip_addr far = kit_addr(v6 ? far6[rnd(2)] : far4[rnd(3)]);
			struct ip_addr own = v6 ? en->ipv6[0] : en->ipv4[0];
			struct flow f = {.src = inbound ? far : own,
					 .dst = inbound ? own : far,
					 .proto = rnd(2) ? PROTO_TCP : PROTO_UDP,
					 .sport = 40000,
					 .dport = (uint16_t)rnd_port()};
			struct pipeline_query q;
			pipeline_query_init(&q);
			q.client = inbound ? outside_end() : eni_end(e);
			q.server = inbound ? eni_end(e) : outside_end();
			q.request = f;
			q.eph_lo = (uint16_t)(1024 + rnd(60000));
			q.eph_hi = (uint16_t)(q.eph_lo + rnd(200));
			struct pipeline_check c;
			pipeline_check(lab, &q, &c);
			int want = ref_outside_path(lab, e, inbound, &f);
			int got = c.request.rejected_at < 0
				      ? -1
				      : (int)c.request.stages[c.request.rejected_at].stage;
			if (got != want)
				fail_msg("set %d flow %d: engine rejected at %d, reference at %d",
					 set, k, got, want);
			assert_int_equal(c.request.n, 5);
			bool reply_ok = want < 0;
			const struct nacl *acl = &lab->nacls[lab->subnets[en->subnet].nacl];
			struct flow r = {
			    .src = f.dst, .dst = f.src, .proto = f.proto, .sport = f.dport};
			for (unsigned p = q.eph_lo; reply_ok && p <= q.eph_hi; p++) {
				uint32_t rule;
				r.dport = (uint16_t)p;
				reply_ok = ref_nacl(acl, inbound, &r, &rule);
			}
			if ((c.verdict == VERDICT_ACCEPT) != reply_ok)
				fail_msg("set %d flow %d: engine %s, reference %s", set, k,
					 pipeline_verdict_name(c.verdict),
					 reply_ok ? "ACCEPT" : "REJECT");
			flows++;
			accepted += reply_ok;
			by_route += want == STAGE_ROUTE;
		}
		kit_free(lab);
	}
	print_message("%u outside flows, %u accepted, %u refused by the route\n", flows, accepted,
		      by_route);
	/* every outcome exercised: accepted, refused by the route, refused by rules */
	assert_true(accepted > flows / 200 && by_route > flows / 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_both_sg_gates),
	    cmocka_unit_test(test_both_nacl_gates),
	    cmocka_unit_test(test_first_match_in_pipeline),
	    cmocka_unit_test(test_same_subnet_skips_nacls),
	    cmocka_unit_test(test_ipv6_effective),
	    cmocka_unit_test(test_service_exemptions),
	    cmocka_unit_test(test_dhcp_only_with_vpc_service),
	    cmocka_unit_test(test_link_local_services),
	    cmocka_unit_test(test_outside_host),
	    cmocka_unit_test(test_response_ephemeral_range),
	    cmocka_unit_test(test_response_tracked_and_untracked),
	    cmocka_unit_test(test_icmp_responses),
	    cmocka_unit_test(test_rejected_request_skips_response),
	    cmocka_unit_test(test_tracked_flags),
	    cmocka_unit_test(test_blackhole_routes),
	    cmocka_unit_test(test_routes_more_specific_than_local),
	    cmocka_unit_test(test_public_ip_per_address),
	    cmocka_unit_test(test_other_vpc_and_explanations),
	    cmocka_unit_test(test_differential_pipeline),
	    cmocka_unit_test(test_differential_outside),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
