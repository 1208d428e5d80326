/*
 * rules/lint: each check with a lab that has the problem and one that does
 * not. The expected findings come from AWS's documented behaviour
 * (AWS-SEMANTICS §2: NACL entries in number order, first match decides,
 * stateless, IPv4 entries never match IPv6; §3: SG rules are an allow-only
 * union over the ENI's groups, a group reference matches the ENIs carrying
 * that group), worked out by hand for each lab, never by asking the engine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lint.h"
#include "load.h"

/* Subnet "a" (10.0.1.0/24, with 2001:db8:1:1::/64 when v6) uses NACL "n";
 * subnet "b" (10.0.2.0/24) the default NACL (allow all). ENI "a1" lives in
 * a (dual-stack when v6), "b1" in b. */
static struct lab *lab_of(const char *nacl_n, const char *groups, const char *a1_groups,
			  const char *b1_groups, bool v6)
{
	char *json = NULL;
	int n = asprintf(
	    &json,
	    "{\"lab\": \"t\", \"vpcs\": [{\"name\": \"v\", \"cidr\": \"10.0.0.0/16\"%s,"
	    " \"route_tables\": [{\"name\": \"pub\", \"routes\": [{\"dest\": \"0.0.0.0/0\","
	    " \"target\": \"igw\"}]}],"
	    " \"subnets\": ["
	    "  {\"name\": \"a\", \"cidr\": \"10.0.1.0/24\"%s, \"nacl\": \"n\", \"route_table\": "
	    "\"pub\"},"
	    "  {\"name\": \"b\", \"cidr\": \"10.0.2.0/24\", \"route_table\": \"pub\"}],"
	    " \"nacls\": [{\"name\": \"n\", %s}],"
	    " \"security_groups\": [%s],"
	    " \"enis\": [{\"name\": \"a1\", \"subnet\": \"a\", \"ip\": \"10.0.1.10\"%s, "
	    "\"groups\": [%s]},"
	    "  {\"name\": \"b1\", \"subnet\": \"b\", \"ip\": \"10.0.2.10\", \"groups\": [%s]}]}]}",
	    v6 ? ", \"ipv6\": \"2001:db8:1::/56\"" : "",
	    v6 ? ", \"ipv6\": \"2001:db8:1:1::/64\"" : "", nacl_n, groups,
	    v6 ? ", \"ipv6\": \"2001:db8:1:1::10\"" : "", a1_groups, b1_groups);
	assert_true(n > 0);
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;
	lab_load_opts_init(&o);
	diag_init(&d);
	int r = lab_load_buffer("t.json", json, strlen(json), &o, &lab, &d);
	for (size_t i = 0; r < 0 && i < d.n; i++) {
		char buf[512];
		fprintf(stderr, "%s\n", diag_format(&d.items[i], buf, sizeof(buf)));
	}
	assert_int_equal(r, 0);
	diag_free(&d);
	free(json);
	return lab;
}

/* A NACL letting everything through both ways, both families. */
#define OPEN_NACL                                                                                  \
	"\"ingress\": [{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": "      \
	"\"0.0.0.0/0\"}, {\"rule\": 101, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": "    \
	"\"::/0\"}], \"egress\": [{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", "     \
	"\"cidr\": \"0.0.0.0/0\"}, {\"rule\": 101, \"action\": \"allow\", \"proto\": \"all\", "    \
	"\"cidr\": \"::/0\"}]"

#define SG_OPEN_OUT "\"egress\": [{\"proto\": \"all\", \"to\": [\"0.0.0.0/0\", \"::/0\"]}]"
#define SG_PLAIN                                                                                   \
	"{\"name\": \"g\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"443\", "                \
	"\"from\": \"10.0.0.0/16\"}], " SG_OPEN_OUT "}"

struct run {
	struct lab *lab;
	struct lint_report rep;
};

static void lint(struct run *r, struct lab *lab)
{
	r->lab = lab;
	assert_int_equal(lint_run(lab, &r->rep), 0);
}

static void done(struct run *r)
{
	lint_report_free(&r->rep);
	lab_free(r->lab);
}

static size_t count(const struct run *r, const char *id)
{
	size_t n = 0;
	for (size_t i = 0; i < r->rep.n; i++)
		n += !strcmp(r->rep.items[i].id, id);
	return n;
}

