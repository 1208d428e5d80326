/*
 * Host set-up: the router namespace, then ports in chunks. A chunk of up
 * to TOPO_CHUNK ports costs a handful of batched round trips, not a dozen
 * per port: its state lines, its namespaces (each configured while the
 * creating thread is still inside it: sysctls, an rtnetlink and an ioctl
 * socket), one rtnetlink batch creating every veth pair up, with its MTU,
 * MACs and link group, one link dump for the ifindexes, offloads by
 * ioctl, one nftables transaction per few dozen drop chains, and one
 * batch of loopback, addresses and routes per namespace. A stop request
 * (topology_options.stop) is honoured between steps. What exists is
 * recorded in t->priv->ps as it is made, for the caller to remove. Also
 * running a function inside the router namespace, which set-up does first
 * and the data path does to open its rings there. Not for names
 * (topology_names.c) nor removal (topology.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink.h"
#include "nft.h"
#include "topology-private.h"

/* Ports built per round: bounds the sockets open at once (three per
 * namespace) and the work a stop request waits for. */
#define TOPO_CHUNK 128
/* The loopback device of every network namespace. */
#define LOOPBACK_IFINDEX 1

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

static bool stop_requested(const struct topology *t, char *err, size_t errlen)
{
	if (!t->priv->stop || !*t->priv->stop)
		return false;
	topo_set_err(err, errlen, "stop requested while building lab %s", t->lab);
	return true;
}

/* --- the router namespace ---------------------------------------------- */

static int router_setup_in(void *arg, char *err, size_t errlen)
{
	struct topology *t = arg;
	struct topology_private *pv = t->priv;
	int ret;

	/* New ports inherit "default": no link-local address, no DAD, MLD or
	 * router solicitations from the router's kernel onto lab links. */
	sysctl_write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	sysctl_write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	ret = sysctl_write("/proc/sys/net/ipv4/ip_forward", "0");
	if (ret) {
		topo_set_err(err, errlen, "router namespace: ip_forward: %s", strerror(-ret));
		return ret;
	}
	ret = nl_open(&pv->router_nl);
	if (ret) {
		topo_set_err(err, errlen, "router namespace: rtnetlink: %s", strerror(-ret));
		return ret;
	}
	pv->router_ethtool_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (pv->router_ethtool_fd < 0) {
		ret = -errno;
		topo_set_err(err, errlen, "router namespace: socket: %s", strerror(-ret));
		return ret;
	}
	return nft_lab_create(t->lab, &pv->nft, err, errlen);
}

int topo_router_create(struct topology *t, char *err, size_t errlen)
{
	struct topology_private *pv = t->priv;
	int ret;

	ret = topo_state_add_router(pv->state_fd, t->router_ns);
	if (ret) {
		topo_set_err(err, errlen, "writing the state file: %s", strerror(-ret));
		return ret;
	}
	ret = netns_create(t->router_ns, err, errlen);
	if (ret)
		return ret;
	pv->router_created = true;
	t->router_nsfd = netns_open(t->router_ns);
	if (t->router_nsfd < 0) {
		ret = t->router_nsfd;
		topo_set_err(err, errlen, "opening namespace %s: %s", t->router_ns, strerror(-ret));
		return ret;
	}
	return topology_run_in_router(t, router_setup_in, t, err, errlen);
}

/* --- a chunk of ports ------------------------------------------------------ */

/* Sockets of one namespace of the chunk, opened from inside it. */
struct host_socks {
	struct nl *nl;
	int ethtool_fd;
};

struct chunk {
	const struct lab *lab;
	struct topology *t;
	const size_t *idx; /* ports of t */
	size_t n;
	struct host_socks hs[TOPO_CHUNK];
	const char *names[TOPO_CHUNK];
	char *err;
	size_t errlen;
};

static bool port_needs_v6(const struct lab *lab, const struct topology_port *p)
{
	return p->kind == TOPOLOGY_PORT_ENI ? lab->enis[p->eni].n_ipv6 > 0
					    : lab->outside[p->outside].addr.family == IP_V6;
}

/* eth0 does not exist yet: it will inherit "default". The directory is
 * opened once: every namespace adds its own entries to /proc/sys's
 * dentry chains, so each path walk there costs more the more namespaces
 * exist. */
