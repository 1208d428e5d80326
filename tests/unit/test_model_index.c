/*
 * The address index (rules/model_index.c) against the scan it replaces:
 * for every address of every ENI, its neighbours and its public IPs, in
 * labs with secondary addresses, Elastic IPs, IPv6 and several VPCs, a
 * loaded lab (indexed) answers as the same lab without its index; so do
 * the NAT gateways' Elastic IPs, in a lab of several hundred gateways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "labkit.h"
#include "load.h"
#include "model_index.h"

static struct lab *load_rel(const char *rel)
{
	struct lab *lab = kit_load_source(rel);

	assert_non_null(lab);
	assert_non_null(lab->addr_index);
	return lab;
}

/* a with its last byte moved by delta: the neighbours no ENI may own */
static struct ip_addr nudge(const struct ip_addr *a, int delta)
{
	struct ip_addr b = *a;
	size_t last = a->family == IP_V4 ? 3 : 15;

	b.b[last] = (uint8_t)(b.b[last] + delta);
	return b;
}

static void same_answers(const struct lab *indexed, const struct ip_addr *a, size_t *n)
{
	struct lab scanned = *indexed;
	struct ip_addr p1, p2;

	memset(&p1, 0, sizeof(p1));
	memset(&p2, 0, sizeof(p2));
	scanned.addr_index = NULL;
	assert_int_equal(lab_eni_by_addr(indexed, a), lab_eni_by_addr(&scanned, a));
	int32_t e1 = lab_private_of_public(indexed, a, &p1);
	int32_t e2 = lab_private_of_public(&scanned, a, &p2);
	assert_int_equal(e1, e2);
	if (e1 >= 0)
		assert_true(ip_addr_eq(&p1, &p2));
	assert_int_equal(lab_nat_by_address(indexed, a), lab_nat_by_address(&scanned, a));
	++*n;
}

/* Every NAT gateway's address (Elastic IP, a private one's private IP)
 * and its neighbours; found counts the gateways found by their own
 * address (the first of those sharing one). */
static void check_gateways(const struct lab *lab, size_t *asked, size_t *found)
{
	for (size_t i = 0; i < lab->n_gateways; i++) {
		const struct gateway *g = &lab->gateways[i];
		struct ip_addr own;

		if (!gateway_nat_addr(g, &own))
			continue;
		for (int d = -1; d <= 1; d++) {
			struct ip_addr a = nudge(&own, d);
			same_answers(lab, &a, asked);
		}
		int32_t at = lab_nat_by_address(lab, &own);
		assert_true(at >= 0 && at <= (int32_t)i);
		*found += at == (int32_t)i;
	}
}

static void check_lab(const char *rel, size_t *asked, size_t *found)
{
	struct lab *lab = load_rel(rel);

	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		const struct ip_addr *all[] = {e->ipv4, e->ipv6};
		const size_t n[] = {e->n_ipv4, e->n_ipv6};

		for (size_t f = 0; f < 2; f++)
			for (size_t k = 0; k < n[f]; k++) {
				for (int d = -1; d <= 1; d++) {
					struct ip_addr a = nudge(&all[f][k], d);
					same_answers(lab, &a, asked);
				}
				*found += lab_eni_by_addr(lab, &all[f][k]) == (int32_t)i;
			}
		if (e->has_public_ip)
			same_answers(lab, &e->public_ip, asked);
		for (size_t k = 0; k < e->n_publics; k++)
			same_answers(lab, &e->publics[k].pub, asked);
	}
	for (size_t i = 0; i < lab->n_outside; i++)
		same_answers(lab, &lab->outside[i].addr, asked);
	check_gateways(lab, asked, found);
	lab_free(lab);
}

static void test_index_answers_as_the_scan(void **state)
{
	static const char *const labs[] = {
	    "examples/prototype/lab.json",	     "examples/ten-thousand/lab.json",
	    "examples/million/lab.json",	     "examples/aws-export",
	    "tests/integration/labs/eip.json",	     "tests/integration/labs/hairpin.json",
	    "tests/integration/labs/igw.json",	     "tests/integration/labs/routes.json",
	    "tests/integration/labs/samesubnet.json", "tests/integration/labs/natgw.json",
	};
	size_t asked = 0, found = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(labs) / sizeof(labs[0]); i++)
		check_lab(labs[i], &asked, &found);
	/* the labs hold addresses to find: the loop compared something */
	assert_true(asked > 100);
	assert_true(found > 30);
}

#define MANY_NATS 400

/* A lab with MANY_NATS NAT gateways (as an account's export holds
 * hundreds of gateways), their Elastic IPs in no order, every tenth shared
 * with the one before (a lab may say so; the lowest index answers), every
 * tenth another private (known by its private IP). */
static char *many_nats_json(void)
{
	size_t cap = 256 * MANY_NATS + 4096, n = 0;
	char *j = malloc(cap);

	assert_non_null(j);
	n += (size_t)snprintf(j + n, cap - n, "{\"lab\": \"nats\", \"gateways\": [");
	for (unsigned i = 0; i < MANY_NATS; i++) {
		unsigned k = i % 10 == 9 ? i - 1 : i;
		unsigned host = (k * 97u) % 251u + 1u, net = (k * 97u) / 251u;

		n += (size_t)snprintf(j + n, cap - n,
				      "%s{\"kind\": \"nat\", \"id\": \"nat-%017x\", %s"
				      "\"vpc\": \"vpc-0a\", \"subnets\": [\"subnet-0a\"], "
				      "\"private_ip\": \"10.1.%u.%u\", "
				      "\"public_ip\": \"198.51.%u.%u\"}",
				      i ? ", " : "", i,
				      i % 10 == 3 ? "\"detail\": \"private\", " : "", i / 250u, i % 250u + 1u, 100u + net, host);
	}
	snprintf(j + n, cap - n,
		 "], \"vpcs\": [{\"name\": \"a\", \"id\": \"vpc-0a\", \"cidr\": "
		 "\"10.1.0.0/16\", \"subnets\": [{\"name\": \"s\", \"id\": \"subnet-0a\", "
		 "\"cidr\": \"10.1.0.0/16\"}]}]}");
	return j;
}

static void test_nat_index_at_scale(void **state)
{
	char *json = many_nats_json();
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;
	size_t asked = 0, found = 0;

	(void)state;
	lab_load_opts_init(&o);
	diag_init(&d);
	if (lab_load_buffer("nats.json", json, strlen(json), &o, &lab, &d) != 0)
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.items[i].msg);
	diag_free(&d);
	free(json);
	assert_non_null(lab);
	assert_non_null(lab->addr_index);
	assert_int_equal(lab->n_gateways, MANY_NATS);
	check_gateways(lab, &asked, &found);
	assert_int_equal(asked, 3 * MANY_NATS);
	assert_int_equal(found, MANY_NATS - MANY_NATS / 10); /* the shared ones answer earlier */
	lab_free(lab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_index_answers_as_the_scan),
	    cmocka_unit_test(test_nat_index_at_scale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
