/*
 * Growable arrays: one reserve function instead of a push function per
 * element type. A typed array is {T *v; size_t n, cap;}; before appending,
 *     if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
 *             return -ENOMEM;
 *     l->v[l->n++] = x;
 * Capacity doubles (16 at first); on failure the array is left as it was.
 */
#ifndef VPCFW_VEC_H
#define VPCFW_VEC_H

#include <stddef.h>

/* vp: address of the array pointer (T **). 0, or -ENOMEM (also when
 * need * size would overflow). */
int vec_reserve(void *vp, size_t *cap, size_t need, size_t size);

#endif
