/*
 * Setting the data path up and tearing it down: the router's capture ring
 * and transmit socket opened inside the router namespace (one each,
 * whatever the number of ports; a port is an entry of dp->ports and of the
 * ifindex index), the conntrack zones sized
 * from the ENIs' allowances, the flow-log aggregator and file, the reject
 * dumps; and the reload that swaps the rules while the namespaces (and the
 * tracked connections) stay, or follows a topology_update: ports opened
 * and closed, zones remapped, counters carried over for unchanged ENIs.
 * Not the packet path (datapath.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conntrack.h"
#include "datapath-private.h"
#include "natgw.h"
#include "flowlog.h"
#include "log.h"
#include "model.h"
#include "outfile.h"
#include "port.h"
#include "topology.h"
#include "topology_remote.h"

#define DP_FLOWLOG_CAPACITY 65536
/* The largest conntrack pool (4 Mi entries, 416 MiB touched only as it
 * fills): 64 ENIs at the default allowance of 65536. */
#define DP_CT_POOL_MAX (1u << 22)

void datapath_opts_init(struct datapath_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->batch = 64;
	o->pcap_buffer = 0; /* port.h's default for the mode */
	o->flowlog_interval = 60;
	o->file_gid = OUTFILE_NO_GROUP;
}

/* ------------------------------------------------------------ creation */

/* Runs inside the router namespace: the sockets stay there. The rings
 * read every interface of the namespace, so ports added by a reload need
 * nothing opened (datapath_workers.c). */
static int dp_open_rings(void *arg, char *err, size_t errlen)
{
	return dp_workers_open(arg, err, errlen);
}

/*
 * Grows the conntrack pool so that every ENI of lab can fill its allowance
 * whatever the others do (issue 14: a pool sized at start-up and shared by
 * ENIs a reload added let one ENI's flood refuse everyone's new flows).
 * zone_of maps the tracker's current zones to lab's ENIs (NULL: the same
 * indices): a zone keeping more entries than its new allowance keeps them
 * until they idle out, and needs room for them. Past DP_CT_POOL_MAX the
 * ENIs share what there is, said once here and counted per ENI as
 * conntrack_pool_exhausted.
 */
static int dp_ct_reserve(struct datapath *dp, const struct lab *lab, const int32_t *zone_of,
			 char *err, size_t errlen)
{
	uint64_t need = 0;
	uint32_t n_old = ct_n_zones(dp->ct);
	int rc;

	for (size_t i = 0; i < lab->n_enis; i++) {
		uint64_t held = 0;
		struct ct_zone_stats zs;

		for (uint32_t z = 0; z < n_old; z++)
			if ((zone_of ? zone_of[z] : (int32_t)z) == (int32_t)i &&
			    ct_zone_stats(dp->ct, z, &zs) == 0)
				held = zs.tracked;
		need += held > lab->enis[i].ct_allowance ? held : lab->enis[i].ct_allowance;
	}
	if (need > DP_CT_POOL_MAX) {
		log_warn("conntrack: the ENIs' allowances add up to %llu connections, more than "
			 "the %u vpcfwd tracks: ENIs share the pool past that",
			 (unsigned long long)need, DP_CT_POOL_MAX);
		need = DP_CT_POOL_MAX;
	}
	rc = ct_reserve(dp->ct, (uint32_t)need);
	if (rc < 0)
		snprintf(err, errlen, "connection tracker: room for %llu connections: %s",
			 (unsigned long long)need, strerror(-rc));
	return rc;
}

static int dp_open_conntrack(struct datapath *dp, char *err, size_t errlen)
{
	const struct lab *lab = dp->lab;
	struct ct_config cfg = {
	    .capacity = 1024,
	    .n_zones = (uint32_t)(lab->n_enis ? lab->n_enis : 1),
	    .timeouts = lab->opts.default_timeouts,
	    .allowance = lab->opts.default_ct_allowance,
	};
	struct timespec ts;
	int rc;

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
	return dp_ct_reserve(dp, lab, NULL, err, errlen);
}

