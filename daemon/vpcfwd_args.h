/*
 * vpcfwd's command line: what each option sets (struct options), read
 * once at start. The options are documented in docs/vpcfwd.md and
 * docs/man/vpcfwd.8; the usage text here is their summary.
 */
#ifndef VPCFW_DAEMON_VPCFWD_ARGS_H
#define VPCFW_DAEMON_VPCFWD_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"

/* Where flow logs go unless --flow-log says otherwise. */
#define FLOWLOG_DIR "/var/log/vpcfw"

struct options {
	const char *lab_path; /* NULL: the built-in lab */
	const char *name;
	const char *flowlog_path;
	const char *flowlog_format;
	uint32_t flowlog_interval, workers, busy_poll_us; /* workers 0: every CPU we may use */
	const char *pcap_dir;
	bool offloads;
	bool check_only;
	const char *control_group; /* NULL: control socket root only */
	const char *own, *remote;  /* a lab split across hosts (docs/scale-out.md) */
	enum log_level level;
};

/* Fills o from argv: 0, 1 to exit 0 (--help printed), or -1 for a usage
 * error (logged, usage on stderr). */
int vpcfwd_parse_args(int argc, char **argv, struct options *o);

#endif
