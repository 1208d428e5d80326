/*
 * Named network namespaces as iproute2 keeps them (/run/netns/NAME): their
 * paths, whether one exists, and entering one, for the daemon and for the
 * CLI (`vpcfw exec`, the probes of `vpcfw test`). Entering and leaving
 * affect only the calling thread. Not for creating or deleting namespaces
 * (daemon/netns.h).
 */
#ifndef VPCFW_NSENTER_H
#define VPCFW_NSENTER_H

#include <stdbool.h>
#include <stddef.h>

#define NETNS_RUN_DIR "/run/netns"
/* Longest namespace name we create (the kernel allows NAME_MAX). */
#define NETNS_NAME_MAX 64

/* "/run/netns/NAME" into buf: 0, -EINVAL (not a plain name) or
 * -ENAMETOOLONG. */
int netns_path(const char *name, char *buf, size_t len);

/* Whether /run/netns/NAME exists. */
bool netns_exists(const char *name);

/* An O_RDONLY|O_CLOEXEC fd of the namespace, or -errno. */
int netns_open(const char *name);

/* Moves the calling thread into the namespace nsfd; *saved receives an fd
 * of the namespace it was in (pass it to netns_leave). 0 or -errno. */
int netns_enter(int nsfd, int *saved);
/* Returns the calling thread to saved and closes it. 0 or -errno. */
int netns_leave(int saved);

#endif
