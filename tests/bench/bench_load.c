/*
 * How long loading a lab takes as it grows: generated labs of the vpcfw
 * format with N ENIs, timed through lab_load_buffer, beside the baseline of
 * merely parsing the same JSON with jansson (the floor any loader pays).
 * Prints medians of several runs and their ratio; asserts nothing.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "load.h"

#define RUNS 5

struct buf {
	char *p;
	size_t n, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void put(struct buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k >= 0 && (size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		}
		b->cap = b->cap ? b->cap * 2 : 1 << 16;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
}

/* n ENIs, 250 per /24 subnet, 20 groups that reference each other, and a
 * NACL of 20 rules per direction per 10 subnets. */
static char *make_lab(size_t n, size_t *len)
{
	struct buf b = {0};
	size_t subnets = (n + 249) / 250;
	put(&b,
	    "{\"lab\":\"bench\",\"vpcs\":[{\"name\":\"v\",\"cidr\":\"10.0.0.0/16\",\"subnets\":[");
	for (size_t s = 0; s < subnets; s++)
		put(&b, "%s{\"name\":\"s%zu\",\"cidr\":\"10.0.%zu.0/24\",\"nacl\":\"n%zu\"}",
		    s ? "," : "", s, s, s / 10);
	put(&b, "],\"nacls\":[");
	for (size_t k = 0; k < (subnets + 9) / 10; k++) {
		put(&b, "%s{\"name\":\"n%zu\",\"ingress\":[", k ? "," : "", k);
		for (int r = 0; r < 20; r++)
			put(&b,
			    "%s{\"rule\":%d,\"action\":\"allow\",\"proto\":\"tcp\",\"ports\":\"%"
			    "d\","
			    "\"cidr\":\"10.0.0.0/16\"}",
			    r ? "," : "", 100 + r, 8000 + r);
		put(&b, "],\"egress\":[{\"rule\":100,\"action\":\"allow\",\"proto\":-1,"
			"\"cidr\":\"0.0.0.0/0\"}]}");
	}
	put(&b, "],\"security_groups\":[");
	for (int g = 0; g < 20; g++) {
		put(&b, "%s{\"name\":\"g%d\",\"ingress\":[", g ? "," : "", g);
		for (int r = 0; r < 10; r++)
			put(&b,
			    "%s{\"proto\":\"tcp\",\"ports\":\"%d\",\"from\":[\"g%d\",\"10.%d.0.0/"
			    "16\"]}",
			    r ? "," : "", 1000 + r, (g + r) % 20, r);
		put(&b, "]}");
	}
	put(&b, "],\"enis\":[");
	for (size_t i = 0; i < n; i++)
		put(&b,
		    "%s{\"name\":\"e%zu\",\"subnet\":\"s%zu\",\"ip\":\"10.0.%zu.%zu\","
		    "\"groups\":[\"g%zu\",\"g%zu\"]}",
		    i ? "," : "", i, i / 250, i / 250, 4 + i % 250, i % 20, (i + 7) % 20);
	put(&b, "]}]}");
	*len = b.n;
	return b.p;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

int main(void)
{
	static const size_t sizes[] = {100, 1000, 5000, 10000};
	printf("%8s %10s %14s %14s %7s\n", "ENIs", "JSON KiB", "parse only ms", "lab_load ms",
	       "ratio");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t len;
		char *doc = make_lab(sizes[s], &len);
		double parse[RUNS], load[RUNS];
		for (int r = 0; r < RUNS; r++) {
			double t0 = now();
			json_t *j = json_loadb(doc, len, JSON_REJECT_DUPLICATES, NULL);
			double t1 = now();
			json_decref(j);
			parse[r] = (t1 - t0) * 1e3;

			struct lab_load_opts o;
			lab_load_opts_init(&o);
			struct diag_list d;
			diag_init(&d);
			struct lab *lab = NULL;
			t0 = now();
			int rc = lab_load_buffer("bench.json", doc, len, &o, &lab, &d);
			t1 = now();
			load[r] = (t1 - t0) * 1e3;
			if (rc) {
				char buf[1024];
				fprintf(stderr, "bench lab failed: %s\n",
					d.n ? diag_format(&d.items[0], buf, sizeof(buf)) : "?");
				return 1;
			}
			lab_free(lab);
			diag_free(&d);
		}
		double p = median(parse, RUNS), l = median(load, RUNS);
		printf("%8zu %10zu %14.2f %14.2f %6.1fx\n", sizes[s], len / 1024, p, l, l / p);
		free(doc);
	}
	return 0;
}
