/*
 * The vpcfw subcommands. Each takes the arguments after `vpcfw` (argv[0]
 * is the subcommand) and returns the process exit status; none calls
 * exit(). Offline commands use rules/ only; online ones are thin clients
 * of a running vpcfwd's control socket (docs/control.md): 0 ok, 2 error
 * (bad usage, no daemon, or the daemon's error reply, printed).
 */
#ifndef VPCFW_COMMANDS_H
#define VPCFW_COMMANDS_H

/* Every subcommand once: its name, its function cmd_NAME and its line in
 * `vpcfw --help`. Offline first, then the clients of a running vpcfwd.
 * `diff` (DESIGN.md contract 7): exit 0 no change, 1 some, 2 error.
 * `test` (contract 6): exit 0 all met, 1 some not met, 2 bad input or a
 * flow that could not be probed, 3 real traffic and the offline verdict
 * disagree. */
#define VPCFW_COMMANDS(X)                                                                          \
	X(check, "evaluate one flow offline: verdict and deciding rules")                          \
	X(validate, "load a lab and report warnings and errors")                                   \
	X(graph, "print a Mermaid flowchart of a lab")                                             \
	X(lint, "find shadowed, redundant, risky or broken rules in a lab")                        \
	X(import, "write any lab input (folders, Terraform) as one vpcfw lab file")                \
	X(diff, "which flows a rule change between two labs opens or closes")                      \
	X(test, "check a file of expected flows offline and with real traffic")                    \
	X(exec, "run a command inside an ENI's or outside host's namespace")                       \
	X(status, "the running lab: uptime, ENIs, namespaces, ports, rules generation")            \
	X(flows, "tracked connections per ENI and the rule that admitted each")                    \
	X(stats, "counters per ENI and stage, conntrack allowance, drops")                         \
	X(reload, "load a lab into the running daemon (keeps it on any error)")                    \
	X(top, "live per-ENI view: flows, packets accepted/rejected per second")

#define VPCFW_COMMAND_DECLARE(name, summary) int cmd_##name(int argc, char **argv);
VPCFW_COMMANDS(VPCFW_COMMAND_DECLARE)
#undef VPCFW_COMMAND_DECLARE

#endif
