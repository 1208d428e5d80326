/*
 * vpcfwd: the daemon's main. Reads the options, loads and validates the lab
 * (before anything is created: a config error exits 2 with the loader's
 * messages), checks that it can enforce (never runs "open"), builds the lab
 * as namespaces (daemon/topology), starts the data path (daemon/datapath)
 * and its event loop (daemon/loop), and on SIGINT/SIGTERM removes
 * everything it built after flushing the flow logs. SIGHUP reloads the
 * lab from the same source, rules and namespaces (added and removed ENIs;
 * a failed reload keeps the running rules and topology);
 * SIGUSR1 logs every counter as one JSON line.
 *
 * The lab name (namespaces, nft table, state and flow-log directories) is
 * --name, else the lab's own name as the loader gives it (the lab file's
 * "lab" key, else the file or directory name): see docs/vpcfwd.md.
 *
 * Not for policy or packets: every decision is rules/'s, every frame the
 * data path's. Exit status: 0 clean stop, 1 runtime failure, 2 bad usage or
 * lab.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "control.h"
#include "datapath.h"
#include "diag.h"
#include "flowlog.h"
#include "load.h"
#include "log.h"
#include "loop.h"
#include "model.h"
#include "outfile.h"
#include "own.h"
#include "reloader.h"
#include "topology.h"
#include "topology_remote.h"
#include "vpcfwd_args.h"

extern const unsigned char vpcfw_default_lab[];
extern const size_t vpcfw_default_lab_len;

#define DEFAULT_LAB_LABEL "ten-thousand (built in)"

static void print_diags(const struct diag_list *d)
{
	char buf[1024];

	for (size_t i = 0; i < d->n; i++)
		log_msg(d->items[i].level == DIAG_ERROR ? LOG_LVL_ERR : LOG_LVL_WARN, "%s",
			diag_format(&d->items[i], buf, sizeof(buf)));
	if (d->n < d->n_errors + d->n_warnings)
		log_err("%zu more problems could not be recorded (out of memory)",
			d->n_errors + d->n_warnings - d->n);
}

static const char *own_list; /* --own, set once before any load */
/* A lab from path (NULL: built in), --own marked; also on the reloader's thread. */
static int load_source(const char *path, struct lab **out, struct diag_list *diags)
{
	struct lab_load_opts lo;
	int r;

	lab_load_opts_init(&lo);
	r = path ? lab_load(path, &lo, out, diags)
		 : lab_load_buffer(DEFAULT_LAB_LABEL, (const char *)vpcfw_default_lab,
				   vpcfw_default_lab_len, &lo, out, diags);
	return r < 0 || !own_list ? r : lab_own_or_free(out, own_list, diags);
}

static int load_lab(const struct options *o, struct lab **out)
{
	struct diag_list d;
	int r;

	diag_init(&d);
	r = load_source(o->lab_path, out, &d);
	print_diags(&d);
	if (r >= 0 && !o->check_only)
		reloader_compile(*out); /* the tables first packets are answered from */
	if (r < 0 && d.n_errors == 0)
		log_err("%s: cannot load the lab: %s",
			o->lab_path ? o->lab_path : DEFAULT_LAB_LABEL, strerror(-r));
	diag_free(&d);
	return r < 0 ? -1 : 0;
}

/* --name, else the loader's name for the lab. */
static const char *choose_lab_name(const struct options *o, const struct lab *lab)
{
	const char *name = o->name ? o->name : lab->name;

	if (!name || !*name) {
		log_err("the lab has no name; give one with --name");
		return NULL;
	}
	if (!topology_lab_name_valid(name)) {
		log_err("%s '%s' is not a usable lab name: 1 to %d characters of A-Z a-z 0-9 _ . - "
			"(used in namespace and directory names)%s",
			o->name ? "--name" : "lab name", name, TOPOLOGY_LAB_NAME_MAX,
			o->name ? "" : "; give another with --name");
		return NULL;
	}
	return name;
}

