/*
 * VPC Flow Logs lines (AWS-SEMANTICS §6): the format-string parser and the
 * record formatter, each field described once in a table (name, version,
 * where its value lives in a record). Not the aggregation: that is
 * flowlog.c, which hands finished records to flowlog_format_record.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flowlog-private.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* ---- fields and formats ------------------------------------------------ */

struct field_info {
	const char *name;
	uint8_t version;
};

/* Versions as in AWS's "available fields" table of the VPC User Guide. */
static const struct field_info fields[FLF_COUNT] = {
    [FLF_VERSION] = {"version", 2},
    [FLF_ACCOUNT_ID] = {"account-id", 2},
    [FLF_INTERFACE_ID] = {"interface-id", 2},
    [FLF_SRCADDR] = {"srcaddr", 2},
    [FLF_DSTADDR] = {"dstaddr", 2},
    [FLF_SRCPORT] = {"srcport", 2},
    [FLF_DSTPORT] = {"dstport", 2},
    [FLF_PROTOCOL] = {"protocol", 2},
    [FLF_PACKETS] = {"packets", 2},
    [FLF_BYTES] = {"bytes", 2},
    [FLF_START] = {"start", 2},
    [FLF_END] = {"end", 2},
    [FLF_ACTION] = {"action", 2},
    [FLF_LOG_STATUS] = {"log-status", 2},
    [FLF_VPC_ID] = {"vpc-id", 3},
    [FLF_SUBNET_ID] = {"subnet-id", 3},
    [FLF_INSTANCE_ID] = {"instance-id", 3},
    [FLF_TCP_FLAGS] = {"tcp-flags", 3},
    [FLF_TYPE] = {"type", 3},
    [FLF_PKT_SRCADDR] = {"pkt-srcaddr", 3},
    [FLF_PKT_DSTADDR] = {"pkt-dstaddr", 3},
    [FLF_REGION] = {"region", 4},
    [FLF_AZ_ID] = {"az-id", 4},
    [FLF_SUBLOCATION_TYPE] = {"sublocation-type", 4},
    [FLF_SUBLOCATION_ID] = {"sublocation-id", 4},
    [FLF_PKT_SRC_AWS_SERVICE] = {"pkt-src-aws-service", 5},
    [FLF_PKT_DST_AWS_SERVICE] = {"pkt-dst-aws-service", 5},
    [FLF_FLOW_DIRECTION] = {"flow-direction", 5},
    [FLF_TRAFFIC_PATH] = {"traffic-path", 5},
    [FLF_ECS_CLUSTER_ARN] = {"ecs-cluster-arn", 7},
    [FLF_ECS_CLUSTER_NAME] = {"ecs-cluster-name", 7},
    [FLF_ECS_CONTAINER_INSTANCE_ARN] = {"ecs-container-instance-arn", 7},
    [FLF_ECS_CONTAINER_INSTANCE_ID] = {"ecs-container-instance-id", 7},
    [FLF_ECS_CONTAINER_ID] = {"ecs-container-id", 7},
    [FLF_ECS_SECOND_CONTAINER_ID] = {"ecs-second-container-id", 7},
    [FLF_ECS_SERVICE_NAME] = {"ecs-service-name", 7},
    [FLF_ECS_TASK_DEFINITION_ARN] = {"ecs-task-definition-arn", 7},
    [FLF_ECS_TASK_ARN] = {"ecs-task-arn", 7},
    [FLF_ECS_TASK_ID] = {"ecs-task-id", 7},
};

/* How a field's value is printed: from a member of struct flowlog_record
 * (off) of a given type; the interface's strings (flowlog_iface_strs) and
 * the rest (COL_OWN, see put_own) by their own rules. */
enum col_kind { COL_OWN, COL_ADDR, COL_U8, COL_U16, COL_U64, COL_STR };

#define REC(m) offsetof(struct flowlog_record, m)

