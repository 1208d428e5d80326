/*
 * vpcfwd's control socket server (control.h, docs/control.md): accepts
 * clients on a UNIX stream socket, checks each peer's credentials, reads
 * newline-delimited JSON requests into a bounded buffer, answers status,
 * flows, stats and reload from the data path's read-only views, and writes
 * replies without ever blocking the loop (edge-triggered, partial writes
 * resumed on EPOLLOUT). A client only ever costs its own connection:
 * garbage gets an error reply, an over-long line an error and a close, a
 * hang-up mid-request a close, silence the idle timeout.
 *
 * Not for: the protocol's framing and validation (common/control_proto.c),
 * what the answers say (control_views.c, control_flows.c), loading labs
 * (the daemon's reload callback), policy or packets.
 */
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conntrack.h"
#include "control-private.h"
#include "datapath.h"
#include "log.h"
#include "loop.h"
#include "model.h"
#include "sg.h"
#include "topology.h"

struct control_client {
	struct control *ctl;
	struct control_client *next;
	int fd;
	unsigned id;
	bool root; /* uid 0: may use the slots kept for root */
	struct ctl_inbuf in;
	struct ctl_outbuf out;	     /* the reply, or its piece, being written */
	struct flows_stream *stream; /* a flows reply not yet all in out */
	bool closing;		     /* close once out is written */
	bool waiting;		     /* for the daemon's answer to a reload */
	bool resume;		     /* stopped after its budget: the timer goes on */
	/* The timers (docs/control.md, Limits): a request must be complete
	 * request_timeout after its first byte, a reply taken idle_timeout
	 * after it began, and a connection with neither sees its idle
	 * timeout run from the last reply taken. Bytes trickling in reset
	 * nothing. */
	struct timespec last;	     /* accepted, or the last reply taken */
	struct timespec req_start;   /* the first byte of the pending request */
	struct timespec reply_start; /* the reply being written began */
};

void control_opts_init(struct control_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_clients = CONTROL_MAX_CLIENTS;
	o->idle_timeout = CONTROL_IDLE_TIMEOUT;
	o->max_request = CONTROL_MAX_REQUEST;
	o->root_clients = CONTROL_ROOT_CLIENTS;
	o->request_timeout = CONTROL_REQUEST_TIMEOUT;
}

/* ------------------------------------------------------------- clients */

