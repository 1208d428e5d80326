/*
 * vpcfw status | flows | stats | reload | top: ask a running vpcfwd over
 * its control socket (tools/client.h) and print the answer, as text for
 * people or, with --json, the daemon's reply object unchanged for scripts.
 * Not for deciding anything: every figure comes from the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"

#define ONLINE_TIMEOUT_MS 30000
/* A reload loads and validates a whole lab first. */
#define RELOAD_TIMEOUT_MS 120000

struct online_opts {
	const char *lab;
	bool json;
	const char *arg; /* flows NAME, reload PATH */
	double interval;
	long iterations; /* 0: forever */
};

static void online_usage(FILE *out, const char *cmd)
{
	if (!strcmp(cmd, "status"))
		fprintf(out, "usage: vpcfw status [--lab LAB] [--json]\n"
			     "The running lab: source, uptime, pid, ENIs with namespace and port,\n"
			     "rules generation, flow-log path.\n");
	else if (!strcmp(cmd, "flows"))
		fprintf(out,
			"usage: vpcfw flows [NAME] [--lab LAB] [--json]\n"
			"Tracked connections per ENI (NAME: one ENI by id, Name tag, instance\n"
			"id, address or namespace): 5-tuple, state, idle seconds, packets and\n"
			"bytes each way, the security-group rule that admitted it.\n");
	else if (!strcmp(cmd, "stats"))
		fprintf(out, "usage: vpcfw stats [--lab LAB] [--json]\n"
			     "Counters: per ENI accepted/rejected packets and bytes by stage,\n"
			     "conntrack allowance, malformed frames and drops by reason.\n");
	else if (!strcmp(cmd, "reload"))
		fprintf(out,
			"usage: vpcfw reload [PATH] [--lab LAB]\n"
			"Loads PATH (default: the lab the daemon runs) and swaps it in; on any\n"
			"error every problem is printed, the running rules stay, exit 2.\n");
	else
		fprintf(out,
			"usage: vpcfw top [--lab LAB] [--interval SECONDS] [--iterations N]\n"
			"A live view per ENI: tracked flows, packets accepted and rejected per\n"
			"second, refreshed every --interval (1 s); Ctrl-C ends it.\n");
	fprintf(out, "\n  --lab LAB   the lab's daemon when several run (default: the only one,\n"
		     "              or $VPCFW_LAB)\n");
}

/* 0, 1 for --help (exit 0), -1 usage error. */
static int online_parse(int argc, char **argv, bool takes_arg, bool is_top, struct online_opts *o)
{
	enum { OPT_INTERVAL = 256, OPT_ITER };
	static const struct option longopts[] = {
	    {"lab", required_argument, NULL, 'l'},
	    {"json", no_argument, NULL, 'j'},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"iterations", required_argument, NULL, OPT_ITER},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = argv[0];
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->interval = 1.0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "l:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->lab = optarg;
			break;
		case 'j':
			if (is_top || !strcmp(cmd, "reload"))
				goto bad;
			o->json = true;
			break;
		case OPT_INTERVAL:
			if (!is_top)
				goto bad;
			errno = 0;
			o->interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->interval >= 0.1) ||
			    o->interval > 3600) {
				fprintf(stderr, "vpcfw %s: --interval: '%s' is not 0.1 to 3600 s\n",
					cmd, optarg);
				return -1;
			}
			break;
		case OPT_ITER:
			if (!is_top)
				goto bad;
			errno = 0;
			o->iterations = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->iterations < 1) {
				fprintf(stderr, "vpcfw %s: --iterations: '%s' is not a count\n",
					cmd, optarg);
				return -1;
			}
			break;
		case 'h':
			online_usage(stdout, cmd);
			return 1;
		default:
			goto bad;
		}
	}
	if (takes_arg && optind < argc)
		o->arg = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "vpcfw %s: unexpected argument '%s'\n", cmd, argv[optind]);
		return -1;
	}
	return 0;
bad:
	online_usage(stderr, cmd);
	return -1;
}

/* Connects to the lab's daemon. 0 or 2 (message printed). */
static int online_connect(const char *cmd, const struct online_opts *o, struct client **c)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)], err[1024];

	if (client_find_socket(o->lab, path, sizeof(path), err, sizeof(err)) < 0 ||
	    client_connect(path, c, err, sizeof(err)) < 0) {
		fprintf(stderr, "vpcfw %s: %s\n", cmd, err);
		return 2;
	}
	return 0;
}

/* One request on a new connection: 0 and *reply with "ok" true, else 2
 * with the daemon's error or the connection problem printed (and *reply
 * kept, with "ok" false, when the daemon answered). */
