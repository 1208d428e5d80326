/*
 * Endpoints of an expectation (DESIGN.md contract 6): any name of contract
 * 3 or an outside address as they are, or a selector that stands for every
 * ENI it covers: subnet:ID (subnet id or Name), sg:ID (group id or
 * GroupName), or a glob (fnmatch) on Name tags of ENIs or their instances.
 * Expansion checks every name against the lab, so an unknown endpoint or a
 * selector that matches nothing is an input error before anything runs.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "query.h"

bool expect_is_selector(const char *name)
{
	return !strncmp(name, "subnet:", 7) || !strncmp(name, "sg:", 3) ||
	       strpbrk(name, "*?[") != NULL;
}

static bool eni_in_subnet(const struct lab *lab, const struct eni *e, const char *id)
{
	if (e->subnet < 0)
		return false;
	const struct subnet *s = &lab->subnets[e->subnet];
	return !strcmp(s->id, id) || (s->name && !strcmp(s->name, id));
}

static bool eni_in_group(const struct lab *lab, const struct eni *e, const char *id)
{
	for (size_t g = 0; g < e->n_groups; g++) {
		const struct security_group *sg = &lab->groups[e->groups[g]];
		if (!strcmp(sg->id, id) || (sg->name && !strcmp(sg->name, id)))
			return true;
	}
	return false;
}

static bool eni_matches_glob(const struct eni *e, const char *glob)
{
	return (e->name && !fnmatch(glob, e->name, 0)) ||
	       (e->instance_name && !fnmatch(glob, e->instance_name, 0));
}

int expect_select(const struct lab *lab, const char *sel, int32_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int32_t *v = calloc(lab->n_enis ? lab->n_enis : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		bool hit;
		if (!strncmp(sel, "subnet:", 7))
			hit = eni_in_subnet(lab, e, sel + 7);
		else if (!strncmp(sel, "sg:", 3))
			hit = eni_in_group(lab, e, sel + 3);
		else
			hit = eni_matches_glob(e, sel);
		if (hit)
			v[(*n)++] = (int32_t)i;
	}
	*out = v;
	return 0;
}

/* The names one side of an item stands for: the ENI ids of a selector, or
 * the name itself once the lab knows it. */
static int side_names(const struct lab *lab, const struct expect_file *f,
		      const struct expect_item *it, const char *name, int line, const char *key,
		      char ***out, size_t *n, struct expect_errors *e)
{
	*out = NULL;
	*n = 0;
	if (!expect_is_selector(name)) {
		struct endpoint ep;
		int r = lab_resolve_endpoint(lab, name, &ep);
		if (r == -EEXIST) {
			expect_errors_add(e, f->path, line, key,
					  "'%s' is ambiguous: several ENIs carry that Name", name);
			return r;
		}
		if (r < 0) {
			expect_errors_add(e, f->path, line, key,
					  "unknown endpoint '%s' (not an instance id, ENI id, "
					  "Name tag, outside host or IP address of the lab)",
					  name);
			return r;
		}
		*out = malloc(sizeof(char *));
		if (!*out || !((*out)[0] = strdup(name)))
			return -ENOMEM;
		*n = 1;
		return 0;
	}
	int32_t *enis;
	size_t ne;
	if (expect_select(lab, name, &enis, &ne) < 0)
		return -ENOMEM;
	if (!ne) {
		expect_errors_add(e, f->path, line, key, "selector '%s' matches no ENI", name);
		free(enis);
		return -ENOENT;
	}
	*out = calloc(ne, sizeof(char *));
	for (size_t i = 0; *out && i < ne; i++)
		(*out)[i] = strdup(lab->enis[enis[i]].id);
	*n = *out ? ne : 0;
	free(enis);
	(void)it;
	return *out ? 0 : -ENOMEM;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void expect_flows_free(struct expect_flow *flows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(flows[i].from);
		free(flows[i].to);
		free(flows[i].name);
	}
	free(flows);
}

