/*
 * The connection table: a preallocated pool of entries, a chained hash
 * table of fixed size over it, and per-zone (per-ENI) allowance, counters
 * and idle-timeout lists. Each zone keeps one list per timeout class,
 * ordered by last activity, so the oldest entry of a class is its head:
 * expiry, reclaiming room and sweeping look at heads only, never scan the
 * table (as Open vSwitch's conntrack does with its expiration lists).
 * Timeouts are read from the zone when an entry is checked, so changing
 * them applies to existing entries at once without reordering anything.
 *
 * Not here: keys and protocol state (conntrack-proto.c, conntrack-tcp.c),
 * walking, flushing, remapping and statistics (conntrack-zone.c), deciding
 * what to track (the SG evaluator).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack-private.h"

#define COUNTER_MAX ((1ull << 48) - 1)

/* ---- hashing ---------------------------------------------------------- */

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t key_word(const struct ct_key *k, int i)
{
	uint64_t w;

	memcpy(&w, (const uint8_t *)k + 8 * i, sizeof(w));
	return w;
}

/* The five words are mixed independently (the multiplies run in parallel)
 * and then folded; seeded per word so that colliding keys can't be chosen
 * without the seed. */
static inline uint32_t key_hash(const struct ct_key *k, uint64_t seed)
{
	uint64_t h;

	h = rotl64((key_word(k, 0) ^ seed) * 0x87c37b91114253d5ull, 31) ^
	    rotl64((key_word(k, 1) + seed) * 0x4cf5ad432745937full, 27) ^
	    rotl64((key_word(k, 2) ^ rotl64(seed, 17)) * 0x9e3779b97f4a7c15ull, 33) ^
	    rotl64((key_word(k, 3) + rotl64(seed, 41)) * 0xc2b2ae3d27d4eb4full, 29) ^
	    ((key_word(k, 4) ^ rotl64(seed, 7)) * 0x165667b19e3779f9ull);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static inline bool key_eq(const struct ct_key *a, const struct ct_key *b)
{
	return !((key_word(a, 0) ^ key_word(b, 0)) | (key_word(a, 1) ^ key_word(b, 1)) |
		 (key_word(a, 2) ^ key_word(b, 2)) | (key_word(a, 3) ^ key_word(b, 3)) |
		 (key_word(a, 4) ^ key_word(b, 4)));
}

static inline uint32_t *bucket_of(struct conntrack *ct, const struct ct_key *k)
{
	return &ct->buckets[key_hash(k, ct->seed) & ct->mask];
}

void ct_hash_unlink(struct conntrack *ct, struct ct_conn *c)
{
	uint32_t idx = idx_of(ct, c);
	uint32_t *p = bucket_of(ct, &c->key);

	while (*p != idx)
		p = &at(ct, *p)->hnext;
	*p = c->hnext;
	c->hnext = NIL;
}

void ct_hash_link(struct conntrack *ct, struct ct_conn *c)
{
	uint32_t *b = bucket_of(ct, &c->key);

	c->hnext = *b;
	*b = idx_of(ct, c);
}

/* ---- zone lists ------------------------------------------------------- */

static void list_unlink(struct conntrack *ct, struct ct_list *l, struct ct_conn *c)
{
	if (c->prev)
		at(ct, c->prev)->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		at(ct, c->next)->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NIL;
}

static void list_append(struct conntrack *ct, struct ct_list *l, struct ct_conn *c)
{
	uint32_t idx = idx_of(ct, c);

	c->next = NIL;
	c->prev = l->tail;
	if (l->tail)
		at(ct, l->tail)->next = idx;
	else
		l->head = idx;
	l->tail = idx;
}

/* ---- timeouts --------------------------------------------------------- */

static bool timeouts_valid(const struct ct_timeouts *t)
{
	return t->tcp_established && t->tcp_transient && t->udp_stream && t->udp && t->icmp &&
	       t->other;
}

static void zone_set_timeouts(struct ct_zone *z, const struct ct_timeouts *t)
{
	z->t = *t;
	z->timeout[CT_CLASS_TCP_TRANSIENT] = t->tcp_transient;
	z->timeout[CT_CLASS_TCP_ESTABLISHED] = t->tcp_established;
	z->timeout[CT_CLASS_TCP_CLOSED] =
	    t->tcp_transient < CT_TCP_CLOSED_TIMEOUT ? t->tcp_transient : CT_TCP_CLOSED_TIMEOUT;
	z->timeout[CT_CLASS_UDP] = t->udp;
	z->timeout[CT_CLASS_UDP_STREAM] = t->udp_stream;
	z->timeout[CT_CLASS_ICMP] = t->icmp;
	z->timeout[CT_CLASS_OTHER] = t->other;
}

void ct_zone_init(struct ct_zone *z, const struct ct_timeouts *t, uint32_t allowance)
{
	memset(z, 0, sizeof(*z));
	zone_set_timeouts(z, t);
	z->allowance = allowance;
}

/* ---- pool ------------------------------------------------------------- */

static struct ct_conn *pool_get(struct conntrack *ct)
{
	struct ct_conn *c;

	if (ct->free_head) {
		c = at(ct, ct->free_head);
		ct->free_head = c->next;
	} else if (ct->used_hwm < ct->capacity) {
		c = &ct->pool[ct->used_hwm++];
	} else {
		return NULL;
	}
	ct->in_use++;
	return c;
}

/* Unlinks c from everything and returns it to the pool. */
void ct_conn_free(struct conntrack *ct, struct ct_conn *c)
{
	struct ct_zone *z = ct_zone_of(ct, c);

	ct_hash_unlink(ct, c);
	list_unlink(ct, &z->lru[c->cls], c);
	z->count--;
	c->cls = CT_CLS_FREE;
	c->next = ct->free_head;
	ct->free_head = idx_of(ct, c);
	ct->in_use--;
}

/* Frees the head of zone's list cls if it has idled out. */
static bool reclaim_head(struct conntrack *ct, struct ct_zone *z, int cls, uint32_t now_s)
{
	struct ct_conn *c;

	if (!z->lru[cls].head)
		return false;
	c = at(ct, z->lru[cls].head);
	if (!ct_expired(ct, c, now_s))
		return false;
	ct_conn_free(ct, c);
	ct->expired++;
	return true;
}

static bool reclaim_in_zone(struct conntrack *ct, struct ct_zone *z, uint32_t now_s)
{
	for (int cls = 0; cls < CT_CLASS__COUNT; cls++)
		if (reclaim_head(ct, z, cls, now_s))
			return true;
	return false;
}

/* The pool is full: an idled-out entry of any zone makes room, this one's
 * first. Looks at list heads only: O(zones), never the table. */
static bool reclaim_anywhere(struct conntrack *ct, struct ct_zone *z, uint32_t now_s)
{
	if (reclaim_in_zone(ct, z, now_s))
		return true;
	for (uint32_t i = 0; i < ct->n_zones; i++)
		if (reclaim_in_zone(ct, &ct->zones[i], now_s))
			return true;
	return false;
}

/* ---- creation --------------------------------------------------------- */

int ct_create(const struct ct_config *cfg, struct conntrack **out)
{
	struct conntrack *ct;
	uint32_t nb;

	*out = NULL;
	if (!cfg->capacity || cfg->capacity > (1u << 31) || cfg->n_zones > CT_ZONE_MAX + 1 ||
	    !timeouts_valid(&cfg->timeouts))
		return -EINVAL;
	ct = calloc(1, sizeof(*ct));
	if (!ct)
		return -ENOMEM;
	nb = pow2_at_least(cfg->capacity);
	/* calloc: pages of the pool are touched only as entries are used. */
	ct->pool = calloc(cfg->capacity, sizeof(*ct->pool));
	ct->buckets = calloc(nb, sizeof(*ct->buckets));
	ct->zones = calloc(cfg->n_zones ? cfg->n_zones : 1, sizeof(*ct->zones));
	if (!ct->pool || !ct->buckets || !ct->zones) {
		ct_destroy(ct);
		return -ENOMEM;
	}
	ct->capacity = cfg->capacity;
	ct->mask = nb - 1;
	ct->seed = cfg->hash_seed;
	ct->n_zones = cfg->n_zones;
	ct->default_t = cfg->timeouts;
	ct->default_allowance = cfg->allowance;
	for (uint32_t i = 0; i < ct->n_zones; i++)
		ct_zone_init(&ct->zones[i], &cfg->timeouts, cfg->allowance);
	*out = ct;
	return 0;
}

void ct_destroy(struct conntrack *ct)
{
	if (!ct)
		return;
	free(ct->pool);
	free(ct->buckets);
	free(ct->zones);
	free(ct);
}

int ct_zone_configure(struct conntrack *ct, uint32_t zone, const struct ct_timeouts *t,
		      uint32_t allowance)
{
	if (zone >= ct->n_zones || !timeouts_valid(t))
		return -EINVAL;
	zone_set_timeouts(&ct->zones[zone], t);
	ct->zones[zone].allowance = allowance;
	return 0;
}

uint32_t ct_n_zones(const struct conntrack *ct)
{
	return ct->n_zones;
}

/* ---- lookup ----------------------------------------------------------- */

static inline struct ct_conn *find(const struct conntrack *ct, const struct ct_key *k)
{
	uint32_t idx = ct->buckets[key_hash(k, ct->seed) & ct->mask];

	while (idx) {
		struct ct_conn *c = at(ct, idx);

		if (key_eq(&c->key, k))
			return c;
		idx = c->hnext;
	}
	return NULL;
}

struct ct_conn *ct_find(const struct conntrack *ct, const struct ct_key *k)
{
	return find(ct, k);
}

/* The live entry of k, reclaiming it on the spot if it idled out. */
static struct ct_conn *find_live(struct conntrack *ct, const struct ct_key *k, uint64_t now)
{
	struct ct_conn *c = find(ct, k);

	if (c && ct_expired(ct, c, secs(now))) {
		ct_conn_free(ct, c);
		ct->expired++;
		return NULL;
	}
	return c;
}

static enum ct_dir dir_of(const struct ct_conn *c, int src_side)
{
	return src_side == (c->flags & CT_F_ORIG_SIDE) ? CT_DIR_ORIGINAL : CT_DIR_REPLY;
}

/* The live connection of t in zone, and the direction t travels in it. */
static struct ct_conn *find_tuple(struct conntrack *ct, uint32_t zone, const struct ct_tuple *t,
				  uint64_t now, struct ct_key *k, enum ct_dir *dir)
{
	struct ct_conn *c;
	int side;

	if (zone >= ct->n_zones || ct_key_build(zone, t, k, &side) < 0)
		return NULL;
	c = find_live(ct, k, now);
	if (c)
		*dir = dir_of(c, side);
	return c;
}

struct ct_conn *ct_lookup(struct conntrack *ct, uint32_t zone, const struct ct_tuple *t,
			  uint64_t now, enum ct_dir *dir)
{
	struct ct_key k;
	struct ct_conn *c = find_tuple(ct, zone, t, now, &k, dir);

	if (c && ct_proto_for(ct_key_proto(&k), ct_key_family(&k))->reopens(c, t)) {
		ct_conn_free(ct, c);
		return NULL;
	}
	return c;
}

struct ct_conn *ct_lookup_related(struct conntrack *ct, uint32_t zone, const struct ct_tuple *inner,
				  uint64_t now, enum ct_dir *dir)
{
	struct ct_key k;
	enum ct_dir quoted;
	struct ct_conn *c = find_tuple(ct, zone, inner, now, &k, &quoted);

	/* The error travels against the packet it quotes. */
	if (c)
		*dir = quoted == CT_DIR_ORIGINAL ? CT_DIR_REPLY : CT_DIR_ORIGINAL;
	return c;
}

/* ---- update ----------------------------------------------------------- */

static void counter_add(uint32_t *lo, uint16_t *hi, uint64_t n)
{
	uint64_t v = ((uint64_t)*hi << 32 | *lo) + n;

	if (v > COUNTER_MAX)
		v = COUNTER_MAX;
	*lo = (uint32_t)v;
	*hi = (uint16_t)(v >> 32);
}

static uint64_t counter_get(uint32_t lo, uint16_t hi)
{
	return (uint64_t)hi << 32 | lo;
}

static void account(struct ct_conn *c, enum ct_dir dir, uint32_t len)
{
	counter_add(&c->pkt_lo[dir], &c->pkt_hi[dir], 1);
	counter_add(&c->byte_lo[dir], &c->byte_hi[dir], len);
}

void ct_update(struct conntrack *ct, struct ct_conn *c, enum ct_dir dir, const struct ct_tuple *t,
	       uint32_t len, uint64_t now)
{
	struct ct_zone *z = ct_zone_of(ct, c);
	uint8_t old_cls = c->cls;
	uint32_t now_s = secs(now);

	account(c, dir, len);
	ct_proto_for(ct_key_proto(&c->key), ct_key_family(&c->key))->conn_update(c, dir, t);
	/* Lists stay ordered by last_seen in whole seconds, so an entry moves
	 * at most once a second unless its class changes. */
	if (now_s > c->last_seen || c->cls != old_cls) {
		list_unlink(ct, &z->lru[old_cls], c);
		list_append(ct, &z->lru[c->cls], c);
	}
	if (now_s > c->last_seen)
		c->last_seen = now_s;
	/* An entry moved into a list whose tail is newer (class change while
	 * the clock stood behind): give it the tail's time to keep order. */
	if (c->prev && at(ct, c->prev)->last_seen > c->last_seen)
		c->last_seen = at(ct, c->prev)->last_seen;
}

/* ---- insert ----------------------------------------------------------- */

static int refuse(struct conntrack *ct, struct ct_zone *z, int err)
{
	if (err == -ENOBUFS) {
		z->pool_refused++;
		ct->pool_exhausted++;
	} else {
		z->exceeded++;
	}
	return err;
}

static struct ct_conn *alloc_for(struct conntrack *ct, struct ct_zone *z, uint32_t now_s, int *err)
{
	struct ct_conn *c;

	/* Limits first, then the pool (AWS: a full table drops new flows). */
	if (z->count >= z->allowance && !reclaim_in_zone(ct, z, now_s)) {
		*err = -ENOSPC;
		return NULL;
	}
	c = pool_get(ct);
	if (!c && reclaim_anywhere(ct, z, now_s))
		c = pool_get(ct);
	if (!c)
		*err = -ENOBUFS;
	return c;
}

int ct_insert(struct conntrack *ct, uint32_t zone, const struct ct_tuple *t, uint32_t len,
	      const struct ct_rule_ref *ref, uint64_t now, struct ct_conn **out)
{
	struct ct_key k;
	struct ct_conn *c;
	struct ct_zone *z;
	uint32_t now_s = secs(now);
	int side, err = 0;

	if (out)
		*out = NULL;
	if (zone >= ct->n_zones || ct_key_build(zone, t, &k, &side) < 0)
		return -EINVAL;
	c = find_live(ct, &k, now);
	if (c && ct_proto_for(ct_key_proto(&k), ct_key_family(&k))->reopens(c, t)) {
		ct_conn_free(ct, c);
		c = NULL;
	}
	if (c) {
		if (out)
			*out = c;
		return -EEXIST;
	}
	z = &ct->zones[zone];
	c = alloc_for(ct, z, now_s, &err);
	if (!c)
		return refuse(ct, z, err);
	memset(c, 0, sizeof(*c));
	c->key = k;
	c->flags = (uint8_t)side;
	c->first_seen = c->last_seen = now_s;
	if (ref)
		c->rule = *ref;
	account(c, CT_DIR_ORIGINAL, len);
	ct_proto_for(ct_key_proto(&k), ct_key_family(&k))->conn_new(c, t);
	/* Keep the class list ordered even if the caller's clock stepped back. */
	if (z->lru[c->cls].tail && at(ct, z->lru[c->cls].tail)->last_seen > now_s)
		c->last_seen = at(ct, z->lru[c->cls].tail)->last_seen;
	ct_hash_link(ct, c);
	list_append(ct, &z->lru[c->cls], c);
	z->count++;
	if (out)
		*out = c;
	return 0;
}

/* ---- entries ---------------------------------------------------------- */

void ct_conn_set_rule(struct conntrack *ct, struct ct_conn *c, const struct ct_rule_ref *ref)
{
	c->rule = *ref;
}

void ct_conn_get(const struct conntrack *ct, const struct ct_conn *c, struct ct_conn_info *out)
{
	const struct ct_zone *z = ct_zone_of(ct, c);

	memset(out, 0, sizeof(*out));
	out->zone = ct_key_zone(&c->key);
	ct_key_tuple(&c->key, c->flags & CT_F_ORIG_SIDE, &out->orig);
	out->cls = (enum ct_class)c->cls;
	out->tcp_state = (enum ct_tcp_state)c->tcp_state;
	for (int d = 0; d < 2; d++) {
		out->packets[d] = counter_get(c->pkt_lo[d], c->pkt_hi[d]);
		out->bytes[d] = counter_get(c->byte_lo[d], c->byte_hi[d]);
	}
	out->first_seen = c->first_seen * NSEC_PER_SEC;
	out->last_seen = c->last_seen * NSEC_PER_SEC;
	out->expires = ((uint64_t)c->last_seen + z->timeout[c->cls]) * NSEC_PER_SEC;
	out->rule = c->rule;
}

void ct_remove(struct conntrack *ct, struct ct_conn *c)
{
	if (c->cls != CT_CLS_FREE)
		ct_conn_free(ct, c);
}

/* ---- sweeping, walking, flushing -------------------------------------- */

static void sweep_advance(struct conntrack *ct)
{
	if (++ct->sweep_cls < CT_CLASS__COUNT)
		return;
	ct->sweep_cls = 0;
	if (++ct->sweep_zone >= ct->n_zones)
		ct->sweep_zone = 0;
}

size_t ct_sweep(struct conntrack *ct, uint64_t now, size_t budget)
{
	uint32_t now_s = secs(now);
	size_t freed = 0;
	/* Lists looked at in a row without freeing: one full round ends it. */
	uint64_t idle = 0, lists = (uint64_t)ct->n_zones * CT_CLASS__COUNT;

	if (ct->sweep_zone >= ct->n_zones)
		ct->sweep_zone = ct->sweep_cls = 0;
	while (budget-- > 0 && idle < lists) {
		struct ct_zone *z = &ct->zones[ct->sweep_zone];

		if (!z->count) {
			/* An empty zone (most ENIs of a big lab) costs one unit. */
			idle += CT_CLASS__COUNT - ct->sweep_cls;
			ct->sweep_cls = CT_CLASS__COUNT - 1;
			sweep_advance(ct);
		} else if (reclaim_head(ct, z, (int)ct->sweep_cls, now_s)) {
			freed++;
			idle = 0;
		} else {
			sweep_advance(ct);
			idle++;
		}
	}
	return freed;
}
