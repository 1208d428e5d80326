/*
 * vpcfw exec: run a program inside an ENI's or outside host's namespace,
 * the lab's Session Manager. NAME is a namespace label, Name tag, ENI id,
 * instance id or outside host name; it is found, in this order, as
 * /run/netns/vpcfw-NAME, in the state files of running labs (what vpcfwd
 * built, common/labstate.h), or by loading the lab given with --lab PATH. Then the
 * process joins the namespace (and, like `ip netns exec`, gets a private
 * /sys showing that namespace's devices) and becomes the program: its exit
 * status is the program's. Not for choosing names: common/labnames.c does
 * that, for the daemon and for us.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "diag.h"
#include "labstate.h"
#include "load.h"
#include "nsenter.h"

/* As env(1), nohup(1), chroot(1): our own failures are 125, a program
 * that cannot run 126, one that does not exist 127; anything else is the
 * program's own status. */
#define EXEC_FAIL 125
#define EXEC_CANNOT_RUN 126
#define EXEC_NOT_FOUND 127

static void usage(FILE *out)
{
	fprintf(out, "usage: vpcfw exec [--lab LAB] NAME [--] COMMAND [ARG...]\n"
		     "\n"
		     "Runs COMMAND inside the network namespace of NAME: a Name tag, ENI id,\n"
		     "instance id (its ENI at device index 0) or outside host name of a lab\n"
		     "vpcfwd is running. Needs root.\n"
		     "\n"
		     "  --lab LAB   only look in lab LAB: the lab name vpcfwd runs under, or the\n"
		     "              lab's path (its files are loaded to map ids to names).\n"
		     "              Default: $VPCFW_LAB, else every running lab (a NAME found in\n"
		     "              two labs is an error).\n"
		     "\n"
		     "Exit status: COMMAND's; 125 when vpcfw exec itself fails, 126 when COMMAND\n"
		     "cannot run, 127 when it is not found.\n");
}

/* NAME through a lab's files: the same naming topology_create uses. */
static int netns_from_lab_files(const char *path, const char *name, char *buf, size_t len)
{
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;
	struct endpoint ep;
	int ret = -ENOENT;

	lab_load_opts_init(&o);
	diag_init(&d);
	if (lab_load(path, &o, &lab, &d) < 0) {
		char line[1024];

		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "vpcfw exec: %s\n",
				diag_format(&d.items[i], line, sizeof(line)));
		diag_free(&d);
		return -EINVAL;
	}
	for (size_t i = 0; i < lab->n_outside && ret; i++)
		if (lab->outside[i].name && !strcmp(lab->outside[i].name, name))
			ret = topology_outside_netns(lab, (int32_t)i, buf, len);
	if (ret && lab_resolve_endpoint(lab, name, &ep) == 0) {
		if (ep.kind == ENDPOINT_ENI)
			ret = topology_eni_netns(lab, ep.eni, buf, len);
		else if (ep.outside >= 0)
			ret = topology_outside_netns(lab, ep.outside, buf, len);
	}
	lab_free(lab);
	diag_free(&d);
	return ret;
}

static int resolve(const char *lab, const char *name, char *buf, size_t len)
{
	struct stat st;
	bool lab_is_path = lab && (strchr(lab, '/') || stat(lab, &st) == 0);
	int ret;

	snprintf(buf, len, TOPOLOGY_NS_PREFIX "%s", name);
	if (!strchr(name, '/') && netns_exists(buf))
		return 0;
	ret = topology_lookup_netns(lab_is_path ? NULL : lab, name, buf, len);
	if (ret == -EEXIST) {
		fprintf(stderr,
			"vpcfw exec: '%s' names endpoints in several running labs: use --lab\n",
			name);
		return ret;
	}
	if (ret == 0 || !lab_is_path)
		return ret;
	ret = netns_from_lab_files(lab, name, buf, len);
	if (ret == 0 && !netns_exists(buf)) {
		fprintf(stderr,
			"vpcfw exec: %s is %s, which does not exist: is vpcfwd running %s?\n", name,
			buf, lab);
		return -ENXIO;
	}
	return ret;
}

/* As `ip netns exec`: a mount namespace of our own whose /sys is the
 * target namespace's, so /sys/class/net lists its devices. Best effort:
 * the network namespace switch is what matters. */
static void private_sysfs(void)
{
	if (unshare(CLONE_NEWNS))
		return;
	if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL))
		return;
	if (umount2("/sys", MNT_DETACH) == 0)
		mount("sysfs", "/sys", "sysfs", 0, NULL);
}

int cmd_exec(int argc, char **argv)
{
	const char *lab = getenv("VPCFW_LAB");
	char ns[NETNS_NAME_MAX + 32];
	int i = 1, fd, saved, ret;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--lab") && i + 1 < argc) {
			lab = argv[++i];
		} else if (!strncmp(argv[i], "--lab=", 6)) {
			lab = argv[i] + 6;
		} else {
			fprintf(stderr, "vpcfw exec: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXEC_FAIL;
		}
	}
	if (lab && !*lab)
		lab = NULL;
	if (i >= argc) {
		usage(stderr);
		return EXEC_FAIL;
	}
	const char *name = argv[i++];

	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc) {
		fprintf(stderr, "vpcfw exec: no command given\n");
		usage(stderr);
		return EXEC_FAIL;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "vpcfw exec: needs root (joining a network namespace needs "
				"CAP_SYS_ADMIN): try sudo vpcfw exec ...\n");
		return EXEC_FAIL;
	}
	ret = resolve(lab, name, ns, sizeof(ns));
	if (ret) {
		/* -ENOENT is the one failure resolve() has not explained. */
		if (ret != -ENOENT)
			return EXEC_FAIL;
		fprintf(stderr,
			"vpcfw exec: no namespace for '%s'%s%s (a Name tag, ENI id, instance id or "
			"outside host of a lab vpcfwd is running)\n",
			name, lab ? " in lab " : "", lab ? lab : "");
		return EXEC_FAIL;
	}
	fd = netns_open(ns);
	ret = fd < 0 ? fd : netns_enter(fd, &saved);
	if (ret < 0) {
		fprintf(stderr, "vpcfw exec: entering %s: %s\n", ns, strerror(-ret));
		return EXEC_FAIL;
	}
	close(saved); /* for good: this process becomes the program */
	close(fd);
	private_sysfs();
	execvp(argv[i], argv + i);
	fprintf(stderr, "vpcfw exec: %s: %s\n", argv[i], strerror(errno));
	return errno == ENOENT ? EXEC_NOT_FOUND : EXEC_CANNOT_RUN;
}
