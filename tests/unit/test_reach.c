/*
 * rules/reach: the interval arithmetic behind `vpcfw diff` — adjacent and
 * overlapping ranges, all-protocol rules, IPv4/IPv6 separation, NACL deny
 * ranges carving holes in SG allows, ephemeral responses, ICMP echo — and
 * a differential test: on generated labs, every sampled key of every
 * path's reach set agrees with pipeline_check(), the per-flow evaluator
 * `vpcfw check` uses; and each SG/NACL stage map against the naive
 * reference evaluators of reference.h. Then reach_diff on two labs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "labkit.h"
#include "pipeline.h"
#include "reach.h"
#include "reach-private.h"
#include "reachkit.h"
#include "reference.h"

/* ---- a fixed two-subnet lab ---- */

struct two {
	struct lab *lab;
	int32_t vpc, acl1, acl2, g1, g2, s1, s2, e1, e2;
};

static void two_build(struct two *t)
{
	struct lab *lab = t->lab = kit_new();
	t->vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8:1::/56");
	int32_t rt = kit_route_table(lab, "rtb-1", t->vpc, true);
	kit_route(lab, rt, "10.0.0.0/16", "local");
	kit_route(lab, rt, "0.0.0.0/0", "igw-1");
	kit_route(lab, rt, "::/0", "igw-1");
	t->acl1 = kit_nacl(lab, "acl-1", t->vpc, false);
	t->acl2 = kit_nacl(lab, "acl-2", t->vpc, false);
	t->s1 =
	    kit_subnet(lab, "subnet-1", t->vpc, "10.0.1.0/24", "2001:db8:1:1::/64", t->acl1, -1);
	t->s2 =
	    kit_subnet(lab, "subnet-2", t->vpc, "10.0.2.0/24", "2001:db8:1:2::/64", t->acl2, -1);
	t->g1 = kit_group(lab, "sg-1", "one", t->vpc);
	t->g2 = kit_group(lab, "sg-2", "two", t->vpc);
	int32_t g1[] = {t->g1, -1}, g2[] = {t->g2, -1};
	t->e1 =
	    kit_eni(lab, "eni-1", "a", t->s1, "10.0.1.10", "2001:db8:1:1::10", "198.51.100.1", g1);
	t->e2 =
	    kit_eni(lab, "eni-2", "b", t->s2, "10.0.2.20", "2001:db8:1:2::20", "198.51.100.2", g2);
}

