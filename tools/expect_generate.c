/*
 * `vpcfw test --generate LAB`: today's reachability of a lab as an
 * expectations file (DESIGN.md contract 6), so a team can lock it in and
 * let CI show every change as a diff of that file. For every ordered pair
 * of endpoints (ENIs and declared outside hosts, never two outside hosts)
 * it writes: each TCP and UDP port any SG rule or NACL entry names (range
 * ends), one port no rule names, and an ICMP echo, each with its verdict
 * as rules/pipeline gives it now. Not for evaluating anything itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "pipeline.h"

struct port_set {
	uint16_t *v;
	size_t n, cap;
};

static void port_add(struct port_set *s, long p)
{
	if (p < 1 || p > 65535)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == p)
			return;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		uint16_t *v = realloc(s->v, nc * sizeof(*v));
		if (!v)
			return;
		s->v = v;
		s->cap = nc;
	}
	s->v[s->n++] = (uint16_t)p;
}

static int port_cmp(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Range ends named by rules of protocol proto, plus the first port none names. */
static void ports_named(const struct lab *lab, int proto, struct port_set *s)
{
	for (size_t g = 0; g < lab->n_groups; g++)
		for (size_t r = 0; r < lab->groups[g].n_rules; r++) {
			const struct sg_rule *x = &lab->groups[g].rules[r];
			if (x->protocol != proto || (x->from_port <= 0 && x->to_port >= 65535))
				continue;
			port_add(s, x->from_port);
			port_add(s, x->to_port);
		}
	for (size_t a = 0; a < lab->n_nacls; a++) {
		const struct nacl *n = &lab->nacls[a];
		const struct nacl_entry *lists[2] = {n->ingress, n->egress};
		size_t counts[2] = {n->n_ingress, n->n_egress};
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < counts[k]; i++) {
				const struct nacl_entry *e = &lists[k][i];
				if (e->protocol != proto ||
				    (e->port_from == 0 && e->port_to == 65535))
					continue;
				port_add(s, e->port_from);
				port_add(s, e->port_to);
			}
	}
	size_t named = s->n;
	for (long p = 1; p <= 65535 && s->n == named; p++) {
		size_t i;
		for (i = 0; i < named && s->v[i] != p; i++)
			;
		if (i == named)
			port_add(s, p);
	}
	qsort(s->v, s->n, sizeof(*s->v), port_cmp);
}

static void one(const struct lab *lab, FILE *out, const char *from, const char *to, int proto,
		int port, size_t *n)
{
	struct expect_item it = {.proto = proto, .port = port, .icmp_type = -1, .icmp_code = -1};
	struct pipeline_query q;
	struct pipeline_check c;
	char err[256];
	if (expect_query(lab, &it, from, to, &q, err, sizeof(err)) < 0)
		return;
	pipeline_check(lab, &q, &c);
	fprintf(out, "  - { from: \"%s\", to: \"%s\", proto: %s", from, to,
		proto == PROTO_TCP   ? "tcp"
		: proto == PROTO_UDP ? "udp"
				     : "icmp");
	if (port >= 0)
		fprintf(out, ", port: %d", port);
	fprintf(out, ", verdict: %s }\n", c.verdict == VERDICT_ACCEPT ? "accept" : "reject");
	(*n)++;
}

static void pair(const struct lab *lab, FILE *out, const char *from, const char *to,
		 const struct port_set *tcp, const struct port_set *udp, size_t *n)
{
	for (size_t i = 0; i < tcp->n; i++)
		one(lab, out, from, to, PROTO_TCP, tcp->v[i], n);
	for (size_t i = 0; i < udp->n; i++)
		one(lab, out, from, to, PROTO_UDP, udp->v[i], n);
	one(lab, out, from, to, PROTO_ICMP, -1, n);
}

int expect_generate(const struct lab *lab, const char *lab_ref, FILE *out)
{
	struct port_set tcp = {0}, udp = {0};
	size_t n = 0;
	ports_named(lab, PROTO_TCP, &tcp);
	ports_named(lab, PROTO_UDP, &udp);
	fprintf(out,
		"# The reachability of %s as vpcfw evaluates it now (vpcfw test --generate):\n"
		"# every ENI and outside host pair, each TCP/UDP port a rule names plus one no\n"
		"# rule names, and ICMP echo. Commit it; CI shows each change as a diff.\n"
		"lab: \"%s\"\nexpect:\n",
		lab_ref, lab_ref);
	for (size_t a = 0; a < lab->n_enis + lab->n_outside; a++) {
		for (size_t b = 0; b < lab->n_enis + lab->n_outside; b++) {
			if (a == b || (a >= lab->n_enis && b >= lab->n_enis))
				continue;
			const char *from = a < lab->n_enis ? lab_eni_ref(lab, (int32_t)a)
							   : lab->outside[a - lab->n_enis].name;
			const char *to = b < lab->n_enis ? lab_eni_ref(lab, (int32_t)b)
							 : lab->outside[b - lab->n_enis].name;
			pair(lab, out, from, to, &tcp, &udp, &n);
		}
	}
	free(tcp.v);
	free(udp.v);
	return n ? 0 : -ENOENT;
}
