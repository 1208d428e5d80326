/*
 * Benchmark of the connection tracker (rules/conntrack): insert, lookup
 * (hit; hit + update as the fast path does, in a new second and in the
 * same second; miss) and sweep costs in ns per
 * operation at 1k, 100k and 1M tracked connections, the medians of several
 * runs, with bytes per entry and the resident memory of the 1M table.
 * The baseline printed beside the lookups, in the same run, is one random
 * read from an array as large as the pool: the cache-miss floor any hash
 * table pays at that size. Figures, not assertions: never run by ctest.
 *
 * Usage: bench_conntrack [runs]   (default 5)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conntrack.h"

#define SEC 1000000000ull
#define MAX_RUNS 15

static const struct ct_timeouts timeouts = {
    .tcp_established = 432000,
    .tcp_transient = 120,
    .udp_stream = 180,
    .udp = 30,
    .icmp = 30,
    .other = 600,
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	x ^= x >> 16;
	return x;
}

/* Flow i: a client of 10.0.0.0/8 (or 2001:db8::/32 for one flow in 8) to a
 * few servers, TCP mostly, some UDP; generated, not stored, so the
 * benchmark's own memory does not pollute the cache. */
static void flow(uint32_t i, struct ct_tuple *t)
{
	uint32_t h = mix32(i);

	memset(t, 0, sizeof(*t));
	if ((h & 7) == 0) {
		t->src.family = t->dst.family = IP_V6;
		t->src.b[0] = 0x20, t->src.b[1] = 0x01, t->src.b[2] = 0x0d, t->src.b[3] = 0xb8;
		memcpy(t->dst.b, t->src.b, 4);
		memcpy(&t->src.b[12], &i, 4);
		t->dst.b[15] = (uint8_t)(h >> 8 & 3);
	} else {
		t->src.family = t->dst.family = IP_V4;
		t->src.b[0] = 10;
		t->src.b[1] = (uint8_t)(i >> 14);
		t->src.b[2] = (uint8_t)(i >> 6);
		t->src.b[3] = (uint8_t)(i & 63);
		t->dst.b[0] = 10, t->dst.b[1] = 200, t->dst.b[3] = (uint8_t)(h >> 8 & 3);
	}
	t->proto = (h >> 4 & 3) ? PROTO_TCP : PROTO_UDP;
	t->sport = (uint16_t)(32768 + (h >> 16) % 28232);
	t->dport = t->proto == PROTO_TCP ? 443 : 53;
	t->tcp_flags = 0x02;
}

/* A permutation walk of 0..n-1 (odd step modulo a power of two, skipping
 * values past n) so lookups hit the table in random order. */
struct walk {
	uint32_t x, mask, step, n;
};

static void walk_init(struct walk *w, uint32_t n, uint32_t seed)
{
	w->mask = 1;
	while (w->mask < n)
		w->mask <<= 1;
	w->mask -= 1;
	w->step = (mix32(seed) | 1) & w->mask;
	w->step = w->step ? w->step : 1;
	w->x = seed & w->mask;
	w->n = n;
}

static uint32_t walk_next(struct walk *w)
{
	do
		w->x = (w->x * 5 + w->step) & w->mask; /* full period LCG mod 2^k */
	while (w->x >= w->n);
	return w->x;
}

static size_t rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct result {
	double insert, lookup, update, same_s, miss, sweep;
};

/* One random read per op from an array as big as the pool. */
static double floor_ns(size_t bytes, uint32_t ops, volatile uint64_t *sink)
{
	size_t words = bytes / sizeof(uint64_t);
	uint64_t *a = malloc(words * sizeof(*a));
	uint64_t acc = 0, t;
	struct walk w;

	if (!a)
		return 0;
	for (size_t i = 0; i < words; i++)
		a[i] = i;
	walk_init(&w, (uint32_t)(words / 8), 7);
	t = now_ns();
	for (uint32_t i = 0; i < ops; i++)
		acc += a[(size_t)walk_next(&w) * 8 + (acc & 7)];
	t = now_ns() - t;
	*sink += acc;
	free(a);
	return (double)t / ops;
}

