/*
 * Flow-log records (rules/flowlog.c) against AWS-SEMANTICS §6 and the
 * record examples of the VPC User Guide: the default line field by field,
 * custom formats and their version, aggregation per interval, direction
 * and action, tcp-flags, capacity overflow (SKIPDATA), IPv6, ICMP, and a
 * differential test against a deliberately naive aggregator.
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

#include "flowlog.h"

#define MAX_LINES 4096

struct sink {
	size_t n;
	char *lines[MAX_LINES];
	struct flowlog_record recs[MAX_LINES];
	int fail_after; /* return -EIO once this many were taken; -1 never */
};

static int collect(void *ctx, const struct flowlog_record *r, const char *line, size_t len)
{
	struct sink *s = ctx;
	if (s->fail_after >= 0 && s->n >= (size_t)s->fail_after)
		return -EIO;
	assert_true(s->n < MAX_LINES);
	assert_int_equal(strlen(line), len);
	s->lines[s->n] = strdup(line);
	s->recs[s->n] = *r;
	s->recs[s->n].iface = NULL; /* only valid during the callback */
	s->n++;
	return 0;
}

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	s->fail_after = -1;
}

static void sink_free(struct sink *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[i]);
	s->n = 0;
}

static const struct flowlog_iface eni_a = {
    .interface_id = "eni-1235b8ca123456789",
    .account_id = "123456789010",
    .vpc_id = "vpc-0a1b2c3d4e5f60718",
    .subnet_id = "subnet-0123456789abcdef0",
    .instance_id = "i-0123456789abcdef0",
    .region = "us-east-1",
    .az_id = "use1-az1",
};

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;
	assert_int_equal(ip_addr_parse(s, &a), 0);
	return a;
}

static struct flowlog_packet tcp_pkt(const char *src, const char *dst, uint16_t sport,
				     uint16_t dport, uint32_t bytes)
{
	struct flowlog_packet p = {
	    .iface = &eni_a,
	    .direction = FLOWLOG_INGRESS,
	    .action = FLOWLOG_ACCEPT,
	    .src = addr(src),
	    .dst = addr(dst),
	    .protocol = 6,
	    .sport = sport,
	    .dport = dport,
	    .bytes = bytes,
	};
	return p;
}

static struct flowlog *make(const char *format, uint32_t interval, size_t capacity)
{
	struct flowlog_config c = {.interval = interval, .capacity = capacity};
	char err[128];
	assert_int_equal(flowlog_format_parse(format, &c.format, err, sizeof(err)), 0);
	struct flowlog *fl;
	assert_int_equal(flowlog_create(&c, &fl), 0);
	return fl;
}

/* Splits a line on single spaces; returns the field count. */
static int split(const char *line, char out[][64], int max)
{
	int n = 0;
	const char *p = line;
	while (n < max) {
		const char *sp = strchr(p, ' ');
		size_t len = sp ? (size_t)(sp - p) : strlen(p);
		assert_true(len < 64);
		memcpy(out[n], p, len);
		out[n][len] = '\0';
		n++;
		if (!sp)
			break;
		p = sp + 1;
	}
	return n;
}

/* AWS's own example: SSH accepted, 20 packets, 4249 bytes. */
static void test_default_line_fields(void **state)
{
	struct flowlog *fl = make(NULL, 60, 16);
	struct sink s;
	sink_init(&s);
	for (int i = 0; i < 20; i++) {
		struct flowlog_packet p =
		    tcp_pkt("172.31.16.139", "172.31.16.21", 20641, 22, i < 19 ? 212 : 221);
		uint64_t t = i == 0 ? 1418530010 : i == 19 ? 1418530019 : 1418530015;
		assert_int_equal(flowlog_add(fl, &p, t), 0);
	}
	assert_int_equal(flowlog_flush(fl, 1418530020, false, collect, &s), 1);
	assert_string_equal(s.lines[0], "2 123456789010 eni-1235b8ca123456789 172.31.16.139 "
					"172.31.16.21 20641 22 6 20 4249 1418530010 1418530019 "
					"ACCEPT OK");
	char f[16][64];
	assert_int_equal(split(s.lines[0], f, 16), 14);
	const char *want[14] = {"2",
				"123456789010",
				"eni-1235b8ca123456789",
				"172.31.16.139",
				"172.31.16.21",
				"20641",
				"22",
				"6",
				"20",
				"4249",
				"1418530010",
				"1418530019",
				"ACCEPT",
				"OK"};
	for (int i = 0; i < 14; i++)
		assert_string_equal(f[i], want[i]);
	sink_free(&s);
	flowlog_destroy(fl);
}

