/*
 * The datapath's state, shared by its own files only (datapath.c: the
 * packet path and set-up; datapath_stats.c: counters and their JSON).
 * Nobody else includes this: daemon/datapath.h is the interface.
 */
#ifndef VPCFW_DATAPATH_PRIVATE_H
#define VPCFW_DATAPATH_PRIVATE_H

#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "datapath.h"
#include "flowlog.h"
#include "forward.h"
#include "topology.h"

struct port;
struct port_tx;
struct conntrack;
struct flowlog;
struct pkt;

struct dp_port {
	const struct topology_port *tp;
	/* Copies of tp's identity: a hot reload replaces the topology's port
	 * array, and a kept port is found again by these. */
	char name[IFNAMSIZ];
	int ifindex;
};

/* Open addressing: mask + 1 slots of {ifindex, index in ports}, ifindex 0
 * marking an empty slot (datapath_io.c). */
struct dp_port_index {
	int32_t (*slot)[2];
	uint32_t mask;
};

struct dp_eni {
	const struct topology_port *tp; /* its port: ifindex, router MAC, eth0 MAC */
	struct flowlog_iface fl;
	pcap_dumper_t *dump;
	struct dp_eni_stats st;
};

/* Where the first fragment of a datagram went: later fragments carry no
 * ports, so they follow its decision (and route) instead of the rules
 * (dp_frag.c). A fixed table, overwritten by hash: no allocation on the
 * packet path. */
#define DP_FRAG_SLOTS 256
#define DP_FRAG_TIMEOUT_NS (30ull * 1000000000ull) /* Linux's ipfrag_time */

struct dp_frag {
	struct ip_addr src, dst;
	uint32_t id;
	uint8_t proto;
	bool used;
	uint64_t expires_ns;
	const struct topology_port *in; /* where the first one came from */
	/* the first fragment's decision: its ENIs, egress and translation */
	int32_t src_eni, dst_eni;
	const struct topology_port *out;
	struct fwd_xlate xlate;
};

/*
 * One worker: a capture ring in the router's PACKET_FANOUT group, its own
 * transmit socket, and its share of the counters (summed when read:
 * datapath_stats). Only its thread writes them (dp_count), so that the
 * packet path shares no cache line of counters with the other workers.
 * Without worker threads (opts.workers 0) workers[0] is read by the
 * loop's thread (datapath_capture_ready).
 */
struct dp_worker {
	struct datapath *dp;
	struct port *ring;
	struct port_tx *tx;
	struct dp_stats st;
	struct dp_eni_stats *es; /* dp->n_enis of them */
	uint64_t foreign_frames; /* captured on an interface that is no port */
	/* Per batch: the clocks and the port being read. */
	uint64_t now_ns;
	time_t now_s;
	size_t cur_port;
	pthread_t thread;
	bool started;
};

/* A counter of one writer (a worker, or the loop's thread for dp->st and
 * dp->enis[].st) read by the loop's thread: a relaxed atomic store costs a
 * plain add and never tears. */
static inline void dp_count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

