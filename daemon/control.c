/*
 * vpcfwd's control socket server (control.h, docs/control.md): accepts
 * clients on a UNIX stream socket, checks each peer's credentials, reads
 * newline-delimited JSON requests into a bounded buffer, answers status,
 * flows, stats and reload from the data path's read-only views, and writes
 * replies without ever blocking the loop (edge-triggered, partial writes
 * resumed on EPOLLOUT). A client only ever costs its own connection:
 * garbage gets an error reply, an over-long line an error and a close, a
 * hang-up mid-request a close, silence the idle timeout.
 *
 * Not for: the protocol's framing and validation (control_proto.c), loading
 * labs (the daemon's reload callback), policy or packets.
 */
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conntrack.h"
#include "control.h"
#include "control_proto.h"
#include "datapath.h"
#include "log.h"
#include "loop.h"
#include "model.h"
#include "sg.h"
#include "topology.h"

struct control_client {
	struct control *ctl;
	struct control_client *next;
	int fd;
	struct ctl_inbuf in;
	char *out; /* the reply being written, with its newline */
	size_t out_len, out_off;
	bool closing; /* close once out is written */
	struct timespec last;
	unsigned id;
	bool resume; /* stopped after its budget: the timer goes on */
};

struct control {
	struct loop *loop;
	struct datapath *dp;
	const struct topology *topo;
	char lab[TOPOLOGY_LAB_NAME_MAX + 1];
	struct control_opts opts;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd, timer_fd;
	gid_t gid;
	bool has_group;
	struct control_client *clients;
	unsigned n_clients, next_id;
	struct timespec started;
	time_t started_wall;
};

void control_opts_init(struct control_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_clients = CONTROL_MAX_CLIENTS;
	o->idle_timeout = CONTROL_IDLE_TIMEOUT;
	o->max_request = CONTROL_MAX_REQUEST;
}

