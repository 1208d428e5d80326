/*
 * Shared only by the topology module's files: topology.c (create, destroy,
 * lookups), topology_names.c (namespace and port names, checks before
 * anything is built), topology_host.c (building namespaces, veths,
 * addresses and routes in batches), topology_offload.c (veth offloads),
 * topology_update.c (hot reload) and topology_state.c (the state file that
 * lets a new start clean up after a dead daemon). Nobody else includes this.
 */
#ifndef VPCFW_TOPOLOGY_PRIVATE_H
#define VPCFW_TOPOLOGY_PRIVATE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "labstate.h"
#include "topology.h"

/* Link groups of router ports: every live port is in TOPO_PORT_GROUP, so
 * one request removes them all; ports a reload removes pass through
 * TOPO_DOOMED_GROUP for the same reason. Values only need to be ours. */
#define TOPO_PORT_GROUP 0x7670u
#define TOPO_DOOMED_GROUP 0x7671u

struct nl;
struct nft_lab;
struct topo_state_port;

struct port_state {
	int nsfd; /* -1 unless the namespace is being built */
	bool ns_created;
	bool veth_created;
};

/* What the veth driver's feature bits are called, learnt on the first
 * port: every later port needs only set-and-check (topology_offload.c). */
struct topo_features {
	uint32_t n;
	uint32_t *off;	   /* per 32-bit block: the bits to turn off */
	char (*names)[32]; /* ETH_GSTRING_LEN each, for messages */
};

struct topology_private {
	int state_fd;
	struct nl *router_nl; /* rtnetlink socket in the router namespace */
	struct nft_lab *nft;
	int router_ethtool_fd; /* ioctl socket in the router namespace */
	bool router_created;
	/* topology_end_processes ran: destroy need not scan /proc again. */
	bool processes_ended;
	struct port_state *ps;
	struct topo_features features;
	const volatile sig_atomic_t *stop; /* from topology_options */
};

void topo_set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* topology_names.c: every name computed and checked before anything is
 * built. */
int topo_check_lab(const struct lab *lab, char *err, size_t errlen);
/* Fills t->ports[0..lab's endpoints) with kinds, indices, namespace and
 * port names; -EINVAL when two endpoints share a namespace name. */
int topo_port_names(const struct lab *lab, struct topology *t, char *err, size_t errlen);
int topo_check_collisions(const struct topology *t, char *err, size_t errlen);
/* Gives np[j] a router port name that no port of t nor of np uses. */
void topo_port_fresh_name(const struct topology *t, struct topology_port *np, size_t n_new,
			  size_t j);

/* topology_offload.c: turns the unwanted offloads of ifname off through
 * the ioctl socket fd (of ifname's namespace). */
int topo_offloads_off(int fd, const char *ifname, struct topo_features *cache, char *err,
		      size_t errlen);
void topo_features_free(struct topo_features *f);

/* topology_host.c: the router namespace, then the ports idx[0..n) of
 * t->ports in chunks (namespaces, one batch of veths, one nft
 * transaction, one batch of addresses and routes per namespace). Each
 * port's state line is written before it is built; t->priv->ps says what
 * exists, for the caller to remove on failure. -EINTR when *stop was
 * set. */
int topo_router_create(struct topology *t, char *err, size_t errlen);
int topo_ports_build(const struct lab *lab, struct topology *t, const size_t *idx, size_t n,
		     char *err, size_t errlen);

/* topology.c: removes the ports idx[0..n) of ports/ps (one request for
 * all the veths, then the namespaces). Best effort. */
void topo_ports_remove(struct topology *t, struct topology_port *ports, struct port_state *ps,
		       const size_t *idx, size_t n);

/* topology_state.c: a port's state line. */
void topo_state_port_fill(const struct lab *lab, const struct topology_port *p,
			  struct topo_state_port *sp);

/* Creates the state file exclusively, locks it for this process's
 * lifetime and writes the owner line. Returns the fd or -errno (-EBUSY:
 * another daemon holds it). */
int topo_state_open(const char *lab, char *err, size_t errlen);
/* Appends a line ("router NS" or a port line) and flushes it, before the
 * thing it names is created, so a crash never leaves something unlisted. */
int topo_state_add_router(int fd, const char *netns);
int topo_state_add_port(int fd, const struct topo_state_port *p);
/* Replaces the state file with one listing the router and exactly ports
 * (a new file, locked, renamed over the old one, so a crash at any point
 * leaves one complete list). Returns the new fd (the caller closes the
 * old one) or -errno, the old file then still in place. */
int topo_state_rewrite(const char *lab, const char *router_ns, const struct topo_state_port *ports,
		       size_t n);
/* Unlinks the state file, closes (unlocks) it and removes the directory
 * when empty. */
void topo_state_remove(const char *lab, int fd);

/* How long processes left in a lab's namespaces get to exit on SIGTERM. */
#define TOPOLOGY_END_GRACE_MS 2000

#endif
