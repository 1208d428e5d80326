/*
 * `vpcfw graph` (tools/graph.c) on labs built here in an arena: nesting of
 * VPC, AZ and subnet subgraphs, node labels, security-group reference
 * edges, internet and outside-host edges, label escaping and determinism.
 * tools/graph.c is compiled into this test (unit tests link vpcfw_rules
 * only).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/graph.c"
#include "arena.h"
#include "model.h"

static struct ip_prefix pfx(const char *s)
{
	struct ip_prefix p;
	assert_int_equal(ip_prefix_parse(s, &p, NULL), 0);
	return p;
}

static struct ip_addr ip(const char *s)
{
	struct ip_addr a;
	assert_int_equal(ip_addr_parse(s, &a), 0);
	return a;
}

static struct sg_rule tcp_in(int port, enum sg_peer_kind kind, int32_t peer, const char *cidr)
{
	struct sg_rule r = {
	    .egress = false,
	    .protocol = PROTO_TCP,
	    .from_port = port,
	    .to_port = port,
	    .peer_kind = kind,
	    .peer = peer,
	};
	if (cidr)
		r.cidr = pfx(cidr);
	return r;
}

static void set_rules(struct lab *lab, size_t g, const struct sg_rule *rules, size_t n)
{
	lab->groups[g].rules = arena_calloc(lab->arena, n, sizeof(struct sg_rule));
	memcpy(lab->groups[g].rules, rules, n * sizeof(*rules));
	lab->groups[g].n_rules = n;
}

static void add_eni(struct lab *lab, size_t i, const char *id, const char *name, int32_t subnet,
		    const char *addr4, int32_t group)
{
	struct eni *e = &lab->enis[i];
	e->id = id;
	e->name = name;
	e->subnet = subnet;
	e->ipv4 = arena_calloc(lab->arena, 1, sizeof(struct ip_addr));
	e->ipv4[0] = ip(addr4);
	e->n_ipv4 = 1;
	e->groups = arena_calloc(lab->arena, 1, sizeof(int32_t));
	e->groups[0] = group;
	e->n_groups = 1;
}

/* A small ten-thousand: ALB in a public subnet, app in two AZs, db. */
static struct lab *three_tier(void)
{
	struct arena *a = arena_create();
	struct lab *lab = arena_alloc(a, sizeof(*lab));
	lab->arena = a;
	lab->name = "t";

	lab->n_vpcs = 1;
	lab->vpcs = arena_calloc(a, 1, sizeof(struct vpc));
	lab->vpcs[0] =
	    (struct vpc){.id = "vpc-0a", .name = "main", .default_nacl = 0, .main_route_table = 1};
	lab->vpcs[0].cidrs = arena_calloc(a, 1, sizeof(struct ip_prefix));
	lab->vpcs[0].cidrs[0] = pfx("10.0.0.0/16");
	lab->vpcs[0].n_cidrs = 1;

	lab->n_route_tables = 2;
	lab->route_tables = arena_calloc(a, 2, sizeof(struct route_table));
	struct route *pub = arena_calloc(a, 2, sizeof(struct route));
	pub[0] = (struct route){.dest = pfx("10.0.0.0/16"), .kind = ROUTE_LOCAL, .target = "local"};
	pub[1] = (struct route){.dest = pfx("0.0.0.0/0"), .kind = ROUTE_IGW, .target = "igw-0f"};
	lab->route_tables[0] = (struct route_table){.id = "rtb-pub", .routes = pub, .n_routes = 2};
	struct route *priv = arena_calloc(a, 1, sizeof(struct route));
	priv[0] = pub[0];
	lab->route_tables[1] =
	    (struct route_table){.id = "rtb-priv", .main = true, .routes = priv, .n_routes = 1};

	lab->n_nacls = 2;
	lab->nacls = arena_calloc(a, 2, sizeof(struct nacl));
	lab->nacls[0] = (struct nacl){.id = "acl-pub", .is_default = true};
	lab->nacls[1] = (struct nacl){.id = "acl-app"};

