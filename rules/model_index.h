/*
 * Lookups of the lab's address index (model_index.c) that model.h does not
 * declare: which NAT gateway an Elastic IP belongs to. The index is built
 * at load (lab_index_addresses, model.h); a lab without one is scanned,
 * with the same answer.
 */
#ifndef VPCFW_MODEL_INDEX_H
#define VPCFW_MODEL_INDEX_H

#include <stdint.h>

#include "addr.h"

struct lab;

/* The public NAT gateway (index into lab->gateways, the lowest when two
 * share it) whose Elastic IP a is, or -1. */
int32_t lab_nat_by_public_ip(const struct lab *lab, const struct ip_addr *a);

#endif
