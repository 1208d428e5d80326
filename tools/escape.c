/* The escaping loop of escape.h. */
#include "escape.h"

void escape_put(FILE *out, const char *s, const char *const *table, const char *ctrl)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		const char *r = *p < 128 ? table[*p] : NULL;

		if (!r && *p < 0x20)
			r = ctrl;
		if (r)
			fputs(r, out);
		else
			fputc(*p, out);
	}
}
