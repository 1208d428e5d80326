/*
 * The lint checks on NACL entries: nacl-shadowed and nacl-contradicted
 * (first match, §2), nacl-no-return (stateless replies, §2) and the NACL
 * half of family-gap. Verdicts come from rules/nacl, never a copy of its
 * logic.
 *
 * Not for: SG checks (lint_sg.c), the findings and the driver (lint.c).
 */
#include "lint.h"
#include "lint-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacl.h"
#include "sg.h"

/* Entries of one NACL list the shadow check cuts cells at (AWS allows 40). */
#define LINT_CELL_MAX 64

/* ---- nacl-shadowed, nacl-contradicted ---- */

/* e's match space cut into cells no entry of the list splits: along the
 * address line at every entry's CIDR bounds, along the keys at every
 * entry's port or ICMP bounds, and per protocol. Every packet of one cell
 * meets the same first match (§2), so e decides something exactly when it
 * decides some cell's first packet. */
struct cells {
	struct ip_addr addr[2 * LINT_CELL_MAX + 1];
	size_t n_addr;
	struct flow keys[4 * LINT_CELL_MAX + 8];
	size_t n_keys;
	bool full; /* a cell did not fit: no verdict */
};

static void cell_addr(struct cells *c, const struct ip_prefix *in, const struct ip_addr *a)
{
	if (!ip_prefix_contains(in, a))
		return;
	for (size_t i = 0; i < c->n_addr; i++)
		if (ip_addr_eq(&c->addr[i], a))
			return;
	if (c->n_addr == sizeof(c->addr) / sizeof(c->addr[0]))
		c->full = true;
	else
		c->addr[c->n_addr++] = *a;
}

static void cell_key(struct cells *c, const struct flow *f)
{
	if (c->n_keys < sizeof(c->keys) / sizeof(c->keys[0]))
		c->keys[c->n_keys++] = *f;
	else
		c->full = true;
}

/* The port cells of TCP or UDP within lo..hi. */
static void port_cells(struct cells *c, const struct nacl *acl, bool egress, uint8_t proto,
		       uint32_t lo, uint32_t hi)
{
	struct flow f = {.proto = proto};
	for (uint32_t p = lo; p <= hi; p = nacl_next_port(acl, egress, p, hi + 1)) {
		f.dport = (uint16_t)p;
		cell_key(c, &f);
	}
}

/* ICMP cells: every type and code an entry names, plus one none names. */
static void icmp_cells(struct cells *c, const struct nacl_entry *l, size_t n, uint8_t proto,
		       int16_t type, int16_t code)
{
	int16_t types[LINT_CELL_MAX + 1], codes[LINT_CELL_MAX + 1];
	size_t nt = 0, nc = 0;
	for (size_t i = 0; i < n && nt < LINT_CELL_MAX; i++) {
		if (l[i].protocol == proto && l[i].icmp_type >= 0)
			types[nt++] = l[i].icmp_type;
		if (l[i].protocol == proto && l[i].icmp_code >= 0)
			codes[nc++] = l[i].icmp_code;
	}
	types[nt++] = 254; /* named by no entry in practice: a cell of its own */
	codes[nc++] = 254;
	for (size_t t = 0; t < nt; t++)
		for (size_t k = 0; k < nc; k++) {
			if ((type >= 0 && types[t] != type) || (code >= 0 && codes[k] != code))
				continue;
			struct flow f = {.proto = proto,
					 .icmp_type = (uint8_t)types[t],
					 .icmp_code = (uint8_t)codes[k]};
			cell_key(c, &f);
		}
}

