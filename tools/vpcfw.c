/*
 * vpcfw: the command-line client. A thin dispatcher: each subcommand lives
 * in its own file (cmd_*.c) and returns its exit status.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "check", cmd_check, "evaluate one flow offline: verdict and deciding rules" },
	{ "validate", cmd_validate, "load a lab and report warnings and errors" },
	{ "graph", cmd_graph, "print a Mermaid flowchart of a lab" },
	{ "lint", cmd_lint, "find shadowed, redundant, risky or broken rules in a lab" },
	{ "import", cmd_import, "write any lab input (folders, Terraform) as one vpcfw lab file" },
	{ "diff", cmd_diff, "which flows a rule change between two labs opens or closes" },
	{ "test", cmd_test, "check a file of expected flows offline and with real traffic" },
	{ "exec", cmd_exec, "run a command inside an ENI's or outside host's namespace" },
	{ "status", cmd_status, "the running lab: uptime, ENIs, namespaces, ports, rules generation" },
	{ "flows", cmd_flows, "tracked connections per ENI and the rule that admitted each" },
	{ "stats", cmd_stats, "counters per ENI and stage, conntrack allowance, drops" },
	{ "reload", cmd_reload, "load a lab into the running daemon (keeps it on any error)" },
	{ "top", cmd_top, "live per-ENI view: flows, packets accepted/rejected per second" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: vpcfw COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nvpcfw COMMAND --help shows a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "vpcfw: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
