/*
 * Tests for rules/addr: text parsing and its refusals, the canonical flag
 * of prefixes with host bits, containment, covering and overlap (never
 * across families: AWS-SEMANTICS §2, an IPv4 rule never matches an IPv6
 * packet), the reserved addresses of a subnet (nth/last, §5) and
 * formatting back to the text AWS prints. Table-driven.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"

static struct ip_addr A(const char *s) {
	struct ip_addr a;
	assert_int_equal(ip_addr_parse(s, &a), 0);
	return a;
}

static struct ip_prefix
P(const char *s) {
	struct ip_prefix p;
	assert_int_equal(ip_prefix_parse(s, &p, NULL), 0);
	return p;
}

static void
test_addr_parse(void **state)
{
	static const struct {
		const char *in;
		int family;
		const char *out; /* formatted back */
	} ok[] = {
	    {"10.0.1.10", IP_V4, "10.0.1.10"},
	    {"0.0.0.0", IP_V4, "0.0.0.0"},
	    {"255.255.255.255", IP_V4, "255.255.255.255"},
	    {"::", IP_V6, "::"},
	    {"::1", IP_V6, "::1"},
	    {"2001:DB8:0:0:0:0:0:1", IP_V6, "2001:db8::1"},
	    {"2001:db8:1:0::10", IP_V6, "2001:db8:1::10"},
	    {"fe80::1:2:3:4", IP_V6, "fe80::1:2:3:4"},
	    /* IPv4-mapped is an IPv6 address: it never matches IPv4 rules */
	    {"::ffff:10.0.0.1", IP_V6, "::ffff:10.0.0.1"},
	};
	static const char *bad[] = {
	    "",
	    "10.0.0",
	    "10.0.0.256",
	    "10.0.0.1.2",
	    "010.0.0.1",
	    " 10.0.0.1",
	    "10.0.0.1 ",
	    "10.0.0.1/32",
	    "a.b.c.d",
	    "1::2::3",
	    "2001:db8::g",
	    "fe80::1%eth0",
	    "12345::",
	    "1:2:3:4:5:6:7:8:9",
	    "10.0.0.1:80",
	    "-1.0.0.0",
	};
	char buf[IP_ADDR_STRLEN];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct ip_addr a;
		if (ip_addr_parse(ok[i].in, &a) != 0)
			fail_msg("refused %s", ok[i].in);
		assert_int_equal(a.family, ok[i].family);
		assert_string_equal(ip_addr_format(&a, buf, sizeof(buf)), ok[i].out);
		if (a.family == IP_V4)
			for (int j = 4; j < 16; j++)
				assert_int_equal(a.b[j], 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ip_addr a;
		if (ip_addr_parse(bad[i], &a) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	struct ip_addr a;
	assert_int_equal(ip_addr_parse(NULL, &a), -EINVAL);
}

static void test_prefix_parse(void **state)
{
	static const struct {
		const char *in;
		const char *out;
		unsigned len;
		bool canonical;
	} ok[] = {
	    {"10.0.0.0/16", "10.0.0.0/16", 16, true},
	    {"10.0.1.10/24", "10.0.1.0/24", 24, false}, /* host bits cleared, flagged */
	    {"10.0.1.10/32", "10.0.1.10/32", 32, true},
	    {"0.0.0.0/0", "0.0.0.0/0", 0, true},
	    {"1.2.3.4/0", "0.0.0.0/0", 0, false},
	    {"10.0.0.128/25", "10.0.0.128/25", 25, true},
	    {"10.0.0.129/25", "10.0.0.128/25", 25, false},
	    {"::/0", "::/0", 0, true},
	    {"2001:db8:1::/64", "2001:db8:1::/64", 64, true},
	    {"2001:db8:1::1/64", "2001:db8:1::/64", 64, false},
	    {"2001:db8::/56", "2001:db8::/56", 56, true},
	    {"2001:db8:0:1ff::/56", "2001:db8:0:100::/56", 56, false},
	    {"2001:db8::1/128", "2001:db8::1/128", 128, true},
	};
	static const char *bad[] = {
	    "10.0.0.0",
	    "10.0.0.0/",
	    "10.0.0.0/33",
	    "10.0.0.0/-1",
	    "10.0.0.0/+8",
	    "10.0.0.0/8/9",
	    "10.0.0.0/ 8",
	    "10.0.0.0/8 ",
	    "10.0.0.0/1000",
	    "/8",
	    "::/129",
	    "2001:db8::/x",
	    "10.0.0.256/8",
	    "",
	    /* longer than any address text before the slash */
	    "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/8",
	};
	char buf[IP_PREFIX_STRLEN];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct ip_prefix p;
		bool canonical = !ok[i].canonical;
		if (ip_prefix_parse(ok[i].in, &p, &canonical) != 0)
			fail_msg("refused %s", ok[i].in);
		assert_int_equal(p.len, ok[i].len);
		assert_int_equal(canonical, ok[i].canonical);
		assert_string_equal(ip_prefix_format(&p, buf, sizeof(buf)), ok[i].out);
		/* the formatted text parses back to the same, canonical, prefix */
		struct ip_prefix q;
		assert_int_equal(ip_prefix_parse(buf, &q, &canonical), 0);
		assert_true(canonical);
		assert_true(ip_prefix_eq(&p, &q));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ip_prefix p;
		if (ip_prefix_parse(bad[i], &p, NULL) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	struct ip_prefix p;
	assert_int_equal(ip_prefix_parse(NULL, &p, NULL), -EINVAL);
}

static void test_contains(void **state)
{
	static const struct {
		const char *prefix, *addr;
		bool in;
	} t[] = {
	    {"10.0.0.0/16", "10.0.255.255", true},
	    {"10.0.0.0/16", "10.1.0.0", false},
	    {"10.0.0.0/16", "9.255.255.255", false},
	    {"10.0.1.0/24", "10.0.1.0", true},
	    {"10.0.0.128/25", "10.0.0.127", false},
	    {"10.0.0.128/25", "10.0.0.128", true},
	    {"10.0.0.0/31", "10.0.0.1", true},
	    {"10.0.0.1/32", "10.0.0.1", true},
	    {"10.0.0.1/32", "10.0.0.2", false},
	    {"0.0.0.0/0", "203.0.113.9", true},
	    {"0.0.0.0/0", "::", false}, /* §2: never across families */
	    {"0.0.0.0/0", "::ffff:10.0.0.1", false},
	    {"::/0", "10.0.0.1", false},
	    {"::/0", "2001:db8::1", true},
	    {"2001:db8:1::/64", "2001:db8:1:0:ffff:ffff:ffff:ffff", true},
	    {"2001:db8:1::/64", "2001:db8:1:1::", false},
	    {"2001:db8::/33", "2001:db8:7fff::1", true},
	    {"2001:db8::/33", "2001:db8:8000::1", false},
	    {"::/128", "::", true},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ip_prefix p = P(t[i].prefix);
		struct ip_addr a = A(t[i].addr);
		if (ip_prefix_contains(&p, &a) != t[i].in)
			fail_msg("%s contains %s: want %d", t[i].prefix, t[i].addr, t[i].in);
	}
}

static void test_covers_overlaps(void **state)
{
	static const struct {
		const char *a, *b;
		bool a_covers_b, overlap;
	} t[] = {
	    {"10.0.0.0/16", "10.0.1.0/24", true, true},
	    {"10.0.1.0/24", "10.0.0.0/16", false, true},
	    {"10.0.1.0/24", "10.0.2.0/24", false, false},
	    {"10.0.0.0/23", "10.0.1.0/24", true, true},
	    {"10.0.0.0/24", "10.0.0.0/24", true, true},
	    {"10.0.0.0/25", "10.0.0.128/25", false, false},
	    {"0.0.0.0/0", "192.0.2.0/24", true, true},
	    {"0.0.0.0/0", "::/0", false, false},
	    {"::/0", "2001:db8::/32", true, true},
	    {"2001:db8:1::/64", "2001:db8:2::/64", false, false},
	    {"2001:db8::/48", "2001:db8:0:ff::/64", true, true},
	    {"::/0", "0.0.0.0/0", false, false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ip_prefix a = P(t[i].a), b = P(t[i].b);
		if (ip_prefix_covers(&a, &b) != t[i].a_covers_b)
			fail_msg("%s covers %s", t[i].a, t[i].b);
		if (ip_prefix_overlaps(&a, &b) != t[i].overlap ||
		    ip_prefix_overlaps(&b, &a) != t[i].overlap)
			fail_msg("%s overlaps %s", t[i].a, t[i].b);
	}
}

static void test_nth_last(void **state)
{
	static const struct {
		const char *prefix;
		uint64_t k;
		const char *nth;
		const char *last;
	} t[] = {
	    /* §5 reserved: base+1 router, base+2 DNS, base+3, broadcast */
	    {"10.0.1.0/24", 1, "10.0.1.1", "10.0.1.255"},
	    {"10.0.1.0/24", 2, "10.0.1.2", "10.0.1.255"},
	    {"10.0.1.0/24", 3, "10.0.1.3", "10.0.1.255"},
	    {"10.0.0.0/16", 256, "10.0.1.0", "10.0.255.255"},
	    {"10.0.0.240/28", 15, "10.0.0.255", "10.0.0.255"},
	    {"10.0.0.255/32", 1, "10.0.1.0", "10.0.0.255"},	     /* carries */
	    {"255.255.255.255/32", 1, "0.0.0.0", "255.255.255.255"}, /* wraps */
	    {"0.0.0.0/0", 0x01020304, "1.2.3.4", "255.255.255.255"},
	    {"2001:db8:1::/64", 1, "2001:db8:1::1", "2001:db8:1:0:ffff:ffff:ffff:ffff"},
	    {"2001:db8:1::/64", 0x10000, "2001:db8:1::1:0", "2001:db8:1:0:ffff:ffff:ffff:ffff"},
	    {"2001:db8:1:0:ffff:ffff:ffff:ffff/128", 1,
	     "2001:db8:1:1::", "2001:db8:1:0:ffff:ffff:ffff:ffff"},
	    {"2001:db8::/56", UINT64_MAX, "2001:db8::ffff:ffff:ffff:ffff",
	     "2001:db8:0:ff:ffff:ffff:ffff:ffff"},
	};
	char buf[IP_ADDR_STRLEN];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ip_prefix p = P(t[i].prefix);
		struct ip_addr a;
		ip_prefix_nth(&p, t[i].k, &a);
		assert_int_equal(a.family, p.addr.family);
		assert_string_equal(ip_addr_format(&a, buf, sizeof(buf)), t[i].nth);
		ip_prefix_last(&p, &a);
		assert_string_equal(ip_addr_format(&a, buf, sizeof(buf)), t[i].last);
		assert_true(ip_prefix_contains(&p, &a));
	}
}

static void test_cmp_eq_host(void **state)
{
	struct ip_addr v4a = A("10.0.0.1"), v4b = A("10.0.0.2"), v6 = A("::1");
	struct ip_addr v4a2 = A("10.0.0.1");

	assert_true(ip_addr_eq(&v4a, &v4a2));
	assert_false(ip_addr_eq(&v4a, &v4b));
	assert_true(ip_addr_cmp(&v4a, &v4b) < 0);
	assert_true(ip_addr_cmp(&v4b, &v4a) > 0);
	assert_int_equal(ip_addr_cmp(&v4a, &v4a2), 0);
	/* IPv4 sorts before IPv6, whatever the bytes */
	assert_true(ip_addr_cmp(&v4b, &v6) < 0);
	assert_true(ip_addr_cmp(&v6, &v4a) > 0);
	/* same bytes, different family: not equal */
	struct ip_addr zero4 = A("0.0.0.0"), zero6 = A("::");
	assert_false(ip_addr_eq(&zero4, &zero6));

	struct ip_prefix h;
	ip_prefix_host(&v4a, &h);
	assert_int_equal(h.len, 32);
	assert_true(ip_prefix_contains(&h, &v4a));
	assert_false(ip_prefix_contains(&h, &v4b));
	ip_prefix_host(&v6, &h);
	assert_int_equal(h.len, 128);
	assert_false(ip_prefix_is_all(&h));

	struct ip_prefix all4 = P("0.0.0.0/0"), all6 = P("::/0"), p1 = P("0.0.0.0/1");
	assert_true(ip_prefix_is_all(&all4));
	assert_true(ip_prefix_is_all(&all6));
	assert_false(ip_prefix_is_all(&p1));
	assert_false(ip_prefix_eq(&all4, &all6));
	struct ip_prefix a24 = P("10.0.0.0/24"), a25 = P("10.0.0.0/25");
	assert_false(ip_prefix_eq(&a24, &a25));
}

static void test_format_limits(void **state)
{
	struct ip_addr a = A("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	char buf[IP_ADDR_STRLEN];
	char pbuf[IP_PREFIX_STRLEN];

	/* the longest text fits the documented buffer sizes */
	assert_string_equal(ip_addr_format(&a, buf, sizeof(buf)),
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	struct ip_prefix p = P("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	assert_string_equal(ip_prefix_format(&p, pbuf, sizeof(pbuf)),
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	/* too small a buffer gives a marker, never an overflow */
	char tiny[4];
	assert_string_equal(ip_addr_format(&a, tiny, sizeof(tiny)), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_parse),	  cmocka_unit_test(test_prefix_parse),
	    cmocka_unit_test(test_contains),	  cmocka_unit_test(test_covers_overlaps),
	    cmocka_unit_test(test_nth_last),	  cmocka_unit_test(test_cmp_eq_host),
	    cmocka_unit_test(test_format_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
