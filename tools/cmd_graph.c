/*
 * `vpcfw graph LAB [--out FILE]`: loads a lab and prints it as a Mermaid
 * flowchart (tools/graph.c) on stdout or into FILE. Offline, no root.
 * Exit 0, or 2 on bad arguments, a lab that does not load (its diagnostics
 * on stderr) or an output that cannot be written.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "diag.h"
#include "graph.h"
#include "load.h"

static void graph_usage(FILE *out)
{
	fprintf(out, "usage: vpcfw graph LAB [--out FILE]\n\n"
		     "Prints a Mermaid flowchart of LAB (a lab JSON file or a directory of\n"
		     "JSON files): one subgraph per VPC, AZ and subnet, ENIs as nodes, and an\n"
		     "edge wherever a security group admits another group, an outside host or\n"
		     "the internet (0.0.0.0/0, ::/0).\n\n"
		     "  -o, --out FILE   write to FILE instead of stdout\n"
		     "  -h, --help       this text\n");
}

static int write_graph(const struct lab *lab, const char *path)
{
	FILE *out = path ? fopen(path, "w") : stdout;
	if (!out) {
		fprintf(stderr, "vpcfw graph: %s: %s\n", path, strerror(errno));
		return 2;
	}
	int r = graph_mermaid(lab, out);
	if (fflush(out) != 0 && !r)
		r = -EIO;
	if (path && fclose(out) != 0 && !r)
		r = -EIO;
	if (r < 0) {
		fprintf(stderr, "vpcfw graph: %s: %s\n", path ? path : "stdout", strerror(-r));
		return 2;
	}
	return 0;
}

int cmd_graph(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out_path = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out_path = optarg;
			break;
		case 'h':
			graph_usage(stdout);
			return 0;
		default:
			graph_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vpcfw graph: expected exactly one LAB\n");
		graph_usage(stderr);
		return 2;
	}
	struct lab *lab = cli_lab_load("vpcfw graph", argv[optind], true);
	if (!lab) {
		fprintf(stderr, "vpcfw graph: %s: the lab did not load\n", argv[optind]);
		return 2;
	}
	int status = write_graph(lab, out_path);
	lab_free(lab);
	return status;
}
