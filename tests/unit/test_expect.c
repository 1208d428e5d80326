/*
 * `vpcfw test`'s expectations files (tools/expect.c, selector.c, junit.c):
 * the loader names every problem with file, line and key and yields
 * nothing then; JSON loads like YAML; selectors expand to exactly the ENIs
 * they cover (checked against the lab's own data, not a list); expansion
 * refuses unknown endpoints and selectors matching nothing; JUnit written
 * with hostile names parses back with a real XML parser; --generate's
 * file loads back with every verdict the pipeline's. Links libyaml
 * (tests/CMakeLists.txt); the tools/ sources are included whole because
 * unit tests link only vpcfw_rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tools/expect.c"
#include "../../tools/expect_generate.c"
#include "../../tools/junit.c"
#include "../../tools/selector.c"
#include "diag.h"
#include "load.h"

static char tmpdir[] = "/tmp/vpcfw-test-expect.XXXXXX";

/* ctest sets VPCFW_SOURCE_DIR; by hand, run it from the source tree. */
static const char *src_dir(void)
{
	const char *s = getenv("VPCFW_SOURCE_DIR");
	return s ? s : ".";
}

static char *write_tmp(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Whether some message equals want exactly. */
static bool has_msg(const struct expect_errors *e, const char *want)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(e->msgs[i], want))
			return true;
	for (size_t i = 0; i < e->n; i++)
		print_message("  have: %s\n", e->msgs[i]);
	print_message("  want: %s\n", want);
	return false;
}

static struct lab *load_example(const char *name)
{
	char path[512];
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;
	snprintf(path, sizeof(path), "%s/examples/%s/lab.json", src_dir(), name);
	lab_load_opts_init(&o);
	diag_init(&d);
	assert_int_equal(lab_load(path, &o, &lab, &d), 0);
	diag_free(&d);
	return lab;
}