/* The k-th finding (from 0) of a check, in report order. */
static const struct lint_finding *nth(const struct run *r, const char *id, size_t k)
{
	for (size_t i = 0; i < r->rep.n; i++)
		if (!strcmp(r->rep.items[i].id, id) && k-- == 0)
			return &r->rep.items[i];
	fail_msg("no such %s finding", id);
	return NULL;
}

static const struct lint_finding *first(const struct run *r, const char *id)
{
	return nth(r, id, 0);
}

/* The NACL entry a finding names first: its rule number and direction. */
static void assert_nacl_rule(const struct run *r, const struct rule_ref *ref, uint32_t number,
			     bool egress)
{
	assert_int_equal(ref->kind, RULE_NACL);
	assert_int_equal(ref->egress, egress);
	assert_int_equal(rule_ref_nacl(r->lab, ref)->rule_number, number);
}

/* ---- nacl-shadowed ---- */

static void shadowed_by_one_and_by_two(void **state)
{
	struct run r;
	/* 110 matches a subset of 100's packets with the same action: 100
	 * decides all of them first (§2). 130's ports 900-1100 are split
	 * between 100 (1-1000) and 120 (1001-2000), both covering its CIDR. */
	lint(&r, lab_of("\"ingress\": ["
			"{\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"1-1000\", \"cidr\": \"10.0.0.0/8\"},"
			"{\"rule\": 110, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"443\", \"cidr\": \"10.1.0.0/16\"},"
			"{\"rule\": 120, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"1001-2000\", \"cidr\": \"10.0.0.0/8\"},"
			"{\"rule\": 130, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"900-1100\", \"cidr\": \"10.2.0.0/16\"}],"
			"\"egress\": [{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", "
			"\"cidr\": \"0.0.0.0/0\"}]",
			SG_PLAIN, "\"g\"", "\"g\"", false));
	assert_int_equal(count(&r, "nacl-shadowed"), 2);
	assert_int_equal(count(&r, "nacl-contradicted"), 0);
	const struct lint_finding *f = first(&r, "nacl-shadowed");
	assert_int_equal(f->severity, LINT_WARNING);
	assert_true(f->n_rules >= 2);
	assert_nacl_rule(&r, &f->rules[0], 110, false);
	assert_nacl_rule(&r, &f->rules[1], 100, false);
	assert_nacl_rule(&r, &nth(&r, "nacl-shadowed", 1)->rules[0], 130, false);
	done(&r);
}

static void shadowed_by_two_halves(void **state)
{
	struct run r;
	/* 100 and 110 each cover half of 120's CIDR: together all of it, so
	 * every packet 120 matches was decided before (§2). 130 (all
	 * protocols) is shadowed by 120 for TCP only: UDP still meets it. */
	lint(&r, lab_of("\"ingress\": ["
			"{\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"443\", \"cidr\": \"10.5.0.0/25\"},"
			"{\"rule\": 110, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"443\", \"cidr\": \"10.5.0.128/25\"},"
			"{\"rule\": 120, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": \"443\", \"cidr\": \"10.5.0.0/24\"},"
			"{\"rule\": 130, \"action\": \"deny\", \"proto\": \"all\", \"cidr\": \"10.5.0.0/24\"},"
			"{\"rule\": 140, \"action\": \"deny\", \"proto\": \"tcp\", \"ports\": \"1-100\", \"cidr\": \"10.5.0.0/24\"}],"
			"\"egress\": [{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": \"0.0.0.0/0\"}]",
			SG_PLAIN, "\"g\"", "\"g\"", false));
	/* 120 by 100 and 110; 140 by 130 (a deny after a deny: shadowed) */
	assert_int_equal(count(&r, "nacl-shadowed"), 2);
	assert_int_equal(count(&r, "nacl-contradicted"), 0);
	const struct lint_finding *f = first(&r, "nacl-shadowed");
	assert_nacl_rule(&r, &f->rules[0], 120, false);
	assert_int_equal(f->n_rules, 3);
	assert_nacl_rule(&r, &nth(&r, "nacl-shadowed", 1)->rules[0], 140, false);
	done(&r);
}

