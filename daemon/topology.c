/*
 * Builds a lab's namespaces, veth pairs, addresses, routes and the router
 * namespace's nftables drop table, and removes them again (topology.h says
 * what the result looks like). Every name is computed and checked before
 * anything is created (topology_names.c); every creation is recorded in
 * the state file before it happens and in struct topology after it
 * succeeds, so a failure or a stop request at any step rolls back exactly
 * what exists and a SIGKILL leaves a complete list for the next start.
 * Building is topology_host.c's, in batches; removal is here and is
 * batched too: one request deletes every router port (and with it every
 * eth0), then the namespaces are unmounted. Live update for a hot reload
 * is topology_update.c's. Not for packets, and not for the state file
 * format (topology_state.c).
 */
#include "topology.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netlink.h"
#include "nft.h"
#include "topology-private.h"

static struct topology *topology_alloc(const struct lab *lab, const struct topology_options *opts)
{
	struct topology *t = calloc(1, sizeof(*t));
	size_t n = lab->n_enis + lab->n_outside;

	if (!t)
		return NULL;
	t->priv = calloc(1, sizeof(*t->priv));
	t->ports = calloc(n ? n : 1, sizeof(*t->ports));
	if (t->priv)
		t->priv->ps = calloc(n ? n : 1, sizeof(*t->priv->ps));
	if (!t->priv || !t->ports || !t->priv->ps) {
		if (t->priv)
			free(t->priv->ps);
		free(t->priv);
		free(t->ports);
		free(t);
		return NULL;
	}
	t->n_ports = n;
	t->router_nsfd = -1;
	t->priv->state_fd = -1;
	t->priv->router_ethtool_fd = -1;
	for (size_t i = 0; i < n; i++)
		t->priv->ps[i].nsfd = -1;
	snprintf(t->lab, sizeof(t->lab), "%s", lab->name);
	snprintf(t->router_ns, sizeof(t->router_ns), TOPOLOGY_ROUTER_PREFIX "%s", lab->name);
	t->mtu = lab->opts.mtu ? lab->opts.mtu : 9001;
	t->offloads_kept = opts && opts->keep_offloads;
	t->priv->stop = opts ? opts->stop : NULL;
	return t;
}

size_t topology_end_processes(struct topology *t)
{
	const char **names = calloc(t->n_ports + 1, sizeof(*names));
	size_t n = 0, ended;

	if (!names)
		return 0;
	for (size_t i = 0; i < t->n_ports; i++)
		if (t->priv->ps[i].ns_created)
			names[n++] = t->ports[i].netns;
	if (t->priv->router_created)
		names[n++] = t->router_ns;
	ended = netns_end_processes(names, n, TOPOLOGY_END_GRACE_MS);
	t->priv->processes_ended = true;
	free(names);
	return ended;
}

/* Every port (veth_created) at once: the ports of one link group are
 * unregistered together, one RCU grace period instead of one per port. */
static void router_ports_delete(struct topology *t)
{
	struct topology_private *pv = t->priv;

	if (pv->router_nl)
		nl_group_del(pv->router_nl, TOPO_PORT_GROUP);
	for (size_t i = 0; i < t->n_ports; i++)
		pv->ps[i].veth_created = false;
}

void topo_ports_remove(struct topology *t, struct topology_port *ports, struct port_state *ps,
		       const size_t *idx, size_t n)
{
	struct topology_private *pv = t->priv;
	const char **names = calloc(n ? n : 1, sizeof(*names));
	size_t n_ns = 0;
	char ignored[256];
	bool doomed = false;

	/* Their drop chains first, then the ports moved to a group of their
	 * own and deleted in one request. */
	if (pv->router_nl && !nl_batch_begin(pv->router_nl)) {
		for (size_t k = 0; k < n; k++) {
			if (!ps[idx[k]].veth_created)
				continue;
			if (pv->nft)
				nft_port_del(pv->nft, ports[idx[k]].name, ignored, sizeof(ignored));
			nl_link_set_group(pv->router_nl, ports[idx[k]].ifindex, TOPO_DOOMED_GROUP);
			doomed = true;
		}
		nl_batch_end(pv->router_nl, NULL);
		if (doomed)
			nl_group_del(pv->router_nl, TOPO_DOOMED_GROUP);
	}
	for (size_t k = 0; k < n; k++) {
		struct port_state *s = &ps[idx[k]];

		s->veth_created = false;
		if (s->nsfd >= 0)
			close(s->nsfd);
		s->nsfd = -1;
		if (s->ns_created && names)
			names[n_ns++] = ports[idx[k]].netns;
	}
	if (n_ns)
		netns_end_processes(names, n_ns, TOPOLOGY_END_GRACE_MS);
	for (size_t k = 0; k < n; k++) {
		if (ps[idx[k]].ns_created)
			netns_delete(ports[idx[k]].netns);
		ps[idx[k]].ns_created = false;
	}
	free(names);
}

