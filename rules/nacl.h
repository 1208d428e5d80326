/*
 * Network ACL evaluation (AWS-SEMANTICS §2): rules in number order, the
 * first that matches decides, allow or deny; nothing matched means the
 * implicit "*" deny, reported as rule 32767 (IPv4) or 32768 (IPv6). The
 * CIDR is matched against the source on ingress and the destination on
 * egress; ports are the destination port (TCP/UDP), ICMP type/code with -1
 * = any; a rule never matches a packet of the other family.
 *
 * Not for: deciding whether a NACL applies at all (same subnet, AWS
 * service traffic, outside hosts): that is rules/pipeline.
 *
 * Usage:
 *	struct nacl_decision d;
 *	if (!nacl_evaluate(&lab->nacls[i], egress, &flow, &d))
 *		drop, explained by d.rule_number (d.entry is NULL for "*")
 */
#ifndef VPCFW_NACL_H
#define VPCFW_NACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "keyset.h"
#include "model.h"

struct nacl_decision {
	bool allow;
	uint32_t rule_number;		/* 1..32766, or NACL_RULE_STAR_V4/V6 */
	const struct nacl_entry *entry; /* NULL for the implicit * rule */
};

/* The keys of protocol proto the entry matches (keyset.h), whatever its
 * CIDR; false when none. An entry matches a packet when these keys hold
 * the packet's and its CIDR holds the packet's address (nacl.c). */
bool nacl_entry_keys(const struct nacl_entry *e, int proto, struct keyset *k);

/* Evaluates the ingress or egress list. Returns d->allow. */
bool nacl_evaluate(const struct nacl *acl, bool egress, const struct flow *f,
		   struct nacl_decision *d);

/* A TCP/UDP packet whose destination port may be any of lo..hi (a reply to
 * a client's ephemeral port): true when every port is allowed; else false,
 * *port the lowest refused port and *d the rule refusing it. Evaluates
 * once per interval between rule port boundaries, not once per port. For
 * other protocols it is nacl_evaluate with *port = lo. */
bool nacl_evaluate_ports(const struct nacl *acl, bool egress, const struct flow *f, uint16_t lo,
			 uint16_t hi, uint16_t *port, struct nacl_decision *d);

/* The ingress or egress entries in rule number order (first match). */
const struct nacl_entry *nacl_list(const struct nacl *acl, bool egress, size_t *n);

/* Both lists as one sequence, ingress then egress: for walking every
 * entry of a NACL. i < nacl_entry_count(acl). */
size_t nacl_entry_count(const struct nacl *acl);
const struct nacl_entry *nacl_entry_at(const struct nacl *acl, size_t i);

/* The lowest port above p where some entry of the list starts or stops
 * matching, capped at limit: every port of [p, result) gets the same
 * decision, so callers walk a range one interval at a time. */
uint32_t nacl_next_port(const struct nacl *acl, bool egress, uint32_t p, uint32_t limit);

/* "rule 100: allow tcp 22 from 10.0.0.0/16", "rule * (32767): deny all"
 * (for explanations). Returns buf. */
const char *nacl_decision_format(const struct nacl_decision *d, bool egress, char *buf, size_t len);

#endif
