/*
 * The remote link of a lab split across hosts (topology_remote.h). Only
 * set-up: its frames are the data path's, its removal the router
 * namespace's (a virtual device is deleted with the namespace it is in).
 */
#include "topology_remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netlink.h"
#include "nft.h"
#include "topology-private.h"

/* The interface, from vpcfwd's namespace into the router's. */
static int remote_move(struct topology *t, const char *ifname, char *err, size_t errlen)
{
	struct nl *nl;
	struct nl_link l;
	int rc = nl_open(&nl);

	if (rc < 0) {
		topo_set_err(err, errlen, "--remote: rtnetlink: %s", strerror(-rc));
		return rc;
	}
	rc = nl_link_get(nl, ifname, &l);
	if (rc < 0)
		topo_set_err(err, errlen, "--remote: no interface %s in vpcfwd's namespace: %s",
			     ifname, strerror(-rc));
	else if ((rc = nl_link_set_netns(nl, l.ifindex, t->router_nsfd)) < 0)
		topo_set_err(err, errlen, "--remote: moving %s into namespace %s: %s", ifname,
			     t->router_ns, strerror(-rc));
	nl_close(nl);
	return rc;
}

/* In the router namespace: as a veth port is (topology_host.c), the
 * kernel kept out by the drop chain, offloads off so that every captured
 * frame fits the capture slot (GRO on a VXLAN device would merge). */
static int remote_setup(struct topology *t, const char *ifname, struct nl_link *l, char *err,
			size_t errlen)
{
	struct topology_private *pv = t->priv;
	int rc = nl_link_get(pv->router_nl, ifname, l);

	if (rc < 0) {
		topo_set_err(err, errlen, "--remote: %s in namespace %s: %s", ifname, t->router_ns,
			     strerror(-rc));
		return rc;
	}
	if (!t->offloads_kept) {
		rc = topo_offloads_off(pv->router_ethtool_fd, ifname, &pv->features, err, errlen);
		if (rc < 0)
			return rc;
	}
	rc = nft_port_add(pv->nft, ifname, err, errlen);
	if (rc < 0)
		return rc;
	rc = nl_link_up(pv->router_nl, l->ifindex, t->mtu);
	if (rc < 0)
		topo_set_err(err, errlen, "--remote: %s up with MTU %u (the lab's): %s", ifname,
			     t->mtu, strerror(-rc));
	return rc;
}

static int remote_append(struct topology *t, const char *ifname, const struct nl_link *l)
{
	size_t n = t->n_ports;
	struct topology_port *ports = realloc(t->ports, (n + 1) * sizeof(*ports));
	struct port_state *ps;

	if (!ports)
		return -ENOMEM;
	t->ports = ports;
	ps = realloc(t->priv->ps, (n + 1) * sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	t->priv->ps = ps;
	ps[n] = (struct port_state){.nsfd = -1};
	ports[n] = (struct topology_port){.kind = TOPOLOGY_PORT_REMOTE, .eni = -1, .outside = -1};
	snprintf(ports[n].name, sizeof(ports[n].name), "%s", ifname);
	ports[n].ifindex = l->ifindex;
	memcpy(ports[n].mac, l->mac, sizeof(ports[n].mac));
	/* the link is point to point: whoever is at the other end takes it */
	memset(ports[n].peer_mac, 0xff, sizeof(ports[n].peer_mac));
	t->n_ports = n + 1;
	return 0;
}

static bool lab_split(const struct lab *lab)
{
	for (size_t i = 0; i < lab->n_enis; i++)
		if (lab->enis[i].remote)
			return true;
	for (size_t i = 0; i < lab->n_outside; i++)
		if (lab->outside[i].remote)
			return true;
	return false;
}

/* The remote link's port, or NULL. */
static const struct topology_port *topology_port_remote(const struct topology *t)
{
	for (size_t i = 0; i < t->n_ports; i++)
		if (t->ports[i].kind == TOPOLOGY_PORT_REMOTE)
			return &t->ports[i];
	return NULL;
}

int topology_remote_attach(struct topology *t, const struct lab *lab, const char *ifname, char *err,
			   size_t errlen)
{
	bool split = lab_split(lab);
	struct nl_link l;
	int rc;

	if (!split && !ifname)
		return 0;
	if (!ifname || !split) {
		topo_set_err(err, errlen, "%s",
			     ifname ? "--remote: nothing of the lab is another host's (see --own)"
				    : "--own leaves part of the lab to other hosts: name the link "
				      "to them with --remote IFNAME");
		return -EINVAL;
	}
	if (strlen(ifname) >= IFNAMSIZ || topology_port_remote(t)) {
		topo_set_err(err, errlen,
			     "--remote: '%s': one interface name, at most %d characters", ifname,
			     IFNAMSIZ - 1);
		return -EINVAL;
	}
	rc = remote_move(t, ifname, err, errlen);
	if (rc == 0)
		rc = remote_setup(t, ifname, &l, err, errlen);
	if (rc == 0 && (rc = remote_append(t, ifname, &l)) < 0)
		topo_set_err(err, errlen, "--remote: out of memory");
	return rc;
}

const struct topology_port *topology_port_to_eni(const struct topology *t, const struct lab *lab,
						 int32_t eni)
{
	const struct topology_port *tp = topology_port_of_eni(t, eni);

	if (!tp && eni >= 0 && (size_t)eni < lab->n_enis && lab->enis[eni].remote)
		tp = topology_port_remote(t);
	return tp;
}

int topology_remote_update_check(const struct topology *t, char *err, size_t errlen)
{
	if (!topology_port_remote(t))
		return 0;
	topo_set_err(err, errlen,
		     "a lab split across hosts (--own) keeps its ENIs and outside hosts: restart "
		     "vpcfwd to change them");
	return -EOPNOTSUPP;
}
