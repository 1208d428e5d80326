/*
 * The Internet checksum (RFC 1071) over byte buffers, the IPv4/IPv6
 * pseudo-headers, and its incremental update (RFC 1624, equation 3) for
 * the in-place rewrites of the internet gateway's 1:1 NAT. Byte-order
 * neutral: 16-bit words are read big-endian from the buffer and checksums
 * are returned as host integers meant to be stored big-endian.
 *
 * Not here: where a checksum field lives in a header (rules/packet.c).
 */
#ifndef VPCFW_CHECKSUM_H
#define VPCFW_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds data[0..len) as big-endian 16-bit words to a running sum; an odd
 * trailing byte is padded with zero. Chain calls only on even lengths. */
uint32_t csum_add(uint32_t sum, const void *data, size_t len);

/* Folds a running sum to 16 bits and complements it: the checksum field. */
uint16_t csum_fold(uint32_t sum);

/* csum_fold(csum_add(0, data, len)). 0 over a block that includes its own
 * correct checksum field means "verified". */
uint16_t csum_ip(const void *data, size_t len);

/* Running sums of the TCP/UDP/ICMPv6 pseudo-headers (addresses are 4 or 16
 * bytes in network order; len is the upper-layer length). */
uint32_t csum_pseudo_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t len);
uint32_t csum_pseudo_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t len);

/* RFC 1624 eqn 3: the new checksum after a 16-bit word of the covered data
 * changed from old to new: HC' = ~(~HC + ~m + m'). */
uint16_t csum_update16(uint16_t check, uint16_t old, uint16_t new_);

/* The same for len bytes (even, 16-bit aligned relative to the checksummed
 * block) changing from old to new, e.g. a 4- or 16-byte address. */
uint16_t csum_update(uint16_t check, const void *old, const void *new_, size_t len);

/* The same for a CHECKSUM_PARTIAL field, which holds the uncomplemented
 * folded pseudo-header sum: P' = P - m + m'. */
uint16_t csum_update_partial(uint16_t partial, const void *old, const void *new_, size_t len);

#endif
