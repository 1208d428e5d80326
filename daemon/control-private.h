/*
 * The control socket's state, shared by its own files only (control.c: the
 * socket and its clients; control_views.c: the status, stats and reload
 * replies; control_flows.c: the flows reply, written in pieces). Nobody
 * else includes this: daemon/control.h is the interface.
 */
#ifndef VPCFW_CONTROL_PRIVATE_H
#define VPCFW_CONTROL_PRIVATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>

#include "control.h"
#include "control_proto.h"
#include "topology.h"

struct ip_addr;

struct control {
	struct loop *loop;
	struct datapath *dp;
	const struct topology *topo;
	char lab[TOPOLOGY_LAB_NAME_MAX + 1];
	struct control_opts opts;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd, timer_fd;
	gid_t gid;
	bool has_group;
	struct control_client *clients;
	unsigned n_clients, next_id;
	struct reload_ticket *tickets; /* reloads asked, not answered yet */
	/* Long replies share the loop: pieces left until the next tick of
	 * the timer, and the last client served one (the next tick begins
	 * after it, so that every client gets its turn). */
	unsigned pieces_left, last_served;
	struct timespec started;
	time_t started_wall;
};

/* Inline, so that the three files need no symbol of one another for
 * the clock: control.c calls the views, never the other way round. */
static inline double ctl_ts_sec(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static inline struct timespec ctl_mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

json_t *ctl_str_or_null(const char *s);
json_t *ctl_addr_json(const struct ip_addr *a);

/* The replies to status and stats, and to a reload once the daemon has
 * answered it (rc, diags and err as control_reload_done_fn has them). An
 * error reply when out of memory, or NULL. */
json_t *ctl_status_reply(struct control *c);
json_t *ctl_stats_reply(struct control *c);
json_t *ctl_reload_reply(struct control *c, int rc, const struct diag_list *d, const char *err);

/*
 * A `flows` reply being written. It is produced a piece at a time from the
 * live connection table, each piece appended to the client's outbuf only
 * once the previous one was taken, so a client that asks for a million
 * flows and never reads costs one piece of memory, not the whole reply.
 */
struct flows_stream;

/* A reply for req (the error reply when its ENI is unknown) into *err_reply,
 * or 0 and a stream whose first piece is written by flows_stream_fill.
 * -ENOMEM. */
int flows_stream_start(struct control *c, const struct ctl_request *req, struct flows_stream **out,
		       json_t **err_reply);
/* Appends about budget bytes of the reply to out: 1 when more is to come,
 * 0 when the reply is complete (its newline written), -ENOMEM. */
int flows_stream_fill(struct flows_stream *s, struct ctl_outbuf *out, size_t budget);
void flows_stream_free(struct flows_stream *s);

#endif
