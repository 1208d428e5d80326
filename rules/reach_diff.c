/*
 * The diff of two labs (reach_diff in reach.h): for every ordered pair of
 * endpoints (reach_ends.c) and every protocol class, both labs' paths are
 * built as interval partitions (reach.c) and swept together; each key
 * range whose verdict differs becomes a change naming its rule.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reach-private.h"

static bool valid_index(int32_t i, size_t n)
{
	return i >= 0 && (size_t)i < n;
}

void reach_changes_init(struct reach_changes *c)
{
	memset(c, 0, sizeof(*c));
}

void reach_changes_free(struct reach_changes *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->items[i].from);
		free(c->items[i].to);
		free(c->items[i].stage);
		free(c->items[i].rule);
	}
	free(c->items);
	memset(c, 0, sizeof(*c));
}

/* ---- pairs ---- */

static int32_t eni_vpc(const struct lab *lab, int32_t eni)
{
	if (!valid_index(eni, lab->n_enis))
		return -1;
	int32_t s = lab->enis[eni].subnet;
	return valid_index(s, lab->n_subnets) ? lab->subnets[s].vpc : -1;
}

static bool end_addr(const struct lab *lab, const struct rd_end *e, int side, uint8_t fam,
		     struct ip_addr *out)
{
	if (e->outside) {
		*out = e->addr;
		return e->addr.family == fam;
	}
	if (e->eni[side] < 0)
		return false;
	const struct eni *x = &lab->enis[e->eni[side]];
	if (fam == IP_V4 && x->n_ipv4) {
		*out = x->ipv4[0];
		return true;
	}
	if (fam == IP_V6 && x->n_ipv6) {
		*out = x->ipv6[0];
		return true;
	}
	return false;
}

/* As query_build's to_end: an outside address seen from the other end's
 * VPC may be an AWS service address; it is never an ENI. */
static void end_of(const struct lab *lab, const struct rd_end *e, const struct rd_end *other,
		   int side, const struct ip_addr *a, struct pipeline_end *out)
{
	if (!e->outside) {
		*out = (struct pipeline_end){.kind = END_ENI, .eni = e->eni[side]};
		return;
	}
	pipeline_end_of_addr(lab, eni_vpc(lab, other->eni[side]), a, out);
	if (out->kind == END_ENI)
		*out = (struct pipeline_end){.kind = END_OUTSIDE, .eni = -1};
}

struct rd_side {
	const struct lab *lab;
	bool valid;
	struct pipeline_end src, dst;
	struct ip_addr sa, da;
	struct reach_path path;
};

static void side_init(struct rd_side *s, const struct lab *lab, int side, const struct rd_end *a,
		      const struct rd_end *b, uint8_t fam)
{
	memset(s, 0, sizeof(*s));
	s->lab = lab;
	s->valid = end_addr(lab, a, side, fam, &s->sa) && end_addr(lab, b, side, fam, &s->da);
	if (!s->valid)
		return;
	end_of(lab, a, b, side, &s->sa, &s->src);
	end_of(lab, b, a, side, &s->da, &s->dst);
}

static const struct reach_map *map_like(const struct reach_path *p, const struct reach_map *m)
{
	for (size_t i = 0; i < p->n_maps; i++)
		if (p->maps[i].response == m->response &&
		    p->maps[i].segs[0].why.stage == m->segs[0].why.stage)
			return &p->maps[i];
	return NULL;
}

/* The SG rule that admits a flow at its destination (or, for an outside
 * destination, at its source). */
static const struct reach_map *endpoint_map(const struct reach_path *p)
{
	const struct reach_map *pick = &p->maps[0];
	for (size_t i = 0; i < p->n_maps; i++)
		if (!p->maps[i].response && p->maps[i].segs[0].why.stage == STAGE_SG_INGRESS &&
		    p->maps[i].segs[0].why.eni >= 0)
			pick = &p->maps[i];
	return pick;
}

/* Names the rule of a change: for an open the NEW side's verdict at the
 * stage where OLD rejected, for a close the OLD side's at the stage where
 * NEW rejects. */
static int attribute(const struct rd_side *decider, const struct rd_side *other, size_t rejected,
		     uint32_t key, bool open, char **stage, char **rule)
{
	char buf[1024], st[64];
	if (!other->valid) {
		/* an endpoint of one lab only: name what lets the flow in there */
		const struct reach_map *m = endpoint_map(&decider->path);
		const struct reach_seg *s = reach_map_find(m, key);
		char why[900];
		snprintf(st, sizeof(st), "%s", pipeline_stage_name(s->why.stage));
		snprintf(buf, sizeof(buf), "only in the %s lab: %s", open ? "NEW" : "OLD",
			 pipeline_explain(decider->lab, &s->why, &m->flow, why, sizeof(why)));
	} else {
		const struct reach_map *ref = &other->path.maps[rejected];
		const struct reach_map *m = map_like(&decider->path, ref);
		const struct lab *lab = decider->lab;
		if (!m) {
			m = ref;
			lab = other->lab;
		}
		const struct reach_seg *s = reach_map_find(m, key);
		snprintf(st, sizeof(st), "%s%s", m->response ? "response " : "",
			 pipeline_stage_name(s->why.stage));
		pipeline_explain(lab, &s->why, &m->flow, buf, sizeof(buf));
	}
	*stage = strdup(st);
	*rule = strdup(buf);
	return *stage && *rule ? 0 : -ENOMEM;
}

