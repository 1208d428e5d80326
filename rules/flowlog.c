/*
 * VPC Flow Logs (AWS-SEMANTICS §6): the aggregation table (format
 * strings and lines are flowlog_format.c). The table is a fixed pool of
 * records chained into a power-of-two bucket array by index, plus one list
 * in creation order so flushes are deterministic; nothing is allocated per
 * packet. Interface descriptions (ids, AZ, account) are copied once per
 * interface into a small interned set, so a record never points at the
 * caller's strings, which a lab reload frees. Not a writer: lines go to the
 * caller's callback.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowlog-private.h"

#define NIL UINT32_MAX
#define IFACE_BUCKETS 256u
/* Above this many records the bucket array would not fit a sane process. */
#define CAPACITY_MAX (1u << 24)

/* ---- interned interfaces ---------------------------------------------- */

struct fl_iface {
	struct flowlog_iface view;		     /* points into s[] (NULL for absent strings) */
	char s[FLOWLOG_IFACE_STRS][FLOWLOG_STR_MAX]; /* flowlog_iface_strs order */
	uint64_t hash;
	uint32_t refs; /* records held, plus one while a SKIPDATA is pending */
	bool used;     /* since the last flush; idle ones are freed by the next */
	bool skip_pending;
	uint64_t skip_start, skip_end;
	struct fl_iface *hnext;	      /* bucket chain */
	struct fl_iface *prev, *next; /* creation order, for SKIPDATA order */
};

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
	for (struct fl_iface *i = fl->iface_buckets[h % IFACE_BUCKETS]; i; i = i->hnext) {
		if (i->hash != h)
			continue;
		bool same = true;
		for (size_t k = 0; k < FLOWLOG_IFACE_STRS && same; k++)
			same = str_same(i->s[k], flowlog_iface_get(want, k));
		if (same)
			return i;
	}
	return NULL;
}

static int iface_intern(struct flowlog *fl, const struct flowlog_iface *want, struct fl_iface **out)
{
	const char *id = want->interface_id;
	if (!id || !*id)
		return -EINVAL;
	uint64_t h = hash_bytes(id, strlen(id));
	struct fl_iface *i = iface_find(fl, want, h);
	if (i) {
		*out = i;
		return 0;
	}
	for (size_t k = 0; k < FLOWLOG_IFACE_STRS; k++) {
		const char *w = flowlog_iface_get(want, k);
		if (w && strlen(w) >= FLOWLOG_STR_MAX)
			return -EINVAL;
	}
	i = calloc(1, sizeof(*i));
	if (!i)
		return -ENOMEM;
	for (size_t k = 0; k < FLOWLOG_IFACE_STRS; k++) {
		const char *w = flowlog_iface_get(want, k);
		if (w)
			memcpy(i->s[k], w, strlen(w) + 1); /* length checked above */
		*flowlog_iface_slot(&i->view, k) = i->s[k][0] ? i->s[k] : NULL;
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
	*r = (struct flowlog_record){
	    .status = FLOWLOG_OK,
	    .iface = &k->iface->view,
	    .direction = (enum flowlog_direction)k->direction,
	    .action = (enum flowlog_action)k->action,
	    .src = k->src,
	    .dst = k->dst,
	    .pkt_src = k->pkt_src,
	    .pkt_dst = k->pkt_dst,
	    .protocol = k->protocol,
	    .sport = k->sport,
	    .dport = k->dport,
	    .tcp_flags = e->tcp_flags,
	    .traffic_path = e->traffic_path,
	    .pkt_src_aws_service = e->svc_src[0] ? e->svc_src : NULL,
	    .pkt_dst_aws_service = e->svc_dst[0] ? e->svc_dst : NULL,
	    .packets = e->packets,
	    .bytes = e->bytes,
	    .start = e->first,
	    .end = e->last,
	};
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
