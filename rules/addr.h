/*
 * IPv4 and IPv6 addresses and prefixes: parsing with errors, containment,
 * overlap, formatting. One representation for both families so that rules,
 * packets and the lab model compare addresses without caring which they are.
 * Not a routing table: longest-prefix choice is done by callers over small
 * lists (route tables have a handful of entries).
 */
#ifndef VPCFW_ADDR_H
#define VPCFW_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ip_family { IP_V4 = 4, IP_V6 = 6 };

/* IPv4 lives in b[0..3] with b[4..15] zero, so memcmp over all 16 bytes
 * plus the family is a total order and a valid hash input. */
struct ip_addr {
	uint8_t family;
	uint8_t b[16];
};

struct ip_prefix {
	struct ip_addr addr; /* host bits always zero */
	uint8_t len;
};

#define IP_ADDR_STRLEN 46
#define IP_PREFIX_STRLEN 50

/* 0, or -EINVAL when s is not a dotted quad or an RFC 4291 text address. */
int ip_addr_parse(const char *s, struct ip_addr *out);

/* Parses "a.b.c.d/n" or "x::/n". Host bits are cleared; *canonical (may be
 * NULL) tells whether the text already had them clear, since AWS rejects
 * "10.0.0.1/24" in a subnet but some exports carry such text. A bare address
 * is refused: AWS always writes the length. */
int ip_prefix_parse(const char *s, struct ip_prefix *out, bool *canonical);

bool ip_addr_eq(const struct ip_addr *a, const struct ip_addr *b);
int ip_addr_cmp(const struct ip_addr *a, const struct ip_addr *b);
bool ip_prefix_eq(const struct ip_prefix *a, const struct ip_prefix *b);

/* False across families: an IPv4 rule never matches an IPv6 packet. */
bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_addr *a);
bool ip_prefix_covers(const struct ip_prefix *outer, const struct ip_prefix *inner);
bool ip_prefix_overlaps(const struct ip_prefix *a, const struct ip_prefix *b);

/* The k-th address of the prefix (k = 1 is the VPC router, 2 DNS, ...). */
void ip_prefix_nth(const struct ip_prefix *p, uint64_t k, struct ip_addr *out);
/* The last address (the IPv4 broadcast address). */
void ip_prefix_last(const struct ip_prefix *p, struct ip_addr *out);
/* a + 1 within its family; false (a unchanged past the wrap) at the
 * family's last address. */
bool ip_addr_next(struct ip_addr *a);
/* Whether the prefix is 0.0.0.0/0 or ::/0. */
bool ip_prefix_is_all(const struct ip_prefix *p);
/* The host prefix (/32 or /128) of an address. */
void ip_prefix_host(const struct ip_addr *a, struct ip_prefix *out);

/* A growing list of prefixes: zeroed to start, free(v) to end. */
struct ip_prefix_list {
	struct ip_prefix *v;
	size_t n, cap;
};

/* Appends p; with unique, not when it is there already (a scan: for
 * short lists). 0 or -ENOMEM. */
int ip_prefix_list_add(struct ip_prefix_list *l, const struct ip_prefix *p, bool unique);

const char *ip_addr_format(const struct ip_addr *a, char *buf, size_t len);
const char *ip_prefix_format(const struct ip_prefix *p, char *buf, size_t len);

#endif
