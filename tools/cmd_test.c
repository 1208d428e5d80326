/*
 * `vpcfw test EXPECT [--lab LAB] [--offline] [--junit FILE] [--json]`
 * (DESIGN.md contract 6): every expectation of the file, selectors
 * expanded, is evaluated offline as `vpcfw check` does and, unless
 * --offline, sent as real traffic through vpcfwd (tools/probe.h). When no
 * vpcfwd serves the lab (some namespace of the flows is missing) one is
 * started for the run under a private name (vtest-<pid>) and stopped
 * after, its scratch directory removed; an outside address the lab does
 * not declare gets a host for that run (a copy of the lab with the host
 * added under "outside"). A real outcome that differs from the offline
 * verdict is a vpcfw bug (exit 3), shown as such, never folded into an
 * ordinary failure. Not for loading or expanding the file (expect.c,
 * selector.c), for sending packets (probe.c), for running the daemon
 * (test_vpcfwd.c) or for the reports (test_report.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "diag.h"
#include "labnames.h"
#include "load.h"
#include "test_vpcfwd.h"
#include "test_run.h"

#define TEST_PARALLEL 64

/* Which vpcfwd carried the real traffic, for the report. */
static char test_served_by[96];

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: vpcfw test EXPECT [--lab LAB] [--offline] [--junit FILE] [--json]\n"
	    "                  [--coverage] [--min-coverage PCT] [--sarif FILE]\n"
	    "       vpcfw test --generate LAB [--cover] > expect.yaml\n\n"
	    "Checks every expected flow of EXPECT (YAML or JSON, DESIGN.md contract 6)\n"
	    "offline, as `vpcfw check` does, and unless --offline with real traffic\n"
	    "through vpcfwd (root; one is started for the run when none serves the lab).\n"
	    "--generate writes the lab's reachability now as an expectations file; with\n"
	    "--cover, a few flows that exercise every SG rule and NACL entry a flow can reach.\n"
	    "--coverage lists the rules no expectation exercised (decided by none of the\n"
	    "flows, request or response); --min-coverage fails the run (exit 1) below PCT.\n"
	    "--junit is written even when the run stops early (one failed test case).\n"
	    "Exit status: 0 all met, 1 some not met, 2 bad input or a flow that could\n"
	    "not be probed, 3 real traffic and the offline verdict disagree (a vpcfw bug).\n");
}

/* --min-coverage, the one value option. */
static int min_coverage(const struct cli_command *cmd, void *args, int c, const char *arg)
{
	struct test_args *a = args;
	char *end;
	a->min_coverage = strtod(arg, &end);
	if (end == arg || *end || a->min_coverage < 0 || a->min_coverage > 100) {
		fprintf(stderr, "vpcfw test: bad --min-coverage '%s' (0-100)\n", arg);
		return -EINVAL;
	}
	a->coverage = true;
	return 0;
}

static const struct cli_opt test_opts[] = {
    CLI_STRING("lab", struct test_args, lab),
    CLI_FLAG("offline", struct test_args, offline),
    CLI_STRING("junit", struct test_args, junit),
    CLI_FLAG("json", struct test_args, json),
    CLI_STRING("generate", struct test_args, generate),
    CLI_FLAG("cover", struct test_args, cover),
    CLI_FLAG("coverage", struct test_args, coverage),
    CLI_VALUE("min-coverage", 0),
    CLI_STRING("sarif", struct test_args, sarif),
    CLI_END,
};

static const struct test_args test_defaults = {.min_coverage = -1};

static const struct cli_command test_cmd = {
    .name = "test",
    .usage = usage,
    .opts = test_opts,
    CLI_ARGS(struct test_args, test_defaults, expect, 1),
    .option = min_coverage,
};

/* ---- offline ---- */

static int evaluate_offline(const struct lab *lab, struct test_flow *t)
{
	char err[512];
	if (expect_query(lab, t->it, t->ef->from, t->ef->to, &t->q, err, sizeof(err)) < 0)
		return -EINVAL; /* expect_expand already refused these */
	pipeline_check(lab, &t->q, &t->c);
	t->from_label =
	    t->q.client.kind == END_ENI ? lab_eni_label(lab, t->q.client.eni) : t->ef->from;
	t->to_label = t->q.server.kind == END_ENI ? lab_eni_label(lab, t->q.server.eni) : t->ef->to;
	t->explain = test_explain_flow(lab, t);
	return 0;
}

