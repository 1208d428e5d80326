/*
 * All of vpcfw's rtnetlink: veth pairs, link state and MTU, addresses and
 * routes, through libmnl. A struct nl is one NETLINK_ROUTE socket and acts
 * on the network namespace that was current when nl_open ran (a socket
 * keeps its namespace). Messages are built in stack buffers, every request
 * asks for an ack and every ack is checked; the kernel's extended ack
 * message, when it sends one, is kept for nl_strerror. Not for nftables
 * (nft.h) nor for choosing what to configure (topology.h).
 *
 * Batches: building a lab of a thousand ENIs one acknowledged request at a
 * time costs a round trip per object. Between nl_batch_begin and
 * nl_batch_end the request functions below (all but nl_link_get and
 * nl_link_dump) queue their message and return 0; many go out per sendmsg
 * and every ack is still checked, the first error reported with the tag
 * the caller gave its object:
 *
 *	nl_batch_begin(nl);
 *	for (i = 0; i < n; i++) { nl_batch_tag(nl, i); nl_veth_add(nl, &v[i]); }
 *	ret = nl_batch_end(nl, &bad);   // ret != 0: v[bad] failed (nl_strerror)
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
	uint32_t group; /* IFLA_GROUP */
	int link;	/* IFLA_LINK: a veth's peer ifindex, in the peer's namespace */
	bool up;	/* IFF_UP */
};

/* A veth pair to create in nl's namespace. */
struct nl_veth {
	const char *name;
	const char *peer;
	int peer_nsfd;		 /* where the peer goes; -1: same namespace */
	uint32_t mtu;		 /* both ends; 0 = kernel default */
	uint32_t group;		 /* NAME's link group; 0 = default */
	const uint8_t *mac;	 /* NAME's MAC; NULL: the kernel picks one */
	const uint8_t *peer_mac; /* likewise */
	bool up;		 /* NAME up at creation (the peer cannot be) */
};

typedef void (*nl_link_fn)(const struct nl_link *l, void *arg);

/* 0 or -errno. */
int nl_open(struct nl **out);
void nl_close(struct nl *nl);

/* The last error: the kernel's extended ack text when it gave one, else
 * strerror of the code. Valid until the next call on nl. */
const char *nl_strerror(struct nl *nl, int code);

/* Queues (in a batch) or runs one request; outside a batch the result:
 * 0 or -errno with the kernel's text for nl_strerror. */
int nl_batch_begin(struct nl *nl);
/* The tag nl_batch_end reports when one of the next requests fails. */
void nl_batch_tag(struct nl *nl, int tag);
/* Sends what is queued and checks every ack. 0, or the first error (a
 * request refused, or sending or reading failed) with *failed_tag (may be
 * NULL) the tag of its request. Ends the batch either way, so the return
 * values of the queued calls may be ignored. */
int nl_batch_end(struct nl *nl, int *failed_tag);

/* Creates the veth pair v. 0 or -errno (-EEXIST when a name is taken). */
int nl_veth_add(struct nl *nl, const struct nl_veth *v);

/* Calls fn for every link of nl's namespace (one dump). 0 or -errno. */
int nl_link_dump(struct nl *nl, nl_link_fn fn, void *arg);

/* Looks a link up by name. 0, -ENODEV, or -errno. */
int nl_link_get(struct nl *nl, const char *name, struct nl_link *out);

/* Sets IFF_UP and, when mtu != 0, the MTU. */
int nl_link_up(struct nl *nl, int ifindex, uint32_t mtu);

/* Deletes a link (for a veth, both ends). 0, -ENODEV, or -errno. */
int nl_link_del(struct nl *nl, int ifindex);

/* Moves a link into a link group. */
int nl_link_set_group(struct nl *nl, int ifindex, uint32_t group);
/* Moves a link of nl's namespace into the namespace nsfd refers to. */
int nl_link_set_netns(struct nl *nl, int ifindex, int nsfd);

/* Deletes every link of group (group != 0) at once: one request, and the
 * kernel unregisters them together instead of waiting for RCU per link.
 * -ENODEV when the group is empty. */
int nl_group_del(struct nl *nl, uint32_t group);

/* Adds an address with prefix length plen; nodad sets IFA_F_NODAD (IPv6). */
int nl_addr_add(struct nl *nl, int ifindex, const struct ip_addr *a, uint8_t plen, bool nodad);

/* Adds a unicast route to dst out of ifindex, via gw when gw is not NULL,
 * else on-link (scope link). */
int nl_route_add(struct nl *nl, int ifindex, const struct ip_prefix *dst, const struct ip_addr *gw);

#endif
