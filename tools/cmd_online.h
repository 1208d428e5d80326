/*
 * The online vpcfw subcommands: thin clients of a running vpcfwd's control
 * socket (docs/control.md). Each takes the arguments after `vpcfw` (argv[0]
 * is the subcommand) and returns the exit status: 0 ok, 2 error (bad
 * usage, no daemon, or the daemon's error reply, printed).
 */
#ifndef VPCFW_CMD_ONLINE_H
#define VPCFW_CMD_ONLINE_H

int cmd_status(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_top(int argc, char **argv);

#endif