static void key_cells(struct cells *c, const struct nacl *acl, bool egress,
		      const struct nacl_entry *l, size_t n, const struct nacl_entry *e)
{
	uint8_t fam = e->cidr.addr.family;
	uint8_t icmp = fam == IP_V6 ? PROTO_ICMPV6 : PROTO_ICMP;
	if (e->protocol == PROTO_TCP || e->protocol == PROTO_UDP) {
		port_cells(c, acl, egress, (uint8_t)e->protocol, e->port_from, e->port_to);
		return;
	}
	if (e->protocol == PROTO_ICMP || e->protocol == PROTO_ICMPV6) {
		icmp_cells(c, l, n, (uint8_t)e->protocol, e->icmp_type, e->icmp_code);
		return;
	}
	if (e->protocol != PROTO_ALL) {
		struct flow f = {.proto = (uint8_t)e->protocol};
		cell_key(c, &f);
		return;
	}
	port_cells(c, acl, egress, PROTO_TCP, 0, 65535);
	port_cells(c, acl, egress, PROTO_UDP, 0, 65535);
	icmp_cells(c, l, n, icmp, -1, -1);
	/* every other protocol an entry names, and one none does */
	bool named[256] = {false};
	for (size_t i = 0; i < n; i++)
		if (l[i].protocol >= 0)
			named[l[i].protocol] = true;
	bool unnamed = false;
	for (int p = 0; p < 256; p++) {
		bool special =
		    p == PROTO_TCP || p == PROTO_UDP || p == PROTO_ICMP || p == PROTO_ICMPV6;
		if (special || (!named[p] && unnamed))
			continue;
		unnamed |= !named[p];
		struct flow f = {.proto = (uint8_t)p};
		cell_key(c, &f);
	}
}

static void addr_cells(struct cells *c, const struct nacl_entry *l, size_t n,
		       const struct nacl_entry *e)
{
	cell_addr(c, &e->cidr, &e->cidr.addr);
	for (size_t i = 0; i < n; i++) {
		struct ip_addr past;
		if (l[i].cidr.addr.family != e->cidr.addr.family)
			continue;
		cell_addr(c, &e->cidr, &l[i].cidr.addr);
		ip_prefix_last(&l[i].cidr, &past);
		if (ip_addr_next(&past))
			cell_addr(c, &e->cidr, &past);
	}
}

/* Whether entry i never decides a packet; used[] gets the entries that
 * decide its cells instead (the first LINT_MAX_RULES - 1 of them). */
static bool shadowed(const struct nacl *acl, bool egress, size_t i, size_t *used, size_t *n_used)
{
	const struct nacl_entry *l;
	size_t n;
	lint_entry_list(acl, egress, &l, &n);
	const struct nacl_entry *e = &l[i];
	struct cells *c = calloc(1, sizeof(*c));
	bool decides = c == NULL; /* no memory: claim nothing */
	*n_used = 0;
	if (c) {
		addr_cells(c, l, n, e);
		key_cells(c, acl, egress, l, n, e);
		decides = c->full;
	}
	for (size_t a = 0; c && a < c->n_addr && !decides; a++)
		for (size_t k = 0; k < c->n_keys && !decides; k++) {
			struct flow f = c->keys[k];
			struct nacl_decision d;
			f.src.family = f.dst.family = e->cidr.addr.family;
			if (egress)
				f.dst = c->addr[a];
			else
				f.src = c->addr[a];
			nacl_evaluate(acl, egress, &f, &d);
			decides = d.entry == e || !d.entry;
			size_t idx = d.entry ? (size_t)(d.entry - l) : 0, u;
			for (u = 0; u < *n_used && used[u] != idx; u++)
				;
			if (!decides && u == *n_used && *n_used < LINT_MAX_RULES - 1)
				used[(*n_used)++] = idx;
		}
	free(c);
	return !decides;
}