static void test_load_ok(void **state)
{
	const char *p = write_tmp("ok.yaml", "lab: ../somewhere/lab.json\n"
					     "expect:\n"
					     "  - name: app reaches the writer\n"
					     "    from: app-1\n"
					     "    to: db-w\n"
					     "    proto: TCP\n"
					     "    port: 5432\n"
					     "    verdict: accept\n"
					     "  - from: client\n"
					     "    to: alb-a\n"
					     "    proto: icmp\n"
					     "    icmp-type: 8\n"
					     "    icmp-code: 0\n"
					     "    verdict: reject\n"
					     "    timeout_ms: 250\n"
					     "timeout_ms: 2000\n");
	struct expect_file f;
	struct expect_errors e = {0};
	assert_int_equal(expect_load(p, &f, &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(f.n, 2);
	char want[600];
	snprintf(want, sizeof(want), "%s/../somewhere/lab.json", tmpdir);
	assert_string_equal(f.lab_path, want);
	assert_string_equal(f.items[0].name, "app reaches the writer");
	assert_string_equal(f.items[0].from, "app-1");
	assert_int_equal(f.items[0].proto, PROTO_TCP);
	assert_int_equal(f.items[0].port, 5432);
	assert_true(f.items[0].accept);
	assert_int_equal(f.items[0].line, 3);
	/* the file's timeout applies to items written before it */
	assert_int_equal(f.items[0].timeout_ms, 2000);
	assert_null(f.items[1].name);
	assert_int_equal(f.items[1].proto, PROTO_ICMP);
	assert_int_equal(f.items[1].icmp_type, 8);
	assert_int_equal(f.items[1].port, -1);
	assert_false(f.items[1].accept);
	assert_int_equal(f.items[1].timeout_ms, 250);
	expect_file_free(&f);
}

static void test_load_json(void **state)
{
	const char *p =
	    write_tmp("ok.json", "{\"lab\": \"/abs/lab\", \"expect\": [\n"
				 "  {\"from\": \"a\", \"to\": \"b\", \"proto\": \"udp\",\n"
				 "   \"port\": 53, \"verdict\": \"reject\"}]}\n");
	struct expect_file f;
	struct expect_errors e = {0};
	assert_int_equal(expect_load(p, &f, &e), 0);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.lab_path, "/abs/lab");
	assert_int_equal(f.items[0].proto, PROTO_UDP);
	assert_int_equal(f.items[0].port, 53);
	assert_int_equal(f.items[0].timeout_ms, EXPECT_DEFAULT_TIMEOUT_MS);
	expect_file_free(&f);
}

static void test_load_errors(void **state)
{
	const char *p = write_tmp("bad.yaml", "lab: x\n"
					      "colour: blue\n"
					      "lab: y\n"
					      "expect:\n"
					      "  - from: a\n"
					      "    to: b\n"
					      "    proto: tcp\n"
					      "    port: 70000\n"
					      "    verdict: accept\n"
					      "  - from: a\n"
					      "    to: b\n"
					      "    proto: tcpx\n"
					      "    verdict: maybe\n"
					      "  - from: a\n"
					      "    proto: icmp\n"
					      "    port: 5\n"
					      "    verdict: reject\n"
					      "    colour: red\n"
					      "  - from: a\n"
					      "    to: b\n"
					      "    proto: udp\n"
					      "    verdict: reject\n"
					      "  - from: a\n"
					      "    to: b\n"
					      "    to: c\n"
					      "    proto: icmp\n"
					      "    verdict: reject\n");
	struct expect_file f;
	struct expect_errors e = {0};
	char w[700];
	assert_int_equal(expect_load(p, &f, &e), -EINVAL);
	assert_null(f.items);
	assert_int_equal(f.n, 0);
#define WANT(line, key, msg)                                                                       \
	do {                                                                                       \
		snprintf(w, sizeof(w), "%s:%d: %s: %s", p, line, key, msg);                        \
		assert_true(has_msg(&e, w));                                                       \
	} while (0)
	WANT(2, "colour", "unknown key (lab, timeout_ms, expect)");
	WANT(3, "lab", "given twice");
	WANT(8, "port", "impossible port '70000' (1-65535)");
	WANT(12, "proto", "unknown protocol 'tcpx' (tcp, udp, icmp, icmpv6 or 0-255)");
	WANT(13, "verdict", "'maybe': expected accept or reject");
	WANT(14, "to", "missing");
	WANT(16, "port", "impossible port: the protocol has no ports");
	WANT(18, "colour",
	     "unknown key (name, from, to, proto, port, icmp-type, icmp-code, verdict, "
	     "timeout_ms)");
	WANT(19, "port", "missing for a tcp/udp flow");
	/* Found by tests/fuzz/fuzz_expect: the second value leaked the first. */
	WANT(25, "to", "given twice in one expectation");
	assert_int_equal(e.n, 10);
	expect_errors_free(&e);
}

static void test_load_syntax_error(void **state)
{
	const char *p = write_tmp("syntax.yaml", "lab: x\nexpect:\n  - from: [a\n    to: b\n");
	struct expect_file f;
	struct expect_errors e = {0};
	assert_int_equal(expect_load(p, &f, &e), -EINVAL);
	assert_int_equal(e.n, 1);
	char prefix[600];
	snprintf(prefix, sizeof(prefix), "%s:", p);
	assert_memory_equal(e.msgs[0], prefix, strlen(prefix));
	assert_non_null(strstr(e.msgs[0], "YAML syntax error"));
	expect_errors_free(&e);

	assert_int_equal(expect_load("/nonexistent/x.yaml", &f, &e), -ENOENT);
	assert_int_equal(e.n, 1);
	expect_errors_free(&e);
}

/* The reference: what each selector should cover, straight from the model. */
static size_t count_ref(const struct lab *lab, const char *kind, const char *id)
{
	size_t n = 0;
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		bool hit = false;
		if (!strcmp(kind, "subnet"))
			hit = e->subnet >= 0 && (!strcmp(lab->subnets[e->subnet].id, id) ||
						 !strcmp(lab->subnets[e->subnet].name, id));
		for (size_t g = 0; !strcmp(kind, "sg") && g < e->n_groups; g++)
			hit |= !strcmp(lab->groups[e->groups[g]].id, id) ||
			       !strcmp(lab->groups[e->groups[g]].name, id);
		if (!strcmp(kind, "glob"))
			hit = (e->name && !fnmatch(id, e->name, 0)) ||
			      (e->instance_name && !fnmatch(id, e->instance_name, 0));
		n += hit;
	}
	return n;
}

static void test_selectors(void **state)
{
	struct lab *lab = load_example("ten-thousand");
	int32_t *v;
	size_t n;
	char sel[128];
	for (size_t s = 0; s < lab->n_subnets; s++) {
		const char *ids[] = {lab->subnets[s].id, lab->subnets[s].name};
		for (int k = 0; k < 2; k++) {
			snprintf(sel, sizeof(sel), "subnet:%s", ids[k]);
			assert_int_equal(expect_select(lab, sel, &v, &n), 0);
			assert_int_equal(n, count_ref(lab, "subnet", ids[k]));
			assert_true(n >= 1);
			for (size_t i = 0; i < n; i++)
				assert_int_equal(lab->enis[v[i]].subnet, (int32_t)s);
			free(v);
		}
	}
	for (size_t g = 0; g < lab->n_groups; g++) {
		snprintf(sel, sizeof(sel), "sg:%s", lab->groups[g].id);
		assert_int_equal(expect_select(lab, sel, &v, &n), 0);
		assert_int_equal(n, count_ref(lab, "sg", lab->groups[g].id));
		free(v);
	}
	const char *globs[] = {"app-*", "db-?", "*", "alb-[ab]", "nothing*"};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(expect_select(lab, globs[i], &v, &n), 0);
		assert_int_equal(n, count_ref(lab, "glob", globs[i]));
		free(v);
	}
	assert_int_equal(expect_select(lab, "*", &v, &n), 0);
	assert_int_equal(n, lab->n_enis);
	free(v);
	assert_true(expect_is_selector("sg:x"));
	assert_true(expect_is_selector("web-*"));
	assert_false(expect_is_selector("web-1"));
	assert_false(expect_is_selector("203.0.113.10"));
	lab_free(lab);
}