int control_socket_path(const char *lab, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s/%s", TOPOLOGY_RUN_DIR, lab, CONTROL_SOCKET_NAME);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static double ts_sec(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static struct timespec mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

/* ------------------------------------------------------------- clients */

static void client_free(struct control_client *cl)
{
	struct control *c = cl->ctl;

	for (struct control_client **pp = &c->clients; *pp; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	loop_del_fd(c->loop, cl->fd);
	close(cl->fd);
	ctl_inbuf_free(&cl->in);
	free(cl->out);
	free(cl);
	c->n_clients--;
}

/* Writes what it can; 0 when all is out, 1 when EPOLLOUT must resume it,
 * -1 when the client is gone. */
static int client_flush(struct control_client *cl)
{
	while (cl->out && cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -1;
		}
		cl->out_off += (size_t)n;
		cl->last = mono_now();
	}
	free(cl->out);
	cl->out = NULL;
	cl->out_len = cl->out_off = 0;
	return 0;
}

/* Takes ownership of the reply object. */
static void client_queue(struct control_client *cl, json_t *reply)
{
	char *s = json_dumps(reply, JSON_COMPACT);
	size_t n;

	json_decref(reply);
	if (!s) {
		/* Out of memory: the client learns nothing but loses nothing
		 * else either. */
		cl->closing = true;
		return;
	}
	n = strlen(s);
	char *line = realloc(s, n + 2);
	if (!line) {
		free(s);
		cl->closing = true;
		return;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	cl->out = line;
	cl->out_len = n + 1;
	cl->out_off = 0;
}

static json_t *reply_ok(void)
{
	return json_pack("{s:i, s:b}", "v", CONTROL_PROTOCOL_VERSION, "ok", 1);
}

static json_t *reply_error(const char *msg)
{
	return json_pack("{s:i, s:b, s:s}", "v", CONTROL_PROTOCOL_VERSION, "ok", 0, "error", msg);
}

/* Best effort for a client refused at the door: one reply, never waiting. */
static void refuse(int fd, const char *msg)
{
	json_t *r = reply_error(msg);
	char *s = r ? json_dumps(r, JSON_COMPACT) : NULL;

	if (s) {
		ssize_t n = send(fd, s, strlen(s), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			(void)!send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	free(s);
	json_decref(r);
	close(fd);
}

/* ------------------------------------------------------------ answers */

static json_t *addr_json(const struct ip_addr *a)
{
	char buf[64];

	return json_string(ip_addr_format(a, buf, sizeof(buf)));
}

static json_t *addrs_json(const struct ip_addr *a, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, addr_json(&a[i]));
	return arr;
}

static json_t *str_or_null(const char *s)
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
	    str_or_null(eni->name), "instance_id", str_or_null(eni->instance_id), "subnet_id",
	    str_or_null(eni->subnet >= 0 ? lab->subnets[eni->subnet].id : NULL), "ipv4",
	    addrs_json(eni->ipv4, eni->n_ipv4), "ipv6", addrs_json(eni->ipv6, eni->n_ipv6),
	    "groups", groups ? groups : json_null(), "namespace",
	    str_or_null(tp ? tp->netns : NULL), "port", str_or_null(tp ? tp->name : NULL));
	return o;
}

static json_t *answer_status(struct control *c)
{
	const struct lab *lab = datapath_lab(c->dp);
	struct timespec now = mono_now();
	json_t *enis = json_array(), *outside = json_array();
	json_t *r = reply_ok();

	for (size_t i = 0; enis && i < lab->n_enis; i++)
		json_array_append_new(enis, eni_json(c, lab, (int32_t)i));
	for (size_t i = 0; outside && i < lab->n_outside; i++) {
		const struct topology_port *tp = topology_port_of_outside(c->topo, (int32_t)i);
		json_array_append_new(
		    outside, json_pack("{s:s, s:o, s:o, s:o}", "name", lab->outside[i].name, "addr",
				       addr_json(&lab->outside[i].addr), "namespace",
				       str_or_null(tp ? tp->netns : NULL), "port",
				       str_or_null(tp ? tp->name : NULL)));
	}
	if (!r || !enis || !outside) {
		json_decref(r);
		json_decref(enis);
		json_decref(outside);
		return reply_error("out of memory");
	}
	json_object_set_new(r, "lab", json_string(c->lab));
	json_object_set_new(r, "source", str_or_null(lab->source));
	json_object_set_new(r, "pid", json_integer(getpid()));
	json_object_set_new(r, "started", json_integer((json_int_t)c->started_wall));
	json_object_set_new(r, "uptime",
			    json_integer((json_int_t)(ts_sec(&now) - ts_sec(&c->started))));
	json_object_set_new(r, "generation", json_integer(datapath_generation(c->dp)));
	json_object_set_new(r, "flow_log", str_or_null(c->opts.flowlog_path));
	json_object_set_new(r, "router_namespace", json_string(c->topo->router_ns));
	json_object_set_new(r, "ports", json_integer((json_int_t)datapath_n_ports(c->dp)));
	json_object_set_new(r, "control_group", str_or_null(c->opts.group));
	json_object_set_new(r, "enis", enis);
	json_object_set_new(r, "outside", outside);
	return r;
}

/* ---- flows */

struct flows_walk {
	struct control *c;
	const struct lab *lab;
	json_t *arr;
	uint64_t now;
	uint32_t left; /* entries still allowed in the reply */
	bool truncated;
	bool oom;
};

static void tuple_json(json_t *o, const struct ct_tuple *t)
{
	char buf[32];

	json_object_set_new(o, "proto", json_string(flow_proto_name(t->proto, buf, sizeof(buf))));
	json_object_set_new(o, "proto_number", json_integer(t->proto));
	json_object_set_new(o, "src", addr_json(&t->src));
	json_object_set_new(o, "dst", addr_json(&t->dst));
	if (t->proto == PROTO_TCP || t->proto == PROTO_UDP) {
		json_object_set_new(o, "sport", json_integer(t->sport));
		json_object_set_new(o, "dport", json_integer(t->dport));
	} else if (t->proto == PROTO_ICMP || t->proto == PROTO_ICMPV6) {
		json_object_set_new(o, "icmp_type", json_integer(t->icmp_type));
		json_object_set_new(o, "icmp_id", json_integer(t->icmp_id));
	}
}

static json_t *rule_json(struct flows_walk *w, const struct ct_rule_ref *ref)
{
	char buf[512];

	if (ref->generation != datapath_generation(w->c->dp))
		snprintf(buf, sizeof(buf),
			 "a rule of generation %u (removed or changed by a reload since)",
			 ref->generation);
	else if (ref->group >= w->lab->n_groups || ref->rule >= w->lab->groups[ref->group].n_rules)
		snprintf(buf, sizeof(buf), "unknown rule");
	else
		sg_rule_format(w->lab, (int32_t)ref->group, (int32_t)ref->rule, buf, sizeof(buf));
	return json_string(buf);
}

static int flows_one(const struct ct_conn_info *info, void *arg)
{
	struct flows_walk *w = arg;
	json_t *o;

	if (!w->left) {
		w->truncated = true;
		return 1;
	}
	o = json_object();
	if (!o) {
		w->oom = true;
		return 1;
	}
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
	if (json_array_append_new(w->arr, o) < 0) {
		w->oom = true;
		return 1;
	}
	w->left--;
	return 0;
}

/* An ENI by contract-3 name, or by its namespace ("vpcfw-web-1" or "web-1"). */
static int32_t find_eni(struct control *c, const struct lab *lab, const char *name)
{
	struct endpoint ep;

	if (lab_resolve_endpoint(lab, name, &ep) == 0 && ep.kind == ENDPOINT_ENI)
		return ep.eni;
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

static json_t *answer_flows(struct control *c, const struct ctl_request *req)
{
	const struct lab *lab = datapath_lab(c->dp);
	const struct conntrack *ct = datapath_conntrack(c->dp);
	struct timespec now = mono_now();
	struct flows_walk w = {.c = c,
			       .lab = lab,
			       .now = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec,
			       .left = req->limit};
	int32_t only = -1;
	json_t *enis, *r;

	if (req->eni) {
		only = find_eni(c, lab, req->eni);
		if (only < 0) {
			char msg[320];
			snprintf(msg, sizeof(msg), "no ENI named \"%s\" in lab %s", req->eni,
				 c->lab);
			return reply_error(msg);
		}
	}
	enis = json_array();
	r = reply_ok();
	if (!enis || !r)
		goto oom;
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct topology_port *tp = topology_port_of_eni(c->topo, (int32_t)i);
		struct ct_zone_stats zs = {0};

		if (only >= 0 && (int32_t)i != only)
			continue;
		w.arr = json_array();
		if (!w.arr)
			goto oom;
		ct_zone_walk(ct, (uint32_t)i, w.now, flows_one, &w);
		ct_zone_stats(ct, (uint32_t)i, &zs);
		json_t *e = json_pack("{s:s, s:o, s:o, s:I, s:I, s:o}", "id", lab->enis[i].id,
				      "name", str_or_null(lab->enis[i].name), "namespace",
				      str_or_null(tp ? tp->netns : NULL), "tracked",
				      (json_int_t)zs.tracked, "conntrack_allowance_available",
				      (json_int_t)zs.conntrack_allowance_available, "flows", w.arr);
		if (!e || json_array_append_new(enis, e) < 0 || w.oom)
			goto oom;
	}
	json_object_set_new(r, "generation", json_integer(datapath_generation(c->dp)));
	json_object_set_new(r, "truncated", json_boolean(w.truncated));
	json_object_set_new(r, "enis", enis);
	return r;
oom:
	json_decref(enis);
	json_decref(r);
	return reply_error("out of memory");
}

/* ---- stats */

static json_t *u64_map(const uint64_t *v, size_t n, const char *(*name)(size_t))
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < n; i++) {
		const char *k = name(i);
		if (k)
			json_object_set_new(o, k, json_integer((json_int_t)v[i]));
	}
	return o;
}

