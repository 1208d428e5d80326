/*
 * A lab as network namespaces. topology_create turns a struct lab into:
 *
 *   - one router namespace "vpcfw-router-<lab>" owned by the daemon, where
 *     every port lives, with IPv6 disabled, no addresses, no routes, and an
 *     nftables netdev table whose ingress chains drop every frame (nft.h):
 *     the daemon's AF_PACKET ring (one TPACKET_V2 ring for the whole
 *     namespace, port.h) sees each frame first, the kernel never acts;
 *   - per ENI a namespace "vpcfw-<label>" (label: the Name tag when it is
 *     [a-z0-9-], at most 15 characters and unique in the lab, else the ENI
 *     id) whose eth0 carries the ENI's private IPv4 and IPv6 addresses with
 *     the subnet's prefix lengths, a default route via the subnet router
 *     (base + 1) and an IPv6 default route via TOPOLOGY_ROUTER_LL6;
 *   - per declared outside host a namespace "vpcfw-<name>" with its address
 *     as a /32 or /128 and an on-link default route (it resolves every
 *     destination by ARP/ND, as a host behind an internet gateway would see
 *     one router answering for everything);
 *   - per namespace a veth pair eth0 <-> router port, MTU lab->opts.mtu on
 *     both ends, checksum/segmentation offloads off unless kept
 *     (docs/offloads.md says why and what it costs).
 *
 * All or nothing: a failure, or a stop request (topology_options.stop),
 * removes what was built and says why. Building is batched (a thousand
 * ENIs are a few dozen rtnetlink and nftables round trips, not ten
 * thousand; docs/topology.md has the figures), and so is removal. A state
 * file /run/vpcfw/<lab>/topology.state, locked for the daemon's lifetime,
 * lists what was built, so the next start after a crash or SIGKILL removes
 * what a dead daemon left; a namespace name that exists and is not such
 * stale state makes topology_create refuse, creating nothing.
 *
 * What the data path answers as the VPC router: on an ENI port every ARP
 * request and IPv6 neighbour solicitation for another address (the subnet
 * router, DNS, peers in the same subnet, TOPOLOGY_ROUTER_LL6) gets the
 * port's MAC; on an outside-host port every one does.
 *
 * Not for packets: capture and forwarding are the data path's; this module
 * only builds and removes.
 */
#ifndef VPCFW_TOPOLOGY_H
#define VPCFW_TOPOLOGY_H

#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "labnames.h"
#include "model.h"
#include "netns.h"

/* The IPv6 router address every ENI routes ::/0 to (on eth0). Nothing in
 * the router namespace owns it: the data path answers for it. */
#define TOPOLOGY_ROUTER_LL6 "fe80::1"

struct topology_options {
	/* Leave the veths' offloads as the kernel sets them. By default
	 * transmit checksum offload, TSO (every tx-*-segmentation but
	 * software GSO) and GRO are off on both ends, so every frame the data
	 * path captures carries a correct checksum and fits the MTU. */
	bool keep_offloads;
	/* When not NULL and set (by a signal handler) while the lab is being
	 * built, topology_create stops at the next step, removes what it
	 * built and returns -EINTR; topology_update likewise undoes itself. */
	const volatile sig_atomic_t *stop;
};

/* TOPOLOGY_PORT_REMOTE: the link to the hosts owning the lab's remote
 * ENIs (topology_remote.h), no namespace of its own. */
enum topology_port_kind { TOPOLOGY_PORT_ENI, TOPOLOGY_PORT_OUTSIDE, TOPOLOGY_PORT_REMOTE };

/* One veth pair: eth0 in an ENI's or outside host's namespace, the port
 * in the router namespace. */
struct topology_port {
	enum topology_port_kind kind;
	int32_t eni;		    /* index into lab->enis, or -1 */
	int32_t outside;	    /* index into lab->outside, or -1 */
	char netns[NETNS_NAME_MAX]; /* "vpcfw-web-1" */
	char name[IFNAMSIZ];	    /* router-side port, "p<hash4>-<idx>" */
	int ifindex;		    /* of the port, in the router namespace */
	uint8_t mac[6];		    /* the port's MAC: the router's, as the host sees it */
	uint8_t peer_mac[6];	    /* eth0's MAC */
	int peer_ifindex;	    /* eth0's ifindex, in netns */
};

