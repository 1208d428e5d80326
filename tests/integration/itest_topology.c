/*
 * Root integration test of daemon/topology: builds a small lab (two
 * subnets, three ENIs, one outside host) as namespaces and checks what the
 * kernel reports through iproute2, nft and ethtool, not through our own
 * netlink code: addresses, MTU, routes, router ports, the nft drop table,
 * offloads; that a ping between ENIs goes nowhere and that the router
 * namespace's kernel never sees it (nft counters move, IP InReceives stays
 * flat, and moves as soon as the drop chain is taken away); that destroy
 * leaves nothing. Then: a SIGKILLed owner is cleaned up by the next start
 * (and a live one is not), a foreign namespace with a needed name makes
 * create refuse and build nothing, a stop request before or during the
 * build leaves nothing, and two labs run side by side.
 *
 * Every name carries "t<pid>x", and the tests run in a child process: the
 * parent sweeps every namespace and state directory with that tag however
 * the child ends (assertion, crash, sanitizer abort). Exit 77 when not root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "model.h"
#include "netns.h"
#include "topology.h"

static char tag[32]; /* "t<pid>x": in every name this run creates */
static int checks, failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		checks++;                                                                          \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

/* Runs a shell command, output (stdout+stderr) into out; returns its exit
 * status, or -1. */
static int run(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t len, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	FILE *p;
	size_t n = 0;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (out && len) {
		n = fread(out, 1, len - 1, p);
		out[n] = '\0';
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* --- the lab ------------------------------------------------------------- */

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	if (ip_addr_parse(s, &a))
		abort();
	return a;
}

static struct ip_prefix prefix(const char *s)
{
	struct ip_prefix p;

	if (ip_prefix_parse(s, &p, NULL))
		abort();
	return p;
}

static void eni_init(struct arena *ar, struct eni *e, const char *id, const char *name,
		     int32_t subnet, const char *v4a, const char *v4b, const char *v6)
{
	e->id = arena_strdup(ar, id);
	e->name = name ? arena_strdup(ar, name) : NULL;
	e->instance_id = arena_printf(ar, "i-%s", id + 4);
	e->device_index = 0;
	e->subnet = subnet;
	e->n_ipv4 = v4b ? 2 : 1;
	e->ipv4 = arena_calloc(ar, e->n_ipv4, sizeof(*e->ipv4));
	e->ipv4[0] = addr(v4a);
	if (v4b)
		e->ipv4[1] = addr(v4b);
	if (v6) {
		e->n_ipv6 = 1;
		e->ipv6 = arena_calloc(ar, 1, sizeof(*e->ipv6));
		e->ipv6[0] = addr(v6);
	}
	e->groups = NULL;
}

/* suffix makes a second, disjoint lab ("" for the first). */
static struct lab *lab_build(const char *suffix)
{
	struct arena *ar = arena_create();
	struct lab *lab = arena_alloc(ar, sizeof(*lab));
	char n[64];

	lab->arena = ar;
	lab->name = arena_printf(ar, "%s%s", tag, suffix);
	lab->opts.mtu = 9001;
	lab->n_vpcs = 1;
	lab->vpcs = arena_calloc(ar, 1, sizeof(*lab->vpcs));
	lab->vpcs[0].id = "vpc-test";
	lab->vpcs[0].n_cidrs = 1;
	lab->vpcs[0].cidrs = arena_calloc(ar, 1, sizeof(struct ip_prefix));
	lab->vpcs[0].cidrs[0] = prefix("10.0.0.0/16");
	lab->n_subnets = 2;
	lab->subnets = arena_calloc(ar, 2, sizeof(*lab->subnets));
	lab->subnets[0].id = "subnet-a";
	lab->subnets[0].cidr = prefix("10.0.1.0/24");
	lab->subnets[0].has_cidr6 = true;
	lab->subnets[0].cidr6 = prefix("2001:db8:0:1::/64");
	lab->subnets[1].id = "subnet-b";
	lab->subnets[1].cidr = prefix("10.0.2.0/24");
	lab->n_enis = 3;
	lab->enis = arena_calloc(ar, 3, sizeof(*lab->enis));
	snprintf(n, sizeof(n), "%s%sa", tag, suffix);
	eni_init(ar, &lab->enis[0], arena_printf(ar, "eni-%s%sa", tag, suffix), n, 0, "10.0.1.10",
		 "10.0.1.11", "2001:db8:0:1::10");
	snprintf(n, sizeof(n), "%s%sb", tag, suffix);
	eni_init(ar, &lab->enis[1], arena_printf(ar, "eni-%s%sb", tag, suffix), n, 0, "10.0.1.20",
		 NULL, NULL);
	/* Not a safe label: the namespace is named after the ENI id. */
	snprintf(n, sizeof(n), "Web Server %s%s", tag, suffix);
	eni_init(ar, &lab->enis[2], arena_printf(ar, "eni-%s%sc", tag, suffix), n, 1, "10.0.2.30",
		 NULL, NULL);
	lab->n_outside = 2;
	lab->outside = arena_calloc(ar, 2, sizeof(*lab->outside));
	lab->outside[0].name = arena_printf(ar, "%s%so", tag, suffix);
	lab->outside[0].addr = addr("198.51.100.7");
	lab->outside[1].name = arena_printf(ar, "%s%s6", tag, suffix);
	lab->outside[1].addr = addr("2001:db8:ff::7");
	return lab;
}

static void lab_drop(struct lab *lab)
{
	arena_destroy(lab->arena);
}

/* --- kernel views --------------------------------------------------------- */

static void mac_str(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* How many namespaces and state directories of this run exist. */
static int count_tagged(void)
{
	int n = 0;
	struct dirent *de;
	DIR *d = opendir(NETNS_RUN_DIR);

	if (d) {
		while ((de = readdir(d)))
			if (strstr(de->d_name, tag))
				n++;
		closedir(d);
	}
	d = opendir(TOPOLOGY_RUN_DIR);
	if (d) {
		while ((de = readdir(d)))
			if (strstr(de->d_name, tag))
				n++;
		closedir(d);
	}
	return n;
}

static bool mounts_mention_tag(void)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, tag))
			found = true;
	fclose(f);
	return found;
}

