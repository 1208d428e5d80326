/*
 * Our lab format's ENIs (docs/lab-format.md): addresses, groups, public
 * IPs, the instance they belong to, connection-tracking timeouts and
 * allowances (also the lab-wide defaults of options).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-lab-private.h"
#include "load_build.h"

static const char *const timeout_keys[] = {
    "tcp_established", "tcp_transient", "udp_stream", "udp", "icmp", "other", NULL};

void lab_timeouts(struct loader *l, const json_t *o, const char *path, struct ct_timeouts *t)
{
	if (!lab_keys_ok(l, o, path, timeout_keys))
		return;
	uint32_t *fields[] = {
	    &t->tcp_established, &t->tcp_transient, &t->udp_stream, &t->udp, &t->icmp, &t->other};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		long long v;
		if (!j_int(l, o, timeout_keys[i], path, false, &v))
			continue;
		if (v < 1 || v > 4320000) {
			ld_err(l, jp_key(l, path, timeout_keys[i]),
			       "timeout %lld s is outside 1-4320000", v);
			continue;
		}
		*fields[i] = (uint32_t)v;
	}
}

bool lab_allowance(struct loader *l, const json_t *o, const char *path, uint32_t *out)
{
	long long v;
	if (!j_int(l, o, "conntrack_allowance", path, false, &v))
		return false;
	if (v < 1 || v > 100000000) {
		ld_err(l, jp_key(l, path, "conntrack_allowance"),
		       "%lld connections is outside 1-100000000", v);
		return false;
	}
	*out = (uint32_t)v;
	return true;
}

static struct ref *lab_group_refs(struct loader *l, struct scope *s, const json_t *o,
				  const char *path, size_t *n)
{
	const char **names;
	size_t k;
	*n = 0;
	if (!j_strlist(l, o, "groups", path, &names, &k))
		return NULL;
	const char *desc = json_string_value(json_object_get(o, "description"));
	/* an NLB's node: load_lb_resolve.c warns unless its load balancer is known */
	bool nlb_node = desc && !strncmp(desc, "ELB net/", 8);
	if (!k && json_is_array(json_object_get(o, "groups")) && !nlb_node) {
		/* an AWS-managed interface (NAT gateway, NLB, transit gateway
		 * attachment) has none: vpcfw import writes it so */
		ld_warn(l, jp_key(l, path, "groups"),
			"no security group: AWS applies none to an AWS-managed interface; "
			"vpcfw's security-group stages let nothing through it");
		return NULL;
	}
	if (!k && nlb_node)
		return NULL;
	if (!k) {
		ld_err(l, jp_key(l, path, "groups"),
		       "required key is missing (an ENI has 1 to 16 security groups)");
		return NULL;
	}
	struct ref *refs = arena_calloc(l->a, k, sizeof(*refs));
	if (!refs)
		return NULL;
	bool list = json_is_array(json_object_get(o, "groups"));
	for (size_t i = 0; i < k; i++) {
		const char *gp =
		    list ? jp_idx(l, jp_key(l, path, "groups"), i) : jp_key(l, path, "groups");
		const char *id = lab_named_find(&s->groups, names[i]);
		if (!id && !strncmp(names[i], "sg-", 3))
			id = names[i];
		if (!id) {
			ld_err(l, gp, "no security group named '%s' in VPC %s", names[i],
			       s->vpc_name);
			continue;
		}
		refs[*n].id = id;
		refs[*n].at = ld_origin(l, gp);
		(*n)++;
	}
	return refs;
}

static void lab_addrs(struct loader *l, const json_t *o, const char *key, const char *path,
		      int family, struct ip_addr **out, size_t *n)
{
	const char **texts;
	size_t k;
	*n = 0;
	if (!j_strlist(l, o, key, path, &texts, &k) || !k)
		return;
	*out = arena_calloc(l->a, k, sizeof(struct ip_addr));
	if (!*out)
		return;
	bool list = json_is_array(json_object_get(o, key));
	for (size_t i = 0; i < k; i++) {
		const char *ap = list ? jp_idx(l, jp_key(l, path, key), i) : jp_key(l, path, key);
		if (ld_addr(l, texts[i], ap, family, &(*out)[*n]))
			(*n)++;
	}
}

/* instance: absent -> an instance of its own (id made from the ENI's
 * name); "i-..." -> that id; another string -> a named instance several ENIs
 * may share; null -> not attached (a load balancer node, an endpoint). */
