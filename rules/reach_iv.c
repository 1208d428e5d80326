/*
 * The interval maths under `diff` (reach.h): sorted interval lists, the
 * partition of a key domain by first match (what earlier rules left
 * unassigned, cut by the next one), constant maps with exemptions carved
 * in, and the sweep over the union of several partitions' boundaries. No
 * AWS policy here: which rules a stage consults and what each matches
 * come from the stage scopes (rules/pipeline.c) and the key sets of
 * sg.c/nacl.c, read in reach.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reach-private.h"
#include "vec.h"

/* ---- classes and keys ---- */

uint8_t reach_class_proto(enum reach_class c, enum ip_family f)
{
	switch (c) {
	case REACH_TCP:
		return PROTO_TCP;
	case REACH_UDP:
		return PROTO_UDP;
	case REACH_ICMP:
		return f == IP_V6 ? PROTO_ICMPV6 : PROTO_ICMP;
	default:
		return 0;
	}
}

uint32_t reach_class_key_max(enum reach_class c)
{
	return c == REACH_OTHER ? 255 : 65535;
}

/* Protocols with a class of their own never count as OTHER keys. */
bool reach_key_excluded(enum reach_class c, uint32_t key)
{
	return c == REACH_OTHER &&
	       (key == PROTO_ICMP || key == PROTO_TCP || key == PROTO_UDP || key == PROTO_ICMPV6);
}

int reach_ivl_push(struct ivl *l, uint32_t lo, uint32_t hi)
{
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	l->v[l->n++] = (struct reach_iv){lo, hi};
	return 0;
}

