/*
 * Framing and request validation of the control protocol (control_proto.h).
 * Everything a client sends passes through here before the daemon looks at
 * it, so the rules are strict: one JSON object per line, "v" exactly the
 * version spoken, a known "cmd", only the arguments that command takes,
 * each of the right type. Pure: no I/O, no daemon state.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_proto.h"

void ctl_inbuf_init(struct ctl_inbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void ctl_inbuf_free(struct ctl_inbuf *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* At most room for max bytes of line, its newline and the NUL put in its
 * place. */
static size_t ctl_inbuf_cap_max(const struct ctl_inbuf *b)
{
	return b->max + 2;
}

/* Doubles the buffer (from 4 KiB) up to its largest size. */
static int ctl_inbuf_grow(struct ctl_inbuf *b)
{
	size_t cap = b->cap ? b->cap * 2 : 4096;
	char *p;

	if (cap > ctl_inbuf_cap_max(b) || cap < b->cap)
		cap = ctl_inbuf_cap_max(b);
	p = realloc(b->buf, cap);
	if (!p)
		return -ENOMEM;
	b->buf = p;
	b->cap = cap;
	return 0;
}

long ctl_inbuf_room(struct ctl_inbuf *b, char **p)
{
	if (b->used) {
		memmove(b->buf, b->buf + b->used, b->len - b->used);
		b->len -= b->used;
		b->used = 0;
	}
	/* Keep one byte for the terminating NUL of a full-length line. */
	if (b->len + 1 >= b->cap && b->cap < ctl_inbuf_cap_max(b) && ctl_inbuf_grow(b) < 0)
		return -ENOMEM;
	*p = b->buf + b->len;
	return (long)(b->cap - 1 - b->len);
}

void ctl_inbuf_commit(struct ctl_inbuf *b, size_t n)
{
	b->len += n;
}

int ctl_inbuf_line(struct ctl_inbuf *b, char **line, size_t *len)
{
	char *start = b->buf + b->used;
	size_t avail = b->len - b->used;
	char *nl = avail ? memchr(start, '\n', avail) : NULL;

	if (!nl)
		return avail > b->max ? -EMSGSIZE : 0;
	if ((size_t)(nl - start) > b->max)
		return -EMSGSIZE;
	*nl = '\0';
	*line = start;
	*len = (size_t)(nl - start);
	/* Tolerate CRLF from socat/netcat users. */
	if (*len && start[*len - 1] == '\r')
		start[--*len] = '\0';
	b->used += (size_t)(nl - start) + 1;
	return 1;
}

size_t ctl_inbuf_pending(const struct ctl_inbuf *b)
{
	return b->len - b->used;
}

void ctl_inbuf_release(struct ctl_inbuf *b)
{
	if (b->len != b->used)
		return;
	free(b->buf);
	b->buf = NULL;
	b->len = b->used = b->cap = 0;
}

/* ------------------------------------------------------------- replies */

int ctl_outbuf_add(struct ctl_outbuf *b, const char *s, size_t n)
{
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		char *p = realloc(b->buf, cap);
		if (!p)
			return -ENOMEM;
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	return 0;
}

int ctl_outbuf_addf(struct ctl_outbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(small))
		return -ENOMEM; /* only short framing goes through here */
	return ctl_outbuf_add(b, small, (size_t)n);
}

size_t ctl_outbuf_pending(const struct ctl_outbuf *b)
{
	return b->len - b->off;
}

void ctl_outbuf_consume(struct ctl_outbuf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		ctl_outbuf_free(b);
}

