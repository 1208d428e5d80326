/*
 * Our lab format's rules (docs/lab-format.md): NACLs with their numbered
 * entries and security groups with their rules, ports and peers, checked
 * as AWS checks them when they are created (AWS-SEMANTICS §2, §3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-lab-private.h"

/* "443", "1024-65535" or 443. */
static bool parse_ports(struct loader *l, const json_t *v, const char *path, long *from, long *to)
{
	if (json_is_integer(v)) {
		*from = *to = (long)json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		*from = strtol(s, &end, 10);
		if (end == s) {
			ld_err(l, path, "'%s' is not a port or port range (e.g. 443 or 1024-65535)",
			       s);
			return false;
		}
		*to = *from;
		if (*end == '-') {
			const char *t = end + 1;
			*to = strtol(t, &end, 10);
			if (end == t) {
				ld_err(l, path,
				       "'%s' is not a port or port range (e.g. 443 or 1024-65535)",
				       s);
				return false;
			}
		}
		if (*end) {
			ld_err(l, path, "'%s' is not a port or port range (e.g. 443 or 1024-65535)",
			       s);
			return false;
		}
	} else {
		ld_err(l, path, "expected a port or port range, found %s", json_kind(v));
		return false;
	}
	if (*from < 0 || *from > 65535 || *to < 0 || *to > 65535) {
		ld_err(l, path, "port range %ld-%ld is outside 0-65535", *from, *to);
		return false;
	}
	if (*from > *to) {
		ld_err(l, path, "port range %ld-%ld runs backwards", *from, *to);
		return false;
	}
	return true;
}

static bool lab_proto(struct loader *l, const json_t *o, const char *path, int16_t *out)
{
	const json_t *v = json_object_get(o, "proto");
	const char *pp = jp_key(l, path, "proto");
	if (!v) {
		ld_err(l, pp, "required key is missing");
		return false;
	}
	char num[24];
	const char *text = ld_number_or_string(v, num, sizeof(num));
	if (!text) {
		ld_err(l, pp, "expected a protocol name or number, found %s", json_kind(v));
		return false;
	}
	return ld_protocol(l, text, pp, out);
}

/* ports / icmp_type / icmp_code by protocol: the same rules for NACL
 * entries and SG rules. ICMP type and code go to *from / *to. */
static bool lab_match(struct loader *l, const json_t *o, const char *path, int16_t proto,
		      long *from, long *to)
{
	const json_t *ports = json_object_get(o, "ports");
	const json_t *ty = json_object_get(o, "icmp_type");
	const json_t *co = json_object_get(o, "icmp_code");
	bool icmp = proto == PROTO_ICMP || proto == PROTO_ICMPV6;
	bool l4 = proto == PROTO_TCP || proto == PROTO_UDP;
	if (ports && !l4) {
		ld_err(l, jp_key(l, path, "ports"), "ports apply to tcp and udp only");
		return false;
	}
	if ((ty || co) && !icmp) {
		ld_err(l, jp_key(l, path, ty ? "icmp_type" : "icmp_code"),
		       "icmp_type and icmp_code apply to icmp and icmpv6 only");
		return false;
	}
	if (l4) {
		*from = 0;
		*to = 65535;
		return !ports || parse_ports(l, ports, jp_key(l, path, "ports"), from, to);
	}
	*from = *to = -1;
	if (!icmp)
		return true;
	long long t = -1, c = -1;
	bool ok = true;
	if (ty)
		ok &= j_int(l, o, "icmp_type", path, false, &t);
	if (co)
		ok &= j_int(l, o, "icmp_code", path, false, &c);
	if (!ok)
		return false;
	if (t < -1 || t > 255) {
		ld_err(l, jp_key(l, path, "icmp_type"), "ICMP type %lld is outside -1..255", t);
		return false;
	}
	if (c < -1 || c > 255) {
		ld_err(l, jp_key(l, path, "icmp_code"), "ICMP code %lld is outside -1..255", c);
		return false;
	}
	if (t == -1 && c != -1) {
		ld_err(l, jp_key(l, path, "icmp_code"), "ICMP code %lld needs an icmp_type", c);
		return false;
	}
	*from = (long)t;
	*to = (long)c;
	return true;
}

static const char *const nacl_entry_keys[] = {
    "rule", "action", "proto", "cidr", "ports", "icmp_type", "icmp_code", "description", NULL};

