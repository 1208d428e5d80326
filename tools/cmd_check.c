/*
 * `vpcfw check`: one flow, evaluated offline as AWS would (DESIGN.md
 * contract 4). Parses arguments, loads the lab, resolves the endpoints
 * (contract 3), asks rules/pipeline for the request and its response and
 * prints every stage with the rule that decided, as text or one JSON
 * object. No root, no packets. Exit 0 ACCEPT, 1 REJECT, 2 error.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "cli.h"
#include "commands.h"
#include "diag.h"
#include "load.h"
#include "pipeline.h"
#include "query.h"
#include "sg.h"

struct check_args {
	const char *lab, *from, *to, *proto;
	long port, sport, icmp_type, icmp_code; /* -1: not given */
	struct cli_range eph;
	bool json, all;
};

static const struct check_args check_defaults = {
    .port = -1,
    .sport = -1,
    .icmp_type = -1,
    .icmp_code = -1,
    .eph = {PIPELINE_EPHEMERAL_LO, PIPELINE_EPHEMERAL_HI},
};

static void check_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: vpcfw check LAB --from A --to B --proto P [--port N | --icmp-type T "
	    "--icmp-code C]\n"
	    "                   [--sport S] [--ephemeral LO-HI] [--json] [--all]\n\n"
	    "Evaluates a request from A to B and its response offline: SG egress, NACL egress,\n"
	    "NACL ingress, SG ingress (and the route for outside hosts).\n"
	    "A and B: instance id, ENI id, Name tag or IP address. P: tcp, udp, icmp, icmpv6\n"
	    "or a protocol number. Without --sport the response must pass for every port\n"
	    "of the client's ephemeral range (default 32768-60999).\n"
	    "--all lists every stage that would reject the flow (each evaluated as if the\n"
	    "others admitted it) and the smallest set of changes that would admit it.\n"
	    "Exit status: 0 ACCEPT, 1 REJECT, 2 error.\n");
}

static const struct cli_opt check_opts[] = {
    CLI_REQUIRED("from", struct check_args, from),
    CLI_REQUIRED("to", struct check_args, to),
    CLI_REQUIRED("proto", struct check_args, proto),
    CLI_LONG("port", struct check_args, port, 0, 65535),
    CLI_LONG("icmp-type", struct check_args, icmp_type, 0, 255),
    CLI_LONG("icmp-code", struct check_args, icmp_code, 0, 255),
    CLI_LONG("sport", struct check_args, sport, 0, 65535),
    CLI_RANGE("ephemeral", struct check_args, eph, NULL),
    CLI_FLAG("json", struct check_args, json),
    CLI_FLAG("all", struct check_args, all),
    CLI_END,
};

static const struct cli_command check_cmd = {
    .name = "check",
    .usage = check_usage,
    .opts = check_opts,
    CLI_ARGS(struct check_args, check_defaults, lab, 1),
    .required = "LAB, --from, --to and --proto are required",
};

static const char *end_label(const struct lab *lab, const struct pipeline_end *end,
			     const char *given)
{
	if (end->kind == END_ENI)
		return lab_eni_label(lab, end->eni);
	return given;
}

/* ---- output ---- */

static const struct origin *rule_origin(const struct lab *lab, const struct stage_verdict *v);

/* A rule written by Terraform: its origin is a resource address, which no
 * JSON path of the other formats (vpcs[…], SecurityGroups[…]) looks like. */
static const char *tf_address(const struct origin *o)
{
	if (!o || !o->path || (strncmp(o->path, "aws_", 4) && strncmp(o->path, "module.", 7)))
		return NULL;
	return o->path;
}

