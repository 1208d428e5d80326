/*
 * The connection tracker of the security-group stages, with AWS's semantics
 * (AWS-SEMANTICS §4), not Linux's: one zone per ENI (zone = ENI index), TCP
 * and UDP tracked by 5-tuple, ICMP/ICMPv6 echo by addresses + identifier (the
 * reply answers the request), every other protocol by the address pair and
 * protocol number only. ICMP errors and ICMPv6 packet-too-big are not flows of
 * their own: they belong to the tracked flow whose packet they quote
 * (ct_lookup_related). Per-zone idle timeouts (struct ct_timeouts of
 * model.h, changeable at run time, applied to existing entries), a per-zone
 * allowance with AWS's counters, and a global pool preallocated at creation
 * and grown by ct_reserve (a reload that adds ENIs or raises allowances
 * reserves their room, so one zone never takes another's).
 *
 * Not for: deciding whether a flow is tracked at all (untracked flows,
 * §4, are the SG evaluator's call: simply don't ct_insert them), policy,
 * I/O. No globals; the clock comes in as an argument.
 *
 * Time: every `now` is nanoseconds of a clock that never goes backward
 * (CLOCK_MONOTONIC, or pcap timestamps); entries keep whole seconds
 * (timeouts are whole seconds), so an entry last seen at L with timeout T
 * is alive while floor(now/1e9) < floor(L/1e9) + T. Seconds must fit 32 bits.
 *
 * Correctness never depends on the sweeper: a lookup never returns an
 * expired entry, and an insert short of room first reclaims an expired
 * entry (of its zone for the allowance, of any zone for the pool).
 * ct_sweep() only returns memory (and room to ct_zone_stats) in bounded
 * steps; call it once a second or so.
 *
 * Not thread-safe: one table per thread, or the caller's lock.
 *
 * Usage on the packet path:
 *	struct ct_tuple t = { .src = p.src, .dst = p.dst, .proto = p.proto, ... };
 *	enum ct_dir dir;
 *	struct ct_conn *c = ct_lookup(ct, zone, &t, now, &dir);
 *	if (c)
 *		ct_update(ct, c, dir, &t, p.l3_len, now);	// fast path
 *	else if (sg rules accept && tracked)
 *		r = ct_insert(ct, zone, &t, p.l3_len, &ref, now, &c);
 *		// r == -ENOSPC / -ENOBUFS: drop, already counted
 *	ICMP error (ct_icmp_is_error): ct_lookup_related(ct, zone, &inner, now, &dir)
 */
#ifndef VPCFW_CONNTRACK_H
#define VPCFW_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "model.h"

struct conntrack;
/* An entry. Valid until removed, flushed, reopened by a SYN of its own
 * tuple, or found expired and reclaimed; an entry returned live at time
 * `now` is not reclaimed by calls made at that same `now`, so a lookup in
 * one zone and an insert in another don't invalidate each other's results. */
struct ct_conn;

/* Zones are ENI indices; the key keeps 16 bits of them. */
#define CT_ZONE_MAX 65535u
/* A TCP connection closed by RST lingers this long (or tcp_transient if
 * shorter) so stray segments of it still pass: Linux's CLOSE state. */
#define CT_TCP_CLOSED_TIMEOUT 10u

/* What the tracker needs of one packet (fill it from rules/packet's pkt). */
struct ct_tuple {
	struct ip_addr src, dst;      /* same family */
	uint8_t proto;		      /* IP protocol number after IPv6 extension headers */
	uint8_t tcp_flags;	      /* TCP: the raw flags byte (FIN 1, SYN 2, RST 4, ACK 16) */
	uint16_t sport, dport;	      /* TCP/UDP; ignored otherwise */
	uint8_t icmp_type, icmp_code; /* ICMP/ICMPv6 */
	uint16_t icmp_id;	      /* ICMP/ICMPv6 echo request/reply identifier */
};

enum ct_dir {
	CT_DIR_ORIGINAL = 0, /* the way the packet that created the entry went */
	CT_DIR_REPLY = 1,
};

/* The idle-timeout class an entry is in; each zone has one timeout per class. */
enum ct_class {
	CT_CLASS_TCP_TRANSIENT,	  /* handshake or closing: tcp_transient */
	CT_CLASS_TCP_ESTABLISHED, /* tcp_established */
	CT_CLASS_TCP_CLOSED,	  /* reset: min(tcp_transient, CT_TCP_CLOSED_TIMEOUT) */
	CT_CLASS_UDP,		  /* one direction or one request-response: udp */
	CT_CLASS_UDP_STREAM,	  /* more than one request-response: udp_stream */
	CT_CLASS_ICMP,		  /* icmp */
	CT_CLASS_OTHER,		  /* other */
	CT_CLASS__COUNT
};