/*
 * The capabilities topology and capture need, read from the kernel's view
 * of this process (CapEff), so that an unprivileged start fails at once and
 * says why instead of half-building a lab or, worse, running unfiltered.
 */
static int check_capabilities(void)
{
	static const struct {
		int bit;
		const char *name;
		const char *why;
	} caps[] = {
	    {12, "CAP_NET_ADMIN", "create veths, addresses, routes and nftables tables"},
	    {13, "CAP_NET_RAW", "capture and send frames"},
	    {21, "CAP_SYS_ADMIN", "create and mount network namespaces"},
	};
	unsigned long long eff = 0;
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f) {
		log_err("cannot read /proc/self/status to check capabilities: %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			found = true;
			break;
		}
	fclose(f);
	if (!found) {
		log_err("cannot find CapEff in /proc/self/status");
		return -1;
	}
	int missing = 0;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (!(eff & (1ULL << caps[i].bit))) {
			log_err("missing %s (needed to %s)", caps[i].name, caps[i].why);
			missing++;
		}
	if (missing) {
		log_err("refusing to start: without these capabilities vpcfwd cannot build or "
			"filter the lab (run it as root)");
		return -1;
	}
	return 0;
}

/* What the running daemon holds; torn down in reverse order by stop(). */
struct daemon {
	struct options opts;
	const char *name;
	char flowlog_path[PATH_MAX];
	gid_t file_gid;	       /* of the flow log and captures: the control group's */
	struct lab *lab;       /* the running rules */
	struct lab *lab_built; /* the lab the topology was built from */
	struct topology *topo;
	struct datapath *dp;
	struct loop *loop;
	struct control *control;
	struct reloader *reloader;
	char reload_path[PATH_MAX]; /* a lab path given to `vpcfw reload` */
	int usr1_fd;
	bool watchdog;
};

static volatile sig_atomic_t early_stop;

/* Only until the loop's signalfds take over: a stop request during set-up
 * is remembered, set-up finishes or fails, and everything is removed;
 * SIGHUP and SIGUSR1 mean nothing before the lab runs. */
static void on_early_signal(int sig)
{
	if (sig != SIGHUP)
		early_stop = 1;
}

static void install_early_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_early_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Its default action would kill the daemon before the loop reads it. */
	sigaction(SIGUSR1, &sa, NULL);
	/* A client that goes away mid-write must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
}

static void log_stats(struct daemon *d)
{
	json_t *st = datapath_stats_json(d->dp, DP_STATS_FLAT);
	char *buf = st ? json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	if (buf)
		log_info("stats %s", buf);
	free(buf);
	json_decref(st);
}

static void on_usr1(void *arg, int fd, uint32_t events)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	log_stats(d);
}

static void on_tick(void *arg)
{
#ifdef HAVE_LIBSYSTEMD
	struct daemon *d = arg;

	if (d->watchdog)
		sd_notify(0, "WATCHDOG=1");
#else
	(void)arg;
#endif
}

static void notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

/* SIGUSR1 through the loop: blocked here, read from a signalfd. */
static int setup_usr1(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	d->usr1_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->usr1_fd < 0)
		return -errno;
	return loop_add_fd(d->loop, d->usr1_fd, EPOLLIN, on_usr1, d);
}

static int setup_reloads(struct daemon *d);
static int control_reload(void *arg, const char *path, bool root, control_reload_done_fn done,
			  void *ctx);

