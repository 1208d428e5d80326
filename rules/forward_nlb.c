/*
 * Network Load Balancers in the forwarding decision (nlb.h, AWS-SEMANTICS
 * §4): a client's packet to a node's address (its public IP from outside)
 * on a listener port goes on to the target nlb_choose_target picks, on the
 * target's port, the client's address kept as its source: an address and
 * port translation of the destination. The target's reply goes back
 * through the node, which puts its own address and the listener's port
 * back as the source. The stages: the client's to the node, the node
 * subnet's NACL both ways and the node's groups if any, the listener, the
 * target's; the reply the other way round. Flows through an NLB are
 * tracked whatever the rules (§4).
 *
 * The data path knows a reply through a node by the node's own conntrack
 * zone: the request's translated tuple (client -> target) is tracked
 * there, so a target's packet answering it is found there and nowhere
 * else; `vpcfw check` hands the request's pick to its response instead.
 * Which packets reach a node is forward.c's; the frame rewrite is the
 * daemon's (it applies struct fwd_xlate).
 */
#include "forward-private.h"

#include <errno.h>
#include <string.h>

#include "nlb.h"
#include "pipeline-private.h"

static const struct pipeline_end outside_end = {END_OUTSIDE, -1, SERVICE_NONE};

static struct pipeline_end eni_end(int32_t eni)
{
	return (struct pipeline_end){END_ENI, eni, SERVICE_NONE};
}

static const struct lb_listener *pick_listener(const struct lab *lab, const struct nlb_pick *pk)
{
	const struct load_balancer *lb = &lab->load_balancers[pk->lb];
	return valid_index(pk->listener, lb->n_listeners) ? &lb->listeners[pk->listener] : NULL;
}

static const struct lb_target *pick_target(const struct lab *lab, const struct nlb_pick *pk)
{
	const struct lb_listener *l = pick_listener(lab, pk);
	return l && valid_index(pk->target, l->n_targets) ? &l->targets[pk->target] : NULL;
}

static int32_t index_of_node(const struct load_balancer *lb, int32_t eni)
{
	for (size_t i = 0; i < lb->n_nodes; i++)
		if (lb->nodes[i] == eni)
			return (int32_t)i;
	return -1;
}

/* The node's private address a packet was sent to (wire: maybe its public IP). */
static struct ip_addr node_private(const struct lab *lab, int32_t node, const struct ip_addr *a)
{
	const struct eni *e = &lab->enis[node];
	if (eni_has_addr(e, a) || !e->n_ipv4)
		return *a;
	struct ip_addr priv;
	return lab_private_of_public(lab, a, &priv) == node ? priv : e->ipv4[0];
}

/* What the node does to one end of the packet either way: the address
 * always, the port only when it differs from the one on the wire. */
static void node_rewrite(struct fwd_rewrite *r, const struct ip_addr *addr, uint16_t port,
			 uint16_t wire_port)
{
	*r = (struct fwd_rewrite){
	    .has_addr = true, .addr = *addr, .has_port = port != wire_port, .port = port};
}

/* A request to a node: retarget the decision at the chosen target. */
static void resolve_request(const struct lab *lab, const struct fwd_input *in,
			    struct fwd_decision *d)
{
	int32_t node = d->dst.eni, lb_i = nlb_of_node(lab, node);
	/* from outside only its public IP leads to a node (§9) */
	if (lb_i < 0 || (in->from.kind == END_OUTSIDE && !d->xlate.dst.has_addr))
		return;
	/* an ENI through the node's public IP (a hairpin through the internet
	 * gateway) is not modelled: the node stays a plain ENI (deviations) */
	if (d->path == FWD_PATH_HAIRPIN)
		return;
	const struct load_balancer *lb = &lab->load_balancers[lb_i];
	struct flow *seen = &d->side[1].flow;
	struct nlb_pick pk = {lb_i, index_of_node(lb, node), node, -1, -1, false};
	pk.listener = nlb_listener(lb, seen->proto, seen->dport);
	if (pk.listener >= 0)
		pk.target = nlb_choose_target(lab, lb_i, pk.node, pk.listener, seen);
	d->nlb = pk;
	const struct lb_target *t = pick_target(lab, &pk);
	/* IPv6 through a dualstack NLB is not modelled (the translation is
	 * IPv4's): no target, refused at the node */
	if (t && (t->eni < 0 || t->addr.family != seen->dst.family))
		d->nlb.target = pk.target = -1;
	if (!t || pk.target < 0 || !flow_has_ports(seen))
		return; /* the listener stage refuses it at the node */
	d->dst = eni_end(t->eni);
	d->egress = (struct fwd_port){FWD_PORT_ENI, t->eni};
	d->side[1].eni = t->eni;
	seen->dst = t->addr;
	seen->dport = t->port;
	node_rewrite(&d->xlate.dst, &t->addr, t->port, d->side[0].flow.dport);
}