void ctl_outbuf_free(struct ctl_outbuf *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------ requests */

static const char *const ctl_cmd_names[] = {"status", "flows", "stats", "reload"};

const char *ctl_cmd_name(enum ctl_cmd c)
{
	return (unsigned)c < sizeof(ctl_cmd_names) / sizeof(ctl_cmd_names[0]) ? ctl_cmd_names[c]
									      : "unknown";
}

void ctl_request_clear(struct ctl_request *r)
{
	free(r->eni);
	free(r->path);
	memset(r, 0, sizeof(*r));
}

static int ctl_bad(char *err, size_t errlen, const char *what, const char *arg)
{
	snprintf(err, errlen, "\"%s\" %s", arg, what);
	return -EINVAL;
}

static int ctl_string_arg(json_t *v, const char *key, size_t max, char **out, char *err,
			  size_t errlen)
{
	if (!json_is_string(v))
		return ctl_bad(err, errlen, "must be a string", key);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0 || n > max || strlen(s) != n)
		return ctl_bad(err, errlen,
			       "must be a non-empty string without NUL, of reasonable "
			       "length",
			       key);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int ctl_parse_args(json_t *o, struct ctl_request *r, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	int rc;

	json_object_foreach(o, key, v)
	{
		if (!strcmp(key, "v") || !strcmp(key, "cmd"))
			continue;
		if (r->cmd == CTL_CMD_FLOWS && !strcmp(key, "eni")) {
			rc = ctl_string_arg(v, key, 255, &r->eni, err, errlen);
		} else if (r->cmd == CTL_CMD_FLOWS && !strcmp(key, "limit")) {
			json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
			if (n < 1 || n > CTL_FLOWS_LIMIT_MAX) {
				snprintf(err, errlen, "\"limit\" must be an integer from 1 to %u",
					 CTL_FLOWS_LIMIT_MAX);
				return -EINVAL;
			}
			r->limit = (uint32_t)n;
			rc = 0;
		} else if (r->cmd == CTL_CMD_RELOAD && !strcmp(key, "path")) {
			rc = ctl_string_arg(v, key, PATH_MAX - 1, &r->path, err, errlen);
			if (rc == 0 && r->path[0] != '/')
				rc = ctl_bad(err, errlen,
					     "is not absolute (the daemon does not share your "
					     "working directory)",
					     r->path);
		} else {
			snprintf(err, errlen, "unknown argument \"%.64s\" for \"%s\"", key,
				 ctl_cmd_name(r->cmd));
			return -EINVAL;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ctl_request_parse(const char *line, size_t len, struct ctl_request *out, char *err,
		      size_t errlen)
{
	json_error_t je;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	int rc = -EINVAL;

	memset(out, 0, sizeof(*out));
	out->limit = CTL_FLOWS_LIMIT_DEFAULT;
	if (!o) {
		snprintf(err, errlen, "not JSON: %s (column %d)", je.text, je.column);
		return -EINVAL;
	}
	if (!json_is_object(o)) {
		snprintf(err, errlen, "a request is one JSON object per line");
		goto out;
	}
	json_t *v = json_object_get(o, "v");
	if (!json_is_integer(v) || json_integer_value(v) != CONTROL_PROTOCOL_VERSION) {
		snprintf(err, errlen,
			 "protocol version %s not supported: this vpcfwd speaks \"v\": %d",
			 !v ? "missing" : "mismatch", CONTROL_PROTOCOL_VERSION);
		goto out;
	}
	json_t *c = json_object_get(o, "cmd");
	if (!json_is_string(c)) {
		snprintf(err, errlen, "\"cmd\" missing or not a string");
		goto out;
	}
	size_t i, n = sizeof(ctl_cmd_names) / sizeof(ctl_cmd_names[0]);
	for (i = 0; i < n; i++)
		if (!strcmp(json_string_value(c), ctl_cmd_names[i]))
			break;
	if (i == n) {
		snprintf(err, errlen, "unknown command \"%.64s\" (status, flows, stats, reload)",
			 json_string_value(c));
		goto out;
	}
	out->cmd = (enum ctl_cmd)i;
	rc = ctl_parse_args(o, out, err, errlen);
out:
	json_decref(o);
	if (rc < 0)
		ctl_request_clear(out);
	return rc;
}

/* ------------------------------------------------------------ messages */

static char *ctl_encode(json_t *msg)
{
	char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	size_t n = s ? strlen(s) : 0;
	char *line = s ? realloc(s, n + 2) : NULL;

	json_decref(msg);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

char *ctl_encode_request(json_t *msg)
{
	if (msg && json_object_set_new(msg, "v", json_integer(CONTROL_PROTOCOL_VERSION)) < 0) {
		json_decref(msg);
		return NULL;
	}
	return ctl_encode(msg);
}

char *ctl_encode_reply(json_t *msg)
{
	return ctl_encode(msg);
}

json_t *ctl_reply_ok(void)
{
	return json_pack("{s:i, s:b}", "v", CONTROL_PROTOCOL_VERSION, "ok", 1);
}

json_t *ctl_reply_error(const char *msg)
{
	return json_pack("{s:i, s:b, s:s}", "v", CONTROL_PROTOCOL_VERSION, "ok", 0, "error", msg);
}

int ctl_reply_parse(const char *line, size_t len, json_t **reply, char *err, size_t errlen)
{
	json_error_t je;

	memset(&je, 0, sizeof(je));
	*reply = json_loadb(line, len, 0, &je);
	if (!*reply || !json_is_object(*reply) || !json_is_boolean(json_object_get(*reply, "ok"))) {
		json_decref(*reply);
		*reply = NULL;
		snprintf(err, errlen, "vpcfwd sent something that is not a reply: %s",
			 je.text[0] ? je.text : "no \"ok\"");
		return -EPROTO;
	}
	return 0;
}