static void test_missing_values_are_dashes(void **state)
{
	static const struct flowlog_iface bare = {.interface_id = "eni-0000000000000000a"};
	struct flowlog *fl = make("${account-id} ${instance-id} ${vpc-id} ${region} ${az-id} "
				  "${sublocation-type} ${pkt-src-aws-service} ${traffic-path} "
				  "${ecs-task-id}",
				  60, 4);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 40000, 5432, 60);
	p.iface = &bare;
	assert_int_equal(flowlog_add(fl, &p, 100), 0);
	assert_int_equal(flowlog_flush(fl, 0, true, collect, &s), 1);
	assert_string_equal(s.lines[0], "- - - - - - - - -");
	sink_free(&s);
	flowlog_destroy(fl);
}

static void test_custom_format_all_fields(void **state)
{
	const char *fmt = "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} "
			  "${account-id} ${type} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
			  "${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} "
			  "${end} ${action} ${tcp-flags} ${log-status} ${region} ${az-id} "
			  "${sublocation-type} ${sublocation-id} ${pkt-src-aws-service} "
			  "${pkt-dst-aws-service} ${flow-direction} ${traffic-path}";
	struct flowlog *fl = make(fmt, 60, 4);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "198.51.100.7", 40000, 443, 60);
	p.direction = FLOWLOG_EGRESS;
	p.tcp_flags = 0x02;
	p.traffic_path = 8;
	p.pkt_dst_aws_service = "S3";
	p.pkt_dst = addr("52.216.0.1");
	assert_int_equal(flowlog_add(fl, &p, 120), 0);
	assert_int_equal(flowlog_flush(fl, 180, false, collect, &s), 1);
	assert_string_equal(s.lines[0],
			    "5 vpc-0a1b2c3d4e5f60718 subnet-0123456789abcdef0 i-0123456789abcdef0 "
			    "eni-1235b8ca123456789 123456789010 IPv4 10.0.1.10 198.51.100.7 40000 "
			    "443 10.0.1.10 52.216.0.1 6 60 1 120 120 ACCEPT 2 OK us-east-1 "
			    "use1-az1 - - - S3 egress 8");
	sink_free(&s);
	flowlog_destroy(fl);
}

static void test_version_selection(void **state)
{
	static const struct {
		const char *fmt;
		int version;
	} cases[] = {
	    {NULL, 2},
	    {"", 2},
	    {"${srcaddr} ${dstaddr}", 2},
	    {"${version} ${interface-id} ${tcp-flags}", 3},
	    {"${vpc-id}", 3},
	    {"${type}", 3},
	    {"${pkt-dstaddr}", 3},
	    {"${az-id} ${srcaddr}", 4},
	    {"${sublocation-id}", 4},
	    {"${vpc-id} ${region}", 4},
	    {"${flow-direction}", 5},
	    {"${traffic-path} ${vpc-id}", 5},
	    {"${pkt-src-aws-service}", 5},
	    {"${ecs-cluster-name}", 7},
	    {"  ${srcaddr}   ${version}  ", 2},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flowlog_format f;
		char err[128] = "";
		assert_int_equal(flowlog_format_parse(cases[i].fmt, &f, err, sizeof(err)), 0);
		assert_int_equal(f.version, cases[i].version);
	}
	for (int f = 0; f < FLF_COUNT; f++) {
		int v = flowlog_field_version((enum flowlog_field)f);
		assert_true(v >= 2 && v <= 7);
		assert_non_null(flowlog_field_name((enum flowlog_field)f));
	}
	assert_null(flowlog_field_name(FLF_COUNT));
}

