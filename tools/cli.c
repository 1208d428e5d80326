/* Lab loading for the commands (see cli.h). */
#include "cli.h"

#include <stdio.h>

#include "diag.h"
#include "load.h"

struct lab *cli_lab_load(const char *cmd, const char *path, bool warnings)
{
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;
	char buf[1024];

	lab_load_opts_init(&o);
	diag_init(&d);
	bool failed = lab_load(path, &o, &lab, &d) < 0 || !lab;
	for (size_t i = 0; i < d.n; i++) {
		bool error = d.items[i].level == DIAG_ERROR;
		if ((error && failed) || (!error && warnings))
			fprintf(stderr, "%s\n", diag_format(&d.items[i], buf, sizeof(buf)));
	}
	if (failed && !d.n_errors)
		fprintf(stderr, "%s: cannot load %s\n", cmd, path);
	diag_free(&d);
	if (failed) {
		lab_free(lab);
		return NULL;
	}
	return lab;
}