static int start(struct daemon *d)
{
	char err[512];
	struct topology_options to = {.keep_offloads = d->opts.offloads, .stop = &early_stop};
	struct datapath_opts dpo;
	int r;

	r = topology_create(d->lab, &to, &d->topo, err, sizeof(err));
	if (r == 0)
		r = topology_remote_attach(d->topo, d->lab, d->opts.remote, err, sizeof(err));
	if (r < 0 && r != -EINTR)
		log_err("cannot build lab %s: %s", d->name, err);
	/* Stopped while building: nothing else to start, all to remove. */
	if (r < 0 || early_stop)
		return -1;
	if (d->topo->stale_removed)
		log_warn("removed %zu namespaces a previous vpcfwd of lab %s left behind",
			 d->topo->stale_removed, d->name);
	if (d->topo->stale_processes)
		log_warn("ended %zu processes still running in them (vpcfw exec)",
			 d->topo->stale_processes);
	log_debug("lab %s built: router namespace %s, %zu ports, MTU %u, offloads %s", d->name,
		  d->topo->router_ns, d->topo->n_ports, d->topo->mtu,
		  d->topo->offloads_kept ? "kept" : "off");

	datapath_opts_init(&dpo);
	dpo.flowlog_path = d->flowlog_path;
	dpo.flowlog_format = d->opts.flowlog_format;
	dpo.flowlog_interval = d->opts.flowlog_interval;
	dpo.pcap_dir = d->opts.pcap_dir;
	dpo.file_gid = d->file_gid;
	dpo.workers = d->opts.workers ? d->opts.workers : datapath_default_workers();
	dpo.busy_poll_us = d->opts.busy_poll_us;
	r = datapath_create(d->lab, d->topo, &dpo, &d->dp, err, sizeof(err));
	if (r < 0) {
		log_err("cannot start the data path: %s", err);
		return -1;
	}
	r = loop_create(d->dp, &d->loop, err, sizeof(err));
	if (r < 0) {
		log_err("cannot create the event loop: %s", err);
		return -1;
	}
	r = setup_usr1(d);
	if (r < 0) {
		log_err("cannot watch SIGUSR1: %s", strerror(-r));
		return -1;
	}
	r = setup_reloads(d);
	if (r < 0) {
		log_err("cannot set up reloads: %s", strerror(-r));
		return -1;
	}
	struct control_opts co;
	control_opts_init(&co);
	co.group = d->opts.control_group;
	co.flowlog_path = d->flowlog_path;
	co.reload = control_reload;
	co.reload_arg = d;
	r = control_open(d->loop, d->dp, d->topo, d->name, &co, &d->control, err, sizeof(err));
	if (r < 0) {
		log_err("cannot open the control socket: %s", err);
		return -1;
	}
#ifdef HAVE_LIBSYSTEMD
	uint64_t usec;
	d->watchdog = sd_watchdog_enabled(0, &usec) > 0;
#endif
	loop_set_tick(d->loop, on_tick, d);
	return 0;
}

static void stop(struct daemon *d)
{
	notify("STOPPING=1");
	if (d->dp)
		log_stats(d);
	/* Before the control: it answers the reloads still waiting. */
	reloader_destroy(d->reloader);
	d->reloader = NULL;
	control_close(d->control);
	d->control = NULL;
	loop_destroy(d->loop);
	d->loop = NULL;
	if (d->usr1_fd >= 0)
		close(d->usr1_fd);
	d->usr1_fd = -1;
	/* Flushes the flow log before the ENIs it names disappear. */
	datapath_destroy(d->dp);
	d->dp = NULL;
	if (d->topo) {
		size_t n = topology_end_processes(d->topo);

		if (n)
			log_info("ended %zu processes still running in the lab's namespaces "
				 "(vpcfw exec)",
				 n);
	}
	topology_destroy(d->topo);
	d->topo = NULL;
}

/*
 * Swaps next in: when its ENIs, subnets or outside hosts differ, the
 * namespaces are updated first (topology_update, all or nothing), then the
 * datapath follows and the loop watches the new ports. A datapath failure
 * brings the topology back to the running lab, so a refused reload leaves
 * rules and namespaces as they were (a changed ENI's port is rebuilt).
 */
