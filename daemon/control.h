/*
 * vpcfwd's control socket: a UNIX stream socket per lab at
 * /run/vpcfw/<lab>/control.sock speaking newline-delimited JSON
 * (docs/control.md), served from the daemon's event loop. One request
 * object per line, one reply object per line:
 *	{"v":1,"cmd":"status"|"flows"|"stats"|"reload", ...}
 *	{"v":1,"ok":true,...}  or  {"v":1,"ok":false,"error":"..."}
 *
 * Access: owner root, mode 0600; with a group, 0660 and that group. Each
 * peer is checked again with SO_PEERCRED (uid 0 or a member of the group):
 * others get an error reply and are closed. Clients are bounded in number
 * (with slots kept for root), in request size, in the time a request may
 * take to arrive and a reply to be taken, and in the memory a reply holds
 * (long ones are written in pieces); a client that sends garbage or too
 * much, trickles, never reads, or hangs up mid-request, only ever loses its
 * own connection.
 *
 * Not for policy or packets: it reads the data path's counters, conntrack
 * and lab, and hands reloads to the daemon's callback (the same path as
 * SIGHUP), answering when the daemon calls back. Loop thread only.
 *
 * Usage (vpcfwd, after loop_create):
 *	struct control_opts co;
 *	control_opts_init(&co);
 *	co.group = "vpcfw";              (NULL: root only)
 *	co.flowlog_path = path;
 *	co.reload = my_reload; co.reload_arg = d;
 *	if (control_open(loop, dp, topo, lab_name, &co, &ctl, err, sizeof(err)) < 0) ...
 *	... loop_run ...
 *	control_close(ctl);              (before loop_destroy, after whatever
 *	                                  may still call a reload's done)
 */
#ifndef VPCFW_CONTROL_H
#define VPCFW_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control_proto.h"
#include "diag.h"
#include "labnames.h"

struct loop;
struct datapath;
struct topology;
struct control;

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_ROOT_CLIENTS 4	   /* more, for root alone */
#define CONTROL_IDLE_TIMEOUT 60	   /* seconds idle, or to take one reply */
#define CONTROL_REQUEST_TIMEOUT 10 /* seconds from a request's first byte to its end */

/*
 * The daemon's reload (the same one SIGHUP runs), asynchronous so that the
 * loop keeps forwarding while a lab loads: queue a reload of path (NULL:
 * the running lab's source; root: asked by uid 0, which goes ahead of the
 * others) and return 0, then call done(ctx, ...) exactly
 * once, later, from the loop's thread: rc 0 when the new rules run; < 0
 * when the running rules stay, every problem in diags (file, JSON path,
 * message) and/or a message in err. < 0 from the call itself: nothing was
 * queued and done is never called.
 */
typedef void (*control_reload_done_fn)(void *ctx, int rc, const struct diag_list *diags,
				       const char *err);
typedef int (*control_reload_fn)(void *arg, const char *path, bool root,
				 control_reload_done_fn done, void *ctx);

struct control_opts {
	const char *group;	  /* NULL: root only (0600); else 0660 and this group */
	const char *socket_path;  /* NULL: /run/vpcfw/<lab>/control.sock */
	const char *flowlog_path; /* for status; NULL: none */
	unsigned max_clients;	  /* CONTROL_MAX_CLIENTS */
	unsigned root_clients;	  /* CONTROL_ROOT_CLIENTS; 0 here: none kept for root */
	unsigned idle_timeout;	  /* CONTROL_IDLE_TIMEOUT */
	unsigned request_timeout; /* CONTROL_REQUEST_TIMEOUT */
	size_t max_request;	  /* CONTROL_MAX_REQUEST */
	control_reload_fn reload; /* NULL: reload requests get an error reply */
	void *reload_arg;
};

void control_opts_init(struct control_opts *o);

/* Creates the socket (replacing a stale one of a dead daemon) and watches
 * it from the loop. dp, topo and the strings in o must outlive the
 * control. 0 and *out, or a negative errno-style code with a message in
 * err and nothing left behind. */
int control_open(struct loop *l, struct datapath *dp, const struct topology *topo, const char *lab,
		 const struct control_opts *o, struct control **out, char *err, size_t errlen);
/* Closes every client and removes the socket file. NULL allowed. */
void control_close(struct control *c);

#endif
