/*
 * The data path's workers: N threads, each reading its own capture ring of
 * one PACKET_FANOUT group (the kernel's symmetric flow hash spreads the
 * router's frames over them) and sending on its own transmit socket. What
 * decides is shared (datapath.c takes the connection tracker, the NAT
 * table and the fragment table under one lock per decision: the two
 * directions of a translated connection carry different tuples on the wire
 * and can reach different workers); what counts is per worker, summed when
 * read (dp_workers_sum).
 *
 * A worker keeps polling its ring for opts.busy_poll_us after the last
 * frame before it sleeps in poll(): a wake-up costs tens of microseconds on
 * a busy machine, more than a frame's whole trip through the daemon.
 *
 * A reload's commit parks every worker between two batches (datapath_pause:
 * each worker, at its quiescent point, waits on a condition variable), runs
 * on the loop's thread, then lets them go: the new rules and ports are
 * published to all workers at once and the old ones freed when no worker
 * can hold them. The control socket and the reloader stay on the loop's
 * thread. Not the frame handler (datapath.c) nor the set-up (datapath_setup.c).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "datapath-private.h"
#include "log.h"
#include "port.h"
#include "topology.h"

/* Counters are arrays of uint64_t to the summing code. */
_Static_assert(sizeof(struct dp_stats) % sizeof(uint64_t) == 0, "dp_stats: counters only");
_Static_assert(sizeof(struct dp_eni_stats) % sizeof(uint64_t) == 0, "dp_eni_stats: counters");

static unsigned dp_n_workers(const struct datapath *dp)
{
	return dp->opts.workers ? dp->opts.workers : 1;
}

/* ------------------------------------------------------------- opening */

