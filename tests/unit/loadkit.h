/*
 * What the loader tests share: documents written with ' for " (J), loading
 * one or several in memory, and looking for one exact diagnostic (level,
 * file, JSON path, message). Include after cmocka.h and load.h.
 */
#ifndef VPCFW_TEST_LOADKIT_H
#define VPCFW_TEST_LOADKIT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline char *J(const char *s)
{
	char *d = strdup(s);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

struct result {
	struct diag_list d;
	struct lab *lab;
	int r;
};

static inline void load_as(struct result *res, const char *name, const char *json, bool strict)
{
	struct lab_load_opts o;
	lab_load_opts_init(&o);
	o.strict = strict;
	diag_init(&res->d);
	char *doc = J(json);
	res->lab = (struct lab *)0x1; /* must be overwritten with NULL on failure */
	res->r = lab_load_buffer(name, doc, strlen(doc), &o, &res->lab, &res->d);
	free(doc);
}

static inline void load_many(struct result *res, size_t n, const char *const *names,
			     const char *const *docs)
{
	struct lab_load_opts o;
	lab_load_opts_init(&o);
	diag_init(&res->d);
	char **bufs = calloc(n, sizeof(char *));
	size_t *lens = calloc(n, sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		bufs[i] = J(docs[i]);
		lens[i] = strlen(bufs[i]);
	}
	res->r =
	    lab_load_buffers(n, names, (const char *const *)bufs, lens, &o, &res->lab, &res->d);
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(lens);
}

static inline void done(struct result *res)
{
	lab_free(res->r == 0 ? res->lab : NULL);
	diag_free(&res->d);
}

static inline void dump(const struct diag_list *d)
{
	char buf[2048];
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  %s\n", diag_format(&d->items[i], buf, sizeof(buf)));
}

/* Exactly this record (file, path, message) at this level. */
static inline bool has(const struct diag_list *d, enum diag_level lvl, const char *file,
		       const char *path, const char *msg)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *x = &d->items[i];
		if (x->level == lvl && (!file || (x->file && !strcmp(x->file, file))) &&
		    ((!path && !x->path) || (path && x->path && !strcmp(x->path, path))) &&
		    !strcmp(x->msg, msg))
			return true;
	}
	fprintf(stderr, "missing %s: %s: %s: %s; have:\n", lvl == DIAG_ERROR ? "error" : "warning",
		file ? file : "-", path ? path : "-", msg);
	dump(d);
	return false;
}

static inline void expect_fail(struct result *res)
{
	assert_true(res->r < 0);
	assert_null(res->lab);
	assert_true(res->d.n_errors > 0);
}

static inline void expect_ok(struct result *res)
{
	if (res->r != 0)
		dump(&res->d);
	assert_int_equal(res->r, 0);
	assert_non_null(res->lab);
	assert_int_equal(res->d.n_errors, 0);
}

/* One error, in t.json, at path, saying msg. */
static inline void one_error(const char *json, const char *path, const char *msg)
{
	struct result res;
	load_as(&res, "t.json", json, false);
	expect_fail(&res);
	assert_true(has(&res.d, DIAG_ERROR, "t.json", path, msg));
	if (res.d.n_errors != 1)
		dump(&res.d);
	assert_int_equal(res.d.n_errors, 1);
	done(&res);
}

static inline void one_warning(const char *json, const char *path, const char *msg)
{
	struct result res;
	load_as(&res, "t.json", json, false);
	expect_ok(&res);
	assert_true(has(&res.d, DIAG_WARNING, "t.json", path, msg));
	done(&res);
	/* --strict: the same record, as an error, and nothing loaded */
	load_as(&res, "t.json", json, true);
	expect_fail(&res);
	assert_true(has(&res.d, DIAG_ERROR, "t.json", path, msg));
	done(&res);
}

#endif
