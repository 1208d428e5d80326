/*
 * The control protocol's pure part (docs/control.md), for both ends:
 * framing of newline-delimited JSON in a bounded buffer (requests in the
 * daemon, replies in the CLI), encoding one message as a line, parsing and
 * validating one request object, and the reply envelope. No sockets, no
 * daemon state: daemon/control.c serves, tools/client.c asks,
 * tests/unit/test_control.c proves the limits.
 *
 * Usage:
 *	struct ctl_inbuf b;
 *	ctl_inbuf_init(&b, CONTROL_MAX_REQUEST);
 *	room = ctl_inbuf_room(&b, &p);  read(fd, p, room)  ctl_inbuf_commit(&b, n);
 *	while ((r = ctl_inbuf_line(&b, &line, &len)) > 0) {
 *		ctl_request_parse(line, len, &req, err, sizeof(err));
 *		...
 *		ctl_request_clear(&req);
 *	}
 *	r == -EMSGSIZE: a line longer than the limit (answer and close)
 *	ctl_inbuf_free(&b);
 *
 *	struct ctl_outbuf o = {0};
 *	ctl_outbuf_add(&o, s, n);  send(fd, o.buf + o.off, ctl_outbuf_pending(&o))
 *	ctl_outbuf_consume(&o, sent);
 */
#ifndef VPCFW_CONTROL_PROTO_H
#define VPCFW_CONTROL_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROL_PROTOCOL_VERSION 1
#define CONTROL_MAX_REQUEST (64 * 1024) /* bytes of one request line */

/* Lines in, up to max bytes each: the buffer grows as a line needs it, so
 * a short request costs little whatever the limit. */
struct ctl_inbuf {
	char *buf;
	size_t len;  /* bytes held */
	size_t used; /* bytes of lines already handed out */
	size_t cap;  /* bytes allocated */
	size_t max;  /* longest line, newline excluded */
};

void ctl_inbuf_init(struct ctl_inbuf *b, size_t max);
void ctl_inbuf_free(struct ctl_inbuf *b);
/* Where the next read goes and how much may be read (> 0), after dropping
 * the lines already handed out and growing the buffer when it is full;
 * 0 when it holds max bytes and more. -ENOMEM. */
long ctl_inbuf_room(struct ctl_inbuf *b, char **p);
void ctl_inbuf_commit(struct ctl_inbuf *b, size_t n);
/* The next complete line (without its newline, NUL-terminated in place):
 * 1 with line and len set, 0 when none is complete yet, -EMSGSIZE when the
 * pending line is already longer than max. */
int ctl_inbuf_line(struct ctl_inbuf *b, char **line, size_t *len);
/* Bytes of an incomplete line pending. */
size_t ctl_inbuf_pending(const struct ctl_inbuf *b);
/* Gives the memory back when nothing is pending (a client between two
 * requests costs none); the next ctl_inbuf_room allocates it again. */
void ctl_inbuf_release(struct ctl_inbuf *b);

/*
 * A reply on its way out: appended to at the end, written from the front.
 * Whoever fills it keeps it small (daemon/control.c writes large replies
 * in pieces, each appended only once the last is out).
 */
struct ctl_outbuf {
	char *buf;
	size_t len; /* bytes held */
	size_t off; /* bytes already written */
	size_t cap;
};

/* 0 or -ENOMEM (then b is unchanged). */
int ctl_outbuf_add(struct ctl_outbuf *b, const char *s, size_t n);
int ctl_outbuf_addf(struct ctl_outbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Bytes still to write, from b->buf + b->off. */
size_t ctl_outbuf_pending(const struct ctl_outbuf *b);
/* n bytes were written; all of them: the memory goes back at once, so an
 * idle client holds none. */
void ctl_outbuf_consume(struct ctl_outbuf *b, size_t n);
void ctl_outbuf_free(struct ctl_outbuf *b);

enum ctl_cmd { CTL_CMD_STATUS, CTL_CMD_FLOWS, CTL_CMD_STATS, CTL_CMD_RELOAD };

#define CTL_FLOWS_LIMIT_DEFAULT 10000u
#define CTL_FLOWS_LIMIT_MAX 1000000u

struct ctl_request {
	enum ctl_cmd cmd;
	char *eni;	/* flows: an ENI name (contract 3) or namespace; NULL: all */
	uint32_t limit; /* flows: entries at most */
	char *path;	/* reload: an absolute lab path; NULL: the source in use */
};

/* 0, or -EINVAL with the reason in err (not JSON, not an object, wrong or
 * missing "v", unknown "cmd", a bad or unknown argument). */
int ctl_request_parse(const char *line, size_t len, struct ctl_request *out, char *err,
		      size_t errlen);
void ctl_request_clear(struct ctl_request *r);
const char *ctl_cmd_name(enum ctl_cmd c);

/* A message as one line: msg compact, then a newline; msg is taken (its
 * reference dropped) and a request gets its "v". NULL when out of memory
 * (msg NULL included). The caller frees. */
char *ctl_encode_request(json_t *msg);
char *ctl_encode_reply(json_t *msg);

/* Reply envelopes: {"v", "ok": true} to add to, and {"v", "ok": false,
 * "error": msg}. NULL when out of memory. */
json_t *ctl_reply_ok(void);
json_t *ctl_reply_error(const char *msg);
/* One reply line into *reply: 0, or -EPROTO with the reason in err when it
 * is not a JSON object with a boolean "ok". */
int ctl_reply_parse(const char *line, size_t len, json_t **reply, char *err, size_t errlen);

#endif
