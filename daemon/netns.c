/*
 * Named network namespaces as iproute2 makes them (ip/ipnetns.c): an empty
 * file /run/netns/NAME onto which the new namespace's nsfs file is bind
 * mounted, so the namespace outlives the process and `ip netns` sees it.
 * /run/netns itself is made a shared mount point (bind-mounted onto itself
 * first when it is not a mount point) so that unmounting a namespace in one
 * mount namespace unmounts it in all of them and the namespace can be freed.
 *
 * Namespace switches use /proc/thread-self, never /proc/self: setns and
 * unshare act on the calling thread, and in a threaded daemon /proc/self
 * would name the main thread's namespace.
 */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Same dance as iproute2: MS_SHARED fails with EINVAL when the directory
 * is not a mount point, so make it one and try again. Repeating this is
 * harmless (concurrent callers may stack mounts, as with ip netns add). */
static int make_run_dir_shared(char *err, size_t errlen)
{
	bool made_mount = false;

	if (mkdir(NETNS_RUN_DIR, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", NETNS_RUN_DIR, strerror(errno));
		return -errno;
	}
	while (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL)) {
		if (errno != EINVAL || made_mount) {
			snprintf(err, errlen, "making %s a shared mount: %s", NETNS_RUN_DIR,
				 strerror(errno));
			return -errno;
		}
		if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL)) {
			snprintf(err, errlen, "bind-mounting %s onto itself: %s", NETNS_RUN_DIR,
				 strerror(errno));
			return -errno;
		}
		made_mount = true;
	}
	return 0;
}

/* One namespace, on a thread that stays in it: the file to mount on, a new
 * namespace, the bind mount. The file goes again when that fails. */
static int create_one(const char *name, char *err, size_t errlen)
{
	char path[128];
	int fd, ret = netns_path(name, path, sizeof(path));

	if (ret) {
		snprintf(err, errlen, "bad namespace name '%s'", name);
		return ret;
	}
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "namespace %s: %s", name,
			 ret == -EEXIST ? "already exists" : strerror(-ret));
		return ret;
	}
	close(fd);
	if (unshare(CLONE_NEWNET)) {
		ret = -errno;
		snprintf(err, errlen, "unshare(CLONE_NEWNET) for %s: %s", name, strerror(-ret));
	} else if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL)) {
		ret = -errno;
		snprintf(err, errlen, "bind-mounting namespace %s: %s", name, strerror(-ret));
	}
	if (ret)
		unlink(path);
	return ret;
}

int netns_create_each(const char *const *names, size_t n, netns_init_fn init, void *arg,
		      size_t *created, char *err, size_t errlen)
{
	int saved, ret;

	*created = 0;
	ret = make_run_dir_shared(err, errlen);
	if (ret)
		return ret;
	saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0) {
		ret = -errno;
		snprintf(err, errlen, "opening the current namespace: %s", strerror(-ret));
		return ret;
	}
	/* Each unshare starts from the previous new namespace, which is as
	 * good a parent as any: one switch back at the end, not one per name. */
	for (size_t i = 0; i < n && !ret; i++) {
		ret = create_one(names[i], err, errlen);
		if (!ret)
			(*created)++;
		if (!ret && init)
			ret = init(i, arg);
	}
	/* Back where we were whatever happened: the caller's thread must never
	 * be left in a namespace it did not ask for. */
	if (setns(saved, CLONE_NEWNET) && !ret) {
		ret = -errno;
		snprintf(err, errlen, "returning from a new namespace: %s", strerror(-ret));
	}
	close(saved);
	return ret;
}

int netns_create(const char *name, char *err, size_t errlen)
{
	size_t created;
	int ret = netns_create_each(&name, 1, NULL, NULL, &created, err, errlen);

	/* Only setns back can fail after the mount: a namespace that cannot
	 * be left is one the caller must not keep. */
	if (ret && created)
		netns_delete(name);
	return ret;
}

int netns_run(int nsfd, int (*fn)(void *arg), void *arg)
{
	int saved = -1, ret, r2;

	ret = netns_enter(nsfd, &saved);
	if (ret)
		return ret;
	ret = fn(arg);
	r2 = netns_leave(saved);
	return r2 ? r2 : ret;
}

