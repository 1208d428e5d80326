/*
 * The connection tracker (rules/conntrack.c) against AWS-SEMANTICS §4 with
 * an injected clock: every timeout class alive one second before its idle
 * timeout and gone one second after (without the sweeper ever running), UDP
 * stream promotion, the TCP handshake/FIN/RST states, ICMP echo pairing,
 * ICMP errors found through the flow they quote, other protocols by address
 * pair, one entry for both directions, IPv6, isolated zones, the allowance
 * and its counters, pool exhaustion, the sweeper's budget, run-time timeout
 * changes, flush, walk, rule retagging and zone remapping; then 20k
 * entries through chains and the free list, 30k random operations with the
 * table's own consistency check (ct_check) after each, and a randomised
 * differential test against a deliberately naive tracker.
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

#include "conntrack.h"

#define SEC 1000000000ull
#define T0 (1000 * SEC + 123456789ull) /* not on a second boundary on purpose */
#define AT(s) (T0 + (uint64_t)(s)*SEC)

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* Distinct values so a test proves which timeout applied. */
static const struct ct_timeouts test_timeouts = {
    .tcp_established = 3600,
    .tcp_transient = 77,
    .udp_stream = 150,
    .udp = 40,
    .icmp = 25,
    .other = 600,
};

static struct conntrack *make_ct(uint32_t capacity, uint32_t n_zones, uint32_t allowance)
{
	struct ct_config cfg = {
	    .capacity = capacity,
	    .n_zones = n_zones,
	    .timeouts = test_timeouts,
	    .allowance = allowance,
	    .hash_seed = 42,
	};
	struct conntrack *ct;

	assert_int_equal(ct_create(&cfg, &ct), 0);
	assert_non_null(ct);
	return ct;
}

static struct ip_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct ip_addr r = {.family = IP_V4};

	r.b[0] = a;
	r.b[1] = b;
	r.b[2] = c;
	r.b[3] = d;
	return r;
}

static struct ip_addr v6(const char *s)
{
	struct ip_addr r;

	assert_int_equal(ip_addr_parse(s, &r), 0);
	assert_int_equal(r.family, IP_V6);
	return r;
}

static struct ct_tuple l4(uint8_t proto, struct ip_addr src, uint16_t sport, struct ip_addr dst,
			  uint16_t dport, uint8_t flags)
{
	struct ct_tuple t = {.src = src, .dst = dst, .proto = proto};

	t.sport = sport;
	t.dport = dport;
	t.tcp_flags = flags;
	return t;
}

static struct ct_tuple icmp(struct ip_addr src, struct ip_addr dst, uint8_t type, uint8_t code,
			    uint16_t id)
{
	struct ct_tuple t = {.src = src, .dst = dst};

	t.proto = src.family == IP_V4 ? PROTO_ICMP : PROTO_ICMPV6;
	t.icmp_type = type;
	t.icmp_code = code;
	t.icmp_id = id;
	return t;
}

static struct ct_tuple reversed(const struct ct_tuple *t, uint8_t flags)
{
	struct ct_tuple r = *t;

	r.src = t->dst;
	r.dst = t->src;
	r.sport = t->dport;
	r.dport = t->sport;
	r.tcp_flags = flags;
	return r;
}

static struct ct_conn *must_insert(struct conntrack *ct, uint32_t zone, const struct ct_tuple *t,
				   uint64_t now)
{
	struct ct_conn *c = NULL;

	assert_int_equal(ct_insert(ct, zone, t, 100, NULL, now, &c), 0);
	assert_non_null(c);
	return c;
}

static enum ct_class class_of(struct conntrack *ct, struct ct_conn *c)
{
	struct ct_conn_info info;

	ct_conn_get(ct, c, &info);
	return info.cls;
}

static enum ct_tcp_state tcp_state_of(struct conntrack *ct, struct ct_conn *c)
{
	struct ct_conn_info info;

	ct_conn_get(ct, c, &info);
	return info.tcp_state;
}

static uint32_t in_use(struct conntrack *ct)
{
	struct ct_stats s;

	ct_get_stats(ct, &s);
	return s.in_use;
}

/* Looks t up and, when found, accounts it as the data path does. */
static struct ct_conn *packet(struct conntrack *ct, uint32_t zone, const struct ct_tuple *t,
			      uint64_t now, enum ct_dir *dir)
{
	enum ct_dir d = CT_DIR_ORIGINAL;
	struct ct_conn *c = ct_lookup(ct, zone, t, now, &d);

	if (c)
		ct_update(ct, c, d, t, 100, now);
	if (dir)
		*dir = d;
	return c;
}

/* The entry of t, last seen at `last`, with a timeout of `timeout`: alive
 * at last + timeout - 1 s, gone at last + timeout + 1 s, and the lookup that
 * finds it gone has reclaimed it (entries keep whole seconds, conntrack.h). Lookups here do not
 * refresh the entry. */
static void assert_expires(struct conntrack *ct, const struct ct_tuple *t, uint64_t last,
			   uint32_t timeout)
{
	enum ct_dir d;
	uint32_t before = in_use(ct);

	assert_non_null(ct_lookup(ct, 0, t, last + (timeout - 1) * SEC, &d));
	/* Whole seconds: alive up to the last nanosecond of the second before. */
	assert_non_null(ct_lookup(ct, 0, t, (last / SEC + timeout) * SEC - 1, &d));
	assert_null(ct_lookup(ct, 0, t, last + (timeout + 1) * SEC, &d));
	assert_int_equal(in_use(ct), before - 1);
}

/* ---- keys and directions ---------------------------------------------- */

static void test_entry_size(void **state)
{
	struct conntrack *ct = make_ct(1u << 20, 1, 1u << 20);
	size_t per = ct_bytes_per_entry(ct);
	struct ct_stats s;

	ct_get_stats(ct, &s);
	print_message("conntrack: %zu bytes per entry at capacity (pool + buckets)\n", per);
	assert_true(per <= 128);
	/* 1 M connections in <= 256 MiB, everything included. */
	assert_true(s.memory <= 256u << 20);
	ct_destroy(ct);
}

static void test_both_directions_one_entry(void **state)
{
	struct conntrack *ct = make_ct(64, 1, 64);
	struct ct_tuple fwd =
	    l4(PROTO_TCP, v4(10, 0, 1, 10), 40000, v4(10, 0, 2, 20), 5432, TCP_SYN);
	struct ct_tuple rev = reversed(&fwd, TCP_SYN | TCP_ACK);
	struct ct_conn *c = must_insert(ct, 0, &fwd, T0), *other = NULL;
	enum ct_dir d;

	assert_ptr_equal(ct_lookup(ct, 0, &fwd, T0, &d), c);
	assert_int_equal(d, CT_DIR_ORIGINAL);
	assert_ptr_equal(ct_lookup(ct, 0, &rev, T0, &d), c);
	assert_int_equal(d, CT_DIR_REPLY);
	/* The reverse is the same connection, not a new one. */
	assert_int_equal(ct_insert(ct, 0, &rev, 60, NULL, T0, &other), -EEXIST);
	assert_ptr_equal(other, c);
	assert_int_equal(in_use(ct), 1);

	/* A different port either way is another flow. */
	rev.sport = 5433;
	assert_null(ct_lookup(ct, 0, &rev, T0, &d));
	rev = reversed(&fwd, TCP_ACK);
	rev.dport = 40001;
	assert_null(ct_lookup(ct, 0, &rev, T0, &d));

	/* The original tuple is reported as the first packet went, whichever
	 * endpoint sorts first in the key. */
	struct ct_tuple hi = l4(PROTO_UDP, v4(10, 9, 9, 9), 53, v4(10, 0, 0, 1), 9999, 0);
	struct ct_conn *u = must_insert(ct, 0, &hi, T0);
	struct ct_conn_info info;

	ct_conn_get(ct, u, &info);
	assert_memory_equal(info.orig.src.b, hi.src.b, 16);
	assert_memory_equal(info.orig.dst.b, hi.dst.b, 16);
	assert_int_equal(info.orig.sport, 53);
	assert_int_equal(info.orig.dport, 9999);
	assert_int_equal(info.orig.proto, PROTO_UDP);
	ct_destroy(ct);
}

