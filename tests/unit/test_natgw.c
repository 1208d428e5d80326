/*
 * NAT gateways (rules/natgw.c, rules/forward_nat.c; AWS-SEMANTICS §4, §9):
 * the translation table (a port per connection from 1024-65535, only the
 * host and port the connection went to answers, 350 s idle by default
 * as AWS's NAT gateway documentation says, fixed memory), the port
 * rewrite of a frame, and the forwarding decision: the Elastic IP as
 * source, replies translated back and crossing the gateway's subnet NACL
 * at the gateway's own port, nothing unsolicited in, NAT flows tracked on
 * the instance's ENI even when its rules would leave them untracked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "checksum.h"
#include "conntrack.h"
#include "forward.h"
#include "labkit.h"
#include "load.h"
#include "fwdkit.h"
#include "natgw.h"
#include "packet.h"

#define S 1000000000ull

static struct natgw *table(uint32_t max, uint32_t n_gateways)
{
	struct natgw_opts o = {.max_mappings = max, .n_gateways = n_gateways};
	struct natgw *t;
	assert_int_equal(natgw_create(&o, &t), 0);
	return t;
}

static struct natgw_key key(uint32_t gw, uint8_t proto, uint16_t inside_port, uint16_t far_port)
{
	return (struct natgw_key){.gateway = gw,
				  .proto = proto,
				  .inside = kit_addr("10.0.2.20"),
				  .far = kit_addr("203.0.113.5"),
				  .inside_port = inside_port,
				  .far_port = far_port};
}

static void test_table_ports(void **state)
{
	(void)state;
	struct natgw *t = table(0, 2);
	struct natgw_key a = key(0, PROTO_TCP, 40000, 443), b = key(0, PROTO_TCP, 40001, 443);
	uint16_t pa, pa2, pb, pc;
	assert_int_equal(natgw_outbound(t, &a, 1 * S, &pa), 0);
	assert_in_range(pa, 1024, 65535);
	assert_int_equal(natgw_outbound(t, &a, 2 * S, &pa2), 0);
	assert_int_equal(pa, pa2); /* one connection, one port */
	assert_int_equal(natgw_outbound(t, &b, 2 * S, &pb), 0);
	assert_int_not_equal(pa, pb);
	/* another gateway has ports of its own */
	struct natgw_key c = key(1, PROTO_TCP, 40000, 443);
	assert_int_equal(natgw_outbound(t, &c, 2 * S, &pc), 0);
	assert_int_equal(natgw_count(t), 3);

	struct natgw_key got;
	struct ip_addr far = kit_addr("203.0.113.5"), other = kit_addr("203.0.113.6");
	assert_int_equal(natgw_inbound(t, 0, PROTO_TCP, &far, 443, pb, 3 * S, &got), 0);
	assert_int_equal(got.inside_port, 40001);
	assert_true(ip_addr_eq(&got.inside, &b.inside));
	/* only the host and port the connection went to answer it */
	assert_int_equal(natgw_inbound(t, 0, PROTO_TCP, &far, 444, pb, 3 * S, &got), -ENOENT);
	assert_int_equal(natgw_inbound(t, 0, PROTO_TCP, &other, 443, pb, 3 * S, &got), -ENOENT);
	assert_int_equal(natgw_inbound(t, 0, PROTO_UDP, &far, 443, pb, 3 * S, &got), -ENOENT);
	assert_int_equal(natgw_inbound(t, 0, PROTO_TCP, &far, 443, 9, 3 * S, &got), -ENOENT);
	/* what a NAT gateway does not carry */
	struct natgw_key gre = key(0, 47, 0, 0);
	assert_int_equal(natgw_outbound(t, &gre, 3 * S, &pc), -EINVAL);
	struct natgw_key far_gw = key(2, PROTO_TCP, 1, 1);
	assert_int_equal(natgw_outbound(t, &far_gw, 3 * S, &pc), -EINVAL);
	natgw_destroy(t);
}

/* 350 s idle ends a mapping (AWS's NAT gateway idle timeout); the port
 * is free again; the timeout is an option. */
static void test_table_idle(void **state)
{
	(void)state;
	struct natgw *t = table(4, 1); /* a sweep of 4 visits all */
	struct natgw_key a = key(0, PROTO_TCP, 40000, 443);
	struct ip_addr far = kit_addr("203.0.113.5");
	struct natgw_key got;
	uint16_t p;
	assert_int_equal(natgw_outbound(t, &a, 1 * S, &p), 0);
	assert_int_equal(natgw_inbound(t, 0, PROTO_TCP, &far, 443, p, 340 * S, &got), 0);
	/* refreshed at 340 s: alive at 680 s, gone 350 s after that */
	assert_int_equal(natgw_inbound(t, 0, PROTO_TCP, &far, 443, p, 680 * S, &got), 0);
	assert_int_equal(natgw_sweep(t, 1029 * S, 100), 0);
	assert_int_equal(natgw_sweep(t, 1030 * S, 100), 1);
	assert_int_equal(natgw_count(t), 0);
	assert_int_equal(natgw_inbound(t, 0, PROTO_TCP, &far, 443, p, 1030 * S, &got), -ENOENT);
	natgw_destroy(t);

	struct natgw_opts o = {.n_gateways = 1, .idle_udp_ns = 10 * S};
	assert_int_equal(natgw_create(&o, &t), 0);
	struct natgw_key u = key(0, PROTO_UDP, 5000, 53);
	assert_int_equal(natgw_outbound(t, &u, 1 * S, &p), 0);
	assert_int_equal(natgw_inbound(t, 0, PROTO_UDP, &far, 53, p, 12 * S, &got), -ENOENT);
	natgw_destroy(t);
}