static int host_sysctls(struct chunk *c, const struct topology_port *p)
{
	static const char *const v6[][2] = {
	    {"disable_ipv6", "0"},
	    /* We own both ends of the link: nothing to detect, and
	     * tentative addresses would delay the first packets. */
	    {"accept_dad", "0"},
	    /* Routes are static; nobody sends router advertisements. */
	    {"accept_ra", "0"},
	};
	const char *dir = "/proc/sys/net/ipv6/conf/default";
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = dfd < 0 ? -errno : 0;

	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]) && !ret; i++) {
		int fd = openat(dfd, v6[i][0], O_WRONLY | O_CLOEXEC);

		ret = fd < 0 ? -errno : 0;
		if (fd >= 0 && write(fd, v6[i][1], 1) < 0)
			ret = -errno;
		if (fd >= 0)
			close(fd);
		if (ret)
			topo_set_err(c->err, c->errlen, "%s: %s/%s: %s", p->netns, dir, v6[i][0],
				     strerror(-ret));
	}
	if (dfd >= 0)
		close(dfd);
	/* A kernel without IPv6 (ipv6.disable=1) still runs IPv4 labs. */
	if (ret == -ENOENT && !port_needs_v6(c->lab, p))
		return 0;
	if (ret && dfd < 0)
		topo_set_err(c->err, c->errlen, "%s: %s: %s", p->netns, dir, strerror(-ret));
	return ret;
}

/* Runs inside the k-th new namespace of the chunk (netns_create_each). */
static int host_init(size_t k, void *arg)
{
	struct chunk *c = arg;
	size_t i = c->idx[k];
	struct port_state *ps = &c->t->priv->ps[i];
	const struct topology_port *p = &c->t->ports[i];
	int ret;

	ps->ns_created = true;
	ps->nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ps->nsfd < 0) {
		ret = -errno;
		topo_set_err(c->err, c->errlen, "opening namespace %s: %s", p->netns,
			     strerror(-ret));
		return ret;
	}
	ret = host_sysctls(c, p);
	if (ret)
		return ret;
	ret = nl_open(&c->hs[k].nl);
	if (!ret) {
		c->hs[k].ethtool_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ret = c->hs[k].ethtool_fd < 0 ? -errno : 0;
	}
	if (ret)
		topo_set_err(c->err, c->errlen, "%s: sockets: %s", p->netns, strerror(-ret));
	return ret;
}

/* A random, locally administered unicast MAC, as the kernel would pick:
 * chosen here so no request is needed to learn it. */
static void random_macs(uint8_t *macs, size_t n)
{
	size_t got = 0;

	while (got < n * 6) {
		ssize_t r = getrandom(macs + got, n * 6 - got, 0);

		if (r > 0)
			got += (size_t)r;
	}
	for (size_t i = 0; i < n; i++)
		macs[i * 6] = (uint8_t)((macs[i * 6] & 0xfe) | 0x02);
}

/* One rtnetlink batch: every pair of the chunk, both ends up, eth0 put
 * straight into its namespace. */
static int chunk_veths(struct chunk *c)
{
	struct topology *t = c->t;
	struct topology_private *pv = t->priv;
	uint8_t macs[TOPO_CHUNK * 2 * 6];
	int ret, bad = -1;

	random_macs(macs, c->n * 2);
	ret = nl_batch_begin(pv->router_nl);
	if (ret) {
		topo_set_err(c->err, c->errlen, "creating veths: %s", strerror(-ret));
		return ret;
	}
	for (size_t k = 0; k < c->n; k++) {
		struct topology_port *p = &t->ports[c->idx[k]];
		struct nl_veth v = {
		    .name = p->name,
		    .peer = "eth0",
		    .peer_nsfd = pv->ps[c->idx[k]].nsfd,
		    .mtu = t->mtu,
		    .group = TOPO_PORT_GROUP,
		    .mac = &macs[k * 12],
		    .peer_mac = &macs[k * 12 + 6],
		    .up = true,
		};

		memcpy(p->mac, v.mac, 6);
		memcpy(p->peer_mac, v.peer_mac, 6);
		/* Learnt again from the dump (a rebuilt port has new ones). */
		p->ifindex = p->peer_ifindex = 0;
		pv->ps[c->idx[k]].veth_created = true;
		nl_batch_tag(pv->router_nl, (int)k);
		nl_veth_add(pv->router_nl, &v);
	}
	ret = nl_batch_end(pv->router_nl, &bad);
	if (ret && bad >= 0 && (size_t)bad < c->n) {
		const struct topology_port *p = &t->ports[c->idx[bad]];

		topo_set_err(c->err, c->errlen, "creating veth %s <-> %s/eth0 (mtu %u): %s",
			     p->name, p->netns, t->mtu, nl_strerror(pv->router_nl, ret));
	} else if (ret) {
		topo_set_err(c->err, c->errlen, "creating veths: %s",
			     nl_strerror(pv->router_nl, ret));
	}
	return ret;
}