static void test_ipv6_keys(void **state)
{
	struct conntrack *ct = make_ct(64, 1, 64);
	struct ct_tuple fwd =
	    l4(PROTO_TCP, v6("2001:db8:1::10"), 50000, v6("2001:db8:2::20"), 443, TCP_SYN);
	struct ct_tuple rev = reversed(&fwd, TCP_SYN | TCP_ACK);
	struct ct_conn *c = must_insert(ct, 0, &fwd, T0);
	enum ct_dir d;

	assert_ptr_equal(ct_lookup(ct, 0, &rev, T0, &d), c);
	assert_int_equal(d, CT_DIR_REPLY);

	/* IPv4 10.0.1.10 has the same 16 bytes as IPv6 a00:10a::; the
	 * family keeps them apart. */
	struct ct_tuple four = l4(PROTO_UDP, v4(10, 0, 1, 10), 1, v4(10, 0, 2, 20), 2, 0);
	struct ct_tuple six = four;

	six.src = v6("a00:10a::");
	six.dst = v6("a00:214::");
	must_insert(ct, 0, &four, T0);
	assert_null(ct_lookup(ct, 0, &six, T0, &d));
	must_insert(ct, 0, &six, T0);
	assert_int_equal(in_use(ct), 3);

	/* Mixed families are no flow. */
	six.dst = v4(10, 0, 2, 20);
	assert_int_equal(ct_insert(ct, 0, &six, 1, NULL, T0, NULL), -EINVAL);
	assert_null(ct_lookup(ct, 0, &six, T0, &d));
	ct_destroy(ct);
}

static void test_zones_isolated(void **state)
{
	struct conntrack *ct = make_ct(64, 3, 64);
	struct ct_tuple t = l4(PROTO_UDP, v4(10, 0, 1, 10), 5353, v4(10, 0, 1, 11), 53, 0);
	struct ct_conn *a = must_insert(ct, 0, &t, T0);
	struct ct_conn *b = must_insert(ct, 1, &t, T0);
	struct ct_zone_stats zs;
	enum ct_dir d;

	assert_ptr_not_equal(a, b);
	assert_ptr_equal(ct_lookup(ct, 0, &t, T0, &d), a);
	assert_ptr_equal(ct_lookup(ct, 1, &t, T0, &d), b);
	assert_null(ct_lookup(ct, 2, &t, T0, &d));
	assert_null(ct_lookup(ct, 3, &t, T0, &d)); /* no such zone */
	assert_int_equal(ct_insert(ct, 3, &t, 1, NULL, T0, NULL), -EINVAL);

	assert_int_equal(ct_zone_flush(ct, 0), 1);
	assert_null(ct_lookup(ct, 0, &t, T0, &d));
	assert_ptr_equal(ct_lookup(ct, 1, &t, T0, &d), b);
	assert_int_equal(ct_zone_stats(ct, 1, &zs), 0);
	assert_int_equal(zs.tracked, 1);
	ct_destroy(ct);
}

/* ---- timeouts, one class at a time, sweeper never run ------------------ */

static void test_timeout_tcp_established(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ct_tuple syn = l4(PROTO_TCP, v4(10, 0, 0, 1), 33000, v4(10, 0, 0, 2), 22, TCP_SYN);
	struct ct_tuple synack = reversed(&syn, TCP_SYN | TCP_ACK);
	struct ct_tuple ack = syn;
	struct ct_conn *c = must_insert(ct, 0, &syn, T0);

	ack.tcp_flags = TCP_ACK;
	assert_non_null(packet(ct, 0, &synack, AT(1), NULL));
	assert_non_null(packet(ct, 0, &ack, AT(2), NULL));
	assert_int_equal(class_of(ct, c), CT_CLASS_TCP_ESTABLISHED);
	assert_expires(ct, &ack, AT(2), 3600);
	ct_destroy(ct);
}

static void test_timeout_tcp_transient(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ct_tuple syn = l4(PROTO_TCP, v4(10, 0, 0, 1), 33000, v4(10, 0, 0, 2), 22, TCP_SYN);
	struct ct_conn *c = must_insert(ct, 0, &syn, T0);

	assert_int_equal(class_of(ct, c), CT_CLASS_TCP_TRANSIENT);
	assert_expires(ct, &syn, T0, 77);
	ct_destroy(ct);
}

static void test_timeout_tcp_closed(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ct_tuple ack = l4(PROTO_TCP, v4(10, 0, 0, 1), 33000, v4(10, 0, 0, 2), 22, TCP_ACK);
	struct ct_tuple rst = reversed(&ack, TCP_RST);
	struct ct_timeouts short_transient = test_timeouts;
	struct ct_conn *c = must_insert(ct, 0, &ack, T0);

	assert_non_null(packet(ct, 0, &rst, AT(5), NULL));
	assert_int_equal(class_of(ct, c), CT_CLASS_TCP_CLOSED);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_CLOSED);
	assert_expires(ct, &ack, AT(5), CT_TCP_CLOSED_TIMEOUT);

	/* A transient timeout shorter than the RST linger wins. */
	short_transient.tcp_transient = 4;
	assert_int_equal(ct_zone_configure(ct, 0, &short_transient, 16), 0);
	c = must_insert(ct, 0, &ack, AT(100));
	assert_non_null(packet(ct, 0, &rst, AT(100), NULL));
	assert_int_equal(class_of(ct, c), CT_CLASS_TCP_CLOSED);
	assert_expires(ct, &ack, AT(100), 4);
	ct_destroy(ct);
}

static void test_timeout_udp(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ct_tuple q = l4(PROTO_UDP, v4(10, 0, 0, 1), 40000, v4(10, 0, 0, 2), 53, 0);
	struct ct_conn *c = must_insert(ct, 0, &q, T0);

	assert_int_equal(class_of(ct, c), CT_CLASS_UDP);
	assert_expires(ct, &q, T0, 40);
	/* The exact boundary: dead from the first nanosecond of second L + T. */
	must_insert(ct, 0, &q, AT(100));
	assert_non_null(ct_lookup(ct, 0, &q, (AT(100) / SEC + 40) * SEC - 1, &(enum ct_dir){0}));
	assert_null(ct_lookup(ct, 0, &q, (AT(100) / SEC + 40) * SEC, &(enum ct_dir){0}));
	assert_int_equal(in_use(ct), 0);
	ct_destroy(ct);
}

static void test_timeout_icmp(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ct_tuple ping = icmp(v4(10, 0, 0, 1), v4(10, 0, 0, 2), 8, 0, 77);
	struct ct_tuple ping6 = icmp(v6("fd00::1"), v6("fd00::2"), 128, 0, 77);
	struct ct_conn *c = must_insert(ct, 0, &ping, T0);

	assert_int_equal(class_of(ct, c), CT_CLASS_ICMP);
	assert_expires(ct, &ping, T0, 25);
	c = must_insert(ct, 0, &ping6, T0);
	assert_int_equal(class_of(ct, c), CT_CLASS_ICMP);
	assert_expires(ct, &ping6, T0, 25);
	ct_destroy(ct);
}

static void test_timeout_other(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ct_tuple gre = l4(47, v4(10, 0, 0, 1), 0, v4(10, 0, 0, 2), 0, 0);
	struct ct_conn *c = must_insert(ct, 0, &gre, T0);

	assert_int_equal(class_of(ct, c), CT_CLASS_OTHER);
	assert_expires(ct, &gre, T0, 600);
	ct_destroy(ct);
}

/* Traffic keeps an entry alive: the idle timeout counts from the last packet. */
static void test_activity_refreshes(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ct_tuple q = l4(PROTO_UDP, v4(10, 0, 0, 1), 40000, v4(10, 0, 0, 2), 514, 0);
	struct ct_conn_info info;
	struct ct_conn *c = must_insert(ct, 0, &q, T0);

	for (int s = 30; s <= 300; s += 30)
		assert_ptr_equal(packet(ct, 0, &q, AT(s), NULL), c);
	ct_conn_get(ct, c, &info);
	assert_int_equal(info.last_seen, (T0 / SEC + 300) * SEC);
	assert_int_equal(info.first_seen, (T0 / SEC) * SEC);
	assert_int_equal(info.expires, (T0 / SEC + 300 + 40) * SEC);
	assert_int_equal(info.packets[CT_DIR_ORIGINAL], 11);
	assert_int_equal(info.packets[CT_DIR_REPLY], 0);
	assert_expires(ct, &q, AT(300), 40);
	ct_destroy(ct);
}

/* ---- protocol state --------------------------------------------------- */

