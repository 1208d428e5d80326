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
 * selector.c) or for sending packets (probe.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cover.h"
#include "diag.h"
#include "expect.h"
#include "labnames.h"
#include "load.h"
#include "pipeline.h"
#include "probe.h"
#include "query.h"
#include "ruleinfo.h"
#include "sarif.h"

#define TEST_PARALLEL 64
#define TEST_READY_S 60

struct test_args {
	const char *expect, *lab, *junit, *generate, *sarif;
	bool offline, json, coverage, cover;
	double min_coverage; /* -1: none */
};

/* One expanded flow and everything learnt about it. */
struct test_flow {
	const struct expect_flow *ef;
	const struct expect_item *it;
	struct pipeline_query q;
	struct pipeline_check c;
	const char *from_label, *to_label;
	bool probed;		   /* real traffic sent */
	bool needs_host;	   /* an outside address the lab declares no host for */
	struct ip_addr probed_dst; /* where real traffic went (a public IP from outside) */
	char not_probed[160];	   /* why not, when it could not be */
	struct probe_result real;
	enum expect_outcome outcome;
	char *explain; /* offline stages as text */
};

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

static int parse_args(int argc, char **argv, struct test_args *a)
{
	static const struct option opts[] = {
	    {"lab", required_argument, NULL, 'l'},
	    {"offline", no_argument, NULL, 'o'},
	    {"junit", required_argument, NULL, 'J'},
	    {"json", no_argument, NULL, 'j'},
	    {"generate", required_argument, NULL, 'g'},
	    {"cover", no_argument, NULL, 'c'},
	    {"coverage", no_argument, NULL, 'C'},
	    {"min-coverage", required_argument, NULL, 'm'},
	    {"sarif", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	memset(a, 0, sizeof(*a));
	a->min_coverage = -1;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = cli_getopt(argc, argv, opts, "test", &a->expect)) != -1) {
		if (c == CLI_OPT_BAD)
			return -EINVAL;
		switch (c) {
		case 'l':
			a->lab = optarg;
			break;
		case 'o':
			a->offline = true;
			break;
		case 'J':
			a->junit = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'g':
			a->generate = optarg;
			break;
		case 'c':
			a->cover = true;
			break;
		case 'C':
			a->coverage = true;
			break;
		case 'm': {
			char *end;
			a->min_coverage = strtod(optarg, &end);
			if (end == optarg || *end || a->min_coverage < 0 || a->min_coverage > 100) {
				fprintf(stderr, "vpcfw test: bad --min-coverage '%s' (0-100)\n",
					optarg);
				return -EINVAL;
			}
			a->coverage = true;
			break;
		}
		case 'S':
			a->sarif = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, "vpcfw test: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (!a->expect == !a->generate) {
		fprintf(stderr, "vpcfw test: EXPECT or --generate LAB is required (not both)\n");
		return -EINVAL;
	}
	return 0;
}

/* ---- offline ---- */

static const char *stage_owner(const struct lab *lab, const struct stage_verdict *v)
{
	if (v->eni >= 0 && (v->stage == STAGE_SG_EGRESS || v->stage == STAGE_SG_INGRESS))
		return lab_eni_label(lab, v->eni);
	if (v->subnet >= 0 && (size_t)v->subnet < lab->n_subnets)
		return lab->subnets[v->subnet].id;
	return NULL;
}

static void stage_line(FILE *out, const struct lab *lab, const struct stage_verdict *v,
		       const struct flow *f)
{
	char why[1024];
	const char *owner = stage_owner(lab, v);
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

static char *explain_flow(const struct lab *lab, const struct test_flow *t)
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

static int evaluate_offline(const struct lab *lab, struct test_flow *t)
{
	struct query_spec s;
	char err[512];
	query_spec_init(&s);
	s.from = t->ef->from;
	s.to = t->ef->to;
	s.proto = t->it->proto;
	s.port = t->it->port;
	s.icmp_type = t->it->icmp_type;
	s.icmp_code = t->it->icmp_code;
	if (query_build(lab, &s, &t->q, err, sizeof(err), NULL, 0) < 0)
		return -EINVAL; /* expect_expand already refused these */
	pipeline_check(lab, &t->q, &t->c);
	t->from_label =
	    t->q.client.kind == END_ENI ? lab_eni_label(lab, t->q.client.eni) : t->ef->from;
	t->to_label = t->q.server.kind == END_ENI ? lab_eni_label(lab, t->q.server.eni) : t->ef->to;
	t->explain = explain_flow(lab, t);
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

/* ---- outside hosts for the run ---- */

/* An outside address of a flow that has no host in the lab. */
static const struct ip_addr *missing_addr(const struct test_flow *t)
{
	return t->q.client.kind == END_ENI ? &t->q.request.dst : &t->q.request.src;
}

static bool is_lab_format(const json_t *root)
{
	return json_is_object(root) &&
	       (json_object_get(root, "vpcs") || json_object_get(root, "outside") ||
		json_object_get(root, "lab"));
}

/* The hosts to add: {"name": "o<pid>-<i>", "addr": ...} per missing address. */
static json_t *extra_hosts(const struct test_flow *t, size_t n)
{
	json_t *arr = json_array();
	char a[IP_ADDR_STRLEN], name[TOPOLOGY_LABEL_MAX + 1], seen[64][IP_ADDR_STRLEN];
	size_t ns = 0;
	for (size_t i = 0; i < n && ns < 64; i++) {
		if (!t[i].needs_host)
			continue;
		ip_addr_format(missing_addr(&t[i]), a, sizeof(a));
		size_t k;
		for (k = 0; k < ns && strcmp(seen[k], a); k++)
			;
		if (k < ns)
			continue;
		snprintf(seen[ns], sizeof(seen[ns]), "%s", a);
		snprintf(name, sizeof(name), "o%x-%zu", (unsigned)getpid() & 0xfffffu, ns++);
		json_array_append_new(arr, json_pack("{s:s, s:s}", "name", name, "addr", a));
	}
	return arr;
}

/* One file of the lab into dir: our lab file gets the extra hosts, any
 * other (describe-* output) is linked as it is. true when it took them. */
static bool copy_lab_file(const char *path, const char *dir, json_t *extra, bool give)
{
	char out[PATH_MAX], real[PATH_MAX], *base = strdup(path);
	bool took = false;
	if (!base)
		return false;
	snprintf(out, sizeof(out), "%s/%s", dir, basename(base));
	json_t *root = give ? json_load_file(path, 0, NULL) : NULL;
	if (root && is_lab_format(root)) {
		json_t *hosts = json_object_get(root, "outside");
		if (!json_is_array(hosts))
			json_object_set_new(root, "outside", (hosts = json_array()));
		json_array_extend(hosts, extra);
		took = json_dump_file(root, out, JSON_INDENT(2)) == 0;
	}
	if (!took && realpath(path, real))
		(void)!symlink(real, out);
	json_decref(root);
	free(base);
	return took;
}

/* A copy of the lab in dir/lab with a host for every outside address the
 * flows use and the lab does not declare; its path into out. */
static int augment_lab(const char *lab_path, const char *dir, const struct test_flow *t, size_t n,
		       char *out, size_t len)
{
	struct stat st;
	json_t *extra = extra_hosts(t, n);
	bool took = false;
	snprintf(out, len, "%s/lab", dir);
	if (stat(lab_path, &st) < 0 || mkdir(out, 0700) < 0) {
		json_decref(extra);
		return -errno;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(lab_path);
		struct dirent *e;
		char p[PATH_MAX];
		while (d && (e = readdir(d))) {
			size_t l = strlen(e->d_name);
			if (e->d_name[0] == '.' || l < 6 || strcmp(e->d_name + l - 5, ".json"))
				continue;
			snprintf(p, sizeof(p), "%s/%s", lab_path, e->d_name);
			took |= copy_lab_file(p, out, extra, !took);
		}
		if (d)
			closedir(d);
	} else {
		took = copy_lab_file(lab_path, out, extra, true);
	}
	int r = 0;
	if (!took) {
		char p[PATH_MAX + 32];
		json_t *root = json_pack("{s:O}", "outside", extra);
		snprintf(p, sizeof(p), "%s/vpcfw-test-outside.json", out);
		r = json_dump_file(root, p, JSON_INDENT(2)) == 0 ? 0 : -EIO;
		json_decref(root);
	}
	json_decref(extra);
	return r;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path); /* best effort: what stays is reported by nothing */
	return 0;
}

/* The vpcfwd started for this run, if any. */
struct test_daemon {
	pid_t pid;
	char name[TOPOLOGY_LAB_NAME_MAX + 1];
	char dir[64];
	char log[96];
	bool died;
};

static volatile pid_t test_daemon_pid;

static void on_signal(int sig)
{
	pid_t pid = test_daemon_pid;
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	_exit(128 + sig);
}

static void vpcfwd_path(char *buf, size_t len)
{
	const char *env = getenv("VPCFWD");
	char self[PATH_MAX];
	ssize_t n;
	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(buf, len, "%s/vpcfwd", dirname(self));
		if (access(buf, X_OK) == 0)
			return;
	}
	snprintf(buf, len, "vpcfwd");
}

static bool daemon_ready(struct test_daemon *d)
{
	char line[512];
	bool ready = false;
	FILE *in = fopen(d->log, "r");
	while (in && !ready && fgets(line, sizeof(line), in))
		ready = strstr(line, "ready: lab") != NULL;
	if (in)
		fclose(in);
	return ready;
}

static void daemon_exec(const char *lab_path, const char *name, struct test_daemon *d)
{
	char bin[PATH_MAX], flowlog[128];
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
	}
	vpcfwd_path(bin, sizeof(bin));
	snprintf(flowlog, sizeof(flowlog), "%s/flow.log", d->dir);
	execlp(bin, bin, "--lab", lab_path, "--name", name, "--flow-log", flowlog, (char *)NULL);
	fprintf(stderr, "vpcfw test: cannot run %s: %s\n", bin, strerror(errno));
	_exit(127);
}

static void daemon_cleanup_dir(struct test_daemon *d)
{
	nftw(d->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void daemon_print_log(const struct test_daemon *d)
{
	char line[512];
	FILE *in = fopen(d->log, "r");
	while (in && fgets(line, sizeof(line), in))
		fprintf(stderr, "  vpcfwd: %s", line);
	if (in)
		fclose(in);
}

static int daemon_dir(struct test_daemon *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/vpcfw-test.XXXXXX");
	if (!mkdtemp(d->dir)) {
		d->dir[0] = '\0';
		return -errno;
	}
	return 0;
}

static int daemon_start(const char *lab_path, struct test_daemon *d)
{
	snprintf(d->log, sizeof(d->log), "%s/vpcfwd.log", d->dir);
	snprintf(d->name, sizeof(d->name), "vtest-%x", (unsigned)getpid());
	fflush(NULL);
	d->pid = fork();
	if (d->pid == 0)
		daemon_exec(lab_path, d->name, d);
	if (d->pid < 0)
		return -errno;
	test_daemon_pid = d->pid;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (int i = 0; i < TEST_READY_S * 10; i++) {
		if (daemon_ready(d))
			return 0;
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = 0;
			test_daemon_pid = 0;
			fprintf(stderr, "vpcfw test: vpcfwd exited before it was ready:\n");
			daemon_print_log(d);
			return -ECHILD;
		}
		usleep(100000);
	}
	fprintf(stderr, "vpcfw test: vpcfwd not ready after %d s\n", TEST_READY_S);
	return -ETIMEDOUT;
}

static void daemon_stop(struct test_daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		int i;
		for (i = 0; i < 100 && waitpid(d->pid, NULL, WNOHANG) == 0; i++)
			usleep(100000);
		if (i == 100) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
		}
	}
	test_daemon_pid = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (d->dir[0])
		daemon_cleanup_dir(d);
}