static void test_version_field_in_line(void **state)
{
	struct flowlog *fl = make("${version} ${az-id} ${srcport}", 1, 4);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 1, 2, 3);
	assert_int_equal(flowlog_add(fl, &p, 5), 0);
	assert_int_equal(flowlog_flush(fl, 6, false, collect, &s), 1);
	assert_string_equal(s.lines[0], "4 use1-az1 1");
	sink_free(&s);
	flowlog_destroy(fl);
}

static void test_format_errors(void **state)
{
	static const struct {
		const char *fmt;
		const char *msg;
	} cases[] = {
	    {"${version} ${nosuch}", "unknown field 'nosuch' at offset 11"},
	    {"${srcaddr} ${Dstaddr}", "unknown field 'Dstaddr' at offset 11"},
	    {"${srcaddr", "unterminated '${' at offset 0"},
	    {"srcaddr", "expected '${' at offset 0"},
	    {"${srcaddr},${dstaddr}", "fields must be separated by spaces at offset 10"},
	    {"${srcaddr}${dstaddr}", "fields must be separated by spaces at offset 10"},
	    {"$srcaddr", "expected '${' at offset 0"},
	    {"${}", "unknown field '' at offset 0"},
	    {"   ", "no fields in the format"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flowlog_format f;
		char err[128] = "";
		assert_int_equal(flowlog_format_parse(cases[i].fmt, &f, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, cases[i].msg);
	}
	/* 65 fields: over the limit */
	char big[65 * 11 + 1] = "";
	for (int i = 0; i < 65; i++)
		strcat(big, "${srcaddr} ");
	struct flowlog_format f;
	char err[128];
	assert_int_equal(flowlog_format_parse(big, &f, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "more than 64 fields");
}

static void test_header_line(void **state)
{
	struct flowlog_format f;
	assert_int_equal(flowlog_format_parse(NULL, &f, NULL, 0), 0);
	char buf[256];
	size_t n = flowlog_format_header(&f, buf, sizeof(buf));
	assert_string_equal(buf, "version account-id interface-id srcaddr dstaddr srcport "
				 "dstport protocol packets bytes start end action log-status");
	assert_int_equal(n, strlen(buf));
	/* snprintf-like truncation */
	char small[8];
	assert_int_equal(flowlog_format_header(&f, small, sizeof(small)), n);
	assert_string_equal(small, "version");
}

static void test_two_intervals_two_records(void **state)
{
	struct flowlog *fl = make(NULL, 1, 16);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 40000, 80, 100);
	assert_int_equal(flowlog_add(fl, &p, 1000), 0);
	assert_int_equal(flowlog_add(fl, &p, 1000), 0);
	assert_int_equal(flowlog_add(fl, &p, 1001), 0);
	/* interval [1000,1001) has ended at 1001, [1001,1002) has not */
	assert_int_equal(flowlog_flush(fl, 1001, false, collect, &s), 1);
	assert_int_equal(s.recs[0].packets, 2);
	assert_int_equal(s.recs[0].bytes, 200);
	assert_int_equal(s.recs[0].start, 1000);
	assert_int_equal(s.recs[0].end, 1000);
	assert_int_equal(flowlog_flush(fl, 1001, false, collect, &s), 0);
	assert_int_equal(flowlog_flush(fl, 1002, false, collect, &s), 1);
	assert_int_equal(s.recs[1].packets, 1);
	assert_int_equal(s.recs[1].start, 1001);
	struct flowlog_stats st;
	flowlog_get_stats(fl, &st);
	assert_int_equal(st.records, 2);
	assert_int_equal(st.packets, 3);
	assert_int_equal(st.in_use, 0);
	sink_free(&s);
	flowlog_destroy(fl);
}

static void test_start_end_first_last_packet(void **state)
{
	struct flowlog *fl = make(NULL, 60, 16);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 40000, 80, 1);
	assert_int_equal(flowlog_add(fl, &p, 130), 0);
	assert_int_equal(flowlog_add(fl, &p, 175), 0);
	assert_int_equal(flowlog_add(fl, &p, 150), 0);
	p.segments = 3; /* one GSO super-packet of 3 segments */
	assert_int_equal(flowlog_add(fl, &p, 140), 0);
	assert_int_equal(flowlog_flush(fl, 179, false, collect, &s), 0);
	assert_int_equal(flowlog_flush(fl, 180, false, collect, &s), 1);
	assert_int_equal(s.recs[0].start, 130);
	assert_int_equal(s.recs[0].end, 175);
	assert_int_equal(s.recs[0].packets, 6);
	assert_int_equal(s.recs[0].bytes, 4);
	sink_free(&s);
	flowlog_destroy(fl);
}

/* §6: an accepted request whose reply a NACL drops shows as ACCEPT and
 * REJECT records; one flow's ACCEPT and REJECT never share a record, nor
 * do its ingress and egress records. */
static void test_action_and_direction_separate(void **state)
{
	struct flowlog *fl = make("${action} ${flow-direction} ${packets}", 60, 16);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 40000, 80, 1);
	assert_int_equal(flowlog_add(fl, &p, 60), 0);
	assert_int_equal(flowlog_add(fl, &p, 61), 0);
	p.action = FLOWLOG_REJECT;
	assert_int_equal(flowlog_add(fl, &p, 62), 0);
	p.direction = FLOWLOG_EGRESS;
	assert_int_equal(flowlog_add(fl, &p, 63), 0);
	assert_int_equal(flowlog_flush(fl, 120, false, collect, &s), 3);
	assert_string_equal(s.lines[0], "ACCEPT ingress 2");
	assert_string_equal(s.lines[1], "REJECT ingress 1");
	assert_string_equal(s.lines[2], "REJECT egress 1");
	sink_free(&s);
	flowlog_destroy(fl);
}