static void client_free(struct control_client *cl)
{
	struct control *c = cl->ctl;

	for (struct control_client **pp = &c->clients; *pp; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	loop_del_fd(c->loop, cl->fd);
	close(cl->fd);
	ctl_inbuf_free(&cl->in);
	ctl_outbuf_free(&cl->out);
	flows_stream_free(cl->stream);
	free(cl);
	c->n_clients--;
}

static bool client_replying(const struct control_client *cl)
{
	return ctl_outbuf_pending(&cl->out) > 0 || cl->stream;
}

/* Writes what it can; 0 when all is out, 1 when EPOLLOUT must resume it,
 * -1 when the client is gone. */
static int client_flush(struct control_client *cl)
{
	while (ctl_outbuf_pending(&cl->out)) {
		ssize_t n = send(cl->fd, cl->out.buf + cl->out.off, ctl_outbuf_pending(&cl->out),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -1;
		}
		ctl_outbuf_consume(&cl->out, (size_t)n);
	}
	return 0;
}

/* Takes ownership of the reply object. */
static void client_queue(struct control_client *cl, json_t *reply)
{
	char *s = ctl_encode_reply(reply);

	/* Out of memory: the client learns nothing but loses nothing else
	 * either. */
	if (!s || ctl_outbuf_add(&cl->out, s, strlen(s)) < 0)
		cl->closing = true;
	free(s);
	cl->reply_start = ctl_mono_now();
}

/* Best effort for a client refused at the door: one reply, never waiting. */
static void refuse(int fd, const char *msg)
{
	char *s = ctl_encode_reply(ctl_reply_error(msg));

	if (s)
		(void)!send(fd, s, strlen(s), MSG_NOSIGNAL | MSG_DONTWAIT);
	free(s);
	close(fd);
}

/* Who asked for a reload, by id: the client may be gone by the answer.
 * The control keeps every ticket out, for control_close. */
struct reload_ticket {
	struct control *c;
	unsigned client;
	struct reload_ticket *next;
};

static void ticket_drop(struct reload_ticket *t)
{
	for (struct reload_ticket **pp = &t->c->tickets; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	free(t);
}

static void client_work(struct control_client *cl);

static void reload_done(void *ctx, int rc, const struct diag_list *diags, const char *err)
{
	struct reload_ticket *t = ctx;
	struct control *c = t->c;
	unsigned id = t->client;

	ticket_drop(t);
	for (struct control_client *cl = c->clients; cl; cl = cl->next)
		if (cl->id == id) {
			cl->waiting = false;
			client_queue(cl, ctl_reload_reply(c, rc, diags, err));
			client_work(cl);
			return;
		}
}

/* The reply comes when the daemon calls back; until then the client's
 * next request stays unread. */
static json_t *answer_reload(struct control_client *cl, const struct ctl_request *req)
{
	struct control *c = cl->ctl;
	struct reload_ticket *t;

	if (!c->opts.reload)
		return ctl_reply_error("this vpcfwd does not reload through the control socket");
	t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	*t = (struct reload_ticket){.c = c, .client = cl->id, .next = c->tickets};
	c->tickets = t;
	if (c->opts.reload(c->opts.reload_arg, req->path, cl->root, reload_done, t) < 0) {
		ticket_drop(t);
		return ctl_reply_error("reload failed, the running rules stay: too many reloads "
				       "waiting: try again later");
	}
	cl->waiting = true;
	return NULL;
}

/* Answers one request: a reply queued, or a flows reply begun. */
static void client_answer(struct control_client *cl, const char *line, size_t len)
{
	struct control *c = cl->ctl;
	struct ctl_request req;
	char err[512];
	json_t *r = NULL;

	if (ctl_request_parse(line, len, &req, err, sizeof(err)) < 0) {
		client_queue(cl, ctl_reply_error(err));
		return;
	}
	switch (req.cmd) {
	case CTL_CMD_STATUS:
		r = ctl_status_reply(c);
		break;
	case CTL_CMD_FLOWS:
		if (flows_stream_start(c, &req, &cl->stream, &r) == 0 && cl->stream)
			cl->reply_start = ctl_mono_now();
		break;
	case CTL_CMD_STATS:
		r = ctl_stats_reply(c);
		break;
	case CTL_CMD_RELOAD:
		r = answer_reload(cl, &req);
		break;
	default:
		r = ctl_reply_error("unknown command");
	}
	if (!cl->stream && !cl->waiting)
		client_queue(cl, r ? r : ctl_reply_error("out of memory"));
	ctl_request_clear(&req);
}

/* ------------------------------------------------------------- I/O */

/*
 * Reads everything available and answers complete lines one at a time:
 * a new request is only read once the previous reply is out, so one client
 * can never make the daemon hold more than one reply (or one piece of a
 * long one) for it.
 */
#define CONTROL_REQUESTS_PER_WAKEUP 32
/* Bytes of a long reply produced per client and turn of the loop: a piece
 * takes a millisecond or two to build, so the packet path waits no longer
 * than that for any one client, and a client that does not read holds
 * this much memory at most. */
#define CONTROL_REPLY_PIECE (128 * 1024)
/* Pieces built between two ticks of the control's timer (1 ms apart while
 * any reply waits), for all clients together: however many ask at once,
 * the packet path waits for a few pieces at most. */
#define CONTROL_PIECES_PER_TICK 4

/* The timer fires at once (1 ms), then every second again as before:
 * capture fds ready meanwhile are served first by the same epoll_wait. */
static void control_kick(struct control *c)
{
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {0, 1000000}};

	timerfd_settime(c->timer_fd, 0, &its, NULL);
}

/* The rest after one turn of the loop, so that neither pipelined requests
 * nor a long reply starve the packet path. */
static void client_yield(struct control_client *cl)
{
	cl->resume = true;
	control_kick(cl->ctl);
}

/* Builds the next piece of a long reply: false when the client must go. */
static bool client_fill(struct control_client *cl)
{
	int r = flows_stream_fill(cl->stream, &cl->out, CONTROL_REPLY_PIECE);

	if (r > 0)
		return true;
	flows_stream_free(cl->stream);
	cl->stream = NULL;
	/* Out of memory halfway through a reply: the client sees it end
	 * without its newline and loses its connection, nothing else. */
	return r == 0;
}

/* Reads what the client sent: 1 when something came, 0 when nothing did
 * (EPOLLIN resumes us), -1 when the client is gone. */
static int client_read(struct control_client *cl)
{
	char *p;
	long room = ctl_inbuf_room(&cl->in, &p);

	if (room <= 0)
		return -1; /* full without a line is -EMSGSIZE earlier: ENOMEM */
	for (;;) {
		size_t before = ctl_inbuf_pending(&cl->in);
		ssize_t n = recv(cl->fd, p, (size_t)room, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		/* Hang-up (perhaps mid-request) or error: nothing to answer,
		 * nobody to answer to. */
		if (n <= 0)
			return -1;
		ctl_inbuf_commit(&cl->in, (size_t)n);
		if (!before)
			cl->req_start = ctl_mono_now();
		return 1;
	}
}

static void client_work(struct control_client *cl)
{
	unsigned answered = 0, pieces = 0;

	cl->resume = false;
	for (;;) {
		bool replying = client_replying(cl);
		int fr = client_flush(cl);

		if (fr < 0) {
			client_free(cl);
			return;
		}
		if (fr > 0)
			return; /* EPOLLOUT resumes us */
		if (cl->stream) {
			if (pieces++ || !cl->ctl->pieces_left) {
				client_yield(cl);
				return;
			}
			cl->ctl->pieces_left--;
			cl->ctl->last_served = cl->id;
			if (!client_fill(cl))
				cl->closing = true;
			continue;
		}
		if (cl->closing) {
			client_free(cl);
			return;
		}
		if (cl->waiting)
			return; /* reload_done resumes us */
		if (replying)
			cl->last = ctl_mono_now();
		if (answered == CONTROL_REQUESTS_PER_WAKEUP) {
			client_yield(cl); /* taking no line out of the buffer */
			return;
		}

		char *line;
		size_t len;
		int lr = ctl_inbuf_line(&cl->in, &line, &len);
		if (lr > 0) {
			answered++;
			client_answer(cl, line, len);
			/* The next request, if it is already here, is timed
			 * from now: it could not be read before. */
			cl->req_start = ctl_mono_now();
			continue;
		}
		if (lr == -EMSGSIZE) {
			char msg[128];
			snprintf(msg, sizeof(msg),
				 "request longer than %zu bytes without a newline: closing",
				 cl->in.max);
			client_queue(cl, ctl_reply_error(msg));
			cl->closing = true;
			continue;
		}
		int rr = client_read(cl);
		if (rr < 0)
			client_free(cl);
		else if (rr == 0)
			ctl_inbuf_release(&cl->in);
		if (rr <= 0)
			return;
	}
}

static void on_client(void *arg, int fd, uint32_t events)
{
	(void)fd;
	(void)events; /* hints only: reads and writes say what really happened */
	client_work(arg);
}

/*
 * The peer process's own groups (primary from SO_PEERCRED, supplementary
 * from /proc), not its user's entry in the group database: what the
 * process really holds is what file permissions would have checked.
 */
static bool peer_in_group(gid_t gid, const struct ucred *cred)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	if (cred->gid == gid)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)cred->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7))
			continue;
		char *p = line + 7, *end;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);
			if (end == p)
				break;
			if ((gid_t)g == gid)
				found = true;
			p = end;
		}
		break;
	}
	fclose(f);
	return found;
}

