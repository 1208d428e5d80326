/*
 * The packet parser: one Ethernet frame in, one struct pkt out, parsed once
 * (as pf's pf_setup_pdesc) so that ARP/ND answering, conntrack, the SG/NACL
 * pipeline and flow logs all read the same fields and nothing re-reads raw
 * bytes. Every length is checked against the captured length and against
 * the IP header's own length fields; a frame that lies about its lengths is
 * malformed (counted and dropped by the daemon), never read out of bounds.
 *
 * Also here: the few frames the daemon writes itself as the VPC router (ARP
 * replies, Neighbor Advertisements) and the in-place IPv4 address rewrite of
 * the internet gateway's 1:1 NAT. No I/O, no allocation, no globals.
 *
 * Not here: policy (which addresses the router answers for, what is
 * allowed), reassembly of fragments, L4 checksum verification (with veth
 * offloads on, captured TCP/UDP checksums are often only partial).
 *
 * Usage:
 *	struct pkt p;
 *	int r = pkt_parse(frame, caplen, &p);
 *	if (r < 0)
 *		counters[-r]++;		// pkt_malformed_name(r) names it
 *	else if (p.kind == PKT_OTHER)
 *		...			// not IP or ARP: drop and count
 */
#ifndef VPCFW_PACKET_H
#define VPCFW_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define PKT_ETH_ALEN 6
#define PKT_ETH_HLEN 14
#define PKT_VLAN_HLEN 4

#define PKT_ETHERTYPE_IPV4 0x0800
#define PKT_ETHERTYPE_ARP 0x0806
#define PKT_ETHERTYPE_VLAN 0x8100
#define PKT_ETHERTYPE_QINQ 0x88a8 /* 802.1ad service tag: not parsed through */
#define PKT_ETHERTYPE_IPV6 0x86dd

/* At most this many IPv6 extension headers are walked before giving up
 * (PKT_MAL_IPV6_EXT_CHAIN); real traffic has one or two. */
#define PKT_IPV6_MAX_EXT 8

/* IP protocol numbers the parser knows beyond model.h's PROTO_*. */
#define PKT_IPPROTO_HOPOPTS 0
#define PKT_IPPROTO_ROUTING 43
#define PKT_IPPROTO_FRAGMENT 44
#define PKT_IPPROTO_ESP 50
#define PKT_IPPROTO_AH 51
#define PKT_IPPROTO_NONE 59
#define PKT_IPPROTO_DSTOPTS 60

/* TCP flags as in the header's 14th byte; tcp_flags keeps all eight, so
 * test SYN with a mask (an ECN SYN carries ECE|CWR too). Flow logs'
 * tcp-flags use the low six. */
#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10
#define PKT_TCP_URG 0x20
#define PKT_TCP_ECE 0x40
#define PKT_TCP_CWR 0x80

#define PKT_ARP_REQUEST 1
#define PKT_ARP_REPLY 2

#define PKT_ICMP_ECHO_REPLY 0
#define PKT_ICMP_DEST_UNREACH 3
#define PKT_ICMP_ECHO 8
#define PKT_ICMP_TIME_EXCEEDED 11
#define PKT_ICMP_PARAM_PROBLEM 12

#define PKT_ICMP6_DEST_UNREACH 1
#define PKT_ICMP6_PACKET_TOO_BIG 2
#define PKT_ICMP6_TIME_EXCEEDED 3
#define PKT_ICMP6_PARAM_PROBLEM 4
#define PKT_ICMP6_ECHO 128
#define PKT_ICMP6_ECHO_REPLY 129
#define PKT_ICMP6_ROUTER_SOLICIT 133
#define PKT_ICMP6_ROUTER_ADVERT 134
#define PKT_ICMP6_NEIGH_SOLICIT 135
#define PKT_ICMP6_NEIGH_ADVERT 136

/* Neighbor Advertisement flags (first byte after the ICMPv6 checksum). */
#define PKT_ND_NA_ROUTER 0x80
#define PKT_ND_NA_SOLICITED 0x40
#define PKT_ND_NA_OVERRIDE 0x20

enum pkt_kind {
	PKT_OTHER = 0, /* not IP, not ARP: not malformed, the daemon drops it */
	PKT_ARP,
	PKT_IPV4,
	PKT_IPV6,
};

/*
 * Why a frame was refused. pkt_parse() returns the negated value, so
 * counters can be an array of PKT_MAL__COUNT indexed by -ret.
 */