static int dp_worker_open(struct datapath *dp, struct dp_worker *w, uint16_t fanout_id, char *err,
			  size_t errlen)
{
	struct port_opts po = {.mtu = dp->topo->mtu,
			       .ring_bytes = dp->opts.pcap_buffer,
			       .vnet = dp->topo->offloads_kept,
			       .fanout = dp->n_workers > 1,
			       .fanout_id = fanout_id};
	int rc;

	w->dp = dp;
	w->es = calloc(dp->n_enis ? dp->n_enis : 1, sizeof(*w->es));
	if (!w->es) {
		snprintf(err, errlen, "datapath: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	rc = port_open(&po, &w->ring, err, errlen);
	if (rc < 0)
		return rc;
	return port_tx_open(dp->opts.batch, dp->topo->mtu + 18, dp->topo->offloads_kept, &w->tx,
			    err, errlen);
}

int dp_workers_open(struct datapath *dp, char *err, size_t errlen)
{
	/* One group per daemon; groups are per network namespace, and the
	 * router namespace is this lab's alone. */
	uint16_t fanout_id = (uint16_t)(getpid() & 0xffff);
	int rc;

	dp->workers = calloc(dp_n_workers(dp), sizeof(*dp->workers));
	if (!dp->workers) {
		snprintf(err, errlen, "datapath: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	dp->n_workers = dp_n_workers(dp);
	dp->threaded = dp->opts.workers > 0;
	for (unsigned i = 0; i < dp->n_workers; i++) {
		rc = dp_worker_open(dp, &dp->workers[i], fanout_id, err, errlen);
		if (rc < 0)
			return rc;
	}
	dp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dp->wake_fd < 0) {
		snprintf(err, errlen, "datapath: eventfd: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* ------------------------------------------------------------- threads */

static bool dp_flag(int *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE) != 0;
}

/* The quiescent point: between two batches, nothing of the rules or the
 * ports held. */
static void dp_worker_park(struct dp_worker *w)
{
	struct datapath *dp = w->dp;

	pthread_mutex_lock(&dp->park_lock);
	dp->parked++;
	pthread_cond_signal(&dp->parked_cv);
	while (dp_flag(&dp->pause_req) && !dp_flag(&dp->stop))
		pthread_cond_wait(&dp->resume_cv, &dp->park_lock);
	dp->parked--;
	pthread_mutex_unlock(&dp->park_lock);
}

static void *dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct datapath *dp = w->dp;
	uint64_t spin_ns = (uint64_t)dp->opts.busy_poll_us * 1000u, last = 0;
	struct pollfd pf[2] = {{.fd = port_fd(w->ring), .events = POLLIN},
			       {.fd = dp->wake_fd, .events = POLLIN}};

	while (!dp_flag(&dp->stop)) {
		if (dp_flag(&dp->pause_req)) {
			dp_worker_park(w);
			continue;
		}
		if (dp_worker_batch(w) > 0) {
			last = w->now_ns;
			continue;
		}
		/* Traffic flowing: the next frame is likely microseconds away.
		 * Yielding while spinning lets a woken task of this core (the
		 * lab's own processes, on a small machine) run first. */
		if (w->now_ns - last < spin_ns) {
			sched_yield();
			continue;
		}
		/* Never leave the loop but to stop: a pause waits for every
		 * worker. A failing poll() (no memory) is retried gently. */
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			usleep(1000);
	}
	return NULL;
}

/* Every signal blocked in the workers (inherited from the mask at
 * creation): SIGTERM, SIGHUP, SIGUSR1 are the loop's, read from its
 * signalfds; one delivered to a worker would bypass them. */
int dp_workers_start(struct datapath *dp, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc = 0;

	if (!dp->threaded)
		return 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < dp->n_workers && rc == 0; i++) {
		struct dp_worker *w = &dp->workers[i];
		char name[16];

		rc = -pthread_create(&w->thread, NULL, dp_worker_main, w);
		w->started = rc == 0;
		snprintf(name, sizeof(name), "vpcfwd-w%u", i % 1000u);
		if (w->started)
			pthread_setname_np(w->thread, name);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		snprintf(err, errlen, "datapath: starting a worker thread: %s", strerror(-rc));
	else
		log_debug("data path: %u workers, busy polling %u us", dp->n_workers,
			  dp->opts.busy_poll_us);
	return rc;
}

static void dp_wake(struct datapath *dp)
{
	uint64_t one = 1;

	if (write(dp->wake_fd, &one, sizeof(one)) < 0)
		return; /* a full counter wakes them as well */
}

void dp_workers_close(struct datapath *dp)
{
	if (!dp->workers)
		return;
	pthread_mutex_lock(&dp->park_lock);
	__atomic_store_n(&dp->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&dp->resume_cv);
	pthread_mutex_unlock(&dp->park_lock);
	if (dp->wake_fd >= 0)
		dp_wake(dp);
	for (unsigned i = 0; i < dp->n_workers; i++) {
		struct dp_worker *w = &dp->workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		port_close(w->ring);
		port_tx_close(w->tx);
		free(w->es);
	}
	if (dp->wake_fd >= 0)
		close(dp->wake_fd);
	free(dp->workers);
	dp->workers = NULL;
	dp->n_workers = 0;
}

static unsigned dp_n_started(const struct datapath *dp)
{
	unsigned n = 0;

	for (unsigned i = 0; i < dp->n_workers; i++)
		n += dp->workers[i].started;
	return n;
}

void datapath_pause(struct datapath *dp)
{
	if (!dp->threaded || dp->pause_depth++)
		return;
	pthread_mutex_lock(&dp->park_lock);
	__atomic_store_n(&dp->pause_req, 1, __ATOMIC_RELEASE);
	dp_wake(dp); /* out of poll() */
	while (dp->parked < dp_n_started(dp))
		pthread_cond_wait(&dp->parked_cv, &dp->park_lock);
	pthread_mutex_unlock(&dp->park_lock);
}

void datapath_resume(struct datapath *dp)
{
	uint64_t drained;

	if (!dp->threaded || !dp->pause_depth || --dp->pause_depth)
		return;
	pthread_mutex_lock(&dp->park_lock);
	/* Drained first, or the workers' poll() would return at once. */
	if (read(dp->wake_fd, &drained, sizeof(drained)) < 0)
		drained = 0;
	__atomic_store_n(&dp->pause_req, 0, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&dp->resume_cv);
	pthread_mutex_unlock(&dp->park_lock);
}

/* ------------------------------------------------------------ counters */

static void dp_sum(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

#define DP_SUM(dst, src) dp_sum((uint64_t *)(dst), (const uint64_t *)(src), sizeof(*(src)) / 8)

void dp_workers_fold(struct datapath *dp)
{
	for (unsigned k = 0; k < dp->n_workers; k++) {
		struct dp_worker *w = &dp->workers[k];

		for (size_t i = 0; i < dp->n_enis; i++) {
			DP_SUM(&dp->enis[i].st, &w->es[i]);
			memset(&w->es[i], 0, sizeof(w->es[i]));
		}
	}
}

struct dp_eni_stats **dp_workers_alloc_enis(const struct datapath *dp, size_t n)
{
	struct dp_eni_stats **es = calloc(dp->n_workers, sizeof(*es));

	for (unsigned k = 0; es && k < dp->n_workers; k++) {
		es[k] = calloc(n ? n : 1, sizeof(**es));
		if (!es[k]) {
			dp_workers_free_enis(dp, es);
			return NULL;
		}
	}
	return es;
}

void dp_workers_free_enis(const struct datapath *dp, struct dp_eni_stats **es)
{
	for (unsigned k = 0; es && k < dp->n_workers; k++)
		free(es[k]);
	free(es);
}

void dp_workers_set_enis(struct datapath *dp, struct dp_eni_stats **es)
{
	for (unsigned k = 0; k < dp->n_workers; k++) {
		free(dp->workers[k].es);
		dp->workers[k].es = es[k];
	}
	free(es);
}

/* The global counters and the first n ENIs' (without the tracker's and the
 * flow log's figures, datapath_stats adds them). */
void dp_workers_sum(struct datapath *dp, struct dp_stats *out, struct dp_eni_stats *es, size_t n)
{
	memset(out, 0, sizeof(*out));
	DP_SUM(out, &dp->st);
	for (size_t i = 0; es && i < n; i++) {
		memset(&es[i], 0, sizeof(es[i]));
		DP_SUM(&es[i], &dp->enis[i].st);
	}
	for (unsigned k = 0; k < dp->n_workers; k++) {
		struct dp_worker *w = &dp->workers[k];
		const struct port_tx_stats *tx = port_tx_stats(w->tx);

		DP_SUM(out, &w->st);
		for (size_t i = 0; es && i < n; i++)
			DP_SUM(&es[i], &w->es[i]);
		out->tx_pkts += __atomic_load_n(&tx->frames, __ATOMIC_RELAXED);
		out->tx_bytes += __atomic_load_n(&tx->bytes, __ATOMIC_RELAXED);
		out->tx_errors += __atomic_load_n(&tx->errors, __ATOMIC_RELAXED);
		out->tx_syscalls += __atomic_load_n(&tx->syscalls, __ATOMIC_RELAXED);
		out->pcap_kernel_drops += dp_kernel_drops(dp, w);
	}
}

/* Per worker: what its ring brought and its socket sent, so that a test
 * (or a user) sees every core work. */
json_t *dp_workers_json(struct datapath *dp)
{
	json_t *a = json_array();

	for (unsigned k = 0; a && k < dp->n_workers; k++) {
		struct dp_worker *w = &dp->workers[k];
		const struct port_tx_stats *tx = port_tx_stats(w->tx);
		uint64_t drops = 0;

		if (w->ring)
			port_kernel_drops(w->ring, &drops);
		json_t *o = json_pack(
		    "{sI sI sI sI}", "rx_pkts",
		    (json_int_t)__atomic_load_n(&w->st.rx_pkts, __ATOMIC_RELAXED), "tx_pkts",
		    (json_int_t)__atomic_load_n(&tx->frames, __ATOMIC_RELAXED), "foreign_frames",
		    (json_int_t)__atomic_load_n(&w->foreign_frames, __ATOMIC_RELAXED),
		    "pcap_kernel_drops", (json_int_t)drops);
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

unsigned datapath_default_workers(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}
