/*
 * Shared only by rules/lint.c, rules/lint_nacl.c and rules/lint_sg.c: the
 * context every check adds findings to, rules as packet sets, and the
 * checks themselves, which lint_run() calls in the order of lint.h.
 * Nobody outside the lint module includes this.
 */
#ifndef VPCFW_LINT_PRIVATE_H
#define VPCFW_LINT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lint.h"
#include "model.h"

struct lint_ctx {
	const struct lab *lab;
	struct lint_report *out;
	int err;
};

/* A finding with its message; NULL (and c->err set) when out of memory. */
struct lint_finding *lint_add(struct lint_ctx *c, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lint_add_rule(struct lint_finding *f, struct rule_ref r);
const char *lint_rtext(const struct lab *lab, struct rule_ref r, char *buf, size_t len);
struct rule_ref lint_nacl_ref(int32_t a, bool egress, size_t i);
struct rule_ref lint_sg_ref_of(const struct lab *lab, int32_t g, size_t i);

/* Rules as packet sets: an interval of keys (port, or ICMP type<<8|code). */
struct keys {
	uint32_t lo, hi;
};
struct keys lint_entry_keys(const struct nacl_entry *e);
struct keys lint_rule_keys(const struct sg_rule *r);
bool lint_proto_covers(int outer, int inner);
bool lint_keys_cover(struct keys outer, struct keys inner, int outer_proto);
void lint_entry_list(const struct nacl *acl, bool egress, const struct nacl_entry **l, size_t *n);

/* Addresses for the flow-based checks. */
bool lint_internet_addr(const struct lab *lab, enum ip_family fam, struct ip_addr *out);
enum ip_family lint_other_family(uint8_t f);
const char *lint_fam_name(uint8_t f);

/* The checks (lint_nacl.c, lint_sg.c). */
void lint_check_shadow(struct lint_ctx *c, int32_t a, bool egress);
void lint_check_no_return(struct lint_ctx *c, int32_t a);
void lint_check_gap_nacl(struct lint_ctx *c, int32_t a);
void lint_check_sg_redundant(struct lint_ctx *c);
void lint_check_admin(struct lint_ctx *c);
void lint_check_refs(struct lint_ctx *c);
void lint_check_gap_sg(struct lint_ctx *c);

#endif
