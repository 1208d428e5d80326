/*
 * Reading the state file a running vpcfwd keeps at
 * /run/vpcfw/<lab>/topology.state (what it built, daemon/topology_state.c
 * writes it), and looking a name up in it for `vpcfw exec`. The format,
 * one record per line, fields separated by one space, free text
 * percent-escaped (topo_state_escape):
 *	vpcfw-topology 1
 *	owner PID STARTTIME
 *	router NETNS
 *	port IFNAME NETNS eni|outside ENI-ID INSTANCE-ID DEVICE-INDEX NAME
 *
 * Not for writing, locking or cleaning up after a dead daemon: the daemon
 * does that.
 */
#ifndef VPCFW_LABSTATE_H
#define VPCFW_LABSTATE_H

#include <net/if.h>
#include <stddef.h>
#include <sys/types.h>

#include "labnames.h"

#define TOPO_STATE_MAGIC "vpcfw-topology 1"

/* One port line of a state file. */
struct topo_state_port {
	char ifname[IFNAMSIZ];
	char netns[NETNS_NAME_MAX];
	char kind[16];	 /* "eni" or "outside" */
	char eni_id[64]; /* "-" when none */
	char instance_id[64];
	int device_index;
	char name[256]; /* Name tag or outside host name, "-" when none */
};

/* A parsed state file. */
struct topo_state {
	pid_t pid; /* 0: no owner line (yet) */
	unsigned long long start;
	char router[NETNS_NAME_MAX];
	struct topo_state_port *ports;
	size_t n_ports;
};

/* Reads the whole file from fd (at offset 0, whatever fd's position); a
 * torn last line (a crash mid-write) is ignored, it names nothing that was
 * created yet. 0, -EINVAL (not a state file) or -ENOMEM; free st either
 * way. */
int topo_state_read(int fd, struct topo_state *st);
void topo_state_free(struct topo_state *st);

/* s ("-" when NULL or empty) with blanks, '%' and controls as %XX, into out
 * (truncated to len). */
void topo_state_escape(const char *s, char *out, size_t len);

/* For `vpcfw exec`: finds the namespace of NAME (label, Name tag, ENI id,
 * instance id or outside host name) in the state files of running labs
 * (only lab's when lab is not NULL). 0, -ENOENT, or -EEXIST (ambiguous:
 * several labs). */
int topology_lookup_netns(const char *lab, const char *name, char *buf, size_t len);

#endif
