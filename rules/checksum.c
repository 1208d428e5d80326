/*
 * Internet checksum arithmetic (RFC 1071, RFC 1624). Big-endian reads
 * assembled from bytes so the result does not depend on host byte order or
 * alignment; the data path only checksums headers (20-byte IPv4 headers,
 * 32-byte NAs) and updates the rest incrementally.
 */
#include "checksum.h"

uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t s = sum;

	/* Big-endian 32-bit words: 2^16 = 1 (mod 0xffff), so each adds the
	 * same as its two 16-bit halves, in half the steps. */
	for (; len >= 4; p += 4, len -= 4)
		s += (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (len >= 2) {
		s += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)p[0] << 8;
	/* 2^32 = 1 (mod 0xffff): folding keeps the one's-complement value. */
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t csum_ip(const void *data, size_t len)
{
	return csum_fold(csum_add(0, data, len));
}

uint32_t csum_pseudo_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t len)
{
	uint32_t sum = csum_add(0, src, 4);

	sum = csum_add(sum, dst, 4);
	return sum + proto + (len >> 16) + (len & 0xffffu);
}

uint32_t csum_pseudo_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t len)
{
	uint32_t sum = csum_add(0, src, 16);

	sum = csum_add(sum, dst, 16);
	return sum + proto + (len >> 16) + (len & 0xffffu);
}

uint16_t csum_update16(uint16_t check, uint16_t old, uint16_t new_)
{
	uint32_t sum = (uint16_t)~check;

	sum += (uint16_t)~old;
	sum += new_;
	return csum_fold(sum);
}

/* ~m + m' summed over the changed words, the delta both update forms add. */
static uint32_t delta_sum(uint32_t sum, const uint8_t *old, const uint8_t *new_, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2) {
		sum += (uint16_t) ~((uint32_t)old[i] << 8 | old[i + 1]);
		sum += (uint32_t)new_[i] << 8 | new_[i + 1];
	}
	return sum;
}

uint16_t csum_update(uint16_t check, const void *old, const void *new_, size_t len)
{
	return csum_fold(delta_sum((uint16_t)~check, old, new_, len));
}

uint16_t csum_update_partial(uint16_t partial, const void *old, const void *new_, size_t len)
{
	return (uint16_t)~csum_fold(delta_sum(partial, old, new_, len));
}