static void not_shadowed_when_later_entry_is_wider(void **state)
{
	struct run r;
	/* 110 covers more addresses than 100 and 120 is UDP, which no TCP
	 * entry matches: each decides packets nobody before it does. */
	lint(&r, lab_of("\"ingress\": ["
			"{\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"443\", \"cidr\": \"10.1.0.0/16\"},"
			"{\"rule\": 110, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"443\", \"cidr\": \"10.0.0.0/8\"},"
			"{\"rule\": 120, \"action\": \"allow\", \"proto\": \"udp\", \"ports\": "
			"\"443\", \"cidr\": \"10.1.0.0/16\"},"
			"{\"rule\": 130, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"443\", \"cidr\": \"::/0\"}],"
			"\"egress\": [{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", "
			"\"cidr\": \"0.0.0.0/0\"}]",
			SG_PLAIN, "\"g\"", "\"g\"", false));
	assert_int_equal(count(&r, "nacl-shadowed"), 0);
	assert_int_equal(count(&r, "nacl-contradicted"), 0);
	done(&r);
}

/* ---- nacl-contradicted ---- */

static void allow_after_covering_deny(void **state)
{
	struct run r;
	/* §8: "100 deny tcp/22 from anywhere, then 200 allow tcp/22 from the
	 * office" never lets the office in: 100 decides first. */
	lint(&r, lab_of("\"ingress\": ["
			"{\"rule\": 100, \"action\": \"deny\", \"proto\": \"tcp\", \"ports\": "
			"\"22\", \"cidr\": \"0.0.0.0/0\"},"
			"{\"rule\": 200, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"22\", \"cidr\": \"198.51.100.0/24\"}],"
			"\"egress\": [{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", "
			"\"cidr\": \"0.0.0.0/0\"}]",
			SG_PLAIN, "\"g\"", "\"g\"", false));
	assert_int_equal(count(&r, "nacl-contradicted"), 1);
	const struct lint_finding *f = first(&r, "nacl-contradicted");
	assert_int_equal(f->severity, LINT_ERROR);
	assert_nacl_rule(&r, &f->rules[0], 200, false);
	assert_nacl_rule(&r, &f->rules[1], 100, false);
	done(&r);
}

static void narrow_deny_before_wide_allow(void **state)
{
	struct run r;
	/* the usual pattern: block one network, then allow the rest */
	lint(&r, lab_of("\"ingress\": ["
			"{\"rule\": 100, \"action\": \"deny\", \"proto\": \"tcp\", \"ports\": "
			"\"22\", \"cidr\": \"198.51.100.0/24\"},"
			"{\"rule\": 200, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"22\", \"cidr\": \"0.0.0.0/0\"}],"
			"\"egress\": [{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", "
			"\"cidr\": \"0.0.0.0/0\"}]",
			SG_PLAIN, "\"g\"", "\"g\"", false));
	assert_int_equal(count(&r, "nacl-contradicted"), 0);
	assert_int_equal(count(&r, "nacl-shadowed"), 0);
	done(&r);
}

/* ---- sg-redundant ---- */

static void redundant_in_group_and_across_groups(void **state)
{
	struct run r;
	/* g: 10.0.1.0/24 is inside 10.0.0.0/16 on the same port: union (§3)
	 * adds nothing. h is only on a1, which also carries w: w's tcp 80
	 * from anywhere already allows h's tcp 80 from 10.0.0.0/8. Two
	 * identical rules: one (the later) is reported. */
	lint(
	    &r,
	    lab_of(
		OPEN_NACL,
		"{\"name\": \"g\", \"ingress\": ["
		" {\"proto\": \"tcp\", \"ports\": \"443\", \"from\": \"10.0.0.0/16\"},"
		" {\"proto\": \"tcp\", \"ports\": \"443\", \"from\": \"10.0.1.0/24\"},"
		" {\"proto\": \"udp\", \"ports\": \"53\", \"from\": \"10.0.0.0/16\"},"
		" {\"proto\": \"udp\", \"ports\": \"53\", \"from\": \"10.0.0.0/16\"}], " SG_OPEN_OUT
		"},"
		"{\"name\": \"w\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"80\", \"from\": "
		"\"0.0.0.0/0\"}], \"egress\": []},"
		"{\"name\": \"h\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"80\", \"from\": "
		"\"10.0.0.0/8\"}], \"egress\": []}",
		"\"g\", \"w\", \"h\"", "\"g\"", false));
	assert_int_equal(count(&r, "sg-redundant"), 3);
	const struct lint_finding *f = first(&r, "sg-redundant");
	assert_int_equal(f->rules[0].kind, RULE_SG);
	assert_int_equal(f->rules[0].index, 1); /* g's 10.0.1.0/24 rule */
	assert_int_equal(f->rules[1].index, 0);
	assert_int_equal(nth(&r, "sg-redundant", 1)->rules[0].index, 3); /* the later duplicate */
	assert_string_equal(r.lab->groups[nth(&r, "sg-redundant", 2)->rules[0].owner].name, "h");
	assert_string_equal(r.lab->groups[nth(&r, "sg-redundant", 2)->rules[1].owner].name, "w");
	done(&r);
}