static const char *stage_name_i(size_t i)
{
	return dp_stage_name((enum dp_stage)i);
}

static const char *drop_name_i(size_t i)
{
	return dp_drop_name((enum dp_drop)i);
}

static const char *dir_name_i(size_t i)
{
	return i == DP_DIR_EGRESS ? "egress" : "ingress";
}

static json_t *eni_stats_json(const struct lab *lab, size_t i, const struct dp_eni_stats *e)
{
	uint64_t rej_p = 0, rej_b = 0;

	for (size_t s = 0; s < DP_STAGE_MAX; s++) {
		rej_p += e->rejected_pkts[s];
		rej_b += e->rejected_bytes[s];
	}
	return json_pack(
	    "{s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "id",
	    lab->enis[i].id, "name", str_or_null(lab->enis[i].name), "accepted_packets",
	    u64_map(e->accepted_pkts, DP_DIR_MAX, dir_name_i), "accepted_bytes",
	    u64_map(e->accepted_bytes, DP_DIR_MAX, dir_name_i), "rejected_packets",
	    u64_map(e->rejected_pkts, DP_STAGE_MAX, stage_name_i), "rejected_bytes",
	    u64_map(e->rejected_bytes, DP_STAGE_MAX, stage_name_i), "accepted_packets_total",
	    (json_int_t)(e->accepted_pkts[0] + e->accepted_pkts[1]), "rejected_packets_total",
	    (json_int_t)rej_p, "rejected_bytes_total", (json_int_t)rej_b, "fast_path_packets",
	    (json_int_t)e->fast_path_pkts, "untracked_packets", (json_int_t)e->untracked_pkts,
	    "conntrack_allowance_exceeded", (json_int_t)e->conntrack_allowance_exceeded,
	    "conntrack_allowance_available", (json_int_t)e->conntrack_allowance_available,
	    "tracked", (json_int_t)e->tracked);
}

