/*
 * common/control_proto: the control socket's framing and request
 * validation, which stand between any local client and the daemon — lines
 * split across reads, several in one read, CRLF, the exact size limit and
 * one byte past it, and every way a request can be wrong (docs/control.md).
 * The module is pure (jansson only), so it is compiled in here directly.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../common/control_proto.c"

/* Feeds s into b in one read; returns the bytes accepted. */
static size_t feed(struct ctl_inbuf *b, const char *s, size_t n)
{
	char *p;
	long room = ctl_inbuf_room(b, &p);

	assert_true(room >= 0);
	if ((size_t)room < n)
		n = (size_t)room;
	memcpy(p, s, n);
	ctl_inbuf_commit(b, n);
	return n;
}

static void test_lines_split_and_joined(void **state)
{
	struct ctl_inbuf b;
	char *line;
	size_t len;

	(void)state;
	ctl_inbuf_init(&b, 64);
	feed(&b, "{\"v\":1,", 7);
	assert_int_equal(ctl_inbuf_line(&b, &line, &len), 0);
	assert_int_equal(ctl_inbuf_pending(&b), 7);
	feed(&b, "\"cmd\":\"stats\"}\nsecond\r\nthi", 26);
	assert_int_equal(ctl_inbuf_line(&b, &line, &len), 1);
	assert_string_equal(line, "{\"v\":1,\"cmd\":\"stats\"}");
	assert_int_equal(len, 21);
	assert_int_equal(ctl_inbuf_line(&b, &line, &len), 1);
	assert_string_equal(line, "second"); /* CR dropped */
	assert_int_equal(ctl_inbuf_line(&b, &line, &len), 0);
	assert_int_equal(ctl_inbuf_pending(&b), 3);
	feed(&b, "rd\n", 3);
	assert_int_equal(ctl_inbuf_line(&b, &line, &len), 1);
	assert_string_equal(line, "third");
	assert_int_equal(ctl_inbuf_pending(&b), 0);
	ctl_inbuf_free(&b);
}

static void test_size_limit(void **state)
{
	struct ctl_inbuf b;
	char big[200], *line;
	size_t len;

	(void)state;
	memset(big, 'x', sizeof(big));
	/* Exactly max bytes and a newline: accepted. */
	ctl_inbuf_init(&b, 100);
	big[100] = '\n';
	assert_int_equal(feed(&b, big, 101), 101);
	assert_int_equal(ctl_inbuf_line(&b, &line, &len), 1);
	assert_int_equal(len, 100);
	assert_int_equal(strlen(line), 100);
	ctl_inbuf_free(&b);

	/* max + 1 bytes before any newline: refused, whether or not the
	 * newline ever comes. */
	ctl_inbuf_init(&b, 100);
	big[100] = 'x';
	big[101] = '\n';
	size_t took = feed(&b, big, 102);
	assert_true(took >= 101);
	assert_int_equal(ctl_inbuf_line(&b, &line, &len), -EMSGSIZE);
	ctl_inbuf_free(&b);

	/* A stream of bytes without newline never grows the buffer past
	 * its cap: the room runs out and the line is refused. */
	ctl_inbuf_init(&b, 100);
	for (int i = 0; i < 10; i++)
		feed(&b, big, 50);
	char *p;
	assert_true(ctl_inbuf_room(&b, &p) <= 1);
	assert_int_equal(ctl_inbuf_line(&b, &line, &len), -EMSGSIZE);
	ctl_inbuf_free(&b);
}

static void test_room_reclaimed(void **state)
{
	struct ctl_inbuf b;
	char *line, *p;
	size_t len;

	(void)state;
	ctl_inbuf_init(&b, 16);
	/* Many short lines through a small buffer: consumed lines free room. */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(feed(&b, "abcdefgh\n", 9), 9);
		assert_int_equal(ctl_inbuf_line(&b, &line, &len), 1);
		assert_string_equal(line, "abcdefgh");
	}
	assert_true(ctl_inbuf_room(&b, &p) >= 16);
	ctl_inbuf_free(&b);
}

