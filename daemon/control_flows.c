/*
 * The control socket's `flows` reply (docs/control.md), written in pieces.
 * A connection table holds tens of thousands of flows and a request may ask
 * for a million: building that reply whole would stop the packet loop for
 * seconds and cost hundreds of megabytes per client that never reads it.
 * So the reply is produced from the live table one bounded piece at a time,
 * a piece only once the client took the previous one; between pieces the
 * stream remembers where it was (ENI, flows already listed) and nothing
 * else. A piece walks its zone from the start and skips what was already
 * sent (the tracker's lists reorder on every packet, so no position in
 * them survives a packet): like any dump of a live table, a flow that moves
 * meanwhile may be listed twice or missed.
 *
 * Not for: the socket and its clients (control.c), tracking (rules/).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "control-private.h"
#include "datapath.h"
#include "model.h"
#include "sg.h"

struct flows_stream {
	struct control *c;
	uint32_t generation; /* of the lab the reply describes */
	int32_t only;	     /* the ENI asked for, or -1: all */
	size_t eni;	     /* the ENI being listed */
	bool in_eni;	     /* its object and flows array are open */
	bool started;	     /* the reply's head is written */
	bool first_eni;
	uint32_t sent;	/* flows of this ENI already in the reply */
	uint32_t left;	/* flows the limit still allows */
	bool truncated; /* the limit cut the reply short */
};

/* One walk over a zone: skip what earlier pieces sent, then append. */
struct flows_walk {
	struct flows_stream *s;
	const struct lab *lab;
	struct ctl_outbuf *out;
	size_t budget;
	uint64_t now;
	uint32_t skip;
	bool paused; /* the piece is full: the zone goes on in the next one */
	bool oom;
};

