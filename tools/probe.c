/*
 * The prober behind `vpcfw test` (probe.h). First one listener process
 * per destination namespace: it enters the namespace, binds every port
 * its flows need on the wildcard address (a flow may target a public IP
 * the data path translates), reports each socket over a pipe, and serves
 * them all, so flows to one port never wait for each other. Then one
 * forked worker per flow (at most `parallel` at once) enters the source
 * namespace and sends. Every child dies with its parent (PR_SET_PDEATHSIG).
 * A port already bound in the destination namespace is an error for those
 * flows, never a pass: we would not know who answered.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "probe.h"

#define PROBE_READY_MS 3000

int probe_supported(int proto, uint8_t icmp_type)
{
	return proto == PROTO_TCP || proto == PROTO_UDP ||
	       (proto == PROTO_ICMP && icmp_type == 8) ||
	       (proto == PROTO_ICMPV6 && icmp_type == 128);
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static void set_result(struct probe_result *r, enum probe_outcome o, long start, const char *fmt,
		       ...) __attribute__((format(printf, 4, 5)));
static void set_result(struct probe_result *r, enum probe_outcome o, long start, const char *fmt,
		       ...)
{
	va_list ap;
	r->outcome = o;
	r->ms = (int)(now_ms() - start);
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

static int enter_ns(const char *name)
{
	int fd = netns_open(name);
	if (fd < 0)
		return fd;
	int saved, r = netns_enter(fd, &saved);
	close(fd);
	if (r == 0)
		close(saved);
	return r;
}

static socklen_t sockaddr_of(const struct ip_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == IP_V4) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		memcpy(&s->sin_addr, a->b, 4);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	memcpy(&s6->sin6_addr, a->b, 16);
	return sizeof(*s6);
}

/* ---- listeners: one process per destination namespace ---- */

/* One socket a listener serves; flows share it. */
struct lsock {
	int proto;
	uint16_t port;
	uint8_t family;
	int fd;
};

/* What a listener process reports per socket, in order. */
struct lstatus {
	int ok;
	char err[200];
};

struct listener {
	char ns[NETNS_NAME_MAX];
	struct lsock *socks;
	size_t n;
	pid_t pid;
	struct lstatus *status; /* per socket, filled by listener_start */
};

