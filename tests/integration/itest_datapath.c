/*
 * The data path with real traffic, driven directly (no vpcfwd): a two-subnet
 * lab with an outside host is built as namespaces (daemon/topology), the
 * datapath and its loop run in a thread of this process, and sockets opened
 * inside the instances' namespaces (setns on this thread only) talk through
 * it. Proves: ARP for the gateway and for a same-subnet peer resolves to the
 * router port's MAC; an allowed TCP connection carries data intact (the
 * kernel drops segments with bad checksums, so intact data means correct
 * ones) over IPv4 and IPv6; one the SG blocks times out with no RST; traffic
 * inside one subnet crosses the daemon; the internet gateway's 1:1 NAT;
 * counters per ENI and stage; a malformed frame is counted and dropped; flow
 * log lines. Root only (exit 77 otherwise); every namespace is removed even
 * when a check fails, and names carry the process id.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checksum.h"
#include "conntrack.h"
#include "datapath.h"
#include "diag.h"
#include "load.h"
#include "loop.h"
#include "netns.h"
#include "packet.h"
#include "topology.h"

static int fails, checks;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		checks++;                                                                          \
		if (cond) {                                                                        \
			printf("ok   ");                                                           \
		} else {                                                                           \
			printf("FAIL ");                                                           \
			fails++;                                                                   \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		putchar('\n');                                                                     \
		fflush(stdout);                                                                    \
	} while (0)

/* ------------------------------------------------------------ the lab */

static char sfx[8];
static unsigned lab_mtu = 9001;
static char lab_name[40], web[16], cli[16], peer[16], ext[16];

#define LAB_FMT                                                                                    \
	"{ \"lab\": \"%s\", \"options\": { \"mtu\": %u },"                                         \
	"  \"outside\": [ { \"name\": \"%s\", \"addr\": \"203.0.113.77\" } ],"                     \
	"  \"vpcs\": [ { \"name\": \"v\", \"cidr\": \"10.77.0.0/16\", \"ipv6\": "                  \
	"\"2001:db8:77::/56\","                                                                    \
	"    \"route_tables\": ["                                                                  \
	"      { \"name\": \"pub\", \"routes\": [ { \"dest\": \"0.0.0.0/0\", \"target\": \"igw\" " \
	"} ] },"                                                                                   \
	"      { \"name\": \"priv\", \"main\": true, \"routes\": [] } ],"                          \
	"    \"subnets\": ["                                                                       \
	"      { \"name\": \"a\", \"az\": \"us-east-1a\", \"cidr\": \"10.77.1.0/24\","             \
	"        \"ipv6\": \"2001:db8:77:1::/64\", \"route_table\": \"pub\" },"                    \
	"      { \"name\": \"b\", \"az\": \"us-east-1b\", \"cidr\": \"10.77.2.0/24\","             \
	"        \"ipv6\": \"2001:db8:77:2::/64\", \"nacl\": \"nb\" } ],"                          \
	"    \"nacls\": [ { \"name\": \"nb\","                                                     \
	"        \"ingress\": ["                                                                   \
	"          { \"rule\": 100, \"action\": \"allow\", \"proto\": \"-1\", \"cidr\": "          \
	"\"0.0.0.0/0\" },"                                                                         \
	"          { \"rule\": 101, \"action\": \"allow\", \"proto\": \"-1\", \"cidr\": \"::/0\" " \
	"} ],"                                                                                     \
	"        \"egress\": ["                                                                    \
	"          { \"rule\": 90, \"action\": \"deny\", \"proto\": \"tcp\", \"ports\": \"7070\"," \
	"            \"cidr\": \"0.0.0.0/0\" },"                                                   \
	"          { \"rule\": 100, \"action\": \"allow\", \"proto\": \"-1\", \"cidr\": "          \
	"\"0.0.0.0/0\" },"                                                                         \
	"          { \"rule\": 101, \"action\": \"allow\", \"proto\": \"-1\", \"cidr\": \"::/0\" " \
	"} ] } ],"                                                                                 \
	"    \"security_groups\": ["                                                               \
	"      { \"name\": \"web\", \"ingress\": ["                                                \
	"          { \"proto\": \"tcp\", \"ports\": \"%s\","                                       \
	"            \"from\": [\"10.77.0.0/16\", \"2001:db8:77::/56\", \"203.0.113.0/24\"] },"    \
	"          { \"proto\": \"tcp\", \"ports\": \"7070\", \"from\": \"10.77.0.0/16\" },"       \
	"          { \"proto\": \"udp\", \"ports\": \"5000\", \"from\": \"10.77.0.0/16\" },"       \
	"          { \"proto\": \"icmp\", \"from\": \"10.77.0.0/16\" },"                           \
	"          { \"proto\": \"tcp\", \"ports\": \"5201\", \"from\": \"10.77.2.10/32\" },"      \
	"          { \"proto\": \"udp\", \"ports\": \"5201\", \"from\": \"10.77.2.10/32\" } ],"    \
	"        \"egress\": [ { \"proto\": \"-1\", \"to\": [\"0.0.0.0/0\", \"::/0\"] } ] },"      \
	"      { \"name\": \"cli\", \"ingress\": [],"                                              \
	"        \"egress\": [ { \"proto\": \"-1\", \"to\": [\"0.0.0.0/0\", \"::/0\"] } ] } ],"    \
	"    \"enis\": ["                                                                          \
	"      { \"name\": \"%s\", \"subnet\": \"a\", \"ip\": \"10.77.1.10\","                     \
	"        \"ipv6\": \"2001:db8:77:1::10\", \"public_ip\": \"198.51.100.77\","               \
	"        \"groups\": [\"web\"] },"                                                         \
	"      { \"name\": \"%s\", \"subnet\": \"b\", \"ip\": \"10.77.2.10\","                     \
	"        \"ipv6\": \"2001:db8:77:2::10\", \"groups\": [\"cli\"] },"                        \
	"      { \"name\": \"%s\", \"subnet\": \"a\", \"ip\": \"10.77.1.11\", \"groups\": "        \
	"[\"cli\"],"                                                                               \
	"        \"conntrack_allowance\": 3 }"                                                     \
	"    ] } ] }"

