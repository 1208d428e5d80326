/*
 * VPC Flow Logs records (AWS-SEMANTICS §6, DESIGN.md contract 5): parses
 * AWS's format strings, aggregates packets into one record per (ENI,
 * 5-tuple, direction, action, aggregation interval) and formats the records
 * as AWS writes them. No I/O and no clock: the caller passes the time and
 * receives finished lines through a callback; the daemon writes the file.
 *
 * Usage:
 *	struct flowlog_format fmt;
 *	flowlog_format_parse(NULL, &fmt, err, sizeof(err));   // default, v2
 *	struct flowlog *fl;
 *	flowlog_create(&(struct flowlog_config){ .format = fmt,
 *			.interval = 60, .capacity = 65536 }, &fl);
 *	flowlog_add(fl, &pkt, now);              // per packet, O(1)
 *	flowlog_flush(fl, now, false, emit, ctx); // periodically
 *	flowlog_flush(fl, now, true, emit, ctx);  // on exit
 *	flowlog_destroy(fl);
 *
 * Not thread safe: one flowlog per thread, or a lock around it.
 */
#ifndef VPCFW_FLOWLOG_H
#define VPCFW_FLOWLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* AWS's field names, in the order of AWS's "available fields" table. */
enum flowlog_field {
	FLF_VERSION,
	FLF_ACCOUNT_ID,
	FLF_INTERFACE_ID,
	FLF_SRCADDR,
	FLF_DSTADDR,
	FLF_SRCPORT,
	FLF_DSTPORT,
	FLF_PROTOCOL,
	FLF_PACKETS,
	FLF_BYTES,
	FLF_START,
	FLF_END,
	FLF_ACTION,
	FLF_LOG_STATUS,
	/* version 3 */
	FLF_VPC_ID,
	FLF_SUBNET_ID,
	FLF_INSTANCE_ID,
	FLF_TCP_FLAGS,
	FLF_TYPE,
	FLF_PKT_SRCADDR,
	FLF_PKT_DSTADDR,
	/* version 4 */
	FLF_REGION,
	FLF_AZ_ID,
	FLF_SUBLOCATION_TYPE,
	FLF_SUBLOCATION_ID,
	/* version 5 */
	FLF_PKT_SRC_AWS_SERVICE,
	FLF_PKT_DST_AWS_SERVICE,
	FLF_FLOW_DIRECTION,
	FLF_TRAFFIC_PATH,
	/* version 7: ECS task metadata; vpcfw has no ECS, always "-" */
	FLF_ECS_CLUSTER_ARN,
	FLF_ECS_CLUSTER_NAME,
	FLF_ECS_CONTAINER_INSTANCE_ARN,
	FLF_ECS_CONTAINER_INSTANCE_ID,
	FLF_ECS_CONTAINER_ID,
	FLF_ECS_SECOND_CONTAINER_ID,
	FLF_ECS_SERVICE_NAME,
	FLF_ECS_TASK_DEFINITION_ARN,
	FLF_ECS_TASK_ARN,
	FLF_ECS_TASK_ID,
	FLF_COUNT
};

#define FLOWLOG_MAX_FIELDS 64
/* Bounds of the strings a record carries (terminating NUL included). */
#define FLOWLOG_STR_MAX 128
#define FLOWLOG_SERVICE_MAX 32
/* Longer than any record of FLOWLOG_MAX_FIELDS fields can be. */
#define FLOWLOG_LINE_MAX (FLOWLOG_MAX_FIELDS * (FLOWLOG_STR_MAX + 1) + 1)

/* A parsed format: parse once, then format many records with it. */
struct flowlog_format {
	uint8_t n;
	uint8_t version; /* 2 for the default format, else the highest field version */
	uint8_t fields[FLOWLOG_MAX_FIELDS]; /* enum flowlog_field */
};

/* Parses AWS's syntax: "${field} ${field} ...", fields separated by single
 * or repeated spaces. NULL or "" gives the default v2 format. Returns 0, or
 * -EINVAL with a message in err ("unknown field 'x' at offset N", ...). */
int flowlog_format_parse(const char *spec, struct flowlog_format *out, char *err, size_t errlen);
/* AWS's name of a field ("interface-id"), NULL when out of range. */
const char *flowlog_field_name(enum flowlog_field f);
/* The Flow Logs version that introduced a field (2..7). */
int flowlog_field_version(enum flowlog_field f);
/* The header line AWS writes at the top of S3 log files: the field names
 * separated by spaces. Returns the length (snprintf-like). */
size_t flowlog_format_header(const struct flowlog_format *f, char *buf, size_t len);

enum flowlog_direction { FLOWLOG_INGRESS, FLOWLOG_EGRESS };
enum flowlog_action { FLOWLOG_ACCEPT, FLOWLOG_REJECT };
enum flowlog_status { FLOWLOG_OK, FLOWLOG_NODATA, FLOWLOG_SKIPDATA };

/* Who a record belongs to. Strings are copied by flowlog_add when a record
 * is created (the caller's strings may go away, e.g. on reload); NULL or ""
 * prints "-". Strings longer than FLOWLOG_STR_MAX - 1 are refused. */
