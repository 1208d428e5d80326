/*
 * Shared only by rules/reach*.c: the interval sweep of reach.c used by the
 * diff driver (reach_diff.c), and the endpoints a diff compares
 * (reach_ends.c). Not for other modules: reach.h is the interface.
 */
#ifndef VPCFW_REACH_PRIVATE_H
#define VPCFW_REACH_PRIVATE_H

#include "reach.h"

/* Protocols with a class of their own never count as REACH_OTHER keys. */
bool reach_key_excluded(enum reach_class c, uint32_t key);

/* The piece of m holding key, or NULL. */
const struct reach_seg *reach_map_find(const struct reach_map *m, uint32_t key);

/* Every key where some partition of the paths (NULL entries skipped)
 * changes, plus the edges of the excluded OTHER keys; sorted, unique,
 * ending with key_max + 1. malloc'd; 0 or -ENOMEM. */
int reach_boundaries(const struct reach_path *const *paths, size_t n_paths, enum reach_class c,
		     uint32_t key_max, uint32_t **out, size_t *n);

/* An endpoint compared across the two labs: an ENI (its index on each
 * side, -1 where it does not exist) or an outside representative. */
struct rd_end {
	char *label;
	int32_t eni[2];
	bool outside;
	bool dest_only;	     /* an AWS service address: never a source */
	struct ip_addr addr; /* outside only */
};

struct rd_ends {
	struct rd_end *v;
	size_t n, cap;
};

/* Every endpoint of the diff in output order (reach_diff in reach.h says
 * which). 0 or -ENOMEM; free with reach_ends_free either way. */
int reach_ends_collect(const struct lab *old_lab, const struct lab *new_lab, struct rd_ends *l);
void reach_ends_free(struct rd_ends *l);

#endif