/* Fixed memory: a full table refuses a new connection until one idles
 * out (AWS: ErrorPortAllocation). */
static void test_table_full(void **state)
{
	(void)state;
	struct natgw *t = table(2, 1);
	uint16_t p;
	struct natgw_key a = key(0, PROTO_TCP, 1, 80), b = key(0, PROTO_UDP, 2, 80),
			 c = key(0, PROTO_ICMP, 3, 0);
	assert_int_equal(natgw_outbound(t, &a, 1 * S, &p), 0);
	assert_int_equal(natgw_outbound(t, &b, 1 * S, &p), 0);
	assert_int_equal(natgw_outbound(t, &c, 2 * S, &p), -ENOSPC);
	assert_int_equal(natgw_outbound(t, &c, 400 * S, &p), 0);
	assert_int_equal(natgw_count(t), 1);
	natgw_destroy(t);
	struct natgw_opts none = {0};
	assert_int_equal(natgw_create(&none, &t), -EINVAL);
}

/* A reload's table (natgw_carry): gateways are their id and Elastic IP,
 * wherever they are in the list. nat-a stays (now third), nat-b keeps its
 * id with another Elastic IP (another gateway to AWS), nat-c is new. */
static void test_table_carry(void **state)
{
	(void)state;
	const struct natgw_ident before[] = {{"nat-a", kit_addr("198.51.100.1")},
					     {"nat-b", kit_addr("198.51.100.2")}};
	const struct natgw_ident after[] = {{"nat-c", kit_addr("198.51.100.3")},
					    {"nat-b", kit_addr("198.51.100.9")},
					    {"nat-a", kit_addr("198.51.100.1")}};
	struct natgw_opts o = {.n_gateways = 2, .idents = before};
	struct natgw *old, *t;
	uint16_t a_tcp, a_udp, b_tcp, p;
	struct natgw_key k0 = key(0, PROTO_TCP, 40000, 443), k1 = key(0, PROTO_UDP, 40001, 53),
			 kb = key(1, PROTO_TCP, 40000, 443), got;
	assert_int_equal(natgw_create(&o, &old), 0);
	assert_int_equal(natgw_outbound(old, &k0, 1 * S, &a_tcp), 0);
	assert_int_equal(natgw_outbound(old, &k1, 1 * S, &a_udp), 0);
	assert_int_equal(natgw_outbound(old, &kb, 1 * S, &b_tcp), 0);
	o = (struct natgw_opts){.n_gateways = 3, .idents = after};
	assert_int_equal(natgw_carry(old, &o, &t), 0);
	assert_int_equal(natgw_count(old), 3); /* left as it was */
	natgw_destroy(old);
	assert_int_equal(natgw_count(t), 2);
	/* nat-a's connections, under its new index, with their ports */
	assert_int_equal(natgw_inbound(t, 2, PROTO_TCP, &k0.far, 443, a_tcp, 2 * S, &got), 0);
	assert_int_equal(got.gateway, 2);
	assert_int_equal(got.inside_port, 40000);
	assert_int_equal(natgw_inbound(t, 2, PROTO_UDP, &k1.far, 53, a_udp, 2 * S, &got), 0);
	k0.gateway = 2;
	assert_int_equal(natgw_outbound(t, &k0, 2 * S, &p), 0);
	assert_int_equal(p, a_tcp);
	/* a new connection of nat-a takes no port in use */
	struct natgw_key k2 = key(2, PROTO_TCP, 40002, 443);
	assert_int_equal(natgw_outbound(t, &k2, 2 * S, &p), 0);
	assert_int_not_equal(p, a_tcp);
	/* nat-b (another Elastic IP) and nat-c know nothing */
	for (uint32_t g = 0; g < 2; g++)
		assert_int_equal(natgw_inbound(t, g, PROTO_TCP, &kb.far, 443, b_tcp, 2 * S, &got),
				 -ENOENT);
	assert_int_equal(natgw_count(t), 3);
	/* carried mappings keep their idle time: nat-a's UDP one, last used
	 * at 2 s, is gone 350 s later */
	assert_int_equal(natgw_inbound(t, 2, PROTO_UDP, &k1.far, 53, a_udp, 353 * S, &got),
			 -ENOENT);
	/* a table without idents carries nothing */
	struct natgw *bare = table(0, 3), *again;
	assert_int_equal(natgw_outbound(bare, &k2, 1 * S, &p), 0);
	assert_int_equal(natgw_carry(bare, &o, &again), 0);
	assert_int_equal(natgw_count(again), 0);
	natgw_destroy(bare);
	natgw_destroy(again);
	natgw_destroy(t);
}

