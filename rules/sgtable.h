/*
 * An ENI's security group rules of one direction compiled once into a
 * table that answers sg_evaluate() in time that does not grow with the
 * number of rules (issue 9: first-packet classification at 1,000 rules).
 * The peer address space is cut into regions inside which every rule's
 * peer (CIDR, prefix list, group member) matches all addresses or none;
 * per region and protocol, an interval map from the packet's key (port,
 * ICMP type/code, protocol number) to the first allowing rule, built by
 * the interval code `vpcfw diff` uses (rules/reach). A lookup is two
 * binary searches. Same verdict and same (group, rule) as sg_evaluate:
 * tests/unit/test_sg.c compares them on generated labs.
 *
 * Not for: the service exemptions and tracking (rules/pipeline decides
 * those before any rule), the untracked-flow decision (sg.c).
 *
 * Usage:
 *	struct sg_table *t;
 *	if (sg_table_build(lab, &lab->enis[i], false, &t) < 0) ...
 *	if (sg_table_evaluate(t, &flow, &m)) allowed by m.group, m.rule
 *	sg_table_free(t);
 */
#ifndef VPCFW_SGTABLE_H
#define VPCFW_SGTABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "flow.h"
#include "model.h"
#include "sg.h"

struct sg_table;

/* 0, or -ENOMEM (*out NULL). The lab must outlive the table. */
int sg_table_build(const struct lab *lab, const struct eni *eni, bool egress,
		   struct sg_table **out);
/* sg_evaluate(lab, eni, egress, f, m) of the lab and ENI built from. */
bool sg_table_evaluate(const struct sg_table *t, const struct flow *f, struct sg_match *m);
/* How many peer regions the table holds (for benchmarks). */
size_t sg_table_regions(const struct sg_table *t);
void sg_table_free(struct sg_table *t);

#endif
