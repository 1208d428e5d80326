/*
 * `vpcfw lint`: what a reviewer looks for in a lab's SGs and NACLs, as
 * findings, each with a stable id, a severity, the rules involved and why.
 * Every check follows AWS's documented semantics (AWS-SEMANTICS §2, §3):
 *
 *  nacl-shadowed      a NACL entry no packet ever reaches: earlier entries
 *                     with the same action match everything it matches
 *  nacl-contradicted  likewise, but an earlier entry of the other action
 *                     decides part or all of it: the entry's intent is void
 *  sg-redundant       an SG rule allowing nothing that another rule of the
 *                     same group, or of a group on every ENI carrying it,
 *                     does not allow already
 *  open-admin-port    an inbound SG rule opening an administration or
 *                     database port to 0.0.0.0/0 or ::/0
 *  nacl-no-return     a custom NACL allows a request port but the
 *                     stateless replies to the client's ephemeral ports
 *                     are denied the other way (either family)
 *  sg-ref-empty       an SG rule naming a group no ENI carries: it
 *                     matches nobody
 *  sg-unattached      a group attached to no ENI (the VPC's "default"
 *                     group excepted: AWS creates it, it cannot be deleted)
 *  family-gap         in a dual-stack subnet, a rule for all IPv4
 *                     addresses whose IPv6 counterpart decides the other
 *                     way (left open, or shut, by accident); and the
 *                     reverse
 *
 * Pure analysis over a loaded lab: no I/O, no allocation beyond the
 * result. Not for: printing (tools/cmd_lint.c), evaluating flows.
 *
 * Usage:
 *	struct lint_report rep;
 *	if (lint_run(lab, &rep) < 0) ...
 *	for (i < rep.n) rep.items[i] ...
 *	lint_report_free(&rep);
 */
#ifndef VPCFW_LINT_H
#define VPCFW_LINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cover.h"
#include "model.h"

/* Ordered: a filter keeps a level and everything above it. */
enum lint_severity { LINT_NOTE, LINT_WARNING, LINT_ERROR };

#define LINT_MAX_RULES 4

struct lint_finding {
	const char *id; /* "nacl-shadowed", ... (static) */
	enum lint_severity severity;
	char message[512];
	struct rule_ref rules[LINT_MAX_RULES]; /* the rule found first */
	size_t n_rules;
	int32_t group; /* sg-unattached: index into lab->groups; else -1 */
};

struct lint_report {
	struct lint_finding *items;
	size_t n, cap;
};

/* The checks, in the order above. 0 or -ENOMEM. */
int lint_run(const struct lab *lab, struct lint_report *out);
void lint_report_free(struct lint_report *r);

/* "note", "warning", "error" (SARIF's levels). */
const char *lint_severity_name(enum lint_severity s);
/* 0 and *s, or -EINVAL. */
int lint_severity_parse(const char *name, enum lint_severity *s);

/* Ids and one-line descriptions of every check (for SARIF's rule table and
 * --help): n entries. */
struct lint_check {
	const char *id;
	enum lint_severity severity;
	const char *summary;
};
const struct lint_check *lint_checks(size_t *n);

#endif
