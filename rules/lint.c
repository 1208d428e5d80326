/*
 * The lint checks of lint.h. Each check reasons over rules as sets of
 * packets: a rule matches a peer CIDR (or group, or prefix list), a
 * protocol and an interval of keys: the destination port for TCP/UDP,
 * type<<8|code for ICMP (a -1 type or code widens the interval), a single
 * key for every other protocol. Containment of those three is containment
 * of the packet sets (AWS-SEMANTICS §2, §3). Where a check needs a verdict
 * it asks rules/nacl and rules/sg, never a copy of their logic.
 */
#include "lint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacl.h"
#include "sg.h"

/* Entries of one NACL list the shadow check cuts cells at (AWS allows 40). */
#define LINT_CELL_MAX 64

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

struct lint_ctx {
	const struct lab *lab;
	struct lint_report *out;
	int err;
};

static struct lint_finding *add(struct lint_ctx *c, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct lint_finding *add(struct lint_ctx *c, const char *id, const char *fmt, ...)
{
	struct lint_report *r = c->out;
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 16;
		struct lint_finding *v = realloc(r->items, nc * sizeof(*v));
		if (!v) {
			c->err = -ENOMEM;
			return NULL;
		}
		r->items = v;
		r->cap = nc;
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

static void add_rule(struct lint_finding *f, struct rule_ref r)
{
	if (f && f->n_rules < LINT_MAX_RULES)
		f->rules[f->n_rules++] = r;
}

static const char *rtext(const struct lab *lab, struct rule_ref r, char *buf, size_t len)
{
	return rule_ref_format(lab, &r, buf, len);
}

static struct rule_ref nacl_ref(int32_t a, bool egress, size_t i)
{
	return (struct rule_ref){RULE_NACL, a, (int32_t)i, egress};
}

static struct rule_ref sg_ref_of(const struct lab *lab, int32_t g, size_t i)
{
	return (struct rule_ref){RULE_SG, g, (int32_t)i, lab->groups[g].rules[i].egress};
}

/* ---- rules as packet sets ---- */

struct keys {
	uint32_t lo, hi;
};

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

static struct keys entry_keys(const struct nacl_entry *e)
{
	bool icmp = e->protocol == PROTO_ICMP || e->protocol == PROTO_ICMPV6;
	return key_interval(e->protocol, icmp ? e->icmp_type : e->port_from,
			    icmp ? e->icmp_code : e->port_to);
}

static struct keys rule_keys(const struct sg_rule *r)
{
	return key_interval(r->protocol, r->from_port, r->to_port);
}

/* Whether every packet of protocol inner is of protocol outer. */
static bool proto_covers(int outer, int inner)
{
	return outer == PROTO_ALL || outer == inner;
}

static bool keys_cover(struct keys outer, struct keys inner, int outer_proto)
{
	return outer_proto == PROTO_ALL || (outer.lo <= inner.lo && outer.hi >= inner.hi);
}

static void entry_list(const struct nacl *acl, bool egress, const struct nacl_entry **l, size_t *n)
{
	*l = egress ? acl->egress : acl->ingress;
	*n = egress ? acl->n_egress : acl->n_ingress;
}

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
		bool special = p == PROTO_TCP || p == PROTO_UDP || p == PROTO_ICMP || p == PROTO_ICMPV6;
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
	entry_list(acl, egress, &l, &n);
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

static void check_shadow(struct lint_ctx *c, int32_t a, bool egress)
{
	const struct nacl_entry *l;
	size_t n, used[LINT_MAX_RULES], n_used;
	char t1[256], t2[256];
	entry_list(&c->lab->nacls[a], egress, &l, &n);
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
		    add(c, contra ? "nacl-contradicted" : "nacl-shadowed",
			"%s never decides anything: earlier rule %u (%s)%s %s every packet it "
			"matches first%s%s%s",
			rtext(c->lab, nacl_ref(a, egress, i), t1, sizeof(t1)), l[shown].rule_number,
			rtext(c->lab, nacl_ref(a, egress, shown), t2, sizeof(t2)),
			n_used > 1 ? " with the other earlier rules named" : "",
			contra ? "decides" : (l[i].allow ? "allows" : "denies"),
			contra ? ", the other way: its " : "", contra ? act : "",
			contra ? " never applies" : "");
		add_rule(f, nacl_ref(a, egress, i));
		for (size_t k = 0; k < n_used; k++)
			add_rule(f, nacl_ref(a, egress, used[k]));
	}
}

/* ---- sg-redundant ---- */

static size_t group_enis(const struct lab *lab, int32_t g)
{
	size_t n = 0;
	for (size_t i = 0; i < lab->n_enis; i++)
		for (size_t k = 0; k < lab->enis[i].n_groups; k++)
			n += lab->enis[i].groups[k] == g;
	return n;
}

/* Whether every ENI carrying g (at least one) carries h too: then h's
 * rules apply wherever g's do. */
static bool always_with(const struct lab *lab, int32_t g, int32_t h)
{
	size_t n = 0;
	for (size_t i = 0; i < lab->n_enis; i++) {
		if (!lab_eni_has_group(&lab->enis[i], g))
			continue;
		if (!lab_eni_has_group(&lab->enis[i], h))
			return false;
		n++;
	}
	return n > 0;
}

/* Whether outer's peer includes every address inner's does. Group
 * membership changes as instances come and go, so a group is covered only
 * by itself; a prefix list by itself or a CIDR covering all its entries. */
static bool peer_covers(const struct lab *lab, const struct sg_rule *outer,
			const struct sg_rule *inner)
{
	switch (inner->peer_kind) {
	case SG_PEER_CIDR:
		return outer->peer_kind == SG_PEER_CIDR &&
		       ip_prefix_covers(&outer->cidr, &inner->cidr);
	case SG_PEER_GROUP:
		return outer->peer_kind == SG_PEER_GROUP && outer->peer == inner->peer &&
		       inner->peer >= 0;
	case SG_PEER_PREFIX_LIST:
		if (outer->peer_kind == SG_PEER_PREFIX_LIST)
			return outer->peer == inner->peer && inner->peer >= 0;
		if (outer->peer_kind != SG_PEER_CIDR || inner->peer < 0 ||
		    !lab->prefix_lists[inner->peer].n_cidrs)
			return false;
		for (size_t i = 0; i < lab->prefix_lists[inner->peer].n_cidrs; i++)
			if (!ip_prefix_covers(&outer->cidr,
					      &lab->prefix_lists[inner->peer].cidrs[i]))
				return false;
		return true;
	}
	return false;
}

static bool sg_rule_covers(const struct lab *lab, const struct sg_rule *outer,
			   const struct sg_rule *inner)
{
	return outer->egress == inner->egress && proto_covers(outer->protocol, inner->protocol) &&
	       keys_cover(rule_keys(outer), rule_keys(inner), outer->protocol) &&
	       peer_covers(lab, outer, inner);
}

/* AWS's default outbound rule, which every new group gets: all traffic to
 * 0.0.0.0/0 (and ::/0). Two groups on one ENI both carry it as a matter
 * of course, and it makes every egress rule of the ENI's other groups
 * redundant; calling those redundant is noise. */
static bool is_default_egress(const struct sg_rule *x)
{
	return x->egress && x->protocol == PROTO_ALL && x->peer_kind == SG_PEER_CIDR &&
	       ip_prefix_is_all(&x->cidr);
}

/* The rule making (g, r) redundant, or false. Of two identical rules only
 * the later one (in rule_index order) is reported. */
static bool find_cover(const struct lab *lab, int32_t g, size_t r, int32_t *og, size_t *orr)
{
	const struct sg_rule *x = &lab->groups[g].rules[r];
	if (is_default_egress(x))
		return false;
	for (size_t h = 0; h < lab->n_groups; h++) {
		if ((int32_t)h != g && !always_with(lab, g, (int32_t)h))
			continue;
		for (size_t k = 0; k < lab->groups[h].n_rules; k++) {
			const struct sg_rule *y = &lab->groups[h].rules[k];
			if (((int32_t)h == g && k == r) || !sg_rule_covers(lab, y, x))
				continue;
			/* another group's default outbound rule covers every egress
			 * rule of its ENIs' other groups as a matter of course */
			if ((int32_t)h != g && is_default_egress(y))
				continue;
			bool later = (int32_t)h > g || ((int32_t)h == g && k > r);
			if (sg_rule_covers(lab, x, y) && later)
				continue; /* identical: the later one is the redundant one */
			*og = (int32_t)h;
			*orr = k;
			return true;
		}
	}
	return false;
}

static void check_sg_redundant(struct lint_ctx *c)
{
	char t1[320], t2[320];
	for (size_t g = 0; g < c->lab->n_groups; g++)
		for (size_t r = 0; r < c->lab->groups[g].n_rules; r++) {
			int32_t og;
			size_t orr;
			if (!find_cover(c->lab, (int32_t)g, r, &og, &orr))
				continue;
			struct lint_finding *f =
			    add(c, "sg-redundant", "%s allows nothing that %s does not: %s",
				rtext(c->lab, sg_ref_of(c->lab, (int32_t)g, r), t1, sizeof(t1)),
				rtext(c->lab, sg_ref_of(c->lab, og, orr), t2, sizeof(t2)),
				og == (int32_t)g ? "same group"
						 : "that group is on every ENI this one is on");
			add_rule(f, sg_ref_of(c->lab, (int32_t)g, r));
			add_rule(f, sg_ref_of(c->lab, og, orr));
		}
}

/* ---- open-admin-port ---- */

static const struct {
	uint16_t port;
	int proto; /* PROTO_TCP, or PROTO_ALL for TCP and UDP */
	const char *what;
} admin_ports[] = {
    {22, PROTO_TCP, "SSH"},
    {23, PROTO_TCP, "Telnet"},
    {3389, PROTO_ALL, "RDP"},
    {5985, PROTO_TCP, "WinRM"},
    {5986, PROTO_TCP, "WinRM"},
    {3306, PROTO_TCP, "MySQL"},
    {5432, PROTO_TCP, "PostgreSQL"},
    {1433, PROTO_TCP, "SQL Server"},
    {1521, PROTO_TCP, "Oracle"},
    {6379, PROTO_TCP, "Redis"},
    {11211, PROTO_ALL, "Memcached"},
    {27017, PROTO_TCP, "MongoDB"},
    {9200, PROTO_TCP, "Elasticsearch"},
    {9300, PROTO_TCP, "Elasticsearch"},
    {2379, PROTO_TCP, "etcd"},
};

static bool opens_port(const struct sg_rule *r, int proto, uint16_t port)
{
	if (r->protocol == PROTO_ALL)
		return true;
	if (r->protocol != PROTO_TCP && r->protocol != PROTO_UDP)
		return false;
	if (proto != PROTO_ALL && r->protocol != proto)
		return false;
	struct keys k = rule_keys(r);
	return port >= k.lo && port <= k.hi;
}

/* A peer of every address: 0.0.0.0/0, ::/0, or a prefix list holding one. */
static bool peer_is_everyone(const struct lab *lab, const struct sg_rule *x)
{
	if (x->peer_kind == SG_PEER_CIDR)
		return ip_prefix_is_all(&x->cidr);
	if (x->peer_kind != SG_PEER_PREFIX_LIST || x->peer < 0)
		return false;
	const struct prefix_list *pl = &lab->prefix_lists[x->peer];
	for (size_t i = 0; i < pl->n_cidrs; i++)
		if (ip_prefix_is_all(&pl->cidrs[i]))
			return true;
	return false;
}

static void check_admin(struct lint_ctx *c)
{
	char t[320], list[256];
	for (size_t g = 0; g < c->lab->n_groups; g++)
		for (size_t r = 0; r < c->lab->groups[g].n_rules; r++) {
			const struct sg_rule *x = &c->lab->groups[g].rules[r];
			if (x->egress || !peer_is_everyone(c->lab, x))
				continue;
			size_t off = 0, n = 0;
			list[0] = '\0';
			for (size_t i = 0; i < sizeof(admin_ports) / sizeof(admin_ports[0]); i++) {
				if (!opens_port(x, admin_ports[i].proto, admin_ports[i].port) ||
				    off >= sizeof(list))
					continue;
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u (%s)",
							n++ ? ", " : "", admin_ports[i].port,
							admin_ports[i].what);
			}
			if (!n)
				continue;
			struct lint_finding *f = add(
			    c, "open-admin-port", "%s opens %s to every address on the internet",
			    rtext(c->lab, sg_ref_of(c->lab, (int32_t)g, r), t, sizeof(t)), list);
			add_rule(f, sg_ref_of(c->lab, (int32_t)g, r));
		}
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
static bool internet_addr(const struct lab *lab, enum ip_family fam, struct ip_addr *out)
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

/* An address of p the entry e (index i of l) decides at port/key k, for a
 * flow whose peer is that address; the first address tried is the lowest
 * of p, then the internet representatives. */
static bool peer_addr_in(const struct lab *lab, const struct ip_prefix *p, struct ip_addr *out)
{
	if (ip_prefix_is_all(p))
		return internet_addr(lab, (enum ip_family)p->addr.family, out);
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
	struct keys k = entry_keys(e);
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
	struct lint_finding *f = add(
	    c, "nacl-no-return",
	    "%s admits requests, but %s denies their replies %s %s port %u (%s): NACLs are "
	    "stateless; allow %s %u-%u %s %s in %s (AWS suggests 1024-65535)",
	    rtext(c->lab, nacl_ref(a, egress, i), t1, sizeof(t1)), !egress ? "egress" : "ingress",
	    !egress ? "to" : "from", ip_addr_format(&peer, a1, sizeof(a1)), port, t2, proto,
	    PIPELINE_EPHEMERAL_LO, PIPELINE_EPHEMERAL_HI, !egress ? "to" : "from",
	    ip_prefix_format(&e->cidr, cidr, sizeof(cidr)), !egress ? "egress" : "ingress");
	add_rule(f, nacl_ref(a, egress, i));
	if (d.entry) {
		const struct nacl_entry *base = !egress ? acl->egress : acl->ingress;
		add_rule(f, nacl_ref(a, !egress, (size_t)(d.entry - base)));
	}
}

static void check_no_return(struct lint_ctx *c, int32_t a)
{
	const struct nacl *acl = &c->lab->nacls[a];
	if (acl->is_default)
		return;
	for (int eg = 0; eg < 2; eg++) {
		const struct nacl_entry *l;
		size_t n;
		entry_list(acl, eg, &l, &n);
		for (size_t i = 0; i < n && !c->err; i++)
			if (is_request_entry(&l[i]))
				no_return_one(c, a, eg, i);
	}
}

/* ---- sg-ref-empty, sg-unattached ---- */

static void check_refs(struct lint_ctx *c)
{
	char t[320];
	for (size_t g = 0; g < c->lab->n_groups; g++) {
		const struct security_group *sg = &c->lab->groups[g];
		if (!group_enis(c->lab, (int32_t)g)) {
			/* its rules match nothing anyway: one finding for the group */
			if (sg->name && !strcmp(sg->name, "default"))
				continue;
			struct lint_finding *f = add(
			    c, "sg-unattached",
			    "%s%s%s%s is attached to no ENI: its rules apply to nothing", sg->id,
			    sg->name ? " (" : "", sg->name ? sg->name : "", sg->name ? ")" : "");
			if (f)
				f->group = (int32_t)g;
			continue;
		}
		for (size_t r = 0; r < sg->n_rules; r++) {
			const struct sg_rule *x = &sg->rules[r];
			if (x->peer_kind != SG_PEER_GROUP || x->peer < 0 ||
			    group_enis(c->lab, x->peer))
				continue;
			struct lint_finding *f =
			    add(c, "sg-ref-empty",
				"%s references %s, which no ENI carries: the rule matches nobody",
				rtext(c->lab, sg_ref_of(c->lab, (int32_t)g, r), t, sizeof(t)),
				x->peer_id);
			add_rule(f, sg_ref_of(c->lab, (int32_t)g, r));
		}
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

static enum ip_family other_family(uint8_t f)
{
	return f == IP_V4 ? IP_V6 : IP_V4;
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

static const char *fam_name(uint8_t f)
{
	return f == IP_V6 ? "IPv6" : "IPv4";
}

static void gap_nacl_entry(struct lint_ctx *c, int32_t a, bool egress, size_t i)
{
	const struct nacl *acl = &c->lab->nacls[a];
	const struct nacl_entry *e = egress ? &acl->egress[i] : &acl->ingress[i];
	struct ip_addr peer, other;
	struct flow f, g;
	if (!ip_prefix_is_all(&e->cidr) || !internet_addr(c->lab, e->cidr.addr.family, &peer) ||
	    !internet_addr(c->lab, other_family(e->cidr.addr.family), &other) ||
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
	    add(c, "family-gap",
		"%s, but in this dual-stack subnet %s %s%s %s all %s addresses is %s by %s%u: "
		"%s %s by accident?",
		rtext(c->lab, nacl_ref(a, egress, i), t1, sizeof(t1)), fam_name(g.src.family),
		proto, what, egress ? "to" : "from", fam_name(g.src.family),
		d.allow ? "allowed" : "denied", d.entry ? "rule " : "the final * rule ",
		d.rule_number, fam_name(g.src.family), d.allow ? "left open" : "shut");
	add_rule(f2, nacl_ref(a, egress, i));
	if (d.entry) {
		const struct nacl_entry *base = egress ? acl->egress : acl->ingress;
		add_rule(f2, nacl_ref(a, egress, (size_t)(d.entry - base)));
	}
}

static void check_gap_nacl(struct lint_ctx *c, int32_t a)
{
	if (!nacl_dual_stack(c->lab, a))
		return;
	for (int eg = 0; eg < 2; eg++) {
		size_t n = eg ? c->lab->nacls[a].n_egress : c->lab->nacls[a].n_ingress;
		for (size_t i = 0; i < n; i++)
			gap_nacl_entry(c, a, eg, i);
	}
}

/* A dual-stack ENI carrying group g, or -1. */
static int32_t dual_eni_with(const struct lab *lab, int32_t g)
{
	for (size_t i = 0; i < lab->n_enis; i++)
		if (lab->enis[i].n_ipv4 && lab->enis[i].n_ipv6 &&
		    lab_eni_has_group(&lab->enis[i], g))
			return (int32_t)i;
	return -1;
}

static void gap_sg_rule(struct lint_ctx *c, int32_t g, size_t r, int32_t eni)
{
	const struct sg_rule *x = &c->lab->groups[g].rules[r];
	const struct eni *e = &c->lab->enis[eni];
	struct ip_addr other;
	uint8_t fam = x->cidr.addr.family;
	if (x->protocol != PROTO_ALL && x->protocol != PROTO_TCP && x->protocol != PROTO_UDP)
		return;
	if (!internet_addr(c->lab, other_family(fam), &other))
		return;
	struct flow f;
	memset(&f, 0, sizeof(f));
	f.proto = x->protocol == PROTO_ALL ? PROTO_TCP : (uint8_t)x->protocol;
	f.dport = x->protocol == PROTO_ALL ? 443 : (uint16_t)rule_keys(x).lo;
	const struct ip_addr *self = other.family == IP_V6 ? &e->ipv6[0] : &e->ipv4[0];
	f.src = x->egress ? *self : other;
	f.dst = x->egress ? other : *self;
	struct sg_match m;
	if (sg_evaluate(c->lab, e, x->egress, &f, &m))
		return;
	char t1[320], proto[16];
	flow_proto_name(f.proto, proto, sizeof(proto));
	struct lint_finding *fd =
	    add(c, "family-gap",
		"%s, but %s (dual-stack) allows no %s %s port %u %s all %s addresses: %s shut "
		"(or %s open) by accident?",
		rtext(c->lab, sg_ref_of(c->lab, g, r), t1, sizeof(t1)), lab_eni_label(c->lab, eni),
		fam_name(other.family), proto, f.dport, x->egress ? "to" : "from",
		fam_name(other.family), fam_name(other.family), fam_name(fam));
	add_rule(fd, sg_ref_of(c->lab, g, r));
}

static void check_gap_sg(struct lint_ctx *c)
{
	for (size_t g = 0; g < c->lab->n_groups; g++) {
		int32_t eni = dual_eni_with(c->lab, (int32_t)g);
		if (eni < 0)
			continue;
		for (size_t r = 0; r < c->lab->groups[g].n_rules; r++) {
			const struct sg_rule *x = &c->lab->groups[g].rules[r];
			if (x->peer_kind == SG_PEER_CIDR && ip_prefix_is_all(&x->cidr))
				gap_sg_rule(c, (int32_t)g, r, eni);
		}
	}
}

int lint_run(const struct lab *lab, struct lint_report *out)
{
	struct lint_ctx c = {lab, out, 0};
	memset(out, 0, sizeof(*out));
	for (size_t a = 0; a < lab->n_nacls; a++) {
		check_shadow(&c, (int32_t)a, false);
		check_shadow(&c, (int32_t)a, true);
	}
	check_sg_redundant(&c);
	check_admin(&c);
	for (size_t a = 0; a < lab->n_nacls; a++)
		check_no_return(&c, (int32_t)a);
	check_refs(&c);
	for (size_t a = 0; a < lab->n_nacls; a++)
		check_gap_nacl(&c, (int32_t)a);
	check_gap_sg(&c);
	if (c.err)
		lint_report_free(out);
	return c.err;
}

void lint_report_free(struct lint_report *r)
{
	free(r->items);
	memset(r, 0, sizeof(*r));
}