static const char *peer_refusal(struct control *c, int fd, bool *root)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	*root = false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return "cannot read the peer's credentials";
	if (cred.uid == 0) {
		*root = true;
		return NULL;
	}
	if (c->has_group && peer_in_group(c->gid, &cred))
		return NULL;
	return c->has_group ? "permission denied: root or the control group only"
			    : "permission denied: root only";
}

static void on_listen(void *arg, int fd, uint32_t events)
{
	struct control *c = arg;

	(void)events;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("control socket: accept: %s", strerror(errno));
			return;
		}
		bool root;
		const char *why = peer_refusal(c, cfd, &root);
		if (why) {
			log_info("control socket: refused a client: %s", why);
			refuse(cfd, why);
			continue;
		}
		/* The last slots are root's alone: however many connections
		 * the control group holds, root can still look and reload. */
		if (c->n_clients >= c->opts.max_clients + (root ? c->opts.root_clients : 0)) {
			refuse(cfd, "too many clients: try again later");
			continue;
		}
		struct control_client *cl = calloc(1, sizeof(*cl));
		if (!cl) {
			refuse(cfd, "out of memory");
			continue;
		}
		cl->ctl = c;
		cl->fd = cfd;
		cl->root = root;
		cl->last = ctl_mono_now();
		cl->id = ++c->next_id;
		ctl_inbuf_init(&cl->in, c->opts.max_request);
		if (loop_add_fd(c->loop, cfd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, on_client,
				cl) < 0) {
			free(cl);
			refuse(cfd, "cannot watch the connection");
			continue;
		}
		cl->next = c->clients;
		c->clients = cl;
		c->n_clients++;
		/* Edge-triggered: whatever arrived before the add is ours to read. */
		client_work(cl);
	}
}