enum pkt_malformed {
	PKT_MAL_NONE = 0,
	PKT_MAL_ETH_TRUNC,	  /* shorter than an Ethernet header */
	PKT_MAL_VLAN_TRUNC,	  /* 802.1Q tag cut off */
	PKT_MAL_ARP_TRUNC,	  /* shorter than an Ethernet/IPv4 ARP */
	PKT_MAL_ARP_FORMAT,	  /* not htype 1 / ptype 0x0800 / 6 / 4 */
	PKT_MAL_IP_TRUNC,	  /* IP header (with IPv4 options) cut off */
	PKT_MAL_IP_VERSION,	  /* version field disagrees with ethertype */
	PKT_MAL_IPV4_IHL,	  /* IHL < 5 */
	PKT_MAL_IPV4_CSUM,	  /* IPv4 header checksum wrong */
	PKT_MAL_IP_TOTLEN,	  /* total length < header length (or 0) */
	PKT_MAL_IP_TOTLEN_CAPLEN, /* IP length beyond the captured frame */
	PKT_MAL_FRAG,		  /* fragment past 65535, tiny or misaligned */
	PKT_MAL_IPV6_EXT_TRUNC,	  /* extension header cut off */
	PKT_MAL_IPV6_EXT_CHAIN,	  /* more than PKT_IPV6_MAX_EXT headers */
	PKT_MAL_IPV6_EXT_ORDER,	  /* hop-by-hop options not first */
	PKT_MAL_TCP_TRUNC,	  /* TCP header (with options) cut off */
	PKT_MAL_TCP_DOFF,	  /* data offset < 5 */
	PKT_MAL_UDP_TRUNC,	  /* UDP header cut off */
	PKT_MAL_UDP_LEN,	  /* UDP length < 8 or beyond the IP payload */
	PKT_MAL_ICMP_TRUNC,	  /* ICMP/ICMPv6 header (or ND body) cut off */
	PKT_MAL_ICMP_INNER,	  /* error without a usable quoted header + 8 bytes */
	PKT_MAL_ND_OPTION,	  /* ND option of length 0 or past the end */
	PKT_MAL__COUNT
};

/* A short stable name ("ip-truncated") for counters and logs; accepts the
 * reason or its negation; "ok" for 0, "unknown" outside the enum. */
const char *pkt_malformed_name(int reason);

struct pkt_arp {
	uint16_t op; /* PKT_ARP_REQUEST, PKT_ARP_REPLY, ... */
	uint8_t sha[PKT_ETH_ALEN];
	uint8_t tha[PKT_ETH_ALEN];
	struct ip_addr spa; /* IP_V4 */
	struct ip_addr tpa;
};

/*
 * The original packet an ICMP/ICMPv6 error quotes (AWS-SEMANTICS §4: the
 * error belongs to the flow it answers). Fields are as the original packet
 * had them: inner.src is the host that sent it, which is normally the host
 * this error is travelling to (outer dst), so the flow of an error is the
 * reverse of the inner tuple.
 */
struct pkt_inner {
	struct ip_addr src;
	struct ip_addr dst;
	uint8_t proto;	/* after IPv6 extension headers */
	bool has_ports; /* TCP/UDP and not a later fragment */
	bool has_icmp;	/* ICMP/ICMPv6 and not a later fragment */
	uint16_t sport;
	uint16_t dport;
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint16_t icmp_id; /* echo request/reply only */
	uint16_t l3_off;  /* offset of the quoted IP header in the frame */
	uint16_t l4_off;  /* of its L4 header, 0 if none */
};

struct pkt {
	enum pkt_kind kind;

	/* L2 */
	uint8_t dst_mac[PKT_ETH_ALEN];
	uint8_t src_mac[PKT_ETH_ALEN];
	uint16_t ethertype; /* after the VLAN tag, if any */
	bool has_vlan;
	uint16_t vlan_tci;
	uint32_t frame_len; /* captured length handed to pkt_parse */

	struct pkt_arp arp; /* kind == PKT_ARP */

	/* L3 (kind PKT_IPV4 / PKT_IPV6); the family is src.family (IP_V4 or
	 * IP_V6). Every field not set by the parse is zero. */
	struct ip_addr src;
	struct ip_addr dst;
	uint8_t proto; /* upper-layer protocol after extension headers */
	uint8_t ttl;   /* or hop limit */
	uint8_t tos;   /* or traffic class */
	uint16_t l3_off;
	uint32_t l3_len; /* the IP packet's own length, <= frame: Ethernet pads */

