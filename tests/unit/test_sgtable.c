/*
 * rules/sgtable: a lab's compiled SG tables (issue 9) answer exactly as
 * the scan of every rule does: the verdict, the (group, rule) named, the
 * untracked decision of AWS-SEMANTICS §4 with its reverse rule, and so the
 * whole pipeline's result. Differential over seeded random labs (CIDR,
 * prefix-list and group-reference peers, IPv4 and IPv6, TCP, UDP, ICMP,
 * ICMPv6 and other protocols, both directions, rules naming every address
 * so that flows go untracked) and over the examples. The scan itself is
 * checked against a reference model derived from AWS's documentation in
 * test_sg.c. Also: ENIs share a table per group list (in their order),
 * and a lab past the memory limit scans, counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "diag.h"
#include "labkit.h"
#include "load.h"
#include "pipeline.h"
#include "sg.h"
#include "sgtable.h"

static const int32_t END = -1;

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(rng_state >> 33) % n;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const cidrs[] = {"0.0.0.0/0",     "10.0.0.0/16",	    "10.0.1.0/24",
				    "10.0.1.10/32",  "192.0.2.0/24",	    "::/0",
				    "2001:db8::/32", "2001:db8:1:1::10/128"};
static const char *const hosts4[] = {"10.0.1.10", "10.0.1.11", "10.0.1.12",  "10.0.1.13",
				     "10.0.2.1",  "192.0.2.5", "203.0.113.9"};
static const char *const hosts6[] = {"2001:db8:1:1::10", "2001:db8:1:1::11", "2001:db8:2::1",
				     "2001:db9::1"};

static void port_range(int proto, int *from, int *to)
{
	*from = *to = -1;
	if (proto == PROTO_TCP || proto == PROTO_UDP) {
		if (rnd(4)) { /* else every port: what makes a flow untracked */
			*from = (int)rnd(3) * 400;
			*to = *from + (int)rnd(3) * 300;
		}
	} else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		*from = rnd(2) ? -1 : (int)rnd(3) * 4;
		*to = rnd(2) ? -1 : (int)rnd(2);
	}
}

static void random_rules(struct lab *lab, int32_t g, int32_t n_groups)
{
	static const int protos[] = {PROTO_ALL, PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, 47};
	unsigned n = rnd(12);
	for (unsigned i = 0; i < n; i++) {
		int proto = protos[rnd(N(protos))], from, to;
		port_range(proto, &from, &to);
		char peer[48];
		unsigned kind = rnd(6);
		if (kind == 0)
			snprintf(peer, sizeof(peer), "sg-%u", rnd((uint32_t)n_groups));
		else if (kind == 1)
			snprintf(peer, sizeof(peer), "pl-1");
		else if (kind == 2) /* every address: untracked flows (§4) */
			snprintf(peer, sizeof(peer), "%s", rnd(2) ? "0.0.0.0/0" : "::/0");
		else
			snprintf(peer, sizeof(peer), "%s", cidrs[rnd(N(cidrs))]);
		kit_sg_rule(lab, g, rnd(2), proto, from, to, peer);
	}
}

/* Four ENIs of two subnets carrying random lists of random groups: two
 * of them often the same list, so that they share tables. */
