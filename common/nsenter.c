/*
 * Opening and entering named network namespaces (nsenter.h), the part of
 * daemon/netns.c that `vpcfw exec` and `vpcfw test`'s probes need too.
 * Switches use /proc/thread-self, never /proc/self: setns acts on the
 * calling thread, and in a threaded process /proc/self would name the
 * main thread's namespace.
 */
#include "nsenter.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int netns_path(const char *name, char *buf, size_t len)
{
	int n;

	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	n = snprintf(buf, len, "%s/%s", NETNS_RUN_DIR, name);
	if (n < 0 || (size_t)n >= len || strlen(name) >= NETNS_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

bool netns_exists(const char *name)
{
	char path[128];

	if (netns_path(name, path, sizeof(path)))
		return false;
	return access(path, F_OK) == 0;
}

int netns_open(const char *name)
{
	char path[128];
	int ret = netns_path(name, path, sizeof(path));
	int fd;

	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int netns_enter(int nsfd, int *saved)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (setns(nsfd, CLONE_NEWNET)) {
		int e = -errno;

		close(fd);
		return e;
	}
	*saved = fd;
	return 0;
}

int netns_leave(int saved)
{
	int ret = setns(saved, CLONE_NEWNET) ? -errno : 0;

	close(saved);
	return ret;
}
