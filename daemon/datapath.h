/*
 * The frame handler: every frame captured on a router port is parsed once
 * (rules/packet), answered when it is ARP or Neighbor Discovery for the VPC
 * router, and otherwise decided by rules/forward (AWS-SEMANTICS §1, §4, §9:
 * the ENIs, the internet gateway's translation, the stages with the
 * connection-tracking zones' say), then forwarded with rewritten MACs and
 * addresses or dropped silently. Every verdict is counted per ENI and stage
 * and fed to flow-log aggregation.
 *
 * One capture ring per worker thread for the whole router (opts.workers;
 * the workers share the connection tracker and the NAT and fragment
 * tables, and count apart); with offloads kept the rings use
 * PACKET_VNET_HDR and hand over 64 KiB GSO frames with their virtio-net
 * header, forwarded in place with it (PERF.md item 3).
 *
 * Not for: building the topology (daemon/topology), the event loop
 * (daemon/loop), deciding policy (rules/forward). The packet path never
 * logs and never allocates except a tracked connection from the pool.
 *
 * Usage (from the thread that will run the loop; root, topology built):
 *	struct datapath_opts o;
 *	datapath_opts_init(&o);
 *	o.flowlog_path = "/var/log/vpcfw/flow.log";
 *	struct datapath *dp;
 *	if (datapath_create(lab, topo, &o, &dp, err, sizeof(err)) < 0) ...
 *	struct loop *l;  loop_create(dp, &l, ...);  loop_run(l);  (daemon/loop.h)
 *	datapath_destroy(dp);
 * The lab and the topology must outlive the datapath.
 */
#ifndef VPCFW_DATAPATH_H
#define VPCFW_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

struct lab;
struct topology;
struct datapath;

struct datapath_opts {
	unsigned batch;	      /* frames per pcap_dispatch and per sendmmsg; 64 */
	uint32_t pcap_buffer; /* bytes of the router's capture ring; 0: 32 MiB (64 with offloads) */
	const char *flowlog_path;   /* NULL: no flow-log file */
	const char *flowlog_format; /* NULL: AWS's default version-2 format */
	uint32_t flowlog_interval;  /* aggregation seconds; 60 */
	const char *account_id;	    /* flow-log account-id field; NULL: "-" */
	const char *pcap_dir;	    /* NULL: rejected frames not saved; else DIR/<eni-id>.pcap */
	/* Group of the flow log and the captures (the control group);
	 * (gid_t)-1: vpcfwd's. Both are opened as daemon/outfile.h says. */
	gid_t file_gid;
	/* Worker threads, each reading its own ring of one PACKET_FANOUT
	 * group (docs/datapath.md). 0: no thread, the event loop reads the
	 * one ring (datapath_capture_ready). vpcfwd: --workers, default the
	 * CPUs it may run on. */
	unsigned workers;
	/* Microseconds a worker keeps polling its ring after the last frame
	 * before it sleeps in poll() (the wake-up's latency is the cost to
	 * beat while traffic flows); 0: never spin. Workers only. */
	unsigned busy_poll_us;
};

void datapath_opts_init(struct datapath_opts *o);
/* The CPUs this process may run on (sched_getaffinity), at least 1: the
 * default number of workers. */
unsigned datapath_default_workers(void);

/* Opens the router's capture ring and transmit socket inside the router
 * namespace, creates the conntrack zones and the flow-log
 * aggregator. 0, or a negative errno-style code and a message in err
 * (nothing is left open). */
int datapath_create(const struct lab *lab, const struct topology *topo,
		    const struct datapath_opts *o, struct datapath **out, char *err, size_t errlen);
/* Flushes pending flow-log records and closes everything. NULL allowed. */
void datapath_destroy(struct datapath *dp);

/* Replaces the rules (SIGHUP). When the new lab adds, removes or changes
 * ENIs or outside hosts, topology_update must have brought the topology to
 * it first: the ports are re-indexed by ifindex (the ring reads every
 * interface already, nothing is opened or closed), conntrack zones follow
 * their ENIs
 * (ct_zones_remap: unchanged ENIs keep their tracked flows, removed ENIs'
 * zones are flushed) and unchanged ENIs keep their counters and reject
 * dumps. On failure (-errno, err) the old rules stay; when the topology
 * was updated the caller restores it (topology_update back to the old lab)
 * and calls datapath_reattach.
 * After a success call loop_ports_changed (a no-op while the one ring
 * stays, kept for rings that change with the ports later). Tracked
 * connections survive (AWS-SEMANTICS §4). Call from the loop's thread; the
 * caller frees the old lab afterwards. The flow-log file is reopened
 * (logrotate), the running interval's records written into the old one
 * first. */
