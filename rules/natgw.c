/*
 * The NAT gateways' translation table (natgw.h): fixed arrays allocated at
 * creation, two chained hash indexes (the inside's view of a connection,
 * and the gateway's port seen from outside) and a bitmap of ports in use
 * per gateway and protocol, so that a port is never given to two
 * connections of one gateway at once. Nothing is allocated per packet.
 */
#include "natgw.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_index.h"
#include "pipeline.h"

_Static_assert(NATGW_PORT_LO == PIPELINE_NAT_PORT_LO && NATGW_PORT_HI == PIPELINE_NAT_PORT_HI,
	       "check and the data path pick NAT ports from one range");

#define NATGW_N_PORTS (NATGW_PORT_HI - NATGW_PORT_LO + 1u)
#define NATGW_PORT_WORDS ((NATGW_N_PORTS + 63u) / 64u)

struct natgw_entry {
	struct natgw_key key;
	uint16_t nat_port;
	bool used;
	uint64_t last_ns;
	int32_t next_out, next_in; /* hash chains; next_out links the free list */
};

struct natgw {
	struct natgw_opts o;
	struct natgw_entry *e;
	uint32_t cap, n, mask;
	int32_t *out_b, *in_b;
	int32_t free_head;
	uint64_t *ports;  /* per gateway and protocol slot: NATGW_PORT_WORDS words */
	uint32_t *cursor; /* where the next port search starts */
	uint32_t sweep_at;
	char **ids; /* o.n_gateways copies of the idents' ids, or NULL */
	struct ip_addr *public_ips;
};

/* TCP, UDP and ICMP only: what a NAT gateway carries. */
static int proto_slot(uint8_t proto)
{
	return proto == PROTO_TCP ? 0 : proto == PROTO_UDP ? 1 : proto == PROTO_ICMP ? 2 : -1;
}

static uint64_t idle_of(const struct natgw *t, uint8_t proto)
{
	return proto == PROTO_TCP   ? t->o.idle_tcp_ns
	       : proto == PROTO_UDP ? t->o.idle_udp_ns
				    : t->o.idle_icmp_ns;
}

static uint32_t mix(uint32_t h, uint32_t v)
{
	h ^= v;
	h *= 0x01000193u;
	return h ^ (h >> 15);
}

static uint32_t hash_addr(uint32_t h, const struct ip_addr *a)
{
	uint32_t w;
	for (size_t i = 0; i < 16; i += 4) {
		memcpy(&w, a->b + i, 4);
		h = mix(h, w);
	}
	return mix(h, a->family);
}

static uint32_t hash_out(const struct natgw_key *k)
{
	uint32_t h = mix(0x811c9dc5u, k->gateway);
	h = mix(h, (uint32_t)k->proto << 16 | k->inside_port);
	h = mix(h, k->far_port);
	return hash_addr(hash_addr(h, &k->inside), &k->far);
}

static uint32_t hash_in(uint32_t gateway, uint8_t proto, uint16_t nat_port)
{
	return mix(mix(0x811c9dc5u, gateway), (uint32_t)proto << 16 | nat_port);
}

static bool key_eq(const struct natgw_key *a, const struct natgw_key *b)
{
	return a->gateway == b->gateway && a->proto == b->proto &&
	       a->inside_port == b->inside_port && a->far_port == b->far_port &&
	       ip_addr_eq(&a->inside, &b->inside) && ip_addr_eq(&a->far, &b->far);
}

static uint64_t *port_map(struct natgw *t, uint32_t gateway, uint8_t proto)
{
	size_t slot = (size_t)gateway * 3u + (size_t)proto_slot(proto);
	return t->ports + slot * NATGW_PORT_WORDS;
}

static int copy_idents(struct natgw *t, const struct natgw_ident *idents)
{
	t->ids = calloc(t->o.n_gateways, sizeof(*t->ids));
	t->public_ips = calloc(t->o.n_gateways, sizeof(*t->public_ips));
	if (!t->ids || !t->public_ips)
		return -1;
	for (uint32_t i = 0; i < t->o.n_gateways; i++) {
		t->ids[i] = strdup(idents[i].id ? idents[i].id : "");
		t->public_ips[i] = idents[i].public_ip;
		if (!t->ids[i])
			return -1;
	}
	return 0;
}