/* options.nat_idle_timeout and options.nat_max_mappings (docs/lab-format.md)
 * make the daemon's table; out of range they are a load error. */
static struct lab *nat_options_lab(const char *options)
{
	char json[1024];
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;
	snprintf(json, sizeof(json),
		 "{\"lab\": \"natopts\", \"options\": {%s}, \"gateways\": [{\"kind\": \"nat\", "
		 "\"id\": \"nat-0a\", \"vpc\": \"vpc-0a\", \"subnets\": [\"subnet-0a\"], "
		 "\"private_ip\": \"10.1.0.5\", \"public_ip\": \"198.51.100.7\"}], \"vpcs\": "
		 "[{\"name\": \"a\", \"id\": \"vpc-0a\", \"cidr\": \"10.1.0.0/16\", \"subnets\": "
		 "[{\"name\": \"s\", \"id\": \"subnet-0a\", \"cidr\": \"10.1.0.0/24\"}]}]}",
		 options);
	lab_load_opts_init(&o);
	diag_init(&d);
	if (lab_load_buffer("natopts.json", json, strlen(json), &o, &lab, &d) != 0)
		lab = NULL;
	diag_free(&d);
	return lab;
}

static void test_lab_options(void **state)
{
	(void)state;
	struct lab *lab = nat_options_lab("\"nat_idle_timeout\": 60, \"nat_max_mappings\": 2");
	assert_non_null(lab);
	struct natgw *t;
	uint16_t p;
	assert_int_equal(natgw_for_lab(lab, NULL, &t), 0);
	struct natgw_key k0 = key(0, PROTO_TCP, 40000, 443), k1 = key(0, PROTO_UDP, 40001, 53),
			 k2 = key(0, PROTO_TCP, 40002, 443);
	assert_int_equal(natgw_outbound(t, &k0, 1 * S, &p), 0);
	assert_int_equal(natgw_outbound(t, &k1, 30 * S, &p), 0);
	assert_int_equal(natgw_outbound(t, &k2, 30 * S, &p), -ENOSPC); /* two at most */
	/* k0 idle for 60 s: its room is taken */
	assert_int_equal(natgw_outbound(t, &k2, 61 * S, &p), 0);
	assert_int_equal(natgw_count(t), 2);
	natgw_destroy(t);
	lab_free(lab);
	/* the defaults: 350 s, 65536 mappings */
	lab = nat_options_lab("");
	assert_non_null(lab);
	assert_int_equal(lab->opts.nat_idle_s, NATGW_IDLE_DEFAULT_S);
	assert_int_equal(lab->opts.nat_max_mappings, NATGW_DEFAULT_MAX);
	lab_free(lab);
	assert_null(nat_options_lab("\"nat_idle_timeout\": 0"));
	assert_null(nat_options_lab("\"nat_max_mappings\": 5000000"));
}

/* ------------------------------------------------------------ frames */

