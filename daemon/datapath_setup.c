/*
 * Setting the data path up and tearing it down: ports and the transmit
 * socket opened inside the router namespace, the conntrack zones sized
 * from the ENIs' allowances, the flow-log aggregator and file, the reject
 * dumps; and the reload that swaps the rules while the namespaces (and the
 * tracked connections) stay. Not the packet path (datapath.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conntrack.h"
#include "datapath-private.h"
#include "flowlog.h"
#include "model.h"
#include "port.h"
#include "topology.h"

#define DP_FLOWLOG_CAPACITY 65536
/* Receive batch of the offload mode: 32 buffers of 64 KiB per port. */
#define DP_VNET_BATCH 32

void datapath_opts_init(struct datapath_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->batch = 64;
	o->pcap_buffer = 16u << 20;
	o->flowlog_interval = 60;
}

/* ------------------------------------------------------------ creation */

struct dp_open_ctx {
	struct datapath *dp;
	char *err;
	size_t errlen;
};

/* Runs inside the router namespace: the sockets stay there. */
static int dp_open_ports(void *arg)
{
	struct dp_open_ctx *c = arg;
	struct datapath *dp = c->dp;
	struct port_opts po = {.mtu = dp->topo->mtu, .buffer_bytes = dp->opts.pcap_buffer};
	int rc;

	for (size_t i = 0; i < dp->n_ports; i++) {
		const struct topology_port *tp = dp->ports[i].tp;

		/* With offloads kept the ports carry 64 KiB GSO frames that a
		 * pcap capture would truncate at the snaplen: read those with
		 * their virtio-net header instead (PERF.md item 3). */
		if (dp->topo->offloads_kept)
			rc = port_open_vnet(tp->name, tp->ifindex, DP_VNET_BATCH,
					    &dp->ports[i].port, c->err, c->errlen);
		else
			rc = port_open(tp->name, &po, &dp->ports[i].port, c->err, c->errlen);
		if (rc < 0)
			return rc;
	}
	return port_tx_open(dp->opts.batch, dp->topo->mtu + 18, dp->topo->offloads_kept, &dp->tx,
			    c->err, c->errlen);
}