static void test_separate_enis_and_tuples(void **state)
{
	static const struct flowlog_iface eni_b = {.interface_id = "eni-0bbbbbbbbbbbbbbbb"};
	struct flowlog *fl = make("${interface-id} ${srcport} ${dstport} ${protocol}", 60, 16);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 40000, 80, 1);
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	p.iface = &eni_b;
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	p.sport = 40001;
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	p.protocol = 17;
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	assert_int_equal(flowlog_flush(fl, 60, false, collect, &s), 4);
	assert_string_equal(s.lines[0], "eni-1235b8ca123456789 40000 80 6");
	assert_string_equal(s.lines[1], "eni-0bbbbbbbbbbbbbbbb 40000 80 6");
	assert_string_equal(s.lines[2], "eni-0bbbbbbbbbbbbbbbb 40001 80 6");
	assert_string_equal(s.lines[3], "eni-0bbbbbbbbbbbbbbbb 40001 80 17");
	sink_free(&s);
	flowlog_destroy(fl);
}

static void test_tcp_flags(void **state)
{
	/* AWS's documented reduction: FIN 1, SYN 2, RST 4, SYN-ACK 18; lone
	 * ACK and PSH record 0; SYN+ECE records 2. */
	assert_int_equal(flowlog_tcp_flags(0x02), 2);
	assert_int_equal(flowlog_tcp_flags(0x12), 18);
	assert_int_equal(flowlog_tcp_flags(0x10), 0);
	assert_int_equal(flowlog_tcp_flags(0x18), 0);
	assert_int_equal(flowlog_tcp_flags(0x42), 2);
	assert_int_equal(flowlog_tcp_flags(0x11), 1);
	assert_int_equal(flowlog_tcp_flags(0x14), 4);
	assert_int_equal(flowlog_tcp_flags(0x20), 0);

	struct flowlog *fl = make("${tcp-flags}", 60, 16);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 40000, 80, 1);
	static const uint8_t seq[] = {0x02, 0x12, 0x10, 0x18, 0x11};
	for (size_t i = 0; i < sizeof(seq); i++) {
		p.tcp_flags = seq[i];
		assert_int_equal(flowlog_add(fl, &p, 0), 0);
	}
	/* another flow: SYN then FIN gives 3 ("3 for SYN and FIN") */
	p.sport = 40001;
	p.tcp_flags = 0x02;
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	p.tcp_flags = 0x01;
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	/* a flow of ACK/PSH only: 0; RST: 4 */
	p.sport = 40002;
	p.tcp_flags = 0x18;
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	p.sport = 40003;
	p.tcp_flags = 0x14;
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	/* UDP never carries TCP flags, whatever the caller passes */
	p.protocol = 17;
	p.tcp_flags = 0x02;
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	assert_int_equal(flowlog_flush(fl, 0, true, collect, &s), 5);
	assert_string_equal(s.lines[0], "19"); /* "19 for SYN-ACK and FIN" */
	assert_string_equal(s.lines[1], "3");
	assert_string_equal(s.lines[2], "0");
	assert_string_equal(s.lines[3], "4");
	assert_string_equal(s.lines[4], "0");
	sink_free(&s);
	flowlog_destroy(fl);
}

