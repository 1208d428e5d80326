/*
 * Where a running lab lives on the host, as vpcfwd names it and the CLI
 * finds it: the run directory /run/vpcfw/<lab>/ with its state file and
 * control socket, and the network namespaces "vpcfw-<label>" of its ENIs
 * and outside hosts (DESIGN.md contract 3, so `ip netns exec` works too).
 * One place for these names, so that the daemon that creates them and
 * `vpcfw exec`/`vpcfw test` that look for them cannot disagree. The
 * functions keep the prefixes of the daemon modules they were written for
 * (topology_, control_): those modules create what is named here.
 *
 * Not for creating anything (daemon/topology.c, daemon/control.c) and not
 * for reading the state file (labstate.h).
 */
#ifndef VPCFW_LABNAMES_H
#define VPCFW_LABNAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nsenter.h"

struct lab;

#define TOPOLOGY_RUN_DIR "/run/vpcfw"
#define TOPOLOGY_STATE_FILE "topology.state"
#define CONTROL_SOCKET_NAME "control.sock"
#define TOPOLOGY_NS_PREFIX "vpcfw-"
#define TOPOLOGY_ROUTER_PREFIX "vpcfw-router-"
/* Longest lab name accepted ([A-Za-z0-9_.-]). */
#define TOPOLOGY_LAB_NAME_MAX 32
/* Longest Name tag used as a namespace label. */
#define TOPOLOGY_LABEL_MAX 15

/* Whether s can name a lab: 1 to TOPOLOGY_LAB_NAME_MAX characters of
 * A-Z a-z 0-9 _ . -, not beginning with '.' or '-' (it becomes part of
 * directory and namespace names). */
bool topology_lab_name_valid(const char *s);

/* "/run/vpcfw/<lab>", ".../topology.state" and ".../control.sock" into
 * buf. 0 or -ENAMETOOLONG. */
int topo_state_dir(const char *lab, char *buf, size_t len);
int topo_state_path(const char *lab, char *buf, size_t len);
int control_socket_path(const char *lab, char *buf, size_t len);

/* The namespace name of an ENI ("vpcfw-<label>": its Name tag when that is
 * [a-z0-9-], at most TOPOLOGY_LABEL_MAX characters and kept by this ENI,
 * else its ENI id), as topology_create names it, into buf. 0 or -EINVAL. */
int topology_eni_netns(const struct lab *lab, int32_t eni, char *buf, size_t len);
/* The namespace name of an outside host. */
int topology_outside_netns(const struct lab *lab, int32_t outside, char *buf, size_t len);

#endif
