/*
 * A lab split across hosts (rules/own.h, docs/scale-out.md): what --own
 * marks, and that the forwarding decision split between the sender's host
 * and the receiver's host gives the answer of the whole lab on one host
 * (the one `vpcfw check` gives): on every pair of ENIs of the shipped
 * examples in different subnets, for a set of flows, the two hosts
 * together accept exactly what one host accepts, and a refusal comes from
 * the same stage and rule, on the host that owns that stage.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "forward.h"
#include "labkit.h"
#include "own.h"
#include "pipeline.h"

static struct lab *load(const char *rel)
{
	struct lab *lab = kit_load_source(rel);
	if (!lab)
		fail_msg("%s does not load", rel);
	return lab;
}

static size_t n_remote(const struct lab *lab)
{
	size_t n = 0;
	for (size_t i = 0; i < lab->n_enis; i++)
		n += lab->enis[i].remote;
	return n;
}

static int own(struct lab *lab, const char *list)
{
	struct diag_list d;
	diag_init(&d);
	int rc = lab_own(lab, list, &d);
	assert_int_equal(rc<0, d.n_errors> 0);
	diag_free(&d);
	return rc;
}

static void test_own_marks(void **state)
{
	(void)state;
	struct lab *lab = load("tests/integration/labs/scaleout.json");
	assert_int_equal(own(lab, "a"), 0); /* a subnet by name */
	assert_false(lab->enis[0].remote);
	assert_false(lab->enis[1].remote);
	assert_true(lab->enis[2].remote);
	assert_true(lab->enis[3].remote);
	assert_int_equal(own(lab, "subnet-0b0000000000000bb,eni-0a000000000000a01"), 0);
	assert_false(lab->enis[0].remote);
	assert_true(lab->enis[1].remote);
	assert_int_equal(n_remote(lab), 1);
	assert_int_equal(own(lab, "a2-@RUN@"), 0); /* a Name tag */
	assert_int_equal(n_remote(lab), 3);
	/* refused: nothing changes */
	assert_int_equal(own(lab, "a,nothing"), -EINVAL);
	assert_int_equal(own(lab, "a,"), -EINVAL);
	assert_int_equal(own(lab, ",a"), -EINVAL);
	assert_int_equal(own(lab, ""), 0); /* owns nothing: every ENI remote */
	assert_int_equal(n_remote(lab), 4);
	lab_free(lab);

	lab = load("tests/integration/labs/igw.json");
	assert_true(lab->n_outside > 0);
	assert_int_equal(own(lab, "outside"), 0);
	assert_false(lab->outside[0].remote);
	assert_int_equal(n_remote(lab), lab->n_enis);
	assert_int_equal(own(lab, lab->subnets[0].id), 0);
	assert_true(lab->outside[0].remote);
	lab_free(lab);
}

static void decide(struct lab *lab, const char *owner, int32_t s, const struct flow *f,
		   struct fwd_decision *d)
{
	struct pipeline_end from = {END_ENI, s, SERVICE_NONE};
	struct fwd_input in;
	for (size_t i = 0; i < lab->n_enis; i++)
		lab->enis[i].remote = false;
	if (owner)
		assert_int_equal(own(lab, owner), 0);
	forward_input_init(&in, &from, f);
	in.opens = f->proto == PROTO_TCP;
	forward_decide(lab, &in, d);
}

static const struct stage_verdict *rejecting(const struct fwd_decision *d)
{
	if (d->drop != FWD_DROP_REJECTED)
		return NULL;
	return &d->res.stages[d->res.rejected_at];
}

static bool same_stage(const struct stage_verdict *a, const struct stage_verdict *b)
{
	return a->stage == b->stage && a->group == b->group && a->rule == b->rule &&
	       a->nacl == b->nacl && a->rule_number == b->rule_number && a->reason == b->reason;
}

