/*
 * The datapath's state, shared by its own files only (datapath.c: the
 * packet path and set-up; datapath_stats.c: counters and their JSON).
 * Nobody else includes this: daemon/datapath.h is the interface.
 */
#ifndef VPCFW_DATAPATH_PRIVATE_H
#define VPCFW_DATAPATH_PRIVATE_H

#include <pcap/pcap.h>
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
	/* The capture ring this port's frames arrive on (dp->ring: shared by
	 * every port of the router, owned by the datapath, not the port). */
	struct port *port;
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

struct datapath {
	const struct lab *lab;
	const struct topology *topo;
	struct datapath_opts opts;
	struct dp_port *ports;
	size_t n_ports;
	struct dp_eni *enis;
	size_t n_enis;
	struct port *ring; /* the router's capture ring (port.h) */
	struct port_tx *tx;
	struct dp_port_index port_of; /* ifindex -> index in ports */
	uint64_t foreign_frames; /* captured on an interface that is no port */
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
	struct dp_stats st;
	/* Per batch: the clocks and the port being read. */
	uint64_t now_ns;
	time_t now_s;
	size_t cur_port;
	uint32_t generation;
	char err[PCAP_ERRBUF_SIZE + 64];
	struct dp_frag frags[DP_FRAG_SLOTS];
};

/* The frame handler (datapath.c): one captured frame of port dp->cur_port. */
void dp_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *frame);

/* Fragments (dp_frag.c). An accepted first fragment: remember where its
 * datagram goes. */
void dp_frag_record(struct datapath *dp, const struct topology_port *in, const struct pkt *p,
		    const struct fwd_decision *d, const struct topology_port *out);
/* A later fragment: its first fragment's decision in *d (accepted, ENIs,
 * translation) and egress port, or NULL when that one was not accepted or
 * not seen (or came in elsewhere). */
const struct topology_port *dp_frag_follow(struct datapath *dp, const struct topology_port *in,
					   const struct pkt *p, struct fwd_decision *d);

/* Reads the clocks the packet path stamps a batch with. */
void dp_clock(struct datapath *dp);

/* The index of n ports (0 or -ENOMEM), built beside the running one; then
 * installed with the ports it was built from (after any change of
 * dp->ports), which it points at the ring. */
int dp_port_index_build(const struct dp_port *ports, size_t n, struct dp_port_index *out);
void dp_port_index_set(struct datapath *dp, struct dp_port_index *ix);
/* Frames the capture ring dropped (full) since it was opened. */
uint64_t dp_kernel_drops(struct datapath *dp);

#endif
