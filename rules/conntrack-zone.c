/*
 * The connection tracker's control side: walking, retagging, flushing and
 * renumbering zones, statistics, names, and the self-check used by tests.
 * Everything here may take time proportional to a zone or the table: none
 * of it is for the packet path (that is conntrack.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack-private.h"
#include "enum_name.h"

/* The one loop over a zone's live connections: walking and retagging
 * differ only in what they do with each. visit() gets the connection's
 * index; a non-zero return stops the loop and is returned. */
static int zone_each(const struct conntrack *ct, uint32_t zone, uint64_t now,
		     int (*visit)(uint32_t idx, const struct ct_conn_info *info, void *ctx),
		     void *ctx)
{
	const struct ct_zone *z;
	struct ct_conn_info info;
	uint32_t now_s = secs(now);

	if (zone >= ct->n_zones)
		return -EINVAL;
	z = &ct->zones[zone];
	for (int cls = 0; cls < CT_CLASS__COUNT; cls++) {
		for (uint32_t idx = z->lru[cls].head; idx; idx = at(ct, idx)->next) {
			const struct ct_conn *c = at(ct, idx);
			int r;

			if (ct_expired(ct, c, now_s))
				continue;
			ct_conn_get(ct, c, &info);
			r = visit(idx, &info, ctx);
			if (r)
				return r;
		}
	}
	return 0;
}

struct walk_ctx {
	int (*fn)(const struct ct_conn_info *info, void *arg);
	void *arg;
};

static int walk_one(uint32_t idx, const struct ct_conn_info *info, void *ctx)
{
	const struct walk_ctx *w = ctx;

	(void)idx;
	return w->fn(info, w->arg);
}

int ct_zone_walk(const struct conntrack *ct, uint32_t zone, uint64_t now,
		 int (*fn)(const struct ct_conn_info *info, void *arg), void *arg)
{
	struct walk_ctx w = {fn, arg};

	return zone_each(ct, zone, now, walk_one, &w);
}

struct retag_ctx {
	struct conntrack *ct;
	void (*fn)(const struct ct_conn_info *info, struct ct_rule_ref *ref, void *arg);
	void *arg;
};

static int retag_one(uint32_t idx, const struct ct_conn_info *info, void *ctx)
{
	const struct retag_ctx *r = ctx;

	r->fn(info, &at(r->ct, idx)->rule, r->arg);
	return 0;
}

int ct_zone_retag(struct conntrack *ct, uint32_t zone, uint64_t now,
		  void (*fn)(const struct ct_conn_info *info, struct ct_rule_ref *ref, void *arg),
		  void *arg)
{
	struct retag_ctx r = {ct, fn, arg};

	return zone_each(ct, zone, now, retag_one, &r);
}

static size_t zone_flush(struct conntrack *ct, struct ct_zone *z)
{
	size_t n = 0;

	for (int cls = 0; cls < CT_CLASS__COUNT; cls++) {
		while (z->lru[cls].head) {
			ct_conn_free(ct, at(ct, z->lru[cls].head));
			n++;
		}
	}
	return n;
}

size_t ct_zone_flush(struct conntrack *ct, uint32_t zone)
{
	if (zone >= ct->n_zones)
		return 0;
	return zone_flush(ct, &ct->zones[zone]);
}

/* Rewrites the zone in the key of every entry of z, which becomes zone `to`. */
static void zone_rekey(struct conntrack *ct, struct ct_zone *z, uint16_t to)
{
	for (int cls = 0; cls < CT_CLASS__COUNT; cls++) {
		for (uint32_t idx = z->lru[cls].head; idx; idx = at(ct, idx)->next) {
			struct ct_conn *c = at(ct, idx);

			ct_hash_unlink(ct, c);
			ct_key_set_zone(&c->key, to);
			ct_hash_link(ct, c);
		}
	}
}

static int remap_check(const struct conntrack *ct, const int32_t *new_zone_of, uint32_t n_new,
		       uint8_t *taken)
{
	for (uint32_t z = 0; z < ct->n_zones; z++) {
		int32_t to = new_zone_of[z];

		if (to < 0)
			continue;
		if ((uint32_t)to >= n_new || taken[to])
			return -EINVAL;
		taken[to] = 1;
	}
	return 0;
}