static void test_udp_stream_promotion(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ct_tuple req = l4(PROTO_UDP, v4(10, 0, 0, 1), 40000, v4(10, 0, 0, 2), 1194, 0);
	struct ct_tuple resp = reversed(&req, 0);
	struct ct_conn *c = must_insert(ct, 0, &req, T0);
	enum ct_dir d;

	/* More requests without an answer: still one direction. */
	packet(ct, 0, &req, AT(1), NULL);
	packet(ct, 0, &req, AT(2), NULL);
	assert_int_equal(class_of(ct, c), CT_CLASS_UDP);
	/* One request-response, even with several responses: not a stream. */
	assert_ptr_equal(packet(ct, 0, &resp, AT(3), &d), c);
	assert_int_equal(d, CT_DIR_REPLY);
	packet(ct, 0, &resp, AT(4), NULL);
	assert_int_equal(class_of(ct, c), CT_CLASS_UDP);
	/* The second request ... */
	packet(ct, 0, &req, AT(5), NULL);
	assert_int_equal(class_of(ct, c), CT_CLASS_UDP);
	/* ... answered: more than one request-response, a stream (180 s class). */
	packet(ct, 0, &resp, AT(6), NULL);
	assert_int_equal(class_of(ct, c), CT_CLASS_UDP_STREAM);
	assert_expires(ct, &req, AT(6), 150);

	/* Single exchange expires on the short timeout. */
	c = must_insert(ct, 0, &req, AT(1000));
	packet(ct, 0, &resp, AT(1001), NULL);
	assert_int_equal(class_of(ct, c), CT_CLASS_UDP);
	assert_expires(ct, &req, AT(1001), 40);
	ct_destroy(ct);
}

static void test_tcp_handshake_and_fin(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ct_tuple syn = l4(PROTO_TCP, v4(10, 0, 1, 5), 41000, v4(10, 0, 2, 6), 80, TCP_SYN);
	struct ct_tuple synack = reversed(&syn, TCP_SYN | TCP_ACK);
	struct ct_tuple ack = syn, data_back = reversed(&syn, TCP_ACK | TCP_PSH);
	struct ct_tuple fin = syn, fin_back = reversed(&syn, TCP_FIN | TCP_ACK);
	struct ct_tuple rst = reversed(&syn, TCP_RST);
	struct ct_conn *c = must_insert(ct, 0, &syn, T0);
	struct ct_conn_info info;
	enum ct_dir d;

	ack.tcp_flags = TCP_ACK;
	fin.tcp_flags = TCP_FIN | TCP_ACK;
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_SYN_SENT);
	/* An ACK before the SYN-ACK does not establish. */
	packet(ct, 0, &ack, AT(0), NULL);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_SYN_SENT);
	/* A retransmitted SYN is the same connection, not a reopen. */
	assert_ptr_equal(packet(ct, 0, &syn, AT(1), NULL), c);
	packet(ct, 0, &synack, AT(1), &d);
	assert_int_equal(d, CT_DIR_REPLY);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_SYN_RECV);
	assert_int_equal(class_of(ct, c), CT_CLASS_TCP_TRANSIENT);
	packet(ct, 0, &ack, AT(1), NULL);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_ESTABLISHED);
	assert_int_equal(class_of(ct, c), CT_CLASS_TCP_ESTABLISHED);
	packet(ct, 0, &data_back, AT(2), NULL);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_ESTABLISHED);

	packet(ct, 0, &fin, AT(3), NULL);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_FIN_WAIT);
	assert_int_equal(class_of(ct, c), CT_CLASS_TCP_TRANSIENT);
	/* The half-closed side still sends. */
	assert_ptr_equal(packet(ct, 0, &data_back, AT(4), NULL), c);
	packet(ct, 0, &fin_back, AT(4), NULL);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_TIME_WAIT);
	packet(ct, 0, &ack, AT(4), NULL);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_TIME_WAIT);

	ct_conn_get(ct, c, &info);
	assert_int_equal(info.packets[CT_DIR_ORIGINAL], 6);
	assert_int_equal(info.packets[CT_DIR_REPLY], 4);
	assert_int_equal(info.bytes[CT_DIR_ORIGINAL], 600);
	assert_int_equal(info.bytes[CT_DIR_REPLY], 400);

	/* A new SYN on the same ports after close is a new connection: the
	 * rules decide again (the old entry is gone). */
	assert_null(ct_lookup(ct, 0, &syn, AT(5), &d));
	assert_int_equal(in_use(ct), 0);
	/* ... even the other way round. */
	c = must_insert(ct, 0, &syn, AT(6));
	packet(ct, 0, &fin, AT(6), NULL);
	packet(ct, 0, &fin_back, AT(6), NULL);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_TIME_WAIT);
	synack.tcp_flags = TCP_SYN;
	assert_null(ct_lookup(ct, 0, &synack, AT(7), &d));
	assert_int_equal(in_use(ct), 0);
	/* An insert straight over a finished entry replaces it likewise. */
	c = must_insert(ct, 0, &syn, AT(8));
	packet(ct, 0, &rst, AT(8), NULL);
	struct ct_conn *again = must_insert(ct, 0, &synack, AT(9));
	ct_conn_get(ct, again, &info);
	assert_int_equal(info.tcp_state, CT_TCP_SYN_SENT);
	assert_memory_equal(info.orig.src.b, synack.src.b, 16);
	assert_int_equal(in_use(ct), 1);
	ct_destroy(ct);
}

static void test_tcp_rst_and_midstream(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ct_tuple syn = l4(PROTO_TCP, v4(10, 0, 1, 5), 41000, v4(10, 0, 2, 6), 81, TCP_SYN);
	struct ct_tuple rst = reversed(&syn, TCP_RST | TCP_ACK);
	struct ct_tuple mid = l4(PROTO_TCP, v4(10, 0, 1, 5), 41001, v4(10, 0, 2, 6), 81, TCP_ACK);
	struct ct_conn *c = must_insert(ct, 0, &syn, T0);
	enum ct_dir d;

	/* Port closed: RST answers the SYN. */
	packet(ct, 0, &rst, AT(0), NULL);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_CLOSED);
	/* Stray segments after the RST still belong to it... */
	assert_ptr_equal(packet(ct, 0, &rst, AT(1), NULL), c);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_CLOSED);
	/* ... but a bare SYN reopens (rules decide). */
	assert_null(ct_lookup(ct, 0, &syn, AT(2), &d));

	/* First seen mid-stream: taken as established. */
	c = must_insert(ct, 0, &mid, T0);
	assert_int_equal(tcp_state_of(ct, c), CT_TCP_ESTABLISHED);
	/* An RST from either side closes it quickly. */
	mid.tcp_flags = TCP_RST;
	packet(ct, 0, &mid, AT(10), NULL);
	assert_int_equal(class_of(ct, c), CT_CLASS_TCP_CLOSED);
	ct_destroy(ct);
}

static void test_icmp_echo_pairing(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ip_addr a = v4(10, 0, 1, 10), b = v4(10, 0, 2, 20);
	struct ct_tuple req = icmp(a, b, 8, 0, 7);
	struct ct_tuple rep = icmp(b, a, 0, 0, 7);
	struct ct_tuple other_id = icmp(b, a, 0, 0, 8);
	struct ct_tuple back_req = icmp(b, a, 8, 0, 7);
	struct ct_tuple rep_wrong_way = icmp(a, b, 0, 0, 7);
	struct ct_conn *c = must_insert(ct, 0, &req, T0);
	struct ct_conn_info info;
	enum ct_dir d;

	assert_ptr_equal(packet(ct, 0, &rep, AT(1), &d), c);
	assert_int_equal(d, CT_DIR_REPLY);
	assert_ptr_equal(packet(ct, 0, &req, AT(2), &d), c);
	assert_int_equal(d, CT_DIR_ORIGINAL);
	assert_null(ct_lookup(ct, 0, &other_id, AT(2), &d));
	/* B pinging A is B's own flow, not a reply to A's ping. */
	assert_null(ct_lookup(ct, 0, &back_req, AT(2), &d));
	assert_null(ct_lookup(ct, 0, &rep_wrong_way, AT(2), &d));
	ct_conn_get(ct, c, &info);
	assert_int_equal(info.orig.icmp_type, 8);
	assert_int_equal(info.orig.icmp_id, 7);

	/* ICMPv6 128 <-> 129. */
	struct ip_addr a6 = v6("2001:db8::a"), b6 = v6("2001:db8::b");
	struct ct_tuple req6 = icmp(a6, b6, 128, 0, 300);
	struct ct_tuple rep6 = icmp(b6, a6, 129, 0, 300);
	struct ct_conn *c6 = must_insert(ct, 0, &req6, T0);

	assert_ptr_equal(ct_lookup(ct, 0, &rep6, AT(1), &d), c6);
	assert_int_equal(d, CT_DIR_REPLY);
	/* ICMP type numbers of IPv4 mean nothing for ICMPv6. */
	rep6.icmp_type = 0;
	assert_null(ct_lookup(ct, 0, &rep6, AT(1), &d));

	/* Other ICMP types expect no answer: the same type back is not one. */
	struct ct_tuple ts = icmp(a, b, 13, 0, 1);
	struct ct_tuple ts_back = icmp(b, a, 13, 0, 1);
	struct ct_conn *cts = must_insert(ct, 0, &ts, T0);

	assert_null(ct_lookup(ct, 0, &ts_back, AT(1), &d));
	assert_ptr_equal(ct_lookup(ct, 0, &ts, AT(1), &d), cts);
	ct_conn_get(ct, cts, &info);
	assert_int_equal(info.orig.icmp_type, 13);
	assert_int_equal(info.cls, CT_CLASS_ICMP);
	ct_destroy(ct);
}