/* web_port: the port web's first ingress rule opens (8080; a reload
 * changes it). */
static struct lab *load_lab(const char *web_port)
{
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *lab = NULL;
	char json[6144];
	char line[1024];
	int n;

	n = snprintf(json, sizeof(json), LAB_FMT, lab_name, lab_mtu, ext, web_port, web, cli, peer);
	lab_load_opts_init(&o);
	diag_init(&d);
	if (lab_load_buffer("itest_datapath.json", json, (size_t)n, &o, &lab, &d) < 0)
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", diag_format(&d.items[i], line, sizeof(line)));
	diag_free(&d);
	return lab;
}

/* --------------------------------------------------- the running daemon */

static struct datapath *dp;
static struct loop *lp;
static pthread_t loop_thread;
static bool loop_running;

static double loop_cpu_total;

static void *loop_main(void *arg)
{
	struct timespec ts;

	(void)arg;
	loop_run(lp);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	loop_cpu_total += (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	return NULL;
}

static void loop_start(void)
{
	if (!loop_running && pthread_create(&loop_thread, NULL, loop_main, NULL) == 0)
		loop_running = true;
}

/* Stops the loop so that counters are read without racing it. */
static void loop_pause(void)
{
	if (!loop_running)
		return;
	loop_stop(lp);
	pthread_join(loop_thread, NULL);
	loop_running = false;
}

static struct lab *reloaded; /* freed after the datapath */
static struct lab *wrongly_accepted;
static struct dp_stats st;
static struct dp_eni_stats est[3];

static void snapshot(void)
{
	loop_pause();
	datapath_stats(dp, &st, est, 3);
	loop_start();
}

/* ------------------------------------------------- sockets in a netns */

struct sock_req {
	int family, type;
	int fd;
};

static int open_socket(void *arg)
{
	struct sock_req *r = arg;

	r->fd = socket(r->family, r->type | SOCK_CLOEXEC, 0);
	return r->fd < 0 ? -errno : 0;
}

static int ns_socket(const char *ns, int family, int type)
{
	struct sock_req r = {family, type, -1};
	int nsfd = netns_open(ns);

	if (nsfd < 0)
		return -1;
	netns_run(nsfd, open_socket, &r);
	close(nsfd);
	return r.fd;
}

static void sockaddr_of(const char *addr, uint16_t port, struct sockaddr_storage *ss,
			socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		*len = sizeof(*s4);
	}
}

