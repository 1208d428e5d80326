/*
 * Every blocker of a flow and the smallest set of changes that would admit
 * it (`vpcfw check --all`), as AWS Reachability Analyzer explains a
 * blocked path. pipeline_check() stops at the first rejecting stage; here
 * every stage of the request and of its response is evaluated as if all
 * the others admitted, so each stage that would reject is listed. Each
 * needs one change of its own (stages are independent gates: AWS-SEMANTICS
 * §1), and one change per stage is enough: an SG rule for the flow, a NACL
 * allow numbered before the lowest entry refusing it (first match, §2), a
 * route or a public IP. So the list is the smallest set that admits.
 *
 * Not for: printing (tools/cmd_check.c), the ordinary verdict
 * (pipeline_check stays the authority on ACCEPT/REJECT).
 */
#ifndef VPCFW_ADMIT_H
#define VPCFW_ADMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline.h"

struct admit_blocker {
	bool response;		/* a stage of the response */
	struct stage_verdict v; /* the stage, evaluated alone */
	struct flow flow;	/* the packet it saw (the reply: dport the first refused port) */
	bool fixable;		/* false: no rule change admits it (say why in change) */
	char change[512];	/* "add to sg-… (app) ingress: tcp 5432 from sg-… (web)" */
	int same_as;		/* index of an earlier blocker with this very change, else -1 */
};

#define ADMIT_MAX (2 * PIPELINE_MAX_STAGES)

struct admit_report {
	struct admit_blocker items[ADMIT_MAX];
	size_t n;
	size_t n_changes; /* distinct changes */
	bool fixable;	  /* every blocker has a change */
};

void admit_analyze(const struct lab *lab, const struct pipeline_query *q, struct admit_report *out);

#endif
