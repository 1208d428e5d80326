/*
 * Reloads off the packet path (reloader.h): a queue of requests served one
 * at a time by a detached thread per load, an eventfd the thread rings when
 * it is done, and a timerfd that gives up on a load stuck in the kernel.
 *
 * The thread and the loop share one job and agree on who frees it through
 * one atomic state: the thread fills the results, then moves RUNNING to
 * FINISHED and the loop takes them; or the loop moved it to ABANDONED
 * first (timeout, shutdown) and the thread frees everything itself. The
 * thread never touches the reloader, only a duplicate of its eventfd that
 * it closes on its way out, so a reloader may go while a load is stuck.
 *
 * Not for: what a reload means (the daemon's ops), the lab format.
 */
#include "reloader.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "load.h"
#include "log.h"
#include "loop.h"
#include "sgtable.h"

enum job_state { JOB_RUNNING, JOB_FINISHED, JOB_ABANDONED };

/* Load threads alive in the process, the one running included: they may
 * outlive any reloader (a load given up is still blocked in the kernel). */
static atomic_uint live_threads;

struct reload_job {
	struct reload_job *next;
	bool want_source; /* no path asked: the source in use when it starts */
	bool first;	  /* queued ahead of the others (root's) */
	char *path;	  /* NULL: the built-in lab */
	reloader_done_fn done;
	void *ctx;
	/* The thread's, until state says otherwise. */
	int (*load)(const char *path, struct lab **out, struct diag_list *diags);
	int notify_fd;
	atomic_int state;
	int rc;
	struct lab *lab;
	struct diag_list diags;
};

struct reloader {
	struct loop *loop;
	struct reloader_ops ops;
	int efd, tfd;
	struct reload_job *queue, **tail;
	size_t n_queued;
	struct reload_job *running;
};

static void job_free(struct reload_job *j)
{
	lab_free(j->lab);
	diag_free(&j->diags);
	free(j->path);
	free(j);
}

static void *job_thread(void *arg)
{
	struct reload_job *j = arg;
	int fd = j->notify_fd, expected = JOB_RUNNING;
	uint64_t one = 1;

	j->rc = j->load(j->path, &j->lab, &j->diags);
	if (j->rc >= 0 && j->lab)
		reloader_compile(j->lab);
	if (!atomic_compare_exchange_strong(&j->state, &expected, JOB_FINISHED))
		job_free(j); /* abandoned: nobody waits for it any more */
	else
		(void)!write(fd, &one, sizeof(one)); /* a full counter rings as well */
	close(fd);
	atomic_fetch_sub(&live_threads, 1);
	return NULL;
}

void reloader_compile(struct lab *lab)
{
	const struct sg_tables_limits lim = {SG_TABLES_MAX_BYTES, SG_TABLES_MAX_SECONDS};
	struct sg_tables_stats st;
	int rc = sg_tables_attach(lab, &lim, &st);

	if (rc < 0) {
		log_warn("security group rules not compiled (%s): first packets scan them",
			 strerror(-rc));
		return;
	}
	log_info("security group rules compiled: %zu tables for %zu group lists of %zu ENIs, "
		 "%zu regions, %.1f MiB, %.0f ms",
		 st.tables, st.sets, st.enis, st.regions, (double)st.bytes / (1 << 20),
		 st.seconds * 1e3);
	if (st.scanned_enis)
		log_warn("%zu ENIs past the tables' limits (%zu MiB, %.0f s): their rules are "
			 "scanned",
			 st.scanned_enis, SG_TABLES_MAX_BYTES >> 20, SG_TABLES_MAX_SECONDS);
}

static void set_timer(struct reloader *r, time_t seconds)
{
	struct itimerspec its = {.it_value = {seconds, 0}};

	timerfd_settime(r->tfd, 0, &its, NULL);
}

/* The end of a request: the daemon's verdict, then the requester's. */
static void job_complete(struct reloader *r, struct reload_job *j, int rc, struct lab *next,
			 const struct diag_list *diags, char *err, size_t errlen)
{
	rc = r->ops.finish(r->ops.arg, j->path, rc, next, diags, err, errlen);
	if (rc < 0)
		lab_free(next);
	if (j->done)
		j->done(j->ctx, rc, diags, err);
}

static void job_fail(struct reloader *r, struct reload_job *j, int rc, const char *msg)
{
	char err[PATH_MAX + 256];
	struct diag_list none;

	diag_init(&none);
	snprintf(err, sizeof(err), "%s", msg);
	job_complete(r, j, rc, NULL, &none, err, sizeof(err));
}

static int job_launch(struct reloader *r, struct reload_job *j)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (atomic_load(&live_threads) >= RELOADER_STUCK)
		return -EDEADLK;
	if (j->want_source) {
		const char *src = r->ops.source(r->ops.arg);
		if (src && !(j->path = strdup(src)))
			return -ENOMEM;
	}
	r->ops.begin(r->ops.arg, j->path);
	j->notify_fd = fcntl(r->efd, F_DUPFD_CLOEXEC, 0);
	if (j->notify_fd < 0)
		return -errno;
	atomic_init(&j->state, JOB_RUNNING);
	atomic_fetch_add(&live_threads, 1);
	rc = pthread_attr_init(&attr);
	if (!rc) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &attr, job_thread, j);
		pthread_attr_destroy(&attr);
	}
	if (rc) {
		atomic_fetch_sub(&live_threads, 1);
		close(j->notify_fd);
		return -rc;
	}
	r->running = j;
	set_timer(r, (time_t)r->ops.timeout);
	return 0;
}