static json_t *answer_stats(struct control *c)
{
	const struct lab *lab = datapath_lab(c->dp);
	struct dp_eni_stats *es = calloc(lab->n_enis ? lab->n_enis : 1, sizeof(*es));
	json_t *r = reply_ok(), *enis = json_array(), *g = NULL;
	struct dp_stats st;

	if (!es || !r || !enis)
		goto oom;
	datapath_stats(c->dp, &st, es, lab->n_enis);
	g = json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I}",
	    "rx_packets", (json_int_t)st.rx_pkts, "rx_bytes", (json_int_t)st.rx_bytes, "tx_packets",
	    (json_int_t)st.tx_pkts, "tx_bytes", (json_int_t)st.tx_bytes, "tx_errors",
	    (json_int_t)st.tx_errors, "arp_replies", (json_int_t)st.arp_replies, "nd_replies",
	    (json_int_t)st.nd_replies, "accepted_packets", (json_int_t)st.accepted_pkts,
	    "rejected_packets", (json_int_t)st.rejected_pkts, "fast_path_packets",
	    (json_int_t)st.fast_path_pkts, "slow_path_packets", (json_int_t)st.slow_path_pkts,
	    "pcap_kernel_drops", (json_int_t)st.pcap_kernel_drops, "conntrack_allowance_exceeded",
	    (json_int_t)st.conntrack_allowance_exceeded, "port_errors", (json_int_t)st.port_errors,
	    "malformed_total", (json_int_t)st.malformed_total, "tx_syscalls",
	    (json_int_t)st.tx_syscalls);
	if (!g)
		goto oom;
	json_object_set_new(g, "malformed",
			    u64_map(st.malformed, DP_MALFORMED_MAX, dp_malformed_name));
	json_object_set_new(g, "drops", u64_map(st.drops, DP_DROP_MAX, drop_name_i));
	for (size_t i = 0; i < lab->n_enis; i++)
		if (json_array_append_new(enis, eni_stats_json(lab, i, &es[i])) < 0)
			goto oom;
	json_object_set_new(r, "global", g);
	json_object_set_new(r, "enis", enis);
	json_object_set_new(r, "generation", json_integer(datapath_generation(c->dp)));
	free(es);
	return r;