static void not_redundant_when_another_eni_needs_it(void **state)
{
	struct run r;
	/* b1 carries h without w: there h's rule is the only one allowing tcp
	 * 80. d1 and d2 both have AWS's default outbound rule (all traffic to
	 * 0.0.0.0/0), which every group gets: not worth a finding, and neither
	 * is s's tcp 443 out, which d1's default rule covers. */
	lint(&r,
	     lab_of(
		 OPEN_NACL,
		 "{\"name\": \"g\", \"ingress\": ["
		 " {\"proto\": \"tcp\", \"ports\": \"443\", \"from\": \"10.0.0.0/16\"},"
		 " {\"proto\": \"tcp\", \"ports\": \"8443\", \"from\": "
		 "\"10.0.0.0/16\"}], " SG_OPEN_OUT "},"
		 "{\"name\": \"w\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"80\", "
		 "\"from\": \"0.0.0.0/0\"}], \"egress\": []},"
		 "{\"name\": \"h\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"80\", "
		 "\"from\": \"10.0.0.0/8\"}], \"egress\": []},"
		 "{\"name\": \"d1\", \"ingress\": []}, {\"name\": \"d2\", \"ingress\": []},"
		 "{\"name\": \"s\", \"ingress\": [], \"egress\": [{\"proto\": \"tcp\", \"ports\": "
		 "\"443\", \"to\": \"0.0.0.0/0\"}]}",
		 "\"g\", \"w\", \"h\", \"d1\", \"d2\", \"s\"",
		 "\"g\", \"h\", \"d1\", \"d2\", \"s\"", false));
	assert_int_equal(count(&r, "sg-redundant"), 0);
	done(&r);
}

/* ---- open-admin-port ---- */

static void admin_ports_open_to_world(void **state)
{
	struct run r;
	lint(&r, lab_of(OPEN_NACL,
			"{\"name\": \"g\", \"ingress\": ["
			" {\"proto\": \"tcp\", \"ports\": \"22\", \"from\": \"0.0.0.0/0\"},"
			" {\"proto\": \"tcp\", \"ports\": \"5000-6000\", \"from\": \"::/0\"},"
			" {\"proto\": \"all\", \"from\": \"0.0.0.0/0\"}], " SG_OPEN_OUT "}",
			"\"g\"", "\"g\"", false));
	assert_int_equal(count(&r, "open-admin-port"), 3);
	const struct lint_finding *f = first(&r, "open-admin-port");
	assert_int_equal(f->severity, LINT_ERROR);
	assert_non_null(strstr(f->message, "22 (SSH)"));
	assert_non_null(strstr(nth(&r, "open-admin-port", 1)->message, "5432 (PostgreSQL)"));
	done(&r);
}

static void admin_port_via_prefix_list(void **state)
{
	/* a managed prefix list holding 0.0.0.0/0 is everyone as much as the
	 * CIDR is (§3: a prefix list peer matches any of its CIDRs); one
	 * holding a corporate range is not */
	static const char json[] =
	    "{\"prefix_lists\": [{\"name\": \"any\", \"cidrs\": [\"0.0.0.0/0\"]},"
	    " {\"name\": \"corp\", \"cidrs\": [\"198.51.100.0/24\"]}],"
	    " \"vpcs\": [{\"name\": \"v\", \"cidr\": \"10.0.0.0/16\","
	    " \"subnets\": [{\"name\": \"a\", \"cidr\": \"10.0.1.0/24\"}],"
	    " \"security_groups\": [{\"name\": \"g\", \"ingress\": ["
	    "  {\"proto\": \"tcp\", \"ports\": \"3306\", \"from\": \"pl:any\"},"
	    "  {\"proto\": \"tcp\", \"ports\": \"22\", \"from\": \"pl:corp\"}]}],"
	    " \"enis\": [{\"name\": \"a1\", \"subnet\": \"a\", \"ip\": \"10.0.1.10\", \"groups\": "
	    "[\"g\"]}]}]}";
	struct lab_load_opts o;
	struct diag_list d;
	struct run r;
	struct lab *lab = NULL;
	lab_load_opts_init(&o);
	diag_init(&d);
	assert_int_equal(lab_load_buffer("pl.json", json, strlen(json), &o, &lab, &d), 0);
	diag_free(&d);
	lint(&r, lab);
	assert_int_equal(count(&r, "open-admin-port"), 1);
	assert_non_null(strstr(first(&r, "open-admin-port")->message, "3306 (MySQL)"));
	done(&r);
}