static int segl_push(struct segl *l, uint32_t lo, uint32_t hi, bool accept,
		     const struct stage_verdict *why)
{
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	l->v[l->n++] = (struct reach_seg){.lo = lo, .hi = hi, .accept = accept, .why = *why};
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct reach_seg *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Segments by lo (never two alike: they are disjoint). Most lists are
 * short, where an insertion sort beats qsort's set-up, and a diff sorts
 * millions of them. */
static void seg_sort(struct reach_seg *v, size_t n)
{
	if (n > 24) {
		qsort(v, n, sizeof(*v), seg_cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct reach_seg x = v[i];
		size_t k = i;
		for (; k > 0 && v[k - 1].lo > x.lo; k--)
			v[k] = v[k - 1];
		v[k] = x;
	}
}

/* ---- first match: what earlier rules left unassigned, cut by this one ---- */

int reach_fm_init(struct first_match *fm, uint32_t key_max)
{
	memset(fm, 0, sizeof(*fm));
	return reach_ivl_push(&fm->free, 0, key_max);
}

void reach_fm_release(struct first_match *fm)
{
	free(fm->free.v);
	free(fm->next.v);
	free(fm->segs.v);
}

/* Assigns match ∩ free to (accept, why); free -= match. match is sorted
 * and disjoint. */
int reach_fm_apply(struct first_match *fm, const struct ivl *match, bool accept,
		   const struct stage_verdict *why)
{
	fm->next.n = 0;
	size_t j = 0;
	for (size_t i = 0; i < fm->free.n; i++) {
		uint32_t cur = fm->free.v[i].lo, end = fm->free.v[i].hi;
		bool done = false;
		while (j < match->n && match->v[j].hi < cur)
			j++;
		for (size_t k = j; k < match->n && !done && match->v[k].lo <= end; k++) {
			const struct reach_iv *m = &match->v[k];
			if (m->lo > cur && reach_ivl_push(&fm->next, cur, m->lo - 1) < 0)
				return -ENOMEM;
			uint32_t lo = m->lo > cur ? m->lo : cur;
			uint32_t hi = m->hi < end ? m->hi : end;
			if (segl_push(&fm->segs, lo, hi, accept, why) < 0)
				return -ENOMEM;
			if (hi == end)
				done = true;
			else
				cur = hi + 1;
		}
		if (!done && reach_ivl_push(&fm->next, cur, end) < 0)
			return -ENOMEM;
	}
	struct ivl t = fm->free;
	fm->free = fm->next;
	fm->next = t;
	return 0;
}

/* Whatever is left gets the default verdict; the result goes to map. */
int reach_fm_finish(struct first_match *fm, bool accept, const struct stage_verdict *why,
		    struct reach_map *map)
{
	for (size_t i = 0; i < fm->free.n; i++)
		if (segl_push(&fm->segs, fm->free.v[i].lo, fm->free.v[i].hi, accept, why) < 0)
			return -ENOMEM;
	seg_sort(fm->segs.v, fm->segs.n);
	map->segs = fm->segs.v;
	map->n = fm->segs.n;
	fm->segs.v = NULL;
	return 0;
}

int reach_map_const(struct reach_map *map, uint32_t key_max, bool accept,
		    const struct stage_verdict *why)
{
	map->segs = malloc(sizeof(*map->segs));
	if (!map->segs)
		return -ENOMEM;
	map->segs[0] = (struct reach_seg){.lo = 0, .hi = key_max, .accept = accept, .why = *why};
	map->n = 1;
	return 0;
}

/* keys lo..hi of map get (accept, why) instead: an exemption. */
int reach_map_override(struct reach_map *map, uint32_t lo, uint32_t hi, bool accept,
		       const struct stage_verdict *why)
{
	struct segl out = {0};
	int r = 0;
	for (size_t i = 0; i < map->n && !r; i++) {
		const struct reach_seg *s = &map->segs[i];
		if (s->hi < lo || s->lo > hi) {
			r = segl_push(&out, s->lo, s->hi, s->accept, &s->why);
			continue;
		}
		if (s->lo < lo)
			r = segl_push(&out, s->lo, lo - 1, s->accept, &s->why);
		if (!r && s->hi > hi)
			r = segl_push(&out, hi + 1, s->hi, s->accept, &s->why);
	}
	if (!r)
		r = segl_push(&out, lo, hi, accept, why);
	if (r) {
		free(out.v);
		return r;
	}
	seg_sort(out.v, out.n);
	free(map->segs);
	map->segs = out.v;
	map->n = out.n;
	return 0;
}

const struct reach_seg *reach_map_find(const struct reach_map *m, uint32_t key)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->segs[mid].hi < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && m->segs[lo].lo <= key ? &m->segs[lo] : NULL;
}

/* ---- sweeping several partitions at once ---- */

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* As seg_sort, for keys. */
static void u32_sort(uint32_t *v, size_t n)
{
	if (n > 24) {
		qsort(v, n, sizeof(*v), u32_cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		size_t k = i;
		for (; k > 0 && v[k - 1] > x; k--)
			v[k] = v[k - 1];
		v[k] = x;
	}
}

/* Every key where some partition of the paths changes, plus the edges
 * of the excluded OTHER keys; sorted, unique, ending with key_max + 1. */
int reach_boundaries(const struct reach_path *const *paths, size_t n_paths, enum reach_class c,
		     uint32_t key_max, uint32_t **out, size_t *n)
{
	size_t cap = 12;
	for (size_t k = 0; k < n_paths; k++)
		for (size_t i = 0; paths[k] && i < paths[k]->n_maps; i++)
			cap += paths[k]->maps[i].n;
	uint32_t *v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t m = 0;
	v[m++] = 0;
	v[m++] = key_max + 1;
	if (c == REACH_OTHER) {
		static const uint32_t ex[] = {PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ICMPV6};
		for (size_t i = 0; i < 4; i++) {
			v[m++] = ex[i];
			v[m++] = ex[i] + 1;
		}
	}
	for (size_t k = 0; k < n_paths; k++)
		for (size_t i = 0; paths[k] && i < paths[k]->n_maps; i++)
			for (size_t j = 0; j < paths[k]->maps[i].n; j++)
				v[m++] = paths[k]->maps[i].segs[j].lo;
	u32_sort(v, m);
	size_t u = 0;
	for (size_t i = 0; i < m; i++)
		if (!u || v[u - 1] != v[i])
			v[u++] = v[i];
	*out = v;
	*n = u;
	return 0;
}

bool reach_path_accepts(const struct reach_path *p, uint32_t key, size_t *map)
{
	if (map)
		*map = p->n_maps;
	if (key > p->key_max || reach_key_excluded(p->cls, key))
		return false;
	for (size_t i = 0; i < p->n_maps; i++) {
		const struct reach_seg *s = reach_map_find(&p->maps[i], key);
		if (!s || !s->accept) {
			if (map)
				*map = i;
			return false;
		}
	}
	return true;
}

int reach_path_accepted(const struct reach_path *p, struct reach_iv **out, size_t *n)
{
	uint32_t *b;
	size_t nb;
	*out = NULL;
	*n = 0;
	const struct reach_path *one[1] = {p};
	if (reach_boundaries(one, 1, p->cls, p->key_max, &b, &nb) < 0)
		return -ENOMEM;
	struct ivl acc = {0};
	int r = 0;
	for (size_t i = 0; i + 1 < nb && !r; i++) {
		if (!reach_path_accepts(p, b[i], NULL))
			continue;
		if (acc.n && acc.v[acc.n - 1].hi + 1 == b[i])
			acc.v[acc.n - 1].hi = b[i + 1] - 1;
		else
			r = reach_ivl_push(&acc, b[i], b[i + 1] - 1);
	}
	free(b);
	if (r) {
		free(acc.v);
		return r;
	}
	*out = acc.v;
	*n = acc.n;
	return 0;
}