static int ns_listen(const char *ns, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;
	int fd;

	sockaddr_of(addr, port, &ss, &len);
	fd = ns_socket(ns, ss.ss_family, SOCK_STREAM);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The server: accepts one connection at a time and echoes every byte back,
 * until the listening socket is shut down. */
static void *echo_server(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	char buf[65536];

	for (;;) {
		int c = accept(lfd, NULL, NULL);
		ssize_t n;

		if (c < 0)
			return NULL;
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (write(c, buf, (size_t)n) != n)
				break;
		close(c);
	}
}

/* Connects from ns to addr:port within timeout_ms. 0, or -errno
 * (-ETIMEDOUT when nothing answered at all). */
static int ns_connect(const char *ns, const char *addr, uint16_t port, int timeout_ms, int *out)
{
	struct sockaddr_storage ss;
	struct pollfd pfd;
	socklen_t len, elen = sizeof(int);
	int fd, e = 0;

	sockaddr_of(addr, port, &ss, &len);
	fd = ns_socket(ns, ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK);
	if (fd < 0)
		return -EIO;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		e = -errno;
		close(fd);
		return e;
	}
	pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
	if (poll(&pfd, 1, timeout_ms) == 0) {
		close(fd);
		return -ETIMEDOUT;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen);
	if (e) {
		close(fd);
		return -e;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*out = fd;
	return 0;
}

/* Sends len bytes of a pattern and reads them back; true when every byte
 * returned intact. */
static bool echo_roundtrip(int fd, size_t len)
{
	static unsigned char out[1 << 20], in[1 << 20];
	struct timeval tv = {5, 0};
	size_t sent = 0, got = 0;

	if (len > sizeof(out))
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = (unsigned char)(i * 7 + (i >> 11));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (got < len) {
		if (sent < len) {
			ssize_t n = send(fd, out + sent, len - sent > 65536 ? 65536 : len - sent,
					 MSG_DONTWAIT);

			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				return false;
		}
		ssize_t n = recv(fd, in + got, len - got, sent < len ? MSG_DONTWAIT : 0);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return false;
		if (n > 0)
			got += (size_t)n;
		else if (sent >= len)
			return false;
	}
	return memcmp(in, out, len) == 0;
}

static bool connect_and_echo(const char *ns, const char *addr, uint16_t port, size_t len)
{
	int fd = -1;
	bool ok;

	if (ns_connect(ns, addr, port, 3000, &fd) < 0)
		return false;
	ok = echo_roundtrip(fd, len);
	close(fd);
	return ok;
}

/* ------------------------------------------------------------- ARP */

struct arp_req {
	const char *ip;
	char mac[32];
};

static int read_arp(void *arg)
{
	struct arp_req *r = arg;
	char line[256], ip[64], hw[32];
	FILE *f = fopen("/proc/thread-self/net/arp", "r");

	r->mac[0] = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %*s %*s %31s", ip, hw) == 2 && strcmp(ip, r->ip) == 0)
			snprintf(r->mac, sizeof(r->mac), "%s", hw);
	fclose(f);
	return 0;
}

static bool arp_is(const char *ns, const char *ip, const uint8_t mac[6])
{
	struct arp_req r = {ip, ""};
	char want[32];
	int nsfd = netns_open(ns);

	if (nsfd < 0)
		return false;
	netns_run(nsfd, read_arp, &r);
	close(nsfd);
	snprintf(want, sizeof(want), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	return strcmp(r.mac, want) == 0;
}

/* ------------------------------------------------- a malformed frame */

/* An IPv4 header claiming 1400 bytes in a 60-byte frame, sent raw from
 * the instance's eth0 to the router port's MAC. */
/* An IPv4/UDP frame from src to 10.77.1.10, raw from the instance's eth0
 * to the router port's MAC; ip_len is what the header claims (28 when
 * honest), so a larger one makes the frame lie about its length. */
static bool send_raw_udp(const char *ns, const uint8_t router_mac[6], int ifindex, const char *src,
			 unsigned ip_len)
{
	uint8_t f[60] = {0};
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6};
	int fd = ns_socket(ns, AF_PACKET, SOCK_RAW);
	bool ok;

	if (fd < 0)
		return false;
	memcpy(f, router_mac, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = (uint8_t)(ip_len >> 8);
	f[17] = (uint8_t)ip_len;
	f[22] = 64;
	f[23] = 17;
	inet_pton(AF_INET, src, f + 26);
	inet_pton(AF_INET, "10.77.1.10", f + 30);
	f[34] = 0x30; /* UDP 12345 -> 5000, length 8, checksum 0 (none) */
	f[35] = 0x39;
	f[36] = 0x13;
	f[37] = 0x88;
	f[39] = 8;
	/* A correct header checksum, so that only what the test means is wrong. */
	uint16_t c = csum_ip(f + 14, 20);
	f[24] = (uint8_t)(c >> 8);
	f[25] = (uint8_t)c;
	memcpy(sll.sll_addr, router_mac, 6);
	ok = sendto(fd, f, sizeof(f), 0, (struct sockaddr *)&sll, sizeof(sll)) == sizeof(f);
	close(fd);
	return ok;
}

/* ----------------------------------------------- ICMP and UDP probes */

/* ping through ip netns exec: iputils sets up its own ICMP socket. */
static bool ns_ping_size(const char *ns, const char *addr, int size)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s ping -c 2 -i 0.2 -W 1 -s %d -q %s >/dev/null 2>&1", ns, size,
		 addr);
	return system(cmd) == 0;
}

static bool ns_ping(const char *ns, const char *addr)
{
	return ns_ping_size(ns, addr, 56);
}

/* A UDP datagram to a port nobody listens on: the ICMP port unreachable
 * that comes back must reach the sender (a connected socket reports it as
 * ECONNREFUSED). Returns the errno seen, 0 when a reply came, ETIMEDOUT. */
