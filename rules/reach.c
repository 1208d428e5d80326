/*
 * Reachability as interval sets (reach.h): one partition of the key domain
 * per stage of a path. Every stage is built from the primitives the
 * per-packet evaluation uses: the stage scope of rules/pipeline.c (which
 * rules the stage consults, or why none: not an ENI, same subnet, service
 * traffic), the key sets of sg.c / nacl.c (what each rule matches) and
 * pipeline_route_stage; only "over every key at once" is this file's, by
 * the interval maths of reach_iv.c. The diff of two labs is reach_diff.c,
 * its endpoints reach_ends.c; tests/unit/test_reach.c checks the maps
 * against pipeline_check and against a naive reference.
 */
#include "reach.h"
#include "reach-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacl.h"
#include "pipeline-private.h"

/* ---- classes and keys ---- */

static bool class_has_ports(enum reach_class c)
{
	return c == REACH_TCP || c == REACH_UDP;
}



static int map_const(const struct reach_build *b, struct reach_map *map, bool accept,
		     const struct stage_verdict *why)
{
	return reach_map_const(map, b->key_max, accept, why);
}

/* ---- the SG and NACL stages ---- */

/* The SG rules over every key, with the service exemption of the scope
 * (pipeline_sg_stage: either port of a TCP/UDP packet in its range). */
static int sg_keys_map(struct reach_build *b, const struct stage_scope *s,
		       const struct stage_verdict *base, const struct flow *f,
		       struct reach_map *map)
{
	const struct ip_addr *peer = s->egress ? &f->dst : &f->src;
	if (!s->exempt_ports || !class_has_ports(b->cls))
		return reach_rules_sg(b, s->eni, s->egress, peer, base, map);
	struct stage_verdict exempt;
	pipeline_scope_exempt(s, base, &exempt);
	if (s->exempt_lo <= f->sport && f->sport <= s->exempt_hi)
		return map_const(b, map, true, &exempt);
	int r = reach_rules_sg(b, s->eni, s->egress, peer, base, map);
	return r ? r : reach_map_override(map, s->exempt_lo, s->exempt_hi, true, &exempt);
}

/* pipeline_sg_stage / pipeline_nacl_stage over every key of the class,
 * from the same scope: stage is one of the SG and NACL stages. */
static int stage_map(struct reach_build *b, enum pipeline_stage stage, const struct pipeline_end *src,
		     const struct pipeline_end *dst, const struct flow *f, struct reach_map *map)
{
	bool egress = stage == STAGE_SG_EGRESS || stage == STAGE_NACL_EGRESS;
	struct stage_scope s;
	struct stage_verdict v;
	pipeline_stage_scope(b->lab, stage, egress ? src : dst, egress ? dst : src, f, &v, &s);
	map->flow = *f;
	if (s.decided)
		return map_const(b, map, v.verdict != VERDICT_REJECT, &v);
	if (stage == STAGE_SG_EGRESS || stage == STAGE_SG_INGRESS)
		return sg_keys_map(b, &s, &v, f, map);
	return reach_rules_nacl(b, &s, &v, f, map);
}

/* The route stage does not look at ports or types: one verdict. */
static int route_map(struct reach_build *b, const struct pipeline_end *src,
		     const struct pipeline_end *dst, const struct flow *f, bool request,
		     struct reach_map *map)
{
	struct stage_verdict v;
	map->flow = *f;
	pipeline_route_stage(b->lab, src, dst, f, &v);
	/* a request from outside opens nothing through an outbound-only
	 * gateway: rules/forward.c refuse_inbound, for a flow no ENI tracks */
	if (request && src->kind == END_OUTSIDE && v.verdict == VERDICT_ACCEPT &&
	    pipeline_route_outbound_only(v.reason)) {
		v.verdict = VERDICT_REJECT;
		v.reason = REASON_ENDPOINT_INBOUND;
	}
	return map_const(b, map, v.verdict == VERDICT_ACCEPT, &v);
}

/* A reply NACL stage over the whole ephemeral range: one verdict, as
 * nacl_evaluate_ports gives it (the rule of the first refused port, else
 * of the lowest port). */
static int eph_map(struct reach_build *b, uint16_t lo, uint16_t hi, struct reach_map *full,
		   struct reach_map *map)
{
	const struct reach_seg *pick = NULL;
	uint32_t port = lo;
	for (size_t i = 0; i < full->n; i++) {
		const struct reach_seg *s = &full->segs[i];
		if (s->hi < lo || s->lo > hi)
			continue;
		if (!pick)
			pick = s;
		if (!s->accept) {
			pick = s;
			port = s->lo > lo ? s->lo : lo;
			break;
		}
	}
	if (!pick) /* lo..hi lies inside the domain, which full covers */
		pick = &full->segs[0];
	struct stage_verdict why = pick->why;
	if (why.reason == REASON_RULE && lo != hi) {
		why.has_port = true;
		why.port = (uint16_t)port;
		why.port_lo = lo;
		why.port_hi = hi;
	}
	map->flow = full->flow;
	bool accept = pick->accept;
	free(full->segs);
	full->segs = NULL;
	return map_const(b, map, accept, &why);
}

