/*
 * vpcfwd's event loop: epoll over the router's capture ring, a signalfd (the
 * signals are blocked, so no handler runs in the middle of the packet
 * path), a one-second timerfd for the datapath's periodic work, an eventfd
 * for loop_stop() and the daemon's own fds. It sleeps in epoll_wait when
 * nothing is ready; a ready ring gets one bounded batch per wake-up, so
 * traffic cannot starve the timer, signals or the control socket.
 * Not for packet handling or policy: it only calls daemon/datapath.
 */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "datapath.h"

#define LOOP_MAX_EVENTS 64

/* epoll user data: the kind of fd in the high bits, an index below. */
enum loop_tag { TAG_CAPTURE = 1, TAG_SIGNAL, TAG_TIMER, TAG_STOP, TAG_USER };
#define LOOP_DATA(tag, i) (((uint64_t)(tag) << 32) | (uint32_t)(i))

struct loop_user {
	int fd;
	loop_fd_cb cb;
	void *arg;
	bool used;
};

struct loop {
	struct datapath *dp;
	int epfd, sigfd, timerfd, stopfd;
	sigset_t oldmask;
	bool masked; /* oldmask must be restored */
	struct loop_user *users;
	size_t n_users;
	void (*tick)(void *arg);
	void *tick_arg;
	/* The capture fds registered, to unregister them after a reload
	 * that changed the captures; the epoch makes a batch skip capture
	 * events collected before such a change (their indices are stale). */
	int *cap_fds;
	size_t n_cap_fds;
	uint64_t cap_epoch;
};

static int loop_watch(struct loop *l, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

/* Always negative: callers rely on it to know l is gone. */
static int loop_fail(struct loop *l, int code, char *err, size_t errlen, const char *what)
{
	if (code >= 0)
		code = -EIO;
	snprintf(err, errlen, "event loop: %s: %s", what, strerror(-code));
	loop_destroy(l);
	return code;
}

static int loop_setup_fds(struct loop *l, char *err, size_t errlen)
{
	struct itimerspec one_second = {.it_interval = {1, 0}, .it_value = {1, 0}};
	sigset_t set;
	int rc;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	rc = pthread_sigmask(SIG_BLOCK, &set, &l->oldmask);
	if (rc)
		return loop_fail(l, -rc, err, errlen, "pthread_sigmask");
	l->masked = true;
	l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0)
		return loop_fail(l, -errno, err, errlen, "signalfd");
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->timerfd < 0)
		return loop_fail(l, -errno, err, errlen, "timerfd_create");
	if (timerfd_settime(l->timerfd, 0, &one_second, NULL) < 0)
		return loop_fail(l, -errno, err, errlen, "timerfd_settime");
	l->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->stopfd < 0)
		return loop_fail(l, -errno, err, errlen, "eventfd");
	if ((rc = loop_watch(l, l->sigfd, EPOLLIN, LOOP_DATA(TAG_SIGNAL, 0))) < 0 ||
	    (rc = loop_watch(l, l->timerfd, EPOLLIN, LOOP_DATA(TAG_TIMER, 0))) < 0 ||
	    (rc = loop_watch(l, l->stopfd, EPOLLIN, LOOP_DATA(TAG_STOP, 0))) < 0)
		return loop_fail(l, rc, err, errlen, "epoll_ctl");
	return 0;
}

static int loop_watch_captures(struct loop *l)
{
	size_t n = l->dp ? datapath_n_captures(l->dp) : 0;
	int *fds = realloc(l->cap_fds, (n ? n : 1) * sizeof(*fds));

	if (!fds)
		return -ENOMEM;
	l->cap_fds = fds;
	for (size_t i = 0; i < n; i++) {
		int fd = datapath_capture_fd(l->dp, i);
		int rc = loop_watch(l, fd, EPOLLIN, LOOP_DATA(TAG_CAPTURE, i));

		if (rc < 0)
			return rc;
		fds[l->n_cap_fds++] = fd;
	}
	return 0;
}

int loop_create(struct datapath *dp, struct loop **out, char *err, size_t errlen)
{
	struct loop *l;
	int rc;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "event loop: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	l->dp = dp;
	l->sigfd = l->timerfd = l->stopfd = -1;
	sigemptyset(&l->oldmask);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return loop_fail(l, -errno, err, errlen, "epoll_create1");
	rc = loop_setup_fds(l, err, errlen);
	if (rc < 0)
		return rc; /* l already destroyed */
	rc = loop_watch_captures(l);
	if (rc < 0)
		return loop_fail(l, rc, err, errlen, "epoll_ctl on a capture");
	*out = l;
	return 0;
}

