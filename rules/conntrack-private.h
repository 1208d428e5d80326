/*
 * What the conntrack module's own files share (conntrack.c: table, pool,
 * lookup, insert, expiry; conntrack-zone.c: walking, flushing, remapping,
 * statistics; conntrack-proto.c and conntrack-tcp.c: keys and protocol
 * state). Nobody else includes this: the public interface is conntrack.h.
 */
#ifndef VPCFW_CONNTRACK_PRIVATE_H
#define VPCFW_CONNTRACK_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "conntrack.h"

/*
 * Normalised so both directions of a flow build the same key: slot 0 holds
 * the lower endpoint (address, then port). ICMP queries put the identifier
 * in port[0] and the request type plus which slot asked in port[1]: an echo
 * reply finds its request, a request the other way is another flow. Other
 * protocols key on the address pair only (AWS-SEMANTICS §4).
 */
struct ct_key {
	uint8_t addr[2][16];
	/* port[0] | port[1] << 16 | zone << 32 | proto << 48 | family << 56 as
	 * one native word, stored and loaded whole (memcpy) so that building a
	 * key is one store and comparing it five loads. Bytes, not a uint64_t,
	 * to keep entries 4-byte aligned (100 bytes, not 104). */
	uint8_t meta[8];
};
/* No padding: keys are hashed and compared as five 64-bit words. */
_Static_assert(sizeof(struct ct_key) == 2 * 16 + 8, "ct_key has padding");

static inline void ct_key_set_meta(struct ct_key *k, uint16_t port0, uint16_t port1, uint16_t zone,
				   uint8_t proto, uint8_t family)
{
	uint64_t m = (uint64_t)port0 | (uint64_t)port1 << 16 | (uint64_t)zone << 32 |
		     (uint64_t)proto << 48 | (uint64_t)family << 56;

	memcpy(k->meta, &m, sizeof(m));
}

static inline uint64_t ct_key_meta(const struct ct_key *k)
{
	uint64_t m;

	memcpy(&m, k->meta, sizeof(m));
	return m;
}

static inline uint16_t ct_key_port(const struct ct_key *k, int i)
{
	return (uint16_t)(ct_key_meta(k) >> (16 * i));
}

static inline uint16_t ct_key_zone(const struct ct_key *k)
{
	return (uint16_t)(ct_key_meta(k) >> 32);
}

static inline uint8_t ct_key_proto(const struct ct_key *k)
{
	return (uint8_t)(ct_key_meta(k) >> 48);
}

static inline uint8_t ct_key_family(const struct ct_key *k)
{
	return (uint8_t)(ct_key_meta(k) >> 56);
}

static inline void ct_key_set_zone(struct ct_key *k, uint16_t zone)
{
	uint64_t m = (ct_key_meta(k) & ~(0xffffull << 32)) | (uint64_t)zone << 32;

	memcpy(k->meta, &m, sizeof(m));
}

/* ct_conn.flags */
#define CT_F_ORIG_SIDE 0x01  /* key slot of the creating packet's source */
#define CT_F_LAST_REPLY 0x02 /* last packet went the reply way (UDP exchanges) */
#define CT_F_FIN_ORIG 0x04
#define CT_F_FIN_REPLY 0x08

#define CT_CLS_FREE 0xff /* cls of an entry on the free list */

/*
 * One tracked connection. Indices are pool index + 1 so that 0 is "none"
 * and a calloc'd bucket array is empty. What a lookup reads (key, chain,
 * last_seen, class, state, flags) comes first, in 52 contiguous bytes; the
 * rest is written by ct_update. Counters are 48 bits split to keep the
 * entry 4-byte aligned (100 bytes, no padding).
 */
struct ct_conn {
	struct ct_key key;
	uint32_t hnext;	    /* hash chain */
	uint32_t last_seen; /* seconds */
	uint8_t cls;	    /* enum ct_class */
	uint8_t tcp_state;  /* enum ct_tcp_state */
	uint8_t flags;
	uint8_t exchanges;   /* UDP request-response exchanges seen, saturating */
	uint32_t prev, next; /* the zone's list for cls, or the free list (next) */
	uint32_t first_seen; /* seconds */
	uint32_t pkt_lo[2], byte_lo[2];
	uint16_t pkt_hi[2], byte_hi[2];
	struct ct_rule_ref rule;
};
_Static_assert(sizeof(struct ct_conn) == 100, "ct_conn grew");

