/* vpcfwd's command line (vpcfwd_args.h). */
#include "vpcfwd_args.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: vpcfwd [--lab PATH] [--name LABNAME] [--flow-log PATH]\n"
	    "              [--flow-log-format FMT] [--flow-log-interval SECONDS]\n"
	    "              [--pcap-dir DIR] [--offloads on|off] [--control-group GROUP]\n"
	    "              [--own LIST --remote IFNAME] [--workers N] [--busy-poll USEC]\n"
	    "              [-n] [-v|-q]\n"
	    "\n"
	    "Builds the lab as network namespaces and filters its real traffic as AWS\n"
	    "security groups and network ACLs would. Runs in the foreground, logs on\n"
	    "stderr; SIGINT/SIGTERM remove everything it built, SIGHUP reloads the\n"
	    "rules, SIGUSR1 logs the counters.\n"
	    "\n"
	    "  --lab PATH                lab JSON file or directory of describe-* exports\n"
	    "                            (default: the built-in ten-thousand lab)\n"
	    "  --name LABNAME            lab name (default: the lab's own name)\n"
	    "  --flow-log PATH           default " FLOWLOG_DIR "/LABNAME/flow.log\n"
	    "  --flow-log-format FMT     AWS custom format, e.g. '${version} ${srcaddr}'\n"
	    "  --flow-log-interval SECS  aggregation interval (default 60)\n"
	    "  --pcap-dir DIR            save rejected frames as DIR/<eni-id>.pcap\n"
	    "  --offloads on|off         keep checksum/segmentation offloads (default off)\n"
	    "  --control-group GROUP     let GROUP use the control socket (default: root only)\n"
	    "  --own LIST --remote IF    a lab split across hosts: see docs/scale-out.md\n"
	    "  --workers N               packet threads (default: the CPUs vpcfwd may use)\n"
	    "  --busy-poll USEC          polling after a frame before sleeping (default 50)\n"
	    "  -n, --check               load and validate the lab, then exit (0 ok, 2 error)\n"
	    "  -v, --verbose             debug messages\n"
	    "  -q, --quiet               warnings and errors only\n");
}

static int parse_uint(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

enum {
	OPT_FLOWLOG = 256,
	OPT_FORMAT,
	OPT_INTERVAL,
	OPT_PCAPDIR,
	OPT_OFFLOADS,
	OPT_NAME,
	OPT_CONTROL_GROUP,
	OPT_OWN,
	OPT_REMOTE,
	OPT_WORKERS,
	OPT_BUSY_POLL
};

/* The field of o an option that only keeps its argument points at, by
 * its getopt code; NULL for the others. */
static const char **string_option(struct options *o, int c)
{
	static const struct {
		int c;
		size_t offset;
	} strings[] = {
	    {'l', offsetof(struct options, lab_path)},
	    {OPT_NAME, offsetof(struct options, name)},
	    {OPT_FLOWLOG, offsetof(struct options, flowlog_path)},
	    {OPT_FORMAT, offsetof(struct options, flowlog_format)},
	    {OPT_PCAPDIR, offsetof(struct options, pcap_dir)},
	    {OPT_CONTROL_GROUP, offsetof(struct options, control_group)},
	    {OPT_OWN, offsetof(struct options, own)},
	    {OPT_REMOTE, offsetof(struct options, remote)},
	};

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (strings[i].c == c)
			return (const char **)((char *)o + strings[i].offset);
	return NULL;
}

/* Sets the number field of o that option c fills from arg: 0 when set, 1
 * when c is no number option, -1 when arg is no number in its range
 * (logged). */
static int numeric_option(struct options *o, int c, const char *arg)
{
	static const struct {
		int c;
		const char *name;
		size_t offset;
		uint32_t lo, hi;
		const char *unit;
	} numbers[] = {
	    {OPT_INTERVAL, "flow-log-interval", offsetof(struct options, flowlog_interval), 1,
	     86400, "seconds"},
	    {OPT_WORKERS, "workers", offsetof(struct options, workers), 1, 256, "threads"},
	    {OPT_BUSY_POLL, "busy-poll", offsetof(struct options, busy_poll_us), 0, 1000000,
	     "microseconds"},
	};

	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		if (numbers[i].c != c)
			continue;
		if (parse_uint(arg, numbers[i].lo, numbers[i].hi,
			       (uint32_t *)((char *)o + numbers[i].offset)) == 0)
			return 0;
		log_err("--%s: '%s' is not a number of %s from %u to %u", numbers[i].name, arg,
			numbers[i].unit, numbers[i].lo, numbers[i].hi);
		return -1;
	}
	return 1;
}

int vpcfwd_parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"lab", required_argument, NULL, 'l'},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"flow-log", required_argument, NULL, OPT_FLOWLOG},
	    {"flow-log-format", required_argument, NULL, OPT_FORMAT},
	    {"flow-log-interval", required_argument, NULL, OPT_INTERVAL},
	    {"pcap-dir", required_argument, NULL, OPT_PCAPDIR},
	    {"offloads", required_argument, NULL, OPT_OFFLOADS},
	    {"control-group", required_argument, NULL, OPT_CONTROL_GROUP},
	    {"own", required_argument, NULL, OPT_OWN},
	    {"remote", required_argument, NULL, OPT_REMOTE},
	    {"workers", required_argument, NULL, OPT_WORKERS},
	    {"busy-poll", required_argument, NULL, OPT_BUSY_POLL},
	    {"check", no_argument, NULL, 'n'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, numeric;

	*o = (struct options){.flowlog_interval = 60, .busy_poll_us = 50, .level = LOG_LVL_INFO};
	while ((c = getopt_long(argc, argv, "l:nvqh", longopts, NULL)) != -1) {
		const char **field = string_option(o, c);

		if (field) {
			*field = optarg;
			continue;
		}
		numeric = numeric_option(o, c, optarg);
		if (numeric < 0)
			return -1;
		if (numeric == 0)
			continue;
		switch (c) {
		case OPT_OFFLOADS:
			if (!strcmp(optarg, "on")) {
				o->offloads = true;
			} else if (!strcmp(optarg, "off")) {
				o->offloads = false;
			} else {
				log_err("--offloads: expected 'on' or 'off', got '%s'", optarg);
				return -1;
			}
			break;
		case 'n':
			o->check_only = true;
			break;
		case 'v':
			o->level = LOG_LVL_DEBUG;
			break;
		case 'q':
			o->level = LOG_LVL_WARN;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s' (the lab is given with --lab)", argv[optind]);
		return -1;
	}
	return 0;
}
