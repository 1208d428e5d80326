/*
 * A lab's compiled SG tables (sgtable.h): ENIs with the same group list
 * share one table per direction. An account has a thousand ENIs but tens
 * of group lists, so the cost is per list. The list is compared in the
 * ENI's own order, not sorted: sg_evaluate names the first allowing rule
 * in that order, and two orders of one set may name different rules.
 */
#include "sgtable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"

struct sg_tables {
	size_t n_enis;
	const struct sg_table **t; /* [2 * eni + egress]; NULL: scanned */
	struct sg_tables_stats stats;
};

/* One distinct group list: its first ENI and how many carry it. */
struct set {
	size_t eni, users;
};

static bool same_groups(const struct eni *a, const struct eni *b)
{
	return a->n_groups == b->n_groups &&
	       (!a->n_groups || !memcmp(a->groups, b->groups, a->n_groups * sizeof(*a->groups)));
}

static int by_users(const void *a, const void *b)
{
	const struct set *x = a, *y = b;
	if (x->users != y->users)
		return x->users < y->users ? 1 : -1;
	return (x->eni > y->eni) - (x->eni < y->eni);
}

/* The distinct group lists, most shared first; of_eni[i]: ENI i's. */
static int sets_collect(const struct lab *lab, struct set **out, size_t *n, size_t *of_eni)
{
	struct set *v = calloc(lab->n_enis ? lab->n_enis : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t m = 0;
	for (size_t i = 0; i < lab->n_enis; i++) {
		size_t s = 0;
		while (s < m && !same_groups(&lab->enis[v[s].eni], &lab->enis[i]))
			s++;
		if (s == m)
			v[m++] = (struct set){i, 0};
		v[s].users++;
		of_eni[i] = v[s].eni;
	}
	qsort(v, m, sizeof(*v), by_users);
	*out = v;
	*n = m;
	return 0;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Both directions of the set's first ENI into the arena; 1 when a limit
 * stops it (nothing kept), 0, or -ENOMEM. */
static int set_build(struct lab *lab, const struct sg_members *members, size_t eni,
		     const struct sg_tables_limits *lim, struct sg_tables *ts)
{
	struct sg_table *t[2] = {NULL, NULL};
	int r = 0;
	for (int eg = 0; eg < 2 && !r; eg++)
		r = sg_table_build_indexed(lab, members, &lab->enis[eni], eg, &t[eg]);
	size_t bytes = r ? 0 : sg_table_bytes(t[0]) + sg_table_bytes(t[1]);
	if (!r && lim->max_bytes && ts->stats.bytes + bytes > lim->max_bytes)
		r = 1;
	for (int eg = 0; eg < 2 && !r; eg++) {
		ts->t[2 * eni + (size_t)eg] = sg_table_pack(t[eg], lab->arena);
		if (!ts->t[2 * eni + (size_t)eg])
			r = -ENOMEM;
	}
	if (!r) {
		ts->stats.tables += 2;
		ts->stats.bytes += bytes;
		ts->stats.regions += sg_table_regions(t[0]) + sg_table_regions(t[1]);
	}
	sg_table_free(t[0]);
	sg_table_free(t[1]);
	return r;
}

/* Every set's tables in order until a limit; then the rest scan. */
static int sets_build(struct lab *lab, const struct set *sets, size_t n,
		      const struct sg_tables_limits *lim, struct sg_tables *ts)
{
	struct sg_members members;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = sg_members_build(lab, &members);
	size_t i = 0;
	for (; i < n && !r; i++) {
		if (lim->max_seconds > 0 && seconds_since(&t0) > lim->max_seconds)
			break;
		r = set_build(lab, &members, sets[i].eni, lim, ts);
		if (r == 1) {
			r = 0;
			break;
		}
	}
	for (; i < n; i++)
		ts->stats.scanned_enis += sets[i].users;
	sg_members_free(&members);
	ts->stats.seconds = seconds_since(&t0);
	return r;
}

int sg_tables_attach(struct lab *lab, const struct sg_tables_limits *lim,
		     struct sg_tables_stats *stats)
{
	struct sg_tables *ts = arena_alloc(lab->arena, sizeof(*ts));
	size_t n = lab->n_enis ? lab->n_enis : 1, n_sets = 0;
	size_t *of_eni = calloc(n, sizeof(*of_eni));
	struct set *sets = NULL;
	int r = ts && of_eni ? 0 : -ENOMEM;
	if (!r && !(ts->t = arena_calloc(lab->arena, 2 * n, sizeof(*ts->t))))
		r = -ENOMEM;
	if (!r)
		r = sets_collect(lab, &sets, &n_sets, of_eni);
	if (!r) {
		ts->n_enis = lab->n_enis;
		ts->stats.enis = lab->n_enis;
		ts->stats.sets = n_sets;
		r = sets_build(lab, sets, n_sets, lim, ts);
	}
	/* every ENI to its set's tables (NULL past a limit) */
	for (size_t i = 0; !r && i < lab->n_enis; i++)
		for (size_t eg = 0; eg < 2; eg++)
			ts->t[2 * i + eg] = ts->t[2 * of_eni[i] + eg];
	free(sets);
	free(of_eni);
	if (!r)
		lab->sg_tables = ts;
	if (stats)
		*stats = r ? (struct sg_tables_stats){0} : ts->stats;
	return r;
}

const struct sg_table *sg_tables_find(const struct lab *lab, const struct eni *eni, bool egress)
{
	const struct sg_tables *ts = lab->sg_tables;
	if (!ts || !ts->n_enis)
		return NULL;
	uintptr_t p = (uintptr_t)eni, first = (uintptr_t)lab->enis;
	if (p < first || p >= first + ts->n_enis * sizeof(*eni))
		return NULL; /* an ENI of another lab */
	size_t i = (p - first) / sizeof(*eni);
	return ts->t[2 * i + egress];
}

bool sg_tables_stats(const struct lab *lab, struct sg_tables_stats *out)
{
	if (!lab->sg_tables)
		return false;
	*out = lab->sg_tables->stats;
	return true;
}

/* The lab's SG answers: from its compiled tables when it has them (the
 * daemon's labs), else by scanning the rules (sg.c); the same answers. */
/* The lab's compiled table for the packet, or NULL: scan. A table cuts
 * the IPv4 and IPv6 spaces only. */
static const struct sg_table *table_for(const struct lab *lab, const struct eni *eni, bool egress,
					const struct flow *f)
{
	if (!lab->sg_tables || (f->src.family != IP_V4 && f->src.family != IP_V6) ||
	    f->dst.family != f->src.family)
		return NULL;
	return sg_tables_find(lab, eni, egress);
}

bool sg_evaluate(const struct lab *lab, const struct eni *eni, bool egress, const struct flow *f,
		 struct sg_match *m)
{
	const struct sg_table *t = table_for(lab, eni, egress, f);
	return t ? sg_table_evaluate(t, f, m) : sg_evaluate_scan(lab, eni, egress, f, m);
}

bool sg_flow_is_untracked(const struct lab *lab, const struct eni *eni, bool egress,
			  const struct flow *f, struct sg_match *reverse)
{
	const struct sg_table *t = table_for(lab, eni, egress, f);
	return t ? sg_table_untracked(t, f, reverse)
		 : sg_flow_untracked_scan(lab, eni, egress, f, reverse);
}