static void test_icmp_error_related(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ip_addr a = v4(10, 0, 1, 10), b = v4(10, 0, 2, 20), r = v4(10, 0, 2, 1);
	struct ct_tuple syn = l4(PROTO_TCP, a, 40000, b, 443, TCP_SYN);
	struct ct_tuple back = reversed(&syn, TCP_ACK);
	struct ct_tuple frag_needed = icmp(r, a, 3, 4, 0);
	struct ct_tuple unrelated = l4(PROTO_TCP, a, 40001, b, 443, 0);
	struct ct_conn *c = must_insert(ct, 0, &syn, T0);
	struct ct_conn_info info;
	enum ct_dir d;

	assert_true(ct_icmp_is_error(PROTO_ICMP, 3));
	assert_true(ct_icmp_is_error(PROTO_ICMPV6, 2));
	assert_false(ct_icmp_is_error(PROTO_ICMP, 8));
	assert_false(ct_icmp_is_error(PROTO_ICMPV6, 129));
	assert_false(ct_icmp_is_error(PROTO_UDP, 3));

	/* "Fragmentation needed" about A's segment goes back to A. */
	assert_ptr_equal(ct_lookup_related(ct, 0, &syn, AT(10), &d), c);
	assert_int_equal(d, CT_DIR_REPLY);
	/* An error about B's segment goes to B: the original direction. */
	assert_ptr_equal(ct_lookup_related(ct, 0, &back, AT(10), &d), c);
	assert_int_equal(d, CT_DIR_ORIGINAL);
	assert_null(ct_lookup_related(ct, 0, &unrelated, AT(10), &d));
	/* The error is no flow of its own. */
	assert_null(ct_lookup(ct, 0, &frag_needed, AT(10), &d));
	assert_int_equal(ct_insert(ct, 0, &frag_needed, 576, NULL, AT(10), NULL), -EINVAL);
	/* Nor does it keep the flow alive or count as its packet. */
	ct_conn_get(ct, c, &info);
	assert_int_equal(info.packets[0] + info.packets[1], 1);
	assert_null(ct_lookup_related(ct, 0, &syn, AT(78), &d));

	/* ICMPv6 packet too big for a UDP flow, and an error about a ping. */
	struct ip_addr a6 = v6("2001:db8:1::10"), b6 = v6("2001:db8:2::20");
	struct ct_tuple u6 = l4(PROTO_UDP, a6, 5000, b6, 6000, 0);
	struct ct_tuple ping = icmp(a, b, 8, 0, 9);
	struct ct_conn *cu = must_insert(ct, 0, &u6, AT(100));
	struct ct_conn *cp = must_insert(ct, 0, &ping, AT(100));

	assert_ptr_equal(ct_lookup_related(ct, 0, &u6, AT(101), &d), cu);
	assert_int_equal(d, CT_DIR_REPLY);
	assert_ptr_equal(ct_lookup_related(ct, 0, &ping, AT(101), &d), cp);
	assert_int_equal(d, CT_DIR_REPLY);
	/* An error quoting an error belongs to nothing. */
	assert_null(ct_lookup_related(ct, 0, &frag_needed, AT(101), &d));
	ct_destroy(ct);
}

static void test_other_protocol_by_address_pair(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ip_addr a = v4(10, 0, 1, 10), b = v4(10, 0, 2, 20), x = v4(10, 0, 2, 21);
	struct ct_tuple gre = l4(47, a, 0, b, 0, 0);
	struct ct_tuple back = l4(47, b, 1234, a, 4321, 0); /* ports mean nothing */
	struct ct_tuple esp = l4(50, b, 0, a, 0, 0);
	struct ct_tuple third = l4(47, x, 0, a, 0, 0);
	struct ct_conn *c = must_insert(ct, 0, &gre, T0);
	enum ct_dir d;

	assert_ptr_equal(packet(ct, 0, &back, AT(599), &d), c);
	assert_int_equal(d, CT_DIR_REPLY);
	assert_null(ct_lookup(ct, 0, &esp, AT(1), &d));
	assert_null(ct_lookup(ct, 0, &third, AT(1), &d));
	/* B may answer within 600 s of the last packet. */
	assert_expires(ct, &back, AT(599), 600);
	ct_destroy(ct);
}

/* ---- limits ----------------------------------------------------------- */

static void test_allowance(void **state)
{
	struct conntrack *ct = make_ct(64, 2, 3);
	struct ct_zone_stats zs;
	struct ct_tuple t[6];
	struct ct_conn *out = (struct ct_conn *)&out;

	for (int i = 0; i < 6; i++)
		t[i] = l4(PROTO_UDP, v4(10, 0, 0, 1), (uint16_t)(1000 + i), v4(10, 0, 0, 2), 53, 0);
	for (int i = 0; i < 3; i++) {
		must_insert(ct, 0, &t[i], T0);
		ct_zone_stats(ct, 0, &zs);
		assert_int_equal(zs.conntrack_allowance_available, 2 - i);
	}
	assert_int_equal(ct_insert(ct, 0, &t[3], 1, NULL, AT(1), &out), -ENOSPC);
	assert_null(out);
	assert_int_equal(ct_insert(ct, 0, &t[4], 1, NULL, AT(1), NULL), -ENOSPC);
	ct_zone_stats(ct, 0, &zs);
	assert_int_equal(zs.conntrack_allowance_exceeded, 2);
	assert_int_equal(zs.conntrack_allowance_available, 0);
	assert_int_equal(zs.tracked, 3);
	assert_int_equal(zs.allowance, 3);
	/* An existing flow is no new connection: not refused, not counted. */
	assert_int_equal(ct_insert(ct, 0, &t[0], 1, NULL, AT(1), NULL), -EEXIST);
	ct_zone_stats(ct, 0, &zs);
	assert_int_equal(zs.conntrack_allowance_exceeded, 2);
	/* The other zone has its own allowance. */
	must_insert(ct, 1, &t[3], AT(1));
	ct_zone_stats(ct, 1, &zs);
	assert_int_equal(zs.conntrack_allowance_exceeded, 0);
	assert_int_equal(zs.conntrack_allowance_available, 2);

	/* After expiry (udp 40 s) room returns, even with no sweeper run. */
	must_insert(ct, 0, &t[3], AT(41));
	ct_zone_stats(ct, 0, &zs);
	assert_int_equal(zs.conntrack_allowance_exceeded, 2);
	assert_int_equal(zs.tracked, 3);
	/* And the sweeper gives back the rest. */
	assert_int_equal(ct_sweep(ct, AT(41), 100), 3); /* 2 of zone 0, 1 of zone 1 */
	ct_zone_stats(ct, 0, &zs);
	assert_int_equal(zs.tracked, 1);
	assert_int_equal(zs.conntrack_allowance_available, 2);

	/* Lowering the allowance below what is held keeps the entries and
	 * refuses new ones. */
	struct ct_timeouts to = test_timeouts;

	must_insert(ct, 0, &t[4], AT(41));
	assert_int_equal(ct_zone_configure(ct, 0, &to, 1), 0);
	ct_zone_stats(ct, 0, &zs);
	assert_int_equal(zs.tracked, 2);
	assert_int_equal(zs.conntrack_allowance_available, 0);
	assert_int_equal(ct_insert(ct, 0, &t[5], 1, NULL, AT(42), NULL), -ENOSPC);
	ct_zone_stats(ct, 0, &zs);
	assert_int_equal(zs.conntrack_allowance_exceeded, 3);
	ct_destroy(ct);
}

