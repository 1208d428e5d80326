/*
 * Writing a loaded lab in the vpcfw lab format (docs/lab-format.md), for
 * `vpcfw import`. Ids are kept; what cannot be written (a rule naming a
 * group that is not in the lab, which matches nothing) is left out with a
 * note on notes.
 */
#ifndef VPCFW_LAB_WRITE_H
#define VPCFW_LAB_WRITE_H

#include <jansson.h>
#include <stdio.h>

struct lab;

/* A new reference; NULL when out of memory. */
json_t *lab_write_json(const struct lab *lab, FILE *notes);
/* The lab's gateways as the format's "gateways" array (lab_write_gw.c). */
json_t *lab_write_gateways(const struct lab *lab);
/* Its Network Load Balancers as "load_balancers" (lab_write_gw.c). */
json_t *lab_write_load_balancers(const struct lab *lab);

#endif