int natgw_create(const struct natgw_opts *opts, struct natgw **out)
{
	*out = NULL;
	if (!opts || opts->n_gateways == 0)
		return -EINVAL;
	struct natgw *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->o = *opts;
	uint64_t def = (uint64_t)NATGW_IDLE_DEFAULT_S * 1000000000ull;
	t->o.idle_tcp_ns = t->o.idle_tcp_ns ? t->o.idle_tcp_ns : def;
	t->o.idle_udp_ns = t->o.idle_udp_ns ? t->o.idle_udp_ns : def;
	t->o.idle_icmp_ns = t->o.idle_icmp_ns ? t->o.idle_icmp_ns : def;
	t->cap = opts->max_mappings ? opts->max_mappings : NATGW_DEFAULT_MAX;
	uint32_t buckets = 16;
	while (buckets < t->cap && buckets < (1u << 30))
		buckets <<= 1;
	t->mask = buckets - 1;
	size_t slots = (size_t)opts->n_gateways * 3u;
	t->e = calloc(t->cap, sizeof(*t->e));
	t->out_b = malloc(buckets * sizeof(int32_t));
	t->in_b = malloc(buckets * sizeof(int32_t));
	t->ports = calloc(slots * NATGW_PORT_WORDS, sizeof(uint64_t));
	t->cursor = calloc(slots, sizeof(uint32_t));
	if (!t->e || !t->out_b || !t->in_b || !t->ports || !t->cursor) {
		natgw_destroy(t);
		return -ENOMEM;
	}
	if (opts->idents && copy_idents(t, opts->idents) < 0) {
		natgw_destroy(t);
		return -ENOMEM;
	}
	t->o.idents = NULL; /* the caller's: never read after this */
	memset(t->out_b, 0xff, buckets * sizeof(int32_t));
	memset(t->in_b, 0xff, buckets * sizeof(int32_t));
	for (uint32_t i = 0; i < t->cap; i++)
		t->e[i].next_out = i + 1 < t->cap ? (int32_t)(i + 1) : -1;
	t->free_head = 0;
	*out = t;
	return 0;
}

void natgw_destroy(struct natgw *t)
{
	if (!t)
		return;
	free(t->e);
	free(t->out_b);
	free(t->in_b);
	free(t->ports);
	free(t->cursor);
	for (uint32_t i = 0; t->ids && i < t->o.n_gateways; i++)
		free(t->ids[i]);
	free(t->ids);
	free(t->public_ips);
	free(t);
}

static void unlink_chain(int32_t *head, struct natgw_entry *e, int32_t i, bool out)
{
	int32_t *at = head;
	while (*at >= 0 && *at != i)
		at = out ? &e[*at].next_out : &e[*at].next_in;
	if (*at == i)
		*at = out ? e[i].next_out : e[i].next_in;
}

static void remove_entry(struct natgw *t, int32_t i)
{
	struct natgw_entry *x = &t->e[i];
	uint16_t off = (uint16_t)(x->nat_port - NATGW_PORT_LO);
	unlink_chain(&t->out_b[hash_out(&x->key) & t->mask], t->e, i, true);
	unlink_chain(&t->in_b[hash_in(x->key.gateway, x->key.proto, x->nat_port) & t->mask], t->e,
		     i, false);
	port_map(t, x->key.gateway, x->key.proto)[off / 64] &= ~(1ull << (off % 64));
	x->used = false;
	x->next_out = t->free_head;
	t->free_head = i;
	t->n--;
}

static bool idle(const struct natgw *t, const struct natgw_entry *x, uint64_t now_ns)
{
	return now_ns > x->last_ns && now_ns - x->last_ns >= idle_of(t, x->key.proto);
}

/* A free port of the gateway for that protocol, searched round-robin from
 * where the last search ended (ports are reused as late as possible). */
