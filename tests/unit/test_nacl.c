/*
 * rules/nacl: AWS's documented NACLs as tables (the default NACL, the
 * custom NACL of the VPC User Guide with its ephemeral-port rules), the
 * §8 first-match cases, families never crossing, ICMP type/code, and a
 * differential test against a deliberately naive evaluator on thousands of
 * seeded random rule sets and packets (WireGuard allowedips style).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "labkit.h"
#include "nacl.h"
#include "reference.h"

struct nacl_case {
	const char *what;
	bool egress;
	struct flow f;
	bool allow;
	uint32_t rule;
};

static void run_cases(const struct nacl *acl, const struct nacl_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct nacl_decision d;
		bool ok = nacl_evaluate(acl, c[i].egress, &c[i].f, &d);
		if (ok != c[i].allow || d.rule_number != c[i].rule)
			fail_msg("%s: got %s by rule %u, want %s by rule %u", c[i].what,
				 ok ? "allow" : "deny", d.rule_number,
				 c[i].allow ? "allow" : "deny", c[i].rule);
		assert_int_equal(ok, d.allow);
		if (d.rule_number >= NACL_RULE_STAR_V4)
			assert_null(d.entry);
		else
			assert_int_equal(d.entry->rule_number, d.rule_number);
	}
}

/* The default NACL (§2): rule 100 allows all IPv4, 101 all IPv6, both ways. */
static void test_default_nacl(void **state)
{
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2600:1f18:1::/56");
	int32_t a = kit_nacl(lab, "acl-default", vpc, true);
	for (int eg = 0; eg < 2; eg++) {
		kit_nacl_rule(lab, a, eg, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
		kit_nacl_rule(lab, a, eg, 101, true, PROTO_ALL, "::/0", 0, 0);
	}
	const struct nacl_case cases[] = {
	    {"tcp in", false, kit_flow("203.0.113.9", "10.0.1.5", PROTO_TCP, 22), true, 100},
	    {"udp out", true, kit_flow("10.0.1.5", "198.51.100.1", PROTO_UDP, 53), true, 100},
	    {"icmp in", false, kit_icmp("192.0.2.1", "10.0.1.5", PROTO_ICMP, 8, 0), true, 100},
	    {"gre out", true, kit_flow("10.0.1.5", "10.0.2.5", 47, 0), true, 100},
	    {"tcp6 in", false, kit_flow("2001:db8::1", "2600:1f18:1::5", PROTO_TCP, 443), true, 101},
	    {"icmp6 out", true, kit_icmp("2600:1f18:1::5", "2001:db8::1", PROTO_ICMPV6, 128, 0), true,
	     101},
	};
	run_cases(&lab->nacls[a], cases, sizeof(cases) / sizeof(cases[0]));
	kit_free(lab);
}

/* A new custom NACL denies everything until rules are added (§2). */
static void test_new_custom_nacl_denies(void **state)
{
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", NULL);
	int32_t a = kit_nacl(lab, "acl-new", vpc, false);
	const struct nacl_case cases[] = {
	    {"v4 in", false, kit_flow("10.0.2.1", "10.0.1.5", PROTO_TCP, 80), false, NACL_RULE_STAR_V4},
	    {"v4 out", true, kit_flow("10.0.1.5", "10.0.2.1", PROTO_UDP, 53), false, NACL_RULE_STAR_V4},
	    {"v6 in", false, kit_flow("2001:db8::1", "2001:db8::2", PROTO_TCP, 80), false,
	     NACL_RULE_STAR_V6},
	};
	run_cases(&lab->nacls[a], cases, sizeof(cases) / sizeof(cases[0]));
	kit_free(lab);
}

/* The VPC User Guide's custom NACL for a public web subnet: HTTP/HTTPS
 * from anywhere (IPv4 and IPv6), SSH/RDP from the home network
 * 192.0.2.0/24, return traffic on the ephemeral ports 32768-65535. */
static int32_t guide_nacl(struct lab *lab)
{
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8:1234:1a00::/56");
	int32_t a = kit_nacl(lab, "acl-web", vpc, false);
	kit_nacl_rule(lab, a, false, 100, true, PROTO_TCP, "0.0.0.0/0", 80, 80);
	kit_nacl_rule(lab, a, false, 105, true, PROTO_TCP, "::/0", 80, 80);
	kit_nacl_rule(lab, a, false, 110, true, PROTO_TCP, "0.0.0.0/0", 443, 443);
	kit_nacl_rule(lab, a, false, 115, true, PROTO_TCP, "::/0", 443, 443);
	kit_nacl_rule(lab, a, false, 120, true, PROTO_TCP, "192.0.2.0/24", 22, 22);
	kit_nacl_rule(lab, a, false, 130, true, PROTO_TCP, "192.0.2.0/24", 3389, 3389);
	kit_nacl_rule(lab, a, false, 140, true, PROTO_TCP, "0.0.0.0/0", 32768, 65535);
	kit_nacl_rule(lab, a, false, 145, true, PROTO_TCP, "::/0", 32768, 65535);
	kit_nacl_rule(lab, a, true, 100, true, PROTO_TCP, "0.0.0.0/0", 80, 80);
	kit_nacl_rule(lab, a, true, 105, true, PROTO_TCP, "::/0", 80, 80);
	kit_nacl_rule(lab, a, true, 110, true, PROTO_TCP, "0.0.0.0/0", 443, 443);
	kit_nacl_rule(lab, a, true, 115, true, PROTO_TCP, "::/0", 443, 443);
	kit_nacl_rule(lab, a, true, 120, true, PROTO_TCP, "10.0.1.0/24", 1433, 1433);
	kit_nacl_rule(lab, a, true, 140, true, PROTO_TCP, "0.0.0.0/0", 32768, 65535);
	kit_nacl_rule(lab, a, true, 145, true, PROTO_TCP, "::/0", 32768, 65535);
	kit_nacl_rule(lab, a, true, 150, true, PROTO_TCP, "192.0.2.0/24", 22, 22);
	return a;
}

static void test_user_guide_custom_nacl(void **state)
{
	struct lab *lab = kit_new();
	int32_t a = guide_nacl(lab);
	const struct nacl_case cases[] = {
	    {"http from the internet", false, kit_flow("198.51.100.7", "10.0.0.10", PROTO_TCP, 80), true,
	     100},
	    {"https6 from the internet", false,
	     kit_flow("2001:db8:ffff::1", "2001:db8:1234:1a00::10", PROTO_TCP, 443), true, 115},
	    {"ssh from home", false, kit_flow("192.0.2.33", "10.0.0.10", PROTO_TCP, 22), true, 120},
	    {"ssh from elsewhere", false, kit_flow("198.51.100.7", "10.0.0.10", PROTO_TCP, 22), false,
	     NACL_RULE_STAR_V4},
	    {"ssh6 never allowed", false,
	     kit_flow("2001:db8:ffff::1", "2001:db8:1234:1a00::10", PROTO_TCP, 22), false,
	     NACL_RULE_STAR_V6},
	    {"rdp from home", false, kit_flow("192.0.2.1", "10.0.0.10", PROTO_TCP, 3389), true, 130},
	    {"return traffic 32768", false, kit_flow("203.0.113.1", "10.0.0.10", PROTO_TCP, 32768), true,
	     140},
	    {"return traffic 32767 refused", false,
	     kit_flow("203.0.113.1", "10.0.0.10", PROTO_TCP, 32767), false, NACL_RULE_STAR_V4},
	    {"udp return not allowed", false, kit_flow("203.0.113.1", "10.0.0.10", PROTO_UDP, 40000),
	     false, NACL_RULE_STAR_V4},
	    {"ping not allowed", false, kit_icmp("203.0.113.1", "10.0.0.10", PROTO_ICMP, 8, 0), false,
	     NACL_RULE_STAR_V4},
	    {"sql to the private subnet", true, kit_flow("10.0.0.10", "10.0.1.7", PROTO_TCP, 1433), true,
	     120},
	    {"sql elsewhere refused", true, kit_flow("10.0.0.10", "10.0.2.7", PROTO_TCP, 1433), false,
	     NACL_RULE_STAR_V4},
	    {"reply to a client", true, kit_flow("10.0.0.10", "198.51.100.7", PROTO_TCP, 50000), true,
	     140},
	    {"reply6 to a client", true,
	     kit_flow("2001:db8:1234:1a00::10", "2001:db8:ffff::1", PROTO_TCP, 60999), true, 145},
	    {"windows client port 49152", true, kit_flow("10.0.0.10", "198.51.100.7", PROTO_TCP, 49152),
	     true, 140},
	    {"nat gateway port 1024 refused", true,
	     kit_flow("10.0.0.10", "198.51.100.7", PROTO_TCP, 1024), false, NACL_RULE_STAR_V4},
	};
	run_cases(&lab->nacls[a], cases, sizeof(cases) / sizeof(cases[0]));

	/* the reply ranges of §2: Linux clients pass, NAT/ELB clients don't */
	struct flow reply = kit_flow("10.0.0.10", "198.51.100.7", PROTO_TCP, 0);
	reply.sport = 80;
	struct nacl_decision d;
	uint16_t port = 0;
	assert_true(nacl_evaluate_ports(&lab->nacls[a], true, &reply, 32768, 60999, &port, &d));
	assert_int_equal(d.rule_number, 140);
	assert_true(nacl_evaluate_ports(&lab->nacls[a], true, &reply, 49152, 65535, &port, &d));
	assert_false(nacl_evaluate_ports(&lab->nacls[a], true, &reply, 1024, 65535, &port, &d));
	assert_int_equal(port, 1024);
	assert_int_equal(d.rule_number, NACL_RULE_STAR_V4);
	kit_free(lab);
}

/* §8: "100 allow tcp/22 then 200 deny tcp/22 allows SSH", and reversed. */
static void test_first_match_by_number(void **state)
{
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", NULL);
	int32_t allow_first = kit_nacl(lab, "acl-1", vpc, false);
	int32_t deny_first = kit_nacl(lab, "acl-2", vpc, false);
	/* added out of order: the number decides, not the insertion order */
	kit_nacl_rule(lab, allow_first, false, 200, false, PROTO_TCP, "0.0.0.0/0", 22, 22);
	kit_nacl_rule(lab, allow_first, false, 100, true, PROTO_TCP, "0.0.0.0/0", 22, 22);
	kit_nacl_rule(lab, deny_first, false, 200, true, PROTO_TCP, "0.0.0.0/0", 22, 22);
	kit_nacl_rule(lab, deny_first, false, 100, false, PROTO_TCP, "0.0.0.0/0", 22, 22);
	/* a deny that comes first also ends evaluation for everything else */
	kit_nacl_rule(lab, deny_first, false, 300, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
	struct flow ssh = kit_flow("192.0.2.1", "10.0.1.5", PROTO_TCP, 22);
	struct flow http = kit_flow("192.0.2.1", "10.0.1.5", PROTO_TCP, 80);
	const struct nacl_case c1[] = {
	    {"allow 100 wins", false, ssh, true, 100},
	    {"other port falls to *", false, http, false, NACL_RULE_STAR_V4},
	};
	run_cases(&lab->nacls[allow_first], c1, 2);
	const struct nacl_case c2[] = {
	    {"deny 100 wins", false, ssh, false, 100},
	    {"other port reaches 300", false, http, true, 300},
	};
	run_cases(&lab->nacls[deny_first], c2, 2);
	kit_free(lab);
}

/* The CIDR is the source on ingress and the destination on egress. */
static void test_cidr_side(void **state)
{
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", NULL);
	int32_t a = kit_nacl(lab, "acl-1", vpc, false);
	kit_nacl_rule(lab, a, false, 100, true, PROTO_ALL, "10.0.2.0/24", 0, 0);
	kit_nacl_rule(lab, a, true, 100, true, PROTO_ALL, "10.0.3.0/24", 0, 0);
	const struct nacl_case cases[] = {
	    {"ingress from 10.0.2.x", false, kit_flow("10.0.2.9", "10.0.1.5", PROTO_TCP, 1), true, 100},
	    {"ingress to 10.0.2.x is not a match", false, kit_flow("10.0.3.9", "10.0.2.5", PROTO_TCP, 1),
	     false, NACL_RULE_STAR_V4},
	    {"egress to 10.0.3.x", true, kit_flow("10.0.1.5", "10.0.3.9", PROTO_UDP, 9), true, 100},
	    {"egress from 10.0.3.x is not a match", true, kit_flow("10.0.3.9", "10.0.2.5", PROTO_UDP, 9),
	     false, NACL_RULE_STAR_V4},
	};
	run_cases(&lab->nacls[a], cases, sizeof(cases) / sizeof(cases[0]));
	kit_free(lab);
}

/* §8: IPv6 rules work, and never match IPv4 (nor IPv4 rules IPv6). */
static void test_families_never_cross(void **state)
{
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8::/56");
	int32_t v4 = kit_nacl(lab, "acl-v4", vpc, false);
	int32_t v6 = kit_nacl(lab, "acl-v6", vpc, false);
	kit_nacl_rule(lab, v4, false, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
	kit_nacl_rule(lab, v6, false, 100, true, PROTO_ALL, "::/0", 0, 0);
	/* ::ffff:0:0/96 holds IPv4-mapped addresses: still not an IPv4 rule */
	kit_nacl_rule(lab, v6, false, 90, false, PROTO_ALL, "::ffff:0:0/96", 0, 0);
	struct flow p4 = kit_flow("192.0.2.1", "10.0.1.5", PROTO_TCP, 80);
	struct flow p6 = kit_flow("2001:db8:ff::1", "2001:db8::5", PROTO_TCP, 80);
	struct flow mapped = kit_flow("::ffff:192.0.2.1", "2001:db8::5", PROTO_TCP, 80);
	const struct nacl_case c4[] = {
	    {"v4 by v4", false, p4, true, 100},
	    {"v6 not by v4", false, p6, false, NACL_RULE_STAR_V6},
	};
	run_cases(&lab->nacls[v4], c4, 2);
	const struct nacl_case c6[] = {
	    {"v6 by v6", false, p6, true, 100},
	    {"v4 not by v6", false, p4, false, NACL_RULE_STAR_V4},
	    {"mapped is v6", false, mapped, false, 90},
	};
	run_cases(&lab->nacls[v6], c6, 3);
	kit_free(lab);
}

/* Protocol -1 ignores ports; ICMP type/code with -1 = any; ports only for
 * TCP/UDP; ICMP and ICMPv6 are different protocols. */
static void test_protocols_and_icmp(void **state)
{
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8::/56");
	int32_t a = kit_nacl(lab, "acl-1", vpc, false);
	kit_nacl_icmp(lab, a, false, 100, true, PROTO_ICMP, "0.0.0.0/0", 8, -1);
	kit_nacl_icmp(lab, a, false, 110, true, PROTO_ICMP, "0.0.0.0/0", 3, 4);
	kit_nacl_icmp(lab, a, false, 120, true, PROTO_ICMPV6, "::/0", -1, -1);
	kit_nacl_rule(lab, a, false, 130, true, PROTO_UDP, "0.0.0.0/0", 53, 53);
	kit_nacl_rule(lab, a, false, 140, true, 47, "0.0.0.0/0", 0, 0);
	const struct nacl_case cases[] = {
	    {"echo any code", false, kit_icmp("192.0.2.1", "10.0.0.5", PROTO_ICMP, 8, 0), true, 100},
	    {"echo code 5", false, kit_icmp("192.0.2.1", "10.0.0.5", PROTO_ICMP, 8, 5), true, 100},
	    {"echo reply refused", false, kit_icmp("192.0.2.1", "10.0.0.5", PROTO_ICMP, 0, 0), false,
	     NACL_RULE_STAR_V4},
	    {"frag needed", false, kit_icmp("192.0.2.1", "10.0.0.5", PROTO_ICMP, 3, 4), true, 110},
	    {"port unreachable refused", false, kit_icmp("192.0.2.1", "10.0.0.5", PROTO_ICMP, 3, 3),
	     false, NACL_RULE_STAR_V4},
	    {"icmpv6 any", false, kit_icmp("2001:db8:ff::1", "2001:db8::5", PROTO_ICMPV6, 2, 0), true,
	     120},
	    {"udp 53", false, kit_flow("192.0.2.1", "10.0.0.5", PROTO_UDP, 53), true, 130},
	    {"tcp 53 is not udp", false, kit_flow("192.0.2.1", "10.0.0.5", PROTO_TCP, 53), false,
	     NACL_RULE_STAR_V4},
	    {"gre by number", false, kit_flow("192.0.2.1", "10.0.0.5", 47, 0), true, 140},
	    {"esp refused", false, kit_flow("192.0.2.1", "10.0.0.5", 50, 0), false, NACL_RULE_STAR_V4},
	};
	run_cases(&lab->nacls[a], cases, sizeof(cases) / sizeof(cases[0]));
	kit_free(lab);
}

/* The ephemeral range is checked with ranges and names the first refused
 * port and the rule refusing it. */
static void test_port_range_first_refused(void **state)
{
	struct lab *lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", NULL);
	int32_t a = kit_nacl(lab, "acl-1", vpc, false);
	kit_nacl_rule(lab, a, true, 90, false, PROTO_TCP, "10.0.0.0/8", 40000, 40100);
	kit_nacl_rule(lab, a, true, 100, true, PROTO_TCP, "0.0.0.0/0", 1024, 65535);
	struct flow r = kit_flow("10.0.1.5", "10.0.2.9", PROTO_TCP, 0);
	struct nacl_decision d;
	uint16_t port;
	assert_false(nacl_evaluate_ports(&lab->nacls[a], true, &r, 32768, 60999, &port, &d));
	assert_int_equal(port, 40000);
	assert_int_equal(d.rule_number, 90);
	/* the deny only covers 10/8: a client elsewhere passes the whole range */
	r.dst = kit_addr("198.51.100.7");
	assert_true(nacl_evaluate_ports(&lab->nacls[a], true, &r, 32768, 60999, &port, &d));
	assert_int_equal(d.rule_number, 100);
	assert_false(nacl_evaluate_ports(&lab->nacls[a], true, &r, 1000, 2000, &port, &d));
	assert_int_equal(port, 1000);
	assert_int_equal(d.rule_number, NACL_RULE_STAR_V4);
	/* a single port is a range of one */
	assert_true(nacl_evaluate_ports(&lab->nacls[a], true, &r, 65535, 65535, &port, &d));
	kit_free(lab);
}

static void test_decision_format(void **state)
{
	struct lab *lab = kit_new();
	int32_t a = guide_nacl(lab);
	struct nacl_decision d;
	char buf[160];
	struct flow f = kit_flow("192.0.2.33", "10.0.0.10", PROTO_TCP, 22);
	nacl_evaluate(&lab->nacls[a], false, &f, &d);
	assert_string_equal(nacl_decision_format(&d, false, buf, sizeof(buf)),
			    "rule 120: allow tcp 22 from 192.0.2.0/24");
	f = kit_flow("192.0.2.33", "10.0.0.10", PROTO_UDP, 22);
	nacl_evaluate(&lab->nacls[a], false, &f, &d);
	assert_string_equal(nacl_decision_format(&d, false, buf, sizeof(buf)),
			    "rule * (32767): deny all traffic from 0.0.0.0/0");
	f = kit_flow("10.0.0.10", "198.51.100.7", PROTO_TCP, 40000);
	nacl_evaluate(&lab->nacls[a], true, &f, &d);
	assert_string_equal(nacl_decision_format(&d, true, buf, sizeof(buf)),
			    "rule 140: allow tcp 32768-65535 to 0.0.0.0/0");
	kit_free(lab);
}

/* ---- differential test against a naive reference ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	return ref_rnd(&rng_state, n);
}

static const char *const v4_pool[] = {"0.0.0.0/0",   "10.0.0.0/8",   "10.0.0.0/16",  "10.0.1.0/24",
				      "10.0.1.7/32", "192.0.2.0/24", "10.0.128.0/17"};
static const char *const v6_pool[] = {"::/0", "2001:db8::/32", "2001:db8::/64", "2001:db8::7/128",
				      "2001:db8:8000::/33"};
static const char *const v4_hosts[] = {"10.0.1.7", "10.0.1.8",	 "10.0.200.1",
				       "10.9.9.9", "192.0.2.77", "198.51.100.1"};
static const char *const v6_hosts[] = {"2001:db8::7", "2001:db8::8", "2001:db8:9000::1",
				       "2001:db9::1"};
static const int protos[] = {PROTO_ALL, PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, 47};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static unsigned rnd_port(void)
{
	/* mostly near interesting boundaries so ranges overlap */
	static const unsigned marks[] = {0, 22, 80, 1023, 1024, 32767, 32768, 40000, 60999, 65535};
	unsigned base = marks[rnd(N(marks))];
	int delta = (int)rnd(201) - 100;
	int p = (int)base + delta;
	return p < 0 ? 0 : p > 65535 ? 65535 : (unsigned)p;
}

static void random_nacl(struct lab *lab, int32_t a)
{
	for (int eg = 0; eg < 2; eg++) {
		unsigned n = rnd(12);
		for (unsigned i = 0; i < n; i++) {
			uint32_t number = 1 + rnd(400);
			struct nacl *acl = &lab->nacls[a];
			const struct nacl_entry *list = eg ? acl->egress : acl->ingress;
			size_t cnt = eg ? acl->n_egress : acl->n_ingress;
			bool dup = false;
			for (size_t k = 0; k < cnt; k++)
				dup |= list[k].rule_number == number;
			if (dup)
				continue;
			bool v6 = rnd(3) == 0;
			const char *cidr = v6 ? v6_pool[rnd(N(v6_pool))] : v4_pool[rnd(N(v4_pool))];
			int proto = protos[rnd(N(protos))];
			if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
				int type = rnd(3) ? (int)rnd(4) * 4 - 1 : -1;
				int code = rnd(2) ? (int)rnd(3) - 1 : -1;
				kit_nacl_icmp(lab, a, eg, number, rnd(2), proto, cidr,
					      type < -1 ? -1 : type, code);
			} else {
				unsigned from = rnd_port(), to = rnd_port();
				if (from > to) {
					unsigned t = from;
					from = to;
					to = t;
				}
				kit_nacl_rule(lab, a, eg, number, rnd(2), proto, cidr, from, to);
			}
		}
	}
}

static struct flow random_packet(void)
{
	bool v6 = rnd(3) == 0;
	const char *s = v6 ? v6_hosts[rnd(N(v6_hosts))] : v4_hosts[rnd(N(v4_hosts))];
	const char *d = v6 ? v6_hosts[rnd(N(v6_hosts))] : v4_hosts[rnd(N(v4_hosts))];
	static const int pp[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, 47, 50};
	int proto = pp[rnd(N(pp))];
	struct flow f = kit_flow(s, d, proto, rnd_port());
	if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		f.icmp_type = (uint8_t)(rnd(4) * 4);
		f.icmp_code = (uint8_t)rnd(2);
	}
	return f;
}

