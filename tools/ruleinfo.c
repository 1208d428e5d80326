/* Rules as JSON (see ruleinfo.h). */
#include "ruleinfo.h"

#include <stdio.h>

#include "flow.h"

static json_t *owner_json(const char *id, const char *name)
{
	return json_pack("{s:s, s:o}", "id", id, "name", name ? json_string(name) : json_null());
}

static void proto_fields(json_t *o, int proto, int32_t from, int32_t to)
{
	char p[16];
	json_object_set_new(o, "protocol", json_string(flow_proto_name(proto, p, sizeof(p))));
	if (proto == PROTO_TCP || proto == PROTO_UDP) {
		json_object_set_new(o, "from_port", json_integer(from < 0 ? 0 : from));
		json_object_set_new(o, "to_port", json_integer(to < 0 ? 65535 : to));
	} else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		json_object_set_new(o, "icmp_type", json_integer(from));
		json_object_set_new(o, "icmp_code", json_integer(to));
	}
}

static json_t *sg_peer_json(const struct lab *lab, const struct sg_rule *x)
{
	char cidr[IP_PREFIX_STRLEN];
	switch (x->peer_kind) {
	case SG_PEER_CIDR:
		return json_pack("{s:s}", "cidr", ip_prefix_format(&x->cidr, cidr, sizeof(cidr)));
	case SG_PEER_GROUP: {
		const char *name = x->peer >= 0 ? lab->groups[x->peer].name : NULL;
		return json_pack("{s:s, s:o}", "group_id", x->peer_id ? x->peer_id : "",
				 "group_name", name ? json_string(name) : json_null());
	}
	case SG_PEER_PREFIX_LIST: {
		const char *name = x->peer >= 0 ? lab->prefix_lists[x->peer].name : NULL;
		return json_pack("{s:s, s:o}", "prefix_list_id", x->peer_id ? x->peer_id : "",
				 "prefix_list_name", name ? json_string(name) : json_null());
	}
	}
	return json_null();
}

json_t *ruleinfo_json(const struct lab *lab, const struct rule_ref *r)
{
	char text[512], cidr[IP_PREFIX_STRLEN];
	json_t *o = json_object();
	const struct origin *at = rule_ref_origin(lab, r);
	json_object_set_new(o, "kind", json_string(r->kind == RULE_SG ? "sg-rule" : "nacl-entry"));
	if (r->kind == RULE_SG) {
		const struct security_group *g = &lab->groups[r->owner];
		const struct sg_rule *x = rule_ref_sg(lab, r);
		json_object_set_new(o, "group", owner_json(g->id, g->name));
		json_object_set_new(o, "direction", json_string(x->egress ? "egress" : "ingress"));
		proto_fields(o, x->protocol, x->from_port, x->to_port);
		json_object_set_new(o, "peer", sg_peer_json(lab, x));
		if (x->description)
			json_object_set_new(o, "description", json_string(x->description));
	} else {
		const struct nacl *acl = &lab->nacls[r->owner];
		const struct nacl_entry *e = rule_ref_nacl(lab, r);
		bool icmp = e->protocol == PROTO_ICMP || e->protocol == PROTO_ICMPV6;
		json_object_set_new(o, "nacl", owner_json(acl->id, acl->name));
		json_object_set_new(o, "direction", json_string(e->egress ? "egress" : "ingress"));
		json_object_set_new(o, "rule_number", json_integer(e->rule_number));
		json_object_set_new(o, "action", json_string(e->allow ? "allow" : "deny"));
		proto_fields(o, e->protocol, icmp ? e->icmp_type : e->port_from,
			     icmp ? e->icmp_code : e->port_to);
		json_object_set_new(o, "cidr",
				    json_string(ip_prefix_format(&e->cidr, cidr, sizeof(cidr))));
	}
	json_object_set_new(o, "text", json_string(rule_ref_format(lab, r, text, sizeof(text))));
	json_object_set_new(o, "file", at->file ? json_string(at->file) : json_null());
	json_object_set_new(o, "json_path", at->path ? json_string(at->path) : json_null());
	return o;
}

const char *ruleinfo_owner(const struct lab *lab, const struct rule_ref *r, char *buf, size_t len)
{
	const char *id = r->kind == RULE_SG ? lab->groups[r->owner].id : lab->nacls[r->owner].id;
	const char *name =
	    r->kind == RULE_SG ? lab->groups[r->owner].name : lab->nacls[r->owner].name;
	if (name)
		snprintf(buf, len, "%s (%s)", id, name);
	else
		snprintf(buf, len, "%s", id);
	return buf;
}
