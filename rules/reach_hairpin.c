/*
 * A hairpin as `vpcfw diff` compares it (AWS-SEMANTICS §9): ENI a to ENI
 * b's public IP leaves through the internet gateway and comes back in
 * from a's public IP. rules/forward.c evaluates it for check and the data
 * path as two legs through the gateway: a's stages with the internet as
 * the far end (SG and NACL egress, a's route to b's public IP), then b's
 * with a's public IP as the source (b's route from the gateway, NACL and
 * SG ingress); the response hairpins back, b's leg first. The diff's
 * path is those two outside paths (reach.c) joined in that order, less
 * the stages of their outside ends, which consult no rule (left_out).
 */
#include <errno.h>
#include <string.h>

#include "reach-private.h"

static const struct pipeline_end outside = {.kind = END_OUTSIDE, .eni = -1};

/* Not a stage of the hairpin: one of a leg's outside end (one piece,
 * accepted, no ENI or subnet consulted; the route stage, whatever it
 * says, is kept), or a NACL crossing of a NAT gateway's subnet, which
 * forward.c's hairpin does not compose either (its two route stages
 * decide). */
static bool left_out(const struct reach_map *m)
{
	const struct stage_verdict *v = &m->segs[0].why;
	if (v->hop)
		return true;
	return v->stage != STAGE_ROUTE && m->n == 1 && m->segs[0].accept && v->eni < 0 &&
	       v->subnet < 0;
}

/* Moves the maps of leg with response == response into out (the leg
 * keeps the rest to free); -EOVERFLOW past REACH_MAX_MAPS (two legs
 * through NAT gateways both ways), never a stage left out. */
static int take(struct reach_path *leg, bool response, struct reach_path *out)
{
	for (size_t i = 0; i < leg->n_maps; i++) {
		struct reach_map *m = &leg->maps[i];
		if (m->response != response || !m->segs || left_out(m))
			continue;
		if (out->n_maps == REACH_MAX_MAPS)
			return -EOVERFLOW;
		out->maps[out->n_maps++] = *m;
		m->segs = NULL;
	}
	return 0;
}

/* Whether one of the path's stages refuses every key. */
static bool refuses_all(const struct reach_path *p)
{
	for (size_t i = 0; i < p->n_maps; i++)
		if (p->maps[i].n == 1 && !p->maps[i].segs[0].accept)
			return true;
	return false;
}

int reach_hairpin_build(const struct lab *lab, const struct sg_members *members, int32_t from,
			int32_t to, enum reach_class c, const struct reach_opts *o,
			struct reach_path *out)
{
	const struct eni *a = &lab->enis[from], *b = &lab->enis[to];
	struct pipeline_end ea = {.kind = END_ENI, .eni = from}, eb = {.kind = END_ENI, .eni = to};
	/* without a public IP of its own a's packet stays at its route stage
	 * (no-public-ip); b's leg then sees its private address, as forward.c */
	const struct ip_addr *a_seen = a->has_public_ip ? &a->public_ip : &a->ipv4[0];
	struct reach_path out_leg, in_leg;
	memset(out, 0, sizeof(*out));
	memset(&in_leg, 0, sizeof(in_leg));
	int r = reach_path_build_indexed(lab, members, &ea, &outside, &a->ipv4[0], &b->public_ip, c,
					 o, &out_leg);
	if (!r) {
		out->cls = out_leg.cls;
		out->proto = out_leg.proto;
		out->key_max = out_leg.key_max;
		r = take(&out_leg, false, out);
	}
	/* refused whole on a's side (most often at its route: no public IP):
	 * b's leg could change no verdict nor which stage rejects first */
	if (!r && !refuses_all(out))
		r = reach_path_build_indexed(lab, members, &outside, &eb, a_seen, &b->ipv4[0], c, o,
					     &in_leg);
	if (!r && in_leg.n_maps) {
		r = take(&in_leg, false, out);
		if (!r)
			r = take(&in_leg, true, out);
		if (!r)
			r = take(&out_leg, true, out);
	}
	reach_path_free(&out_leg);
	reach_path_free(&in_leg);
	return r;
}