static void print_stages(const struct lab *lab, const struct pipeline_result *r,
			 const struct flow *f)
{
	char why[1024];
	for (size_t i = 0; i < r->n; i++) {
		const struct stage_verdict *v = &r->stages[i];
		const char *owner = cli_stage_owner(lab, v);
		printf("  %-13s %-8s %s%s%s\n", pipeline_stage_name(v->stage),
		       pipeline_verdict_name(v->verdict), owner ? owner : "", owner ? ": " : "",
		       pipeline_explain(lab, v, f, why, sizeof(why)));
		const char *addr =
		    v->verdict != VERDICT_SKIPPED ? tf_address(rule_origin(lab, v)) : NULL;
		if (addr)
			printf("  %-13s %-8s written by %s\n", "", "", addr);
	}
}

static void flow_text(const struct flow *f, const char *src, const char *dst, uint16_t lo,
		      uint16_t hi, char *buf, size_t len)
{
	char s[IP_ADDR_STRLEN], d[IP_ADDR_STRLEN], p[16], ports[48] = "";
	flow_proto_name(f->proto, p, sizeof(p));
	if (flow_has_ports(f) && lo != hi)
		snprintf(ports, sizeof(ports), " ports %u-%u", lo, hi);
	else if (flow_has_ports(f))
		snprintf(ports, sizeof(ports), " port %u", lo);
	else if (flow_is_icmp(f))
		snprintf(ports, sizeof(ports), " type %u code %u", f->icmp_type, f->icmp_code);
	snprintf(buf, len, "%s (%s) -> %s (%s) %s%s", src, ip_addr_format(&f->src, s, sizeof(s)),
		 dst, ip_addr_format(&f->dst, d, sizeof(d)), p, ports);
}

static void print_text(const struct lab *lab, const struct pipeline_check *c,
		       const struct flow *req, const char *from, const char *to)
{
	char line[512];
	flow_text(req, from, to, req->dport, req->dport, line, sizeof(line));
	printf("request: %s: %s\n", line, pipeline_verdict_name(c->request.verdict));
	print_stages(lab, &c->request, req);
	flow_text(&c->reply, to, from, c->reply_lo, c->reply_hi, line, sizeof(line));
	printf("response: %s: %s\n", line, pipeline_verdict_name(c->response.verdict));
	print_stages(lab, &c->response, &c->reply);
	printf("verdict: %s\n", pipeline_verdict_name(c->verdict));
}

/* Where the deciding SG rule or NACL entry was written: file and JSON path,
 * or a Terraform resource address (docs/lab-format.md); NULL for none. */
static const struct origin *rule_origin(const struct lab *lab, const struct stage_verdict *v)
{
	if (v->group >= 0 && (size_t)v->group < lab->n_groups && v->rule >= 0 &&
	    (size_t)v->rule < lab->groups[v->group].n_rules)
		return &lab->groups[v->group].rules[v->rule].origin;
	if (v->nacl < 0 || (size_t)v->nacl >= lab->n_nacls || !v->rule_number)
		return NULL;
	const struct nacl *n = &lab->nacls[v->nacl];
	bool eg = v->stage == STAGE_NACL_EGRESS;
	const struct nacl_entry *e = eg ? n->egress : n->ingress;
	for (size_t i = 0; i < (eg ? n->n_egress : n->n_ingress); i++)
		if (e[i].rule_number == v->rule_number)
			return &e[i].origin;
	return NULL;
}

static json_t *origin_json(const struct origin *o)
{
	if (!o || !o->file)
		return json_null();
	return json_pack("{s:s, s:s}", "file", o->file, "path", o->path ? o->path : "");
}