/* One flow s -> t: whole lab against sender's host then receiver's. */
static void split_agrees(struct lab *lab, int32_t s, int32_t t, const struct flow *f)
{
	struct fwd_decision whole, a, b;
	const char *sn = lab->subnets[lab->enis[s].subnet].id;
	const char *tn = lab->subnets[lab->enis[t].subnet].id;

	decide(lab, NULL, s, f, &whole);
	decide(lab, sn, s, f, &a);
	if (a.drop == FWD_PASS)
		assert_int_equal(a.remote, FWD_REMOTE_DST);
	if (a.drop != FWD_PASS) {
		/* refused by the sender's host: for the same reason as on one */
		assert_int_equal(a.drop, whole.drop);
		if (rejecting(&a) && !same_stage(rejecting(&a), rejecting(&whole)))
			fail_msg("%s -> %s: the sender's host refuses at %s, one host at %s",
				 lab->enis[s].id, lab->enis[t].id,
				 pipeline_stage_name(rejecting(&a)->stage),
				 pipeline_stage_name(rejecting(&whole)->stage));
		return;
	}
	decide(lab, tn, s, f, &b);
	assert_int_equal(b.remote, FWD_REMOTE_SRC);
	assert_int_equal(b.side[0].eni, -1);
	assert_int_equal(a.side[1].eni, -1);
	if (b.drop != whole.drop)
		fail_msg("%s -> %s proto %d port %u: one host %d, the receiver's host %d",
			 lab->enis[s].id, lab->enis[t].id, f->proto, f->dport, whole.drop, b.drop);
	if (rejecting(&b)) {
		assert_true(rejecting(&b)->stage == STAGE_NACL_INGRESS ||
			    rejecting(&b)->stage == STAGE_SG_INGRESS);
		assert_true(same_stage(rejecting(&b), rejecting(&whole)));
	}
}

static void split_lab(const char *rel)
{
	static const struct {
		int proto;
		unsigned port;
	} flows[] = {{PROTO_TCP, 22},	{PROTO_TCP, 80},   {PROTO_TCP, 443},  {PROTO_TCP, 3306},
		     {PROTO_TCP, 5432}, {PROTO_TCP, 6379}, {PROTO_TCP, 6000}, {PROTO_TCP, 7000},
		     {PROTO_TCP, 8080}, {PROTO_UDP, 53},   {PROTO_UDP, 5353}};
	struct lab *lab = load(rel);
	size_t pairs = 0;

	for (size_t s = 0; s < lab->n_enis; s++)
		for (size_t t = 0; t < lab->n_enis; t++) {
			const struct eni *es = &lab->enis[s], *et = &lab->enis[t];
			if (es->subnet == et->subnet || !es->n_ipv4 || !et->n_ipv4)
				continue;
			for (size_t k = 0; k < sizeof(flows) / sizeof(flows[0]); k++) {
				struct flow f = {.src = es->ipv4[0],
						 .dst = et->ipv4[0],
						 .proto = (uint8_t)flows[k].proto,
						 .sport = 40000,
						 .dport = (uint16_t)flows[k].port};
				split_agrees(lab, (int32_t)s, (int32_t)t, &f);
			}
			struct flow echo = {.src = es->ipv4[0],
					    .dst = et->ipv4[0],
					    .proto = PROTO_ICMP,
					    .icmp_type = 8};
			split_agrees(lab, (int32_t)s, (int32_t)t, &echo);
			pairs++;
		}
	assert_true(pairs > 0);
	print_message("%s: %zu pairs of ENIs in different subnets, split and whole agree\n", rel,
		      pairs);
	lab_free(lab);
}

static void test_split_scaleout_lab(void **state)
{
	(void)state;
	split_lab("tests/integration/labs/scaleout.json");
}

static void test_split_examples(void **state)
{
	(void)state;
	split_lab("examples/prototype");
	split_lab("examples/ten-thousand");
	split_lab("examples/million");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_own_marks),
	    cmocka_unit_test(test_split_scaleout_lab),
	    cmocka_unit_test(test_split_examples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
