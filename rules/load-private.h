/*
 * Shared only by the loader's files (load*.c; the builder's calls are
 * load_build.h, and the Terraform, lab-format and resolver files add their
 * own -private.h): the builder state that collects objects from
 * every file of a lab before references are resolved, and the JSON helpers
 * that report wrong types with the file and JSON path. Nobody else includes
 * this; the public interface is load.h.
 */
#ifndef VPCFW_LOAD_PRIVATE_H
#define VPCFW_LOAD_PRIVATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "diag.h"
#include "model.h"

/* A heap array that grows; items move on push, so hold indices. */
struct vec {
	void *items;
	size_t n, cap;
};

void *vec_push(struct vec *v, size_t size);
void vec_free(struct vec *v);

/* String keys (owned by someone else, e.g. the arena) to indices, so that
 * labs with thousands of objects load in linear time. */
struct idmap {
	struct idmap_slot {
		const char *key;
		size_t val;
	} * slots;
	size_t cap, n;
};

bool idmap_get(const struct idmap *m, const char *key, size_t *val);
/* Keeps the first value of a key; -ENOMEM on allocation failure. */
int idmap_put(struct idmap *m, const char *key, size_t val);
void idmap_free(struct idmap *m);
#define VEC_AT(v, type, i) (&((type *)(v)->items)[i])

/* A reference by id to another object, with where it was written. */
struct ref {
	const char *id;
	struct origin at;
};

struct draft_subnet {
	struct subnet s;
	struct ref nacl_ref; /* our format: the subnet names its NACL */
	struct ref rt_ref;   /* and its route table */
	bool from_aws;
	bool synthesised;   /* not exported; assumed from its ENIs */
	bool map_public_ip; /* MapPublicIpOnLaunch / map_public_ip_on_launch */
};

struct draft_nacl {
	struct nacl n;
	struct ref *assoc; /* subnet ids */
	size_t n_assoc;
	bool from_aws;
};

/* A route whose destination is a managed prefix list (a gateway
 * endpoint's): one route per CIDR of the list once every file is read. */
struct pl_route {
	struct route r; /* dest unset */
	const char *pl_id;
	struct origin at;
};

struct draft_rt {
	struct route_table rt;
	struct ref *assoc; /* subnet ids */
	size_t n_assoc;
	struct pl_route *pl_routes;
	size_t n_pl_routes;
	bool from_aws;
	bool from_tf; /* Terraform: the local routes are implicit */
};

struct draft_eni {
	struct eni e;
	struct ref subnet;
	const char *vpc_id;
	struct ref *groups;
	size_t n_groups;
	const char *own_name;	   /* the ENI's Name tag */
	const char *instance_name; /* its instance's Name tag */
	const char *iface_type;	   /* InterfaceType of describe-* output */
	bool from_aws;
	bool merged;		/* described by more than one file */
	bool addr_given;	/* describe-*: some address was written (maybe invalid) */
	bool explicit_timeouts; /* e.timeouts fields of 0 take the lab's defaults */
	bool addr_assumed;	/* Terraform: no address known, one is picked in the subnet */
	int8_t public_wanted;	/* Terraform: associate_public_ip_address, -1 unknown */
};

struct draft_group {
	struct security_group g;
	/* peer_id of each rule as written (a name in our format resolves to
	 * an id before this point) */
	bool from_aws;
	/* Terraform: the provider removes AWS's default egress rule from a
	 * group it creates (no egress block means no outbound rule). */
	bool from_tf;
};

/* get-managed-prefix-list-entries: entries of a list named by file name. */
struct draft_pl_entries {
	const char *id;
	struct ip_prefix *cidrs;
	size_t n_cidrs;
	struct origin origin;
};

struct loader {
	struct arena *a;   /* the lab's arena: what survives a successful load */
	struct arena *tmp; /* JSON paths and scratch, freed after the load */
	struct diag_list *d;
	bool strict;
	const char *file; /* the file being read (in a) */
	const char *lab_name;
	bool have_opts;
	struct lab_options opts;
	struct vec vpcs;       /* struct vpc */
	struct vec subnets;    /* struct draft_subnet */
	struct vec enis;       /* struct draft_eni */
	struct vec groups;     /* struct draft_group */
	struct vec nacls;      /* struct draft_nacl */
	struct vec pls;	       /* struct prefix_list */
	struct vec pl_entries; /* struct draft_pl_entries */
	struct vec rts;	       /* struct draft_rt */
	struct vec outside;    /* struct outside_host */
	struct vec gateways;   /* struct gateway */
	struct vec eips;       /* struct elastic_ip */
	struct vec services;   /* struct service */
	uint64_t skipped_seen; /* describe-* kinds already reported as skipped */
	struct tf_state *tf;   /* Terraform documents' shared state (load_tf*.c) */
	struct lb_loader *lbs; /* load balancers' pieces (load_aws_lb.c) */
	struct idmap eni_ids;  /* ENI id -> index in enis, for merging */
	/* ids -> indices of the built lab, for resolving thousands of references */
	struct idmap ix_vpcs, ix_subnets, ix_groups;
	size_t n_lab_files; /* our format: at most one per lab */
	size_t n_real_vpcs; /* VPCs after these were made up from subnets */
};