oom:
	free(es);
	json_decref(g);
	json_decref(enis);
	json_decref(r);
	return reply_error("out of memory");
}

/* ---- reload */

static json_t *diags_json(const struct diag_list *d, enum diag_level level)
{
	json_t *arr = json_array();
	char buf[1024];

	for (size_t i = 0; arr && i < d->n; i++) {
		const struct diag *x = &d->items[i];
		if (x->level != level)
			continue;
		json_array_append_new(
		    arr, json_pack("{s:o, s:o, s:s, s:s}", "file", str_or_null(x->file), "path",
				   str_or_null(x->path), "message", x->msg ? x->msg : "", "text",
				   diag_format(x, buf, sizeof(buf))));
	}
	return arr;
}

static json_t *answer_reload(struct control *c, const struct ctl_request *req)
{
	struct diag_list d;
	char err[1024] = "";
	json_t *r;
	int rc;

	if (!c->opts.reload)
		return reply_error("this vpcfwd does not reload through the control socket");
	diag_init(&d);
	rc = c->opts.reload(c->opts.reload_arg, req->path, &d, err, sizeof(err));
	if (rc < 0) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "reload failed, the running rules stay: %s",
			 err[0] ? err : "the lab has errors");
		r = reply_error(msg);
	} else {
		r = reply_ok();
	}
	if (r) {
		json_object_set_new(r, "errors", diags_json(&d, DIAG_ERROR));
		json_object_set_new(r, "warnings", diags_json(&d, DIAG_WARNING));
		json_object_set_new(r, "generation", json_integer(datapath_generation(c->dp)));
		json_object_set_new(r, "source", str_or_null(datapath_lab(c->dp)->source));
		if (d.n < d.n_errors + d.n_warnings)
			json_object_set_new(
			    r, "unrecorded",
			    json_integer((json_int_t)(d.n_errors + d.n_warnings - d.n)));
	}
	diag_free(&d);
	return r;
}

static json_t *answer(struct control *c, const char *line, size_t len)
{
	struct ctl_request req;
	char err[512];
	json_t *r;

	if (ctl_request_parse(line, len, &req, err, sizeof(err)) < 0)
		return reply_error(err);
	switch (req.cmd) {
	case CTL_CMD_STATUS:
		r = answer_status(c);
		break;
	case CTL_CMD_FLOWS:
		r = answer_flows(c, &req);
		break;
	case CTL_CMD_STATS:
		r = answer_stats(c);
		break;
	case CTL_CMD_RELOAD:
		r = answer_reload(c, &req);
		break;
	default:
		r = reply_error("unknown command");
	}
	ctl_request_clear(&req);
	return r;
}

/* ------------------------------------------------------------- I/O */

/*
 * Reads everything available and answers complete lines one at a time:
 * a new request is only read once the previous reply is out, so one client
 * can never make the daemon hold more than one reply for it.
 */
#define CONTROL_REQUESTS_PER_WAKEUP 32

/* The timer fires at once (1 ms), then every second again as before:
 * capture fds ready meanwhile are served first by the same epoll_wait. */
static void control_kick(struct control *c)
{
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {0, 1000000}};

	timerfd_settime(c->timer_fd, 0, &its, NULL);
}