static void admin_ports_closed_or_narrow(void **state)
{
	struct run r;
	lint(
	    &r,
	    lab_of(OPEN_NACL,
		   "{\"name\": \"g\", \"ingress\": ["
		   " {\"proto\": \"tcp\", \"ports\": \"22\", \"from\": \"198.51.100.0/24\"},"
		   " {\"proto\": \"tcp\", \"ports\": \"443\", \"from\": \"0.0.0.0/0\"},"
		   " {\"proto\": \"udp\", \"ports\": \"5432\", \"from\": \"0.0.0.0/0\"}],"
		   " \"egress\": [{\"proto\": \"tcp\", \"ports\": \"22\", \"to\": \"0.0.0.0/0\"}]}",
		   "\"g\"", "\"g\"", false));
	assert_int_equal(count(&r, "open-admin-port"), 0);
	done(&r);
}

/* ---- nacl-no-return ---- */

static void requests_without_return_path(void **state)
{
	struct run r;
	/* stateless (§2): HTTPS in from anywhere needs egress to the clients'
	 * ephemeral ports; egress has only tcp 80 out, and the v6 return is
	 * missing too. Egress 443 out (the subnet as client) needs ingress
	 * ephemeral from 0.0.0.0/0: only 10.0.0.0/16 is allowed back. 95
	 * admits hosts of subnet a itself, the only subnet n serves: that
	 * traffic never meets a NACL (§1), so no return is needed. */
	lint(&r, lab_of("\"ingress\": ["
			"{\"rule\": 95, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"5432\", \"cidr\": \"10.0.1.0/25\"},"
			"{\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"443\", \"cidr\": \"0.0.0.0/0\"},"
			"{\"rule\": 110, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"443\", \"cidr\": \"::/0\"},"
			"{\"rule\": 120, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"1024-65535\", \"cidr\": \"10.0.0.0/16\"}],"
			"\"egress\": ["
			"{\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"80\", \"cidr\": \"10.0.0.0/16\"},"
			"{\"rule\": 110, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"443\", \"cidr\": \"0.0.0.0/0\"}]",
			SG_PLAIN, "\"g\"", "\"g\"", true));
	assert_int_equal(count(&r, "nacl-no-return"), 3);
	const struct lint_finding *f = first(&r, "nacl-no-return");
	assert_int_equal(f->severity, LINT_ERROR);
	assert_nacl_rule(&r, &f->rules[0], 100, false);
	assert_nacl_rule(&r, &nth(&r, "nacl-no-return", 1)->rules[0], 110, false);
	bool egress80 = false, egress443 = false;
	for (size_t i = 0; i < r.rep.n; i++) {
		const struct lint_finding *x = &r.rep.items[i];
		if (strcmp(x->id, "nacl-no-return") || !x->rules[0].egress)
			continue;
		uint32_t n = rule_ref_nacl(r.lab, &x->rules[0])->rule_number;
		egress80 |= n == 100;
		egress443 |= n == 110;
	}
	/* egress 80 to 10.0.0.0/16: replies from there pass ingress 120 */
	assert_false(egress80);
	assert_true(egress443);
	done(&r);
}

