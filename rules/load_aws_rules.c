/*
 * Readers for describe-security-groups and describe-network-acls output
 * (AWS-SEMANTICS §2, §3): rules in AWS's terms, ports by protocol, the
 * implicit entries exports print. The objects the rules apply to (VPCs,
 * subnets, ENIs, route tables) are load_aws.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-private.h"

/* FromPort/ToPort of an IpPermission by protocol (AWS-SEMANTICS §3). */
static bool sg_ports(struct loader *l, const json_t *p, const char *path, int16_t proto,
		     int32_t *from, int32_t *to)
{
	long long f = -1, t = -1;
	bool has_f = json_object_get(p, "FromPort") != NULL;
	bool has_t = json_object_get(p, "ToPort") != NULL;
	if ((has_f && !j_int(l, p, "FromPort", path, false, &f)) ||
	    (has_t && !j_int(l, p, "ToPort", path, false, &t)))
		return false;
	if (proto == PROTO_TCP || proto == PROTO_UDP) {
		if (!has_f || !has_t) {
			ld_err(l, jp_key(l, path, has_f ? "ToPort" : "FromPort"),
			       "required key is missing (tcp and udp rules need a port range)");
			return false;
		}
		if (f < 0 || f > 65535) {
			ld_err(l, jp_key(l, path, "FromPort"), "port %lld is outside 0-65535", f);
			return false;
		}
		if (t < 0 || t > 65535) {
			ld_err(l, jp_key(l, path, "ToPort"), "port %lld is outside 0-65535", t);
			return false;
		}
		if (f > t) {
			ld_err(l, jp_key(l, path, "FromPort"),
			       "port range %lld-%lld runs backwards", f, t);
			return false;
		}
	} else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		if (f < -1 || f > 255) {
			ld_err(l, jp_key(l, path, "FromPort"), "ICMP type %lld is outside -1..255",
			       f);
			return false;
		}
		if (t < -1 || t > 255) {
			ld_err(l, jp_key(l, path, "ToPort"), "ICMP code %lld is outside -1..255",
			       t);
			return false;
		}
		if (f == -1 && t != -1) {
			ld_err(l, jp_key(l, path, "ToPort"),
			       "ICMP code %lld needs a type (FromPort is -1, any type)", t);
			return false;
		}
	} else {
		f = t = -1; /* ignored for other protocols and -1 */
	}
	*from = (int32_t)f;
	*to = (int32_t)t;
	return true;
}

static void push_rule(struct loader *l, struct vec *rules, const struct sg_rule *proto_rule,
		      const char *path, const json_t *peer)
{
	struct sg_rule *r = vec_push(rules, sizeof(*r));
	if (!r)
		return;
	*r = *proto_rule;
	r->peer = -1;
	r->origin = ld_origin(l, path);
	j_str(l, peer, "Description", path, false, &r->description);
}

static void sg_permission(struct loader *l, const json_t *p, const char *path, bool egress,
			  struct vec *rules)
{
	if (!want_object(l, p, path))
		return;
	struct sg_rule base;
	memset(&base, 0, sizeof(base));
	base.egress = egress;
	const json_t *pv = json_object_get(p, "IpProtocol");
	const char *proto_text = NULL;
	char num[16];
	if (json_is_integer(pv)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(pv));
		proto_text = num;
	} else if (!j_str(l, p, "IpProtocol", path, true, &proto_text)) {
		return;
	}
	if (!ld_protocol(l, proto_text, jp_key(l, path, "IpProtocol"), &base.protocol))
		return;
	if (!sg_ports(l, p, path, base.protocol, &base.from_port, &base.to_port))
		return;
	size_t before = rules->n, errors = l->d->n_errors;
	base.peer_kind = SG_PEER_CIDR;
	EACH(l, p, "IpRanges", path, i, r, rp)
	{
		const char *c;
		if (want_object(l, r, rp) && j_str(l, r, "CidrIp", rp, true, &c) &&
		    ld_prefix(l, c, jp_key(l, rp, "CidrIp"), IP_V4, &base.cidr))
			push_rule(l, rules, &base, rp, r);
	}
	EACH(l, p, "Ipv6Ranges", path, i, r, rp)
	{
		const char *c;
		if (want_object(l, r, rp) && j_str(l, r, "CidrIpv6", rp, true, &c) &&
		    ld_prefix(l, c, jp_key(l, rp, "CidrIpv6"), IP_V6, &base.cidr))
			push_rule(l, rules, &base, rp, r);
	}
	memset(&base.cidr, 0, sizeof(base.cidr));
	base.peer_kind = SG_PEER_PREFIX_LIST;
	EACH(l, p, "PrefixListIds", path, i, r, rp)
	{
		if (want_object(l, r, rp) && j_str(l, r, "PrefixListId", rp, true, &base.peer_id))
			push_rule(l, rules, &base, rp, r);
	}
	base.peer_kind = SG_PEER_GROUP;
	EACH(l, p, "UserIdGroupPairs", path, i, r, rp)
	{
		if (want_object(l, r, rp) && j_str(l, r, "GroupId", rp, true, &base.peer_id))
			push_rule(l, rules, &base, rp, r);
	}
	if (rules->n == before && l->d->n_errors == errors)
		ld_warn(l, path,
			"permission names no peer (IpRanges, Ipv6Ranges, PrefixListIds "
			"or UserIdGroupPairs); it allows nothing");
}

