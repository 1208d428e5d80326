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
#include "vec.h"

static bool valid_index(int32_t i, size_t n)
{
	return i >= 0 && (size_t)i < n;
}

void reach_changes_init(struct reach_changes *c)
{
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
	if (e->via_public) {
		if (fam != IP_V4 || !x->has_public_ip || !x->n_ipv4)
			return false;
		*out = x->public_ip;
		return true;
	}
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
static void end_of(const struct lab *lab, struct rd_end *e, const struct rd_end *other, int side,
		   const struct ip_addr *a, struct pipeline_end *out)
{
	if (!e->outside) {
		*out = (struct pipeline_end){.kind = END_ENI, .eni = e->eni[side]};
		return;
	}
	int32_t vpc = eni_vpc(lab, other->eni[side]);
	if (!e->seen[side] || e->seen_vpc[side] != vpc) {
		pipeline_end_of_addr(lab, vpc, a, &e->seen_as[side]);
		if (e->seen_as[side].kind == END_ENI)
			e->seen_as[side] = (struct pipeline_end){.kind = END_OUTSIDE, .eni = -1};
		e->seen[side] = true;
		e->seen_vpc[side] = vpc;
	}
	*out = e->seen_as[side];
}

struct rd_side {
	const struct lab *lab;
	const struct sg_members *members;
	bool valid;
	bool hairpin; /* dst is an ENI by its public IP */
	struct pipeline_end src, dst;
	struct ip_addr sa, da;
	struct reach_path path;
};

static void side_init(struct rd_side *s, const struct lab *lab, int side, struct rd_end *a,
		      struct rd_end *b, uint8_t fam)
{
	memset(s, 0, sizeof(*s));
	s->lab = lab;
	s->valid = end_addr(lab, a, side, fam, &s->sa) && end_addr(lab, b, side, fam, &s->da);
	if (!s->valid)
		return;
	end_of(lab, a, b, side, &s->sa, &s->src);
	end_of(lab, b, a, side, &s->da, &s->dst);
	s->hairpin = b->via_public;
}

static const struct reach_map *map_like(const struct reach_path *p, const struct reach_map *m)
{
	for (size_t i = 0; i < p->n_maps; i++)
		if (p->maps[i].response == m->response &&
		    p->maps[i].segs[0].why.stage == m->segs[0].why.stage &&
		    p->maps[i].segs[0].why.hop == m->segs[0].why.hop)
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

/* ---- a pair's changes before they are worded ---- */

/* Where a change's rule comes from: the verdict of one map of one lab's
 * path, with the flow that map saw. Wording it (pipeline_explain) is left
 * for later, so the changes of one pair can be worded for another pair
 * of the same classes. */
struct raw_change {
	enum reach_class cls;
	uint32_t lo, hi;
	bool open;
	bool only;     /* the other lab has no such path: "only in the ... lab" */
	bool response; /* a stage of the response */
	int side;      /* the lab of why and flow: 0 OLD, 1 NEW */
	struct stage_verdict why;
	struct flow flow;
	/* The words, kept once found when they cannot depend on the pair:
	 * a rule's own text (pipeline_explain's REASON_RULE reads the group
	 * and rule or the NACL entry only). NULL until then. */
	char *stage_text, *rule_text;
};

struct raw_list {
	struct raw_change *v;
	size_t n, cap;
};

static void raw_free(struct raw_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].stage_text);
		free(l->v[i].rule_text);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int raw_push(struct raw_list *l, const struct raw_change *c)
{
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	l->v[l->n++] = *c;
	return 0;
}

/* For an open the NEW side's verdict at the stage where OLD rejected, for
 * a close the OLD side's at the stage where NEW rejects. */
static void attribute(const struct rd_side *decider, const struct rd_side *other, int side,
		      size_t rejected, uint32_t key, struct raw_change *c)
{
	const struct reach_map *m;
	c->side = side;
	c->only = !other->valid;
	if (c->only) {
		/* an endpoint of one lab only: name what lets the flow in there */
		m = endpoint_map(&decider->path);
	} else {
		const struct reach_map *ref = &other->path.maps[rejected];
		m = map_like(&decider->path, ref);
		if (!m) {
			m = ref;
			c->side = 1 - side;
		}
	}
	c->why = reach_map_find(m, key)->why;
	c->flow = m->flow;
	c->response = m->response;
}

static int diff_segment(struct raw_list *out, const struct rd_side *o, const struct rd_side *n,
			enum reach_class cls, uint32_t lo, uint32_t hi)
{
	size_t mo = 0, mn = 0;
	bool ao = o->valid && reach_path_accepts(&o->path, lo, &mo);
	bool an = n->valid && reach_path_accepts(&n->path, lo, &mn);
	if (ao == an)
		return 0;
	struct raw_change c = {.cls = cls, .lo = lo, .hi = hi, .open = an};
	if (an)
		attribute(n, o, 1, mo, lo, &c);
	else
		attribute(o, n, 0, mn, lo, &c);
	return raw_push(out, &c);
}

static int side_path(struct rd_side *s, enum reach_class c, const struct reach_opts *opts)
{
	if (!s->valid)
		return 0;
	if (s->hairpin)
		return reach_hairpin_build(s->lab, s->members, s->src.eni, s->dst.eni, c, opts,
					   &s->path);
	if (reach_nlb_follows(s->lab, &s->src, &s->dst, &s->da))
		return reach_nlb_build(s->lab, s->members, &s->src, s->dst.eni, &s->sa, &s->da, c,
				       opts, &s->path);
	return reach_path_build_indexed(s->lab, s->members, &s->src, &s->dst, &s->sa, &s->da, c,
					opts, &s->path);
}

static int diff_class(struct raw_list *out, struct rd_side *o, struct rd_side *n,
		      enum reach_class c, const struct reach_opts *opts)
{
	int r = side_path(o, c, opts);
	if (!r)
		r = side_path(n, c, opts);
	uint32_t *bd = NULL;
	size_t nb = 0;
	const struct reach_path *paths[2] = {o->valid ? &o->path : NULL,
					     n->valid ? &n->path : NULL};
	if (!r)
		r = reach_boundaries(paths, 2, c, reach_class_key_max(c), &bd, &nb);
	for (size_t i = 0; i + 1 < nb && !r; i++)
		if (!reach_key_excluded(c, bd[i]))
			r = diff_segment(out, o, n, c, bd[i], bd[i + 1] - 1);
	free(bd);
	reach_path_free(&o->path);
	reach_path_free(&n->path);
	return r;
}

/* Every class of the pair a -> b in one family. */
static int diff_pair(const struct lab *const labs[2], const struct sg_members *members,
		     struct rd_end *a, struct rd_end *b, uint8_t fam, const struct reach_opts *o,
		     struct raw_list *out)
{
	struct rd_side so, sn;
	side_init(&so, labs[0], 0, a, b, fam);
	side_init(&sn, labs[1], 1, a, b, fam);
	so.members = members ? &members[0] : NULL;
	sn.members = members ? &members[1] : NULL;
	int r = 0;
	for (int c = 0; c < REACH__COUNT && !r; c++)
		r = diff_class(out, &so, &sn, (enum reach_class)c, o);
	return r;
}

/* ---- wording the changes of one pair ---- */

/* What of a pair its changes' words depend on, per lab: the ENI indices
 * and the addresses of both ends. */
struct pair_view {
	bool valid[2];
	int32_t eni[2][2]; /* [lab][0 source, 1 destination] */
	struct ip_addr sa[2], da[2];
};

static void pair_view(const struct lab *const labs[2], const struct rd_end *a,
		      const struct rd_end *b, uint8_t fam, struct pair_view *v)
{
	memset(v, 0, sizeof(*v));
	for (int s = 0; s < 2; s++) {
		v->valid[s] = end_addr(labs[s], a, s, fam, &v->sa[s]) &&
			      end_addr(labs[s], b, s, fam, &v->da[s]);
		v->eni[s][0] = a->outside ? -1 : a->eni[s];
		v->eni[s][1] = b->outside ? -1 : b->eni[s];
	}
}

static void subst_eni(int32_t *eni, const int32_t from[2], const int32_t to[2])
{
	if (*eni < 0)
		return;
	if (*eni == from[0])
		*eni = to[0];
	else if (*eni == from[1])
		*eni = to[1];
}

static void subst_addr(struct ip_addr *a, const struct ip_addr *from_s,
		       const struct ip_addr *from_d, const struct ip_addr *to_s,
		       const struct ip_addr *to_d)
{
	if (ip_addr_eq(a, from_s))
		*a = *to_s;
	else if (ip_addr_eq(a, from_d))
		*a = *to_d;
}

/* c, found for the pair rep, as the pair me sees it: the same verdict of
 * the same rule, about me's ENIs and addresses. Identity when me is rep. */
static void raw_for(const struct raw_change *c, const struct pair_view *rep,
		    const struct pair_view *me, struct stage_verdict *why, struct flow *flow)
{
	int s = c->side;
	*why = c->why;
	*flow = c->flow;
	if (rep == me)
		return;
	subst_eni(&why->eni, rep->eni[s], me->eni[s]);
	subst_addr(&flow->src, &rep->sa[s], &rep->da[s], &me->sa[s], &me->da[s]);
	subst_addr(&flow->dst, &rep->sa[s], &rep->da[s], &me->sa[s], &me->da[s]);
}

static void change_free(struct reach_change *x)
{
	free(x->from);
	free(x->to);
	free(x->stage);
	free(x->rule);
}

void reach_changes_free(struct reach_changes *c)
{
	while (c->n)
		change_free(&c->items[--c->n]);
	free(c->items);
	reach_changes_init(c);
}

static int change_push(struct reach_changes *out, const struct reach_change *c)
{
	if (vec_reserve(&out->items, &out->cap, out->n + 1, sizeof(*out->items)) < 0)
		return -ENOMEM;
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

static void word(const struct lab *const labs[2], const struct raw_change *c,
		 const struct pair_view *rep, const struct pair_view *me, char *st, size_t st_len,
		 char *rule, size_t rule_len)
{
	struct stage_verdict why;
	struct flow flow;
	raw_for(c, rep, me, &why, &flow);
	const struct lab *lab = labs[c->side];
	if (c->only) {
		char text[900];
		snprintf(st, st_len, "%s", pipeline_stage_name(why.stage));
		snprintf(rule, rule_len, "only in the %s lab: %s", c->open ? "NEW" : "OLD",
			 pipeline_explain(lab, &why, &flow, text, sizeof(text)));
		return;
	}
	snprintf(st, st_len, "%s%s", c->response ? "response " : "",
		 pipeline_stage_name(why.stage));
	pipeline_explain(lab, &why, &flow, rule, rule_len);
}

/* The words of c for the pair me: kept in c when they cannot depend on
 * the pair. */
static int words_of(const struct lab *const labs[2], struct raw_change *c,
		    const struct pair_view *rep, const struct pair_view *me, const char **st,
		    const char **rule, char *st_buf, size_t st_len, char *rule_buf, size_t rule_len)
{
	if (c->stage_text) {
		*st = c->stage_text;
		*rule = c->rule_text;
		return 0;
	}
	word(labs, c, rep, me, st_buf, st_len, rule_buf, rule_len);
	*st = st_buf;
	*rule = rule_buf;
	if (c->why.reason != REASON_RULE)
		return 0;
	c->stage_text = strdup(st_buf);
	c->rule_text = strdup(rule_buf);
	return c->stage_text && c->rule_text ? 0 : -ENOMEM;
}

/* Appends the changes of the pair a -> b (viewed as me), found for rep;
 * adjacent ranges of one class with the same words become one change. */
static int word_pair(const struct lab *const labs[2], struct raw_list *raw,
		     const struct pair_view *rep, const struct pair_view *me,
		     const struct rd_end *a, const struct rd_end *b, uint8_t fam,
		     struct reach_changes *out)
{
	size_t first = out->n;
	for (size_t i = 0; i < raw->n; i++) {
		struct raw_change *c = &raw->v[i];
		char st_buf[64], rule_buf[1024];
		const char *st, *rule;
		if (i && c->cls != raw->v[i - 1].cls)
			first = out->n;
		if (words_of(labs, c, rep, me, &st, &rule, st_buf, sizeof(st_buf), rule_buf,
			     sizeof(rule_buf)) < 0)
			return -ENOMEM;
		if (change_extend(out, first, c->lo, c->hi, c->open, st, rule))
			continue;
		int s = me->valid[1] ? 1 : 0;
		struct reach_change ch = {.from = strdup(a->label),
					  .to = strdup(b->label),
					  .from_addr = me->sa[s],
					  .to_addr = me->da[s],
					  .cls = c->cls,
					  .proto = reach_class_proto(c->cls, (enum ip_family)fam),
					  .lo = c->lo,
					  .hi = c->hi,
					  .open = c->open,
					  .stage = strdup(st),
					  .rule = strdup(rule)};
		if (!ch.from || !ch.to || !ch.stage || !ch.rule || change_push(out, &ch) < 0) {
			change_free(&ch);
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- class pairs already evaluated ---- */

/* The changes of one class pair, found for its first pair (rep). */
struct class_pair {
	struct raw_list raw;
	struct pair_view rep;
};

/* Class pairs evaluated so far: a bit each, and the changes of those that
 * have any, by (source class, destination class) in an open-addressed
 * table. Unchanged class pairs, the most, cost one bit. */
struct memo {
	size_t n_classes;
	uint64_t *seen;	   /* class pairs evaluated */
	uint64_t *changed; /* ... and found to have changes */
	uint64_t *keys;	   /* key + 1; 0 is empty */
	struct class_pair *vals;
	size_t cap, n;
};

static uint64_t pair_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

static int memo_init(struct memo *m, size_t n_classes)
{
	memset(m, 0, sizeof(*m));
	m->n_classes = n_classes;
	m->seen = calloc((n_classes * n_classes + 63) / 64 + 1, sizeof(*m->seen));
	m->changed = calloc((n_classes * n_classes + 63) / 64 + 1, sizeof(*m->changed));
	return m->seen && m->changed ? 0 : -ENOMEM;
}

static void memo_free(struct memo *m)
{
	for (size_t i = 0; m->keys && i < m->cap; i++)
		if (m->keys[i])
			raw_free(&m->vals[i].raw);
	free(m->seen);
	free(m->changed);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static struct class_pair *memo_find(const struct memo *m, uint64_t key)
{
	for (size_t i = pair_hash(key) & (m->cap - 1); m->cap && m->keys[i];
	     i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key + 1)
			return &m->vals[i];
	return NULL;
}

static int memo_grow(struct memo *m)
{
	size_t cap = m->cap ? 2 * m->cap : 64;
	uint64_t *keys = calloc(cap, sizeof(*keys));
	struct class_pair *vals = calloc(cap, sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t k = pair_hash(m->keys[i] - 1) & (cap - 1);
		while (keys[k])
			k = (k + 1) & (cap - 1);
		keys[k] = m->keys[i];
		vals[k] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

/* Takes raw (left empty) as the changes of key. */
static int memo_put(struct memo *m, uint64_t key, struct raw_list *raw, const struct pair_view *rep)
{
	if (2 * (m->n + 1) > m->cap && memo_grow(m) < 0)
		return -ENOMEM;
	size_t i = pair_hash(key) & (m->cap - 1);
	while (m->keys[i])
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = key + 1;
	m->vals[i] = (struct class_pair){.raw = *raw, .rep = *rep};
	m->n++;
	*raw = (struct raw_list){0};
	return 0;
}

/* ---- the driver ---- */

struct rd_run {
	const struct lab *labs[2];
	const struct sg_members *members; /* per lab; NULL when pairwise */
	const struct reach_opts *o;
	struct rd_ends *ends;
	struct reach_changes *out;
};

/* One pair on its own: the reference the class-based evaluation must
 * equal (reach_opts.pairwise). */
static int pair_alone(struct rd_run *run, struct rd_end *a, struct rd_end *b, uint8_t fam)
{
	struct pair_view me;
	pair_view(run->labs, a, b, fam, &me);
	if (!me.valid[0] && !me.valid[1])
		return 0;
	run->out->n_pairs++;
	struct raw_list raw = {0};
	int r = diff_pair(run->labs, run->members, a, b, fam, run->o, &raw);
	if (!r)
		r = word_pair(run->labs, &raw, &me, &me, a, b, fam, run->out);
	raw_free(&raw);
	return r;
}

/* Two ENIs of one address (overlapping VPCs): raw_for could not tell
 * which end an address of a representative stands for. */
static bool share_addr(const struct ip_addr *const *addr[2], size_t i, size_t k)
{
	for (int s = 0; s < 2; s++)
		if (addr[s][i] && addr[s][k] && ip_addr_eq(addr[s][i], addr[s][k]))
			return true;
	return false;
}

/* One pair through its class pair: evaluated for the first pair of the
 * class pair met, worded for each. addr: each end's address per lab (NULL
 * for none), so that the pairs without changes, nearly all, cost a few
 * loads. */
static int pair_by_class(struct rd_run *run, struct memo *m, const uint32_t *cls,
			 const struct ip_addr *const *addr[2], size_t i, size_t k, uint8_t fam)
{
	struct rd_end *a = &run->ends->v[i], *b = &run->ends->v[k];
	if (!(addr[0][i] && addr[0][k]) && !(addr[1][i] && addr[1][k]))
		return 0;
	uint64_t bit = (uint64_t)cls[i] * m->n_classes + cls[k];
	uint64_t key = ((uint64_t)cls[i] << 32) | cls[k];
	bool seen = m->seen[bit / 64] >> (bit % 64) & 1;
	bool changed = m->changed[bit / 64] >> (bit % 64) & 1;
	/* Verdicts never depend on the words, so an unchanged class pair is
	 * unchanged for every member; only wording needs ends told apart. */
	if (seen && !changed) {
		run->out->n_pairs++;
		return 0;
	}
	if (share_addr(addr, i, k))
		return pair_alone(run, a, b, fam);
	run->out->n_pairs++;
	struct pair_view me;
	pair_view(run->labs, a, b, fam, &me);
	if (!seen) {
		m->seen[bit / 64] |= (uint64_t)1 << (bit % 64);
		struct raw_list raw = {0};
		int r = diff_pair(run->labs, run->members, a, b, fam, run->o, &raw);
		bool any = raw.n > 0;
		if (!r && any) {
			m->changed[bit / 64] |= (uint64_t)1 << (bit % 64);
			r = memo_put(m, key, &raw, &me);
		}
		raw_free(&raw);
		if (r || !any)
			return r;
	}
	struct class_pair *cp = memo_find(m, key);
	return word_pair(run->labs, &cp->raw, &cp->rep, &me, a, b, fam, run->out);
}

/* Each end's address of family fam in lab side s, or NULL. */
static int end_addrs(const struct rd_run *run, int s, uint8_t fam, const struct ip_addr ***out)
{
	const struct rd_ends *ends = run->ends;
	const struct ip_addr **v = calloc(ends->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < ends->n; i++) {
		const struct rd_end *e = &ends->v[i];
		if (e->outside) {
			v[i] = e->addr.family == fam ? &e->addr : NULL;
		} else if (e->eni[s] >= 0) {
			const struct eni *x = &run->labs[s]->enis[e->eni[s]];
			if (e->via_public)
				v[i] = fam == IP_V4 && x->has_public_ip ? &x->public_ip : NULL;
			else if (fam == IP_V4 && x->n_ipv4)
				v[i] = &x->ipv4[0];
			else if (fam == IP_V6 && x->n_ipv6)
				v[i] = &x->ipv6[0];
		}
	}
	*out = v;
	return 0;
}

static bool same_eni(const struct rd_end *a, const struct rd_end *b)
{
	return !a->outside && !b->outside && a->eni[0] == b->eni[0] && a->eni[1] == b->eni[1];
}

/* A hairpin's source is another ENI; from outside, an ENI's public IP is
 * its way in, compared with the ENI itself. */
static bool compared(const struct rd_ends *ends, size_t i, size_t k)
{
	const struct rd_end *a = &ends->v[i], *b = &ends->v[k];
	if (b->via_public && (a->outside || same_eni(a, b)))
		return false;
	return i != k && !(a->outside && b->outside) && !a->dest_only;
}

static int diff_family(struct rd_run *run, size_t f, const struct rd_classes *classes)
{
	static const uint8_t fams[2] = {IP_V4, IP_V6};
	struct rd_ends *ends = run->ends;
	bool by_class = !run->o->pairwise;
	struct memo m = {0};
	const struct ip_addr **addr[2] = {NULL, NULL};
	int r = 0;
	if (by_class) {
		r = memo_init(&m, classes->n[f]);
		for (int s = 0; s < 2 && !r; s++)
			r = end_addrs(run, s, fams[f], &addr[s]);
	}
	const struct ip_addr *const *ad[2] = {addr[0], addr[1]};
	for (size_t i = 0; i < ends->n && !r; i++) {
		if (run->o->progress)
			run->o->progress(run->o->progress_arg, f * ends->n + i, 2 * ends->n);
		for (size_t k = 0; k < ends->n && !r; k++) {
			if (!compared(ends, i, k))
				continue;
			if (by_class)
				r = pair_by_class(run, &m, classes->id[f], ad, i, k, fams[f]);
			else
				r = pair_alone(run, &ends->v[i], &ends->v[k], fams[f]);
		}
	}
	free(addr[0]);
	free(addr[1]);
	memo_free(&m);
	return r;
}

int reach_diff(const struct lab *old_lab, const struct lab *new_lab, const struct reach_opts *o,
	       struct reach_changes *out)
{
	struct rd_ends ends = {0};
	struct rd_classes classes = {0};
	struct sg_members members[2] = {{0}, {0}};
	struct rd_run run = {.labs = {old_lab, new_lab}, .o = o, .ends = &ends, .out = out};
	int r = reach_ends_collect(old_lab, new_lab, &ends);
	if (!r && !o->pairwise)
		r = reach_classes_build(old_lab, new_lab, &ends, &classes);
	for (int s = 0; s < 2 && !r && !o->pairwise; s++)
		r = sg_members_build(run.labs[s], &members[s]);
	if (!o->pairwise)
		run.members = members;
	out->n_endpoints = ends.n;
	for (size_t f = 0; f < 2 && !r; f++)
		r = diff_family(&run, f, &classes);
	if (!r && o->progress)
		o->progress(o->progress_arg, 2 * ends.n, 2 * ends.n);
	sg_members_free(&members[0]);
	sg_members_free(&members[1]);
	reach_classes_free(&classes);
	reach_ends_free(&ends);
	return r;
}
