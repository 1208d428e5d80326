/*
 * Lookups of the lab's address index (model_index.c) that model.h does not
 * declare: which NAT gateway an address outside sends replies to belongs
 * to. The index is built
 * at load (lab_index_addresses, model.h); a lab without one is scanned,
 * with the same answer.
 */
#ifndef VPCFW_MODEL_INDEX_H
#define VPCFW_MODEL_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct gateway;
struct lab;

/* The address a NAT gateway's translations carry (AWS-SEMANTICS §9): a
 * public gateway's Elastic IP, a private one's (ConnectivityType private)
 * private IP. false for another kind of gateway, or when the input does
 * not give that address. */
bool gateway_nat_addr(const struct gateway *g, struct ip_addr *a);

/* The NAT gateway (index into lab->gateways, the lowest when two share
 * it) whose gateway_nat_addr a is, or -1. */
int32_t lab_nat_by_address(const struct lab *lab, const struct ip_addr *a);

#endif
