/*
 * rules/cover: which rules a flow exercises and which rules any flow can
 * reach, on a lab whose answers were worked out by hand from AWS's
 * evaluation order (AWS-SEMANTICS §1: SG egress, NACL egress, route, NACL
 * ingress, SG ingress; §2 first match; §3 SG union, group references match
 * the ENIs carrying the group; §4 replies pass SGs by tracking but meet
 * the NACLs), not from the engine's output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cover.h"
#include "load.h"
#include "query.h"

static const char *lab_json =
    "{\"lab\": \"cov\", \"outside\": [{\"name\": \"client\", \"addr\": \"203.0.113.10\"}],"
    " \"vpcs\": [{\"name\": \"v\", \"cidr\": \"10.0.0.0/16\","
    "  \"route_tables\": [{\"name\": \"pub\", \"routes\": [{\"dest\": \"0.0.0.0/0\", \"target\": "
    "\"igw\"}]}],"
    "  \"subnets\": ["
    "   {\"name\": \"a\", \"cidr\": \"10.0.1.0/24\", \"nacl\": \"na\", \"route_table\": \"pub\"},"
    "   {\"name\": \"b\", \"cidr\": \"10.0.2.0/24\", \"nacl\": \"nb\"}],"
    "  \"nacls\": ["
    "   {\"name\": \"na\", \"ingress\": ["
    "     {\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"443\", \"cidr\": "
    "\"0.0.0.0/0\"},"
    "     {\"rule\": 110, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"443\", \"cidr\": "
    "\"203.0.113.0/24\"},"
    "     {\"rule\": 120, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"1024-65535\", "
    "\"cidr\": \"10.0.2.0/24\"}],"
    "    \"egress\": ["
    "     {\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"5432\", "
    "\"cidr\": \"10.0.2.0/24\"},"
    "     {\"rule\": 105, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"32768-40000\", "
    "\"cidr\": \"203.0.113.0/24\"},"
    "     {\"rule\": 110, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"1024-65535\", "
    "\"cidr\": \"0.0.0.0/0\"}]},"
    "   {\"name\": \"nb\", \"ingress\": ["
    "     {\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"5432\", "
    "\"cidr\": \"10.0.1.0/24\"},"
    "     {\"rule\": 200, \"action\": \"deny\", \"proto\": \"tcp\", \"ports\": \"22\", \"cidr\": "
    "\"0.0.0.0/0\"}],"
    "    \"egress\": ["
    "     {\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"1024-65535\", "
    "\"cidr\": \"10.0.1.0/24\"}]}],"
    "  \"security_groups\": ["
    "   {\"name\": \"web\", \"ingress\": ["
    "     {\"proto\": \"tcp\", \"ports\": \"443\", \"from\": \"0.0.0.0/0\"},"
    "     {\"proto\": \"tcp\", \"ports\": \"400-500\", \"from\": \"203.0.113.0/24\"},"
    "     {\"proto\": \"tcp\", \"ports\": \"8443\", \"from\": \"0.0.0.0/0\"}],"
    "    \"egress\": [{\"proto\": \"tcp\", \"ports\": \"5432\", \"to\": \"db\"}]},"
    "   {\"name\": \"db\", \"ingress\": ["
    "     {\"proto\": \"tcp\", \"ports\": \"5432\", \"from\": \"web\"},"
    "     {\"proto\": \"tcp\", \"ports\": \"6379\", \"from\": \"ghost\"}], \"egress\": []},"
    "   {\"name\": \"ghost\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"22\", \"from\": "
    "\"0.0.0.0/0\"}],"
    "    \"egress\": []}],"
    "  \"enis\": ["
    "   {\"name\": \"web\", \"subnet\": \"a\", \"ip\": \"10.0.1.10\", \"public_ip\": "
    "\"198.51.100.20\", \"groups\": [\"web\"]},"
    "   {\"name\": \"db\", \"subnet\": \"b\", \"ip\": \"10.0.2.10\", \"groups\": [\"db\"]}]}]}";

/* Each rule as "owner direction key": SG rules by their first port, NACL
 * entries by number. */