/* A target's reply through the node (in->nlb): the node's address and the
 * listener's port become the source again. */
static void resolve_reply(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d)
{
	const struct nlb_pick *pk = &in->nlb;
	const struct lb_listener *l = pick_listener(lab, pk);
	if (!valid_index(pk->node_eni, lab->n_enis) || !l || !lab->enis[pk->node_eni].n_ipv4)
		return;
	const struct eni *node = &lab->enis[pk->node_eni];
	d->nlb = *pk;
	d->nlb.reply = true;
	struct flow *seen = &d->side[1].flow;
	seen->src = node->ipv4[0];
	if (d->dst.kind == END_OUTSIDE && node->has_public_ip)
		seen->src = node->public_ip;
	seen->sport = l->port;
	node_rewrite(&d->xlate.src, &seen->src, l->port, d->side[0].flow.sport);
}

void fwd_nlb_resolve(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d)
{
	d->nlb = (struct nlb_pick){-1, -1, -1, -1, -1, false};
	if (d->drop != FWD_PASS || !lab->n_load_balancers)
		return;
	if (in->via_nlb && valid_index(in->nlb.lb, lab->n_load_balancers))
		resolve_reply(lab, in, d);
	else if (d->dst.kind == END_ENI)
		resolve_request(lab, in, d);
}

/* ------------------------------------------------------------- stages */

static void collect_hop(struct pipeline_result *r, struct stage_verdict *v)
{
	v->hop = true;
	v->gateway = -1;
	if (r->n < PIPELINE_MAX_STAGES)
		pipeline_collect(r, v);
}

static void collect(struct pipeline_result *r, const struct stage_verdict *v)
{
	if (r->n < PIPELINE_MAX_STAGES)
		pipeline_collect(r, v);
}

/* The route between a client and the node, when it leaves the VPC's local
 * route (an outside client: the internet gateway): hops, so that what
 * forward.c reads of "the" route stage is never the node's. */
static void route_leg(const struct lab *lab, const struct pipeline_end *a,
		      const struct pipeline_end *b, const struct flow *f, bool reply, uint16_t lo,
		      uint16_t hi, struct pipeline_result *r)
{
	if (!pipeline_needs_route(lab, a, b, f))
		return;
	struct pipeline_result leg;
	pipeline_result_init(&leg);
	pipeline_route_collect(lab, a, b, f, reply, lo, hi, &leg);
	for (size_t i = 0; i < leg.n; i++)
		collect_hop(r, &leg.stages[i]);
}

static void request_stages(const struct lab *lab, const struct fwd_input *in,
			   struct fwd_decision *d)
{
	const struct nlb_pick *pk = &d->nlb;
	struct pipeline_end client = d->src, node = eni_end(pk->node_eni);
	struct pipeline_result *r = &d->res;
	struct flow at_node = d->side[0].flow;
	at_node.dst = node_private(lab, pk->node_eni, &at_node.dst);
	const struct pipeline_end *c_peer = client.kind == END_OUTSIDE ? &outside_end : &node;
	struct stage_verdict v;
	pipeline_sg_stage(lab, &client, c_peer, true, &at_node, in->tracked & PIPELINE_SRC_TRACKED,
			  &v);
	collect(r, &v);
	pipeline_nacl_stage(lab, &client, &node, true, &at_node, &v);
	collect(r, &v);
	route_leg(lab, &client, &node, &at_node, false, at_node.dport, at_node.dport, r);
	pipeline_nacl_stage(lab, &client, &node, false, &at_node, &v);
	collect_hop(r, &v);
	nlb_node_sg_ingress(lab, &client, &node, &at_node, &v);
	collect_hop(r, &v);
	nlb_listener_stage(lab, pk, &v);
	collect_hop(r, &v);
	const struct lb_target *t = pick_target(lab, pk);
	if (v.verdict != VERDICT_ACCEPT || !t || d->dst.kind != END_ENI)
		return;
	struct pipeline_end target = d->dst;
	const struct flow *at_target = &d->side[1].flow;
	pipeline_nacl_stage(lab, &node, &target, true, at_target, &v);
	collect_hop(r, &v);
	pipeline_nacl_stage(lab, &node, &target, false, at_target, &v);
	collect(r, &v);
	pipeline_sg_stage(lab, &node, &target, false, at_target, in->tracked & PIPELINE_DST_TRACKED,
			  &v);
	collect(r, &v);
}

