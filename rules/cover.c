/*
 * Rule coverage (see cover.h for what "exercised" and "reachable" mean and
 * why the representatives are complete): what one evaluated flow
 * exercised, and freeing a plan.
 *
 * Not for: the rule index (ruleref.c), the representatives and the greedy
 * cover (cover_reps.c), the search behind cover_generate()
 * (cover_search.c).
 */
#include "cover.h"
#include "cover-private.h"

#include <stdlib.h>
#include <string.h>

#include "nacl.h"
#include "sg.h"

/* Also used by cover_search.c (cover-private.h). */
bool cover_valid_index(int32_t i, size_t n)
{
	return i >= 0 && (size_t)i < n;
}

/* ---- what one evaluated flow exercised ---- */

/* Every rule of the stage's ENI that allows f: SGs are a union (§3). */
static void mark_sg(const struct lab *lab, const struct rule_index *ri,
		    const struct stage_verdict *v, const struct flow *f, uint8_t *hit)
{
	if (v->verdict != VERDICT_ACCEPT ||
	    (v->reason != REASON_RULE && v->reason != REASON_UNTRACKED) ||
	    !cover_valid_index(v->eni, lab->n_enis))
		return;
	bool egress = v->stage == STAGE_SG_EGRESS;
	struct sg_walk w;
	struct sg_match at;
	sg_walk_init(&w, lab, &lab->enis[v->eni], egress);
	for (const struct sg_rule *x; (x = sg_walk_next(&w, &at));)
		if (sg_rule_matches(lab, x, f))
			hit[rule_index_sg(ri, at.group, at.rule)] = 1;
}

static void mark_decision(const struct lab *lab, const struct rule_index *ri, int32_t a,
			  bool egress, const struct nacl_decision *d, uint8_t *hit)
{
	if (!d->entry)
		return; /* the implicit "*" entry */
	const struct nacl_entry *base = egress ? lab->nacls[a].egress : lab->nacls[a].ingress;
	hit[rule_index_nacl(lab, ri, a, egress, (size_t)(d->entry - base))] = 1;
}

/* The entry deciding each port the stage evaluated (§2: first match). */
static void mark_nacl(const struct lab *lab, const struct rule_index *ri,
		      const struct stage_verdict *v, const struct flow *f, uint8_t *hit)
{
	if (v->verdict == VERDICT_SKIPPED || v->reason != REASON_RULE ||
	    !cover_valid_index(v->nacl, lab->n_nacls))
		return;
	bool egress = v->stage == STAGE_NACL_EGRESS;
	const struct nacl *acl = &lab->nacls[v->nacl];
	struct nacl_decision d;
	if (!v->has_port || !flow_has_ports(f)) {
		nacl_evaluate(acl, egress, f, &d);
		mark_decision(lab, ri, v->nacl, egress, &d, hit);
		return;
	}
	struct flow g = *f;
	uint32_t limit = (uint32_t)v->port_hi + 1;
	for (uint32_t p = v->port_lo; p <= v->port_hi; p = nacl_next_port(acl, egress, p, limit)) {
		g.dport = (uint16_t)p;
		nacl_evaluate(acl, egress, &g, &d);
		mark_decision(lab, ri, v->nacl, egress, &d, hit);
	}
}

static void mark_result(const struct lab *lab, const struct rule_index *ri,
			const struct pipeline_result *r, const struct flow *f, uint8_t *hit)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct stage_verdict *v = &r->stages[i];
		if (v->stage == STAGE_SG_EGRESS || v->stage == STAGE_SG_INGRESS)
			mark_sg(lab, ri, v, f, hit);
		else if (v->stage == STAGE_NACL_EGRESS || v->stage == STAGE_NACL_INGRESS)
			mark_nacl(lab, ri, v, f, hit);
	}
}

void cover_mark(const struct lab *lab, const struct rule_index *ri, const struct pipeline_query *q,
		const struct pipeline_check *c, uint8_t *hit)
{
	mark_result(lab, ri, &c->request, &q->request, hit);
	if (c->has_response)
		mark_result(lab, ri, &c->response, &c->reply, hit);
}

void cover_plan_free(struct cover_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->flows[i].rules);
	free(p->flows);
	free(p->reachable);
	free(p->undecided);
	memset(p, 0, sizeof(*p));
}