struct flowlog_iface {
	const char *interface_id; /* eni-…, required */
	const char *account_id;	  /* lab option, NULL → "-" */
	const char *vpc_id;
	const char *subnet_id;
	const char *instance_id;
	const char *region;
	const char *az_id;
	const char *sublocation_type; /* wavelength | outpost | localzone */
	const char *sublocation_id;
};

/* One packet as seen on one ENI in one direction. */
struct flowlog_packet {
	const struct flowlog_iface *iface;
	enum flowlog_direction direction;
	enum flowlog_action action;
	struct ip_addr src, dst; /* srcaddr/dstaddr */
	/* pkt-srcaddr/pkt-dstaddr; family 0 means "same as src/dst" */
	struct ip_addr pkt_src, pkt_dst;
	uint8_t protocol; /* IANA number */
	/* TCP/UDP ports; for every other protocol (ICMP included) AWS logs
	 * 0 and these are ignored. */
	uint16_t sport, dport;
	/* The raw flags byte of the TCP header (FIN 0x01 … URG 0x20, ACK 0x10).
	 * AWS records only FIN, SYN, RST and SYN-ACK: lone ACK, PSH, URG, ECE
	 * and CWR are dropped before OR-ing (see flowlog_tcp_flags). */
	uint8_t tcp_flags;
	uint32_t bytes;	      /* IP length, headers included; summed over segments */
	uint8_t traffic_path; /* AWS's 1..8, 0 = "-" */
	/* NULL → "-"; AWS's names (S3, DYNAMODB, …) are at most
	 * FLOWLOG_SERVICE_MAX - 1 characters, longer ones are refused. */
	const char *pkt_src_aws_service;
	const char *pkt_dst_aws_service;
	/* Wire packets this one stands for (a GSO super-packet carries
	 * several; AWS counts each); 0 means 1. */
	uint32_t segments;
};

/* A finished record, passed to the emit callback next to its line. */
struct flowlog_record {
	enum flowlog_status status;
	const struct flowlog_iface *iface;
	enum flowlog_direction direction;
	enum flowlog_action action;
	struct ip_addr src, dst, pkt_src, pkt_dst;
	uint8_t protocol;
	uint16_t sport, dport;
	uint8_t tcp_flags; /* already reduced to what AWS records */
	uint8_t traffic_path;
	const char *pkt_src_aws_service, *pkt_dst_aws_service;
	uint64_t packets, bytes;
	uint64_t start, end; /* Unix seconds */
};

/* The bits AWS's tcp-flags field keeps from one packet's flags. */
uint8_t flowlog_tcp_flags(uint8_t raw);

/* Formats one record as one line (no newline) into buf. Returns the length
 * it needed (snprintf-like; the line is complete when < len). NODATA and
 * SKIPDATA records print "-" for every flow field. */
size_t flowlog_format_record(const struct flowlog_format *f, const struct flowlog_record *r,
			     char *buf, size_t len);

struct flowlog_config {
	struct flowlog_format format;
	uint32_t interval; /* aggregation interval, seconds, >= 1 (AWS: 60 or 600) */
	size_t capacity;   /* records held at once; more are lost and counted */
};

struct flowlog_stats {
	uint64_t packets;      /* packets added */
	uint64_t records;      /* OK records emitted */
	uint64_t packets_lost; /* packets that found no room for their record */
	uint64_t skipdata;     /* SKIPDATA records emitted */
	size_t in_use;	       /* records held now */
	size_t capacity;
};

struct flowlog;

/* 0, -EINVAL (interval 0, capacity 0 or too large, bad format), -ENOMEM. */
int flowlog_create(const struct flowlog_config *c, struct flowlog **out);
void flowlog_destroy(struct flowlog *fl);

/* Adds a packet at time now (Unix seconds). 0 when aggregated; -ENOSPC when
 * the table is full (counted; the ENI gets a SKIPDATA record for the
 * interval); -EINVAL for a packet without interface id or with strings
 * longer than FLOWLOG_STR_MAX - 1; -ENOMEM when an interface seen for the
 * first time could not be recorded. Adding to an existing record does not
 * allocate. */
int flowlog_add(struct flowlog *fl, const struct flowlog_packet *p, uint64_t now);

/* Receives each finished record and its line (NUL-terminated, no newline).
 * A negative return (an errno code) stops the flush; that record and the
 * ones after it stay held and are offered again by the next flush. */
typedef int (*flowlog_emit_fn)(void *ctx, const struct flowlog_record *r, const char *line,
			       size_t len);

/* Emits every record whose aggregation interval has ended by now (all of
 * them when force, e.g. on exit), in the order the records were created,
 * then the SKIPDATA records. Intervals are aligned to multiples of the
 * interval length in Unix time. Returns the number of records emitted, or
 * the callback's negative return value when it stopped the flush. */
int flowlog_flush(struct flowlog *fl, uint64_t now, bool force, flowlog_emit_fn emit, void *ctx);

void flowlog_get_stats(const struct flowlog *fl, struct flowlog_stats *out);

#endif