int datapath_reload(struct datapath *dp, const struct lab *lab, char *err, size_t errlen);

/* After a topology_update that failed or was undone (the topology holds
 * the running lab's ports again, some of them rebuilt with new
 * interfaces): re-indexes rebuilt ports and re-points the rest, rules
 * unchanged. 0 or -errno (err). Then call loop_ports_changed. */
int datapath_reattach(struct datapath *dp, char *err, size_t errlen);

/* Whether lab's ENIs or outside hosts (ids, subnets, addresses) differ
 * from the running lab's: then topology_update must run before the reload. */
bool datapath_topology_differs(const struct datapath *dp, const struct lab *lab);

/* The rules generation: 0 at creation, +1 per successful reload. Tracked
 * connections' ct_rule_ref carry the generation their group/rule indices
 * belong to: a reload moves them to the new lab's indices when the same
 * rule (same group id, identical rule) is still there, else they keep the
 * old generation (the admitting rule was removed or changed). */
uint32_t datapath_generation(const struct datapath *dp);

/* For daemon/loop: the capture fds and the work to do when one is
 * readable (one bounded batch, then a transmit flush): the one ring when
 * there are no worker threads (opts.workers 0), none when workers read
 * the rings themselves. The ports are only counted (`vpcfw status`):
 * frames name their port themselves. */
size_t datapath_n_ports(const struct datapath *dp);
size_t datapath_n_captures(const struct datapath *dp);
int datapath_capture_fd(const struct datapath *dp, size_t i);
/* Returns frames handled (one batch at most). */
int datapath_capture_ready(struct datapath *dp, size_t i);
/* Parks every worker between two batches (a quiescent point: no frame in
 * flight, nothing of the rules or ports referenced) until
 * datapath_resume: a reload's commit, topology_update included, runs
 * while they wait, so that every worker goes from the old rules to the new
 * ones at once. Nests; a no-op without worker threads. Loop thread only. */
void datapath_pause(struct datapath *dp);
void datapath_resume(struct datapath *dp);
/* Held around reading the connection tracker from the loop's thread
 * (ct_zone_walk for `vpcfw flows`): the workers update it meanwhile. */
void datapath_tracker_lock(struct datapath *dp);
void datapath_tracker_unlock(struct datapath *dp);

/* Once a second: conntrack sweeping with a budget, flow-log flush. */
void datapath_tick(struct datapath *dp, time_t now);
/* Forces out every aggregated flow-log record now (tests, shutdown). */
void datapath_flowlog_flush(struct datapath *dp, time_t now);

/* Counters. Stages in AWS order; a rejection is counted on the ENI whose
 * stage rejected (the sender's for SG/NACL egress, the receiver's for
 * ingress), as flow logs record it (AWS-SEMANTICS §6). */
enum dp_stage {
	DP_STAGE_SG_EGRESS,
	DP_STAGE_NACL_EGRESS,
	DP_STAGE_NACL_INGRESS,
	DP_STAGE_SG_INGRESS,
	DP_STAGE_MAX
};

enum dp_dir { DP_DIR_EGRESS, DP_DIR_INGRESS, DP_DIR_MAX };

struct dp_eni_stats {
	uint64_t accepted_pkts[DP_DIR_MAX];
	uint64_t accepted_bytes[DP_DIR_MAX];
	uint64_t rejected_pkts[DP_STAGE_MAX];
	uint64_t rejected_bytes[DP_STAGE_MAX];
	uint64_t fast_path_pkts; /* passed this ENI's SG stage by a tracked flow */
	uint64_t untracked_pkts; /* accepted by an untracked rule (AWS-SEMANTICS §4) */
	uint64_t conntrack_allowance_exceeded;	/* new flows refused: ENI's allowance */
	uint64_t conntrack_pool_exhausted;	/* new flows refused: vpcfwd's pool full */
	uint64_t conntrack_allowance_available; /* filled by datapath_eni_stats */
	uint64_t tracked;			/* connections in the zone now, filled likewise */
};