static double since(const struct timespec *now, const struct timespec *t)
{
	return ctl_ts_sec(now) - ctl_ts_sec(t);
}

/* Whether cl outlived its timers (see struct control_client); a request
 * not complete in time is told so before the close. */
static bool client_expired(struct control_client *cl, const struct timespec *now)
{
	const struct control_opts *o = &cl->ctl->opts;

	if (cl->waiting)
		return false; /* the reloader has a deadline of its own */
	if (client_replying(cl))
		return since(now, &cl->reply_start) >= (double)o->idle_timeout;
	if (ctl_inbuf_pending(&cl->in)) {
		if (since(now, &cl->req_start) < (double)o->request_timeout)
			return false;
		char msg[128];
		snprintf(msg, sizeof(msg), "no complete request within %u s: closing",
			 o->request_timeout);
		client_queue(cl, ctl_reply_error(msg));
		cl->closing = true;
		client_work(cl); /* best effort: it may free cl */
		return false;
	}
	return since(now, &cl->last) >= (double)o->idle_timeout;
}

/* Resumes, or times out, the clients after the one served last, then the
 * others: with more clients than pieces per tick, each gets its turn. The
 * list runs from the newest client (highest id) down, so "after" is lower. */
static void serve_round(struct control *c, const struct timespec *now, unsigned last,
			bool after_last)
{
	for (struct control_client *cl = c->clients, *next; cl; cl = next) {
		next = cl->next;
		if ((cl->id < last) != after_last)
			continue;
		if (cl->resume)
			client_work(cl);
		else if (client_expired(cl, now))
			client_free(cl);
	}
}

static void on_timer(void *arg, int fd, uint32_t events)
{
	struct control *c = arg;
	uint64_t ticks;
	struct timespec now = ctl_mono_now();

	(void)events;
	while (read(fd, &ticks, sizeof(ticks)) == (ssize_t)sizeof(ticks))
		;
	unsigned last = c->last_served;

	c->pieces_left = CONTROL_PIECES_PER_TICK;
	serve_round(c, &now, last, true);
	serve_round(c, &now, last, false);
}

/* ------------------------------------------------------------ set-up */

static int control_fail(struct control *c, int code, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s: %s", c->path, what, strerror(-code));
	control_close(c);
	return code;
}