static struct lab *random_lab(void)
{
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8::/32");
	int32_t acl = kit_nacl(lab, "acl-d", vpc, true);
	kit_nacl_rule(lab, acl, false, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	kit_nacl_rule(lab, acl, true, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 65535);
	int32_t sn = kit_subnet(lab, "subnet-a", vpc, "10.0.1.0/24", "2001:db8:1:1::/64", acl, -1);
	int32_t sn2 = kit_subnet(lab, "subnet-b", vpc, "10.0.2.0/24", NULL, acl, -1);
	const char *const pl[] = {"192.0.2.0/26", "2001:db8:2::/48", "10.0.1.12/32", NULL};
	kit_prefix_list(lab, "pl-1", "list", pl);
	int32_t ng = 1 + (int32_t)rnd(5);
	for (int32_t g = 0; g < ng; g++) {
		char id[16];
		snprintf(id, sizeof(id), "sg-%d", g);
		kit_group(lab, id, NULL, vpc);
	}
	for (int32_t g = 0; g < ng; g++)
		random_rules(lab, g, ng);
	int32_t gs[4] = {END, END, END, END};
	for (int i = 0; i < 4; i++) {
		if (i == 0 || rnd(2)) {
			gs[0] = (int32_t)rnd((uint32_t)ng);
			gs[1] = rnd(2) ? (int32_t)rnd((uint32_t)ng) : END;
			gs[2] = gs[1] != END && rnd(2) ? (int32_t)rnd((uint32_t)ng) : END;
		}
		char id[16];
		snprintf(id, sizeof(id), "eni-%d", i);
		kit_eni(lab, id, NULL, i == 3 ? sn2 : sn, i == 3 ? "10.0.2.1" : hosts4[i],
			i < 2 ? hosts6[i] : NULL, NULL, gs);
	}
	kit_finish(lab);
	return lab;
}

/* Ports the lab's rules name, so that a random packet meets them. */
static uint16_t lab_ports[256];
static size_t n_lab_ports;

static struct flow random_flow(const char *const *h4, size_t n4, const char *const *h6, size_t n6)
{
	bool v6 = n6 && rnd(3) == 0;
	const char *a = v6 ? h6[rnd((unsigned)n6)] : h4[rnd((unsigned)n4)];
	const char *b = v6 ? h6[rnd((unsigned)n6)] : h4[rnd((unsigned)n4)];
	static const int pp[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, 47, 50};
	struct flow f = {.src = kit_addr(a), .dst = kit_addr(b), .proto = (uint8_t)pp[rnd(N(pp))]};
	if (f.proto == PROTO_TCP || f.proto == PROTO_UDP) {
		f.dport = (uint16_t)(rnd(2) ? rnd(1300) : rnd(65536));
		if (n_lab_ports && rnd(2))
			f.dport = lab_ports[rnd((unsigned)n_lab_ports)];
		f.sport = (uint16_t)(rnd(2) ? 53 : 32768 + rnd(28000));
	} else if (f.proto == PROTO_ICMP || f.proto == PROTO_ICMPV6) {
		f.icmp_type = (uint8_t)(rnd(3) * 4);
		f.icmp_code = (uint8_t)rnd(2);
	}
	return f;
}

struct tally {
	unsigned checked, allowed, untracked;
};

/* Table and scan on one ENI, one direction, one packet. */
static void same_sg(const struct lab *lab, const struct eni *e, bool egress, const struct flow *f,
		    struct tally *t)
{
	assert_non_null(sg_tables_find(lab, e, egress));
	struct sg_match want, got, want_back = {-7, -7}, got_back = {-7, -7};
	bool w = sg_evaluate_scan(lab, e, egress, f, &want);
	bool g = sg_evaluate(lab, e, egress, f, &got);
	if (w != g || want.group != got.group || want.rule != got.rule)
		fail_msg("%s %s: scan %d (%d, %d), table %d (%d, %d)", e->id,
			 egress ? "egress" : "ingress", w, want.group, want.rule, g, got.group,
			 got.rule);
	bool wu = sg_flow_untracked_scan(lab, e, egress, f, &want_back);
	bool gu = sg_flow_is_untracked(lab, e, egress, f, &got_back);
	if (wu != gu || want_back.group != got_back.group || want_back.rule != got_back.rule)
		fail_msg("%s %s untracked: scan %d (%d, %d), table %d (%d, %d)", e->id,
			 egress ? "egress" : "ingress", wu, want_back.group, want_back.rule, gu,
			 got_back.group, got_back.rule);
	t->checked++;
	t->allowed += g;
	t->untracked += gu;
}

static void same_stage(const struct stage_verdict *a, const struct stage_verdict *b)
{
	assert_int_equal(a->stage, b->stage);
	assert_int_equal(a->verdict, b->verdict);
	assert_int_equal(a->reason, b->reason);
	assert_int_equal(a->eni, b->eni);
	assert_int_equal(a->group, b->group);
	assert_int_equal(a->rule, b->rule);
	assert_int_equal(a->untracked, b->untracked);
	assert_int_equal(a->rule_number, b->rule_number);
}

/* The whole pipeline with the tables and without (a copy of the lab that
 * has none), untracked on both ends and tracked on either. */
static void same_pipeline(const struct lab *lab, const struct flow *f)
{
	struct lab scanned = *lab;
	scanned.sg_tables = NULL;
	struct pipeline_end src, dst;
	pipeline_end_of_addr(lab, 0, &f->src, &src);
	pipeline_end_of_addr(lab, 0, &f->dst, &dst);
	unsigned flags = rnd(4) ? 0 : PIPELINE_SRC_TRACKED;
	struct pipeline_result a, b;
	pipeline_evaluate(lab, &src, &dst, f, flags, &a);
	pipeline_evaluate(&scanned, &src, &dst, f, flags, &b);
	assert_int_equal(a.verdict, b.verdict);
	assert_int_equal(a.rejected_at, b.rejected_at);
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++)
		same_stage(&a.stages[i], &b.stages[i]);
}

