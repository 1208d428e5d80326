/*
 * The CLI's side of vpcfwd's control socket (docs/control.md): find the
 * socket of a lab, connect, send one request line, read one reply line.
 * Not for printing replies (tools/cmd_online.c) or for anything offline.
 *
 * Usage:
 *	char path[108], err[512];
 *	if (client_find_socket(lab_or_NULL, path, sizeof(path), err, sizeof(err)) < 0) ...
 *	struct client *c;
 *	if (client_connect(path, &c, err, sizeof(err)) < 0) ...
 *	json_t *reply;
 *	if (client_call(c, json_pack("{s:s}", "cmd", "status"), &reply, err, sizeof(err)) < 0) ...
 *	... json_decref(reply); client_close(c);
 */
#ifndef VPCFW_CLIENT_H
#define VPCFW_CLIENT_H

#include <jansson.h>
#include <stddef.h>

struct client;

/* The socket of lab (NULL: $VPCFW_LAB, else the only one running under
 * /run/vpcfw). 0, or -ENOENT (none running / no such lab) or -EEXIST
 * (several running: pick one with --lab) with a message in err. */
int client_find_socket(const char *lab, char *buf, size_t len, char *err, size_t errlen);

/* 0, or a negative errno-style code with a message (not running, not
 * allowed) in err. */
int client_connect(const char *path, struct client **out, char *err, size_t errlen);
void client_close(struct client *c); /* NULL allowed */

/*
 * Sends req (ownership taken; "v" is added) and waits for the reply
 * (timeout_ms, < 0: none). 0 and *reply (the whole object, "ok" true or
 * false: the caller reads "error"), or a negative code with a message in
 * err when no reply came (daemon gone, garbage, timeout).
 */
int client_call(struct client *c, json_t *req, int timeout_ms, json_t **reply, char *err,
		size_t errlen);

#endif
