/*
 * Our lab format's names: objects are named, and names (or given ids) are
 * turned into ids here, so that the resolver sees this format as it sees
 * describe-* output. Keys are checked, as a hand-written file's typos are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-lab-private.h"

void lab_names_free(struct names *n)
{
	vec_free(&n->v);
	idmap_free(&n->map);
}

bool lab_keys_ok(struct loader *l, const json_t *o, const char *path, const char *const *allowed)
{
	if (!json_is_object(o)) {
		ld_err(l, path, "expected an object, found %s", json_kind(o));
		return false;
	}
	const char *k;
	const json_t *v;
	bool ok = true;
	json_object_foreach((json_t *)o, k, v)
	{
		bool found = false;
		for (const char *const *a = allowed; *a && !found; a++)
			found = !strcmp(*a, k);
		if (!found) {
			ld_err(l, jp_key(l, path, k), "unknown key");
			ok = false;
		}
	}
	return ok;
}

const char *lab_named_find(const struct names *n, const char *ref)
{
	size_t i;
	if (!idmap_get(&n->map, ref, &i))
		return NULL;
	return VEC_AT(&n->v, struct named, i)->id;
}

/* Registers a named object; its id is given or made from the names. A
 * failed declaration still takes its slot (id NULL) so that the n-th object
 * of an array stays the n-th entry of v. */
const char *lab_declare(struct loader *l, struct names *v, const json_t *o, const char *path,
			const char *prefix, const char *vpc_name, const char **name_out)
{
	const char *name = NULL, *id = NULL;
	struct named *n = vec_push(&v->v, sizeof(*n));
	if (!n)
		return NULL;
	size_t idx = v->v.n - 1;
	j_str(l, o, "name", path, true, &name);
	j_str(l, o, "id", path, false, &id);
	if (name_out)
		*name_out = name;
	if (!name)
		return NULL;
	if (lab_named_find(v, name)) {
		ld_err(l, jp_key(l, path, "name"), "'%s' is declared twice", name);
		return NULL;
	}
	if (id && strncmp(id, prefix, strlen(prefix))) {
		ld_err(l, jp_key(l, path, "id"), "'%s' does not look like an id (%s-...)", id,
		       prefix);
		return NULL;
	}
	if (!id)
		id = ld_make_id(l, prefix, vpc_name, name);
	n = VEC_AT(&v->v, struct named, idx);
	n->name = name;
	n->id = id;
	idmap_put(&v->map, name, idx);
	idmap_put(&v->map, id, idx);
	return id;
}

struct ref lab_ref(struct loader *l, struct names *names, const json_t *o, const char *key,
		   const char *path, const char *what, const char *vpc_name)
{
	struct ref r = {NULL, ld_origin(l, jp_key(l, path, key))};
	const char *text;
	if (!j_str(l, o, key, path, false, &text))
		return r;
	r.id = lab_named_find(names, text);
	if (!r.id)
		ld_err(l, r.at.path, "no %s named '%s' in VPC %s", what, text, vpc_name);
	return r;
}

bool lab_declared(const struct names *names, size_t idx, const char **id, const char **name)
{
	const struct named *n = VEC_AT(&names->v, struct named, idx);
	if (!n->id)
		return false;
	*id = n->id;
	*name = n->name;
	return true;
}