static void test_random_labs(void **state)
{
	(void)state;
	rng_state = 0x5617ab1eull;
	struct tally t = {0};
	for (int set = 0; set < 600; set++) {
		struct lab *lab = random_lab();
		struct sg_tables_stats st;
		assert_int_equal(sg_tables_attach(lab, &(struct sg_tables_limits){0}, &st), 0);
		assert_int_equal(st.enis, 4);
		assert_int_equal(st.tables, 2 * st.sets);
		assert_int_equal(st.scanned_enis, 0);
		for (int k = 0; k < 60; k++) {
			struct flow f = random_flow(hosts4, N(hosts4), hosts6, N(hosts6));
			same_sg(lab, &lab->enis[rnd(4)], rnd(2), &f, &t);
			same_pipeline(lab, &f);
		}
		kit_free(lab);
	}
	print_message("random labs: %u checked, %u allowed, %u untracked\n", t.checked, t.allowed,
		      t.untracked);
	assert_int_equal(t.checked, 36000);
	assert_true(t.allowed > t.checked / 20 && t.allowed < t.checked - t.checked / 20);
	assert_true(t.untracked > t.checked / 400);
}

/* Same group list, same table; the same groups in another order name
 * other rules first, so they get their own. */
static void test_shared_by_group_list(void **state)
{
	(void)state;
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", NULL);
	int32_t acl = kit_nacl(lab, "acl-d", vpc, true);
	int32_t sn = kit_subnet(lab, "subnet-a", vpc, "10.0.1.0/24", NULL, acl, -1);
	int32_t a = kit_group(lab, "sg-a", NULL, vpc), b = kit_group(lab, "sg-b", NULL, vpc);
	kit_sg_rule(lab, a, false, PROTO_TCP, 22, 22, "10.0.0.0/16");
	kit_sg_rule(lab, b, false, PROTO_TCP, 0, 1000, "10.0.0.0/8");
	kit_eni(lab, "eni-1", NULL, sn, "10.0.1.10", NULL, NULL, (int32_t[]){a, b, END});
	kit_eni(lab, "eni-2", NULL, sn, "10.0.1.11", NULL, NULL, (int32_t[]){a, b, END});
	kit_eni(lab, "eni-3", NULL, sn, "10.0.1.12", NULL, NULL, (int32_t[]){b, a, END});
	kit_finish(lab);
	struct sg_tables_stats st;
	assert_int_equal(sg_tables_attach(lab, &(struct sg_tables_limits){0}, &st), 0);
	assert_int_equal(st.sets, 2);
	assert_int_equal(st.tables, 4);
	assert_true(st.bytes > 0);
	for (int eg = 0; eg < 2; eg++) {
		assert_ptr_equal(sg_tables_find(lab, &lab->enis[0], eg),
				 sg_tables_find(lab, &lab->enis[1], eg));
		assert_ptr_not_equal(sg_tables_find(lab, &lab->enis[0], eg),
				     sg_tables_find(lab, &lab->enis[2], eg));
	}
	struct flow f = kit_flow("10.0.3.3", "10.0.1.12", PROTO_TCP, 22);
	struct sg_match m;
	assert_true(sg_evaluate(lab, &lab->enis[2], false, &f, &m));
	assert_int_equal(m.group, b); /* eni-3 lists sg-b first */
	f.dst = kit_addr("10.0.1.10");
	assert_true(sg_evaluate(lab, &lab->enis[0], false, &f, &m));
	assert_int_equal(m.group, a);
	kit_free(lab);
}

/* Past the memory limit: no tables, every ENI counted as scanned, and
 * the answers are the scan's. */
