/*
 * Naming the values of an enum, the one way rules/ does it: a table of
 * strings indexed by the enum with designated initialisers (so a name
 * cannot slide onto its neighbour's value when the enum changes), read
 * through one bounds-checked lookup, so that a value the table does not
 * name (out of range, or a hole) reads as the caller's fallback and never
 * past the end.
 *
 *	static const char *const names[] = {[STAGE_ROUTE] = "route", ...};
 *	return ENUM_NAME(names, s, "?");
 */
#ifndef VPCFW_ENUM_NAME_H
#define VPCFW_ENUM_NAME_H

#include <stddef.h>

static inline const char *enum_name(const char *const *names, size_t n, unsigned v,
				    const char *unknown)
{
	return v < n && names[v] ? names[v] : unknown;
}

#define ENUM_NAME(names, v, unknown)                                                               \
	enum_name(names, sizeof(names) / sizeof((names)[0]), (unsigned)(v), unknown)

#endif