static int reload_apply(struct daemon *d, struct lab *next, char *err, size_t errlen)
{
	char err2[512] = "";
	bool topo = datapath_topology_differs(d->dp, next);
	int r = 0;

	if (topo && (r = topology_remote_update_check(d->topo, err, errlen)) < 0)
		return r;
	datapath_pause(d->dp); /* the workers wait out the commit, topology included */
	if (topo) {
		r = topology_update(d->topo, d->lab, next, err, errlen);
		if (r == 0)
			log_info("topology of lab %s updated: %zu ports", d->name,
				 d->topo->n_ports);
	}
	if (r == 0) {
		r = datapath_reload(d->dp, next, err, errlen);
		if (r < 0 && topo && topology_update(d->topo, next, d->lab, err2, sizeof(err2)) < 0)
			log_err("restoring the topology after a refused reload: %s", err2);
	}
	/* A failed or undone update may have rebuilt a changed ENI's port. */
	if (r < 0 && topo && datapath_reattach(d->dp, err2, sizeof(err2)) < 0)
		log_err("re-attaching the ports after a refused reload: %s", err2);
	datapath_resume(d->dp);
	if (topo && loop_ports_changed(d->loop) < 0)
		log_err("watching the ports after a reload: %s", strerror(ENOMEM));
	return r;
}

/*
 * The one reload, for SIGHUP and `vpcfw reload` (daemon/control): the lab
 * from a path (none: the source in use) is loaded and validated completely
 * on the reloader's thread, the packets flowing meanwhile; then, on the
 * loop's thread, reload_finish swaps it in between two packets. On any
 * error the running rules stay and every problem is in diags or err. A new
 * path becomes the source of later reloads.
 */
static const char *reload_source(void *arg)
{
	struct daemon *d = arg;

	return d->opts.lab_path;
}

static void reload_begin(void *arg, const char *path)
{
	struct daemon *d = arg;

	notify("RELOADING=1");
	log_info("reloading lab %s from %s", d->name, path ? path : DEFAULT_LAB_LABEL);
}

static int reload_finish(void *arg, const char *path, int r, struct lab *next,
			 const struct diag_list *diags, char *err, size_t errlen)
{
	struct daemon *d = arg;

	print_diags(diags);
	if (r < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: cannot load the lab%s%s",
				 path ? path : DEFAULT_LAB_LABEL, diags->n_errors ? "" : ": ",
				 diags->n_errors ? "" : strerror(-r));
		log_err("reload failed: keeping the running rules (%s)", err);
		notify("READY=1");
		return r;
	}
	next->name = d->name;
	r = reload_apply(d, next, err, errlen);
	if (r < 0) {
		log_err("reload refused: %s; keeping the running rules", err);
		notify("READY=1");
		return r;
	}
	/* The topology was built from the first lab and may point into it
	 * until it is removed. */
	if (d->lab != d->lab_built)
		lab_free(d->lab);
	d->lab = next;
	if (path && (!d->opts.lab_path || strcmp(path, d->opts.lab_path))) {
		snprintf(d->reload_path, sizeof(d->reload_path), "%s", path);
		d->opts.lab_path = d->reload_path;
	}
	log_info("reloaded lab %s", d->name);
	notify("READY=1");
	return 0;
}

static int setup_reloads(struct daemon *d)
{
	struct reloader_ops ops = {.source = reload_source,
				   .begin = reload_begin,
				   .load = load_source,
				   .finish = reload_finish,
				   .arg = d};

	return reloader_create(d->loop, &ops, &d->reloader);
}

static int control_reload(void *arg, const char *path, bool root, control_reload_done_fn done,
			  void *ctx)
{
	struct daemon *d = arg;

	return reloader_request(d->reloader, path, root, done, ctx);
}

/* SIGHUP: the same lab source again; the running rules stay on failure. */
static void reload(struct daemon *d)
{
	int r = reloader_request(d->reloader, NULL, true, NULL, NULL);

	if (r < 0)
		log_err("SIGHUP: reload not queued: %s", strerror(-r));
}

static int serve(struct daemon *d)
{
	for (;;) {
		int r = loop_run(d->loop);
		if (r == LOOP_RELOAD) {
			reload(d);
			continue;
		}
		if (r < 0) {
			log_err("event loop failed: %s", strerror(-r));
			return -1;
		}
		return 0;
	}
}