static bool lab_nacl_entry(struct loader *l, const json_t *o, const char *path, bool egress,
			   struct nacl_entry *n)
{
	if (!lab_keys_ok(l, o, path, nacl_entry_keys))
		return false;
	memset(n, 0, sizeof(*n));
	n->egress = egress;
	n->origin = ld_origin(l, path);
	long long num = 0;
	const char *action = NULL, *cidr = NULL;
	bool ok = j_int(l, o, "rule", path, true, &num);
	if (ok && (num < 1 || num > NACL_RULE_MAX)) {
		ld_err(l, jp_key(l, path, "rule"), "rule number %lld is outside 1-%d", num,
		       NACL_RULE_MAX);
		ok = false;
	}
	n->rule_number = (uint32_t)num;
	if (j_str(l, o, "action", path, true, &action)) {
		ok &= ld_rule_action(l, action, jp_key(l, path, "action"), &n->allow);
	} else {
		ok = false;
	}
	if (j_str(l, o, "cidr", path, true, &cidr))
		ok &= ld_prefix(l, cidr, jp_key(l, path, "cidr"), 0, &n->cidr);
	else
		ok = false;
	long from, to;
	if (!lab_proto(l, o, path, &n->protocol) || !lab_match(l, o, path, n->protocol, &from, &to))
		return false;
	if (n->protocol == PROTO_TCP || n->protocol == PROTO_UDP) {
		n->port_from = (uint16_t)from;
		n->port_to = (uint16_t)to;
		n->icmp_type = n->icmp_code = -1;
	} else {
		n->port_from = 0;
		n->port_to = 65535;
		n->icmp_type = (int16_t)from;
		n->icmp_code = (int16_t)to;
	}
	return ok;
}

static void lab_nacl_entries(struct loader *l, const json_t *o, const char *path, bool egress,
			     struct nacl_entry **out, size_t *n)
{
	const char *key = egress ? "egress" : "ingress";
	const json_t *arr = j_array(l, o, key, path, false);
	size_t len = arr ? json_array_size(arr) : 0;
	*out = arena_calloc(l->a, len ? len : 1, sizeof(struct nacl_entry));
	*n = 0;
	if (!*out)
		return;
	const char *base = jp_key(l, path, key);
	FOREACH(arr, i, e)
	{
		if (lab_nacl_entry(l, e, jp_idx(l, base, i), egress, &(*out)[*n]))
			(*n)++;
	}
}

static const char *const nacl_keys[] = {"name",	  "id",		 "default", "ingress",
					"egress", "description", NULL};

void lab_nacl(struct loader *l, struct scope *s, const json_t *o, const char *path)
{
	if (!lab_keys_ok(l, o, path, nacl_keys))
		return;
	struct draft_nacl d = {.n = {.vpc = -1, .vpc_id = s->vpc_id, .origin = ld_origin(l, path)}};
	struct nacl *n = &d.n;
	n->id = lab_declare(l, &s->nacls, o, path, "acl", s->vpc_name, &n->name);
	j_bool(l, o, "default", path, false, &n->is_default);
	lab_nacl_entries(l, o, path, false, &n->ingress, &n->n_ingress);
	lab_nacl_entries(l, o, path, true, &n->egress, &n->n_egress);
	if (!n->id)
		return;
	struct draft_nacl *slot = vec_push(&l->nacls, sizeof(*slot));
	if (slot)
		*slot = d;
}

/* A peer: a CIDR, a security group (name or sg- id) or a prefix list
 * (name or pl- id); "sg:NAME" / "pl:NAME" say which when names clash. */
static bool lab_peer(struct loader *l, struct scope *s, const char *text, const char *path,
		     struct sg_rule *r)
{
	if (strchr(text, '/')) {
		r->peer_kind = SG_PEER_CIDR;
		return ld_prefix(l, text, path, 0, &r->cidr);
	}
	const char *name = text;
	bool want_sg = true, want_pl = true;
	if (!strncmp(text, "sg:", 3)) {
		name = text + 3;
		want_pl = false;
	} else if (!strncmp(text, "pl:", 3)) {
		name = text + 3;
		want_sg = false;
	}
	const char *sg = want_sg ? lab_named_find(&s->groups, name) : NULL;
	const char *pl = want_pl ? lab_named_find(s->pls, name) : NULL;
	if (sg && pl) {
		ld_err(l, path,
		       "'%s' names both a security group and a prefix list: write "
		       "sg:%s or pl:%s",
		       name, name, name);
		return false;
	}
	if (!sg && !pl && want_sg && !strncmp(name, "sg-", 3))
		sg = name; /* a group of another VPC (peering): resolved later */
	if (!sg && !pl && want_pl && !strncmp(name, "pl-", 3))
		pl = name;
	if (!sg && !pl) {
		ld_err(l, path,
		       "'%s' is neither a CIDR block, a security group of VPC %s nor a "
		       "prefix list",
		       text, s->vpc_name);
		return false;
	}
	r->peer_kind = sg ? SG_PEER_GROUP : SG_PEER_PREFIX_LIST;
	r->peer_id = arena_strdup(l->a, sg ? sg : pl);
	return true;
}

