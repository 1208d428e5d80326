/*
 * The Terraform reader's values and references, shared by load_tf.c (the
 * document) and the resources' readers (load_tf_net.c, load_tf_eni.c):
 * typed values of a resource with unknown-until-apply and null handled
 * alike, the ids an attribute names (its value, else the resources its
 * expression references), pending joins for tf_finish and the VPC
 * defaults. Calls nothing of the readers that use it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-tf-private.h"

bool tf_read_kind(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *kinds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r->type, kinds[i].type)) {
			kinds[i].read(t, r, &kinds[i]);
			return true;
		}
	return false;
}

struct tf_state *tf_state(struct loader *l)
{
	if (!l->tf)
		l->tf = calloc(1, sizeof(*l->tf));
	return l->tf;
}

void tf_loader_free(struct loader *l)
{
	if (!l->tf)
		return;
	vec_free(&l->tf->defaults);
	vec_free(&l->tf->pending);
	free(l->tf);
	l->tf = NULL;
}

struct origin tf_origin(struct tf_doc *t, const struct tf_res *r, const char *sub)
{
	struct origin o = r->origin;
	if (sub)
		o.path = arena_printf(t->l->a, "%s.%s", r->address, sub);
	return o;
}

bool tf_str(struct tf_doc *t, const struct tf_res *r, const json_t *obj, const char *base,
	    const char *key, const char **out)
{
	(void)r;
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (!v || json_is_null(v))
		return false;
	if (!json_is_string(v)) {
		ld_err(t->l, jp_key(t->l, base, key), "expected a string, found %s", json_kind(v));
		return false;
	}
	*out = arena_strdup(t->l->a, json_string_value(v));
	return *out != NULL;
}

/* Plans of Terraform 0.12 write some numbers as strings ("3306"). */
bool tf_int(struct tf_doc *t, const json_t *obj, const char *base, const char *key, long long *out)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (!v || json_is_null(v))
		return false;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_string(v)) {
		char *end;
		long long n = strtoll(json_string_value(v), &end, 10);
		if (*json_string_value(v) && !*end) {
			*out = n;
			return true;
		}
	}
	ld_err(t->l, jp_key(t->l, base, key), "expected an integer, found %s", json_kind(v));
	return false;
}

bool tf_bool(const json_t *obj, const char *key, bool *out)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (!json_is_boolean(v))
		return false;
	*out = json_is_true(v);
	return true;
}

bool tf_is_unknown(const json_t *unknown, const char *key)
{
	const json_t *u = json_is_object(unknown) ? json_object_get(unknown, key) : NULL;
	if (json_is_true(u))
		return true;
	size_t i;
	const json_t *e;
	json_array_foreach(u, i, e) if (json_is_true(e)) return true;
	return false;
}

const char *tf_name_tag(struct tf_doc *t, const struct tf_res *r)
{
	const json_t *tags = json_object_get(r->values, "tags");
	const char *name = NULL;
	tf_str(t, r, tags, jp_key(t->l, r->address, "tags"), "Name", &name);
	return name;
}

struct tf_pending *tf_pend(struct loader *l, enum tf_pending_kind kind, const char *target,
			   const char *other, const struct origin *o)
{
	struct tf_state *s = tf_state(l);
	struct tf_pending *p = s ? vec_push(&s->pending, sizeof(*p)) : NULL;
	if (!p)
		return NULL;
	*p = (struct tf_pending){
	    .kind = kind, .target = target, .other = other, .device_index = -1, .origin = *o};
	return p;
}

struct tf_vpc_defaults *tf_defaults_of(struct loader *l, const char *vpc_id)
{
	struct tf_state *s = tf_state(l);
	for (size_t i = 0; s && vpc_id && i < s->defaults.n; i++) {
		struct tf_vpc_defaults *d = VEC_AT(&s->defaults, struct tf_vpc_defaults, i);
		if (!strcmp(d->vpc_id, vpc_id))
			return d;
	}
	return NULL;
}

/* "aws_subnet.web[0].id" -> type, name, index ("0" or NULL), attribute. */
struct tf_ref {
	char type[128], name[128], index[128], attr[128];
	bool has_index;
};

static bool parse_ref(const char *ref, struct tf_ref *out)
{
	static const char *const skip[] = {"var.",  "local.", "data.", "module.",
					   "each.", "count.", "path.", "self."};
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (!strncmp(ref, skip[i], strlen(skip[i])))
			return false;
	size_t n = strcspn(ref, ".");
	if (!ref[n] || n >= sizeof(out->type))
		return false;
	memcpy(out->type, ref, n);
	ref += n + 1;
	n = strcspn(ref, ".[");
	if (!n || n >= sizeof(out->name))
		return false;
	memcpy(out->name, ref, n);
	ref += n;
	if (*ref == '[') {
		n = strcspn(ref, "]");
		if (!ref[n] || n - 1 >= sizeof(out->index))
			return false;
		memcpy(out->index, ref + 1, n - 1);
		out->has_index = true;
		ref += n + 1;
	}
	if (*ref == '.')
		snprintf(out->attr, sizeof(out->attr), "%s", ref + 1);
	return true;
}