static int read_in_receives(void *arg, char *err, size_t errlen)
{
	unsigned long long *out = arg;
	char line[1024], hdr[1024] = "";
	FILE *f = fopen("/proc/thread-self/net/snmp", "re");

	*out = 0;
	if (!f) {
		int e = errno;

		snprintf(err, errlen, "/proc/thread-self/net/snmp: %s", strerror(e));
		return -e;
	}
	/* "Ip: Forwarding DefaultTTL InReceives ..." then the values. */
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Ip: ", 4))
			continue;
		if (!hdr[0]) {
			snprintf(hdr, sizeof(hdr), "%s", line);
			continue;
		}
		char *hs, *vs, *h = strtok_r(hdr, " \n", &hs), *v = strtok_r(line, " \n", &vs);

		while (h && v && strcmp(h, "InReceives")) {
			h = strtok_r(NULL, " \n", &hs);
			v = strtok_r(NULL, " \n", &vs);
		}
		if (h && v)
			*out = strtoull(v, NULL, 10);
		break;
	}
	fclose(f);
	return 0;
}

static unsigned long long router_in_receives(struct topology *t)
{
	unsigned long long n = 0;
	char err[256];

	topology_run_in_router(t, read_in_receives, &n, err, sizeof(err));
	return n;
}

/* Packets counted by the drop rule of one port's chain. */
static long long chain_packets(const struct topology *t, const char *port)
{
	char out[16384], key[64], *p;

	if (run(out, sizeof(out), "ip netns exec %s nft list chain netdev vpcfw-%s in-%s",
		t->router_ns, t->lab, port))
		return -1;
	p = strstr(out, "counter packets ");
	snprintf(key, sizeof(key), "device \"%s\"", port);
	if (!p || !strstr(out, key) || !strstr(out, "drop"))
		return -1;
	return strtoll(p + strlen("counter packets "), NULL, 10);
}

/* off: what vpcfw sets (GSO stays on: it segments in software before the
 * driver). Kept: the veth defaults (checksum and TSO on). */
