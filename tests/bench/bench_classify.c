/*
 * First-packet classification cost: pipeline_evaluate() for a new flow
 * (all four stages, SG rules scanned, the untracked decision made) against
 * an ENI carrying 10, 100 and 1000 security group rules, with the allowing
 * rule last (worst case) and first (best case), side by side with the
 * baseline of the same invocation: a packet of a tracked connection, whose
 * SG stages are skipped and only the NACLs run (the data path's fast path
 * after the conntrack lookup). Medians of repeated batches, ns per packet.
 * Also: the reply's ephemeral-range check of `vpcfw check` (28,232 ports
 * of 32768-60999) by rule-boundary intervals against the per-port loop it
 * replaces, on a NACL of 20 egress rules. And the SG rule lookup by the
 * scan against the table compiled once per ENI (sgtable.h, issue 9), and
 * the first-packet rows with the lab's tables attached beside the scan.
 * Arguments: lab files (tools/biglab.py N) whose tables' memory, build
 * time per distinct group list and first-packet time are reported too.
 * Built, never run by ctest:
 * figures, not assertions.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../unit/labkit.h"
#include "diag.h"
#include "load.h"
#include "nacl.h"
#include "pipeline.h"
#include "sg.h"
#include "sgtable.h"

#define BATCHES 31
#define RULES_PER_GROUP 60 /* AWS's default quota per direction */

static volatile unsigned sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct bench_lab {
	struct lab *lab;
	struct pipeline_end client, server;
	struct flow f;
};

/* n ingress rules on the server, spread over groups of 60; the rule that
 * allows the client is the last one scanned or the first. */
static void build(struct bench_lab *b, int n, bool match_first)
{
	struct lab *lab = b->lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", NULL);
	int32_t acl = kit_nacl(lab, "acl-d", vpc, true);
	for (int eg = 0; eg < 2; eg++) {
		/* a realistic NACL: a few specific rules before the one that allows */
		kit_nacl_rule(lab, acl, eg, 90, false, PROTO_TCP, "192.0.2.0/24", 0, 65535);
		kit_nacl_rule(lab, acl, eg, 95, false, PROTO_UDP, "0.0.0.0/0", 137, 139);
		kit_nacl_rule(lab, acl, eg, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
	}
	int32_t sa = kit_subnet(lab, "subnet-a", vpc, "10.0.1.0/24", NULL, acl, -1);
	int32_t sb = kit_subnet(lab, "subnet-b", vpc, "10.0.2.0/24", NULL, acl, -1);
	int32_t cg = kit_group(lab, "sg-client", "client", vpc);
	kit_sg_rule(lab, cg, true, PROTO_TCP, 5432, 5432, "10.0.2.0/24");
	int ngroups = (n + RULES_PER_GROUP - 1) / RULES_PER_GROUP;
	int32_t groups[KIT_MAX];
	for (int g = 0; g < ngroups; g++) {
		char id[32];
		snprintf(id, sizeof(id), "sg-%d", g);
		groups[g] = kit_group_cap(lab, id, NULL, vpc, RULES_PER_GROUP + 1);
	}
	groups[ngroups] = -1;
	for (int i = 0; i < n; i++) {
		bool allowing = match_first ? i == 0 : i == n - 1;
		char peer[32];
		if (allowing)
			snprintf(peer, sizeof(peer), "10.0.1.10/32");
		else
			snprintf(peer, sizeof(peer), "172.%d.%d.0/24", 16 + i / 256 % 16, i % 256);
		kit_sg_rule(lab, groups[i / RULES_PER_GROUP], false, PROTO_TCP,
			    5000 + (allowing ? 0 : i % 500), allowing ? 5432 : 5000 + i % 500,
			    peer);
		if (!allowing) /* the same peer on another port: the port test fails */
			continue;
	}
	int32_t c =
	    kit_eni(lab, "eni-c", "client", sa, "10.0.1.10", NULL, NULL, (int32_t[]){cg, -1});
	int32_t s = kit_eni(lab, "eni-s", "server", sb, "10.0.2.20", NULL, NULL, groups);
	kit_finish(lab);
	b->client = (struct pipeline_end){.kind = END_ENI, .eni = c};
	b->server = (struct pipeline_end){.kind = END_ENI, .eni = s};
	b->f = (struct flow){.src = kit_addr("10.0.1.10"),
			     .dst = kit_addr("10.0.2.20"),
			     .proto = PROTO_TCP,
			     .sport = 40000,
			     .dport = 5432};
}

/* Median ns per pipeline_evaluate() call on lab (b's, or a copy of it
 * without its compiled tables). */
static double measure(const struct bench_lab *b, const struct lab *lab, unsigned flags, int iters)
{
	double per[BATCHES];
	struct pipeline_result r;
	for (int k = 0; k < BATCHES; k++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < iters; i++) {
			pipeline_evaluate(lab, &b->client, &b->server, &b->f, flags, &r);
			sink += (unsigned)r.verdict;
		}
		per[k] = (double)(now_ns() - t0) / iters;
	}
	qsort(per, BATCHES, sizeof(per[0]), cmp_double);
	return per[BATCHES / 2];
}