static void test_capacity_overflow_skipdata(void **state)
{
	static const struct flowlog_iface eni_b = {.interface_id = "eni-0bbbbbbbbbbbbbbbb",
						   .account_id = "123456789010"};
	struct flowlog *fl = make(NULL, 60, 2);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 40000, 80, 1);
	assert_int_equal(flowlog_add(fl, &p, 70), 0);
	p.sport = 40001;
	assert_int_equal(flowlog_add(fl, &p, 70), 0);
	/* full: existing records still aggregate, new ones are lost */
	assert_int_equal(flowlog_add(fl, &p, 71), 0);
	p.sport = 40002;
	assert_int_equal(flowlog_add(fl, &p, 72), -ENOSPC);
	assert_int_equal(flowlog_add(fl, &p, 73), -ENOSPC);
	p.iface = &eni_b;
	assert_int_equal(flowlog_add(fl, &p, 74), -ENOSPC);
	struct flowlog_stats st;
	flowlog_get_stats(fl, &st);
	assert_int_equal(st.packets_lost, 3);
	assert_int_equal(st.packets, 3);
	assert_int_equal(st.in_use, 2);
	assert_int_equal(st.capacity, 2);

	assert_int_equal(flowlog_flush(fl, 120, false, collect, &s), 4);
	assert_int_equal(s.recs[0].status, FLOWLOG_OK);
	assert_int_equal(s.recs[1].packets, 2);
	assert_string_equal(s.lines[2], "2 123456789010 eni-1235b8ca123456789 - - - - - - - 60 "
					"120 - SKIPDATA");
	assert_string_equal(s.lines[3], "2 123456789010 eni-0bbbbbbbbbbbbbbbb - - - - - - - 60 "
					"120 - SKIPDATA");
	flowlog_get_stats(fl, &st);
	assert_int_equal(st.skipdata, 2);
	assert_int_equal(st.records, 2);
	/* room again after the flush */
	assert_int_equal(flowlog_add(fl, &p, 125), 0);
	assert_int_equal(flowlog_flush(fl, 180, false, collect, &s), 1);
	assert_int_equal(s.recs[4].status, FLOWLOG_OK);
	sink_free(&s);
	flowlog_destroy(fl);
}

static void test_ipv6(void **state)
{
	struct flowlog *fl =
	    make("${type} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${protocol}", 60, 4);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p =
	    tcp_pkt("2001:db8:0:1::10", "2001:db8:0:2:0:0:0:20", 40000, 443, 80);
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	assert_int_equal(flowlog_flush(fl, 0, true, collect, &s), 1);
	assert_string_equal(s.lines[0],
			    "IPv6 2001:db8:0:1::10 2001:db8:0:2::20 2001:db8:0:1::10 6");
	sink_free(&s);
	flowlog_destroy(fl);
}

/* AWS's ping example: "... 203.0.113.12 172.31.16.139 0 0 1 4 336 ...". */
static void test_icmp_ports_zero(void **state)
{
	struct flowlog *fl = make(NULL, 600, 4);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("203.0.113.12", "172.31.16.139", 0x0800, 0x1234, 84);
	p.protocol = 1; /* whatever the caller put in the ports is ignored */
	for (int i = 0; i < 4; i++) {
		p.sport = (uint16_t)(0x0800 + i); /* echo ids/seqs differ: still one record */
		assert_int_equal(flowlog_add(fl, &p, 1432917027 + (uint64_t)i * 30), 0);
	}
	p.protocol = 58;
	p.src = addr("2001:db8::1");
	p.dst = addr("2001:db8::2");
	assert_int_equal(flowlog_add(fl, &p, 1432917100), 0);
	assert_int_equal(flowlog_flush(fl, 0, true, collect, &s), 2);
	assert_string_equal(s.lines[0],
			    "2 123456789010 eni-1235b8ca123456789 203.0.113.12 "
			    "172.31.16.139 0 0 1 4 336 1432917027 1432917117 ACCEPT OK");
	assert_string_equal(s.lines[1], "2 123456789010 eni-1235b8ca123456789 2001:db8::1 "
					"2001:db8::2 0 0 58 1 84 1432917100 1432917100 ACCEPT OK");
	sink_free(&s);
	flowlog_destroy(fl);
}

