/*
 * The vpcfw subcommands. Each takes the arguments after its own name
 * (argv[0] is the subcommand) and returns the process exit status; none
 * calls exit(). Offline commands use rules/ only; online ones talk to vpcfwd.
 */
#ifndef VPCFW_COMMANDS_H
#define VPCFW_COMMANDS_H

int cmd_check(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_lint(int argc, char **argv);
int cmd_import(int argc, char **argv);

#endif