/* Builds t's key; *src_side is the key slot of t's source. -EINVAL when t
 * cannot be a flow of its own (ICMP error, mixed or unknown families). */
int ct_key_build(uint32_t zone, const struct ct_tuple *t, struct ct_key *k, int *src_side);
/* The original-direction tuple back from a key. */
void ct_key_tuple(const struct ct_key *k, int orig_side, struct ct_tuple *out);

/* Per-protocol behaviour, behind one table (as OVS's ct_l4_proto). */
struct ct_proto {
	/* A new entry's state from its first packet (cls, tcp_state, flags). */
	void (*conn_new)(struct ct_conn *c, const struct ct_tuple *t);
	/* State after a packet; the caller moves the entry if cls changed. */
	void (*conn_update)(struct ct_conn *c, enum ct_dir dir, const struct ct_tuple *t);
	/* Whether t starts a new connection over a finished entry. */
	bool (*reopens)(const struct ct_conn *c, const struct ct_tuple *t);
};

const struct ct_proto *ct_proto_for(uint8_t proto, uint8_t family);

extern const struct ct_proto ct_proto_tcp;

#define NSEC_PER_SEC 1000000000ull
#define NIL 0u

struct ct_list {
	uint32_t head, tail;
};

struct ct_zone {
	struct ct_timeouts t;
	uint32_t timeout[CT_CLASS__COUNT]; /* seconds, derived from t */
	uint32_t allowance;
	uint32_t count;
	uint64_t exceeded;     /* refused: allowance */
	uint64_t pool_refused; /* refused: pool full */
	struct ct_list lru[CT_CLASS__COUNT];
};

struct conntrack {
	struct ct_conn *pool;
	uint32_t capacity;
	uint32_t used_hwm; /* entries ever handed out; the rest never touched */
	uint32_t free_head;
	uint32_t in_use;
	uint32_t *buckets;
	uint32_t mask;
	uint64_t seed;
	struct ct_zone *zones;
	uint32_t n_zones;
	struct ct_timeouts default_t;
	uint32_t default_allowance;
	uint32_t sweep_zone, sweep_cls; /* where the sweeper resumes */
	uint64_t pool_exhausted;
	uint64_t expired;
};

static inline struct ct_conn *at(const struct conntrack *ct, uint32_t idx)
{
	return &ct->pool[idx - 1];
}

static inline uint32_t idx_of(const struct conntrack *ct, const struct ct_conn *c)
{
	return (uint32_t)(c - ct->pool) + 1;
}

static inline uint32_t secs(uint64_t now)
{
	return (uint32_t)(now / NSEC_PER_SEC);
}

static inline struct ct_zone *ct_zone_of(const struct conntrack *ct, const struct ct_conn *c)
{
	return &ct->zones[ct_key_zone(&c->key)];
}

/* Whether c has idled out by now_s under its zone's current timeouts. */
static inline bool ct_expired(const struct conntrack *ct, const struct ct_conn *c, uint32_t now_s)
{
	uint32_t timeout = ct_zone_of(ct, c)->timeout[c->cls];

	/* A clock read slightly behind last_seen is age 0, not 4 billion. */
	return now_s > c->last_seen && now_s - c->last_seen >= timeout;
}

static inline uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n && p < (1u << 31))
		p <<= 1;
	return p;
}

/* Shared by conntrack.c (packet path) and conntrack-zone.c (control). */
struct ct_conn *ct_find(const struct conntrack *ct, const struct ct_key *k);
void ct_conn_free(struct conntrack *ct, struct ct_conn *c);
void ct_hash_link(struct conntrack *ct, struct ct_conn *c);
void ct_hash_unlink(struct conntrack *ct, struct ct_conn *c);
void ct_zone_init(struct ct_zone *z, const struct ct_timeouts *t, uint32_t allowance);

#endif
