/*
 * A client's path to a Network Load Balancer's node as `vpcfw diff`
 * compares it (nlb.h, AWS-SEMANTICS §4, §9). rules/forward_nlb.c evaluates
 * it for check and the data path as two legs through the node: the
 * client's stages to the node (leg A: its SG and NACL egress, the route,
 * the node subnet's NACL ingress, the node's groups if any), the
 * listener, then the node's to the target with the client's address kept
 * (leg B: the node subnet's NACL egress, the target's NACL and SG
 * ingress); the reply back through the node, leg B first.
 *
 * The key is the client's (the listener port); leg B is evaluated at the
 * target's port. A key's source ports spread over every target the node
 * may choose (nlb_target_possible), so the diff's answer is the
 * conjunction over them: a key is open when every flow to it gets
 * through, whichever target it lands on, and closed as soon as one target
 * refuses it, named by that target's stage (docs/deviations.md).
 */
#include <errno.h>
#include <string.h>

#include "nlb.h"
#include "pipeline-private.h"
#include "reach-private.h"

/* Leg B's stages check evaluates, in its order: request, then reply. */
enum { SLOT_NODE_OUT, SLOT_TGT_IN, SLOT_TGT_SG, SLOT_R_TGT_OUT, SLOT_R_NODE_IN, N_SLOTS };

static int slot_of(const struct reach_map *m)
{
	const struct stage_verdict *v = &m->segs[0].why;
	if (v->hop)
		return -1; /* a NAT gateway's crossing: not on a node's way */
	if (!m->response)
		return v->stage == STAGE_NACL_EGRESS	? SLOT_NODE_OUT
		       : v->stage == STAGE_NACL_INGRESS ? SLOT_TGT_IN
		       : v->stage == STAGE_SG_INGRESS	? SLOT_TGT_SG
							: -1;
	return v->stage == STAGE_NACL_EGRESS	? SLOT_R_TGT_OUT
	       : v->stage == STAGE_NACL_INGRESS ? SLOT_R_NODE_IN
						: -1;
}

bool reach_nlb_follows(const struct lab *lab, const struct pipeline_end *src,
		       const struct pipeline_end *dst, const struct ip_addr *da)
{
	if (!lab->n_load_balancers || dst->kind != END_ENI || nlb_of_node(lab, dst->eni) < 0)
		return false;
	if (src->kind == END_ENI)
		return true;
	/* from outside only the node's public IP leads to it (forward_nlb.c) */
	return src->kind == END_OUTSIDE && eni_public_of(&lab->enis[dst->eni], da);
}

bool reach_nlb_involves(const struct lab *lab, int32_t eni)
{
	for (size_t b = 0; b < lab->n_load_balancers; b++) {
		const struct load_balancer *lb = &lab->load_balancers[b];
		for (size_t k = 0; k < lb->n_nodes; k++)
			if (lb->nodes[k] == eni)
				return true;
		for (size_t l = 0; l < lb->n_listeners; l++)
			for (size_t t = 0; t < lb->listeners[l].n_targets; t++)
				if (lb->listeners[l].targets[t].eni == eni)
					return true;
	}
	return false;
}

struct nlb_build {
	const struct lab *lab;
	const struct sg_members *members;
	enum reach_class cls;
	const struct reach_opts *o;
	const struct ip_addr *client; /* the source every target sees */
	int32_t client_eni;	      /* -1: an outside client */
	struct nlb_pick pk;
	uint32_t key_max;
	struct reach_map listener, slots[N_SLOTS];
};

static void set_hop(struct reach_map *m)
{
	for (size_t i = 0; i < m->n; i++)
		m->segs[i].why.hop = true;
}

/* Leg B of target t at the listener port p: each slot's verdict at the
 * target's port joins port p of the slot's map, the first refusing
 * target's kept. first: t is the first target of p. */
