/*
 * Shared only by rules/cover.c, rules/cover_reps.c and rules/cover_search.c:
 * the representative ends and keys, the candidate flows the greedy cover
 * chooses from, and the helpers the search borrows from the
 * representatives. Nobody outside the cover module includes this.
 */
#ifndef VPCFW_COVER_PRIVATE_H
#define VPCFW_COVER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cover.h"
#include "model.h"

/* One representative end of a flow. */
struct end_rep {
	char name[64];
	struct ip_addr addr;
	int32_t eni; /* index into lab->enis, -1 for an outside address */
};

struct rep_list {
	struct end_rep *v;
	size_t n, cap;
};

/* One representative key: a port, an ICMP type/code, or a protocol. */
struct key {
	int proto, port, type, code;
};

struct key_list {
	struct key *v;
	size_t n, cap;
};

/* One evaluated representative flow and the rules it exercised. */
struct candidate {
	size_t from, to, key;
	bool accept;
	size_t *rules;
	size_t n;
};

struct cand_list {
	struct candidate *v;
	size_t n, cap;
};

bool cover_valid_index(int32_t i, size_t n);

/* The representative ends and keys of a lab (cover_reps.c). */
int cover_collect_ends(const struct lab *lab, struct rep_list *l);
void cover_collect_keys(const struct lab *lab, struct key_list *l);
bool cover_key_fits(const struct key *k, enum ip_family f);

/* The candidates and the greedy cover over them (cover_reps.c). */
int cover_cand_add(struct cand_list *l, const struct candidate *c);
int cover_greedy(const struct rep_list *ends, const struct key_list *keys,
		 const struct cand_list *cands, size_t total, struct cover_plan *p);

#endif
