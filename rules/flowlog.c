/*
 * VPC Flow Logs (AWS-SEMANTICS §6): the format-string parser, the record
 * formatter and the aggregation table. The table is a fixed pool of
 * records chained into a power-of-two bucket array by index, plus one list
 * in creation order so flushes are deterministic; nothing is allocated per
 * packet. Interface descriptions (ids, AZ, account) are copied once per
 * interface into a small interned set, so a record never points at the
 * caller's strings, which a lab reload frees. Not a writer: lines go to the
 * caller's callback.
 */
#include "flowlog.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define IFACE_BUCKETS 256u
/* Above this many records the bucket array would not fit a sane process. */
#define CAPACITY_MAX (1u << 24)

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

/* Fields describing the interface, printed for every status. */
static bool put_iface_field(struct out *o, enum flowlog_field f, const struct flowlog_iface *i)
{
	switch (f) {
	case FLF_ACCOUNT_ID:
		put_str(o, i->account_id);
		return true;
	case FLF_INTERFACE_ID:
		put_str(o, i->interface_id);
		return true;
	case FLF_VPC_ID:
		put_str(o, i->vpc_id);
		return true;
	case FLF_SUBNET_ID:
		put_str(o, i->subnet_id);
		return true;
	case FLF_INSTANCE_ID:
		put_str(o, i->instance_id);
		return true;
	case FLF_REGION:
		put_str(o, i->region);
		return true;
	case FLF_AZ_ID:
		put_str(o, i->az_id);
		return true;
	case FLF_SUBLOCATION_TYPE:
		put_str(o, i->sublocation_type);
		return true;
	case FLF_SUBLOCATION_ID:
		put_str(o, i->sublocation_id);
		return true;
	default:
		return false;
	}
}

/* Fields describing the traffic; "-" in NODATA/SKIPDATA records, as in
 * AWS's examples ("... eni-… - - - - - - - 1431280876 1431280934 - NODATA"). */
