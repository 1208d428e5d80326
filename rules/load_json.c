/*
 * The loader's JSON plumbing: typed getters that report a wrong or missing
 * value with the file and JSON path, path building, the parsers for the
 * small textual values both formats share (CIDRs, addresses, protocols),
 * and diagnostics. Knows no document shape; load_aws.c and load_lab.c do.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-private.h"

void *vec_push(struct vec *v, size_t size)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		void *p = realloc(v->items, cap * size);
		if (!p)
			return NULL;
		v->items = p;
		v->cap = cap;
	}
	void *item = (char *)v->items + v->n * size;
	memset(item, 0, size);
	v->n++;
	return item;
}

void vec_free(struct vec *v)
{
	free(v->items);
	memset(v, 0, sizeof(*v));
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

bool idmap_get(const struct idmap *m, const char *key, size_t *val)
{
	if (!m->cap || !key)
		return false;
	for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		const struct idmap_slot *s = &m->slots[i];
		if (!s->key)
			return false;
		if (!strcmp(s->key, key)) {
			*val = s->val;
			return true;
		}
	}
}

static int idmap_grow(struct idmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct idmap_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t k = 0; k < m->cap; k++) {
		const struct idmap_slot *s = &m->slots[k];
		if (!s->key)
			continue;
		size_t i = hash_str(s->key) & (cap - 1);
		while (slots[i].key)
			i = (i + 1) & (cap - 1);
		slots[i] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int idmap_put(struct idmap *m, const char *key, size_t val)
{
	if (!key)
		return 0;
	if ((m->n + 1) * 2 > m->cap && idmap_grow(m) < 0)
		return -ENOMEM;
	size_t i = hash_str(key) & (m->cap - 1);
	for (; m->slots[i].key; i = (i + 1) & (m->cap - 1))
		if (!strcmp(m->slots[i].key, key))
			return 0;
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->n++;
	return 0;
}

void idmap_free(struct idmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static void ld_vdiag(struct loader *l, enum diag_level lvl, const char *file, const char *path,
		     const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void ld_vdiag(struct loader *l, enum diag_level lvl, const char *file, const char *path,
		     const char *fmt, va_list ap)
{
	char msg[768];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (lvl == DIAG_WARNING && l->strict)
		lvl = DIAG_ERROR;
	diag_add(l->d, lvl, file, path, "%s", msg);
}

void ld_err(struct loader *l, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ld_vdiag(l, DIAG_ERROR, l->file, path, fmt, ap);
	va_end(ap);
}

void ld_warn(struct loader *l, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ld_vdiag(l, DIAG_WARNING, l->file, path, fmt, ap);
	va_end(ap);
}

static const char *sub_path(struct loader *l, const struct origin *o, const char *sub)
{
	if (!sub)
		return o->path;
	if (!o->path || !*o->path)
		return sub;
	return arena_printf(l->tmp, "%s%s%s", o->path, sub[0] == '[' ? "" : ".", sub);
}

void ld_err_at(struct loader *l, const struct origin *o, const char *sub, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ld_vdiag(l, DIAG_ERROR, o->file, sub_path(l, o, sub), fmt, ap);
	va_end(ap);
}

void ld_warn_at(struct loader *l, const struct origin *o, const char *sub, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ld_vdiag(l, DIAG_WARNING, o->file, sub_path(l, o, sub), fmt, ap);
	va_end(ap);
}

const char *jp_key(struct loader *l, const char *base, const char *key)
{
	if (!base || !*base)
		return arena_strdup(l->tmp, key);
	return arena_printf(l->tmp, "%s.%s", base, key);
}

const char *jp_idx(struct loader *l, const char *base, size_t i)
{
	return arena_printf(l->tmp, "%s[%zu]", base ? base : "", i);
}

struct origin ld_origin(struct loader *l, const char *path)
{
	struct origin o = {l->file, arena_strdup(l->a, path ? path : ""), NULL};
	return o;
}

bool want_object(struct loader *l, const json_t *v, const char *path)
{
	if (json_is_object(v))
		return true;
	ld_err(l, path, "expected an object, found %s", json_kind(v));
	return false;
}

const char *ld_fmt_prefix(struct loader *l, const struct ip_prefix *p)
{
	char buf[IP_PREFIX_STRLEN];
	return arena_strdup(l->tmp, ip_prefix_format(p, buf, sizeof(buf)));
}

const char *ld_where(struct loader *l, const struct origin *o)
{
	return arena_printf(l->tmp, "%s at %s", o->file ? o->file : "?",
			    o->path && *o->path ? o->path : "(top)");
}

void ld_each_object(struct loader *l, const json_t *obj, const char *key, const char *base,
		    ld_object_fn *fn)
{
	EACH(l, obj, key, base, i, o, path)
	{
		if (want_object(l, o, path))
			fn(l, o, path);
	}
}

const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static const json_t *j_get(struct loader *l, const json_t *obj, const char *key, const char *base,
			   bool required)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (!v && required)
		ld_err(l, jp_key(l, base, key), "required key is missing");
	return v;
}

#define J_TYPE(t) (1u << (t))

/* obj[key] when present and of one of the types (a J_TYPE mask), else NULL
 * with an error when it has another type ("expected want, found ..."). */