int netns_delete(const char *name)
{
	char path[128];
	int ret = netns_path(name, path, sizeof(path));

	if (ret)
		return ret;
	/* EINVAL: not a mount point (a file left by a failed create). */
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
		return -errno;
	if (unlink(path))
		return -errno;
	return 0;
}

/* ------------------------------------------------ processes left inside */

struct ns_id {
	dev_t dev;
	ino_t ino;
};

static bool ns_id_in(const struct ns_id *ids, size_t n, const struct stat *st)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i].dev == st->st_dev && ids[i].ino == st->st_ino)
			return true;
	return false;
}

/* The processes sent SIGTERM, as pidfds: each becomes readable when its
 * process exits, so the grace period ends with the last exit instead of
 * after rescans of /proc (one stat per process of the machine) every 20
 * ms. Without pidfds (ENOSYS, EMFILE) the rescans are the fallback. */
struct victims {
	struct pollfd *fds;
	size_t n, cap;
	bool incomplete;
};

static void victim_add(struct victims *v, pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0 && v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct pollfd *fds = realloc(v->fds, cap * sizeof(*fds));

		if (!fds) {
			close(fd);
			fd = -1;
		} else {
			v->fds = fds;
			v->cap = cap;
		}
	}
	if (fd < 0) {
		/* Gone already (ESRCH) needs no waiting for. */
		v->incomplete |= errno != ESRCH;
		return;
	}
	v->fds[v->n++] = (struct pollfd){.fd = fd, .events = POLLIN};
}

/* Sends sig to every process in one of the namespaces; how many. Those
 * signalled are added to v when it is given. */
static size_t signal_in(const struct ns_id *ids, size_t n, int sig, struct victims *v)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t hit = 0;
	pid_t self = getpid();

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[64], *end;
		struct stat st;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
		if (stat(path, &st) || !ns_id_in(ids, n, &st) || kill((pid_t)pid, sig))
			continue;
		hit++;
		if (v)
			victim_add(v, (pid_t)pid);
	}
	closedir(d);
	return hit;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Until every pidfd is readable or grace_ms have passed. */
static void wait_exits(struct victims *v, unsigned grace_ms)
{
	struct timespec t0;
	size_t left = v->n;
	long waited;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (left && (waited = ms_since(&t0)) < (long)grace_ms) {
		int r = poll(v->fds, v->n, (int)((long)grace_ms - waited));

		if (r < 0 && errno != EINTR)
			break;
		for (size_t i = 0; r > 0 && i < v->n; i++)
			if (v->fds[i].fd >= 0 && v->fds[i].revents) {
				close(v->fds[i].fd);
				v->fds[i].fd = -1; /* poll skips it from now on */
				left--;
			}
	}
}

/* Signal 0 finds who is left (zombies count until reaped by their
 * parent, which is not us: they hold nothing). */
static void poll_exits(const struct ns_id *ids, size_t n, unsigned grace_ms)
{
	struct timespec tick = {0, 20 * 1000 * 1000};

	for (unsigned waited = 0; waited < grace_ms; waited += 20) {
		if (!signal_in(ids, n, 0, NULL))
			break;
		nanosleep(&tick, NULL);
	}
}

size_t netns_end_processes(const char *const *names, size_t n, unsigned grace_ms)
{
	struct ns_id *ids = calloc(n ? n : 1, sizeof(*ids));
	struct victims v = {0};
	size_t n_ids = 0, ended;

	if (!ids)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char path[128];
		struct stat st;

		if (names[i] && !netns_path(names[i], path, sizeof(path)) && stat(path, &st) == 0)
			ids[n_ids++] = (struct ns_id){st.st_dev, st.st_ino};
	}
	ended = n_ids ? signal_in(ids, n_ids, SIGTERM, &v) : 0;
	if (ended && v.incomplete)
		poll_exits(ids, n_ids, grace_ms);
	else if (ended)
		wait_exits(&v, grace_ms);
	/* Also ends what was forked during the grace period. */
	if (ended)
		signal_in(ids, n_ids, SIGKILL, NULL);
	for (size_t i = 0; i < v.n; i++)
		if (v.fds[i].fd >= 0)
			close(v.fds[i].fd);
	free(v.fds);
	free(ids);
	return ended;
}
