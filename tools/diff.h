/*
 * `vpcfw diff OLD NEW [--json] [--ephemeral LO-HI]` (DESIGN.md contract 7),
 * declared here until tools/commands.h carries it. Exit 0: no change,
 * 1: some, 2: error.
 */
#ifndef VPCFW_TOOLS_DIFF_H
#define VPCFW_TOOLS_DIFF_H

int cmd_diff(int argc, char **argv);

#endif