static void put_flow_field(struct out *o, enum flowlog_field f, const struct flowlog_record *r)
{
	switch (f) {
	case FLF_SRCADDR:
		put_addr(o, &r->src);
		break;
	case FLF_DSTADDR:
		put_addr(o, &r->dst);
		break;
	case FLF_SRCPORT:
		put_u64(o, r->sport);
		break;
	case FLF_DSTPORT:
		put_u64(o, r->dport);
		break;
	case FLF_PROTOCOL:
		put_u64(o, r->protocol);
		break;
	case FLF_PACKETS:
		put_u64(o, r->packets);
		break;
	case FLF_BYTES:
		put_u64(o, r->bytes);
		break;
	case FLF_ACTION:
		put(o, r->action == FLOWLOG_ACCEPT ? "ACCEPT" : "REJECT");
		break;
	case FLF_TCP_FLAGS:
		/* AWS: "If no flags are sent, the TCP flag value is 0"; non-TCP
		 * records print 0 too (unverified). */
		put_u64(o, r->tcp_flags);
		break;
	case FLF_TYPE:
		put(o, r->src.family == IP_V6 ? "IPv6" : "IPv4");
		break;
	case FLF_PKT_SRCADDR:
		put_addr(o, &r->pkt_src);
		break;
	case FLF_PKT_DSTADDR:
		put_addr(o, &r->pkt_dst);
		break;
	case FLF_PKT_SRC_AWS_SERVICE:
		put_str(o, r->pkt_src_aws_service);
		break;
	case FLF_PKT_DST_AWS_SERVICE:
		put_str(o, r->pkt_dst_aws_service);
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
		else if (fld == FLF_START)
			put_u64(&o, r->start);
		else if (fld == FLF_END)
			put_u64(&o, r->end);
		else if (fld == FLF_LOG_STATUS)
			put(&o, status_name(r->status));
		else if (put_iface_field(&o, fld, i))
			;
		else if (r->status != FLOWLOG_OK)
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

/* ---- interned interfaces ---------------------------------------------- */

enum {
	IS_INTERFACE,
	IS_ACCOUNT,
	IS_VPC,
	IS_SUBNET,
	IS_INSTANCE,
	IS_REGION,
	IS_AZ,
	IS_SUBLOC_TYPE,
	IS_SUBLOC_ID,
	IS_COUNT
};

struct fl_iface {
	struct flowlog_iface view; /* points into s[] (NULL for absent strings) */
	char s[IS_COUNT][FLOWLOG_STR_MAX];
	uint64_t hash;
	uint32_t refs; /* records held, plus one while a SKIPDATA is pending */
	bool used;     /* since the last flush; idle ones are freed by the next */
	bool skip_pending;
	uint64_t skip_start, skip_end;
	struct fl_iface *hnext;	      /* bucket chain */
	struct fl_iface *prev, *next; /* creation order, for SKIPDATA order */
};

static void iface_strings(const struct flowlog_iface *i, const char *out[IS_COUNT])
{
	out[IS_INTERFACE] = i->interface_id;
	out[IS_ACCOUNT] = i->account_id;
	out[IS_VPC] = i->vpc_id;
	out[IS_SUBNET] = i->subnet_id;
	out[IS_INSTANCE] = i->instance_id;
	out[IS_REGION] = i->region;
	out[IS_AZ] = i->az_id;
	out[IS_SUBLOC_TYPE] = i->sublocation_type;
	out[IS_SUBLOC_ID] = i->sublocation_id;
}

/* ---- the aggregation table --------------------------------------------- */

/* Hashed and compared as raw bytes: explicit padding keeps it free of
 * holes, and keys are zeroed before they are filled. */
struct fl_key {
	const struct fl_iface *iface;
	uint64_t window; /* start time / interval */
	struct ip_addr src, dst, pkt_src, pkt_dst;
	uint16_t sport, dport;
	uint8_t protocol, direction, action;
	uint8_t pad[5];
};
_Static_assert(sizeof(struct fl_key) == 96, "struct fl_key has holes");

struct fl_entry {
	struct fl_key key;
	uint32_t hnext;	     /* bucket chain, or free list */
	uint32_t prev, next; /* creation order */
	uint8_t tcp_flags;
	uint8_t traffic_path;
	uint64_t packets, bytes, first, last;
	char svc_src[FLOWLOG_SERVICE_MAX], svc_dst[FLOWLOG_SERVICE_MAX];
};

struct flowlog {
	struct flowlog_format format;
	uint32_t interval;
	uint32_t capacity;
	uint32_t mask; /* buckets - 1 */
	uint32_t *buckets;
	struct fl_entry *entries;
	uint32_t free_head;
	uint32_t head, tail; /* creation order */
	struct fl_iface *iface_buckets[IFACE_BUCKETS];
	struct fl_iface *iface_head, *iface_tail;
	struct flowlog_stats stats;
	char line[FLOWLOG_LINE_MAX];
};

static uint64_t mix64(uint64_t h)
{
	/* murmur3's finaliser: every input bit reaches the low bits the
	 * bucket index is taken from */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* Two independent lanes halve the multiply chain on the 96-byte key. */
static uint64_t hash_bytes(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t a = 0x243f6a8885a308d3ull ^ len, b = 0x13198a2e03707344ull;
	while (len >= 16) {
		uint64_t w[2];
		memcpy(w, p, 16);
		a = (a ^ w[0]) * 0x9e3779b97f4a7c15ull;
		b = (b ^ w[1]) * 0xc2b2ae3d27d4eb4full;
		a = (a << 27) | (a >> 37);
		b = (b << 31) | (b >> 33);
		p += 16;
		len -= 16;
	}
	uint64_t tail[2] = {0, 0};
	memcpy(tail, p, len);
	return mix64(a ^ tail[0] ^ mix64(b ^ tail[1]));
}

static bool str_same(const char *stored, const char *given)
{
	/* absent and empty both print "-", so they are the same value */
	if (!given || !*given)
		return !stored[0];
	return !strcmp(stored, given);
}

static struct fl_iface *iface_find(struct flowlog *fl, const struct flowlog_iface *want, uint64_t h)
{
	const char *w[IS_COUNT];
	iface_strings(want, w);
	for (struct fl_iface *i = fl->iface_buckets[h % IFACE_BUCKETS]; i; i = i->hnext) {
		if (i->hash != h)
			continue;
		bool same = true;
		for (int k = 0; k < IS_COUNT && same; k++)
			same = str_same(i->s[k], w[k]);
		if (same)
			return i;
	}
	return NULL;
}

static int iface_intern(struct flowlog *fl, const struct flowlog_iface *want, struct fl_iface **out)
{
	const char *w[IS_COUNT];
	iface_strings(want, w);
	if (!w[IS_INTERFACE] || !*w[IS_INTERFACE])
		return -EINVAL;
	uint64_t h = hash_bytes(w[IS_INTERFACE], strlen(w[IS_INTERFACE]));
	struct fl_iface *i = iface_find(fl, want, h);
	if (i) {
		*out = i;
		return 0;
	}
	for (int k = 0; k < IS_COUNT; k++)
		if (w[k] && strlen(w[k]) >= FLOWLOG_STR_MAX)
			return -EINVAL;
	i = calloc(1, sizeof(*i));
	if (!i)
		return -ENOMEM;
	const char **view[IS_COUNT] = {
	    &i->view.interface_id, &i->view.account_id,	      &i->view.vpc_id,
	    &i->view.subnet_id,	   &i->view.instance_id,      &i->view.region,
	    &i->view.az_id,	   &i->view.sublocation_type, &i->view.sublocation_id,
	};
	for (int k = 0; k < IS_COUNT; k++) {
		if (w[k])
			memcpy(i->s[k], w[k], strlen(w[k]) + 1); /* length checked above */
		*view[k] = i->s[k][0] ? i->s[k] : NULL;
	}
	i->hash = h;
	i->hnext = fl->iface_buckets[h % IFACE_BUCKETS];
	fl->iface_buckets[h % IFACE_BUCKETS] = i;
	i->prev = fl->iface_tail;
	if (fl->iface_tail)
		fl->iface_tail->next = i;
	else
		fl->iface_head = i;
	fl->iface_tail = i;
	*out = i;
	return 0;
}

static void iface_free(struct flowlog *fl, struct fl_iface *i)
{
	struct fl_iface **pp = &fl->iface_buckets[i->hash % IFACE_BUCKETS];
	while (*pp != i)
		pp = &(*pp)->hnext;
	*pp = i->hnext;
	if (i->prev)
		i->prev->next = i->next;
	else
		fl->iface_head = i->next;
	if (i->next)
		i->next->prev = i->prev;
	else
		fl->iface_tail = i->prev;
	free(i);
}

int flowlog_create(const struct flowlog_config *c, struct flowlog **out)
{
	*out = NULL;
	if (!c->interval || !c->capacity || c->capacity > CAPACITY_MAX || !c->format.n ||
	    c->format.n > FLOWLOG_MAX_FIELDS)
		return -EINVAL;
	struct flowlog *fl = calloc(1, sizeof(*fl));
	if (!fl)
		return -ENOMEM;
	uint32_t nb = 1;
	while (nb < c->capacity)
		nb <<= 1;
	fl->buckets = malloc(nb * sizeof(*fl->buckets));
	fl->entries = calloc(c->capacity, sizeof(*fl->entries));
	if (!fl->buckets || !fl->entries) {
		free(fl->buckets);
		free(fl->entries);
		free(fl);
		return -ENOMEM;
	}
	fl->format = c->format;
	fl->interval = c->interval;
	fl->capacity = (uint32_t)c->capacity;
	fl->mask = nb - 1;
	for (uint32_t b = 0; b < nb; b++)
		fl->buckets[b] = NIL;
	for (uint32_t e = 0; e < fl->capacity; e++)
		fl->entries[e].hnext = e + 1 < fl->capacity ? e + 1 : NIL;
	fl->free_head = 0;
	fl->head = fl->tail = NIL;
	fl->stats.capacity = c->capacity;
	*out = fl;
	return 0;
}

void flowlog_destroy(struct flowlog *fl)
{
	if (!fl)
		return;
	while (fl->iface_head)
		iface_free(fl, fl->iface_head);
	free(fl->buckets);
	free(fl->entries);
	free(fl);
}

static bool has_ports(uint8_t protocol)
{
	return protocol == 6 || protocol == 17;
}

static void make_key(const struct flowlog_packet *p, const struct fl_iface *i, uint64_t window,
		     struct fl_key *k)
{
	memset(k, 0, sizeof(*k));
	k->iface = i;
	k->window = window;
	k->src = p->src;
	k->dst = p->dst;
	k->pkt_src = p->pkt_src.family ? p->pkt_src : p->src;
	k->pkt_dst = p->pkt_dst.family ? p->pkt_dst : p->dst;
	if (has_ports(p->protocol)) {
		k->sport = p->sport;
		k->dport = p->dport;
	}
	k->protocol = p->protocol;
	k->direction = (uint8_t)p->direction;
	k->action = (uint8_t)p->action;
}

static void note_skip(struct flowlog *fl, struct fl_iface *i, uint64_t window, uint32_t n)
{
	uint64_t start = window * fl->interval, end = start + fl->interval;
	fl->stats.packets_lost += n;
	if (!i->skip_pending) {
		i->skip_pending = true;
		i->refs++;
		i->skip_start = start;
		i->skip_end = end;
		return;
	}
	if (start < i->skip_start)
		i->skip_start = start;
	if (end > i->skip_end)
		i->skip_end = end;
}

static bool service_ok(const char *s)
{
	return !s || strlen(s) < FLOWLOG_SERVICE_MAX;
}

static void entry_init(struct fl_entry *e, const struct fl_key *k, const struct flowlog_packet *p,
		       uint64_t now)
{
	e->key = *k;
	e->packets = 0;
	e->bytes = 0;
	e->first = e->last = now;
	e->tcp_flags = 0;
	e->traffic_path = p->traffic_path;
	snprintf(e->svc_src, sizeof(e->svc_src), "%s",
		 p->pkt_src_aws_service ? p->pkt_src_aws_service : "");
	snprintf(e->svc_dst, sizeof(e->svc_dst), "%s",
		 p->pkt_dst_aws_service ? p->pkt_dst_aws_service : "");
}

static uint32_t entry_new(struct flowlog *fl, const struct fl_key *k, uint64_t h,
			  const struct flowlog_packet *p, uint64_t now)
{
	uint32_t idx = fl->free_head;
	struct fl_entry *e = &fl->entries[idx];
	fl->free_head = e->hnext;
	entry_init(e, k, p, now);
	e->hnext = fl->buckets[h & fl->mask];
	fl->buckets[h & fl->mask] = idx;
	e->next = NIL;
	e->prev = fl->tail;
	if (fl->tail != NIL)
		fl->entries[fl->tail].next = idx;
	else
		fl->head = idx;
	fl->tail = idx;
	((struct fl_iface *)k->iface)->refs++;
	fl->stats.in_use++;
	return idx;
}

int flowlog_add(struct flowlog *fl, const struct flowlog_packet *p, uint64_t now)
{
	if (!p->iface || !service_ok(p->pkt_src_aws_service) || !service_ok(p->pkt_dst_aws_service))
		return -EINVAL;
	struct fl_iface *i;
	int r = iface_intern(fl, p->iface, &i);
	if (r < 0) {
		if (r == -ENOMEM)
			fl->stats.packets_lost++;
		return r;
	}
	i->used = true;
	uint64_t window = now / fl->interval;
	struct fl_key k;
	make_key(p, i, window, &k);
	uint64_t h = hash_bytes(&k, sizeof(k));
	uint32_t idx = fl->buckets[h & fl->mask];
	while (idx != NIL && memcmp(&fl->entries[idx].key, &k, sizeof(k)))
		idx = fl->entries[idx].hnext;
	if (idx == NIL) {
		if (fl->free_head == NIL) {
			note_skip(fl, i, window, p->segments ? p->segments : 1);
			return -ENOSPC;
		}
		idx = entry_new(fl, &k, h, p, now);
	}
	struct fl_entry *e = &fl->entries[idx];
	fl->stats.packets += p->segments ? p->segments : 1;
	e->packets += p->segments ? p->segments : 1;
	e->bytes += p->bytes;
	if (now < e->first)
		e->first = now;
	if (now > e->last)
		e->last = now;
	if (p->protocol == 6)
		e->tcp_flags |= flowlog_tcp_flags(p->tcp_flags);
	return 0;
}

static void iface_unref(struct flowlog *fl, struct fl_iface *i)
{
	/* freed by the flush after it goes idle, so a busy ENI is copied
	 * once and not once per interval */
	i->refs--;
}

static void entry_remove(struct flowlog *fl, uint32_t idx)
{
	struct fl_entry *e = &fl->entries[idx];
	uint64_t h = hash_bytes(&e->key, sizeof(e->key));
	uint32_t *pp = &fl->buckets[h & fl->mask];
	while (*pp != idx)
		pp = &fl->entries[*pp].hnext;
	*pp = e->hnext;
	if (e->prev != NIL)
		fl->entries[e->prev].next = e->next;
	else
		fl->head = e->next;
	if (e->next != NIL)
		fl->entries[e->next].prev = e->prev;
	else
		fl->tail = e->prev;
	iface_unref(fl, (struct fl_iface *)e->key.iface);
	e->hnext = fl->free_head;
	fl->free_head = idx;
	fl->stats.in_use--;
}

static void entry_record(const struct fl_entry *e, struct flowlog_record *r)
{
	const struct fl_key *k = &e->key;
	memset(r, 0, sizeof(*r));
	r->status = FLOWLOG_OK;
	r->iface = &k->iface->view;
	r->direction = (enum flowlog_direction)k->direction;
	r->action = (enum flowlog_action)k->action;
	r->src = k->src;
	r->dst = k->dst;
	r->pkt_src = k->pkt_src;
	r->pkt_dst = k->pkt_dst;
	r->protocol = k->protocol;
	r->sport = k->sport;
	r->dport = k->dport;
	r->tcp_flags = e->tcp_flags;
	r->traffic_path = e->traffic_path;
	r->pkt_src_aws_service = e->svc_src[0] ? e->svc_src : NULL;
	r->pkt_dst_aws_service = e->svc_dst[0] ? e->svc_dst : NULL;
	r->packets = e->packets;
	r->bytes = e->bytes;
	r->start = e->first;
	r->end = e->last;
}

static int emit_record(struct flowlog *fl, const struct flowlog_record *r, flowlog_emit_fn emit,
		       void *ctx)
{
	size_t n = flowlog_format_record(&fl->format, r, fl->line, sizeof(fl->line));
	return emit(ctx, r, fl->line, n);
}

static int flush_records(struct flowlog *fl, uint64_t now, bool force, flowlog_emit_fn emit,
			 void *ctx, int *count)
{
	uint32_t idx = fl->head;
	while (idx != NIL) {
		struct fl_entry *e = &fl->entries[idx];
		uint32_t next = e->next;
		uint64_t end = (e->key.window + 1) * fl->interval;
		if (force || now >= end) {
			struct flowlog_record r;
			entry_record(e, &r);
			int ret = emit_record(fl, &r, emit, ctx);
			if (ret < 0)
				return ret;
			entry_remove(fl, idx);
			fl->stats.records++;
			(*count)++;
		}
		idx = next;
	}
	return 0;
}

static int flush_skips(struct flowlog *fl, uint64_t now, bool force, flowlog_emit_fn emit,
		       void *ctx, int *count)
{
	for (struct fl_iface *i = fl->iface_head; i; i = i->next) {
		if (!i->skip_pending || !(force || now >= i->skip_end))
			continue;
		struct flowlog_record r = {
		    .status = FLOWLOG_SKIPDATA,
		    .iface = &i->view,
		    .start = i->skip_start,
		    .end = i->skip_end,
		};
		int ret = emit_record(fl, &r, emit, ctx);
		if (ret < 0)
			return ret;
		i->skip_pending = false;
		i->refs--;
		fl->stats.skipdata++;
		(*count)++;
	}
	return 0;
}

static void free_idle_ifaces(struct flowlog *fl)
{
	struct fl_iface *i = fl->iface_head;
	while (i) {
		struct fl_iface *next = i->next;
		if (!i->refs && !i->used)
			iface_free(fl, i);
		else
			i->used = false;
		i = next;
	}
}

int flowlog_flush(struct flowlog *fl, uint64_t now, bool force, flowlog_emit_fn emit, void *ctx)
{
	int count = 0;
	int ret = flush_records(fl, now, force, emit, ctx, &count);
	if (!ret)
		ret = flush_skips(fl, now, force, emit, ctx, &count);
	if (ret < 0)
		return ret;
	free_idle_ifaces(fl);
	return count;
}

void flowlog_get_stats(const struct flowlog *fl, struct flowlog_stats *out)
{
	*out = fl->stats;
}
