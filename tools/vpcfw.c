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

#define COMMAND_ROW(name, summary) {#name, cmd_##name, summary},
static const struct command commands[] = {VPCFW_COMMANDS(COMMAND_ROW)};
#undef COMMAND_ROW

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