static int online_call(const char *cmd, const struct online_opts *o, json_t *req, int timeout,
		       json_t **reply)
{
	struct client *c;
	char err[1024];
	int r;

	*reply = NULL;
	if (online_connect(cmd, o, &c)) {
		json_decref(req);
		return 2;
	}
	r = client_call(c, req, timeout, reply, err, sizeof(err));
	client_close(c);
	if (r < 0) {
		fprintf(stderr, "vpcfw %s: %s\n", cmd, err);
		return 2;
	}
	if (!json_is_true(json_object_get(*reply, "ok"))) {
		const char *e = json_string_value(json_object_get(*reply, "error"));
		fprintf(stderr, "vpcfw %s: %s\n", cmd, e ? e : "the daemon refused");
		return 2;
	}
	return 0;
}

static void print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

static long long jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* ------------------------------------------------------------- status */

static void fmt_uptime(long long s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%lldd %02lld:%02lld:%02lld", s / 86400, s % 86400 / 3600,
			 s % 3600 / 60, s % 60);
	else
		snprintf(buf, len, "%02lld:%02lld:%02lld", s / 3600, s % 3600 / 60, s % 60);
}

static void print_status(json_t *r)
{
	char up[64];
	size_t i;
	json_t *e;

	fmt_uptime(jint(r, "uptime"), up, sizeof(up));
	printf("lab %s: vpcfwd pid %lld, up %s, rules generation %lld\n", jstr(r, "lab"),
	       jint(r, "pid"), up, jint(r, "generation"));
	printf("source:   %s\n", jstr(r, "source"));
	printf("flow log: %s\n", jstr(r, "flow_log"));
	printf("router:   namespace %s, %lld ports\n", jstr(r, "router_namespace"),
	       jint(r, "ports"));
	printf("\n%-24s %-16s %-16s %-24s %s\n", "ENI", "NAME", "ADDRESS", "NAMESPACE", "PORT");
	json_array_foreach(json_object_get(r, "enis"), i, e)
	{
		json_t *v4 = json_array_get(json_object_get(e, "ipv4"), 0);
		json_t *v6 = json_array_get(json_object_get(e, "ipv6"), 0);
		const char *a = json_string_value(v4 ? v4 : v6);
		printf("%-24s %-16s %-16s %-24s %s\n", jstr(e, "id"), jstr(e, "name"), a ? a : "-",
		       jstr(e, "namespace"), jstr(e, "port"));
	}
	if (json_array_size(json_object_get(r, "outside"))) {
		printf("\n%-24s %-16s %-24s %s\n", "OUTSIDE HOST", "ADDRESS", "NAMESPACE", "PORT");
		json_array_foreach(json_object_get(r, "outside"), i, e)
		    printf("%-24s %-16s %-24s %s\n", jstr(e, "name"), jstr(e, "addr"),
			   jstr(e, "namespace"), jstr(e, "port"));
	}
}

/* status and stats: one request named as the command, its reply printed
 * as text or, with --json, as it came. */
static int online_show(int argc, char **argv, const char *cmd, void (*print_text)(json_t *r))
{
	struct online_opts o;
	json_t *r;
	int rc = online_parse(argc, argv, false, false, &o);

	if (rc)
		return rc > 0 ? 0 : 2;
	rc = online_call(cmd, &o, json_pack("{s:s}", "cmd", cmd), ONLINE_TIMEOUT_MS, &r);
	if (rc == 0)
		(o.json ? print_json : print_text)(r);
	json_decref(r);
	return rc;
}

int cmd_status(int argc, char **argv)
{
	return online_show(argc, argv, "status", print_status);
}

/* -------------------------------------------------------------- flows */

static void endpoint_text(json_t *f, const char *addr_key, const char *port_key, char *buf,
			  size_t len)
{
	const char *a = jstr(f, addr_key);
	json_t *p = json_object_get(f, port_key);
	bool v6 = strchr(a, ':') != NULL;

	if (p)
		snprintf(buf, len, v6 ? "[%s]:%lld" : "%s:%lld", a, json_integer_value(p));
	else
		snprintf(buf, len, "%s", a);
}