/* A router port of the dump: its ifindex and, through IFLA_LINK, eth0's
 * in the host namespace. */
static void chunk_link_seen(const struct nl_link *l, void *arg)
{
	struct chunk *c = arg;

	if (l->group != TOPO_PORT_GROUP)
		return;
	for (size_t k = 0; k < c->n; k++) {
		struct topology_port *p = &c->t->ports[c->idx[k]];

		if (strcmp(p->name, l->name))
			continue;
		p->ifindex = l->ifindex;
		p->peer_ifindex = l->link;
		return;
	}
}

static int chunk_ifindexes(struct chunk *c)
{
	struct nl *nl = c->t->priv->router_nl;
	int ret = nl_link_dump(nl, chunk_link_seen, c);

	for (size_t k = 0; k < c->n && !ret; k++) {
		const struct topology_port *p = &c->t->ports[c->idx[k]];

		if (p->ifindex <= 0 || p->peer_ifindex <= 0) {
			topo_set_err(c->err, c->errlen, "router port %s: not found after creation",
				     p->name);
			ret = -ENODEV;
		}
	}
	if (ret && !c->err[0])
		topo_set_err(c->err, c->errlen, "listing router ports: %s", nl_strerror(nl, ret));
	return ret;
}

/* Offloads of both ends, then the drop chains of the whole chunk. */
static int chunk_router_side(struct chunk *c)
{
	struct topology *t = c->t;
	struct topology_private *pv = t->priv;
	int ret = 0;

	for (size_t k = 0; k < c->n && !ret && !t->offloads_kept; k++) {
		const struct topology_port *p = &t->ports[c->idx[k]];

		ret = topo_offloads_off(pv->router_ethtool_fd, p->name, &pv->features, c->err,
					c->errlen);
		if (!ret) {
			char why[256] = "";

			ret = topo_offloads_off(c->hs[k].ethtool_fd, "eth0", &pv->features, why,
						sizeof(why));
			if (ret)
				topo_set_err(c->err, c->errlen, "%s: %s", p->netns, why);
		}
	}
	for (size_t k = 0; k < c->n; k++)
		c->names[k] = t->ports[c->idx[k]].name;
	return ret ? ret : nft_ports_add(pv->nft, c->names, c->n, c->err, c->errlen);
}

/* What each request of a host's batch is, for the message of the one the
 * kernel refuses: tags below TAG_ADDR name a step, TAG_ADDR + i address i
 * (IPv4 first, then IPv6; outside hosts have one). */
enum { TAG_LO, TAG_ETH0, TAG_ROUTE4, TAG_ROUTE6, TAG_ADDR };

/* The addresses of a port in queueing order, and their prefix lengths. */
static size_t host_addrs(const struct lab *lab, const struct topology_port *p, size_t i,
			 const struct ip_addr **a, uint8_t *plen)
{
	if (p->kind == TOPOLOGY_PORT_OUTSIDE) {
		const struct outside_host *o = &lab->outside[p->outside];

		*a = &o->addr;
		*plen = o->addr.family == IP_V4 ? 32 : 128;
		return 1;
	}
	const struct eni *e = &lab->enis[p->eni];
	const struct subnet *s = &lab->subnets[e->subnet];

	if (i < e->n_ipv4) {
		*a = &e->ipv4[i];
		*plen = s->cidr.len;
	} else if (i < e->n_ipv4 + e->n_ipv6) {
		*a = &e->ipv6[i - e->n_ipv4];
		*plen = s->cidr6.len;
	}
	return e->n_ipv4 + e->n_ipv6;
}

