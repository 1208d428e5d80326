/*
 * What several vpcfw commands share: parsing their options and values the
 * same way, loading the lab named on the command line and printing the
 * loader's diagnostics (file, JSON path, problem) the same way everywhere.
 */
#ifndef VPCFW_CLI_H
#define VPCFW_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct lab;
struct stage_verdict;

/*
 * A command's options, as a table: a flag sets a bool of the command's
 * argument struct, a string option points a const char * of it at its
 * argument, a long option stores a decimal checked against its range, a
 * range option stores "LO-HI" (ports: 1-65535, LO <= HI) in a struct
 * cli_range, and a value option (one that needs another check) goes to
 * the command's option() with its code; a required option is a string
 * option the command cannot go without. --help is every command's. A bad
 * value is said as "bad value 'ARG' for --NAME", then " (HINT)" when the
 * entry has one.
 *
 *	static const struct cli_opt opts[] = {
 *		CLI_FLAG("json", struct my_args, json),
 *		CLI_STRING("sarif", struct my_args, sarif),
 *		CLI_REQUIRED("from", struct my_args, from),
 *		CLI_RANGE("ephemeral", struct my_args, eph, "LO-HI"),
 *		CLI_VALUE("port", 'P'),
 *		CLI_END,
 *	};
 */
enum cli_opt_kind {
	CLI_OPT_FLAG,
	CLI_OPT_STRING,
	CLI_OPT_REQUIRED,
	CLI_OPT_LONG,
	CLI_OPT_RANGE,
	CLI_OPT_VALUE,
};

struct cli_range {
	long lo, hi;
};

struct cli_opt {
	const char *name;
	enum cli_opt_kind kind;
	size_t offset;	  /* of the bool, const char *, long or cli_range in args */
	int val;	  /* CLI_OPT_VALUE: what option() gets */
	long lo, hi;	  /* CLI_OPT_LONG: the values allowed */
	const char *hint; /* NULL, or what a good value looks like */
};

/* The comparison in sizeof (never evaluated) makes a field of another
 * type a compile error. An initializer a line reads better than
 * clang-format's braces. */
/* clang-format off */
#define CLI_FIELD(type, field, ftype) \
	(offsetof(type, field) + 0 * sizeof(&((type *)0)->field == (ftype *)0))
#define CLI_FLAG(name, type, field) {name, CLI_OPT_FLAG, CLI_FIELD(type, field, bool), 0, 0, 0, NULL}
#define CLI_STRING(name, type, field) \
	{name, CLI_OPT_STRING, CLI_FIELD(type, field, const char *), 0, 0, 0, NULL}
#define CLI_REQUIRED(name, type, field) \
	{name, CLI_OPT_REQUIRED, CLI_FIELD(type, field, const char *), 0, 0, 0, NULL}
/* A decimal from lo to hi into a long field, else "bad value". */
#define CLI_LONG(name, type, field, lo, hi) \
	{name, CLI_OPT_LONG, CLI_FIELD(type, field, long), 0, lo, hi, NULL}
#define CLI_RANGE(name, type, field, hint) \
	{name, CLI_OPT_RANGE, CLI_FIELD(type, field, struct cli_range), 0, 0, 0, hint}
#define CLI_VALUE(name, val) {name, CLI_OPT_VALUE, 0, val, 0, 0, NULL}
#define CLI_END {NULL, CLI_OPT_FLAG, 0, 0, 0, 0, NULL}
/* clang-format on */

/*
 * A command's arguments, a struct of the type CLI_ARGS names (every
 * command has one): it starts as a copy of *defaults (size bytes);
 * positional words fill n_positional consecutive const char * fields of
 * it, from the one at positional; one more is refused. With required set,
 * every positional and every required option must be given, else that
 * message is a usage error; without, the command checks for itself.
 * option() (NULL without CLI_VALUE entries) gets each value option c with
 * its argument and returns 0, or -EINVAL once it has said what is wrong.
 *
 *	static const struct cli_command my_cmd = {
 *		.name = "my", .usage = my_usage, .opts = opts,
 *		CLI_ARGS(struct my_args, my_defaults, lab, 1),
 *		.required = "LAB and --from are required",
 *	};
 */
struct cli_command {
	const char *name; /* "check": messages begin "vpcfw check: " */
	void (*usage)(FILE *out);
	const struct cli_opt *opts; /* ending in CLI_END */
	size_t positional;
	size_t n_positional;
	int (*option)(const struct cli_command *cmd, void *args, int c, const char *arg);
	const void *defaults;
	size_t size;
	const char *required;
};

/* The argument struct's type, its defaults (a const of that type: anything
 * else does not compile) and its n positional fields from field on. */
/* clang-format off */
#define CLI_ARGS(type, defaults_, field, n) \
	.positional = CLI_FIELD(type, field, const char *), .n_positional = n, \
	.defaults = &(defaults_) + 0 * sizeof(&(defaults_) == (const type *)0), \
	.size = sizeof(type)
/* clang-format on */

/* What cli_parse returns when the command goes on. */
#define CLI_GO (-1)

/* Parses argv[1..] into args (cmd->size bytes), options and positionals
 * in any order, then checks what is required. CLI_GO, or the command's exit
 * status, to return at once: 0 after --help (usage on stdout), 2 after a
 * mistake (said, then the usage on stderr). */
int cli_parse(const struct cli_command *cmd, int argc, char **argv, void *args);
/* For a command's own checks after cli_parse: "vpcfw CMD: " and the
 * message on stderr, then the usage. Returns 2. */
int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Who owns the rules of a stage: the ENI's label for an SG stage, the
 * subnet's id for a NACL stage, or NULL. */
const char *cli_stage_owner(const struct lab *lab, const struct stage_verdict *v);

/* Loads path; on failure prints every error to stderr (or "CMD: cannot
 * load PATH" when the loader gave no reason) and returns NULL. With
 * warnings, warnings are printed too, whether or not the load succeeds. */
struct lab *cli_lab_load(const char *cmd, const char *path, bool warnings);
/* The same; *errors (may be NULL) gets the errors printed, one a line
 * (malloc'd, caller frees; NULL when none), for reports such as JUnit. */
struct lab *cli_lab_load_text(const char *cmd, const char *path, bool warnings, char **errors);
/* The life of an offline command: loads path (cli_lab_load), runs
 * run(lab, args) and frees the lab. run's exit status, or 2 when the lab
 * did not load. */
int cli_with_lab(const char *cmd, const char *path, bool warnings,
		 int (*run)(const struct lab *lab, const void *args), const void *args);

#endif
