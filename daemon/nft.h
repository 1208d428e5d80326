/*
 * The nftables state vpcfwd installs in the router namespace, through
 * libnftnl: one netdev-family table per lab with one ingress chain per
 * router port whose only rule counts and drops every frame. The data path's
 * AF_PACKET ring (one TPACKET_V2 ring per router namespace, port.h) is a
 * packet tap, which sees a frame before netdev ingress, so the daemon still
 * captures everything while the router namespace's own kernel never routes,
 * answers ARP/ND or otherwise touches lab traffic. Each change is one batch
 * (NFNL_MSG_BATCH_BEGIN/END) and every message's ack is checked. The socket
 * acts on the namespace current when nft_lab_create/nft_table_delete runs.
 * Not for filtering policy: vpcfw's rules are evaluated in user space.
 */
#ifndef VPCFW_NFT_H
#define VPCFW_NFT_H

#include <stddef.h>

struct nft_lab;

/* Table and chain names. The table is "vpcfw-<lab>"; a port's chain is
 * "in-<port>". */
#define NFT_TABLE_PREFIX "vpcfw-"
#define NFT_CHAIN_PREFIX "in-"
#define NFT_NAME_MAX 96

/* Creates (or, when it exists, replaces) the table of a lab in the current
 * namespace. 0 or -errno with a message in err. */
int nft_lab_create(const char *lab, struct nft_lab **out, char *err, size_t errlen);

/* Adds the drop chain on the ingress hook of device ifname. */
int nft_port_add(struct nft_lab *n, const char *ifname, char *err, size_t errlen);
/* The same for many devices, dozens per transaction (a lab of a thousand
 * ports is a few sendmsgs, not a thousand). On error err names the port;
 * transactions before it stay applied. */
int nft_ports_add(struct nft_lab *n, const char *const *ports, size_t count, char *err,
		  size_t errlen);
/* Removes that chain (-ENOENT when absent). */
int nft_port_del(struct nft_lab *n, const char *ifname, char *err, size_t errlen);

/* Deletes the table with all its chains and frees n (NULL: no-op). 0 or
 * -errno; n is freed either way. */
int nft_lab_delete(struct nft_lab *n);

/* Deletes the table of a lab in the current namespace without a handle
 * (stale state of a dead daemon). 0, -ENOENT, or -errno. */
int nft_table_delete(const char *lab);

#endif
