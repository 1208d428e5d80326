/*
 * `vpcfw diff OLD NEW`: every (source, destination, protocol, port range)
 * whose verdict differs between two labs, exactly, offline (DESIGN.md
 * contract 7). Loads both labs, asks rules/reach for the changes and
 * prints them; the arithmetic is in rules/reach, this file parses, loads
 * and prints only.
 *
 * Text, one line per change:
 *	+ FROM (ADDR) -> TO (ADDR) WHAT: STAGE: RULE
 * "+" opened in NEW, "-" closed; WHAT is "tcp 22", "udp 1000-2000", "icmp
 * type 8" (all codes), "icmp type 3 code 4", "icmpv6 types 1-4", "proto 47"
 * or "protocols 2-5"; STAGE the stage that changed ("sg-ingress",
 * "response nacl-egress", ...); RULE the deciding rule (NEW's for an open,
 * OLD's for a close) as `vpcfw check` words it. ICMP ranges are cut so
 * each line is inside one type or covers whole types.
 * --json: {"changes": [{from, from_addr, to, to_addr, family, proto,
 * ports: [lo, hi] | icmp: {type, code} (each a number or [lo, hi]) |
 * protocol (number or [lo, hi], proto "other"), change: "open"|"close",
 * stage, rule}], endpoints, pairs}.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "diag.h"
#include "commands.h"
#include "load.h"
#include "reach.h"
#include "sarif.h"
#include "sg.h"

struct diff_args {
	const char *old_path, *new_path;
	struct cli_range eph;
	const char *sarif;
	bool json;
};

static const struct diff_args diff_defaults = {
    .eph = {PIPELINE_EPHEMERAL_LO, PIPELINE_EPHEMERAL_HI},
};

static void diff_usage(FILE *out)
{
	fprintf(out,
		"usage: vpcfw diff OLD NEW [--json] [--ephemeral LO-HI] [--sarif FILE]\n\n"
		"Lists every (source, destination, protocol, ports) whose verdict differs\n"
		"between two labs: '+' opened in NEW, '-' closed, with the rule responsible\n"
		"(NEW's for an open, OLD's for a close). Endpoints: every ENI, one address\n"
		"for each outside CIDR named by a rule or a route, and each ENI's public IPv4\n"
		"address as a destination of the other ENIs (\"<ENI> (public IP)\": the hairpin\n"
		"through the internet gateway). A flow to a Network Load Balancer's listener\n"
		"is followed to its targets: open only when every target the node may choose\n"
		"admits it. Responses must pass for every port of the client's ephemeral\n"
		"range (default 32768-60999).\n"
		"Exit status: 0 no change, 1 some change, 2 error.\n");
}

static const struct cli_opt diff_opts[] = {
    CLI_FLAG("json", struct diff_args, json),
    CLI_RANGE("ephemeral", struct diff_args, eph, "LO-HI"),
    CLI_STRING("sarif", struct diff_args, sarif),
    CLI_END,
};

/* OLD and NEW fill the two positional fields in order. */
_Static_assert(offsetof(struct diff_args, new_path) ==
		   offsetof(struct diff_args, old_path) + sizeof(const char *),
	       "OLD and NEW must be consecutive fields");

static const struct cli_command diff_cmd = {
    .name = "diff",
    .usage = diff_usage,
    .opts = diff_opts,
    CLI_ARGS(struct diff_args, diff_defaults, old_path, 2),
    .required = "OLD and NEW labs are required",
};

/* ---- one printed record: ICMP ranges are cut so each piece is either
 * inside one type or whole types ---- */

struct piece {
	uint32_t lo, hi;
};

static size_t icmp_pieces(uint32_t lo, uint32_t hi, struct piece out[3])
{
	size_t n = 0;
	if ((lo & 0xff) != 0 || (lo >> 8) == (hi >> 8)) {
		uint32_t end = (lo | 0xff) < hi ? (lo | 0xff) : hi;
		out[n++] = (struct piece){lo, end};
		lo = end + 1;
	}
	if (lo > hi)
		return n;
	if ((hi & 0xff) != 0xff) {
		if ((hi & ~0xffu) > lo)
			out[n++] = (struct piece){lo, (hi & ~0xffu) - 1};
		out[n++] = (struct piece){hi & ~0xffu, hi};
	} else {
		out[n++] = (struct piece){lo, hi};
	}
	return n;
}

static void range_text(const char *one, const char *many, uint32_t lo, uint32_t hi, char *buf,
		       size_t len)
{
	if (lo == hi)
		snprintf(buf, len, "%s %u", one, lo);
	else
		snprintf(buf, len, "%s %u-%u", many, lo, hi);
}

