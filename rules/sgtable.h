/*
 * An ENI's security group rules of one direction compiled once into a
 * table that answers sg_evaluate() in time that does not grow with the
 * number of rules (issue 9: first-packet classification at 1,000 rules).
 * The peer address space is cut into regions inside which every rule's
 * peer (CIDR, prefix list, group member) matches all addresses or none;
 * per region and protocol, an interval map from the packet's key (port,
 * ICMP type/code, protocol number) to the first allowing rule, built by
 * the interval code `vpcfw diff` uses (rules/reach). A lookup is two
 * binary searches. Same verdict and same (group, rule) as the scan, and
 * the untracked decision of §4 likewise: tests/unit/test_sg*.c compare
 * them on generated labs and the examples.
 *
 * A lab's tables (sg_tables_attach): one pair per distinct group list
 * among its ENIs, built once per rules generation off the packet path
 * (daemon start, the reloader's thread) and kept in the lab's arena, so
 * they go with the lab. sg_evaluate() and sg_flow_is_untracked() answer
 * from them when the lab has them.
 *
 * Not for: the service exemptions and tracking (rules/pipeline decides
 * those before any rule).
 *
 * Usage:
 *	struct sg_table *t;
 *	if (sg_table_build(lab, &lab->enis[i], false, &t) < 0) ...
 *	if (sg_table_evaluate(t, &flow, &m)) allowed by m.group, m.rule
 *	sg_table_free(t);
 * or, for a whole lab the daemon forwards with:
 *	sg_tables_attach(lab, &limits, &stats);
 */
#ifndef VPCFW_SGTABLE_H
#define VPCFW_SGTABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "flow.h"
#include "model.h"
#include "sg.h"

struct arena;
struct sg_table;

/* 0, or -ENOMEM (*out NULL). The lab must outlive the table. members:
 * the lab's sorted member lists, NULL to scan them (slower build). */
int sg_table_build(const struct lab *lab, const struct eni *eni, bool egress,
		   struct sg_table **out);
int sg_table_build_indexed(const struct lab *lab, const struct sg_members *members,
			   const struct eni *eni, bool egress, struct sg_table **out);
/* sg_evaluate(lab, eni, egress, f, m) of the lab and ENI built from. */
bool sg_table_evaluate(const struct sg_table *t, const struct flow *f, struct sg_match *m);
/* sg_flow_is_untracked(lab, eni, egress, f, reverse) likewise, for IPv4
 * and IPv6 flows. */
bool sg_table_untracked(const struct sg_table *t, const struct flow *f, struct sg_match *reverse);
/* How many peer regions the table holds, and its bytes (for reports). */
size_t sg_table_regions(const struct sg_table *t);
size_t sg_table_bytes(const struct sg_table *t);
/* A copy of t in arena a (freed with it; never sg_table_free it), or NULL
 * when the arena is out of memory. */
const struct sg_table *sg_table_pack(const struct sg_table *t, struct arena *a);
void sg_table_free(struct sg_table *t);

/* ---- a lab's tables (sgtables.c) ---- */

struct sg_tables_limits {
	size_t max_bytes;   /* tables past this are not built; 0: no limit */
	double max_seconds; /* nor after building took this long; 0: no limit */
};

#define SG_TABLES_MAX_BYTES ((size_t)256 << 20)
#define SG_TABLES_MAX_SECONDS 10.0

struct sg_tables_stats {
	size_t enis;	     /* ENIs of the lab */
	size_t sets;	     /* distinct group lists among them */
	size_t tables;	     /* tables built: two per set within the limits */
	size_t regions;	     /* peer regions over all tables */
	size_t bytes;	     /* memory of the tables */
	size_t scanned_enis; /* ENIs whose set was past a limit: rules scanned */
	double seconds;	     /* build time */
};

/* Builds the tables of every distinct group list of the lab's ENIs (most
 * shared first) into its arena and attaches them (lab->sg_tables); sets
 * past a limit are left to the scan and counted. The lab must not change
 * afterwards. 0 (stats filled), or -ENOMEM: nothing attached, the lab
 * scans as before. stats may be NULL. */
int sg_tables_attach(struct lab *lab, const struct sg_tables_limits *lim,
		     struct sg_tables_stats *stats);
/* The lab's compiled table for the ENI's direction, or NULL (scan). */
const struct sg_table *sg_tables_find(const struct lab *lab, const struct eni *eni, bool egress);
/* What sg_tables_attach reported, or false when the lab has no tables. */
bool sg_tables_stats(const struct lab *lab, struct sg_tables_stats *out);

#endif