/* A NACL of 20 egress rules whose port ranges cut the ephemeral range
 * into many intervals, all allowed in the end. */
static int32_t range_nacl(struct lab *lab)
{
	int32_t vpc = kit_vpc(lab, "vpc-r", "10.0.0.0/16", NULL);
	int32_t acl = kit_nacl(lab, "acl-r", vpc, false);
	for (unsigned i = 0; i < 19; i++) {
		unsigned lo = 30000 + i * 1500;
		kit_nacl_rule(lab, acl, true, 100 + i, true, PROTO_TCP, "10.0.0.0/8", lo,
			      lo + 1499);
	}
	kit_nacl_rule(lab, acl, true, 200, true, PROTO_TCP, "0.0.0.0/0", 1024, 65535);
	return acl;
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

static void bench_reply_range(void)
{
	struct lab *lab = kit_new();
	const struct nacl *acl = &lab->nacls[range_nacl(lab)];
	struct flow f = {.src = kit_addr("10.0.2.20"),
			 .dst = kit_addr("10.0.1.10"),
			 .proto = PROTO_TCP,
			 .sport = 5432};
	double by_ranges[BATCHES], by_port[BATCHES];
	for (int k = 0; k < BATCHES; k++) {
		struct nacl_decision d;
		uint16_t port;
		uint64_t t0 = now_ns();
		for (int i = 0; i < 100; i++)
			sink += nacl_evaluate_ports(acl, true, &f, 32768, 60999, &port, &d);
		by_ranges[k] = (double)(now_ns() - t0) / 100;
		t0 = now_ns();
		bool all = true;
		for (unsigned p = 32768; p <= 60999 && all; p++) {
			f.dport = (uint16_t)p;
			all = nacl_evaluate(acl, true, &f, &d);
		}
		sink += all;
		by_port[k] = (double)(now_ns() - t0);
	}
	double r = median_of(by_ranges, BATCHES), p = median_of(by_port, BATCHES);
	printf(
	    "\nreply over the ephemeral range 32768-60999, NACL of 20 egress rules, median ns\n\n");
	printf("%22s %22s %8s\n", "by intervals (ns)", "per-port loop (ns)", "speedup");
	printf("%22.0f %22.0f %7.0fx\n", r, p, p / r);
	kit_free(lab);
}

/* Median ns of the server's SG ingress rule lookup, by the scan
 * (sg_evaluate_scan) or the compiled table; the same answer either way. */
static double measure_sg(const struct bench_lab *b, const struct sg_table *t, int iters)
{
	double per[BATCHES];
	const struct eni *e = &b->lab->enis[b->server.eni];
	struct sg_match m;
	for (int k = 0; k < BATCHES; k++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < iters; i++)
			sink += t ? sg_table_evaluate(t, &b->f, &m)
				  : sg_evaluate_scan(b->lab, e, false, &b->f, &m);
		per[k] = (double)(now_ns() - t0) / iters;
	}
	return median_of(per, BATCHES);
}