static const struct {
	uint8_t kind; /* enum col_kind */
	size_t off;
} cols[FLF_COUNT] = {
    [FLF_SRCADDR] = {COL_ADDR, REC(src)},
    [FLF_DSTADDR] = {COL_ADDR, REC(dst)},
    [FLF_SRCPORT] = {COL_U16, REC(sport)},
    [FLF_DSTPORT] = {COL_U16, REC(dport)},
    [FLF_PROTOCOL] = {COL_U8, REC(protocol)},
    [FLF_PACKETS] = {COL_U64, REC(packets)},
    [FLF_BYTES] = {COL_U64, REC(bytes)},
    [FLF_START] = {COL_U64, REC(start)},
    [FLF_END] = {COL_U64, REC(end)},
    [FLF_TCP_FLAGS] = {COL_U8, REC(tcp_flags)},
    [FLF_PKT_SRCADDR] = {COL_ADDR, REC(pkt_src)},
    [FLF_PKT_DSTADDR] = {COL_ADDR, REC(pkt_dst)},
    [FLF_PKT_SRC_AWS_SERVICE] = {COL_STR, REC(pkt_src_aws_service)},
    [FLF_PKT_DST_AWS_SERVICE] = {COL_STR, REC(pkt_dst_aws_service)},
};

const char *flowlog_field_name(enum flowlog_field f)
{
	return (unsigned)f < FLF_COUNT ? fields[f].name : NULL;
}

int flowlog_field_version(enum flowlog_field f)
{
	return (unsigned)f < FLF_COUNT ? fields[f].version : -1;
}

static void set_default_format(struct flowlog_format *out)
{
	memset(out, 0, sizeof(*out));
	for (int f = FLF_VERSION; f <= FLF_LOG_STATUS; f++)
		out->fields[out->n++] = (uint8_t)f;
	out->version = 2;
}

static int field_lookup(const char *name, size_t len)
{
	for (int f = 0; f < FLF_COUNT; f++)
		if (strlen(fields[f].name) == len && !memcmp(fields[f].name, name, len))
			return f;
	return -1;
}

static int parse_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int parse_error(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int flowlog_format_parse(const char *spec, struct flowlog_format *out, char *err, size_t errlen)
{
	set_default_format(out);
	if (!spec || !*spec)
		return 0;
	struct flowlog_format f = {0};
	const char *p = spec;
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		size_t at = (size_t)(p - spec);
		if (p[0] != '$' || p[1] != '{')
			return parse_error(err, errlen, "expected '${' at offset %zu", at);
		const char *name = p + 2;
		const char *close = strchr(name, '}');
		if (!close)
			return parse_error(err, errlen, "unterminated '${' at offset %zu", at);
		int id = field_lookup(name, (size_t)(close - name));
		if (id < 0)
			return parse_error(err, errlen, "unknown field '%.*s' at offset %zu",
					   (int)(close - name), name, at);
		if (f.n == FLOWLOG_MAX_FIELDS)
			return parse_error(err, errlen, "more than %d fields", FLOWLOG_MAX_FIELDS);
		f.fields[f.n++] = (uint8_t)id;
		if (fields[id].version > f.version)
			f.version = fields[id].version;
		p = close + 1;
		if (*p && *p != ' ')
			return parse_error(err, errlen,
					   "fields must be separated by spaces at offset %zu",
					   (size_t)(p - spec));
	}
	if (!f.n)
		return parse_error(err, errlen, "no fields in the format");
	*out = f;
	return 0;
}

/* ---- formatting ---------------------------------------------------------- */

/* An snprintf-like appender: keeps counting past the end of the buffer. */
struct out {
	char *buf;
	size_t len, pos;
};

static void put(struct out *o, const char *s)
{
	size_t n = strlen(s);
	if (o->pos < o->len) {
		size_t room = o->len - o->pos - 1;
		memcpy(o->buf + o->pos, s, n < room ? n : room);
		o->buf[o->pos + (n < room ? n : room)] = '\0';
	}
	o->pos += n;
}

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[24];
	snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	put(o, tmp);
}

static void put_str(struct out *o, const char *s)
{
	put(o, s && *s ? s : "-");
}

static void put_addr(struct out *o, const struct ip_addr *a)
{
	char tmp[IP_ADDR_STRLEN];
	put(o, a->family ? ip_addr_format(a, tmp, sizeof(tmp)) : "-");
}

size_t flowlog_format_header(const struct flowlog_format *f, char *buf, size_t len)
{
	struct out o = {buf, len, 0};
	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < f->n; i++) {
		if (i)
			put(&o, " ");
		put(&o, fields[f->fields[i]].name);
	}
	return o.pos;
}

static const char *status_name(enum flowlog_status s)
{
	return s == FLOWLOG_OK ? "OK" : s == FLOWLOG_NODATA ? "NODATA" : "SKIPDATA";
}

#define IFACE(m) offsetof(struct flowlog_iface, m)

