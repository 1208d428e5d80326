/*
 * rules/query: names to a pipeline_query as `vpcfw check` and `vpcfw test`
 * build it — endpoint kinds, the one-family rule (an IP address or the
 * ICMP flavour fixes it, mixed is an error), contract 4's defaults, and
 * every refusal with its errno-style code.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "labkit.h"
#include "query.h"

static int setup(void **state)
{
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8:1::/56");
	int32_t acl = kit_nacl(lab, "acl-d", vpc, true);
	int32_t sn = kit_subnet(lab, "subnet-a", vpc, "10.0.1.0/24", "2001:db8:1:1::/64", acl, -1);
	int32_t g = kit_group(lab, "sg-1", "one", vpc);
	kit_eni(lab, "eni-web", "web", sn, "10.0.1.10", "2001:db8:1:1::10", NULL,
		(int32_t[]){g, -1});
	kit_eni(lab, "eni-db", "db", sn, "10.0.1.20", NULL, NULL, (int32_t[]){g, -1});
	kit_eni(lab, "eni-six", "six", sn, NULL, "2001:db8:1:1::30", NULL, (int32_t[]){g, -1});
	kit_finish(lab);
	*state = lab;
	return 0;
}

static int teardown(void **state)
{
	kit_free(*state);
	return 0;
}

static int build(const struct lab *lab, const char *from, const char *to, int proto, int port,
		 struct pipeline_query *q, char *warn)
{
	struct query_spec s;
	query_spec_init(&s);
	s.from = from;
	s.to = to;
	s.proto = proto;
	s.port = port;
	char err[256];
	int r = query_build(lab, &s, q, err, sizeof(err), warn, 128);
	if (r < 0)
		assert_true(strlen(err) > 0); /* every refusal says why */
	return r;
}

static void test_names_and_defaults(void **state)
{
	const struct lab *lab = *state;
	struct pipeline_query q;
	char warn[128];
	char a[IP_ADDR_STRLEN];
	assert_int_equal(build(lab, "web", "eni-db", PROTO_TCP, 5432, &q, warn), 0);
	assert_int_equal(q.client.kind, END_ENI);
	assert_int_equal(q.server.eni, 1);
	assert_string_equal(ip_addr_format(&q.request.dst, a, sizeof(a)), "10.0.1.20");
	assert_int_equal(q.request.dport, 5432);
	assert_false(q.has_sport);
	assert_int_equal(q.eph_lo, 32768);
	assert_int_equal(q.eph_hi, 60999);
	assert_string_equal(warn, "");
	/* ICMP defaults: echo request 8/0, or 128/0 for ICMPv6 (which picks IPv6) */
	assert_int_equal(build(lab, "web", "db", PROTO_ICMP, -1, &q, warn), 0);
	assert_int_equal(q.request.icmp_type, 8);
	assert_int_equal(build(lab, "web", "six", PROTO_ICMPV6, -1, &q, warn), 0);
	assert_int_equal(q.request.icmp_type, 128);
	assert_string_equal(ip_addr_format(&q.request.src, a, sizeof(a)), "2001:db8:1:1::10");
	/* an IPv6-only ENI makes the family IPv6 when nothing else fixes it */
	assert_int_equal(build(lab, "web", "six", PROTO_TCP, 22, &q, warn), 0);
	assert_int_equal(q.request.src.family, IP_V6);
}

static void test_addresses_fix_the_family(void **state)
{
	const struct lab *lab = *state;
	struct pipeline_query q;
	char warn[128];
	assert_int_equal(build(lab, "2001:db8:1:1::10", "six", PROTO_TCP, 80, &q, warn), 0);
	assert_int_equal(q.client.eni, 0);
	assert_int_equal(build(lab, "web", "2001:db8:ff::1", PROTO_TCP, 80, &q, warn), 0);
	assert_int_equal(q.server.kind, END_OUTSIDE);
	assert_int_equal(q.request.src.family, IP_V6);
	/* mixed families, by addresses or by the ICMP flavour */
	assert_int_equal(build(lab, "10.0.1.10", "2001:db8:ff::1", PROTO_TCP, 80, &q, warn),
			 -EINVAL);
	assert_int_equal(build(lab, "web", "203.0.113.1", PROTO_ICMPV6, -1, &q, warn), -EINVAL);
	/* db has no IPv6 */
	assert_int_equal(build(lab, "db", "2001:db8:ff::1", PROTO_TCP, 80, &q, warn),
			 -EAFNOSUPPORT);
	/* AWS services and the in-VPC warning */
	assert_int_equal(build(lab, "web", "10.0.0.2", PROTO_UDP, 53, &q, warn), 0);
	assert_int_equal(q.server.kind, END_SERVICE);
	assert_int_equal(q.server.service, SERVICE_DNS);
	assert_string_equal(warn, "");
	assert_int_equal(build(lab, "web", "10.0.1.99", PROTO_UDP, 53, &q, warn), 0);
	assert_int_equal(q.server.kind, END_OUTSIDE);
	assert_string_equal(warn, "10.0.1.99 lies inside a VPC CIDR but belongs to no ENI");
}

static void test_refusals(void **state)
{
	const struct lab *lab = *state;
	struct pipeline_query q;
	char warn[128];
	assert_int_equal(build(lab, "nobody", "db", PROTO_TCP, 1, &q, warn), -ENOENT);
	assert_int_equal(build(lab, "web", "db", PROTO_TCP, -1, &q, warn), -EINVAL);
	assert_int_equal(build(lab, "web", "db", PROTO_ICMP, 80, &q, warn), -EINVAL);
	assert_int_equal(build(lab, "web", "db", -1, 80, &q, warn), -EINVAL);
	assert_int_equal(build(lab, "web", "10.0.1.10", PROTO_TCP, 80, &q, warn), -EINVAL);
	assert_int_equal(build(lab, "192.0.2.1", "203.0.113.1", PROTO_TCP, 80, &q, warn), -EINVAL);
	int p = 0;
	assert_int_equal(query_proto_parse("ICMPv6", &p), 0);
	assert_int_equal(p, PROTO_ICMPV6);
	assert_int_equal(query_proto_parse("47", &p), 0);
	assert_int_equal(p, 47);
	assert_int_equal(query_proto_parse("-1", &p), -EINVAL);
	assert_int_equal(query_proto_parse("256", &p), -EINVAL);
	assert_int_equal(query_proto_parse("tcpx", &p), -EINVAL);
	assert_int_equal(query_proto_parse("", &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_names_and_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_addresses_fix_the_family, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