/* Both set and equal. */
static inline bool ld_streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* Diagnostics at the current file, or at an object's origin (+ a sub path). */
void ld_err(struct loader *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ld_warn(struct loader *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ld_err_at(struct loader *l, const struct origin *o, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ld_warn_at(struct loader *l, const struct origin *o, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* JSON paths: "base.key" and "base[i]" (in l->tmp). */
const char *jp_key(struct loader *l, const char *base, const char *key);
const char *jp_idx(struct loader *l, const char *base, size_t i);
struct origin ld_origin(struct loader *l, const char *path);

const char *json_kind(const json_t *v);

/* Iterates an optional array member of obj; path is "base.key[i]". */
#define EACH(l, obj, key, base, i, item, ipath)                                                    \
	for (const json_t *arr_##i = j_array(l, obj, key, base, false); arr_##i; arr_##i = NULL)   \
		for (size_t i = 0; i < json_array_size(arr_##i); i++)                              \
			for (const json_t *item = json_array_get(arr_##i, i); item; item = NULL)   \
				for (const char *ipath = jp_idx(l, jp_key(l, base, key), i);       \
				     ipath; ipath = NULL)

/* Reads one object of a JSON array; path is its JSON path ("Vpcs[0]"). */
typedef void ld_object_fn(struct loader *l, const json_t *o, const char *path);

/* An error unless v is an object. */
bool want_object(struct loader *l, const json_t *v, const char *path);
/* fn on each object of the optional array obj[key] (an error for each
 * element that is not an object); base is obj's path. */
void ld_each_object(struct loader *l, const json_t *obj, const char *key, const char *base,
		    ld_object_fn *fn);

/* Typed getters. Absent keys: *out untouched, returns false, an error only
 * when required. Present with the wrong type: an error, returns false. */
bool j_str(struct loader *l, const json_t *obj, const char *key, const char *base, bool required,
	   const char **out);
bool j_int(struct loader *l, const json_t *obj, const char *key, const char *base, bool required,
	   long long *out);
bool j_bool(struct loader *l, const json_t *obj, const char *key, const char *base, bool required,
	    bool *out);
/* An array (NULL when absent or wrong). */
const json_t *j_array(struct loader *l, const json_t *obj, const char *key, const char *base,
		      bool required);
const json_t *j_object(struct loader *l, const json_t *obj, const char *key, const char *base,
		       bool required);
/* j_str of each field in order, up to the one with key NULL. */
struct j_field {
	const char *key;
	const char **out;
	bool required;
};
void j_strs(struct loader *l, const json_t *obj, const char *base, const struct j_field *fields);
#define J_OPT(key, out)                                                                            \
	{                                                                                          \
		key, out, false                                                                    \
	}
#define J_REQ(key, out)                                                                            \
	{                                                                                          \
		key, out, true                                                                     \
	}
/* J_STRS(l, o, path, J_REQ("GroupId", &g->id), J_OPT("VpcId", &g->vpc_id)) */
#define J_STRS(l, obj, base, ...)                                                                  \
	j_strs(l, obj, base, (const struct j_field[]){__VA_ARGS__, {NULL, NULL, false}})
/* A string or an array of strings (our format's lists). n = 0 when absent. */
bool j_strlist(struct loader *l, const json_t *obj, const char *key, const char *base,
	       const char ***out, size_t *n);
/* The Name tag of Tags/TagSet, or NULL. */
const char *j_name_tag(struct loader *l, const json_t *obj, const char *base);

/* A CIDR text checked for family (0 = either); a non-canonical one is a
 * warning and is used with host bits cleared. */
/* "10.0.0.0/16 -> local, 2001:db8::/56 -> local": the local routes of a
 * VPC's blocks, for messages (in l->tmp). */
const char *ld_local_routes(struct loader *l, const struct ip_prefix *v4, size_t n4,
			    const struct ip_prefix *v6, size_t n6);
/* A route's state, "active" or "blackhole" (describe-route-tables' State,
 * our lab format's "state"); false with an error at path otherwise. */
/* "IPv4" or "IPv6" in any case; an error naming the expected spellings
 * (names) otherwise, *out untouched. */
bool ld_family(struct loader *l, const char *text, const char *path, const char *names,
	       uint8_t *out);
/* The text of v when it is an integer (written into buf) or a string (a
 * protocol may be either); NULL otherwise. */
const char *ld_number_or_string(const json_t *v, char *buf, size_t len);
/* A NACL entry's action, "allow" or "deny"; false with an error otherwise
 * (*allow untouched). */
bool ld_rule_action(struct loader *l, const char *text, const char *path, bool *allow);
bool ld_route_state(struct loader *l, const char *text, const char *path, bool *blackhole);
bool ld_prefix(struct loader *l, const char *text, const char *path, int family,
	       struct ip_prefix *out);
bool ld_addr(struct loader *l, const char *text, const char *path, int family, struct ip_addr *out);
/* "tcp", "udp", "icmp", "icmpv6", "-1", "all", a number 0..255 (as text). */
bool ld_protocol(struct loader *l, const char *text, const char *path, int16_t *out);

/* Readers of one object of a describe-* array (load.c's table names the
 * array each reads). */
ld_object_fn aws_vpc, aws_subnet, aws_group, aws_nacl, aws_network_interface, aws_reservation,
    aws_route_table, aws_prefix_list;
/* Our lab format's "gateways" (load_lab_gw.c). */
void lab_load_gateways(struct loader *l, const json_t *root);
/* The kinds that carry traffic past a subnet and the services that own
 * ENIs (load_aws_gw.c). */
ld_object_fn aws_igw, aws_nat, aws_endpoint, aws_peering, aws_transit, aws_transit_attach,
    aws_address, aws_elb, aws_db_instance, aws_cache_cluster, aws_search_domain;
/* Transit gateway route tables, their routes and propagations, and the
 * attachments' types and associations (load_aws_tgw.c); the pieces of
 * one id are folded by ld_merge_transit before the lab is built. */
ld_object_fn aws_tgw_route_table, aws_tgw_routes, aws_tgw_propagations, aws_tgw_attachment;
void ld_merge_transit(struct loader *l);
/* get-managed-prefix-list-entries: root is the whole document, name its
 * file name, which carries the list's id. */
void aws_load_prefix_list_entries(struct loader *l, const json_t *root, const char *name);
/* Our lab format (load_lab*.c); root is the whole document. */
void lab_format_load(struct loader *l, const json_t *root);

/* Terraform `terraform show -json` output, plan or state (load_tf*.c). */
bool tf_is_document(const json_t *root);
void tf_load(struct loader *l, const json_t *root);
/* Resolves what Terraform documents left to the end (references between
 * resources of all documents); called by ld_finish before anything else. */
void tf_finish(struct loader *l);
void tf_loader_free(struct loader *l);

/* Load balancers (load_aws_lb.c): the describe-* readers, our format's
 * "load_balancers", and (load_lb_resolve.c) building lab->load_balancers
 * once the ENIs are resolved (ld_finish). */
ld_object_fn aws_lb, aws_lb_listener, aws_lb_listeners, aws_target_group, aws_target_health,
    aws_lb_attributes;
void lab_load_balancers(struct loader *l, const json_t *root);
void ld_load_balancers(struct loader *l, struct lab *lab);
void lb_loader_free(struct loader *l);

/* Elastic IPs give their ENIs a public address; services name their ENIs
 * (load_aws_gw.c). Called by ld_finish on the built lab. */
void ld_attach_gateways(struct loader *l, struct lab *lab);

/* Deterministic AWS-like id: prefix-<17 hex digits> from the words. */
const char *ld_make_id(struct loader *l, const char *prefix, const char *a, const char *b);

void ld_default_options(struct lab_options *o);

/* load_partial.c: later describe-* copies of an id dropped (a warning);
 * subnets of ENIs that were not exported assumed (a warning). */
void ld_dedupe_exports(struct loader *l);
void ld_synth_subnets(struct loader *l);
/* "file at path" and a prefix as text, in l->tmp, for messages. */
const char *ld_where(struct loader *l, const struct origin *o);
const char *ld_fmt_prefix(struct loader *l, const struct ip_prefix *p);

/* Resolves references, fills defaults, validates; builds the lab in l->a.
 * NULL when any error was found (all of them reported). */
struct lab *ld_finish(struct loader *l);

#endif
