/*
 * Terraform JSON (`terraform show -json`), plan or state, as a lab path:
 * recognises the document, collects every managed resource instance with
 * its values (a plan's planned "after", a state's "values"), what is
 * unknown until apply and the configuration expressions, gives each an id
 * (its own when known, else one made from its address) and resolves
 * references, then hands each resource to its reader through the table of
 * every type vpcfw reads (readers: load_tf_net.c, load_tf_tgw.c,
 * load_tf_eni.c). Plans: resource_changes is the full list (a resource
 * being deleted appears only there and is left out); format_version 0.1
 * to 1.2 share this shape. Not modelled: data sources, module outputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load-tf-private.h"

bool tf_is_document(const json_t *root)
{
	return json_is_string(json_object_get(root, "format_version")) &&
	       (json_object_get(root, "planned_values") || json_object_get(root, "values") ||
		json_object_get(root, "resource_changes") ||
		json_object_get(root, "terraform_version"));
}

/* The id prefix AWS gives each kind, for ids made from addresses. */
static const char *id_prefix(const char *type)
{
	static const struct {
		const char *type, *prefix;
	} map[] = {
	    {"aws_vpc", "vpc"},
	    {"aws_default_vpc", "vpc"},
	    {"aws_subnet", "subnet"},
	    {"aws_default_subnet", "subnet"},
	    {"aws_security_group", "sg"},
	    {"aws_default_security_group", "sg"},
	    {"aws_network_acl", "acl"},
	    {"aws_default_network_acl", "acl"},
	    {"aws_route_table", "rtb"},
	    {"aws_default_route_table", "rtb"},
	    {"aws_internet_gateway", "igw"},
	    {"aws_nat_gateway", "nat"},
	    {"aws_eip", "eipalloc"},
	    {"aws_instance", "i"},
	    {"aws_network_interface", "eni"},
	    {"aws_vpc_endpoint", "vpce"},
	    {"aws_vpc_peering_connection", "pcx"},
	    {"aws_ec2_transit_gateway", "tgw"},
	    {"aws_ec2_transit_gateway_vpc_attachment", "tgw-attach"},
	    {"aws_ec2_managed_prefix_list", "pl"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].type, type))
			return map[i].prefix;
	return "tf";
}

static const json_t *config_module(const json_t *root_cfg, const char *module)
{
	const json_t *cur = json_object_get(root_cfg, "root_module");
	while (cur && !strncmp(module, "module.", 7)) {
		module += 7;
		size_t n = strcspn(module, ".[");
		char name[256];
		if (n >= sizeof(name))
			return NULL;
		memcpy(name, module, n);
		name[n] = '\0';
		const json_t *call = json_object_get(json_object_get(cur, "module_calls"), name);
		cur = json_object_get(call, "module");
		module += n;
		if (*module == '[')
			module += strcspn(module, "]") + 1;
		if (*module == '.')
			module++;
	}
	return cur;
}

static const json_t *config_of(const json_t *root_cfg, const struct tf_res *r)
{
	const json_t *m = config_module(root_cfg, r->module);
	size_t i;
	const json_t *c;
	const char *local = r->base + strlen(r->module);
	json_array_foreach(json_object_get(m, "resources"), i, c)
	{
		const json_t *a = json_object_get(c, "address");
		if (json_is_string(a) && !strcmp(json_string_value(a), local))
			return json_object_get(c, "expressions");
	}
	return NULL;
}

static bool push_res(struct tf_doc *t, struct vec *v, const json_t *o, const char *module,
		     const json_t *values, const json_t *unknown)
{
	const char *address = json_string_value(json_object_get(o, "address"));
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *mode = json_string_value(json_object_get(o, "mode"));
	if (!address || !type || !name || (mode && strcmp(mode, "managed")) ||
	    !json_is_object(values))
		return false;
	struct tf_res *r = vec_push(v, sizeof(*r));
	if (!r)
		return false;
	memset(r, 0, sizeof(*r));
	r->address = arena_strdup(t->l->a, address);
	r->type = arena_strdup(t->l->a, type);
	r->name = arena_strdup(t->l->a, name);
	r->module = arena_strdup(t->l->a, module);
	char *b = arena_strdup(t->l->a, address);
	char *bracket = b ? strrchr(b, '[') : NULL;
	size_t n = b ? strlen(b) : 0;
	if (json_object_get(o, "index") && bracket && n && b[n - 1] == ']')
		*bracket = '\0'; /* "aws_instance.web[0]" -> "aws_instance.web" */
	r->base = b;
	if (!r->address || !r->type || !r->name || !r->module || !r->base) {
		v->n--; /* out of memory: not read */
		return false;
	}
	r->values = values;
	r->unknown = unknown;
	r->origin.file = t->l->file;
	r->origin.path = r->address;
	r->origin.resource = r->address;
	return true;
}