static int join_target(struct nlb_build *b, uint16_t p, const struct lb_target *t, bool first)
{
	struct pipeline_end node = {.kind = END_ENI, .eni = b->pk.node_eni};
	struct pipeline_end tgt = {.kind = END_ENI, .eni = t->eni};
	struct reach_path leg;
	int r = reach_path_build_indexed(b->lab, b->members, &node, &tgt, b->client, &t->addr,
					 b->cls, b->o, &leg);
	for (size_t i = 0; i < leg.n_maps && !r; i++) {
		int s = slot_of(&leg.maps[i]);
		if (s < 0)
			continue;
		struct reach_map *m = &b->slots[s];
		const struct reach_seg *seg = reach_map_find(&leg.maps[i], t->port);
		struct stage_verdict why = seg->why;
		/* as forward_nlb.c collects them: the node's crossings are hops */
		why.hop = s == SLOT_NODE_OUT || s == SLOT_R_NODE_IN;
		if (!m->segs) {
			struct stage_verdict fill = why;
			m->response = leg.maps[i].response;
			m->flow = leg.maps[i].flow;
			r = reach_map_const(m, b->key_max, true, &fill);
		}
		if (!r && (first || (reach_map_find(m, p)->accept && !seg->accept)))
			r = reach_map_override(m, p, p, seg->accept, &why);
	}
	reach_path_free(&leg);
	return r;
}

/* Port p's listener stage (the first refusal of any target the node may
 * choose: one without an ENI, or of the other family, refuses the flows
 * it gets) and its targets' legs. */
static int join_port(struct nlb_build *b, int32_t li)
{
	const struct lb_listener *l = &b->lab->load_balancers[b->pk.lb].listeners[li];
	struct nlb_pick pk = b->pk;
	pk.listener = li;
	for (size_t t = 0; t < l->n_targets; t++) {
		if (!nlb_target_possible(b->lab, pk.lb, pk.node, li, (int32_t)t))
			continue;
		const struct lb_target *x = &l->targets[t];
		/* the client itself (loopback with the client's address kept:
		 * the reply never leaves it, check's response has no path) */
		bool self = x->eni >= 0 && x->eni == b->client_eni;
		if (x->eni < 0 || x->addr.family != b->client->family || self) {
			pk.target = x->eni < 0 ? (int32_t)t : -1;
			break;
		}
		if (pk.target < 0)
			pk.target = (int32_t)t;
	}
	struct stage_verdict v;
	nlb_listener_stage(b->lab, &pk, &v);
	int r = reach_map_override(&b->listener, l->port, l->port, v.verdict == VERDICT_ACCEPT, &v);
	bool first = true;
	for (size_t t = 0; t < l->n_targets && !r && v.verdict == VERDICT_ACCEPT; t++) {
		if (!nlb_target_possible(b->lab, pk.lb, pk.node, li, (int32_t)t))
			continue;
		r = join_target(b, l->port, &l->targets[t], first);
		first = false;
	}
	return r;
}

/* The listener map and leg B's: every port of a listener of the class's
 * protocol (the first such listener of a port, as nlb_listener finds). */
static int join_listeners(struct nlb_build *b, uint8_t proto)
{
	struct nlb_pick none = b->pk;
	struct stage_verdict v;
	nlb_listener_stage(b->lab, &none, &v);
	int r = reach_map_const(&b->listener, b->key_max, false, &v);
	const struct load_balancer *lb = &b->lab->load_balancers[b->pk.lb];
	bool ports = b->cls == REACH_TCP || b->cls == REACH_UDP;
	for (size_t i = 0; i < lb->n_listeners && !r && ports; i++)
		if (nlb_listener(lb, proto, lb->listeners[i].port) == (int32_t)i)
			r = join_port(b, (int32_t)i);
	return r;
}

/* The node's own SG ingress: its groups (leg A's map) or, without any,
 * nothing filtered. */
static int node_sg(struct nlb_build *b, const struct pipeline_end *src, struct reach_map *m)
{
	const struct eni *node = &b->lab->enis[b->pk.node_eni];
	set_hop(m);
	if (node->n_groups)
		return 0;
	struct pipeline_end ne = {.kind = END_ENI, .eni = b->pk.node_eni};
	struct stage_verdict v;
	nlb_node_sg_ingress(b->lab, src, &ne, &m->flow, &v);
	free(m->segs);
	m->segs = NULL;
	m->n = 0;
	return reach_map_const(m, b->key_max, true, &v);
}