static void print_flow(json_t *f)
{
	char src[80], dst[80], extra[48] = "";
	json_t *pk = json_object_get(f, "packets"), *by = json_object_get(f, "bytes");

	endpoint_text(f, "src", "sport", src, sizeof(src));
	endpoint_text(f, "dst", "dport", dst, sizeof(dst));
	if (json_object_get(f, "icmp_type"))
		snprintf(extra, sizeof(extra), " type %lld id %lld", jint(f, "icmp_type"),
			 jint(f, "icmp_id"));
	printf("  %-6s %s -> %s%s  %s  idle %llds\n", jstr(f, "proto"), src, dst, extra,
	       jstr(f, "state"), jint(f, "idle"));
	printf("         sent %lld pkts %lld B, replies %lld pkts %lld B; rule: %s\n",
	       jint(pk, "original"), jint(by, "original"), jint(pk, "reply"), jint(by, "reply"),
	       jstr(f, "rule"));
}

static void print_flows(json_t *r)
{
	size_t i, j;
	json_t *e, *f;

	json_array_foreach(json_object_get(r, "enis"), i, e)
	{
		json_t *flows = json_object_get(e, "flows");
		printf("%s (%s, %s): %lld tracked, allowance available %lld\n", jstr(e, "id"),
		       jstr(e, "name"), jstr(e, "namespace"), jint(e, "tracked"),
		       jint(e, "conntrack_allowance_available"));
		json_array_foreach(flows, j, f) print_flow(f);
	}
	if (json_is_true(json_object_get(r, "truncated")))
		printf("(more connections than one reply holds: the list is cut)\n");
}

int cmd_flows(int argc, char **argv)
{
	struct online_opts o;
	json_t *req, *r;
	int rc = online_parse(argc, argv, true, false, &o);

	if (rc)
		return rc > 0 ? 0 : 2;
	req = json_pack("{s:s}", "cmd", "flows");
	if (req && o.arg)
		json_object_set_new(req, "eni", json_string(o.arg));
	rc = online_call("flows", &o, req, ONLINE_TIMEOUT_MS, &r);
	if (rc == 0) {
		if (o.json)
			print_json(r);
		else
			print_flows(r);
	}
	json_decref(r);
	return rc;
}

/* -------------------------------------------------------------- stats */

static long long jsum(json_t *o)
{
	const char *k;
	json_t *v;
	long long s = 0;

	json_object_foreach(o, k, v) s += json_integer_value(v);
	return s;
}

static void print_nonzero(json_t *o)
{
	const char *k;
	json_t *v;
	bool any = false;

	json_object_foreach(o, k, v)
	{
		if (!json_integer_value(v))
			continue;
		printf("  %-22s %lld\n", k, json_integer_value(v));
		any = true;
	}
	if (!any)
		printf("  (none)\n");
}

static void print_stats(json_t *r)
{
	json_t *g = json_object_get(r, "global"), *e;
	size_t i;

	printf("frames in %lld (%lld B), out %lld (%lld B); accepted %lld, rejected %lld; "
	       "fast path %lld, slow path %lld\n",
	       jint(g, "rx_packets"), jint(g, "rx_bytes"), jint(g, "tx_packets"),
	       jint(g, "tx_bytes"), jint(g, "accepted_packets"), jint(g, "rejected_packets"),
	       jint(g, "fast_path_packets"), jint(g, "slow_path_packets"));
	printf("conntrack_allowance_exceeded %lld, capture drops %lld, malformed %lld\n\n",
	       jint(g, "conntrack_allowance_exceeded"), jint(g, "pcap_kernel_drops"),
	       jint(g, "malformed_total"));
	printf("%-22s %-14s %10s %10s %8s %8s %8s %8s %8s %8s %8s\n", "ENI", "NAME", "ACCEPT-OUT",
	       "ACCEPT-IN", "REJ-SGE", "REJ-NACLE", "REJ-NACLI", "REJ-SGI", "TRACKED", "AVAIL",
	       "EXCEEDED");
	json_array_foreach(json_object_get(r, "enis"), i, e)
	{
		json_t *a = json_object_get(e, "accepted_packets");
		json_t *rj = json_object_get(e, "rejected_packets");
		printf("%-22s %-14s %10lld %10lld %8lld %8lld %8lld %8lld %8lld %8lld %8lld\n",
		       jstr(e, "id"), jstr(e, "name"), jint(a, "egress"), jint(a, "ingress"),
		       jint(rj, "sg-egress"), jint(rj, "nacl-egress"), jint(rj, "nacl-ingress"),
		       jint(rj, "sg-ingress"), jint(e, "tracked"),
		       jint(e, "conntrack_allowance_available"),
		       jint(e, "conntrack_allowance_exceeded"));
	}
	printf("\ndrops (%lld):\n", jsum(json_object_get(g, "drops")));
	print_nonzero(json_object_get(g, "drops"));
	printf("malformed frames (%lld):\n", jint(g, "malformed_total"));
	print_nonzero(json_object_get(g, "malformed"));
}

