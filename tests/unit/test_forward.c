/*
 * rules/forward: the one forwarding decision the data path and `vpcfw
 * check` share. Hairpin through the internet gateway (AWS-SEMANTICS §9):
 * traffic from an ENI to another ENI's public IP leaves through the IGW
 * with the sender's public IP as its source, needs the sender's public IP
 * and IGW route and the receiver's route back, and meets both ENIs' NACLs
 * and the receiver's SG with the public source (an SG reference never
 * matches it). The data path's packets (forward_packet, forward_commit)
 * get the same stages as check's request and response.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conntrack.h"
#include "forward.h"
#include "labkit.h"
#include "fwdkit.h"
#include "packet.h"
#include "pipeline.h"
#include "query.h"

static const int32_t END = -1;

/* Two VPCs. vpc-1: subnets a and b (default NACL, IGW route), closed
 * (deny-all NACL, IGW route), priv (no IGW route); vpc-2: one subnet with
 * an IGW route. Public IPs from 198.51.100.0/24. One outside host. */
struct world {
	struct lab *lab;
	int32_t g_a, g_b;
	int32_t a, a2, a3, b, c, p, x;
};

static struct world *world_new(void)
{
	struct world *w = calloc(1, sizeof(*w));
	struct lab *lab = w->lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", NULL);
	int32_t vpc2 = kit_vpc(lab, "vpc-2", "172.16.0.0/16", NULL);
	for (int32_t v = vpc; v <= vpc2; v++) {
		int32_t acl = kit_nacl(lab, v == vpc ? "acl-1" : "acl-2", v, true);
		for (int eg = 0; eg < 2; eg++) {
			kit_nacl_rule(lab, acl, eg, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
			kit_nacl_rule(lab, acl, eg, 101, true, PROTO_ALL, "::/0", 0, 0);
		}
	}
	int32_t deny = kit_nacl(lab, "acl-deny", vpc, false);
	int32_t rt_priv = kit_route_table(lab, "rtb-main", vpc, true);
	kit_route(lab, rt_priv, "10.0.0.0/16", "local");
	int32_t rt_pub = kit_route_table(lab, "rtb-pub", vpc, false);
	kit_route(lab, rt_pub, "10.0.0.0/16", "local");
	kit_route(lab, rt_pub, "0.0.0.0/0", "igw-1");
	int32_t rt2 = kit_route_table(lab, "rtb-2", vpc2, true);
	kit_route(lab, rt2, "172.16.0.0/16", "local");
	kit_route(lab, rt2, "0.0.0.0/0", "igw-2");
	int32_t sn_a = kit_subnet(lab, "subnet-a", vpc, "10.0.1.0/24", NULL, -1, rt_pub);
	int32_t sn_b = kit_subnet(lab, "subnet-b", vpc, "10.0.2.0/24", NULL, -1, rt_pub);
	int32_t sn_c = kit_subnet(lab, "subnet-closed", vpc, "10.0.3.0/24", NULL, deny, rt_pub);
	int32_t sn_p = kit_subnet(lab, "subnet-priv", vpc, "10.0.4.0/24", NULL, -1, -1);
	int32_t sn_x = kit_subnet(lab, "subnet-x", vpc2, "172.16.1.0/24", NULL, -1, -1);
	w->g_a = kit_group(lab, "sg-a", "a", vpc);
	w->g_b = kit_group(lab, "sg-b", "b", vpc);
	int32_t g_x = kit_group(lab, "sg-x", "x", vpc2);
	kit_sg_rule(lab, w->g_a, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_b, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, w->g_b, false, PROTO_TCP, 80, 80, "sg-a");
	kit_sg_rule(lab, g_x, true, PROTO_ALL, -1, -1, "0.0.0.0/0");
	kit_sg_rule(lab, g_x, false, PROTO_TCP, 80, 80, "198.51.100.10/32");
	int32_t ga[] = {w->g_a, END}, gb[] = {w->g_b, END}, gx[] = {g_x, END};
	w->a = kit_eni(lab, "eni-a", "a", sn_a, "10.0.1.10", NULL, "198.51.100.10", ga);
	w->a2 = kit_eni(lab, "eni-a2", "a2", sn_a, "10.0.1.11", NULL, NULL, ga);
	w->a3 = kit_eni(lab, "eni-a3", "a3", sn_a, "10.0.1.12", NULL, "198.51.100.12", gb);
	w->b = kit_eni(lab, "eni-b", "b", sn_b, "10.0.2.20", NULL, "198.51.100.20", gb);
	w->c = kit_eni(lab, "eni-c", "c", sn_c, "10.0.3.30", NULL, "198.51.100.30", gb);
	w->p = kit_eni(lab, "eni-p", "p", sn_p, "10.0.4.40", NULL, "198.51.100.40", gb);
	w->x = kit_eni(lab, "eni-x", "x", sn_x, "172.16.1.50", NULL, "198.51.100.50", gx);
	lab->outside = kit_alloc(lab, 1, sizeof(*lab->outside));
	lab->outside[0] = (struct outside_host){.name = "net", .addr = kit_addr("203.0.113.7")};
	lab->n_outside = 1;
	kit_finish(lab);
	return w;
}

static void world_free(struct world *w)
{
	kit_free(w->lab);
	free(w);
}

/* `vpcfw check LAB --from FROM --to TO --proto tcp --port 80 --sport 40000` */
static void check_tcp80(const struct lab *lab, const char *from, const char *to,
			struct pipeline_check *c)
{
	struct query_spec s;
	struct pipeline_query q;
	char err[256], warn[256];
	query_spec_init(&s);
	s.from = from;
	s.to = to;
	s.proto = PROTO_TCP;
	s.port = 80;
	s.sport = 40000;
	if (query_build(lab, &s, &q, err, sizeof(err), warn, sizeof(warn)) < 0)
		fail_msg("query_build %s -> %s: %s", from, to, err);
	pipeline_check(lab, &q, c);
}

struct want {
	enum pipeline_stage stage;
	enum pipeline_verdict verdict;
	enum pipeline_reason reason;
};

static void expect(const struct pipeline_result *r, const struct want *w, size_t n)
{
	if (r->n != n)
		fail_msg("%zu stages, want %zu", r->n, n);
	for (size_t i = 0; i < n; i++) {
		const struct stage_verdict *v = &r->stages[i];
		if (v->stage != w[i].stage || v->verdict != w[i].verdict ||
		    v->reason != w[i].reason)
			fail_msg("stage %zu: %s %s %s, want %s %s %s", i,
				 pipeline_stage_name(v->stage), pipeline_verdict_name(v->verdict),
				 pipeline_reason_name(v->reason), pipeline_stage_name(w[i].stage),
				 pipeline_verdict_name(w[i].verdict),
				 pipeline_reason_name(w[i].reason));
	}
}

#define EXPECT(r, ...)                                                                             \
	do {                                                                                       \
		const struct want w_[] = {__VA_ARGS__};                                            \
		expect(r, w_, sizeof(w_) / sizeof(w_[0]));                                         \
	} while (0)

#define A VERDICT_ACCEPT
#define R VERDICT_REJECT
#define S VERDICT_SKIPPED

/* §9: to b's public IP the packet comes from a's public IP, which b's
 * "tcp 80 from sg-a" does not match; by private address it does. */
static void test_hairpin_receiver_sees_public_source(void **state)
{
	struct world *w = world_new();
	struct pipeline_check c;
	check_tcp80(w->lab, "eni-a", "198.51.100.20", &c);
	EXPECT(&c.request, {STAGE_SG_EGRESS, A, REASON_RULE}, {STAGE_NACL_EGRESS, A, REASON_RULE},
	       {STAGE_ROUTE, A, REASON_ROUTE_IGW}, {STAGE_ROUTE, A, REASON_ROUTE_IGW},
	       {STAGE_NACL_INGRESS, A, REASON_RULE}, {STAGE_SG_INGRESS, R, REASON_NO_RULE});
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_int_equal(c.response.n, 6);
	assert_int_equal(c.response.stages[0].reason, REASON_REQUEST_REJECTED);

	check_tcp80(w->lab, "eni-a", "eni-b", &c);
	EXPECT(&c.request, {STAGE_SG_EGRESS, A, REASON_RULE}, {STAGE_NACL_EGRESS, A, REASON_RULE},
	       {STAGE_NACL_INGRESS, A, REASON_RULE}, {STAGE_SG_INGRESS, A, REASON_RULE});
	assert_int_equal(c.verdict, VERDICT_ACCEPT);

	/* allowing a's public IP opens the hairpin; the reply hairpins back */
	kit_sg_rule(w->lab, w->g_b, false, PROTO_TCP, 80, 80, "198.51.100.10/32");
	check_tcp80(w->lab, "eni-a", "198.51.100.20", &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.request.stages[5].group, w->g_b);
	assert_int_equal(c.request.stages[5].rule, 2);
	EXPECT(&c.response, {STAGE_SG_EGRESS, A, REASON_TRACKED},
	       {STAGE_NACL_EGRESS, A, REASON_RULE}, {STAGE_ROUTE, A, REASON_ROUTE_IGW},
	       {STAGE_ROUTE, A, REASON_ROUTE_IGW}, {STAGE_NACL_INGRESS, A, REASON_RULE},
	       {STAGE_SG_INGRESS, A, REASON_TRACKED});
	world_free(w);
}

/* The sender needs a public IP of its own address, the receiver's subnet
 * a route back to the internet gateway. */
static void test_hairpin_needs_public_ip_and_routes(void **state)
{
	struct world *w = world_new();
	struct pipeline_check c;
	kit_sg_rule(w->lab, w->g_b, false, PROTO_TCP, 80, 80, "0.0.0.0/0");
	check_tcp80(w->lab, "10.0.1.11", "198.51.100.20", &c);
	assert_int_equal(c.request.rejected_at, 2);
	assert_int_equal(c.request.stages[2].reason, REASON_NO_PUBLIC_IP);
	assert_int_equal(c.request.stages[2].eni, w->a2);

	check_tcp80(w->lab, "eni-a", "198.51.100.40", &c);
	assert_int_equal(c.request.rejected_at, 3);
	assert_int_equal(c.request.stages[3].stage, STAGE_ROUTE);
	assert_int_equal(c.request.stages[3].reason, REASON_NO_ROUTE);
	assert_int_equal(c.request.stages[3].eni, w->p);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	world_free(w);
}

/* Both NACLs apply as for internet traffic: through the gateway even two
 * ENIs of one subnet meet them, and a deny-all NACL refuses the hairpin
 * its private path would not meet at all. */
static void test_hairpin_meets_both_nacls(void **state)
{
	struct world *w = world_new();
	struct pipeline_check c;
	kit_sg_rule(w->lab, w->g_b, false, PROTO_TCP, 80, 80, "0.0.0.0/0");
	check_tcp80(w->lab, "eni-a", "198.51.100.12", &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.request.stages[1].reason, REASON_RULE);
	assert_int_equal(c.request.stages[4].reason, REASON_RULE);
	check_tcp80(w->lab, "eni-a", "eni-a3", &c);
	assert_int_equal(c.request.stages[1].reason, REASON_SAME_SUBNET);

	check_tcp80(w->lab, "eni-a", "198.51.100.30", &c);
	assert_int_equal(c.request.rejected_at, 4);
	assert_int_equal(c.request.stages[4].stage, STAGE_NACL_INGRESS);
	assert_int_equal(c.request.stages[4].rule_number, 32767);
	world_free(w);
}

/* Across VPCs the public IP is the internet's way, not peering's. */
static void test_hairpin_across_vpcs(void **state)
{
	struct world *w = world_new();
	struct pipeline_check c;
	check_tcp80(w->lab, "eni-a", "198.51.100.50", &c);
	EXPECT(&c.request, {STAGE_SG_EGRESS, A, REASON_RULE}, {STAGE_NACL_EGRESS, A, REASON_RULE},
	       {STAGE_ROUTE, A, REASON_ROUTE_IGW}, {STAGE_ROUTE, A, REASON_ROUTE_IGW},
	       {STAGE_NACL_INGRESS, A, REASON_RULE}, {STAGE_SG_INGRESS, A, REASON_RULE});
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	check_tcp80(w->lab, "eni-a", "eni-x", &c);
	assert_int_equal(c.request.stages[2].reason, REASON_OTHER_VPC);
	world_free(w);
}

static struct fwd_port eni_port(int32_t eni)
{
	return (struct fwd_port){FWD_PORT_ENI, eni};
}

static void assert_addr(const struct ip_addr *a, const char *want)
{
	struct ip_addr w = kit_addr(want);
	char buf[IP_ADDR_STRLEN];
	if (!ip_addr_eq(a, &w))
		fail_msg("%s, want %s", ip_addr_format(a, buf, sizeof(buf)), want);
}

/* The data path's packets: the SYN hairpins with both addresses
 * translated and is tracked on both ENIs, each in its own address space;
 * the SYN-ACK finds both entries and hairpins back. Stage by stage the
 * same verdicts as check's request and response. */
static void test_data_path_hairpin(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	kit_sg_rule(lab, w->g_b, false, PROTO_TCP, 80, 80, "198.51.100.10/32");
	struct conntrack *ct = make_ct(lab->n_enis);
	struct fwd_decision d;
	struct fwd_port pa = eni_port(w->a), pb = eni_port(w->b);

	struct pkt syn = tcp_pkt("10.0.1.10", "198.51.100.20", 40000, 80, PKT_TCP_SYN);
	forward_packet(lab, ct, 1000000000ull, &pa, &syn, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_int_equal(d.path, FWD_PATH_HAIRPIN);
	assert_int_equal(d.egress.kind, FWD_PORT_ENI);
	assert_int_equal(d.egress.index, w->b);
	assert_true(d.xlate.src.has_addr && d.xlate.dst.has_addr);
	assert_addr(&d.xlate.src.addr, "198.51.100.10");
	assert_addr(&d.xlate.dst.addr, "10.0.2.20");
	assert_addr(&d.side[1].flow.src, "198.51.100.10");
	assert_int_equal(d.side[0].ct, FWD_CT_INSERT);
	assert_int_equal(d.side[1].ct, FWD_CT_INSERT);
	struct pipeline_check c;
	check_tcp80(lab, "eni-a", "198.51.100.20", &c);
	assert_int_equal(d.res.n, c.request.n);
	for (size_t i = 0; i < d.res.n; i++) {
		assert_int_equal(d.res.stages[i].verdict, c.request.stages[i].verdict);
		assert_int_equal(d.res.stages[i].reason, c.request.stages[i].reason);
	}
	forward_commit(ct, 1000000000ull, 0, &syn, &d);
	assert_int_equal(d.drop, FWD_PASS);

	struct pkt synack =
	    tcp_pkt("10.0.2.20", "198.51.100.10", 80, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	forward_packet(lab, ct, 1100000000ull, &pb, &synack, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_int_equal(d.path, FWD_PATH_HAIRPIN);
	assert_int_equal(d.egress.index, w->a);
	assert_addr(&d.xlate.src.addr, "198.51.100.20");
	assert_addr(&d.xlate.dst.addr, "10.0.1.10");
	assert_non_null(d.side[0].conn);
	assert_non_null(d.side[1].conn);
	assert_int_equal(d.side[0].ct, FWD_CT_UPDATE);
	assert_int_equal(d.side[1].ct, FWD_CT_UPDATE);
	assert_int_equal(d.res.n, c.response.n);
	for (size_t i = 0; i < d.res.n; i++) {
		assert_int_equal(d.res.stages[i].verdict, c.response.stages[i].verdict);
		assert_int_equal(d.res.stages[i].reason, c.response.stages[i].reason);
	}
	forward_commit(ct, 1100000000ull, 0, &synack, &d);

	/* without a's public IP in b's rules the daemon drops what check rejects */
	struct pkt other = tcp_pkt("10.0.1.11", "198.51.100.20", 40001, 80, PKT_TCP_SYN);
	forward_packet(lab, ct, 1200000000ull, &(struct fwd_port){FWD_PORT_ENI, w->a2}, &other, &d);
	assert_int_equal(d.drop, FWD_DROP_NO_PUBLIC_IP);
	ct_destroy(ct);
	world_free(w);
}

/* What the data path drops before any stage, and the internet's ways in:
 * only a public IP (or a gateway endpoint's reply) reaches an ENI. */
static void test_data_path_edges(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	kit_sg_rule(lab, w->g_b, false, PROTO_TCP, 80, 80, "0.0.0.0/0");
	struct conntrack *ct = make_ct(lab->n_enis);
	struct fwd_decision d;
	struct fwd_port pa = eni_port(w->a), net = {FWD_PORT_OUTSIDE, 0};

	struct pkt spoofed = tcp_pkt("10.0.2.20", "198.51.100.20", 40000, 80, PKT_TCP_SYN);
	forward_packet(lab, ct, 1, &pa, &spoofed, &d);
	assert_int_equal(d.drop, FWD_DROP_UNKNOWN_SOURCE);
	struct pkt self = tcp_pkt("10.0.1.10", "198.51.100.10", 40000, 80, PKT_TCP_SYN);
	forward_packet(lab, ct, 1, &pa, &self, &d);
	assert_int_equal(d.drop, FWD_DROP_SELF);
	struct pkt nowhere = tcp_pkt("10.0.1.10", "192.0.2.99", 40000, 80, PKT_TCP_SYN);
	forward_packet(lab, ct, 1, &pa, &nowhere, &d);
	assert_int_equal(d.drop, FWD_DROP_UNKNOWN_DEST);

	struct pkt in_pub = tcp_pkt("203.0.113.7", "198.51.100.20", 40000, 80, PKT_TCP_SYN);
	forward_packet(lab, ct, 1, &net, &in_pub, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_int_equal(d.path, FWD_PATH_IN);
	assert_true(d.xlate.dst.has_addr && !d.xlate.src.has_addr);
	assert_addr(&d.side[1].flow.dst, "10.0.2.20");
	struct pkt in_priv = tcp_pkt("203.0.113.7", "10.0.2.20", 40000, 80, PKT_TCP_SYN);
	forward_packet(lab, ct, 1, &net, &in_priv, &d);
	assert_int_equal(d.drop, FWD_DROP_NO_PUBLIC_IP);

	struct pkt out = tcp_pkt("10.0.1.10", "203.0.113.7", 40000, 443, PKT_TCP_SYN);
	forward_packet(lab, ct, 1, &pa, &out, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_int_equal(d.path, FWD_PATH_OUT);
	assert_int_equal(d.egress.kind, FWD_PORT_OUTSIDE);
	assert_true(d.xlate.src.has_addr && !d.xlate.dst.has_addr);
	assert_addr(&d.xlate.src.addr, "198.51.100.10");
	ct_destroy(ct);
	world_free(w);
}

/* An egress-only internet gateway carries only connections opened from
 * inside, and one function says so for check and the daemon alike: a
 * packet from outside passes only when the destination ENI tracks its
 * connection. An SG-untracked flow (§4) leaves no entry, so its replies
 * are refused too: a deviation (docs/deviations.md), AWS's gateway keeps
 * state of its own. */
static void test_egress_only_gateway_needs_tracking(void **state)
{
	struct world *w = world_new();
	struct lab *lab = w->lab;
	struct eni *a = &lab->enis[w->a];
	a->ipv6 = kit_alloc(lab, 1, sizeof(*a->ipv6));
	a->ipv6[0] = kit_addr("2001:db8:1:1::10");
	a->n_ipv6 = 1;
	int32_t rt = lab->subnets[a->subnet].route_table;
	kit_route(lab, rt, "::/0", "eigw-1");
	kit_sg_rule(lab, w->g_a, true, PROTO_TCP, 443, 443, "::/0");
	struct pipeline_end from = {END_ENI, w->a, SERVICE_NONE}, net = {END_OUTSIDE, -1, 0};
	struct flow out = kit_flow("2001:db8:1:1::10", "2001:db8:ff::1", PROTO_TCP, 443);
	struct flow back = kit_flow("2001:db8:ff::1", "2001:db8:1:1::10", PROTO_TCP, 40000);
	back.sport = 443;
	struct fwd_input in;
	struct fwd_decision d;
	forward_input_init(&in, &from, &out);
	forward_decide(lab, &in, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_int_equal(d.side[0].ct, FWD_CT_INSERT);
	forward_input_init(&in, &net, &back);
	forward_decide(lab, &in, &d);
	assert_int_equal(d.drop, FWD_DROP_NO_ROUTE);
	assert_int_equal(d.res.stages[d.res.rejected_at].reason, REASON_ENDPOINT_INBOUND);
	in.tracked = PIPELINE_DST_TRACKED;
	forward_decide(lab, &in, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_int_equal(d.res.stages[2].reason, REASON_ROUTE_EIGW);

	/* untracked on a: all ports in from anywhere (the deviation) */
	kit_sg_rule(lab, w->g_a, false, PROTO_TCP, 0, 65535, "::/0");
	kit_finish(lab);
	struct pipeline_query q;
	struct pipeline_check c;
	pipeline_query_init(&q);
	q.client = from;
	q.server = net;
	q.request = out;
	q.has_sport = true;
	pipeline_check(lab, &q, &c);
	assert_true(c.request.stages[0].untracked);
	assert_int_equal(c.request.verdict, VERDICT_ACCEPT);
	assert_int_equal(c.response.stages[2].reason, REASON_ENDPOINT_INBOUND);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hairpin_receiver_sees_public_source),
	    cmocka_unit_test(test_hairpin_needs_public_ip_and_routes),
	    cmocka_unit_test(test_hairpin_meets_both_nacls),
	    cmocka_unit_test(test_hairpin_across_vpcs),
	    cmocka_unit_test(test_data_path_hairpin),
	    cmocka_unit_test(test_data_path_edges),
	    cmocka_unit_test(test_egress_only_gateway_needs_tracking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