void lint_check_shadow(struct lint_ctx *c, int32_t a, bool egress)
{
	const struct nacl_entry *l;
	size_t n, used[LINT_MAX_RULES], n_used;
	char t1[256], t2[256];
	lint_entry_list(&c->lab->nacls[a], egress, &l, &n);
	for (size_t i = 0; i < n; i++) {
		if (!shadowed(&c->lab->nacls[a], egress, i, used, &n_used) || !n_used)
			continue;
		/* name the first earlier entry of the other action, if any */
		size_t shown = used[0];
		bool contra = false;
		for (size_t k = 0; k < n_used && !contra; k++)
			if ((contra = l[used[k]].allow != l[i].allow))
				shown = used[k];
		const char *act = l[i].allow ? "allow" : "deny";
		struct lint_finding *f =
		    lint_add(c, contra ? "nacl-contradicted" : "nacl-shadowed",
			     "%s never decides anything: earlier rule %u (%s)%s %s every packet it "
			     "matches first%s%s%s",
			     lint_rtext(c->lab, lint_nacl_ref(a, egress, i), t1, sizeof(t1)),
			     l[shown].rule_number,
			     lint_rtext(c->lab, lint_nacl_ref(a, egress, shown), t2, sizeof(t2)),
			     n_used > 1 ? " with the other earlier rules named" : "",
			     contra ? "decides" : (l[i].allow ? "allows" : "denies"),
			     contra ? ", the other way: its " : "", contra ? act : "",
			     contra ? " never applies" : "");
		lint_add_rule(f, lint_nacl_ref(a, egress, i));
		for (size_t k = 0; k < n_used; k++)
			lint_add_rule(f, lint_nacl_ref(a, egress, used[k]));
	}
}

/* ---- flows an entry decides ---- */

/* An address of p the entry e (index i of l) decides at port/key k, for a
 * flow whose peer is that address; the first address tried is the lowest
 * of p, then the internet representatives. */
static bool peer_addr_in(const struct lab *lab, const struct ip_prefix *p, struct ip_addr *out)
{
	if (ip_prefix_is_all(p))
		return lint_internet_addr(lab, (enum ip_family)p->addr.family, out);
	/* base+1..+3 of a subnet are the VPC router, DNS and a reserved
	 * address, which NACLs never filter: a peer stands at base+4, the
	 * first address AWS gives an instance, when the prefix has one */
	int bits = p->addr.family == IP_V4 ? 32 : 128;
	*out = p->addr;
	if (p->len + 3 <= bits)
		ip_prefix_nth(p, 4, out);
	else if (p->len + 1 < bits)
		ip_prefix_nth(p, 1, out);
	return true;
}

/* A flow matching entry e from/to peer, at the first key e decides there. */
static bool decided_flow(const struct nacl *acl, const struct nacl_entry *e,
			 const struct ip_addr *peer, struct flow *f)
{
	memset(f, 0, sizeof(*f));
	f->src.family = f->dst.family = peer->family;
	if (e->egress)
		f->dst = *peer;
	else
		f->src = *peer;
	f->proto = e->protocol == PROTO_ALL ? PROTO_TCP : (uint8_t)e->protocol;
	if (f->proto == PROTO_ICMP && peer->family == IP_V6)
		f->proto = PROTO_ICMPV6;
	struct keys k = lint_entry_keys(e);
	if (e->protocol == PROTO_ALL)
		k = (struct keys){1, 65535};
	struct nacl_decision d;
	uint32_t limit = k.hi + 1;
	for (uint32_t p = k.lo; p <= k.hi;) {
		if (flow_has_ports(f)) {
			f->dport = (uint16_t)p;
		} else if (flow_is_icmp(f)) {
			f->icmp_type = (uint8_t)(p >> 8);
			f->icmp_code = (uint8_t)p;
		}
		nacl_evaluate(acl, e->egress, f, &d);
		if (d.entry == e)
			return true;
		if (!flow_has_ports(f))
			return false; /* ICMP: the first key is enough of a sample */
		p = nacl_next_port(acl, e->egress, p, limit);
	}
	return false;
}

/* ---- nacl-no-return ---- */

