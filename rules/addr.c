/*
 * Address and prefix arithmetic for both families on one 16-byte
 * representation. inet_pton does the text parsing; everything else is
 * byte arithmetic so it behaves the same on every host.
 */
#include "addr.h"
#include "vec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned addr_bits(uint8_t family)
{
	return family == IP_V4 ? 32 : 128;
}

int ip_addr_parse(const char *s, struct ip_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, out->b) != 1)
			return -EINVAL;
		out->family = IP_V6;
		return 0;
	}
	if (inet_pton(AF_INET, s, out->b) != 1)
		return -EINVAL;
	out->family = IP_V4;
	return 0;
}

static void mask_host_bits(struct ip_addr *a, unsigned len, bool *had_host_bits)
{
	unsigned bits = addr_bits(a->family);
	for (unsigned i = len; i < bits; i++) {
		uint8_t bit = (uint8_t)(0x80u >> (i % 8));
		if (a->b[i / 8] & bit) {
			*had_host_bits = true;
			a->b[i / 8] &= (uint8_t)~bit;
		}
	}
}

int ip_prefix_parse(const char *s, struct ip_prefix *out, bool *canonical)
{
	char buf[IP_PREFIX_STRLEN];
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (ip_addr_parse(buf, &out->addr) < 0)
		return -EINVAL;
	const char *len_text = slash + 1;
	if (*len_text < '0' || *len_text > '9' || strlen(len_text) > 3)
		return -EINVAL;
	char *end;
	unsigned long len = strtoul(len_text, &end, 10);
	if (*end || len > addr_bits(out->addr.family))
		return -EINVAL;
	out->len = (uint8_t)len;
	bool had_host_bits = false;
	mask_host_bits(&out->addr, out->len, &had_host_bits);
	if (canonical)
		*canonical = !had_host_bits;
	return 0;
}

bool ip_addr_eq(const struct ip_addr *a, const struct ip_addr *b)
{
	return a->family == b->family && memcmp(a->b, b->b, 16) == 0;
}

int ip_addr_cmp(const struct ip_addr *a, const struct ip_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->b, b->b, 16);
}

bool ip_prefix_eq(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->len == b->len && ip_addr_eq(&a->addr, &b->addr);
}

static bool prefix_bits_match(const uint8_t *x, const uint8_t *y, unsigned len)
{
	unsigned whole = len / 8;
	if (memcmp(x, y, whole) != 0)
		return false;
	unsigned rest = len % 8;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (x[whole] & mask) == (y[whole] & mask);
}

bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_addr *a)
{
	if (p->addr.family != a->family)
		return false;
	return prefix_bits_match(p->addr.b, a->b, p->len);
}

bool ip_prefix_covers(const struct ip_prefix *outer, const struct ip_prefix *inner)
{
	return outer->len <= inner->len && ip_prefix_contains(outer, &inner->addr);
}

bool ip_prefix_overlaps(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return ip_prefix_covers(a, b) || ip_prefix_covers(b, a);
}

/* Adds k to the address as a big-endian integer, wrapping within the family. */
static void addr_add(struct ip_addr *a, uint64_t k)
{
	int last = a->family == IP_V4 ? 3 : 15;
	unsigned carry = 0;
	for (int i = last; i >= 0 && (k || carry); i--) {
		unsigned sum = a->b[i] + (unsigned)(k & 0xff) + carry;
		a->b[i] = (uint8_t)sum;
		carry = sum >> 8;
		k >>= 8;
	}
}

void ip_prefix_nth(const struct ip_prefix *p, uint64_t k, struct ip_addr *out)
{
	*out = p->addr;
	addr_add(out, k);
}

void ip_prefix_last(const struct ip_prefix *p, struct ip_addr *out)
{
	*out = p->addr;
	unsigned bits = addr_bits(p->addr.family);
	for (unsigned i = p->len; i < bits; i++)
		out->b[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}

bool ip_prefix_is_all(const struct ip_prefix *p)
{
	return p->len == 0;
}

void ip_prefix_host(const struct ip_addr *a, struct ip_prefix *out)
{
	out->addr = *a;
	out->len = (uint8_t)addr_bits(a->family);
}

const char *ip_addr_format(const struct ip_addr *a, char *buf, size_t len)
{
	int af = a->family == IP_V4 ? AF_INET : AF_INET6;
	if (!inet_ntop(af, a->b, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *ip_prefix_format(const struct ip_prefix *p, char *buf, size_t len)
{
	char a[IP_ADDR_STRLEN];
	snprintf(buf, len, "%s/%u", ip_addr_format(&p->addr, a, sizeof(a)), p->len);
	return buf;
}

int ip_prefix_list_add(struct ip_prefix_list *l, const struct ip_prefix *p, bool unique)
{
	for (size_t i = 0; unique && i < l->n; i++)
		if (ip_prefix_eq(&l->v[i], p))
			return 0;
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	l->v[l->n++] = *p;
	return 0;
}

bool ip_addr_next(struct ip_addr *a)
{
	int last = a->family == IP_V4 ? 3 : 15;
	for (int i = last; i >= 0; i--)
		if (++a->b[i] != 0)
			return true;
	return false;
}
