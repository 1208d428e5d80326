/*
 * Network Load Balancers as the stages see them (nlb.h): which load
 * balancer a node ENI belongs to, its listener for a port, the target a
 * flow goes to, the stages of the node's own hops and their words. The
 * forwarding decision that strings them together is forward_nlb.c's.
 */
#include "nlb.h"

#include <stdio.h>
#include <string.h>

#include "pipeline-private.h"

int32_t nlb_of_node(const struct lab *lab, int32_t eni)
{
	for (size_t i = 0; i < lab->n_load_balancers; i++) {
		const struct load_balancer *lb = &lab->load_balancers[i];
		for (size_t k = 0; k < lb->n_nodes; k++)
			if (lb->nodes[k] == eni)
				return (int32_t)i;
	}
	return -1;
}

int32_t nlb_listener(const struct load_balancer *lb, uint8_t proto, uint16_t port)
{
	for (size_t i = 0; i < lb->n_listeners; i++) {
		const struct lb_listener *l = &lb->listeners[i];
		bool proto_ok =
		    l->proto == proto || (l->tcp_udp && (proto == PROTO_TCP || proto == PROTO_UDP));
		if (proto_ok && l->port == port)
			return (int32_t)i;
	}
	return -1;
}

static const char *az_of_eni(const struct lab *lab, int32_t eni)
{
	if (!valid_index(eni, lab->n_enis) || !valid_index(lab->enis[eni].subnet, lab->n_subnets))
		return NULL;
	return lab->subnets[lab->enis[eni].subnet].az;
}

/* Whether the node sends to this target: cross-zone, or the target is in
 * the node's Availability Zone (an address no ENI has: any zone). */
static bool node_serves(const struct lab *lab, const struct load_balancer *lb, int32_t node_eni,
			const struct lb_target *t)
{
	if (lb->cross_zone || t->eni < 0)
		return true;
	const char *a = az_of_eni(lab, node_eni), *b = az_of_eni(lab, t->eni);
	return !a || !b || !strcmp(a, b);
}

/* FNV-1a over what identifies a flow: the same answer for every packet of
 * it, in the daemon and in `vpcfw check`. */
