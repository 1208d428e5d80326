/*
 * What `vpcfw test` says about a run (test_run.h): the stage explanations,
 * rule coverage, the verdict of each flow against its expectation and the
 * outputs (text, --json, --junit, --sarif), also for a run that stops
 * early. Not for evaluating or sending flows (cmd_test.c, probe.c).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ruleinfo.h"
#include "sarif.h"
#include "test_run.h"

/* ---- stage explanations ---- */

static void stage_line(FILE *out, const struct lab *lab, const struct stage_verdict *v,
		       const struct flow *f)
{
	char why[1024];
	const char *owner = cli_stage_owner(lab, v);
	fprintf(out, "%s %s %s%s%s", pipeline_stage_name(v->stage),
		pipeline_verdict_name(v->verdict), owner ? owner : "", owner ? ": " : "",
		pipeline_explain(lab, v, f, why, sizeof(why)));
}

/* The stage that decided: the rejecting one, else the last stage of the
 * request a rule accepted (usually the receiver's SG ingress). */
static void deciding_stage(FILE *out, const struct lab *lab, const struct pipeline_check *c,
			   const struct flow *req)
{
	if (c->request.verdict == VERDICT_REJECT && c->request.rejected_at >= 0) {
		fputs("request ", out);
		stage_line(out, lab, &c->request.stages[c->request.rejected_at], req);
		return;
	}
	if (c->response.verdict == VERDICT_REJECT && c->response.rejected_at >= 0) {
		fputs("response ", out);
		stage_line(out, lab, &c->response.stages[c->response.rejected_at], &c->reply);
		return;
	}
	for (size_t i = c->request.n; i-- > 0;) {
		const struct stage_verdict *v = &c->request.stages[i];
		if (v->verdict == VERDICT_ACCEPT && v->reason == REASON_RULE) {
			fputs("request ", out);
			stage_line(out, lab, v, req);
			return;
		}
	}
	fputs("every stage accepted", out);
}

static void all_stages(FILE *out, const struct lab *lab, const struct pipeline_result *r,
		       const struct flow *f, const char *dir)
{
	fprintf(out, "%s: %s\n", dir, pipeline_verdict_name(r->verdict));
	for (size_t i = 0; i < r->n; i++) {
		fputs("  ", out);
		stage_line(out, lab, &r->stages[i], f);
		fputc('\n', out);
	}
}

char *test_explain_flow(const struct lab *lab, const struct test_flow *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (!out)
		return NULL;
	all_stages(out, lab, &t->c.request, &t->q.request, "request");
	all_stages(out, lab, &t->c.response, &t->c.reply, "response");
	fclose(out);
	return buf;
}

/* ---- rule coverage ---- */

