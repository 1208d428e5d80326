/*
 * Hot reload of a live topology (topology_update in topology.h): ports whose
 * endpoint did not change are kept untouched, removed ones go, added or
 * changed ones are built by the same batched builder as at start
 * (topology_host.c). All or nothing, and the state file lists a superset
 * of what exists at every step. Not for deciding whether a reload changes
 * the topology (the data path's datapath_topology_differs).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "topology-private.h"

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Whether the port built for po in old would be built identically for pn
 * in next: same namespace, same endpoint, same addresses, prefix lengths
 * and default routes. Such a port is kept untouched by an update. */
static bool port_same(const struct lab *old, const struct topology_port *po, const struct lab *next,
		      const struct topology_port *pn)
{
	if (po->kind != pn->kind || strcmp(po->netns, pn->netns))
		return false;
	if (po->kind == TOPOLOGY_PORT_OUTSIDE)
		return ip_addr_eq(&old->outside[po->outside].addr,
				  &next->outside[pn->outside].addr);

	const struct eni *a = &old->enis[po->eni], *b = &next->enis[pn->eni];
	const struct subnet *sa = &old->subnets[a->subnet], *sb = &next->subnets[b->subnet];

	return str_eq(a->id, b->id) && str_eq(sa->id, sb->id) &&
	       ip_prefix_eq(&sa->cidr, &sb->cidr) && sa->has_cidr6 == sb->has_cidr6 &&
	       (!sa->has_cidr6 || ip_prefix_eq(&sa->cidr6, &sb->cidr6)) &&
	       lab_eni_same_addrs(a, b) && str_eq(a->instance_id, b->instance_id) &&
	       str_eq(a->name, b->name) && a->device_index == b->device_index;
}

/* The state file listing exactly the current ports (after removals). */
static int state_rewrite(const struct lab *lab, struct topology *t)
{
	struct topo_state_port *sp = calloc(t->n_ports ? t->n_ports : 1, sizeof(*sp));
	int fd;

	if (!sp)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_ports; i++)
		topo_state_port_fill(lab, &t->ports[i], &sp[i]);
	fd = topo_state_rewrite(t->lab, t->router_ns, sp, t->n_ports);
	free(sp);
	if (fd < 0)
		return fd;
	close(t->priv->state_fd);
	t->priv->state_fd = fd;
	return 0;
}

struct update {
	struct topology_port *np; /* next's ports */
	struct port_state *nps;
	size_t n;
	int32_t *old_of; /* new index -> old index kept, or -1 (added) */
	bool *kept;	 /* per old port */
	bool *first;	 /* per old port: removed before creating (name reused) */
};

static void update_free(struct update *u)
{
	free(u->np);
	free(u->nps);
	free(u->old_of);
	free(u->kept);
	free(u->first);
}

static int update_plan(struct topology *t, const struct lab *old, const struct lab *next,
		       struct update *u, char *err, size_t errlen)
{
	struct topology tmp;
	size_t n = next->n_enis + next->n_outside;

	u->n = n;
	u->np = calloc(n ? n : 1, sizeof(*u->np));
	u->nps = calloc(n ? n : 1, sizeof(*u->nps));
	u->old_of = calloc(n ? n : 1, sizeof(*u->old_of));
	u->kept = calloc(t->n_ports ? t->n_ports : 1, sizeof(*u->kept));
	u->first = calloc(t->n_ports ? t->n_ports : 1, sizeof(*u->first));
	if (!u->np || !u->nps || !u->old_of || !u->kept || !u->first) {
		topo_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	tmp = *t;
	tmp.ports = u->np;
	if (topo_port_names(next, &tmp, err, errlen))
		return -EINVAL;
	for (size_t j = 0; j < n; j++) {
		u->old_of[j] = -1;
		u->nps[j].nsfd = -1;
		for (size_t i = 0; i < t->n_ports && u->old_of[j] < 0; i++) {
			if (u->kept[i] || !port_same(old, &t->ports[i], next, &u->np[j]))
				continue;
			u->kept[i] = true;
			u->old_of[j] = (int32_t)i;
		}
	}
	for (size_t j = 0; j < n; j++) {
		int32_t i = u->old_of[j];

		if (i >= 0) {
			struct topology_port keep = t->ports[i];

			keep.eni = u->np[j].eni;
			keep.outside = u->np[j].outside;
			u->np[j] = keep;
			u->nps[j] = t->priv->ps[i];
		}
	}
	for (size_t j = 0; j < n; j++) {
		bool ours = false;

		if (u->old_of[j] >= 0)
			continue;
		topo_port_fresh_name(t, u->np, n, j);
		/* A removed or changed endpoint frees its namespace name:
		 * that old port goes before the new one is created. */
		for (size_t i = 0; i < t->n_ports; i++) {
			if (u->kept[i] || strcmp(t->ports[i].netns, u->np[j].netns))
				continue;
			u->first[i] = ours = true;
		}
		if (!ours && netns_exists(u->np[j].netns)) {
			topo_set_err(
			    err, errlen,
			    "namespace %s already exists and is not part of lab %s: delete it "
			    "(ip netns del) or rename the endpoint",
			    u->np[j].netns, t->lab);
			return -EEXIST;
		}
	}
	return 0;
}

/* The indices of old ports (0..n) for which sel is true, into idx. */
static size_t pick(const bool *sel, size_t n, size_t *idx)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (sel[i])
			idx[k++] = i;
	return k;
}

