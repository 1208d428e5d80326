/*
 * The link between hosts of a lab split across hosts (docs/scale-out.md):
 * an interface the operator made in vpcfwd's namespace — a VXLAN device to
 * the other host (what the document describes), or a veth — becomes a port
 * of the router namespace. The data path captures it like any port (frames
 * from remote ENIs, already through their host's egress stages) and sends
 * the frames for remote ENIs out of it, as they were sent: private
 * addresses, nothing translated. Moved, not created: the device is the
 * lab's from then on and goes with the router namespace.
 */
#ifndef VPCFW_TOPOLOGY_REMOTE_H
#define VPCFW_TOPOLOGY_REMOTE_H

#include <stddef.h>

#include "topology.h"

/* When lab (built into t) leaves ENIs or outside hosts to other hosts
 * (rules/own.h): moves ifname from the caller's namespace into t's router
 * namespace, behind the kernel's ingress drop (nft), offloads off unless
 * kept, MTU the lab's, up, and appends it to t->ports as
 * TOPOLOGY_PORT_REMOTE (pointers into t->ports are invalid after). 0 (also
 * for a whole lab and no ifname) or -errno with err: -EINVAL when only
 * one of the two is there. */
int topology_remote_attach(struct topology *t, const struct lab *lab, const char *ifname, char *err,
			   size_t errlen);

/* The port a packet for ENI eni of lab leaves by: its own, or for an ENI
 * another host owns the remote link; NULL when there is none. */
const struct topology_port *topology_port_to_eni(const struct topology *t, const struct lab *lab,
						 int32_t eni);

/* A reload that changes ENIs or outside hosts: refused (-EOPNOTSUPP,
 * err) while t has a remote link, which topology_update would not keep;
 * rules-only reloads need no check. */
int topology_remote_update_check(const struct topology *t, char *err, size_t errlen);

#endif