/* Addresses and default routes of an ENI: AWS-SEMANTICS §5, the subnet
 * router is base + 1. IPv6 goes via TOPOLOGY_ROUTER_LL6, as an EC2 instance
 * routes via the router's link-local address (topology.h, docs/offloads.md
 * "IPv6 router"). An outside host: its address alone (/32 or /128) and an
 * on-link default route, so it asks the link for every destination and
 * the data path answers as the internet gateway. */
static void routes_queue(struct nl *nl, const struct lab *lab, const struct topology_port *p)
{
	struct ip_prefix all4 = {.addr.family = IP_V4}, all6 = {.addr.family = IP_V6};
	struct ip_addr gw;

	if (p->kind == TOPOLOGY_PORT_OUTSIDE) {
		bool v4 = lab->outside[p->outside].addr.family == IP_V4;

		nl_batch_tag(nl, v4 ? TAG_ROUTE4 : TAG_ROUTE6);
		nl_route_add(nl, p->peer_ifindex, v4 ? &all4 : &all6, NULL);
		return;
	}
	const struct eni *e = &lab->enis[p->eni];

	if (e->n_ipv4) {
		ip_prefix_nth(&lab->subnets[e->subnet].cidr, 1, &gw);
		nl_batch_tag(nl, TAG_ROUTE4);
		nl_route_add(nl, p->peer_ifindex, &all4, &gw);
	}
	if (e->n_ipv6) {
		ip_addr_parse(TOPOLOGY_ROUTER_LL6, &gw);
		nl_batch_tag(nl, TAG_ROUTE6);
		nl_route_add(nl, p->peer_ifindex, &all6, &gw);
	}
}

static void host_error(struct chunk *c, const struct topology_port *p, struct nl *nl, int ret,
		       int tag)
{
	char buf[IP_ADDR_STRLEN];
	const struct ip_addr *a = NULL;
	uint8_t plen = 0;
	bool outside = p->kind == TOPOLOGY_PORT_OUTSIDE;

	if (tag >= TAG_ADDR) {
		host_addrs(c->lab, p, (size_t)(tag - TAG_ADDR), &a, &plen);
		topo_set_err(c->err, c->errlen, "%s: adding %s/%u to eth0: %s", p->netns,
			     a ? ip_addr_format(a, buf, sizeof(buf)) : "?", plen,
			     nl_strerror(nl, ret));
	} else if (tag == TAG_ROUTE4 || tag == TAG_ROUTE6) {
		struct ip_addr gw;

		if (!outside && tag == TAG_ROUTE4)
			ip_prefix_nth(&c->lab->subnets[c->lab->enis[p->eni].subnet].cidr, 1, &gw);
		else if (!outside)
			ip_addr_parse(TOPOLOGY_ROUTER_LL6, &gw);
		topo_set_err(c->err, c->errlen, "%s: default route %s%s: %s", p->netns,
			     outside ? "dev eth0" : "via ",
			     outside ? "" : ip_addr_format(&gw, buf, sizeof(buf)),
			     nl_strerror(nl, ret));
	} else {
		topo_set_err(c->err, c->errlen, "%s: %s up, mtu %u: %s", p->netns,
			     tag == TAG_LO ? "lo" : "eth0", c->t->mtu, nl_strerror(nl, ret));
	}
}

/* One batch per namespace: loopback and eth0 up, addresses, routes (in
 * that order: a route's device must be up and its gateway on-link). */
static int host_configure(struct chunk *c, size_t k)
{
	const struct topology_port *p = &c->t->ports[c->idx[k]];
	struct nl *nl = c->hs[k].nl;
	const struct ip_addr *a = NULL;
	uint8_t plen = 0;
	int tag = -1, ret = nl_batch_begin(nl);

	if (ret)
		return ret;
	nl_batch_tag(nl, TAG_LO);
	nl_link_up(nl, LOOPBACK_IFINDEX, 0);
	nl_batch_tag(nl, TAG_ETH0);
	nl_link_up(nl, p->peer_ifindex, 0);
	for (size_t i = 0, n = host_addrs(c->lab, p, 0, &a, &plen); i < n; i++) {
		host_addrs(c->lab, p, i, &a, &plen);
		nl_batch_tag(nl, TAG_ADDR + (int)i);
		nl_addr_add(nl, p->peer_ifindex, a, plen, true);
	}
	routes_queue(nl, c->lab, p);
	ret = nl_batch_end(nl, &tag);
	if (ret)
		host_error(c, p, nl, ret, tag);
	return ret;
}

