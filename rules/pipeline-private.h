/*
 * What the pipeline's own files share (pipeline.c: ends and the SG/NACL
 * stages; route.c: the route stage; pipeline_check.c: a request and its
 * response; pipeline_explain.c: the words), and rules/reach.c, which
 * builds diff's maps from the same stages. Nobody else includes this.
 */
#ifndef VPCFW_PIPELINE_PRIVATE_H
#define VPCFW_PIPELINE_PRIVATE_H

#include <string.h>

#include "pipeline.h"

static inline bool valid_index(int32_t i, size_t n)
{
	return i >= 0 && (size_t)i < n;
}

static inline const struct eni *end_eni(const struct lab *lab, const struct pipeline_end *e)
{
	if (e->kind != END_ENI || !valid_index(e->eni, lab->n_enis))
		return NULL;
	return &lab->enis[e->eni];
}

static inline int32_t eni_vpc(const struct lab *lab, const struct eni *e)
{
	if (!e || !valid_index(e->subnet, lab->n_subnets))
		return -1;
	return lab->subnets[e->subnet].vpc;
}

static inline void verdict_init(struct stage_verdict *v, enum pipeline_stage stage)
{
	memset(v, 0, sizeof(*v));
	v->stage = stage;
	v->verdict = VERDICT_SKIPPED;
	v->eni = v->subnet = v->nacl = v->group = v->rule = -1;
	v->route_table = v->route = -1;
}

/* stage.c: subnet's NACL with v set to decide by its rules; NULL (v a
 * REJECT by "*") when a loader invariant is broken: deny rather than run
 * open (§8). Then the NACL's verdict over destination ports lo..hi. */
const struct nacl *pipeline_subnet_nacl(const struct lab *lab, int32_t subnet, const struct flow *f,
					struct stage_verdict *v);
void pipeline_nacl_ports_verdict(const struct nacl *acl, bool egress, const struct flow *f,
				 uint16_t lo, uint16_t hi, struct stage_verdict *v);
/* The NACL stage over reply ports lo..hi (pipeline_check's response). */
void pipeline_nacl_stage_ports(const struct lab *lab, const struct pipeline_end *src,
			       const struct pipeline_end *dst, bool egress, const struct flow *f,
			       uint16_t lo, uint16_t hi, struct stage_verdict *v);
/* The NACL of subnet over destination ports lo..hi: verdict, rule number
 * and the first refused port into v (a pipeline NACL stage, or a hop's). */
/* The scope of a NACL stage of subnet's NACL whatever the ends (a NAT
 * gateway's subnet crossed on the way): v must be initialised for the
 * stage; decided (v a REJECT) when the subnet has no NACL. */
void pipeline_subnet_nacl_scope(const struct lab *lab, int32_t subnet, bool egress,
				const struct flow *f, struct stage_verdict *v, struct stage_scope *s);
void pipeline_nacl_rules(const struct lab *lab, int32_t subnet, bool egress, const struct flow *f,
			 uint16_t lo, uint16_t hi, struct stage_verdict *v);
/* One crossing of a NAT gateway's subnet's NACL over destination ports
 * lo..hi (a hop stage); skipped when the inside ENI shares that subnet
 * (no NACL between two interfaces of one subnet). route_nat.c's, and the
 * data path's for a reply to the gateway's own port (forward_nat.c). */
void pipeline_nat_crossing(const struct lab *lab, int32_t gateway, int32_t subnet, bool egress,
			   bool same_subnet, const struct flow *f, uint16_t lo, uint16_t hi,
			   struct stage_verdict *v);
/* Appends a stage in AWS order; after a REJECT the rest are skipped. */
void pipeline_collect(struct pipeline_result *out, const struct stage_verdict *v);
void pipeline_result_init(struct pipeline_result *out);

#endif