static int ns_udp_probe(const char *ns, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct pollfd pfd;
	char buf[16];
	int fd, e = ETIMEDOUT;

	sockaddr_of(addr, port, &ss, &len);
	fd = ns_socket(ns, ss.ss_family, SOCK_DGRAM);
	if (fd < 0)
		return EIO;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 || send(fd, "probe", 5, 0) != 5) {
		e = errno;
		close(fd);
		return e;
	}
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, 2000) > 0)
		e = recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0 ? errno : 0;
	close(fd);
	return e;
}

/* How many frames a pcap file holds, -1 when it cannot be read. */
static long pcap_count(const char *path)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	long n = 0;
	pcap_t *p = pcap_open_offline(path, ebuf);

	if (!p)
		return -1;
	while (pcap_next_ex(p, &h, &d) == 1)
		n++;
	pcap_close(p);
	return n;
}

/* -------------------------------------------------------------- main */

static bool file_has(const char *path, const char *a, const char *b)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, a) && strstr(line, b);
	fclose(f);
	return found;
}

/* The peer may track 3 connections (conntrack_allowance): hold what is
 * left open, then one more must be dropped and counted (AWS-SEMANTICS §4). */
static void check_allowance(const struct topology_port *pp)
{
	int fds[4], n = 0, fd = -1, rc;
	uint64_t avail, exceeded;

	snapshot();
	avail = est[2].conntrack_allowance_available;
	exceeded = est[2].conntrack_allowance_exceeded;
	CHECK(avail <= 3, "peer: %llu of 3 tracked connections available",
	      (unsigned long long)avail);
	while ((uint64_t)n < avail && n < 4 &&
	       ns_connect(pp->netns, "10.77.1.10", 8080, 2000, &fds[n]) == 0)
		n++;
	CHECK((uint64_t)n == avail, "peer opened %d connections within its allowance", n);
	rc = ns_connect(pp->netns, "10.77.1.10", 8080, 1500, &fd);
	CHECK(rc == -ETIMEDOUT, "one more connection is dropped: %s", strerror(-rc));
	if (rc == 0)
		close(fd);
	snapshot();
	CHECK(est[2].conntrack_allowance_exceeded > exceeded &&
		  est[2].conntrack_allowance_available == 0,
	      "conntrack_allowance_exceeded %llu -> %llu, available %llu",
	      (unsigned long long)exceeded, (unsigned long long)est[2].conntrack_allowance_exceeded,
	      (unsigned long long)est[2].conntrack_allowance_available);
	while (n > 0)
		close(fds[--n]);
}

/* A reload whose lab has other ENIs (the ten-thousand example) is refused
 * and the running rules stay. */
static void check_bad_reload(const struct topology_port *pc)
{
	const char *src = getenv("VPCFW_SOURCE_DIR");
	struct lab_load_opts o;
	struct diag_list d;
	struct lab *other = NULL;
	char path[512], err[256];
	int rc;

	snprintf(path, sizeof(path), "%s/examples/ten-thousand/lab.json", src ? src : ".");
	lab_load_opts_init(&o);
	diag_init(&d);
	rc = lab_load(path, &o, &other, &d);
	diag_free(&d);
	/* A lab that does not load would make this check pass vacuously. */
	CHECK(rc == 0, "%s loads (for the refused-reload check)", path);
	if (rc < 0)
		return;
	loop_pause();
	rc = datapath_reload(dp, other, err, sizeof(err));
	loop_start();
	CHECK(rc == -EINVAL, "a reload with other ENIs is refused: %s", rc ? err : "accepted!");
	CHECK(connect_and_echo(pc->netns, "10.77.1.10", 8080, 4096),
	      "and the running rules stay in force");
	if (rc == 0)
		wrongly_accepted = other; /* in use now: freed after the datapath */
	else
		lab_free(other);
}

struct retag_seen {
	const struct lab *next;
	int kept, moved; /* 5201 entry retagged to the new rule; 8080 entry left old */
};

static int retag_visit(const struct ct_conn_info *info, void *arg)
{
	struct retag_seen *r = arg;
	uint32_t gen = datapath_generation(dp);

	if (info->orig.proto != 6)
		return 0;
	if (info->orig.dport == 5201 && info->rule.generation == gen &&
	    info->rule.group < r->next->n_groups &&
	    info->rule.rule < r->next->groups[info->rule.group].n_rules &&
	    r->next->groups[info->rule.group].rules[info->rule.rule].from_port == 5201)
		r->moved++;
	if (info->orig.dport == 8080 && info->rule.generation == gen - 1)
		r->kept++;
	return 0;
}

/* `vpcfw flows` names the rule that admitted a connection: after a reload
 * the reference follows a rule that is still there and keeps the old
 * generation for one that is gone. Runs with the loop stopped. */