static int change_push(struct reach_changes *out, const struct reach_change *c)
{
	if (out->n == out->cap) {
		size_t cap = out->cap ? 2 * out->cap : 64;
		struct reach_change *v = realloc(out->items, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		out->items = v;
		out->cap = cap;
	}
	out->items[out->n++] = *c;
	return 0;
}

/* Extends the previous change of this pair and class when it is the same
 * verdict by the same rule right below lo. */
static bool change_extend(struct reach_changes *out, size_t first, uint32_t lo, uint32_t hi,
			  bool open, const char *stage, const char *rule)
{
	if (out->n <= first)
		return false;
	struct reach_change *p = &out->items[out->n - 1];
	if (p->open != open || p->hi + 1 != lo || strcmp(p->stage, stage) || strcmp(p->rule, rule))
		return false;
	p->hi = hi;
	return true;
}

static int diff_segment(struct reach_changes *out, size_t first, const struct rd_side *o,
			const struct rd_side *n, const struct rd_end *a, const struct rd_end *b,
			enum reach_class c, uint32_t lo, uint32_t hi)
{
	size_t mo = 0, mn = 0;
	bool ao = o->valid && reach_path_accepts(&o->path, lo, &mo);
	bool an = n->valid && reach_path_accepts(&n->path, lo, &mn);
	if (ao == an)
		return 0;
	char *stage, *rule;
	int r = an ? attribute(n, o, mo, lo, true, &stage, &rule)
		   : attribute(o, n, mn, lo, false, &stage, &rule);
	if (r || change_extend(out, first, lo, hi, an, stage, rule)) {
		free(stage);
		free(rule);
		return r;
	}
	const struct rd_side *s = n->valid ? n : o;
	struct reach_change ch = {.from = strdup(a->label),
				  .to = strdup(b->label),
				  .from_addr = s->sa,
				  .to_addr = s->da,
				  .cls = c,
				  .proto = s->path.proto,
				  .lo = lo,
				  .hi = hi,
				  .open = an,
				  .stage = stage,
				  .rule = rule};
	if (!ch.from || !ch.to || change_push(out, &ch) < 0) {
		free(ch.from);
		free(ch.to);
		free(stage);
		free(rule);
		return -ENOMEM;
	}
	return 0;
}

static int diff_class(struct reach_changes *out, struct rd_side *o, struct rd_side *n,
		      const struct rd_end *a, const struct rd_end *b, enum reach_class c,
		      const struct reach_opts *opts)
{
	int r = 0;
	if (o->valid)
		r = reach_path_build(o->lab, &o->src, &o->dst, &o->sa, &o->da, c, opts, &o->path);
	if (!r && n->valid)
		r = reach_path_build(n->lab, &n->src, &n->dst, &n->sa, &n->da, c, opts, &n->path);
	uint32_t *bd = NULL;
	size_t nb = 0;
	const struct reach_path *paths[2] = {o->valid ? &o->path : NULL,
					     n->valid ? &n->path : NULL};
	if (!r)
		r = reach_boundaries(paths, 2, c, reach_class_key_max(c), &bd, &nb);
	size_t first = out->n;
	for (size_t i = 0; i + 1 < nb && !r; i++)
		if (!reach_key_excluded(c, bd[i]))
			r = diff_segment(out, first, o, n, a, b, c, bd[i], bd[i + 1] - 1);
	free(bd);
	reach_path_free(&o->path);
	reach_path_free(&n->path);
	return r;
}

static int diff_pair(const struct lab *old_lab, const struct lab *new_lab, const struct rd_end *a,
		     const struct rd_end *b, uint8_t fam, const struct reach_opts *o,
		     struct reach_changes *out)
{
	struct rd_side so, sn;
	side_init(&so, old_lab, 0, a, b, fam);
	side_init(&sn, new_lab, 1, a, b, fam);
	if (!so.valid && !sn.valid)
		return 0;
	out->n_pairs++;
	int r = 0;
	for (int c = 0; c < REACH__COUNT && !r; c++)
		r = diff_class(out, &so, &sn, a, b, (enum reach_class)c, o);
	return r;
}

int reach_diff(const struct lab *old_lab, const struct lab *new_lab, const struct reach_opts *o,
	       struct reach_changes *out)
{
	struct rd_ends ends = {0};
	int r = reach_ends_collect(old_lab, new_lab, &ends);
	out->n_endpoints = ends.n;
	static const uint8_t fams[2] = {IP_V4, IP_V6};
	for (size_t f = 0; f < 2 && !r; f++)
		for (size_t i = 0; i < ends.n && !r; i++)
			for (size_t k = 0; k < ends.n && !r; k++)
				if (i != k && !(ends.v[i].outside && ends.v[k].outside) &&
				    !ends.v[i].dest_only)
					r = diff_pair(old_lab, new_lab, &ends.v[i], &ends.v[k],
						      fams[f], o, out);
	reach_ends_free(&ends);
	return r;
}
