/*
 * The "gateways" of a lab written back in our lab format (vpcfw import):
 * NAT gateways, peering connections and the other gateways an export
 * carries, so that the imported lab routes as the export did.
 */
#include "lab_write.h"

#include "load.h"
#include "model.h"
#include "nlb.h"

static void set_str(json_t *o, const char *key, const char *s)
{
	if (s)
		json_object_set_new(o, key, json_string(s));
}

static void set_list(json_t *o, const char *key, const char *const *ids, size_t n)
{
	if (!n)
		return;
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(ids[i] ? ids[i] : ""));
	json_object_set_new(o, key, a);
}

static void set_addr(json_t *o, const char *key, bool has, const struct ip_addr *a)
{
	char buf[IP_ADDR_STRLEN];
	if (has)
		json_object_set_new(o, key, json_string(ip_addr_format(a, buf, sizeof(buf))));
}

/* A transit gateway route table's own routes (propagated ones come from
 * its propagations). */
static void set_tgw_routes(json_t *o, const struct gateway *g)
{
	char buf[IP_PREFIX_STRLEN];
	if (!g->n_tgw_routes)
		return;
	json_t *a = json_array();
	for (size_t i = 0; i < g->n_tgw_routes; i++) {
		const struct tgw_route *r = &g->tgw_routes[i];
		json_t *ro = json_object();
		json_object_set_new(ro, "dest",
				    json_string(ip_prefix_format(&r->dest, buf, sizeof(buf))));
		set_str(ro, "attachment", r->attachment);
		if (r->blackhole)
			set_str(ro, "state", "blackhole");
		if (r->propagated)
			json_object_set_new(ro, "propagated", json_true());
		json_array_append_new(a, ro);
	}
	json_object_set_new(o, "routes", a);
}

json_t *lab_write_gateways(const struct lab *lab)
{
	json_t *out = json_array();
	for (size_t i = 0; i < lab->n_gateways; i++) {
		const struct gateway *g = &lab->gateways[i];
		json_t *o = json_object();
		set_str(o, "kind", lab_gateway_kind_name(g->kind));
		set_str(o, "id", g->id);
		set_str(o, "name", g->name);
		set_str(o, "vpc", g->vpc_id);
		set_str(o, "peer_vpc", g->peer_vpc_id);
		set_str(o, "transit", g->transit_id);
		set_str(o, "state", g->state);
		set_str(o, "detail", g->detail);
		set_list(o, "subnets", g->subnet_ids, g->n_subnet_ids);
		set_list(o, "enis", g->eni_ids, g->n_eni_ids);
		set_list(o, "route_tables", g->route_table_ids, g->n_route_table_ids);
		set_addr(o, "private_ip", g->has_private_ip, &g->private_ip);
		set_addr(o, "public_ip", g->has_public_ip, &g->public_ip);
		set_list(o, "propagations", g->propagations, g->n_propagations);
		set_tgw_routes(o, g);
		json_array_append_new(out, o);
	}
	return out;
}

/* A listener's targets, each with its own port and health. */
static json_t *lb_targets(const struct lb_listener *li)
{
	json_t *a = json_array();
	for (size_t t = 0; t < li->n_targets; t++) {
		const struct lb_target *x = &li->targets[t];
		json_t *o = json_object();
		set_str(o, "target", x->id);
		json_object_set_new(o, "port", json_integer(x->port));
		json_object_set_new(o, "healthy", json_boolean(x->healthy));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *lab_write_load_balancers(const struct lab *lab)
{
	json_t *arr = json_array();
	for (size_t b = 0; b < lab->n_load_balancers; b++) {
		const struct load_balancer *lb = &lab->load_balancers[b];
		json_t *o = json_object(), *nodes = json_array(), *ls = json_array();
		set_str(o, "name", lb->name);
		set_str(o, "scheme", lb->internet_facing ? "internet-facing" : "internal");
		json_object_set_new(o, "cross_zone", json_boolean(lb->cross_zone));
		for (size_t k = 0; k < lb->n_nodes; k++)
			json_array_append_new(nodes, json_string(lab->enis[lb->nodes[k]].id));
		json_object_set_new(o, "nodes", nodes);
		for (size_t k = 0; k < lb->n_listeners; k++) {
			const struct lb_listener *li = &lb->listeners[k];
			json_t *l = json_object();
			json_object_set_new(l, "port", json_integer(li->port));
			set_str(l, "protocol", li->protocol);
			json_object_set_new(l, "targets", lb_targets(li));
			json_array_append_new(ls, l);
		}
		json_object_set_new(o, "listeners", ls);
		json_array_append_new(arr, o);
	}
	return arr;
}