/* Creates or checks an output directory before anything is built, so that
 * a refusal (daemon/outfile.h) stops the start with its reason. */
static int prepare_dir(const char *what, const char *dir)
{
	char err[1024];
	int fd, r = outfile_dir_open(dir, &fd, err, sizeof(err));

	if (r < 0) {
		log_err("%s: %s", what, err);
		return -1;
	}
	close(fd);
	return 0;
}

static int prepare_flowlog(struct daemon *d)
{
	char dir[PATH_MAX];
	const char *name;
	int r;

	if (d->opts.flowlog_path)
		r = snprintf(d->flowlog_path, sizeof(d->flowlog_path), "%s", d->opts.flowlog_path);
	else
		r = snprintf(d->flowlog_path, sizeof(d->flowlog_path), FLOWLOG_DIR "/%s/flow.log",
			     d->name);
	if (r < 0 || (size_t)r >= sizeof(d->flowlog_path)) {
		log_err("flow-log path too long");
		return -1;
	}
	if (outfile_split(d->flowlog_path, dir, sizeof(dir), &name) < 0) {
		log_err("--flow-log %s: not a file name", d->flowlog_path);
		return -1;
	}
	if (prepare_dir("flow log", dir) < 0)
		return -1;
	if (d->opts.pcap_dir && prepare_dir("--pcap-dir", d->opts.pcap_dir) < 0)
		return -1;
	d->file_gid = OUTFILE_NO_GROUP;
	if (d->opts.control_group && outfile_group(d->opts.control_group, &d->file_gid) < 0) {
		log_err("--control-group %s: no such group", d->opts.control_group);
		return -1;
	}
	return 0;
}

/* Problems the data path would only find after the lab is built. */
static int check_flowlog_format(const struct options *o)
{
	struct flowlog_format fmt;
	char err[256];

	if (flowlog_format_parse(o->flowlog_format, &fmt, err, sizeof(err)) < 0) {
		log_err("--flow-log-format: %s", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d;
	int r;

	memset(&d, 0, sizeof(d));
	d.usr1_fd = -1;
	log_init(argv[0], LOG_LVL_INFO);
	r = vpcfwd_parse_args(argc, argv, &d.opts);
	if (r)
		return r > 0 ? 0 : 2;
	log_set_level(d.opts.level);
	own_list = d.opts.own;
	if (check_flowlog_format(&d.opts) < 0)
		return 2;
	if (load_lab(&d.opts, &d.lab) < 0)
		return 2;
	d.name = choose_lab_name(&d.opts, d.lab);
	if (!d.name) {
		lab_free(d.lab);
		return 2;
	}
	/* The topology names namespaces and state after lab->name. */
	d.lab->name = d.name;
	d.lab_built = d.lab;
	if (d.opts.check_only) {
		log_info(
		    "lab %s: %zu VPCs, %zu subnets, %zu ENIs, %zu security groups, %zu network "
		    "ACLs, %zu outside hosts: ok",
		    d.name, d.lab->n_vpcs, d.lab->n_subnets, d.lab->n_enis, d.lab->n_groups,
		    d.lab->n_nacls, d.lab->n_outside);
		lab_free(d.lab);
		return 0;
	}
	if (check_capabilities() < 0 || prepare_flowlog(&d) < 0) {
		lab_free(d.lab);
		return 1;
	}

	install_early_handlers();
	int status = 1;
	if (start(&d) == 0) {
		log_info("ready: lab %s, %zu ENIs, %zu ports; flow log %s", d.name, d.lab->n_enis,
			 datapath_n_ports(d.dp), d.flowlog_path);
		notify("READY=1");
		if (early_stop || serve(&d) == 0)
			status = 0;
	}
	if (early_stop) {
		log_info("stop requested during start-up");
		status = 0;
	}
	log_info("stopping lab %s: removing its namespaces", d.name);
	stop(&d);
	if (d.lab != d.lab_built)
		lab_free(d.lab);
	lab_free(d.lab_built);
	log_info("lab %s stopped", d.name);
	return status;
}
