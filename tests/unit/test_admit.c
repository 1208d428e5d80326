/*
 * rules/admit (`vpcfw check --all`): every stage that would reject a flow,
 * each evaluated as if the others admitted it, and the change admitting it
 * there. Expected blockers are worked out by hand from AWS's order
 * (AWS-SEMANTICS §1) and first match (§2): a NACL allow must be numbered
 * before the lowest entry refusing any port of the reply range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admit.h"
#include "load.h"
#include "query.h"

/* a1 (10.0.1.10, subnet a, NACL na) and b1 (10.0.2.10, subnet b, NACL nb).
 * Group ga: egress tcp 443 anywhere. Group gb: ingress tcp 443 from ga. */
static const char *lab_json =
    "{\"vpcs\": [{\"name\": \"v\", \"cidr\": \"10.0.0.0/16\","
    " \"subnets\": ["
    "  {\"name\": \"a\", \"cidr\": \"10.0.1.0/24\", \"nacl\": \"na\"},"
    "  {\"name\": \"b\", \"cidr\": \"10.0.2.0/24\", \"nacl\": \"nb\"}],"
    " \"nacls\": ["
    "  {\"name\": \"na\", \"ingress\": ["
    "    {\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"41000-65535\","
    "     \"cidr\": \"10.0.2.0/24\"}],"
    "   \"egress\": [{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": "
    "\"0.0.0.0/0\"}]},"
    "  {\"name\": \"nb\", \"ingress\": ["
    "    {\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"443\", \"cidr\": "
    "\"10.0.1.0/24\"}],"
    "   \"egress\": ["
    "    {\"rule\": 90, \"action\": \"deny\", \"proto\": \"tcp\", \"ports\": \"32768-40000\", "
    "\"cidr\": \"10.0.1.0/24\"},"
    "    {\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"40001-50000\", "
    "\"cidr\": \"10.0.1.0/24\"}]}],"
    " \"security_groups\": ["
    "  {\"name\": \"ga\", \"ingress\": [], \"egress\": [{\"proto\": \"tcp\", \"ports\": \"443\", "
    "\"to\": \"0.0.0.0/0\"}]},"
    "  {\"name\": \"gb\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"443\", \"from\": "
    "\"ga\"}], \"egress\": []}],"
    " \"enis\": ["
    "  {\"name\": \"a1\", \"subnet\": \"a\", \"ip\": \"10.0.1.10\", \"groups\": [\"ga\"]},"
    "  {\"name\": \"b1\", \"subnet\": \"b\", \"ip\": \"10.0.2.10\", \"groups\": [\"gb\"]}]}]}";

static struct lab *load(void)
{
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;
	lab_load_opts_init(&o);
	diag_init(&d);
	assert_int_equal(lab_load_buffer("admit.json", lab_json, strlen(lab_json), &o, &lab, &d),
			 0);
	diag_free(&d);
	return lab;
}

static void analyze(const struct lab *lab, const char *from, const char *to, int port,
		    struct admit_report *r)
{
	struct query_spec s;
	struct pipeline_query q;
	char err[256];
	query_spec_init(&s);
	s.from = from;
	s.to = to;
	s.proto = PROTO_TCP;
	s.port = port;
	assert_int_equal(query_build(lab, &s, &q, err, sizeof(err), NULL, 0), 0);
	admit_analyze(lab, &q, r);
}

static void every_blocker_of_a_rejected_flow(void **state)
{
	struct lab *lab = load();
	struct admit_report r;
	/* a1 -> b1 tcp 443: request admitted everywhere. Reply b1 -> a1 over
	 * 32768-60999: nb egress 90 denies 32768-40000, 100 allows up to
	 * 50000, * denies the rest: one allow before rule 90 for all refused
	 * ports 32768-60999. na ingress 100 allows 41000 and up only: * (32767)
	 * refuses 32768-40999, an allow before rule 32767. */
	analyze(lab, "a1", "b1", 443, &r);
	assert_int_equal(r.n, 2);
	assert_true(r.fixable);
	assert_int_equal(r.n_changes, 2);
	assert_true(r.items[0].response);
	assert_int_equal(r.items[0].v.stage, STAGE_NACL_EGRESS);
	assert_int_equal(r.items[0].v.rule_number, 90);
	assert_non_null(strstr(r.items[0].change, "an allow for tcp 32768-60999 to 10.0.1.0/24 "
						  "numbered before rule 90"));
	assert_true(r.items[1].response);
	assert_int_equal(r.items[1].v.stage, STAGE_NACL_INGRESS);
	assert_non_null(strstr(r.items[1].change, "an allow for tcp 32768-40999 from 10.0.2.0/24 "
						  "numbered before rule 32767"));
	lab_free(lab);
}

static void request_blockers_name_groups(void **state)
{
	struct lab *lab = load();
	struct admit_report r;
	/* b1 -> a1 tcp 443: gb has no egress rule; nb egress names only
	 * 32768-50000 to 10.0.1.0/24 (90 denies, 100 allows): 443 meets *; na
	 * ingress admits only 41000 and up (443 meets *); ga has no ingress
	 * rule. The reply a1 -> b1 to 32768-60999: na egress allows all; nb
	 * ingress admits only 443 (* for the replies). Five blockers, five
	 * changes. */
	analyze(lab, "b1", "a1", 443, &r);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.n_changes, 5);
	assert_int_equal(r.items[0].v.stage, STAGE_SG_EGRESS);
	assert_non_null(strstr(r.items[0].change, "(gb) egress: tcp 443 to "));
	assert_non_null(strstr(r.items[0].change, "(ga)"));
	assert_int_equal(r.items[1].v.stage, STAGE_NACL_EGRESS);
	assert_non_null(strstr(r.items[1].change, "an allow for tcp 443 to 10.0.1.0/24 numbered "
						  "before rule 32767"));
	assert_int_equal(r.items[2].v.stage, STAGE_NACL_INGRESS);
	assert_false(r.items[2].response);
	assert_int_equal(r.items[3].v.stage, STAGE_SG_INGRESS);
	assert_non_null(strstr(r.items[3].change, "(ga) ingress: tcp 443 from "));
	assert_true(r.items[4].response);
	assert_int_equal(r.items[4].v.stage, STAGE_NACL_INGRESS);
	assert_non_null(strstr(r.items[4].change, "tcp 32768-60999 from 10.0.1.0/24"));
	lab_free(lab);
}

static void accepted_flow_has_none(void **state)
{
	struct lab *lab = load();
	struct admit_report r;
	struct query_spec s;
	struct pipeline_query q;
	struct pipeline_check c;
	char err[256];
	/* with the client port fixed at 45000: nb egress 100 and na ingress
	 * 100 both admit the reply, every request stage admits: no blocker,
	 * and pipeline_check agrees */
	query_spec_init(&s);
	s.from = "a1";
	s.to = "b1";
	s.proto = PROTO_TCP;
	s.port = 443;
	s.sport = 45000;
	assert_int_equal(query_build(lab, &s, &q, err, sizeof(err), NULL, 0), 0);
	admit_analyze(lab, &q, &r);
	pipeline_check(lab, &q, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(r.n, 0);
	assert_true(r.fixable);
	lab_free(lab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_blocker_of_a_rejected_flow),
	    cmocka_unit_test(request_blockers_name_groups),
	    cmocka_unit_test(accepted_flow_has_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