/* Starts the next request when none runs. */
static void reloader_next(struct reloader *r)
{
	while (!r->running && r->queue) {
		struct reload_job *j = r->queue;
		int rc;

		r->queue = j->next;
		if (!r->queue)
			r->tail = &r->queue;
		r->n_queued--;
		rc = job_launch(r, j);
		if (rc < 0) {
			char msg[160];
			if (rc == -EDEADLK)
				snprintf(msg, sizeof(msg),
					 "%d loads given up earlier are still blocked (a hung file "
					 "system?): try again later",
					 RELOADER_STUCK);
			else
				snprintf(msg, sizeof(msg), "cannot start loading the lab: %s",
					 strerror(-rc));
			job_fail(r, j, rc, msg);
			job_free(j);
		}
	}
}

static void on_done(void *arg, int fd, uint32_t events)
{
	struct reloader *r = arg;
	struct reload_job *j = r->running;
	uint64_t n;
	char err[1024] = "";

	(void)events;
	if (read(fd, &n, sizeof(n)) < 0)
		n = 0; /* a request only: nothing to read */
	if (j && atomic_load(&j->state) == JOB_FINISHED) {
		r->running = NULL;
		set_timer(r, 0);
		job_complete(r, j, j->rc, j->lab, &j->diags, err, sizeof(err));
		j->lab = NULL; /* finish took it, or job_complete freed it */
		job_free(j);
	}
	reloader_next(r);
}

/* Gives the running load up: 0, or -EALREADY when it has just finished
 * (its results are then the loop's to take). */
static int job_abandon(struct reload_job *j)
{
	int expected = JOB_RUNNING;

	return atomic_compare_exchange_strong(&j->state, &expected, JOB_ABANDONED) ? 0 : -EALREADY;
}

static void on_timeout(void *arg, int fd, uint32_t events)
{
	struct reloader *r = arg;
	struct reload_job *j = r->running, copy;
	char msg[PATH_MAX + 128];
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 || !j)
		return;
	/* The thread keeps j and its path: the requester's part is copied. */
	copy = (struct reload_job){.done = j->done, .ctx = j->ctx};
	if (j->path && !(copy.path = strdup(j->path)))
		copy.path = NULL;
	if (job_abandon(j) == 0) {
		r->running = NULL;
		snprintf(msg, sizeof(msg),
			 "%s: loading the lab took more than %u s (a hung file system?): given up",
			 copy.path ? copy.path : "the built-in lab", r->ops.timeout);
		job_fail(r, &copy, -ETIMEDOUT, msg);
		reloader_next(r);
	}
	free(copy.path);
}

int reloader_create(struct loop *l, const struct reloader_ops *ops, struct reloader **out)
{
	struct reloader *r = calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->loop = l;
	r->ops = *ops;
	if (!r->ops.timeout)
		r->ops.timeout = RELOADER_TIMEOUT;
	r->tail = &r->queue;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->efd < 0 || r->tfd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = loop_add_fd(l, r->efd, EPOLLIN, on_done, r)) < 0)
		goto fail;
	if ((rc = loop_add_fd(l, r->tfd, EPOLLIN, on_timeout, r)) < 0) {
		loop_del_fd(l, r->efd);
		goto fail;
	}
	*out = r;
	return 0;
fail:
	if (r->efd >= 0)
		close(r->efd);
	if (r->tfd >= 0)
		close(r->tfd);
	free(r);
	return rc;
}

int reloader_request(struct reloader *r, const char *path, bool first, reloader_done_fn done,
		     void *ctx)
{
	struct reload_job *j;
	uint64_t one = 1;

	/* SIGHUPs in a burst: one waiting reload of the source does for all. */
	if (!path && !done)
		for (j = r->queue; j; j = j->next)
			if (j->want_source && !j->done)
				return 0;
	if (r->n_queued >= RELOADER_QUEUE)
		return -EBUSY;
	j = calloc(1, sizeof(*j));
	if (!j || (path && !(j->path = strdup(path)))) {
		free(j);
		return -ENOMEM;
	}
	j->want_source = !path;
	j->done = done;
	j->ctx = ctx;
	j->load = r->ops.load;
	diag_init(&j->diags);
	j->first = first;
	/* After the last request that was also first: in order among them. */
	struct reload_job **pp = &r->queue;
	while (first && *pp && (*pp)->first)
		pp = &(*pp)->next;
	if (!first)
		pp = r->tail;
	j->next = *pp;
	*pp = j;
	if (!j->next)
		r->tail = &j->next;
	r->n_queued++;
	/* Started from the loop, so that done never runs inside this call
	 * (a full counter rings as well). */
	(void)!write(r->efd, &one, sizeof(one));
	return 0;
}

void reloader_destroy(struct reloader *r)
{
	struct reload_job *j;

	if (!r)
		return;
	if ((j = r->running)) {
		struct reload_job copy = {.done = j->done, .ctx = j->ctx};
		if (job_abandon(j) < 0)
			job_free(j); /* finished, its results never taken */
		j = &copy;
		if (j->done)
			j->done(j->ctx, -ECANCELED, &(struct diag_list){0},
				"the daemon is stopping");
	}
	while ((j = r->queue)) {
		r->queue = j->next;
		if (j->done)
			j->done(j->ctx, -ECANCELED, &j->diags, "the daemon is stopping");
		job_free(j);
	}
	loop_del_fd(r->loop, r->efd);
	loop_del_fd(r->loop, r->tfd);
	close(r->efd);
	close(r->tfd);
	free(r);
}
