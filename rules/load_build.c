/*
 * The model-building calls every format's reader shares (see load_build.h):
 * ENIs added and merged, arena arrays grown, drafts found by id, and AWS's
 * default NACL. Depends only on load_json.c's diagnostics and helpers.
 */
#include "load_build.h"

#include <string.h>

void *ld_grow(struct loader *l, const void *items, size_t n, size_t size)
{
	char *g = arena_calloc(l->a, n + 1, size);
	if (g && n)
		memcpy(g, items, n * size);
	return g;
}

/* Appends *item to an arena array of n items of size bytes (list: the
 * array pointer's address). */
static void append(struct loader *l, void *list, size_t *n, size_t size, const void *item)
{
	void **items = list;
	char *grown = ld_grow(l, *items, *n, size);
	if (!grown)
		return;
	memcpy(grown + *n * size, item, size);
	(*n)++;
	*items = grown;
}

static void add_prefix_unless(struct loader *l, struct ip_prefix **list, size_t *n,
			      const struct ip_prefix *p,
			      bool (*held)(const struct ip_prefix *, const struct ip_prefix *))
{
	for (size_t i = 0; i < *n; i++)
		if (held(&(*list)[i], p))
			return;
	append(l, list, n, sizeof(*p), p);
}

void ld_add_prefix(struct loader *l, struct ip_prefix **list, size_t *n, const struct ip_prefix *p)
{
	add_prefix_unless(l, list, n, p, ip_prefix_eq);
}

void ld_add_block(struct loader *l, struct ip_prefix **list, size_t *n, const struct ip_prefix *p)
{
	add_prefix_unless(l, list, n, p, ip_prefix_covers);
}

void ld_add_addr(struct loader *l, struct ip_addr **list, size_t *n, const struct ip_addr *a)
{
	for (size_t i = 0; i < *n; i++)
		if (ip_addr_eq(&(*list)[i], a))
			return;
	append(l, list, n, sizeof(*a), a);
}

void *ld_find(const void *items, size_t n, size_t size, size_t id_off, const char *id)
{
	for (size_t i = 0; i < n && id; i++) {
		char *item = (char *)items + i * size;
		const char *item_id;
		memcpy(&item_id, item + id_off, sizeof(item_id));
		if (item_id && !strcmp(item_id, id))
			return item;
	}
	return NULL;
}

static void allow_all(struct nacl_entry *list, size_t k, bool egress, const struct origin *at)
{
	for (size_t i = 0; i < k; i++) {
		struct nacl_entry *e = &list[i];
		e->rule_number = 100 + (uint32_t)i;
		e->egress = egress;
		e->allow = true;
		e->protocol = PROTO_ALL;
		ip_prefix_parse(i ? "::/0" : "0.0.0.0/0", &e->cidr, NULL);
		e->port_from = 0;
		e->port_to = 65535;
		e->icmp_type = e->icmp_code = -1;
		e->origin = *at;
	}
}

void ld_default_nacl(struct loader *l, const char *vpc_id, const char *seed, bool ipv6,
		     const struct origin *at)
{
	struct draft_nacl d = {.n = {.id = ld_make_id(l, "acl", seed, "default"),
				     .name = "default",
				     .vpc_id = vpc_id,
				     .vpc = -1,
				     .is_default = true,
				     .origin = *at}};
	struct nacl *n = &d.n;
	size_t k = ipv6 ? 2 : 1;
	n->ingress = arena_calloc(l->a, k, sizeof(struct nacl_entry));
	n->egress = arena_calloc(l->a, k, sizeof(struct nacl_entry));
	if (!n->ingress || !n->egress)
		return;
	allow_all(n->ingress, k, false, at);
	allow_all(n->egress, k, true, at);
	n->n_ingress = n->n_egress = k;
	struct draft_nacl *slot = vec_push(&l->nacls, sizeof(*slot));
	if (slot)
		*slot = d;
}

/* Merging an ENI seen twice (describe-instances and
 * describe-network-interfaces): the same id must mean the same interface. */
static void merge_eni(struct loader *l, struct draft_eni *old, const struct draft_eni *d)
{
	struct eni *e = &old->e;
	const struct eni *n = &d->e;
	if (old->subnet.id && d->subnet.id && strcmp(old->subnet.id, d->subnet.id)) {
		ld_err_at(l, &n->origin, "SubnetId",
			  "ENI %s is described again with subnet %s (%s at %s says %s)", e->id,
			  d->subnet.id, e->origin.file ? e->origin.file : "?", e->origin.path,
			  old->subnet.id);
		return;
	}
	if (e->instance_id && n->instance_id && strcmp(e->instance_id, n->instance_id)) {
		ld_err_at(l, &n->origin, NULL,
			  "ENI %s is described again attached to %s (%s at %s says %s)", e->id,
			  n->instance_id, e->origin.file ? e->origin.file : "?", e->origin.path,
			  e->instance_id);
		return;
	}
	old->merged = true;
	if (!e->instance_id)
		e->instance_id = n->instance_id;
	if (e->device_index < 0)
		e->device_index = n->device_index;
	if (!e->description)
		e->description = n->description;
	if (!old->own_name)
		old->own_name = d->own_name;
	if (!old->instance_name)
		old->instance_name = d->instance_name;
	if (!old->vpc_id)
		old->vpc_id = d->vpc_id;
	if (!e->has_public_ip && n->has_public_ip) {
		e->has_public_ip = true;
		e->public_ip = n->public_ip;
	}
	if (!e->n_publics) {
		e->publics = n->publics;
		e->n_publics = n->n_publics;
	}
	if (!e->n_ipv4) {
		e->ipv4 = n->ipv4;
		e->n_ipv4 = n->n_ipv4;
	}
	if (!e->n_ipv6) {
		e->ipv6 = n->ipv6;
		e->n_ipv6 = n->n_ipv6;
	}
	old->addr_given |= d->addr_given;
	if (!old->n_groups) {
		old->groups = d->groups;
		old->n_groups = d->n_groups;
	}
}

void ld_eni_public(struct loader *l, struct eni *e, const struct ip_addr *priv,
		   const struct ip_addr *pub)
{
	if (e->n_ipv4 && ip_addr_eq(priv, &e->ipv4[0])) {
		if (!e->has_public_ip) {
			e->has_public_ip = true;
			e->public_ip = *pub;
		}
		return;
	}
	for (size_t i = 0; i < e->n_publics; i++)
		if (ip_addr_eq(&e->publics[i].priv, priv))
			return;
	struct eni_public *grown = ld_grow(l, e->publics, e->n_publics, sizeof(*grown));
	if (!grown)
		return;
	grown[e->n_publics++] = (struct eni_public){*priv, *pub};
	e->publics = grown;
}

void ld_add_eni(struct loader *l, struct draft_eni *d)
{
	size_t i;
	if (idmap_get(&l->eni_ids, d->e.id, &i)) {
		struct draft_eni *old = VEC_AT(&l->enis, struct draft_eni, i);
		if (!old->from_aws || !d->from_aws)
			ld_err_at(l, &d->e.origin, NULL, "ENI %s is defined twice", d->e.id);
		else
			merge_eni(l, old, d);
		return;
	}
	struct draft_eni *slot = vec_push(&l->enis, sizeof(*slot));
	if (!slot)
		return;
	*slot = *d;
	idmap_put(&l->eni_ids, slot->e.id, l->enis.n - 1);
}