/* Everything open except what the test sets up on top. */
static void two_open(struct two *t, bool v6)
{
	for (int32_t acl = t->acl1; acl <= t->acl2; acl++) {
		kit_nacl_rule(t->lab, acl, false, 900, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
		kit_nacl_rule(t->lab, acl, true, 900, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
		if (v6) {
			kit_nacl_rule(t->lab, acl, false, 901, true, PROTO_ALL, "::/0", 0, 65535);
			kit_nacl_rule(t->lab, acl, true, 901, true, PROTO_ALL, "::/0", 0, 65535);
		}
	}
	kit_sg_rule(t->lab, t->g1, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(t->lab, t->g1, true, PROTO_ALL, -1, -1, "::/0");
}

/* The accepted set of e1 -> e2 in class c and family fam. */
static size_t reach_of(struct two *t, enum reach_class c, uint8_t fam, const struct reach_opts *o,
		       struct reach_iv **iv, struct reach_path *p)
{
	const struct eni *a = &t->lab->enis[t->e1], *b = &t->lab->enis[t->e2];
	struct pipeline_end src = {.kind = END_ENI, .eni = t->e1};
	struct pipeline_end dst = {.kind = END_ENI, .eni = t->e2};
	const struct ip_addr *sa = fam == IP_V6 ? &a->ipv6[0] : &a->ipv4[0];
	const struct ip_addr *da = fam == IP_V6 ? &b->ipv6[0] : &b->ipv4[0];
	assert_int_equal(reach_path_build(t->lab, &src, &dst, sa, da, c, o, p), 0);
	size_t n;
	assert_int_equal(reach_path_accepted(p, iv, &n), 0);
	return n;
}

static void expect_ivs(const struct reach_iv *iv, size_t n, const uint32_t *want, size_t n_want)
{
	assert_int_equal(n, n_want / 2);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(iv[i].lo, want[2 * i]);
		assert_int_equal(iv[i].hi, want[2 * i + 1]);
	}
}

static void test_sg_adjacent_and_overlapping(void **state)
{
	(void)state;
	struct two t;
	two_build(&t);
	two_open(&t, false);
	kit_sg_rule(t.lab, t.g2, false, PROTO_TCP, 10, 20, "10.0.1.0/24");
	kit_sg_rule(t.lab, t.g2, false, PROTO_TCP, 21, 30, "10.0.0.0/16");  /* adjacent */
	kit_sg_rule(t.lab, t.g2, false, PROTO_TCP, 25, 40, "10.0.1.10/32"); /* overlaps */
	kit_sg_rule(t.lab, t.g2, false, PROTO_TCP, 100, 100, "0.0.0.0/0");
	kit_sg_rule(t.lab, t.g2, false, PROTO_TCP, 200, 300, "10.0.3.0/24"); /* other peer */
	kit_sg_rule(t.lab, t.g2, false, PROTO_UDP, 500, 600, "0.0.0.0/0");   /* other proto */
	kit_finish(t.lab);
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_iv *iv;
	struct reach_path p;
	size_t n = reach_of(&t, REACH_TCP, IP_V4, &o, &iv, &p);
	static const uint32_t want[] = {10, 40, 100, 100};
	expect_ivs(iv, n, want, 4);
	/* the first allowing rule decides, as sg_evaluate reports it */
	const struct reach_map *sg_in = &p.maps[p.n_maps - 3];
	assert_int_equal(sg_in->segs[0].why.stage, STAGE_SG_INGRESS);
	for (size_t i = 0; i < sg_in->n; i++) {
		const struct reach_seg *s = &sg_in->segs[i];
		if (s->lo <= 22 && 22 <= s->hi)
			assert_int_equal(s->why.rule, 1);
		if (s->lo <= 35 && 35 <= s->hi)
			assert_int_equal(s->why.rule, 2);
	}
	free(iv);
	reach_path_free(&p);
	kit_free(t.lab);
}

/* e1 -> e2 over IPv4 in class c accepts exactly want (lo, hi pairs) and
 * refuses key at the first map of stage, by NACL rule (0: any). */
static void expect_reach(struct two *t, enum reach_class c, const uint32_t *want, size_t n_want,
			 uint32_t key, enum pipeline_stage stage, uint32_t rule)
{
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_iv *iv;
	struct reach_path p;
	size_t n = reach_of(t, c, IP_V4, &o, &iv, &p);
	expect_ivs(iv, n, want, n_want);
	size_t at;
	assert_false(reach_path_accepts(&p, key, &at));
	assert_int_equal(p.maps[at].segs[0].why.stage, stage);
	if (rule)
		assert_int_equal(p.maps[at].segs[0].why.rule_number, rule);
	free(iv);
	reach_path_free(&p);
}

static void test_nacl_deny_carves_hole(void **state)
{
	(void)state;
	struct two t;
	two_build(&t);
	/* deny 22-25 and 8080 before a broad allow; SG allows 0-65535 */
	kit_nacl_rule(t.lab, t.acl2, false, 50, false, PROTO_TCP, "10.0.1.0/24", 22, 25);
	kit_nacl_rule(t.lab, t.acl2, false, 60, false, PROTO_TCP, "0.0.0.0/0", 8080, 8080);
	kit_nacl_rule(t.lab, t.acl2, false, 70, true, PROTO_TCP, "10.0.0.0/16", 0, 65535);
	/* a deny for another source must not carve anything */
	kit_nacl_rule(t.lab, t.acl2, false, 40, false, PROTO_TCP, "10.0.3.0/24", 0, 65535);
	kit_nacl_rule(t.lab, t.acl2, true, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	kit_nacl_rule(t.lab, t.acl1, true, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	kit_nacl_rule(t.lab, t.acl1, false, 100, true, PROTO_TCP, "0.0.0.0/0", 1024, 65535);
	kit_sg_rule(t.lab, t.g1, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(t.lab, t.g2, false, PROTO_TCP, -1, -1, "10.0.0.0/16");
	kit_finish(t.lab);
	static const uint32_t want[] = {0, 21, 26, 8079, 8081, 65535};
	expect_reach(&t, REACH_TCP, want, 6, 23, STAGE_NACL_INGRESS, 0);
	/* UDP meets no allow at all: the * rule (32767) everywhere */
	expect_reach(&t, REACH_UDP, NULL, 0, 53, STAGE_NACL_INGRESS, NACL_RULE_STAR_V4);
	kit_free(t.lab);
}

/* §9: UDP 67/68 between two ENIs is no DHCP exchange with the VPC: the
 * NACLs decide it like any other port. */
static void test_dhcp_ports_are_ordinary(void **state)
{
	(void)state;
	struct two t;
	two_build(&t);
	kit_nacl_rule(t.lab, t.acl1, true, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	kit_nacl_rule(t.lab, t.acl1, false, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	kit_nacl_rule(t.lab, t.acl2, true, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	kit_nacl_rule(t.lab, t.acl2, false, 100, true, PROTO_UDP, "10.0.1.0/24", 5000, 5000);
	kit_sg_rule(t.lab, t.g1, true, PROTO_UDP, -1, -1, "0.0.0.0/0");
	kit_sg_rule(t.lab, t.g2, false, PROTO_UDP, -1, -1, "0.0.0.0/0");
	kit_finish(t.lab);
	static const uint32_t want[] = {5000, 5000};
	expect_reach(&t, REACH_UDP, want, 2, 67, STAGE_NACL_INGRESS, NACL_RULE_STAR_V4);
	expect_reach(&t, REACH_UDP, want, 2, 68, STAGE_NACL_INGRESS, NACL_RULE_STAR_V4);
	kit_free(t.lab);
}

static void test_all_protocols_rule(void **state)
{
	(void)state;
	struct two t;
	two_build(&t);
	two_open(&t, false);
	kit_sg_rule(t.lab, t.g2, false, PROTO_ALL, -1, -1, "10.0.1.10/32");
	kit_finish(t.lab);
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_iv *iv;
	struct reach_path p;
	for (int c = REACH_TCP; c <= REACH_ICMP; c++) {
		size_t n = reach_of(&t, (enum reach_class)c, IP_V4, &o, &iv, &p);
		static const uint32_t all[] = {0, 65535};
		expect_ivs(iv, n, all, 2);
		free(iv);
		reach_path_free(&p);
	}
	/* other protocols: every number but those with a class of their own */
	size_t n = reach_of(&t, REACH_OTHER, IP_V4, &o, &iv, &p);
	static const uint32_t other[] = {0, 0, 2, 5, 7, 16, 18, 57, 59, 255};
	expect_ivs(iv, n, other, 10);
	free(iv);
	reach_path_free(&p);
	kit_free(t.lab);
}

static void test_ipv4_ipv6_separate(void **state)
{
	(void)state;
	struct two t;
	two_build(&t);
	two_open(&t, false); /* NACLs: IPv4 only */
	kit_sg_rule(t.lab, t.g2, false, PROTO_TCP, 443, 443, "0.0.0.0/0");
	kit_sg_rule(t.lab, t.g2, false, PROTO_TCP, 80, 80, "::/0");
	kit_finish(t.lab);
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_iv *iv;
	struct reach_path p;
	size_t n = reach_of(&t, REACH_TCP, IP_V4, &o, &iv, &p);
	static const uint32_t v4[] = {443, 443};
	expect_ivs(iv, n, v4, 2);
	free(iv);
	reach_path_free(&p);
	n = reach_of(&t, REACH_TCP, IP_V6, &o, &iv, &p);
	assert_int_equal(n, 0); /* the v6 NACL rules are missing: rule * (32768) */
	size_t at;
	assert_false(reach_path_accepts(&p, 80, &at));
	assert_int_equal(p.maps[at].segs[0].why.rule_number, NACL_RULE_STAR_V6);
	free(iv);
	reach_path_free(&p);
	kit_free(t.lab);
}

static void test_ephemeral_response(void **state)
{
	(void)state;
	struct two t;
	two_build(&t);
	kit_nacl_rule(t.lab, t.acl1, true, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	kit_nacl_rule(t.lab, t.acl1, false, 100, true, PROTO_TCP, "0.0.0.0/0", 1024, 65535);
	kit_nacl_rule(t.lab, t.acl2, false, 100, true, PROTO_TCP, "0.0.0.0/0", 0, 65535);
	/* the server subnet lets replies out to 1024-50000 only */
	kit_nacl_rule(t.lab, t.acl2, true, 100, true, PROTO_TCP, "0.0.0.0/0", 1024, 50000);
	kit_sg_rule(t.lab, t.g1, true, PROTO_TCP, 0, 65535, "0.0.0.0/0");
	kit_sg_rule(t.lab, t.g2, false, PROTO_TCP, 22, 22, "0.0.0.0/0");
	kit_finish(t.lab);
	struct reach_opts o;
	reach_opts_init(&o); /* 32768-60999: 50001 is refused */
	struct reach_iv *iv;
	struct reach_path p;
	assert_int_equal(reach_of(&t, REACH_TCP, IP_V4, &o, &iv, &p), 0);
	size_t at;
	assert_false(reach_path_accepts(&p, 22, &at));
	const struct reach_seg *s = &p.maps[at].segs[0];
	assert_true(p.maps[at].response);
	assert_int_equal(s->why.stage, STAGE_NACL_EGRESS);
	assert_true(s->why.has_port);
	assert_int_equal(s->why.port, 50001);
	free(iv);
	reach_path_free(&p);
	o.eph_lo = 32768;
	o.eph_hi = 50000;
	static const uint32_t ssh[] = {22, 22};
	size_t n = reach_of(&t, REACH_TCP, IP_V4, &o, &iv, &p);
	expect_ivs(iv, n, ssh, 2);
	free(iv);
	reach_path_free(&p);
	kit_free(t.lab);
}

static void test_icmp_echo_needs_reply(void **state)
{
	(void)state;
	struct two t;
	two_build(&t);
	kit_nacl_rule(t.lab, t.acl1, false, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	kit_nacl_icmp(t.lab, t.acl1, true, 110, true, PROTO_ICMP, "0.0.0.0/0", 3, -1);
	kit_nacl_icmp(t.lab, t.acl1, true, 120, true, PROTO_ICMP, "0.0.0.0/0", 8, -1);
	kit_nacl_icmp(t.lab, t.acl2, false, 100, true, PROTO_ICMP, "0.0.0.0/0", -1, -1);
	kit_nacl_icmp(t.lab, t.acl2, true, 100, true, PROTO_ICMP, "0.0.0.0/0", 3, 4);
	kit_sg_rule(t.lab, t.g1, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(t.lab, t.g2, false, PROTO_ICMP, -1, -1, "0.0.0.0/0");
	kit_finish(t.lab);
	/* acl-1 lets types 3 and 8 out, acl-2 every ICMP in; but acl-2's
	 * egress lets only 3/4 out: echo requests (8/x) lose their reply,
	 * type 3 needs none */
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_iv *iv;
	struct reach_path p;
	size_t n = reach_of(&t, REACH_ICMP, IP_V4, &o, &iv, &p);
	assert_int_equal(n, 1);
	assert_int_equal(iv[0].lo, REACH_ICMP_KEY(3, 0));
	assert_int_equal(iv[0].hi, REACH_ICMP_KEY(3, 255));
	size_t at;
	assert_false(reach_path_accepts(&p, REACH_ICMP_KEY(8, 5), &at));
	assert_true(p.maps[at].response);
	assert_int_equal(p.maps[at].segs[0].why.stage, STAGE_NACL_EGRESS);
	free(iv);
	reach_path_free(&p);
	kit_free(t.lab);
}

/* ---- differential: reach sets against pipeline_check ---- */

static const char *const cidrs4[] = {"0.0.0.0/0",	"10.0.0.0/16",	     "10.0.1.0/24",
				     "10.0.2.0/24",	"10.0.1.10/32",	     "203.0.113.0/24",
				     "198.51.100.0/25", "169.254.169.254/32"};
static const char *const cidrs6[] = {"::/0", "2001:db8:1::/56", "2001:db8:1:1::/64",
				     "2001:db8:ff::/48"};
static const int protos[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, PROTO_ALL, 47};
static const int ports[] = {0, 22, 53, 67, 68, 80, 443, 1024, 32768, 40000, 60999, 65535};
static const int icmp_vals[] = {-1, 0, 3, 4, 8, 128, 129};

static const char *pick_cidr(uint64_t *rng)
{
	if (ref_rnd(rng, 3) == 0)
		return cidrs6[ref_rnd(rng, sizeof(cidrs6) / sizeof(cidrs6[0]))];
	return cidrs4[ref_rnd(rng, sizeof(cidrs4) / sizeof(cidrs4[0]))];
}

static void pick_ports(uint64_t *rng, int *lo, int *hi)
{
	int a = ref_rnd(rng, 4) ? ports[ref_rnd(rng, 12)] : (int)ref_rnd(rng, 65536);
	int b = ref_rnd(rng, 4) ? ports[ref_rnd(rng, 12)] : (int)ref_rnd(rng, 65536);
	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
}

static void random_nacl(struct lab *lab, int32_t acl, uint64_t *rng)
{
	for (int dir = 0; dir < 2; dir++) {
		uint32_t n = ref_rnd(rng, 7);
		for (uint32_t i = 0; i < n; i++) {
			int proto = protos[ref_rnd(rng, 6)];
			bool allow = ref_rnd(rng, 10) < 7;
			uint32_t number = 10 * (i + 1);
			const char *c = pick_cidr(rng);
			if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
				kit_nacl_icmp(lab, acl, dir, number, allow, proto, c,
					      icmp_vals[ref_rnd(rng, 7)],
					      icmp_vals[ref_rnd(rng, 7)]);
				continue;
			}
			int lo, hi;
			pick_ports(rng, &lo, &hi);
			kit_nacl_rule(lab, acl, dir, number, allow, proto, c, (unsigned)lo,
				      (unsigned)hi);
		}
		if (ref_rnd(rng, 2))
			kit_nacl_rule(lab, acl, dir, 32000, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
		if (ref_rnd(rng, 2))
			kit_nacl_rule(lab, acl, dir, 32001, true, PROTO_ALL, "::/0", 0, 65535);
	}
}

static void random_group(struct lab *lab, int32_t g, uint64_t *rng)
{
	static const char *const peers[] = {"sg-r0", "sg-r1", "sg-r2", "pl-r"};
	uint32_t n = ref_rnd(rng, 6);
	for (uint32_t i = 0; i < n; i++) {
		int proto = protos[ref_rnd(rng, 6)];
		const char *peer = ref_rnd(rng, 4) ? pick_cidr(rng) : peers[ref_rnd(rng, 4)];
		int lo = -1, hi = -1;
		if (proto == PROTO_TCP || proto == PROTO_UDP) {
			if (ref_rnd(rng, 5))
				pick_ports(rng, &lo, &hi);
		} else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
			lo = icmp_vals[ref_rnd(rng, 7)];
			hi = icmp_vals[ref_rnd(rng, 7)];
		}
		kit_sg_rule(lab, g, ref_rnd(rng, 2), proto, lo, hi, peer);
	}
}

static struct lab *random_lab(uint64_t *rng)
{
	struct lab *lab = kit_new();
	lab->opts.sg_filters_link_local = ref_rnd(rng, 2);
	int32_t vpc = kit_vpc(lab, "vpc-r", "10.0.0.0/16", "2001:db8:1::/56");
	int32_t rt_main = kit_route_table(lab, "rtb-main", vpc, true);
	int32_t rt_priv = kit_route_table(lab, "rtb-priv", vpc, false);
	kit_route(lab, rt_main, "10.0.0.0/16", "local");
	if (ref_rnd(rng, 4))
		kit_route(lab, rt_main, "0.0.0.0/0", "igw-r");
	if (ref_rnd(rng, 2))
		kit_route(lab, rt_main, "::/0", ref_rnd(rng, 2) ? "igw-r" : "eigw-r");
	kit_route(lab, rt_priv, "0.0.0.0/0", "nat-r");
	kit_route(lab, rt_priv, "203.0.113.0/24", "vpce-r");
	/* §9: middlebox and blackhole routes, inside the VPC and out */
	if (ref_rnd(rng, 4) == 0)
		kit_route(lab, rt_main, "10.0.2.0/24", "eni-fw");
	if (ref_rnd(rng, 4) == 0) {
		struct route_table *t = &lab->route_tables[ref_rnd(rng, 2) ? rt_main : rt_priv];
		kit_route(lab, (int32_t)(t - lab->route_tables),
			  ref_rnd(rng, 2) ? "198.51.100.0/25" : "10.0.1.0/24", "igw-old");
		t->routes[t->n_routes - 1].blackhole = true;
	}
	int32_t acls[3];
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "acl-r%d", i);
		acls[i] = kit_nacl(lab, id, vpc, i == 0);
		random_nacl(lab, acls[i], rng);
	}
	int32_t s[3];
	s[0] = kit_subnet(lab, "subnet-r0", vpc, "10.0.1.0/24", "2001:db8:1:1::/64", acls[0], -1);
	s[1] = kit_subnet(lab, "subnet-r1", vpc, "10.0.2.0/24", "2001:db8:1:2::/64",
			  acls[ref_rnd(rng, 3)], -1);
	s[2] = kit_subnet(lab, "subnet-r2", vpc, "10.0.3.0/24", NULL, acls[2], rt_priv);
	static const char *const pl[] = {"203.0.113.0/25", "10.0.2.0/24", NULL};
	kit_prefix_list(lab, "pl-r", "r", pl);
	int32_t g[3];
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "sg-r%d", i);
		g[i] = kit_group(lab, id, id, vpc);
	}
	for (int i = 0; i < 3; i++)
		random_group(lab, g[i], rng);
	static const char *const v4[] = {"10.0.1.10", "10.0.1.11", "10.0.2.20", "10.0.3.30"};
	static const char *const v6[] = {"2001:db8:1:1::10", "2001:db8:1:1::11", "2001:db8:1:2::20",
					 NULL};
	static const int sub[] = {0, 0, 1, 2};
	for (int i = 0; i < 4; i++) {
		char id[16];
		snprintf(id, sizeof(id), "eni-r%d", i);
		int32_t groups[3] = {g[ref_rnd(rng, 3)], ref_rnd(rng, 2) ? g[ref_rnd(rng, 3)] : -1,
				     -1};
		if (groups[1] == groups[0])
			groups[1] = -1;
		char pub[32];
		snprintf(pub, sizeof(pub), "198.51.100.%d", 200 + i);
		kit_eni(lab, id, id, s[sub[i]], v4[i], ref_rnd(rng, 4) ? v6[i] : NULL,
			ref_rnd(rng, 2) ? pub : NULL, groups);
	}
	kit_finish(lab);
	return lab;
}

/* What query_build would make of an endpoint (contract 3). */
static void end_for(const struct lab *lab, int32_t eni, const struct ip_addr *a, int32_t other_eni,
		    struct pipeline_end *out)
{
	if (eni >= 0) {
		*out = (struct pipeline_end){.kind = END_ENI, .eni = eni};
		return;
	}
	int32_t vpc = lab->subnets[lab->enis[other_eni].subnet].vpc;
	pipeline_end_of_addr(lab, vpc, a, out);
	if (out->kind == END_ENI)
		*out = (struct pipeline_end){.kind = END_OUTSIDE, .eni = -1};
}

static bool in_set(const struct reach_iv *iv, size_t n, uint32_t key)
{
	for (size_t i = 0; i < n; i++)
		if (iv[i].lo <= key && key <= iv[i].hi)
			return true;
	return false;
}

static size_t compare_path(const struct lab *lab, const struct pipeline_end *src,
			   const struct pipeline_end *dst, const struct ip_addr *sa,
			   const struct ip_addr *da, enum reach_class c, const struct reach_opts *o,
			   uint64_t *rng, bool hairpin)
{
	struct reach_path p;
	if (hairpin)
		assert_int_equal(reach_hairpin_build(lab, NULL, src->eni, dst->eni, c, o, &p), 0);
	else
		assert_int_equal(reach_path_build(lab, src, dst, sa, da, c, o, &p), 0);
	struct reach_iv *iv;
	size_t n, checked = 0;
	assert_int_equal(reach_path_accepted(&p, &iv, &n), 0);
	uint32_t keys[160];
	size_t nk = 0;
	for (size_t m = 0; m < p.n_maps; m++)
		for (size_t i = 0; i < p.maps[m].n && nk + 4 < 120; i++) {
			keys[nk++] = p.maps[m].segs[i].lo;
			keys[nk++] = p.maps[m].segs[i].hi;
			if (p.maps[m].segs[i].lo > 0)
				keys[nk++] = p.maps[m].segs[i].lo - 1;
		}
	keys[nk++] = 53;
	keys[nk++] = 67;
	keys[nk++] = 68;
	keys[nk++] = 69;
	keys[nk++] = REACH_ICMP_KEY(8, 0) & p.key_max;
	keys[nk++] = REACH_ICMP_KEY(128, 3) & p.key_max;
	while (nk < sizeof(keys) / sizeof(keys[0]))
		keys[nk++] = ref_rnd(rng, p.key_max + 1);
	for (size_t i = 0; i < nk; i++) {
		uint32_t k = keys[i];
		if (k > p.key_max)
			continue;
		if (c == REACH_OTHER && (k == 1 || k == 6 || k == 17 || k == 58))
			continue;
		bool want = reachkit_check(lab, src, dst, sa, da, c, k, o->eph_lo, o, hairpin);
		bool got = reach_path_accepts(&p, k, NULL);
		if (want != got || in_set(iv, n, k) != got) {
			char a[IP_ADDR_STRLEN], b[IP_ADDR_STRLEN];
			fail_msg("%s -> %s%s class %d key %u: pipeline %d, reach %d, set %d",
				 ip_addr_format(sa, a, sizeof(a)), ip_addr_format(da, b, sizeof(b)),
				 hairpin ? " (public IP)" : "", c, k, want, got, in_set(iv, n, k));
		}
		checked++;
	}
	free(iv);
	reach_path_free(&p);
	return checked;
}

/* outside hosts, and the VPC's own service addresses (§9): the resolver
 * at base+2 and 169.254.169.253, metadata, ECS metadata, other link-local
 * addresses, the VPC router and the DHCP broadcast */
static const char *const outside4[] = {
    "203.0.113.10",    "198.51.100.9",	"192.0.2.1",   "10.0.0.2", "169.254.169.254", "10.0.9.9",
    "169.254.169.253", "169.254.170.2", "169.254.7.7", "10.0.1.1", "255.255.255.255"};
static const char *const outside6[] = {"2001:db8:ff::10", "2001:db8:ee::1", "fd00:ec2::253"};

/* Every ENI to every other's public IP: hairpins (§9). */
static size_t compare_hairpins(const struct lab *lab, const struct reach_opts *o, uint64_t *rng)
{
	size_t checked = 0;
	for (size_t i = 0; i < lab->n_enis; i++)
		for (size_t k = 0; k < lab->n_enis; k++) {
			if (i == k || !lab->enis[k].has_public_ip)
				continue;
			struct pipeline_end src = {.kind = END_ENI, .eni = (int32_t)i};
			struct pipeline_end dst = {.kind = END_ENI, .eni = (int32_t)k};
			for (int c = 0; c < REACH__COUNT; c++)
				checked += compare_path(lab, &src, &dst, &lab->enis[i].ipv4[0],
							&lab->enis[k].ipv4[0], (enum reach_class)c,
							o, rng, true);
		}
	return checked;
}

static size_t compare_lab(const struct lab *lab, const struct reach_opts *o, uint64_t *rng)
{
	size_t checked = 0;
	for (int fam = 4; fam <= 6; fam += 2) {
		/* ends: every ENI of the family, then the outside addresses */
		struct ip_addr addr[16];
		int32_t eni[16];
		size_t n = 0;
		for (size_t i = 0; i < lab->n_enis; i++) {
			const struct eni *e = &lab->enis[i];
			if (fam == 4 ? !e->n_ipv4 : !e->n_ipv6)
				continue;
			addr[n] = fam == 4 ? e->ipv4[0] : e->ipv6[0];
			eni[n++] = (int32_t)i;
		}
		size_t n_eni = n;
		const char *const *out = fam == 4 ? outside4 : outside6;
		size_t n_out = fam == 4 ? sizeof(outside4) / sizeof(outside4[0]) : 3;
		for (size_t i = 0; i < n_out; i++) {
			addr[n] = kit_addr(out[i]);
			eni[n++] = -1;
		}
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < n; k++) {
				if (i == k || (i >= n_eni && k >= n_eni))
					continue;
				struct pipeline_end src, dst;
				end_for(lab, eni[i], &addr[i], eni[k], &src);
				end_for(lab, eni[k], &addr[k], eni[i], &dst);
				for (int c = 0; c < REACH__COUNT; c++)
					checked += compare_path(lab, &src, &dst, &addr[i], &addr[k],
								(enum reach_class)c, o, rng, false);
			}
	}
	return checked + compare_hairpins(lab, o, rng);
}

static void test_differential_against_pipeline(void **state)
{
	(void)state;
	static const uint16_t eph[][2] = {{32768, 60999}, {1024, 65535}, {50000, 50010},
					  {67, 70},	  {53, 60},	 {443, 443}};
	uint64_t rng = 0x5eed0fd1ffULL;
	size_t checked = 0;
	for (int i = 0; i < 40; i++) {
		struct lab *lab = random_lab(&rng);
		struct reach_opts o;
		reach_opts_init(&o);
		uint32_t e = ref_rnd(&rng, 6);
		o.eph_lo = eph[e][0];
		o.eph_hi = eph[e][1];
		checked += compare_lab(lab, &o, &rng);
		kit_free(lab);
	}
	print_message("differential: %zu keys agree with pipeline_check\n", checked);
	assert_true(checked > 50000);
}

/* ---- the maps against the naive reference (tests/unit/reference.h) ---- */

/* The reference reads AWS's port range literally; give the generated
 * TCP/UDP rules with open ends (-1) their explicit range, which is what
 * the engine reads them as (checked against pipeline_check above). */
static void explicit_ports(struct lab *lab)
{
	for (size_t g = 0; g < lab->n_groups; g++)
		for (size_t i = 0; i < lab->groups[g].n_rules; i++) {
			struct sg_rule *r = &lab->groups[g].rules[i];
			if (r->protocol != PROTO_TCP && r->protocol != PROTO_UDP)
				continue;
			if (r->from_port < 0)
				r->from_port = 0;
			if (r->to_port < 0)
				r->to_port = 65535;
		}
}

/* The request's flow for a key of class c, as AWS describes the packet. */
static struct flow key_flow(const struct ip_addr *sa, const struct ip_addr *da, enum reach_class c,
			    uint32_t key, uint16_t sport)
{
	struct flow f = {.src = *sa, .dst = *da};
	f.proto = c == REACH_OTHER ? (uint8_t)key : reach_class_proto(c, sa->family);
	if (c == REACH_TCP || c == REACH_UDP) {
		f.dport = (uint16_t)key;
		f.sport = sport;
	} else if (c == REACH_ICMP) {
		f.icmp_type = (uint8_t)(key >> 8);
		f.icmp_code = (uint8_t)(key & 0xff);
	}
	return f;
}

/* What the reference says of one request SG or NACL stage between two
 * ENIs: SGs always apply, NACLs only across subnets (§1). */
static bool ref_stage(const struct lab *lab, enum pipeline_stage st, const struct eni *a,
		      const struct eni *b, const struct flow *f)
{
	bool egress = st == STAGE_SG_EGRESS || st == STAGE_NACL_EGRESS;
	const struct eni *self = egress ? a : b;
	uint32_t rule;
	if (st == STAGE_SG_EGRESS || st == STAGE_SG_INGRESS)
		return ref_sg(lab, self, egress, f);
	return a->subnet == b->subnet ||
	       ref_nacl(&lab->nacls[lab->subnets[self->subnet].nacl], egress, f, &rule);
}

/* Every request SG/NACL map of the path a -> b against the reference at
 * the map's own boundaries and at random keys. */
static size_t ref_compare_path(const struct lab *lab, int32_t a, int32_t b,
			       const struct ip_addr *sa, const struct ip_addr *da,
			       enum reach_class c, uint64_t *rng)
{
	struct reach_opts o;
	reach_opts_init(&o);
	struct pipeline_end src = {.kind = END_ENI, .eni = a}, dst = {.kind = END_ENI, .eni = b};
	struct reach_path p;
	assert_int_equal(reach_path_build(lab, &src, &dst, sa, da, c, &o, &p), 0);
	size_t checked = 0;
	for (size_t m = 0; m < p.n_maps; m++) {
		const struct reach_map *map = &p.maps[m];
		enum pipeline_stage st = map->segs[0].why.stage;
		if (map->response || st == STAGE_ROUTE)
			continue;
		for (size_t i = 0; i < map->n + 8; i++) {
			uint32_t key = i < map->n ? map->segs[i].lo : ref_rnd(rng, p.key_max + 1);
			if (reach_key_excluded(c, key))
				continue;
			struct flow f = key_flow(sa, da, c, key, o.eph_lo);
			bool want = ref_stage(lab, st, &lab->enis[a], &lab->enis[b], &f);
			const struct reach_seg *seg = reach_map_find(map, key);
			assert_non_null(seg);
			if (seg->accept != want)
				fail_msg("stage %s class %d key %u: reference %d, map %d",
					 pipeline_stage_name(st), c, key, want, seg->accept);
			checked++;
		}
	}
	reach_path_free(&p);
	return checked;
}

static void test_maps_against_reference(void **state)
{
	(void)state;
	uint64_t rng = 0x7ef0e7e1ceULL;
	size_t checked = 0;
	for (int i = 0; i < 40; i++) {
		struct lab *lab = random_lab(&rng);
		explicit_ports(lab);
		for (size_t a = 0; a < lab->n_enis; a++)
			for (size_t b = 0; b < lab->n_enis; b++) {
				const struct eni *x = &lab->enis[a], *y = &lab->enis[b];
				if (a == b)
					continue;
				for (int c = 0; c < REACH__COUNT; c++) {
					checked += ref_compare_path(lab, (int32_t)a, (int32_t)b,
								    &x->ipv4[0], &y->ipv4[0],
								    (enum reach_class)c, &rng);
					if (x->n_ipv6 && y->n_ipv6)
						checked += ref_compare_path(
						    lab, (int32_t)a, (int32_t)b, &x->ipv6[0],
						    &y->ipv6[0], (enum reach_class)c, &rng);
				}
			}
		kit_free(lab);
	}
	print_message("reference: %zu keys of SG/NACL maps agree with reference.h\n", checked);
	assert_true(checked > 20000);
}

/* ---- reach_diff ---- */

static struct lab *diff_lab(bool ssh_open, bool nacl_change)
{
	struct two t;
	two_build(&t);
	kit_nacl_rule(t.lab, t.acl1, false, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	kit_nacl_rule(t.lab, t.acl1, true, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	kit_nacl_rule(t.lab, t.acl2, false, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	kit_nacl_rule(t.lab, t.acl2, true, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	if (nacl_change) /* 5432 no longer reaches subnet-2 */
		kit_nacl_rule(t.lab, t.acl2, false, 50, false, PROTO_TCP, "0.0.0.0/0", 5432, 5432);
	kit_sg_rule(t.lab, t.g1, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(t.lab, t.g2, false, PROTO_TCP, 5432, 5432, "sg-1");
	if (ssh_open)
		kit_sg_rule(t.lab, t.g2, false, PROTO_TCP, 22, 22, "0.0.0.0/0");
	kit_finish(t.lab);
	return t.lab;
}

static void test_diff_two_labs(void **state)
{
	(void)state;
	struct lab *old_lab = diff_lab(false, false);
	struct lab *same = diff_lab(false, false);
	struct lab *new_lab = diff_lab(true, true);
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_changes ch;
	reach_changes_init(&ch);
	assert_int_equal(reach_diff(old_lab, same, &o, &ch), 0);
	assert_int_equal(ch.n, 0);
	assert_true(ch.n_pairs > 0);
	reach_changes_free(&ch);
	assert_int_equal(reach_diff(old_lab, new_lab, &o, &ch), 0);
	/* a -> b: 22 opened (SG), 5432 closed (NACL); a -> b's public IP (a
	 * hairpin from a's public IP): 22 opened; 0.0.0.0/0's representative
	 * -> b: 22 opened. b has a public IP and an igw route. */
	assert_int_equal(ch.n, 4);
	assert_string_equal(ch.items[0].from, "a");
	assert_string_equal(ch.items[0].to, "b");
	assert_true(ch.items[0].open);
	assert_int_equal(ch.items[0].lo, 22);
	assert_int_equal(ch.items[0].hi, 22);
	assert_string_equal(ch.items[0].stage, "sg-ingress");
	assert_non_null(strstr(ch.items[0].rule, "ingress tcp 22 from 0.0.0.0/0"));
	assert_false(ch.items[1].open);
	assert_int_equal(ch.items[1].lo, 5432);
	assert_string_equal(ch.items[1].stage, "nacl-ingress");
	assert_non_null(strstr(ch.items[1].rule, "rule 100: allow")); /* OLD's rule */
	assert_string_equal(ch.items[2].from, "a");
	assert_string_equal(ch.items[2].to, "b (public IP)");
	assert_true(ch.items[2].open);
	assert_int_equal(ch.items[2].lo, 22);
	assert_int_equal(ch.items[2].hi, 22);
	assert_string_equal(ch.items[2].stage, "sg-ingress");
	char pub[IP_ADDR_STRLEN];
	assert_string_equal(ip_addr_format(&ch.items[2].to_addr, pub, sizeof(pub)), "198.51.100.2");
	assert_string_equal(ch.items[3].from, "0.0.0.0/0");
	assert_string_equal(ch.items[3].to, "b");
	assert_int_equal(ch.items[3].lo, 22);
	reach_changes_free(&ch);
	kit_free(old_lab);
	kit_free(same);
	kit_free(new_lab);
}

/* Nested outside CIDRs each get their own representative: the /24's is
 * its first address outside the /25. */
/* A route more specific than the local route sending b's subnet to an
 * appliance (§9, not modelled: refused at the route stage) closes a -> b,
 * and `vpcfw diff` names the route. */
static void test_diff_middlebox_route(void **state)
{
	(void)state;
	struct lab *old_lab = diff_lab(false, false);
	struct lab *new_lab = diff_lab(false, false);
	kit_route(new_lab, 0, "10.0.2.0/24", "eni-0fw");
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_changes ch;
	reach_changes_init(&ch);
	assert_int_equal(reach_diff(old_lab, new_lab, &o, &ch), 0);
	assert_int_equal(ch.n, 1);
	assert_string_equal(ch.items[0].from, "a");
	assert_string_equal(ch.items[0].to, "b");
	assert_false(ch.items[0].open);
	assert_int_equal(ch.items[0].lo, 5432);
	assert_int_equal(ch.items[0].hi, 5432);
	assert_string_equal(ch.items[0].stage, "route");
	assert_string_equal(ch.items[0].rule,
			    "rtb-1 sends 10.0.2.0/24 to eni-0fw, a route more specific than the "
			    "local route (middlebox routing is not modelled)");
	reach_changes_free(&ch);
	kit_free(old_lab);
	kit_free(new_lab);
}

/* The link-local services behave unlike the rest of 0.0.0.0/0 (§9):
 * `diff` compares them on their own, as destinations only. Letting SGs
 * filter them closes b's way to the metadata service (b has no egress
 * rule; a's covers IPv4 only); nothing is reported from a service address. */
static void test_diff_link_local_services(void **state)
{
	(void)state;
	struct lab *old_lab = diff_lab(false, false);
	struct lab *new_lab = diff_lab(false, false);
	new_lab->opts.sg_filters_link_local = true;
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_changes ch;
	reach_changes_init(&ch);
	assert_int_equal(reach_diff(old_lab, new_lab, &o, &ch), 0);
	bool metadata = false;
	for (size_t i = 0; i < ch.n; i++) {
		const struct reach_change *c = &ch.items[i];
		assert_false(c->open);
		assert_true(!strcmp(c->from, "a") || !strcmp(c->from, "b"));
		assert_string_not_equal(c->to, "169.254.169.253/32"); /* DNS: not on port 53 */
		metadata |= !strcmp(c->to, "169.254.169.254/32") && c->cls == REACH_TCP &&
			    c->lo == 0 && c->hi == 65535 && !strcmp(c->stage, "sg-egress");
	}
	assert_true(metadata);
	reach_changes_free(&ch);
	kit_free(old_lab);
	kit_free(new_lab);
}

static void test_diff_representatives(void **state)
{
	(void)state;
	struct lab *old_lab = diff_lab(false, false);
	struct lab *new_lab = diff_lab(false, false);
	kit_sg_rule(old_lab, 1, false, PROTO_TCP, 443, 443, "203.0.113.0/24");
	kit_sg_rule(new_lab, 1, false, PROTO_TCP, 443, 443, "203.0.113.0/24");
	kit_sg_rule(new_lab, 1, false, PROTO_TCP, 8443, 8443, "203.0.113.0/25");
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_changes ch;
	reach_changes_init(&ch);
	assert_int_equal(reach_diff(old_lab, new_lab, &o, &ch), 0);
	assert_int_equal(ch.n, 1);
	char a[IP_ADDR_STRLEN];
	assert_string_equal(ch.items[0].from, "203.0.113.0/25");
	assert_string_equal(ip_addr_format(&ch.items[0].from_addr, a, sizeof(a)), "203.0.113.0");
	assert_string_equal(ch.items[0].to, "b");
	assert_int_equal(ch.items[0].lo, 8443);
	/* endpoints: a, b and their public IPs (hairpins); 0.0.0.0/0, ::/0
	 * (routes), the /24 and the /25; and under 0.0.0.0/0 and ::/0 the
	 * VPC's service addresses (169.254.0.0/16, six link-local services,
	 * the DHCP broadcast, three fd00:ec2::) */
	assert_int_equal(ch.n_endpoints, 8 + 11);
	reach_changes_free(&ch);
	kit_free(old_lab);
	kit_free(new_lab);
}

/* TCP port from ENI `from` to ENI `to` as `vpcfw check` asks it, by
 * to's public IP when via_public (a hairpin). */
static enum pipeline_verdict check_tcp(const struct lab *lab, int32_t from, int32_t to,
				       uint16_t port, bool via_public)
{
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.client = (struct pipeline_end){.kind = END_ENI, .eni = from, .service = SERVICE_NONE};
	q.server = (struct pipeline_end){.kind = END_ENI, .eni = to, .service = SERVICE_NONE};
	q.via_public = via_public;
	q.request.src = lab->enis[from].ipv4[0];
	q.request.dst = lab->enis[to].ipv4[0];
	q.request.proto = PROTO_TCP;
	q.request.sport = PIPELINE_EPHEMERAL_LO;
	q.request.dport = port;
	struct pipeline_check c;
	pipeline_check(lab, &q, &c);
	return c.verdict;
}

/* A hairpin (§9): b admitting TCP 8080 from a's public IP opens a -> b's
 * public IP, and nothing by private address. `diff` lists it as a pair of
 * ENIs, to b by its public IP (not as the outside /32 the rule names),
 * with check's verdicts on both sides; removing a's public IP closes it
 * at a's route stage. */
static void test_diff_hairpin(void **state)
{
	(void)state;
	struct lab *old_lab = diff_lab(false, false);
	struct lab *new_lab = diff_lab(false, false);
	kit_sg_rule(new_lab, 1, false, PROTO_TCP, 8080, 8080, "198.51.100.1/32");
	struct reach_opts o;
	reach_opts_init(&o);
	for (int pairwise = 0; pairwise < 2; pairwise++) {
		o.pairwise = pairwise;
		struct reach_changes ch;
		reach_changes_init(&ch);
		assert_int_equal(reach_diff(old_lab, new_lab, &o, &ch), 0);
		assert_int_equal(ch.n, 1);
		assert_string_equal(ch.items[0].from, "a");
		assert_string_equal(ch.items[0].to, "b (public IP)");
		assert_true(ch.items[0].open);
		assert_int_equal(ch.items[0].lo, 8080);
		assert_int_equal(ch.items[0].hi, 8080);
		assert_string_equal(ch.items[0].stage, "sg-ingress");
		assert_non_null(strstr(ch.items[0].rule, "ingress tcp 8080 from 198.51.100.1/32"));
		reach_changes_free(&ch);
	}
	assert_int_equal(check_tcp(old_lab, 0, 1, 8080, true), VERDICT_REJECT);
	assert_int_equal(check_tcp(new_lab, 0, 1, 8080, true), VERDICT_ACCEPT);
	assert_int_equal(check_tcp(new_lab, 0, 1, 8080, false), VERDICT_REJECT);
	/* without a public IP a's packet never leaves: closed at its route */
	struct lab *no_pub = diff_lab(false, false);
	kit_sg_rule(no_pub, 1, false, PROTO_TCP, 8080, 8080, "198.51.100.1/32");
	no_pub->enis[0].has_public_ip = false;
	assert_int_equal(check_tcp(no_pub, 0, 1, 8080, true), VERDICT_REJECT);
	struct reach_changes ch;
	reach_changes_init(&ch);
	o.pairwise = false;
	assert_int_equal(reach_diff(new_lab, no_pub, &o, &ch), 0);
	bool closed = false;
	for (size_t i = 0; i < ch.n; i++)
		if (!strcmp(ch.items[i].to, "b (public IP)") && ch.items[i].lo <= 8080 &&
		    8080 <= ch.items[i].hi) {
			assert_false(ch.items[i].open);
			assert_string_equal(ch.items[i].stage, "route");
			closed = true;
		}
	assert_true(closed);
	reach_changes_free(&ch);
	kit_free(old_lab);
	kit_free(new_lab);
	kit_free(no_pub);
}

/* An ENI replaced under the same unique Name is the same endpoint. */
static void test_diff_eni_matched_by_name(void **state)
{
	(void)state;
	struct lab *old_lab = diff_lab(true, false);
	struct lab *new_lab = diff_lab(true, false);
	new_lab->enis[1].id = kit_str(new_lab, "eni-2-replaced");
	struct reach_opts o;
	reach_opts_init(&o);
	struct reach_changes ch;
	reach_changes_init(&ch);
	assert_int_equal(reach_diff(old_lab, new_lab, &o, &ch), 0);
	assert_int_equal(ch.n, 0);
	reach_changes_free(&ch);
	/* under another Name too it is a new ENI: its flows open, the old
	 * one's close */
	new_lab->enis[1].name = kit_str(new_lab, "c");
	assert_int_equal(reach_diff(old_lab, new_lab, &o, &ch), 0);
	bool opened = false, closed = false;
	for (size_t i = 0; i < ch.n; i++) {
		if (!strcmp(ch.items[i].to, "c") && ch.items[i].open)
			opened = true;
		if (!strcmp(ch.items[i].to, "b") && !ch.items[i].open) {
			closed = true;
			assert_string_equal(ch.items[i].stage, "sg-ingress");
			assert_non_null(strstr(ch.items[i].rule, "only in the OLD lab"));
		}
	}
	assert_true(opened && closed);
	reach_changes_free(&ch);
	kit_free(old_lab);
	kit_free(new_lab);
}

/* ---- class-based evaluation against pair by pair ---- */

/* A lab whose ENIs fall into classes: 18 ENIs over three subnets and
 * three group sets, so most share subnet, groups and address class with
 * others, plus one with a public IP and one without IPv6. The rules come
 * from seed; variant 1 changes a few of them (an SG rule, a NACL entry,
 * routes, one ENI's groups), drops one ENI and adds another, as an edit
 * of the same lab would. */
static struct lab *class_lab(uint64_t seed, int variant)
{
	uint64_t rng = seed;
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-c", "10.0.0.0/16", "2001:db8:1::/56");
	int32_t rt = kit_route_table(lab, "rtb-main", vpc, true);
	kit_route(lab, rt, "10.0.0.0/16", "local");
	kit_route(lab, rt, "::/0", "igw-c");
	int32_t acls[3], s[3], g[3];
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "acl-r%d", i);
		acls[i] = kit_nacl(lab, id, vpc, i == 0);
		random_nacl(lab, acls[i], &rng);
	}
	s[0] = kit_subnet(lab, "subnet-r0", vpc, "10.0.1.0/24", "2001:db8:1:1::/64", acls[0], -1);
	s[1] = kit_subnet(lab, "subnet-r1", vpc, "10.0.2.0/24", "2001:db8:1:2::/64", acls[1], -1);
	s[2] = kit_subnet(lab, "subnet-r2", vpc, "10.0.3.0/24", NULL, acls[2], -1);
	static const char *const pl[] = {"203.0.113.0/25", "10.0.2.0/24", NULL};
	kit_prefix_list(lab, "pl-r", "r", pl);
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "sg-r%d", i);
		g[i] = kit_group(lab, id, id, vpc);
	}
	for (int i = 0; i < 3; i++)
		random_group(lab, g[i], &rng);
	uint64_t vr = seed ^ 0x9e3779b97f4a7c15ULL;
	static const char *const peers[] = {"0.0.0.0/0", "sg-r1", "10.0.1.10/32", "10.0.2.16/28"};
	if (variant) {
		kit_sg_rule(lab, g[ref_rnd(&vr, 3)], ref_rnd(&vr, 2), PROTO_TCP, 22, 22,
			    peers[ref_rnd(&vr, 4)]);
		kit_nacl_rule(lab, acls[ref_rnd(&vr, 3)], ref_rnd(&vr, 2), 5, ref_rnd(&vr, 2),
			      PROTO_ALL, peers[ref_rnd(&vr, 4) % 3 ? 0 : 3], 0, 65535);
	}
	/* routes that name ENIs and addresses in their explanations */
	if (variant || ref_rnd(&vr, 2))
		kit_route(lab, rt, "10.0.2.0/24", "eni-fw");
	if (!variant)
		kit_route(lab, rt, "0.0.0.0/0", "igw-c");
	const int32_t sets[3][3] = {{g[0], -1, -1}, {g[1], g[2], -1}, {g[2], g[0], -1}};
	for (size_t i = 0; i < 19; i++) {
		char id[16], v4[32], v6[48], pub[32];
		size_t sub = i % 3, set = (i / 3) % 3;
		if ((variant && i == 2) || (!variant && i == 18))
			continue; /* an ENI of one lab only */
		snprintf(id, sizeof(id), "eni-c%zu", i);
		snprintf(v4, sizeof(v4), "10.0.%zu.%zu", sub + 1, 10 + i);
		snprintf(v6, sizeof(v6), "2001:db8:1:%zu::%zx", sub + 1, 16 + i);
		snprintf(pub, sizeof(pub), "198.51.100.%zu", 200 + i);
		if (variant && i == 4)
			set = (set + 1) % 3;
		kit_eni(lab, id, id, s[sub], v4, sub < 2 && i != 5 ? v6 : NULL,
			i == 7 || i == 8 ? pub : NULL, sets[set]);
	}
	kit_finish(lab);
	return lab;
}

static void expect_same_changes(const struct reach_changes *a, const struct reach_changes *b)
{
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->n_pairs, b->n_pairs);
	assert_int_equal(a->n_endpoints, b->n_endpoints);
	for (size_t i = 0; i < a->n; i++) {
		const struct reach_change *x = &a->items[i], *y = &b->items[i];
		assert_string_equal(x->from, y->from);
		assert_string_equal(x->to, y->to);
		assert_true(ip_addr_eq(&x->from_addr, &y->from_addr));
		assert_true(ip_addr_eq(&x->to_addr, &y->to_addr));
		assert_int_equal(x->cls, y->cls);
		assert_int_equal(x->proto, y->proto);
		assert_int_equal(x->lo, y->lo);
		assert_int_equal(x->hi, y->hi);
		assert_int_equal(x->open, y->open);
		assert_string_equal(x->stage, y->stage);
		assert_string_equal(x->rule, y->rule);
	}
}

/* How many endpoints share a class with an earlier one: proof that the
 * labs above exercise the sharing at all. */
static size_t shared_members(const struct lab *old_lab, const struct lab *new_lab)
{
	struct rd_ends ends = {0};
	struct rd_classes cl = {0};
	assert_int_equal(reach_ends_collect(old_lab, new_lab, &ends), 0);
	assert_int_equal(reach_classes_build(old_lab, new_lab, &ends, &cl), 0);
	size_t shared = ends.n - cl.n[0];
	reach_classes_free(&cl);
	reach_ends_free(&ends);
	return shared;
}

static void test_diff_classes_equal_pairwise(void **state)
{
	(void)state;
	uint64_t rng = 0xc1a55e5ULL;
	size_t changes = 0, shared = 0;
	for (int i = 0; i < 30; i++) {
		uint64_t seed = rng;
		(void)ref_rnd(&rng, 2);
		struct lab *old_lab = class_lab(seed, 0), *new_lab = class_lab(seed, 1);
		struct reach_opts o;
		reach_opts_init(&o);
		if (i % 3 == 1) {
			o.eph_lo = 1024;
			o.eph_hi = 65535;
		}
		for (int dir = 0; dir < 2; dir++) {
			const struct lab *a = dir ? new_lab : old_lab, *b = dir ? old_lab : new_lab;
			struct reach_changes by_class, pairwise;
			reach_changes_init(&by_class);
			reach_changes_init(&pairwise);
			assert_int_equal(reach_diff(a, b, &o, &by_class), 0);
			o.pairwise = true;
			assert_int_equal(reach_diff(a, b, &o, &pairwise), 0);
			o.pairwise = false;
			expect_same_changes(&by_class, &pairwise);
			changes += by_class.n;
			reach_changes_free(&by_class);
			reach_changes_free(&pairwise);
		}
		shared += shared_members(old_lab, new_lab);
		kit_free(old_lab);
		kit_free(new_lab);
	}
	print_message("classes: %zu changes equal pair by pair, %zu endpoints shared a class\n",
		      changes, shared);
	assert_true(changes > 1000);
	assert_true(shared > 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sg_adjacent_and_overlapping),
	    cmocka_unit_test(test_nacl_deny_carves_hole),
	    cmocka_unit_test(test_dhcp_ports_are_ordinary),
	    cmocka_unit_test(test_all_protocols_rule),
	    cmocka_unit_test(test_ipv4_ipv6_separate),
	    cmocka_unit_test(test_ephemeral_response),
	    cmocka_unit_test(test_icmp_echo_needs_reply),
	    cmocka_unit_test(test_differential_against_pipeline),
	    cmocka_unit_test(test_maps_against_reference),
	    cmocka_unit_test(test_diff_two_labs),
	    cmocka_unit_test(test_diff_middlebox_route),
	    cmocka_unit_test(test_diff_link_local_services),
	    cmocka_unit_test(test_diff_representatives),
	    cmocka_unit_test(test_diff_hairpin),
	    cmocka_unit_test(test_diff_eni_matched_by_name),
	    cmocka_unit_test(test_diff_classes_equal_pairwise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