static int parse(const char *s, struct ctl_request *r, char *err)
{
	return ctl_request_parse(s, strlen(s), r, err, 256);
}

static void test_valid_requests(void **state)
{
	struct ctl_request r;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"status\"}", &r, err), 0);
	assert_int_equal(r.cmd, CTL_CMD_STATUS);
	ctl_request_clear(&r);
	assert_int_equal(parse("{\"cmd\":\"stats\",\"v\":1}", &r, err), 0);
	assert_int_equal(r.cmd, CTL_CMD_STATS);
	ctl_request_clear(&r);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"flows\"}", &r, err), 0);
	assert_int_equal(r.cmd, CTL_CMD_FLOWS);
	assert_null(r.eni);
	assert_int_equal(r.limit, CTL_FLOWS_LIMIT_DEFAULT);
	ctl_request_clear(&r);
	assert_int_equal(
	    parse("{\"v\":1,\"cmd\":\"flows\",\"eni\":\"web-1\",\"limit\":5}", &r, err), 0);
	assert_string_equal(r.eni, "web-1");
	assert_int_equal(r.limit, 5);
	ctl_request_clear(&r);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"reload\"}", &r, err), 0);
	assert_int_equal(r.cmd, CTL_CMD_RELOAD);
	assert_null(r.path);
	ctl_request_clear(&r);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"reload\",\"path\":\"/etc/vpcfw/x\"}", &r, err),
			 0);
	assert_string_equal(r.path, "/etc/vpcfw/x");
	ctl_request_clear(&r);
}

static void expect_refused(const char *req, const char *why)
{
	struct ctl_request r;
	char err[256] = "";

	if (parse(req, &r, err) != -EINVAL)
		fail_msg("accepted: %s", req);
	if (!strstr(err, why))
		fail_msg("%s: error '%s' lacks '%s'", req, err, why);
	assert_null(r.eni);
	assert_null(r.path);
}

static void test_bad_requests(void **state)
{
	(void)state;
	expect_refused("", "not JSON");
	expect_refused("hello", "not JSON");
	expect_refused("{\"v\":1,\"cmd\":\"status\"", "not JSON");
	expect_refused("[1,2]", "one JSON object");
	expect_refused("\"status\"", "one JSON object");
	expect_refused("{\"cmd\":\"status\"}", "version missing");
	expect_refused("{\"v\":2,\"cmd\":\"status\"}", "version mismatch");
	expect_refused("{\"v\":\"1\",\"cmd\":\"status\"}", "speaks \"v\": 1");
	expect_refused("{\"v\":1.0,\"cmd\":\"status\"}", "version");
	expect_refused("{\"v\":1}", "\"cmd\" missing");
	expect_refused("{\"v\":1,\"cmd\":7}", "\"cmd\" missing or not a string");
	expect_refused("{\"v\":1,\"cmd\":\"shutdown\"}", "unknown command");
	expect_refused("{\"v\":1,\"cmd\":\"status\",\"eni\":\"x\"}", "unknown argument \"eni\"");
	expect_refused("{\"v\":1,\"cmd\":\"stats\",\"path\":\"/x\"}", "unknown argument");
	expect_refused("{\"v\":1,\"cmd\":\"flows\",\"eni\":5}", "must be a string");
	expect_refused("{\"v\":1,\"cmd\":\"flows\",\"eni\":\"\"}", "non-empty");
	/* jansson itself refuses NUL inside strings; we would too. */
	expect_refused("{\"v\":1,\"cmd\":\"flows\",\"eni\":\"a\\u0000b\"}", "not JSON");
	expect_refused("{\"v\":1,\"cmd\":\"flows\",\"limit\":0}", "\"limit\"");
	expect_refused("{\"v\":1,\"cmd\":\"flows\",\"limit\":\"5\"}", "\"limit\"");
	expect_refused("{\"v\":1,\"cmd\":\"flows\",\"limit\":99999999999}", "\"limit\"");
	expect_refused("{\"v\":1,\"cmd\":\"reload\",\"path\":\"lab.json\"}", "not absolute");
	expect_refused("{\"v\":1,\"cmd\":\"status\",\"v\":1}", "not JSON"); /* duplicate key */
	/* An argument error after a good one frees what was taken. */
	expect_refused("{\"v\":1,\"cmd\":\"flows\",\"eni\":\"web\",\"limit\":-1}", "\"limit\"");
}

