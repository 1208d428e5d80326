/*
 * The lint checks of lint.h. Each check reasons over rules as sets of
 * packets: a rule matches a peer CIDR (or group, or prefix list), a
 * protocol and an interval of keys: the destination port for TCP/UDP,
 * type<<8|code for ICMP (a -1 type or code widens the interval), a single
 * key for every other protocol. Containment of those three is containment
 * of the packet sets (AWS-SEMANTICS §2, §3). Where a check needs a verdict
 * it asks rules/nacl and rules/sg, never a copy of their logic.
 *
 * This file: lint_run(). The check table, findings and rules as packet
 * sets are lint_util.c's, the checks lint_nacl.c's and lint_sg.c's.
 */
#include "lint.h"
#include "lint-private.h"

#include <stdlib.h>
#include <string.h>

int lint_run(const struct lab *lab, struct lint_report *out)
{
	struct lint_ctx c = {lab, out, 0};
	memset(out, 0, sizeof(*out));
	for (size_t a = 0; a < lab->n_nacls; a++) {
		lint_check_shadow(&c, (int32_t)a, false);
		lint_check_shadow(&c, (int32_t)a, true);
	}
	lint_check_sg_redundant(&c);
	lint_check_admin(&c);
	for (size_t a = 0; a < lab->n_nacls; a++)
		lint_check_no_return(&c, (int32_t)a);
	lint_check_refs(&c);
	for (size_t a = 0; a < lab->n_nacls; a++)
		lint_check_gap_nacl(&c, (int32_t)a);
	lint_check_gap_sg(&c);
	if (c.err)
		lint_report_free(out);
	return c.err;
}

void lint_report_free(struct lint_report *r)
{
	free(r->items);
	memset(r, 0, sizeof(*r));
}
