/*
 * Shared only by the Terraform reader's files: load_tf.c (recognising the
 * document, collecting resources of plans and states, the table of every
 * resource type read and its reader), load_tf_value.c (typed values, ids
 * and references), load_tf_net.c (network resources: VPCs, subnets, groups, NACLs, routes,
 * gateways), load_tf_tgw.c (transit gateways and their route tables),
 * load_tf_eni.c (instances, interfaces and the services that own ENIs),
 * load_tf_finish.c (what needs every document: separate rule resources
 * joining their groups, default groups) and load_tf_place.c (where AWS
 * puts what Terraform does not place: assumed subnets, addresses, the
 * default VPC).
 */
#ifndef VPCFW_LOAD_TF_PRIVATE_H
#define VPCFW_LOAD_TF_PRIVATE_H

#include "load-private.h"

/* One resource instance of the document being read. The JSON pointers are
 * valid while tf_load runs; everything kept is copied to the arena. */
struct tf_res {
	const char *address; /* module.a.aws_instance.web[0] */
	const char *base;    /* module.a.aws_instance.web (no index) */
	const char *module;  /* "module.a." or "" */
	const char *type, *name;
	const json_t *values;  /* planned "after" or state "values" */
	const json_t *unknown; /* after_unknown: values known only after apply */
	const json_t *config;  /* configuration "expressions" of the resource */
	const char *id;	       /* the known id, else one made from the address */
	struct origin origin;  /* file + address */
};

struct tf_doc {
	struct loader *l;
	struct tf_res *res;
	size_t n;
};

/* What a VPC implies without saying it: its default group, NACL and main
 * route table (ids known in a state, made up in a plan). */
struct tf_vpc_defaults {
	const char *vpc_id, *sg_id, *acl_id, *rtb_id;
	bool ipv6;
	bool default_vpc; /* aws_default_vpc: where resources without a subnet go */
	struct origin origin;
};

enum tf_pending_kind {
	TF_SG_RULE,	   /* rule joins group target */
	TF_ACL_ENTRY,	   /* entry joins NACL target */
	TF_ACL_ASSOC,	   /* subnet other joins NACL target */
	TF_ROUTE,	   /* route joins table target */
	TF_RTB_ASSOC,	   /* subnet other joins table target */
	TF_RTB_MAIN,	   /* table target is the main table of VPC other */
	TF_ENI_GROUP,	   /* group other joins ENI target */
	TF_ENI_GROUP_NAME, /* group named other (in the ENI's VPC) joins ENI target */
	TF_ENI_ATTACH,	   /* ENI target attaches to instance other at device index */
};

/* Something a resource says about another, possibly in another document,
 * applied once every document is read (tf_finish). */
struct tf_pending {
	enum tf_pending_kind kind;
	const char *target, *other;
	int32_t device_index;
	struct sg_rule rule;
	struct nacl_entry entry;
	struct route route;
	struct origin origin;
};

struct tf_state {
	struct vec defaults; /* struct tf_vpc_defaults */
	struct vec pending;  /* struct tf_pending */
};

/* Values: null and absent are the same; a wrong type is an error at
 * "address.key". */
bool tf_str(struct tf_doc *t, const struct tf_res *r, const json_t *obj, const char *base,
	    const char *key, const char **out);
bool tf_int(struct tf_doc *t, const json_t *obj, const char *base, const char *key, long long *out);
bool tf_bool(const json_t *obj, const char *key, bool *out);
/* Whether after_unknown marks the key (or an element of it) unknown. */
bool tf_is_unknown(const json_t *unknown, const char *key);
const char *tf_name_tag(struct tf_doc *t, const struct tf_res *r);

/* The ids an attribute names: its known value (a string or a list), else
 * the resources its configuration expression references. obj/unknown/cfg
 * are the values, after_unknown and expressions at the same level (the
 * resource, or one of its blocks). Returns how many (an arena array). */
size_t tf_ids(struct tf_doc *t, const struct tf_res *r, const json_t *obj, const json_t *unknown,
	      const json_t *cfg, const char *key, const char ***out);
const char *tf_id(struct tf_doc *t, const struct tf_res *r, const json_t *obj,
		  const json_t *unknown, const json_t *cfg, const char *key);