int test_coverage_compute(const struct lab *lab, const struct test_flow *t, size_t n,
			  struct test_coverage *cv)
{
	cv->on = true;
	if (rule_index_build(lab, &cv->ri) < 0 || !(cv->hit = calloc(cv->ri.total + 1, 1)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		cover_mark(lab, &cv->ri, &t[i].q, &t[i].c, cv->hit);
	for (size_t i = 0; i < cv->ri.total; i++)
		cv->exercised += cv->hit[i];
	return 0;
}

void test_coverage_free(struct test_coverage *cv)
{
	rule_index_free(&cv->ri);
	free(cv->hit);
}

static double coverage_pct(const struct test_coverage *cv)
{
	return cv->ri.total ? 100.0 * (double)cv->exercised / (double)cv->ri.total : 100.0;
}

static bool same_owner(const struct rule_ref *a, const struct rule_ref *b)
{
	return a->kind == b->kind && a->owner == b->owner;
}

/* Per group and NACL: how many rules were exercised, and which were not. */
static void coverage_text(const struct lab *lab, const struct test_coverage *cv)
{
	char owner[256], text[512];
	const struct rule_index *ri = &cv->ri;
	printf("coverage: %zu of %zu rules exercised (%.1f%%)\n", cv->exercised, ri->total,
	       coverage_pct(cv));
	for (size_t i = 0; i < ri->total;) {
		size_t end = i, hit = 0;
		while (end < ri->total && same_owner(&ri->refs[end], &ri->refs[i]))
			hit += cv->hit[end++];
		printf("  %s: %zu of %zu exercised\n",
		       ruleinfo_owner(lab, &ri->refs[i], owner, sizeof(owner)), hit, end - i);
		for (; i < end; i++)
			if (!cv->hit[i])
				printf("    not exercised: %s\n",
				       rule_ref_format(lab, &ri->refs[i], text, sizeof(text)));
	}
}

static json_t *coverage_json(const struct lab *lab, const struct test_coverage *cv)
{
	json_t *yes = json_array(), *no = json_array();
	for (size_t i = 0; i < cv->ri.total; i++)
		json_array_append_new(cv->hit[i] ? yes : no, ruleinfo_json(lab, &cv->ri.refs[i]));
	return json_pack("{s:o, s:o, s:I, s:f}", "exercised", yes, "unexercised", no, "total",
			 (json_int_t)cv->ri.total, "percent", coverage_pct(cv));
}

/* ---- verdicts and output ---- */

static void decide(struct test_flow *t)
{
	bool offline_accept = t->c.verdict == VERDICT_ACCEPT;
	if (t->probed && t->real.outcome == PROBE_ERROR)
		t->outcome = EXPECT_ERROR;
	else if (t->probed && (t->real.outcome == PROBE_ACCEPT) != offline_accept)
		t->outcome = EXPECT_DISAGREE;
	else if (!t->probed && t->needs_host)
		t->outcome = EXPECT_ERROR;
	else
		t->outcome = offline_accept == t->it->accept ? EXPECT_PASS : EXPECT_FAIL;
}

static const char *outcome_tag(enum expect_outcome o)
{
	static const char *const tags[] = {"PASS", "FAIL", "ERROR", "VPCFW-BUG"};
	return tags[o];
}

static void flow_desc(const struct test_flow *t, char *buf, size_t len)
{
	char src[IP_ADDR_STRLEN], dst[IP_ADDR_STRLEN], proto[16], what[48] = "";
	const struct flow *f = &t->q.request;
	flow_proto_name(f->proto, proto, sizeof(proto));
	if (flow_has_ports(f))
		snprintf(what, sizeof(what), " port %u", f->dport);
	else if (flow_is_icmp(f))
		snprintf(what, sizeof(what), " type %u code %u", f->icmp_type, f->icmp_code);
	snprintf(buf, len, "%s (%s) -> %s (%s) %s%s", t->from_label,
		 ip_addr_format(&f->src, src, sizeof(src)), t->to_label,
		 ip_addr_format(&f->dst, dst, sizeof(dst)), proto, what);
}

static void real_text(const struct test_flow *t, char *buf, size_t len)
{
	char dst[IP_ADDR_STRLEN];
	if (!t->probed)
		snprintf(buf, len, "%s", t->not_probed[0] ? t->not_probed : "not sent (--offline)");
	else if (t->real.outcome == PROBE_ERROR)
		snprintf(buf, len, "ERROR: %s", t->real.detail);
	else if (ip_addr_cmp(&t->probed_dst, &t->q.request.dst))
		snprintf(buf, len, "%s (%s, %d ms, sent to %s)",
			 t->real.outcome == PROBE_ACCEPT ? "ACCEPT" : "REJECT", t->real.detail,
			 t->real.ms, ip_addr_format(&t->probed_dst, dst, sizeof(dst)));
	else
		snprintf(buf, len, "%s (%s, %d ms)",
			 t->real.outcome == PROBE_ACCEPT ? "ACCEPT" : "REJECT", t->real.detail,
			 t->real.ms);
}

static void print_flow(const struct lab *lab, const struct test_flow *t)
{
	char desc[512], real[256];
	flow_desc(t, desc, sizeof(desc));
	real_text(t, real, sizeof(real));
	printf("%-5s %s\n", outcome_tag(t->outcome), t->ef->name);
	printf("      %s: expect %s\n", desc, t->it->accept ? "ACCEPT" : "REJECT");
	printf("      offline: %s, ", pipeline_verdict_name(t->c.verdict));
	deciding_stage(stdout, lab, &t->c, &t->q.request);
	printf("\n      real:    %s\n", real);
	if (t->outcome == EXPECT_DISAGREE)
		printf("      vpcfw bug: real traffic and the offline verdict disagree\n");
	if (t->outcome != EXPECT_PASS && t->explain) {
		for (const char *p = t->explain; *p;) {
			const char *nl = strchr(p, '\n');
			int l = nl ? (int)(nl - p) : (int)strlen(p);
			printf("        %.*s\n", l, p);
			p += l + (nl ? 1 : 0);
		}
	}
}

static char *failure_message(const struct lab *lab, const struct test_flow *t)
{
	char *buf = NULL, real[256];
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (!out)
		return NULL;
	real_text(t, real, sizeof(real));
	if (t->outcome == EXPECT_DISAGREE)
		fprintf(out, "vpcfw bug: offline %s but real traffic %s; ",
			pipeline_verdict_name(t->c.verdict), real);
	else if (t->outcome == EXPECT_ERROR)
		fprintf(out, "probe error: %s; ", real);
	fprintf(out, "expected %s, offline %s: ", t->it->accept ? "ACCEPT" : "REJECT",
		pipeline_verdict_name(t->c.verdict));
	deciding_stage(out, lab, &t->c, &t->q.request);
	fclose(out);
	return buf;
}

static int write_junit(const struct lab *lab, const char *path, const char *suite,
		       const struct test_flow *t, size_t n)
{
	struct junit_case *c = calloc(n, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		c[i].name = t[i].ef->name;
		c[i].outcome = t[i].outcome;
		c[i].message = t[i].outcome == EXPECT_PASS ? NULL : failure_message(lab, &t[i]);
		c[i].text = t[i].explain;
		c[i].seconds = t[i].probed ? t[i].real.ms / 1000.0 : 0;
	}
	int r = junit_write(path, suite, c, n);
	for (size_t i = 0; i < n; i++)
		free((char *)c[i].message);
	free(c);
	return r;
}

static json_t *flow_json(const struct lab *lab, const struct test_flow *t)
{
	static const char *const res[] = {"pass", "fail", "error", "vpcfw-bug"};
	char *msg = failure_message(lab, t), real[256];
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(t->ef->name));
	json_object_set_new(o, "from", json_string(t->from_label));
	json_object_set_new(o, "to", json_string(t->to_label));
	char proto[16];
	json_object_set_new(o, "proto",
			    json_string(flow_proto_name(t->q.request.proto, proto, sizeof(proto))));
	if (flow_has_ports(&t->q.request))
		json_object_set_new(o, "port", json_integer(t->q.request.dport));
	json_object_set_new(o, "expect", json_string(t->it->accept ? "ACCEPT" : "REJECT"));
	json_object_set_new(o, "offline", json_string(pipeline_verdict_name(t->c.verdict)));
	json_object_set_new(o, "explanation", json_string(msg ? msg : ""));
	real_text(t, real, sizeof(real));
	json_object_set_new(o, "real",
			    t->probed ? json_string(t->real.outcome == PROBE_ACCEPT   ? "ACCEPT"
						    : t->real.outcome == PROBE_REJECT ? "REJECT"
										      : "ERROR")
				      : json_null());
	json_object_set_new(o, "real_detail", json_string(real));
	json_object_set_new(o, "result", json_string(res[t->outcome]));
	free(msg);
	return o;
}

static void print_json(const struct lab *lab, const char *file, const struct test_flow *t, size_t n,
		       size_t passed, const struct test_coverage *cv, const char *served_by)
{
	json_t *o = json_object(), *flows = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(flows, flow_json(lab, &t[i]));
	json_object_set_new(o, "file", json_string(file));
	json_object_set_new(o, "lab", json_string(lab->source));
	json_object_set_new(o, "real_traffic", served_by ? json_string(served_by) : json_null());
	json_object_set_new(o, "passed", json_integer((json_int_t)passed));
	json_object_set_new(o, "failed", json_integer((json_int_t)(n - passed)));
	json_object_set_new(o, "flows", flows);
	if (cv->on)
		json_object_set_new(o, "coverage", coverage_json(lab, cv));
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(o);
}

static int write_test_sarif(const struct lab *lab, const struct test_args *a,
			    const struct test_flow *t, size_t n, const struct test_coverage *cv);

int test_report(const struct lab *lab, const struct test_args *a, struct test_flow *t, size_t n,
		const struct test_coverage *cv, const char *served_by)
{
	size_t count[4] = {0};
	for (size_t i = 0; i < n; i++) {
		decide(&t[i]);
		count[t[i].outcome]++;
	}
	if (a->json) {
		print_json(lab, a->expect, t, n, count[EXPECT_PASS], cv, served_by);
	} else {
		printf("%s: lab %s; real traffic: %s\n", a->expect, lab->source,
		       served_by ? served_by : "none (--offline)");
		for (size_t i = 0; i < n; i++)
			print_flow(lab, &t[i]);
		if (count[EXPECT_DISAGREE])
			printf("%zu flows where real traffic and the offline verdict disagree: a "
			       "vpcfw bug, please report it\n",
			       count[EXPECT_DISAGREE]);
		if (count[EXPECT_ERROR])
			printf("%zu flows could not be probed\n", count[EXPECT_ERROR]);
		printf("%zu passed, %zu failed\n", count[EXPECT_PASS], n - count[EXPECT_PASS]);
		if (cv->on)
			coverage_text(lab, cv);
	}
	bool low = cv->on && a->min_coverage >= 0 && coverage_pct(cv) < a->min_coverage;
	if (low)
		fprintf(stderr, "vpcfw test: coverage %.1f%% is below --min-coverage %.1f%%\n",
			coverage_pct(cv), a->min_coverage);
	fflush(stdout);
	if (a->junit && write_junit(lab, a->junit, a->expect, t, n) < 0) {
		fprintf(stderr, "vpcfw test: cannot write %s: %s\n", a->junit, strerror(errno));
		return 2;
	}
	if (a->sarif && write_test_sarif(lab, a, t, n, cv) < 0) {
		fprintf(stderr, "vpcfw test: cannot write %s\n", a->sarif);
		return 2;
	}
	if (count[EXPECT_DISAGREE])
		return 3;
	if (count[EXPECT_ERROR])
		return 2;
	return count[EXPECT_FAIL] || low ? 1 : 0;
}

/* ---- SARIF, and reports of a run that stops early ---- */

static const struct sarif_rule test_sarif_rules[] = {
    {"expectation-not-met", "error", "an expected flow's offline verdict differs"},
    {"vpcfw-bug", "error", "real traffic and the offline verdict disagree"},
    {"probe-error", "error", "the flow could not be sent as real traffic"},
    {"rule-unexercised", "note", "no expectation exercises this SG rule or NACL entry"},
    {"run-error", "error", "the run stopped early: bad input or set-up failure"},
};
#define TEST_SARIF_RULES (sizeof(test_sarif_rules) / sizeof(test_sarif_rules[0]))

static int write_test_sarif(const struct lab *lab, const struct test_args *a,
			    const struct test_flow *t, size_t n, const struct test_coverage *cv)
{
	static const char *const ids[] = {NULL, "expectation-not-met", "probe-error", "vpcfw-bug"};
	size_t cap = n + (cv->on ? cv->ri.total : 0) + 1, k = 0;
	struct sarif_result *res = calloc(cap, sizeof(*res));
	char **msgs = calloc(cap, sizeof(*msgs));
	int r = -ENOMEM;
	if (!res || !msgs)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (t[i].outcome == EXPECT_PASS)
			continue;
		msgs[k] = failure_message(lab, &t[i]);
		res[k] = (struct sarif_result){ids[t[i].outcome],
					       "error",
					       msgs[k] ? msgs[k] : t[i].ef->name,
					       {a->expect, t[i].it->line, NULL, NULL}};
		k++;
	}
	for (size_t i = 0; cv->on && i < cv->ri.total; i++) {
		char text[512];
		if (cv->hit[i])
			continue;
		const struct origin *at = rule_ref_origin(lab, &cv->ri.refs[i]);
		if (asprintf(&msgs[k], "no expectation of %s exercises %s", a->expect,
			     rule_ref_format(lab, &cv->ri.refs[i], text, sizeof(text))) < 0)
			msgs[k] = NULL;
		res[k] = (struct sarif_result){"rule-unexercised", "note", msgs[k] ? msgs[k] : "",
					       sarif_location_of(at, lab->source)};
		k++;
	}
	r = sarif_write(a->sarif, "test", test_sarif_rules, TEST_SARIF_RULES, res, k);
out:
	for (size_t i = 0; msgs && i < k; i++)
		free(msgs[i]);
	free(msgs);
	free(res);
	return r;
}

/* A run that stops before its flows are decided still leaves its
 * reports: one failed test case (JUnit) or result (SARIF) saying why, so
 * a pipeline shows the cause instead of a missing file. */
void test_report_early_stop(const struct test_args *a, const char *name, const char *why)
{
	const char *suite = a->expect ? a->expect : "vpcfw test";
	char line[512];
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(why, "\n"), why);
	if (a->junit) {
		struct junit_case c = {name, EXPECT_ERROR, line, why, 0, "run-error"};
		if (junit_write(a->junit, suite, &c, 1) < 0)
			fprintf(stderr, "vpcfw test: cannot write %s: %s\n", a->junit,
				strerror(errno));
	}
	if (a->sarif) {
		struct sarif_result r = {"run-error", "error", why, {suite, 0, NULL, NULL}};
		if (!a->expect)
			r.loc.uri = NULL;
		if (sarif_write(a->sarif, "test", test_sarif_rules, TEST_SARIF_RULES, &r, 1) < 0)
			fprintf(stderr, "vpcfw test: cannot write %s\n", a->sarif);
	}
}