static const char *daemon_check(void *arg)
{
	struct test_daemon *d = arg;
	if (d->pid <= 0 || d->died)
		return d->died ? "vpcfwd died during the run" : NULL;
	pid_t r = waitpid(d->pid, NULL, WNOHANG);
	if (r == d->pid || (r < 0 && errno == ECHILD)) {
		d->died = true;
		d->pid = 0;
		test_daemon_pid = 0;
		return "vpcfwd died during the run";
	}
	return NULL;
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

/* Starts vpcfwd for the run, on a copy of the lab with the outside hosts
 * the flows need when some are missing; hosts gets that copy's model. */
static int start_for_run(const char *lab_path, struct test_flow *t, size_t n, size_t missing,
			 struct test_daemon *d, struct lab **hosts)
{
	char aug[PATH_MAX];
	const char *path = lab_path;
	int ret = daemon_dir(d);
	if (ret == 0 && missing) {
		ret = augment_lab(lab_path, d->dir, t, n, aug, sizeof(aug));
		if (ret == 0 && (ret = load_lab(aug, hosts)) == 0)
			path = aug;
	}
	if (ret == 0)
		ret = daemon_start(path, d);
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
	struct test_daemon d = {0};
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
	probe_run_all(specs, res, m, TEST_PARALLEL, daemon_check, &d);
	for (size_t k = 0; k < m; k++) {
		t[idx[k]].probed = true;
		t[idx[k]].real = res[k];
		t[idx[k]].probed_dst = specs[k].dst;
	}
out:
	daemon_stop(&d);
	lab_free(hosts);
	free(specs);
	free(res);
	free(idx);
	return ret;
}

/* ---- rule coverage ---- */

struct test_coverage {
	bool on;
	struct rule_index ri;
	uint8_t *hit;
	size_t exercised;
};

static int coverage_compute(const struct lab *lab, const struct test_flow *t, size_t n,
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

static void coverage_free(struct test_coverage *cv)
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
		       size_t passed, const struct test_coverage *cv)
{
	json_t *o = json_object(), *flows = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(flows, flow_json(lab, &t[i]));
	json_object_set_new(o, "file", json_string(file));
	json_object_set_new(o, "lab", json_string(lab->source));
	json_object_set_new(o, "real_traffic",
			    test_served_by[0] ? json_string(test_served_by) : json_null());
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

static int report(const struct lab *lab, const struct test_args *a, struct test_flow *t, size_t n,
		  const struct test_coverage *cv)
{
	size_t count[4] = {0};
	for (size_t i = 0; i < n; i++) {
		decide(&t[i]);
		count[t[i].outcome]++;
	}
	if (a->json) {
		print_json(lab, a->expect, t, n, count[EXPECT_PASS], cv);
	} else {
		printf("%s: lab %s; real traffic: %s\n", a->expect, lab->source,
		       test_served_by[0] ? test_served_by : "none (--offline)");
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
static void report_early_stop(const struct test_args *a, const char *name, const char *why)
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
		report_early_stop(a, "expectations", why ? why : "bad expectations");
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
	if (a->coverage && coverage_compute(lab, t, n, &cv) < 0)
		goto out;
	if (!a->offline && geteuid() != 0) {
		fprintf(stderr, "vpcfw test: real traffic needs root (or use --offline)\n");
		report_early_stop(a, "real traffic", "real traffic needs root (or use --offline)");
		goto out;
	}
	if (!a->offline && run_real(lab, lab_path, t, n) < 0) {
		report_early_stop(a, "real traffic",
				  "cannot send real traffic: vpcfwd did not start");
		goto out;
	}
	status = report(lab, a, t, n, &cv);
out:
	coverage_free(&cv);
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
	int r = parse_args(argc, argv, &a);
	if (r == 1)
		return 0;
	if (r < 0) {
		usage(stderr);
		return 2;
	}
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
		report_early_stop(&a, "expectations", why ? why : "cannot load the expectations");
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
		report_early_stop(&a, "lab", "lab: missing (give it in the file or with --lab)");
	} else if ((lab = cli_lab_load_text("vpcfw test", lab_path, false, &why))) {
		status = run(&a, &f, lab, lab_path);
	} else {
		char name[PATH_MAX + 8];
		snprintf(name, sizeof(name), "load %s", lab_path);
		report_early_stop(&a, name, why ? why : "the lab does not load");
	}
	free(why);
	lab_free(lab);
	expect_file_free(&f);
	return status;
}