static char *flow_name(const struct lab *lab, const struct expect_item *it, const char *from,
		       const char *to, bool expanded)
{
	char buf[512], proto[16];
	const char *fl = from, *tl = to;
	struct endpoint ep;
	if (expanded && lab_resolve_endpoint(lab, from, &ep) == 0 && ep.kind == ENDPOINT_ENI)
		fl = lab_eni_label(lab, ep.eni);
	if (expanded && lab_resolve_endpoint(lab, to, &ep) == 0 && ep.kind == ENDPOINT_ENI)
		tl = lab_eni_label(lab, ep.eni);
	if (it->proto == PROTO_TCP || it->proto == PROTO_UDP)
		snprintf(proto, sizeof(proto), "%s %d", it->proto == PROTO_TCP ? "tcp" : "udp",
			 it->port);
	else if (it->proto == PROTO_ICMP || it->proto == PROTO_ICMPV6)
		snprintf(proto, sizeof(proto), "%s", it->proto == PROTO_ICMP ? "icmp" : "icmpv6");
	else
		snprintf(proto, sizeof(proto), "proto %d", it->proto);
	if (it->name && expanded)
		snprintf(buf, sizeof(buf), "%s [%s -> %s]", it->name, fl, tl);
	else if (it->name)
		snprintf(buf, sizeof(buf), "%s", it->name);
	else
		snprintf(buf, sizeof(buf), "%s -> %s %s %s", fl, tl, proto,
			 it->accept ? "accept" : "reject");
	return strdup(buf);
}

int expect_query(const struct lab *lab, const struct expect_item *it, const char *from,
		 const char *to, struct pipeline_query *q, char *err, size_t errlen)
{
	struct query_spec s;
	query_spec_init(&s);
	s.from = from;
	s.to = to;
	s.proto = it->proto;
	s.port = it->port;
	s.icmp_type = it->icmp_type;
	s.icmp_code = it->icmp_code;
	return query_build(lab, &s, q, err, errlen, NULL, 0);
}

/* query_build refuses what cannot be one flow (mixed families, ...). */
static void check_query(const struct lab *lab, const struct expect_file *f,
			const struct expect_item *it, const char *from, const char *to,
			struct expect_errors *e)
{
	struct pipeline_query q;
	char err[512];
	if (expect_query(lab, it, from, to, &q, err, sizeof(err)) < 0)
		expect_errors_add(e, f->path, it->line, it->name ? it->name : "expect", "%s", err);
}

static int expand_item(const struct lab *lab, const struct expect_file *f, size_t idx,
		       struct expect_flow **out, size_t *n, size_t *cap, struct expect_errors *e)
{
	const struct expect_item *it = &f->items[idx];
	char **from, **to;
	size_t nf, nt;
	int rf = side_names(lab, f, it, it->from, it->from_line, "from", &from, &nf, e);
	int rt = side_names(lab, f, it, it->to, it->to_line, "to", &to, &nt, e);
	bool expanded = expect_is_selector(it->from) || expect_is_selector(it->to);
	int ret = rf < 0 ? rf : rt;
	for (size_t i = 0; ret == 0 && i < nf; i++) {
		for (size_t j = 0; ret == 0 && j < nt; j++) {
			/* a selector on both sides never pairs an ENI with itself */
			if (expanded && !strcmp(from[i], to[j]))
				continue;
			size_t before = e->n;
			check_query(lab, f, it, from[i], to[j], e);
			if (e->n != before)
				continue;
			if (*n == *cap) {
				size_t nc = *cap ? *cap * 2 : 16;
				struct expect_flow *v = realloc(*out, nc * sizeof(*v));
				if (!v) {
					ret = -ENOMEM;
					break;
				}
				*out = v;
				*cap = nc;
			}
			struct expect_flow *fl = &(*out)[(*n)++];
			fl->item = idx;
			fl->from = strdup(from[i]);
			fl->to = strdup(to[j]);
			fl->name = flow_name(lab, it, from[i], to[j], expanded);
			if (!fl->from || !fl->to || !fl->name)
				ret = -ENOMEM;
		}
	}
	names_free(from, nf);
	names_free(to, nt);
	return ret;
}

int expect_expand(const struct lab *lab, const struct expect_file *f, struct expect_flow **out,
		  size_t *n, struct expect_errors *e)
{
	size_t cap = 0, before = e->n;
	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < f->n; i++)
		if (expand_item(lab, f, i, out, n, &cap, e) == -ENOMEM) {
			expect_errors_add(e, f->path, 0, NULL, "out of memory");
			break;
		}
	if (e->n == before && *n)
		return 0;
	if (e->n == before)
		expect_errors_add(e, f->path, 0, NULL, "no flow to check");
	expect_flows_free(*out, *n);
	*out = NULL;
	*n = 0;
	return -EINVAL;
}