/* The echo request and reply types of the family (contract 4). */
static void icmp_echo(enum ip_family fam, uint8_t *req_type, uint8_t *reply_type)
{
	*req_type = fam == IP_V6 ? 128 : 8;
	*reply_type = fam == IP_V6 ? 129 : 0;
}

/* An ICMP response stage: only echo requests (any code) have one; every
 * other key passes with "no response". */
static int icmp_response_map(struct reach_build *b, struct reach_map *full, uint8_t req_type,
			     uint8_t reply_type, struct reach_map *map)
{
	uint32_t key = REACH_ICMP_KEY(reply_type, 0);
	const struct reach_seg *s = full->segs;
	for (size_t i = 0; i < full->n; i++)
		if (full->segs[i].lo <= key && key <= full->segs[i].hi)
			s = &full->segs[i];
	struct stage_verdict why = s->why;
	bool accept = s->accept;
	map->flow = full->flow;
	free(full->segs);
	full->segs = NULL;
	struct stage_verdict none;
	verdict_init(&none, why.stage);
	none.reason = REASON_NO_RESPONSE;
	int r = map_const(b, map, true, &none);
	if (!r)
		r = reach_map_override(map, REACH_ICMP_KEY(req_type, 0),
				       REACH_ICMP_KEY(req_type, 255), accept, &why);
	return r;
}

/* The reply's ICMP types, or 0/0 for other classes. */
struct reply_icmp {
	uint8_t req_type, reply_type;
};

/* A response map over every key (full, built with result r) reduced to
 * what a request key depends on: TCP/UDP one verdict for the client's
 * whole ephemeral range, ICMP one for echo requests. Frees full. */
static int response_reduce(struct reach_build *b, int r, struct reach_map *full,
			   const struct reply_icmp *ic, struct reach_map *map)
{
	if (!r && class_has_ports(b->cls))
		r = eph_map(b, b->o->eph_lo, b->o->eph_hi, full, map);
	else if (!r)
		r = icmp_response_map(b, full, ic->req_type, ic->reply_type, map);
	free(full->segs);
	return r;
}

/* A response NACL stage (server -> client), reduced to what a request key
 * depends on: TCP/UDP one verdict for the whole ephemeral range, ICMP one
 * for echo requests, other protocols key by key. */
static int response_nacl(struct reach_build *b, const struct pipeline_end *server,
			 const struct pipeline_end *client, bool egress, const struct flow *reply,
			 const struct reply_icmp *ic, struct reach_map *map)
{
	map->response = true;
	if (b->cls == REACH_OTHER)
		return stage_map(b, egress ? STAGE_NACL_EGRESS : STAGE_NACL_INGRESS, server, client,
				 reply, map);
	struct reach_map full = {0};
	int r = stage_map(b, egress ? STAGE_NACL_EGRESS : STAGE_NACL_INGRESS, server, client, reply,
			  &full);
	return response_reduce(b, r, &full, ic, map);
}

static int response_route(struct reach_build *b, const struct pipeline_end *server,
			  const struct pipeline_end *client, const struct flow *reply,
			  const struct reply_icmp *ic, struct reach_map *map)
{
	map->response = true;
	if (b->cls != REACH_ICMP)
		return route_map(b, server, client, reply, false, map);
	struct reach_map full = {0};
	int r = route_map(b, server, client, reply, false, &full);
	return response_reduce(b, r, &full, ic, map);
}

/* The NACL crossings of a NAT gateway's subnet after the route stage, as
 * pipeline_route_collect makes them: in from the sender's side, out to
 * the receiver's; skipped where the inside ENI shares that subnet. A
 * response (ic set) passes the far end's packets to the NAT gateway's
 * own ports and the NAT gateway's to the client's ephemeral range. */