static void test_pool_exhaustion(void **state)
{
	struct conntrack *ct = make_ct(4, 2, 100);
	struct ct_tuple t[6];
	struct ct_conn *c[4];
	struct ct_zone_stats zs;
	struct ct_stats s;

	for (int i = 0; i < 6; i++)
		t[i] = l4(PROTO_UDP, v4(10, 0, 0, 1), (uint16_t)(2000 + i), v4(10, 0, 0, 2), 53, 0);
	for (int i = 0; i < 4; i++)
		c[i] = must_insert(ct, 0, &t[i], T0 + (uint64_t)i * SEC);
	assert_int_equal(ct_insert(ct, 1, &t[4], 1, NULL, AT(4), NULL), -ENOBUFS);
	ct_get_stats(ct, &s);
	assert_int_equal(s.pool_exhausted, 1);
	assert_int_equal(s.in_use, 4);
	/* Refused for the pool, not the allowance, and "available" says
	 * what an insert finds: nothing. */
	ct_zone_stats(ct, 1, &zs);
	assert_int_equal(zs.conntrack_allowance_exceeded, 0);
	assert_int_equal(zs.conntrack_pool_exhausted, 1);
	assert_int_equal(zs.conntrack_allowance_available, 0);

	ct_remove(ct, c[1]);
	must_insert(ct, 1, &t[4], AT(4));
	assert_int_equal(ct_insert(ct, 1, &t[5], 1, NULL, AT(5), NULL), -ENOBUFS);

	/* Entries of another zone that idled out make room (no sweeper run). */
	must_insert(ct, 1, &t[5], AT(41));
	ct_get_stats(ct, &s);
	assert_int_equal(s.pool_exhausted, 2);
	assert_int_equal(s.in_use, 4);
	assert_int_equal(s.expired, 1);
	ct_destroy(ct);
}

/* ---- expiry machinery ------------------------------------------------- */

static void test_sweeper_budget(void **state)
{
	struct conntrack *ct = make_ct(1024, 4, 1024);
	struct ct_stats s;
	size_t total = 0, calls = 0, n;

	/* 300 UDP flows that will expire, spread over zones, and 100 live
	 * established TCP flows that must survive. */
	for (int i = 0; i < 300; i++) {
		struct ct_tuple u = l4(PROTO_UDP, v4(10, 1, (uint8_t)(i >> 8), (uint8_t)i), 7,
				       v4(10, 2, 0, 1), 7, 0);
		must_insert(ct, (uint32_t)i % 4, &u, T0);
	}
	for (int i = 0; i < 100; i++) {
		struct ct_tuple a =
		    l4(PROTO_TCP, v4(10, 3, 0, (uint8_t)i), 7, v4(10, 2, 0, 1), 7, TCP_ACK);
		must_insert(ct, (uint32_t)i % 4, &a, T0);
	}
	assert_int_equal(ct_sweep(ct, AT(39), 1000), 0);
	while ((n = ct_sweep(ct, AT(41), 10)) > 0) {
		assert_true(n <= 10);
		total += n;
		calls++;
		ct_get_stats(ct, &s);
		assert_int_equal(s.in_use, 400 - total);
	}
	assert_int_equal(total, 300);
	assert_true(calls >= 30);
	ct_get_stats(ct, &s);
	assert_int_equal(s.in_use, 100);
	assert_int_equal(s.expired, 300);
	assert_int_equal(ct_sweep(ct, AT(41), 0), 0);
	ct_destroy(ct);

	/* Empty zones cost one unit each: with 1000 zones and the only
	 * expired entry in the last one, a budget of 1000 + 7 reaches it. */
	ct = make_ct(16, 1000, 16);
	struct ct_tuple u = l4(PROTO_UDP, v4(10, 1, 0, 1), 7, v4(10, 2, 0, 1), 7, 0);

	must_insert(ct, 999, &u, T0);
	assert_int_equal(ct_sweep(ct, AT(41), 998), 0);
	assert_int_equal(in_use(ct), 1);
	assert_int_equal(ct_sweep(ct, AT(41), 10), 1);
	assert_int_equal(in_use(ct), 0);
	/* Nothing left: one round over every zone, then it stops early. */
	assert_int_equal(ct_sweep(ct, AT(41), 1u << 30), 0);
	ct_destroy(ct);
}

static void test_timeout_change_applies_to_existing(void **state)
{
	struct conntrack *ct = make_ct(16, 2, 16);
	struct ct_tuple q = l4(PROTO_UDP, v4(10, 0, 0, 1), 40000, v4(10, 0, 0, 2), 123, 0);
	struct ct_timeouts shorter = test_timeouts, longer = test_timeouts, bad = test_timeouts;
	struct ct_conn_info info;
	enum ct_dir d;
	struct ct_conn *c;

	must_insert(ct, 0, &q, T0);
	must_insert(ct, 1, &q, T0);
	shorter.udp = 30;
	assert_int_equal(ct_zone_configure(ct, 0, &shorter, 16), 0);
	/* Zone 0 now idles out at 30 s, zone 1 keeps 40 s. */
	assert_null(ct_lookup(ct, 0, &q, AT(35), &d));
	assert_non_null(ct_lookup(ct, 1, &q, AT(35), &d));

	c = must_insert(ct, 0, &q, AT(100));
	longer.udp = 60;
	assert_int_equal(ct_zone_configure(ct, 0, &longer, 16), 0);
	ct_conn_get(ct, c, &info);
	assert_int_equal(info.expires, (T0 / SEC + 100 + 60) * SEC);
	assert_expires(ct, &q, AT(100), 60);

	bad.icmp = 0;
	assert_int_equal(ct_zone_configure(ct, 0, &bad, 16), -EINVAL);
	assert_int_equal(ct_zone_configure(ct, 2, &longer, 16), -EINVAL);
	ct_destroy(ct);
}

static void test_clock_standing_or_stepping_back(void **state)
{
	struct conntrack *ct = make_ct(16, 1, 16);
	struct ct_tuple q = l4(PROTO_UDP, v4(10, 0, 0, 1), 1, v4(10, 0, 0, 2), 2, 0);
	struct ct_tuple r = reversed(&q, 0);
	struct ct_tuple q2 = l4(PROTO_UDP, v4(10, 0, 0, 1), 3, v4(10, 0, 0, 2), 2, 0);
	enum ct_dir d;

	must_insert(ct, 0, &q, AT(10));
	/* A caller clock behind last_seen is age 0, not a huge age. */
	assert_non_null(packet(ct, 0, &r, AT(5), &d));
	must_insert(ct, 0, &q2, AT(4));
	assert_non_null(ct_lookup(ct, 0, &q, AT(49), &d));
	assert_non_null(ct_lookup(ct, 0, &q2, AT(49), &d));
	assert_int_equal(ct_sweep(ct, AT(49), 100), 0);
	assert_int_equal(ct_sweep(ct, AT(51), 100), 2);
	ct_destroy(ct);
}

/* ---- walk, flush, remove, remap --------------------------------------- */

struct walk_acc {
	size_t n;
	uint64_t bytes;
	uint32_t rule_sum;
	int stop_after;
};

static int walk_cb(const struct ct_conn_info *info, void *arg)
{
	struct walk_acc *acc = arg;

	acc->n++;
	acc->bytes += info->bytes[0] + info->bytes[1];
	acc->rule_sum += info->rule.group * 1000 + info->rule.rule;
	assert_int_equal(info->rule.generation, 9);
	if (acc->stop_after && (int)acc->n == acc->stop_after)
		return 7;
	return 0;
}

/* ---- a pool that follows the zones (issue 14) ---------------------------- */

static struct ct_tuple flood_tuple(uint32_t i, uint8_t net)
{
	return l4(PROTO_UDP, v4(10, net, (uint8_t)(i >> 8), (uint8_t)i),
		  (uint16_t)(1024 + (i >> 16)), v4(10, 9, 9, 9), 53, 0);
}

/* Inserts n flows into zone; returns how many were admitted. */
static uint32_t flood(struct conntrack *ct, uint32_t zone, uint8_t net, uint32_t n, uint64_t now)
{
	uint32_t ok = 0;

	for (uint32_t i = 0; i < n; i++) {
		struct ct_tuple t = flood_tuple(i, net);

		ok += ct_insert(ct, zone, &t, 60, NULL, now, NULL) == 0;
	}
	return ok;
}

static void test_reserve_grows_pool(void **state)
{
	struct conntrack *ct = make_ct(4, 2, 4);
	struct ct_stats s;
	enum ct_dir d;

	assert_int_equal(flood(ct, 0, 1, 4, T0), 4);
	assert_int_equal(flood(ct, 1, 2, 1, T0), 0); /* the pool is zone 0's */
	assert_int_equal(ct_pool_need(ct), 8);
	assert_int_equal(ct_reserve(ct, (uint32_t)ct_pool_need(ct)), 0);
	ct_get_stats(ct, &s);
	assert_int_equal(s.capacity, 8);
	/* Entries moved with the pool and are found through the new buckets. */
	for (uint32_t i = 0; i < 4; i++) {
		struct ct_tuple t = flood_tuple(i, 1);

		assert_non_null(ct_lookup(ct, 0, &t, T0, &d));
	}
	assert_int_equal(ct_check(ct), 0);
	assert_int_equal(flood(ct, 1, 2, 5, T0), 4);
	assert_int_equal(ct_check(ct), 0);
	/* Never shrinks; rounds to a power of two (one bucket per entry). */
	assert_int_equal(ct_reserve(ct, 2), 0);
	assert_int_equal(ct_reserve(ct, 9), 0);
	ct_get_stats(ct, &s);
	assert_int_equal(s.capacity, 16);
	assert_int_equal(ct_bytes_per_entry(ct), 104);
	assert_int_equal(ct_reserve(ct, (1u << 31) + 1), -EINVAL);
	ct_destroy(ct);
}

