/*
 * Builds a lab's namespaces, veth pairs, addresses, routes and the router
 * namespace's nftables drop table, and removes them again (topology.h says
 * what the result looks like). Every name is computed and checked before
 * anything is created; every creation is recorded in the state file before
 * it happens and in struct topology after it succeeds, so a failure at any
 * step rolls back exactly what exists and a SIGKILL leaves a complete list
 * for the next start. topology_update changes a live topology port by port
 * for a hot reload, with the same guarantees. Not for packets, and not for
 * the state file format (topology_state.c).
 */
#include "topology.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink.h"
#include "nft.h"
#include "topology-private.h"

struct port_state {
	int nsfd; /* -1 until the namespace exists */
	bool ns_created;
	bool veth_created;
};

struct topology_private {
	int state_fd;
	struct nl *router_nl; /* rtnetlink socket in the router namespace */
	struct nft_lab *nft;
	int router_ethtool_fd; /* ioctl socket in the router namespace */
	bool router_created;
	struct port_state *ps;
};

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* --- names ------------------------------------------------------------ */

/* FNV-1a: port names differ between labs, so a port seen in `ip link`
 * (or a capture file name) says which lab it belongs to. */
static unsigned int lab_hash4(const char *lab)
{
	uint32_t h = 2166136261u;

	for (; *lab; lab++)
		h = (h ^ (unsigned char)*lab) * 16777619u;
	return (h ^ (h >> 16)) & 0xffff;
}

