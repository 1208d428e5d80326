/*
 * Terraform JSON (`terraform show -json`), plan or state, as a lab path:
 * recognises the document, collects every managed resource instance with
 * its values (a plan's planned "after", a state's "values"), what is
 * unknown until apply and the configuration expressions, gives each an id
 * (its own when known, else one made from its address) and resolves
 * references, then hands each resource to its reader (load_tf_net.c,
 * load_tf_eni.c). Plans: resource_changes is the full list (a resource
 * being deleted appears only there and is left out); format_version 0.1 to
 * 1.2 share this shape. Not modelled: data sources, module outputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-tf-private.h"

bool tf_is_document(const json_t *root)
{
	return json_is_string(json_object_get(root, "format_version")) &&
	       (json_object_get(root, "planned_values") || json_object_get(root, "values") ||
		json_object_get(root, "resource_changes") ||
		json_object_get(root, "terraform_version"));
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
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->target = target;
	p->other = other;
	p->device_index = -1;
	p->origin = *o;
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

/* The id (or named attribute) one resource gives a reference. */
static const char *ref_value(struct tf_doc *t, const struct tf_res *r, const char *attr)
{
	if (!*attr || !strcmp(attr, "id"))
		return r->id;
	const char *v = NULL;
	const json_t *val = json_object_get(r->values, attr);
	if (json_is_string(val))
		return arena_strdup(t->l->a, json_string_value(val));
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

/* The id prefix AWS gives each kind, for ids made from addresses. */
static const char *id_prefix(const char *type)
{
	static const struct {
		const char *type, *prefix;
	} map[] = {
	    {"aws_vpc", "vpc"},
	    {"aws_default_vpc", "vpc"},
	    {"aws_subnet", "subnet"},
	    {"aws_default_subnet", "subnet"},
	    {"aws_security_group", "sg"},
	    {"aws_default_security_group", "sg"},
	    {"aws_network_acl", "acl"},
	    {"aws_default_network_acl", "acl"},
	    {"aws_route_table", "rtb"},
	    {"aws_default_route_table", "rtb"},
	    {"aws_internet_gateway", "igw"},
	    {"aws_nat_gateway", "nat"},
	    {"aws_eip", "eipalloc"},
	    {"aws_instance", "i"},
	    {"aws_network_interface", "eni"},
	    {"aws_vpc_endpoint", "vpce"},
	    {"aws_vpc_peering_connection", "pcx"},
	    {"aws_ec2_transit_gateway", "tgw"},
	    {"aws_ec2_transit_gateway_vpc_attachment", "tgw-attach"},
	    {"aws_ec2_managed_prefix_list", "pl"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].type, type))
			return map[i].prefix;
	return "tf";
}

static const json_t *config_module(const json_t *root_cfg, const char *module)
{
	const json_t *cur = json_object_get(root_cfg, "root_module");
	while (cur && !strncmp(module, "module.", 7)) {
		module += 7;
		size_t n = strcspn(module, ".[");
		char name[256];
		if (n >= sizeof(name))
			return NULL;
		memcpy(name, module, n);
		name[n] = '\0';
		const json_t *call = json_object_get(json_object_get(cur, "module_calls"), name);
		cur = json_object_get(call, "module");
		module += n;
		if (*module == '[')
			module += strcspn(module, "]") + 1;
		if (*module == '.')
			module++;
	}
	return cur;
}

static const json_t *config_of(const json_t *root_cfg, const struct tf_res *r)
{
	const json_t *m = config_module(root_cfg, r->module);
	size_t i;
	const json_t *c;
	const char *local = r->base + strlen(r->module);
	json_array_foreach(json_object_get(m, "resources"), i, c)
	{
		const json_t *a = json_object_get(c, "address");
		if (json_is_string(a) && !strcmp(json_string_value(a), local))
			return json_object_get(c, "expressions");
	}
	return NULL;
}

static bool push_res(struct tf_doc *t, struct vec *v, const json_t *o, const char *module,
		     const json_t *values, const json_t *unknown)
{
	const char *address = json_string_value(json_object_get(o, "address"));
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *mode = json_string_value(json_object_get(o, "mode"));
	if (!address || !type || !name || (mode && strcmp(mode, "managed")) ||
	    !json_is_object(values))
		return false;
	struct tf_res *r = vec_push(v, sizeof(*r));
	if (!r)
		return false;
	memset(r, 0, sizeof(*r));
	r->address = arena_strdup(t->l->a, address);
	r->type = arena_strdup(t->l->a, type);
	r->name = arena_strdup(t->l->a, name);
	r->module = arena_strdup(t->l->a, module);
	char *b = arena_strdup(t->l->a, address);
	char *bracket = b ? strrchr(b, '[') : NULL;
	size_t n = b ? strlen(b) : 0;
	if (json_object_get(o, "index") && bracket && n && b[n - 1] == ']')
		*bracket = '\0'; /* "aws_instance.web[0]" -> "aws_instance.web" */
	r->base = b;
	if (!r->address || !r->type || !r->name || !r->module || !r->base) {
		v->n--; /* out of memory: not read */
		return false;
	}
	r->values = values;
	r->unknown = unknown;
	r->origin.file = t->l->file;
	r->origin.path = r->address;
	r->origin.resource = r->address;
	return true;
}