struct origin tf_origin(struct tf_doc *t, const struct tf_res *r, const char *sub);
/* The id of a transit gateway's default route table (attr: association_
 * or propagation_default_route_table_id): known, or made from its address.
 * A value, resolved where references are (tf_ids). */
const char *tf_tgw_default_table(struct tf_doc *t, const struct tf_res *tgw, const char *attr);
struct tf_pending *tf_pend(struct loader *l, enum tf_pending_kind kind, const char *target,
			   const char *other, const struct origin *o);
struct tf_vpc_defaults *tf_defaults_of(struct loader *l, const char *vpc_id);
/* The loader's Terraform state, created on first use (NULL: no memory). */
struct tf_state *tf_state(struct loader *l);

/* A resource type and its reader: one row of load_tf.c's table of every
 * type vpcfw reads. arg and the two names tell apart the types one reader
 * serves (a default resource, a rule's direction, a gateway kind, a
 * service, an association's attributes). */
struct tf_kind;
typedef void tf_reader(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k);
struct tf_kind {
	const char *type;
	tf_reader *read;
	int arg;
	const char *what, *other;
};
/* k->arg of the readers that serve both the resource Terraform creates
 * and the default one that AWS made and Terraform adopts (the region's
 * aws_default_vpc; a VPC's aws_default_security_group, _network_acl,
 * _route_table). */
enum tf_ownership { TF_CREATED, TF_DEFAULT };
/* k->arg of tf_group_rule: the rule's direction, or read from the rule's
 * "type" attribute (aws_security_group_rule). */
enum tf_direction { TF_INGRESS, TF_EGRESS, TF_BY_TYPE = -1 };
/* load_tf.c: the table of every type read, sorted by type. */
extern const struct tf_kind tf_kinds[];
extern const size_t tf_n_kinds;
/* load_tf_value.c: reads r with the entry of kinds[0..n) for its type;
 * false when none is. */
bool tf_read_kind(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *kinds, size_t n);

/* The readers load_tf.c's table names, by file (k: the row of r's type).
 * load_tf_net.c: */
tf_reader tf_vpc; /* k->arg: enum tf_ownership */
tf_reader tf_subnet;
tf_reader tf_group;	 /* k->arg: enum tf_ownership */
tf_reader tf_group_rule; /* k->arg: enum tf_direction */
tf_reader tf_acl;	 /* k->arg: enum tf_ownership */
tf_reader tf_acl_rule;
tf_reader tf_route_table; /* k->arg: enum tf_ownership */
tf_reader tf_route_res;
/* k->arg: the pending kind; k->what: the attribute naming the target,
 * k->other: the one naming the other end */
tf_reader tf_link;
tf_reader tf_gateway; /* k->arg: the gateway kind */
tf_reader tf_eip;
/* load_tf_tgw.c: aws_ec2_transit_gateway, _vpc_attachment, _route_table,
 * _route, and (k->arg: GW_TRANSIT_ROUTES for a propagation,
 * GW_TRANSIT_ATTACH for an association) the links. */
tf_reader tf_tgw, tf_tgw_attachment, tf_tgw_table, tf_tgw_route, tf_tgw_link;
/* load_tf_eni.c */
tf_reader tf_instance, tf_interface;
tf_reader tf_eni_link; /* k->arg: TF_ENI_GROUP or TF_ENI_ATTACH */
tf_reader tf_db, tf_lb;
tf_reader tf_vpc_config; /* k->what: the service ("lambda", "eks") */
tf_reader tf_asg, tf_cache;

/* load_tf_net.c: the lists of a block attribute: values, after_unknown
 * and expressions of block i of key (NULL where absent). */
void tf_block(const struct tf_res *r, const json_t *vals, const json_t *unk, const json_t *cfg,
	      const char *key, size_t i, const json_t **bv, const json_t **bu, const json_t **bc);

/* load_tf_place.c: what AWS does where Terraform says nothing. */
void tf_assume_address(struct loader *l, struct draft_eni *d);
void tf_assume_public_ip(struct loader *l, struct draft_eni *d);
void tf_default_vpc_routes(struct loader *l);
void tf_default_vpc_groups(struct loader *l);

#endif