static int control_bind(struct control *c, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int r;

	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return control_fail(c, -errno, err, errlen, "socket");
	/* A socket file left by a dead daemon of this lab: the topology's
	 * state lock already proved no live daemon runs it. */
	if (unlink(c->path) < 0 && errno != ENOENT)
		return control_fail(c, -errno, err, errlen, "cannot remove stale");
	/* Created 0600 (no window in which others could connect). */
	old = umask(0177);
	r = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return control_fail(c, -errno, err, errlen, "cannot bind");
	if (c->has_group && (chown(c->path, 0, c->gid) < 0 || chmod(c->path, 0660) < 0))
		return control_fail(c, -errno, err, errlen, "cannot give to its group");
	if (listen(c->fd, 64) < 0)
		return control_fail(c, -errno, err, errlen, "listen");
	return 0;
}

static int control_resolve_group(struct control *c, const char *name, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[8192];
	char *end;
	unsigned long n = strtoul(name, &end, 10);

	if (*name && !*end) {
		c->gid = (gid_t)n;
	} else if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res) {
		c->gid = gr.gr_gid;
	} else {
		snprintf(err, errlen, "--control-group: no group named '%s'", name);
		return -ENOENT;
	}
	c->has_group = true;
	return 0;
}

int control_open(struct loop *l, struct datapath *dp, const struct topology *topo, const char *lab,
		 const struct control_opts *o, struct control **out, char *err, size_t errlen)
{
	struct control *c = calloc(1, sizeof(*c));
	int r;

	*out = NULL;
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->fd = c->timer_fd = -1;
	c->pieces_left = CONTROL_PIECES_PER_TICK;
	c->loop = l;
	c->dp = dp;
	c->topo = topo;
	c->opts = *o;
	if (!c->opts.max_clients)
		c->opts.max_clients = CONTROL_MAX_CLIENTS;
	if (!c->opts.idle_timeout)
		c->opts.idle_timeout = CONTROL_IDLE_TIMEOUT;
	if (!c->opts.max_request)
		c->opts.max_request = CONTROL_MAX_REQUEST;
	if (!c->opts.request_timeout)
		c->opts.request_timeout = CONTROL_REQUEST_TIMEOUT;
	snprintf(c->lab, sizeof(c->lab), "%s", lab);
	c->started = ctl_mono_now();
	c->started_wall = time(NULL);
	if (o->socket_path)
		r = snprintf(c->path, sizeof(c->path), "%s", o->socket_path) >= (int)sizeof(c->path)
			? -ENAMETOOLONG
			: 0;
	else
		r = control_socket_path(lab, c->path, sizeof(c->path));
	if (r < 0) {
		snprintf(err, errlen, "control socket path too long for lab %s", lab);
		free(c);
		return r;
	}
	if (o->group && (r = control_resolve_group(c, o->group, err, errlen)) < 0) {
		free(c);
		return r;
	}
	r = control_bind(c, err, errlen);
	if (r < 0)
		return r;
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->timer_fd < 0)
		return control_fail(c, -errno, err, errlen, "timerfd");
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
	if (timerfd_settime(c->timer_fd, 0, &its, NULL) < 0)
		return control_fail(c, -errno, err, errlen, "timerfd");
	if ((r = loop_add_fd(l, c->timer_fd, EPOLLIN, on_timer, c)) < 0) {
		close(c->timer_fd);
		c->timer_fd = -1;
		return control_fail(c, r, err, errlen, "watching the timer");
	}
	if ((r = loop_add_fd(l, c->fd, EPOLLIN, on_listen, c)) < 0) {
		int fd = c->fd;
		c->fd = -1;
		close(fd);
		return control_fail(c, r, err, errlen, "watching the socket");
	}
	*out = c;
	return 0;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
	while (c->tickets)
		ticket_drop(c->tickets);
	if (c->fd >= 0) {
		loop_del_fd(c->loop, c->fd);
		close(c->fd);
		unlink(c->path);
	}
	if (c->timer_fd >= 0) {
		loop_del_fd(c->loop, c->timer_fd);
		close(c->timer_fd);
	}
	free(c);
}