static int lsock_open(const char *ns, struct lsock *l, char *err, size_t len)
{
	int fam = l->family == IP_V4 ? AF_INET : AF_INET6;
	int type = l->proto == PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	int fd = socket(fam, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, len, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	/* only TIME_WAIT leftovers of our own earlier probes; a live
	 * listener still makes bind fail */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	struct sockaddr_storage ss;
	struct ip_addr any = {.family = l->family};
	socklen_t sl = sockaddr_of(&any, l->port, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		snprintf(err, len, "cannot listen on %s port %u in %s: %s",
			 type == SOCK_STREAM ? "tcp" : "udp", l->port, ns, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Accepts and closes TCP connections, echoes UDP datagrams, until killed. */
static void listener_serve(struct lsock *socks, size_t n)
{
	struct pollfd *p = calloc(n, sizeof(*p));
	char buf[2048];
	if (!p)
		_exit(1);
	for (size_t i = 0; i < n; i++)
		p[i] = (struct pollfd){.fd = socks[i].fd, .events = POLLIN};
	for (;;) {
		if (poll(p, n, -1) < 0 && errno != EINTR)
			_exit(1);
		for (size_t i = 0; i < n; i++) {
			if (!(p[i].revents & POLLIN) || p[i].fd < 0)
				continue;
			if (socks[i].proto == PROTO_TCP) {
				int c;
				while ((c = accept(p[i].fd, NULL, NULL)) >= 0)
					close(c);
				continue;
			}
			struct sockaddr_storage peer;
			socklen_t pl = sizeof(peer);
			ssize_t r;
			while ((r = recvfrom(p[i].fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer,
					     &pl)) > 0) {
				sendto(p[i].fd, buf, (size_t)r, 0, (struct sockaddr *)&peer, pl);
				pl = sizeof(peer);
			}
		}
	}
}

static void listener_main(struct listener *l, int ready)
{
	struct lstatus st;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int r = enter_ns(l->ns);
	for (size_t i = 0; i < l->n; i++) {
		memset(&st, 0, sizeof(st));
		if (r < 0) {
			snprintf(st.err, sizeof(st.err), "cannot enter namespace %s: %s", l->ns,
				 strerror(-r));
			l->socks[i].fd = -1;
		} else {
			l->socks[i].fd = lsock_open(l->ns, &l->socks[i], st.err, sizeof(st.err));
		}
		st.ok = l->socks[i].fd >= 0;
		(void)!write(ready, &st, sizeof(st));
	}
	close(ready);
	listener_serve(l->socks, l->n);
}

/* Forks the listener and reads one status per socket. */
static void listener_start(struct listener *l)
{
	int p[2];
	l->pid = -1;
	for (size_t i = 0; i < l->n; i++)
		snprintf(l->status[i].err, sizeof(l->status[i].err), "listener not ready in time");
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	fflush(NULL);
	l->pid = fork();
	if (l->pid == 0) {
		close(p[0]);
		listener_main(l, p[1]);
		_exit(1);
	}
	close(p[1]);
	long deadline = now_ms() + PROBE_READY_MS;
	for (size_t i = 0; l->pid > 0 && i < l->n; i++) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		long left = deadline - now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) != 1 ||
		    read(p[0], &l->status[i], sizeof(l->status[i])) != sizeof(l->status[i]))
			break;
		l->status[i].err[sizeof(l->status[i].err) - 1] = '\0';
	}
	close(p[0]);
}

static void listener_stop(struct listener *l)
{
	if (l->pid > 0) {
		kill(l->pid, SIGKILL);
		waitpid(l->pid, NULL, 0);
	}
	l->pid = -1;
}

/* ---- the sender, in the source namespace ---- */

static int wait_fd(int fd, short ev, long deadline)
{
	long left = deadline - now_ms();
	struct pollfd pfd = {.fd = fd, .events = ev};
	if (left <= 0)
		return 0;
	int r = poll(&pfd, 1, (int)left);
	return r < 0 ? -errno : r;
}

/* A non-blocking socket of type connected to the spec's destination (for
 * TCP, connecting); *err connect's error, 0 when it succeeded or is under
 * way. -1 with the error in r when there is no socket. */
static int sender_socket(const struct probe_spec *s, int type, int *err, struct probe_result *r,
			 long start)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(&s->dst, s->port, &ss);
	int fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_result(r, PROBE_ERROR, start, "socket: %s", strerror(errno));
		return -1;
	}
	*err = connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS ? errno : 0;
	return fd;
}

/* How a TCP connect under way ends by deadline: 0, or its errno
 * (ETIMEDOUT when nothing answered). */
static int connect_outcome(int fd, long deadline)
{
	int err = 0;
	socklen_t el = sizeof(err);
	if (wait_fd(fd, POLLOUT, deadline) <= 0)
		return ETIMEDOUT;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	return err;
}

static void send_tcp(const struct probe_spec *s, struct probe_result *r, long start)
{
	int err;
	int fd = sender_socket(s, SOCK_STREAM, &err, r, start);
	if (fd < 0)
		return;
	if (!err)
		err = connect_outcome(fd, start + s->timeout_ms);
	close(fd);
	if (!err)
		set_result(r, PROBE_ACCEPT, start, "connected");
	else if (err == ETIMEDOUT || err == EHOSTUNREACH || err == ENETUNREACH)
		set_result(r, PROBE_REJECT, start, "no answer within %d ms", s->timeout_ms);
	else
		set_result(r, PROBE_ERROR, start, "connect: %s", strerror(err));
}

static void send_udp(const struct probe_spec *s, struct probe_result *r, long start)
{
	int err;
	int fd = sender_socket(s, SOCK_DGRAM, &err, r, start);
	if (fd < 0)
		return;
	char msg[64], buf[128];
	int len = snprintf(msg, sizeof(msg), "vpcfw-probe %d %ld", (int)getpid(), start);
	long deadline = start + s->timeout_ms;
	if (err || send(fd, msg, (size_t)len, 0) < 0) {
		set_result(r, PROBE_ERROR, start, "send: %s", strerror(err ? err : errno));
		close(fd);
		return;
	}
	for (;;) {
		int w = wait_fd(fd, POLLIN, deadline);
		if (w <= 0) {
			set_result(r, PROBE_REJECT, start, "no echo within %d ms", s->timeout_ms);
			break;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n == len && !memcmp(buf, msg, (size_t)len)) {
			set_result(r, PROBE_ACCEPT, start, "echoed");
			break;
		}
		if (n < 0 && errno == ECONNREFUSED) {
			set_result(r, PROBE_ERROR, start, "port unreachable: no listener answered");
			break;
		}
	}
	close(fd);
}