int ct_zones_remap(struct conntrack *ct, const int32_t *new_zone_of, uint32_t n_new)
{
	struct ct_zone *zones;
	uint8_t *taken;
	int r;

	if (n_new > CT_ZONE_MAX + 1)
		return -EINVAL;
	zones = calloc(n_new ? n_new : 1, sizeof(*zones));
	taken = calloc(n_new ? n_new : 1, 1);
	if (!zones || !taken) {
		free(zones);
		free(taken);
		return -ENOMEM;
	}
	r = remap_check(ct, new_zone_of, n_new, taken);
	if (r < 0) {
		free(zones);
		free(taken);
		return r;
	}
	for (uint32_t z = 0; z < ct->n_zones; z++) {
		if (new_zone_of[z] < 0)
			zone_flush(ct, &ct->zones[z]);
		else
			zone_rekey(ct, &ct->zones[z], (uint16_t)new_zone_of[z]);
	}
	for (uint32_t z = 0; z < n_new; z++)
		if (!taken[z])
			ct_zone_init(&zones[z], &ct->default_t, ct->default_allowance);
	for (uint32_t z = 0; z < ct->n_zones; z++)
		if (new_zone_of[z] >= 0)
			zones[new_zone_of[z]] = ct->zones[z];
	free(ct->zones);
	free(taken);
	ct->zones = zones;
	ct->n_zones = n_new;
	ct->sweep_zone = ct->sweep_cls = 0;
	return 0;
}

/* ---- growing the pool ------------------------------------------------- */

/* Links every entry of every zone into buckets (a fresh, empty array). */
static void rehash_all(struct conntrack *ct)
{
	for (uint32_t zi = 0; zi < ct->n_zones; zi++)
		for (int cls = 0; cls < CT_CLASS__COUNT; cls++)
			for (uint32_t idx = ct->zones[zi].lru[cls].head; idx;
			     idx = at(ct, idx)->next)
				ct_hash_link(ct, at(ct, idx));
}

int ct_reserve(struct conntrack *ct, uint32_t capacity)
{
	uint32_t cap, nb;
	uint32_t *buckets = NULL;
	struct ct_conn *pool;

	if (capacity > (1u << 31))
		return -EINVAL;
	if (capacity <= ct->capacity)
		return 0;
	cap = pow2_at_least(capacity);
	nb = pow2_at_least(cap);
	if (nb > ct->mask + 1) {
		buckets = calloc(nb, sizeof(*buckets));
		if (!buckets)
			return -ENOMEM;
	}
	/* Entries past used_hwm are never read, so the new tail needs no
	 * clearing (and a large realloc maps pages lazily, as calloc did). */
	pool = realloc(ct->pool, (size_t)cap * sizeof(*pool));
	if (!pool) {
		free(buckets);
		return -ENOMEM;
	}
	ct->pool = pool;
	ct->capacity = cap;
	if (buckets) {
		free(ct->buckets);
		ct->buckets = buckets;
		ct->mask = nb - 1;
		rehash_all(ct);
	}
	return 0;
}

uint64_t ct_pool_need(const struct conntrack *ct)
{
	uint64_t need = 0;

	for (uint32_t zi = 0; zi < ct->n_zones; zi++) {
		const struct ct_zone *z = &ct->zones[zi];

		need += z->count > z->allowance ? z->count : z->allowance;
	}
	return need;
}

/* ---- self-check ------------------------------------------------------- */

/* One zone's lists: links both ways, class and zone of each entry, order
 * by last_seen, count; each entry reachable by its own key. */
static int check_zone(const struct conntrack *ct, uint32_t zi, uint64_t *seen)
{
	const struct ct_zone *z = &ct->zones[zi];
	uint64_t n = 0;

	for (int cls = 0; cls < CT_CLASS__COUNT; cls++) {
		uint32_t prev = NIL;

		for (uint32_t idx = z->lru[cls].head; idx; idx = at(ct, idx)->next) {
			const struct ct_conn *c = at(ct, idx);

			if (idx > ct->used_hwm || c->prev != prev || c->cls != cls ||
			    ct_key_zone(&c->key) != zi || ++n > ct->in_use)
				return -EFAULT;
			if (prev && at(ct, prev)->last_seen > c->last_seen)
				return -EFAULT;
			if (ct_find(ct, &c->key) != c)
				return -EFAULT;
			prev = idx;
		}
		if (z->lru[cls].tail != prev)
			return -EFAULT;
	}
	if (n != z->count)
		return -EFAULT;
	*seen += n;
	return 0;
}