void topology_destroy(struct topology *t)
{
	struct topology_private *pv;

	if (!t)
		return;
	pv = t->priv;
	if (!pv->processes_ended)
		topology_end_processes(t);
	/* Table first: its chains hook the ports about to go. */
	nft_lab_delete(pv->nft);
	pv->nft = NULL;
	router_ports_delete(t);
	nl_close(pv->router_nl);
	if (pv->router_ethtool_fd >= 0)
		close(pv->router_ethtool_fd);
	for (size_t i = 0; i < t->n_ports; i++) {
		if (pv->ps[i].nsfd >= 0)
			close(pv->ps[i].nsfd);
		if (pv->ps[i].ns_created)
			netns_delete(t->ports[i].netns);
	}
	if (t->router_nsfd >= 0)
		close(t->router_nsfd);
	if (pv->router_created)
		netns_delete(t->router_ns);
	if (pv->state_fd >= 0)
		topo_state_remove(t->lab, pv->state_fd);
	topo_features_free(&pv->features);
	free(pv->ps);
	free(pv);
	free(t->ports);
	free(t);
}

static int build_all(const struct lab *lab, struct topology *t, char *err, size_t errlen)
{
	size_t *idx = calloc(t->n_ports ? t->n_ports : 1, sizeof(*idx));
	int ret;

	if (!idx) {
		topo_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_ports; i++)
		idx[i] = i;
	ret = topo_ports_build(lab, t, idx, t->n_ports, err, errlen);
	free(idx);
	return ret;
}

int topology_create(const struct lab *lab, const struct topology_options *opts,
		    struct topology **out, char *err, size_t errlen)
{
	struct topology *t;
	int ret, stale;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	ret = topo_check_lab(lab, err, errlen);
	if (ret)
		return ret;
	t = topology_alloc(lab, opts);
	if (!t) {
		topo_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = topo_port_names(lab, t, err, errlen);
	if (ret)
		goto fail_early;
	stale = topology_cleanup_stale(t->lab, &t->stale_processes, err, errlen);
	if (stale < 0) {
		ret = stale;
		goto fail_early;
	}
	t->stale_removed = (size_t)stale;
	ret = topo_check_collisions(t, err, errlen);
	if (ret)
		goto fail_early;
	ret = topo_state_open(t->lab, err, errlen);
	if (ret < 0)
		goto fail_early;
	t->priv->state_fd = ret;
	ret = topo_router_create(t, err, errlen);
	if (!ret)
		ret = build_all(lab, t, err, errlen);
	if (ret) {
		topology_destroy(t);
		return ret;
	}
	*out = t;
	return 0;
fail_early:
	topology_destroy(t);
	return ret;
}

int topology_port_drop(struct topology *t, size_t port, bool drop, char *err, size_t errlen)
{
	if (port >= t->n_ports || !t->priv->nft)
		return -EINVAL;
	return drop ? nft_port_add(t->priv->nft, t->ports[port].name, err, errlen)
		    : nft_port_del(t->priv->nft, t->ports[port].name, err, errlen);
}

/* Ports are ENIs in lab order, then outside hosts (also after an
 * update): the index is the answer unless something moved. */
const struct topology_port *topology_port_of_eni(const struct topology *t, int32_t eni)
{
	if (eni >= 0 && (size_t)eni < t->n_ports && t->ports[eni].kind == TOPOLOGY_PORT_ENI &&
	    t->ports[eni].eni == eni)
		return &t->ports[eni];
	for (size_t i = 0; i < t->n_ports; i++)
		if (t->ports[i].kind == TOPOLOGY_PORT_ENI && t->ports[i].eni == eni)
			return &t->ports[i];
	return NULL;
}

const struct topology_port *topology_port_of_outside(const struct topology *t, int32_t outside)
{
	for (size_t i = 0; i < t->n_ports; i++)
		if (t->ports[i].kind == TOPOLOGY_PORT_OUTSIDE && t->ports[i].outside == outside)
			return &t->ports[i];
	return NULL;
}