static void what_text(const struct reach_change *c, const struct piece *p, char *buf, size_t len)
{
	char proto[16], a[32], b[32];
	if (c->cls == REACH_OTHER) {
		range_text("proto", "protocols", p->lo, p->hi, buf, len);
		return;
	}
	flow_proto_name(c->proto, proto, sizeof(proto));
	if (c->cls != REACH_ICMP) {
		range_text("", "", p->lo, p->hi, a, sizeof(a));
		snprintf(buf, len, "%s%s", proto, a);
		return;
	}
	if (p->lo == 0 && p->hi == 65535) {
		snprintf(buf, len, "%s all types", proto);
	} else if ((p->lo >> 8) == (p->hi >> 8) &&
		   !((p->lo & 0xff) == 0 && (p->hi & 0xff) == 0xff)) {
		range_text("code", "codes", p->lo & 0xff, p->hi & 0xff, a, sizeof(a));
		snprintf(buf, len, "%s type %u %s", proto, p->lo >> 8, a);
	} else {
		range_text("type", "types", p->lo >> 8, p->hi >> 8, b, sizeof(b));
		snprintf(buf, len, "%s %s", proto, b);
	}
}

static void print_line(const struct reach_change *c, const struct piece *p)
{
	char what[64], fa[IP_ADDR_STRLEN], ta[IP_ADDR_STRLEN];
	what_text(c, p, what, sizeof(what));
	printf("%c %s (%s) -> %s (%s) %s: %s: %s\n", c->open ? '+' : '-', c->from,
	       ip_addr_format(&c->from_addr, fa, sizeof(fa)), c->to,
	       ip_addr_format(&c->to_addr, ta, sizeof(ta)), what, c->stage, c->rule);
}

static json_t *pair_json(uint32_t lo, uint32_t hi)
{
	if (lo == hi)
		return json_integer(lo);
	return json_pack("[II]", (json_int_t)lo, (json_int_t)hi);
}

static json_t *change_json(const struct reach_change *c, const struct piece *p)
{
	char fa[IP_ADDR_STRLEN], ta[IP_ADDR_STRLEN], proto[16];
	json_t *o = json_object();
	json_object_set_new(o, "from", json_string(c->from));
	json_object_set_new(o, "from_addr",
			    json_string(ip_addr_format(&c->from_addr, fa, sizeof(fa))));
	json_object_set_new(o, "to", json_string(c->to));
	json_object_set_new(o, "to_addr", json_string(ip_addr_format(&c->to_addr, ta, sizeof(ta))));
	json_object_set_new(o, "family",
			    json_string(c->from_addr.family == IP_V6 ? "ipv6" : "ipv4"));
	if (c->cls == REACH_OTHER) {
		json_object_set_new(o, "proto", json_string("other"));
		json_object_set_new(o, "protocol", pair_json(p->lo, p->hi));
	} else if (c->cls == REACH_ICMP) {
		json_object_set_new(o, "proto", json_string(flow_proto_name(c->proto, proto, 16)));
		json_object_set_new(o, "icmp",
				    json_pack("{s:o,s:o}", "type",
					      pair_json(p->lo >> 8, p->hi >> 8), "code",
					      pair_json(p->lo & 0xff, p->hi & 0xff)));
	} else {
		json_object_set_new(o, "proto", json_string(flow_proto_name(c->proto, proto, 16)));
		json_object_set_new(o, "ports",
				    json_pack("[II]", (json_int_t)p->lo, (json_int_t)p->hi));
	}
	json_object_set_new(o, "change", json_string(c->open ? "open" : "close"));
	json_object_set_new(o, "stage", json_string(c->stage));
	json_object_set_new(o, "rule", json_string(c->rule));
	return o;
}

static size_t pieces_of(const struct reach_change *c, struct piece p[3])
{
	if (c->cls == REACH_ICMP)
		return icmp_pieces(c->lo, c->hi, p);
	p[0] = (struct piece){c->lo, c->hi};
	return 1;
}

static int print_changes(const struct reach_changes *ch, bool json)
{
	struct piece p[3];
	if (!json) {
		for (size_t i = 0; i < ch->n; i++)
			for (size_t k = 0, n = pieces_of(&ch->items[i], p); k < n; k++)
				print_line(&ch->items[i], &p[k]);
		return 0;
	}
	/* One change a line, written as it is made: a whole document of
	 * millions of changes (10,000 ENIs) would hold gigabytes in jansson. */
	int r = 0;
	bool first = true;
	fputs("{\"changes\": [", stdout);
	for (size_t i = 0; i < ch->n && !r; i++)
		for (size_t k = 0, n = pieces_of(&ch->items[i], p); k < n && !r; k++) {
			json_t *o = change_json(&ch->items[i], &p[k]);
			fputs(first ? "\n  " : ",\n  ", stdout);
			first = false;
			r = o ? json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) : -1;
			json_decref(o);
		}
	printf("%s], \"endpoints\": %zu, \"pairs\": %zu}\n", first ? "" : "\n", ch->n_endpoints,
	       (size_t)ch->n_pairs);
	return r;
}

/* ---- SARIF: each change annotated at the rule responsible ---- */

/* Where the rule a change names was written: the SG rule whose text it
 * carries, the NACL entry of "acl-… rule N", else the group or NACL
 * named, else the lab itself. */