enum ct_tcp_state {
	CT_TCP_NONE, /* not TCP */
	CT_TCP_SYN_SENT,
	CT_TCP_SYN_RECV,    /* SYN+ACK seen */
	CT_TCP_ESTABLISHED, /* handshake done, or picked up mid-stream */
	CT_TCP_FIN_WAIT,    /* one side sent FIN */
	CT_TCP_TIME_WAIT,   /* both sides sent FIN */
	CT_TCP_CLOSED,	    /* RST seen */
};

/* Which rule admitted a connection, opaque to the tracker: `vpcfw flows`
 * prints it, a reload can rewrite it (ct_conn_set_rule) and keep the flow. */
struct ct_rule_ref {
	uint32_t group;	     /* index into lab->groups */
	uint32_t rule;	     /* index into that group's rules */
	uint32_t generation; /* rules generation the indices belong to */
};

struct ct_config {
	uint32_t capacity;	     /* entries in the pool, all zones together; >= 1 */
	uint32_t n_zones;	     /* zones 0..n_zones-1, <= CT_ZONE_MAX + 1 */
	struct ct_timeouts timeouts; /* every zone's until ct_zone_configure */
	uint32_t allowance;	     /* every zone's until ct_zone_configure */
	uint64_t hash_seed;	     /* random in the daemon (hash flooding), fixed in tests */
};

/* A copy of one entry, for `vpcfw flows` and tests. */
struct ct_conn_info {
	uint32_t zone;
	struct ct_tuple orig; /* the first packet's addresses/ports/ICMP id & type */
	enum ct_class cls;
	enum ct_tcp_state tcp_state;
	uint64_t packets[2], bytes[2];	/* by enum ct_dir; saturate at 2^48 - 1 */
	uint64_t first_seen, last_seen; /* ns, whole seconds */
	uint64_t expires;		/* ns: dead from this time on, under current timeouts */
	struct ct_rule_ref rule;
};

struct ct_zone_stats {
	uint32_t tracked; /* entries held, including expired ones not yet reclaimed */
	uint32_t allowance;
	/* Room for new connections now: allowance - tracked, or the pool's
	 * free entries if fewer (never more than an insert would find). */
	uint64_t conntrack_allowance_available;
	uint64_t conntrack_allowance_exceeded; /* inserts refused: allowance reached */
	uint64_t conntrack_pool_exhausted;     /* inserts refused: shared pool full */
};

struct ct_stats {
	uint32_t capacity;
	uint32_t in_use;
	uint64_t pool_exhausted; /* inserts refused because the pool was full */
	uint64_t expired;	 /* entries reclaimed after idling out */
	size_t memory;		 /* bytes allocated: pool + buckets + zones */
};

/* 0 and *out, or -EINVAL (bad config), -ENOMEM. */
int ct_create(const struct ct_config *cfg, struct conntrack **out);
void ct_destroy(struct conntrack *ct); /* NULL allowed */

/* Sets a zone's timeouts (every value >= 1 s) and allowance; existing
 * entries idle out under the new timeouts from now on (hot reload). */
int ct_zone_configure(struct conntrack *ct, uint32_t zone, const struct ct_timeouts *t,
		      uint32_t allowance);
uint32_t ct_n_zones(const struct conntrack *ct);

/*
 * Grows the pool (never shrinks it) to at least capacity entries, rounded
 * up to a power of two so that the hash table stays one bucket per entry
 * (104 bytes an entry, everything included); the hash table is rebuilt.
 * Not for the packet path: walks every entry. Entries stay where they are
 * only if the pool need not move: a caller holding struct ct_conn pointers
 * must look them up again. 0, -EINVAL (capacity > 2^31), or -ENOMEM with
 * nothing changed.
 */
int ct_reserve(struct conntrack *ct, uint32_t capacity);
/* Entries the zones may hold at once: the sum over zones of the larger of
 * allowance and tracked (a lowered allowance leaves its excess until it
 * idles out). A pool this big lets every zone fill its allowance whatever
 * the others do. */
uint64_t ct_pool_need(const struct conntrack *ct);

/*
 * Reload with a changed ENI list: zone z becomes new_zone_of[z] (for z <
 * ct_n_zones), or is flushed when that is -1; the table then has n_new
 * zones, the added ones configured as at creation. Mapping two zones to one
 * is -EINVAL. Walks every entry: not for the packet path. -ENOMEM leaves
 * everything as it was.
 */
int ct_zones_remap(struct conntrack *ct, const int32_t *new_zone_of, uint32_t n_new);

/* Whether an ICMP/ICMPv6 type is an error quoting another packet (ICMP 3,
 * 4, 5, 11, 12; ICMPv6 1-4): look those up with ct_lookup_related. */