static int port_names(const struct lab *lab, struct topology *t, char *err, size_t errlen)
{
	unsigned int h = lab_hash4(lab->name);
	size_t n = 0;

	for (size_t i = 0; i < lab->n_enis + lab->n_outside; i++, n++) {
		struct topology_port *p = &t->ports[n];
		bool is_eni = i < lab->n_enis;

		p->kind = is_eni ? TOPOLOGY_PORT_ENI : TOPOLOGY_PORT_OUTSIDE;
		p->eni = is_eni ? (int32_t)i : -1;
		p->outside = is_eni ? -1 : (int32_t)(i - lab->n_enis);
		if ((is_eni
			 ? topology_eni_netns(lab, p->eni, p->netns, sizeof(p->netns))
			 : topology_outside_netns(lab, p->outside, p->netns, sizeof(p->netns)))) {
			set_err(err, errlen, "no namespace name for %s %zu",
				is_eni ? "ENI" : "outside host", is_eni ? i : i - lab->n_enis);
			return -EINVAL;
		}
		snprintf(p->name, sizeof(p->name), "p%04x-%u", h, (unsigned int)(n & 0xffff));
		for (size_t j = 0; j < n; j++) {
			if (strcmp(t->ports[j].netns, p->netns))
				continue;
			set_err(err, errlen, "two endpoints of lab %s map to namespace %s",
				lab->name, p->netns);
			return -EINVAL;
		}
		if (!strcmp(p->netns, t->router_ns)) {
			set_err(err, errlen, "namespace %s is also the router's", p->netns);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_lab(const struct lab *lab, char *err, size_t errlen)
{
	if (!topology_lab_name_valid(lab->name)) {
		set_err(err, errlen,
			"lab name '%s' cannot name namespaces: use 1-%d of [A-Za-z0-9_.-], not "
			"starting with . or -",
			lab->name ? lab->name : "", TOPOLOGY_LAB_NAME_MAX);
		return -EINVAL;
	}
	if (lab->n_enis + lab->n_outside > 0xffff) {
		set_err(err, errlen, "lab %s: more than 65535 endpoints", lab->name);
		return -EINVAL;
	}
	for (size_t i = 0; i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];

		if (e->subnet < 0 || (size_t)e->subnet >= lab->n_subnets) {
			set_err(err, errlen, "ENI %s has no subnet", e->id);
			return -EINVAL;
		}
		if (e->n_ipv6 && !lab->subnets[e->subnet].has_cidr6) {
			set_err(err, errlen,
				"ENI %s has IPv6 addresses but subnet %s has no IPv6 CIDR", e->id,
				lab->subnets[e->subnet].id);
			return -EINVAL;
		}
	}
	return 0;
}

/* Refuse before creating anything: a namespace we need that exists and is
 * not ours (stale state of this lab was removed just before). */
static int check_collisions(const struct topology *t, char *err, size_t errlen)
{
	const char *hint = "delete it (ip netns del) or rename the endpoint";

	if (netns_exists(t->router_ns)) {
		set_err(err, errlen,
			"namespace %s already exists and is not stale state of lab %s: %s",
			t->router_ns, t->lab, hint);
		return -EEXIST;
	}
	for (size_t i = 0; i < t->n_ports; i++) {
		if (!netns_exists(t->ports[i].netns))
			continue;
		set_err(err, errlen,
			"namespace %s already exists and is not stale state of lab %s: %s",
			t->ports[i].netns, t->lab, hint);
		return -EEXIST;
	}
	return 0;
}

/* --- kernel settings ---------------------------------------------------- */

/* /proc/sys/net is the namespace of the thread that opens it. A missing
 * IPv6 tree (ipv6.disable=1) is not an error for settings that only turn
 * IPv6 off; callers needing IPv6 see ENOENT. */
static int sysctl_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* Feature names (ETH_SS_FEATURES) that must be off: every transmit
 * checksum offload and every segmentation offload a driver could take
 * (the legacy ETHTOOL_STSO misses newer ones such as
 * tx-tcp-accecn-segmentation and tx-udp-segmentation), and every form of
 * GRO. tx-generic-segmentation (GSO) stays: it segments and checksums in
 * software just before the driver, so the veth still only ever carries
 * MTU-sized frames with full checksums, and it saves the stack a trip per
 * segment (docs/offloads.md has the figures). */
static bool feature_unwanted(const char *name)
{
	size_t n = strlen(name);
	const char *seg = "-segmentation";

	if (!strncmp(name, "tx-checksum-", 12))
		return true;
	if (!strncmp(name, "tx-", 3) && n > strlen(seg) && !strcmp(name + n - strlen(seg), seg))
		return strcmp(name, "tx-generic-segmentation") != 0;
	return !strcmp(name, "rx-gro") || !strcmp(name, "rx-gro-list") ||
	       !strcmp(name, "rx-udp-gro-forwarding");
}

static int ethtool_ioctl(int fd, const char *ifname, void *data)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	return ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

/* The feature names of a device: n and a malloc'd ethtool_gstrings. */
static int feature_names(int fd, const char *ifname, struct ethtool_gstrings **out, uint32_t *n)
{
	/* The reply's data[] holds one length per set asked for: one. */
	union {
		struct ethtool_sset_info hdr;
		uint8_t raw[sizeof(struct ethtool_sset_info) + sizeof(uint32_t)];
	} sset;
	struct ethtool_gstrings *gs;
	uint32_t len;
	int ret;

	memset(&sset, 0, sizeof(sset));
	sset.hdr.cmd = ETHTOOL_GSSET_INFO;
	sset.hdr.sset_mask = 1ULL << ETH_SS_FEATURES;
	ret = ethtool_ioctl(fd, ifname, &sset);
	if (ret)
		return ret;
	memcpy(&len, sset.raw + sizeof(struct ethtool_sset_info), sizeof(len));
	if (!sset.hdr.sset_mask || len == 0 || len > 4096)
		return -EOPNOTSUPP;
	gs = calloc(1, sizeof(*gs) + (size_t)len * ETH_GSTRING_LEN);
	if (!gs)
		return -ENOMEM;
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_FEATURES;
	gs->len = len;
	ret = ethtool_ioctl(fd, ifname, gs);
	if (ret) {
		free(gs);
		return ret;
	}
	*out = gs;
	*n = len;
	return 0;
}

/* Off: the sender's kernel computes every checksum in software (no
 * CHECKSUM_PARTIAL frames whose checksum field holds only the
 * pseudo-header sum) and never hands the data path a frame larger than the
 * MTU (no TSO super-frames, no GRO-merged ones). docs/offloads.md. */
static int offloads_off(int fd, const char *ifname, char *err, size_t errlen)
{
	struct ethtool_gstrings *gs = NULL;
	struct ethtool_gfeatures *gf = NULL;
	struct ethtool_sfeatures *sf = NULL;
	uint32_t n = 0, blocks;
	int ret = feature_names(fd, ifname, &gs, &n);

	if (ret)
		goto out;
	blocks = (n + 31) / 32;
	gf = calloc(1, sizeof(*gf) + blocks * sizeof(gf->features[0]));
	sf = calloc(1, sizeof(*sf) + blocks * sizeof(sf->features[0]));
	ret = gf && sf ? 0 : -ENOMEM;
	if (ret)
		goto out;
	gf->cmd = ETHTOOL_GFEATURES;
	gf->size = blocks;
	ret = ethtool_ioctl(fd, ifname, gf);
	if (ret)
		goto out;
	sf->cmd = ETHTOOL_SFEATURES;
	sf->size = blocks;
	for (uint32_t i = 0; i < n; i++) {
		const char *name = (const char *)gs->data + (size_t)i * ETH_GSTRING_LEN;
		uint32_t bit = 1u << (i % 32);

		/* Only what the driver lets us change; [fixed] ones stay. */
		if (feature_unwanted(name) && (gf->features[i / 32].available & bit))
			sf->features[i / 32].valid |= bit;
	}
	/* A positive result (ETHTOOL_F_WISH...) is checked below instead. */
	ret = ethtool_ioctl(fd, ifname, sf);
	if (ret)
		goto out;
	ret = ethtool_ioctl(fd, ifname, gf);
	for (uint32_t i = 0; i < n && !ret; i++) {
		const char *name = (const char *)gs->data + (size_t)i * ETH_GSTRING_LEN;

		if ((sf->features[i / 32].valid & gf->features[i / 32].active & (1u << (i % 32)))) {
			snprintf(err, errlen, "%s: offload %.*s stays on", ifname, ETH_GSTRING_LEN,
				 name);
			ret = -EOPNOTSUPP;
		}
	}
out:
	if (ret && !err[0])
		set_err(err, errlen, "turning offloads off on %s: %s", ifname, strerror(-ret));
	free(gs);
	free(gf);
	free(sf);
	return ret;
}

/* --- the router namespace ---------------------------------------------- */

struct router_setup {
	struct topology *t;
	char *err;
	size_t errlen;
};

static int router_setup_in(void *arg)
{
	struct router_setup *rs = arg;
	struct topology_private *pv = rs->t->priv;
	int ret;

	/* New ports inherit "default": no link-local address, no DAD, MLD or
	 * router solicitations from the router's kernel onto lab links. */
	sysctl_write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	sysctl_write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	ret = sysctl_write("/proc/sys/net/ipv4/ip_forward", "0");
	if (ret) {
		set_err(rs->err, rs->errlen, "router namespace: ip_forward: %s", strerror(-ret));
		return ret;
	}
	ret = nl_open(&pv->router_nl);
	if (ret) {
		set_err(rs->err, rs->errlen, "router namespace: rtnetlink: %s", strerror(-ret));
		return ret;
	}
	pv->router_ethtool_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (pv->router_ethtool_fd < 0) {
		ret = -errno;
		set_err(rs->err, rs->errlen, "router namespace: socket: %s", strerror(-ret));
		return ret;
	}
	return nft_lab_create(rs->t->lab, &pv->nft, rs->err, rs->errlen);
}

static int router_create(struct topology *t, char *err, size_t errlen)
{
	struct topology_private *pv = t->priv;
	struct router_setup rs = {t, err, errlen};
	int ret;

	ret = topo_state_add_router(pv->state_fd, t->router_ns);
	if (ret) {
		set_err(err, errlen, "writing the state file: %s", strerror(-ret));
		return ret;
	}
	ret = netns_create(t->router_ns, err, errlen);
	if (ret)
		return ret;
	pv->router_created = true;
	t->router_nsfd = netns_open(t->router_ns);
	if (t->router_nsfd < 0) {
		ret = t->router_nsfd;
		set_err(err, errlen, "opening namespace %s: %s", t->router_ns, strerror(-ret));
		return ret;
	}
	ret = netns_run(t->router_nsfd, router_setup_in, &rs);
	if (ret && !err[0])
		set_err(err, errlen, "entering namespace %s: %s", t->router_ns, strerror(-ret));
	return ret;
}

/* --- one port ------------------------------------------------------------ */

struct host_setup {
	const struct lab *lab;
	struct topology *t;
	struct topology_port *p;
	struct nl *nl;
	char *err;
	size_t errlen;
};

static int host_addr(struct host_setup *hs, int ifindex, const struct ip_addr *a, uint8_t plen)
{
	char buf[IP_ADDR_STRLEN];
	int ret = nl_addr_add(hs->nl, ifindex, a, plen, true);

	if (ret)
		set_err(hs->err, hs->errlen, "%s: adding %s/%u to eth0: %s", hs->p->netns,
			ip_addr_format(a, buf, sizeof(buf)), plen, nl_strerror(hs->nl, ret));
	return ret;
}

static int host_route(struct host_setup *hs, int ifindex, enum ip_family f,
		      const struct ip_addr *gw)
{
	struct ip_prefix all;
	char buf[IP_ADDR_STRLEN];
	int ret;

	memset(&all, 0, sizeof(all));
	all.addr.family = (uint8_t)f;
	ret = nl_route_add(hs->nl, ifindex, &all, gw);
	if (ret)
		set_err(hs->err, hs->errlen, "%s: default route %s%s: %s", hs->p->netns,
			gw ? "via " : "dev eth0", gw ? ip_addr_format(gw, buf, sizeof(buf)) : "",
			nl_strerror(hs->nl, ret));
	return ret;
}

/* Addresses and default routes of an ENI: AWS-SEMANTICS §5, the subnet
 * router is base + 1. IPv6 goes via TOPOLOGY_ROUTER_LL6, as an EC2 instance
 * routes via the router's link-local address (topology.h, docs/offloads.md
 * "IPv6 router"). */
static int eni_configure(struct host_setup *hs, int ifindex)
{
	const struct eni *e = &hs->lab->enis[hs->p->eni];
	const struct subnet *s = &hs->lab->subnets[e->subnet];
	struct ip_addr gw;
	int ret = 0;

	for (size_t i = 0; i < e->n_ipv4 && !ret; i++)
		ret = host_addr(hs, ifindex, &e->ipv4[i], s->cidr.len);
	for (size_t i = 0; i < e->n_ipv6 && !ret; i++)
		ret = host_addr(hs, ifindex, &e->ipv6[i], s->cidr6.len);
	if (!ret && e->n_ipv4) {
		ip_prefix_nth(&s->cidr, 1, &gw);
		ret = host_route(hs, ifindex, IP_V4, &gw);
	}
	if (!ret && e->n_ipv6) {
		ip_addr_parse(TOPOLOGY_ROUTER_LL6, &gw);
		ret = host_route(hs, ifindex, IP_V6, &gw);
	}
	return ret;
}

/* An outside host: its address alone (/32 or /128) and an on-link default
 * route, so it asks the link for every destination and the data path
 * answers as the internet gateway. */
static int outside_configure(struct host_setup *hs, int ifindex)
{
	const struct outside_host *o = &hs->lab->outside[hs->p->outside];
	uint8_t plen = o->addr.family == IP_V4 ? 32 : 128;
	int ret = host_addr(hs, ifindex, &o->addr, plen);

	return ret ? ret : host_route(hs, ifindex, (enum ip_family)o->addr.family, NULL);
}

static int host_sysctls(struct host_setup *hs)
{
	static const char *const v6[][2] = {
	    {"/proc/sys/net/ipv6/conf/eth0/disable_ipv6", "0"},
	    /* We own both ends of the link: nothing to detect, and
	     * tentative addresses would delay the first packets. */
	    {"/proc/sys/net/ipv6/conf/eth0/accept_dad", "0"},
	    /* Routes are static; nobody sends router advertisements. */
	    {"/proc/sys/net/ipv6/conf/eth0/accept_ra", "0"},
	};

	const struct topology_port *p = hs->p;
	bool needs_v6 = p->kind == TOPOLOGY_PORT_ENI
			    ? hs->lab->enis[p->eni].n_ipv6 > 0
			    : hs->lab->outside[p->outside].addr.family == IP_V6;

	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		int ret = sysctl_write(v6[i][0], v6[i][1]);

		/* A kernel without IPv6 (ipv6.disable=1) still runs IPv4 labs. */
		if (ret == -ENOENT && !needs_v6)
			return 0;
		if (ret) {
			set_err(hs->err, hs->errlen, "%s: %s: %s", hs->p->netns, v6[i][0],
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int host_setup_in(void *arg)
{
	struct host_setup *hs = arg;
	struct nl_link lo, eth;
	int fd, ret;

	ret = nl_open(&hs->nl);
	if (ret) {
		set_err(hs->err, hs->errlen, "%s: rtnetlink: %s", hs->p->netns, strerror(-ret));
		return ret;
	}
	ret = host_sysctls(hs);
	if (!ret && (ret = nl_link_get(hs->nl, "lo", &lo)) == 0)
		ret = nl_link_up(hs->nl, lo.ifindex, 0);
	if (!ret && (ret = nl_link_get(hs->nl, "eth0", &eth)) == 0) {
		memcpy(hs->p->peer_mac, eth.mac, 6);
		hs->p->peer_ifindex = eth.ifindex;
	}
	if (ret && !hs->err[0])
		set_err(hs->err, hs->errlen, "%s: lo/eth0: %s", hs->p->netns,
			nl_strerror(hs->nl, ret));
	if (!ret && !hs->t->offloads_kept) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ret = fd < 0 ? -errno : offloads_off(fd, "eth0", hs->err, hs->errlen);
		if (fd >= 0)
			close(fd);
	}
	if (!ret) {
		ret = nl_link_up(hs->nl, eth.ifindex, hs->t->mtu);
		if (ret)
			set_err(hs->err, hs->errlen, "%s: eth0 up, mtu %u: %s", hs->p->netns,
				hs->t->mtu, nl_strerror(hs->nl, ret));
	}
	if (!ret)
		ret = hs->p->kind == TOPOLOGY_PORT_ENI ? eni_configure(hs, eth.ifindex)
						       : outside_configure(hs, eth.ifindex);
	nl_close(hs->nl);
	hs->nl = NULL;
	return ret;
}

static void state_port_fill(const struct lab *lab, const struct topology_port *p,
			    struct topo_state_port *sp)
{
	memset(sp, 0, sizeof(*sp));
	snprintf(sp->ifname, sizeof(sp->ifname), "%s", p->name);
	snprintf(sp->netns, sizeof(sp->netns), "%s", p->netns);
	sp->device_index = -1;
	if (p->kind == TOPOLOGY_PORT_ENI) {
		const struct eni *e = &lab->enis[p->eni];

		snprintf(sp->kind, sizeof(sp->kind), "eni");
		snprintf(sp->eni_id, sizeof(sp->eni_id), "%s", e->id ? e->id : "-");
		snprintf(sp->instance_id, sizeof(sp->instance_id), "%s",
			 e->instance_id ? e->instance_id : "-");
		snprintf(sp->name, sizeof(sp->name), "%s", e->name ? e->name : "-");
		sp->device_index = e->device_index;
	} else {
		snprintf(sp->kind, sizeof(sp->kind), "outside");
		snprintf(sp->eni_id, sizeof(sp->eni_id), "-");
		snprintf(sp->instance_id, sizeof(sp->instance_id), "-");
		snprintf(sp->name, sizeof(sp->name), "%s", lab->outside[p->outside].name);
	}
}

/* The router end: created with its peer already in the host namespace
 * (named eth0 there), then MTU, up, offloads and the nft drop chain. */
static int port_router_side(struct topology *t, size_t i, char *err, size_t errlen)
{
	struct topology_private *pv = t->priv;
	struct topology_port *p = &t->ports[i];
	struct nl_link l;
	int ret;

	ret = nl_veth_add(pv->router_nl, p->name, "eth0", pv->ps[i].nsfd, t->mtu);
	if (ret) {
		set_err(err, errlen, "creating veth %s <-> %s/eth0 (mtu %u): %s", p->name, p->netns,
			t->mtu, nl_strerror(pv->router_nl, ret));
		return ret;
	}
	pv->ps[i].veth_created = true;
	ret = nl_link_get(pv->router_nl, p->name, &l);
	if (!ret) {
		p->ifindex = l.ifindex;
		memcpy(p->mac, l.mac, 6);
		ret = nl_link_up(pv->router_nl, l.ifindex, t->mtu);
	}
	if (ret) {
		set_err(err, errlen, "router port %s: %s", p->name,
			nl_strerror(pv->router_nl, ret));
		return ret;
	}
	if (!t->offloads_kept) {
		ret = offloads_off(pv->router_ethtool_fd, p->name, err, errlen);
		if (ret)
			return ret;
	}
	return nft_port_add(pv->nft, p->name, err, errlen);
}

static int port_create(const struct lab *lab, struct topology *t, size_t i, char *err,
		       size_t errlen)
{
	struct topology_private *pv = t->priv;
	struct topology_port *p = &t->ports[i];
	struct host_setup hs = {lab, t, p, NULL, err, errlen};
	struct topo_state_port sp;
	int ret;

	state_port_fill(lab, p, &sp);
	ret = topo_state_add_port(pv->state_fd, &sp);
	if (ret) {
		set_err(err, errlen, "writing the state file: %s", strerror(-ret));
		return ret;
	}
	ret = netns_create(p->netns, err, errlen);
	if (ret)
		return ret;
	pv->ps[i].ns_created = true;
	pv->ps[i].nsfd = netns_open(p->netns);
	if (pv->ps[i].nsfd < 0) {
		ret = pv->ps[i].nsfd;
		set_err(err, errlen, "opening namespace %s: %s", p->netns, strerror(-ret));
		return ret;
	}
	ret = port_router_side(t, i, err, errlen);
	if (ret)
		return ret;
	ret = netns_run(pv->ps[i].nsfd, host_setup_in, &hs);
	if (ret && !err[0])
		set_err(err, errlen, "entering namespace %s: %s", p->netns, strerror(-ret));
	return ret;
}

/* --- create and destroy --------------------------------------------------- */

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
	return t;
}

static int router_teardown_in(void *arg)
{
	struct topology *t = arg;
	struct topology_private *pv = t->priv;

	/* Table first: its chains hook the ports about to go. */
	nft_lab_delete(pv->nft);
	pv->nft = NULL;
	for (size_t i = 0; i < t->n_ports; i++) {
		if (!pv->ps[i].veth_created || !pv->router_nl)
			continue;
		/* Deleting one end deletes the pair, now rather than when
		 * the namespaces are reaped. */
		nl_link_del(pv->router_nl, t->ports[i].ifindex);
		pv->ps[i].veth_created = false;
	}
	return 0;
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
	free(names);
	return ended;
}

void topology_destroy(struct topology *t)
{
	struct topology_private *pv;

	if (!t)
		return;
	pv = t->priv;
	topology_end_processes(t);
	if (t->router_nsfd >= 0)
		netns_run(t->router_nsfd, router_teardown_in, t);
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
	free(pv->ps);
	free(pv);
	free(t->ports);
	free(t);
}

int topology_create(const struct lab *lab, const struct topology_options *opts,
		    struct topology **out, char *err, size_t errlen)
{
	struct topology *t;
	int ret, stale;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	ret = check_lab(lab, err, errlen);
	if (ret)
		return ret;
	t = topology_alloc(lab, opts);
	if (!t) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = port_names(lab, t, err, errlen);
	if (ret)
		goto fail_early;
	stale = topology_cleanup_stale(t->lab, &t->stale_processes, err, errlen);
	if (stale < 0) {
		ret = stale;
		goto fail_early;
	}
	t->stale_removed = (size_t)stale;
	ret = check_collisions(t, err, errlen);
	if (ret)
		goto fail_early;
	ret = topo_state_open(t->lab, err, errlen);
	if (ret < 0)
		goto fail_early;
	t->priv->state_fd = ret;
	ret = router_create(t, err, errlen);
	for (size_t i = 0; i < t->n_ports && !ret; i++)
		ret = port_create(lab, t, i, err, errlen);
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

int topology_run_in_router(const struct topology *t, int (*fn)(void *arg), void *arg)
{
	return netns_run(t->router_nsfd, fn, arg);
}

int topology_port_drop(struct topology *t, size_t port, bool drop, char *err, size_t errlen)
{
	if (port >= t->n_ports || !t->priv->nft)
		return -EINVAL;
	return drop ? nft_port_add(t->priv->nft, t->ports[port].name, err, errlen)
		    : nft_port_del(t->priv->nft, t->ports[port].name, err, errlen);
}

const struct topology_port *topology_port_of_eni(const struct topology *t, int32_t eni)
{
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

/* --- live update (hot reload) ----------------------------------------------- */

static bool addrs_eq(const struct ip_addr *a, size_t na, const struct ip_addr *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!ip_addr_eq(&a[i], &b[i]))
			return false;
	return true;
}

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
	       addrs_eq(a->ipv4, a->n_ipv4, b->ipv4, b->n_ipv4) &&
	       addrs_eq(a->ipv6, a->n_ipv6, b->ipv6, b->n_ipv6) &&
	       str_eq(a->instance_id, b->instance_id) && str_eq(a->name, b->name) &&
	       a->device_index == b->device_index;
}

/* Removes one port: its drop chain, the veth pair (now, not when the
 * namespace is reaped) and its namespace. Best effort: what is already
 * gone is not an error. */
static void port_remove(struct topology *t, struct topology_port *p, struct port_state *ps)
{
	struct topology_private *pv = t->priv;
	char ignored[256];

	if (ps->veth_created) {
		if (pv->nft)
			nft_port_del(pv->nft, p->name, ignored, sizeof(ignored));
		if (pv->router_nl)
			nl_link_del(pv->router_nl, p->ifindex);
		ps->veth_created = false;
	}
	if (ps->nsfd >= 0)
		close(ps->nsfd);
	ps->nsfd = -1;
	if (ps->ns_created) {
		const char *name = p->netns;

		netns_end_processes(&name, 1, TOPOLOGY_END_GRACE_MS);
		netns_delete(p->netns);
	}
	ps->ns_created = false;
}

/* A router port name no port of either array uses. */
static void port_fresh_name(const struct topology *t, struct topology_port *np, size_t n_new,
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

/* The state file listing exactly the current ports (after removals). */
static int state_rewrite(const struct lab *lab, struct topology *t)
{
	struct topo_state_port *sp = calloc(t->n_ports ? t->n_ports : 1, sizeof(*sp));
	int fd;

	if (!sp)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_ports; i++)
		state_port_fill(lab, &t->ports[i], &sp[i]);
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
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	tmp = *t;
	tmp.ports = u->np;
	if (port_names(next, &tmp, err, errlen))
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
		port_fresh_name(t, u->np, n, j);
		/* A removed or changed endpoint frees its namespace name:
		 * that old port goes before the new one is created. */
		for (size_t i = 0; i < t->n_ports; i++) {
			if (u->kept[i] || strcmp(t->ports[i].netns, u->np[j].netns))
				continue;
			u->first[i] = ours = true;
		}
		if (!ours && netns_exists(u->np[j].netns)) {
			set_err(err, errlen,
				"namespace %s already exists and is not part of lab %s: delete it "
				"(ip netns del) or rename the endpoint",
				u->np[j].netns, t->lab);
			return -EEXIST;
		}
	}
	return 0;
}

/* Undoes a failed update: the new ports go, the old ports removed first
 * come back (with new interfaces: their captures must be reopened). */
static void update_undo(const struct lab *old, struct topology *t, struct update *u,
			struct topology_port *oldp, struct port_state *oldps, size_t n_old)
{
	char ignored[256];

	for (size_t j = 0; j < u->n; j++)
		if (u->old_of[j] < 0)
			port_remove(t, &u->np[j], &u->nps[j]);
	t->ports = oldp;
	t->priv->ps = oldps;
	t->n_ports = n_old;
	for (size_t i = 0; i < n_old; i++) {
		if (!u->first[i])
			continue;
		oldps[i] = (struct port_state){.nsfd = -1};
		if (port_create(old, t, i, ignored, sizeof(ignored)))
			port_remove(t, &oldp[i], &oldps[i]);
	}
	/* Drop the lines of the ports that were tried and removed. */
	state_rewrite(old, t);
}

int topology_update(struct topology *t, const struct lab *old, const struct lab *next, char *err,
		    size_t errlen)
{
	struct topology_port *oldp = t->ports;
	struct port_state *oldps = t->priv->ps;
	size_t n_old = t->n_ports;
	struct update u = {0};
	int ret;

	if (errlen)
		err[0] = '\0';
	ret = check_lab(next, err, errlen);
	if (!ret && strcmp(next->name, t->lab)) {
		set_err(err, errlen, "lab %s cannot become lab %s", t->lab, next->name);
		ret = -EINVAL;
	}
	if (!ret)
		ret = update_plan(t, old, next, &u, err, errlen);
	if (ret) {
		update_free(&u);
		return ret;
	}
	for (size_t i = 0; i < n_old; i++)
		if (u.first[i])
			port_remove(t, &oldp[i], &oldps[i]);
	/* port_create works on t's arrays: point them at next's while the
	 * added ports are built (each listed in the state file first). */
	t->ports = u.np;
	t->priv->ps = u.nps;
	t->n_ports = u.n;
	for (size_t j = 0; j < u.n && !ret; j++)
		if (u.old_of[j] < 0)
			ret = port_create(next, t, j, err, errlen);
	if (ret) {
		update_undo(old, t, &u, oldp, oldps, n_old);
		update_free(&u);
		return ret;
	}
	for (size_t i = 0; i < n_old; i++)
		if (!u.kept[i] && !u.first[i])
			port_remove(t, &oldp[i], &oldps[i]);
	/* Until this succeeds the file lists a superset, which is what a
	 * crash needs; failing to shrink it only costs a later no-op. */
	state_rewrite(next, t);
	free(oldp);
	free(oldps);
	u.np = NULL;
	u.nps = NULL;
	update_free(&u);
	return 0;
}