static json_t *stage_json(const struct lab *lab, const struct stage_verdict *v,
			  const struct flow *f)
{
	char why[1024], rule[512];
	bool nacl = v->stage == STAGE_NACL_EGRESS || v->stage == STAGE_NACL_INGRESS;
	bool sg = v->stage == STAGE_SG_EGRESS || v->stage == STAGE_SG_INGRESS;
	bool has_group = sg && v->group >= 0;
	json_t *o = json_object();
	json_object_set_new(o, "stage", json_string(pipeline_stage_name(v->stage)));
	json_object_set_new(o, "verdict", json_string(pipeline_verdict_name(v->verdict)));
	json_object_set_new(o, "rule_number",
			    nacl && v->rule_number ? json_integer(v->rule_number) : json_null());
	json_object_set_new(o, "group_id",
			    has_group ? json_string(lab->groups[v->group].id) : json_null());
	json_object_set_new(
	    o, "rule",
	    has_group ? json_string(sg_rule_format(lab, v->group, v->rule, rule, sizeof(rule)))
		      : json_null());
	json_object_set_new(o, "reason",
			    json_string(pipeline_explain(lab, v, f, why, sizeof(why))));
	json_object_set_new(o, "reason_code", json_string(pipeline_reason_name(v->reason)));
	if (sg || nacl)
		json_object_set_new(o, "origin", origin_json(rule_origin(lab, v)));
	if (nacl && v->nacl >= 0)
		json_object_set_new(o, "nacl_id", json_string(lab->nacls[v->nacl].id));
	if (v->subnet >= 0 && (size_t)v->subnet < lab->n_subnets)
		json_object_set_new(o, "subnet_id", json_string(lab->subnets[v->subnet].id));
	if (sg && v->eni >= 0)
		json_object_set_new(o, "eni_id", json_string(lab->enis[v->eni].id));
	if (v->has_port && v->verdict == VERDICT_REJECT)
		json_object_set_new(o, "refused_port", json_integer(v->port));
	if (v->hop && v->gateway >= 0 && (size_t)v->gateway < lab->n_gateways)
		json_object_set_new(o, "gateway_id", json_string(lab->gateways[v->gateway].id));
	if (v->stage == STAGE_ROUTE && v->route_table >= 0)
		json_object_set_new(o, "route_table_id",
				    json_string(lab->route_tables[v->route_table].id));
	return o;
}

static json_t *direction_json(const struct lab *lab, const struct pipeline_result *r,
			      const struct flow *f, const char *src, const char *dst, uint16_t lo,
			      uint16_t hi)
{
	char a[IP_ADDR_STRLEN], p[16];
	json_t *o = json_object();
	json_object_set_new(o, "verdict", json_string(pipeline_verdict_name(r->verdict)));
	json_object_set_new(o, "from", json_string(src));
	json_object_set_new(o, "src", json_string(ip_addr_format(&f->src, a, sizeof(a))));
	json_object_set_new(o, "to", json_string(dst));
	json_object_set_new(o, "dst", json_string(ip_addr_format(&f->dst, a, sizeof(a))));
	json_object_set_new(o, "proto", json_string(flow_proto_name(f->proto, p, sizeof(p))));
	if (flow_has_ports(f)) {
		json_object_set_new(o, "port_from", json_integer(lo));
		json_object_set_new(o, "port_to", json_integer(hi));
	} else if (flow_is_icmp(f)) {
		json_object_set_new(o, "icmp_type", json_integer(f->icmp_type));
		json_object_set_new(o, "icmp_code", json_integer(f->icmp_code));
	}
	json_t *stages = json_array();
	for (size_t i = 0; i < r->n; i++)
		json_array_append_new(stages, stage_json(lab, &r->stages[i], f));
	json_object_set_new(o, "stages", stages);
	return o;
}

/* ---- --all: every blocker and the change admitting past it ---- */

static void print_blockers(const struct lab *lab, const struct admit_report *r)
{
	char why[1024];
	if (!r->n) {
		printf("blockers: none\n");
		return;
	}
	printf("blockers (each stage evaluated as if the others admitted the flow):\n");
	for (size_t i = 0; i < r->n; i++) {
		const struct admit_blocker *b = &r->items[i];
		const char *owner = cli_stage_owner(lab, &b->v);
		printf("  %s %-13s %s%s%s\n", b->response ? "response" : "request ",
		       pipeline_stage_name(b->v.stage), owner ? owner : "", owner ? ": " : "",
		       pipeline_explain(lab, &b->v, &b->flow, why, sizeof(why)));
		if (b->same_as >= 0)
			printf("    change: the same as above\n");
		else
			printf("    %s %s\n", b->fixable ? "change:" : "no change:", b->change);
	}
	if (r->fixable)
		printf("smallest change set that admits the flow: %zu change%s\n", r->n_changes,
		       r->n_changes == 1 ? "" : "s");
	else
		printf("no set of rule changes admits the flow\n");
}