static void test_over_budget_scans(void **state)
{
	(void)state;
	rng_state = 0xb0d6e7ull;
	struct lab *lab = random_lab();
	struct sg_tables_stats st;
	assert_int_equal(sg_tables_attach(lab, &(struct sg_tables_limits){.max_bytes = 1}, &st), 0);
	assert_int_equal(st.tables, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.scanned_enis, 4);
	for (size_t i = 0; i < lab->n_enis; i++) {
		assert_null(sg_tables_find(lab, &lab->enis[i], false));
		assert_null(sg_tables_find(lab, &lab->enis[i], true));
	}
	struct flow f = kit_flow("10.0.1.11", "10.0.1.10", PROTO_TCP, 800);
	struct sg_match a, b;
	assert_int_equal(sg_evaluate(lab, &lab->enis[0], false, &f, &a),
			 sg_evaluate_scan(lab, &lab->enis[0], false, &f, &b));
	assert_int_equal(a.rule, b.rule);
	kit_free(lab);
}

static struct lab *load_example(const char *rel)
{
	struct lab *lab = kit_load_source(rel);
	assert_non_null(lab);
	return lab;
}

/* Every ENI's addresses and a few outside ones as peers. */
static size_t example_hosts(const struct lab *lab, char (*h)[IP_ADDR_STRLEN], size_t max,
			    uint8_t family)
{
	static const char *const outside4[] = {"192.0.2.5", "203.0.113.9", "8.8.8.8"};
	static const char *const outside6[] = {"2001:db8:ffff::1", "2600::1"};
	size_t n = 0;
	for (size_t i = 0; i < lab->n_enis && n < max; i++) {
		const struct eni *e = &lab->enis[i];
		const struct ip_addr *v = family == IP_V4 ? e->ipv4 : e->ipv6;
		size_t nv = family == IP_V4 ? e->n_ipv4 : e->n_ipv6;
		for (size_t j = 0; j < nv && n < max; j++)
			ip_addr_format(&v[j], h[n++], IP_ADDR_STRLEN);
	}
	const char *const *o = family == IP_V4 ? outside4 : outside6;
	size_t no = family == IP_V4 ? N(outside4) : N(outside6);
	for (size_t j = 0; j < no && n < max; j++)
		snprintf(h[n++], IP_ADDR_STRLEN, "%s", o[j]);
	return n;
}

static void collect_ports(const struct lab *lab)
{
	n_lab_ports = 0;
	for (size_t g = 0; g < lab->n_groups; g++)
		for (size_t r = 0; r < lab->groups[g].n_rules; r++) {
			const struct sg_rule *x = &lab->groups[g].rules[r];
			if (x->from_port >= 0 && x->from_port <= 65535 &&
			    n_lab_ports < N(lab_ports))
				lab_ports[n_lab_ports++] = (uint16_t)x->from_port;
			if (x->to_port >= 0 && x->to_port <= 65535 && n_lab_ports < N(lab_ports))
				lab_ports[n_lab_ports++] = (uint16_t)x->to_port;
		}
}

static void test_examples(void **state)
{
	(void)state;
	static const char *const examples[] = {"examples/prototype/lab.json",
					       "examples/ten-thousand/lab.json",
					       "examples/million/lab.json", "examples/aws-export"};
	static char h4[64][IP_ADDR_STRLEN], h6[64][IP_ADDR_STRLEN];
	rng_state = 0xe8a3ull;
	for (size_t x = 0; x < N(examples); x++) {
		struct lab *lab = load_example(examples[x]);
		collect_ports(lab);
		struct sg_tables_stats st;
		assert_int_equal(sg_tables_attach(lab, &(struct sg_tables_limits){0}, &st), 0);
		assert_true(st.sets > 0);
		const char *p4[64], *p6[64];
		size_t n4 = example_hosts(lab, h4, 64, IP_V4),
		       n6 = example_hosts(lab, h6, 64, IP_V6);
		for (size_t i = 0; i < n4; i++)
			p4[i] = h4[i];
		for (size_t i = 0; i < n6; i++)
			p6[i] = h6[i];
		struct tally t = {0};
		for (int k = 0; k < 3000; k++) {
			struct flow f = random_flow(p4, n4, p6, n6);
			same_sg(lab, &lab->enis[rnd((unsigned)lab->n_enis)], rnd(2), &f, &t);
			same_pipeline(lab, &f);
		}
		print_message("%s: %zu sets, %u checked, %u allowed, %u untracked\n", examples[x],
			      st.sets, t.checked, t.allowed, t.untracked);
		assert_true(t.allowed > 0 && t.allowed < t.checked);
		lab_free(lab);
	}
	n_lab_ports = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_labs),
	    cmocka_unit_test(test_shared_by_group_list),
	    cmocka_unit_test(test_over_budget_scans),
	    cmocka_unit_test(test_examples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
