/*
 * Which part of a lab this host's vpcfwd owns, when a lab is split across
 * hosts (docs/scale-out.md): as AWS enforces an instance's security groups
 * on the host the instance runs on, each host's vpcfwd builds and filters
 * the ENIs it owns, and the ENIs owned elsewhere are reached through the
 * link between hosts. lab_own marks the rest remote (struct eni.remote,
 * struct outside_host.remote); the forwarding decision (rules/forward)
 * then runs only this host's stages. A lab no one calls lab_own on is
 * whole: `vpcfw check` and every offline command see all stages.
 */
#ifndef VPCFW_OWN_H
#define VPCFW_OWN_H

#include <stddef.h>

#include "diag.h"
#include "model.h"

/* list: comma-separated subnet ids, ENI ids, instance ids or Name tags
 * (of an ENI or its instance), and the word "outside" for the lab's
 * outside hosts. Every ENI none of them names, and the outside hosts
 * unless "outside" is listed, become remote. 0, or -EINVAL with an error
 * in diags naming the item that names nothing in the lab (nothing is
 * marked then). */
int lab_own(struct lab *lab, const char *list, struct diag_list *diags);

/* lab_own on *lab; on failure *lab is freed and NULL (a loader's way). */
int lab_own_or_free(struct lab **lab, const char *list, struct diag_list *diags);

/* Whether ENI i of lab is owned by another host. */
static inline bool lab_eni_remote(const struct lab *lab, int32_t i)
{
	return i >= 0 && (size_t)i < lab->n_enis && lab->enis[i].remote;
}

#endif
