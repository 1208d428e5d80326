/*
 * The names of a lab's namespaces and router ports, and the checks made
 * before anything is created: a lab whose names cannot work (unsafe lab
 * name, two endpoints on one namespace name, a name taken by something not
 * of this lab) is refused with nothing built. Not for building (topology_host.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "topology-private.h"

void topo_set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* FNV-1a: port names differ between labs, so a port seen in `ip link`
 * (or a capture file name) says which lab it belongs to. */
static unsigned int lab_hash4(const char *lab)
{
	uint32_t h = 2166136261u;

	for (; *lab; lab++)
		h = (h ^ (unsigned char)*lab) * 16777619u;
	return (h ^ (h >> 16)) & 0xffff;
}

int topo_port_names(const struct lab *lab, struct topology *t, char *err, size_t errlen)
{
	unsigned int h = lab_hash4(lab->name);
	size_t n = 0;

	for (size_t i = 0; i < lab->n_enis + lab->n_outside; i++) {
		struct topology_port *p = &t->ports[n];
		bool is_eni = i < lab->n_enis;

		if (is_eni ? lab->enis[i].remote : lab->outside[i - lab->n_enis].remote)
			continue; /* another host's (docs/scale-out.md) */

		p->kind = is_eni ? TOPOLOGY_PORT_ENI : TOPOLOGY_PORT_OUTSIDE;
		p->eni = is_eni ? (int32_t)i : -1;
		p->outside = is_eni ? -1 : (int32_t)(i - lab->n_enis);
		if ((is_eni
			 ? topology_eni_netns(lab, p->eni, p->netns, sizeof(p->netns))
			 : topology_outside_netns(lab, p->outside, p->netns, sizeof(p->netns)))) {
			topo_set_err(err, errlen, "no namespace name for %s %zu",
				     is_eni ? "ENI" : "outside host", is_eni ? i : i - lab->n_enis);
			return -EINVAL;
		}
		snprintf(p->name, sizeof(p->name), "p%04x-%u", h, (unsigned int)(n & 0xffff));
		for (size_t j = 0; j < n; j++) {
			if (strcmp(t->ports[j].netns, p->netns))
				continue;
			topo_set_err(err, errlen, "two endpoints of lab %s map to namespace %s",
				     lab->name, p->netns);
			return -EINVAL;
		}
		if (!strcmp(p->netns, t->router_ns)) {
			topo_set_err(err, errlen, "namespace %s is also the router's", p->netns);
			return -EINVAL;
		}
		n++;
	}
	t->n_ports = n;
	return 0;
}

int topo_check_lab(const struct lab *lab, char *err, size_t errlen)
{
	if (!topology_lab_name_valid(lab->name)) {
		topo_set_err(
		    err, errlen,
		    "lab name '%s' cannot name namespaces: use 1-%d of [A-Za-z0-9_.-], not "
		    "starting with . or -",
		    lab->name ? lab->name : "", TOPOLOGY_LAB_NAME_MAX);
		return -EINVAL;
	}
	if (lab->n_enis + lab->n_outside > 0xffff) {
		topo_set_err(err, errlen, "lab %s: more than 65535 endpoints", lab->name);
		return -EINVAL;
	}
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];

		if (e->subnet < 0 || (size_t)e->subnet >= lab->n_subnets) {
			topo_set_err(err, errlen, "ENI %s has no subnet", e->id);
			return -EINVAL;
		}
		if (e->n_ipv6 && !lab->subnets[e->subnet].has_cidr6) {
			topo_set_err(err, errlen,
				     "ENI %s has IPv6 addresses but subnet %s has no IPv6 CIDR",
				     e->id, lab->subnets[e->subnet].id);
			return -EINVAL;
		}
	}
	return 0;
}

/* Refuse before creating anything: a namespace we need that exists and is
 * not ours (stale state of this lab was removed just before). */
int topo_check_collisions(const struct topology *t, char *err, size_t errlen)
{
	const char *hint = "delete it (ip netns del) or rename the endpoint";

	if (netns_exists(t->router_ns)) {
		topo_set_err(err, errlen,
			     "namespace %s already exists and is not stale state of lab %s: %s",
			     t->router_ns, t->lab, hint);
		return -EEXIST;
	}
	for (size_t i = 0; i < t->n_ports; i++) {
		if (!netns_exists(t->ports[i].netns))
			continue;
		topo_set_err(err, errlen,
			     "namespace %s already exists and is not stale state of lab %s: %s",
			     t->ports[i].netns, t->lab, hint);
		return -EEXIST;
	}
	return 0;
}

/* A router port name no port of either array uses. */
void topo_port_fresh_name(const struct topology *t, struct topology_port *np, size_t n_new,
			  size_t j)
{
	unsigned int h = lab_hash4(t->lab);

	for (unsigned int k = 0;; k++) {
		char name[IFNAMSIZ];
		bool used = false;

		snprintf(name, sizeof(name), "p%04x-%u", h, k & 0xffff);
		for (size_t i = 0; i < t->n_ports && !used; i++)
			used = !strcmp(t->ports[i].name, name);
		for (size_t i = 0; i < n_new && !used; i++)
			used = i != j && !strcmp(np[i].name, name);
		if (!used || k > 0x1ffff) {
			memcpy(np[j].name, name, sizeof(name));
			return;
		}
	}
}