static bool is_request_entry(const struct nacl_entry *e)
{
	if (!e->allow || (e->protocol != PROTO_TCP && e->protocol != PROTO_UDP))
		return false;
	/* a wide range, or one running to the top of the port space, is a
	 * return allowance for some client's ephemeral ports (Linux
	 * 32768-60999, Windows 49152-65535, AWS's 1024-65535), not a service */
	if ((e->port_from >= 1024 && e->port_to >= PIPELINE_EPHEMERAL_HI) ||
	    e->port_to - e->port_from >= 1000)
		return false;
	return !(e->protocol == PROTO_UDP && e->port_from >= 67 && e->port_to <= 68);
}

/* NACLs never filter traffic with the Amazon DNS server, the metadata or
 * time services (§1): their entries need no return path. */
static bool is_service(const struct lab *lab, const struct nacl *acl, const struct ip_addr *a)
{
	struct pipeline_end e;
	pipeline_end_of_addr(lab, acl->vpc, a, &e);
	return e.kind == END_SERVICE;
}

/* Whether every address of p lies in the one subnet NACL a serves: such
 * traffic never crosses a NACL (§1: same subnet), so it needs no return. */
static bool own_subnet_only(const struct lab *lab, int32_t a, const struct ip_prefix *p)
{
	size_t served = 0;
	bool inside = false;
	for (size_t s = 0; s < lab->n_subnets; s++) {
		const struct subnet *sn = &lab->subnets[s];
		if (sn->nacl != a)
			continue;
		served++;
		inside |= ip_prefix_covers(&sn->cidr, p) ||
			  (sn->has_cidr6 && ip_prefix_covers(&sn->cidr6, p));
	}
	return served == 1 && inside;
}

static void no_return_one(struct lint_ctx *c, int32_t a, bool egress, size_t i)
{
	const struct nacl *acl = &c->lab->nacls[a];
	const struct nacl_entry *e = egress ? &acl->egress[i] : &acl->ingress[i];
	struct ip_addr peer;
	struct flow req, reply;
	if (!peer_addr_in(c->lab, &e->cidr, &peer) || is_service(c->lab, acl, &peer) ||
	    own_subnet_only(c->lab, a, &e->cidr) || !decided_flow(acl, e, &peer, &req))
		return;
	flow_reverse(&req, &reply);
	struct nacl_decision d;
	uint16_t port;
	if (nacl_evaluate_ports(acl, !egress, &reply, PIPELINE_EPHEMERAL_LO, PIPELINE_EPHEMERAL_HI,
				&port, &d))
		return;
	char t1[256], t2[256], a1[IP_ADDR_STRLEN], cidr[IP_PREFIX_STRLEN], proto[16];
	if (d.entry)
		snprintf(t2, sizeof(t2), "rule %u", d.rule_number);
	else
		snprintf(t2, sizeof(t2), "the final * rule (%u)", d.rule_number);
	flow_proto_name(e->protocol, proto, sizeof(proto));
	struct lint_finding *f = lint_add(
	    c, "nacl-no-return",
	    "%s admits requests, but %s denies their replies %s %s port %u (%s): NACLs are "
	    "stateless; allow %s %u-%u %s %s in %s (AWS suggests 1024-65535)",
	    lint_rtext(c->lab, lint_nacl_ref(a, egress, i), t1, sizeof(t1)),
	    !egress ? "egress" : "ingress", !egress ? "to" : "from",
	    ip_addr_format(&peer, a1, sizeof(a1)), port, t2, proto, PIPELINE_EPHEMERAL_LO,
	    PIPELINE_EPHEMERAL_HI, !egress ? "to" : "from",
	    ip_prefix_format(&e->cidr, cidr, sizeof(cidr)), !egress ? "egress" : "ingress");
	lint_add_rule(f, lint_nacl_ref(a, egress, i));
	if (d.entry) {
		const struct nacl_entry *base = !egress ? acl->egress : acl->ingress;
		lint_add_rule(f, lint_nacl_ref(a, !egress, (size_t)(d.entry - base)));
	}
}