const char *tf_tgw_default_table(struct tf_doc *t, const struct tf_res *tgw, const char *attr)
{
	const char *s = NULL;
	if (tf_str(t, tgw, tgw->values, tgw->address, attr, &s) && s && *s)
		return s;
	/* unknown until apply: one made id for both, AWS's single default */
	return ld_make_id(t->l, "tgw-rtb", tgw->address, "default");
}

/* The id (or named attribute) one resource gives a reference. */
static const char *ref_value(struct tf_doc *t, const struct tf_res *r, const char *attr)
{
	if (!*attr || !strcmp(attr, "id"))
		return r->id;
	const char *v = NULL;
	const json_t *val = json_object_get(r->values, attr);
	if (json_is_string(val))
		return arena_strdup(t->l->a, json_string_value(val));
	if (!strcmp(r->type, "aws_ec2_transit_gateway") && strstr(attr, "default_route_table_id"))
		return tf_tgw_default_table(t, r, attr);
	struct tf_vpc_defaults *d = tf_defaults_of(t->l, r->id);
	if (d && !strcmp(attr, "default_security_group_id"))
		v = d->sg_id;
	else if (d && !strcmp(attr, "default_network_acl_id"))
		v = d->acl_id;
	else if (d && !strcmp(attr, "main_route_table_id"))
		v = d->rtb_id;
	else if (strstr(attr, "_id") || !strcmp(attr, "arn"))
		v = r->id; /* e.g. aws_eip.x.allocation_id: the resource itself */
	return v;
}

/* Ids collected for one attribute: a reference without an index names
 * every instance of a counted resource, so the list grows. */
struct id_list {
	const char **v;
	size_t n, cap;
};

static void add_unique(struct loader *l, struct id_list *ids, const char *id)
{
	if (!id)
		return;
	for (size_t i = 0; i < ids->n; i++)
		if (!strcmp(ids->v[i], id))
			return;
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 4;
		const char **v = arena_calloc(l->a, cap, sizeof(char *));
		if (!v)
			return;
		if (ids->n)
			memcpy(v, ids->v, ids->n * sizeof(char *));
		ids->v = v;
		ids->cap = cap;
	}
	ids->v[ids->n++] = id;
}

static void resolve_refs(struct tf_doc *t, const struct tf_res *from, const json_t *refs,
			 struct id_list *ids)
{
	size_t i;
	const json_t *ref;
	json_array_foreach(refs, i, ref)
	{
		struct tf_ref p;
		if (!json_is_string(ref) || !parse_ref(json_string_value(ref), &p))
			continue;
		char *base = arena_printf(t->l->tmp, "%s%s.%s", from->module, p.type, p.name);
		char *want = p.has_index ? arena_printf(t->l->tmp, "[%s]", p.index) : NULL;
		for (size_t k = 0; base && k < t->n; k++) {
			const struct tf_res *r = &t->res[k];
			if (strcmp(r->base, base))
				continue;
			if (p.has_index && (!want || strcmp(r->address + strlen(r->base), want)))
				continue;
			add_unique(t->l, ids, ref_value(t, r, p.attr));
		}
	}
}

size_t tf_ids(struct tf_doc *t, const struct tf_res *r, const json_t *obj, const json_t *unknown,
	      const json_t *cfg, const char *key, const char ***out)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	const json_t *e = json_is_object(cfg) ? json_object_get(cfg, key) : NULL;
	struct id_list ids = {0};
	if (json_is_string(v))
		add_unique(t->l, &ids, arena_strdup(t->l->a, json_string_value(v)));
	size_t i;
	const json_t *s;
	json_array_foreach(v, i, s) if (json_is_string(s))
	    add_unique(t->l, &ids, arena_strdup(t->l->a, json_string_value(s)));
	bool known = v && !json_is_null(v) && !tf_is_unknown(unknown, key);
	if (!known)
		resolve_refs(t, r, json_object_get(e, "references"), &ids);
	/* callers index the array only below the count, but never get NULL */
	*out = ids.v ? ids.v : arena_calloc(t->l->a, 1, sizeof(char *));
	return *out ? ids.n : 0;
}

const char *tf_id(struct tf_doc *t, const struct tf_res *r, const json_t *obj,
		  const json_t *unknown, const json_t *cfg, const char *key)
{
	const char **ids;
	return tf_ids(t, r, obj, unknown, cfg, key, &ids) ? ids[0] : NULL;
}
