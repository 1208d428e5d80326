/*
 * Reloads off the packet path. Loading a lab reads files the operator (or a
 * control-group member) named: a slow disk, a hung network file system or a
 * lab too large to parse quickly must not stop forwarding. So the load runs
 * on a thread of its own, and only the swap — validated rules handed over
 * between two packets, as pf commits a ruleset — runs on the loop's thread.
 * Requests (SIGHUP, `vpcfw reload`) are served one at a time, in order; a
 * load that takes longer than RELOADER_TIMEOUT is abandoned (its thread is
 * left to finish and clean up after itself) and reported as failed, so one
 * hung path does not hold every later reload; while RELOADER_STUCK such
 * loads are still blocked, new ones are refused rather than piling up
 * threads in the kernel.
 *
 * Not for: what a reload means (the daemon's ops), the control protocol.
 *
 * Usage (loop thread):
 *	struct reloader_ops ops = {.source = ..., .begin = ..., .load = ...,
 *				   .finish = ..., .arg = d};
 *	reloader_create(loop, &ops, &r);
 *	reloader_request(r, NULL, false, done, ctx);  (done runs later, loop thread)
 *	reloader_destroy(r);                      (pending requests: -ECANCELED)
 */
#ifndef VPCFW_RELOADER_H
#define VPCFW_RELOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

struct lab;
struct loop;
struct reloader;

#define RELOADER_TIMEOUT 30 /* seconds a load may take */
#define RELOADER_QUEUE 64   /* requests waiting at most */
#define RELOADER_STUCK 4    /* loads given up but still blocked: no more begin */

struct reloader_ops {
	/* Loop thread, when a request without a path starts: the source in
	 * use (NULL: the built-in lab). */
	const char *(*source)(void *arg);
	/* Loop thread, when a load starts (log it, tell systemd). */
	void (*begin)(void *arg, const char *path);
	/* The loader's thread: path (NULL: the built-in lab) into *out, every
	 * problem in diags. Must touch nothing the loop thread uses. */
	int (*load)(const char *path, struct lab **out, struct diag_list *diags);
	/* Loop thread, after the load: rc is load's (or -ETIMEDOUT, err then
	 * set); swaps next in (taking it) and returns 0, or returns < 0 with
	 * err (next, if any, is freed by the reloader). */
	int (*finish)(void *arg, const char *path, int rc, struct lab *next,
		      const struct diag_list *diags, char *err, size_t errlen);
	void *arg;
	unsigned timeout; /* seconds; 0: RELOADER_TIMEOUT */
};

/* Loop thread, once per request: rc is finish's, diags the loader's
 * problems, err a message when rc < 0 (may be empty). */
typedef void (*reloader_done_fn)(void *ctx, int rc, const struct diag_list *diags, const char *err);

int reloader_create(struct loop *l, const struct reloader_ops *ops, struct reloader **out);
/* Queues a reload of path (NULL: the source in use when it starts); done
 * (may be NULL) is called from the loop later, never from within this
 * call. first: ahead of every request waiting (root's, so that a
 * control-group member queuing slow loads cannot hold root's back).
 * 0, -EBUSY (queue full) or -ENOMEM. */
int reloader_request(struct reloader *r, const char *path, bool first, reloader_done_fn done,
		     void *ctx);
/* Compiles the lab's security group rules into the tables the data path
 * answers first packets from (rules/sgtable.h) and logs their cost: at
 * start-up, and on the load's thread for a reload, before the lab is
 * handed over. Past the tables' limits, or out of memory, the lab scans
 * its rules as before (logged): never fatal. Any thread. */
void reloader_compile(struct lab *lab);
/* Calls done(-ECANCELED) for every request not finished; a load still
 * running is abandoned. NULL allowed. */
void reloader_destroy(struct reloader *r);

#endif