static void client_work(struct control_client *cl)
{
	unsigned answered = 0;

	cl->resume = false;
	for (;;) {
		int fr = client_flush(cl);
		if (fr < 0 || (fr == 0 && cl->closing)) {
			client_free(cl);
			return;
		}
		if (fr > 0)
			return; /* EPOLLOUT resumes us */

		if (answered == CONTROL_REQUESTS_PER_WAKEUP) {
			/* Pipelined requests must not starve the packet path:
			 * the rest after one turn of the loop (taking no line
			 * out of the buffer before that). */
			cl->resume = true;
			control_kick(cl->ctl);
			return;
		}

		char *line;
		size_t len;
		int lr = ctl_inbuf_line(&cl->in, &line, &len);
		if (lr > 0) {
			answered++;
			json_t *r = answer(cl->ctl, line, len);
			if (!r)
				r = reply_error("out of memory");
			client_queue(cl, r);
			continue;
		}
		if (lr == -EMSGSIZE) {
			char msg[128];
			snprintf(msg, sizeof(msg),
				 "request longer than %zu bytes without a newline: closing",
				 cl->in.max);
			client_queue(cl, reply_error(msg));
			cl->closing = true;
			continue;
		}

		char *p;
		long room = ctl_inbuf_room(&cl->in, &p);
		if (room <= 0) {
			/* Full without a line is -EMSGSIZE above; this is ENOMEM. */
			client_free(cl);
			return;
		}
		ssize_t n = recv(cl->fd, p, (size_t)room, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* Hang-up (perhaps mid-request) or error: nothing to
			 * answer, nobody to answer to. */
			client_free(cl);
			return;
		}
		ctl_inbuf_commit(&cl->in, (size_t)n);
		cl->last = mono_now();
	}
}

static void on_client(void *arg, int fd, uint32_t events)
{
	(void)fd;
	(void)events; /* hints only: reads and writes say what really happened */
	client_work(arg);
}

/*
 * The peer process's own groups (primary from SO_PEERCRED, supplementary
 * from /proc), not its user's entry in the group database: what the
 * process really holds is what file permissions would have checked.
 */
static bool peer_in_group(gid_t gid, const struct ucred *cred)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	if (cred->gid == gid)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)cred->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7))
			continue;
		char *p = line + 7, *end;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);
			if (end == p)
				break;
			if ((gid_t)g == gid)
				found = true;
			p = end;
		}
		break;
	}
	fclose(f);
	return found;
}

static const char *peer_refusal(struct control *c, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return "cannot read the peer's credentials";
	if (cred.uid == 0)
		return NULL;
	if (c->has_group && peer_in_group(c->gid, &cred))
		return NULL;
	return c->has_group ? "permission denied: root or the control group only"
			    : "permission denied: root only";
}

static void on_listen(void *arg, int fd, uint32_t events)
{
	struct control *c = arg;

	(void)events;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("control socket: accept: %s", strerror(errno));
			return;
		}
		const char *why = peer_refusal(c, cfd);
		if (why) {
			log_info("control socket: refused a client: %s", why);
			refuse(cfd, why);
			continue;
		}
		if (c->n_clients >= c->opts.max_clients) {
			refuse(cfd, "too many clients: try again later");
			continue;
		}
		struct control_client *cl = calloc(1, sizeof(*cl));
		if (!cl) {
			refuse(cfd, "out of memory");
			continue;
		}
		cl->ctl = c;
		cl->fd = cfd;
		cl->last = mono_now();
		cl->id = ++c->next_id;
		ctl_inbuf_init(&cl->in, c->opts.max_request);
		if (loop_add_fd(c->loop, cfd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, on_client,
				cl) < 0) {
			free(cl);
			refuse(cfd, "cannot watch the connection");
			continue;
		}
		cl->next = c->clients;
		c->clients = cl;
		c->n_clients++;
		/* Edge-triggered: whatever arrived before the add is ours to read. */
		client_work(cl);
	}
}

static void on_timer(void *arg, int fd, uint32_t events)
{
	struct control *c = arg;
	uint64_t ticks;
	struct timespec now = mono_now();

	(void)events;
	while (read(fd, &ticks, sizeof(ticks)) == (ssize_t)sizeof(ticks))
		;
	for (struct control_client *cl = c->clients, *next; cl; cl = next) {
		next = cl->next;
		if (ts_sec(&now) - ts_sec(&cl->last) >= (double)c->opts.idle_timeout)
			client_free(cl);
		else if (cl->resume)
			client_work(cl);
	}
}

/* ------------------------------------------------------------ set-up */