static int take_port(struct natgw *t, uint32_t gateway, uint8_t proto, uint16_t *port)
{
	uint64_t *map = port_map(t, gateway, proto);
	uint32_t *cur = &t->cursor[gateway * 3u + (uint32_t)proto_slot(proto)];
	for (uint32_t k = 0; k < NATGW_N_PORTS; k++) {
		uint32_t off = (*cur + k) % NATGW_N_PORTS;
		if (map[off / 64] == UINT64_MAX) {
			k += 63 - off % 64; /* the rest of a full word */
			continue;
		}
		if (map[off / 64] & (1ull << (off % 64)))
			continue;
		map[off / 64] |= 1ull << (off % 64);
		*cur = (off + 1) % NATGW_N_PORTS;
		*port = (uint16_t)(NATGW_PORT_LO + off);
		return 0;
	}
	return -ENOSPC;
}

static int32_t find_out(const struct natgw *t, const struct natgw_key *k)
{
	for (int32_t i = t->out_b[hash_out(k) & t->mask]; i >= 0; i = t->e[i].next_out)
		if (key_eq(&t->e[i].key, k))
			return i;
	return -1;
}

/* A new mapping of k to port (taken by the caller), or -1 when the table
 * is full. */
static int32_t insert(struct natgw *t, const struct natgw_key *k, uint16_t port)
{
	int32_t i = t->free_head;
	if (i < 0)
		return -1;
	struct natgw_entry *x = &t->e[i];
	t->free_head = x->next_out;
	*x = (struct natgw_entry){.key = *k, .nat_port = port, .used = true};
	uint32_t ho = hash_out(k) & t->mask, hi = hash_in(k->gateway, k->proto, port) & t->mask;
	x->next_out = t->out_b[ho];
	t->out_b[ho] = i;
	x->next_in = t->in_b[hi];
	t->in_b[hi] = i;
	t->n++;
	return i;
}

int natgw_outbound(struct natgw *t, const struct natgw_key *k, uint64_t now_ns, uint16_t *nat_port)
{
	if (k->gateway >= t->o.n_gateways || proto_slot(k->proto) < 0)
		return -EINVAL;
	int32_t i = find_out(t, k);
	if (i >= 0 && idle(t, &t->e[i], now_ns)) {
		remove_entry(t, i);
		i = -1;
	}
	if (i < 0) {
		if (t->free_head < 0)
			natgw_sweep(t, now_ns, t->cap);
		if (t->free_head < 0)
			return -ENOSPC;
		uint16_t port;
		if (take_port(t, k->gateway, k->proto, &port) < 0)
			return -ENOSPC;
		i = insert(t, k, port);
	}
	t->e[i].last_ns = now_ns;
	*nat_port = t->e[i].nat_port;
	return 0;
}

int natgw_mapped(struct natgw *t, const struct natgw_key *k, uint64_t now_ns, uint16_t *nat_port)
{
	if (k->gateway >= t->o.n_gateways)
		return -ENOENT;
	int32_t i = find_out(t, k);
	if (i < 0 || idle(t, &t->e[i], now_ns))
		return -ENOENT;
	*nat_port = t->e[i].nat_port;
	return 0;
}

/* The index in t of old's gateway g (same id, same Elastic IP), or -1. */
static int64_t same_gateway(const struct natgw *t, const struct natgw *old, uint32_t g)
{
	if (!t->ids || !old->ids)
		return -1;
	for (uint32_t j = 0; j < t->o.n_gateways; j++)
		if (strcmp(t->ids[j], old->ids[g]) == 0 &&
		    ip_addr_eq(&t->public_ips[j], &old->public_ips[g]))
			return j;
	return -1;
}

/* old's mapping x in t under gateway j, with its port and idle time. */
static void carry_entry(struct natgw *t, const struct natgw_entry *x, uint32_t j)
{
	struct natgw_key k = x->key;
	k.gateway = j;
	uint16_t off = (uint16_t)(x->nat_port - NATGW_PORT_LO);
	uint64_t *map = port_map(t, j, k.proto);
	if (map[off / 64] & (1ull << (off % 64)))
		return; /* two old gateways became one: the first keeps the port */
	int32_t i = insert(t, &k, x->nat_port);
	if (i < 0)
		return;
	map[off / 64] |= 1ull << (off % 64);
	t->e[i].last_ns = x->last_ns;
}