static uint64_t mono_ns(void)
{
	struct timespec t = ctl_mono_now();

	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void tuple_json(json_t *o, const struct ct_tuple *t)
{
	char buf[32];

	json_object_set_new(o, "proto", json_string(flow_proto_name(t->proto, buf, sizeof(buf))));
	json_object_set_new(o, "proto_number", json_integer(t->proto));
	json_object_set_new(o, "src", ctl_addr_json(&t->src));
	json_object_set_new(o, "dst", ctl_addr_json(&t->dst));
	if (t->proto == PROTO_TCP || t->proto == PROTO_UDP) {
		json_object_set_new(o, "sport", json_integer(t->sport));
		json_object_set_new(o, "dport", json_integer(t->dport));
	} else if (t->proto == PROTO_ICMP || t->proto == PROTO_ICMPV6) {
		json_object_set_new(o, "icmp_type", json_integer(t->icmp_type));
		json_object_set_new(o, "icmp_id", json_integer(t->icmp_id));
	}
}

static json_t *rule_json(const struct flows_walk *w, const struct ct_rule_ref *ref)
{
	char buf[512];

	if (ref->generation != w->s->generation)
		snprintf(buf, sizeof(buf),
			 "a rule of generation %u (removed or changed by a reload since)",
			 ref->generation);
	else if (ref->group >= w->lab->n_groups || ref->rule >= w->lab->groups[ref->group].n_rules)
		snprintf(buf, sizeof(buf), "unknown rule");
	else
		sg_rule_format(w->lab, (int32_t)ref->group, (int32_t)ref->rule, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *flow_json(const struct flows_walk *w, const struct ct_conn_info *info)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	tuple_json(o, &info->orig);
	json_object_set_new(o, "state",
			    json_string(info->tcp_state != CT_TCP_NONE
					    ? ct_tcp_state_name(info->tcp_state)
					    : ct_class_name(info->cls)));
	json_object_set_new(o, "class", json_string(ct_class_name(info->cls)));
	json_object_set_new(o, "idle",
			    json_integer((json_int_t)((w->now - info->last_seen) / 1000000000ull)));
	json_object_set_new(o, "expires_in",
			    json_integer((json_int_t)(info->expires > w->now
							  ? (info->expires - w->now) / 1000000000ull
							  : 0)));
	json_object_set_new(o, "packets",
			    json_pack("{s:I, s:I}", "original", (json_int_t)info->packets[0],
				      "reply", (json_int_t)info->packets[1]));
	json_object_set_new(o, "bytes",
			    json_pack("{s:I, s:I}", "original", (json_int_t)info->bytes[0], "reply",
				      (json_int_t)info->bytes[1]));
	json_object_set_new(o, "rule", rule_json(w, &info->rule));
	json_object_set_new(o, "rule_generation", json_integer(info->rule.generation));
	return o;
}

/* Appends o, compact, after a comma unless it is the first; frees o. */
static int add_json(struct ctl_outbuf *out, json_t *o, bool comma)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int r = -ENOMEM;

	json_decref(o);
	if (s && (!comma || ctl_outbuf_add(out, ",", 1) == 0))
		r = ctl_outbuf_add(out, s, strlen(s));
	free(s);
	return r;
}

static int flows_one(const struct ct_conn_info *info, void *arg)
{
	struct flows_walk *w = arg;
	struct flows_stream *s = w->s;

	if (w->skip) {
		w->skip--;
		return 0;
	}
	if (!s->left) {
		s->truncated = true;
		return 1;
	}
	if (ctl_outbuf_pending(w->out) >= w->budget) {
		w->paused = true;
		return 1;
	}
	if (add_json(w->out, flow_json(w, info), s->sent > 0) < 0) {
		w->oom = true;
		return 1;
	}
	s->sent++;
	s->left--;
	return 0;
}

/* {"id": ..., "tracked": ..., "flows": [  — the ENI's object, left open. */
static int eni_open(struct flows_stream *s, const struct lab *lab, struct ctl_outbuf *out)
{
	const struct conntrack *ct = datapath_conntrack(s->c->dp);
	const struct topology_port *tp = topology_port_of_eni(s->c->topo, (int32_t)s->eni);
	struct ct_zone_stats zs = {0};
	char *txt;
	int r = -ENOMEM;

	datapath_tracker_lock(s->c->dp);
	ct_zone_stats(ct, (uint32_t)s->eni, &zs);
	datapath_tracker_unlock(s->c->dp);
	json_t *e = json_pack("{s:s, s:o, s:o, s:I, s:I}", "id", lab->enis[s->eni].id, "name",
			      ctl_str_or_null(lab->enis[s->eni].name), "namespace",
			      ctl_str_or_null(tp ? tp->netns : NULL), "tracked",
			      (json_int_t)zs.tracked, "conntrack_allowance_available",
			      (json_int_t)zs.conntrack_allowance_available);
	txt = e ? json_dumps(e, JSON_COMPACT) : NULL;
	json_decref(e);
	/* The object without its closing brace, the flows array opened. */
	if (txt && (s->first_eni || ctl_outbuf_add(out, ",", 1) == 0) &&
	    ctl_outbuf_add(out, txt, strlen(txt) - 1) == 0)
		r = ctl_outbuf_add(out, ",\"flows\":[", 10);
	free(txt);
	s->first_eni = false;
	s->in_eni = true;
	s->sent = 0;
	return r;
}

static int32_t find_eni(struct control *c, const struct lab *lab, const char *name)
{
	struct endpoint ep;

	if (lab_resolve_endpoint(lab, name, &ep) == 0 && ep.kind == ENDPOINT_ENI)
		return ep.eni;
	/* Or its namespace, "vpcfw-web-1" or "web-1". */
	for (size_t i = 0; i < c->topo->n_ports; i++) {
		const struct topology_port *tp = &c->topo->ports[i];
		const char *label = tp->netns;

		if (tp->kind != TOPOLOGY_PORT_ENI)
			continue;
		if (!strncmp(label, TOPOLOGY_NS_PREFIX, strlen(TOPOLOGY_NS_PREFIX)))
			label += strlen(TOPOLOGY_NS_PREFIX);
		if (!strcmp(name, tp->netns) || !strcmp(name, label))
			return tp->eni;
	}
	return -1;
}

int flows_stream_start(struct control *c, const struct ctl_request *req, struct flows_stream **out,
		       json_t **err_reply)
{
	const struct lab *lab = datapath_lab(c->dp);
	struct flows_stream *s;
	int32_t only = -1;

	*out = NULL;
	*err_reply = NULL;
	if (req->eni) {
		only = find_eni(c, lab, req->eni);
		if (only < 0) {
			char msg[320];
			snprintf(msg, sizeof(msg), "no ENI named \"%s\" in lab %s", req->eni,
				 c->lab);
			*err_reply = ctl_reply_error(msg);
			return *err_reply ? 0 : -ENOMEM;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->c = c;
	s->generation = datapath_generation(c->dp);
	s->only = only;
	s->eni = only >= 0 ? (size_t)only : 0;
	s->first_eni = true;
	s->left = req->limit;
	*out = s;
	return 0;
}

/* The end of the reply; a reload meanwhile ends it early, since the ENI
 * indices and rules it lists belong to the lab it began with. */
static int stream_close(struct flows_stream *s, struct ctl_outbuf *out, bool reloaded)
{
	if (s->in_eni && ctl_outbuf_add(out, "]}", 2) < 0)
		return -ENOMEM;
	s->in_eni = false;
	if (reloaded)
		return ctl_outbuf_addf(out,
				       "],\"truncated\":true,\"interrupted\":\"a reload replaced "
				       "the rules while this reply was written\"}\n");
	return ctl_outbuf_addf(out, "],\"truncated\":%s}\n", s->truncated ? "true" : "false");
}

int flows_stream_fill(struct flows_stream *s, struct ctl_outbuf *out, size_t budget)
{
	const struct lab *lab = datapath_lab(s->c->dp);
	struct flows_walk w = {.s = s, .lab = lab, .out = out, .budget = budget, .now = mono_ns()};
	int r;

	if (!s->started) {
		r = ctl_outbuf_addf(out, "{\"v\":%d,\"ok\":true,\"generation\":%u,\"enis\":[",
				    CONTROL_PROTOCOL_VERSION, s->generation);
		if (r < 0)
			return r;
		s->started = true;
	}
	if (datapath_generation(s->c->dp) != s->generation)
		return stream_close(s, out, true) < 0 ? -ENOMEM : 0;
	while (ctl_outbuf_pending(out) < budget) {
		if (s->eni >= lab->n_enis || (s->only >= 0 && s->eni != (size_t)s->only))
			return stream_close(s, out, false) < 0 ? -ENOMEM : 0;
		if (!s->in_eni && eni_open(s, lab, out) < 0)
			return -ENOMEM;
		w.skip = s->sent;
		w.paused = false;
		/* The workers wait for a budget's worth of flows at most. */
		datapath_tracker_lock(s->c->dp);
		ct_zone_walk(datapath_conntrack(s->c->dp), (uint32_t)s->eni, w.now, flows_one, &w);
		datapath_tracker_unlock(s->c->dp);
		if (w.oom)
			return -ENOMEM;
		if (w.paused)
			return 1;
		if (ctl_outbuf_add(out, "]}", 2) < 0)
			return -ENOMEM;
		s->in_eni = false;
		s->eni++;
	}
	return 1;
}

void flows_stream_free(struct flows_stream *s)
{
	free(s);
}
