/*
 * Shared only by the readers of our lab format (docs/lab-format.md):
 * load_lab.c (the document, VPCs, subnets, route tables, prefix lists,
 * outside hosts, options), load_lab_names.c (names turned into ids, keys
 * checked), load_lab_rules.c (NACLs and security groups) and load_lab_eni.c
 * (ENIs, instances, timeouts). Nobody else includes this.
 */
#ifndef VPCFW_LOAD_LAB_PRIVATE_H
#define VPCFW_LOAD_LAB_PRIVATE_H

#include "load-private.h"

/* Names declared in one VPC (or lab-wide for prefix lists), with ids. */
struct named {
	const char *name;
	const char *id;
};

/* A list of named objects with an index by name and by id. */
struct names {
	struct vec v; /* struct named */
	struct idmap map;
};

struct scope {
	const char *vpc_name;
	const char *vpc_id;
	bool has_ipv6;
	struct ip_prefix *cidrs;
	size_t n_cidrs;
	struct ip_prefix *cidrs6;
	size_t n_cidrs6;
	struct names subnets, nacls, rts, groups;
	struct names *pls; /* lab-wide */
};

#define FOREACH(arr, i, item)                                                                      \
	for (size_t i = 0; i < json_array_size(arr); i++)                                          \
		for (const json_t *item = json_array_get(arr, i); item; item = NULL)

/* load_lab_names.c */
void lab_names_free(struct names *n);
/* false with an error unless o is an object whose keys are all in allowed
 * (NULL-terminated): in a hand-written file an unknown key is a typo. */
bool lab_keys_ok(struct loader *l, const json_t *o, const char *path, const char *const *allowed);
/* The id of the object named (or with the id) ref, or NULL. */
const char *lab_named_find(const struct names *n, const char *ref);
/* Registers a named object; its id is given or made from the names. A
 * failed declaration still takes its slot (id NULL) so that the n-th object
 * of an array stays the n-th entry of v. */
const char *lab_declare(struct loader *l, struct names *v, const json_t *o, const char *path,
			const char *prefix, const char *vpc_name, const char **name_out);
/* The idx-th object of names, declared in a first pass (so that rules may
 * name any group): false when its declaration failed. */
bool lab_declared(const struct names *names, size_t idx, const char **id, const char **name);
/* o[key], a name of names, as a reference (an error when unknown). */
struct ref lab_ref(struct loader *l, struct names *names, const json_t *o, const char *key,
		   const char *path, const char *what, const char *vpc_name);

/* load_lab_rules.c: the n-th declared NACL or group of s's VPC. */
void lab_nacl(struct loader *l, struct scope *s, const json_t *o, const char *path);
void lab_group(struct loader *l, struct scope *s, const json_t *o, const char *path, size_t idx);

/* load_lab_eni.c */
void lab_eni(struct loader *l, struct scope *s, const json_t *o, const char *path,
	     struct names *names);
void lab_timeouts(struct loader *l, const json_t *o, const char *path, struct ct_timeouts *t);
bool lab_allowance(struct loader *l, const json_t *o, const char *path, uint32_t *out);
/* Short enough for a namespace name. */
bool lab_name_is_short(const char *n);

#endif