/* The SG rule lookup compiled once per ENI (sgtable.h, issue 9) beside
 * the scan it would replace, allowing rule last. */
static void bench_sg_table(const int *sizes, size_t n_sizes)
{
	printf(
	    "\nSG ingress rule lookup, allowing rule last: scan (sg_evaluate_scan) against the\n"
	    "compiled table (sg_table_evaluate), median ns; build once per ENI and direction\n\n");
	printf("%8s %12s %12s %10s %10s %12s\n", "SG rules", "scan (ns)", "table (ns)", "speedup",
	       "regions", "build (ms)");
	for (size_t i = 0; i < n_sizes; i++) {
		struct bench_lab b;
		build(&b, sizes[i], false);
		struct sg_table *t;
		uint64_t t0 = now_ns();
		if (sg_table_build(b.lab, &b.lab->enis[b.server.eni], false, &t) < 0) {
			fprintf(stderr, "sg_table_build: out of memory\n");
			exit(1);
		}
		double build_ms = (double)(now_ns() - t0) / 1e6;
		int iters = sizes[i] >= 1000 ? 2000 : 20000;
		double scan = measure_sg(&b, NULL, iters), table = measure_sg(&b, t, 200000);
		printf("%8d %12.0f %12.0f %9.0fx %10zu %12.1f\n", sizes[i], scan, table,
		       scan / table, sg_table_regions(t), build_ms);
		sg_table_free(t);
		kit_free(b.lab);
	}
}

/* Tables attached to the lab (as the daemon does); exits when out of memory. */
static void attach(struct lab *lab, struct sg_tables_stats *st)
{
	if (sg_tables_attach(lab, &(struct sg_tables_limits){0}, st) < 0) {
		fprintf(stderr, "sg_tables_attach: out of memory\n");
		exit(1);
	}
}

/* One row: pipeline_evaluate for a new flow, scanning (a copy of the lab
 * without tables) and from the lab's tables, in the same run. */
static void first_packet_row(int n)
{
	int iters = n >= 1000 ? 2000 : 20000;
	struct bench_lab last, first;
	struct sg_tables_stats st;
	build(&last, n, false);
	build(&first, n, true);
	struct lab scan_last = *last.lab, scan_first = *first.lab;
	attach(last.lab, &st);
	attach(first.lab, &st);
	struct pipeline_result r;
	pipeline_evaluate(last.lab, &last.client, &last.server, &last.f, 0, &r);
	if (r.verdict != VERDICT_ACCEPT) {
		fprintf(stderr, "bench lab does not accept the flow\n");
		exit(1);
	}
	double s_last = measure(&last, &scan_last, 0, iters);
	double t_last = measure(&last, last.lab, 0, 200000);
	double s_first = measure(&first, &scan_first, 0, iters);
	double t_first = measure(&first, first.lab, 0, 200000);
	double base = measure(&last, last.lab, PIPELINE_SRC_TRACKED | PIPELINE_DST_TRACKED, 200000);
	printf("%8d %11.0f %11.0f %11.0f %11.0f %10.0f %9.1fx\n", n, s_last, t_last, s_first,
	       t_first, base, s_last / t_last);
	kit_free(last.lab);
	kit_free(first.lab);
}

static void bench_first_packet(const int *sizes, size_t n_sizes)
{
	printf("first-packet classification (pipeline_evaluate: 4 stages, SG verdict and the\n"
	       "untracked decision), rules scanned against the lab's compiled tables, same run;\n"
	       "median of %d batches, ns/packet; baseline: a tracked packet (NACLs only)\n\n",
	       BATCHES);
	printf("%8s %11s %11s %11s %11s %10s %10s\n", "SG rules", "last: scan", "last: table",
	       "first: scan", "first:table", "baseline", "speedup");
	for (size_t i = 0; i < n_sizes; i++)
		first_packet_row(sizes[i]);
}