void aws_group(struct loader *l, const json_t *o, const char *path)
{
	struct draft_group d = {.from_aws = true, .g = {.vpc = -1, .origin = ld_origin(l, path)}};
	struct security_group *g = &d.g;
	J_STRS(l, o, path, J_REQ("GroupId", &g->id), J_OPT("GroupName", &g->name),
	       J_OPT("VpcId", &g->vpc_id), J_OPT("Description", &g->description));
	struct vec rules = {0};
	EACH(l, o, "IpPermissions", path, i, p, pp)
	{
		sg_permission(l, p, pp, false, &rules);
	}
	EACH(l, o, "IpPermissionsEgress", path, i, p, pp)
	{
		sg_permission(l, p, pp, true, &rules);
	}
	if (rules.n) {
		g->rules = arena_calloc(l->a, rules.n, sizeof(struct sg_rule));
		if (g->rules) {
			memcpy(g->rules, rules.items, rules.n * sizeof(struct sg_rule));
			g->n_rules = rules.n;
		}
	}
	vec_free(&rules);
	if (!g->id)
		return;
	struct draft_group *slot = vec_push(&l->groups, sizeof(*slot));
	if (slot)
		*slot = d;
}

/* The implicit "*" rule as exports print it: deny, all protocols, all
 * addresses, numbered 32767 (IPv4) or 32768 (IPv6). Not stored (model.h). */
static bool is_implicit_star(long long num, bool allow, int16_t proto, const struct ip_prefix *c)
{
	return (num == NACL_RULE_STAR_V4 || num == NACL_RULE_STAR_V6) && !allow &&
	       proto == PROTO_ALL && ip_prefix_is_all(c);
}

/* AWS's CreateNetworkAclEntry refuses such an entry, so no export holds
 * one: guessing "every port" would load a hand-edited file silently. */
static bool nacl_missing(struct loader *l, const char *path, const char *key, const char *which)
{
	ld_err(l, path, "%s is missing: AWS requires it for %s entries", key, which);
	return false;
}

static bool nacl_ports(struct loader *l, const json_t *e, const char *path, struct nacl_entry *n)
{
	n->port_from = 0;
	n->port_to = 65535;
	n->icmp_type = n->icmp_code = -1;
	if (n->protocol == PROTO_TCP || n->protocol == PROTO_UDP) {
		const json_t *pr = j_object(l, e, "PortRange", path, false);
		if (!pr && !json_object_get(e, "PortRange"))
			return nacl_missing(l, path, "PortRange", "TCP (6) and UDP (17)");
		if (!pr)
			return false;
		const char *pp = jp_key(l, path, "PortRange");
		long long f = 0, t = 65535;
		if (!j_int(l, pr, "From", pp, true, &f) || !j_int(l, pr, "To", pp, true, &t))
			return false;
		if (f < 0 || f > 65535 || t < 0 || t > 65535 || f > t) {
			ld_err(l, pp, "port range %lld-%lld is not valid (0-65535, From <= To)", f,
			       t);
			return false;
		}
		n->port_from = (uint16_t)f;
		n->port_to = (uint16_t)t;
	} else if (n->protocol == PROTO_ICMP || n->protocol == PROTO_ICMPV6) {
		const json_t *it = j_object(l, e, "IcmpTypeCode", path, false);
		/* ICMPv6 with an IPv4 block needs none: AWS allows every type. */
		if (!it && !json_object_get(e, "IcmpTypeCode") &&
		    (n->protocol == PROTO_ICMP || n->cidr.addr.family == IP_V6))
			return nacl_missing(l, path, "IcmpTypeCode",
					    "ICMP (1), and ICMPv6 (58) with an IPv6 block");
		if (!it)
			return !json_object_get(e, "IcmpTypeCode");
		const char *ip = jp_key(l, path, "IcmpTypeCode");
		long long ty = -1, co = -1;
		j_int(l, it, "Type", ip, false, &ty);
		j_int(l, it, "Code", ip, false, &co);
		if (ty < -1 || ty > 255 || co < -1 || co > 255) {
			ld_err(l, ip, "ICMP type %lld code %lld is outside -1..255", ty, co);
			return false;
		}
		n->icmp_type = (int16_t)ty;
		n->icmp_code = (int16_t)co;
	}
	return true;
}

