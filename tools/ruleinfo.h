/*
 * One lab rule (an SG rule or a NACL entry, rules/cover.h's rule_ref) as
 * the JSON that `vpcfw lint --json` and `vpcfw test --coverage --json`
 * print (their contract): the group or NACL (id and name), the direction,
 * the rule itself (NACL rule number and action; protocol, ports or ICMP
 * type/code, peer CIDR, group or prefix list), its text and where it was
 * written (file and JSON path). Not for deciding anything.
 */
#ifndef VPCFW_TOOLS_RULEINFO_H
#define VPCFW_TOOLS_RULEINFO_H

#include <jansson.h>

#include "cover.h"

json_t *ruleinfo_json(const struct lab *lab, const struct rule_ref *r);

/* The group's or NACL's "id (name)", or the id alone. Returns buf. */
const char *ruleinfo_owner(const struct lab *lab, const struct rule_ref *r, char *buf, size_t len);

#endif
