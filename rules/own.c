/*
 * A lab split across hosts: which ENIs and outside hosts this host owns
 * (own.h). Run once per load, before the lab is used; nothing on the
 * packet path reads the list, only the marks it leaves.
 */
#include "own.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

#define OWN_ITEM_MAX 256

static bool same(const char *name, const char *item)
{
	return name && strcmp(name, item) == 0;
}

static bool subnet_named(const struct lab *lab, int32_t s, const char *item)
{
	if (s < 0 || (size_t)s >= lab->n_subnets)
		return false;
	return same(lab->subnets[s].id, item) || same(lab->subnets[s].name, item);
}

static bool eni_named(const struct lab *lab, const struct eni *e, const char *item)
{
	return same(e->id, item) || same(e->instance_id, item) || same(e->name, item) ||
	       same(e->instance_name, item) || subnet_named(lab, e->subnet, item);
}

/* Marks owned[] for every ENI item names; false when it names nothing. */
static bool own_item(struct lab *lab, const char *item, bool *outside, bool *owned)
{
	bool any = false;

	if (!strcmp(item, "outside")) {
		*outside = true;
		return true;
	}
	for (size_t i = 0; i < lab->n_enis; i++)
		if (eni_named(lab, &lab->enis[i], item))
			owned[i] = any = true;
	/* a subnet with no ENI is still the lab's: owning it is no mistake */
	for (size_t s = 0; s < lab->n_subnets && !any; s++)
		any = subnet_named(lab, (int32_t)s, item);
	return any;
}

static int own_parse(struct lab *lab, const char *list, bool *outside, bool *owned,
		     struct diag_list *diags)
{
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");
		char item[OWN_ITEM_MAX];

		if (n == 0 || n >= sizeof(item)) {
			diag_add(diags, DIAG_ERROR, "--own", list,
				 "expected names separated by commas");
			return -EINVAL;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		if (!own_item(lab, item, outside, owned)) {
			diag_add(diags, DIAG_ERROR, "--own", item,
				 "names no subnet, ENI, instance or Name tag of lab %s (nor is it "
				 "'outside')",
				 lab->name ? lab->name : "");
			return -EINVAL;
		}
		p += n;
		if (*p == ',' && *++p == '\0') {
			diag_add(diags, DIAG_ERROR, "--own", list, "ends with a comma");
			return -EINVAL;
		}
	}
	return 0;
}

int lab_own(struct lab *lab, const char *list, struct diag_list *diags)
{
	bool outside = false, *owned = calloc(lab->n_enis ? lab->n_enis : 1, sizeof(*owned));
	int rc;

	if (!owned) {
		diag_add(diags, DIAG_ERROR, "--own", list, "out of memory");
		return -ENOMEM;
	}
	rc = own_parse(lab, list, &outside, owned, diags);
	for (size_t i = 0; rc == 0 && i < lab->n_enis; i++)
		lab->enis[i].remote = !owned[i];
	for (size_t i = 0; rc == 0 && i < lab->n_outside; i++)
		lab->outside[i].remote = !outside;
	free(owned);
	return rc;
}

int lab_own_or_free(struct lab **lab, const char *list, struct diag_list *diags)
{
	int rc = lab_own(*lab, list, diags);

	if (rc < 0) {
		lab_free(*lab);
		*lab = NULL;
	}
	return rc;
}