static void check_retag(const struct lab *next)
{
	struct retag_seen r = {next, 0, 0};
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ct_zone_walk(datapath_conntrack(dp), 0,
		     (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, retag_visit, &r);
	CHECK(datapath_generation(dp) == 1 && r.moved >= 1 && r.kept >= 1,
	      "reload retags tracked connections: %d moved to the new 5201 rule, %d left on the "
	      "removed 8080 rule's generation",
	      r.moved, r.kept);
}

/* AWS-SEMANTICS §4/§8: removing the rule does not cut a tracked connection;
 * a new one is refused at once. */
static void check_reload(const struct topology_port *pw, const struct topology_port *pc)
{
	char err[256];
	struct lab *next = load_lab("8081");
	int fd = -1, fd2 = -1, rc;

	(void)pw;
	CHECK(next != NULL, "reloaded lab (web's 8080 rule now 8081) loads");
	if (!next)
		return;
	check_bad_reload(pc);
	rc = ns_connect(pc->netns, "10.77.1.10", 8080, 3000, &fd);
	CHECK(rc == 0 && echo_roundtrip(fd, 65536), "connection opened before the reload works");
	int lfd = ns_listen(pw->netns, "10.77.1.10", 5201), fd3 = -1;
	pthread_t srv;
	if (lfd >= 0)
		pthread_create(&srv, NULL, echo_server, (void *)(intptr_t)lfd);
	rc = ns_connect(pc->netns, "10.77.1.10", 5201, 3000, &fd3);
	CHECK(rc == 0 && echo_roundtrip(fd3, 4096), "a 5201 connection (rule kept) is open too");
	loop_pause();
	rc = datapath_reload(dp, next, err, sizeof(err));
	if (rc == 0)
		check_retag(next);
	loop_start();
	CHECK(rc == 0, "datapath_reload: %s", rc ? err : "ok");
	if (fd3 >= 0)
		close(fd3);
	if (lfd >= 0) {
		shutdown(lfd, SHUT_RDWR);
		pthread_join(srv, NULL);
		close(lfd);
	}
	if (rc == 0) {
		CHECK(fd >= 0 && echo_roundtrip(fd, 65536),
		      "the tracked connection survives the rule's removal");
		rc = ns_connect(pc->netns, "10.77.1.10", 8080, 1500, &fd2);
		CHECK(rc == -ETIMEDOUT, "a new connection to 8080 is refused after the reload: %s",
		      strerror(-rc));
		if (rc == 0)
			close(fd2);
	}
	if (fd >= 0)
		close(fd);
	reloaded = next;
}

static void run_checks(struct lab *lab, struct topology *topo, const char *flowlog,
		       const char *pcap_dir)
{
	const struct topology_port *pw = topology_port_of_eni(topo, 0);
	const struct topology_port *pc = topology_port_of_eni(topo, 1);
	const struct topology_port *pp = topology_port_of_eni(topo, 2);
	const struct topology_port *po = topology_port_of_outside(topo, 0);
	pthread_t srv[4];
	int lfd[4] = {-1, -1, -1, -1};
	int fd = -1, rc;

	lfd[0] = ns_listen(pw->netns, "10.77.1.10", 8080);
	lfd[1] = ns_listen(pw->netns, "10.77.1.10", 9090);
	lfd[2] = ns_listen(pw->netns, "2001:db8:77:1::10", 8080);
	CHECK(lfd[0] >= 0 && lfd[1] >= 0 && lfd[2] >= 0, "servers listen in %s", pw->netns);
	for (int i = 0; i < 3; i++)
		if (lfd[i] >= 0)
			pthread_create(&srv[i], NULL, echo_server, (void *)(intptr_t)lfd[i]);

	CHECK(connect_and_echo(pc->netns, "10.77.1.10", 8080, 1 << 20),
	      "TCP 8080 across subnets: 1 MiB echoed intact");
	CHECK(arp_is(pc->netns, "10.77.2.1", pc->mac),
	      "ARP for the gateway 10.77.2.1 -> router port MAC");

	rc = ns_connect(pc->netns, "10.77.1.10", 9090, 2000, &fd);
	CHECK(rc == -ETIMEDOUT, "TCP 9090 (no SG rule) times out, no RST: %s", strerror(-rc));
	if (rc == 0)
		close(fd);

	CHECK(connect_and_echo(pp->netns, "10.77.1.10", 8080, 65536),
	      "same-subnet TCP 8080 crosses the daemon");
	CHECK(arp_is(pp->netns, "10.77.1.10", pp->mac),
	      "ARP for a same-subnet peer -> router port MAC");
	rc = ns_connect(pp->netns, "10.77.1.10", 9090, 1500, &fd);
	CHECK(rc == -ETIMEDOUT, "same-subnet TCP 9090 blocked by SG: %s", strerror(-rc));
	if (rc == 0)
		close(fd);

	lfd[3] = ns_listen(pw->netns, "10.77.1.10", 7070);
	if (lfd[3] >= 0)
		pthread_create(&srv[3], NULL, echo_server, (void *)(intptr_t)lfd[3]);
	rc = ns_connect(pc->netns, "10.77.1.10", 7070, 1500, &fd);
	CHECK(rc == -ETIMEDOUT, "TCP 7070: SG allows, subnet b's NACL egress rule 90 denies: %s",
	      strerror(-rc));
	if (rc == 0)
		close(fd);
	CHECK(connect_and_echo(pp->netns, "10.77.1.10", 7070, 4096),
	      "TCP 7070 within subnet a: no NACL between, SG allows");

	CHECK(connect_and_echo(pc->netns, "2001:db8:77:1::10", 8080, 256 << 10),
	      "IPv6 TCP 8080 (Neighbor Discovery answered): 256 KiB echoed intact");
	CHECK(connect_and_echo(po->netns, "198.51.100.77", 8080, 256 << 10),
	      "outside host -> public IP 198.51.100.77:8080 through 1:1 NAT");
	rc = ns_connect(po->netns, "10.77.1.10", 8080, 1000, &fd);
	CHECK(rc == -ETIMEDOUT, "outside host -> private address is not routed: %s", strerror(-rc));
	if (rc == 0)
		close(fd);

	CHECK(ns_ping(pc->netns, "10.77.1.10"),
	      "ICMP echo allowed by web's SG; the reply passes cli's empty ingress as tracked");
	CHECK(!ns_ping(pw->netns, "10.77.2.10"),
	      "ICMP echo to cli (no ingress rule) gets no reply");
	CHECK(
	    ns_ping_size(pc->netns, "10.77.1.10", (int)(3 * lab_mtu)),
	    "a %u-byte echo, fragmented both ways: later fragments follow the first one's verdict",
	    3 * lab_mtu);
	rc = ns_udp_probe(pc->netns, "10.77.1.10", 5000);
	CHECK(rc == ECONNREFUSED,
	      "ICMP port unreachable reaches cli through an empty ingress SG as part of the "
	      "tracked UDP flow: %s",
	      strerror(rc));

	snapshot();
	uint64_t mal_before = st.malformed_total;
	uint64_t mal_reason = st.malformed[PKT_MAL_IP_TOTLEN_CAPLEN];

	uint64_t spoofed = st.drops[DP_DROP_UNKNOWN_SOURCE];

	CHECK(send_raw_udp(pc->netns, pc->mac, pc->peer_ifindex, "10.77.2.10", 1400),
	      "malformed frame sent (IP length 1400 in a 60-byte frame)");
	CHECK(send_raw_udp(pc->netns, pc->mac, pc->peer_ifindex, "10.77.2.99", 28),
	      "spoofed frame sent (source 10.77.2.99 from cli's port)");
	usleep(200 * 1000);
	snapshot();
	CHECK(st.malformed_total == mal_before + 1 &&
		  st.malformed[PKT_MAL_IP_TOTLEN_CAPLEN] == mal_reason + 1,
	      "malformed frame counted once as %s (total %llu)",
	      pkt_malformed_name(PKT_MAL_IP_TOTLEN_CAPLEN), (unsigned long long)st.malformed_total);
	CHECK(st.drops[DP_DROP_UNKNOWN_SOURCE] == spoofed + 1 && spoofed == 0,
	      "the spoofed source is dropped (source/destination check) and is the only %s drop",
	      dp_drop_name(DP_DROP_UNKNOWN_SOURCE));

	CHECK(st.arp_replies >= 3, "arp replies: %llu", (unsigned long long)st.arp_replies);
	CHECK(st.nd_replies >= 1, "neighbor advertisements: %llu",
	      (unsigned long long)st.nd_replies);
	CHECK(est[1].rejected_pkts[DP_STAGE_NACL_EGRESS] >= 1 &&
		  est[0].rejected_pkts[DP_STAGE_NACL_INGRESS] == 0,
	      "cli: NACL-egress rejections counted on cli: %llu",
	      (unsigned long long)est[1].rejected_pkts[DP_STAGE_NACL_EGRESS]);
	CHECK(est[0].rejected_pkts[DP_STAGE_SG_INGRESS] >= 2,
	      "web: SG-ingress rejections counted: %llu",
	      (unsigned long long)est[0].rejected_pkts[DP_STAGE_SG_INGRESS]);
	/* Payload sent each way, IP and TCP headers not counted: a floor. */
	CHECK(est[1].accepted_bytes[DP_DIR_EGRESS] >= (1 << 20) + (256 << 10) &&
		  est[1].accepted_bytes[DP_DIR_INGRESS] >= (1 << 20) + (256 << 10),
	      "cli's accepted bytes both ways: %llu out, %llu in",
	      (unsigned long long)est[1].accepted_bytes[DP_DIR_EGRESS],
	      (unsigned long long)est[1].accepted_bytes[DP_DIR_INGRESS]);
	CHECK(est[0].accepted_bytes[DP_DIR_INGRESS] >= (1 << 20) + (64 << 10) + (512 << 10),
	      "web's accepted ingress bytes from cli, peer and outside: %llu",
	      (unsigned long long)est[0].accepted_bytes[DP_DIR_INGRESS]);
	CHECK(est[2].accepted_bytes[DP_DIR_EGRESS] >= 65536 &&
		  est[2].accepted_bytes[DP_DIR_INGRESS] >= 65536,
	      "same-subnet peer's traffic crossed the daemon: %llu out, %llu in",
	      (unsigned long long)est[2].accepted_bytes[DP_DIR_EGRESS],
	      (unsigned long long)est[2].accepted_bytes[DP_DIR_INGRESS]);
	CHECK(est[0].fast_path_pkts > 100 && st.fast_path_pkts > 10 * st.slow_path_pkts,
	      "tracked flows take the fast path: %llu fast, %llu slow",
	      (unsigned long long)st.fast_path_pkts, (unsigned long long)st.slow_path_pkts);
	/* cli's ingress rejected exactly web's two echo requests: no reply of
	 * a tracked connection was ever refused. */
	CHECK(est[0].rejected_pkts[DP_STAGE_SG_EGRESS] == 0 &&
		  est[1].rejected_pkts[DP_STAGE_SG_INGRESS] == 2,
	      "replies of tracked connections never rejected (cli SG-ingress rejects: %llu)",
	      (unsigned long long)est[1].rejected_pkts[DP_STAGE_SG_INGRESS]);
	CHECK(st.drops[DP_DROP_NO_PUBLIC_IP] >= 1, "outside -> private address counted as %s: %llu",
	      dp_drop_name(DP_DROP_NO_PUBLIC_IP),
	      (unsigned long long)st.drops[DP_DROP_NO_PUBLIC_IP]);
	CHECK(est[0].tracked >= 1, "web's zone tracks connections: %llu",
	      (unsigned long long)est[0].tracked);

	check_allowance(pp);

	loop_pause();
	datapath_flowlog_flush(dp, time(NULL));
	datapath_tick(dp, time(NULL)); /* flushes the reject dumps */
	datapath_stats(dp, &st, NULL, 0);
	loop_start();
	CHECK(st.flowlog_records >= 4 && st.flowlog_packets_lost == 0,
	      "flow-log records written: %llu, packets lost: %llu",
	      (unsigned long long)st.flowlog_records, (unsigned long long)st.flowlog_packets_lost);
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.pcap", pcap_dir, lab->enis[0].id);
	long dumped = pcap_count(path);
	CHECK(dumped >= (long)est[0].rejected_pkts[DP_STAGE_SG_INGRESS] && dumped > 0,
	      "rejected frames saved to %s: %ld", path, dumped);
	CHECK(file_has(flowlog, lab->enis[0].id, " ACCEPT OK"), "flow log: ACCEPT record for %s",
	      lab->enis[0].id);
	CHECK(file_has(flowlog, " 9090 6 ", " REJECT OK"), "flow log: REJECT record for port 9090");

	check_reload(pw, pc);

	for (int i = 0; i < 4; i++) {
		if (lfd[i] < 0)
			continue;
		shutdown(lfd[i], SHUT_RDWR);
		pthread_join(srv[i], NULL);
		close(lfd[i]);
	}
	(void)po;
}

static double wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the loop thread(s) so far (snapshot() restarts the thread). */
static double loop_cpu_seconds(void)
{
	return loop_cpu_total;
}

/* VPCFW_ITEST_IPERF=1: a perf sanity run, figures printed, nothing
 * asserted (PERF.md: never a timed assertion). VPCFW_ITEST_MTU sets the
 * lab's MTU. */
static void iperf(const char *server_ns, const char *client_ns, const char *args)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "ip netns exec %s iperf3 -s -1 -D -B 10.77.1.10 -p 5201",
		 server_ns);
	if (system(cmd) != 0)
		return;
	usleep(300 * 1000);
	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s iperf3 -c 10.77.1.10 -p 5201 -t 5 -f m %s -J > %s.json",
		 client_ns, args, lab_name);
	snapshot();
	uint64_t rx0 = st.rx_pkts;
	double cpu0 = loop_cpu_seconds(), t0 = wall_seconds();
	if (system(cmd) != 0)
		printf("perf: iperf3 failed\n");
	double wall = wall_seconds() - t0;
	snapshot();
	double cpu = loop_cpu_seconds() - cpu0;
	uint64_t frames = st.rx_pkts - rx0;
	/* The figure itself, parsed by the same helper the baseline uses when
	 * it is there (iperf3's JSON); else the raw JSON stays for a human. */
	snprintf(
	    cmd, sizeof(cmd),
	    "printf 'vpcfw mtu=%u iperf3 %s: '; python3 /tmp/iperfj.py %s < %s.json; rm -f %s.json",
	    lab_mtu, args, strstr(args, "-u") ? "udp" : "tcp", lab_name, lab_name);
	if (system(cmd) != 0)
		printf("\n");
	printf("perf: %llu frames, %.0f frames/s, loop thread busy %.0f%%, %.2f us CPU per frame\n",
	       (unsigned long long)frames, (double)frames / wall, 100.0 * cpu / wall,
	       frames ? cpu * 1e6 / (double)frames : 0.0);
	fflush(stdout);
}

