/*
 * SARIF 2.1.0 output (`--sarif FILE` of lint, test and diff) for
 * code-scanning UIs: one run, the tool's rule table, and one result per
 * finding with a rule id, a level, a message and where: the artifact (the
 * lab file or the expectations file), a line when known, and logical
 * locations for the JSON path of the rule and, when the lab came from
 * Terraform, the resource address (kind "resource"), so a viewer can
 * annotate either the JSON or the .tf source. Not for deciding anything.
 */
#ifndef VPCFW_TOOLS_SARIF_H
#define VPCFW_TOOLS_SARIF_H

#include <stddef.h>

#include "model.h"

struct sarif_rule {
	const char *id;
	const char *level;   /* default level: "error", "warning", "note" */
	const char *summary; /* shortDescription */
};

struct sarif_location {
	const char *uri;       /* a path as the user gave it; NULL: no physical location */
	int line;	       /* 1-based, 0 when unknown (then the line of the JSON path is
				* looked up in uri, else 1) */
	const char *json_path; /* NULL when none */
	const char *resource;  /* Terraform resource address ("aws_security_group.web"), NULL */
};

struct sarif_result {
	const char *rule_id;
	const char *level;
	const char *message;
	struct sarif_location loc;
};

/* Where a rule of the lab was written: its file and JSON path, or, for a
 * lab read from Terraform, the plan or state and the resource address
 * (the attribute's address, e.g. "aws_security_group.web.ingress[1]",
 * becomes the member). fallback_uri stands in for an origin without a
 * file (the lab's own source). */
struct sarif_location sarif_location_of(const struct origin *o, const char *fallback_uri);

/* Writes the log to path ("-" for stdout). command names the vpcfw
 * subcommand ("lint", "test", "diff") in the run's automation details.
 * 0 or a negative errno. */
int sarif_write(const char *path, const char *command, const struct sarif_rule *rules,
		size_t n_rules, const struct sarif_result *res, size_t n);

#endif