static const json_t *j_typed(struct loader *l, const json_t *obj, const char *key, const char *base,
			     bool required, unsigned types, const char *want)
{
	const json_t *v = j_get(l, obj, key, base, required);
	if (v && !(J_TYPE(json_typeof(v)) & types)) {
		ld_err(l, jp_key(l, base, key), "expected %s, found %s", want, json_kind(v));
		return NULL;
	}
	return v;
}

bool j_str(struct loader *l, const json_t *obj, const char *key, const char *base, bool required,
	   const char **out)
{
	const json_t *v = j_typed(l, obj, key, base, required, J_TYPE(JSON_STRING), "a string");
	if (v)
		*out = arena_strdup(l->a, json_string_value(v));
	return v != NULL;
}

bool j_int(struct loader *l, const json_t *obj, const char *key, const char *base, bool required,
	   long long *out)
{
	const json_t *v = j_typed(l, obj, key, base, required, J_TYPE(JSON_INTEGER), "an integer");
	if (v)
		*out = json_integer_value(v);
	return v != NULL;
}

bool j_bool(struct loader *l, const json_t *obj, const char *key, const char *base, bool required,
	    bool *out)
{
	const json_t *v = j_typed(l, obj, key, base, required,
				  J_TYPE(JSON_TRUE) | J_TYPE(JSON_FALSE), "true or false");
	if (v)
		*out = json_is_true(v);
	return v != NULL;
}

void j_strs(struct loader *l, const json_t *obj, const char *base, const struct j_field *fields)
{
	for (const struct j_field *f = fields; f->key; f++)
		j_str(l, obj, f->key, base, f->required, f->out);
}

const json_t *j_array(struct loader *l, const json_t *obj, const char *key, const char *base,
		      bool required)
{
	return j_typed(l, obj, key, base, required, J_TYPE(JSON_ARRAY), "an array");
}

const json_t *j_object(struct loader *l, const json_t *obj, const char *key, const char *base,
		       bool required)
{
	return j_typed(l, obj, key, base, required, J_TYPE(JSON_OBJECT), "an object");
}

bool j_strlist(struct loader *l, const json_t *obj, const char *key, const char *base,
	       const char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	const json_t *v = j_get(l, obj, key, base, false);
	if (!v || json_is_null(v))
		return true;
	if (json_is_string(v)) {
		*out = arena_calloc(l->a, 1, sizeof(char *));
		if (!*out)
			return false;
		(*out)[0] = arena_strdup(l->a, json_string_value(v));
		*n = 1;
		return true;
	}
	if (!json_is_array(v)) {
		ld_err(l, jp_key(l, base, key), "expected %s, found %s",
		       "a string or an array of strings", json_kind(v));
		return false;
	}
	size_t len = json_array_size(v);
	*out = arena_calloc(l->a, len ? len : 1, sizeof(char *));
	if (!*out)
		return false;
	bool ok = true;
	for (size_t i = 0; i < len; i++) {
		const json_t *s = json_array_get(v, i);
		if (!json_is_string(s)) {
			ld_err(l, jp_idx(l, jp_key(l, base, key), i), "expected a string, found %s",
			       json_kind(s));
			ok = false;
			continue;
		}
		(*out)[(*n)++] = arena_strdup(l->a, json_string_value(s));
	}
	return ok;
}

const char *j_name_tag(struct loader *l, const json_t *obj, const char *base)
{
	const char *key = json_object_get(obj, "Tags") ? "Tags" : "TagSet";
	const json_t *tags = j_array(l, obj, key, base, false);
	if (!tags)
		return NULL;
	const char *tbase = jp_key(l, base, key);
	const char *name = NULL;
	size_t i;
	const json_t *t;
	json_array_foreach(tags, i, t)
	{
		const char *tp = jp_idx(l, tbase, i);
		const char *k = NULL, *v = NULL;
		if (!json_is_object(t)) {
			ld_err(l, tp, "expected an object, found %s", json_kind(t));
			continue;
		}
		if (j_str(l, t, "Key", tp, true, &k) && !strcmp(k, "Name") &&
		    j_str(l, t, "Value", tp, true, &v))
			name = v;
	}
	return name;
}

static const char *family_word(int family, bool prefix)
{
	if (family == IP_V4)
		return prefix ? "an IPv4 CIDR block" : "an IPv4 address";
	if (family == IP_V6)
		return prefix ? "an IPv6 CIDR block" : "an IPv6 address";
	return prefix ? "a CIDR block" : "an IP address";
}

