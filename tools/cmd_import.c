/*
 * vpcfw import PATH... [-o FILE]: reads any lab input (describe-* folders,
 * Terraform JSON, our own format; several paths form one lab) and writes
 * it as one file in the vpcfw lab format, ids and names kept, so a user
 * can read and edit it. validate on the result gives the same verdicts.
 * Exit 0: written; 2: the input does not load, or the file cannot be
 * written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "lab_write.h"
#include "load.h"

static void import_usage(FILE *out)
{
	fprintf(out, "usage: vpcfw import PATH... [-o FILE]\n\n"
		     "Writes the lab the PATHs form (lab files, Terraform JSON, directories of\n"
		     "aws describe-* output, read recursively) as one vpcfw lab file: to FILE,\n"
		     "or to standard output. Warnings of the load and notes on what could\n"
		     "not be written go to standard error. Exit 0: written; 2: error.\n");
}

/* "A,B,C": the loader's form of several paths. */
static char *join_paths(int n, char **paths)
{
	size_t len = 1;
	for (int i = 0; i < n; i++)
		len += strlen(paths[i]) + 1;
	char *s = calloc(1, len);
	for (int i = 0; s && i < n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, paths[i]);
	}
	return s;
}

/* out: the file to write, NULL for stdout. */
static int write_lab(const struct lab *lab, const void *out_path)
{
	const char *out = out_path;
	json_t *root = lab_write_json(lab, stderr);
	if (!root) {
		fprintf(stderr, "vpcfw import: out of memory\n");
		return 2;
	}
	FILE *f = out ? fopen(out, "w") : stdout;
	if (!f) {
		fprintf(stderr, "vpcfw import: cannot write %s: %s\n", out, strerror(errno));
		json_decref(root);
		return 2;
	}
	int r = json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	if (out && fclose(f) != 0)
		r = -1;
	json_decref(root);
	if (r < 0) {
		fprintf(stderr, "vpcfw import: cannot write %s\n", out ? out : "standard output");
		return 2;
	}
	return 0;
}

int cmd_import(int argc, char **argv)
{
	const char *out = NULL;
	char **paths = calloc((size_t)argc + 1, sizeof(char *));
	int n = 0;
	if (!paths)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			import_usage(stdout);
			free(paths);
			return 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "vpcfw import: unexpected argument '%s'\n", argv[i]);
			import_usage(stderr);
			free(paths);
			return 2;
		} else {
			paths[n++] = argv[i];
		}
	}
	char *path = n ? join_paths(n, paths) : NULL;
	free(paths);
	if (!path) {
		import_usage(stderr);
		return 2;
	}
	int r = cli_with_lab("vpcfw import", path, true, write_lab, out);
	free(path);
	return r;
}
