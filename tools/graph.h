/*
 * A lab as a Mermaid flowchart (`vpcfw graph`): VPCs, AZs and subnets as
 * nested subgraphs, ENIs as nodes, outside hosts and the internet beside
 * them, and the paths security groups open as edges. A picture of what the
 * rules say, not an evaluation: NACLs are named on their subnets but do not
 * cut edges; `vpcfw check` gives verdicts.
 */
#ifndef VPCFW_GRAPH_H
#define VPCFW_GRAPH_H

#include <stdio.h>

#include "model.h"

/* Writes the flowchart. The output depends only on the lab (same lab, same
 * bytes). 0, -ENOMEM, or -EIO when writing failed. */
int graph_mermaid(const struct lab *lab, FILE *out);

#endif