static struct origin change_origin(const struct lab *lab, const struct reach_change *c)
{
	char text[512];
	bool egress = strstr(c->stage, "egress") != NULL;
	for (size_t g = 0; g < lab->n_groups; g++)
		for (size_t r = 0; r < lab->groups[g].n_rules; r++)
			if (strstr(c->rule,
				   sg_rule_format(lab, (int32_t)g, (int32_t)r, text, sizeof(text))))
				return lab->groups[g].rules[r].origin;
	for (size_t a = 0; a < lab->n_nacls; a++) {
		const struct nacl *acl = &lab->nacls[a];
		const char *at = strstr(c->rule, acl->id);
		unsigned number;
		if (!at)
			continue;
		if (sscanf(at + strlen(acl->id), " rule %u", &number) == 1) {
			const struct nacl_entry *l = egress ? acl->egress : acl->ingress;
			size_t n = egress ? acl->n_egress : acl->n_ingress;
			for (size_t i = 0; i < n; i++)
				if (l[i].rule_number == number)
					return l[i].origin;
		}
		return acl->origin;
	}
	for (size_t g = 0; g < lab->n_groups; g++)
		if (strstr(c->rule, lab->groups[g].id))
			return lab->groups[g].origin;
	return (struct origin){lab->source, NULL, NULL};
}

static int write_sarif(const char *path, const struct lab *old_lab, const struct lab *new_lab,
		       const struct reach_changes *ch)
{
	static const struct sarif_rule rules[] = {
	    {"flow-opened", "warning", "a flow the old lab rejected is accepted now"},
	    {"flow-closed", "warning", "a flow the old lab accepted is rejected now"},
	};
	struct sarif_result *res = calloc(ch->n ? ch->n : 1, sizeof(*res));
	char **msgs = calloc(ch->n ? ch->n : 1, sizeof(*msgs));
	struct origin *at = calloc(ch->n ? ch->n : 1, sizeof(*at));
	int r = -ENOMEM;
	if (res && msgs && at) {
		for (size_t i = 0; i < ch->n; i++) {
			const struct reach_change *c = &ch->items[i];
			struct piece p[3];
			char what[64];
			pieces_of(c, p);
			what_text(c, &p[0], what, sizeof(what));
			if (asprintf(&msgs[i], "%s %s -> %s %s: %s: %s",
				     c->open ? "opened:" : "closed:", c->from, c->to, what,
				     c->stage, c->rule) < 0)
				msgs[i] = NULL;
			at[i] = change_origin(c->open ? new_lab : old_lab, c);
			res[i] = (struct sarif_result){
			    c->open ? "flow-opened" : "flow-closed", "warning",
			    msgs[i] ? msgs[i] : c->rule,
			    sarif_location_of(&at[i], (c->open ? new_lab : old_lab)->source)};
		}
		r = sarif_write(path, "diff", rules, 2, res, ch->n);
	}
	for (size_t i = 0; msgs && i < ch->n; i++)
		free(msgs[i]);
	free(msgs);
	free(res);
	free(at);
	return r;
}

/* A progress line on stderr when it is a terminal, rewritten in place at
 * most ten times a second and erased at the end; never in a pipe or a
 * file, so scripts and --json see nothing. The first shows at once. */
struct progress {
	double last;
	bool shown;
};

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_line(void *arg, size_t done, size_t total)
{
	struct progress *p = arg;
	double t = mono_now();
	if (done > 0 && done < total && t - p->last < 0.1)
		return;
	p->last = t;
	if (done >= total) {
		if (p->shown)
			fputs("\r\033[K", stderr);
		return;
	}
	fprintf(stderr, "\rvpcfw diff: %zu%% of the pairs compared", done * 100 / total);
	p->shown = true;
}

int cmd_diff(int argc, char **argv)
{
	struct diff_args a;
	int r = cli_parse(&diff_cmd, argc, argv, &a);
	if (r != CLI_GO)
		return r;
	struct lab *old_lab = cli_lab_load("vpcfw diff", a.old_path, false);
	struct lab *new_lab =
	    cli_lab_load("vpcfw diff", a.new_path, false); /* both labs' errors at once */
	int status = 2;
	if (old_lab && new_lab) {
		struct reach_opts ro;
		struct reach_changes ch;
		struct progress prog = {mono_now(), false};
		reach_opts_init(&ro);
		ro.eph_lo = (uint16_t)a.eph.lo;
		ro.eph_hi = (uint16_t)a.eph.hi;
		reach_changes_init(&ch);
		if (isatty(STDERR_FILENO)) {
			ro.progress = progress_line;
			ro.progress_arg = &prog;
		}
		if (reach_diff(old_lab, new_lab, &ro, &ch) < 0)
			fprintf(stderr, "vpcfw diff: out of memory\n");
		else if (print_changes(&ch, a.json) == 0 && fflush(stdout) == 0)
			status = ch.n ? 1 : 0;
		if (status != 2 && a.sarif && write_sarif(a.sarif, old_lab, new_lab, &ch) < 0) {
			fprintf(stderr, "vpcfw diff: cannot write %s\n", a.sarif);
			status = 2;
		}
		reach_changes_free(&ch);
	}
	lab_free(old_lab);
	lab_free(new_lab);
	return status;
}