static const char *const sg_rule_keys_in[] = {"proto", "ports",	      "icmp_type", "icmp_code",
					      "from",  "description", NULL};
static const char *const sg_rule_keys_out[] = {"proto", "ports",       "icmp_type", "icmp_code",
					       "to",	"description", NULL};

static void lab_sg_rule(struct loader *l, struct scope *s, const json_t *o, const char *path,
			bool egress, struct vec *rules)
{
	if (!lab_keys_ok(l, o, path, egress ? sg_rule_keys_out : sg_rule_keys_in))
		return;
	struct sg_rule base;
	memset(&base, 0, sizeof(base));
	base.egress = egress;
	base.peer = -1;
	j_str(l, o, "description", path, false, &base.description);
	long from, to;
	if (!lab_proto(l, o, path, &base.protocol) ||
	    !lab_match(l, o, path, base.protocol, &from, &to))
		return;
	base.from_port = (int32_t)from;
	base.to_port = (int32_t)to;
	const char *key = egress ? "to" : "from";
	const char **peers;
	size_t n;
	if (!j_strlist(l, o, key, path, &peers, &n))
		return;
	if (!n) {
		ld_err(l, jp_key(l, path, key), "required key is missing (the rule's peers)");
		return;
	}
	bool list = json_is_array(json_object_get(o, key));
	for (size_t i = 0; i < n; i++) {
		const char *pp = list ? jp_idx(l, jp_key(l, path, key), i) : jp_key(l, path, key);
		struct sg_rule r = base;
		r.origin = ld_origin(l, pp);
		if (!lab_peer(l, s, peers[i], pp, &r))
			continue;
		struct sg_rule *slot = vec_push(rules, sizeof(*slot));
		if (slot)
			*slot = r;
	}
}

/* A new group's outbound rule as AWS creates it: all traffic to 0.0.0.0/0,
 * and to ::/0 in a VPC with IPv6. */
static void default_egress(struct loader *l, struct scope *s, const char *path, struct vec *rules)
{
	for (int v6 = 0; v6 <= (s->has_ipv6 ? 1 : 0); v6++) {
		struct sg_rule *r = vec_push(rules, sizeof(*r));
		if (!r)
			return;
		r->egress = true;
		r->protocol = PROTO_ALL;
		r->from_port = r->to_port = -1;
		r->peer_kind = SG_PEER_CIDR;
		r->peer = -1;
		ip_prefix_parse(v6 ? "::/0" : "0.0.0.0/0", &r->cidr, NULL);
		r->description = "default outbound rule";
		r->origin = ld_origin(l, path);
	}
}

static const char *const sg_keys[] = {"name", "id", "description", "ingress", "egress", NULL};

void lab_group(struct loader *l, struct scope *s, const json_t *o, const char *path, size_t idx)
{
	if (!lab_keys_ok(l, o, path, sg_keys))
		return;
	struct draft_group d = {
	    .g = {.vpc = -1, .vpc_id = s->vpc_id, .origin = ld_origin(l, path)}};
	struct security_group *g = &d.g;
	if (!lab_declared(&s->groups, idx, &g->id, &g->name))
		return;
	j_str(l, o, "description", path, false, &g->description);
	struct vec rules = {0};
	for (int eg = 0; eg < 2; eg++) {
		const char *key = eg ? "egress" : "ingress";
		const json_t *arr = j_array(l, o, key, path, false);
		if (!arr && eg && !json_object_get(o, key))
			default_egress(l, s, jp_key(l, path, key), &rules);
		const char *base = jp_key(l, path, key);
		FOREACH(arr, i, r)
		{
			lab_sg_rule(l, s, r, jp_idx(l, base, i), eg, &rules);
		}
	}
	g->rules = arena_calloc(l->a, rules.n ? rules.n : 1, sizeof(struct sg_rule));
	if (g->rules && rules.n) {
		memcpy(g->rules, rules.items, rules.n * sizeof(struct sg_rule));
		g->n_rules = rules.n;
	}
	vec_free(&rules);
	struct draft_group *slot = vec_push(&l->groups, sizeof(*slot));
	if (slot)
		*slot = d;
}
