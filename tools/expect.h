/*
 * Expectations files for `vpcfw test` (DESIGN.md contract 6): loading the
 * YAML (or JSON, the same structure) with libyaml, expanding selectors
 * (subnet:ID, sg:ID, a glob on Name tags) into every ENI they cover, and
 * writing JUnit XML. Every problem is reported with its file, line and key,
 * all of them, and nothing runs when there is one.
 *
 * Not for: evaluating flows (rules/pipeline via rules/query) or sending
 * traffic (tools/probe.h); cmd_test.c ties them together.
 *
 * Usage:
 *	struct expect_file f;
 *	struct expect_errors e = {0};
 *	if (expect_load("x/expect.yaml", &f, &e) < 0) { expect_errors_print(&e, stderr); }
 *	... load f.lab_path ...
 *	struct expect_flow *flows; size_t n;
 *	if (expect_expand(lab, &f, &flows, &n, &e) < 0) ...
 *	expect_flows_free(flows, n); expect_file_free(&f); expect_errors_free(&e);
 */
#ifndef VPCFW_EXPECT_H
#define VPCFW_EXPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model.h"

struct pipeline_query;

#define EXPECT_DEFAULT_TIMEOUT_MS 1000

struct expect_item {
	char *name; /* NULL: generated from the fields */
	char *from, *to;
	int proto;		  /* 0..255 */
	int port;		  /* TCP/UDP; -1 when absent */
	int icmp_type, icmp_code; /* -1: contract 4's defaults */
	bool accept;
	int timeout_ms; /* the file's when absent */
	int line;	/* of the item, 1-based */
	int from_line, to_line;
};

struct expect_file {
	char *path;
	char *lab_path; /* resolved relative to the file; NULL when absent */
	int timeout_ms;
	struct expect_item *items;
	size_t n;
};

/* Collected problems, each "file:line: key: message". */
struct expect_errors {
	char **msgs;
	size_t n;
};

void expect_errors_add(struct expect_errors *e, const char *file, int line, const char *key,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void expect_errors_print(const struct expect_errors *e, FILE *out);
void expect_errors_free(struct expect_errors *e);

/* 0, or -EINVAL / -ENOENT with every problem in e and *f empty. */
int expect_load(const char *path, struct expect_file *f, struct expect_errors *e);
void expect_file_free(struct expect_file *f);

/* One expanded flow: from/to are names query_build resolves (ENI ids for
 * selector expansions, else the name as written). */
struct expect_flow {
	size_t item; /* index into f->items */
	char *from, *to;
	char *name; /* the item's name, with " [from -> to]" for expansions */
};

/* Whether a name is a selector (subnet:, sg:, or contains * ? [). */
bool expect_is_selector(const char *name);
/* The ENIs a selector covers, as indices into lab->enis (caller frees).
 * 0 with *n possibly 0, or -EINVAL for an unknown selector kind. */
int expect_select(const struct lab *lab, const char *sel, int32_t **out, size_t *n);

/* Expands every item into flows, checks every name (unknown endpoint,
 * selector matching nothing) and every combination query_build refuses. */
int expect_expand(const struct lab *lab, const struct expect_file *f, struct expect_flow **out,
		  size_t *n, struct expect_errors *e);
void expect_flows_free(struct expect_flow *flows, size_t n);

/* JUnit XML: one testsuite for the file, one testcase per flow. */
enum expect_outcome { EXPECT_PASS, EXPECT_FAIL, EXPECT_ERROR, EXPECT_DISAGREE };
struct junit_case {
	const char *name;
	enum expect_outcome outcome;
	const char *message; /* one line; failure/error message attribute */
	const char *text;    /* the explanation */
	double seconds;
	const char *type; /* failure/error type attribute; NULL: from the outcome */
};
int junit_write(const char *out_path, const char *suite, const struct junit_case *c, size_t n);

/* The flow of item it from from to to (names or addresses) as
 * rules/query builds it: 0, or -EINVAL with the reason in err. */
int expect_query(const struct lab *lab, const struct expect_item *it, const char *from,
		 const char *to, struct pipeline_query *q, char *err, size_t errlen);

/* `vpcfw test --generate LAB`: the lab's reachability now, as an
 * expectations file whose lab is lab_ref. 0, or -ENOENT when no flow. */
int expect_generate(const struct lab *lab, const char *lab_ref, FILE *out);
/* `--generate LAB --cover`: few flows exercising every reachable rule
 * (tools/expect_cover.c). 0, -ENOENT when no rule is reachable, -ENOMEM. */
int expect_generate_cover(const struct lab *lab, const char *lab_ref, FILE *out);

#endif