static void walk_module(struct tf_doc *t, struct vec *v, const json_t *m)
{
	const char *addr = json_string_value(json_object_get(m, "address"));
	const char *module = addr ? arena_printf(t->l->tmp, "%s.", addr) : "";
	size_t i;
	const json_t *o;
	json_array_foreach(json_object_get(m, "resources"), i, o)
	    push_res(t, v, o, module, json_object_get(o, "values"), NULL);
	json_array_foreach(json_object_get(m, "child_modules"), i, o) walk_module(t, v, o);
}

/* A plan's resource_changes: every instance with what it will be. */
static void collect_changes(struct tf_doc *t, struct vec *v, const json_t *changes)
{
	size_t i;
	const json_t *o;
	json_array_foreach(changes, i, o)
	{
		const json_t *ch = json_object_get(o, "change");
		const json_t *acts = json_object_get(ch, "actions");
		const char *first = json_string_value(json_array_get(acts, 0));
		bool deleted = json_array_size(acts) == 1 && first && !strcmp(first, "delete");
		if (deleted)
			continue; /* gone after apply */
		const char *ma = json_string_value(json_object_get(o, "module_address"));
		const char *module = ma ? arena_printf(t->l->tmp, "%s.", ma) : "";
		push_res(t, v, o, module, json_object_get(ch, "after"),
			 json_object_get(ch, "after_unknown"));
	}
}

static void assign_ids(struct tf_doc *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tf_res *r = &t->res[i];
		const json_t *id = json_object_get(r->values, "id");
		if (json_is_string(id) && *json_string_value(id))
			r->id = arena_strdup(t->l->a, json_string_value(id));
		else
			/* from the address alone: the same resource in two plans (a pull
			 * request's before and after) must be the same object for diff */
			r->id = ld_make_id(t->l, id_prefix(r->type), r->address, NULL);
	}
}

static void check_version(struct loader *l, const json_t *root)
{
	const char *v = json_string_value(json_object_get(root, "format_version"));
	if (v && strncmp(v, "0.", 2) && strncmp(v, "1.", 2))
		ld_warn(l, "format_version",
			"Terraform JSON format %s is newer than vpcfw knows (0.1 to 1.2): read "
			"as 1.x",
			v);
}

/* Every Terraform resource type vpcfw reads and its reader (the private
 * header lists the readers by file), sorted by type: each type stands
 * once, so the order of the rows decides nothing. A type not here is left
 * out, except those read through a resource that refers to them (launch
 * configurations and templates, DB and cache subnet groups). */