static void test_flush_on_exit(void **state)
{
	struct flowlog *fl = make(NULL, 600, 8);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 40000, 80, 1);
	assert_int_equal(flowlog_add(fl, &p, 1200), 0);
	p.sport = 1;
	assert_int_equal(flowlog_add(fl, &p, 1201), 0);
	assert_int_equal(flowlog_flush(fl, 1300, false, collect, &s), 0);
	assert_int_equal(flowlog_flush(fl, 1300, true, collect, &s), 2);
	assert_int_equal(flowlog_flush(fl, 1300, true, collect, &s), 0);
	struct flowlog_stats st;
	flowlog_get_stats(fl, &st);
	assert_int_equal(st.in_use, 0);
	sink_free(&s);
	flowlog_destroy(fl);
}

/* A writer that fails keeps the records it did not take. */
static void test_emit_failure_keeps_records(void **state)
{
	struct flowlog *fl = make("${srcport}", 1, 8);
	struct sink s;
	sink_init(&s);
	for (uint16_t port = 1; port <= 3; port++) {
		struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", port, 80, 1);
		assert_int_equal(flowlog_add(fl, &p, 5), 0);
	}
	s.fail_after = 1;
	assert_int_equal(flowlog_flush(fl, 10, false, collect, &s), -EIO);
	assert_int_equal(s.n, 1);
	s.fail_after = -1;
	assert_int_equal(flowlog_flush(fl, 10, false, collect, &s), 2);
	assert_string_equal(s.lines[0], "1");
	assert_string_equal(s.lines[1], "2");
	assert_string_equal(s.lines[2], "3");
	sink_free(&s);
	flowlog_destroy(fl);
}

/* Records keep their own copy of the interface strings: a reload may free
 * the lab the caller's strings came from. */
static void test_iface_strings_copied(void **state)
{
	char eni[32] = "eni-0ccccccccccccccc1";
	char subnet[32] = "subnet-01";
	struct flowlog_iface ifc = {.interface_id = eni, .subnet_id = subnet};
	struct flowlog *fl = make("${interface-id} ${subnet-id}", 60, 8);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 1, 80, 1);
	p.iface = &ifc;
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	strcpy(subnet, "subnet-02"); /* same ENI, moved: a different record */
	assert_int_equal(flowlog_add(fl, &p, 0), 0);
	memset(eni, 'X', sizeof(eni) - 1);
	memset(subnet, 0, sizeof(subnet));
	assert_int_equal(flowlog_flush(fl, 0, true, collect, &s), 2);
	assert_string_equal(s.lines[0], "eni-0ccccccccccccccc1 subnet-01");
	assert_string_equal(s.lines[1], "eni-0ccccccccccccccc1 subnet-02");
	sink_free(&s);
	flowlog_destroy(fl);
}

/* An interface idle for a whole flush is forgotten, and comes back as new
 * when it carries traffic again (ASan/valgrind check the freeing). */
static void test_idle_interface_forgotten(void **state)
{
	struct flowlog *fl = make("${interface-id} ${packets}", 1, 4);
	struct sink s;
	sink_init(&s);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 1, 80, 1);
	for (uint64_t t = 10; t < 16; t++) {
		if (t != 12 && t != 13)
			assert_int_equal(flowlog_add(fl, &p, t), 0);
		assert_true(flowlog_flush(fl, t, false, collect, &s) >= 0);
	}
	assert_int_equal(flowlog_flush(fl, 20, true, collect, &s), 1);
	assert_int_equal(s.n, 4);
	for (size_t i = 0; i < s.n; i++)
		assert_string_equal(s.lines[i], "eni-1235b8ca123456789 1");
	sink_free(&s);
	flowlog_destroy(fl);
}

