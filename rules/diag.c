/* Growable list of diagnostics; heap-allocated because it outlives a
 * failed load's arena. */
#include "diag.h"
#include "vec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void diag_init(struct diag_list *l)
{
	memset(l, 0, sizeof(*l));
}

static void item_free(struct diag *d)
{
	free(d->file);
	free(d->path);
	free(d->msg);
}

void diag_free(struct diag_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		item_free(&l->items[i]);
	free(l->items);
	diag_init(l);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void diag_add(struct diag_list *l, enum diag_level level, const char *file, const char *path,
	      const char *fmt, ...)
{
	if (level == DIAG_ERROR)
		l->n_errors++;
	else
		l->n_warnings++;
	if (vec_reserve(&l->items, &l->cap, l->n + 1, sizeof(*l->items)) < 0)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct diag *d = &l->items[l->n++];
	d->level = level;
	d->file = dup_or_null(file);
	d->path = dup_or_null(path);
	d->msg = strdup(msg);
}

const char *diag_format(const struct diag *d, char *buf, size_t len)
{
	const char *level = d->level == DIAG_ERROR ? "error" : "warning";
	if (d->file && d->path && *d->path)
		snprintf(buf, len, "%s: %s: %s: %s", d->file, d->path, level,
			 d->msg ? d->msg : "?");
	else if (d->file)
		snprintf(buf, len, "%s: %s: %s", d->file, level, d->msg ? d->msg : "?");
	else
		snprintf(buf, len, "%s: %s", level, d->msg ? d->msg : "?");
	return buf;
}
