/*
 * Builds lab->load_balancers (nlb.h) from load_aws_lb.c's drafts once the
 * ENIs are resolved: each Network Load Balancer with its node ENIs (those
 * AWS describes as "ELB net/NAME/…", or our format's "nodes"), its
 * listeners, and each listener's targets (an instance's primary ENI or an
 * address) with their port and health. What a reference names that the
 * lab lacks is a warning naming the file and JSON path; a flow that would
 * need it is refused at the node, with the reason. Application and Gateway
 * Load Balancers are not modelled (docs/deviations.md): their nodes stay
 * ENIs with their own groups.
 */
#include <stdio.h>
#include <string.h>

#include "load-lb-private.h"
#include "load_build.h"
#include "nlb.h"

#define EACH_DRAFT(v, type, it) for (type *it = (v)->items; it < (type *)(v)->items + (v)->n; it++)

/* Our format's node names, or the ENIs a describe-* export says are its. */
static void lb_nodes(struct loader *l, struct lab *lab, const struct lb_draft *d,
		     struct load_balancer *lb)
{
	lb->nodes = arena_calloc(l->a, lab->n_enis ? lab->n_enis : 1, sizeof(int32_t));
	if (!lb->nodes)
		return;
	for (size_t i = 0; i < d->n_nodes; i++) {
		struct endpoint ep;
		if (lab_resolve_endpoint(lab, d->nodes[i], &ep) || ep.kind != ENDPOINT_ENI) {
			ld_err_at(l, &d->origin, jp_idx(l, "nodes", i),
				  "no ENI named '%s' in the lab", d->nodes[i]);
			continue;
		}
		lb->nodes[lb->n_nodes++] = ep.eni;
	}
	for (size_t i = 0; !d->from_lab && i < lab->n_enis; i++) {
		int32_t s = lab->enis[i].service;
		if (s >= 0 && (size_t)s < lab->n_services &&
		    ld_streq(lab->services[s].kind, "load-balancer") &&
		    ld_streq(lab->services[s].name, d->name))
			lb->nodes[lb->n_nodes++] = (int32_t)i;
	}
	if (!lb->n_nodes && !d->from_lab)
		ld_warn_at(l, &d->origin, NULL,
			   "load balancer %s: none of its ENIs (\"ELB net/%s/…\") is in the lab: "
			   "flows to it cannot be evaluated",
			   d->name, d->name);
}

static bool is_healthy(const char *state)
{
	/* "unavailable": health checks are off, the target takes traffic */
	return !state || !strcmp(state, "healthy") || !strcmp(state, "unavailable");
}

/* Where a target id leads: an instance's or ENI's name (its primary
 * address), or an address (an ENI's, or one no ENI of the lab has). */
static bool resolve_target(struct loader *l, const struct lab *lab,
			   const struct lb_target_draft *td, struct lb_target *t)
{
	struct endpoint ep;
	t->eni = -1;
	if (!lab_resolve_endpoint(lab, td->id, &ep)) {
		if (ep.kind == ENDPOINT_ENI && !lab_endpoint_addr(lab, &ep, IP_V4)) {
			t->eni = ep.eni;
			t->addr = ep.addr;
			return true;
		}
		if (ep.kind == ENDPOINT_OUTSIDE) {
			t->addr = ep.addr;
			ld_warn_at(l, &td->origin, td->from_lab ? NULL : "Id",
				   "target %s is an address no ENI of the lab has: flows to it are "
				   "refused at the load balancer",
				   td->id);
			return true;
		}
	}
	ld_warn_at(l, &td->origin, td->from_lab ? NULL : "Id",
		   "target %s is not in the lab: flows to it are refused at the load balancer",
		   td->id);
	return false;
}

static const struct lb_group_draft *group_of(struct lb_loader *s, const char *arn)
{
	EACH_DRAFT(&s->groups, struct lb_group_draft, g)
	if (ld_streq(g->arn, arn))
		return g;
	return NULL;
}

static void listener_targets(struct loader *l, const struct lab *lab,
			     const struct lb_group_draft *g, struct lb_listener *out)
{
	struct lb_loader *s = l->lbs;
	out->targets = arena_calloc(l->a, s->targets.n ? s->targets.n : 1, sizeof(*out->targets));
	if (!out->targets)
		return;
	EACH_DRAFT(&s->targets, struct lb_target_draft, td)
	{
		if (!ld_streq(td->group_arn, g->arn) || !td->id)
			continue;
		struct lb_target *t = &out->targets[out->n_targets];
		if (!resolve_target(l, lab, td, t))
			continue;
		t->id = td->id;
		t->port = td->has_port ? td->port : g->port;
		t->healthy = is_healthy(td->state);
		t->origin = td->origin;
		if (!td->has_port && !g->has_port) {
			ld_err_at(l, &td->origin, NULL,
				  "target %s has no port, nor has its target group %s", td->id,
				  g->name ? g->name : g->arn);
			continue;
		}
		out->n_targets++;
	}
}

/* "TCP", "TLS": TCP; "UDP"; "TCP_UDP": both; an ALB's "HTTP"/"HTTPS" run
 * over TCP too. */