static void check_offloads(const char *ns, const char *dev, bool off)
{
	static const char *const want_off[] = {
	    "\ntx-checksumming: off",
	    "\ntcp-segmentation-offload: off",
	    "\ntx-tcp-accecn-segmentation: off",
	    "\ntx-udp-segmentation: off",
	    "\ngeneric-receive-offload: off",
	    "\ngeneric-segmentation-offload: on",
	};
	static const char *const want_kept[] = {"\ntx-checksumming: on",
						"\ntcp-segmentation-offload: on"};
	const char *const *want = off ? want_off : want_kept;
	size_t n = off ? 6 : 2;
	char out[16384], flat[16384];
	size_t j = 0;

	CHECK(run(out, sizeof(out), "ip netns exec %s ethtool -k %s", ns, dev) == 0,
	      "ethtool -k %s in %s: %s", dev, ns, out);
	/* Sub-features are indented with a tab: flatten them. */
	for (size_t i = 0; out[i] && j + 1 < sizeof(flat); i++)
		if (out[i] != '\t')
			flat[j++] = out[i];
	flat[j] = '\0';
	for (size_t i = 0; i < n; i++) {
		/* ethtool 6.1 may not know a newer feature name: skip those. */
		const char *name = want[i] + 1;
		char key[64];

		snprintf(key, sizeof(key), "\n%.*s", (int)(strchr(name, ':') - name + 1), name);
		if (!strstr(flat, key))
			continue;
		CHECK(strstr(flat, want[i]) != NULL, "%s %s: want '%s'", ns, dev, want[i] + 1);
	}
}

static void check_link(const char *ns, const char *dev, int ifindex, const uint8_t *mac)
{
	char out[4096], want[64];

	CHECK(run(out, sizeof(out), "ip -n %s -o link show dev %s", ns, dev) == 0, "%s %s: %s", ns,
	      dev, out);
	CHECK(strstr(out, "mtu 9001 ") != NULL, "%s %s: mtu not 9001: %s", ns, dev, out);
	CHECK(strstr(out, ",UP") || strstr(out, "<UP"), "%s %s not up: %s", ns, dev, out);
	/* "IFINDEX: NAME@...": find that line (ip may warn on stderr first). */
	snprintf(want, sizeof(want), ": %s", dev);
	const char *line = strstr(out, want);

	while (line && line > out && line[-1] != '\n')
		line--;
	CHECK(line && atoi(line) == ifindex, "%s %s: topology says ifindex %d, ip says: %s", ns,
	      dev, ifindex, out);
	mac_str(mac, want, sizeof(want));
	CHECK(strstr(out, want) != NULL, "%s %s: mac %s not in %s", ns, dev, want, out);
}

static void check_has(const char *out, const char *want, const char *what)
{
	CHECK(strstr(out, want) != NULL, "%s: '%s' not in:\n%s", what, want, out);
}

static void check_eni_ns(const struct topology *t, size_t i, const char *const *addrs,
			 const char *gw4, bool v6)
{
	const struct topology_port *p = &t->ports[i];
	char out[8192];

	CHECK(netns_exists(p->netns), "namespace %s missing", p->netns);
	check_link(p->netns, "eth0", p->peer_ifindex, p->peer_mac);
	run(out, sizeof(out), "ip -n %s -o addr show dev eth0", p->netns);
	for (; *addrs; addrs++)
		check_has(out, *addrs, p->netns);
	run(out, sizeof(out), "ip -n %s -o link show dev lo", p->netns);
	check_has(out, "UP", "loopback");
	run(out, sizeof(out), "ip -n %s route show default", p->netns);
	check_has(out, gw4, p->netns);
	if (v6) {
		run(out, sizeof(out), "ip -n %s -6 route show default", p->netns);
		check_has(out, "default via " TOPOLOGY_ROUTER_LL6 " dev eth0", p->netns);
	}
	check_link(t->router_ns, p->name, p->ifindex, p->mac);
	CHECK(chain_packets(t, p->name) >= 0, "no drop chain for %s", p->name);
	check_offloads(p->netns, "eth0", !t->offloads_kept);
	check_offloads(t->router_ns, p->name, !t->offloads_kept);
}

/* --- tests ----------------------------------------------------------------- */

/* vpcfw exec finds each endpoint by every name it has and passes the
 * program's exit status through. */
