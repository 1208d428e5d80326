/*
 * How long `vpcfw diff` takes on the `million` example against a modified
 * copy (each NACL's and group's first ingress rule opened to all traffic
 * from 0.0.0.0/0), through reach_diff, beside a port-by-port baseline:
 * pipeline_check for every TCP port of one pair in both labs, the work the
 * interval engine avoids, scaled to every pair and class the diff covers.
 * Prints medians; asserts nothing.
 * Usage: bench_diff [LAB] (default $VPCFW_SOURCE_DIR/examples/million, else
 * examples/million).
 *
 * bench_diff [--no-pairwise] OLD NEW: the diff of two given labs (an
 * account-sized one and its edit, tests/bench/diff_scale.sh makes them),
 * median of 3, by equivalence classes (what vpcfw diff does) beside pair
 * by pair (reach_opts.pairwise, the evaluation before classes);
 * --no-pairwise leaves the latter out where it would take an hour.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "load.h"
#include "pipeline.h"
#include "reach.h"

#define RUNS 7

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), dbl_cmp);
	return v[n / 2];
}

static struct lab *load(const char *path)
{
	struct lab_load_opts o;
	lab_load_opts_init(&o);
	struct diag_list d;
	diag_init(&d);
	struct lab *lab = NULL;
	if (lab_load(path, &o, &lab, &d) < 0) {
		char buf[512];
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", diag_format(&d.items[i], buf, sizeof(buf)));
	}
	diag_free(&d);
	return lab;
}

/* The modification, a broad one so the diff has much to report: each
 * NACL's first ingress rule and each group's first ingress rule become
 * "all traffic from 0.0.0.0/0". */
static void modify(struct lab *lab)
{
	struct ip_prefix all;
	if (ip_prefix_parse("0.0.0.0/0", &all, NULL) < 0)
		abort();
	for (size_t i = 0; i < lab->n_nacls; i++) {
		if (!lab->nacls[i].n_ingress)
			continue;
		struct nacl_entry *e = &lab->nacls[i].ingress[0];
		e->protocol = PROTO_ALL;
		e->allow = true;
		e->cidr = all;
	}
	for (size_t g = 0; g < lab->n_groups; g++)
		for (size_t r = 0; r < lab->groups[g].n_rules; r++) {
			struct sg_rule *x = &lab->groups[g].rules[r];
			if (x->egress)
				continue;
			x->protocol = PROTO_ALL;
			x->peer_kind = SG_PEER_CIDR;
			x->cidr = all;
			break;
		}
}

/* pipeline_check for every TCP port from ENI 0 to ENI 1. */
static size_t port_by_port(const struct lab *lab)
{
	struct pipeline_query q;
	pipeline_query_init(&q);
	q.client = (struct pipeline_end){.kind = END_ENI, .eni = 0};
	q.server = (struct pipeline_end){.kind = END_ENI, .eni = 1};
	q.request.src = lab->enis[0].ipv4[0];
	q.request.dst = lab->enis[1].ipv4[0];
	q.request.proto = PROTO_TCP;
	q.request.sport = q.eph_lo;
	size_t accepted = 0;
	for (uint32_t p = 0; p <= 65535; p++) {
		struct pipeline_check c;
		q.request.dport = (uint16_t)p;
		pipeline_check(lab, &q, &c);
		accepted += c.verdict == VERDICT_ACCEPT;
	}
	return accepted;
}

static double diff_once(const struct lab *old_lab, const struct lab *new_lab, bool pairwise,
			struct reach_changes *ch)
{
	struct reach_opts o;
	reach_opts_init(&o);
	o.pairwise = pairwise;
	reach_changes_init(ch);
	double t0 = now();
	if (reach_diff(old_lab, new_lab, &o, ch) < 0) {
		fprintf(stderr, "bench_diff: out of memory\n");
		exit(2);
	}
	return now() - t0;
}

static double diff_median(const struct lab *old_lab, const struct lab *new_lab, bool pairwise,
			  size_t *changes, size_t *pairs, size_t *endpoints)
{
	double t[3];
	for (int i = 0; i < 3; i++) {
		struct reach_changes ch;
		t[i] = diff_once(old_lab, new_lab, pairwise, &ch);
		*changes = ch.n;
		*pairs = ch.n_pairs;
		*endpoints = ch.n_endpoints;
		reach_changes_free(&ch);
	}
	return median(t, 3);
}

