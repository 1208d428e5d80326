/*
 * What every evaluator builds its stages with (pipeline-private.h): a
 * subnet's NACL over a range of destination ports, and a result that
 * collects stages in AWS order. The lowest layer of the stages: pipeline.c,
 * the route stage's files and rules/forward call it; it calls none of them.
 */
#include "pipeline.h"
#include "pipeline-private.h"

#include <string.h>

#include "nacl.h"

/* The subnet's NACL, v set to decide by its rules; NULL (v a REJECT by
 * the "*" rule) when a loader invariant is broken: deny rather than run
 * open (§8). */
const struct nacl *pipeline_subnet_nacl(const struct lab *lab, int32_t subnet, const struct flow *f,
				      struct stage_verdict *v)
{
	v->reason = REASON_RULE;
	v->verdict = VERDICT_REJECT;
	if (!valid_index(subnet, lab->n_subnets) ||
	    !valid_index(lab->subnets[subnet].nacl, lab->n_nacls)) {
		v->rule_number = f->src.family == IP_V6 ? NACL_RULE_STAR_V6 : NACL_RULE_STAR_V4;
		return NULL;
	}
	v->nacl = lab->subnets[subnet].nacl;
	return &lab->nacls[v->nacl];
}

/* The NACL's verdict over destination ports lo..hi (lo == hi: one packet). */
void pipeline_nacl_ports_verdict(const struct nacl *acl, bool egress, const struct flow *f,
			       uint16_t lo, uint16_t hi, struct stage_verdict *v)
{
	struct nacl_decision d;
	uint16_t port;
	bool ok = nacl_evaluate_ports(acl, egress, f, lo, hi, &port, &d);
	v->verdict = ok ? VERDICT_ACCEPT : VERDICT_REJECT;
	v->rule_number = d.rule_number;
	if (flow_has_ports(f) && lo != hi) {
		v->has_port = true;
		v->port = ok ? lo : port;
		v->port_lo = lo;
		v->port_hi = hi;
	}
}

void pipeline_subnet_nacl_scope(const struct lab *lab, int32_t subnet, bool egress,
				const struct flow *f, struct stage_verdict *v, struct stage_scope *s)
{
	memset(s, 0, sizeof(*s));
	s->egress = egress;
	s->nacl = pipeline_subnet_nacl(lab, subnet, f, v);
	s->decided = !s->nacl;
}

void pipeline_nacl_rules(const struct lab *lab, int32_t subnet, bool egress, const struct flow *f,
			 uint16_t lo, uint16_t hi, struct stage_verdict *v)
{
	const struct nacl *acl = pipeline_subnet_nacl(lab, subnet, f, v);
	if (acl)
		pipeline_nacl_ports_verdict(acl, egress, f, lo, hi, v);
}

/* Appends a stage in AWS order; after a REJECT the rest are skipped. */
void pipeline_collect(struct pipeline_result *out, const struct stage_verdict *v)
{
	struct stage_verdict *slot = &out->stages[out->n];
	*slot = *v;
	if (out->rejected_at >= 0) {
		/* keep whose stage it was, drop what the evaluation found */
		verdict_init(slot, v->stage);
		slot->eni = v->eni;
		slot->subnet = v->subnet;
		slot->reason = REASON_EARLIER_REJECT;
	} else if (v->verdict == VERDICT_REJECT) {
		out->rejected_at = (int)out->n;
		out->verdict = VERDICT_REJECT;
	}
	out->n++;
}

void pipeline_result_init(struct pipeline_result *out)
{
	memset(out, 0, sizeof(*out));
	out->verdict = VERDICT_ACCEPT;
	out->rejected_at = -1;
}