/* A lowered allowance leaves its zone's excess until it idles out: the
 * pool must hold it beside every other zone's full allowance. */
static void test_pool_need_counts_excess(void **state)
{
	struct conntrack *ct = make_ct(64, 2, 10);

	assert_int_equal(flood(ct, 0, 1, 10, T0), 10);
	assert_int_equal(ct_zone_configure(ct, 0, &test_timeouts, 4), 0);
	assert_int_equal(ct_pool_need(ct), 10 + 10);
	assert_int_equal(ct_zone_configure(ct, 1, &test_timeouts, 30), 0);
	assert_int_equal(ct_pool_need(ct), 10 + 30);
	ct_destroy(ct);
}

/*
 * Issue 14's attack on the tracker alone: a pool sized for 2 zones of
 * allowance A, the zones remapped to 4 (a reload adding two ENIs), then
 * zone 0 floods with more flows than A, each also tracked by its peer,
 * zone 1. With the pool reserved for the new zones, zones 2 and 3 still
 * admit every new flow up to their own allowance; zone 0's refusals are
 * counted as its allowance, none as the pool.
 */
static void test_reload_adds_zones_flood_isolated(void **state)
{
	const uint32_t A = 1000;
	struct conntrack *ct = make_ct(2 * A, 2, A);
	const int32_t keep[2] = {0, 1};
	struct ct_zone_stats zs;

	assert_int_equal(ct_zones_remap(ct, keep, 4), 0);
	assert_int_equal(ct_pool_need(ct), 4 * A);
	assert_int_equal(ct_reserve(ct, (uint32_t)ct_pool_need(ct)), 0);
	assert_int_equal(flood(ct, 0, 1, 3 * A, T0), A);
	assert_int_equal(flood(ct, 1, 1, 3 * A, T0), A);
	assert_int_equal(flood(ct, 2, 2, A, T0), A);
	assert_int_equal(flood(ct, 3, 2, A, T0), A);
	ct_zone_stats(ct, 0, &zs);
	assert_int_equal(zs.conntrack_allowance_exceeded, 2 * A);
	assert_int_equal(zs.conntrack_pool_exhausted, 0);
	ct_zone_stats(ct, 2, &zs);
	assert_int_equal(zs.tracked, A);
	assert_int_equal(zs.conntrack_allowance_exceeded, 0);
	assert_int_equal(zs.conntrack_pool_exhausted, 0);
	assert_int_equal(ct_check(ct), 0);
	ct_destroy(ct);
}

/* The same without the reservation: the starved zone's refusals are the
 * pool's, and its "available" says 0, not its untouched allowance. */
static void test_unreserved_pool_tells_the_truth(void **state)
{
	const uint32_t A = 100;
	struct conntrack *ct = make_ct(2 * A, 2, A);
	const int32_t keep[2] = {0, 1};
	struct ct_zone_stats zs;

	assert_int_equal(ct_zones_remap(ct, keep, 4), 0);
	assert_int_equal(flood(ct, 0, 1, 3 * A, T0), A);
	assert_int_equal(flood(ct, 1, 1, 3 * A, T0), A);
	ct_zone_stats(ct, 2, &zs);
	assert_int_equal(zs.conntrack_allowance_available, 0);
	assert_int_equal(flood(ct, 2, 2, 2, T0), 0);
	ct_zone_stats(ct, 2, &zs);
	assert_int_equal(zs.conntrack_pool_exhausted, 2);
	assert_int_equal(zs.conntrack_allowance_exceeded, 0);
	ct_destroy(ct);
}

static void test_walk_flush_remove(void **state)
{
	struct conntrack *ct = make_ct(64, 2, 64);
	struct ct_rule_ref ref = {.group = 2, .rule = 5, .generation = 9};
	struct walk_acc acc = {0};
	struct ct_zone_stats zs;
	struct ct_conn *c[10];
	enum ct_dir d;

	for (int i = 0; i < 10; i++) {
		struct ct_tuple t = l4(i < 5 ? PROTO_TCP : PROTO_UDP, v4(10, 0, 0, (uint8_t)i), 9,
				       v4(10, 0, 9, 9), 80, TCP_SYN);
		assert_int_equal(ct_insert(ct, 0, &t, 50, &ref, T0, &c[i]), 0);
		must_insert(ct, 1, &t, T0);
	}
	ref.rule = 6;
	ct_conn_set_rule(ct, c[0], &ref);
	assert_int_equal(ct_zone_walk(ct, 0, AT(1), walk_cb, &acc), 0);
	assert_int_equal(acc.n, 10);
	assert_int_equal(acc.bytes, 500);
	assert_int_equal(acc.rule_sum, 10 * 2005 + 1);
	/* Expired entries are not shown: UDP (40 s) gone, TCP SYN (77 s) not. */
	memset(&acc, 0, sizeof(acc));
	assert_int_equal(ct_zone_walk(ct, 0, AT(50), walk_cb, &acc), 0);
	assert_int_equal(acc.n, 5);
	memset(&acc, 0, sizeof(acc));
	acc.stop_after = 3;
	assert_int_equal(ct_zone_walk(ct, 0, AT(1), walk_cb, &acc), 7);
	assert_int_equal(acc.n, 3);

	ct_remove(ct, c[2]);
	assert_int_equal(in_use(ct), 19);
	assert_int_equal(ct_zone_flush(ct, 0), 9);
	assert_int_equal(in_use(ct), 10);
	ct_zone_stats(ct, 0, &zs);
	assert_int_equal(zs.tracked, 0);
	/* Allowance 64, but the pool of 64 holds zone 1's 10: 54 is the truth. */
	assert_int_equal(zs.conntrack_allowance_available, 54);
	struct ct_tuple t0 = l4(PROTO_TCP, v4(10, 0, 0, 0), 9, v4(10, 0, 9, 9), 80, TCP_ACK);

	assert_null(ct_lookup(ct, 0, &t0, AT(1), &d));
	assert_non_null(ct_lookup(ct, 1, &t0, AT(1), &d));
	assert_int_equal(ct_zone_walk(ct, 5, AT(1), walk_cb, &acc), -EINVAL);
	ct_destroy(ct);
}

/* A reload renumbers rules: group 2 rule 5 of generation 9 becomes rule 1
 * of generation 10; the rest is dropped to "unknown" (UINT32_MAX). */
static void retag(const struct ct_conn_info *info, struct ct_rule_ref *ref, void *arg)
{
	int *calls = arg;

	(*calls)++;
	assert_memory_equal(&info->rule, ref, sizeof(*ref));
	if (ref->group == 2 && ref->rule == 5 && ref->generation == 9)
		*ref = (struct ct_rule_ref){.group = 2, .rule = 1, .generation = 10};
	else
		*ref =
		    (struct ct_rule_ref){.group = UINT32_MAX, .rule = UINT32_MAX, .generation = 10};
}

static void test_zone_retag(void **state)
{
	struct conntrack *ct = make_ct(16, 2, 16);
	struct ct_rule_ref a = {.group = 2, .rule = 5, .generation = 9};
	struct ct_rule_ref b = {.group = 3, .rule = 0, .generation = 9};
	struct ct_tuple t1 = l4(PROTO_TCP, v4(10, 0, 0, 1), 1, v4(10, 0, 0, 2), 22, TCP_ACK);
	struct ct_tuple t2 = l4(PROTO_UDP, v4(10, 0, 0, 1), 1, v4(10, 0, 0, 2), 53, 0);
	struct ct_tuple t3 = l4(PROTO_UDP, v4(10, 0, 0, 1), 2, v4(10, 0, 0, 2), 53, 0);
	struct ct_conn *c1, *c2, *c3, *other;
	struct ct_conn_info info;
	int calls = 0;

	assert_int_equal(ct_insert(ct, 0, &t1, 1, &a, T0, &c1), 0);
	assert_int_equal(ct_insert(ct, 0, &t2, 1, &b, T0, &c2), 0);
	assert_int_equal(ct_insert(ct, 0, &t3, 1, &a, AT(100), &c3), 0);
	assert_int_equal(ct_insert(ct, 1, &t1, 1, &a, T0, &other), 0);
	/* At T0+100 s the UDP flow of T0 has idled out: not retagged. */
	assert_int_equal(ct_zone_retag(ct, 0, AT(100), retag, &calls), 0);
	assert_int_equal(calls, 2);
	ct_conn_get(ct, c1, &info);
	assert_int_equal(info.rule.rule, 1);
	assert_int_equal(info.rule.generation, 10);
	ct_conn_get(ct, c3, &info);
	assert_int_equal(info.rule.rule, 1);
	ct_conn_get(ct, other, &info); /* another zone: untouched */
	assert_int_equal(info.rule.rule, 5);
	assert_int_equal(info.rule.generation, 9);
	assert_int_equal(ct_zone_retag(ct, 2, AT(100), retag, &calls), -EINVAL);
	ct_destroy(ct);
}

