/*
 * All of vpcfw's rtnetlink: veth pairs, link state and MTU, addresses and
 * routes, through libmnl. A struct nl is one NETLINK_ROUTE socket and acts
 * on the network namespace that was current when nl_open ran (a socket
 * keeps its namespace). Messages are built in stack buffers, every request
 * asks for an ack and every ack is checked; the kernel's extended ack
 * message, when it sends one, is kept for nl_strerror. Not for nftables
 * (nft.h) nor for choosing what to configure (topology.h).
 */
#ifndef VPCFW_NETLINK_H
#define VPCFW_NETLINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct nl;

struct nl_link {
	int ifindex;
	char name[IFNAMSIZ];
	uint8_t mac[6];
	uint32_t mtu;
	bool up; /* IFF_UP */
};

/* 0 or -errno. */
int nl_open(struct nl **out);
void nl_close(struct nl *nl);

/* The last error: the kernel's extended ack text when it gave one, else
 * strerror of the code. Valid until the next call on nl. */
const char *nl_strerror(struct nl *nl, int code);

/* Creates veth NAME in nl's namespace with its peer PEER placed directly in
 * the namespace peer_nsfd (-1: same namespace); both ends get mtu (0 =
 * kernel default). 0 or -errno (-EEXIST when a name is taken). */
int nl_veth_add(struct nl *nl, const char *name, const char *peer, int peer_nsfd, uint32_t mtu);

/* Looks a link up by name. 0, -ENODEV, or -errno. */
int nl_link_get(struct nl *nl, const char *name, struct nl_link *out);

/* Sets IFF_UP and, when mtu != 0, the MTU. */
int nl_link_up(struct nl *nl, int ifindex, uint32_t mtu);

/* Deletes a link (for a veth, both ends). 0, -ENODEV, or -errno. */
int nl_link_del(struct nl *nl, int ifindex);

/* Adds an address with prefix length plen; nodad sets IFA_F_NODAD (IPv6). */
int nl_addr_add(struct nl *nl, int ifindex, const struct ip_addr *a, uint8_t plen, bool nodad);

/* Adds a unicast route to dst out of ifindex, via gw when gw is not NULL,
 * else on-link (scope link). */
int nl_route_add(struct nl *nl, int ifindex, const struct ip_prefix *dst, const struct ip_addr *gw);

#endif
