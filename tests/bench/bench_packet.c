/*
 * How much of the per-packet budget pkt_parse() takes (PERF.md: 1-5 us of
 * syscall and kernel work per packet; the parser must be noise beside it).
 * Prints, for a few frame kinds, the median ns per frame of pkt_parse()
 * next to a baseline measured in the same run: copying the frame (what the
 * forwarder does anyway) and checksumming its IP header. Figures, never
 * assertions. Run: build/tests/bench_packet [iterations]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checksum.h"
#include "packet.h"

#define RUNS 7

struct sample {
	const char *name;
	uint8_t b[1600];
	size_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t eth(uint8_t *b, uint16_t type)
{
	memset(b, 0x02, 12);
	put16(b + 12, type);
	return 14;
}

static size_t ipv4(uint8_t *b, uint8_t proto, size_t l4len)
{
	static const uint8_t h[20] = {0x45, 0, 0,  0, 0x12, 0x34, 0x40, 0, 64, 0,
				      0,    0, 10, 0, 1,    10,	  10,	0, 2,  20};
	memcpy(b, h, 20);
	b[9] = proto;
	put16(b + 2, (uint16_t)(20 + l4len));
	put16(b + 10, csum_ip(b, 20));
	return 20;
}

static size_t ipv6(uint8_t *b, uint8_t nh, size_t plen)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	put16(b + 4, (uint16_t)plen);
	b[6] = nh;
	b[7] = 64;
	b[8] = 0x20, b[9] = 0x01, b[10] = 0x0d, b[11] = 0xb8, b[23] = 0x10;
	b[24] = 0x20, b[25] = 0x01, b[26] = 0x0d, b[27] = 0xb8, b[39] = 0x20;
	return 40;
}

static size_t tcp(uint8_t *b, size_t payload)
{
	memset(b, 0, 20 + payload);
	put16(b, 40000);
	put16(b + 2, 5432);
	b[12] = 5 << 4;
	b[13] = 0x10;
	return 20 + payload;
}

static void build(struct sample *s)
{
	size_t o;

	if (!strcmp(s->name, "ipv4 tcp 1448")) {
		o = eth(s->b, 0x0800);
		o += ipv4(s->b + o, 6, 20 + 1448);
		o += tcp(s->b + o, 1448);
	} else if (!strcmp(s->name, "ipv4 tcp ack 64B")) {
		o = eth(s->b, 0x0800);
		o += ipv4(s->b + o, 6, 20);
		o += tcp(s->b + o, 0);
		memset(s->b + o, 0, 6); /* Ethernet padding to 60 */
		o += 6;
	} else if (!strcmp(s->name, "ipv6 hbh+tcp 1440")) {
		o = eth(s->b, 0x86dd);
		o += ipv6(s->b + o, 0, 8 + 20 + 1440);
		memset(s->b + o, 0, 8);
		s->b[o] = 6;
		s->b[o + 2] = 1;
		s->b[o + 3] = 4;
		o += 8;
		o += tcp(s->b + o, 1440);
	} else { /* ipv4 icmp frag-needed quoting tcp */
		o = eth(s->b, 0x0800);
		o += ipv4(s->b + o, 1, 8 + 28);
		memset(s->b + o, 0, 8);
		s->b[o] = 3;
		s->b[o + 1] = 4;
		o += 8;
		o += ipv4(s->b + o, 6, 1400);
		o += tcp(s->b + o, 0) - 12;
	}
	s->len = o;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static volatile uint32_t sink;

/* Median ns per frame over RUNS runs of iters frames; kind 0 parse,
 * 1 copy + header checksum (baseline). */
static double measure(const struct sample *s, long iters, int kind)
{
	static uint8_t copy[1600];
	uint64_t t[RUNS];
	struct pkt p;

	for (int r = 0; r < RUNS; r++) {
		uint64_t t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			if (kind == 0) {
				sink += (uint32_t)pkt_parse(s->b, s->len, &p) + p.dport;
			} else {
				memcpy(copy, s->b, s->len);
				sink += csum_ip(copy + 14, 20);
			}
		}
		t[r] = now_ns() - t0;
	}
	qsort(t, RUNS, sizeof(t[0]), cmp_u64);
	return (double)t[RUNS / 2] / (double)iters;
}

int main(int argc, char **argv)
{
	struct sample s[] = {
	    {.name = "ipv4 tcp 1448"},
	    {.name = "ipv4 tcp ack 64B"},
	    {.name = "ipv6 hbh+tcp 1440"},
	    {.name = "ipv4 icmp error"},
	};
	long iters = argc > 1 ? atol(argv[1]) : 2000000;
	struct pkt p;

	printf("%-20s %12s %22s %8s\n", "frame", "parse ns", "copy+ip csum ns (base)", "ratio");
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		build(&s[i]);
		int rc = pkt_parse(s[i].b, s[i].len, &p);
		if (rc < 0) {
			fprintf(stderr, "%s: %s\n", s[i].name, pkt_malformed_name(rc));
			return 1;
		}
		double parse = measure(&s[i], iters, 0), base = measure(&s[i], iters, 1);
		printf("%-20s %12.1f %22.1f %8.2f\n", s[i].name, parse, base, parse / base);
	}
	printf("struct pkt: %zu bytes\n", sizeof(struct pkt));
	return 0;
}