static void key_of(const struct lab *lab, const struct rule_ref *r, char *buf, size_t len)
{
	if (r->kind == RULE_SG)
		snprintf(buf, len, "%s %s %d", lab->groups[r->owner].name,
			 r->egress ? "egress" : "ingress", rule_ref_sg(lab, r)->from_port);
	else
		snprintf(buf, len, "%s %s %u", lab->nacls[r->owner].name,
			 r->egress ? "egress" : "ingress", rule_ref_nacl(lab, r)->rule_number);
}

/* Reachable, by hand (§1-§4):
 *  web ingress 443, 400: client -> web over the IGW (web has a public IP),
 *    na ingress 100 admits 443, both rules allow it (union).
 *  web ingress 8443: from outside, na ingress denies 8443 (* after 100-120);
 *    from db, db's SG egress has no rule: no packet gets there.
 *  web egress 5432 / db ingress 5432 / na egress 100 / nb ingress 100:
 *    web -> db 5432; its reply passes nb egress 100 and na ingress 120.
 *  db ingress 6379: ghost is carried by no ENI: matches nobody.
 *  ghost ingress 22: on no ENI.
 *  na ingress 110: 100 decides every packet it matches first.
 *  na egress 105 and 110: the reply to client's ports 32768-60999 is
 *    decided by 105 up to 40000 and by 110 above.
 *  nb ingress 200: subnet b has no internet route (the main table), and
 *    web's SG egress allows only 5432: no tcp 22 reaches nb.
 *  the VPC's default NACL (100 both ways) serves no subnet. */
static const char *const reachable[] = {
    "web ingress 443", "web ingress 400", "web egress 5432", "db ingress 5432",
    "na ingress 100",  "na ingress 120",  "na egress 100",   "na egress 105",
    "na egress 110",   "nb ingress 100",  "nb egress 100",
};

static struct lab *load(void)
{
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;
	lab_load_opts_init(&o);
	diag_init(&d);
	int r = lab_load_buffer("cov.json", lab_json, strlen(lab_json), &o, &lab, &d);
	for (size_t i = 0; r < 0 && i < d.n; i++) {
		char buf[512];
		fprintf(stderr, "%s\n", diag_format(&d.items[i], buf, sizeof(buf)));
	}
	assert_int_equal(r, 0);
	diag_free(&d);
	return lab;
}

static bool listed(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], key))
			return true;
	return false;
}

static void evaluate(const struct lab *lab, const struct rule_index *ri, const char *from,
		     const char *to, int proto, int port, int type, int code, uint8_t *hit)
{
	struct query_spec s;
	struct pipeline_query q;
	struct pipeline_check c;
	char err[256];
	query_spec_init(&s);
	s.from = from;
	s.to = to;
	s.proto = proto;
	s.port = port;
	s.icmp_type = type;
	s.icmp_code = code;
	assert_int_equal(query_build(lab, &s, &q, err, sizeof(err), NULL, 0), 0);
	pipeline_check(lab, &q, &c);
	cover_mark(lab, ri, &q, &c, hit);
}

static void one_flow_exercises(void **state)
{
	struct lab *lab = load();
	struct rule_index ri;
	assert_int_equal(rule_index_build(lab, &ri), 0);
	assert_int_equal(ri.total, 18);
	uint8_t *hit = calloc(ri.total, 1);
	/* client -> web tcp 443: na ingress 100 decides the request, web's
	 * two matching ingress rules allow it, the reply's ports are decided
	 * by na egress 105 and 110; SG egress of web passes by tracking. */
	evaluate(lab, &ri, "client", "web", PROTO_TCP, 443, -1, -1, hit);
	static const char *const want[] = {"web ingress 443", "web ingress 400", "na ingress 100",
					   "na egress 105", "na egress 110"};
	char key[128];
	for (size_t i = 0; i < ri.total; i++) {
		key_of(lab, &ri.refs[i], key, sizeof(key));
		if (listed(key, want, 5) != (hit[i] != 0))
			fail_msg("%s: exercised %d, expected %d", key, hit[i],
				 listed(key, want, 5));
	}
	free(hit);
	rule_index_free(&ri);
	lab_free(lab);
}