static void test_exec(const struct topology *t, const struct lab *lab)
{
	const char *bin = getenv("VPCFW_BINARY_DIR");
	char vpcfw[PATH_MAX], out[4096];
	const char *show = "-- ip -o addr show dev eth0";

	snprintf(vpcfw, sizeof(vpcfw), "%s/vpcfw", bin ? bin : ".");
	if (!bin || access(vpcfw, X_OK)) {
		printf("itest_topology: no vpcfw binary (VPCFW_BINARY_DIR), exec not tested\n");
		return;
	}
	CHECK(run(out, sizeof(out), "%s exec %s %s", vpcfw, lab->enis[0].name, show) == 0 &&
		  strstr(out, "10.0.1.10/24"),
	      "exec by Name tag: %s", out);
	CHECK(run(out, sizeof(out), "%s exec %s %s", vpcfw, lab->enis[2].instance_id, show) == 0 &&
		  strstr(out, "10.0.2.30/24"),
	      "exec by instance id: %s", out);
	CHECK(run(out, sizeof(out), "%s exec '%s' %s", vpcfw, lab->enis[2].name, show) == 0 &&
		  strstr(out, "10.0.2.30/24"),
	      "exec by a Name tag with a space: %s", out);
	CHECK(run(out, sizeof(out), "%s exec --lab %s %s ip -o addr show dev eth0", vpcfw, t->lab,
		  lab->enis[1].id) == 0 &&
		  strstr(out, "10.0.1.20/24"),
	      "exec by ENI id with --lab: %s", out);
	CHECK(run(out, sizeof(out), "%s exec %s %s", vpcfw, lab->outside[0].name, show) == 0 &&
		  strstr(out, "198.51.100.7/32"),
	      "exec into the outside host: %s", out);
	CHECK(run(out, sizeof(out), "%s exec %s -- sh -c 'exit 7'", vpcfw, lab->enis[1].name) == 7,
	      "exit status not passed through: %s", out);
	CHECK(run(out, sizeof(out), "%s exec nosuch%s -- true", vpcfw, tag) == 125 &&
		  strstr(out, "no namespace"),
	      "unknown name: %s", out);
	CHECK(run(out, sizeof(out), "%s exec %s -- /nonexistent/prog", vpcfw, lab->enis[1].name) ==
		  127,
	      "missing program: %s", out);
	if (access("/usr/sbin/runuser", X_OK) == 0)
		CHECK(run(out, sizeof(out), "/usr/sbin/runuser -u nobody -- %s exec %s -- true",
			  vpcfw, lab->enis[1].name) == 125 &&
			  strstr(out, "needs root"),
		      "non-root: %s", out);
}