void lint_check_no_return(struct lint_ctx *c, int32_t a)
{
	const struct nacl *acl = &c->lab->nacls[a];
	if (acl->is_default)
		return;
	for (int eg = 0; eg < 2; eg++) {
		const struct nacl_entry *l;
		size_t n;
		lint_entry_list(acl, eg, &l, &n);
		for (size_t i = 0; i < n && !c->err; i++)
			if (is_request_entry(&l[i]))
				no_return_one(c, a, eg, i);
	}
}

/* ---- family-gap ---- */

static bool nacl_dual_stack(const struct lab *lab, int32_t a)
{
	for (size_t s = 0; s < lab->n_subnets; s++)
		if (lab->subnets[s].nacl == a && lab->subnets[s].has_cidr6)
			return true;
	return false;
}

static void flow_to_family(const struct flow *f, const struct ip_addr *peer, bool egress,
			   struct flow *g)
{
	*g = *f;
	memset(&g->src, 0, sizeof(g->src));
	memset(&g->dst, 0, sizeof(g->dst));
	g->src.family = g->dst.family = peer->family;
	if (egress)
		g->dst = *peer;
	else
		g->src = *peer;
	if (f->proto == PROTO_ICMP || f->proto == PROTO_ICMPV6)
		g->proto = peer->family == IP_V6 ? PROTO_ICMPV6 : PROTO_ICMP;
}

static void gap_nacl_entry(struct lint_ctx *c, int32_t a, bool egress, size_t i)
{
	const struct nacl *acl = &c->lab->nacls[a];
	const struct nacl_entry *e = egress ? &acl->egress[i] : &acl->ingress[i];
	struct ip_addr peer, other;
	struct flow f, g;
	if (!ip_prefix_is_all(&e->cidr) ||
	    !lint_internet_addr(c->lab, e->cidr.addr.family, &peer) ||
	    !lint_internet_addr(c->lab, lint_other_family(e->cidr.addr.family), &other) ||
	    !decided_flow(acl, e, &peer, &f))
		return;
	if (flow_is_icmp(&f) && f.icmp_type != (e->cidr.addr.family == IP_V4 ? 8 : 128))
		return; /* ICMP types differ between the families: only echo compares */
	flow_to_family(&f, &other, egress, &g);
	if (flow_is_icmp(&g))
		g.icmp_type = g.proto == PROTO_ICMPV6 ? 128 : 8;
	struct nacl_decision d;
	nacl_evaluate(acl, egress, &g, &d);
	if (d.allow == e->allow)
		return;
	char t1[256], proto[16], what[32] = "";
	flow_proto_name(g.proto, proto, sizeof(proto));
	if (flow_has_ports(&g))
		snprintf(what, sizeof(what), " port %u", g.dport);
	struct lint_finding *f2 =
	    lint_add(c, "family-gap",
		     "%s, but in this dual-stack subnet %s %s%s %s all %s addresses is %s by %s%u: "
		     "%s %s by accident?",
		     lint_rtext(c->lab, lint_nacl_ref(a, egress, i), t1, sizeof(t1)),
		     lint_fam_name(g.src.family), proto, what, egress ? "to" : "from",
		     lint_fam_name(g.src.family), d.allow ? "allowed" : "denied",
		     d.entry ? "rule " : "the final * rule ", d.rule_number,
		     lint_fam_name(g.src.family), d.allow ? "left open" : "shut");
	lint_add_rule(f2, lint_nacl_ref(a, egress, i));
	if (d.entry) {
		const struct nacl_entry *base = egress ? acl->egress : acl->ingress;
		lint_add_rule(f2, lint_nacl_ref(a, egress, (size_t)(d.entry - base)));
	}
}

void lint_check_gap_nacl(struct lint_ctx *c, int32_t a)
{
	if (!nacl_dual_stack(c->lab, a))
		return;
	for (int eg = 0; eg < 2; eg++) {
		size_t n = eg ? c->lab->nacls[a].n_egress : c->lab->nacls[a].n_ingress;
		for (size_t i = 0; i < n; i++)
			gap_nacl_entry(c, a, eg, i);
	}
}