bool ct_icmp_is_error(uint8_t proto, uint8_t type);

/*
 * The live entry t belongs to in zone, or NULL; *dir tells which way t
 * goes. Never returns an expired entry (it is reclaimed on the spot). A
 * SYN without ACK meeting a TCP entry in TIME_WAIT or CLOSED is a new
 * connection: the old entry is removed and NULL returned, so the rules
 * decide again. ICMP errors return NULL (see ct_lookup_related).
 */
struct ct_conn *ct_lookup(struct conntrack *ct, uint32_t zone, const struct ct_tuple *t,
			  uint64_t now, enum ct_dir *dir);

/*
 * For an ICMP error or ICMPv6 packet-too-big: inner is the quoted packet as
 * it was sent (rules/packet's pkt.inner). Returns the live entry of the flow
 * it belongs to, or NULL; *dir is the direction of the error itself (the
 * reverse of the quoted packet's). Nothing is updated: an error does not
 * keep a flow alive.
 */
struct ct_conn *ct_lookup_related(struct conntrack *ct, uint32_t zone, const struct ct_tuple *inner,
				  uint64_t now, enum ct_dir *dir);

/* Accounts a packet of c going dir (len bytes, IP length): counters, last
 * seen, TCP state, UDP stream promotion. */
void ct_update(struct conntrack *ct, struct ct_conn *c, enum ct_dir dir, const struct ct_tuple *t,
	       uint32_t len, uint64_t now);

/*
 * Tracks a connection for a packet the SG rules accepted, counting it as
 * the first packet (original direction). Returns 0 and *out (may be NULL),
 * or:
 *	-EEXIST	 already tracked and live: *out is that entry (not updated);
 *		 a SYN over a TIME_WAIT/CLOSED entry replaces it instead
 *	-ENOSPC	 the zone's allowance is reached: conntrack_allowance_exceeded
 *	-ENOBUFS the pool is full: the zone's conntrack_pool_exhausted (only
 *		 when the pool is smaller than ct_pool_need)
 *	-EINVAL	 zone out of range, ICMP error, or mixed address families
 * Nothing but the pool is allocated.
 */
int ct_insert(struct conntrack *ct, uint32_t zone, const struct ct_tuple *t, uint32_t len,
	      const struct ct_rule_ref *ref, uint64_t now, struct ct_conn **out);

void ct_conn_set_rule(struct conntrack *ct, struct ct_conn *c, const struct ct_rule_ref *ref);
void ct_conn_get(const struct conntrack *ct, const struct ct_conn *c, struct ct_conn_info *out);
/* Frees one entry now. */
void ct_remove(struct conntrack *ct, struct ct_conn *c);

/*
 * Frees expired entries with at most budget steps, a step being one list
 * head looked at (O(1)) or one empty zone skipped; zones are visited round
 * robin across calls, never the whole table, and a call stops early after
 * one full round that freed nothing. Returns how many it freed.
 */
size_t ct_sweep(struct conntrack *ct, uint64_t now, size_t budget);

/* Calls fn for every live entry of zone (oldest activity first within a
 * timeout class) until fn returns non-zero, which is returned. fn must not
 * insert or remove. Not for the packet path. */
int ct_zone_walk(const struct conntrack *ct, uint32_t zone, uint64_t now,
		 int (*fn)(const struct ct_conn_info *info, void *arg), void *arg);
/* For a reload (STYLE.md: tracked flows keep the rule that admitted them):
 * calls fn for every live entry of zone with a pointer to its rule
 * reference, which fn may rewrite (new indices and generation). 0, or
 * -EINVAL for a zone out of range. Not for the packet path. */
int ct_zone_retag(struct conntrack *ct, uint32_t zone, uint64_t now,
		  void (*fn)(const struct ct_conn_info *info, struct ct_rule_ref *ref, void *arg),
		  void *arg);
/* Removes every entry of zone (ENI removed); returns how many. */
size_t ct_zone_flush(struct conntrack *ct, uint32_t zone);

int ct_zone_stats(const struct conntrack *ct, uint32_t zone, struct ct_zone_stats *out);
void ct_get_stats(const struct conntrack *ct, struct ct_stats *out);
/* Bytes one entry costs: entry + hash-table overhead at full capacity. */
size_t ct_bytes_per_entry(const struct conntrack *ct);

/* Verifies every internal link and count (lists, hash chains, free list):
 * 0 or -EFAULT. Walks the whole table: tests and debugging only. */
int ct_check(const struct conntrack *ct);

const char *ct_class_name(enum ct_class c);	    /* "tcp-established", ... */
const char *ct_tcp_state_name(enum ct_tcp_state s); /* "ESTABLISHED", ... */

#endif
