/*
 * The datapath's counters as others read them: names for stages, drop
 * reasons and malformed reasons, a consistent snapshot (with the kernel's
 * capture drops and the conntrack zones' allowance figures filled in), and
 * the one JSON writer of them, for `vpcfw stats` and vpcfwd's SIGUSR1 dump
 * alike. Not the packet path: that only increments (datapath.c).
 */
#include <stddef.h>
#include <stdlib.h>

#include <jansson.h>

#include "conntrack.h"
#include "datapath-private.h"
#include "flowlog.h"
#include "model.h"
#include "packet.h"
#include "port.h"

/* ---------------------------------------------------------------- names */

static const char *dp_stage_name(enum dp_stage s)
{
	static const char *const names[DP_STAGE_MAX] = {"sg-egress", "nacl-egress", "nacl-ingress",
							"sg-ingress"};

	return (unsigned)s < DP_STAGE_MAX ? names[s] : "unknown";
}

const char *dp_drop_name(enum dp_drop d)
{
	static const char *const names[DP_DROP_MAX] = {
	    "not-ip",	"arp-ignored",	"nd-ignored",  "unknown-source",  "unknown-destination",
	    "no-route", "no-public-ip", "truncated",   "tx-full",	  "hairpin",
	    "fragment", "link-local",	"vlan-tagged", "nat-unsolicited", "nat-no-port",
	};

	return (unsigned)d < DP_DROP_MAX ? names[d] : "unknown";
}

static const char *dp_malformed_name(size_t i)
{
	return i < PKT_MAL__COUNT ? pkt_malformed_name((int)i) : NULL;
}

/* -------------------------------------------------------------- stats */

void datapath_stats(struct datapath *dp, struct dp_stats *out, struct dp_eni_stats *eni_stats,
		    size_t n_enis)
{
	struct ct_stats cs;
	size_t n = eni_stats ? (n_enis < dp->n_enis ? n_enis : dp->n_enis) : 0;

	dp_workers_sum(dp, out, eni_stats, n);
	pthread_mutex_lock(&dp->out_lock);
	if (dp->fl) {
		struct flowlog_stats fs;

		flowlog_get_stats(dp->fl, &fs);
		out->flowlog_records = fs.records;
		out->flowlog_packets_lost = fs.packets_lost;
	}
	pthread_mutex_unlock(&dp->out_lock);
	pthread_mutex_lock(&dp->ct_lock);
	ct_get_stats(dp->ct, &cs);
	out->conntrack_pool_capacity = cs.capacity;
	out->conntrack_pool_in_use = cs.in_use;
	for (size_t i = 0; i < n; i++) {
		struct ct_zone_stats zs;

		if (ct_zone_stats(dp->ct, (uint32_t)i, &zs) == 0) {
			eni_stats[i].conntrack_allowance_available =
			    zs.conntrack_allowance_available;
			eni_stats[i].tracked = zs.tracked;
		}
	}
	pthread_mutex_unlock(&dp->ct_lock);
}

/* ---------------------------------------------------------------- JSON */

/* One table per stats struct: what `vpcfw stats` (docs/control.md) and the
 * SIGUSR1 dump call each counter, so the two cannot drift apart again. */
struct dp_stats_field {
	const char *name;
	size_t off;
};

/* An array counter, written as an object keyed by name(i) (zeros included;
 * a NULL name ends it), and optionally its sum as total. */
struct dp_stats_map {
	const char *name, *total;
	size_t off, n;
	const char *(*key)(size_t);
};

static const char *dp_drop_name_i(size_t i)
{
	return dp_drop_name((enum dp_drop)i);
}

static const char *dp_stage_name_i(size_t i)
{
	return dp_stage_name((enum dp_stage)i);
}

static const char *dp_dir_name_i(size_t i)
{
	return i == DP_DIR_EGRESS ? "egress" : "ingress";
}

#define G(member) offsetof(struct dp_stats, member)
static const struct dp_stats_field dp_global_fields[] = {
    {"rx_packets", G(rx_pkts)},
    {"rx_bytes", G(rx_bytes)},
    {"tx_packets", G(tx_pkts)},
    {"tx_bytes", G(tx_bytes)},
    {"tx_errors", G(tx_errors)},
    {"tx_syscalls", G(tx_syscalls)},
    {"arp_replies", G(arp_replies)},
    {"nd_replies", G(nd_replies)},
    {"accepted_packets", G(accepted_pkts)},
    {"rejected_packets", G(rejected_pkts)},
    {"fast_path_packets", G(fast_path_pkts)},
    {"slow_path_packets", G(slow_path_pkts)},
    {"pcap_kernel_drops", G(pcap_kernel_drops)},
    {"conntrack_allowance_exceeded", G(conntrack_allowance_exceeded)},
    {"conntrack_pool_exhausted", G(conntrack_pool_exhausted)},
    {"conntrack_pool_capacity", G(conntrack_pool_capacity)},
    {"conntrack_pool_in_use", G(conntrack_pool_in_use)},
    {"port_errors", G(port_errors)},
    {"flowlog_records", G(flowlog_records)},
    {"flowlog_packets_lost", G(flowlog_packets_lost)},
    {"malformed_total", G(malformed_total)},
};
#undef G

static const struct dp_stats_map dp_global_maps[] = {
    {"malformed", NULL, offsetof(struct dp_stats, malformed), DP_MALFORMED_MAX, dp_malformed_name},
    {"drops", NULL, offsetof(struct dp_stats, drops), DP_DROP_MAX, dp_drop_name_i},
};