/* The flow-log file, appended to, in its checked directory. */
static int dp_flowlog_fopen(struct datapath *dp, FILE **out, char *err, size_t errlen)
{
	int fd = outfile_open(dp->flowlog_dirfd, dp->flowlog_dir, dp->flowlog_name, true,
			      dp->opts.file_gid, err, errlen);

	if (fd < 0)
		return fd;
	*out = fdopen(fd, "a");
	if (!*out) {
		snprintf(err, errlen, "flow log %s: %s", dp->opts.flowlog_path, strerror(errno));
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

/* ENI id's reject capture, truncated, in the checked --pcap-dir. */
static pcap_dumper_t *dp_dump_open(struct datapath *dp, const char *eni_id, char *err,
				   size_t errlen)
{
	char name[256];
	pcap_dumper_t *d;
	FILE *f;
	int fd;

	if (snprintf(name, sizeof(name), "%s.pcap", eni_id) >= (int)sizeof(name)) {
		snprintf(err, errlen, "%s: ENI id too long for a file name", eni_id);
		return NULL;
	}
	fd = outfile_open(dp->pcap_dirfd, dp->opts.pcap_dir, name, false, dp->opts.file_gid, err,
			  errlen);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "wb");
	if (!f) {
		snprintf(err, errlen, "%s/%s: %s", dp->opts.pcap_dir, name, strerror(errno));
		close(fd);
		return NULL;
	}
	d = pcap_dump_fopen(dp->dead, f);
	if (!d) {
		snprintf(err, errlen, "%s/%s: %s", dp->opts.pcap_dir, name, pcap_geterr(dp->dead));
		fclose(f);
	}
	return d;
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
	rc = outfile_split(dp->opts.flowlog_path, dp->flowlog_dir, sizeof(dp->flowlog_dir),
			   &dp->flowlog_name);
	if (rc < 0) {
		snprintf(err, errlen, "flow log %s: not a file name", dp->opts.flowlog_path);
		return rc;
	}
	rc = outfile_dir_open(dp->flowlog_dir, &dp->flowlog_dirfd, err, errlen);
	if (rc < 0)
		return rc;
	return dp_flowlog_fopen(dp, &dp->flf, err, errlen);
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
	int rc;

	if (!dp->opts.pcap_dir)
		return 0;
	rc = outfile_dir_open(dp->opts.pcap_dir, &dp->pcap_dirfd, err, errlen);
	if (rc < 0)
		return rc;
	/* GSO frames of the offload mode are up to 64 KiB. */
	dp->dead = pcap_open_dead(DLT_EN10MB, 65536 + 18);
	if (!dp->dead) {
		snprintf(err, errlen, "pcap_open_dead failed");
		return -ENOMEM;
	}
	for (size_t i = 0; i < dp->n_enis; i++) {
		dp->enis[i].dump = dp_dump_open(dp, dp->lab->enis[i].id, err, errlen);
		if (!dp->enis[i].dump)
			return -EIO;
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
	for (size_t i = 0; i < topo->n_ports; i++) {
		dp->ports[i].tp = &topo->ports[i];
		memcpy(dp->ports[i].name, topo->ports[i].name, IFNAMSIZ);
		dp->ports[i].ifindex = topo->ports[i].ifindex;
	}
	for (size_t i = 0; i < dp->n_enis; i++) {
		dp->enis[i].tp = topology_port_to_eni(topo, dp->lab, (int32_t)i);
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
	int rc;

	*out = NULL;
	dp = calloc(1, sizeof(*dp));
	if (!dp) {
		snprintf(err, errlen, "datapath: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	dp->lab = lab;
	dp->topo = topo;
	dp->opts = *o;
	dp->flowlog_dirfd = dp->pcap_dirfd = -1;
	dp->wake_fd = -1;
	pthread_mutex_init(&dp->ct_lock, NULL);
	pthread_mutex_init(&dp->out_lock, NULL);
	pthread_mutex_init(&dp->park_lock, NULL);
	pthread_cond_init(&dp->parked_cv, NULL);
	pthread_cond_init(&dp->resume_cv, NULL);
	if (dp->opts.batch == 0)
		dp->opts.batch = 64;
	rc = dp_map_ports(dp, err, errlen);
	if (rc == 0)
		rc = dp_open_conntrack(dp, err, errlen);
	if (rc == 0)
		rc = dp_open_flowlog(dp, err, errlen);
	if (rc == 0)
		rc = dp_open_dumps(dp, err, errlen);
	if (rc == 0)
		rc = topology_run_in_router(topo, dp_open_rings, dp, err, errlen);
	if (rc == 0) {
		struct dp_port_index ix;

		rc = dp_port_index_build(dp->ports, dp->n_ports, &ix);
		if (rc < 0)
			snprintf(err, errlen, "datapath: %s", strerror(ENOMEM));
		else
			dp_port_index_set(dp, &ix);
	}
	dp_clock(&dp->now_ns, &dp->now_s);
	if (rc == 0)
		rc = dp_workers_start(dp, err, errlen);
	if (rc < 0) {
		datapath_destroy(dp);
		return rc;
	}
	*out = dp;
	return 0;
}

void datapath_destroy(struct datapath *dp)
{
	if (!dp)
		return;
	/* The workers first: nothing counts or logs after this. */
	dp_workers_close(dp);
	if (dp->flf) {
		datapath_flowlog_flush(dp, time(NULL));
		fclose(dp->flf);
	}
	flowlog_destroy(dp->fl);
	free(dp->port_of.slot);
	for (size_t i = 0; i < dp->n_enis; i++)
		if (dp->enis[i].dump)
			pcap_dump_close(dp->enis[i].dump);
	if (dp->dead)
		pcap_close(dp->dead);
	if (dp->flowlog_dirfd >= 0)
		close(dp->flowlog_dirfd);
	if (dp->pcap_dirfd >= 0)
		close(dp->pcap_dirfd);
	ct_destroy(dp->ct);
	natgw_destroy(dp->nat);
	free(dp->ports);
	free(dp->enis);
	pthread_mutex_destroy(&dp->ct_lock);
	pthread_mutex_destroy(&dp->out_lock);
	pthread_mutex_destroy(&dp->park_lock);
	pthread_cond_destroy(&dp->parked_cv);
	pthread_cond_destroy(&dp->resume_cv);
	free(dp);
}

/* ------------------------------------------------------------- reload */

static bool dp_same_subnet(const struct lab *a, const struct eni *x, const struct lab *b,
			   const struct eni *y)
{
	if (x->subnet < 0 || y->subnet < 0)
		return x->subnet == y->subnet;
	return strcmp(a->subnets[x->subnet].id, b->subnets[y->subnet].id) == 0;
}

/* Whether b has a's ENIs (ids, subnets, addresses) and outside hosts in
 * the same order: then a reload changes rules only; else the topology must
 * have been updated first and the ports are rebuilt. */
static bool dp_same_topology(const struct lab *a, const struct lab *b, char *err, size_t errlen)
{
	if (!err) {
		char ignored[256];

		return dp_same_topology(a, b, ignored, sizeof(ignored));
	}
	if (a->n_enis != b->n_enis || a->n_outside != b->n_outside) {
		snprintf(err, errlen, "reload changes the number of ENIs or outside hosts");
		return false;
	}
	for (size_t i = 0; i < a->n_enis; i++) {
		const struct eni *x = &a->enis[i], *y = &b->enis[i];

		if (strcmp(x->id, y->id) != 0 || !dp_same_subnet(a, x, b, y) ||
		    !lab_eni_same_addrs(x, y)) {
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
 * the old file, then write to whatever the name holds now in the directory
 * checked at start. If it cannot be reopened (a symlink planted there, ...)
 * the old file stays in use, with a warning (the rules reload regardless). */
static void dp_reopen_flowlog(struct datapath *dp)
{
	char err[512];
	FILE *f;

	if (!dp->flf)
		return;
	datapath_flowlog_flush(dp, time(NULL));
	if (dp_flowlog_fopen(dp, &f, err, sizeof(err)) < 0) {
		log_warn("flow log not reopened, still writing the old file: %s", err);
		return;
	}
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

	dp_clock(&dp->now_ns, &dp->now_s);
	for (size_t i = 0; i < dp->n_enis; i++)
		ct_zone_retag(dp->ct, (uint32_t)i, dp->now_ns, dp_retag_one, &c);
}

/* Whether the datapath's ports and ENIs are the topology's as they are
 * now (same port names and interfaces, same ENI ids in the same order). */
static bool dp_ports_current(const struct datapath *dp, const struct lab *lab)
{
	const struct topology *topo = dp->topo;

	if (dp->n_ports != topo->n_ports || dp->n_enis != lab->n_enis ||
	    !dp_same_topology(dp->lab, lab, NULL, 0))
		return false;
	for (size_t i = 0; i < dp->n_ports; i++)
		if (strcmp(dp->ports[i].name, topo->ports[i].name) ||
		    dp->ports[i].ifindex != topo->ports[i].ifindex)
			return false;
	return true;
}

/* Whether the topology was built (or updated) for lab: one port per ENI
 * and outside host, in the namespace topology.h names it by. */
static int dp_topology_is(const struct topology *topo, const struct lab *lab, char *err,
			  size_t errlen)
{
	char want[NETNS_NAME_MAX];

	if (topo->n_ports != lab->n_enis + lab->n_outside) {
		snprintf(err, errlen,
			 "reload changes the ENIs or outside hosts but the topology was not "
			 "updated (%zu ports for %zu endpoints)",
			 topo->n_ports, lab->n_enis + lab->n_outside);
		return -EINVAL;
	}
	for (size_t j = 0; j < lab->n_enis + lab->n_outside; j++) {
		bool eni = j < lab->n_enis;
		int32_t k = (int32_t)(eni ? j : j - lab->n_enis);
		const struct topology_port *tp =
		    eni ? topology_port_of_eni(topo, k) : topology_port_of_outside(topo, k);
		int bad = eni ? topology_eni_netns(lab, k, want, sizeof(want))
			      : topology_outside_netns(lab, k, want, sizeof(want));

		if (!tp || bad || strcmp(tp->netns, want)) {
			snprintf(err, errlen,
				 "reload changes %s %s but the topology was not updated",
				 eni ? "ENI" : "outside host",
				 eni ? lab->enis[k].id : lab->outside[k].name);
			return -EINVAL;
		}
	}
	return 0;
}

/* The new port and ENI arrays of a reload that changed the topology,
 * built beside the running ones so that a failure changes nothing. */
struct dp_rebuild {
	struct datapath *dp;
	const struct lab *next;
	struct dp_port *ports;
	struct dp_eni *enis;
	struct dp_port_index index; /* of ports */
	int32_t *zone_of;	    /* old ENI -> new ENI, or -1 */
	bool *dump_kept;	    /* per old ENI */
	char *err;
	size_t errlen;
};

/* The ports of the updated topology: nothing to open, the ring reads
 * every interface; the index goes in with them. */
static int dp_rebuild_ports(struct dp_rebuild *rb)
{
	const struct topology *topo = rb->dp->topo;

	for (size_t j = 0; j < topo->n_ports; j++) {
		const struct topology_port *tp = &topo->ports[j];

		rb->ports[j].tp = tp;
		memcpy(rb->ports[j].name, tp->name, IFNAMSIZ);
		rb->ports[j].ifindex = tp->ifindex;
	}
	if (dp_port_index_build(rb->ports, topo->n_ports, &rb->index) < 0) {
		snprintf(rb->err, rb->errlen, "datapath: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

/* Maps the next lab's ENIs to ports and to the running ENIs they continue
 * (same id): those carry their counters and reject dump, and their
 * conntrack zone when their port was kept. */
static int dp_rebuild_enis(struct dp_rebuild *rb)
{
	struct datapath *dp = rb->dp;
	const struct lab *next = rb->next;

	for (size_t i = 0; i < dp->n_enis; i++)
		rb->zone_of[i] = -1;
	for (size_t j = 0; j < next->n_enis; j++) {
		struct dp_eni *ne = &rb->enis[j];

		ne->tp = topology_port_to_eni(dp->topo, next, (int32_t)j);
		if (!ne->tp) {
			snprintf(rb->err, rb->errlen, "datapath: ENI %s has no port",
				 next->enis[j].id);
			return -EINVAL;
		}
		for (size_t i = 0; i < dp->n_enis; i++) {
			const struct dp_port *op = NULL;

			if (rb->dump_kept[i] || strcmp(dp->lab->enis[i].id, next->enis[j].id))
				continue;
			/* Counters and the dump file are the ENI id's; its
			 * tracked flows only live on while its port does. */
			ne->st = dp->enis[i].st;
			ne->dump = dp->enis[i].dump;
			rb->dump_kept[i] = true;
			for (size_t k = 0; k < dp->n_ports && !op; k++)
				if (dp->ports[k].tp == dp->enis[i].tp)
					op = &dp->ports[k];
			if (op && !strcmp(op->name, ne->tp->name) && op->ifindex == ne->tp->ifindex)
				rb->zone_of[i] = (int32_t)j;
			break;
		}
		if (!ne->dump && dp->dead) {
			ne->dump = dp_dump_open(dp, next->enis[j].id, rb->err, rb->errlen);
			if (!ne->dump)
				return -EIO;
		}
	}
	return 0;
}

static void dp_rebuild_free(struct dp_rebuild *rb, size_t n_enis, bool failed)
{
	struct datapath *dp = rb->dp;

	for (size_t j = 0; failed && rb->enis && j < n_enis; j++) {
		bool kept = false;

		for (size_t i = 0; i < dp->n_enis && !kept; i++)
			kept = dp->enis[i].dump == rb->enis[j].dump;
		if (!kept && rb->enis[j].dump)
			pcap_dump_close(rb->enis[j].dump);
	}
	if (failed) {
		free(rb->ports);
		free(rb->enis);
	}
	free(rb->index.slot);
	free(rb->zone_of);
	free(rb->dump_kept);
}

/* A reload whose lab changed the topology (topology_update ran first):
 * the port array and its ifindex index are rebuilt (the ring stays: it
 * reads every interface of the namespace), the conntrack zones follow their ENIs to the new indices
 * (removed ENIs' zones flushed), counters and dumps stay with unchanged ENIs. Nothing changes on
 * failure, except that the port pointers into the topology must be refreshed by the next reload
 * (the caller restores the topology and reloads the old lab, which takes this path again). */
static int dp_reload_topology(struct datapath *dp, const struct lab *next, char *err, size_t errlen)
{
	const struct topology *topo = dp->topo;
	struct dp_rebuild rb = {.dp = dp, .next = next, .err = err, .errlen = errlen};
	size_t np = topo->n_ports, ne = next->n_enis;
	struct dp_eni_stats **wes;
	int rc;

	/* The ENIs' counters carried over are dp->enis[].st: the workers'
	 * shares go there first (they are parked). */
	dp_workers_fold(dp);
	wes = dp_workers_alloc_enis(dp, ne);
	rb.ports = calloc(np ? np : 1, sizeof(*rb.ports));
	rb.enis = calloc(ne ? ne : 1, sizeof(*rb.enis));
	rb.zone_of = calloc(dp->n_enis ? dp->n_enis : 1, sizeof(*rb.zone_of));
	rb.dump_kept = calloc(dp->n_enis ? dp->n_enis : 1, sizeof(*rb.dump_kept));
	rc = wes && rb.ports && rb.enis && rb.zone_of && rb.dump_kept ? 0 : -ENOMEM;
	if (rc)
		snprintf(err, errlen, "datapath: %s", strerror(ENOMEM));
	if (!rc)
		rc = dp_rebuild_ports(&rb);
	if (!rc)
		rc = dp_rebuild_enis(&rb);
	if (!rc)
		rc = dp_ct_reserve(dp, next, rb.zone_of, err, errlen);
	if (!rc) {
		rc = ct_zones_remap(dp->ct, rb.zone_of, (uint32_t)(ne ? ne : 1));
		if (rc < 0)
			snprintf(err, errlen, "connection tracker: %s", strerror(-rc));
	}
	if (rc < 0) {
		dp_workers_free_enis(dp, wes);
		dp_rebuild_free(&rb, ne, true);
		return rc;
	}
	/* Committed: the old ENIs' aggregated records point at their
	 * flow-log interfaces, which go now. */
	datapath_flowlog_flush(dp, time(NULL));
	for (size_t i = 0; i < dp->n_enis; i++)
		if (!rb.dump_kept[i] && dp->enis[i].dump)
			pcap_dump_close(dp->enis[i].dump);
	free(dp->ports);
	free(dp->enis);
	dp->ports = rb.ports;
	dp->n_ports = np;
	dp->enis = rb.enis;
	dp->n_enis = ne;
	dp_workers_set_enis(dp, wes);
	dp_port_index_set(dp, &rb.index);
	/* Fragments remember ports of the old arrays. */
	memset(dp->frags, 0, sizeof(dp->frags));
	dp_rebuild_free(&rb, ne, false);
	return 0;
}

static int dp_reload(struct datapath *dp, const struct lab *lab, char *err, size_t errlen)
{
	bool same = dp_ports_current(dp, lab);

	if (same) {
		/* The topology may have been updated and restored (a failed
		 * reload): its array is new even if its ports are not. */
		for (size_t i = 0; i < dp->n_ports; i++)
			dp->ports[i].tp = &dp->topo->ports[i];
		for (size_t i = 0; i < dp->n_enis; i++)
			dp->enis[i].tp = topology_port_to_eni(dp->topo, lab, (int32_t)i);
	}
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
	if (!same) {
		int rc = dp_topology_is(dp->topo, lab, err, errlen);

		if (rc == 0)
			rc = dp_reload_topology(dp, lab, err, errlen);

		if (rc < 0)
			return rc;
	} else {
		int rc = dp_ct_reserve(dp, lab, NULL, err, errlen);

		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < lab->n_enis; i++)
		ct_zone_configure(dp->ct, (uint32_t)i, &lab->enis[i].timeouts,
				  lab->enis[i].ct_allowance);
	/* Zones are the new ENIs' now; group indices are still the old lab's. */
	dp_retag(dp, lab);
	dp->lab = lab;
	dp->nat_lab = NULL; /* dp_nat compares the gateways on the next packet */
	dp->generation++;
	for (size_t i = 0; i < dp->n_enis; i++)
		dp_fill_iface(dp, i);
	dp_reopen_flowlog(dp);
	return 0;
}

/* The workers parked for the commit (vpcfwd parks them already around
 * topology_update; nested, this is then a no-op): every one goes from the
 * old rules to the new ones between two of its batches. */
int datapath_reload(struct datapath *dp, const struct lab *lab, char *err, size_t errlen)
{
	int rc;

	datapath_pause(dp);
	rc = dp_reload(dp, lab, err, errlen);
	datapath_resume(dp);
	return rc;
}

static int dp_reattach(struct datapath *dp, char *err, size_t errlen)
{
	if (!dp_ports_current(dp, dp->lab))
		return dp_reload_topology(dp, dp->lab, err, errlen);
	for (size_t i = 0; i < dp->n_ports; i++)
		dp->ports[i].tp = &dp->topo->ports[i];
	for (size_t i = 0; i < dp->n_enis; i++)
		dp->enis[i].tp = topology_port_to_eni(dp->topo, dp->lab, (int32_t)i);
	return 0;
}

int datapath_reattach(struct datapath *dp, char *err, size_t errlen)
{
	int rc;

	datapath_pause(dp);
	rc = dp_reattach(dp, err, errlen);
	datapath_resume(dp);
	return rc;
}

bool datapath_topology_differs(const struct datapath *dp, const struct lab *lab)
{
	return !dp_same_topology(dp->lab, lab, NULL, 0);
}

uint32_t datapath_generation(const struct datapath *dp)
{
	return dp->generation;
}