static void return_paths_present(void **state)
{
	struct run r;
	/* 140 is a return allowance (Windows clients' ports), not a service;
	 * 90 talks to the Amazon DNS server (base+2), which no NACL filters
	 * (§1): neither needs a return path. */
	lint(&r, lab_of("\"ingress\": ["
			"{\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"443\", \"cidr\": \"0.0.0.0/0\"},"
			"{\"rule\": 110, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"443\", \"cidr\": \"::/0\"},"
			"{\"rule\": 120, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"1024-65535\", \"cidr\": \"0.0.0.0/0\"},"
			"{\"rule\": 130, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"1024-65535\", \"cidr\": \"::/0\"},"
			"{\"rule\": 140, \"action\": \"allow\", \"proto\": \"udp\", \"ports\": "
			"\"49152-65535\", \"cidr\": \"0.0.0.0/0\"},"
			"{\"rule\": 141, \"action\": \"allow\", \"proto\": \"udp\", \"ports\": "
			"\"49152-65535\", \"cidr\": \"::/0\"}],"
			"\"egress\": ["
			"{\"rule\": 90, \"action\": \"allow\", \"proto\": \"udp\", \"ports\": "
			"\"53\", \"cidr\": \"10.0.0.2/32\"},"
			"{\"rule\": 100, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"443\", \"cidr\": \"0.0.0.0/0\"},"
			"{\"rule\": 110, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"443\", \"cidr\": \"::/0\"},"
			"{\"rule\": 120, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"1024-65535\", \"cidr\": \"0.0.0.0/0\"},"
			"{\"rule\": 130, \"action\": \"allow\", \"proto\": \"tcp\", \"ports\": "
			"\"1024-65535\", \"cidr\": \"::/0\"}]",
			SG_PLAIN, "\"g\"", "\"g\"", true));
	assert_int_equal(count(&r, "nacl-no-return"), 0);
	assert_int_equal(count(&r, "family-gap"), 0);
	done(&r);
}

/* ---- sg-ref-empty, sg-unattached ---- */

static void reference_to_group_nobody_carries(void **state)
{
	struct run r;
	/* §3: a group reference matches the addresses of ENIs carrying the
	 * group; "ghost" is on none, so the rule matches nothing, and ghost
	 * itself is attached to nothing. */
	lint(&r, lab_of(OPEN_NACL,
			"{\"name\": \"g\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"5432\", "
			"\"from\": \"ghost\"}], " SG_OPEN_OUT "},"
			"{\"name\": \"ghost\", \"ingress\": [], " SG_OPEN_OUT "}",
			"\"g\"", "\"g\"", false));
	assert_int_equal(count(&r, "sg-ref-empty"), 1);
	assert_int_equal(count(&r, "sg-unattached"), 1);
	const struct lint_finding *f = first(&r, "sg-unattached");
	assert_int_equal(f->severity, LINT_NOTE);
	assert_string_equal(r.lab->groups[f->group].name, "ghost");
	assert_int_equal(first(&r, "sg-ref-empty")->rules[0].index, 0);
	done(&r);
}

static void reference_to_carried_group(void **state)
{
	struct run r;
	/* "default" unattached is AWS's own group, not a finding */
	lint(&r, lab_of(OPEN_NACL,
			"{\"name\": \"g\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"5432\", "
			"\"from\": \"web\"}], " SG_OPEN_OUT "},"
			"{\"name\": \"web\", \"ingress\": [], " SG_OPEN_OUT "},"
			"{\"name\": \"default\", \"ingress\": [{\"proto\": \"all\", \"from\": "
			"\"default\"}], " SG_OPEN_OUT "}",
			"\"g\"", "\"web\"", false));
	assert_int_equal(count(&r, "sg-ref-empty"), 0);
	assert_int_equal(count(&r, "sg-unattached"), 0);
	done(&r);
}

/* ---- family-gap ---- */

static void dual_stack_gaps(void **state)
{
	struct run r;
	/* subnet a is dual-stack. NACL: 90 denies SSH for IPv4 only, and 101
	 * allows every IPv6 packet: IPv6 SSH is left open. 100 allows all
	 * IPv4: consistent with 101. SG g on a1 (dual-stack) opens 443 to
	 * 0.0.0.0/0 with no IPv6 rule: IPv6 443 is shut. */
	lint(&r,
	     lab_of(
		 "\"ingress\": ["
		 "{\"rule\": 90, \"action\": \"deny\", \"proto\": \"tcp\", \"ports\": \"22\", "
		 "\"cidr\": \"0.0.0.0/0\"},"
		 "{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": "
		 "\"0.0.0.0/0\"},"
		 "{\"rule\": 101, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": \"::/0\"}],"
		 "\"egress\": [{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", "
		 "\"cidr\": \"0.0.0.0/0\"},"
		 "{\"rule\": 101, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": \"::/0\"}]",
		 "{\"name\": \"g\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"443\", "
		 "\"from\": \"0.0.0.0/0\"}], " SG_OPEN_OUT "}",
		 "\"g\"", "\"g\"", true));
	assert_int_equal(count(&r, "family-gap"), 2);
	const struct lint_finding *f = first(&r, "family-gap");
	assert_nacl_rule(&r, &f->rules[0], 90, false);
	assert_nacl_rule(&r, &f->rules[1], 101, false);
	assert_non_null(strstr(f->message, "left open"));
	assert_int_equal(nth(&r, "family-gap", 1)->rules[0].kind, RULE_SG);
	assert_non_null(strstr(nth(&r, "family-gap", 1)->message, "IPv6"));
	done(&r);
}

