#include "vec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int vec_reserve(void *vp, size_t *cap, size_t need, size_t size)
{
	void *old, *grown;
	size_t n = *cap ? *cap : 16;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	if (size && n > SIZE_MAX / size)
		return -ENOMEM;
	memcpy(&old, vp, sizeof(old));
	grown = realloc(old, n * size);
	if (!grown)
		return -ENOMEM;
	memcpy(vp, &grown, sizeof(grown));
	*cap = n;
	return 0;
}
