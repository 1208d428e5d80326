/*
 * libFuzzer harness for the control protocol (common/control_proto): any
 * bytes, as a local client would write them to the control socket, split
 * into reads of sizes the input chooses. Framing must never hand out a line
 * longer than the limit or read outside its buffer, every complete line
 * must parse into a valid request or an error with a message (never a
 * crash, a leak or undefined behaviour), and the reply buffer must give
 * back exactly what was put in it, however it is drained. Built with
 * -DVPCFW_FUZZ=ON (tests/fuzz/CMakeLists.txt) and run by .ci/fuzz from the
 * seeds in tests/fuzz/corpus/fuzz_control/; by hand:
 *
 *   CC=clang cmake -S . -B build-fuzz -DVPCFW_FUZZ=ON && cmake --build build-fuzz --target fuzz
 *   mkdir -p /tmp/new && build-fuzz/tests/fuzz/fuzz_control -max_total_time=180 \
 *       /tmp/new tests/fuzz/corpus/fuzz_control
 *
 * Seeds worth giving: requests from docs/control.md, one per file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control_proto.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define FUZZ_MAX_LINE 512 /* small, so that the limit is often hit */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const char *line, size_t len, struct ctl_outbuf *out)
{
	struct ctl_request req;
	char err[512] = "";
	int r = ctl_request_parse(line, len, &req, err, sizeof(err));

	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0) {
		CHECK(r == -ENOMEM || err[0]);
		CHECK(!req.eni && !req.path);
		return;
	}
	CHECK(req.cmd <= CTL_CMD_RELOAD);
	CHECK(req.limit >= 1 && req.limit <= CTL_FLOWS_LIMIT_MAX);
	CHECK(!req.eni || (req.cmd == CTL_CMD_FLOWS && req.eni[0]));
	CHECK(!req.path || (req.cmd == CTL_CMD_RELOAD && req.path[0] == '/'));
	/* A reply goes out; out of memory leaves the buffer as it was. */
	const char *name = ctl_cmd_name(req.cmd);
	(void)ctl_outbuf_add(out, name, strlen(name));
	ctl_request_clear(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_inbuf in;
	struct ctl_outbuf out = {0};
	size_t pos = 0, chunk = size ? (size_t)data[0] % 61 + 1 : 1, queued = 0;

	ctl_inbuf_init(&in, FUZZ_MAX_LINE);
	while (pos < size) {
		char *p, *line;
		size_t len;
		long room = ctl_inbuf_room(&in, &p);
		int lr;

		CHECK(room >= 0);
		size_t n = size - pos < chunk ? size - pos : chunk;
		if ((size_t)room < n)
			n = (size_t)room;
		memcpy(p, data + pos, n);
		ctl_inbuf_commit(&in, n);
		pos += n;
		while ((lr = ctl_inbuf_line(&in, &line, &len)) > 0) {
			CHECK(len <= FUZZ_MAX_LINE && line[len] == '\0');
			size_t before = ctl_outbuf_pending(&out);
			check_request(line, len, &out);
			queued += ctl_outbuf_pending(&out) - before;
			/* Drain part of the replies, as a slow client would. */
			size_t take = ctl_outbuf_pending(&out) / 2;
			ctl_outbuf_consume(&out, take);
			queued -= take;
			CHECK(ctl_outbuf_pending(&out) == queued);
		}
		size_t pending = ctl_inbuf_pending(&in);
		ctl_inbuf_release(&in); /* a no-op unless nothing is pending */
		CHECK(ctl_inbuf_pending(&in) == pending && (pending || !in.buf));
		if (lr == -EMSGSIZE) {
			CHECK(ctl_inbuf_pending(&in) > FUZZ_MAX_LINE);
			break; /* the daemon answers and closes */
		}
		CHECK(lr == 0 && ctl_inbuf_pending(&in) <= FUZZ_MAX_LINE);
		if (n == 0)
			break; /* full: only -EMSGSIZE gets here */
	}
	ctl_outbuf_consume(&out, ctl_outbuf_pending(&out));
	CHECK(out.buf == NULL);
	ctl_outbuf_free(&out);
	ctl_inbuf_free(&in);
	return 0;
}
