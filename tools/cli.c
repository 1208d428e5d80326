/* Arguments and lab loading for the commands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "load.h"
#include "pipeline.h"

struct lab *cli_lab_load(const char *cmd, const char *path, bool warnings)
{
	return cli_lab_load_text(cmd, path, warnings, NULL);
}

int cli_with_lab(const char *cmd, const char *path, bool warnings,
		 int (*run)(const struct lab *lab, const void *args), const void *args)
{
	struct lab *lab = cli_lab_load(cmd, path, warnings);
	if (!lab)
		return 2;
	int status = run(lab, args);
	lab_free(lab);
	return status;
}

/* Appends one printed line to *text (when the caller wants them). */
static void keep_line(char **text, const char *line)
{
	if (!text)
		return;
	size_t old = *text ? strlen(*text) : 0, add = strlen(line);
	char *t = realloc(*text, old + add + 2);
	if (!t)
		return;
	memcpy(t + old, line, add);
	t[old + add] = '\n';
	t[old + add + 1] = '\0';
	*text = t;
}

struct lab *cli_lab_load_text(const char *cmd, const char *path, bool warnings, char **errors)
{
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;
	char buf[1024];

	if (errors)
		*errors = NULL;
	lab_load_opts_init(&o);
	diag_init(&d);
	bool failed = lab_load(path, &o, &lab, &d) < 0 || !lab;
	for (size_t i = 0; i < d.n; i++) {
		bool error = d.items[i].level == DIAG_ERROR;
		if ((error && failed) || (!error && warnings))
			fprintf(stderr, "%s\n", diag_format(&d.items[i], buf, sizeof(buf)));
		if (error && failed)
			keep_line(errors, buf);
	}
	if (failed && !d.n_errors) {
		fprintf(stderr, "%s: cannot load %s\n", cmd, path);
		snprintf(buf, sizeof(buf), "%s: cannot load %s", cmd, path);
		keep_line(errors, buf);
	}
	diag_free(&d);
	if (failed) {
		lab_free(lab);
		return NULL;
	}
	return lab;
}

/* ---- arguments ---- */

#define CLI_MAX_OPTS 32
#define CLI_OPT_BASE 256 /* getopt codes of table entries: above any char */

/* getopt_long's table from ours: entry i answers CLI_OPT_BASE + i. */
static void getopt_table(const struct cli_opt *opts, struct option *out)
{
	size_t n = 0;

	for (; opts[n].name && n < CLI_MAX_OPTS; n++)
		out[n] = (struct option){
		    opts[n].name, opts[n].kind == CLI_OPT_FLAG ? no_argument : required_argument,
		    NULL, CLI_OPT_BASE + (int)n};
	out[n++] = (struct option){"help", no_argument, NULL, 'h'};
	out[n] = (struct option){NULL, 0, NULL, 0};
}

static int bad_value(const struct cli_command *cmd, const struct cli_opt *o, const char *arg)
{
	fprintf(stderr, "vpcfw %s: bad value '%s' for --%s%s%s%s\n", cmd->name, arg, o->name,
		o->hint ? " (" : "", o->hint ? o->hint : "", o->hint ? ")" : "");
	return -EINVAL;
}

