/*
 * Diagnostics collected by loaders and validation: every problem names the
 * file, the JSON path inside it and what is wrong. Loaders keep going after
 * the first error so the user sees all of them; the caller decides whether
 * errors are fatal and how to print them (rules/ itself prints nothing).
 */
#ifndef VPCFW_DIAG_H
#define VPCFW_DIAG_H

#include <stddef.h>

enum diag_level { DIAG_ERROR, DIAG_WARNING };

struct diag {
	enum diag_level level;
	char *file; /* may be NULL for lab-wide problems */
	char *path; /* JSON path, e.g. SecurityGroups[2].IpPermissions[0].FromPort */
	char *msg;
};

struct diag_list {
	struct diag *items;
	size_t n, cap;
	size_t n_errors, n_warnings;
};

void diag_init(struct diag_list *l);
void diag_free(struct diag_list *l);
/* Adds one record; a failed allocation is dropped (counters still move). */
void diag_add(struct diag_list *l, enum diag_level level, const char *file,
	      const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* "file: path: error: msg" into buf; returns buf. */
const char *diag_format(const struct diag *d, char *buf, size_t len);

#endif