static void test_build_isolate_destroy(void)
{
	static const char *const a_addrs[] = {"inet 10.0.1.10/24", "inet 10.0.1.11/24",
					      "inet6 2001:db8:0:1::10/64", NULL};
	static const char *const b_addrs[] = {"inet 10.0.1.20/24", NULL};
	static const char *const c_addrs[] = {"inet 10.0.2.30/24", NULL};
	static const char *const o6_addrs[] = {"inet6 2001:db8:ff::7/128", NULL};
	static const char *const o_addrs[] = {"inet 198.51.100.7/32", NULL};
	struct lab *lab = lab_build("");
	struct topology *t = NULL;
	char err[512] = "", out[8192], ns[NETNS_NAME_MAX], mac[32];
	unsigned long long before, after;
	long long dropped0, dropped1;
	int ret, rfd;

	ret = topology_create(lab, NULL, &t, err, sizeof(err));
	CHECK(ret == 0, "topology_create: %d %s", ret, err);
	if (ret) {
		lab_drop(lab);
		return;
	}
	CHECK(t->n_ports == 5, "5 ports, got %zu", t->n_ports);
	snprintf(ns, sizeof(ns), "vpcfw-eni-%sc", tag);
	CHECK(!strcmp(t->ports[2].netns, ns), "unsafe Name tag: %s, want %s", t->ports[2].netns,
	      ns);
	CHECK(netns_exists(t->router_ns), "router namespace %s", t->router_ns);
	/* grep, not a buffer: other labs on the machine may list thousands */
	CHECK(run(out, sizeof(out), "ip netns list | grep -q -e '^%s\\( \\|$\\)'", t->router_ns) == 0,
	      "ip netns list misses %s", t->router_ns);
	check_eni_ns(t, 0, a_addrs, "default via 10.0.1.1 dev eth0", true);
	check_eni_ns(t, 1, b_addrs, "default via 10.0.1.1 dev eth0", false);
	check_eni_ns(t, 2, c_addrs, "default via 10.0.2.1 dev eth0", false);
	check_eni_ns(t, 3, o_addrs, "default dev eth0", false);
	check_eni_ns(t, 4, o6_addrs, "", false);
	run(out, sizeof(out), "ip -n %s -6 route show default", t->ports[4].netns);
	check_has(out, "default dev eth0", "IPv6 outside host");
	CHECK(topology_port_of_eni(t, 2) == &t->ports[2], "port of ENI 2");
	CHECK(topology_port_of_outside(t, 0) == &t->ports[3], "port of outside 0");
	CHECK(topology_port_of_outside(t, 1) == &t->ports[4], "port of outside 1");
	run(out, sizeof(out), "ip -n %s -o addr", t->router_ns);
	CHECK(!strstr(out, "inet"), "router namespace has addresses:\n%s", out);

	/* Nobody answers ARP: same subnet and across subnets, nothing. */
	before = router_in_receives(t);
	dropped0 = chain_packets(t, t->ports[0].name);
	CHECK(run(NULL, 0, "ip netns exec %s ping -c 2 -i 0.2 -W 1 10.0.1.20", t->ports[0].netns),
	      "ping within a subnet succeeded without a data path");
	CHECK(run(NULL, 0, "ip netns exec %s ping -c 2 -i 0.2 -W 1 10.0.2.30", t->ports[0].netns),
	      "ping across subnets succeeded without a data path");
	CHECK(run(NULL, 0, "ip netns exec %s ping -6 -c 2 -i 0.2 -W 1 2001:db8:0:2::1",
		  t->ports[0].netns),
	      "IPv6 ping succeeded without a data path");
	/* Even with the router's MAC known, IP frames die at ingress. */
	mac_str(t->ports[0].mac, mac, sizeof(mac));
	CHECK(run(out, sizeof(out),
		  "ip -n %s neigh replace 10.0.1.1 lladdr %s dev eth0 nud permanent",
		  t->ports[0].netns, mac) == 0,
	      "neigh: %s", out);
	CHECK(run(NULL, 0, "ip netns exec %s ping -c 3 -i 0.2 -W 1 10.0.2.30", t->ports[0].netns),
	      "ping via the router's MAC succeeded without a data path");
	after = router_in_receives(t);
	dropped1 = chain_packets(t, t->ports[0].name);
	CHECK(dropped1 >= dropped0 + 3, "drop counter %lld -> %lld: ICMP did not reach the chain",
	      dropped0, dropped1);
	CHECK(after == before, "router IP InReceives moved %llu -> %llu", before, after);

	/* Control: without the chain the router's kernel does see them. */
	ret = topology_port_drop(t, 0, false, err, sizeof(err));
	CHECK(ret == 0, "removing the drop chain: %s", err);
	CHECK(chain_packets(t, t->ports[0].name) < 0, "chain still listed after removal");
	run(NULL, 0, "ip netns exec %s ping -c 3 -i 0.2 -W 1 10.0.2.30", t->ports[0].netns);
	after = router_in_receives(t);
	CHECK(after >= before + 3, "without the drop chain InReceives should move: %llu -> %llu",
	      before, after);
	ret = topology_port_drop(t, 0, true, err, sizeof(err));
	CHECK(ret == 0 && chain_packets(t, t->ports[0].name) == 0, "re-adding the chain: %s", err);

	test_exec(t, lab);

	/* Destroy removes everything; the test keeps the router namespace
	 * alive through an fd to see that ports and table went explicitly. */
	rfd = netns_open(t->router_ns);
	topology_destroy(t);
	CHECK(count_tagged() == 0, "namespaces or state left after destroy");
	CHECK(!mounts_mention_tag(), "mounts left after destroy");
	if (rfd >= 0) {
		int saved;

		if (netns_enter(rfd, &saved) == 0) {
			run(out, sizeof(out), "ip -o link show");
			CHECK(!strncmp(out, "1: lo:", 6) && !strchr(out, '\n')[1],
			      "router ns should hold only lo:\n%s", out);
			run(out, sizeof(out), "nft list tables");
			CHECK(!strstr(out, tag), "nft table left: %s", out);
			netns_leave(saved);
		}
		close(rfd);
	}
	lab_drop(lab);
}

static void test_offloads_kept(void)
{
	struct lab *lab = lab_build("");
	struct topology_options o = {.keep_offloads = true};
	struct topology *t = NULL;
	char err[512] = "";
	int ret = topology_create(lab, &o, &t, err, sizeof(err));

	CHECK(ret == 0, "topology_create keep_offloads: %s", err);
	if (!ret) {
		CHECK(t->offloads_kept, "offloads_kept");
		check_offloads(t->ports[0].netns, "eth0", false);
		check_offloads(t->router_ns, t->ports[0].name, false);
		topology_destroy(t);
	}
	CHECK(count_tagged() == 0, "left after destroy (offloads kept)");
	lab_drop(lab);
}