/* Why a frame was dropped before or beside the rules. */
enum dp_drop {
	DP_DROP_NOT_IP,		 /* neither IPv4, IPv6, ARP nor ND */
	DP_DROP_ARP_IGNORED,	 /* ARP not asking for an address we answer for */
	DP_DROP_ND_IGNORED,	 /* ICMPv6 ND/RS/RA etc. not answered */
	DP_DROP_UNKNOWN_SOURCE,	 /* source address not the ENI of that port */
	DP_DROP_UNKNOWN_DEST,	 /* no ENI, outside host or route for the destination */
	DP_DROP_NO_ROUTE,	 /* no route to/from the internet gateway */
	DP_DROP_NO_PUBLIC_IP,	 /* to/from the internet without a public IP */
	DP_DROP_TRUNCATED,	 /* captured length < frame length (offloads on) */
	DP_DROP_TX_FULL,	 /* frame larger than a transmit slot */
	DP_DROP_HAIRPIN,	 /* destination is the port it came from, not an ENI */
	DP_DROP_FRAGMENT,	 /* later fragment whose first one was not accepted or seen */
	DP_DROP_LINK_LOCAL,	 /* IPv6 link-local / multicast (MLD, ...): never routed */
	DP_DROP_VLAN,		 /* 802.1Q/802.1ad-tagged: a VPC carries untagged frames only */
	DP_DROP_NAT_UNSOLICITED, /* at a NAT gateway's Elastic IP, answering no connection */
	DP_DROP_NAT_PORTS,	 /* a NAT gateway had no port left, or nothing to translate */
	DP_DROP_MAX
};

#define DP_MALFORMED_MAX 32

struct dp_stats {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts, tx_bytes, tx_errors, tx_syscalls;
	uint64_t arp_replies, nd_replies;
	uint64_t accepted_pkts, rejected_pkts;
	uint64_t fast_path_pkts, slow_path_pkts;
	uint64_t malformed_total;
	uint64_t malformed[DP_MALFORMED_MAX]; /* index: rules/packet's reason */
	uint64_t drops[DP_DROP_MAX];
	uint64_t pcap_kernel_drops; /* filled by datapath_stats */
	uint64_t conntrack_allowance_exceeded;
	uint64_t conntrack_pool_exhausted; /* past DP_CT_POOL_MAX only (docs/datapath.md) */
	/* The pool: entries it holds room for (the ENIs' allowances, grown by
	 * reloads) and entries in use; filled by datapath_stats. */
	uint64_t conntrack_pool_capacity, conntrack_pool_in_use;
	uint64_t port_errors;	       /* capture statistics that could not be read */
	uint64_t flowlog_records;      /* flow-log records written (filled by datapath_stats) */
	uint64_t flowlog_packets_lost; /* packets the full aggregation table could not take */
};

/* A snapshot (copies; safe to keep). eni_stats may be NULL; else it must
 * hold n_enis entries (lab->n_enis). */
void datapath_stats(struct datapath *dp, struct dp_stats *out, struct dp_eni_stats *eni_stats,
		    size_t n_enis);
const char *dp_drop_name(enum dp_drop d); /* "no-route", ... */

/* Read-only views for the control socket (`vpcfw flows`: ct_zone_walk on
 * zone = ENI index under datapath_tracker_lock; the lab the rules
 * currently come from). Loop thread only, like everything here but the
 * workers' own packet path. */
struct conntrack;
const struct conntrack *datapath_conntrack(const struct datapath *dp);
const struct lab *datapath_lab(const struct datapath *dp);

/* Every counter as JSON, written by one table per stats struct: the shape
 * `vpcfw stats` answers (docs/control.md: "global" and "enis" as an array
 * in lab order) or the one vpcfwd logs on SIGUSR1 and tests read (the
 * global counters at the top, "enis" keyed by ENI id). Each ENI object is
 * the same in both. NULL when out of memory. Not for the packet path. */
enum dp_stats_layout { DP_STATS_NESTED, DP_STATS_FLAT };
/* A snapshot (datapath_stats) as JSON in that layout, plus "generation" and
 * "workers": per worker its frames received and sent and its ring's
 * drops, the sums of which are the global counters. */
json_t *datapath_stats_json(struct datapath *dp, enum dp_stats_layout layout);

#endif
