/*
 * Network ACL evaluation (AWS-SEMANTICS §2). The loader keeps each list
 * sorted by rule number, so first match is a forward scan; the implicit
 * "*" deny is not stored and is reported under describe-network-acls'
 * numbers. The port-range variant answers "does every ephemeral port of a
 * reply pass?" by evaluating once per interval between rule boundaries:
 * inside such an interval every entry matches either all ports or none.
 */
#include "nacl.h"

#include <stdio.h>

bool nacl_entry_keys(const struct nacl_entry *e, int proto, struct keyset *k)
{
	return keyset_of_rule(e->protocol, e->port_from, e->port_to, e->icmp_type, e->icmp_code,
			      proto, k);
}

/* Whether one entry matches the packet (its own egress flag picks which
 * address the CIDR is compared with). */
static bool nacl_entry_matches(const struct nacl_entry *e, const struct flow *f)
{
	/* ingress rules look at where the packet comes from, egress at where
	 * it goes; a family mismatch never matches (§8: IPv6 not optional). */
	const struct ip_addr *a = e->egress ? &f->dst : &f->src;
	struct keyset k;
	return ip_prefix_contains(&e->cidr, a) && nacl_entry_keys(e, f->proto, &k) &&
	       keyset_has(&k, keyset_flow_key(f));
}

const struct nacl_entry *nacl_list(const struct nacl *acl, bool egress, size_t *n)
{
	*n = egress ? acl->n_egress : acl->n_ingress;
	return egress ? acl->egress : acl->ingress;
}

bool nacl_evaluate(const struct nacl *acl, bool egress, const struct flow *f,
		   struct nacl_decision *d)
{
	size_t n;
	const struct nacl_entry *list = nacl_list(acl, egress, &n);
	for (size_t i = 0; i < n; i++) {
		if (nacl_entry_matches(&list[i], f)) {
			d->allow = list[i].allow;
			d->rule_number = list[i].rule_number;
			d->entry = &list[i];
			return d->allow;
		}
	}
	d->allow = false;
	d->rule_number = f->dst.family == IP_V6 ? NACL_RULE_STAR_V6 : NACL_RULE_STAR_V4;
	d->entry = NULL;
	return false;
}

/* The lowest rule boundary above p (a port where some entry starts or
 * stops matching), capped at limit. */
static uint32_t next_boundary(const struct nacl_entry *list, size_t n, uint32_t p, uint32_t limit)
{
	uint32_t next = limit;
	for (size_t i = 0; i < n; i++) {
		uint32_t from = list[i].port_from;
		uint32_t past = (uint32_t)list[i].port_to + 1;
		if (from > p && from < next)
			next = from;
		if (past > p && past < next)
			next = past;
	}
	return next;
}

bool nacl_evaluate_ports(const struct nacl *acl, bool egress, const struct flow *f, uint16_t lo,
			 uint16_t hi, uint16_t *port, struct nacl_decision *d)
{
	struct flow g = *f;
	if (!flow_has_ports(f) || lo > hi) {
		*port = lo;
		return nacl_evaluate(acl, egress, f, d);
	}
	size_t n;
	const struct nacl_entry *list = nacl_list(acl, egress, &n);
	struct nacl_decision first = {0};
	bool have_first = false;
	uint32_t limit = (uint32_t)hi + 1;
	for (uint32_t p = lo; p <= hi; p = next_boundary(list, n, p, limit)) {
		g.dport = (uint16_t)p;
		if (!nacl_evaluate(acl, egress, &g, d)) {
			*port = (uint16_t)p;
			return false;
		}
		if (!have_first) {
			first = *d;
			have_first = true;
		}
	}
	/* all allowed: the rule that allowed the lowest port explains it */
	*d = first;
	*port = lo;
	return true;
}

uint32_t nacl_next_port(const struct nacl *acl, bool egress, uint32_t p, uint32_t limit)
{
	size_t n;
	const struct nacl_entry *list = nacl_list(acl, egress, &n);
	return next_boundary(list, n, p, limit);
}

static void ports_text(const struct nacl_entry *e, char *buf, size_t len)
{
	if (e->protocol == PROTO_TCP || e->protocol == PROTO_UDP) {
		if (e->port_from == e->port_to)
			snprintf(buf, len, " %u", e->port_from);
		else
			snprintf(buf, len, " %u-%u", e->port_from, e->port_to);
	} else if (e->protocol == PROTO_ICMP || e->protocol == PROTO_ICMPV6) {
		char t[8] = "any", c[8] = "any";
		if (e->icmp_type >= 0)
			snprintf(t, sizeof(t), "%d", e->icmp_type);
		if (e->icmp_code >= 0)
			snprintf(c, sizeof(c), "%d", e->icmp_code);
		snprintf(buf, len, " type %s code %s", t, c);
	} else {
		buf[0] = '\0';
	}
}

const char *nacl_decision_format(const struct nacl_decision *d, bool egress, char *buf, size_t len)
{
	const struct nacl_entry *e = d->entry;
	if (!e) {
		snprintf(buf, len, "rule * (%u): deny all traffic %s %s", d->rule_number,
			 egress ? "to" : "from",
			 d->rule_number == NACL_RULE_STAR_V6 ? "::/0" : "0.0.0.0/0");
		return buf;
	}
	char proto[16], ports[32], cidr[IP_PREFIX_STRLEN];
	flow_proto_name(e->protocol, proto, sizeof(proto));
	ports_text(e, ports, sizeof(ports));
	snprintf(buf, len, "rule %u: %s %s%s %s %s", e->rule_number, e->allow ? "allow" : "deny",
		 proto, ports, e->egress ? "to" : "from",
		 ip_prefix_format(&e->cidr, cidr, sizeof(cidr)));
	return buf;
}

size_t nacl_entry_count(const struct nacl *acl)
{
	return acl->n_ingress + acl->n_egress;
}

const struct nacl_entry *nacl_entry_at(const struct nacl *acl, size_t i)
{
	return i < acl->n_ingress ? &acl->ingress[i] : &acl->egress[i - acl->n_ingress];
}
