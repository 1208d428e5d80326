/*
 * The state file /run/vpcfw/<lab>/topology.state: what a daemon built, in
 * the order it built it, so that the next start after a crash or SIGKILL
 * can remove it, and so that `vpcfw exec` can map an instance or ENI id to
 * its namespace without the lab's files. The running daemon holds an
 * exclusive flock on it: the kernel drops the lock when the process dies,
 * however it dies, which is the primary liveness test; the recorded pid and
 * its start time are checked as well (a recycled pid is not the owner).
 *
 * Format, one record per line, fields separated by one space, free text
 * percent-escaped:
 *	vpcfw-topology 1
 *	owner PID STARTTIME
 *	router NETNS
 *	port IFNAME NETNS eni|outside ENI-ID INSTANCE-ID DEVICE-INDEX NAME
 *
 * Not for building anything: topology.c does that.
 */
#include <dirent.h>
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

#include "netlink.h"
#include "netns.h"
#include "nft.h"
#include "topology-private.h"

#define STATE_MAGIC "vpcfw-topology 1"
#define STATE_MAX_BYTES (1 << 20)

int topo_state_dir(const char *lab, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", TOPOLOGY_RUN_DIR, lab);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int topo_state_path(const char *lab, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s/%s", TOPOLOGY_RUN_DIR, lab, TOPOLOGY_STATE_FILE);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

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

static void escape(const char *s, char *out, size_t len)
{
	size_t o = 0;

	if (!s || !*s)
		s = "-";
	for (; *s && o + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '%' || c == 0x7f)
			o += (size_t)snprintf(out + o, len - o, "%%%02X", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

static void unescape(char *s)
{
	char *w = s;
	unsigned int c;

	for (; *s; s++) {
		if (*s == '%' && sscanf(s + 1, "%2X", &c) == 1 && c) {
			*w++ = (char)c;
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
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
	snprintf(line, sizeof(line), STATE_MAGIC "\nowner %d %llu\n", (int)getpid(), start);
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

	escape(p->eni_id, eni, sizeof(eni));
	escape(p->instance_id, inst, sizeof(inst));
	escape(p->name, name, sizeof(name));
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
	snprintf(line, sizeof(line), STATE_MAGIC "\nowner %d %llu\n", (int)getpid(), start);
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

/* A parsed state file. */
struct state {
	pid_t pid;
	unsigned long long start;
	char router[NETNS_NAME_MAX];
	struct topo_state_port *ports;
	size_t n_ports;
};

static int parse_port(char *line, struct topo_state_port *p)
{
	char eni[64], inst[64], name[256];

	if (sscanf(line, "port %15s %63s %15s %63s %63s %d %255s", p->ifname, p->netns, p->kind,
		   eni, inst, &p->device_index, name) != 7)
		return -EINVAL;
	unescape(eni);
	unescape(inst);
	unescape(name);
	snprintf(p->eni_id, sizeof(p->eni_id), "%s", eni);
	snprintf(p->instance_id, sizeof(p->instance_id), "%s", inst);
	snprintf(p->name, sizeof(p->name), "%s", name);
	return 0;
}

static int parse_line(char *line, struct state *st)
{
	int pid;

	if (!strncmp(line, "owner ", 6)) {
		if (sscanf(line, "owner %d %llu", &pid, &st->start) != 2)
			return -EINVAL;
		st->pid = pid;
	} else if (!strncmp(line, "router ", 7)) {
		if (sscanf(line, "router %63s", st->router) != 1)
			return -EINVAL;
	} else if (!strncmp(line, "port ", 5)) {
		struct topo_state_port *n =
		    realloc(st->ports, (st->n_ports + 1) * sizeof(*st->ports));

		if (!n)
			return -ENOMEM;
		st->ports = n;
		memset(&n[st->n_ports], 0, sizeof(*n));
		if (parse_port(line, &n[st->n_ports]))
			return -EINVAL;
		st->n_ports++;
	} else if (strcmp(line, STATE_MAGIC) && line[0]) {
		return -EINVAL;
	}
	return 0;
}

/* Reads the whole file from fd; a torn last line (crash mid-write) is
 * ignored, it names nothing that was created yet. */
static int state_read(int fd, struct state *st)
{
	char *buf = malloc(STATE_MAX_BYTES + 1), *line, *save = NULL;
	ssize_t n;
	size_t len = 0;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	if (!buf)
		return -ENOMEM;
	while (len < STATE_MAX_BYTES &&
	       (n = pread(fd, buf + len, STATE_MAX_BYTES - len, (off_t)len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	if (len && buf[len - 1] != '\n') {
		char *nl = strrchr(buf, '\n');

		*(nl ? nl + 1 : buf) = '\0';
	}
	for (line = strtok_r(buf, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save))
		ret = parse_line(line, st);
	free(buf);
	return ret;
}

static void state_free(struct state *st)
{
	free(st->ports);
	st->ports = NULL;
}

/* Deletes the dead daemon's ports and nft table explicitly (synchronous),
 * rather than waiting for the namespace's asynchronous teardown. */
static int stale_router_clean(void *arg)
{
	const struct state *st = arg;
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

static int stale_remove(struct state *st, size_t *procs_ended)
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
	struct state st;
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
		state_read(fd, &st);
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
		state_free(&st);
		close(fd);
		return ret;
	}
	ret = state_read(fd, &st);
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
	state_free(&st);
	close(fd);
	return ret;
}

static bool port_matches(const struct topo_state_port *p, const char *name)
{
	const char *label = p->netns + strlen(TOPOLOGY_NS_PREFIX);

	return !strcmp(label, name) || !strcmp(p->eni_id, name) || !strcmp(p->name, name) ||
	       !strcmp(p->instance_id, name);
}

/* Best match in one lab: an instance id means its lowest device index. */
static const struct topo_state_port *lab_match(const struct state *st, const char *name)
{
	const struct topo_state_port *best = NULL;

	for (size_t i = 0; i < st->n_ports; i++) {
		const struct topo_state_port *p = &st->ports[i];

		if (!port_matches(p, name))
			continue;
		if (!best || p->device_index < best->device_index)
			best = p;
	}
	return best;
}

static int lookup_in_lab(const char *lab, const char *name, char *buf, size_t len, int *found)
{
	char path[300];
	const struct topo_state_port *p;
	struct state st;
	int fd = -1, ret;

	if (topo_state_path(lab, path, sizeof(path)))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ret = state_read(fd, &st);
	close(fd);
	if (!ret) {
		p = lab_match(&st, name);
		if (p && netns_exists(p->netns)) {
			if (*found && strcmp(buf, p->netns))
				ret = -EEXIST;
			else
				snprintf(buf, len, "%s", p->netns);
			++*found;
		}
	}
	state_free(&st);
	return ret == -EEXIST ? ret : 0;
}

int topology_lookup_netns(const char *lab, const char *name, char *buf, size_t len)
{
	struct dirent *de;
	DIR *d;
	int found = 0, ret = 0;

	if (lab) {
		lookup_in_lab(lab, name, buf, len, &found);
		return found ? 0 : -ENOENT;
	}
	d = opendir(TOPOLOGY_RUN_DIR);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d)) && !ret)
		if (de->d_name[0] != '.')
			ret = lookup_in_lab(de->d_name, name, buf, len, &found);
	closedir(d);
	if (ret)
		return ret;
	return found ? 0 : -ENOENT;
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
