/*
 * Shared by the files of `vpcfw test` only (cmd_test.c: arguments, offline
 * evaluation, real traffic, the run; test_report.c: explanations, coverage
 * and reports). Nobody else includes this.
 */
#ifndef VPCFW_TEST_RUN_H
#define VPCFW_TEST_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cover.h"
#include "expect.h"
#include "pipeline.h"
#include "probe.h"

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

struct test_coverage {
	bool on;
	struct rule_index ri;
	uint8_t *hit;
	size_t exercised;
};

/* The stages of both directions as text, one a line (malloc'd; NULL when
 * out of memory). */
char *test_explain_flow(const struct lab *lab, const struct test_flow *t);

/* The rules the flows exercised (request or response). 0 or -ENOMEM; free
 * cv either way. */
int test_coverage_compute(const struct lab *lab, const struct test_flow *t, size_t n,
			  struct test_coverage *cv);
void test_coverage_free(struct test_coverage *cv);

/* Decides every flow, prints the run (text or --json) and writes --junit
 * and --sarif; served_by says which vpcfwd carried real traffic (NULL:
 * none). The exit status of contract 6. */
int test_report(const struct lab *lab, const struct test_args *a, struct test_flow *t, size_t n,
		const struct test_coverage *cv, const char *served_by);

/* The --junit and --sarif reports of a run that stops before its flows are
 * decided: one failed case named name, saying why. */
void test_report_early_stop(const struct test_args *a, const char *name, const char *why);

#endif