static void test_zones_remap(void **state)
{
	struct conntrack *ct = make_ct(64, 3, 64);
	struct ct_timeouts z2t = test_timeouts;
	struct ct_tuple t = l4(PROTO_UDP, v4(10, 0, 0, 1), 1, v4(10, 0, 0, 2), 2, 0);
	struct ct_conn *a, *c;
	struct ct_zone_stats zs;
	enum ct_dir d;

	a = must_insert(ct, 0, &t, T0);
	must_insert(ct, 1, &t, T0);
	c = must_insert(ct, 2, &t, T0);
	z2t.udp = 55;
	ct_zone_configure(ct, 2, &z2t, 7);

	const int32_t bad[3] = {1, 1, -1};

	assert_int_equal(ct_zones_remap(ct, bad, 4), -EINVAL);
	assert_int_equal(ct_n_zones(ct), 3);
	assert_ptr_equal(ct_lookup(ct, 1, &t, T0, &d), ct_lookup(ct, 1, &t, T0, &d));

	/* ENI 0 moves to 2, ENI 1 is removed, ENI 2 moves to 0, 1 and 3 are new. */
	const int32_t map[3] = {2, -1, 0};

	assert_int_equal(ct_zones_remap(ct, map, 4), 0);
	assert_int_equal(ct_n_zones(ct), 4);
	assert_ptr_equal(ct_lookup(ct, 2, &t, T0, &d), a);
	assert_ptr_equal(ct_lookup(ct, 0, &t, T0, &d), c);
	assert_null(ct_lookup(ct, 1, &t, T0, &d));
	assert_null(ct_lookup(ct, 3, &t, T0, &d));
	assert_int_equal(in_use(ct), 2);
	ct_zone_stats(ct, 0, &zs);
	assert_int_equal(zs.allowance, 7);
	assert_int_equal(zs.tracked, 1);
	/* The zone's timeouts moved with it. */
	assert_non_null(ct_lookup(ct, 0, &t, AT(50), &d));
	assert_null(ct_lookup(ct, 2, &t, AT(50), &d));
	ct_zone_stats(ct, 3, &zs);
	assert_int_equal(zs.allowance, 64);
	must_insert(ct, 3, &t, T0);
	ct_destroy(ct);
}

static void test_bad_config(void **state)
{
	struct ct_config cfg = {.capacity = 0, .n_zones = 1, .timeouts = test_timeouts};
	struct conntrack *ct = (struct conntrack *)&cfg;

	assert_int_equal(ct_create(&cfg, &ct), -EINVAL);
	assert_null(ct);
	cfg.capacity = 8;
	cfg.n_zones = CT_ZONE_MAX + 2;
	assert_int_equal(ct_create(&cfg, &ct), -EINVAL);
	cfg.n_zones = 1;
	cfg.timeouts.udp = 0;
	assert_int_equal(ct_create(&cfg, &ct), -EINVAL);
	ct_destroy(NULL);
	assert_string_equal(ct_class_name(CT_CLASS_UDP_STREAM), "udp-stream");
	assert_string_equal(ct_tcp_state_name(CT_TCP_TIME_WAIT), "TIME_WAIT");
	assert_string_equal(ct_class_name((enum ct_class)99), "unknown");
}

/* Many entries, chains and the free list exercised: every one found both
 * ways, a third removed, the rest still found, reused slots consistent. */
static void test_many_entries(void **state)
{
	enum { N = 20000 };
	struct conntrack *ct = make_ct(N, 8, N);
	struct ct_conn **c = calloc(N, sizeof(*c));
	enum ct_dir d;

	assert_non_null(c);
	for (uint32_t i = 0; i < N; i++) {
		struct ct_tuple t =
		    l4(i % 3 ? PROTO_TCP : PROTO_UDP, v4(10, 1, (uint8_t)(i >> 8), (uint8_t)i),
		       (uint16_t)(i * 7), v4(10, 2, 0, (uint8_t)(i % 5)), 443, TCP_ACK);
		c[i] = must_insert(ct, i % 8, &t, T0);
	}
	assert_int_equal(
	    ct_insert(ct, 0,
		      &(struct ct_tuple){.src = v4(1, 1, 1, 1), .dst = v4(2, 2, 2, 2), .proto = 47},
		      1, NULL, T0, NULL),
	    -ENOBUFS);
	for (uint32_t i = 0; i < N; i += 3)
		ct_remove(ct, c[i]);
	for (uint32_t i = 0; i < N; i++) {
		struct ct_tuple t =
		    l4(i % 3 ? PROTO_TCP : PROTO_UDP, v4(10, 1, (uint8_t)(i >> 8), (uint8_t)i),
		       (uint16_t)(i * 7), v4(10, 2, 0, (uint8_t)(i % 5)), 443, TCP_ACK);
		struct ct_tuple r = reversed(&t, TCP_ACK);

		if (i % 3 == 0) {
			assert_null(ct_lookup(ct, i % 8, &t, AT(1), &d));
			c[i] = must_insert(ct, i % 8, &r, AT(1));
			assert_ptr_equal(ct_lookup(ct, i % 8, &t, AT(1), &d), c[i]);
			assert_int_equal(d, CT_DIR_REPLY);
		} else {
			assert_ptr_equal(ct_lookup(ct, i % 8, &t, AT(1), &d), c[i]);
			assert_int_equal(d, CT_DIR_ORIGINAL);
			assert_ptr_equal(ct_lookup(ct, i % 8, &r, AT(1), &d), c[i]);
			assert_null(ct_lookup(ct, (i + 1) % 8, &t, AT(1), &d));
		}
	}
	assert_int_equal(in_use(ct), N);
	assert_int_equal(ct_check(ct), 0);
	for (uint32_t z = 0; z < 8; z++)
		assert_int_equal(ct_zone_flush(ct, z), N / 8);
	assert_int_equal(in_use(ct), 0);
	free(c);
	ct_destroy(ct);
}

/* Random operations of every kind, mixed protocols and flags, the clock
 * jumping forward and now and then back: the table's own links and counts
 * (ct_check) hold after every single operation. */
static struct ct_tuple random_tuple(unsigned r)
{
	struct ct_tuple t;
	struct ip_addr a = v4(10, 0, 0, (uint8_t)(r % 3)), b = v4(10, 0, 1, (uint8_t)(r >> 2) % 3);
	static const uint8_t flags[] = {TCP_SYN,	   TCP_SYN | TCP_ACK, TCP_ACK,
					TCP_FIN | TCP_ACK, TCP_RST,	      TCP_ACK | TCP_PSH};

	if ((r >> 20) & 1) {
		a = v6((r >> 4) & 1 ? "fd00::1" : "fd00::2");
		b = v6("fd00::9");
	}
	switch ((r >> 5) % 5) {
	case 0:
		t = l4(PROTO_TCP, a, (uint16_t)(1000 + (r >> 8) % 3), b, 80, flags[(r >> 11) % 6]);
		break;
	case 1:
		t = l4(PROTO_UDP, a, (uint16_t)(1000 + (r >> 8) % 3), b, 53, 0);
		break;
	case 2:
		t = icmp(a, b,
			 a.family == IP_V4 ? ((r >> 8) & 1 ? 8 : 0) : ((r >> 8) & 1 ? 128 : 129), 0,
			 (uint16_t)((r >> 9) % 2));
		break;
	case 3:
		t = icmp(a, b, a.family == IP_V4 ? 3 : 2, 4, 0);
		break;
	default:
		t = l4((uint8_t)(47 + (r >> 8) % 2), a, 0, b, 0, 0);
		break;
	}
	if ((r >> 14) & 1)
		t = reversed(&t, t.tcp_flags);
	return t;
}

