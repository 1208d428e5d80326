/*
 * A vpcfwd of our own for one `vpcfw test` run, when none serves the lab:
 * a scratch directory, a copy of the lab with the outside hosts the flows
 * need and the lab does not declare, the daemon started under a private
 * name (vtest-<pid>) with its log in the scratch directory, watched while
 * the probes run, stopped (SIGTERM, then SIGKILL) and its directory
 * removed after. SIGINT/SIGTERM while it runs stop it too.
 *
 * Not for deciding which flows need it (cmd_test.c) or for sending
 * traffic (probe.c).
 *
 * Usage:
 *	struct test_vpcfwd d = {0};
 *	if (test_vpcfwd_dir(&d) == 0 &&
 *	    (!n_missing || test_vpcfwd_lab_with_hosts(&d, lab, missing, n_missing,
 *						      copy, sizeof(copy)) == 0) &&
 *	    test_vpcfwd_start(&d, n_missing ? copy : lab) == 0)
 *		probe_run_all(..., test_vpcfwd_check, &d);
 *	test_vpcfwd_stop(&d);		(always: removes the directory)
 */
#ifndef VPCFW_TEST_VPCFWD_H
#define VPCFW_TEST_VPCFWD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "addr.h"
#include "labnames.h"

struct test_vpcfwd {
	pid_t pid;
	char name[TOPOLOGY_LAB_NAME_MAX + 1];
	char dir[64];
	char log[96];
	bool died;
};

/* The scratch directory, /tmp/vpcfw-test.XXXXXX, into d->dir. 0 or
 * -errno. */
int test_vpcfwd_dir(struct test_vpcfwd *d);

/* A copy of the lab at lab_path in d->dir/lab with a host ("o<pid>-<i>")
 * for each address of addrs (repeats once); our lab file gets them under
 * "outside", describe-* files are linked as they are. Its path into out.
 * 0 or -errno. */
int test_vpcfwd_lab_with_hosts(const struct test_vpcfwd *d, const char *lab_path,
			       const struct ip_addr *addrs, size_t n, char *out, size_t len);

/* Starts vpcfwd ($VPCFWD, else the one beside this vpcfw, else from PATH)
 * on lab_path and waits until it is ready. 0, or -errno with the reason
 * and the daemon's log on stderr. */
int test_vpcfwd_start(struct test_vpcfwd *d, const char *lab_path);

/* For probe_run_all: "vpcfwd died during the run" once it has, else NULL. */
const char *test_vpcfwd_check(void *d);

/* Stops the daemon if it runs and removes the scratch directory. */
void test_vpcfwd_stop(struct test_vpcfwd *d);

#endif