	lab->n_subnets = 3;
	lab->subnets = arena_calloc(a, 3, sizeof(struct subnet));
	lab->subnets[0] = (struct subnet){.id = "subnet-pa",
					  .name = "public-a",
					  .az = "us-east-1a",
					  .cidr = pfx("10.0.0.0/24"),
					  .nacl = 0,
					  .route_table = 0};
	lab->subnets[1] = (struct subnet){.id = "subnet-aa",
					  .name = "app-a",
					  .az = "us-east-1a",
					  .cidr = pfx("10.0.10.0/24"),
					  .nacl = 1,
					  .route_table = 1};
	lab->subnets[2] = (struct subnet){.id = "subnet-ab",
					  .name = "app-b",
					  .az = "us-east-1b",
					  .cidr = pfx("10.0.11.0/24"),
					  .has_cidr6 = true,
					  .cidr6 = pfx("2001:db8:0:1::/64"),
					  .nacl = 1,
					  .route_table = 1};

	lab->n_groups = 3;
	lab->groups = arena_calloc(a, 3, sizeof(struct security_group));
	lab->groups[0] = (struct security_group){.id = "sg-alb", .name = "alb"};
	lab->groups[1] = (struct security_group){.id = "sg-app", .name = "app"};
	lab->groups[2] = (struct security_group){.id = "sg-db", .name = "db"};
	struct sg_rule alb[] = {tcp_in(443, SG_PEER_CIDR, -1, "0.0.0.0/0"),
				tcp_in(80, SG_PEER_CIDR, -1, "0.0.0.0/0")};
	struct sg_rule out_all = {.egress = true,
				  .protocol = PROTO_ALL,
				  .peer_kind = SG_PEER_CIDR,
				  .cidr = pfx("0.0.0.0/0")};
	struct sg_rule app[] = {tcp_in(8080, SG_PEER_GROUP, 0, NULL),
				tcp_in(22, SG_PEER_CIDR, -1, "203.0.113.0/24"), out_all};
	struct sg_rule db[] = {tcp_in(5432, SG_PEER_GROUP, 1, NULL)};
	set_rules(lab, 0, alb, 2);
	set_rules(lab, 1, app, 3);
	set_rules(lab, 2, db, 1);

	lab->n_enis = 4;
	lab->enis = arena_calloc(a, 4, sizeof(struct eni));
	add_eni(lab, 0, "eni-01", "alb-a", 0, "10.0.0.10", 0);
	lab->enis[0].has_public_ip = true;
	lab->enis[0].public_ip = ip("198.51.100.10");
	add_eni(lab, 1, "eni-02", "app-1", 1, "10.0.10.10", 1);
	add_eni(lab, 2, "eni-03", "app \"2\" #x <b>", 2, "10.0.11.10", 1);
	add_eni(lab, 3, "eni-04", NULL, 2, "10.0.11.20", 2);
	lab->enis[3].instance_id = "i-0db";
	lab->enis[3].ipv6 = arena_calloc(a, 1, sizeof(struct ip_addr));
	lab->enis[3].ipv6[0] = ip("2001:db8:0:1::20");
	lab->enis[3].n_ipv6 = 1;

	lab->n_outside = 1;
	lab->outside = arena_calloc(a, 1, sizeof(struct outside_host));
	lab->outside[0] = (struct outside_host){.name = "admin", .addr = ip("203.0.113.5")};
	return lab;
}

