/*
 * Readers of what makes a Network Load Balancer (nlb.h), collected from
 * every file of a lab before anything is resolved: describe-load-balancers
 * (LoadBalancers: name, ARN, type, scheme), describe-listeners (Listeners,
 * or Batfish's collector shape LoadBalancerListeners[].Listeners),
 * describe-target-groups (TargetGroups), the target health of each group
 * (LoadBalancerTargetHealth[]: TargetGroupArn and its
 * TargetHealthDescriptions) and describe-load-balancer-attributes
 * (LoadBalancerAttributes[], for cross-zone load balancing); and the
 * "load_balancers" of our lab format. load_lb_resolve.c builds the lab's
 * load balancers from these drafts.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-lab-private.h"
#include "load-lb-private.h"
#include "load_build.h"

/* A draft read at path, zeroed but for its origin, at the end of the
 * vector of l's drafts at offset `which` (DRAFTS(member)), the drafts
 * created on first use; NULL, an error given, when out of memory. */
static void *push(struct loader *l, size_t which, size_t size, const char *path)
{
	if (!l->lbs)
		l->lbs = calloc(1, sizeof(*l->lbs));
	void *slot = l->lbs ? vec_push((struct vec *)((char *)l->lbs + which), size) : NULL;
	if (!slot) {
		ld_err(l, NULL, "out of memory");
		return NULL;
	}
	memset(slot, 0, size);
	*(struct origin *)slot = ld_origin(l, path);
	return slot;
}
#define DRAFTS(member) offsetof(struct lb_loader, member)
/* push() sets a draft's first member */
_Static_assert(offsetof(struct lb_draft, origin) == 0, "origin first");
_Static_assert(offsetof(struct lb_listener_draft, origin) == 0, "origin first");
_Static_assert(offsetof(struct lb_group_draft, origin) == 0, "origin first");
_Static_assert(offsetof(struct lb_target_draft, origin) == 0, "origin first");
_Static_assert(offsetof(struct lb_attr_draft, origin) == 0, "origin first");

void lb_loader_free(struct loader *l)
{
	if (!l->lbs)
		return;
	vec_free(&l->lbs->lbs);
	vec_free(&l->lbs->listeners);
	vec_free(&l->lbs->groups);
	vec_free(&l->lbs->targets);
	vec_free(&l->lbs->attrs);
	free(l->lbs);
	l->lbs = NULL;
}

/* A port 1-65535 at key of o; false (an error when present) otherwise. */
static bool port_of(struct loader *l, const json_t *o, const char *key, const char *path,
		    bool required, uint16_t *out)
{
	long long v;
	if (!j_int(l, o, key, path, required, &v))
		return false;
	if (v < 1 || v > 65535) {
		ld_err(l, jp_key(l, path, key), "port %lld is outside 1-65535", v);
		return false;
	}
	*out = (uint16_t)v;
	return true;
}

void aws_lb(struct loader *l, const json_t *o, const char *path)
{
	struct lb_draft *d = push(l, DRAFTS(lbs), sizeof(*d), path);
	if (!d)
		return;
	/* aws_elb (load_aws_gw.c) reads the same objects and reports a
	 * missing name */
	J_STRS(l, o, path, J_OPT("LoadBalancerName", &d->name), J_OPT("LoadBalancerArn", &d->arn),
	       J_OPT("Type", &d->type), J_OPT("Scheme", &d->scheme));
}

/* A listener's target group: its default action's, forward or weighted. */
static void listener_group(struct loader *l, const json_t *o, const char *path,
			   struct lb_listener_draft *d)
{
	EACH(l, o, "DefaultActions", path, i, a, apath)
	{
		if (d->group_arn || !want_object(l, a, apath))
			continue;
		j_str(l, a, "TargetGroupArn", apath, false, &d->group_arn);
		const json_t *fc = json_object_get(a, "ForwardConfig");
		const json_t *tg = json_array_get(json_object_get(fc, "TargetGroups"), 0);
		if (!d->group_arn && json_is_object(tg))
			j_str(l, tg, "TargetGroupArn", apath, false, &d->group_arn);
	}
}

static void read_listener(struct loader *l, const json_t *o, const char *path, const char *lb_arn)
{
	struct lb_listener_draft *d = push(l, DRAFTS(listeners), sizeof(*d), path);
	if (!d)
		return;
	d->lb_arn = lb_arn;
	J_STRS(l, o, path, J_OPT("ListenerArn", &d->arn), J_OPT("Protocol", &d->protocol));
	if (!d->lb_arn)
		j_str(l, o, "LoadBalancerArn", path, true, &d->lb_arn);
	d->ok = port_of(l, o, "Port", path, true, &d->port);
	listener_group(l, o, path, d);
}

void aws_lb_listener(struct loader *l, const json_t *o, const char *path)
{
	read_listener(l, o, path, NULL);
}

/* Reads an object of an array that belongs to a parent named by its ARN. */
typedef void child_fn(struct loader *l, const json_t *o, const char *path, const char *parent);

/* fn on each object of o[key], with the ARN at o[arn_key] (NULL when
 * absent); nothing when a required ARN is missing. */
static void each_child(struct loader *l, const json_t *o, const char *path, const char *arn_key,
		       bool required, const char *key, child_fn *fn)
{
	const char *arn = NULL;
	if (!j_str(l, o, arn_key, path, required, &arn) && required)
		return;
	EACH(l, o, key, path, i, c, cpath)
	{
		if (want_object(l, c, cpath))
			fn(l, c, cpath, arn);
	}
}

/* Batfish's collector: {LoadBalancerArn, Listeners: [...]} per load balancer. */
void aws_lb_listeners(struct loader *l, const json_t *o, const char *path)
{
	each_child(l, o, path, "LoadBalancerArn", false, "Listeners", read_listener);
}