static void test_differential(void **state)
{
	rng_state = 0x5eed1234abcdull;
	unsigned packets = 0, ranges = 0, denies = 0;
	for (int set = 0; set < 2000; set++) {
		struct lab *lab = kit_new();
		int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", "2001:db8::/56");
		int32_t a = kit_nacl(lab, "acl-rnd", vpc, false);
		random_nacl(lab, a);
		const struct nacl *acl = &lab->nacls[a];
		for (int k = 0; k < 20; k++) {
			struct flow f = random_packet();
			bool egress = rnd(2);
			struct nacl_decision d;
			uint32_t want_rule;
			bool want = ref_nacl(acl, egress, &f, &want_rule);
			bool got = nacl_evaluate(acl, egress, &f, &d);
			if (got != want || d.rule_number != want_rule)
				fail_msg("set %d packet %d: engine %d/%u, reference %d/%u", set, k,
					 got, d.rule_number, want, want_rule);
			packets++;
			denies += !want;
		}
		/* the range evaluation against a port-by-port loop */
		for (int k = 0; k < 2; k++) {
			struct flow f = random_packet();
			f.proto = rnd(2) ? PROTO_TCP : PROTO_UDP;
			bool egress = rnd(2);
			unsigned lo = rnd_port(), hi = rnd_port();
			if (lo > hi) {
				unsigned t = lo;
				lo = hi;
				hi = t;
			}
			if (set % 100 == 0) {
				lo = 32768;
				hi = 60999;
			}
			bool want = true;
			uint32_t want_rule = 0;
			unsigned want_port = lo;
			for (unsigned p = lo; p <= hi; p++) {
				f.dport = (uint16_t)p;
				if (!ref_nacl(acl, egress, &f, &want_rule)) {
					want = false;
					want_port = p;
					break;
				}
			}
			struct nacl_decision d;
			uint16_t port;
			bool got = nacl_evaluate_ports(acl, egress, &f, (uint16_t)lo, (uint16_t)hi,
						       &port, &d);
			assert_int_equal(got, want);
			if (!want) {
				assert_int_equal(port, want_port);
				assert_int_equal(d.rule_number, want_rule);
			}
			ranges++;
		}
		kit_free(lab);
	}
	assert_true(packets == 40000 && ranges == 4000);
	/* the generator must exercise both outcomes, or the test proves little */
	assert_true(denies > packets / 10 && denies < packets - packets / 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_nacl),
	    cmocka_unit_test(test_new_custom_nacl_denies),
	    cmocka_unit_test(test_user_guide_custom_nacl),
	    cmocka_unit_test(test_first_match_by_number),
	    cmocka_unit_test(test_cidr_side),
	    cmocka_unit_test(test_families_never_cross),
	    cmocka_unit_test(test_protocols_and_icmp),
	    cmocka_unit_test(test_port_range_first_refused),
	    cmocka_unit_test(test_decision_format),
	    cmocka_unit_test(test_differential),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
