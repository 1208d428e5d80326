/*
 * What several vpcfw commands share: loading the lab named on the command
 * line and printing the loader's diagnostics (file, JSON path, problem) the
 * same way everywhere.
 */
#ifndef VPCFW_CLI_H
#define VPCFW_CLI_H

#include <stdbool.h>

struct lab;
struct option;

/* What cli_getopt() returns for an argument it refused (already said). */
#define CLI_OPT_BAD (-2)

/* getopt_long() for a command taking one positional argument (LAB,
 * EXPECT) anywhere among its options: the positional goes to *positional,
 * a second one is refused with "vpcfw CMD: unexpected argument". Returns
 * the next option, -1 at the end, or CLI_OPT_BAD. Start with optind = 1. */
int cli_getopt(int argc, char **argv, const struct option *opts, const char *cmd,
	       const char **positional);

/* Loads path; on failure prints every error to stderr (or "CMD: cannot
 * load PATH" when the loader gave no reason) and returns NULL. With
 * warnings, warnings are printed too, whether or not the load succeeds. */
struct lab *cli_lab_load(const char *cmd, const char *path, bool warnings);
/* The same; *errors (may be NULL) gets the errors printed, one a line
 * (malloc'd, caller frees; NULL when none), for reports such as JUnit. */
struct lab *cli_lab_load_text(const char *cmd, const char *path, bool warnings, char **errors);

#endif
