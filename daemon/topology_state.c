/*
 * The state file /run/vpcfw/<lab>/topology.state: what a daemon built, in
 * the order it built it, so that the next start after a crash or SIGKILL
 * can remove it, and so that `vpcfw exec` can map an instance or ENI id to
 * its namespace without the lab's files. The running daemon holds an
 * exclusive flock on it: the kernel drops the lock when the process dies,
 * however it dies, which is the primary liveness test; the recorded pid and
 * its start time are checked as well (a recycled pid is not the owner).
 *
 * The format and its reader are common/labstate.h's (`vpcfw exec` reads
 * the file too); this file writes it, locks it and cleans up after the
 * dead.
 *
 * Not for building anything: topology.c does that.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "labstate.h"
#include "netlink.h"
#include "netns.h"
#include "nft.h"
#include "topology-private.h"

/* Field 22 of /proc/PID/stat (clock ticks since boot), and whether the
 * process is a zombie (dead, but its pid still answers kill(pid, 0)). */
static int proc_start_time(pid_t pid, unsigned long long *start, bool *zombie)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;
	char state;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may contain spaces and ')': skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(
		p + 1,
		" %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		&state, start) != 2)
		return -EIO;
	*zombie = state == 'Z' || state == 'X';
	return 0;
}

static bool owner_alive(pid_t pid, unsigned long long start)
{
	unsigned long long now_start = 0;
	bool zombie = false;

	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH))
		return false;
	if (proc_start_time(pid, &now_start, &zombie))
		return false;
	return !zombie && now_start == start;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int topo_state_open(const char *lab, char *err, size_t errlen)
{
	char dir[256], path[300], line[128];
	unsigned long long start = 0;
	bool zombie;
	int fd, ret;

	if (topo_state_dir(lab, dir, sizeof(dir)) || topo_state_path(lab, path, sizeof(path))) {
		snprintf(err, errlen, "lab name too long: %s", lab);
		return -ENAMETOOLONG;
	}
	if ((mkdir(TOPOLOGY_RUN_DIR, 0755) && errno != EEXIST) ||
	    (mkdir(dir, 0755) && errno != EEXIST)) {
		ret = -errno;
		snprintf(err, errlen, "creating %s: %s", dir, strerror(-ret));
		return ret;
	}
	/* O_EXCL: a concurrent start of the same lab loses here rather than
	 * truncating the winner's record. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = errno == EEXIST ? -EBUSY : -errno;
		snprintf(err, errlen, "%s: %s", path,
			 ret == -EBUSY ? "lab is being started by another process"
				       : strerror(errno));
		return ret;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(err, errlen, "locking %s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	proc_start_time(getpid(), &start, &zombie);
	snprintf(line, sizeof(line), TOPO_STATE_MAGIC "\nowner %d %llu\n", (int)getpid(), start);
	ret = write_all(fd, line, strlen(line));
	if (ret) {
		snprintf(err, errlen, "writing %s: %s", path, strerror(-ret));
		unlink(path);
		close(fd);
	}
	return ret ? ret : fd;
}

int topo_state_add_router(int fd, const char *netns)
{
	char line[128];

	snprintf(line, sizeof(line), "router %s\n", netns);
	return write_all(fd, line, strlen(line));
}

int topo_state_add_port(int fd, const struct topo_state_port *p)
{
	char eni[200], inst[200], name[800], line[1400];

	topo_state_escape(p->eni_id, eni, sizeof(eni));
	topo_state_escape(p->instance_id, inst, sizeof(inst));
	topo_state_escape(p->name, name, sizeof(name));
	snprintf(line, sizeof(line), "port %s %s %s %s %s %d %s\n", p->ifname, p->netns, p->kind,
		 eni, inst, p->device_index, name);
	return write_all(fd, line, strlen(line));
}

int topo_state_rewrite(const char *lab, const char *router_ns, const struct topo_state_port *ports,
		       size_t n)
{
	char path[300], tmp[310], line[128];
	unsigned long long start = 0;
	bool zombie;
	int fd, ret;

	if (topo_state_path(lab, path, sizeof(path)))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ret = flock(fd, LOCK_EX | LOCK_NB) ? -errno : 0;
	proc_start_time(getpid(), &start, &zombie);
	snprintf(line, sizeof(line), TOPO_STATE_MAGIC "\nowner %d %llu\n", (int)getpid(), start);
	if (!ret)
		ret = write_all(fd, line, strlen(line));
	if (!ret)
		ret = topo_state_add_router(fd, router_ns);
	for (size_t i = 0; i < n && !ret; i++)
		ret = topo_state_add_port(fd, &ports[i]);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		close(fd);
		return ret;
	}
	return fd;
}

void topo_state_remove(const char *lab, int fd)
{
	char path[300], dir[256];

	if (!topo_state_path(lab, path, sizeof(path)))
		unlink(path);
	if (fd >= 0)
		close(fd);
	/* The daemon may keep its control socket here: only when empty. */
	if (!topo_state_dir(lab, dir, sizeof(dir)))
		rmdir(dir);
}

/* Deletes the dead daemon's ports and nft table explicitly (synchronous),
 * rather than waiting for the namespace's asynchronous teardown. */