/* A decimal in [lo, hi] into *out. 0 or -EINVAL. */
static int cli_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "LO-HI": ports 1-65535, LO <= HI. */
static int parse_range(const char *s, struct cli_range *out)
{
	char buf[32];
	const char *dash = strchr(s, '-');
	long lo, hi;
	if (!dash || (size_t)(dash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(dash - s));
	buf[dash - s] = '\0';
	if (cli_parse_long(buf, 1, 65535, &lo) < 0 || cli_parse_long(dash + 1, 1, 65535, &hi) < 0 ||
	    lo > hi)
		return -EINVAL;
	*out = (struct cli_range){lo, hi};
	return 0;
}

static int one_option(const struct cli_command *cmd, void *args, int c, const char *arg)
{
	const struct cli_opt *o = &cmd->opts[c - CLI_OPT_BASE];
	void *field = (char *)args + o->offset;

	switch (o->kind) {
	case CLI_OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case CLI_OPT_STRING:
	case CLI_OPT_REQUIRED:
		*(const char **)field = arg;
		return 0;
	case CLI_OPT_LONG:
		return cli_parse_long(arg, o->lo, o->hi, field) < 0 ? bad_value(cmd, o, arg) : 0;
	case CLI_OPT_RANGE:
		return parse_range(arg, field) < 0 ? bad_value(cmd, o, arg) : 0;
	default:
		return cmd->option(cmd, args, o->val, arg);
	}
}

static const char **field_of(void *args, size_t offset)
{
	return (const char **)(void *)((char *)args + offset);
}

/* Whether every positional and every required option was given. */
static bool all_given(const struct cli_command *cmd, void *args)
{
	for (size_t i = 0; i < cmd->n_positional; i++)
		if (!field_of(args, cmd->positional)[i])
			return false;
	for (const struct cli_opt *o = cmd->opts; o->name; o++)
		if (o->kind == CLI_OPT_REQUIRED && !*field_of(args, o->offset))
			return false;
	return true;
}

/* The next empty positional field gets arg. */
static int positional(const struct cli_command *cmd, void *args, const char *arg)
{
	const char **slot = field_of(args, cmd->positional);

	for (size_t i = 0; i < cmd->n_positional; i++)
		if (!slot[i]) {
			slot[i] = arg;
			return 0;
		}
	fprintf(stderr, "vpcfw %s: unexpected argument '%s'\n", cmd->name, arg);
	return -EINVAL;
}

/* One getopt step: the next option's code, 0 after a positional word was
 * taken, or -1 at the end. After "--" every word left is positional: glibc
 * would otherwise, once at the end, rewind optind to the first of them. */
static int next_arg(const struct cli_command *cmd, int argc, char **argv,
		    const struct option *table, void *args, int *r)
{
	int before = optind;
	int c = optind < argc ? getopt_long(argc, argv, "+", table, NULL) : -1;

	if (c != -1)
		return c;
	if (optind == before + 1 && !strcmp(argv[before], "--")) {
		while (*r == 0 && optind < argc)
			*r = positional(cmd, args, argv[optind++]);
		return -1;
	}
	if (optind >= argc)
		return -1;
	*r = positional(cmd, args, argv[optind++]);
	return 0;
}

int cli_parse(const struct cli_command *cmd, int argc, char **argv, void *args)
{
	struct option table[CLI_MAX_OPTS + 2];
	int c, r = 0;

	memcpy(args, cmd->defaults, cmd->size);
	getopt_table(cmd->opts, table);
	optind = 1;
	opterr = 0;
	while (r == 0 && (c = next_arg(cmd, argc, argv, table, args, &r)) != -1) {
		if (c == 'h') {
			cmd->usage(stdout);
			return 0;
		}
		if (c >= CLI_OPT_BASE)
			r = one_option(cmd, args, c, optarg);
		else if (c != 0) {
			fprintf(stderr, "vpcfw %s: unknown or incomplete option '%s'\n", cmd->name,
				argv[optind - 1]);
			r = -EINVAL;
		}
	}
	if (r < 0) {
		cmd->usage(stderr);
		return 2;
	}
	if (cmd->required && !all_given(cmd, args))
		return cli_usage_error(cmd, "%s", cmd->required);
	return CLI_GO;
}

int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vpcfw %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cmd->usage(stderr);
	return 2;
}

const char *cli_stage_owner(const struct lab *lab, const struct stage_verdict *v)
{
	if (v->eni >= 0 && (v->stage == STAGE_SG_EGRESS || v->stage == STAGE_SG_INGRESS))
		return lab_eni_label(lab, v->eni);
	if (v->subnet >= 0 && (size_t)v->subnet < lab->n_subnets)
		return lab->subnets[v->subnet].id;
	return NULL;
}