static void dual_stack_consistent_or_single_stack(void **state)
{
	struct run r;
	/* both families decided alike */
	lint(&r,
	     lab_of(
		 "\"ingress\": ["
		 "{\"rule\": 90, \"action\": \"deny\", \"proto\": \"tcp\", \"ports\": \"22\", "
		 "\"cidr\": \"0.0.0.0/0\"},"
		 "{\"rule\": 91, \"action\": \"deny\", \"proto\": \"tcp\", \"ports\": \"22\", "
		 "\"cidr\": \"::/0\"},"
		 "{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": "
		 "\"0.0.0.0/0\"},"
		 "{\"rule\": 101, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": \"::/0\"}],"
		 "\"egress\": [{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", "
		 "\"cidr\": \"0.0.0.0/0\"},"
		 "{\"rule\": 101, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": \"::/0\"}]",
		 "{\"name\": \"g\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"443\", "
		 "\"from\": [\"0.0.0.0/0\", \"::/0\"]}], " SG_OPEN_OUT "}",
		 "\"g\"", "\"g\"", true));
	assert_int_equal(count(&r, "family-gap"), 0);
	done(&r);
	/* IPv4 only: no IPv6 packet reaches these rules, nothing to compare */
	lint(&r,
	     lab_of(
		 "\"ingress\": ["
		 "{\"rule\": 90, \"action\": \"deny\", \"proto\": \"tcp\", \"ports\": \"22\", "
		 "\"cidr\": \"0.0.0.0/0\"},"
		 "{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": "
		 "\"0.0.0.0/0\"},"
		 "{\"rule\": 101, \"action\": \"allow\", \"proto\": \"all\", \"cidr\": \"::/0\"}],"
		 "\"egress\": [{\"rule\": 100, \"action\": \"allow\", \"proto\": \"all\", "
		 "\"cidr\": \"0.0.0.0/0\"}]",
		 "{\"name\": \"g\", \"ingress\": [{\"proto\": \"tcp\", \"ports\": \"443\", "
		 "\"from\": \"0.0.0.0/0\"}], " SG_OPEN_OUT "}",
		 "\"g\"", "\"g\"", false));
	assert_int_equal(count(&r, "family-gap"), 0);
	done(&r);
}

static void severity_names(void **state)
{
	enum lint_severity s;
	assert_int_equal(lint_severity_parse("warning", &s), 0);
	assert_int_equal(s, LINT_WARNING);
	assert_true(lint_severity_parse("fatal", &s) < 0);
	size_t n;
	const struct lint_check *c = lint_checks(&n);
	assert_int_equal(n, 8);
	for (size_t i = 0; i < n; i++)
		assert_non_null(c[i].summary);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(shadowed_by_one_and_by_two),
	    cmocka_unit_test(shadowed_by_two_halves),
	    cmocka_unit_test(not_shadowed_when_later_entry_is_wider),
	    cmocka_unit_test(allow_after_covering_deny),
	    cmocka_unit_test(narrow_deny_before_wide_allow),
	    cmocka_unit_test(redundant_in_group_and_across_groups),
	    cmocka_unit_test(not_redundant_when_another_eni_needs_it),
	    cmocka_unit_test(admin_ports_open_to_world),
	    cmocka_unit_test(admin_port_via_prefix_list),
	    cmocka_unit_test(admin_ports_closed_or_narrow),
	    cmocka_unit_test(requests_without_return_path),
	    cmocka_unit_test(return_paths_present),
	    cmocka_unit_test(reference_to_group_nobody_carries),
	    cmocka_unit_test(reference_to_carried_group),
	    cmocka_unit_test(dual_stack_gaps),
	    cmocka_unit_test(dual_stack_consistent_or_single_stack),
	    cmocka_unit_test(severity_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
