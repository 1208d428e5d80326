/*
 * Named network namespaces, the way iproute2 makes them: a bind mount of
 * the namespace file under /run/netns/NAME (so `ip netns exec NAME` works),
 * with /run/netns made a shared mount point so that deleting a namespace in
 * one mount namespace frees it everywhere. Entering and leaving affect only
 * the calling thread. Not for creating devices or addresses (netlink.h).
 */
#ifndef VPCFW_NETNS_H
#define VPCFW_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#include "nsenter.h"

/* Creates the namespace NAME and returns with the calling thread still in
 * its original namespace. 0, -EEXIST when NAME exists, or another -errno
 * with a message in err. Nothing is left behind on failure. */
int netns_create(const char *name, char *err, size_t errlen);

/* Runs in a namespace netns_create_each just made, on the creating thread
 * (sockets it opens stay there; /proc/sys/net is that namespace's):
 * 0, or -errno to stop creating. */
typedef int (*netns_init_fn)(size_t i, void *arg);

/* Creates names[0..n) in order, calling init(i, arg) (may be NULL) inside
 * each right after it exists: a few syscalls per namespace and one switch
 * back for all. *created: how many exist (the caller removes them on
 * failure; the one that failed to be created is not left). Returns with
 * the calling thread in its original namespace; 0 or -errno with err. */
int netns_create_each(const char *const *names, size_t n, netns_init_fn init, void *arg,
		      size_t *created, char *err, size_t errlen);

/* Runs fn(arg) with the calling thread inside nsfd and returns its result
 * (or -errno when entering fails). Sockets fn opens stay in that namespace
 * after the thread leaves it. */
int netns_run(int nsfd, int (*fn)(void *arg), void *arg);

/* Unmounts and unlinks /run/netns/NAME. The namespace itself dies when its
 * last user (process, socket, fd) goes. 0, -ENOENT, or another -errno. */
int netns_delete(const char *name);

/*
 * Ends every process (but the caller) whose network namespace is one of
 * names[0..n): SIGTERM, then SIGKILL for those still there after grace_ms.
 * What `vpcfw exec` or `ip netns exec` started in a lab would otherwise
 * outlive it in a namespace nobody can name any more. Scans /proc like
 * `ip netns pids`. Returns how many processes were signalled.
 */
size_t netns_end_processes(const char *const *names, size_t n, unsigned grace_ms);

#endif
