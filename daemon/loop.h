/*
 * vpcfwd's event loop: one epoll over the router's capture ring (when the
 * data path has no worker threads of its own: datapath_n_captures), a
 * signalfd for SIGINT/SIGTERM/SIGHUP, a timerfd ticking once a second
 * (conntrack sweeping, flow-log flushes), an eventfd to stop it from
 * another thread, and any fd the daemon adds (the control socket). Sleeps
 * when idle: no busy polling (the workers do that, daemon/datapath_workers.c).
 * Not for policy or packet handling (daemon/datapath).
 *
 * Usage:
 *	struct loop *l;
 *	if (loop_create(dp, &l, err, sizeof(err)) < 0) ...   (blocks the signals)
 *	for (;;) {
 *		int r = loop_run(l);
 *		if (r == LOOP_RELOAD) { reload; continue; }
 *		break;            (LOOP_EXIT, or < 0 on error)
 *	}
 *	loop_destroy(l);
 */
#ifndef VPCFW_LOOP_H
#define VPCFW_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct datapath;
struct loop;

enum loop_result {
	LOOP_EXIT = 0,	 /* SIGINT, SIGTERM or loop_stop */
	LOOP_RELOAD = 1, /* SIGHUP: reload, then call loop_run again */
};

/* Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (create the loop
 * before starting other threads so that they inherit the mask) and sets up
 * the fds. dp may be NULL (a loop with only the caller's fds). */
int loop_create(struct datapath *dp, struct loop **out, char *err, size_t errlen);
/* Restores the signal mask it changed. NULL allowed. */
void loop_destroy(struct loop *l);

/* Runs until a signal or loop_stop. Returns enum loop_result or a negative
 * errno-style code. */
int loop_run(struct loop *l);
/* Async-signal-safe and thread-safe: makes loop_run return LOOP_EXIT. */
void loop_stop(struct loop *l);

/* The daemon's own fds (control socket, clients): cb runs in the loop's
 * thread with the epoll events. 0 or a negative errno. */
typedef void (*loop_fd_cb)(void *arg, int fd, uint32_t events);
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg);
int loop_del_fd(struct loop *l, int fd);
/* After a datapath_reload that changed the ports (ENIs added or removed):
 * unregisters the old capture fds and registers the datapath's current
 * ones (today the same ring: it reads every port). The datapath owns the
 * fds; the loop only watches them. 0 or -errno (then some captures are
 * not watched: the caller logs it). */
int loop_ports_changed(struct loop *l);
/* Called once a second after the datapath's own tick (e.g. sd_notify
 * watchdog). NULL to clear. */
void loop_set_tick(struct loop *l, void (*cb)(void *arg), void *arg);

#endif