#define E(member) offsetof(struct dp_eni_stats, member)
static const struct dp_stats_field dp_eni_fields[] = {
    {"fast_path_packets", E(fast_path_pkts)},
    {"untracked_packets", E(untracked_pkts)},
    {"conntrack_allowance_exceeded", E(conntrack_allowance_exceeded)},
    /* refused because the shared pool had no entry, not the ENI's allowance */
    {"conntrack_pool_exhausted", E(conntrack_pool_exhausted)},
    {"conntrack_allowance_available", E(conntrack_allowance_available)},
    {"tracked", E(tracked)},
};
#undef E

static const struct dp_stats_map dp_eni_maps[] = {
    {"accepted_packets", "accepted_packets_total", offsetof(struct dp_eni_stats, accepted_pkts),
     DP_DIR_MAX, dp_dir_name_i},
    {"accepted_bytes", NULL, offsetof(struct dp_eni_stats, accepted_bytes), DP_DIR_MAX,
     dp_dir_name_i},
    {"rejected_packets", "rejected_packets_total", offsetof(struct dp_eni_stats, rejected_pkts),
     DP_STAGE_MAX, dp_stage_name_i},
    {"rejected_bytes", "rejected_bytes_total", offsetof(struct dp_eni_stats, rejected_bytes),
     DP_STAGE_MAX, dp_stage_name_i},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* 0, or -1 once any set failed (json_object_set_new frees v either way). */
static int dp_json_set(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) ? -1 : 0;
}

/* o if every step building it succeeded (r == 0), else NULL and o freed. */
static json_t *dp_json_done(json_t *o, int r)
{
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int dp_json_fields(json_t *o, const void *st, const struct dp_stats_field *f, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t v = *(const uint64_t *)((const char *)st + f[i].off);

		r |= dp_json_set(o, f[i].name, json_integer((json_int_t)v));
	}
	return r;
}

static int dp_json_map(json_t *o, const void *st, const struct dp_stats_map *m)
{
	const uint64_t *v = (const uint64_t *)((const char *)st + m->off);
	json_t *map = json_object();
	uint64_t total = 0;
	int r = map ? 0 : -1;

	for (size_t i = 0; map && i < m->n && m->key(i); i++) {
		r |= dp_json_set(map, m->key(i), json_integer((json_int_t)v[i]));
		total += v[i];
	}
	r |= dp_json_set(o, m->name, map);
	if (m->total)
		r |= dp_json_set(o, m->total, json_integer((json_int_t)total));
	return r;
}

static int dp_json_maps(json_t *o, const void *st, const struct dp_stats_map *m, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n; i++)
		r |= dp_json_map(o, st, &m[i]);
	return r;
}

static json_t *dp_global_json(const struct dp_stats *st)
{
	json_t *o = json_object();
	int r = o ? 0 : -1;

	if (o) {
		r |= dp_json_fields(o, st, dp_global_fields, N(dp_global_fields));
		r |= dp_json_maps(o, st, dp_global_maps, N(dp_global_maps));
	}
	return dp_json_done(o, r);
}

static json_t *dp_eni_json(const struct eni *eni, const struct dp_eni_stats *e)
{
	json_t *o = json_object();
	int r = o ? 0 : -1;

	if (o) {
		r |= dp_json_set(o, "id", json_string(eni->id));
		r |= dp_json_set(o, "name", eni->name ? json_string(eni->name) : json_null());
		r |= dp_json_maps(o, e, dp_eni_maps, N(dp_eni_maps));
		r |= dp_json_fields(o, e, dp_eni_fields, N(dp_eni_fields));
	}
	return dp_json_done(o, r);
}

/* DP_STATS_NESTED: an array in lab order; DP_STATS_FLAT: keyed by ENI id. */
static json_t *dp_enis_json(const struct lab *lab, const struct dp_eni_stats *es, size_t n,
			    enum dp_stats_layout layout)
{
	json_t *enis = layout == DP_STATS_NESTED ? json_array() : json_object();
	int r = enis ? 0 : -1;

	for (size_t i = 0; enis && i < n; i++) {
		json_t *e = dp_eni_json(&lab->enis[i], &es[i]);

		if (layout == DP_STATS_NESTED)
			r |= json_array_append_new(enis, e) ? -1 : 0;
		else
			r |= dp_json_set(enis, lab->enis[i].id, e);
	}
	return dp_json_done(enis, r);
}

static json_t *dp_stats_json(const struct lab *lab, const struct dp_stats *st,
			     const struct dp_eni_stats *es, size_t n, enum dp_stats_layout layout)
{
	json_t *g = dp_global_json(st);
	json_t *o = layout == DP_STATS_NESTED ? json_object() : json_incref(g);
	int r = g && o ? 0 : -1;

	if (o && layout == DP_STATS_NESTED)
		r |= dp_json_set(o, "global", json_incref(g));
	json_decref(g);
	if (o)
		r |= dp_json_set(o, "enis", dp_enis_json(lab, es, n, layout));
	return dp_json_done(o, r);
}

json_t *datapath_stats_json(struct datapath *dp, enum dp_stats_layout layout)
{
	struct dp_eni_stats *es = calloc(dp->n_enis ? dp->n_enis : 1, sizeof(*es));
	struct dp_stats st;
	json_t *o;

	if (!es)
		return NULL;
	datapath_stats(dp, &st, es, dp->n_enis);
	o = dp_stats_json(dp->lab, &st, es, dp->n_enis, layout);
	free(es);
	if (!o)
		return NULL;
	return dp_json_done(o, dp_json_set(o, "generation", json_integer(dp->generation)) |
				   dp_json_set(o, "workers", dp_workers_json(dp)));
}