static uint16_t inet_csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Whether buf (an ICMP message; for IPv4 with its IP header) is our echo
 * reply from dst. */
static bool is_our_reply(const struct probe_spec *s, const uint8_t *buf, ssize_t n,
			 const struct sockaddr_storage *from, uint16_t id)
{
	if (s->dst.family == IP_V4) {
		const struct sockaddr_in *f4 = (const struct sockaddr_in *)from;
		if (n < 20 || memcmp(&f4->sin_addr, s->dst.b, 4))
			return false;
		size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
		if ((size_t)n < ihl + 8)
			return false;
		buf += ihl;
		return buf[0] == ICMP_ECHOREPLY && (buf[4] << 8 | buf[5]) == id;
	}
	const struct sockaddr_in6 *f6 = (const struct sockaddr_in6 *)from;
	return n >= 8 && !memcmp(&f6->sin6_addr, s->dst.b, 16) && buf[0] == ICMP6_ECHO_REPLY &&
	       (buf[4] << 8 | buf[5]) == id;
}

static void send_icmp(const struct probe_spec *s, struct probe_result *r, long start)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(&s->dst, 0, &ss);
	bool v4 = s->dst.family == IP_V4;
	int fd = socket(ss.ss_family, SOCK_RAW | SOCK_CLOEXEC, v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (fd < 0)
		return set_result(r, PROBE_ERROR, start, "raw ICMP socket: %s", strerror(errno));
	uint16_t id = (uint16_t)getpid();
	uint8_t pkt[16] = {v4 ? ICMP_ECHO : ICMP6_ECHO_REQUEST,
			   0,
			   0,
			   0,
			   (uint8_t)(id >> 8),
			   (uint8_t)id,
			   0,
			   1,
			   'v',
			   'p',
			   'c',
			   'f',
			   'w'};
	if (v4) {
		uint16_t c = inet_csum(pkt, sizeof(pkt));
		memcpy(pkt + 2, &c, 2);
	} /* ICMPv6: the kernel fills the checksum of raw ICMPv6 sockets */
	long deadline = start + s->timeout_ms;
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, sl) < 0) {
		set_result(r, PROBE_ERROR, start, "send: %s", strerror(errno));
		close(fd);
		return;
	}
	for (;;) {
		uint8_t buf[1500];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		if (wait_fd(fd, POLLIN, deadline) <= 0) {
			set_result(r, PROBE_REJECT, start, "no echo reply within %d ms",
				   s->timeout_ms);
			break;
		}
		ssize_t n =
		    recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n > 0 && is_our_reply(s, buf, n, &from, id)) {
			set_result(r, PROBE_ACCEPT, start, "echo reply");
			break;
		}
	}
	close(fd);
}

static void worker_main(const struct probe_spec *s, int out)
{
	struct probe_result r = {.outcome = PROBE_ERROR};
	long start = now_ms();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int e = enter_ns(s->src_ns);
	if (e < 0)
		set_result(&r, PROBE_ERROR, start, "cannot enter namespace %s: %s", s->src_ns,
			   strerror(-e));
	else if (s->proto == PROTO_TCP)
		send_tcp(s, &r, start);
	else if (s->proto == PROTO_UDP)
		send_udp(s, &r, start);
	else
		send_icmp(s, &r, start);
	(void)!write(out, &r, sizeof(r));
	_exit(0);
}

/* ---- scheduling ---- */

struct running {
	pid_t pid;
	int fd;
	size_t idx;
};

static int worker_start(const struct probe_spec *s, size_t idx, struct running *slot,
			struct probe_result *res)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		worker_main(s, p[1]);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		set_result(&res[idx], PROBE_ERROR, now_ms(), "fork: %s", strerror(errno));
		return -errno;
	}
	*slot = (struct running){.pid = pid, .fd = p[0], .idx = idx};
	return 0;
}

static void worker_finish(struct running *w, struct probe_result *res, const char *stopped)
{
	struct probe_result r;
	ssize_t n = read(w->fd, &r, sizeof(r));
	close(w->fd);
	if (n != (ssize_t)sizeof(r))
		set_result(&r, PROBE_ERROR, now_ms(), "probe worker died");
	if (stopped)
		set_result(&r, PROBE_ERROR, now_ms(), "%s", stopped);
	r.detail[sizeof(r.detail) - 1] = '\0';
	res[w->idx] = r;
}

