/*
 * The vpcfwd started for a `vpcfw test` run (test_vpcfwd.h): a child
 * process, never a library call, so the run sees the daemon a user runs.
 * Its readiness is its "ready: lab" log line; a daemon that dies is noticed
 * between flows (test_vpcfwd_check), and one left behind by a signal is
 * stopped by on_signal.
 */
#include "test_vpcfwd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_READY_S 60

/* ---- a copy of the lab with the hosts the run needs ---- */

static bool is_lab_format(const json_t *root)
{
	return json_is_object(root) &&
	       (json_object_get(root, "vpcs") || json_object_get(root, "outside") ||
		json_object_get(root, "lab"));
}

/* The hosts to add: {"name": "o<pid>-<i>", "addr": ...} per address. */
static json_t *extra_hosts(const struct ip_addr *addrs, size_t n)
{
	json_t *arr = json_array();
	char a[IP_ADDR_STRLEN], name[TOPOLOGY_LABEL_MAX + 1], seen[64][IP_ADDR_STRLEN];
	size_t ns = 0;
	for (size_t i = 0; i < n && ns < 64; i++) {
		ip_addr_format(&addrs[i], a, sizeof(a));
		size_t k;
		for (k = 0; k < ns && strcmp(seen[k], a); k++)
			;
		if (k < ns)
			continue;
		snprintf(seen[ns], sizeof(seen[ns]), "%s", a);
		snprintf(name, sizeof(name), "o%x-%zu", (unsigned)getpid() & 0xfffffu, ns++);
		json_array_append_new(arr, json_pack("{s:s, s:s}", "name", name, "addr", a));
	}
	return arr;
}

/* One file of the lab into dir: our lab file gets the extra hosts, any
 * other (describe-* output) is linked as it is. true when it took them. */
static bool copy_lab_file(const char *path, const char *dir, json_t *extra, bool give)
{
	char out[PATH_MAX], real[PATH_MAX], *base = strdup(path);
	bool took = false;
	if (!base)
		return false;
	snprintf(out, sizeof(out), "%s/%s", dir, basename(base));
	json_t *root = give ? json_load_file(path, 0, NULL) : NULL;
	if (root && is_lab_format(root)) {
		json_t *hosts = json_object_get(root, "outside");
		if (!json_is_array(hosts))
			json_object_set_new(root, "outside", (hosts = json_array()));
		json_array_extend(hosts, extra);
		took = json_dump_file(root, out, JSON_INDENT(2)) == 0;
	}
	if (!took && realpath(path, real))
		(void)!symlink(real, out);
	json_decref(root);
	free(base);
	return took;
}

int test_vpcfwd_lab_with_hosts(const struct test_vpcfwd *d, const char *lab_path,
			       const struct ip_addr *addrs, size_t n, char *out, size_t len)
{
	struct stat st;
	json_t *extra = extra_hosts(addrs, n);
	bool took = false;
	snprintf(out, len, "%s/lab", d->dir);
	if (stat(lab_path, &st) < 0 || mkdir(out, 0700) < 0) {
		json_decref(extra);
		return -errno;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(lab_path);
		struct dirent *e;
		char p[PATH_MAX];
		while (dir && (e = readdir(dir))) {
			size_t l = strlen(e->d_name);
			if (e->d_name[0] == '.' || l < 6 || strcmp(e->d_name + l - 5, ".json"))
				continue;
			snprintf(p, sizeof(p), "%s/%s", lab_path, e->d_name);
			took |= copy_lab_file(p, out, extra, !took);
		}
		if (dir)
			closedir(dir);
	} else {
		took = copy_lab_file(lab_path, out, extra, true);
	}
	int r = 0;
	if (!took) {
		char p[PATH_MAX + 32];
		json_t *root = json_pack("{s:O}", "outside", extra);
		snprintf(p, sizeof(p), "%s/vpcfw-test-outside.json", out);
		r = json_dump_file(root, p, JSON_INDENT(2)) == 0 ? 0 : -EIO;
		json_decref(root);
	}
	json_decref(extra);
	return r;
}