const struct flowlog_iface_str flowlog_iface_strs[FLOWLOG_IFACE_STRS] = {
    {FLF_INTERFACE_ID, IFACE(interface_id)},
    {FLF_ACCOUNT_ID, IFACE(account_id)},
    {FLF_VPC_ID, IFACE(vpc_id)},
    {FLF_SUBNET_ID, IFACE(subnet_id)},
    {FLF_INSTANCE_ID, IFACE(instance_id)},
    {FLF_REGION, IFACE(region)},
    {FLF_AZ_ID, IFACE(az_id)},
    {FLF_SUBLOCATION_TYPE, IFACE(sublocation_type)},
    {FLF_SUBLOCATION_ID, IFACE(sublocation_id)},
};

/* Fields describing the interface, printed for every status. */
static bool put_iface_field(struct out *o, enum flowlog_field f, const struct flowlog_iface *i)
{
	for (size_t k = 0; k < FLOWLOG_IFACE_STRS; k++)
		if (flowlog_iface_strs[k].field == f) {
			put_str(o, flowlog_iface_get(i, k));
			return true;
		}
	return false;
}

/* The fields whose text is not a member printed as it is. */
static void put_own(struct out *o, enum flowlog_field f, const struct flowlog_record *r)
{
	switch (f) {
	case FLF_ACTION:
		put(o, r->action == FLOWLOG_ACCEPT ? "ACCEPT" : "REJECT");
		break;
	case FLF_TYPE:
		put(o, r->src.family == IP_V6 ? "IPv6" : "IPv4");
		break;
	case FLF_FLOW_DIRECTION:
		put(o, r->direction == FLOWLOG_INGRESS ? "ingress" : "egress");
		break;
	case FLF_TRAFFIC_PATH:
		/* AWS: the path egress traffic takes; "-" when none applies. */
		if (r->direction == FLOWLOG_EGRESS && r->traffic_path)
			put_u64(o, r->traffic_path);
		else
			put(o, "-");
		break;
	default:
		put(o, "-"); /* ECS fields: vpcfw runs no ECS tasks */
		break;
	}
}

/* Fields describing the traffic. AWS: "If no flags are sent, the TCP flag
 * value is 0"; non-TCP records print 0 too (unverified). */
static uint64_t col_uint(const void *m, enum col_kind k)
{
	if (k == COL_U8)
		return *(const uint8_t *)m;
	return k == COL_U16 ? *(const uint16_t *)m : *(const uint64_t *)m;
}

static void put_flow_field(struct out *o, enum flowlog_field f, const struct flowlog_record *r)
{
	const void *m = (const char *)r + cols[f].off;
	enum col_kind k = cols[f].kind;
	if (k == COL_ADDR)
		put_addr(o, m);
	else if (k == COL_STR)
		put_str(o, *(const char *const *)m);
	else if (k == COL_OWN)
		put_own(o, f, r);
	else
		put_u64(o, col_uint(m, k));
}

size_t flowlog_format_record(const struct flowlog_format *f, const struct flowlog_record *r,
			     char *buf, size_t len)
{
	struct out o = {buf, len, 0};
	static const struct flowlog_iface no_iface;
	const struct flowlog_iface *i = r->iface ? r->iface : &no_iface;
	if (len)
		buf[0] = '\0';
	for (unsigned k = 0; k < f->n; k++) {
		enum flowlog_field fld = f->fields[k];
		if (k)
			put(&o, " ");
		if (fld == FLF_VERSION)
			put_u64(&o, f->version);
		else if (fld == FLF_LOG_STATUS)
			put(&o, status_name(r->status));
		else if (put_iface_field(&o, fld, i))
			;
		/* "-" in NODATA/SKIPDATA records but for their interval, as in
		 * AWS's examples ("... eni-… - - - - - - - 1431280876 1431280934 - NODATA") */
		else if (r->status != FLOWLOG_OK && fld != FLF_START && fld != FLF_END)
			put(&o, "-");
		else
			put_flow_field(&o, fld, r);
	}
	return o.pos;
}

uint8_t flowlog_tcp_flags(uint8_t raw)
{
	/* AWS records FIN, SYN, RST and SYN-ACK only: a lone ACK, PSH, URG,
	 * ECE or CWR adds nothing; ACK counts only beside SYN (18). */
	uint8_t f = raw & (TCP_FIN | TCP_SYN | TCP_RST);
	if ((raw & TCP_SYN) && (raw & TCP_ACK))
		f |= TCP_ACK;
	return f;
}
