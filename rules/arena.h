/*
 * A bump allocator: a loaded lab lives in one arena and is freed at once,
 * so loaders never track individual strings and a failed load frees all it
 * built. Not for the packet path (that allocates nothing but tracked
 * connections, from the conntrack pool).
 */
#ifndef VPCFW_ARENA_H
#define VPCFW_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_create(void);
void arena_destroy(struct arena *a);

/* Zeroed memory, aligned for any type; NULL only when malloc fails. */
void *arena_alloc(struct arena *a, size_t size);
/* n elements of size each, with overflow checked. */
void *arena_calloc(struct arena *a, size_t n, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