int loop_ports_changed(struct loop *l)
{
	/* A closed capture left epoll by itself; a kept one is re-added
	 * under its new index. */
	for (size_t i = 0; i < l->n_cap_fds; i++)
		if (l->cap_fds[i] >= 0)
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->cap_fds[i], NULL);
	l->n_cap_fds = 0;
	l->cap_epoch++;
	return loop_watch_captures(l);
}

void loop_destroy(struct loop *l)
{
	if (!l)
		return;
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->masked)
		pthread_sigmask(SIG_SETMASK, &l->oldmask, NULL);
	if (l->timerfd >= 0)
		close(l->timerfd);
	if (l->stopfd >= 0)
		close(l->stopfd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l->users);
	free(l->cap_fds);
	free(l);
}

void loop_stop(struct loop *l)
{
	uint64_t one = 1;
	ssize_t r = write(l->stopfd, &one, sizeof(one));

	(void)r; /* a full counter already means "stop" */
}

/* Returns LOOP_EXIT, LOOP_RELOAD or -1 when only harmless signals came. */
static int loop_read_signals(struct loop *l)
{
	struct signalfd_siginfo si;
	int result = -1;

	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
			result = LOOP_EXIT;
		else if (si.ssi_signo == SIGHUP && result != LOOP_EXIT)
			result = LOOP_RELOAD;
	}
	return result;
}

static void loop_on_timer(struct loop *l)
{
	uint64_t expirations;

	if (read(l->timerfd, &expirations, sizeof(expirations)) < 0)
		return;
	if (l->dp)
		datapath_tick(l->dp, time(NULL));
	if (l->tick)
		l->tick(l->tick_arg);
}

static void loop_on_user(struct loop *l, uint32_t i, uint32_t events)
{
	if (i < l->n_users && l->users[i].used)
		l->users[i].cb(l->users[i].arg, l->users[i].fd, events);
}

/* One wake-up's events; returns a loop_result to stop with, or -1. */
static int loop_handle(struct loop *l, const struct epoll_event *evs, int n)
{
	int result = -1;
	uint64_t epoch = l->cap_epoch;

	for (int i = 0; i < n; i++) {
		uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);
		uint32_t idx = (uint32_t)evs[i].data.u64;

		switch (tag) {
		case TAG_CAPTURE:
			/* A reload (control socket) earlier in this batch
			 * renumbered the captures: the next wait reports anew. */
			if (epoch != l->cap_epoch)
				break;
			/* A capture that is no more: stop watching it rather
			 * than spin. */
			if (datapath_capture_ready(l->dp, idx) < 0)
				epoll_ctl(l->epfd, EPOLL_CTL_DEL,
					  datapath_capture_fd(l->dp, idx), NULL);
			break;
		case TAG_TIMER:
			loop_on_timer(l);
			break;
		case TAG_SIGNAL: {
			int r = loop_read_signals(l);

			if (r == LOOP_EXIT || (r == LOOP_RELOAD && result != LOOP_EXIT))
				result = r;
			break;
		}
		case TAG_STOP:
			result = LOOP_EXIT;
			break;
		case TAG_USER:
			loop_on_user(l, idx, evs[i].events);
			break;
		}
	}
	return result;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	uint64_t drained;

	/* A stop requested before we ran is honoured once, then cleared so
	 * that a later loop_run (after a reload) runs again. */
	for (;;) {
		int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, -1);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		r = loop_handle(l, evs, n);
		if (r >= 0) {
			if (r == LOOP_EXIT && read(l->stopfd, &drained, sizeof(drained)) < 0)
				drained = 0; /* nothing pending: a signal stopped us */
			return r;
		}
	}
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	size_t i;
	int rc;

	for (i = 0; i < l->n_users && l->users[i].used; i++)
		;
	if (i == l->n_users) {
		struct loop_user *u = realloc(l->users, (l->n_users + 1) * sizeof(*u));

		if (!u)
			return -ENOMEM;
		l->users = u;
		l->n_users++;
	}
	rc = loop_watch(l, fd, events, LOOP_DATA(TAG_USER, i));
	if (rc < 0)
		return rc;
	l->users[i] = (struct loop_user){.fd = fd, .cb = cb, .arg = arg, .used = true};
	return 0;
}

int loop_del_fd(struct loop *l, int fd)
{
	for (size_t i = 0; i < l->n_users; i++) {
		if (l->users[i].used && l->users[i].fd == fd) {
			l->users[i].used = false;
			if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
				return -errno;
			return 0;
		}
	}
	return -ENOENT;
}

void loop_set_tick(struct loop *l, void (*cb)(void *arg), void *arg)
{
	l->tick = cb;
	l->tick_arg = arg;
}