static int control_fail(struct control *c, int code, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s: %s", c->path, what, strerror(-code));
	control_close(c);
	return code;
}

static int control_bind(struct control *c, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int r;

	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return control_fail(c, -errno, err, errlen, "socket");
	/* A socket file left by a dead daemon of this lab: the topology's
	 * state lock already proved no live daemon runs it. */
	if (unlink(c->path) < 0 && errno != ENOENT)
		return control_fail(c, -errno, err, errlen, "cannot remove stale");
	/* Created 0600 (no window in which others could connect). */
	old = umask(0177);
	r = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return control_fail(c, -errno, err, errlen, "cannot bind");
	if (c->has_group && (chown(c->path, 0, c->gid) < 0 || chmod(c->path, 0660) < 0))
		return control_fail(c, -errno, err, errlen, "cannot give to its group");
	if (listen(c->fd, 64) < 0)
		return control_fail(c, -errno, err, errlen, "listen");
	return 0;
}

static int control_resolve_group(struct control *c, const char *name, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[8192];
	char *end;
	unsigned long n = strtoul(name, &end, 10);

	if (*name && !*end) {
		c->gid = (gid_t)n;
	} else if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res) {
		c->gid = gr.gr_gid;
	} else {
		snprintf(err, errlen, "--control-group: no group named '%s'", name);
		return -ENOENT;
	}
	c->has_group = true;
	return 0;
}

int control_open(struct loop *l, struct datapath *dp, const struct topology *topo, const char *lab,
		 const struct control_opts *o, struct control **out, char *err, size_t errlen)
{
	struct control *c = calloc(1, sizeof(*c));
	int r;

	*out = NULL;
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->fd = c->timer_fd = -1;
	c->loop = l;
	c->dp = dp;
	c->topo = topo;
	c->opts = *o;
	if (!c->opts.max_clients)
		c->opts.max_clients = CONTROL_MAX_CLIENTS;
	if (!c->opts.idle_timeout)
		c->opts.idle_timeout = CONTROL_IDLE_TIMEOUT;
	if (!c->opts.max_request)
		c->opts.max_request = CONTROL_MAX_REQUEST;
	snprintf(c->lab, sizeof(c->lab), "%s", lab);
	c->started = mono_now();
	c->started_wall = time(NULL);
	if (o->socket_path)
		r = snprintf(c->path, sizeof(c->path), "%s", o->socket_path) >= (int)sizeof(c->path)
			? -ENAMETOOLONG
			: 0;
	else
		r = control_socket_path(lab, c->path, sizeof(c->path));
	if (r < 0) {
		snprintf(err, errlen, "control socket path too long for lab %s", lab);
		free(c);
		return r;
	}
	if (o->group && (r = control_resolve_group(c, o->group, err, errlen)) < 0) {
		free(c);
		return r;
	}
	r = control_bind(c, err, errlen);
	if (r < 0)
		return r;
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->timer_fd < 0)
		return control_fail(c, -errno, err, errlen, "timerfd");
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
	if (timerfd_settime(c->timer_fd, 0, &its, NULL) < 0)
		return control_fail(c, -errno, err, errlen, "timerfd");
	if ((r = loop_add_fd(l, c->timer_fd, EPOLLIN, on_timer, c)) < 0) {
		close(c->timer_fd);
		c->timer_fd = -1;
		return control_fail(c, r, err, errlen, "watching the timer");
	}
	if ((r = loop_add_fd(l, c->fd, EPOLLIN, on_listen, c)) < 0) {
		int fd = c->fd;
		c->fd = -1;
		close(fd);
		return control_fail(c, r, err, errlen, "watching the socket");
	}
	*out = c;
	return 0;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
	if (c->fd >= 0) {
		loop_del_fd(c->loop, c->fd);
		close(c->fd);
		unlink(c->path);
	}
	if (c->timer_fd >= 0) {
		loop_del_fd(c->loop, c->timer_fd);
		close(c->timer_fd);
	}
	free(c);
}