static uint32_t flow_hash(const struct flow *f)
{
	uint32_t h = 2166136261u;
	uint8_t b[2 * 16 + 5];
	size_t n = 0;
	memcpy(b + n, f->src.b, 16);
	n += 16;
	memcpy(b + n, f->dst.b, 16);
	n += 16;
	b[n++] = f->proto;
	b[n++] = (uint8_t)(f->sport >> 8);
	b[n++] = (uint8_t)f->sport;
	b[n++] = (uint8_t)(f->dport >> 8);
	b[n++] = (uint8_t)f->dport;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

int32_t nlb_choose_target(const struct lab *lab, int32_t lb_i, int32_t node, int32_t listener,
			  const struct flow *f)
{
	if (!valid_index(lb_i, lab->n_load_balancers))
		return -1;
	const struct load_balancer *lb = &lab->load_balancers[lb_i];
	if (!valid_index(node, lb->n_nodes) || !valid_index(listener, lb->n_listeners))
		return -1;
	const struct lb_listener *l = &lb->listeners[listener];
	size_t healthy = 0, any = 0;
	for (size_t i = 0; i < l->n_targets; i++) {
		if (!node_serves(lab, lb, lb->nodes[node], &l->targets[i]))
			continue;
		any++;
		healthy += l->targets[i].healthy;
	}
	if (!any)
		return -1;
	/* no healthy target: an NLB fails open to all of them */
	bool want_healthy = healthy > 0;
	size_t k = flow_hash(f) % (want_healthy ? healthy : any);
	for (size_t i = 0; i < l->n_targets; i++) {
		const struct lb_target *t = &l->targets[i];
		if (!node_serves(lab, lb, lb->nodes[node], t) || (want_healthy && !t->healthy))
			continue;
		if (k-- == 0)
			return (int32_t)i;
	}
	return -1;
}

bool nlb_target_possible(const struct lab *lab, int32_t lb_i, int32_t node, int32_t listener,
			 int32_t target)
{
	if (!valid_index(lb_i, lab->n_load_balancers))
		return false;
	const struct load_balancer *lb = &lab->load_balancers[lb_i];
	if (!valid_index(node, lb->n_nodes) || !valid_index(listener, lb->n_listeners))
		return false;
	const struct lb_listener *l = &lb->listeners[listener];
	if (!valid_index(target, l->n_targets) ||
	    !node_serves(lab, lb, lb->nodes[node], &l->targets[target]))
		return false;
	if (l->targets[target].healthy)
		return true;
	/* unhealthy: chosen only when every target the node serves is */
	for (size_t i = 0; i < l->n_targets; i++)
		if (l->targets[i].healthy && node_serves(lab, lb, lb->nodes[node], &l->targets[i]))
			return false;
	return true;
}

void nlb_node_sg_ingress(const struct lab *lab, const struct pipeline_end *client,
			 const struct pipeline_end *node, const struct flow *at_node,
			 struct stage_verdict *v)
{
	const struct eni *e = end_eni(lab, node);
	if (e && e->n_groups) {
		/* since 2023 an NLB may have groups: its nodes apply them */
		pipeline_sg_stage(lab, client, node, false, at_node, false, v);
	} else {
		verdict_init(v, STAGE_SG_INGRESS);
		v->eni = node->eni;
		v->reason = REASON_NLB_NO_GROUP;
	}
	v->hop = true;
	v->gateway = -1;
}

void nlb_listener_stage(const struct lab *lab, const struct nlb_pick *pk, struct stage_verdict *v)
{
	verdict_init(v, STAGE_ROUTE);
	v->hop = true;
	v->gateway = -1;
	v->lb = pk->lb;
	v->lb_listener = pk->listener;
	v->lb_target = pk->target;
	v->verdict = VERDICT_REJECT;
	const struct load_balancer *lb = &lab->load_balancers[pk->lb];
	v->eni = lb->nodes[pk->node];
	v->subnet = valid_index(v->eni, lab->n_enis) ? lab->enis[v->eni].subnet : -1;
	if (pk->listener < 0) {
		v->reason = REASON_NLB_NO_LISTENER;
	} else if (pk->target < 0 || lb->listeners[pk->listener].targets[pk->target].eni < 0) {
		v->reason = REASON_NLB_NO_TARGET;
	} else {
		v->verdict = VERDICT_ACCEPT;
		v->reason = REASON_ROUTE_NLB;
	}
}

static const char *lb_name(const struct lab *lab, int32_t lb)
{
	return valid_index(lb, lab->n_load_balancers) ? lab->load_balancers[lb].name : "?";
}

/* "TCP:80 (target group web) -> i-0abc 10.0.2.10:8080" */
static void describe_forward(const struct lab *lab, const struct stage_verdict *v, char *buf,
			     size_t len)
{
	const struct load_balancer *lb = &lab->load_balancers[v->lb];
	const struct lb_listener *l = &lb->listeners[v->lb_listener];
	char a[IP_ADDR_STRLEN] = "?";
	const struct lb_target *t =
	    valid_index(v->lb_target, l->n_targets) ? &l->targets[v->lb_target] : NULL;
	if (t)
		ip_addr_format(&t->addr, a, sizeof(a));
	snprintf(buf, len, "listener %s:%u (target group %s) -> target %s %s:%u",
		 l->protocol ? l->protocol : "TCP", l->port, l->group ? l->group : "?",
		 t ? t->id : "?", a, t ? t->port : 0);
}

static bool to_node(const struct lab *lab, const struct stage_verdict *v, const struct flow *f)
{
	if (!valid_index(v->eni, lab->n_enis))
		return false;
	const struct eni *e = &lab->enis[v->eni];
	return eni_has_addr(e, &f->dst) || (e->has_public_ip && ip_addr_eq(&e->public_ip, &f->dst));
}

void nlb_explain(const struct lab *lab, const struct stage_verdict *v, const struct flow *f,
		 char *buf, size_t len)
{
	const char *node = valid_index(v->eni, lab->n_enis) ? lab->enis[v->eni].id : "?";
	char fwd[320], proto[16];
	bool listener = valid_index(v->lb, lab->n_load_balancers) &&
			valid_index(v->lb_listener, lab->load_balancers[v->lb].n_listeners);
	if (listener)
		describe_forward(lab, v, fwd, sizeof(fwd));
	switch (v->reason) {
	case REASON_NLB_NO_GROUP:
		snprintf(buf, len,
			 "%s is a node of a Network Load Balancer without security groups: "
			 "nothing filtered here",
			 node);
		break;
	case REASON_NLB_NO_LISTENER:
		snprintf(buf, len,
			 "load balancer %s (node %s) has no %s listener on port %u: dropped",
			 lb_name(lab, v->lb), node, flow_proto_name(f->proto, proto, sizeof(proto)),
			 f->dport);
		break;
	case REASON_NLB_NO_TARGET:
		snprintf(buf, len,
			 "load balancer %s (node %s) %s: no registered target in the lab that "
			 "this node sends to: dropped",
			 lb_name(lab, v->lb), node, listener ? fwd : "");
		break;
	default:
		if (to_node(lab, v, f) || !listener)
			snprintf(buf, len,
				 "load balancer %s (node %s) %s, the client's address kept as "
				 "the source",
				 lb_name(lab, v->lb), node, listener ? fwd : "?");
		else
			snprintf(buf, len, "reply back through load balancer %s (node %s): %s",
				 lb_name(lab, v->lb), node, fwd);
		break;
	}
}
