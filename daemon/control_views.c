/*
 * What the control socket says about the running daemon (control-private.h):
 * the JSON of the status, stats and reload replies, built from the data
 * path's read-only views. Not for the socket, its clients or their limits
 * (control.c), nor for the flows reply, written in pieces
 * (control_flows.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "control-private.h"
#include "datapath.h"
#include "model.h"

json_t *ctl_addr_json(const struct ip_addr *a)
{
	char buf[64];

	return json_string(ip_addr_format(a, buf, sizeof(buf)));
}

static json_t *addrs_json(const struct ip_addr *a, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, ctl_addr_json(&a[i]));
	return arr;
}

json_t *ctl_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *eni_json(struct control *c, const struct lab *lab, int32_t e)
{
	const struct eni *eni = &lab->enis[e];
	const struct topology_port *tp = topology_port_of_eni(c->topo, e);
	json_t *groups = json_array();
	json_t *o;

	for (size_t g = 0; groups && g < eni->n_groups; g++)
		json_array_append_new(groups, json_string(lab->groups[eni->groups[g]].id));
	o = json_pack(
	    "{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", eni->id, "name",
	    ctl_str_or_null(eni->name), "instance_id", ctl_str_or_null(eni->instance_id),
	    "subnet_id", ctl_str_or_null(eni->subnet >= 0 ? lab->subnets[eni->subnet].id : NULL),
	    "ipv4", addrs_json(eni->ipv4, eni->n_ipv4), "ipv6", addrs_json(eni->ipv6, eni->n_ipv6),
	    "groups", groups ? groups : json_null(), "namespace",
	    ctl_str_or_null(tp ? tp->netns : NULL), "port", ctl_str_or_null(tp ? tp->name : NULL));
	return o;
}

json_t *ctl_status_reply(struct control *c)
{
	const struct lab *lab = datapath_lab(c->dp);
	struct timespec now = ctl_mono_now();
	json_t *enis = json_array(), *outside = json_array();
	json_t *r = ctl_reply_ok();

	for (size_t i = 0; enis && i < lab->n_enis; i++)
		json_array_append_new(enis, eni_json(c, lab, (int32_t)i));
	for (size_t i = 0; outside && i < lab->n_outside; i++) {
		const struct topology_port *tp = topology_port_of_outside(c->topo, (int32_t)i);
		json_array_append_new(
		    outside, json_pack("{s:s, s:o, s:o, s:o}", "name", lab->outside[i].name, "addr",
				       ctl_addr_json(&lab->outside[i].addr), "namespace",
				       ctl_str_or_null(tp ? tp->netns : NULL), "port",
				       ctl_str_or_null(tp ? tp->name : NULL)));
	}
	if (!r || !enis || !outside) {
		json_decref(r);
		json_decref(enis);
		json_decref(outside);
		return ctl_reply_error("out of memory");
	}
	json_object_set_new(r, "lab", json_string(c->lab));
	json_object_set_new(r, "source", ctl_str_or_null(lab->source));
	json_object_set_new(r, "pid", json_integer(getpid()));
	json_object_set_new(r, "started", json_integer((json_int_t)c->started_wall));
	json_object_set_new(r, "uptime",
			    json_integer((json_int_t)(ctl_ts_sec(&now) - ctl_ts_sec(&c->started))));
	json_object_set_new(r, "generation", json_integer(datapath_generation(c->dp)));
	json_object_set_new(r, "flow_log", ctl_str_or_null(c->opts.flowlog_path));
	json_object_set_new(r, "router_namespace", json_string(c->topo->router_ns));
	json_object_set_new(r, "ports", json_integer((json_int_t)datapath_n_ports(c->dp)));
	json_object_set_new(r, "control_group", ctl_str_or_null(c->opts.group));
	json_object_set_new(r, "enis", enis);
	json_object_set_new(r, "outside", outside);
	return r;
}

json_t *ctl_stats_reply(struct control *c)
{
	json_t *r = ctl_reply_ok();
	json_t *st = datapath_stats_json(c->dp, DP_STATS_NESTED);

	if (!r || !st || json_object_update(r, st) < 0) {
		json_decref(r);
		json_decref(st);
		return ctl_reply_error("out of memory");
	}
	json_decref(st);
	return r;
}

static json_t *diags_json(const struct diag_list *d, enum diag_level level)
{
	json_t *arr = json_array();
	char buf[1024];

	for (size_t i = 0; arr && i < d->n; i++) {
		const struct diag *x = &d->items[i];
		if (x->level != level)
			continue;
		json_array_append_new(
		    arr, json_pack("{s:o, s:o, s:s, s:s}", "file", ctl_str_or_null(x->file), "path",
				   ctl_str_or_null(x->path), "message", x->msg ? x->msg : "",
				   "text", diag_format(x, buf, sizeof(buf))));
	}
	return arr;
}

json_t *ctl_reload_reply(struct control *c, int rc, const struct diag_list *d, const char *err)
{
	json_t *r;

	if (rc < 0) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "reload failed, the running rules stay: %s",
			 err && err[0] ? err : "the lab has errors");
		r = ctl_reply_error(msg);
	} else {
		r = ctl_reply_ok();
	}
	if (r) {
		json_object_set_new(r, "errors", diags_json(d, DIAG_ERROR));
		json_object_set_new(r, "warnings", diags_json(d, DIAG_WARNING));
		json_object_set_new(r, "generation", json_integer(datapath_generation(c->dp)));
		json_object_set_new(r, "source", ctl_str_or_null(datapath_lab(c->dp)->source));
		if (d->n < d->n_errors + d->n_warnings)
			json_object_set_new(
			    r, "unrecorded",
			    json_integer((json_int_t)(d->n_errors + d->n_warnings - d->n)));
	}
	return r;
}