static void rejected_request_decides_only_what_it_met(void **state)
{
	struct lab *lab = load();
	struct rule_index ri;
	assert_int_equal(rule_index_build(lab, &ri), 0);
	uint8_t *hit = calloc(ri.total, 1);
	/* client -> web tcp 8443: na ingress denies by its * entry: no rule
	 * of the lab decided anything (the * entries are not lab rules) */
	evaluate(lab, &ri, "client", "web", PROTO_TCP, 8443, -1, -1, hit);
	for (size_t i = 0; i < ri.total; i++)
		assert_int_equal(hit[i], 0);
	free(hit);
	rule_index_free(&ri);
	lab_free(lab);
}

static void generated_flows_reach_every_reachable_rule(void **state)
{
	struct lab *lab = load();
	struct rule_index ri;
	struct cover_plan plan;
	char key[128];
	assert_int_equal(rule_index_build(lab, &ri), 0);
	assert_int_equal(cover_generate(lab, &ri, &plan), 0);
	size_t n = sizeof(reachable) / sizeof(reachable[0]);
	assert_int_equal(plan.n_reachable, n);
	for (size_t i = 0; i < ri.total; i++) {
		key_of(lab, &ri.refs[i], key, sizeof(key));
		if (listed(key, reachable, n) != (plan.reachable[i] != 0))
			fail_msg("%s: reachable %d, expected %d", key, plan.reachable[i],
				 listed(key, reachable, n));
	}
	/* the plan's flows, evaluated as `vpcfw test` will, exercise exactly
	 * the reachable rules, each flow covering something new */
	uint8_t *hit = calloc(ri.total, 1);
	for (size_t k = 0; k < plan.n; k++) {
		const struct cover_flow *f = &plan.flows[k];
		assert_true(f->n_rules > 0);
		evaluate(lab, &ri, f->from, f->to, f->proto, f->port, f->icmp_type, f->icmp_code,
			 hit);
	}
	for (size_t i = 0; i < ri.total; i++)
		assert_int_equal(hit[i] != 0, plan.reachable[i] != 0);
	assert_true(plan.n <= n);
	free(hit);
	cover_plan_free(&plan);
	rule_index_free(&ri);
	lab_free(lab);
}

/* The pruned, rule-by-rule search finds exactly the rules the slow
 * exhaustive one does (every representative flow evaluated), on every
 * example lab and the lint lab (WireGuard's allowedips selftest habit). */
static void search_agrees_with_exhaustive(void **state)
{
	static const char *const labs[] = {"examples/prototype",      "examples/ten-thousand",
					   "examples/million",	      "examples/aws-export",
					   "tests/lint-lab/lab.json", "tests/lint-lab/aws"};
	const char *root = getenv("VPCFW_SOURCE_DIR");
	char path[4096];
	for (size_t i = 0; i < sizeof(labs) / sizeof(labs[0]); i++) {
		struct lab_load_opts o;
		struct diag_list d;
		struct lab *lab = NULL;
		struct rule_index ri;
		struct cover_plan plan;
		snprintf(path, sizeof(path), "%s/%s", root ? root : "../..", labs[i]);
		lab_load_opts_init(&o);
		diag_init(&d);
		assert_int_equal(lab_load(path, &o, &lab, &d), 0);
		diag_free(&d);
		assert_int_equal(rule_index_build(lab, &ri), 0);
		assert_int_equal(cover_generate(lab, &ri, &plan), 0);
		uint8_t *slow = calloc(ri.total + 1, 1);
		assert_int_equal(cover_reachable_exhaustive(lab, &ri, slow), 0);
		for (size_t k = 0; k < ri.total; k++) {
			char text[512];
			if ((slow[k] != 0) != (plan.reachable[k] != 0))
				fail_msg("%s: %s: exhaustive %d, search %d", labs[i],
					 rule_ref_format(lab, &ri.refs[k], text, sizeof(text)),
					 slow[k], plan.reachable[k]);
		}
		assert_int_equal(plan.n_undecided, 0);
		free(slow);
		cover_plan_free(&plan);
		rule_index_free(&ri);
		lab_free(lab);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(one_flow_exercises),
	    cmocka_unit_test(rejected_request_decides_only_what_it_met),
	    cmocka_unit_test(generated_flows_reach_every_reachable_rule),
	    cmocka_unit_test(search_agrees_with_exhaustive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
