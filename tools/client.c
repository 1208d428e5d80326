/*
 * Connecting to vpcfwd's control socket and exchanging one request line
 * for one reply line (client.h). The framing is the daemon's own
 * (common/control_proto.h): a reply is one JSON object terminated by a
 * newline; anything else is an error here, never a crash. Not for printing
 * (tools/cmd_online.c).
 */
#include <errno.h>
#include <glob.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "control_proto.h"
#include "labnames.h"

/* Replies can be large (flows of a busy lab) but not unbounded. */
#define CLIENT_MAX_REPLY (256u * 1024 * 1024)

struct client {
	int fd;
	struct ctl_inbuf in;
};

int client_find_socket(const char *lab, char *buf, size_t len, char *err, size_t errlen)
{
	glob_t g;
	int r;

	if (!lab || !*lab)
		lab = getenv("VPCFW_LAB");
	if (lab && *lab) {
		if (strchr(lab, '/') || control_socket_path(lab, buf, len) < 0) {
			snprintf(err, errlen, "'%s' is not a lab name", lab);
			return -EINVAL;
		}
		return 0;
	}
	r = glob(TOPOLOGY_RUN_DIR "/*/" CONTROL_SOCKET_NAME, 0, NULL, &g);
	if (r == GLOB_NOMATCH || (r == 0 && g.gl_pathc == 0)) {
		if (r == 0)
			globfree(&g);
		snprintf(err, errlen,
			 "no vpcfwd is running (no " TOPOLOGY_RUN_DIR "/*/" CONTROL_SOCKET_NAME
			 "); start one with: sudo vpcfwd --lab PATH");
		return -ENOENT;
	}
	if (r != 0) {
		snprintf(err, errlen, "cannot list " TOPOLOGY_RUN_DIR ": out of memory or error");
		return -EIO;
	}
	if (g.gl_pathc > 1) {
		size_t off = (size_t)snprintf(err, errlen, "several labs are running (");
		for (size_t i = 0; i < g.gl_pathc && off < errlen; i++) {
			const char *p = g.gl_pathv[i] + strlen(TOPOLOGY_RUN_DIR "/");
			const char *slash = strchr(p, '/');
			off += (size_t)snprintf(err + off, errlen - off, "%s%.*s", i ? ", " : "",
						(int)(slash ? slash - p : (long)strlen(p)), p);
		}
		if (off < errlen)
			snprintf(err + off, errlen - off, "): pick one with --lab LAB");
		globfree(&g);
		return -EEXIST;
	}
	r = snprintf(buf, len, "%s", g.gl_pathv[0]) >= (int)len ? -ENAMETOOLONG : 0;
	if (r < 0)
		snprintf(err, errlen, "socket path too long: %s", g.gl_pathv[0]);
	globfree(&g);
	return r;
}

int client_connect(const char *path, struct client **out, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct client *c;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ctl_inbuf_init(&c->in, CLIENT_MAX_REPLY);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (e == ENOENT || e == ECONNREFUSED)
			snprintf(err, errlen, "%s: no vpcfwd is serving this lab (%s)", path,
				 strerror(e));
		else if (e == EACCES)
			snprintf(err, errlen,
				 "%s: permission denied (root, or the daemon's --control-group)",
				 path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		client_close(c);
		return -e;
	}
	*out = c;
	return 0;
}

void client_close(struct client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	ctl_inbuf_free(&c->in);
	free(c);
}

static int client_send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static long long ms_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int wait_readable(int fd, long long deadline, int timeout_ms, char *err, size_t errlen)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int wait = deadline < 0 ? -1 : (int)(deadline - ms_now());

		if (deadline >= 0 && wait <= 0) {
			snprintf(err, errlen, "no reply from vpcfwd within %d ms", timeout_ms);
			return -ETIMEDOUT;
		}
		if (poll(&pfd, 1, wait) > 0)
			return 0;
		/* EINTR, or the deadline passed: the check above decides. */
	}
}

/* The next reply line (NUL-terminated in place, newline dropped) into
 * *line: its length, or a negative code with a message in err. */
static long client_read_line(struct client *c, int timeout_ms, char **line, char *err,
			     size_t errlen)
{
	long long deadline = timeout_ms < 0 ? -1 : ms_now() + timeout_ms;
	size_t len;
	int r;

	while ((r = ctl_inbuf_line(&c->in, line, &len)) == 0) {
		char *p;
		long room = ctl_inbuf_room(&c->in, &p);

		if (room < 0) {
			snprintf(err, errlen, "out of memory");
			return room;
		}
		r = wait_readable(c->fd, deadline, timeout_ms, err, errlen);
		if (r < 0)
			return r;
		ssize_t n = recv(c->fd, p, (size_t)room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "vpcfwd closed the connection%s%s",
				 n < 0 ? ": " : " without a reply", n < 0 ? strerror(errno) : "");
			return n < 0 ? -errno : -ECONNRESET;
		}
		ctl_inbuf_commit(&c->in, (size_t)n);
	}
	if (r < 0) {
		snprintf(err, errlen, "reply larger than %u bytes", CLIENT_MAX_REPLY);
		return r;
	}
	return (long)len;
}

int client_call(struct client *c, json_t *req, int timeout_ms, json_t **reply, char *err,
		size_t errlen)
{
	char *s = ctl_encode_request(req), *line;
	int r;

	*reply = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = client_send_all(c->fd, s, strlen(s));
	free(s);
	/* A daemon that refuses us (credentials, too many clients) says why
	 * and closes, perhaps before our request got there: read its reply
	 * before reporting the failed send. */
	long n = client_read_line(c, timeout_ms, &line, err, errlen);
	if (n < 0 && r < 0)
		snprintf(err, errlen, "cannot send to vpcfwd: %s", strerror(-r));
	if (n < 0)
		return r < 0 ? r : (int)n;
	return ctl_reply_parse(line, (size_t)n, reply, err, errlen);
}