static bool needs_listener(const struct probe_spec *s)
{
	return s->proto == PROTO_TCP || s->proto == PROTO_UDP;
}

/* The listener of s's namespace (created when new) and s's socket in it. */
static int listener_add(struct listener **ls, size_t *nl, const struct probe_spec *s, size_t *li,
			size_t *si)
{
	size_t i;
	for (i = 0; i < *nl && strcmp((*ls)[i].ns, s->dst_ns); i++)
		;
	if (i == *nl) {
		struct listener *v = realloc(*ls, (*nl + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		*ls = v;
		memset(&v[i], 0, sizeof(v[i]));
		snprintf(v[i].ns, sizeof(v[i].ns), "%s", s->dst_ns);
		(*nl)++;
	}
	struct listener *l = &(*ls)[i];
	size_t k;
	for (k = 0; k < l->n; k++)
		if (l->socks[k].proto == s->proto && l->socks[k].port == s->port &&
		    l->socks[k].family == s->dst.family)
			break;
	if (k == l->n) {
		struct lsock *v = realloc(l->socks, (l->n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->socks = v;
		v[k] = (struct lsock){
		    .proto = s->proto, .port = s->port, .family = s->dst.family, .fd = -1};
		l->n++;
	}
	*li = i;
	*si = k;
	return 0;
}

static void listeners_free(struct listener *ls, size_t nl)
{
	for (size_t i = 0; i < nl; i++) {
		listener_stop(&ls[i]);
		free(ls[i].socks);
		free(ls[i].status);
	}
	free(ls);
}

/* Starts every listener; a flow whose socket could not be set up gets its
 * error now and is marked done. Returns the listeners. */
static struct listener *listeners_setup(const struct probe_spec *specs, size_t n,
					struct probe_result *res, bool *done, size_t *nl)
{
	struct listener *ls = NULL;
	size_t *li = calloc(n ? n : 1, sizeof(*li)), *si = calloc(n ? n : 1, sizeof(*si));
	*nl = 0;
	for (size_t i = 0; li && si && i < n; i++)
		if (needs_listener(&specs[i]) && listener_add(&ls, nl, &specs[i], &li[i], &si[i]))
			break;
	for (size_t i = 0; i < *nl; i++) {
		ls[i].status = calloc(ls[i].n, sizeof(*ls[i].status));
		if (ls[i].status)
			listener_start(&ls[i]);
	}
	for (size_t i = 0; li && si && i < n; i++) {
		if (!needs_listener(&specs[i]))
			continue;
		const struct lstatus *st =
		    ls && li[i] < *nl && ls[li[i]].status ? &ls[li[i]].status[si[i]] : NULL;
		if (st && st->ok)
			continue;
		set_result(&res[i], PROBE_ERROR, now_ms(), "%s",
			   st ? st->err : "cannot set up the listener");
		done[i] = true;
	}
	free(li);
	free(si);
	return ls;
}

int probe_run_all(const struct probe_spec *specs, struct probe_result *res, size_t n,
		  unsigned parallel, const char *(*stop)(void *arg), void *arg)
{
	struct running *run = calloc(parallel ? parallel : 1, sizeof(*run));
	bool *started = calloc(n ? n : 1, sizeof(*started));
	size_t nrun = 0, done = 0, next = 0, nl = 0;
	const char *stopped = NULL;
	if (!run || !started) {
		free(run);
		free(started);
		return -ENOMEM;
	}
	struct listener *ls = listeners_setup(specs, n, res, started, &nl);
	for (size_t i = 0; i < n; i++)
		done += started[i];
	while (done < n) {
		while (!stopped && nrun < parallel && next < n) {
			if (started[next]) {
				next++;
				continue;
			}
			started[next] = true;
			if (worker_start(&specs[next], next, &run[nrun], res) == 0)
				nrun++;
			else
				done++;
			next++;
		}
		if (stopped && !nrun) {
			for (size_t k = 0; k < n; k++)
				if (!started[k]) {
					started[k] = true;
					set_result(&res[k], PROBE_ERROR, now_ms(), "%s", stopped);
					done++;
				}
			break;
		}
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		for (size_t k = 0; k < nrun; k++) {
			if (run[k].pid != pid)
				continue;
			if (stop && !stopped)
				stopped = stop(arg);
			worker_finish(&run[k], res, stopped);
			run[k] = run[--nrun];
			done++;
			break;
		}
	}
	listeners_free(ls, nl);
	free(run);
	free(started);
	return 0;
}