static int hop_maps(struct reach_build *b, const struct pipeline_end *src,
		    const struct pipeline_end *dst, const struct flow *f,
		    const struct reply_icmp *ic, struct reach_path *p)
{
	struct stage_verdict route;
	pipeline_route_stage(b->lab, src, dst, f, &route);
	int32_t subnet = pipeline_route_nat_subnet(b->lab, &route);
	const struct eni *inside = end_eni(b->lab, src->kind == END_ENI ? src : dst);
	bool outbound = src->kind == END_ENI;
	int r = 0;
	for (int egress = 0; subnet >= 0 && inside && egress < 2 && !r; egress++) {
		struct reach_map *map = &p->maps[p->n_maps++], full = {0};
		struct stage_verdict why;
		verdict_init(&why, egress ? STAGE_NACL_EGRESS : STAGE_NACL_INGRESS);
		why.subnet = subnet;
		why.hop = true;
		why.gateway = route.gateway;
		map->flow = *f;
		map->response = ic != NULL;
		if (inside->subnet == subnet && outbound != (bool)egress) {
			why.reason = REASON_SAME_SUBNET;
			r = map_const(b, map, true, &why);
			continue;
		}
		struct stage_scope scope;
		pipeline_subnet_nacl_scope(b->lab, subnet, egress, f, &why, &scope);
		r = scope.decided ? map_const(b, ic ? &full : map, false, &why)
				  : reach_rules_nacl(b, &scope, &why, f, ic ? &full : map);
		bool nat_ports = !outbound && !egress;
		if (!r && ic && class_has_ports(b->cls))
			r = eph_map(b, nat_ports ? PIPELINE_NAT_PORT_LO : b->o->eph_lo,
				    nat_ports ? PIPELINE_NAT_PORT_HI : b->o->eph_hi, &full, map);
		else if (!r && ic)
			r = icmp_response_map(b, &full, ic->req_type, ic->reply_type, map);
		free(full.segs);
	}
	return r;
}

/* The response's stages (contract 4): its SG stages pass by tracking (or
 * the rule of an untracked flow) and never reject, so only the NACLs and
 * the route are left. */
static int response_maps(struct reach_build *b, const struct pipeline_end *src,
			 const struct pipeline_end *dst, const struct flow *req, bool route,
			 struct reach_path *p)
{
	struct flow reply;
	struct reply_icmp ic = {0, 0};
	flow_reverse(req, &reply);
	if (class_has_ports(b->cls)) {
		reply.dport = b->o->eph_lo;
	} else if (b->cls == REACH_ICMP) {
		icmp_echo((enum ip_family)req->src.family, &ic.req_type, &ic.reply_type);
		reply.icmp_type = ic.reply_type;
		reply.icmp_code = 0;
	}
	int r = response_nacl(b, dst, src, true, &reply, &ic, &p->maps[p->n_maps++]);
	if (!r && route)
		r = response_route(b, dst, src, &reply, &ic, &p->maps[p->n_maps++]);
	if (!r && route)
		r = hop_maps(b, dst, src, &reply, &ic, p);
	if (!r)
		r = response_nacl(b, dst, src, false, &reply, &ic, &p->maps[p->n_maps++]);
	return r;
}

void reach_opts_init(struct reach_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->eph_lo = PIPELINE_EPHEMERAL_LO;
	o->eph_hi = PIPELINE_EPHEMERAL_HI;
}

int reach_path_build(const struct lab *lab, const struct pipeline_end *src,
		     const struct pipeline_end *dst, const struct ip_addr *src_addr,
		     const struct ip_addr *dst_addr, enum reach_class c, const struct reach_opts *o,
		     struct reach_path *out)
{
	return reach_path_build_indexed(lab, NULL, src, dst, src_addr, dst_addr, c, o, out);
}

int reach_path_build_indexed(const struct lab *lab, const struct sg_members *members,
			     const struct pipeline_end *src, const struct pipeline_end *dst,
			     const struct ip_addr *src_addr, const struct ip_addr *dst_addr,
			     enum reach_class c, const struct reach_opts *o, struct reach_path *out)
{
	memset(out, 0, sizeof(*out));
	struct reach_build b = {
	    .lab = lab, .cls = c, .o = o, .members = members, .key_max = reach_class_key_max(c)};
	b.proto = reach_class_proto(c, (enum ip_family)src_addr->family);
	b.key_proto = c == REACH_OTHER ? PROTO_ALL : b.proto;
	out->cls = c;
	out->proto = b.proto;
	out->key_max = b.key_max;
	struct flow f = {.src = *src_addr, .dst = *dst_addr, .proto = b.proto};
	if (class_has_ports(c))
		f.sport = o->eph_lo; /* what query_build gives a request without --sport */
	bool route = pipeline_needs_route(lab, src, dst, &f);
	int r = stage_map(&b, STAGE_SG_EGRESS, src, dst, &f, &out->maps[out->n_maps++]);
	if (!r)
		r = stage_map(&b, STAGE_NACL_EGRESS, src, dst, &f, &out->maps[out->n_maps++]);
	if (!r && route)
		r = route_map(&b, src, dst, &f, true, &out->maps[out->n_maps++]);
	if (!r && route)
		r = hop_maps(&b, src, dst, &f, NULL, out);
	if (!r)
		r = stage_map(&b, STAGE_NACL_INGRESS, src, dst, &f, &out->maps[out->n_maps++]);
	if (!r)
		r = stage_map(&b, STAGE_SG_INGRESS, src, dst, &f, &out->maps[out->n_maps++]);
	if (!r)
		r = response_maps(&b, src, dst, &f, route, out);
	free(b.match.v);
	return r;
}

void reach_path_free(struct reach_path *p)
{
	for (size_t i = 0; i < p->n_maps; i++)
		free(p->maps[i].segs);
	memset(p, 0, sizeof(*p));
}