/* ---- the daemon ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path); /* best effort: what stays is reported by nothing */
	return 0;
}

static volatile pid_t test_vpcfwd_pid;

static void on_signal(int sig)
{
	pid_t pid = test_vpcfwd_pid;
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	_exit(128 + sig);
}

static void vpcfwd_path(char *buf, size_t len)
{
	const char *env = getenv("VPCFWD");
	char self[PATH_MAX];
	ssize_t n;
	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(buf, len, "%s/vpcfwd", dirname(self));
		if (access(buf, X_OK) == 0)
			return;
	}
	snprintf(buf, len, "vpcfwd");
}

static bool daemon_ready(struct test_vpcfwd *d)
{
	char line[512];
	bool ready = false;
	FILE *in = fopen(d->log, "r");
	while (in && !ready && fgets(line, sizeof(line), in))
		ready = strstr(line, "ready: lab") != NULL;
	if (in)
		fclose(in);
	return ready;
}

static void daemon_exec(const char *lab_path, const char *name, struct test_vpcfwd *d)
{
	char bin[PATH_MAX], flowlog[128];
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
	}
	vpcfwd_path(bin, sizeof(bin));
	snprintf(flowlog, sizeof(flowlog), "%s/flow.log", d->dir);
	execlp(bin, bin, "--lab", lab_path, "--name", name, "--flow-log", flowlog, (char *)NULL);
	fprintf(stderr, "vpcfw test: cannot run %s: %s\n", bin, strerror(errno));
	_exit(127);
}

static void daemon_cleanup_dir(struct test_vpcfwd *d)
{
	nftw(d->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void daemon_print_log(const struct test_vpcfwd *d)
{
	char line[512];
	FILE *in = fopen(d->log, "r");
	while (in && fgets(line, sizeof(line), in))
		fprintf(stderr, "  vpcfwd: %s", line);
	if (in)
		fclose(in);
}

int test_vpcfwd_dir(struct test_vpcfwd *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/vpcfw-test.XXXXXX");
	if (!mkdtemp(d->dir)) {
		d->dir[0] = '\0';
		return -errno;
	}
	return 0;
}

int test_vpcfwd_start(struct test_vpcfwd *d, const char *lab_path)
{
	snprintf(d->log, sizeof(d->log), "%s/vpcfwd.log", d->dir);
	snprintf(d->name, sizeof(d->name), "vtest-%x", (unsigned)getpid());
	fflush(NULL);
	d->pid = fork();
	if (d->pid == 0)
		daemon_exec(lab_path, d->name, d);
	if (d->pid < 0)
		return -errno;
	test_vpcfwd_pid = d->pid;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (int i = 0; i < TEST_READY_S * 10; i++) {
		if (daemon_ready(d))
			return 0;
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = 0;
			test_vpcfwd_pid = 0;
			fprintf(stderr, "vpcfw test: vpcfwd exited before it was ready:\n");
			daemon_print_log(d);
			return -ECHILD;
		}
		usleep(100000);
	}
	fprintf(stderr, "vpcfw test: vpcfwd not ready after %d s\n", TEST_READY_S);
	return -ETIMEDOUT;
}

void test_vpcfwd_stop(struct test_vpcfwd *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		int i;
		for (i = 0; i < 100 && waitpid(d->pid, NULL, WNOHANG) == 0; i++)
			usleep(100000);
		if (i == 100) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
		}
	}
	test_vpcfwd_pid = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (d->dir[0])
		daemon_cleanup_dir(d);
}

const char *test_vpcfwd_check(void *arg)
{
	struct test_vpcfwd *d = arg;
	if (d->pid <= 0 || d->died)
		return d->died ? "vpcfwd died during the run" : NULL;
	pid_t r = waitpid(d->pid, NULL, WNOHANG);
	if (r == d->pid || (r < 0 && errno == ECHILD)) {
		d->died = true;
		d->pid = 0;
		test_vpcfwd_pid = 0;
		return "vpcfwd died during the run";
	}
	return NULL;
}