static size_t udp_frame(uint8_t *f, uint16_t sport, uint16_t dport)
{
	static const uint8_t hdr[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00};
	memset(f, 0, 64);
	memcpy(f, hdr, sizeof(hdr));
	uint8_t *ip = f + 14, *u = ip + 20;
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 4;
	ip[8] = 64;
	ip[9] = PROTO_UDP;
	memcpy(ip + 12, (uint8_t[]){10, 0, 2, 20}, 4);
	memcpy(ip + 16, (uint8_t[]){203, 0, 113, 5}, 4);
	uint16_t c = csum_ip(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(dport >> 8);
	u[3] = (uint8_t)dport;
	u[5] = 12;
	memcpy(u + 8, "ping", 4);
	c = csum_fold(csum_add(csum_pseudo_v4(ip + 12, ip + 16, PROTO_UDP, 12), u, 12));
	u[6] = (uint8_t)(c >> 8);
	u[7] = (uint8_t)c;
	return 14 + 20 + 12;
}

static void test_rewrite_port(void **state)
{
	(void)state;
	uint8_t f[64];
	size_t len = udp_frame(f, 40000, 53);
	struct pkt p;
	assert_int_equal(pkt_parse(f, len, &p), 0);
	assert_int_equal(natgw_rewrite_port(f, len, &p, 0, 1024, false), 0);
	assert_int_equal(p.sport, 1024);
	const uint8_t *ip = f + 14;
	/* the checksum over pseudo-header and datagram still sums to zero */
	assert_int_equal(
	    csum_fold(csum_add(csum_pseudo_v4(ip + 12, ip + 16, PROTO_UDP, 12), ip + 20, 12)), 0);
	struct pkt again;
	assert_int_equal(pkt_parse(f, len, &again), 0);
	assert_int_equal(again.sport, 1024);
	assert_int_equal(again.dport, 53);
	assert_int_equal(natgw_rewrite_port(f, len, &p, 1, 5353, false), 0);
	assert_int_equal(pkt_parse(f, len, &again), 0);
	assert_int_equal(again.dport, 5353);
}

/* An ICMP error from 203.0.113.5 to the Elastic IP 198.51.100.7 quoting
 * the gateway's UDP datagram 198.51.100.7:1024 -> 203.0.113.5:53, whole
 * (32 bytes) or cut after the 8 bytes RFC 792 promises. */
static size_t icmp_error_frame(uint8_t *f, uint8_t type, uint8_t code, bool whole)
{
	uint8_t quoted[64];
	struct pkt q;
	struct ip_addr eip = kit_addr("198.51.100.7");
	size_t qlen = udp_frame(quoted, 1024, 53) - 14;
	assert_int_equal(pkt_parse(quoted, qlen + 14, &q), 0);
	assert_int_equal(pkt_rewrite_ipv4(quoted, qlen + 14, &q, PKT_REWRITE_SRC, &eip, 0), 0);
	if (!whole)
		qlen = 28;
	size_t len = udp_frame(f, 1, 1); /* its Ethernet and IP header */
	uint8_t *ip = f + 14, *icmp = ip + 20;
	ip[3] = (uint8_t)(20 + 8 + qlen);
	ip[9] = PROTO_ICMP;
	memcpy(ip + 12, (uint8_t[]){203, 0, 113, 5}, 4);
	memcpy(ip + 16, eip.b, 4);
	ip[10] = ip[11] = 0;
	uint16_t c = csum_ip(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	memset(icmp, 0, 8);
	icmp[0] = type;
	icmp[1] = code;
	icmp[6] = type == 3 && code == 4 ? 0x05 : 0; /* next-hop MTU 1400 */
	icmp[7] = type == 3 && code == 4 ? 0x78 : 0;
	memcpy(icmp + 8, quoted + 14, qlen);
	c = csum_fold(csum_add(0, icmp, 8 + qlen));
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	(void)len;
	return 14 + 20 + 8 + qlen;
}

/* The error translated back to app (10.0.2.20:40000): the outer
 * destination and the quoted source address and port, and every checksum
 * still right (outer header, ICMP, quoted header, quoted UDP when whole). */
static void test_rewrite_icmp_error(void **state)
{
	(void)state;
	static const uint8_t kinds[][2] = {{3, 3}, {3, 4}, {11, 0}};
	struct ip_addr app = kit_addr("10.0.2.20");
	for (size_t k = 0; k < 3; k++)
		for (int whole = 0; whole < 2; whole++) {
			uint8_t f[128];
			size_t len = icmp_error_frame(f, kinds[k][0], kinds[k][1], whole);
			struct pkt p, again;
			assert_int_equal(pkt_parse(f, len, &p), 0);
			assert_true(p.icmp_error && p.inner.has_ports);
			assert_int_equal(p.inner.sport, 1024);
			assert_int_equal(pkt_rewrite_ipv4(f, len, &p, PKT_REWRITE_DST, &app, 0), 0);
			assert_int_equal(natgw_rewrite_port(f, len, &p, 1, 40000, false), 0);
			const uint8_t *ip = f + 14, *icmp = ip + 20, *qip = icmp + 8;
			size_t icmp_len = len - 14 - 20;
			assert_int_equal(csum_ip(ip, 20), 0);
			assert_int_equal(csum_fold(csum_add(0, icmp, icmp_len)), 0);
			assert_int_equal(csum_ip(qip, 20), 0);
			if (whole)
				assert_int_equal(
				    csum_fold(
					csum_add(csum_pseudo_v4(qip + 12, qip + 16, PROTO_UDP, 12),
						 qip + 20, 12)),
				    0);
			assert_int_equal(pkt_parse(f, len, &again), 0);
			assert_true(ip_addr_eq(&again.dst, &app));
			assert_true(ip_addr_eq(&again.inner.src, &app));
			assert_int_equal(again.inner.sport, 40000);
			assert_int_equal(again.inner.dport, 53);
			assert_int_equal(again.icmp_type, kinds[k][0]);
			/* the quoted destination port (an error the instance sends) */
			assert_int_equal(natgw_rewrite_port(f, len, &p, 0, 5353, false), 0);
			assert_int_equal(csum_fold(csum_add(0, icmp, icmp_len)), 0);
			assert_int_equal(pkt_parse(f, len, &again), 0);
			assert_int_equal(again.inner.dport, 5353);
			assert_int_equal(again.inner.sport, 40000);
			if (whole)
				assert_int_equal(
				    csum_fold(
					csum_add(csum_pseudo_v4(qip + 12, qip + 16, PROTO_UDP, 12),
						 qip + 20, 12)),
				    0);
		}
}

/* ---------------------------------------------------------- decision */

/* One VPC: app in a private subnet routing 0/0 to nat-1 (in subnet pub,
 * Elastic IP 198.51.100.7; pub routes 0/0 to the igw). pub's NACL
 * refuses TCP to port 1024 coming in, which only the gateway's own first
 * port is. app's group allows all TCP both ways from and to everywhere:
 * its flows would be untracked (§4) but for the NAT gateway. */
struct natlab {
	struct lab *lab;
	int32_t app, nat;
	struct conntrack *ct; /* a zone per ENI */
	struct natgw *t;      /* the NAT table, each test's own (NULL: none) */
};

static void natlab_free(struct natlab *n)
{
	natgw_destroy(n->t);
	ct_destroy(n->ct);
	kit_free(n->lab);
}

static struct natlab natlab(bool deny_1024)
{
	struct natlab n = {0};
	struct lab *lab = n.lab = kit_new();
	int32_t vpc = kit_vpc(lab, "vpc-1", "10.0.0.0/16", NULL);
	int32_t open = kit_nacl(lab, "acl-open", vpc, true);
	int32_t acl = kit_nacl(lab, "acl-nat", vpc, false);
	for (int eg = 0; eg < 2; eg++) {
		kit_nacl_rule(lab, open, eg, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
		kit_nacl_rule(lab, acl, eg, 100, true, PROTO_ALL, "0.0.0.0/0", 0, 0);
	}
	if (deny_1024)
		kit_nacl_rule(lab, acl, false, 90, false, PROTO_TCP, "0.0.0.0/0", 1024, 1024);
	int32_t rt_pub = kit_route_table(lab, "rtb-pub", vpc, false);
	kit_route(lab, rt_pub, "10.0.0.0/16", "local");
	kit_route(lab, rt_pub, "0.0.0.0/0", "igw-1");
	int32_t rt_priv = kit_route_table(lab, "rtb-priv", vpc, true);
	kit_route(lab, rt_priv, "10.0.0.0/16", "local");
	kit_route(lab, rt_priv, "0.0.0.0/0", "nat-1");
	kit_subnet(lab, "subnet-pub", vpc, "10.0.1.0/24", NULL, acl, rt_pub);
	int32_t sn_priv = kit_subnet(lab, "subnet-priv", vpc, "10.0.2.0/24", NULL, -1, rt_priv);
	int32_t g = kit_group(lab, "sg-app", "app", vpc);
	kit_sg_rule(lab, g, true, PROTO_TCP, 0, 65535, "0.0.0.0/0");
	kit_sg_rule(lab, g, false, PROTO_TCP, 0, 65535, "0.0.0.0/0");
	n.app =
	    kit_eni(lab, "eni-app", "app", sn_priv, "10.0.2.20", NULL, NULL, (int32_t[]){g, -1});
	lab->outside = kit_alloc(lab, 1, sizeof(*lab->outside));
	lab->outside[0] = (struct outside_host){.name = "net", .addr = kit_addr("203.0.113.5")};
	lab->n_outside = 1;
	lab->gateways = kit_alloc(lab, 1, sizeof(struct gateway));
	struct gateway *gw = &lab->gateways[0];
	*gw = (struct gateway){.kind = GW_NAT,
			       .id = "nat-1",
			       .state = "available",
			       .detail = "public",
			       .has_public_ip = true,
			       .public_ip = kit_addr("198.51.100.7")};
	gw->subnet_ids = kit_alloc(lab, 1, sizeof(char *));
	gw->subnet_ids[0] = kit_str(lab, "subnet-pub");
	gw->n_subnet_ids = 1;
	lab->n_gateways = 1;
	n.nat = 0;
	kit_finish(lab);
	n.ct = make_ct(lab->n_enis);
	return n;
}

static const struct fwd_port net_port = {FWD_PORT_OUTSIDE, 0};

/* What becomes of p, sent by the outside host at now. */
static enum fwd_drop from_net(struct natlab *n, uint64_t now, const struct pkt *p,
			      struct fwd_decision *d)
{
	forward_nat_packet(n->lab, n->ct, n->t, now, &net_port, p, d);
	return d->drop;
}

/* app opens a connection: out from the Elastic IP and a port of the
 * gateway's, tracked on app although its rules would leave it untracked. */
static uint16_t open_one(struct natlab *n, uint16_t sport, uint64_t now)
{
	struct fwd_decision d;
	struct fwd_port app = {FWD_PORT_ENI, n->app};
	struct pkt syn = tcp_pkt("10.0.2.20", "203.0.113.5", sport, 443, PKT_TCP_SYN);
	forward_nat_packet(n->lab, n->ct, n->t, now, &app, &syn, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_int_equal(d.path, FWD_PATH_OUT);
	assert_int_equal(d.nat.gateway, n->nat);
	assert_true(d.nat.out && d.xlate.src.has_addr && !d.xlate.dst.has_addr);
	struct ip_addr eip = kit_addr("198.51.100.7");
	assert_true(ip_addr_eq(&d.xlate.src.addr, &eip));
	assert_int_equal(d.side[0].ct, FWD_CT_INSERT); /* forced: §4 */
	forward_nat_commit(n->ct, n->t, now, 0, &syn, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_true(d.xlate.src.has_port);
	assert_in_range(d.xlate.src.port, 1024, 65535);
	return d.xlate.src.port;
}

static void test_decision_round_trip(void **state)
{
	(void)state;
	struct natlab n = natlab(true);
	assert_int_equal(natgw_for_lab(n.lab, NULL, &n.t), 0); /* the daemon's table */
	assert_non_null(n.t);
	struct fwd_decision d;
	uint16_t first = open_one(&n, 40000, 1 * S);
	uint16_t second = open_one(&n, 40001, 1 * S);
	assert_int_equal(first, 1024);
	assert_int_not_equal(second, 1024);

	/* the reply to the second: translated back, delivered to app */
	struct pkt back =
	    tcp_pkt("203.0.113.5", "198.51.100.7", 443, second, PKT_TCP_SYN | PKT_TCP_ACK);
	forward_nat_packet(n.lab, n.ct, n.t, 2 * S, &net_port, &back, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_int_equal(d.egress.kind, FWD_PORT_ENI);
	assert_int_equal(d.egress.index, n.app);
	assert_true(d.xlate.dst.has_addr && d.xlate.dst.has_port && !d.xlate.src.has_addr);
	struct ip_addr app = kit_addr("10.0.2.20");
	assert_true(ip_addr_eq(&d.xlate.dst.addr, &app));
	assert_int_equal(d.xlate.dst.port, 40001);
	assert_int_equal(d.side[1].ct, FWD_CT_UPDATE);
	/* the gateway's subnet NACL saw the reply come in to the gateway's port */
	const struct stage_verdict *hop = NULL;
	for (size_t i = 0; i < d.res.n; i++)
		if (d.res.stages[i].hop && d.res.stages[i].stage == STAGE_NACL_INGRESS)
			hop = &d.res.stages[i];
	assert_non_null(hop);
	assert_int_equal(hop->verdict, VERDICT_ACCEPT);
	forward_nat_commit(n.ct, n.t, 2 * S, 0, &back, &d);
	assert_int_equal(d.drop, FWD_PASS);

	/* the first's reply comes to port 1024, which the NACL refuses */
	back.dport = first;
	forward_nat_packet(n.lab, n.ct, n.t, 2 * S, &net_port, &back, &d);
	assert_int_equal(d.drop, FWD_DROP_REJECTED);
	const struct stage_verdict *v = &d.res.stages[d.res.rejected_at];
	assert_int_equal(v->stage, STAGE_NACL_INGRESS);
	assert_true(v->hop);
	assert_int_equal(v->rule_number, 90);

	natlab_free(&n);
}

/* Nothing opens a connection through the Elastic IP: no mapping, another
 * source port, another host, a ping to it. */
static void test_decision_unsolicited(void **state)
{
	(void)state;
	struct natlab n = natlab(true);
	n.t = table(0, 1);
	struct fwd_decision d;
	struct pkt in = tcp_pkt("203.0.113.5", "198.51.100.7", 443, 2000, PKT_TCP_SYN);
	forward_nat_packet(n.lab, n.ct, n.t, 1 * S, &net_port, &in, &d);
	assert_int_equal(d.drop, FWD_DROP_NAT_UNSOLICITED);
	uint16_t port = open_one(&n, 40000, 1 * S);
	in.dport = port;
	in.sport = 444;
	forward_nat_packet(n.lab, n.ct, n.t, 1 * S, &net_port, &in, &d);
	assert_int_equal(d.drop, FWD_DROP_NAT_UNSOLICITED);
	struct pkt ping = {.kind = PKT_IPV4,
			   .src = kit_addr("203.0.113.5"),
			   .dst = kit_addr("198.51.100.7"),
			   .proto = PROTO_ICMP,
			   .has_icmp = true,
			   .icmp_type = 8,
			   .icmp_id = port};
	forward_nat_packet(n.lab, n.ct, n.t, 1 * S, &net_port, &ping, &d);
	assert_int_equal(d.drop, FWD_DROP_NAT_UNSOLICITED);
	/* an ICMP error quoting nothing (test_decision_icmp_error: errors
	 * quoting a connection's packet) */
	ping.icmp_type = 3;
	ping.icmp_code = 4;
	ping.icmp_error = true;
	forward_nat_packet(n.lab, n.ct, n.t, 1 * S, &net_port, &ping, &d);
	assert_int_equal(d.drop, FWD_DROP_NAT_UNSOLICITED);
	/* the instance's private address is no way in either, even with
	 * the ports of its tracked connection */
	struct pkt direct = tcp_pkt("203.0.113.5", "10.0.2.20", 443, 40000, PKT_TCP_ACK);
	forward_nat_packet(n.lab, n.ct, n.t, 1 * S, &net_port, &direct, &d);
	assert_int_equal(d.drop, FWD_DROP_NO_PUBLIC_IP);
	natlab_free(&n);
}

/* A private NAT gateway on the data path: natlab's gateway made private
 * (private IP 10.0.1.5), its subnet routing on-premises 192.168.0.0/16 to
 * a virtual private gateway, the outside host on-premises. app's packets
 * leave from 10.0.1.5 and a port of the gateway; the replies to that
 * address and port come back, nothing else sent to it gets in. */
static void test_decision_private(void **state)
{
	(void)state;
	struct natlab n = natlab(false);
	struct gateway *g = &n.lab->gateways[n.nat];
	g->detail = "private";
	g->has_public_ip = false;
	g->has_private_ip = true;
	g->private_ip = kit_addr("10.0.1.5");
	kit_route(n.lab, 0, "192.168.0.0/16", "vgw-1"); /* rtb-pub */
	n.lab->outside[0].addr = kit_addr("192.168.1.10");
	assert_int_equal(natgw_for_lab(n.lab, NULL, &n.t), 0);
	struct fwd_decision d;
	struct fwd_port app = {FWD_PORT_ENI, n.app};
	struct pkt syn = tcp_pkt("10.0.2.20", "192.168.1.10", 40000, 443, PKT_TCP_SYN);
	forward_nat_packet(n.lab, n.ct, n.t, 1 * S, &app, &syn, &d);
	assert_int_equal(d.drop, FWD_PASS);
	struct ip_addr own = kit_addr("10.0.1.5"), inside = kit_addr("10.0.2.20");
	assert_true(d.nat.out && d.xlate.src.has_addr);
	assert_true(ip_addr_eq(&d.xlate.src.addr, &own));
	forward_nat_commit(n.ct, n.t, 1 * S, 0, &syn, &d);
	assert_int_equal(d.drop, FWD_PASS);
	uint16_t port = d.xlate.src.port;
	assert_in_range(port, 1024, 65535);
	struct pkt back = tcp_pkt("192.168.1.10", "10.0.1.5", 443, port, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_int_equal(from_net(&n, 2 * S, &back, &d), FWD_PASS);
	assert_int_equal(d.egress.kind, FWD_PORT_ENI);
	assert_int_equal(d.egress.index, n.app);
	assert_true(ip_addr_eq(&d.xlate.dst.addr, &inside));
	assert_int_equal(d.xlate.dst.port, 40000);
	back.dport = (uint16_t)(port + 1);
	assert_int_equal(from_net(&n, 2 * S, &back, &d), FWD_DROP_NAT_UNSOLICITED);
	/* on-premises to app's own address: the NAT gateway is no way in */
	struct pkt direct = tcp_pkt("192.168.1.10", "10.0.2.20", 443, 40000, PKT_TCP_SYN);
	assert_int_not_equal(from_net(&n, 2 * S, &direct, &d), FWD_PASS);
	natlab_free(&n);
}

/* An ICMP error as the parser gives it, from `from` to `to`, quoting the
 * TCP segment it answers: sent by `to` (so its source) to `quoted_dst`. */
static struct pkt icmp_error(const char *from, const char *to, uint8_t type, uint8_t code,
			     const char *quoted_dst, uint16_t sport, uint16_t dport)
{
	return (struct pkt){.kind = PKT_IPV4,
			    .src = kit_addr(from),
			    .dst = kit_addr(to),
			    .proto = PROTO_ICMP,
			    .l3_len = 56,
			    .has_icmp = true,
			    .icmp_type = type,
			    .icmp_code = code,
			    .icmp_error = true,
			    .inner = {.src = kit_addr(to),
				      .dst = kit_addr(quoted_dst),
				      .proto = PROTO_TCP,
				      .has_ports = true,
				      .sport = sport,
				      .dport = dport}};
}

/* app's own ICMP error about a packet the gateway brought in (the far
 * host's late answer to a closed port): out through that connection's
 * mapping, from the Elastic IP, the quoted packet's destination the
 * gateway's port again; about a packet of no mapping it goes nowhere. */
static void test_decision_icmp_error_out(void **state)
{
	(void)state;
	struct natlab n = natlab(false);
	/* mappings idle out after 30 s here, the tracker's half-open
	 * connection after 60 s */
	struct natgw_opts o = {.n_gateways = 1, .idle_tcp_ns = 30 * S};
	assert_int_equal(natgw_create(&o, &n.t), 0);
	struct fwd_decision d;
	struct fwd_port app = {FWD_PORT_ENI, n.app};
	uint16_t port = open_one(&n, 40000, 1 * S);
	struct pkt e = icmp_error("10.0.2.20", "203.0.113.5", 3, 3, "10.0.2.20", 443, 40000);
	forward_nat_packet(n.lab, n.ct, n.t, 2 * S, &app, &e, &d);
	assert_int_equal(d.drop, FWD_PASS);
	assert_true(d.related && d.nat.out && d.xlate.src.has_addr);
	forward_nat_commit(n.ct, n.t, 2 * S, 0, &e, &d);
	assert_int_equal(d.drop, FWD_PASS);
	struct ip_addr eip = kit_addr("198.51.100.7");
	assert_true(ip_addr_eq(&d.xlate.src.addr, &eip));
	assert_true(d.xlate.src.has_port && !d.xlate.dst.has_addr);
	assert_int_equal(d.xlate.src.port, port);
	assert_int_equal(natgw_count(n.t), 1); /* no mapping of its own */
	/* the connection still tracked on app, its mapping gone */
	forward_nat_packet(n.lab, n.ct, n.t, 40 * S, &app, &e, &d);
	assert_int_equal(d.drop, FWD_PASS);
	forward_nat_commit(n.ct, n.t, 40 * S, 0, &e, &d);
	assert_int_equal(d.drop, FWD_DROP_NAT_UNSOLICITED);
	natlab_free(&n);
}

/* An ICMP error about a connection through the gateway, sent to its
 * Elastic IP (found by the packet it quotes, not by its sender, which may
 * be a router on the way): translated back to
 * the instance as its connection's error (tracked on app, admitted by
 * nothing else in its group), without keeping the mapping alive; an error
 * quoting no mapping stays unsolicited. */
static struct pkt error_about(const char *from, uint8_t type, uint8_t code, uint16_t nat_port)
{
	return icmp_error(from, "198.51.100.7", type, code, "203.0.113.5", nat_port, 443);
}

static void test_decision_icmp_error(void **state)
{
	(void)state;
	struct natlab n = natlab(false);
	/* TCP mappings idle out after 100 s here (the tracker's half-open
	 * connection after 60 s) */
	struct natgw_opts o = {.n_gateways = 1, .idle_tcp_ns = 100 * S};
	assert_int_equal(natgw_create(&o, &n.t), 0);
	struct fwd_decision d;
	struct ip_addr app = kit_addr("10.0.2.20");
	uint16_t port = open_one(&n, 40000, 1 * S);
	static const uint8_t kinds[][2] = {{3, 4}, {3, 3}, {11, 0}};
	for (size_t k = 0; k < 3; k++) {
		struct pkt e = error_about("203.0.113.5", kinds[k][0], kinds[k][1], port);
		assert_int_equal(from_net(&n, 2 * S, &e, &d), FWD_PASS);
		assert_int_equal(d.egress.kind, FWD_PORT_ENI);
		assert_int_equal(d.egress.index, n.app);
		assert_true(d.related);
		assert_int_equal(d.side[1].ct, FWD_CT_RELATED);
		assert_true(d.xlate.dst.has_addr && d.xlate.dst.has_port && !d.xlate.src.has_addr);
		assert_true(ip_addr_eq(&d.xlate.dst.addr, &app));
		assert_int_equal(d.xlate.dst.port, 40000);
		assert_int_equal(d.nat.port, port);
		forward_nat_commit(n.ct, n.t, 2 * S, 0, &e, &d);
		assert_int_equal(d.drop, FWD_PASS);
	}
	/* no mapping for that port, or the quoted packet went elsewhere */
	struct pkt e = error_about("203.0.113.5", 3, 4, (uint16_t)(port + 1));
	assert_int_equal(from_net(&n, 2 * S, &e, &d), FWD_DROP_NAT_UNSOLICITED);
	e = error_about("203.0.113.5", 3, 4, port);
	e.inner.dport = 444;
	assert_int_equal(from_net(&n, 2 * S, &e, &d), FWD_DROP_NAT_UNSOLICITED);
	e = error_about("203.0.113.5", 3, 4, port);
	e.inner.src = kit_addr("198.51.100.8"); /* quotes no packet of this gateway */
	assert_int_equal(from_net(&n, 2 * S, &e, &d), FWD_DROP_NAT_UNSOLICITED);
	/* errors keep no mapping alive: 100 s after the last packet it is gone */
	e = error_about("203.0.113.5", 3, 4, port);
	assert_int_equal(from_net(&n, 60 * S, &e, &d), FWD_PASS);
	assert_int_equal(from_net(&n, 102 * S, &e, &d), FWD_DROP_NAT_UNSOLICITED);
	natlab_free(&n);
}

/* `vpcfw check` agrees: allowed out through the NAT gateway (its flow
 * tracked on app), refused when opened from outside; with the gateway's
 * port 1024 refused by its subnet's NACL check answers for every port the
 * gateway may pick: REJECT. */
static void test_decision_check(void **state)
{
	(void)state;
	struct natlab n = natlab(false);
	struct pipeline_query q;
	struct pipeline_check c;
	pipeline_query_init(&q);
	q.client = (struct pipeline_end){END_ENI, n.app, SERVICE_NONE};
	q.server = (struct pipeline_end){END_OUTSIDE, -1, SERVICE_NONE};
	q.request = kit_flow("10.0.2.20", "203.0.113.5", PROTO_TCP, 443);
	pipeline_check(n.lab, &q, &c);
	assert_int_equal(c.verdict, VERDICT_ACCEPT);
	q.client = q.server;
	q.server = (struct pipeline_end){END_ENI, n.app, SERVICE_NONE};
	q.request = kit_flow("203.0.113.5", "10.0.2.20", PROTO_TCP, 443);
	pipeline_check(n.lab, &q, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	natlab_free(&n);
	n = natlab(true);
	q.server = q.client;
	q.client = (struct pipeline_end){END_ENI, n.app, SERVICE_NONE};
	q.request = kit_flow("10.0.2.20", "203.0.113.5", PROTO_TCP, 443);
	pipeline_check(n.lab, &q, &c);
	assert_int_equal(c.verdict, VERDICT_REJECT);
	assert_true(c.response.stages[c.response.rejected_at].hop);
	natlab_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_ports),
	    cmocka_unit_test(test_table_idle),
	    cmocka_unit_test(test_table_full),
	    cmocka_unit_test(test_rewrite_port),
	    cmocka_unit_test(test_decision_round_trip),
	    cmocka_unit_test(test_decision_unsolicited),
	    cmocka_unit_test(test_decision_check),
	    cmocka_unit_test(test_rewrite_icmp_error),
	    cmocka_unit_test(test_decision_icmp_error),
	    cmocka_unit_test(test_table_carry),
	    cmocka_unit_test(test_lab_options),
	    cmocka_unit_test(test_decision_private),
	    cmocka_unit_test(test_decision_icmp_error_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