struct datapath {
	const struct lab *lab;
	const struct topology *topo;
	struct datapath_opts opts;
	struct dp_port *ports;
	size_t n_ports;
	struct dp_eni *enis;
	size_t n_enis;
	struct dp_worker *workers; /* n_workers, at least one */
	unsigned n_workers;
	bool threaded; /* workers run their own threads (opts.workers > 0) */
	/* Parking the workers for a reload's commit (datapath_workers.c). */
	pthread_mutex_t park_lock;
	pthread_cond_t parked_cv, resume_cv;
	unsigned parked, pause_depth;
	int pause_req, stop;	      /* atomics */
	int wake_fd;		      /* an eventfd every worker polls besides its ring */
	struct dp_port_index port_of; /* ifindex -> index in ports */
	/* The tracker, the NAT gateways' table and the fragment table are
	 * one for all workers: the two directions of a translated
	 * connection carry different tuples and may reach different
	 * workers. ct_lock covers each decision whole (lookup, stages,
	 * commit), so allowances stay exact; out_lock the flow-log
	 * aggregation and the reject dumps. */
	pthread_mutex_t ct_lock, out_lock;
	struct conntrack *ct;
	/* NAT gateways' translations (rules/natgw), for the gateways of
	 * nat_lab: NULL until a lab with gateways needs it (dp_nat). */
	struct natgw *nat;
	const struct lab *nat_lab; /* the lab dp_nat last saw (compared only) */
	struct flowlog *fl;
	FILE *flf;
	/* Checked directories the output files are opened in (outfile.h),
	 * held so that a reopen cannot be redirected; -1 when unused. */
	int flowlog_dirfd, pcap_dirfd;
	char flowlog_dir[4096];
	const char *flowlog_name; /* last component of opts.flowlog_path */
	pcap_t *dead;		  /* link type and snaplen for the reject dumps */
	/* What the loop's thread counts, and what a reload folded in from
	 * the workers (dp_workers_fold). */
	struct dp_stats st;
	/* The loop thread's clocks (tick, reload). */
	uint64_t now_ns;
	time_t now_s;
	uint32_t generation;
	char err[PCAP_ERRBUF_SIZE + 64];
	struct dp_frag frags[DP_FRAG_SLOTS];
};

/* The frame handler (datapath.c): one captured frame of port w->cur_port
 * (user is the struct dp_worker reading it). */
void dp_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *frame);

/* Fragments (dp_frag.c; called with ct_lock held). An accepted first
 * fragment: remember where its datagram goes. */
void dp_frag_record(struct datapath *dp, uint64_t now_ns, const struct topology_port *in,
		    const struct pkt *p, const struct fwd_decision *d,
		    const struct topology_port *out);
/* A later fragment: its first fragment's decision in *d (accepted, ENIs,
 * translation) and egress port, or NULL when that one was not accepted or
 * not seen (or came in elsewhere). */
const struct topology_port *dp_frag_follow(struct datapath *dp, uint64_t now_ns,
					   const struct topology_port *in, const struct pkt *p,
					   struct fwd_decision *d);

/* Reads the clocks the packet path stamps a batch with. */
void dp_clock(uint64_t *now_ns, time_t *now_s);

/* The index of n ports (0 or -ENOMEM), built beside the running one; then
 * installed with the ports it was built from (after any change of
 * dp->ports). */
int dp_port_index_build(const struct dp_port *ports, size_t n, struct dp_port_index *out);
void dp_port_index_set(struct datapath *dp, struct dp_port_index *ix);
/* Frames capture ring w dropped (full) since it was opened. */
uint64_t dp_kernel_drops(struct datapath *dp, struct dp_worker *w);
/* One bounded batch of w's ring, then its transmit flush; frames read. */
int dp_worker_batch(struct dp_worker *w);

/* Workers (datapath_workers.c). Opens every worker's ring and transmit
 * socket (inside the router namespace); 0 or -errno with err. */
int dp_workers_open(struct datapath *dp, char *err, size_t errlen);
/* Starts the threads (opts.workers > 0); 0 or -errno with err. */
int dp_workers_start(struct datapath *dp, char *err, size_t errlen);
/* Stops and joins the threads, closes rings and sockets. */
void dp_workers_close(struct datapath *dp);
/* Adds each worker's ENI counters to dp->enis[].st and zeroes them (the
 * workers parked): a reload carries dp->enis[].st over. */
void dp_workers_fold(struct datapath *dp);
/* Zeroed per-ENI counters for n ENIs, one array per worker, to install
 * with dp_workers_set_enis once the reload commits. NULL on no memory. */
struct dp_eni_stats **dp_workers_alloc_enis(const struct datapath *dp, size_t n);
void dp_workers_set_enis(struct datapath *dp, struct dp_eni_stats **es);
void dp_workers_free_enis(const struct datapath *dp, struct dp_eni_stats **es);
/* Every worker's counters (and the loop thread's) summed: the global ones
 * and those of the first n ENIs (es may be NULL). */
void dp_workers_sum(struct datapath *dp, struct dp_stats *out, struct dp_eni_stats *es, size_t n);
/* Per worker: frames received and sent, ring drops (`vpcfw stats`). */
json_t *dp_workers_json(struct datapath *dp);

#endif