static char *render(const struct lab *lab)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(graph_mermaid(lab, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static size_t count_lines_starting(const char *text, const char *prefix)
{
	size_t n = 0;
	for (const char *p = text; p && *p;) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, prefix, strlen(prefix)))
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

static const char *expected_three_tier =
    "flowchart LR\n"
    "  inet((\"internet\"))\n"
    "  h0[\"admin<br/>203.0.113.5\"]\n"
    "  subgraph v0 [\"main / vpc-0a<br/>10.0.0.0/16\"]\n"
    "    subgraph v0z0 [\"us-east-1a\"]\n"
    "      subgraph s0 [\"public-a / subnet-pa<br/>10.0.0.0/24<br/>NACL acl-pub<br/>public\"]\n"
    "        n0[\"alb-a (eni-01)<br/>10.0.0.10<br/>public 198.51.100.10<br/>sg: alb\"]\n"
    "      end\n"
    "      subgraph s1 [\"app-a / subnet-aa<br/>10.0.10.0/24<br/>NACL acl-app<br/>private\"]\n"
    "        n1[\"app-1 (eni-02)<br/>10.0.10.10<br/>sg: app\"]\n"
    "      end\n"
    "    end\n"
    "    subgraph v0z1 [\"us-east-1b\"]\n"
    "      subgraph s2 [\"app-b / subnet-ab<br/>10.0.11.0/24<br/>2001:db8:0:1::/64<br/>NACL "
    "acl-app<br/>private\"]\n"
    "        n2[\"app #quot;2#quot; #35;x #lt;b#gt; (eni-03)<br/>10.0.11.10<br/>sg: app\"]\n"
    "        n3[\"i-0db (eni-04)<br/>10.0.11.20<br/>2001:db8:0:1::20<br/>sg: db\"]\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  igw0{{\"igw-0f<br/>internet gateway\"}}\n"
    "  igw0 -.- s0\n"
    "  inet --- igw0\n"
    "  n0 -->|\"tcp/8080\"| n1\n"
    "  n0 -->|\"tcp/8080\"| n2\n"
    "  n1 -->|\"tcp/5432\"| n3\n"
    "  n2 -->|\"tcp/5432\"| n3\n"
    "  h0 -->|\"tcp/22\"| n1\n"
    "  h0 -->|\"tcp/22\"| n2\n"
    "  inet -->|\"tcp/443, tcp/80\"| n0\n";

static void test_three_tier_exact(void **state)
{
	struct lab *lab = three_tier();
	char *out = render(lab);
	assert_string_equal(out, expected_three_tier);
	free(out);
	arena_destroy(lab->arena);
}

static void test_structure(void **state)
{
	struct lab *lab = three_tier();
	char *out = render(lab);
	assert_int_equal(strncmp(out, "flowchart LR\n", 13), 0);
	/* 1 VPC + 2 AZs + 3 subnets, each closed */
	assert_int_equal(count_lines_starting(out, "subgraph "), 6);
	assert_int_equal(count_lines_starting(out, "end\n"), 6);
	assert_int_equal(count_lines_starting(out, "subgraph s"), 3);
	assert_int_equal(count_lines_starting(out, "-->"), 0);
	/* every ENI drawn once, every edge between generated ids */
	for (int i = 0; i < 4; i++) {
		char id[16];
		snprintf(id, sizeof(id), "n%d[\"", i);
		const char *p = strstr(out, id);
		assert_non_null(p);
		assert_null(strstr(p + 1, id));
	}
	/* labels never contain a raw quote: each line has 0, 2 or 4 quotes,
	 * and every quote opens or closes a label */
	for (char *line = out; *line;) {
		char *nl = strchr(line, '\n');
		size_t q = 0;
		for (char *p = line; p < nl; p++)
			q += *p == '"';
		assert_true(q == 0 || q == 2 || q == 4);
		line = nl + 1;
	}
	free(out);
	arena_destroy(lab->arena);
}

static void test_deterministic(void **state)
{
	struct lab *lab = three_tier();
	char *a = render(lab);
	char *b = render(lab);
	assert_string_equal(a, b);
	free(a);
	free(b);
	arena_destroy(lab->arena);
}

/* The default security group references itself: every member reaches
 * every other member, no ENI gets an edge to itself, and two rules between
 * one pair give one edge listing both. */
static void test_self_reference_and_merge(void **state)
{
	struct lab *lab = three_tier();
	struct sg_rule def[] = {
	    {.protocol = PROTO_ALL, .peer_kind = SG_PEER_GROUP, .peer = 1},
	    tcp_in(9000, SG_PEER_GROUP, 1, NULL),
	    tcp_in(9000, SG_PEER_GROUP, 1, NULL), /* a duplicate prints once */
	    {.protocol = PROTO_ICMP,
	     .from_port = 8,
	     .to_port = -1,
	     .peer_kind = SG_PEER_GROUP,
	     .peer = 1},
	    {.protocol = PROTO_UDP,
	     .from_port = 0,
	     .to_port = 65535,
	     .peer_kind = SG_PEER_GROUP,
	     .peer = 1},
	    {.protocol = 47, .peer_kind = SG_PEER_GROUP, .peer = 1},
	};
	set_rules(lab, 1, def, sizeof(def) / sizeof(def[0]));
	char *out = render(lab);
	assert_non_null(
	    strstr(out, "  n1 -->|\"all traffic, icmp/8, proto 47, tcp/9000, udp/all\"| n2\n"));
	assert_non_null(
	    strstr(out, "  n2 -->|\"all traffic, icmp/8, proto 47, tcp/9000, udp/all\"| n1\n"));
	assert_null(strstr(out, "n1 -->|\"all traffic, icmp/8, proto 47, tcp/9000, udp/all\"| n1"));
	/* the ALB no longer reaches the app group */
	assert_null(strstr(out, "n0 -->"));
	free(out);
	arena_destroy(lab->arena);
}

/* No IGW route and no 0.0.0.0/0 rule: no internet node at all. */
static void test_no_internet(void **state)
{
	struct lab *lab = three_tier();
	lab->route_tables[0].n_routes = 1;
	lab->groups[0].n_rules = 0;
	lab->groups[1].rules[1].cidr = pfx("192.0.2.0/24"); /* admin no longer inside */
	char *out = render(lab);
	assert_null(strstr(out, "inet"));
	assert_null(strstr(out, "igw"));
	assert_non_null(strstr(out, "NACL acl-pub<br/>private"));
	assert_null(strstr(out, "h0 -->"));
	assert_int_equal(count_lines_starting(out, "n"),
			 4 + 4); /* 4 nodes, 2 alb->app and 2 app->db edges */
	free(out);
	arena_destroy(lab->arena);
}

/* ::/0 counts as the internet too, and IPv6 edges from outside hosts. */
static void test_ipv6_internet(void **state)
{
	struct lab *lab = three_tier();
	lab->route_tables[0].n_routes = 1;
	lab->groups[0].rules[0].cidr = pfx("::/0");
	lab->groups[0].n_rules = 1;
	char *out = render(lab);
	assert_non_null(strstr(out, "  inet((\"internet\"))\n"));
	assert_non_null(strstr(out, "  inet -->|\"tcp/443\"| n0\n"));
	assert_null(strstr(out, "igw0"));
	free(out);
	arena_destroy(lab->arena);
}

/* Rules admitting a managed prefix list draw an edge from a node of its
 * own; a list no rule admits from is not drawn. */
static void test_prefix_list_edges(void **state)
{
	struct lab *lab = three_tier();
	lab->n_prefix_lists = 2;
	lab->prefix_lists = arena_calloc(lab->arena, 2, sizeof(struct prefix_list));
	struct ip_prefix *cidrs = arena_calloc(lab->arena, 4, sizeof(struct ip_prefix));
	cidrs[0] = pfx("192.0.2.0/26");
	cidrs[1] = pfx("192.0.2.64/26");
	cidrs[2] = pfx("192.0.2.128/26");
	cidrs[3] = pfx("192.0.2.192/26");
	lab->prefix_lists[0] = (struct prefix_list){.id = "pl-unused", .family = IP_V4};
	lab->prefix_lists[1] = (struct prefix_list){
	    .id = "pl-0corp", .name = "corp", .family = IP_V4, .cidrs = cidrs, .n_cidrs = 4};
	struct sg_rule db[] = {tcp_in(5432, SG_PEER_GROUP, 1, NULL),
			       {.protocol = PROTO_TCP,
				.from_port = 5432,
				.to_port = 5432,
				.peer_kind = SG_PEER_PREFIX_LIST,
				.peer_id = "pl-0corp",
				.peer = 1},
			       {.protocol = PROTO_TCP,
				.from_port = 22,
				.to_port = 22,
				.peer_kind = SG_PEER_PREFIX_LIST,
				.peer_id = "pl-gone",
				.peer = -1}};
	set_rules(lab, 2, db, 3);
	char *out = render(lab);
	assert_non_null(strstr(out, "  p1[/\"pl-0corp corp<br/>192.0.2.0/26<br/>192.0.2.64/26<br/>"
				    "192.0.2.128/26<br/>+1 more\"/]\n"));
	assert_non_null(strstr(out, "  p1 -->|\"tcp/5432\"| n3\n"));
	assert_null(strstr(out, "p0"));
	assert_null(strstr(out, "tcp/22\"| n3"));
	/* the prefix list node comes before the edges that use it */
	assert_true(strstr(out, "  p1[") < strstr(out, "  p1 -->"));
	free(out);
	arena_destroy(lab->arena);
}

/* A write error is reported, not ignored. */
static void test_write_error(void **state)
{
	struct lab *lab = three_tier();
	FILE *f = fopen("/dev/full", "w");
	if (!f) {
		arena_destroy(lab->arena);
		skip();
	}
	setvbuf(f, NULL, _IONBF, 0);
	assert_int_equal(graph_mermaid(lab, f), -EIO);
	fclose(f);
	arena_destroy(lab->arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_three_tier_exact),
	    cmocka_unit_test(test_structure),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_self_reference_and_merge),
	    cmocka_unit_test(test_no_internet),
	    cmocka_unit_test(test_ipv6_internet),
	    cmocka_unit_test(test_prefix_list_edges),
	    cmocka_unit_test(test_write_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