static bool aws_nacl_entry(struct loader *l, const json_t *e, const char *path,
			   struct nacl_entry *n, bool *skip)
{
	*skip = false;
	if (!want_object(l, e, path))
		return false;
	memset(n, 0, sizeof(*n));
	n->origin = ld_origin(l, path);
	long long num = 0;
	const char *proto = NULL, *action = NULL, *c4 = NULL, *c6 = NULL;
	bool ok = j_int(l, e, "RuleNumber", path, true, &num);
	ok &= j_bool(l, e, "Egress", path, true, &n->egress);
	ok &= j_str(l, e, "RuleAction", path, true, &action);
	const json_t *pv = json_object_get(e, "Protocol");
	char numbuf[16];
	if (json_is_integer(pv)) {
		snprintf(numbuf, sizeof(numbuf), "%lld", (long long)json_integer_value(pv));
		proto = numbuf;
	} else {
		ok &= j_str(l, e, "Protocol", path, true, &proto);
	}
	if (proto)
		ok &= ld_protocol(l, proto, jp_key(l, path, "Protocol"), &n->protocol);
	if (action)
		ok &= ld_rule_action(l, action, jp_key(l, path, "RuleAction"), &n->allow);
	bool h4 = j_str(l, e, "CidrBlock", path, false, &c4);
	bool h6 = j_str(l, e, "Ipv6CidrBlock", path, false, &c6);
	if (h4 == h6) {
		ld_err(l, path, "an entry needs exactly one of CidrBlock and Ipv6CidrBlock");
		ok = false;
	} else if (h4) {
		ok &= ld_prefix(l, c4, jp_key(l, path, "CidrBlock"), IP_V4, &n->cidr);
	} else {
		ok &= ld_prefix(l, c6, jp_key(l, path, "Ipv6CidrBlock"), IP_V6, &n->cidr);
	}
	if (!ok)
		return false;
	if (is_implicit_star(num, n->allow, n->protocol, &n->cidr)) {
		*skip = true;
		return true;
	}
	if (num < 1 || num > NACL_RULE_MAX) {
		ld_err(l, jp_key(l, path, "RuleNumber"), "rule number %lld is outside 1-%d", num,
		       NACL_RULE_MAX);
		return false;
	}
	n->rule_number = (uint32_t)num;
	return nacl_ports(l, e, path, n);
}

static void store_entries(struct loader *l, struct vec *v, struct nacl_entry **out, size_t *n)
{
	*out = arena_calloc(l->a, v->n ? v->n : 1, sizeof(struct nacl_entry));
	if (*out && v->n)
		memcpy(*out, v->items, v->n * sizeof(struct nacl_entry));
	*n = *out ? v->n : 0;
	vec_free(v);
}

void aws_nacl(struct loader *l, const json_t *o, const char *path)
{
	struct draft_nacl d = {.from_aws = true, .n = {.vpc = -1, .origin = ld_origin(l, path)}};
	struct nacl *n = &d.n;
	j_str(l, o, "NetworkAclId", path, true, &n->id);
	j_str(l, o, "VpcId", path, true, &n->vpc_id);
	j_bool(l, o, "IsDefault", path, false, &n->is_default);
	n->name = j_name_tag(l, o, path);
	struct vec in = {0}, out = {0}, assoc = {0};
	EACH(l, o, "Entries", path, i, e, ep)
	{
		struct nacl_entry ne;
		bool skip;
		if (!aws_nacl_entry(l, e, ep, &ne, &skip) || skip)
			continue;
		struct nacl_entry *slot = vec_push(ne.egress ? &out : &in, sizeof(*slot));
		if (slot)
			*slot = ne;
	}
	EACH(l, o, "Associations", path, i, a, ap)
	{
		struct ref r = {NULL, ld_origin(l, ap)};
		if (!want_object(l, a, ap) || !j_str(l, a, "SubnetId", ap, true, &r.id))
			continue;
		struct ref *slot = vec_push(&assoc, sizeof(*slot));
		if (slot)
			*slot = r;
	}
	store_entries(l, &in, &n->ingress, &n->n_ingress);
	store_entries(l, &out, &n->egress, &n->n_egress);
	d.assoc = arena_calloc(l->a, assoc.n ? assoc.n : 1, sizeof(struct ref));
	if (d.assoc && assoc.n) {
		memcpy(d.assoc, assoc.items, assoc.n * sizeof(struct ref));
		d.n_assoc = assoc.n;
	}
	vec_free(&assoc);
	if (!n->id || !n->vpc_id)
		return;
	struct draft_nacl *slot = vec_push(&l->nacls, sizeof(*slot));
	if (slot)
		*slot = d;
}