static void lab_instance(struct loader *l, struct scope *s, const json_t *o, const char *path,
			 const char *eni_name, struct draft_eni *d)
{
	const json_t *v = json_object_get(o, "instance");
	long long di = 0;
	if (j_int(l, o, "device_index", path, false, &di) && (di < 0 || di > 255)) {
		ld_err(l, jp_key(l, path, "device_index"), "device index %lld is outside 0-255",
		       di);
		di = 0;
	}
	if (json_is_null(v)) {
		d->e.device_index = -1;
		return;
	}
	d->e.device_index = (int32_t)di;
	if (!v) {
		d->e.instance_id = ld_make_id(l, "i", s->vpc_name, eni_name ? eni_name : "");
		return;
	}
	const char *t;
	if (!j_str(l, o, "instance", path, false, &t))
		return;
	if (!strncmp(t, "i-", 2)) {
		d->e.instance_id = t;
	} else {
		d->e.instance_id = ld_make_id(l, "i", s->vpc_name, t);
		d->instance_name = t;
	}
}

bool lab_name_is_short(const char *n)
{
	size_t len = strlen(n);
	if (len < 1 || len > 10)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') || *n == '-'))
			return false;
	return true;
}

static const char *const eni_keys[] = {
    "name",    "id",	   "subnet",	   "ip",	  "ipv6",     "public_ip",
    "groups",  "instance", "device_index", "description", "timeouts", "conntrack_allowance",
    "address", NULL};

/* "public_ip": the primary address's public IP, or an object mapping
 * private addresses of the ENI to theirs (an Elastic IP belongs to one
 * private address, AWS-SEMANTICS §9). */
static void lab_public_ips(struct loader *l, const json_t *o, const char *path, struct eni *e)
{
	const json_t *v = json_object_get(o, "public_ip");
	const char *at = jp_key(l, path, "public_ip");
	struct ip_addr priv, pub;
	if (!v)
		return;
	if (!json_is_object(v)) {
		const char *text;
		if (!j_str(l, o, "public_ip", path, false, &text) ||
		    !ld_addr(l, text, at, IP_V4, &pub))
			return;
		if (e->n_ipv4)
			ld_eni_public(l, e, &e->ipv4[0], &pub);
		else
			ld_err(l, at, "a public IP needs a private IPv4 address (ip)");
		return;
	}
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)v, key, val)
	{
		const char *kp = jp_key(l, at, key);
		if (!json_is_string(val)) {
			ld_err(l, kp, "expected a string, found %s", json_kind(val));
			continue;
		}
		if (!ld_addr(l, key, kp, IP_V4, &priv) ||
		    !ld_addr(l, json_string_value(val), kp, IP_V4, &pub))
			continue;
		bool own = false;
		for (size_t i = 0; i < e->n_ipv4; i++)
			own |= ip_addr_eq(&e->ipv4[i], &priv);
		if (own)
			ld_eni_public(l, e, &priv, &pub);
		else
			ld_err(l, kp, "%s is not a private address of this ENI (ip)", key);
	}
}

void lab_eni(struct loader *l, struct scope *s, const json_t *o, const char *path,
	     struct names *names)
{
	if (!lab_keys_ok(l, o, path, eni_keys))
		return;
	struct draft_eni d = {.e = {.subnet = -1, .origin = ld_origin(l, path)}};
	struct eni *e = &d.e;
	const char *name = NULL;
	e->id = lab_declare(l, names, o, path, "eni", s->vpc_name, &name);
	d.own_name = name;
	if (name && !lab_name_is_short(name))
		ld_warn(l, jp_key(l, path, "name"),
			"'%s' is not a short name (1-10 of a-z 0-9 -): it becomes the namespace "
			"name vpcfw-%s",
			name, name);
	j_str(l, o, "description", path, false, &e->description);
	j_str(l, o, "address", path, false, &e->address); /* kept by vpcfw import */
	d.subnet = lab_ref(l, &s->subnets, o, "subnet", path, "subnet", s->vpc_name);
	if (!json_object_get(o, "subnet"))
		ld_err(l, jp_key(l, path, "subnet"), "required key is missing");
	d.vpc_id = s->vpc_id;
	lab_addrs(l, o, "ip", path, IP_V4, &e->ipv4, &e->n_ipv4);
	lab_addrs(l, o, "ipv6", path, IP_V6, &e->ipv6, &e->n_ipv6);
	if (!json_object_get(o, "ip") && !json_object_get(o, "ipv6"))
		ld_err(l, path, "an ENI needs an address: ip, ipv6 or both");
	lab_public_ips(l, o, path, e);
	d.groups = lab_group_refs(l, s, o, path, &d.n_groups);
	lab_instance(l, s, o, path, name, &d);
	const json_t *t = j_object(l, o, "timeouts", path, false);
	if (t) {
		lab_timeouts(l, t, jp_key(l, path, "timeouts"), &e->timeouts);
		d.explicit_timeouts = true;
	}
	lab_allowance(l, o, path, &e->ct_allowance);
	if (e->id && d.subnet.id)
		ld_add_eni(l, &d);
}