static int load_lab(const char *path, struct lab **lab);

/* ---- real traffic ---- */

/* The namespace of one end: an ENI's, or a declared outside host's. */
static int end_netns(const struct lab *lab, const struct pipeline_end *end, const char *name,
		     const struct ip_addr *addr, char *buf, size_t len)
{
	struct endpoint ep;
	if (end->kind == END_ENI)
		return topology_eni_netns(lab, end->eni, buf, len);
	if (lab_resolve_endpoint(lab, name, &ep) == 0 && ep.kind == ENDPOINT_OUTSIDE &&
	    ep.outside >= 0)
		return topology_outside_netns(lab, ep.outside, buf, len);
	for (size_t i = 0; i < lab->n_outside; i++)
		if (!ip_addr_cmp(&lab->outside[i].addr, addr))
			return topology_outside_netns(lab, (int32_t)i, buf, len);
	return -ENOENT;
}

/* lab names ENIs; hosts (may be lab itself) names outside hosts, with the
 * hosts added for this run. false with t->not_probed set when the flow
 * cannot be sent; t->needs_host when only an outside host is missing. */
static bool spec_of(const struct lab *lab, const struct lab *hosts, struct test_flow *t,
		    struct probe_spec *s)
{
	memset(s, 0, sizeof(*s));
	const struct flow *f = &t->q.request;
	if (!probe_supported(f->proto, f->icmp_type)) {
		snprintf(t->not_probed, sizeof(t->not_probed),
			 "not probed: only TCP, UDP and ICMP echo are sent as real traffic");
		return false;
	}
	const struct lab *cl = t->q.client.kind == END_ENI ? lab : hosts;
	const struct lab *sl = t->q.server.kind == END_ENI ? lab : hosts;
	t->needs_host = false;
	if (end_netns(cl, &t->q.client, t->ef->from, &f->src, s->src_ns, sizeof(s->src_ns)) < 0 ||
	    end_netns(sl, &t->q.server, t->ef->to, &f->dst, s->dst_ns, sizeof(s->dst_ns)) < 0) {
		snprintf(t->not_probed, sizeof(t->not_probed),
			 "cannot probe: the running vpcfwd has no host for this outside address "
			 "(declare it under \"outside\" in the lab)");
		t->needs_host = true;
		return false;
	}
	t->not_probed[0] = '\0';
	s->dst = f->dst;
	/* from the internet an ENI is reached at its public IPv4, which the
	 * data path translates 1:1, as an internet gateway does */
	if (t->q.client.kind != END_ENI && t->q.server.kind == END_ENI && f->dst.family == IP_V4 &&
	    lab->enis[t->q.server.eni].has_public_ip)
		s->dst = lab->enis[t->q.server.eni].public_ip;
	s->proto = f->proto;
	s->port = f->dport;
	s->icmp_type = f->icmp_type;
	s->icmp_code = f->icmp_code;
	s->timeout_ms = t->it->timeout_ms;
	return true;
}

/* An outside address of a flow that has no host in the lab. */
static const struct ip_addr *missing_addr(const struct test_flow *t)
{
	return t->q.client.kind == END_ENI ? &t->q.request.dst : &t->q.request.src;
}

/* Whether a vpcfwd already serves the lab: every namespace the flows
 * use exists (those of ENIs, and of the outside hosts the lab declares). */
static bool lab_served(const struct lab *lab, const struct test_flow *t, size_t n,
		       const struct probe_spec *specs, size_t m)
{
	char ns[NETNS_NAME_MAX];
	size_t checked = 0;
	for (size_t i = 0; i < m; i++, checked++)
		if (!netns_exists(specs[i].src_ns) || !netns_exists(specs[i].dst_ns))
			return false;
	for (size_t i = 0; i < n; i++) {
		const struct pipeline_end *e[2] = {&t[i].q.client, &t[i].q.server};
		for (int k = 0; k < 2; k++) {
			if (e[k]->kind != END_ENI)
				continue;
			if (topology_eni_netns(lab, e[k]->eni, ns, sizeof(ns)) < 0 ||
			    !netns_exists(ns))
				return false;
			checked++;
		}
	}
	return checked > 0;
}