int ct_check(const struct conntrack *ct)
{
	uint64_t listed = 0, chained = 0, free_n = 0;

	for (uint32_t z = 0; z < ct->n_zones; z++)
		if (check_zone(ct, z, &listed) < 0)
			return -EFAULT;
	for (uint32_t b = 0; b <= ct->mask; b++)
		for (uint32_t idx = ct->buckets[b]; idx; idx = at(ct, idx)->hnext)
			if (idx > ct->used_hwm || ++chained > ct->in_use)
				return -EFAULT;
	for (uint32_t idx = ct->free_head; idx; idx = at(ct, idx)->next)
		if (idx > ct->used_hwm || at(ct, idx)->cls != CT_CLS_FREE ||
		    ++free_n > ct->capacity)
			return -EFAULT;
	if (listed != ct->in_use || chained != ct->in_use || free_n + ct->in_use != ct->used_hwm)
		return -EFAULT;
	return 0;
}

/* ---- statistics ------------------------------------------------------- */

int ct_zone_stats(const struct conntrack *ct, uint32_t zone, struct ct_zone_stats *out)
{
	const struct ct_zone *z;

	memset(out, 0, sizeof(*out));
	if (zone >= ct->n_zones)
		return -EINVAL;
	z = &ct->zones[zone];
	out->tracked = z->count;
	out->allowance = z->allowance;
	out->conntrack_allowance_available = z->count < z->allowance ? z->allowance - z->count : 0;
	/* What an insert would find: a pool short of room caps the zone too
	 * (only a pool smaller than ct_pool_need, or flows that idled out
	 * elsewhere and are not yet reclaimed). */
	if (out->conntrack_allowance_available > ct->capacity - ct->in_use)
		out->conntrack_allowance_available = ct->capacity - ct->in_use;
	out->conntrack_allowance_exceeded = z->exceeded;
	out->conntrack_pool_exhausted = z->pool_refused;
	return 0;
}

static size_t memory_of(const struct conntrack *ct)
{
	return sizeof(*ct) + (size_t)ct->capacity * sizeof(*ct->pool) +
	       ((size_t)ct->mask + 1) * sizeof(*ct->buckets) +
	       (size_t)ct->n_zones * sizeof(*ct->zones);
}

void ct_get_stats(const struct conntrack *ct, struct ct_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->capacity = ct->capacity;
	out->in_use = ct->in_use;
	out->pool_exhausted = ct->pool_exhausted;
	out->expired = ct->expired;
	out->memory = memory_of(ct);
}

size_t ct_bytes_per_entry(const struct conntrack *ct)
{
	size_t buckets = ((size_t)ct->mask + 1) * sizeof(*ct->buckets);

	return sizeof(*ct->pool) + (buckets + ct->capacity - 1) / ct->capacity;
}

const char *ct_class_name(enum ct_class c)
{
	static const char *const names[CT_CLASS__COUNT] = {
	    [CT_CLASS_TCP_TRANSIENT] = "tcp-transient",
	    [CT_CLASS_TCP_ESTABLISHED] = "tcp-established",
	    [CT_CLASS_TCP_CLOSED] = "tcp-closed",
	    [CT_CLASS_UDP] = "udp",
	    [CT_CLASS_UDP_STREAM] = "udp-stream",
	    [CT_CLASS_ICMP] = "icmp",
	    [CT_CLASS_OTHER] = "other",
	};

	return ENUM_NAME(names, c, "unknown");
}

const char *ct_tcp_state_name(enum ct_tcp_state s)
{
	static const char *const names[] = {
	    [CT_TCP_NONE] = "-",
	    [CT_TCP_SYN_SENT] = "SYN_SENT",
	    [CT_TCP_SYN_RECV] = "SYN_RECV",
	    [CT_TCP_ESTABLISHED] = "ESTABLISHED",
	    [CT_TCP_FIN_WAIT] = "FIN_WAIT",
	    [CT_TCP_TIME_WAIT] = "TIME_WAIT",
	    [CT_TCP_CLOSED] = "CLOSED",
	};

	return ENUM_NAME(names, s, "unknown");
}
