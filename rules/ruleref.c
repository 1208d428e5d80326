/*
 * The rule index of cover.h: every SG rule and NACL entry of a lab,
 * numbered, and the helpers that turn a number back into the rule, its
 * origin and its one-line text. Shared by coverage and lint, which both
 * name rules by these numbers.
 *
 * Not for: deciding what a flow exercised (cover.c) or searching for
 * flows (cover_search.c).
 */
#include "cover.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacl.h"
#include "sg.h"

int rule_index_build(const struct lab *lab, struct rule_index *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->group_off = calloc(lab->n_groups + 1, sizeof(size_t));
	ri->nacl_off = calloc(lab->n_nacls + 1, sizeof(size_t));
	if (!ri->group_off || !ri->nacl_off)
		return -ENOMEM;
	size_t n = 0;
	for (size_t g = 0; g < lab->n_groups; g++) {
		ri->group_off[g] = n;
		n += lab->groups[g].n_rules;
	}
	for (size_t a = 0; a < lab->n_nacls; a++) {
		ri->nacl_off[a] = n;
		n += lab->nacls[a].n_ingress + lab->nacls[a].n_egress;
	}
	ri->refs = calloc(n ? n : 1, sizeof(*ri->refs));
	if (!ri->refs)
		return -ENOMEM;
	ri->total = n;
	for (size_t g = 0; g < lab->n_groups; g++)
		for (size_t r = 0; r < lab->groups[g].n_rules; r++)
			ri->refs[ri->group_off[g] + r] = (struct rule_ref){
			    RULE_SG, (int32_t)g, (int32_t)r, lab->groups[g].rules[r].egress};
	for (size_t a = 0; a < lab->n_nacls; a++) {
		const struct nacl *acl = &lab->nacls[a];
		for (size_t i = 0; i < acl->n_ingress + acl->n_egress; i++) {
			bool eg = i >= acl->n_ingress;
			ri->refs[ri->nacl_off[a] + i] = (struct rule_ref){
			    RULE_NACL, (int32_t)a, (int32_t)(eg ? i - acl->n_ingress : i), eg};
		}
	}
	return 0;
}

void rule_index_free(struct rule_index *ri)
{
	free(ri->refs);
	free(ri->group_off);
	free(ri->nacl_off);
	memset(ri, 0, sizeof(*ri));
}

size_t rule_index_sg(const struct rule_index *ri, int32_t group, int32_t rule)
{
	return ri->group_off[group] + (size_t)rule;
}

size_t rule_index_nacl(const struct lab *lab, const struct rule_index *ri, int32_t nacl,
		       bool egress, size_t entry)
{
	return ri->nacl_off[nacl] + (egress ? lab->nacls[nacl].n_ingress : 0) + entry;
}

const struct sg_rule *rule_ref_sg(const struct lab *lab, const struct rule_ref *r)
{
	if (r->kind != RULE_SG)
		return NULL;
	return &lab->groups[r->owner].rules[r->index];
}

const struct nacl_entry *rule_ref_nacl(const struct lab *lab, const struct rule_ref *r)
{
	if (r->kind != RULE_NACL)
		return NULL;
	const struct nacl *acl = &lab->nacls[r->owner];
	return r->egress ? &acl->egress[r->index] : &acl->ingress[r->index];
}

const struct origin *rule_ref_origin(const struct lab *lab, const struct rule_ref *r)
{
	return r->kind == RULE_SG ? &rule_ref_sg(lab, r)->origin : &rule_ref_nacl(lab, r)->origin;
}

const char *rule_ref_format(const struct lab *lab, const struct rule_ref *r, char *buf, size_t len)
{
	if (r->kind == RULE_SG)
		return sg_rule_format(lab, r->owner, r->index, buf, len);
	const struct nacl *acl = &lab->nacls[r->owner];
	struct nacl_decision d = {.entry = rule_ref_nacl(lab, r)};
	char rule[200];
	d.rule_number = d.entry->rule_number;
	d.allow = d.entry->allow;
	nacl_decision_format(&d, r->egress, rule, sizeof(rule));
	if (acl->name)
		snprintf(buf, len, "%s (%s) %s %s", acl->id, acl->name,
			 r->egress ? "egress" : "ingress", rule);
	else
		snprintf(buf, len, "%s %s %s", acl->id, r->egress ? "egress" : "ingress", rule);
	return buf;
}
