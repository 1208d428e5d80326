/*
 * Shared only by topology.c (building and removing) and topology_state.c
 * (the state file that lets a new start clean up after a dead daemon).
 * Nobody else includes this.
 */
#ifndef VPCFW_TOPOLOGY_PRIVATE_H
#define VPCFW_TOPOLOGY_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "labstate.h"
#include "topology.h"

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