static int dp_open_conntrack(struct datapath *dp, char *err, size_t errlen)
{
	const struct lab *lab = dp->lab;
	struct ct_config cfg = {
	    .capacity = 0,
	    .n_zones = (uint32_t)(lab->n_enis ? lab->n_enis : 1),
	    .timeouts = lab->opts.default_timeouts,
	    .allowance = lab->opts.default_ct_allowance,
	};
	struct timespec ts;
	uint64_t total = 0;
	int rc;

	for (size_t i = 0; i < lab->n_enis; i++)
		total += lab->enis[i].ct_allowance;
	/* Every zone can fill its allowance at once, within reason. */
	cfg.capacity = (uint32_t)(total < 1024 ? 1024 : total > (1u << 22) ? (1u << 22) : total);
	clock_gettime(CLOCK_REALTIME, &ts);
	cfg.hash_seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
	rc = ct_create(&cfg, &dp->ct);
	if (rc < 0) {
		snprintf(err, errlen, "connection tracker: %s", strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < lab->n_enis; i++) {
		rc = ct_zone_configure(dp->ct, (uint32_t)i, &lab->enis[i].timeouts,
				       lab->enis[i].ct_allowance);
		if (rc < 0) {
			snprintf(err, errlen, "connection tracker: ENI %s: %s", lab->enis[i].id,
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int dp_open_flowlog(struct datapath *dp, char *err, size_t errlen)
{
	struct flowlog_config cfg = {.interval = dp->opts.flowlog_interval,
				     .capacity = DP_FLOWLOG_CAPACITY};
	char ferr[256];
	int rc;

	if (!dp->opts.flowlog_path)
		return 0;
	rc = flowlog_format_parse(dp->opts.flowlog_format, &cfg.format, ferr, sizeof(ferr));
	if (rc < 0) {
		snprintf(err, errlen, "flow-log format: %s", ferr);
		return rc;
	}
	if (cfg.interval == 0)
		cfg.interval = 60;
	rc = flowlog_create(&cfg, &dp->fl);
	if (rc < 0) {
		snprintf(err, errlen, "flow log: %s", strerror(-rc));
		return rc;
	}
	dp->flf = fopen(dp->opts.flowlog_path, "ae");
	if (!dp->flf) {
		rc = -errno;
		snprintf(err, errlen, "flow log %s: %s", dp->opts.flowlog_path, strerror(-rc));
		return rc;
	}
	return 0;
}

static void dp_fill_iface(struct datapath *dp, size_t i)
{
	const struct lab *lab = dp->lab;
	const struct eni *e = &lab->enis[i];
	const struct subnet *s = e->subnet >= 0 ? &lab->subnets[e->subnet] : NULL;

	dp->enis[i].fl = (struct flowlog_iface){
	    .interface_id = e->id,
	    .account_id = dp->opts.account_id,
	    .vpc_id = s ? s->vpc_id : NULL,
	    .subnet_id = s ? s->id : NULL,
	    .instance_id = e->instance_id,
	    .az_id = s ? s->az : NULL,
	};
}

static int dp_open_dumps(struct datapath *dp, char *err, size_t errlen)
{
	char path[4096];

	if (!dp->opts.pcap_dir)
		return 0;
	/* GSO frames of the offload mode are up to 64 KiB. */
	dp->dead = pcap_open_dead(DLT_EN10MB, 65536 + 18);
	if (!dp->dead) {
		snprintf(err, errlen, "pcap_open_dead failed");
		return -ENOMEM;
	}
	for (size_t i = 0; i < dp->n_enis; i++) {
		snprintf(path, sizeof(path), "%s/%s.pcap", dp->opts.pcap_dir, dp->lab->enis[i].id);
		dp->enis[i].dump = pcap_dump_open(dp->dead, path);
		if (!dp->enis[i].dump) {
			snprintf(err, errlen, "%s: %s", path, pcap_geterr(dp->dead));
			return -EIO;
		}
	}
	return 0;
}

static int dp_map_ports(struct datapath *dp, char *err, size_t errlen)
{
	const struct topology *topo = dp->topo;

	dp->n_ports = topo->n_ports;
	dp->ports = calloc(topo->n_ports ? topo->n_ports : 1, sizeof(*dp->ports));
	dp->n_enis = dp->lab->n_enis;
	dp->enis = calloc(dp->n_enis ? dp->n_enis : 1, sizeof(*dp->enis));
	if (!dp->ports || !dp->enis) {
		snprintf(err, errlen, "datapath: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (size_t i = 0; i < topo->n_ports; i++)
		dp->ports[i].tp = &topo->ports[i];
	for (size_t i = 0; i < dp->n_enis; i++) {
		dp->enis[i].tp = topology_port_of_eni(topo, (int32_t)i);
		if (!dp->enis[i].tp) {
			snprintf(err, errlen, "datapath: ENI %s has no port", dp->lab->enis[i].id);
			return -EINVAL;
		}
		dp_fill_iface(dp, i);
	}
	return 0;
}

int datapath_create(const struct lab *lab, const struct topology *topo,
		    const struct datapath_opts *o, struct datapath **out, char *err, size_t errlen)
{
	struct datapath *dp;
	struct dp_open_ctx ctx;
	int rc;

	*out = NULL;
	dp = calloc(1, sizeof(*dp));
	if (!dp) {
		snprintf(err, errlen, "datapath: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	/* With offloads kept the ports carry 64 KiB GSO frames that a pcap
	 * capture truncates at the snaplen: refuse rather than drop them all
	 * while claiming to filter (AWS-SEMANTICS §8). */
	dp->lab = lab;
	dp->topo = topo;
	dp->opts = *o;
	if (dp->opts.batch == 0)
		dp->opts.batch = 64;
	ctx = (struct dp_open_ctx){dp, err, errlen};
	rc = dp_map_ports(dp, err, errlen);
	if (rc == 0)
		rc = dp_open_conntrack(dp, err, errlen);
	if (rc == 0)
		rc = dp_open_flowlog(dp, err, errlen);
	if (rc == 0)
		rc = dp_open_dumps(dp, err, errlen);
	if (rc == 0)
		rc = topology_run_in_router(topo, dp_open_ports, &ctx);
	if (rc < 0) {
		datapath_destroy(dp);
		return rc;
	}
	dp_clock(dp);
	*out = dp;
	return 0;
}

void datapath_destroy(struct datapath *dp)
{
	if (!dp)
		return;
	if (dp->flf) {
		datapath_flowlog_flush(dp, time(NULL));
		fclose(dp->flf);
	}
	flowlog_destroy(dp->fl);
	for (size_t i = 0; i < dp->n_ports; i++)
		port_close(dp->ports[i].port);
	port_tx_close(dp->tx);
	for (size_t i = 0; i < dp->n_enis; i++)
		if (dp->enis[i].dump)
			pcap_dump_close(dp->enis[i].dump);
	if (dp->dead)
		pcap_close(dp->dead);
	ct_destroy(dp->ct);
	free(dp->ports);
	free(dp->enis);
	free(dp);
}

/* ------------------------------------------------------------- reload */

static bool dp_same_addrs(const struct ip_addr *a, size_t na, const struct ip_addr *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!ip_addr_eq(&a[i], &b[i]))
			return false;
	return true;
}

static bool dp_same_subnet(const struct lab *a, const struct eni *x, const struct lab *b,
			   const struct eni *y)
{
	if (x->subnet < 0 || y->subnet < 0)
		return x->subnet == y->subnet;
	return strcmp(a->subnets[x->subnet].id, b->subnets[y->subnet].id) == 0;
}

/* The namespaces were built from the old lab: a reload may change rules,
 * never the ENIs, their addresses or the outside hosts. */
static bool dp_same_topology(const struct lab *a, const struct lab *b, char *err, size_t errlen)
{
	if (a->n_enis != b->n_enis || a->n_outside != b->n_outside) {
		snprintf(err, errlen, "reload changes the number of ENIs or outside hosts");
		return false;
	}
	for (size_t i = 0; i < a->n_enis; i++) {
		const struct eni *x = &a->enis[i], *y = &b->enis[i];

		if (strcmp(x->id, y->id) != 0 || !dp_same_subnet(a, x, b, y) ||
		    !dp_same_addrs(x->ipv4, x->n_ipv4, y->ipv4, y->n_ipv4) ||
		    !dp_same_addrs(x->ipv6, x->n_ipv6, y->ipv6, y->n_ipv6)) {
			snprintf(err, errlen, "reload changes ENI %s (id, subnet or addresses)",
				 x->id);
			return false;
		}
	}
	for (size_t i = 0; i < a->n_outside; i++) {
		if (!ip_addr_eq(&a->outside[i].addr, &b->outside[i].addr)) {
			snprintf(err, errlen, "reload changes outside host %s", a->outside[i].name);
			return false;
		}
	}
	return true;
}

/* SIGHUP is also logrotate's signal: finish the records held so far into
 * the old file, then write to whatever the path names now. If it cannot be
 * reopened the old file stays in use (the rules reload regardless). */
static void dp_reopen_flowlog(struct datapath *dp)
{
	FILE *f;

	if (!dp->flf)
		return;
	datapath_flowlog_flush(dp, time(NULL));
	f = fopen(dp->opts.flowlog_path, "ae");
	if (!f)
		return;
	fclose(dp->flf);
	dp->flf = f;
}

static bool dp_same_rule(const struct sg_rule *a, const struct sg_rule *b)
{
	if (a->egress != b->egress || a->protocol != b->protocol || a->from_port != b->from_port ||
	    a->to_port != b->to_port || a->peer_kind != b->peer_kind)
		return false;
	if (a->peer_kind == SG_PEER_CIDR)
		return ip_prefix_eq(&a->cidr, &b->cidr);
	return a->peer_id && b->peer_id && strcmp(a->peer_id, b->peer_id) == 0;
}

struct dp_retag_ctx {
	const struct lab *old, *next;
	uint32_t old_gen;
};

/* A tracked flow keeps the rule that admitted it (STYLE.md): when the new
 * lab has the same rule in the same group, the reference moves to its new
 * indices and generation; otherwise it keeps the old generation, which
 * says "removed or changed by a reload". */
static void dp_retag_one(const struct ct_conn_info *info, struct ct_rule_ref *ref, void *arg)
{
	const struct dp_retag_ctx *c = arg;
	const struct security_group *og, *ng;
	int32_t g;

	(void)info;
	if (ref->generation != c->old_gen || ref->group >= c->old->n_groups)
		return;
	og = &c->old->groups[ref->group];
	if (ref->rule >= og->n_rules)
		return;
	g = lab_find_group(c->next, og->id);
	if (g < 0)
		return;
	ng = &c->next->groups[g];
	for (size_t r = 0; r < ng->n_rules; r++) {
		if (dp_same_rule(&og->rules[ref->rule], &ng->rules[r])) {
			*ref = (struct ct_rule_ref){(uint32_t)g, (uint32_t)r, c->old_gen + 1};
			return;
		}
	}
}

static void dp_retag(struct datapath *dp, const struct lab *next)
{
	struct dp_retag_ctx c = {dp->lab, next, dp->generation};

	dp_clock(dp);
	for (size_t i = 0; i < dp->n_enis; i++)
		ct_zone_retag(dp->ct, (uint32_t)i, dp->now_ns, dp_retag_one, &c);
}

int datapath_reload(struct datapath *dp, const struct lab *lab, char *err, size_t errlen)
{
	if (!dp_same_topology(dp->lab, lab, err, errlen))
		return -EINVAL;
	/* Validate every zone first so that a refusal changes nothing. */
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct ct_timeouts *t = &lab->enis[i].timeouts;

		if (!t->tcp_established || !t->tcp_transient || !t->udp_stream || !t->udp ||
		    !t->icmp || !t->other) {
			snprintf(err, errlen, "ENI %s: a connection-tracking timeout is 0",
				 lab->enis[i].id);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < lab->n_enis; i++)
		ct_zone_configure(dp->ct, (uint32_t)i, &lab->enis[i].timeouts,
				  lab->enis[i].ct_allowance);
	dp_retag(dp, lab);
	dp->lab = lab;
	dp->generation++;
	for (size_t i = 0; i < dp->n_enis; i++)
		dp_fill_iface(dp, i);
	dp_reopen_flowlog(dp);
	return 0;
}

uint32_t datapath_generation(const struct datapath *dp)
{
	return dp->generation;
}