static int stale_router_clean(void *arg)
{
	const struct topo_state *st = arg;
	const char *lab = st->router + strlen(TOPOLOGY_ROUTER_PREFIX);
	struct nl_link l;
	struct nl *nl;

	nft_table_delete(lab);
	if (nl_open(&nl))
		return 0;
	/* All ports at once (one RCU wait, not one per port); one by one
	 * only what is left outside the groups (an older daemon's). */
	nl_group_del(nl, TOPO_PORT_GROUP);
	nl_group_del(nl, TOPO_DOOMED_GROUP);
	for (size_t i = 0; i < st->n_ports; i++)
		if (!nl_link_get(nl, st->ports[i].ifname, &l))
			nl_link_del(nl, l.ifindex);
	nl_close(nl);
	return 0;
}

static int stale_remove(struct topo_state *st, size_t *procs_ended)
{
	const char **names = calloc(st->n_ports + 1, sizeof(*names));
	int removed = 0, fd;
	size_t n = 0, ended;

	/* What vpcfw exec started in the dead daemon's lab would otherwise
	 * live on in namespaces nobody can name any more. */
	for (size_t i = 0; names && i < st->n_ports; i++)
		names[n++] = st->ports[i].netns;
	if (names && st->router[0])
		names[n++] = st->router;
	ended = names ? netns_end_processes(names, n, TOPOLOGY_END_GRACE_MS) : 0;
	if (procs_ended)
		*procs_ended = ended;
	free(names);

	if (st->router[0]) {
		fd = netns_open(st->router);
		if (fd >= 0) {
			netns_run(fd, stale_router_clean, st);
			close(fd);
		}
		if (!netns_delete(st->router))
			removed++;
	}
	for (size_t i = 0; i < st->n_ports; i++)
		if (!netns_delete(st->ports[i].netns))
			removed++;
	return removed;
}

/* A state file without its owner line is a start in progress (created,
 * not yet locked or written: topo_state_open) when it is young; an old one
 * is what a start killed in that window left. */
static bool owner_pending(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && time(NULL) - st.st_mtime < 10;
}

int topology_cleanup_stale(const char *lab, size_t *procs_ended, char *err, size_t errlen)
{
	char path[300];
	struct topo_state st;
	int fd, ret;

	if (topo_state_path(lab, path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		snprintf(err, errlen, "opening %s: %s", path, strerror(errno));
		return ret;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		topo_state_read(fd, &st);
		/* The winner of a race creates the file, then locks it, then
		 * writes its pid: a loser may see no pid yet. */
		if (st.pid > 0)
			snprintf(err, errlen, "lab %s is running (daemon pid %d holds %s)", lab,
				 (int)st.pid, path);
		else
			snprintf(err, errlen,
				 "lab %s is being started by another process (it holds %s and has "
				 "not written its pid yet)",
				 lab, path);
		topo_state_free(&st);
		close(fd);
		return ret;
	}
	ret = topo_state_read(fd, &st);
	if (ret) {
		snprintf(err, errlen,
			 "%s: unreadable state file (%s); remove it and its namespaces by hand",
			 path, strerror(-ret));
		goto out;
	}
	if (st.pid <= 0 && owner_pending(fd)) {
		ret = -EBUSY;
		snprintf(err, errlen,
			 "lab %s is being started by another process (%s names no owner yet)", lab,
			 path);
		goto out;
	}
	if (st.pid != getpid() && owner_alive(st.pid, st.start)) {
		ret = -EBUSY;
		snprintf(err, errlen, "lab %s: state owner pid %d is alive but not holding %s", lab,
			 (int)st.pid, path);
		goto out;
	}
	ret = stale_remove(&st, procs_ended);
	topo_state_remove(lab, -1);
out:
	topo_state_free(&st);
	close(fd);
	return ret;
}

void topo_state_port_fill(const struct lab *lab, const struct topology_port *p,
			  struct topo_state_port *sp)
{
	memset(sp, 0, sizeof(*sp));
	snprintf(sp->ifname, sizeof(sp->ifname), "%s", p->name);
	snprintf(sp->netns, sizeof(sp->netns), "%s", p->netns);
	sp->device_index = -1;
	if (p->kind == TOPOLOGY_PORT_ENI) {
		const struct eni *e = &lab->enis[p->eni];

		snprintf(sp->kind, sizeof(sp->kind), "eni");
		snprintf(sp->eni_id, sizeof(sp->eni_id), "%s", e->id ? e->id : "-");
		snprintf(sp->instance_id, sizeof(sp->instance_id), "%s",
			 e->instance_id ? e->instance_id : "-");
		snprintf(sp->name, sizeof(sp->name), "%s", e->name ? e->name : "-");
		sp->device_index = e->device_index;
	} else {
		snprintf(sp->kind, sizeof(sp->kind), "outside");
		snprintf(sp->eni_id, sizeof(sp->eni_id), "-");
		snprintf(sp->instance_id, sizeof(sp->instance_id), "-");
		snprintf(sp->name, sizeof(sp->name), "%s", lab->outside[p->outside].name);
	}
}
