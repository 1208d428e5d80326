/*
 * What the lint checks share (lint-private.h): the table of checks and
 * their severities, findings, rule references and their text, rules as
 * sets of packets (protocol and an interval of keys), and the addresses a
 * check stands in for "the internet". lint.c runs the checks, which call
 * only this file, never back into lint.c.
 */
#include "lint.h"
#include "lint-private.h"
#include "vec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacl.h"

static const struct lint_check checks[] = {
    {"nacl-shadowed", LINT_WARNING,
     "NACL entry never decides anything: earlier entries with the same action match all it "
     "matches"},
    {"nacl-contradicted", LINT_ERROR,
     "NACL entry never decides anything: earlier entries decide all it matches, some the other "
     "way"},
    {"sg-redundant", LINT_WARNING,
     "SG rule allows nothing another rule of the same ENIs does not already allow"},
    {"open-admin-port", LINT_ERROR, "administration or database port open to 0.0.0.0/0 or ::/0"},
    {"nacl-no-return", LINT_ERROR,
     "custom NACL admits requests whose stateless replies to ephemeral ports it denies"},
    {"sg-ref-empty", LINT_WARNING, "SG rule references a group no ENI carries"},
    {"sg-unattached", LINT_NOTE, "security group attached to no ENI"},
    {"family-gap", LINT_WARNING,
     "dual-stack: a rule for one address family whose counterpart in the other decides the "
     "other way"},
};

const struct lint_check *lint_checks(size_t *n)
{
	*n = sizeof(checks) / sizeof(checks[0]);
	return checks;
}

const char *lint_severity_name(enum lint_severity s)
{
	return s == LINT_ERROR ? "error" : s == LINT_WARNING ? "warning" : "note";
}

int lint_severity_parse(const char *name, enum lint_severity *s)
{
	for (int i = LINT_NOTE; i <= LINT_ERROR; i++)
		if (!strcmp(name, lint_severity_name((enum lint_severity)i))) {
			*s = (enum lint_severity)i;
			return 0;
		}
	return -EINVAL;
}

static enum lint_severity severity_of(const char *id)
{
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		if (!strcmp(checks[i].id, id))
			return checks[i].severity;
	return LINT_WARNING;
}

struct lint_finding *lint_add(struct lint_ctx *c, const char *id, const char *fmt, ...)
{
	struct lint_report *r = c->out;
	if (vec_reserve(&r->items, &r->cap, r->n + 1, sizeof(*r->items)) < 0) {
		c->err = -ENOMEM;
		return NULL;
	}
	struct lint_finding *f = &r->items[r->n++];
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->severity = severity_of(id);
	f->group = -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return f;
}

void lint_add_rule(struct lint_finding *f, struct rule_ref r)
{
	if (f && f->n_rules < LINT_MAX_RULES)
		f->rules[f->n_rules++] = r;
}

const char *lint_rtext(const struct lab *lab, struct rule_ref r, char *buf, size_t len)
{
	return rule_ref_format(lab, &r, buf, len);
}

struct rule_ref lint_nacl_ref(int32_t a, bool egress, size_t i)
{
	return (struct rule_ref){RULE_NACL, a, (int32_t)i, egress};
}

struct rule_ref lint_sg_ref_of(const struct lab *lab, int32_t g, size_t i)
{
	return (struct rule_ref){RULE_SG, g, (int32_t)i, lab->groups[g].rules[i].egress};
}

/* ---- rules as packet sets ---- */

static struct keys key_interval(int proto, int32_t from, int32_t to)
{
	if (proto == PROTO_TCP || proto == PROTO_UDP)
		return (struct keys){from < 0 ? 0 : (uint32_t)from,
				     to < 0 || to > 65535 ? 65535 : (uint32_t)to};
	if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		if (from < 0)
			return (struct keys){0, 0xffff};
		if (to < 0)
			return (struct keys){(uint32_t)from << 8, ((uint32_t)from << 8) | 0xff};
		return (struct keys){((uint32_t)from << 8) | (uint32_t)to,
				     ((uint32_t)from << 8) | (uint32_t)to};
	}
	return (struct keys){0, 0};
}

struct keys lint_entry_keys(const struct nacl_entry *e)
{
	bool icmp = e->protocol == PROTO_ICMP || e->protocol == PROTO_ICMPV6;
	return key_interval(e->protocol, icmp ? e->icmp_type : e->port_from,
			    icmp ? e->icmp_code : e->port_to);
}

struct keys lint_rule_keys(const struct sg_rule *r)
{
	return key_interval(r->protocol, r->from_port, r->to_port);
}

/* Whether every packet of protocol inner is of protocol outer. */
bool lint_proto_covers(int outer, int inner)
{
	return outer == PROTO_ALL || outer == inner;
}

bool lint_keys_cover(struct keys outer, struct keys inner, int outer_proto)
{
	return outer_proto == PROTO_ALL || (outer.lo <= inner.lo && outer.hi >= inner.hi);
}

void lint_entry_list(const struct nacl *acl, bool egress, const struct nacl_entry **l, size_t *n)
{
	*l = egress ? acl->egress : acl->ingress;
	*n = egress ? acl->n_egress : acl->n_ingress;
}

/* ---- addresses for the flow-based checks ---- */

static bool named_by_lab(const struct lab *lab, const struct ip_addr *a)
{
	for (size_t g = 0; g < lab->n_groups; g++)
		for (size_t r = 0; r < lab->groups[g].n_rules; r++) {
			const struct sg_rule *x = &lab->groups[g].rules[r];
			if (x->peer_kind == SG_PEER_CIDR && !ip_prefix_is_all(&x->cidr) &&
			    ip_prefix_contains(&x->cidr, a))
				return true;
		}
	for (size_t n = 0; n < lab->n_nacls; n++)
		for (size_t i = 0; i < nacl_entry_count(&lab->nacls[n]); i++) {
			const struct nacl_entry *e = nacl_entry_at(&lab->nacls[n], i);
			if (!ip_prefix_is_all(&e->cidr) && ip_prefix_contains(&e->cidr, a))
				return true;
		}
	for (size_t p = 0; p < lab->n_prefix_lists; p++)
		for (size_t i = 0; i < lab->prefix_lists[p].n_cidrs; i++)
			if (ip_prefix_contains(&lab->prefix_lists[p].cidrs[i], a))
				return true;
	return lab_addr_in_vpc(lab, a);
}

/* An internet address that only rules for all addresses (0.0.0.0/0, ::/0)
 * match: what "the internet" means to a rule for all addresses. */
bool lint_internet_addr(const struct lab *lab, enum ip_family fam, struct ip_addr *out)
{
	static const char *const v4[] = {"203.0.113.100", "198.51.100.100", "192.0.2.100",
					 "100.64.0.100",  "198.18.0.100",   "1.1.1.100"};
	static const char *const v6[] = {"2001:db8:ffff::100", "2600:1f00::100", "2a00::100",
					 "3fff::100"};
	const char *const *c = fam == IP_V4 ? v4 : v6;
	size_t n = fam == IP_V4 ? sizeof(v4) / sizeof(v4[0]) : sizeof(v6) / sizeof(v6[0]);
	for (size_t i = 0; i < n; i++)
		if (ip_addr_parse(c[i], out) == 0 && !named_by_lab(lab, out))
			return true;
	return false;
}

/* ---- family-gap ---- */

enum ip_family lint_other_family(uint8_t f)
{
	return f == IP_V4 ? IP_V6 : IP_V4;
}

const char *lint_fam_name(uint8_t f)
{
	return f == IP_V6 ? "IPv6" : "IPv4";
}