void aws_target_group(struct loader *l, const json_t *o, const char *path)
{
	struct lb_group_draft *d = push(l, DRAFTS(groups), sizeof(*d), path);
	if (!d)
		return;
	J_STRS(l, o, path, J_REQ("TargetGroupArn", &d->arn), J_OPT("TargetGroupName", &d->name),
	       J_OPT("TargetType", &d->type));
	d->has_port = port_of(l, o, "Port", path, false, &d->port);
}

static void read_target(struct loader *l, const json_t *o, const char *path, const char *group)
{
	const json_t *t = j_object(l, o, "Target", path, true);
	const char *tpath = jp_key(l, path, "Target");
	struct lb_target_draft *d = t ? push(l, DRAFTS(targets), sizeof(*d), tpath) : NULL;
	if (!d)
		return;
	d->group_arn = group;
	j_str(l, t, "Id", tpath, true, &d->id);
	d->has_port = port_of(l, t, "Port", tpath, false, &d->port);
	const json_t *h = j_object(l, o, "TargetHealth", path, false);
	if (h)
		j_str(l, h, "State", jp_key(l, path, "TargetHealth"), false, &d->state);
}

void aws_target_health(struct loader *l, const json_t *o, const char *path)
{
	each_child(l, o, path, "TargetGroupArn", true, "TargetHealthDescriptions", read_target);
}

void aws_lb_attributes(struct loader *l, const json_t *o, const char *path)
{
	struct lb_attr_draft *d = push(l, DRAFTS(attrs), sizeof(*d), path);
	if (!d || !j_str(l, o, "LoadBalancerArn", path, true, &d->lb_arn))
		return;
	EACH(l, o, "Attributes", path, i, a, apath)
	{
		const char *k = NULL, *v = NULL;
		if (!want_object(l, a, apath))
			continue;
		J_STRS(l, a, apath, J_OPT("Key", &k), J_OPT("Value", &v));
		if (ld_streq(k, "load_balancing.cross_zone.enabled")) {
			d->has_cross_zone = true;
			d->cross_zone = ld_streq(v, "true");
		}
	}
}

/* ------------------------------------------------------ our lab format */

static const char *const lb_keys[] = {"name",	   "scheme",	  "nodes", "cross_zone",
				      "listeners", "description", NULL};
static const char *const listener_keys[] = {"port", "protocol", "target_port", "targets", NULL};
static const char *const target_keys[] = {"target", "port", "healthy", NULL};

/* A target: a name of contract 3 (or an address), or {target, port, healthy}. */
static void lab_target(struct loader *l, const json_t *t, const char *path, const char *group)
{
	struct lb_target_draft *d = push(l, DRAFTS(targets), sizeof(*d), path);
	if (!d)
		return;
	d->group_arn = group;
	d->from_lab = true;
	if (json_is_string(t)) {
		d->id = arena_strdup(l->a, json_string_value(t));
		return;
	}
	if (!lab_keys_ok(l, t, path, target_keys))
		return;
	j_str(l, t, "target", path, true, &d->id);
	d->has_port = port_of(l, t, "port", path, false, &d->port);
	bool healthy = true;
	if (j_bool(l, t, "healthy", path, false, &healthy) && !healthy)
		d->state = "unhealthy";
}

static void lab_listener(struct loader *l, const json_t *o, const char *path, const char *lb)
{
	if (!lab_keys_ok(l, o, path, listener_keys))
		return;
	struct lb_listener_draft *d = push(l, DRAFTS(listeners), sizeof(*d), path);
	struct lb_group_draft *g = d ? push(l, DRAFTS(groups), sizeof(*g), path) : NULL;
	if (!g)
		return;
	d->lb_arn = lb;
	d->protocol = "TCP";
	j_str(l, o, "protocol", path, false, &d->protocol);
	d->ok = port_of(l, o, "port", path, true, &d->port);
	/* the listener's own target group, named after it: "web-tg-80" */
	char name[160];
	snprintf(name, sizeof(name), "%s-tg-%u", lb ? lb : "lb", d->port);
	d->group_arn = g->arn = g->name = arena_strdup(l->a, d->ok ? name : path);
	g->has_port = port_of(l, o, "target_port", path, false, &g->port);
	if (!g->has_port && d->ok) {
		g->port = d->port;
		g->has_port = true;
	}
	const json_t *ts = j_array(l, o, "targets", path, true);
	FOREACH(ts, i, t)
	{
		lab_target(l, t, jp_idx(l, jp_key(l, path, "targets"), i), g->arn);
	}
}

static void lab_lb(struct loader *l, const json_t *o, const char *path)
{
	if (!lab_keys_ok(l, o, path, lb_keys))
		return;
	struct lb_draft *d = push(l, DRAFTS(lbs), sizeof(*d), path);
	if (!d)
		return;
	d->type = "network";
	d->from_lab = true;
	J_STRS(l, o, path, J_REQ("name", &d->name), J_OPT("scheme", &d->scheme));
	d->arn = d->name;
	j_bool(l, o, "cross_zone", path, false, &d->cross_zone);
	if (!j_strlist(l, o, "nodes", path, &d->nodes, &d->n_nodes) || !d->n_nodes)
		ld_err(l, jp_key(l, path, "nodes"),
		       "required: the load balancer's node ENIs (one per subnet it serves)");
	EACH(l, o, "listeners", path, i, li, lpath)
	{
		lab_listener(l, li, lpath, d->arn);
	}
}

void lab_load_balancers(struct loader *l, const json_t *root)
{
	ld_each_object(l, root, "load_balancers", "", lab_lb);
}
