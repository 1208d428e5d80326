/*
 * The vpcfw subcommands. Each takes the arguments after `vpcfw` (argv[0]
 * is the subcommand) and returns the process exit status; none calls
 * exit(). Offline commands use rules/ only; online ones are thin clients
 * of a running vpcfwd's control socket (docs/control.md): 0 ok, 2 error
 * (bad usage, no daemon, or the daemon's error reply, printed).
 */
#ifndef VPCFW_COMMANDS_H
#define VPCFW_COMMANDS_H

/* offline */
int cmd_check(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_lint(int argc, char **argv);
int cmd_import(int argc, char **argv);
/* `vpcfw diff OLD NEW` (DESIGN.md contract 7): exit 0 no change, 1 some,
 * 2 error. */
int cmd_diff(int argc, char **argv);

/* `vpcfw test` (DESIGN.md contract 6), offline and with real traffic:
 * exit 0 all met, 1 some not met, 2 bad input or a flow that could not be
 * probed, 3 real traffic and the offline verdict disagree. */
int cmd_test(int argc, char **argv);
/* enter a running lab's namespace */
int cmd_exec(int argc, char **argv);

/* online */
int cmd_status(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_top(int argc, char **argv);

#endif
