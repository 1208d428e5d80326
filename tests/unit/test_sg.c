/*
 * rules/sg: the union of an ENI's groups, allow-only; ingress rules match
 * the source, egress the destination; peers by CIDR, prefix list and group
 * reference (the default group's self-reference of the AWS docs); the
 * untracked-flow decision of AWS-SEMANTICS §4; the rule as text; and a
 * differential test against a naive evaluator on seeded random groups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "labkit.h"
#include "reference.h"
#include "sgtable.h"
#include "sg.h"

static const int32_t END = -1;

/* A VPC with its default group (self-reference in, all out, §3), an app
 * group that the ALB's group may reach on 8080, and a db group. */
struct world {
	struct lab *lab;
	int32_t vpc, subnet;
	int32_t g_default, g_alb, g_app, g_db, g_ops;
	int32_t web, web2, alb, app, db, lonely;
};

static void world_build(struct world *w)
{
	struct lab *lab = w->lab = kit_new();
	w->vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8:1::/56");
	int32_t acl = kit_nacl(lab, "acl-d", w->vpc, true);
	w->subnet =
	    kit_subnet(lab, "subnet-a", w->vpc, "10.0.1.0/24", "2001:db8:1:1::/64", acl, -1);
	const char *const office[] = {"192.0.2.0/25", "198.51.100.0/24", "2001:db8:ff::/48", NULL};
	kit_prefix_list(lab, "pl-office", "office", office);
	w->g_default = kit_group(lab, "sg-default", "default", w->vpc);
	kit_sg_rule(lab, w->g_default, false, PROTO_ALL, -1, -1, "sg-default");
	kit_sg_rule(lab, w->g_default, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_default, true, PROTO_ALL, -1, -1, "::/0");
	w->g_alb = kit_group(lab, "sg-0def", "alb", w->vpc);
	kit_sg_rule(lab, w->g_alb, false, PROTO_TCP, 443, 443, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_alb, false, PROTO_TCP, 443, 443, "::/0");
	w->g_app = kit_group(lab, "sg-0abc", "app", w->vpc);
	kit_sg_rule(lab, w->g_app, false, PROTO_TCP, 8080, 8080, "sg-0def");
	kit_sg_rule(lab, w->g_app, true, PROTO_TCP, 5432, 5432, "10.0.1.0/24");
	w->g_db = kit_group(lab, "sg-db", "db", w->vpc);
	kit_sg_rule(lab, w->g_db, false, PROTO_TCP, 5432, 5432, "sg-0abc");
	w->g_ops = kit_group(lab, "sg-ops", "ops", w->vpc);
	kit_sg_rule(lab, w->g_ops, false, PROTO_TCP, 22, 22, "pl-office");
	kit_sg_rule(lab, w->g_ops, false, PROTO_ICMP, 8, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_ops, false, PROTO_ICMPV6, -1, -1, "::/0");
	kit_sg_rule(lab, w->g_ops, false, 47, -1, -1, "10.0.0.0/16");
	w->web = kit_eni(lab, "eni-web", "web", w->subnet, "10.0.1.10", "2001:db8:1:1::10",
			 "54.0.0.10", (int32_t[]){w->g_default, END});
	w->web2 = kit_eni(lab, "eni-web2", "web2", w->subnet, "10.0.1.11", NULL, NULL,
			  (int32_t[]){w->g_default, END});
	w->alb = kit_eni(lab, "eni-alb", "alb", w->subnet, "10.0.1.20", "2001:db8:1:1::20", NULL,
			 (int32_t[]){w->g_alb, END});
	w->app = kit_eni(lab, "eni-app", "app", w->subnet, "10.0.1.30", NULL, NULL,
			 (int32_t[]){w->g_app, w->g_ops, END});
	w->db = kit_eni(lab, "eni-db", "db", w->subnet, "10.0.1.40", NULL, NULL,
			(int32_t[]){w->g_db, END});
	w->lonely = kit_eni(lab, "eni-lonely", "lonely", w->subnet, "10.0.1.50", NULL, NULL,
			    (int32_t[]){END});
	kit_finish(lab);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	world_build(w);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	kit_free(w->lab);
	free(w);
	return 0;
}