struct topology_private;

/* Read-only for callers. */
struct topology {
	char lab[TOPOLOGY_LAB_NAME_MAX + 1];
	char router_ns[NETNS_NAME_MAX]; /* "vpcfw-router-<lab>" */
	int router_nsfd;		/* open fd of the router namespace */
	uint32_t mtu;
	bool offloads_kept;
	/* ENIs in lab order, then outside hosts: those this host owns (all
	 * but the remote ones, rules/own.h); then the remote link, if any */
	struct topology_port *ports;
	size_t n_ports;
	/* Namespaces of a dead daemon of this lab removed at start, and the
	 * processes (vpcfw exec's) still running in them that were ended. */
	size_t stale_removed;
	size_t stale_processes;
	struct topology_private *priv;
};

/* Builds the lab. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for the
 * mounts). 0 and *out, or -errno with a message in err and nothing left:
 * -EBUSY when a live daemon runs the lab, -EEXIST on a name collision,
 * -EINVAL for a lab it cannot build (bad lab name, ENI without subnet...),
 * -EINTR when opts->stop was set. */
int topology_create(const struct lab *lab, const struct topology_options *opts,
		    struct topology **out, char *err, size_t errlen);

/* Removes everything topology_create built (ports, namespaces, nft table,
 * state file) and frees t. NULL is a no-op. */
void topology_destroy(struct topology *t);

/* Ends the processes still running in the lab's namespaces (what `vpcfw
 * exec` started): SIGTERM, SIGKILL after a grace period; topology_destroy
 * does it too, quietly. Returns how many there were, for the log. */
size_t topology_end_processes(struct topology *t);

/* Hot reload: brings the live topology t, built from old, to next's ENIs
 * and outside hosts. A port whose endpoint is unchanged (same namespace,
 * ENI id, subnet and its CIDRs, addresses; same outside address) is kept
 * untouched: its veth, ifindex, MACs and the flows through it stay; only
 * its eni/outside index moves to next's. Ports of removed endpoints are
 * removed; added endpoints are built as topology_create builds them; a
 * changed endpoint is removed and built again. t->ports becomes a new
 * array in next's order (pointers into the old one are invalid after a
 * success; router port names of kept ports stay, so match by name).
 * All or nothing: on failure (-EEXIST: a namespace name taken by something
 * not of this lab, -EINVAL, or what the kernel said) the added ports are
 * removed, t is as before and err says why (a changed endpoint's old port
 * is built again, with new interfaces). The state file lists a superset
 * of what exists at every step and exactly the ports after a success. */
int topology_update(struct topology *t, const struct lab *old, const struct lab *next, char *err,
		    size_t errlen);

/* What runs inside the router namespace: 0 or -errno, saying why in err. */
typedef int topology_router_fn(void *arg, char *err, size_t errlen);

/* Runs fn(arg, err, errlen) inside the router namespace on the calling
 * thread and returns its result, or -errno with err saying so when the
 * namespace cannot be entered. Sockets fn opens (the ports' packet ring,
 * netlink, nftables) stay in the router namespace. */
int topology_run_in_router(const struct topology *t, topology_router_fn *fn, void *arg, char *err,
			   size_t errlen);

/* Detaches a port from the kernel's ingress drop (the nft chain) or puts it
 * back. For tests and diagnostics; the daemon never needs it. */
int topology_port_drop(struct topology *t, size_t port, bool drop, char *err, size_t errlen);

/* The port of an ENI or outside host, or NULL. */
const struct topology_port *topology_port_of_eni(const struct topology *t, int32_t eni);
const struct topology_port *topology_port_of_outside(const struct topology *t, int32_t outside);

/* Removes what a dead daemon of lab left (no-op when nothing), ending the
 * processes still running in its namespaces first (*procs_ended, may be
 * NULL). Returns the number of namespaces removed, -EBUSY when the daemon
 * is alive or another is starting the lab, or -errno. topology_create
 * calls it itself. */
int topology_cleanup_stale(const char *lab, size_t *procs_ended, char *err, size_t errlen);

#endif
