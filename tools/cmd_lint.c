/*
 * `vpcfw lint LAB [--json] [--severity LEVEL] [--sarif FILE]`: the
 * findings of rules/lint for a lab, as text, as `{"findings": [...]}`
 * (each with id, severity, message and every rule involved, described by
 * tools/ruleinfo) and as SARIF for code scanning. Exit 0: no finding at or
 * above the level, 1: some, 2: error (the lab does not load, bad option).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "lint.h"
#include "load.h"
#include "ruleinfo.h"
#include "sarif.h"

struct lint_args {
	const char *lab, *sarif;
	enum lint_severity min;
	bool json;
};

static const struct lint_args lint_defaults = {.min = LINT_NOTE};

static void usage(FILE *out)
{
	size_t n;
	const struct lint_check *c = lint_checks(&n);
	fprintf(out,
		"usage: vpcfw lint LAB [--json] [--severity note|warning|error] [--sarif FILE]\n\n"
		"Reports what reviewers look for in a lab's security groups and network ACLs.\n"
		"--severity keeps findings of that level and above (default note: all).\n"
		"Exit status: 0 no finding, 1 findings, 2 error.\n\nchecks:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %-18s %-7s %s\n", c[i].id, lint_severity_name(c[i].severity),
			c[i].summary);
}

static int lint_option(const struct cli_command *cmd, void *args, int c, const char *arg)
{
	struct lint_args *a = args;
	if (lint_severity_parse(arg, &a->min) < 0) { /* c: 's', the only one */
		fprintf(stderr, "vpcfw lint: bad severity '%s' (note, warning, error)\n", arg);
		return -EINVAL;
	}
	return 0;
}

static const struct cli_opt lint_opts[] = {
    CLI_FLAG("json", struct lint_args, json),
    CLI_VALUE("severity", 's'),
    CLI_STRING("sarif", struct lint_args, sarif),
    CLI_END,
};

static const struct cli_command lint_cmd = {
    .name = "lint",
    .usage = usage,
    .opts = lint_opts,
    CLI_ARGS(struct lint_args, lint_defaults, lab, 1),
    .option = lint_option,
    .required = "LAB is required",
};

/* Where a finding points: its first rule, else its group. */
static const struct origin *finding_origin(const struct lab *lab, const struct lint_finding *f)
{
	if (f->n_rules)
		return rule_ref_origin(lab, &f->rules[0]);
	if (f->group >= 0)
		return &lab->groups[f->group].origin;
	return NULL;
}

static json_t *finding_json(const struct lab *lab, const struct lint_finding *f)
{
	json_t *rules = json_array();
	for (size_t i = 0; i < f->n_rules; i++)
		json_array_append_new(rules, ruleinfo_json(lab, &f->rules[i]));
	json_t *o =
	    json_pack("{s:s, s:s, s:s, s:o}", "id", f->id, "severity",
		      lint_severity_name(f->severity), "message", f->message, "rules", rules);
	if (f->group >= 0) {
		const struct security_group *g = &lab->groups[f->group];
		json_object_set_new(o, "group",
				    json_pack("{s:s, s:o}", "id", g->id, "name",
					      g->name ? json_string(g->name) : json_null()));
	}
	const struct origin *at = finding_origin(lab, f);
	if (at && at->file)
		json_object_set_new(o, "file", json_string(at->file));
	if (at && at->path)
		json_object_set_new(o, "json_path", json_string(at->path));
	return o;
}

static void print_text(const struct lab *lab, const struct lint_finding *f)
{
	const struct origin *at = finding_origin(lab, f);
	printf("%s %s: %s\n", lint_severity_name(f->severity), f->id, f->message);
	if (at && at->file)
		printf("    at %s%s%s\n", at->file, at->path ? ": " : "", at->path ? at->path : "");
}

static int write_sarif(const struct lab *lab, const char *path, const struct lint_finding *const *f,
		       size_t n)
{
	size_t nc;
	const struct lint_check *c = lint_checks(&nc);
	struct sarif_rule *rules = calloc(nc, sizeof(*rules));
	struct sarif_result *res = calloc(n ? n : 1, sizeof(*res));
	int r = -ENOMEM;
	if (rules && res) {
		for (size_t i = 0; i < nc; i++)
			rules[i] = (struct sarif_rule){c[i].id, lint_severity_name(c[i].severity),
						       c[i].summary};
		for (size_t i = 0; i < n; i++) {
			const struct origin *at = finding_origin(lab, f[i]);
			res[i] = (struct sarif_result){f[i]->id, lint_severity_name(f[i]->severity),
						       f[i]->message,
						       sarif_location_of(at, lab->source)};
		}
		r = sarif_write(path, "lint", rules, nc, res, n);
	}
	free(rules);
	free(res);
	return r;
}

static int report(const struct lab *lab, const struct lint_args *a, const struct lint_report *rep)
{
	const struct lint_finding **kept = calloc(rep->n ? rep->n : 1, sizeof(*kept));
	size_t n = 0;
	if (!kept)
		return 2;
	for (size_t i = 0; i < rep->n; i++)
		if (rep->items[i].severity >= a->min)
			kept[n++] = &rep->items[i];
	if (a->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, finding_json(lab, kept[i]));
		json_t *o = json_pack("{s:o}", "findings", arr);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
	} else {
		for (size_t i = 0; i < n; i++)
			print_text(lab, kept[i]);
		printf("%zu finding%s in %s\n", n, n == 1 ? "" : "s", lab->source);
	}
	int status = n ? 1 : 0;
	if (a->sarif && write_sarif(lab, a->sarif, kept, n) < 0) {
		fprintf(stderr, "vpcfw lint: cannot write %s\n", a->sarif);
		status = 2;
	}
	free(kept);
	return fflush(stdout) != 0 ? 2 : status;
}

static int lint_lab(const struct lab *lab, const void *args)
{
	struct lint_report rep;
	int status = 2;
	if (lint_run(lab, &rep) == 0)
		status = report(lab, args, &rep);
	else
		fprintf(stderr, "vpcfw lint: out of memory\n");
	lint_report_free(&rep);
	return status;
}

int cmd_lint(int argc, char **argv)
{
	struct lint_args a;
	int r = cli_parse(&lint_cmd, argc, argv, &a);
	return r != CLI_GO ? r : cli_with_lab("vpcfw lint", a.lab, false, lint_lab, &a);
}