static int run_once(uint32_t n, uint32_t seed, struct result *r, size_t *rss_delta, size_t *memory)
{
	struct ct_config cfg = {
	    .capacity = n, .n_zones = 16, .timeouts = timeouts, .allowance = n, .hash_seed = seed};
	struct ct_rule_ref ref = {.group = 1, .rule = 2, .generation = 3};
	struct conntrack *ct;
	struct ct_tuple t;
	struct ct_stats st;
	struct walk w;
	uint64_t clk = 5000 * SEC, t0;
	uint32_t found = 0;
	size_t rss0 = rss_bytes(), freed = 0;
	enum ct_dir d;

	if (ct_create(&cfg, &ct) < 0)
		return -1;
	t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		flow(i, &t);
		if (ct_insert(ct, i & 15, &t, 60, &ref, clk, NULL) < 0) {
			fprintf(stderr, "insert %u failed\n", i);
			ct_destroy(ct);
			return -1;
		}
	}
	r->insert = (double)(now_ns() - t0) / n;
	*rss_delta = rss_bytes() - rss0;
	ct_get_stats(ct, &st);
	*memory = st.memory;

	walk_init(&w, n, seed);
	t0 = now_ns();
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = walk_next(&w);

		flow(i, &t);
		found += ct_lookup(ct, i & 15, &t, clk, &d) != NULL;
	}
	r->lookup = (double)(now_ns() - t0) / n;

	walk_init(&w, n, seed + 1);
	t0 = now_ns();
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = walk_next(&w);
		struct ct_conn *c;

		flow(i, &t);
		t.tcp_flags = 0x10;
		c = ct_lookup(ct, i & 15, &t, clk + SEC, &d);
		if (c)
			ct_update(ct, c, d, &t, 1500, clk + SEC);
	}
	r->update = (double)(now_ns() - t0) / n;

	/* Again within the same second: what a busy flow costs (no list move). */
	walk_init(&w, n, seed + 3);
	t0 = now_ns();
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = walk_next(&w);
		struct ct_conn *c;

		flow(i, &t);
		t.tcp_flags = 0x10;
		c = ct_lookup(ct, i & 15, &t, clk + SEC + 1, &d);
		if (c)
			ct_update(ct, c, d, &t, 1500, clk + SEC + 1);
	}
	r->same_s = (double)(now_ns() - t0) / n;

	walk_init(&w, n, seed + 2);
	t0 = now_ns();
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = walk_next(&w);

		flow(i, &t);
		t.dport = 1; /* same hosts, a port nobody uses */
		found += ct_lookup(ct, i & 15, &t, clk, &d) != NULL;
	}
	r->miss = (double)(now_ns() - t0) / n;

	/* Everything idles out (established 432000 s is the longest). */
	t0 = now_ns();
	for (size_t got; (got = ct_sweep(ct, clk + 500000 * SEC, 1024)) > 0;)
		freed += got;
	r->sweep = freed ? (double)(now_ns() - t0) / (double)freed : 0;

	ct_destroy(ct);
	if (found != n || freed != n) {
		fprintf(stderr, "bench: %u of %u found, %zu freed\n", found, n, freed);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = {1000, 100000, 1000000};
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	volatile uint64_t sink = 0;
	size_t rss_1m = 0;

	if (runs < 1 || runs > MAX_RUNS)
		runs = 5;
	printf("conntrack benchmark: medians of %d runs, ns per operation\n", runs);
	printf("floor = one random 8-byte read from an array as large as the pool (baseline)\n\n");
	printf("%9s %7s %7s %7s %7s %7s %7s %7s %7s %7s\n", "entries", "B/entry", "insert",
	       "lookup", "upd+mv", "upd", "miss", "sweep", "floor", "lk/flr");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t n = sizes[s];
		double ins[MAX_RUNS] = {0}, lk[MAX_RUNS] = {0}, up[MAX_RUNS] = {0},
		       same[MAX_RUNS] = {0}, ms[MAX_RUNS] = {0}, sw[MAX_RUNS] = {0},
		       fl[MAX_RUNS] = {0};
		size_t rss = 0, memory = 0;
		struct result r;

		for (int i = 0; i < runs; i++) {
			if (run_once(n, (uint32_t)(i + 1) * 2654435761u, &r, &rss, &memory) < 0)
				return 1;
			ins[i] = r.insert, lk[i] = r.lookup, up[i] = r.update, same[i] = r.same_s;
			ms[i] = r.miss, sw[i] = r.sweep;
			fl[i] = floor_ns(memory, n, &sink);
		}
		double m_lk = median(lk, runs), m_fl = median(fl, runs);

		printf("%9u %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %7.2f\n", n,
		       (double)memory / n, median(ins, runs), m_lk, median(up, runs),
		       median(same, runs), median(ms, runs), median(sw, runs), m_fl,
		       m_fl > 0 ? m_lk / m_fl : 0);
		if (n == 1000000)
			rss_1m = rss;
	}
	printf("\nresident memory of the full 1M table: %.1f MiB (%.1f bytes per entry)\n",
	       (double)rss_1m / (1 << 20), (double)rss_1m / 1e6);
	printf("B/entry: bytes allocated (pool + hash buckets + zones) / entries.\n"
	       "upd+mv: lookup + update in a new second (the entry moves to its list's tail,\n"
	       "once a second per flow at most); upd: lookup + update in the same second.\n"
	       "sweep: per entry freed, budget 1024 a call. Resident memory: growth while\n"
	       "filling (pool pages are touched only as entries are used).\n");
	return sink == 42 ? 2 : 0;
}