static json_t *blockers_json(const struct lab *lab, const struct admit_report *r)
{
	char why[1024];
	json_t *a = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const struct admit_blocker *b = &r->items[i];
		json_t *o = stage_json(lab, &b->v, &b->flow);
		json_object_set_new(o, "direction",
				    json_string(b->response ? "response" : "request"));
		json_object_set_new(
		    o, "reason",
		    json_string(pipeline_explain(lab, &b->v, &b->flow, why, sizeof(why))));
		json_object_set_new(o, "change", json_string(b->change));
		json_object_set_new(o, "fixable", json_boolean(b->fixable));
		json_array_append_new(a, o);
	}
	return a;
}

static int print_json(const struct lab *lab, const struct pipeline_check *c, const struct flow *req,
		      const char *from, const char *to, const struct admit_report *all)
{
	json_t *o = json_object();
	json_object_set_new(o, "verdict", json_string(pipeline_verdict_name(c->verdict)));
	json_object_set_new(
	    o, "request", direction_json(lab, &c->request, req, from, to, req->dport, req->dport));
	json_t *resp =
	    direction_json(lab, &c->response, &c->reply, to, from, c->reply_lo, c->reply_hi);
	if (!c->has_response) {
		char why[256];
		struct stage_verdict v = {.reason = c->response_reason};
		json_object_set_new(
		    resp, "reason",
		    json_string(pipeline_explain(lab, &v, &c->reply, why, sizeof(why))));
	}
	json_object_set_new(o, "response", resp);
	if (all)
		json_object_set_new(o, "blockers", blockers_json(lab, all));
	int r = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(o);
	return r;
}

static int run_check(const struct lab *lab, const void *args)
{
	const struct check_args *a = args;
	struct query_spec spec;
	query_spec_init(&spec);
	if (query_proto_parse(a->proto, &spec.proto) < 0) {
		fprintf(stderr,
			"vpcfw check: bad protocol '%s' (tcp, udp, icmp, icmpv6 or 0-255)\n",
			a->proto);
		return 2;
	}
	spec.from = a->from;
	spec.to = a->to;
	spec.port = (int)a->port;
	spec.sport = (int)a->sport;
	spec.icmp_type = (int)a->icmp_type;
	spec.icmp_code = (int)a->icmp_code;
	spec.eph_lo = (uint16_t)a->eph.lo;
	spec.eph_hi = (uint16_t)a->eph.hi;
	struct pipeline_query q;
	char err[512], warn[256];
	if (query_build(lab, &spec, &q, err, sizeof(err), warn, sizeof(warn)) < 0) {
		fprintf(stderr, "vpcfw check: %s\n", err);
		return 2;
	}
	if (warn[0])
		fprintf(stderr, "vpcfw check: warning: %s\n", warn);
	struct pipeline_check c;
	pipeline_check(lab, &q, &c);
	const char *fl = end_label(lab, &q.client, a->from);
	const char *tl = end_label(lab, &q.server, a->to);
	struct admit_report all;
	if (a->all)
		admit_analyze(lab, &q, &all);
	if (a->json) {
		if (print_json(lab, &c, &q.request, fl, tl, a->all ? &all : NULL) < 0)
			return 2;
	} else {
		print_text(lab, &c, &q.request, fl, tl);
		if (a->all)
			print_blockers(lab, &all);
	}
	if (fflush(stdout) != 0)
		return 2;
	return c.verdict == VERDICT_ACCEPT ? 0 : 1;
}

int cmd_check(int argc, char **argv)
{
	struct check_args a;
	int r = cli_parse(&check_cmd, argc, argv, &a);
	return r != CLI_GO ? r : cli_with_lab("vpcfw check", a.lab, false, run_check, &a);
}