/* An account-sized lab (biglab.py): the tables' cost per distinct group
 * list, and first packets between random ENIs, scan against tables. */
static void bench_lab_file(const char *path)
{
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;
	lab_load_opts_init(&o);
	diag_init(&d);
	if (lab_load(path, &o, &lab, &d) < 0) {
		fprintf(stderr, "%s: cannot load (%zu errors)\n", path, d.n_errors);
		exit(1);
	}
	diag_free(&d);
	struct lab scanned = *lab;
	size_t rules = 0;
	for (size_t g = 0; g < lab->n_groups; g++)
		rules += lab->groups[g].n_rules;
	struct sg_tables_stats st;
	attach(lab, &st);
	printf("\n%s: %zu ENIs, %zu groups, %zu SG rules\n", path, lab->n_enis, lab->n_groups,
	       rules);
	printf("  tables: %zu group lists, %zu tables, %zu regions, %.1f MiB, built in %.0f ms\n"
	       "  per group list: %.0f KiB, %.1f ms\n",
	       st.sets, st.tables, st.regions, (double)st.bytes / (1 << 20), st.seconds * 1e3,
	       (double)st.bytes / 1024 / (double)(st.sets ? st.sets : 1),
	       st.seconds * 1e3 / (double)(st.sets ? st.sets : 1));
	enum { FLOWS = 512 };
	static struct pipeline_end src[FLOWS], dst[FLOWS];
	static struct flow fl[FLOWS];
	uint32_t x = 12345;
	for (int i = 0; i < FLOWS; i++) {
		x = x * 1103515245u + 12345u;
		size_t a = (x >> 8) % lab->n_enis, b = (x >> 3) % lab->n_enis;
		src[i] = (struct pipeline_end){.kind = END_ENI, .eni = (int32_t)a};
		dst[i] = (struct pipeline_end){.kind = END_ENI, .eni = (int32_t)b};
		fl[i] = (struct flow){.src = lab->enis[a].ipv4[0],
				      .dst = lab->enis[b].ipv4[0],
				      .proto = PROTO_TCP,
				      .sport = 40000,
				      .dport = 443};
		/* half of them to a port a rule of the receiver's first group names */
		const struct security_group *g = &lab->groups[lab->enis[b].groups[0]];
		if ((x >> 28) & 1 && g->n_rules && g->rules[(x >> 12) % g->n_rules].from_port > 0)
			fl[i].dport = (uint16_t)g->rules[(x >> 12) % g->n_rules].from_port;
	}
	double per[2][BATCHES];
	unsigned accepted = 0;
	for (int k = 0; k < BATCHES; k++)
		for (int t = 0; t < 2; t++) {
			const struct lab *l = t ? lab : &scanned;
			struct pipeline_result r;
			uint64_t t0 = now_ns();
			for (int i = 0; i < FLOWS; i++) {
				pipeline_evaluate(l, &src[i], &dst[i], &fl[i], 0, &r);
				accepted += r.verdict == VERDICT_ACCEPT;
			}
			per[t][k] = (double)(now_ns() - t0) / FLOWS;
		}
	double s = median_of(per[0], BATCHES), t = median_of(per[1], BATCHES);
	printf("  first packets between random ENIs (TCP, %u%% accepted): scan %.0f ns, "
	       "table %.0f ns (%.1fx)\n",
	       accepted * 100 / (2 * BATCHES * FLOWS), s, t, s / t);
	sink += accepted;
	lab_free(lab);
}

/* Arguments: lab files (biglab.py N) to report on as well. */
int main(int argc, char **argv)
{
	static const int sizes[] = {10, 100, 1000};
	bench_first_packet(sizes, sizeof(sizes) / sizeof(sizes[0]));
	bench_sg_table(sizes, sizeof(sizes) / sizeof(sizes[0]));
	bench_reply_range();
	for (int i = 1; i < argc; i++)
		bench_lab_file(argv[i]);
	return sink == 0xffffffffu; /* keeps the loop */
}