static int chunk_state_lines(struct chunk *c)
{
	struct topo_state_port sp;
	int ret = 0;

	for (size_t k = 0; k < c->n && !ret; k++) {
		topo_state_port_fill(c->lab, &c->t->ports[c->idx[k]], &sp);
		ret = topo_state_add_port(c->t->priv->state_fd, &sp);
	}
	if (ret)
		topo_set_err(c->err, c->errlen, "writing the state file: %s", strerror(-ret));
	return ret;
}

/* The namespaces are needed only while the chunk is built: each is named
 * under /run/netns and the veth holds its own reference. */
static void chunk_close(struct chunk *c)
{
	for (size_t k = 0; k < c->n; k++) {
		struct port_state *ps = &c->t->priv->ps[c->idx[k]];

		nl_close(c->hs[k].nl);
		if (c->hs[k].ethtool_fd >= 0)
			close(c->hs[k].ethtool_fd);
		if (ps->nsfd >= 0)
			close(ps->nsfd);
		ps->nsfd = -1;
	}
}

static int chunk_build(struct chunk *c)
{
	size_t created = 0;
	int ret = chunk_state_lines(c);

	for (size_t k = 0; k < c->n; k++) {
		c->hs[k] = (struct host_socks){NULL, -1};
		c->names[k] = c->t->ports[c->idx[k]].netns;
	}
	if (!ret)
		ret = netns_create_each(c->names, c->n, host_init, c, &created, c->err, c->errlen);
	if (!ret && !stop_requested(c->t, c->err, c->errlen))
		ret = chunk_veths(c);
	else if (!ret)
		ret = -EINTR;
	if (!ret)
		ret = chunk_ifindexes(c);
	if (!ret)
		ret = chunk_router_side(c);
	for (size_t k = 0; k < c->n && !ret; k++)
		ret = host_configure(c, k);
	chunk_close(c);
	return ret;
}

int topo_ports_build(const struct lab *lab, struct topology *t, const size_t *idx, size_t n,
		     char *err, size_t errlen)
{
	struct chunk *c = calloc(1, sizeof(*c));
	int ret = c ? 0 : -ENOMEM;

	if (!c)
		topo_set_err(err, errlen, "out of memory");
	for (size_t done = 0; done < n && !ret; done += c->n) {
		if (stop_requested(t, err, errlen)) {
			ret = -EINTR;
			break;
		}
		memset(c, 0, sizeof(*c));
		c->lab = lab;
		c->t = t;
		c->idx = idx + done;
		c->n = n - done < TOPO_CHUNK ? n - done : TOPO_CHUNK;
		c->err = err;
		c->errlen = errlen;
		ret = chunk_build(c);
	}
	/* A signal can interrupt a syscall of a step: say why it failed. */
	if (ret && t->priv->stop && *t->priv->stop) {
		stop_requested(t, err, errlen);
		ret = -EINTR;
	}
	free(c);
	return ret;
}

/* netns_run passes one pointer: the call, the caller's error buffer, and
 * whether fn ran (else entering the namespace failed). */
struct router_call {
	topology_router_fn *fn;
	void *arg;
	char *err;
	size_t errlen;
	bool ran;
};

static int router_call_run(void *arg)
{
	struct router_call *c = arg;

	c->ran = true;
	return c->fn(c->arg, c->err, c->errlen);
}

int topology_run_in_router(const struct topology *t, topology_router_fn *fn, void *arg, char *err,
			   size_t errlen)
{
	struct router_call c = {fn, arg, err, errlen, false};
	int ret = netns_run(t->router_nsfd, router_call_run, &c);

	if (ret && !c.ran)
		topo_set_err(err, errlen, "entering namespace %s: %s", t->router_ns,
			     strerror(-ret));
	return ret;
}