static void test_sigkill_then_restart(void)
{
	struct lab *lab = lab_build("");
	struct topology *t = NULL;
	char err[512] = "", ok = 0;
	int pfd[2], st, ret;
	pid_t child;

	if (pipe(pfd))
		return;
	child = fork();
	if (child == 0) {
		close(pfd[0]);
		ok = topology_create(lab, NULL, &t, err, sizeof(err)) == 0 ? 'y' : 'n';
		if (write(pfd[1], &ok, 1) != 1 || ok != 'y')
			fprintf(stderr, "child: %s\n", err);
		for (;;)
			pause();
	}
	close(pfd[1]);
	CHECK(read(pfd[0], &ok, 1) == 1 && ok == 'y', "child failed to build the lab");
	close(pfd[0]);

	/* A live owner: refuse, touch nothing. */
	ret = topology_create(lab, NULL, &t, err, sizeof(err));
	CHECK(ret == -EBUSY, "second start while the owner lives: %d (%s)", ret, err);
	CHECK(strstr(err, "running") != NULL, "message: %s", err);
	CHECK(count_tagged() == 7, "live lab's namespaces intact: %d", count_tagged());

	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	CHECK(count_tagged() == 7, "SIGKILL left 6 namespaces + state dir: %d", count_tagged());

	ret = topology_create(lab, NULL, &t, err, sizeof(err));
	CHECK(ret == 0, "restart after SIGKILL: %d %s", ret, err);
	if (!ret) {
		CHECK(t->stale_removed == 6, "stale namespaces removed: %zu", t->stale_removed);
		CHECK(netns_exists(t->ports[1].netns), "rebuilt %s", t->ports[1].netns);
		topology_destroy(t);
	}
	CHECK(count_tagged() == 0, "left after destroy (restart)");
	lab_drop(lab);
}

/* Killed in the middle of building, at a few different moments: whatever
 * the state file lists (things not yet created, a torn last line, an empty
 * file) the next start cleans up and builds. */
static void test_sigkill_mid_build(void)
{
	static const int delays_us[] = {0, 2000, 15000, 60000};
	struct lab *lab = lab_build("");
	char err[512] = "";

	for (size_t i = 0; i < sizeof(delays_us) / sizeof(delays_us[0]); i++) {
		struct topology *t = NULL;
		pid_t child = fork();
		int st, ret;

		if (child == 0) {
			if (topology_create(lab, NULL, &t, err, sizeof(err)) == 0)
				for (;;)
					pause();
			_exit(1);
		}
		usleep((useconds_t)delays_us[i]);
		kill(child, SIGKILL);
		waitpid(child, &st, 0);
		ret = topology_create(lab, NULL, &t, err, sizeof(err));
		CHECK(ret == 0, "start after a kill at %d us: %d %s", delays_us[i], ret, err);
		if (!ret) {
			CHECK(netns_exists(t->ports[3].netns), "rebuilt after a kill at %d us",
			      delays_us[i]);
			printf("itest_topology: killed at %d us, %zu namespaces left behind\n",
			       delays_us[i], t->stale_removed);
		}
		topology_destroy(t);
		CHECK(count_tagged() == 0, "left after a kill at %d us: %d", delays_us[i],
		      count_tagged());
	}
	lab_drop(lab);
}

static void test_collision(void)
{
	struct lab *lab = lab_build("");
	struct topology *t = (struct topology *)1;
	char err[512] = "", foreign[NETNS_NAME_MAX], out[1024];
	int ret;

	snprintf(foreign, sizeof(foreign), "vpcfw-%sb", tag);
	CHECK(run(out, sizeof(out), "ip netns add %s", foreign) == 0, "ip netns add: %s", out);
	ret = topology_create(lab, NULL, &t, err, sizeof(err));
	CHECK(ret == -EEXIST, "collision: %d (%s)", ret, err);
	CHECK(t == NULL, "out set on failure");
	CHECK(strstr(err, foreign) != NULL, "message names %s: %s", foreign, err);
	CHECK(count_tagged() == 1, "only the foreign namespace exists: %d", count_tagged());
	CHECK(netns_exists(foreign), "foreign namespace untouched");
	run(NULL, 0, "ip netns del %s", foreign);
	lab_drop(lab);
}

/* A failure after the router and two ports exist (the third ENI carries
 * one address twice: the kernel refuses the second) rolls back all of it. */