static void test_expand(void **state)
{
	struct lab *lab = load_example("ten-thousand");
	const char *p = write_tmp("sel.yaml", "lab: x\n"
					      "expect:\n"
					      "  - from: \"app-*\"\n"
					      "    to: \"sg:db\"\n"
					      "    proto: tcp\n"
					      "    port: 5432\n"
					      "    verdict: accept\n"
					      "  - name: mesh\n"
					      "    from: \"*\"\n"
					      "    to: \"*\"\n"
					      "    proto: icmp\n"
					      "    verdict: reject\n"
					      "  - from: app-1\n"
					      "    to: 198.51.100.77\n"
					      "    proto: udp\n"
					      "    port: 53\n"
					      "    verdict: reject\n");
	struct expect_file f;
	struct expect_errors e = {0};
	assert_int_equal(expect_load(p, &f, &e), 0);
	struct expect_flow *fl;
	size_t n;
	assert_int_equal(expect_expand(lab, &f, &fl, &n, &e), 0);
	size_t apps = count_ref(lab, "glob", "app-*"), dbs = count_ref(lab, "sg", "db");
	size_t all = lab->n_enis;
	/* a selector on both sides never pairs an ENI with itself */
	assert_int_equal(n, apps * dbs + all * (all - 1) + 1);
	for (size_t i = 0; i < apps * dbs; i++) {
		assert_int_equal(fl[i].item, 0);
		assert_non_null(strstr(fl[i].name, "tcp 5432 accept"));
	}
	assert_non_null(strstr(fl[apps * dbs].name, "mesh ["));
	for (size_t i = apps * dbs; i < n - 1; i++)
		assert_string_not_equal(fl[i].from, fl[i].to);
	assert_string_equal(fl[n - 1].to, "198.51.100.77");
	expect_flows_free(fl, n);
	expect_file_free(&f);
	lab_free(lab);
}

static void test_expand_errors(void **state)
{
	struct lab *lab = load_example("ten-thousand");
	const char *p = write_tmp("unknown.yaml", "lab: x\n"
						  "expect:\n"
						  "  - from: nobody\n"
						  "    to: app-1\n"
						  "    proto: tcp\n"
						  "    port: 80\n"
						  "    verdict: accept\n"
						  "  - from: app-1\n"
						  "    to: \"subnet:nope\"\n"
						  "    proto: tcp\n"
						  "    port: 80\n"
						  "    verdict: accept\n"
						  "  - from: app-1\n"
						  "    to: \"zz-*\"\n"
						  "    proto: tcp\n"
						  "    port: 80\n"
						  "    verdict: accept\n"
						  "  - from: app-1\n"
						  "    to: db-w\n"
						  "    proto: tcp\n"
						  "    port: 5432\n"
						  "    verdict: accept\n");
	struct expect_file f;
	struct expect_errors e = {0};
	char w[700];
	assert_int_equal(expect_load(p, &f, &e), 0);
	struct expect_flow *fl;
	size_t n;
	assert_int_equal(expect_expand(lab, &f, &fl, &n, &e), -EINVAL);
	assert_null(fl);
	assert_int_equal(n, 0);
	WANT(3, "from",
	     "unknown endpoint 'nobody' (not an instance id, ENI id, Name tag, outside host or "
	     "IP address of the lab)");
	WANT(9, "to", "selector 'subnet:nope' matches no ENI");
	WANT(14, "to", "selector 'zz-*' matches no ENI");
	assert_int_equal(e.n, 3);
	expect_errors_free(&e);
	expect_file_free(&f);
	lab_free(lab);
}

/* Parses the XML with python3's parser and prints "tests failures errors"
 * then one line per testcase: name|child tag|message|text. */