int cmd_stats(int argc, char **argv)
{
	return online_show(argc, argv, "stats", print_stats);
}

/* ------------------------------------------------------------- reload */

static void print_diags(FILE *f, json_t *arr, const char *level)
{
	size_t i;
	json_t *d;

	json_array_foreach(arr, i, d)
	{
		const char *t = json_string_value(json_object_get(d, "text"));
		if (t)
			fprintf(f, "%s\n", t);
		else
			fprintf(f, "%s: %s: %s: %s\n", jstr(d, "file"), jstr(d, "path"), level,
				jstr(d, "message"));
	}
}

int cmd_reload(int argc, char **argv)
{
	struct online_opts o;
	char full[PATH_MAX];
	json_t *req, *r;
	int rc = online_parse(argc, argv, true, false, &o);

	if (rc)
		return rc > 0 ? 0 : 2;
	req = json_pack("{s:s}", "cmd", "reload");
	if (o.arg) {
		/* The daemon does not share our working directory. */
		if (!realpath(o.arg, full)) {
			fprintf(stderr, "vpcfw reload: %s: %s\n", o.arg, strerror(errno));
			json_decref(req);
			return 2;
		}
		if (req)
			json_object_set_new(req, "path", json_string(full));
	}
	rc = online_call("reload", &o, req, RELOAD_TIMEOUT_MS, &r);
	if (r) {
		print_diags(stderr, json_object_get(r, "errors"), "error");
		print_diags(stderr, json_object_get(r, "warnings"), "warning");
	}
	if (rc == 0)
		printf("reloaded lab from %s: rules generation %lld\n", jstr(r, "source"),
		       jint(r, "generation"));
	json_decref(r);
	return rc;
}

/* ---------------------------------------------------------------- top */

struct top_row {
	char id[64];
	long long acc, rej;
};

static void top_sleep(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s,
			      .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double mono_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One screen from the new sample and the previous one (prev may be NULL). */
static void top_draw(const char *lab, json_t *now, json_t *prev, double dt, bool tty)
{
	json_t *e;
	size_t i;
	time_t wall = time(NULL);
	char tbuf[32];

	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&wall));
	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("vpcfw top - lab %s - %s - every %.1fs\n", lab, tbuf, dt);
	printf("%-22s %-16s %8s %10s %10s %12s %12s\n", "ENI", "NAME", "FLOWS", "ACCEPT/s",
	       "REJECT/s", "ACCEPTED", "REJECTED");
	json_array_foreach(json_object_get(now, "enis"), i, e)
	{
		long long acc = jint(e, "accepted_packets_total");
		long long rej = jint(e, "rejected_packets_total");
		double ar = 0, rr = 0;
		json_t *p = prev ? json_array_get(json_object_get(prev, "enis"), i) : NULL;

		if (p && !strcmp(jstr(p, "id"), jstr(e, "id")) && dt > 0) {
			ar = (double)(acc - jint(p, "accepted_packets_total")) / dt;
			rr = (double)(rej - jint(p, "rejected_packets_total")) / dt;
		}
		printf("%-22s %-16s %8lld %10.1f %10.1f %12lld %12lld\n", jstr(e, "id"),
		       jstr(e, "name"), jint(e, "tracked"), ar, rr, acc, rej);
	}
	fflush(stdout);
}

int cmd_top(int argc, char **argv)
{
	struct online_opts o;
	json_t *prev = NULL, *st = NULL, *now = NULL;
	double t_prev = 0;
	bool tty = isatty(STDOUT_FILENO);
	int rc = online_parse(argc, argv, false, true, &o);

	if (rc)
		return rc > 0 ? 0 : 2;
	rc = online_call("top", &o, json_pack("{s:s}", "cmd", "status"), ONLINE_TIMEOUT_MS, &st);
	/* A connection per sample: intervals longer than the daemon's idle
	 * timeout just work, and a restarted daemon is picked up. */
	for (long n = 0; rc == 0 && (!o.iterations || n <= o.iterations); n++) {
		rc = online_call("top", &o, json_pack("{s:s}", "cmd", "stats"), ONLINE_TIMEOUT_MS,
				 &now);
		if (rc)
			break;
		double t = mono_s();
		/* The first sample only sets the baseline of the rates. */
		if (prev)
			top_draw(jstr(st, "lab"), now, prev, t - t_prev, tty);
		json_decref(prev);
		prev = now;
		now = NULL;
		t_prev = t;
		if (o.iterations && n == o.iterations)
			break;
		top_sleep(o.interval);
	}
	json_decref(now);
	json_decref(prev);
	json_decref(st);
	return rc;
}