static void reply_stages(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d)
{
	const struct nlb_pick *pk = &d->nlb;
	struct pipeline_end target = d->src, client = d->dst, node = eni_end(pk->node_eni);
	struct pipeline_result *r = &d->res;
	const struct flow *from_target = &d->side[0].flow;
	struct flow to_client = d->side[1].flow;
	to_client.src = lab->enis[pk->node_eni].ipv4[0]; /* inside the VPC: the private one */
	uint16_t lo = in->port_lo, hi = in->port_hi;
	struct stage_verdict v;
	pipeline_sg_stage(lab, &target, &node, true, from_target,
			  in->tracked & PIPELINE_SRC_TRACKED, &v);
	collect(r, &v);
	pipeline_nacl_stage_ports(lab, &target, &node, true, from_target, lo, hi, &v);
	collect(r, &v);
	pipeline_nacl_stage_ports(lab, &target, &node, false, from_target, lo, hi, &v);
	collect_hop(r, &v);
	nlb_listener_stage(lab, pk, &v);
	collect_hop(r, &v);
	pipeline_nacl_stage_ports(lab, &node, &client, true, &to_client, lo, hi, &v);
	collect_hop(r, &v);
	route_leg(lab, &node, &client, &to_client, true, lo, hi, r);
	const struct pipeline_end *c_peer = client.kind == END_OUTSIDE ? &outside_end : &node;
	pipeline_nacl_stage_ports(lab, c_peer, &client, false, &d->side[1].flow, lo, hi, &v);
	collect(r, &v);
	pipeline_sg_stage(lab, c_peer, &client, false, &d->side[1].flow,
			  in->tracked & PIPELINE_DST_TRACKED, &v);
	collect(r, &v);
}

void fwd_nlb_stages(const struct lab *lab, const struct fwd_input *in, struct fwd_decision *d)
{
	pipeline_result_init(&d->res);
	if (d->nlb.reply)
		reply_stages(lab, in, d);
	else
		request_stages(lab, in, d);
}

void fwd_nlb_judge(struct fwd_decision *d)
{
	if (d->nlb.lb < 0)
		return;
	/* automatically tracked (§4), whatever the rules would make it */
	for (int i = 0; i < 2; i++)
		if (d->side[i].ct == FWD_CT_UNTRACKED)
			d->side[i].ct = FWD_CT_INSERT;
}

/* ---------------------------------------------------------- data path */

static bool target_on(const struct lb_listener *l, int32_t eni, uint16_t port, int32_t *target)
{
	for (size_t i = 0; i < l->n_targets; i++)
		if (l->targets[i].eni == eni && l->targets[i].port == port) {
			*target = (int32_t)i;
			return true;
		}
	return false;
}

/* Whether the node's zone tracks t (as its reply): a connection it took. */
static bool node_tracks(struct conntrack *ct, uint64_t now, int32_t node, const struct ct_tuple *t)
{
	enum ct_dir dir;
	struct ct_conn *c = ct_lookup(ct, (uint32_t)node, t, now, &dir);
	return c && dir == CT_DIR_REPLY;
}

void fwd_nlb_reply_of(const struct lab *lab, struct conntrack *ct, uint64_t now,
		      const struct fwd_port *port, const struct ct_tuple *t, struct fwd_input *in)
{
	if (port->kind != FWD_PORT_ENI || (t->proto != PROTO_TCP && t->proto != PROTO_UDP))
		return;
	for (size_t b = 0; b < lab->n_load_balancers; b++) {
		const struct load_balancer *lb = &lab->load_balancers[b];
		for (size_t k = 0; k < lb->n_listeners; k++) {
			int32_t target;
			if (!target_on(&lb->listeners[k], port->index, t->sport, &target))
				continue;
			for (size_t n = 0; n < lb->n_nodes; n++) {
				if (!node_tracks(ct, now, lb->nodes[n], t))
					continue;
				in->via_nlb = true;
				in->nlb = (struct nlb_pick){(int32_t)b, (int32_t)n, lb->nodes[n],
							    (int32_t)k, target,	    true};
				return;
			}
		}
	}
}

void fwd_nlb_commit(struct conntrack *ct, uint64_t now_ns, uint32_t gen, uint32_t l3_len,
		    struct fwd_decision *d)
{
	if (d->nlb.lb < 0 || d->nlb.node_eni < 0 || d->drop != FWD_PASS)
		return;
	bool reply = d->nlb.reply;
	/* the translated tuple: client -> target, as the target sees it */
	const struct ct_tuple *t = reply ? &d->side[0].tuple : &d->side[1].tuple;
	enum ct_dir dir;
	struct ct_conn *c = ct_lookup(ct, (uint32_t)d->nlb.node_eni, t, now_ns, &dir);
	if (c) {
		ct_update(ct, c, dir, t, l3_len, now_ns);
		return;
	}
	if (reply)
		return;
	struct ct_rule_ref ref = {.group = 0, .rule = 0, .generation = gen};
	int rc = ct_insert(ct, (uint32_t)d->nlb.node_eni, t, l3_len, &ref, now_ns, &c);
	if (rc == -ENOSPC || rc == -ENOBUFS)
		d->drop = rc == -ENOSPC ? FWD_DROP_CT_ALLOWANCE : FWD_DROP_CT_POOL;
}