static char *parse_junit(const char *xml)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import sys, xml.etree.ElementTree as E\n"
		 "r = E.parse(sys.argv[1]).getroot()\n"
		 "s = r.find(\"testsuite\")\n"
		 "print(r.tag, s.get(\"tests\"), s.get(\"failures\"), s.get(\"errors\"), "
		 "s.get(\"name\"))\n"
		 "for c in s.findall(\"testcase\"):\n"
		 "  k = list(c)\n"
		 "  print(repr((c.get(\"name\"), k[0].tag if k else \"\", k[0].get(\"type\") if k "
		 "else \"\", k[0].get(\"message\") if k else \"\", k[0].text if k else \"\")))' "
		 "%s",
		 xml);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	static char out[8192];
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	return out;
}

static void test_junit(void **state)
{
	if (system("python3 -c 'import xml.etree.ElementTree' 2>/dev/null") != 0)
		skip();
	char xml[600];
	snprintf(xml, sizeof(xml), "%s/out.xml", tmpdir);
	struct junit_case c[] = {
	    {.name = "a <b> & \"c\" 'd'", .outcome = EXPECT_PASS, .seconds = 0.5},
	    {.name = "fails",
	     .outcome = EXPECT_FAIL,
	     .message = "expected ACCEPT, offline REJECT: sg-ingress <no rule>",
	     .text = "request: REJECT\n  sg-ingress REJECT a&b\x01"},
	    {.name = "bug", .outcome = EXPECT_DISAGREE, .message = "vpcfw bug", .text = "t"},
	    {.name = "err", .outcome = EXPECT_ERROR, .message = "listener: in use", .text = "x"},
	};
	assert_int_equal(junit_write(xml, "dir/expect.yaml & co", c, 4), 0);
	const char *out = parse_junit(xml);
	assert_non_null(strstr(out, "testsuites 4 2 1 dir/expect.yaml & co\n"));
	assert_non_null(strstr(out, "('a <b> & \"c\" \\'d\\'', '', '', '', '')\n"));
	assert_non_null(strstr(out, "('fails', 'failure', 'expectation-not-met', "
				    "'expected ACCEPT, offline REJECT: sg-ingress <no rule>', "
				    "'request: REJECT\\n  sg-ingress REJECT a&b?')\n"));
	assert_non_null(strstr(out, "('bug', 'failure', 'vpcfw-bug', 'vpcfw bug', 't')\n"));
	assert_non_null(strstr(out, "('err', 'error', 'probe-error', 'listener: in use', 'x')\n"));
	assert_int_equal(junit_write("/nonexistent/dir/x.xml", "s", c, 1), -ENOENT);
}

/* --generate round trip: every written verdict is what the pipeline says,
 * and the file loads and expands to exactly the flows written. */
static void test_generate(void **state)
{
	struct lab *lab = load_example("prototype");
	char path[600];
	snprintf(path, sizeof(path), "%s/gen.yaml", tmpdir);
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	assert_int_equal(expect_generate(lab, "lab.json", out), 0);
	fclose(out);
	struct expect_file f;
	struct expect_errors e = {0};
	assert_int_equal(expect_load(path, &f, &e), 0);
	struct expect_flow *fl;
	size_t n, accepts = 0, icmp = 0;
	assert_int_equal(expect_expand(lab, &f, &fl, &n, &e), 0);
	assert_int_equal(n, f.n);
	/* ordered pairs of ENIs and outside hosts, never outside to outside */
	size_t ends = lab->n_enis + lab->n_outside;
	size_t pairs = ends * (ends - 1) - lab->n_outside * (lab->n_outside - 1);
	for (size_t i = 0; i < n; i++) {
		const struct expect_item *it = &f.items[fl[i].item];
		struct query_spec qs;
		struct pipeline_query q;
		struct pipeline_check c;
		query_spec_init(&qs);
		qs.from = fl[i].from;
		qs.to = fl[i].to;
		qs.proto = it->proto;
		qs.port = it->port;
		char err[256];
		assert_int_equal(query_build(lab, &qs, &q, err, sizeof(err), NULL, 0), 0);
		pipeline_check(lab, &q, &c);
		assert_int_equal(c.verdict == VERDICT_ACCEPT, it->accept);
		accepts += it->accept;
		icmp += it->proto == PROTO_ICMP;
	}
	assert_int_equal(icmp, pairs);
	assert_true(accepts > 0 && accepts < n);
	expect_flows_free(fl, n);
	expect_file_free(&f);
	lab_free(lab);
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_ok),	  cmocka_unit_test(test_load_json),
	    cmocka_unit_test(test_load_errors),	  cmocka_unit_test(test_load_syntax_error),
	    cmocka_unit_test(test_selectors),	  cmocka_unit_test(test_expand),
	    cmocka_unit_test(test_expand_errors), cmocka_unit_test(test_junit),
	    cmocka_unit_test(test_generate),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