static bool const_accept(const struct reach_map *m)
{
	return m->n == 1 && m->segs[0].accept;
}

/* Moves the maps of all (check's order) into out; past REACH_MAX_MAPS
 * (NAT gateway crossings on the client's route) the ones that accept
 * every key, which decide nothing, are left out. */
static int assemble(struct reach_map *all, size_t n, struct reach_path *out)
{
	bool trim = n > REACH_MAX_MAPS;
	for (size_t i = 0; i < n; i++) {
		if (!all[i].segs || (trim && const_accept(&all[i])))
			continue;
		if (out->n_maps == REACH_MAX_MAPS)
			return -EOVERFLOW;
		out->maps[out->n_maps++] = all[i];
		all[i].segs = NULL;
	}
	return 0;
}

static int join(struct nlb_build *b, const struct pipeline_end *src, struct reach_path *leg_a,
		struct reach_path *out)
{
	struct reach_map all[REACH_MAX_MAPS + 1 + N_SLOTS];
	size_t n = 0, last_req = 0;
	int r = 0;
	bool first_resp = true;
	for (size_t i = 0; i < leg_a->n_maps; i++)
		if (!leg_a->maps[i].response)
			last_req = i; /* the node's SG ingress */
	for (size_t i = 0; i <= last_req && i < leg_a->n_maps; i++)
		all[n++] = leg_a->maps[i];
	if (n >= 2) {
		set_hop(&all[n - 2]); /* the node subnet's NACL ingress */
		r = node_sg(b, src, &all[n - 1]);
	}
	all[n++] = b->listener;
	for (int s = 0; s < N_SLOTS; s++)
		all[n++] = b->slots[s];
	for (size_t i = last_req + 1; i < leg_a->n_maps; i++) {
		all[n] = leg_a->maps[i];
		if (first_resp) /* the node subnet's NACL egress */
			set_hop(&all[n]);
		first_resp = false;
		n++;
	}
	if (!r)
		r = assemble(all, n, out);
	for (size_t i = 0; i < n; i++)
		free(all[i].segs);
	/* every map was moved into all: nothing left to free twice */
	leg_a->n_maps = 0;
	b->listener.segs = NULL;
	memset(b->slots, 0, sizeof(b->slots));
	return r;
}

int reach_nlb_build(const struct lab *lab, const struct sg_members *members,
		    const struct pipeline_end *src, int32_t node, const struct ip_addr *sa,
		    const struct ip_addr *da, enum reach_class c, const struct reach_opts *o,
		    struct reach_path *out)
{
	struct pipeline_end ne = {.kind = END_ENI, .eni = node};
	struct reach_path leg_a;
	memset(out, 0, sizeof(*out));
	int r = reach_path_build_indexed(lab, members, src, &ne, sa, da, c, o, &leg_a);
	struct nlb_build b = {.lab = lab, .members = members, .cls = c, .o = o, .client = sa};
	b.client_eni = src->kind == END_ENI ? src->eni : -1;
	b.pk = (struct nlb_pick){nlb_of_node(lab, node), -1, node, -1, -1, false};
	const struct load_balancer *lb = &lab->load_balancers[b.pk.lb];
	for (size_t k = 0; k < lb->n_nodes; k++)
		if (lb->nodes[k] == node)
			b.pk.node = (int32_t)k;
	if (!r) {
		out->cls = leg_a.cls;
		out->proto = leg_a.proto;
		out->key_max = b.key_max = leg_a.key_max;
		b.listener.flow = leg_a.maps[0].flow; /* the client's, to the node */
		r = join_listeners(&b, leg_a.proto);
	}
	if (!r)
		r = join(&b, src, &leg_a, out);
	free(b.listener.segs);
	for (int s = 0; s < N_SLOTS; s++)
		free(b.slots[s].segs);
	reach_path_free(&leg_a);
	return r;
}