static void test_long_path(void **state)
{
	char req[PATH_MAX + 64], err[256];
	struct ctl_request r;
	int n = snprintf(req, sizeof(req), "{\"v\":1,\"cmd\":\"reload\",\"path\":\"/");

	(void)state;
	memset(req + n, 'a', PATH_MAX);
	snprintf(req + n + PATH_MAX, sizeof(req) - (size_t)n - PATH_MAX, "\"}");
	assert_int_equal(parse(req, &r, err), -EINVAL);
	assert_non_null(strstr(err, "reasonable length"));
}

/* A client between two requests holds no input buffer; one with part of
 * a request pending keeps it, bytes and all. */
static void test_inbuf_released(void **state)
{
	struct ctl_inbuf b;
	char *line;
	size_t len;

	(void)state;
	ctl_inbuf_init(&b, 64);
	feed(&b, "{\"v\":1}\n{\"v\"", 12);
	assert_int_equal(ctl_inbuf_line(&b, &line, &len), 1);
	ctl_inbuf_release(&b);
	assert_non_null(b.buf);
	assert_int_equal(ctl_inbuf_pending(&b), 4);
	feed(&b, ":2}\n", 4);
	assert_int_equal(ctl_inbuf_line(&b, &line, &len), 1);
	assert_string_equal(line, "{\"v\":2}");
	ctl_inbuf_release(&b);
	assert_null(b.buf);
	assert_int_equal(b.max, 64);
	feed(&b, "x\n", 2); /* allocated again on demand */
	assert_int_equal(ctl_inbuf_line(&b, &line, &len), 1);
	assert_string_equal(line, "x");
	ctl_inbuf_free(&b);
}

/* The reply buffer: what goes in comes out in order, however it is
 * drained, and an emptied buffer holds no memory (a client that took its
 * reply costs nothing more). */
static void test_outbuf(void **state)
{
	struct ctl_outbuf o = {0};
	char big[5000];

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(ctl_outbuf_add(&o, "{\"v\":1", 6), 0);
	assert_int_equal(ctl_outbuf_addf(&o, ",\"n\":%d}", 42), 0);
	assert_int_equal(ctl_outbuf_pending(&o), 14);
	assert_memory_equal(o.buf + o.off, "{\"v\":1,\"n\":42}", 14);
	ctl_outbuf_consume(&o, 4);
	assert_int_equal(ctl_outbuf_pending(&o), 10);
	assert_memory_equal(o.buf + o.off, ":1,\"n\":42}", 10);
	assert_int_equal(ctl_outbuf_add(&o, big, sizeof(big)), 0); /* grows past 4 KiB */
	assert_int_equal(ctl_outbuf_pending(&o), 10 + sizeof(big));
	assert_memory_equal(o.buf + o.off, ":1,\"n\":42}x", 11);
	ctl_outbuf_consume(&o, 10 + sizeof(big));
	assert_int_equal(ctl_outbuf_pending(&o), 0);
	assert_null(o.buf);
	/* A formatted piece longer than the framing it is meant for. */
	assert_int_equal(ctl_outbuf_addf(&o, "%s", "short"), 0);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ctl_outbuf_addf(&o, "%s", big), -ENOMEM);
	assert_int_equal(ctl_outbuf_pending(&o), 5);
	ctl_outbuf_free(&o);
	assert_null(o.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inbuf_released),	   cmocka_unit_test(test_outbuf),
	    cmocka_unit_test(test_lines_split_and_joined), cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_room_reclaimed),	   cmocka_unit_test(test_valid_requests),
	    cmocka_unit_test(test_bad_requests),	   cmocka_unit_test(test_long_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