int natgw_carry(const struct natgw *old, const struct natgw_opts *opts, struct natgw **out)
{
	int rc = natgw_create(opts, out);
	if (rc < 0 || !old)
		return rc;
	struct natgw *t = *out;
	int64_t *to = malloc(old->o.n_gateways * sizeof(*to));
	if (!to) {
		natgw_destroy(t);
		*out = NULL;
		return -ENOMEM;
	}
	for (uint32_t g = 0; g < old->o.n_gateways; g++) {
		to[g] = same_gateway(t, old, g);
		/* the round-robin goes on where it was */
		for (uint32_t s = 0; to[g] >= 0 && s < 3; s++)
			t->cursor[(uint32_t)to[g] * 3u + s] = old->cursor[g * 3u + s];
	}
	for (uint32_t i = 0; i < old->cap; i++)
		if (old->e[i].used && to[old->e[i].key.gateway] >= 0)
			carry_entry(t, &old->e[i], (uint32_t)to[old->e[i].key.gateway]);
	free(to);
	return 0;
}

int natgw_for_lab(const struct lab *lab, const struct natgw *old, struct natgw **out)
{
	*out = NULL;
	if (!lab->n_gateways)
		return 0;
	struct natgw_ident *ids = calloc(lab->n_gateways, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < lab->n_gateways; i++) {
		ids[i].id = lab->gateways[i].id;
		gateway_nat_addr(&lab->gateways[i], &ids[i].public_ip); /* or none: zero */
	}
	uint64_t idle = (uint64_t)lab->opts.nat_idle_s * 1000000000ull; /* 0: the default */
	struct natgw_opts o = {.n_gateways = (uint32_t)lab->n_gateways,
			       .max_mappings = lab->opts.nat_max_mappings,
			       .idle_tcp_ns = idle,
			       .idle_udp_ns = idle,
			       .idle_icmp_ns = idle,
			       .idents = ids};
	int rc = natgw_carry(old, &o, out);
	free(ids);
	return rc;
}

/* The live mapping of gateway's nat_port answered by far:far_port, or -1
 * (an idle one is removed on the way). */
static int32_t find_in(struct natgw *t, uint32_t gateway, uint8_t proto, const struct ip_addr *far,
		       uint16_t far_port, uint16_t nat_port, uint64_t now_ns)
{
	if (gateway >= t->o.n_gateways)
		return -1;
	for (int32_t i = t->in_b[hash_in(gateway, proto, nat_port) & t->mask]; i >= 0;
	     i = t->e[i].next_in) {
		struct natgw_entry *x = &t->e[i];
		if (x->key.gateway != gateway || x->key.proto != proto || x->nat_port != nat_port)
			continue;
		/* only the host and port the connection went to answer it */
		if (!ip_addr_eq(&x->key.far, far) || x->key.far_port != far_port)
			return -1;
		if (idle(t, x, now_ns)) {
			remove_entry(t, i);
			return -1;
		}
		return i;
	}
	return -1;
}

int natgw_inbound(struct natgw *t, uint32_t gateway, uint8_t proto, const struct ip_addr *far,
		  uint16_t far_port, uint16_t nat_port, uint64_t now_ns, struct natgw_key *k)
{
	int32_t i = find_in(t, gateway, proto, far, far_port, nat_port, now_ns);
	if (i < 0)
		return -ENOENT;
	t->e[i].last_ns = now_ns;
	*k = t->e[i].key;
	return 0;
}

int natgw_related(struct natgw *t, uint32_t gateway, uint8_t proto, const struct ip_addr *far,
		  uint16_t far_port, uint16_t nat_port, uint64_t now_ns, struct natgw_key *k)
{
	int32_t i = find_in(t, gateway, proto, far, far_port, nat_port, now_ns);
	if (i < 0)
		return -ENOENT;
	*k = t->e[i].key;
	return 0;
}

size_t natgw_sweep(struct natgw *t, uint64_t now_ns, size_t budget)
{
	size_t removed = 0;
	for (size_t k = 0; k < budget && k < t->cap; k++) {
		uint32_t i = t->sweep_at;
		t->sweep_at = (t->sweep_at + 1) % t->cap;
		if (t->e[i].used && idle(t, &t->e[i], now_ns)) {
			remove_entry(t, (int32_t)i);
			removed++;
		}
	}
	return removed;
}

size_t natgw_count(const struct natgw *t)
{
	return t->n;
}
