/*
 * Real-traffic probes for `vpcfw test`: for each flow, a listener of our
 * own in the destination namespace (TCP accept, UDP echo; ICMP echo needs
 * none, the destination's kernel answers) and a TCP connect, UDP send and
 * receive, or ICMP/ICMPv6 echo from the source namespace, decided within a
 * timeout. One listener process per destination namespace serves every
 * port its flows need; each flow is sent by a forked worker that enters
 * the source namespace with setns (common/nsenter.h), so the caller's
 * namespace never changes; workers run in parallel (bounded). Needs root
 * (setns, raw ICMP sockets).
 *
 * Not for deciding what a flow should do (rules/pipeline) or for starting
 * the daemon (cmd_test.c).
 */
#ifndef VPCFW_PROBE_H
#define VPCFW_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "nsenter.h"

struct probe_spec {
	char src_ns[NETNS_NAME_MAX];
	char dst_ns[NETNS_NAME_MAX];
	struct ip_addr dst; /* the address the source sends to */
	int proto;	    /* PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6 */
	uint16_t port;
	uint8_t icmp_type, icmp_code; /* only echo requests are probed */
	int timeout_ms;
};

enum probe_outcome {
	PROBE_ACCEPT, /* connected / echoed back */
	PROBE_REJECT, /* nothing came back within the timeout */
	PROBE_ERROR,  /* the probe could not be set up or was answered oddly */
};

struct probe_result {
	enum probe_outcome outcome;
	int ms; /* time to the outcome */
	char detail[200];
};

/* Whether proto/type can be probed at all (TCP, UDP, ICMP(v6) echo). */
int probe_supported(int proto, uint8_t icmp_type);

/* Runs every spec, at most parallel at a time; res[i] for specs[i].
 * stop(arg), when given, is asked between flows: nonzero marks every flow
 * not yet finished as an error with its text (e.g. "vpcfwd died"). */
int probe_run_all(const struct probe_spec *specs, struct probe_result *res, size_t n,
		  unsigned parallel, const char *(*stop)(void *arg), void *arg);


#endif