static void run_perf(const struct topology *topo)
{
	const char *w = topology_port_of_eni(topo, 0)->netns;
	const char *c = topology_port_of_eni(topo, 1)->netns;

	iperf(w, c, "");
	iperf(w, c, "-u -l 64 -b 0");
	snapshot();
	printf(
	    "perf: rx %llu tx %llu tx_syscalls %llu (%.1f frames per sendmmsg) kernel drops %llu "
	    "tx errors %llu\n",
	    (unsigned long long)st.rx_pkts, (unsigned long long)st.tx_pkts,
	    (unsigned long long)st.tx_syscalls,
	    st.tx_syscalls ? (double)st.tx_pkts / (double)st.tx_syscalls : 0.0,
	    (unsigned long long)st.pcap_kernel_drops, (unsigned long long)st.tx_errors);
}

static void remove_dir(const char *dir)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* One complete run: the lab as namespaces, the datapath, the checks (or
 * the perf run), and everything removed again. offloads: the topology
 * keeps checksum/segmentation offloads on, so the datapath reads GSO
 * frames with their virtio-net header instead of through libpcap. */
static void run_mode(bool offloads)
{
	struct topology_options to = {.keep_offloads = offloads};
	const char *m = offloads ? "o" : "p";
	struct datapath_opts o;
	struct topology *topo = NULL;
	struct lab *lab;
	char err[512], flowlog[160], pcap_dir[128];

	printf("--- %s mode (offloads %s)\n", offloads ? "vnet" : "pcap", offloads ? "on" : "off");
	snprintf(lab_name, sizeof(lab_name), "itdp%s%s", sfx, m);
	snprintf(web, sizeof(web), "w%s%s", sfx, m);
	snprintf(cli, sizeof(cli), "c%s%s", sfx, m);
	snprintf(peer, sizeof(peer), "p%s%s", sfx, m);
	snprintf(ext, sizeof(ext), "x%s%s", sfx, m);
	/* The flow log's directory must be root's and closed to others
	 * (daemon/outfile.h): not /tmp itself. */
	snprintf(pcap_dir, sizeof(pcap_dir), "/tmp/itest_datapath.%s%s.pcap", sfx, m);
	snprintf(flowlog, sizeof(flowlog), "%s/flow.log", pcap_dir);
	if (mkdir(pcap_dir, 0700) < 0) {
		CHECK(false, "mkdir %s: %s", pcap_dir, strerror(errno));
		return;
	}
	lab = load_lab("8080");
	if (!lab) {
		CHECK(false, "lab loads");
		remove_dir(pcap_dir);
		return;
	}
	if (topology_create(lab, &to, &topo, err, sizeof(err)) < 0) {
		CHECK(false, "topology_create: %s", err);
		lab_free(lab);
		remove_dir(pcap_dir);
		return;
	}
	datapath_opts_init(&o);
	o.flowlog_path = flowlog;
	o.flowlog_interval = 1;
	o.pcap_dir = pcap_dir;
	dp = NULL;
	lp = NULL;
	if (datapath_create(lab, topo, &o, &dp, err, sizeof(err)) < 0 ||
	    loop_create(dp, &lp, err, sizeof(err)) < 0) {
		CHECK(false, "datapath: %s", err);
	} else {
		loop_start();
		if (getenv("VPCFW_ITEST_IPERF"))
			run_perf(topo);
		else
			run_checks(lab, topo, flowlog, pcap_dir);
		loop_pause();
	}
	loop_destroy(lp);
	datapath_destroy(dp);
	topology_destroy(topo);
	lab_free(lab);
	lab_free(reloaded);
	lab_free(wrongly_accepted);
	reloaded = wrongly_accepted = NULL;
	unlink(flowlog);
	remove_dir(pcap_dir);
}

int main(void)
{
	const char *mode = getenv("VPCFW_ITEST_MODE"); /* pcap, vnet or both */

	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(sfx, sizeof(sfx), "%x", (unsigned)getpid() & 0xfffff);
	if (getenv("VPCFW_ITEST_MTU"))
		lab_mtu = (unsigned)atoi(getenv("VPCFW_ITEST_MTU"));
	if (!mode || strcmp(mode, "vnet") != 0)
		run_mode(false);
	if (!mode || strcmp(mode, "pcap") != 0)
		run_mode(true);
	printf("%d checks, %d failed\n", checks, fails);
	return fails || !checks ? 1 : 0;
}