/* Specs for every flow that can be sent; idx maps them back. */
static size_t make_specs(const struct lab *lab, const struct lab *hosts, struct test_flow *t,
			 size_t n, struct probe_spec *specs, size_t *idx, size_t *missing)
{
	size_t m = 0;
	*missing = 0;
	for (size_t i = 0; i < n; i++) {
		if (spec_of(lab, hosts, &t[i], &specs[m]))
			idx[m++] = i;
		*missing += t[i].needs_host;
	}
	return m;
}

/* A copy of the lab with a host for every outside address the flows use
 * and the lab does not declare; its path into out. */
static int lab_with_hosts(const struct test_vpcfwd *d, const char *lab_path,
			  const struct test_flow *t, size_t n, char *out, size_t len)
{
	struct ip_addr *addrs = calloc(n, sizeof(*addrs));
	size_t k = 0;
	int ret;
	if (!addrs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (t[i].needs_host)
			addrs[k++] = *missing_addr(&t[i]);
	ret = test_vpcfwd_lab_with_hosts(d, lab_path, addrs, k, out, len);
	free(addrs);
	return ret;
}

/* Starts vpcfwd for the run, on a copy of the lab with the outside hosts
 * the flows need when some are missing; hosts gets that copy's model. */
static int start_for_run(const char *lab_path, struct test_flow *t, size_t n, size_t missing,
			 struct test_vpcfwd *d, struct lab **hosts)
{
	char aug[PATH_MAX];
	const char *path = lab_path;
	int ret = test_vpcfwd_dir(d);
	if (ret == 0 && missing) {
		ret = lab_with_hosts(d, lab_path, t, n, aug, sizeof(aug));
		if (ret == 0 && (ret = load_lab(aug, hosts)) == 0)
			path = aug;
	}
	if (ret == 0)
		ret = test_vpcfwd_start(d, path);
	if (ret < 0) {
		fprintf(stderr, "vpcfw test: cannot start vpcfwd for %s\n", lab_path);
		return ret;
	}
	snprintf(test_served_by, sizeof(test_served_by),
		 "vpcfwd started for this run (lab name %s)", d->name);
	return 0;
}

static int run_real(const struct lab *lab, const char *lab_path, struct test_flow *t, size_t n)
{
	struct probe_spec *specs = calloc(n, sizeof(*specs));
	struct probe_result *res = calloc(n, sizeof(*res));
	size_t *idx = calloc(n, sizeof(*idx));
	size_t m = 0, missing = 0;
	int ret = 0;
	struct test_vpcfwd d = {0};
	struct lab *hosts = NULL;
	if (!specs || !res || !idx) {
		ret = -ENOMEM;
		goto out;
	}
	m = make_specs(lab, lab, t, n, specs, idx, &missing);
	snprintf(test_served_by, sizeof(test_served_by), "a running vpcfwd");
	if ((m || missing) && !lab_served(lab, t, n, specs, m)) {
		ret = start_for_run(lab_path, t, n, missing, &d, &hosts);
		if (ret < 0)
			goto out;
		if (hosts)
			m = make_specs(lab, hosts, t, n, specs, idx, &missing);
	}
	probe_run_all(specs, res, m, TEST_PARALLEL, test_vpcfwd_check, &d);
	for (size_t k = 0; k < m; k++) {
		t[idx[k]].probed = true;
		t[idx[k]].real = res[k];
		t[idx[k]].probed_dst = specs[k].dst;
	}
out:
	test_vpcfwd_stop(&d);
	lab_free(hosts);
	free(specs);
	free(res);
	free(idx);
	return ret;
}

static char *errors_text(const struct expect_errors *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (!out)
		return NULL;
	for (size_t i = 0; i < e->n; i++)
		fprintf(out, "%s\n", e->msgs[i]);
	fclose(out);
	return buf;
}

/* ---- the command ---- */

static int load_lab(const char *path, struct lab **lab)
{
	*lab = cli_lab_load("vpcfw test", path, false);
	return *lab ? 0 : -EINVAL;
}

static int run(const struct test_args *a, const struct expect_file *f, struct lab *lab,
	       const char *lab_path)
{
	struct expect_errors e = {0};
	struct expect_flow *flows = NULL;
	size_t n = 0;
	if (expect_expand(lab, f, &flows, &n, &e) < 0) {
		char *why = errors_text(&e);
		expect_errors_print(&e, stderr);
		test_report_early_stop(a, "expectations", why ? why : "bad expectations");
		free(why);
		expect_errors_free(&e);
		return 2;
	}
	int status = 2;
	struct test_coverage cv = {0};
	struct test_flow *t = calloc(n, sizeof(*t));
	if (!t)
		goto out;
	for (size_t i = 0; i < n; i++) {
		t[i].ef = &flows[i];
		t[i].it = &f->items[flows[i].item];
		if (evaluate_offline(lab, &t[i]) < 0)
			goto out;
	}
	if (a->coverage && test_coverage_compute(lab, t, n, &cv) < 0)
		goto out;
	if (!a->offline && geteuid() != 0) {
		fprintf(stderr, "vpcfw test: real traffic needs root (or use --offline)\n");
		test_report_early_stop(a, "real traffic",
				       "real traffic needs root (or use --offline)");
		goto out;
	}
	if (!a->offline && run_real(lab, lab_path, t, n) < 0) {
		test_report_early_stop(a, "real traffic",
				       "cannot send real traffic: vpcfwd did not start");
		goto out;
	}
	status = test_report(lab, a, t, n, &cv, test_served_by[0] ? test_served_by : NULL);
out:
	test_coverage_free(&cv);
	for (size_t i = 0; t && i < n; i++)
		free(t[i].explain);
	free(t);
	expect_flows_free(flows, n);
	expect_errors_free(&e);
	return status;
}

static int generate(const char *lab_path, bool cover)
{
	struct lab *lab = NULL;
	if (load_lab(lab_path, &lab) < 0)
		return 2;
	int r = cover ? expect_generate_cover(lab, lab_path, stdout)
		      : expect_generate(lab, lab_path, stdout);
	lab_free(lab);
	if (r < 0)
		fprintf(stderr, "vpcfw test: %s has %s\n", lab_path,
			cover ? "no rule a flow can reach" : "no pair of endpoints");
	return r < 0 || fflush(stdout) != 0 ? 2 : 0;
}

int cmd_test(int argc, char **argv)
{
	struct test_args a;
	int r = cli_parse(&test_cmd, argc, argv, &a);
	if (r != CLI_GO)
		return r;
	if (!a.expect == !a.generate)
		return cli_usage_error(&test_cmd,
				       "EXPECT or --generate LAB is required (not both)");
	if (a.cover && !a.generate) {
		fprintf(stderr, "vpcfw test: --cover goes with --generate LAB\n");
		return 2;
	}
	if (a.generate)
		return generate(a.generate, a.cover);
	struct expect_file f;
	struct expect_errors e = {0};
	if (expect_load(a.expect, &f, &e) < 0) {
		char *why = errors_text(&e);
		expect_errors_print(&e, stderr);
		test_report_early_stop(&a, "expectations",
				       why ? why : "cannot load the expectations");
		free(why);
		expect_errors_free(&e);
		return 2;
	}
	const char *lab_path = a.lab ? a.lab : f.lab_path;
	struct lab *lab = NULL;
	char *why = NULL;
	int status = 2;
	if (!lab_path) {
		fprintf(stderr, "%s: lab: missing (give it in the file or with --lab)\n", a.expect);
		test_report_early_stop(&a, "lab",
				       "lab: missing (give it in the file or with --lab)");
	} else if ((lab = cli_lab_load_text("vpcfw test", lab_path, false, &why))) {
		status = run(&a, &f, lab, lab_path);
	} else {
		char name[PATH_MAX + 8];
		snprintf(name, sizeof(name), "load %s", lab_path);
		test_report_early_stop(&a, name, why ? why : "the lab does not load");
	}
	free(why);
	lab_free(lab);
	expect_file_free(&f);
	return status;
}
