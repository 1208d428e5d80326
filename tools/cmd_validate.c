/*
 * vpcfw validate LAB [--strict]: loads a lab (our format or describe-*
 * output) and prints every warning and error with file and JSON path, then
 * a summary of what the lab holds. Exit 0 when the lab loads, 2 when it
 * does not (with --strict, warnings count as errors). Offline; no root.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "load.h"

static void validate_usage(FILE *out)
{
	fprintf(out, "usage: vpcfw validate LAB [--strict]\n\n"
		     "LAB is a vpcfw lab file, Terraform JSON (terraform show -json), or a\n"
		     "directory of JSON files read recursively (aws describe-* output and/or one\n"
		     "lab file); A,B,... merges several into one lab. Prints warnings and errors "
		     "with the file and\n"
		     "JSON path, then a summary. Exit 0: the lab loads; 2: errors (with --strict,\n"
		     "warnings are errors too).\n");
}

static size_t count_rules(const struct lab *lab, size_t *nacl_entries)
{
	size_t rules = 0;
	*nacl_entries = 0;
	for (size_t i = 0; i < lab->n_groups; i++)
		rules += lab->groups[i].n_rules;
	for (size_t i = 0; i < lab->n_nacls; i++)
		*nacl_entries += lab->nacls[i].n_ingress + lab->nacls[i].n_egress;
	return rules;
}

static void print_summary(const struct lab *lab)
{
	size_t entries;
	size_t rules = count_rules(lab, &entries);
	printf("lab %s (%s)\n", lab->name, lab->source);
	printf("  %zu VPC%s, %zu subnet%s, %zu ENI%s, %zu outside host%s\n", lab->n_vpcs,
	       lab->n_vpcs == 1 ? "" : "s", lab->n_subnets, lab->n_subnets == 1 ? "" : "s",
	       lab->n_enis, lab->n_enis == 1 ? "" : "s", lab->n_outside,
	       lab->n_outside == 1 ? "" : "s");
	printf("  %zu security group%s (%zu rules), %zu network ACL%s (%zu entries)\n",
	       lab->n_groups, lab->n_groups == 1 ? "" : "s", rules, lab->n_nacls,
	       lab->n_nacls == 1 ? "" : "s", entries);
	printf("  %zu route table%s, %zu prefix list%s\n", lab->n_route_tables,
	       lab->n_route_tables == 1 ? "" : "s", lab->n_prefix_lists,
	       lab->n_prefix_lists == 1 ? "" : "s");
	if (lab->n_gateways || lab->n_eips || lab->n_services)
		printf("  %zu gateway%s, %zu Elastic IP%s, %zu service%s owning ENIs\n",
		       lab->n_gateways, lab->n_gateways == 1 ? "" : "s", lab->n_eips,
		       lab->n_eips == 1 ? "" : "s", lab->n_services,
		       lab->n_services == 1 ? "" : "s");
}

int cmd_validate(int argc, char **argv)
{
	const char *path = NULL;
	struct lab_load_opts o;
	lab_load_opts_init(&o);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--strict")) {
			o.strict = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			validate_usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || path) {
			fprintf(stderr, "vpcfw validate: unexpected argument '%s'\n", argv[i]);
			validate_usage(stderr);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		validate_usage(stderr);
		return 2;
	}
	struct diag_list d;
	diag_init(&d);
	struct lab *lab = NULL;
	int r = lab_load(path, &o, &lab, &d);
	char buf[2048];
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", diag_format(&d.items[i], buf, sizeof(buf)));
	if (lab)
		print_summary(lab);
	printf("%zu error%s, %zu warning%s%s\n", d.n_errors, d.n_errors == 1 ? "" : "s",
	       d.n_warnings, d.n_warnings == 1 ? "" : "s", o.strict ? " (--strict)" : "");
	lab_free(lab);
	diag_free(&d);
	return r < 0 ? 2 : 0;
}
