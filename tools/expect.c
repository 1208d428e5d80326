/*
 * The expectations file of `vpcfw test` (DESIGN.md contract 6), read with
 * libyaml's document API so every node keeps its line: each problem is
 * named with file, line and key, all of them are collected, and a file
 * with any problem yields nothing. JSON loads too (it is YAML's flow
 * style). Not for resolving names against a lab: selector.c does that.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "expect.h"
#include "query.h"

void expect_errors_add(struct expect_errors *e, const char *file, int line, const char *key,
		       const char *fmt, ...)
{
	char msg[512], full[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0 && key)
		snprintf(full, sizeof(full), "%s:%d: %s: %s", file, line, key, msg);
	else if (line > 0)
		snprintf(full, sizeof(full), "%s:%d: %s", file, line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", file, msg);
	char **m = realloc(e->msgs, (e->n + 1) * sizeof(*m));
	if (!m)
		return;
	e->msgs = m;
	m[e->n] = strdup(full);
	if (m[e->n])
		e->n++;
}

void expect_errors_print(const struct expect_errors *e, FILE *out)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(out, "%s\n", e->msgs[i]);
}

void expect_errors_free(struct expect_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	e->msgs = NULL;
	e->n = 0;
}

void expect_file_free(struct expect_file *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->items[i].name);
		free(f->items[i].from);
		free(f->items[i].to);
	}
	free(f->items);
	free(f->path);
	free(f->lab_path);
	memset(f, 0, sizeof(*f));
}

struct loader {
	yaml_document_t *doc;
	const char *file;
	struct expect_errors *e;
};

static int node_line(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

/* A scalar's text, or NULL with an error naming key. */
static const char *scalar(struct loader *l, yaml_node_t *n, const char *key)
{
	if (n->type != YAML_SCALAR_NODE) {
		expect_errors_add(l->e, l->file, node_line(n), key, "expected a single value");
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

static int int_value(struct loader *l, yaml_node_t *n, const char *key, long lo, long hi,
		     const char *what, int *out)
{
	const char *s = scalar(l, n, key);
	if (!s)
		return -EINVAL;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		expect_errors_add(l->e, l->file, node_line(n), key, "impossible %s '%s' (%ld-%ld)",
				  what, s, lo, hi);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

static char *dup_scalar(struct loader *l, yaml_node_t *n, const char *key)
{
	const char *s = scalar(l, n, key);
	if (!s)
		return NULL;
	if (!*s) {
		expect_errors_add(l->e, l->file, node_line(n), key, "empty value");
		return NULL;
	}
	return strdup(s);
}

static bool ports_apply(int proto)
{
	return proto == PROTO_TCP || proto == PROTO_UDP || proto == 132;
}

/* Cross-field checks once every key of an item is read. */
static void item_check(struct loader *l, struct expect_item *it, bool has_proto, bool has_verdict,
		       int port_line, int icmp_line)
{
	if (!it->from)
		expect_errors_add(l->e, l->file, it->line, "from", "missing");
	if (!it->to)
		expect_errors_add(l->e, l->file, it->line, "to", "missing");
	if (!has_verdict)
		expect_errors_add(l->e, l->file, it->line, "verdict", "missing (accept or reject)");
	if (!has_proto) {
		expect_errors_add(l->e, l->file, it->line, "proto", "missing");
		return;
	}
	bool icmp = it->proto == PROTO_ICMP || it->proto == PROTO_ICMPV6;
	if (ports_apply(it->proto) && !port_line)
		expect_errors_add(l->e, l->file, it->line, "port", "missing for a tcp/udp flow");
	if (!ports_apply(it->proto) && it->port >= 0)
		expect_errors_add(l->e, l->file, port_line, "port",
				  "impossible port: the protocol has no ports");
	if (!icmp && icmp_line)
		expect_errors_add(l->e, l->file, icmp_line, "icmp-type",
				  "only icmp and icmpv6 flows have a type and code");
}

static int item_key(struct loader *l, struct expect_item *it, const char *k, yaml_node_t *v,
		    bool *has_proto, bool *has_verdict, int *port_line, int *icmp_line)
{
	const char *s;
	char **str = !strcmp(k, "name")	  ? &it->name
		     : !strcmp(k, "from") ? &it->from
		     : !strcmp(k, "to")	  ? &it->to
					  : NULL;
	/* YAML lets a key repeat; a second value would also leak the first. */
	if (str && *str) {
		expect_errors_add(l->e, l->file, node_line(v), k, "given twice in one expectation");
		return -EINVAL;
	}
	if (!strcmp(k, "name"))
		return (it->name = dup_scalar(l, v, k)) ? 0 : -EINVAL;
	if (!strcmp(k, "from"))
		return (it->from_line = node_line(v), it->from = dup_scalar(l, v, k)) ? 0 : -EINVAL;
	if (!strcmp(k, "to"))
		return (it->to_line = node_line(v), it->to = dup_scalar(l, v, k)) ? 0 : -EINVAL;
	if (!strcmp(k, "port"))
		return *port_line = node_line(v), int_value(l, v, k, 1, 65535, "port", &it->port);
	if (!strcmp(k, "icmp-type") || !strcmp(k, "icmp_type"))
		return *icmp_line = node_line(v),
		       int_value(l, v, k, 0, 255, "ICMP type", &it->icmp_type);
	if (!strcmp(k, "icmp-code") || !strcmp(k, "icmp_code"))
		return *icmp_line = node_line(v),
		       int_value(l, v, k, 0, 255, "ICMP code", &it->icmp_code);
	if (!strcmp(k, "timeout_ms"))
		return int_value(l, v, k, 1, 600000, "timeout", &it->timeout_ms);
	if (!strcmp(k, "proto")) {
		*has_proto = true; /* an invalid value is reported once, below */
		if (!(s = scalar(l, v, k)))
			return -EINVAL;
		if (query_proto_parse(s, &it->proto) < 0) {
			expect_errors_add(l->e, l->file, node_line(v), k,
					  "unknown protocol '%s' (tcp, udp, icmp, icmpv6 or 0-255)",
					  s);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(k, "verdict")) {
		*has_verdict = true;
		if (!(s = scalar(l, v, k)))
			return -EINVAL;
		if (strcasecmp(s, "accept") && strcasecmp(s, "reject")) {
			expect_errors_add(l->e, l->file, node_line(v), k,
					  "'%s': expected accept or reject", s);
			return -EINVAL;
		}
		it->accept = !strcasecmp(s, "accept");
		return 0;
	}
	expect_errors_add(l->e, l->file, node_line(v), k,
			  "unknown key (name, from, to, proto, port, icmp-type, icmp-code, "
			  "verdict, timeout_ms)");
	return -EINVAL;
}

static void load_item(struct loader *l, yaml_node_t *n, struct expect_item *it)
{
	memset(it, 0, sizeof(*it));
	it->port = it->icmp_type = it->icmp_code = -1;
	it->timeout_ms = 0; /* the file's, set once all of it is read */
	it->line = node_line(n);
	if (n->type != YAML_MAPPING_NODE) {
		expect_errors_add(l->e, l->file, it->line, "expect",
				  "each expectation is a mapping (from, to, proto, ...)");
		return;
	}
	bool has_proto = false, has_verdict = false;
	int port_line = 0, icmp_line = 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
		const char *key = scalar(l, k, "expect");
		if (key)
			item_key(l, it, key, v, &has_proto, &has_verdict, &port_line, &icmp_line);
	}
	item_check(l, it, has_proto, has_verdict, port_line, icmp_line);
}

static char *lab_relative(const char *file, const char *lab)
{
	if (lab[0] == '/')
		return strdup(lab);
	char *copy = strdup(file);
	if (!copy)
		return NULL;
	const char *dir = dirname(copy);
	size_t len = strlen(dir) + strlen(lab) + 2;
	char *out = malloc(len);
	if (out)
		snprintf(out, len, "%s/%s", dir, lab);
	free(copy);
	return out;
}

static void load_root(struct loader *l, yaml_node_t *root, struct expect_file *f)
{
	yaml_node_t *expect = NULL;
	if (root->type != YAML_MAPPING_NODE) {
		expect_errors_add(l->e, l->file, node_line(root), NULL,
				  "expected a mapping with 'lab' and 'expect'");
		return;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
		const char *key = scalar(l, k, "(top level)");
		if (!key)
			continue;
		if (!strcmp(key, "lab")) {
			const char *s = scalar(l, v, key);
			if (f->lab_path)
				expect_errors_add(l->e, l->file, node_line(k), key, "given twice");
			else if (s && *s)
				f->lab_path = lab_relative(l->file, s);
		} else if (!strcmp(key, "timeout_ms")) {
			int_value(l, v, key, 1, 600000, "timeout", &f->timeout_ms);
		} else if (!strcmp(key, "expect")) {
			expect = v;
		} else {
			expect_errors_add(l->e, l->file, node_line(k), key,
					  "unknown key (lab, timeout_ms, expect)");
		}
	}
	if (!expect) {
		expect_errors_add(l->e, l->file, node_line(root), "expect", "missing");
		return;
	}
	if (expect->type != YAML_SEQUENCE_NODE) {
		expect_errors_add(l->e, l->file, node_line(expect), "expect",
				  "expected a list of expectations");
		return;
	}
	size_t n = (size_t)(expect->data.sequence.items.top - expect->data.sequence.items.start);
	if (!n) {
		expect_errors_add(l->e, l->file, node_line(expect), "expect", "empty list");
		return;
	}
	f->items = calloc(n, sizeof(*f->items));
	if (!f->items) {
		expect_errors_add(l->e, l->file, 0, NULL, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it =
		    yaml_document_get_node(l->doc, expect->data.sequence.items.start[i]);
		load_item(l, it, &f->items[i]);
		f->n++;
	}
}

static int parse_file(FILE *in, struct expect_file *f, struct expect_errors *e)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_file(&parser, in);
	if (!yaml_parser_load(&parser, &doc)) {
		expect_errors_add(e, f->path, (int)parser.problem_mark.line + 1, NULL,
				  "YAML syntax error: %s%s%s",
				  parser.problem ? parser.problem : "unknown",
				  parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	struct loader l = {.doc = &doc, .file = f->path, .e = e};
	if (!root)
		expect_errors_add(e, f->path, 0, NULL, "empty file");
	else
		load_root(&l, root, f);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return 0;
}

int expect_load(const char *path, struct expect_file *f, struct expect_errors *e)
{
	memset(f, 0, sizeof(*f));
	f->timeout_ms = EXPECT_DEFAULT_TIMEOUT_MS;
	size_t before = e->n;
	FILE *in = fopen(path, "r");
	if (!in) {
		expect_errors_add(e, path, 0, NULL, "cannot open: %s", strerror(errno));
		return -ENOENT;
	}
	f->path = strdup(path);
	if (!f->path) {
		fclose(in);
		return -ENOMEM;
	}
	int r = parse_file(in, f, e);
	fclose(in);
	if (r == 0 && e->n == before) {
		for (size_t i = 0; i < f->n; i++)
			if (!f->items[i].timeout_ms)
				f->items[i].timeout_ms = f->timeout_ms;
		return 0;
	}
	expect_file_free(f);
	return r < 0 ? r : -EINVAL;
}