struct sg_case {
	const char *what;
	int32_t eni;
	bool egress;
	struct flow f;
	const char *group; /* NULL: refused */
	int32_t rule;
};

static void run_cases(const struct world *w, const struct sg_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct sg_match m;
		bool ok = sg_evaluate(w->lab, &w->lab->enis[c[i].eni], c[i].egress, &c[i].f, &m);
		const char *got = ok ? w->lab->groups[m.group].id : NULL;
		bool same = c[i].group ? ok && !strcmp(got, c[i].group) && m.rule == c[i].rule
				       : !ok && m.group == -1 && m.rule == -1;
		if (!same)
			fail_msg("%s: got %s rule %d, want %s rule %d", c[i].what,
				 got ? got : "refused", m.rule, c[i].group ? c[i].group : "refused",
				 c[i].rule);
	}
}

/* The default group: members reach each other on anything, strangers
 * don't; everything may leave (AWS docs, "Default security groups"). */
static void test_default_group_self_reference(void **state)
{
	struct world *w = *state;
	const struct sg_case cases[] = {
	    {"member to member", w->web, false, kit_flow("10.0.1.11", "10.0.1.10", PROTO_TCP, 5000),
	     "sg-default", 0},
	    {"member over IPv6", w->web, false,
	     kit_flow("2001:db8:1:1::10", "2001:db8:1:1::10", PROTO_UDP, 53), "sg-default", 0},
	    {"non-member refused", w->web, false, kit_flow("10.0.1.30", "10.0.1.10", PROTO_TCP, 22),
	     NULL, -1},
	    {"the public IP is not a member address", w->web2, false,
	     kit_flow("54.0.0.10", "10.0.1.11", PROTO_TCP, 22), NULL, -1},
	    {"internet refused", w->web, false, kit_flow("203.0.113.1", "10.0.1.10", PROTO_TCP, 80),
	     NULL, -1},
	    {"egress anywhere v4", w->web, true,
	     kit_flow("10.0.1.10", "203.0.113.1", PROTO_TCP, 80), "sg-default", 1},
	    {"egress anywhere v6", w->web, true,
	     kit_flow("2001:db8:1:1::10", "2001:db8:ff::1", PROTO_TCP, 80), "sg-default", 2},
	};
	run_cases(w, cases, sizeof(cases) / sizeof(cases[0]));
}