	/* Fragments: is_fragment for every fragment; later_fragment when the
	 * offset is not 0, and then there is no L4 header (l4_off == 0). */
	bool is_fragment;
	bool later_fragment;
	bool frag_more;
	uint16_t frag_offset; /* in bytes */
	uint32_t frag_id;

	/* L4: l4_off is where the upper-layer header (whatever proto is:
	 * TCP, ESP, an unknown protocol, or nothing for "no next header")
	 * starts; 0 only for a later fragment, which carries none. */
	uint16_t l4_off;
	uint32_t l4_len;      /* bytes from l4_off to the end of the IP packet */
	uint16_t payload_off; /* after the TCP/UDP/ICMP header */
	uint32_t payload_len;
	bool has_ports; /* TCP or UDP header present */
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_flags;
	uint32_t tcp_seq;
	uint32_t tcp_ack;
	uint16_t tcp_window;

	/* ICMP / ICMPv6 */
	bool has_icmp;
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint16_t icmp_id;  /* echo (and v4 timestamp/info/mask) request/reply */
	uint16_t icmp_seq; /* likewise */
	bool icmp_error;   /* carries a quoted packet: see inner */
	struct pkt_inner inner;

	/* ND (ICMPv6 133/135/136): target of NS/NA; the link-layer address
	 * option (source for NS/RS, target for NA); NA flags. */
	struct ip_addr nd_target;
	bool has_nd_lladdr;
	uint8_t nd_lladdr[PKT_ETH_ALEN];
	uint8_t nd_flags;
};

/*
 * Parses frame[0..len). Returns 0 and fills *out, or -PKT_MAL_* (out is
 * then partially filled and must not be used). A non-IP/ARP ethertype is
 * success with kind PKT_OTHER. Never reads outside frame[0..len).
 */
int pkt_parse(const uint8_t *frame, size_t len, struct pkt *out);

/* Whether the (parsed) packet's ICMP type is an error carrying a quoted
 * packet: ICMP 3, 4, 5, 11, 12; ICMPv6 1-4. */
bool pkt_icmp_is_error(uint8_t family, uint8_t type);

/*
 * Builders for the VPC router's answers. They write into buf (cap bytes)
 * and return the frame length, or:
 *	-EINVAL	 req is not a request of that kind,
 *	-ENOMSG	 req must not be answered: a gratuitous ARP or ARP probe
 *		 (sender 0.0.0.0), a duplicate address detection NS (source
 *		 ::), an NS whose hop limit is not 255 (RFC 4861 7.1.1) —
 *		 answering those would make the instance believe its own
 *		 address is taken;
 *	-ENOSPC	 cap too small.
 * Which addresses to answer for is the caller's decision. The reply keeps
 * the request's VLAN tag.
 */
int pkt_build_arp_reply(const struct pkt *req, const uint8_t mac[PKT_ETH_ALEN], uint8_t *buf,
			size_t cap);

/* A solicited Neighbor Advertisement for req->nd_target from mac, with a
 * target link-layer address option; is_router sets the R flag (the VPC
 * router answers with R set). Sent to the NS's source address and source
 * link-layer address option (Ethernet source if none). */
int pkt_build_na(const struct pkt *req, const uint8_t mac[PKT_ETH_ALEN], bool is_router,
		 uint8_t *buf, size_t cap);

/* Which address pkt_rewrite_ipv4() replaces. */
enum pkt_rewrite_field {
	PKT_REWRITE_SRC = 0,
	PKT_REWRITE_DST = 1,
};
/* The frame's TCP/UDP checksum is a CHECKSUM_PARTIAL pseudo-header sum
 * (as PACKET_VNET_HDR's NEEDS_CSUM reports), not a full checksum. */
#define PKT_REWRITE_L4_PARTIAL 0x1u

/*
 * 1:1 NAT: replaces the IPv4 source or destination of the parsed frame in
 * place (frame is the buffer p was parsed from) and fixes the IPv4 header
 * checksum and the TCP/UDP checksum incrementally (RFC 1624; a UDP checksum
 * of 0 stays 0). For an ICMP error the quoted packet's matching address is
 * rewritten too (outer dst <-> inner src, outer src <-> inner dst) with its
 * header and, when quoted, its UDP/TCP checksum, and the ICMP checksum
 * follows. p is updated to match. Returns 0, or -EINVAL if p is not IPv4 or
 * addr is not IPv4.
 */
int pkt_rewrite_ipv4(uint8_t *frame, size_t len, struct pkt *p, enum pkt_rewrite_field which,
		     const struct ip_addr *addr, unsigned flags);

#endif
