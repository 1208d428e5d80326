/*
 * Shared only by flowlog.c (the aggregation table) and flowlog_format.c
 * (format strings and lines): the strings of an interface description in
 * one order, so that interning, comparing and printing them walk one table
 * instead of naming each field again. Nobody else includes this; the public
 * interface is flowlog.h.
 */
#ifndef VPCFW_FLOWLOG_PRIVATE_H
#define VPCFW_FLOWLOG_PRIVATE_H

#include <stddef.h>

#include "flowlog.h"

/* One string member of struct flowlog_iface and the field printing it. */
struct flowlog_iface_str {
	enum flowlog_field field;
	size_t off; /* of the const char * in struct flowlog_iface */
};

#define FLOWLOG_IFACE_STRS 9
/* interface_id first: it is the one an interface is hashed by. */
extern const struct flowlog_iface_str flowlog_iface_strs[FLOWLOG_IFACE_STRS];

static inline const char **flowlog_iface_slot(struct flowlog_iface *i, size_t k)
{
	return (const char **)((char *)i + flowlog_iface_strs[k].off);
}

static inline const char *flowlog_iface_get(const struct flowlog_iface *i, size_t k)
{
	return *(const char *const *)((const char *)i + flowlog_iface_strs[k].off);
}

#endif