/* Group references, prefix lists, the union of groups, direction. */
static void test_peers_and_union(void **state)
{
	struct world *w = *state;
	const struct sg_case cases[] = {
	    {"alb group to app 8080", w->app, false,
	     kit_flow("10.0.1.20", "10.0.1.30", PROTO_TCP, 8080), "sg-0abc", 0},
	    {"alb group over IPv6 counts (default on)", w->app, false,
	     kit_flow("2001:db8:1:1::20", "10.0.1.30", PROTO_TCP, 8080), "sg-0abc", 0},
	    {"web is not in the alb group", w->app, false,
	     kit_flow("10.0.1.10", "10.0.1.30", PROTO_TCP, 8080), NULL, -1},
	    {"wrong port from the alb", w->app, false,
	     kit_flow("10.0.1.20", "10.0.1.30", PROTO_TCP, 8081), NULL, -1},
	    {"second group of the ENI: office ssh", w->app, false,
	     kit_flow("198.51.100.200", "10.0.1.30", PROTO_TCP, 22), "sg-ops", 0},
	    {"prefix list second half refused", w->app, false,
	     kit_flow("192.0.2.200", "10.0.1.30", PROTO_TCP, 22), NULL, -1},
	    {"prefix list IPv6 entry", w->app, false,
	     kit_flow("2001:db8:ff::9", "10.0.1.30", PROTO_TCP, 22), "sg-ops", 0},
	    {"app to db by group", w->db, false,
	     kit_flow("10.0.1.30", "10.0.1.40", PROTO_TCP, 5432), "sg-db", 0},
	    {"egress matches the destination", w->app, true,
	     kit_flow("10.0.1.30", "10.0.1.40", PROTO_TCP, 5432), "sg-0abc", 1},
	    {"egress outside the CIDR refused", w->app, true,
	     kit_flow("10.0.1.30", "10.0.2.40", PROTO_TCP, 5432), NULL, -1},
	    {"an ingress rule never allows egress", w->app, true,
	     kit_flow("10.0.1.30", "10.0.1.20", PROTO_TCP, 8080), NULL, -1},
	    {"no groups: nothing", w->lonely, true,
	     kit_flow("10.0.1.50", "10.0.1.40", PROTO_TCP, 5432), NULL, -1},
	};
	run_cases(w, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_group_ref_ipv6_option(void **state)
{
	struct world *w = *state;
	/* with the option off the loader leaves IPv6 out of members */
	w->lab->opts.sg_ref_includes_ipv6 = false;
	kit_finish(w->lab);
	const struct sg_case cases[] = {
	    {"alb IPv6 no longer a member", w->app, false,
	     kit_flow("2001:db8:1:1::20", "10.0.1.30", PROTO_TCP, 8080), NULL, -1},
	    {"alb IPv4 still is", w->app, false,
	     kit_flow("10.0.1.20", "10.0.1.30", PROTO_TCP, 8080), "sg-0abc", 0},
	};
	run_cases(w, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_icmp_and_other_protocols(void **state)
{
	struct world *w = *state;
	const struct sg_case cases[] = {
	    {"echo any code", w->app, false, kit_icmp("203.0.113.1", "10.0.1.30", PROTO_ICMP, 8, 3),
	     "sg-ops", 1},
	    {"echo reply not allowed", w->app, false,
	     kit_icmp("203.0.113.1", "10.0.1.30", PROTO_ICMP, 0, 0), NULL, -1},
	    {"icmpv6 any", w->app, false,
	     kit_icmp("2001:db8:ff::1", "2001:db8:1:1::30", PROTO_ICMPV6, 135, 0), "sg-ops", 2},
	    {"icmp rule is not icmpv6", w->app, false,
	     kit_icmp("203.0.113.1", "10.0.1.30", PROTO_ICMPV6, 8, 0), NULL, -1},
	    {"gre by number", w->app, false, kit_flow("10.0.9.9", "10.0.1.30", 47, 0), "sg-ops", 3},
	    {"gre from outside the CIDR", w->app, false, kit_flow("10.1.9.9", "10.0.1.30", 47, 0),
	     NULL, -1},
	};
	run_cases(w, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_rule_format(void **state)
{
	struct world *w = *state;
	char buf[256];
	assert_string_equal(sg_rule_format(w->lab, w->g_app, 0, buf, sizeof(buf)),
			    "sg-0abc (app) ingress tcp 8080 from sg-0def (alb)");
	assert_string_equal(sg_rule_format(w->lab, w->g_default, 1, buf, sizeof(buf)),
			    "sg-default (default) egress all traffic to 0.0.0.0/0");
	assert_string_equal(sg_rule_format(w->lab, w->g_ops, 0, buf, sizeof(buf)),
			    "sg-ops (ops) ingress tcp 22 from pl-office (office)");
	assert_string_equal(sg_rule_format(w->lab, w->g_ops, 1, buf, sizeof(buf)),
			    "sg-ops (ops) ingress icmp type 8 code any from 0.0.0.0/0");
	assert_string_equal(sg_rule_format(w->lab, w->g_ops, 3, buf, sizeof(buf)),
			    "sg-ops (ops) ingress proto 47 from 10.0.0.0/16");
	assert_string_equal(sg_rule_format(w->lab, 99, 0, buf, sizeof(buf)), "?");
}

/* §4: untracked when the allowing rule covers all addresses and a rule of
 * the other direction allows all addresses on all ports of the protocol. */
static void test_untracked_decision(void **state)
{
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8:1::/56");
	int32_t acl = kit_nacl(lab, "acl-d", vpc, true);
	int32_t sn = kit_subnet(lab, "subnet-a", vpc, "10.0.1.0/24", NULL, acl, -1);
	/* open: ssh from anywhere, all out */
	int32_t open = kit_group(lab, "sg-open", "open", vpc);
	kit_sg_rule(lab, open, false, PROTO_TCP, 22, 22, "0.0.0.0/0");
	kit_sg_rule(lab, open, false, PROTO_UDP, 53, 53, "10.0.0.0/16");
	kit_sg_rule(lab, open, false, PROTO_ICMP, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, open, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	/* tcp-only reverse rule covering every port */
	int32_t tcp_all = kit_group(lab, "sg-tcpall", "tcpall", vpc);
	kit_sg_rule(lab, tcp_all, false, PROTO_TCP, 443, 443, "0.0.0.0/0");
	kit_sg_rule(lab, tcp_all, false, PROTO_UDP, 514, 514, "0.0.0.0/0");
	kit_sg_rule(lab, tcp_all, true, PROTO_TCP, 0, 65535, "0.0.0.0/0");
	kit_sg_rule(lab, tcp_all, true, PROTO_UDP, 1024, 65535, "0.0.0.0/0");
	kit_sg_rule(lab, tcp_all, false, PROTO_TCP, 8443, 8443, "::/0");
	/* the usual client: egress 443 only, no ingress */
	int32_t client = kit_group(lab, "sg-client", "client", vpc);
	kit_sg_rule(lab, client, true, PROTO_TCP, 443, 443, "0.0.0.0/0");
	/* egress all + ingress all tcp from anywhere: the client side untracked */
	int32_t both = kit_group(lab, "sg-both", "both", vpc);
	kit_sg_rule(lab, both, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, both, false, PROTO_TCP, -1, -1, "0.0.0.0/0");
	int32_t e_open = kit_eni(lab, "eni-1", "open", sn, "10.0.1.10", "2001:db8:1:1::10", NULL,
				 (int32_t[]){open, END});
	int32_t e_tcp = kit_eni(lab, "eni-2", "tcpall", sn, "10.0.1.11", "2001:db8:1:1::11", NULL,
				(int32_t[]){tcp_all, END});
	int32_t e_client =
	    kit_eni(lab, "eni-3", "client", sn, "10.0.1.12", NULL, NULL, (int32_t[]){client, END});
	int32_t e_both =
	    kit_eni(lab, "eni-4", "both", sn, "10.0.1.13", NULL, NULL, (int32_t[]){both, END});
	kit_finish(lab);
	struct {
		const char *what;
		int32_t eni;
		bool egress;
		struct flow f;
		bool untracked;
		const char *reverse_group;
		int32_t reverse_rule;
	} cases[] = {
	    {"ssh from anywhere, all out", e_open, false,
	     kit_flow("203.0.113.1", "10.0.1.10", PROTO_TCP, 22), true, "sg-open", 3},
	    {"dns from the VPC only: tracked", e_open, false,
	     kit_flow("10.0.2.1", "10.0.1.10", PROTO_UDP, 53), false, "sg-open", 3},
	    {"icmp is always tracked", e_open, false,
	     (struct flow){.src = kit_addr("203.0.113.1"),
			   .dst = kit_addr("10.0.1.10"),
			   .proto = PROTO_ICMP,
			   .icmp_type = 8},
	     false, NULL, -1},
	    {"https with tcp 0-65535 back", e_tcp, false,
	     kit_flow("203.0.113.1", "10.0.1.11", PROTO_TCP, 443), true, "sg-tcpall", 2},
	    {"udp back only 1024-65535: tracked", e_tcp, false,
	     kit_flow("203.0.113.1", "10.0.1.11", PROTO_UDP, 514), false, NULL, -1},
	    {"IPv6: the reverse rule is IPv4 only: tracked", e_tcp, false,
	     kit_flow("2001:db8:ff::1", "2001:db8:1:1::11", PROTO_TCP, 8443), false, NULL, -1},
	    {"client egress 443 without ingress: tracked", e_client, true,
	     kit_flow("10.0.1.12", "203.0.113.1", PROTO_TCP, 443), false, NULL, -1},
	    {"client egress with ingress tcp all: untracked", e_both, true,
	     kit_flow("10.0.1.13", "203.0.113.1", PROTO_TCP, 443), true, "sg-both", 1},
	    {"same ENI, udp: ingress is tcp only: tracked", e_both, true,
	     kit_flow("10.0.1.13", "203.0.113.1", PROTO_UDP, 53), false, NULL, -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sg_match back;
		bool u = sg_flow_is_untracked(lab, &lab->enis[cases[i].eni], cases[i].egress,
					      &cases[i].f, &back);
		if (u != cases[i].untracked)
			fail_msg("%s: untracked %d, want %d", cases[i].what, u, cases[i].untracked);
		if (cases[i].reverse_group) {
			assert_int_equal(back.group, kit_find_group(lab, cases[i].reverse_group));
			assert_int_equal(back.rule, cases[i].reverse_rule);
		} else if (!u) {
			/* nothing claimed when there is no reverse rule */
			assert_true(back.group == -1 || !cases[i].untracked);
		}
	}
	kit_free(lab);
}

/* ---- differential test against a naive reference ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	return ref_rnd(&rng_state, n);
}

static const char *const cidrs[] = {"0.0.0.0/0",     "10.0.0.0/16",	    "10.0.1.0/24",
				    "10.0.1.10/32",  "192.0.2.0/24",	    "::/0",
				    "2001:db8::/32", "2001:db8:1:1::10/128"};
static const char *const hosts4[] = {"10.0.1.10", "10.0.1.11", "10.0.1.12",
				     "10.0.2.1",  "192.0.2.5", "203.0.113.9"};
static const char *const hosts6[] = {"2001:db8:1:1::10", "2001:db8:1:1::11", "2001:db8:2::1",
				     "2001:db9::1"};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void random_rules(struct lab *lab, int32_t g, int32_t n_groups)
{
	static const int protos[] = {PROTO_ALL, PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, 47};
	unsigned n = rnd(10);
	for (unsigned i = 0; i < n; i++) {
		int proto = protos[rnd(N(protos))];
		int from = -1, to = -1;
		if (proto == PROTO_TCP || proto == PROTO_UDP) {
			from = (int)rnd(3) * 400;
			to = from + (int)rnd(3) * 300;
		} else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
			from = rnd(2) ? -1 : (int)rnd(3) * 4;
			to = rnd(2) ? -1 : (int)rnd(2);
		}
		char peer[48];
		unsigned kind = rnd(5);
		if (kind == 0)
			snprintf(peer, sizeof(peer), "sg-%u", rnd((uint32_t)n_groups));
		else if (kind == 1)
			snprintf(peer, sizeof(peer), "pl-1");
		else
			snprintf(peer, sizeof(peer), "%s", cidrs[rnd(N(cidrs))]);
		kit_sg_rule(lab, g, rnd(2), proto, from, to, peer);
	}
}

/* Three ENIs of one subnet carrying random groups of random rules. */
static struct lab *random_lab(void)
{
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8::/32");
	int32_t acl = kit_nacl(lab, "acl-d", vpc, true);
	int32_t sn = kit_subnet(lab, "subnet-a", vpc, "10.0.1.0/24", NULL, acl, -1);
	const char *const pl[] = {"192.0.2.0/26", "2001:db8:2::/48", "10.0.1.12/32", NULL};
	kit_prefix_list(lab, "pl-1", "list", pl);
	int32_t ng = 1 + (int32_t)rnd(4);
	for (int32_t g = 0; g < ng; g++) {
		char id[16];
		snprintf(id, sizeof(id), "sg-%d", g);
		kit_group(lab, id, NULL, vpc);
	}
	for (int32_t g = 0; g < ng; g++)
		random_rules(lab, g, ng);
	for (int i = 0; i < 3; i++) {
		int32_t gs[4] = {(int32_t)rnd((uint32_t)ng), END, END, END};
		if (rnd(2))
			gs[1] = (int32_t)rnd((uint32_t)ng);
		char id[16];
		snprintf(id, sizeof(id), "eni-%d", i);
		kit_eni(lab, id, NULL, sn, hosts4[i], hosts6[i < 2 ? i : 0], NULL, gs);
	}
	kit_finish(lab);
	return lab;
}

static struct flow random_flow(void)
{
	bool v6 = rnd(3) == 0;
	const char *a = v6 ? hosts6[rnd(N(hosts6))] : hosts4[rnd(N(hosts4))];
	const char *b = v6 ? hosts6[rnd(N(hosts6))] : hosts4[rnd(N(hosts4))];
	static const int pp[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, 47};
	struct flow f = {.src = kit_addr(a), .dst = kit_addr(b), .proto = (uint8_t)pp[rnd(N(pp))]};
	if (f.proto == PROTO_TCP || f.proto == PROTO_UDP)
		f.dport = (uint16_t)(rnd(2) ? rnd(1300) : rnd(65536));
	else if (f.proto != 47) {
		f.icmp_type = (uint8_t)(rnd(3) * 4);
		f.icmp_code = (uint8_t)rnd(2);
	}
	return f;
}

static void test_differential(void **state)
{
	rng_state = 0xdecafbadull;
	unsigned checked = 0, allowed = 0;
	for (int set = 0; set < 1500; set++) {
		struct lab *lab = random_lab();
		for (int k = 0; k < 30; k++) {
			struct flow f = random_flow();
			const struct eni *e = &lab->enis[rnd(3)];
			bool egress = rnd(2);
			bool want = false;
			for (size_t g = 0; g < e->n_groups; g++) {
				const struct security_group *sg = &lab->groups[e->groups[g]];
				for (size_t r = 0; r < sg->n_rules; r++)
					want |= ref_sg_rule(lab, &sg->rules[r], egress, &f);
			}
			struct sg_match m;
			bool got = sg_evaluate(lab, e, egress, &f, &m);
			if (got != want)
				fail_msg("set %d packet %d: engine %d, reference %d", set, k, got,
					 want);
			if (got) /* the rule it names must itself allow the packet */
				assert_true(ref_sg_rule(lab, &lab->groups[m.group].rules[m.rule],
							egress, &f));
			checked++;
			allowed += got;
		}
		kit_free(lab);
	}
	assert_int_equal(checked, 45000);
	assert_true(allowed > checked / 20 && allowed < checked - checked / 20);
}

/* The compiled tables (sgtable.h) give sg_evaluate's verdict and rule. */
static void test_table_equals_evaluate(void **state)
{
	(void)state;
	rng_state = 0x7ab1e5ull;
	unsigned checked = 0, allowed = 0;
	for (int set = 0; set < 500; set++) {
		struct lab *lab = random_lab();
		struct sg_table *t[3][2];
		for (int i = 0; i < 3; i++)
			for (int d = 0; d < 2; d++)
				assert_int_equal(sg_table_build(lab, &lab->enis[i], d, &t[i][d]),
						 0);
		for (int k = 0; k < 60; k++) {
			struct flow f = random_flow();
			int i = (int)rnd(3), d = (int)rnd(2);
			struct sg_match want, got;
			bool w = sg_evaluate(lab, &lab->enis[i], d, &f, &want);
			bool g = sg_table_evaluate(t[i][d], &f, &got);
			if (w != g || want.group != got.group || want.rule != got.rule)
				fail_msg(
				    "set %d packet %d: sg_evaluate %d (%d, %d), table %d (%d, %d)",
				    set, k, w, want.group, want.rule, g, got.group, got.rule);
			checked++;
			allowed += g;
		}
		for (int i = 0; i < 3; i++)
			for (int d = 0; d < 2; d++)
				sg_table_free(t[i][d]);
		kit_free(lab);
	}
	assert_int_equal(checked, 30000);
	assert_true(allowed > checked / 20 && allowed < checked - checked / 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_default_group_self_reference, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peers_and_union, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_ref_ipv6_option, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_icmp_and_other_protocols, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rule_format, setup, teardown),
	    cmocka_unit_test(test_untracked_decision),
	    cmocka_unit_test(test_differential),
	    cmocka_unit_test(test_table_equals_evaluate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
