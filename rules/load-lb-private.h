/*
 * What load_aws_lb.c (the readers) hands load_lb_resolve.c (the builder of
 * lab->load_balancers): the pieces of each load balancer as the files
 * wrote them, joined by ARN once every file is read. Each draft starts
 * with where it was read, set when it is made (load_aws_lb.c push()).
 * Nobody else includes this.
 */
#ifndef VPCFW_LOAD_LB_PRIVATE_H
#define VPCFW_LOAD_LB_PRIVATE_H

#include "load-private.h"

struct lb_draft {
	struct origin origin;
	const char *name, *arn, *type, *scheme;
	const char **nodes; /* our format: node ENIs by name */
	size_t n_nodes;
	bool cross_zone, from_lab;
};

struct lb_listener_draft {
	struct origin origin;
	const char *lb_arn, *arn, *protocol, *group_arn;
	uint16_t port;
	bool ok; /* the port was valid */
};

struct lb_group_draft {
	struct origin origin;
	const char *arn, *name, *type;
	uint16_t port;
	bool has_port;
};

struct lb_target_draft {
	struct origin origin;
	const char *group_arn, *id, *state;
	uint16_t port;
	bool has_port, from_lab;
};

struct lb_attr_draft {
	struct origin origin;
	const char *lb_arn;
	bool has_cross_zone, cross_zone;
};

struct lb_loader {
	struct vec lbs;	      /* struct lb_draft */
	struct vec listeners; /* struct lb_listener_draft */
	struct vec groups;    /* struct lb_group_draft */
	struct vec targets;   /* struct lb_target_draft */
	struct vec attrs;     /* struct lb_attr_draft */
};

#endif
