/*
 * Loading a lab (DESIGN.md contract 2): our own lab JSON format
 * (docs/lab-format.md), unchanged `aws ec2 describe-*` output and the JSON
 * of `terraform show -json`, from files, directories (recursively) or
 * comma-separated lists of them, each file recognised by its top-level keys.
 * The result is a validated, fully resolved struct lab (model.h) in one
 * arena, or nothing: on any error *out stays NULL and every problem found
 * is in diags (file, JSON path, message), not just the first.
 *
 * Usage:
 *	struct lab_load_opts o;
 *	lab_load_opts_init(&o);
 *	struct diag_list d;
 *	diag_init(&d);
 *	struct lab *lab;
 *	if (lab_load(path, &o, &lab, &d) < 0) { print d; }
 *	...
 *	lab_free(lab);
 *	diag_free(&d);
 */
#ifndef VPCFW_LOAD_H
#define VPCFW_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "model.h"

struct lab_load_opts {
	/* Warnings (quotas, suspicious but loadable data) become errors. */
	bool strict;
};

void lab_load_opts_init(struct lab_load_opts *o);

/* path: a lab JSON file (our format, describe-* output, Terraform JSON) or
 * a directory of *.json files, read recursively; "A,B" joins several paths
 * into one lab (a path that exists as written is one path).
 * 0 and *out set, or a negative errno-style code, *out NULL and at least
 * one DIAG_ERROR in diags. Warnings are added either way.
 * lab->name: the lab file's "lab" key, else the (first) path's base name
 * without .json ("x/lab.json" gives "x"). lab->source: the path (never NULL). */
int lab_load(const char *path, const struct lab_load_opts *o, struct lab **out,
	     struct diag_list *diags);

/* The same for one document in memory (the daemon's built-in lab). name is
 * used in messages, as lab->source, as lab->name when the document has no
 * "lab" key, and, for get-managed-prefix-list-entries, as the file name
 * carrying the prefix list id. */
int lab_load_buffer(const char *name, const char *json, size_t len, const struct lab_load_opts *o,
		    struct lab **out, struct diag_list *diags);

/* Several documents that together form one lab (a directory's files read
 * by the caller). names[i] labels json[i]. */
int lab_load_buffers(size_t n, const char *const *names, const char *const *json,
		     const size_t *lens, const struct lab_load_opts *o, struct lab **out,
		     struct diag_list *diags);

/* NULL is allowed. */
void lab_free(struct lab *lab);

/* The name of a gateway kind in our lab format's "gateways" ("nat",
 * "peering", ...), for writing it back (vpcfw import). */
const char *lab_gateway_kind_name(enum gateway_kind kind);

#endif
