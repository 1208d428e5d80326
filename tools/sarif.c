/*
 * SARIF 2.1.0 writer (see sarif.h), built with jansson, and a small
 * locator that finds the line of a JSON path in the lab file: code-scanning
 * UIs place annotations by line, while the loader records JSON paths.
 * The locator only walks the text (strings, brackets, keys); it trusts the
 * loader to have validated the file already.
 */
#include "sarif.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VPCFW_VERSION
#define VPCFW_VERSION "0"
#endif

#define SARIF_SCHEMA "https://json.schemastore.org/sarif-2.1.0.json"
#define PATH_MAX_LEN 1024
#define DEPTH_MAX 64

/* ---- JSON path to line ---- */

struct locate {
	const char *p, *end;
	int line;
	const char *target;
	int found;
};

static void ws(struct locate *l)
{
	for (; l->p < l->end && strchr(" \t\r\n", *l->p); l->p++)
		l->line += *l->p == '\n';
}

/* Skips a string at l->p (on its opening quote), copying it raw into out. */
static void string(struct locate *l, char *out, size_t len)
{
	size_t n = 0;
	for (l->p++; l->p < l->end && *l->p != '"'; l->p++) {
		if (*l->p == '\\' && l->p + 1 < l->end)
			l->p++;
		if (out && n + 1 < len)
			out[n++] = *l->p;
	}
	if (out)
		out[n] = '\0';
	if (l->p < l->end)
		l->p++;
}

static void value(struct locate *l, char *path, size_t plen, int depth);

static void members(struct locate *l, char *path, size_t plen, int depth, bool array)
{
	char key[256];
	size_t base = strlen(path);
	for (int idx = 0; l->p < l->end && !l->found; idx++) {
		ws(l);
		if (l->p < l->end && (*l->p == (array ? ']' : '}'))) {
			l->p++;
			return;
		}
		if (array) {
			snprintf(path + base, plen - base, "[%d]", idx);
		} else {
			if (l->p >= l->end || *l->p != '"')
				return;
			string(l, key, sizeof(key));
			ws(l);
			if (l->p < l->end && *l->p == ':')
				l->p++;
			snprintf(path + base, plen - base, "%s%s", base ? "." : "", key);
		}
		value(l, path, plen, depth + 1);
		path[base] = '\0';
		ws(l);
		if (l->p < l->end && *l->p == ',')
			l->p++;
	}
}

static void value(struct locate *l, char *path, size_t plen, int depth)
{
	ws(l);
	if (l->p >= l->end || depth > DEPTH_MAX)
		return;
	if (!strcmp(path, l->target)) {
		l->found = l->line;
		return;
	}
	if (*l->p == '{' || *l->p == '[') {
		bool array = *l->p == '[';
		l->p++;
		members(l, path, plen, depth, array);
	} else if (*l->p == '"') {
		string(l, NULL, 0);
	} else {
		while (l->p < l->end && !strchr(",]} \t\r\n", *l->p))
			l->p++;
	}
}

/* One file's text, kept while a log is written: its results mostly point
 * into the same lab file. */
struct text_cache {
	char *file;
	char *buf;
	size_t len;
};