static void walk_module(struct tf_doc *t, struct vec *v, const json_t *m)
{
	const char *addr = json_string_value(json_object_get(m, "address"));
	const char *module = addr ? arena_printf(t->l->tmp, "%s.", addr) : "";
	size_t i;
	const json_t *o;
	json_array_foreach(json_object_get(m, "resources"), i, o)
	    push_res(t, v, o, module, json_object_get(o, "values"), NULL);
	json_array_foreach(json_object_get(m, "child_modules"), i, o) walk_module(t, v, o);
}

/* A plan's resource_changes: every instance with what it will be. */
static void collect_changes(struct tf_doc *t, struct vec *v, const json_t *changes)
{
	size_t i;
	const json_t *o;
	json_array_foreach(changes, i, o)
	{
		const json_t *ch = json_object_get(o, "change");
		const json_t *acts = json_object_get(ch, "actions");
		const char *first = json_string_value(json_array_get(acts, 0));
		bool deleted = json_array_size(acts) == 1 && first && !strcmp(first, "delete");
		if (deleted)
			continue; /* gone after apply */
		const char *ma = json_string_value(json_object_get(o, "module_address"));
		const char *module = ma ? arena_printf(t->l->tmp, "%s.", ma) : "";
		push_res(t, v, o, module, json_object_get(ch, "after"),
			 json_object_get(ch, "after_unknown"));
	}
}

static void assign_ids(struct tf_doc *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tf_res *r = &t->res[i];
		const json_t *id = json_object_get(r->values, "id");
		if (json_is_string(id) && *json_string_value(id))
			r->id = arena_strdup(t->l->a, json_string_value(id));
		else
			/* from the address alone: the same resource in two plans (a pull
			 * request's before and after) must be the same object for diff */
			r->id = ld_make_id(t->l, id_prefix(r->type), r->address, NULL);
	}
}

static void check_version(struct loader *l, const json_t *root)
{
	const char *v = json_string_value(json_object_get(root, "format_version"));
	if (v && strncmp(v, "0.", 2) && strncmp(v, "1.", 2))
		ld_warn(l, "format_version",
			"Terraform JSON format %s is newer than vpcfw knows (0.1 to 1.2): read "
			"as 1.x",
			v);
}

void tf_load(struct loader *l, const json_t *root)
{
	struct tf_doc t = {.l = l};
	struct vec v = {0};
	if (!tf_state(l)) {
		ld_err(l, NULL, "out of memory");
		return;
	}
	check_version(l, root);
	const json_t *changes = json_object_get(root, "resource_changes");
	const json_t *state = json_object_get(root, "values");
	const json_t *planned = json_object_get(root, "planned_values");
	if (json_is_array(changes))
		collect_changes(&t, &v, changes);
	else if (json_is_object(state))
		walk_module(&t, &v, json_object_get(state, "root_module"));
	else if (json_is_object(planned))
		walk_module(&t, &v, json_object_get(planned, "root_module"));
	t.res = v.items;
	t.n = v.n;
	const json_t *cfg = json_object_get(root, "configuration");
	for (size_t i = 0; i < t.n; i++)
		t.res[i].config = config_of(cfg, &t.res[i]);
	assign_ids(&t);
	size_t used = 0;
	/* VPCs first: their defaults are referenced by the rest */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < t.n; i++) {
			bool vpc = strstr(t.res[i].type, "_vpc") &&
				   (!strcmp(t.res[i].type, "aws_vpc") ||
				    !strcmp(t.res[i].type, "aws_default_vpc"));
			if (vpc != (pass == 0))
				continue;
			if (tf_net_resource(&t, &t.res[i]) || tf_eni_resource(&t, &t.res[i]))
				used++;
		}
	if (!used && t.n)
		ld_warn(l, NULL,
			"Terraform: none of the %zu resources is a network resource vpcfw reads",
			t.n);
	vec_free(&v);
}