static void test_random_operations_keep_invariants(void **state)
{
	struct conntrack *ct = make_ct(48, 4, 16);
	uint64_t now = T0;
	unsigned seed = 777;
	int ops[10] = {0};

	for (int step = 0; step < 30000; step++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = seed >> 4, op = (r >> 24) % 10;
		uint32_t zone = (r >> 21) % 4;
		struct ct_tuple t = random_tuple(r);
		struct ct_timeouts to = test_timeouts;
		struct ct_conn *c;
		enum ct_dir d;

		/* Mostly the same second (class changes without a list move),
		 * sometimes a jump (expiry). */
		if ((r >> 1) % 8 == 0)
			now += (uint64_t)(1 + (r >> 4) % 4) * SEC / 2;
		if (op == 9 && (r & 1))
			now -= 2 * SEC; /* a clock that stepped back a little */
		ops[op]++;
		switch (op) {
		case 0:
		case 1:
		case 2:
			c = ct_lookup(ct, zone, &t, now, &d);
			if (c)
				ct_update(ct, c, d, &t, 64, now);
			else
				ct_insert(ct, zone, &t, 64, NULL, now, NULL);
			break;
		case 3:
			ct_lookup_related(ct, zone, &t, now, &d);
			break;
		case 4:
			c = ct_lookup(ct, zone, &t, now, &d);
			if (c)
				ct_remove(ct, c);
			break;
		case 5:
			ct_sweep(ct, now, r % 7);
			break;
		case 6:
			to.udp = 1 + r % 50;
			to.tcp_transient = 1 + (r >> 6) % 90;
			to.icmp = 1 + (r >> 3) % 30;
			ct_zone_configure(ct, zone, &to, (r >> 9) % 20);
			break;
		case 7:
			if (r % 8 == 0)
				ct_zone_flush(ct, zone);
			break;
		case 8:
			if (r % 16 == 0) {
				const int32_t map[4] = {3, 2, (r >> 5) & 1 ? -1 : 1, 0};

				assert_int_equal(ct_zones_remap(ct, map, 4), 0);
			}
			break;
		default:
			c = ct_lookup(ct, zone, &t, now, &d);
			break;
		}
		assert_int_equal(ct_check(ct), 0);
	}
	for (int i = 0; i < 10; i++)
		assert_true(ops[i] > 1000);
	ct_destroy(ct);
}

/* ---- differential test ------------------------------------------------ */

/*
 * A deliberately naive tracker: an array of (zone, tuple, last seen,
 * timeout) searched linearly, matching a packet by comparing it with the
 * stored tuple both ways round. UDP only (one timeout, no promotion kept
 * equal to the stream timeout), many zones, allowance 6 per zone, a pool
 * smaller than the sum of allowances, a random walk of the clock.
 */
#define REF_MAX 256

struct ref_entry {
	bool used;
	uint32_t zone;
	struct ct_tuple t;
	uint64_t last_s;
};

static bool tuple_eq(const struct ct_tuple *a, const struct ct_tuple *b)
{
	return !memcmp(a->src.b, b->src.b, 16) && !memcmp(a->dst.b, b->dst.b, 16) &&
	       a->sport == b->sport && a->dport == b->dport;
}

static struct ref_entry *ref_find(struct ref_entry *r, uint32_t zone, const struct ct_tuple *t,
				  uint64_t now_s, bool *reply)
{
	struct ct_tuple rev = reversed(t, 0);

	for (int i = 0; i < REF_MAX; i++) {
		if (!r[i].used || r[i].zone != zone || now_s >= r[i].last_s + 40)
			continue;
		if (tuple_eq(&r[i].t, t)) {
			*reply = false;
			return &r[i];
		}
		if (tuple_eq(&r[i].t, &rev)) {
			*reply = true;
			return &r[i];
		}
	}
	return NULL;
}

static int ref_live(struct ref_entry *r, uint32_t zone, uint64_t now_s)
{
	int n = 0;

	for (int i = 0; i < REF_MAX; i++)
		if (r[i].used && (zone == UINT32_MAX || r[i].zone == zone) &&
		    now_s < r[i].last_s + 40)
			n++;
	return n;
}

static void test_differential_random(void **state)
{
	struct conntrack *ct = make_ct(20, 5, 6);
	struct ref_entry *ref = calloc(REF_MAX, sizeof(*ref));
	uint64_t now = T0;
	unsigned seed = 12345;
	int inserts = 0, refusals = 0, hits = 0;

	/* One timeout for the reference: streams idle out like the rest. */
	struct ct_timeouts flat = test_timeouts;

	flat.udp_stream = flat.udp;
	for (uint32_t z = 0; z < 5; z++)
		assert_int_equal(ct_zone_configure(ct, z, &flat, 6), 0);
	assert_non_null(ref);
	for (int step = 0; step < 20000; step++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = seed >> 8;
		uint32_t zone = r % 5;
		uint16_t p = (uint16_t)((r >> 3) % 12);
		struct ct_tuple t =
		    l4(PROTO_UDP, v4(10, 0, 0, 1), (uint16_t)(1000 + p), v4(10, 0, 0, 2), 53, 0);
		uint64_t now_s;
		bool reply = false;
		enum ct_dir d;

		if ((r >> 7) & 1)
			t = reversed(&t, 0);
		now += ((r >> 9) % 4) * SEC / 2;
		now_s = now / SEC;
		if ((r >> 12) % 50 == 0)
			ct_sweep(ct, now, (r >> 14) % 8);

		struct ref_entry *e = ref_find(ref, zone, &t, now_s, &reply);
		struct ct_conn *c = packet(ct, zone, &t, now, &d);

		assert_int_equal(c != NULL, e != NULL);
		if (c) {
			hits++;
			assert_int_equal(d, reply ? CT_DIR_REPLY : CT_DIR_ORIGINAL);
			/* Keep the reference single-exchange: refresh only. */
			e->last_s = now_s;
			continue;
		}
		/* Admission by the (imaginary) rules: the reference has room if
		 * the zone is under 6 and the pool under 20. */
		bool room = ref_live(ref, zone, now_s) < 6 && ref_live(ref, UINT32_MAX, now_s) < 20;
		int rc = ct_insert(ct, zone, &t, 10, NULL, now, NULL);

		assert_int_equal(rc == 0, room);
		if (rc) {
			assert_true(rc == -ENOSPC || rc == -ENOBUFS);
			refusals++;
			continue;
		}
		inserts++;
		for (int i = 0; i < REF_MAX; i++) {
			if (!ref[i].used || now_s >= ref[i].last_s + 40) {
				ref[i] = (struct ref_entry){true, zone, t, now_s};
				break;
			}
		}
	}
	assert_int_equal(ct_check(ct), 0);
	print_message("differential: %d inserts, %d refusals, %d hits\n", inserts, refusals, hits);
	assert_true(inserts > 100 && refusals > 10 && hits > 1000);
	free(ref);
	ct_destroy(ct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_entry_size),
	    cmocka_unit_test(test_both_directions_one_entry),
	    cmocka_unit_test(test_ipv6_keys),
	    cmocka_unit_test(test_zones_isolated),
	    cmocka_unit_test(test_timeout_tcp_established),
	    cmocka_unit_test(test_timeout_tcp_transient),
	    cmocka_unit_test(test_timeout_tcp_closed),
	    cmocka_unit_test(test_timeout_udp),
	    cmocka_unit_test(test_timeout_icmp),
	    cmocka_unit_test(test_timeout_other),
	    cmocka_unit_test(test_activity_refreshes),
	    cmocka_unit_test(test_udp_stream_promotion),
	    cmocka_unit_test(test_tcp_handshake_and_fin),
	    cmocka_unit_test(test_tcp_rst_and_midstream),
	    cmocka_unit_test(test_icmp_echo_pairing),
	    cmocka_unit_test(test_icmp_error_related),
	    cmocka_unit_test(test_other_protocol_by_address_pair),
	    cmocka_unit_test(test_allowance),
	    cmocka_unit_test(test_pool_exhaustion),
	    cmocka_unit_test(test_sweeper_budget),
	    cmocka_unit_test(test_timeout_change_applies_to_existing),
	    cmocka_unit_test(test_clock_standing_or_stepping_back),
	    cmocka_unit_test(test_walk_flush_remove),
	    cmocka_unit_test(test_zones_remap),
	    cmocka_unit_test(test_zone_retag),
	    cmocka_unit_test(test_bad_config),
	    cmocka_unit_test(test_reserve_grows_pool),
	    cmocka_unit_test(test_pool_need_counts_excess),
	    cmocka_unit_test(test_reload_adds_zones_flood_isolated),
	    cmocka_unit_test(test_unreserved_pool_tells_the_truth),
	    cmocka_unit_test(test_many_entries),
	    cmocka_unit_test(test_random_operations_keep_invariants),
	    cmocka_unit_test(test_differential_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