static void cache_free(struct text_cache *c)
{
	free(c->file);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

static bool cache_load(struct text_cache *c, const char *file)
{
	if (c->file && !strcmp(c->file, file))
		return c->buf != NULL;
	cache_free(c);
	c->file = strdup(file);
	FILE *in = fopen(file, "r");
	if (!in)
		return false;
	char *buf = NULL;
	size_t len = 0, cap = 0, got;
	do {
		if (len + 65536 > cap) {
			char *nb = realloc(buf, cap + 65536);
			if (!nb)
				break;
			buf = nb;
			cap += 65536;
		}
		got = fread(buf + len, 1, cap - len, in);
		len += got;
	} while (got > 0);
	fclose(in);
	c->buf = buf;
	c->len = len;
	return buf != NULL;
}

static int path_line(struct text_cache *c, const char *file, const char *json_path)
{
	char path[PATH_MAX_LEN] = "";
	if (!file || !json_path || !cache_load(c, file))
		return 0;
	struct locate l = {c->buf, c->buf + c->len, 1, json_path, 0};
	value(&l, path, sizeof(path), 0);
	return l.found;
}

/* Whether the string starting at q is the value of an "address" key. */
static bool address_key_before(const char *buf, const char *q)
{
	static const char key[] = "\"address\"";
	const char *p = q;
	while (p > buf && strchr(" \t\r\n", p[-1]))
		p--;
	if (p == buf || *--p != ':')
		return false;
	while (p > buf && strchr(" \t\r\n", p[-1]))
		p--;
	return (size_t)(p - buf) >= sizeof(key) - 1 &&
	       !memcmp(p - (sizeof(key) - 1), key, sizeof(key) - 1);
}

/* The line of the first "address": "<resource>" in a Terraform plan or
 * state: where `terraform show -json` describes that resource. */
static int resource_line(struct text_cache *c, const char *file, const char *resource)
{
	if (!file || !resource || !cache_load(c, file))
		return 0;
	size_t n = strlen(resource);
	int line = 1;
	for (const char *p = c->buf, *end = c->buf + c->len; p < end; p++) {
		if (*p == '\n')
			line++;
		else if (*p == '"' && (size_t)(end - p) > n + 1 && !memcmp(p + 1, resource, n) &&
			 p[n + 1] == '"' && address_key_before(c->buf, p))
			return line;
	}
	return 0;
}

struct sarif_location sarif_location_of(const struct origin *o, const char *fallback_uri)
{
	struct sarif_location loc = {fallback_uri, 0, NULL, NULL};
	if (!o)
		return loc;
	if (o->file)
		loc.uri = o->file;
	loc.json_path = o->path;
	loc.resource = o->resource;
	return loc;
}

/* ---- the log ---- */

static json_t *rules_json(const struct sarif_rule *rules, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a,
				      json_pack("{s:s, s:{s:s}, s:{s:s}}", "id", rules[i].id,
						"shortDescription", "text", rules[i].summary,
						"defaultConfiguration", "level", rules[i].level));
	return a;
}

static json_t *location_json(const struct sarif_location *loc, struct text_cache *cache)
{
	json_t *o = json_object();
	if (loc->uri) {
		int line = loc->line;
		if (!line)
			line = loc->resource ? resource_line(cache, loc->uri, loc->resource)
					     : path_line(cache, loc->uri, loc->json_path);
		json_object_set_new(o, "physicalLocation",
				    json_pack("{s:{s:s}, s:{s:i}}", "artifactLocation", "uri",
					      loc->uri, "region", "startLine", line ? line : 1));
	}
	json_t *logical = json_array();
	if (loc->json_path)
		json_array_append_new(logical, json_pack("{s:s, s:s}", "fullyQualifiedName",
							 loc->json_path, "kind", "member"));
	if (loc->resource)
		json_array_append_new(logical, json_pack("{s:s, s:s}", "fullyQualifiedName",
							 loc->resource, "kind", "resource"));
	if (json_array_size(logical))
		json_object_set_new(o, "logicalLocations", logical);
	else
		json_decref(logical);
	return o;
}

static int rule_index_of(const struct sarif_rule *rules, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rules[i].id, id))
			return (int)i;
	return -1;
}

static json_t *result_json(const struct sarif_rule *rules, size_t n_rules,
			   const struct sarif_result *r, struct text_cache *cache)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}}", "ruleId", r->rule_id, "level", r->level,
			      "message", "text", r->message);
	int idx = rule_index_of(rules, n_rules, r->rule_id);
	if (idx >= 0)
		json_object_set_new(o, "ruleIndex", json_integer(idx));
	json_t *locs = json_array();
	json_array_append_new(locs, location_json(&r->loc, cache));
	json_object_set_new(o, "locations", locs);
	return o;
}

int sarif_write(const char *path, const char *command, const struct sarif_rule *rules,
		size_t n_rules, const struct sarif_result *res, size_t n)
{
	char auto_id[64];
	struct text_cache cache = {0};
	json_t *results = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(results, result_json(rules, n_rules, &res[i], &cache));
	cache_free(&cache);
	snprintf(auto_id, sizeof(auto_id), "vpcfw/%s/", command);
	json_t *driver = json_pack("{s:s, s:s, s:o}", "name", "vpcfw", "version", VPCFW_VERSION,
				   "rules", rules_json(rules, n_rules));
	json_t *run = json_pack("{s:{s:o}, s:{s:s}, s:o}", "tool", "driver", driver,
				"automationDetails", "id", auto_id, "results", results);
	json_t *log = json_pack("{s:s, s:s, s:[o]}", "$schema", SARIF_SCHEMA, "version", "2.1.0",
				"runs", run);
	if (!log)
		return -ENOMEM;
	int r;
	if (!strcmp(path, "-"))
		r = json_dumpf(log, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	else
		r = json_dump_file(log, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(log);
	return r < 0 ? -EIO : 0;
}
