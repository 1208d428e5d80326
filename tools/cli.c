/* Lab loading for the commands (see cli.h). */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "load.h"

struct lab *cli_lab_load(const char *cmd, const char *path, bool warnings)
{
	return cli_lab_load_text(cmd, path, warnings, NULL);
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

int cli_getopt(int argc, char **argv, const struct option *opts, const char *cmd,
	       const char **positional)
{
	int c;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) == -1 && optind < argc) {
		if (*positional) {
			fprintf(stderr, "vpcfw %s: unexpected argument '%s'\n", cmd, argv[optind]);
			return CLI_OPT_BAD;
		}
		*positional = argv[optind++];
	}
	return c;
}