/* OLD against NEW, by classes and (unless skip_pairwise) pair by pair. */
static int two_labs(const char *old_path, const char *new_path, bool skip_pairwise)
{
	struct lab *old_lab = load(old_path), *new_lab = load(new_path);
	if (!old_lab || !new_lab) {
		lab_free(old_lab);
		lab_free(new_lab);
		return 2;
	}
	size_t changes = 0, pairs = 0, endpoints = 0, pw_changes = 0;
	double c = diff_median(old_lab, new_lab, false, &changes, &pairs, &endpoints);
	printf("labs %s -> %s: %zu ENIs, %zu endpoints, %zu ordered pairs, %zu changes\n", old_path,
	       new_path, old_lab->n_enis, endpoints, pairs, changes);
	printf("%-44s %12.3f s (median of 3)\n", "reach_diff by equivalence classes", c);
	if (!skip_pairwise) {
		double p = diff_median(old_lab, new_lab, true, &pw_changes, &pairs, &endpoints);
		printf("%-44s %12.3f s (median of 3, %zu changes)\n",
		       "reach_diff pair by pair (before classes)", p, pw_changes);
		printf("ratio pair-by-pair/classes: %.1fx\n", c > 0 ? p / c : 0.0);
	}
	lab_free(old_lab);
	lab_free(new_lab);
	return 0;
}

int main(int argc, char **argv)
{
	bool skip_pairwise = argc > 1 && !strcmp(argv[1], "--no-pairwise");
	if (argc - skip_pairwise == 3)
		return two_labs(argv[1 + skip_pairwise], argv[2 + skip_pairwise], skip_pairwise);
	char path[4096];
	const char *srcdir = getenv("VPCFW_SOURCE_DIR");
	if (argc > 1)
		snprintf(path, sizeof(path), "%s", argv[1]);
	else
		snprintf(path, sizeof(path), "%s%sexamples/million", srcdir ? srcdir : "",
			 srcdir ? "/" : "");
	struct lab *old_lab = load(path), *new_lab = load(path);
	if (!old_lab || !new_lab || old_lab->n_enis < 2 || !old_lab->enis[0].n_ipv4 ||
	    !old_lab->enis[1].n_ipv4) {
		fprintf(stderr, "bench_diff: cannot use %s\n", path);
		lab_free(old_lab);
		lab_free(new_lab);
		return 2;
	}
	modify(new_lab);
	struct reach_opts o;
	reach_opts_init(&o);
	double diff_t[RUNS], port_t[RUNS], load_t[RUNS];
	size_t changes = 0, pairs = 0, endpoints = 0, acc = 0;
	for (int i = 0; i < RUNS; i++) {
		struct reach_changes ch;
		reach_changes_init(&ch);
		double t0 = now();
		if (reach_diff(old_lab, new_lab, &o, &ch) < 0) {
			fprintf(stderr, "bench_diff: out of memory\n");
			return 2;
		}
		diff_t[i] = now() - t0;
		changes = ch.n;
		pairs = ch.n_pairs;
		endpoints = ch.n_endpoints;
		reach_changes_free(&ch);
		t0 = now();
		struct lab *a = load(path), *b = load(path);
		load_t[i] = now() - t0;
		lab_free(a);
		lab_free(b);
		t0 = now();
		acc = port_by_port(old_lab) + port_by_port(new_lab);
		port_t[i] = now() - t0;
	}
	double d = median(diff_t, RUNS), p = median(port_t, RUNS), l = median(load_t, RUNS);
	/* the baseline covers one pair and one class of the diff's pairs x 4 */
	double p_all = p * (double)pairs * 4.0;
	printf("lab %s: %zu endpoints, %zu ordered pairs (both families), %zu changes\n", path,
	       endpoints, pairs, changes);
	printf("%-44s %12.3f ms (median of %d)\n", "reach_diff, interval sets, whole diff", d * 1e3,
	       RUNS);
	printf("%-44s %12.3f ms (median; vpcfw diff = load + diff)\n", "lab_load of both labs",
	       l * 1e3);
	printf("%-44s %12.3f ms (%zu accepts)\n", "baseline: port by port, 1 pair, TCP, 2 labs",
	       p * 1e3, acc);
	printf("%-44s %12.3f ms (estimate)\n", "baseline scaled to every pair and class",
	       p_all * 1e3);
	printf("ratio baseline/interval: %.0fx\n", d > 0 ? p_all / d : 0.0);
	lab_free(old_lab);
	lab_free(new_lab);
	return 0;
}