static bool listener_proto(struct loader *l, const struct lb_listener_draft *d,
			   struct lb_listener *out)
{
	const char *p = d->protocol ? d->protocol : "TCP";
	out->proto = PROTO_TCP;
	if (!strcasecmp(p, "udp"))
		out->proto = PROTO_UDP;
	else if (!strcasecmp(p, "tcp_udp"))
		out->tcp_udp = true;
	else if (strcasecmp(p, "tcp") && strcasecmp(p, "tls") && strcasecmp(p, "http") &&
		 strcasecmp(p, "https")) {
		ld_err_at(l, &d->origin,
			  d->origin.path && strstr(d->origin.path, "listeners") ? "protocol"
										: "Protocol",
			  "unknown listener protocol '%s' (TCP, TLS, UDP, TCP_UDP)", p);
		return false;
	}
	out->protocol = p;
	return true;
}

static void lb_listeners(struct loader *l, const struct lab *lab, const struct lb_draft *d,
			 struct load_balancer *lb)
{
	struct lb_loader *s = l->lbs;
	lb->listeners =
	    arena_calloc(l->a, s->listeners.n ? s->listeners.n : 1, sizeof(*lb->listeners));
	if (!lb->listeners)
		return;
	EACH_DRAFT(&s->listeners, struct lb_listener_draft, ld)
	{
		if (!ld->ok || !ld_streq(ld->lb_arn, d->arn))
			continue;
		struct lb_listener *out = &lb->listeners[lb->n_listeners];
		memset(out, 0, sizeof(*out));
		if (!listener_proto(l, ld, out))
			continue;
		out->arn = ld->arn;
		out->port = ld->port;
		out->origin = ld->origin;
		const struct lb_group_draft *g = ld->group_arn ? group_of(s, ld->group_arn) : NULL;
		if (!g)
			ld_warn_at(l, &ld->origin, NULL,
				   "listener %s:%u forwards to target group %s, which is not in "
				   "the lab: its flows are refused at the load balancer",
				   out->protocol, out->port,
				   ld->group_arn ? ld->group_arn : "(none)");
		else {
			out->group = g->name ? g->name : g->arn;
			listener_targets(l, lab, g, out);
		}
		lb->n_listeners++;
	}
}

static void lb_attributes(struct loader *l, const struct lb_draft *d, struct load_balancer *lb)
{
	lb->cross_zone = d->cross_zone;
	EACH_DRAFT(&l->lbs->attrs, struct lb_attr_draft, a)
	if (a->has_cross_zone && ld_streq(a->lb_arn, d->arn))
		lb->cross_zone = a->cross_zone;
}

static void ld_orphan_nlb_nodes(struct loader *l, const struct lab *lab);

/* A listener of a load balancer the lab lacks says nothing about any flow. */
static void orphan_listeners(struct loader *l)
{
	struct lb_loader *s = l->lbs;
	EACH_DRAFT(&s->listeners, struct lb_listener_draft, ld)
	{
		bool known = false;
		EACH_DRAFT(&s->lbs, struct lb_draft, d)
		known |= ld_streq(d->arn, ld->lb_arn);
		if (!known && ld->lb_arn)
			ld_warn_at(l, &ld->origin, NULL,
				   "listener of load balancer %s, which is not in the lab: ignored",
				   ld->lb_arn);
	}
}

void ld_load_balancers(struct loader *l, struct lab *lab)
{
	struct lb_loader *s = l->lbs;
	if (s)
		orphan_listeners(l);
	if (!s || !s->lbs.n) {
		ld_orphan_nlb_nodes(l, lab);
		return;
	}
	lab->load_balancers = arena_calloc(l->a, s->lbs.n, sizeof(*lab->load_balancers));
	if (!lab->load_balancers)
		return;
	EACH_DRAFT(&s->lbs, struct lb_draft, d)
	{
		if (!d->name || (d->type && strcmp(d->type, "network")))
			continue; /* an ALB or GWLB: its ENIs keep their own groups */
		struct load_balancer *lb = &lab->load_balancers[lab->n_load_balancers++];
		lb->name = d->name;
		lb->arn = d->arn ? d->arn : d->name;
		lb->internet_facing = ld_streq(d->scheme, "internet-facing");
		lb->origin = d->origin;
		lb_nodes(l, lab, d, lb);
		lb_attributes(l, d, lb);
		lb_listeners(l, lab, d, lb);
	}
	ld_orphan_nlb_nodes(l, lab);
}

/* An NLB's node ENI ("ELB net/NAME/…") whose load balancer the lab lacks:
 * nothing passes it, where AWS would forward (docs/deviations.md). */
static void ld_orphan_nlb_nodes(struct loader *l, const struct lab *lab)
{
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		if (!e->description || strncmp(e->description, "ELB net/", 8) || e->n_groups ||
		    nlb_of_node(lab, (int32_t)i) >= 0)
			continue;
		ld_warn_at(l, &e->origin, NULL,
			   "ENI %s is a node of a Network Load Balancer the lab does not describe "
			   "(describe-load-balancers, describe-listeners, describe-target-groups): "
			   "nothing passes it",
			   e->id);
	}
}