const struct tf_kind tf_kinds[] = {
    {"aws_alb", tf_lb, 0, NULL, NULL},
    {"aws_autoscaling_group", tf_asg, 0, NULL, NULL},
    {"aws_db_instance", tf_db, 0, NULL, NULL},
    {"aws_default_network_acl", tf_acl, TF_DEFAULT, NULL, NULL},
    {"aws_default_route_table", tf_route_table, TF_DEFAULT, NULL, NULL},
    {"aws_default_security_group", tf_group, TF_DEFAULT, NULL, NULL},
    {"aws_default_subnet", tf_subnet, 0, NULL, NULL},
    {"aws_default_vpc", tf_vpc, TF_DEFAULT, NULL, NULL},
    {"aws_ec2_transit_gateway", tf_tgw, 0, NULL, NULL},
    {"aws_ec2_transit_gateway_route", tf_tgw_route, 0, NULL, NULL},
    {"aws_ec2_transit_gateway_route_table", tf_tgw_table, 0, NULL, NULL},
    {"aws_ec2_transit_gateway_route_table_association", tf_tgw_link, GW_TRANSIT_ATTACH, NULL, NULL},
    {"aws_ec2_transit_gateway_route_table_propagation", tf_tgw_link, GW_TRANSIT_ROUTES, NULL, NULL},
    {"aws_ec2_transit_gateway_vpc_attachment", tf_tgw_attachment, 0, NULL, NULL},
    {"aws_eip", tf_eip, 0, NULL, NULL},
    {"aws_eks_cluster", tf_vpc_config, 0, "eks", NULL},
    {"aws_elasticache_cluster", tf_cache, 0, NULL, NULL},
    {"aws_elb", tf_lb, 0, NULL, NULL},
    {"aws_instance", tf_instance, 0, NULL, NULL},
    {"aws_internet_gateway", tf_gateway, GW_INTERNET, NULL, NULL},
    {"aws_lambda_function", tf_vpc_config, 0, "lambda", NULL},
    {"aws_lb", tf_lb, 0, NULL, NULL},
    {"aws_main_route_table_association", tf_link, TF_RTB_MAIN, "route_table_id", "vpc_id"},
    {"aws_nat_gateway", tf_gateway, GW_NAT, NULL, NULL},
    {"aws_network_acl", tf_acl, TF_CREATED, NULL, NULL},
    {"aws_network_acl_association", tf_link, TF_ACL_ASSOC, "network_acl_id", "subnet_id"},
    {"aws_network_acl_rule", tf_acl_rule, 0, NULL, NULL},
    {"aws_network_interface", tf_interface, 0, NULL, NULL},
    {"aws_network_interface_attachment", tf_eni_link, TF_ENI_ATTACH, NULL, NULL},
    {"aws_network_interface_sg_attachment", tf_eni_link, TF_ENI_GROUP, NULL, NULL},
    {"aws_route", tf_route_res, 0, NULL, NULL},
    {"aws_route_table", tf_route_table, TF_CREATED, NULL, NULL},
    {"aws_route_table_association", tf_link, TF_RTB_ASSOC, "route_table_id", "subnet_id"},
    {"aws_security_group", tf_group, TF_CREATED, NULL, NULL},
    {"aws_security_group_rule", tf_group_rule, TF_BY_TYPE, NULL, NULL},
    {"aws_subnet", tf_subnet, 0, NULL, NULL},
    {"aws_vpc", tf_vpc, TF_CREATED, NULL, NULL},
    {"aws_vpc_endpoint", tf_gateway, GW_ENDPOINT, NULL, NULL},
    {"aws_vpc_peering_connection", tf_gateway, GW_PEERING, NULL, NULL},
    {"aws_vpc_security_group_egress_rule", tf_group_rule, TF_EGRESS, NULL, NULL},
    {"aws_vpc_security_group_ingress_rule", tf_group_rule, TF_INGRESS, NULL, NULL},
};
const size_t tf_n_kinds = sizeof(tf_kinds) / sizeof(tf_kinds[0]);

void tf_load(struct loader *l, const json_t *root)
{
	struct tf_doc t = {.l = l};
	struct vec v = {0};
	if (!tf_state(l)) {
		ld_err(l, NULL, "out of memory");
		return;
	}
	check_version(l, root);
	const json_t *changes = json_object_get(root, "resource_changes");
	const json_t *state = json_object_get(root, "values");
	const json_t *planned = json_object_get(root, "planned_values");
	if (json_is_array(changes))
		collect_changes(&t, &v, changes);
	else if (json_is_object(state))
		walk_module(&t, &v, json_object_get(state, "root_module"));
	else if (json_is_object(planned))
		walk_module(&t, &v, json_object_get(planned, "root_module"));
	t.res = v.items;
	t.n = v.n;
	const json_t *cfg = json_object_get(root, "configuration");
	for (size_t i = 0; i < t.n; i++)
		t.res[i].config = config_of(cfg, &t.res[i]);
	assign_ids(&t);
	size_t used = 0;
	/* VPCs first: their defaults are referenced by the rest */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < t.n; i++) {
			bool vpc = strstr(t.res[i].type, "_vpc") &&
				   (!strcmp(t.res[i].type, "aws_vpc") ||
				    !strcmp(t.res[i].type, "aws_default_vpc"));
			if (vpc != (pass == 0))
				continue;
			if (tf_read_kind(&t, &t.res[i], tf_kinds, tf_n_kinds))
				used++;
		}
	if (!used && t.n)
		ld_warn(l, NULL,
			"Terraform: none of the %zu resources is a network resource vpcfw reads",
			t.n);
	vec_free(&v);
}