static void test_bad_input(void **state)
{
	struct flowlog_config c = {.interval = 0, .capacity = 4};
	struct flowlog *fl;
	assert_int_equal(flowlog_format_parse(NULL, &c.format, NULL, 0), 0);
	assert_int_equal(flowlog_create(&c, &fl), -EINVAL);
	assert_null(fl);
	c.interval = 1;
	c.capacity = 0;
	assert_int_equal(flowlog_create(&c, &fl), -EINVAL);
	c.capacity = (size_t)1 << 30;
	assert_int_equal(flowlog_create(&c, &fl), -EINVAL);

	fl = make(NULL, 1, 4);
	struct flowlog_packet p = tcp_pkt("10.0.1.10", "10.0.2.20", 1, 80, 1);
	struct flowlog_iface no_id = {.vpc_id = "vpc-1"};
	p.iface = &no_id;
	assert_int_equal(flowlog_add(fl, &p, 0), -EINVAL);
	p.iface = NULL;
	assert_int_equal(flowlog_add(fl, &p, 0), -EINVAL);
	char longid[FLOWLOG_STR_MAX + 8];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	struct flowlog_iface too_long = {.interface_id = longid};
	p.iface = &too_long;
	assert_int_equal(flowlog_add(fl, &p, 0), -EINVAL);
	p.iface = &eni_a;
	p.pkt_src_aws_service = "THIS_NAME_IS_FAR_TOO_LONG_FOR_AN_AWS_SERVICE";
	assert_int_equal(flowlog_add(fl, &p, 0), -EINVAL);
	struct flowlog_stats st;
	flowlog_get_stats(fl, &st);
	assert_int_equal(st.packets, 0);
	assert_int_equal(st.in_use, 0);
	flowlog_destroy(fl);
	flowlog_destroy(NULL);
}

static void test_nodata_record(void **state)
{
	struct flowlog_format f;
	assert_int_equal(flowlog_format_parse(NULL, &f, NULL, 0), 0);
	struct flowlog_record r = {
	    .status = FLOWLOG_NODATA,
	    .iface = &eni_a,
	    .start = 1431280876,
	    .end = 1431280934,
	};
	char buf[FLOWLOG_LINE_MAX];
	flowlog_format_record(&f, &r, buf, sizeof(buf));
	assert_string_equal(buf, "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 "
				 "1431280934 - NODATA");
	char tiny[5];
	size_t n = flowlog_format_record(&f, &r, tiny, sizeof(tiny));
	assert_int_equal(n, strlen(buf));
	assert_string_equal(tiny, "2 12");
}

/* ---- differential test against a naive aggregator --------------------- */

struct ref_rec {
	int eni, sport, dport, proto, dir, action, src, dst;
	uint64_t window, packets, bytes, first, last;
};

