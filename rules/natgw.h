/*
 * A NAT gateway's translation table (AWS-SEMANTICS §9): each connection an
 * instance behind the gateway opens to an outside host gets the gateway's
 * Elastic IP (a private gateway's private IP) and a port the gateway
 * picks (1024-65535; for ICMP echo an identifier from the same range);
 * replies to that address and port from that very host and port are
 * translated back, nothing else at that address gets in. A mapping ends
 * after an idle time (AWS's NAT gateway times a connection out after
 * 350 s idle; configurable).
 *
 * One table serves every NAT gateway of a lab (mappings carry the
 * gateway's index into lab->gateways, a handle: a gateway is its id and
 * Elastic IP, which the table keeps, so that a reload that adds, removes
 * or reorders gateways carries the mappings of those that stay, as AWS's
 * gateways keep their connections whatever else changes); its memory is
 * fixed at creation: a full table refuses new connections, as AWS's
 * gateway does when it has no port left (ErrorPortAllocation).
 *
 * Not for: which packets take a NAT gateway (the route stage), frames
 * (natgw_frame.c rewrites ports), the instance's own tracking (conntrack).
 */
#ifndef VPCFW_NATGW_H
#define VPCFW_NATGW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct pkt;
struct lab;

/* What a gateway is across a reload: its id and the address it translates
 * to (gateway_nat_addr, model_index.h: the Elastic IP, a private
 * gateway's private IP; none: zero). */
struct natgw_ident {
	const char *id;
	struct ip_addr public_ip;
};

#define NATGW_PORT_LO 1024u
#define NATGW_PORT_HI 65535u

struct natgw_opts {
	uint32_t max_mappings; /* all gateways together; 0: NATGW_DEFAULT_MAX */
	uint32_t n_gateways;   /* indexes of lab->gateways the table accepts */
	uint64_t idle_tcp_ns;  /* 0: NATGW_IDLE_DEFAULT_S */
	uint64_t idle_udp_ns;
	uint64_t idle_icmp_ns;
	/* n_gateways of them, copied; NULL: a reload carries nothing over */
	const struct natgw_ident *idents;
};
#define NATGW_DEFAULT_MAX 65536u
#define NATGW_IDLE_DEFAULT_S 350u

/* One translated connection, as the inside sees it and as the gateway
 * sends it: proto, inside address:port -> far address:port becomes
 * EIP:nat_port -> far address:port. Ports are ICMP echo identifiers for
 * ICMP (far_port 0). */
struct natgw_key {
	uint32_t gateway;
	uint8_t proto;
	struct ip_addr inside, far;
	uint16_t inside_port, far_port;
};

struct natgw;

/* 0, -EINVAL (no gateways) or -ENOMEM. */
int natgw_create(const struct natgw_opts *opts, struct natgw **out);
void natgw_destroy(struct natgw *t);

/* A table for opts holding old's mappings (ports, idle times) of the
 * gateways that are still there (same id and Elastic IP, any index),
 * those of the others dropped, as many as opts' size holds. old is left
 * as it was (NULL: none). 0, -EINVAL or -ENOMEM. */
int natgw_carry(const struct natgw *old, const struct natgw_opts *opts, struct natgw **out);

/* The table for a (re)loaded lab's gateways (its NAT options), carrying
 * old's mappings as natgw_carry does; *out NULL when the lab has no
 * gateways. 0 or -ENOMEM. */
int natgw_for_lab(const struct lab *lab, const struct natgw *old, struct natgw **out);

/* The mapping of an outbound packet's connection, created when new:
 * the NAT port in *nat_port. 0, -ENOSPC when the table or the gateway's
 * ports are exhausted, -EINVAL for a gateway out of range. */
int natgw_outbound(struct natgw *t, const struct natgw_key *k, uint64_t now_ns, uint16_t *nat_port);

/* The NAT port of k's mapping if it has one (live), not refreshed: an
 * ICMP error the instance sends about the connection. 0 or -ENOENT. */
int natgw_mapped(struct natgw *t, const struct natgw_key *k, uint64_t now_ns, uint16_t *nat_port);

/* A packet from far:far_port to the gateway's nat_port: its connection's
 * key in *k when it answers one (refreshed), else -ENOENT. */
int natgw_inbound(struct natgw *t, uint32_t gateway, uint8_t proto, const struct ip_addr *far,
		  uint16_t far_port, uint16_t nat_port, uint64_t now_ns, struct natgw_key *k);

/* The same for an ICMP error quoting the gateway's packet to far:far_port
 * from nat_port: the mapping is not refreshed (an error keeps no
 * connection alive). */
int natgw_related(struct natgw *t, uint32_t gateway, uint8_t proto, const struct ip_addr *far,
		  uint16_t far_port, uint16_t nat_port, uint64_t now_ns, struct natgw_key *k);

/* Removes up to budget idle mappings; returns how many. */
size_t natgw_sweep(struct natgw *t, uint64_t now_ns, size_t budget);
size_t natgw_count(const struct natgw *t);

/* Frames: replaces the TCP/UDP source or destination port, or an ICMP
 * echo's identifier (which: 0 source, 1 destination; both mean the id for
 * ICMP), of the parsed frame in place, fixing the checksum (partial: the
 * TCP/UDP checksum is a CHECKSUM_PARTIAL pseudo-header sum, which covers
 * no port). For an ICMP error the port is the quoted packet's, which went
 * the other way: which 1 (the error's destination) rewrites the quoted
 * source port or echo identifier, 0 the quoted destination port; its
 * checksum, when quoted, and the ICMP checksum follow. p is updated.
 * 0 or -EINVAL. */
int natgw_rewrite_port(uint8_t *frame, size_t len, struct pkt *p, int which, uint16_t port,
		       bool partial);

#endif