static void test_rollback(void)
{
	struct lab *lab = lab_build("");
	struct topology *t = (struct topology *)1;
	struct eni *c = &lab->enis[2];
	char err[512] = "";
	int ret;

	c->ipv4 = arena_calloc(lab->arena, 2, sizeof(*c->ipv4));
	c->ipv4[0] = addr("10.0.2.30");
	c->ipv4[1] = addr("10.0.2.30");
	c->n_ipv4 = 2;
	ret = topology_create(lab, NULL, &t, err, sizeof(err));
	CHECK(ret == -EEXIST, "duplicate address: %d (%s)", ret, err);
	CHECK(t == NULL, "out set on failure");
	CHECK(strstr(err, "10.0.2.30/24") && strstr(err, "eni-"), "message: %s", err);
	CHECK(count_tagged() == 0, "rollback left %d namespaces/state dirs", count_tagged());
	CHECK(!mounts_mention_tag(), "rollback left mounts");
	lab_drop(lab);
}

static volatile sig_atomic_t stop_flag;

static void on_alarm(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* A stop request (vpcfwd's SIGTERM during start-up) before the build and
 * in the middle of it: -EINTR, and nothing of the lab is left. The second
 * lab has 200 ENIs, so the alarm 30 ms in lands while it is being built
 * (its namespaces alone take longer than that). */
static void test_stop(void)
{
	struct lab *lab = lab_build("");
	struct topology_options o = {.stop = &stop_flag};
	struct topology *t = (struct topology *)1;
	struct itimerval it = {.it_value = {0, 30 * 1000}};
	struct sigaction sa;
	char err[512] = "";
	int ret;

	stop_flag = 1;
	ret = topology_create(lab, &o, &t, err, sizeof(err));
	CHECK(ret == -EINTR && t == NULL, "stop before the build: %d (%s)", ret, err);
	CHECK(strstr(err, "stop requested") != NULL, "message: %s", err);
	CHECK(count_tagged() == 0, "stop before the build left %d", count_tagged());

	lab->n_enis = 200;
	lab->enis = arena_calloc(lab->arena, lab->n_enis, sizeof(*lab->enis));
	for (size_t i = 0; i < lab->n_enis; i++) {
		char n[64], a[32];

		snprintf(n, sizeof(n), "%se%zu", tag, i);
		snprintf(a, sizeof(a), "10.0.2.%zu", 10 + i);
		eni_init(lab->arena, &lab->enis[i], arena_printf(lab->arena, "eni-%se%zu", tag, i),
			 n, 1, a, NULL, NULL);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: syscalls see EINTR too */
	sigaction(SIGALRM, &sa, NULL);
	stop_flag = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	err[0] = '\0';
	ret = topology_create(lab, &o, &t, err, sizeof(err));
	CHECK(ret == -EINTR && t == NULL, "stop during the build: %d (%s)", ret, err);
	if (!ret)
		topology_destroy(t);
	CHECK(count_tagged() == 0, "stop during the build left %d namespaces/state dirs",
	      count_tagged());
	CHECK(!mounts_mention_tag(), "stop during the build left mounts");
	signal(SIGALRM, SIG_DFL);
	lab_drop(lab);
}

static void test_two_labs(void)
{
	struct lab *l1 = lab_build(""), *l2 = lab_build("2");
	struct topology *t1 = NULL, *t2 = NULL;
	char err[512] = "";

	CHECK(topology_create(l1, NULL, &t1, err, sizeof(err)) == 0, "lab 1: %s", err);
	CHECK(topology_create(l2, NULL, &t2, err, sizeof(err)) == 0, "lab 2: %s", err);
	if (t1 && t2) {
		CHECK(strcmp(t1->ports[0].name, t2->ports[0].name), "port names differ per lab");
		CHECK(count_tagged() == 14, "two labs: 12 namespaces + 2 state dirs: %d",
		      count_tagged());
	}
	topology_destroy(t2);
	topology_destroy(t1);
	CHECK(count_tagged() == 0, "left after two labs");
	lab_drop(l1);
	lab_drop(l2);
}

/* The naming rules of docs/topology.md, without building anything. */
static void test_names(void)
{
	struct lab *lab = lab_build("");
	struct eni *e = lab->enis;
	char ns[NETNS_NAME_MAX];

	/* One instance, two ENIs with its Name: device index 0 keeps it. */
	e[0].name = "web";
	e[1].name = "web";
	e[1].instance_id = e[0].instance_id;
	e[0].device_index = 1;
	e[1].device_index = 0;
	topology_eni_netns(lab, 1, ns, sizeof(ns));
	CHECK(!strcmp(ns, "vpcfw-web"), "device index 0 keeps the Name: %s", ns);
	topology_eni_netns(lab, 0, ns, sizeof(ns));
	CHECK(!strncmp(ns, "vpcfw-eni-", 10), "device index 1 falls back to its id: %s", ns);
	/* Two instances sharing a Name (an Auto Scaling group): neither. */
	e[1].instance_id = "i-other";
	topology_eni_netns(lab, 1, ns, sizeof(ns));
	CHECK(!strncmp(ns, "vpcfw-eni-", 10), "shared Name across instances: %s", ns);
	/* Too long, upper case: the ENI id. 15 characters is fine. */
	e[0].name = "abcdefghijklmnop";
	topology_eni_netns(lab, 0, ns, sizeof(ns));
	CHECK(!strncmp(ns, "vpcfw-eni-", 10), "16-character Name: %s", ns);
	e[0].name = "abcdefghijklmno";
	topology_eni_netns(lab, 0, ns, sizeof(ns));
	CHECK(!strcmp(ns, "vpcfw-abcdefghijklmno"), "15-character Name: %s", ns);
	e[0].name = "Web";
	topology_eni_netns(lab, 0, ns, sizeof(ns));
	CHECK(!strncmp(ns, "vpcfw-eni-", 10), "upper case Name: %s", ns);
	lab->outside[0].name = "the internet";
	topology_outside_netns(lab, 0, ns, sizeof(ns));
	CHECK(!strcmp(ns, "vpcfw-outside0"), "unsafe outside host name: %s", ns);
	CHECK(topology_eni_netns(lab, 3, ns, sizeof(ns)) == -EINVAL, "ENI index out of range");
	lab_drop(lab);
}

/* A lab topology_create must refuse before touching anything. */
static void test_bad_labs(void)
{
	struct lab *lab = lab_build("");
	struct topology *t = NULL;
	char err[512] = "";

	lab->name = "bad name";
	CHECK(topology_create(lab, NULL, &t, err, sizeof(err)) == -EINVAL &&
		  strstr(err, "bad name"),
	      "lab name with a space: %s", err);
	lab->name = tag;
	lab->enis[2].n_ipv6 = 1;
	lab->enis[2].ipv6 = lab->enis[0].ipv6;
	CHECK(topology_create(lab, NULL, &t, err, sizeof(err)) == -EINVAL &&
		  strstr(err, "no IPv6 CIDR"),
	      "IPv6 address in an IPv4-only subnet: %s", err);
	lab->enis[2].n_ipv6 = 0;
	lab->enis[1].name = lab->outside[0].name;
	CHECK(topology_create(lab, NULL, &t, err, sizeof(err)) == -EINVAL &&
		  strstr(err, "map to namespace"),
	      "ENI and outside host with one name: %s", err);
	CHECK(t == NULL && count_tagged() == 0, "refused labs created something");
	lab_drop(lab);
}

static void sweep(void)
{
	struct dirent *de;
	DIR *d = opendir(NETNS_RUN_DIR);
	char path[PATH_MAX];

	if (d) {
		while ((de = readdir(d)))
			if (strstr(de->d_name, tag))
				netns_delete(de->d_name);
		closedir(d);
	}
	d = opendir(TOPOLOGY_RUN_DIR);
	if (d) {
		while ((de = readdir(d))) {
			if (!strstr(de->d_name, tag))
				continue;
			snprintf(path, sizeof(path), "%s/%s/topology.state", TOPOLOGY_RUN_DIR,
				 de->d_name);
			unlink(path);
			snprintf(path, sizeof(path), "%s/%s", TOPOLOGY_RUN_DIR, de->d_name);
			rmdir(path);
		}
		closedir(d);
	}
}

static int run_tests(void)
{
	test_names();
	test_bad_labs();
	test_build_isolate_destroy();
	test_offloads_kept();
	test_sigkill_then_restart();
	test_sigkill_mid_build();
	test_collision();
	test_rollback();
	test_stop();
	test_two_labs();
	printf("itest_topology: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}

int main(void)
{
	pid_t child;
	int st;

	if (geteuid() != 0) {
		fprintf(stderr, "itest_topology: needs root, skipped\n");
		return 77;
	}
	snprintf(tag, sizeof(tag), "t%dx", (int)getpid());
	fflush(NULL);
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0)
		exit(run_tests()); /* exit, not _exit: LeakSanitizer runs at exit */
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	/* Whatever happened in the child, nothing of this run survives. */
	if (count_tagged()) {
		fprintf(stderr, "itest_topology: sweeping %d leftovers\n", count_tagged());
		sweep();
	}
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "itest_topology: tests died of signal %d\n", WTERMSIG(st));
		return 1;
	}
	return WEXITSTATUS(st);
}