bool ld_prefix(struct loader *l, const char *text, const char *path, int family,
	       struct ip_prefix *out)
{
	bool canonical = true;
	if (ip_prefix_parse(text, out, &canonical) < 0 || (family && out->addr.family != family)) {
		ld_err(l, path, "'%s' is not %s", text, family_word(family, true));
		return false;
	}
	if (!canonical) {
		char buf[IP_PREFIX_STRLEN];
		ld_warn(l, path, "'%s' has host bits set; using %s", text,
			ip_prefix_format(out, buf, sizeof(buf)));
	}
	return true;
}

bool ld_addr(struct loader *l, const char *text, const char *path, int family, struct ip_addr *out)
{
	if (ip_addr_parse(text, out) < 0 || (family && out->family != family)) {
		ld_err(l, path, "'%s' is not %s", text, family_word(family, false));
		return false;
	}
	return true;
}

const char *ld_local_routes(struct loader *l, const struct ip_prefix *v4, size_t n4,
			    const struct ip_prefix *v6, size_t n6)
{
	const char *list = "";
	for (size_t i = 0; i < n4 + n6; i++) {
		char buf[IP_PREFIX_STRLEN];
		ip_prefix_format(i < n4 ? &v4[i] : &v6[i - n4], buf, sizeof(buf));
		list = arena_printf(l->tmp, "%s%s%s -> local", list, i ? ", " : "", buf);
		if (!list)
			return "local";
	}
	return list;
}

bool ld_family(struct loader *l, const char *text, const char *path, const char *names,
	       uint8_t *out)
{
	if (!strcasecmp(text, "IPv4") || !strcasecmp(text, "IPv6")) {
		*out = text[3] == '4' ? IP_V4 : IP_V6;
		return true;
	}
	ld_err(l, path, "'%s' is not an address family (%s)", text, names);
	return false;
}

const char *ld_number_or_string(const json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return json_is_string(v) ? json_string_value(v) : NULL;
}

bool ld_rule_action(struct loader *l, const char *text, const char *path, bool *allow)
{
	if (!strcmp(text, "allow") || !strcmp(text, "deny")) {
		*allow = text[0] == 'a';
		return true;
	}
	ld_err(l, path, "'%s' is not a rule action (allow or deny)", text);
	return false;
}

bool ld_route_state(struct loader *l, const char *text, const char *path, bool *blackhole)
{
	if (!strcmp(text, "active") || !strcmp(text, "blackhole")) {
		*blackhole = text[0] == 'b';
		return true;
	}
	ld_err(l, path, "'%s' is no route state (active or blackhole)", text);
	return false;
}

bool ld_protocol(struct loader *l, const char *text, const char *path, int16_t *out)
{
	static const struct {
		const char *name;
		int16_t num;
	} names[] = {
	    {"-1", PROTO_ALL},	     {"all", PROTO_ALL},   {"tcp", PROTO_TCP},
	    {"udp", PROTO_UDP},	     {"icmp", PROTO_ICMP}, {"icmpv6", PROTO_ICMPV6},
	    {"icmp6", PROTO_ICMPV6},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(text, names[i].name)) {
			*out = names[i].num;
			return true;
		}
	}
	char *end;
	errno = 0;
	long n = strtol(text, &end, 10);
	if (*text && !*end && !errno && n >= 0 && n <= 255 && text[0] != '+' && text[0] != ' ') {
		*out = (int16_t)n;
		return true;
	}
	ld_err(l, path,
	       "unknown protocol '%s' (expected tcp, udp, icmp, icmpv6, -1 or a number 0-255)",
	       text);
	return false;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= 0xff; /* separator so ("ab","c") != ("a","bc") */
	h *= 0x100000001b3ULL;
	return h;
}

const char *ld_make_id(struct loader *l, const char *prefix, const char *a, const char *b)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, prefix);
	h = fnv1a(h, a);
	h = fnv1a(h, b);
	return arena_printf(l->a, "%s-%017llx", prefix, (unsigned long long)h);
}

void ld_default_options(struct lab_options *o)
{
	memset(o, 0, sizeof(*o));
	o->sg_ref_includes_ipv6 = true;
	o->sg_filters_link_local = false;
	o->mtu = 9001;
	o->default_timeouts.tcp_established = 432000;
	o->default_timeouts.tcp_transient = 120;
	o->default_timeouts.udp_stream = 180;
	o->default_timeouts.udp = 30;
	o->default_timeouts.icmp = 30;
	o->default_timeouts.other = 600;
	o->default_ct_allowance = 65536;
	o->nat_idle_s = 350;
	o->nat_max_mappings = 65536;
}