static uint64_t rng_state = 0x1234567887654321ull;
static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_differential_random(void **state)
{
	static const struct flowlog_iface enis[3] = {
	    {.interface_id = "eni-00000000000000001"},
	    {.interface_id = "eni-00000000000000002"},
	    {.interface_id = "eni-00000000000000003"},
	};
	static const char *addrs[] = {"10.0.1.10", "10.0.2.20", "2001:db8::5", "192.0.2.1"};
	enum { N = 3000, INTERVAL = 7 };
	struct ref_rec *ref = calloc(N, sizeof(*ref));
	size_t n_ref = 0;
	struct flowlog *fl = make("${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
				  "${protocol} ${flow-direction} ${action} ${packets} ${bytes} "
				  "${start} ${end}",
				  INTERVAL, N);
	struct sink s;
	sink_init(&s);
	uint64_t now = 1000;
	for (int i = 0; i < N; i++) {
		now += rnd(3);
		struct ref_rec k = {
		    .eni = (int)rnd(3),
		    .sport = (int)rnd(3) + 1000,
		    .dport = (int)rnd(2) + 80,
		    .proto = rnd(4) ? 6 : 17,
		    .dir = (int)rnd(2),
		    .action = (int)rnd(2),
		    .src = (int)rnd(2) * 2, /* v4 with v4, v6 with v6 */
		    .window = now / INTERVAL,
		};
		k.dst = k.src + 1;
		if (k.src == 2)
			k.dst = 2; /* v6 to itself is fine for bookkeeping */
		uint32_t bytes = rnd(1500) + 40;
		struct flowlog_packet p = tcp_pkt(addrs[k.src], addrs[k.dst], (uint16_t)k.sport,
						  (uint16_t)k.dport, bytes);
		p.iface = &enis[k.eni];
		p.protocol = (uint8_t)k.proto;
		p.direction = k.dir ? FLOWLOG_EGRESS : FLOWLOG_INGRESS;
		p.action = k.action ? FLOWLOG_REJECT : FLOWLOG_ACCEPT;
		assert_int_equal(flowlog_add(fl, &p, now), 0);
		size_t j;
		for (j = 0; j < n_ref; j++) {
			struct ref_rec *r = &ref[j];
			if (r->eni == k.eni && r->sport == k.sport && r->dport == k.dport &&
			    r->proto == k.proto && r->dir == k.dir && r->action == k.action &&
			    r->src == k.src && r->dst == k.dst && r->window == k.window)
				break;
		}
		if (j == n_ref) {
			ref[n_ref] = k;
			ref[n_ref].first = now;
			n_ref++;
		}
		ref[j].packets++;
		ref[j].bytes += bytes;
		ref[j].last = now;
		if (rnd(50) == 0) /* flush now and then, as the daemon's timer does */
			assert_true(flowlog_flush(fl, now, false, collect, &s) >= 0);
	}
	assert_true(flowlog_flush(fl, now, true, collect, &s) >= 0);
	assert_int_equal(s.n, n_ref);
	char **want = calloc(n_ref, sizeof(*want));
	for (size_t j = 0; j < n_ref; j++) {
		struct ref_rec *r = &ref[j];
		struct ip_addr a = addr(addrs[r->src]), b = addr(addrs[r->dst]);
		char sa[IP_ADDR_STRLEN], sb[IP_ADDR_STRLEN];
		want[j] = malloc(256);
		snprintf(want[j], 256, "%s %s %s %d %d %d %s %s %llu %llu %llu %llu",
			 enis[r->eni].interface_id, ip_addr_format(&a, sa, sizeof(sa)),
			 ip_addr_format(&b, sb, sizeof(sb)), r->sport, r->dport, r->proto,
			 r->dir ? "egress" : "ingress", r->action ? "REJECT" : "ACCEPT",
			 (unsigned long long)r->packets, (unsigned long long)r->bytes,
			 (unsigned long long)r->first, (unsigned long long)r->last);
	}
	qsort(want, n_ref, sizeof(*want), line_cmp);
	qsort(s.lines, s.n, sizeof(*s.lines), line_cmp);
	for (size_t j = 0; j < n_ref; j++) {
		assert_string_equal(s.lines[j], want[j]);
		free(want[j]);
	}
	free(want);
	free(ref);
	sink_free(&s);
	flowlog_destroy(fl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_line_fields),
	    cmocka_unit_test(test_missing_values_are_dashes),
	    cmocka_unit_test(test_custom_format_all_fields),
	    cmocka_unit_test(test_version_selection),
	    cmocka_unit_test(test_version_field_in_line),
	    cmocka_unit_test(test_format_errors),
	    cmocka_unit_test(test_header_line),
	    cmocka_unit_test(test_two_intervals_two_records),
	    cmocka_unit_test(test_start_end_first_last_packet),
	    cmocka_unit_test(test_action_and_direction_separate),
	    cmocka_unit_test(test_separate_enis_and_tuples),
	    cmocka_unit_test(test_tcp_flags),
	    cmocka_unit_test(test_capacity_overflow_skipdata),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_icmp_ports_zero),
	    cmocka_unit_test(test_flush_on_exit),
	    cmocka_unit_test(test_emit_failure_keeps_records),
	    cmocka_unit_test(test_iface_strings_copied),
	    cmocka_unit_test(test_idle_interface_forgotten),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_nodata_record),
	    cmocka_unit_test(test_differential_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
