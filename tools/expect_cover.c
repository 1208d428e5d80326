/*
 * `vpcfw test --generate LAB --cover`: a small expectations file whose
 * flows exercise every rule a flow can reach (rules/cover's greedy set
 * over complete representatives), each flow with a comment naming the
 * rules it covers first, and the rules no flow can reach listed at the
 * end. The verdicts are today's, as `--generate` writes them. Not for
 * choosing flows (rules/cover) or evaluating them (rules/pipeline).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "cover.h"
#include "expect.h"
#include "flow.h"

static void write_flow(FILE *out, const struct lab *lab, const struct rule_index *ri,
		       const struct cover_flow *f)
{
	char text[512], proto[16];
	for (size_t i = 0; i < f->n_rules; i++)
		fprintf(out, "  # covers %s\n",
			rule_ref_format(lab, &ri->refs[f->rules[i]], text, sizeof(text)));
	bool named = f->proto == PROTO_TCP || f->proto == PROTO_UDP || f->proto == PROTO_ICMP ||
		     f->proto == PROTO_ICMPV6;
	if (named)
		flow_proto_name(f->proto, proto, sizeof(proto));
	else
		snprintf(proto, sizeof(proto), "%d", f->proto);
	fprintf(out, "  - { from: \"%s\", to: \"%s\", proto: %s", f->from, f->to, proto);
	if (f->port >= 0)
		fprintf(out, ", port: %d", f->port);
	if (f->icmp_type >= 0)
		fprintf(out, ", icmp-type: %d, icmp-code: %d", f->icmp_type, f->icmp_code);
	fprintf(out, ", verdict: %s }\n", f->accept ? "accept" : "reject");
}

int expect_generate_cover(const struct lab *lab, const char *lab_ref, FILE *out)
{
	struct rule_index ri;
	struct cover_plan plan;
	char text[512];
	int r = rule_index_build(lab, &ri);
	if (r == 0)
		r = cover_generate(lab, &ri, &plan);
	if (r < 0) {
		rule_index_free(&ri);
		return r;
	}
	fprintf(out,
		"# Flows exercising every rule of %s a flow can reach (vpcfw test --generate\n"
		"# --cover): %zu of %zu rules reachable, %zu flows. Verdicts are today's.\n"
		"lab: \"%s\"\nexpect:\n",
		lab_ref, plan.n_reachable, ri.total, plan.n, lab_ref);
	for (size_t i = 0; i < plan.n; i++)
		write_flow(out, lab, &ri, &plan.flows[i]);
	for (size_t i = 0; i < ri.total; i++)
		if (!plan.reachable[i])
			fprintf(out, "# %s: %s\n",
				plan.undecided[i] ? "not decided (search limit reached)"
						  : "unreachable",
				rule_ref_format(lab, &ri.refs[i], text, sizeof(text)));
	r = plan.n ? 0 : -ENOENT;
	cover_plan_free(&plan);
	rule_index_free(&ri);
	return r;
}