/* Undoes a failed update: the new ports go, the old ports removed first
 * come back (with new interfaces: their captures must be reopened). */
static void update_undo(const struct lab *old, struct topology *t, struct update *u,
			struct topology_port *oldp, struct port_state *oldps, size_t n_old,
			size_t *idx)
{
	char ignored[256];
	size_t k = 0;

	for (size_t j = 0; j < u->n; j++)
		if (u->old_of[j] < 0)
			idx[k++] = j;
	topo_ports_remove(t, u->np, u->nps, idx, k);
	t->ports = oldp;
	t->priv->ps = oldps;
	t->n_ports = n_old;
	k = pick(u->first, n_old, idx);
	for (size_t i = 0; i < k; i++)
		oldps[idx[i]] = (struct port_state){.nsfd = -1};
	if (k && topo_ports_build(old, t, idx, k, ignored, sizeof(ignored)))
		topo_ports_remove(t, oldp, oldps, idx, k);
	/* Drop the lines of the ports that were tried and removed. */
	state_rewrite(old, t);
}

static int update_check(struct topology *t, const struct lab *next, char *err, size_t errlen)
{
	int ret = topo_check_lab(next, err, errlen);

	if (!ret && strcmp(next->name, t->lab)) {
		topo_set_err(err, errlen, "lab %s cannot become lab %s", t->lab, next->name);
		ret = -EINVAL;
	}
	return ret;
}

int topology_update(struct topology *t, const struct lab *old, const struct lab *next, char *err,
		    size_t errlen)
{
	struct topology_port *oldp = t->ports;
	struct port_state *oldps = t->priv->ps;
	size_t n_old = t->n_ports, k = 0;
	struct update u = {0};
	size_t *idx = NULL;
	int ret;

	if (errlen)
		err[0] = '\0';
	ret = update_check(t, next, err, errlen);
	if (!ret)
		ret = update_plan(t, old, next, &u, err, errlen);
	if (!ret) {
		idx = calloc((u.n > n_old ? u.n : n_old) + 1, sizeof(*idx));
		ret = idx ? 0 : -ENOMEM;
	}
	if (ret) {
		update_free(&u);
		return ret;
	}
	topo_ports_remove(t, oldp, oldps, idx, pick(u.first, n_old, idx));
	/* The builder works on t's arrays: point them at next's while the
	 * added ports are built (each listed in the state file first). */
	t->ports = u.np;
	t->priv->ps = u.nps;
	t->n_ports = u.n;
	for (size_t j = 0; j < u.n; j++)
		if (u.old_of[j] < 0)
			idx[k++] = j;
	ret = topo_ports_build(next, t, idx, k, err, errlen);
	if (ret) {
		update_undo(old, t, &u, oldp, oldps, n_old, idx);
		update_free(&u);
		free(idx);
		return ret;
	}
	k = 0;
	for (size_t i = 0; i < n_old; i++)
		if (!u.kept[i] && !u.first[i])
			idx[k++] = i;
	topo_ports_remove(t, oldp, oldps, idx, k);
	/* Until this succeeds the file lists a superset, which is what a
	 * crash needs; failing to shrink it only costs a later no-op. */
	state_rewrite(next, t);
	free(oldp);
	free(oldps);
	free(idx);
	u.np = NULL;
	u.nps = NULL;
	update_free(&u);
	return 0;
}
