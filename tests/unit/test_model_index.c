/*
 * The address index (rules/model_index.c) against the scan it replaces:
 * for every address of every ENI, its neighbours and its public IPs, in
 * labs with secondary addresses, Elastic IPs, IPv6 and several VPCs, a
 * loaded lab (indexed) answers as the same lab without its index.
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
	++*n;
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
	lab_free(lab);
}

static void test_index_answers_as_the_scan(void **state)
{
	static const char *const labs[] = {
	    "examples/prototype/lab.json",	     "examples/ten-thousand/lab.json",
	    "examples/million/lab.json",	     "examples/aws-export",
	    "tests/integration/labs/eip.json",	     "tests/integration/labs/hairpin.json",
	    "tests/integration/labs/igw.json",	     "tests/integration/labs/routes.json",
	    "tests/integration/labs/samesubnet.json",
	};
	size_t asked = 0, found = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(labs) / sizeof(labs[0]); i++)
		check_lab(labs[i], &asked, &found);
	/* the labs hold addresses to find: the loop compared something */
	assert_true(asked > 100);
	assert_true(found > 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_index_answers_as_the_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
