/*
 * Router ports: libpcap capture handles set up the way PERF.md measured to
 * be fast (immediate mode, 8-32 MiB ring, snaplen MTU + 18, non-blocking,
 * outgoing copies dropped in the kernel), and one AF_PACKET transmit socket
 * for all ports that bypasses the qdisc and sends each receive batch with a
 * single sendmmsg(). Not for parsing or policy; no logging: errors are
 * returned or counted.
 */
#include "port.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef PACKET_VNET_HDR
#define PACKET_VNET_HDR 15
#endif
#ifndef PACKET_QDISC_BYPASS
#define PACKET_QDISC_BYPASS 20
#endif

#define PORT_BUF_MIN (8u << 20)
#define PORT_BUF_MAX (32u << 20)
#define PORT_BUF_DEFAULT (16u << 20)

#define PORT_VNET_HDR_LEN sizeof(struct virtio_net_hdr)
/* A GSO frame: 64 KiB of IP plus Ethernet and VLAN headers. */
#define PORT_VNET_FRAME_MAX (65536 + 18)

struct port {
	pcap_t *pcap; /* NULL in vnet mode */
	int fd;
	char name[32];
	/* vnet mode: recvmmsg buffers, each a virtio_net_hdr then a frame */
	unsigned batch;
	uint8_t *bufs;
	struct mmsghdr *msgs;
	struct iovec *iov;
	const void *cur_hdr;
	uint64_t vnet_drops;
};

static int port_fail(pcap_t *p, int code, char *err, size_t errlen, const char *ifname,
		     const char *what, const char *detail)
{
	snprintf(err, errlen, "port %s: %s: %s", ifname, what, detail);
	if (p)
		pcap_close(p);
	return code;
}

static uint32_t port_buffer_size(uint32_t want)
{
	if (want == 0)
		return PORT_BUF_DEFAULT;
	if (want < PORT_BUF_MIN)
		return PORT_BUF_MIN;
	if (want > PORT_BUF_MAX)
		return PORT_BUF_MAX;
	return want;
}

/* Outgoing copies (our own transmissions on this port) must never come back
 * as input: the kernel-side option keeps them out of the ring entirely;
 * libpcap's direction filter is the fallback for kernels before 4.20. */
static int port_inbound_only(pcap_t *p, int fd, char *err, size_t errlen, const char *ifname)
{
	int one = 1;

	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) == 0)
		return 0;
	if (pcap_setdirection(p, PCAP_D_IN) == 0)
		return 0;
	snprintf(err, errlen, "port %s: cannot capture inbound only: %s", ifname, pcap_geterr(p));
	return -EOPNOTSUPP;
}

int port_open(const char *ifname, const struct port_opts *o, struct port **out, char *err,
	      size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct port *port;
	pcap_t *p;
	int rc;

	*out = NULL;
	p = pcap_create(ifname, ebuf);
	if (!p)
		return port_fail(NULL, -ENODEV, err, errlen, ifname, "pcap_create", ebuf);
	if (pcap_set_snaplen(p, (int)(o->mtu + 18)) || pcap_set_immediate_mode(p, 1) ||
	    pcap_set_buffer_size(p, (int)port_buffer_size(o->buffer_bytes)) ||
	    pcap_set_promisc(p, 1))
		return port_fail(p, -EINVAL, err, errlen, ifname, "pcap options", pcap_geterr(p));
	rc = pcap_activate(p);
	if (rc < 0)
		return port_fail(p, -EIO, err, errlen, ifname, "pcap_activate",
				 rc == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(rc));
	if (pcap_datalink(p) != DLT_EN10MB)
		return port_fail(p, -EPROTONOSUPPORT, err, errlen, ifname, "link type",
				 "not Ethernet");
	if (pcap_setnonblock(p, 1, ebuf) < 0)
		return port_fail(p, -EIO, err, errlen, ifname, "pcap_setnonblock", ebuf);
	if (pcap_get_selectable_fd(p) < 0)
		return port_fail(p, -EIO, err, errlen, ifname, "selectable fd", "none");
	rc = port_inbound_only(p, pcap_fileno(p), err, errlen, ifname);
	if (rc < 0) {
		pcap_close(p);
		return rc;
	}
	port = calloc(1, sizeof(*port));
	if (!port)
		return port_fail(p, -ENOMEM, err, errlen, ifname, "allocation", strerror(ENOMEM));
	port->pcap = p;
	port->fd = pcap_get_selectable_fd(p);
	snprintf(port->name, sizeof(port->name), "%s", ifname);
	*out = port;
	return 0;
}

void port_close(struct port *p)
{
	if (!p)
		return;
	if (p->pcap)
		pcap_close(p->pcap);
	else if (p->fd >= 0)
		close(p->fd);
	free(p->bufs);
	free(p->msgs);
	free(p->iov);
	free(p);
}

int port_fd(const struct port *p)
{
	return p->fd;
}

static int port_vnet_dispatch(struct port *p, int max, pcap_handler cb, u_char *user, char *err,
			      size_t errlen)
{
	unsigned want = max > 0 && (unsigned)max < p->batch ? (unsigned)max : p->batch;
	size_t stride = PORT_VNET_HDR_LEN + PORT_VNET_FRAME_MAX;
	int n;

	for (unsigned i = 0; i < want; i++) {
		p->iov[i].iov_base = p->bufs + (size_t)i * stride;
		p->iov[i].iov_len = stride;
		p->msgs[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(p->fd, p->msgs, want, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		snprintf(err, errlen, "port %s: recvmmsg: %s", p->name, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const uint8_t *b = p->iov[i].iov_base;
		size_t len = p->msgs[i].msg_len;
		struct pcap_pkthdr h;

		if (len < PORT_VNET_HDR_LEN)
			continue;
		memset(&h, 0, sizeof(h));
		h.caplen = h.len = (bpf_u_int32)(len - PORT_VNET_HDR_LEN);
		if (p->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
			h.len = h.caplen + 1; /* the datapath counts it as truncated */
		gettimeofday(&h.ts, NULL);
		p->cur_hdr = b;
		cb(user, &h, b + PORT_VNET_HDR_LEN);
	}
	p->cur_hdr = NULL;
	return n;
}

int port_dispatch(struct port *p, int max, pcap_handler cb, u_char *user, char *err, size_t errlen)
{
	int n;

	if (!p->pcap)
		return port_vnet_dispatch(p, max, cb, user, err, errlen);
	n = pcap_dispatch(p->pcap, max, cb, user);

	if (n == PCAP_ERROR) {
		snprintf(err, errlen, "port %s: %s", p->name, pcap_geterr(p->pcap));
		return -1;
	}
	return n < 0 ? 0 : n;
}

const void *port_vnet_hdr(const struct port *p)
{
	return p->cur_hdr;
}

static int port_vnet_fail(struct port *p, char *err, size_t errlen, const char *what)
{
	int e = errno ? errno : ENOMEM;

	snprintf(err, errlen, "port %s: %s: %s", p->name, what, strerror(e));
	port_close(p);
	return -e;
}

static int port_vnet_socket(struct port *p, int ifindex, char *err, size_t errlen)
{
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex};
	int one = 1, rcvbuf = 16 << 20;

	/* Protocol 0 until bound: nothing is queued before the header option
	 * is set, so every frame read carries one. */
	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (p->fd < 0)
		return port_vnet_fail(p, err, errlen, "socket");
	if (setsockopt(p->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
		return port_vnet_fail(p, err, errlen, "PACKET_VNET_HDR");
	if (setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		return port_vnet_fail(p, err, errlen, "PACKET_IGNORE_OUTGOING");
	if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return port_vnet_fail(p, err, errlen, "bind");
	return 0;
}

int port_open_vnet(const char *ifname, int ifindex, unsigned batch, struct port **out, char *err,
		   size_t errlen)
{
	size_t stride = PORT_VNET_HDR_LEN + PORT_VNET_FRAME_MAX;
	struct port *p;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "port %s: %s", ifname, strerror(ENOMEM));
		return -ENOMEM;
	}
	p->fd = -1;
	snprintf(p->name, sizeof(p->name), "%s", ifname);
	p->batch = batch ? batch : 1;
	p->bufs = malloc(p->batch * stride);
	p->msgs = calloc(p->batch, sizeof(*p->msgs));
	p->iov = calloc(p->batch, sizeof(*p->iov));
	errno = 0;
	if (!p->bufs || !p->msgs || !p->iov)
		return port_vnet_fail(p, err, errlen, "allocation");
	for (unsigned i = 0; i < p->batch; i++) {
		p->msgs[i].msg_hdr.msg_iov = &p->iov[i];
		p->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	int rc = port_vnet_socket(p, ifindex, err, errlen);
	if (rc < 0)
		return rc; /* p already closed */
	*out = p;
	return 0;
}

int port_kernel_drops(struct port *p, uint64_t *dropped, uint64_t *if_dropped)
{
	struct pcap_stat st;

	if (!p->pcap) {
		struct tpacket_stats ts;
		socklen_t l = sizeof(ts);

		/* The kernel resets these on each read: accumulate. */
		if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &ts, &l) < 0)
			return -errno;
		p->vnet_drops += ts.tp_drops;
		*dropped = p->vnet_drops;
		*if_dropped = 0;
		return 0;
	}
	if (pcap_stats(p->pcap, &st) < 0)
		return -EIO;
	*dropped = st.ps_drop;
	*if_dropped = st.ps_ifdrop;
	return 0;
}

/* Each message is iov[2i] (the virtio_net_hdr, vnet sockets only) and
 * iov[2i + 1] (the frame: its slot, or the caller's buffer). */
struct port_tx {
	int fd;
	bool vnet;
	unsigned batch, n;
	size_t slot_size;
	uint8_t *slots;
	struct virtio_net_hdr *hdrs;
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_ll *addrs;
	struct port_tx_stats stats;
};

#define TX_HDR(t, i) (&(t)->iov[2 * (i)])
#define TX_FRAME(t, i) (&(t)->iov[2 * (i) + 1])

static int port_tx_sockopts(struct port_tx *t, char *err, size_t errlen)
{
	int one = 1;
	int sndbuf = 4 << 20;

	if (setsockopt(t->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0) {
		snprintf(err, errlen, "transmit socket: PACKET_QDISC_BYPASS: %s", strerror(errno));
		return -errno;
	}
	if (t->vnet && setsockopt(t->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0) {
		snprintf(err, errlen, "transmit socket: PACKET_VNET_HDR: %s", strerror(errno));
		return -errno;
	}
	/* Best effort: a bigger send buffer only absorbs bursts. */
	(void)setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	return 0;
}

int port_tx_open(unsigned batch, size_t slot_size, bool vnet, struct port_tx **out, char *err,
		 size_t errlen)
{
	struct port_tx *t;
	int rc;

	*out = NULL;
	if (batch == 0 || slot_size < ETH_HLEN) {
		snprintf(err, errlen, "transmit socket: bad batch or slot size");
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	t->fd = -1;
	t->vnet = vnet;
	t->batch = batch;
	t->slot_size = slot_size;
	t->slots = calloc(batch, slot_size);
	t->hdrs = calloc(batch, sizeof(*t->hdrs));
	t->msgs = calloc(batch, sizeof(*t->msgs));
	t->iov = calloc(2 * (size_t)batch, sizeof(*t->iov));
	t->addrs = calloc(batch, sizeof(*t->addrs));
	if (!t->slots || !t->hdrs || !t->msgs || !t->iov || !t->addrs)
		goto nomem;
	/* Protocol 0: a transmit-only socket, nothing is ever queued to it. */
	t->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (t->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "transmit socket: %s", strerror(-rc));
		port_tx_close(t);
		return rc;
	}
	rc = port_tx_sockopts(t, err, errlen);
	if (rc < 0) {
		port_tx_close(t);
		return rc;
	}
	for (unsigned i = 0; i < batch; i++) {
		TX_HDR(t, i)->iov_base = &t->hdrs[i];
		TX_HDR(t, i)->iov_len = vnet ? sizeof(t->hdrs[i]) : 0;
		t->addrs[i].sll_family = AF_PACKET;
		t->addrs[i].sll_halen = ETH_ALEN;
		t->msgs[i].msg_hdr.msg_iov = TX_HDR(t, i);
		t->msgs[i].msg_hdr.msg_iovlen = 2;
		t->msgs[i].msg_hdr.msg_name = &t->addrs[i];
		t->msgs[i].msg_hdr.msg_namelen = sizeof(t->addrs[i]);
	}
	*out = t;
	return 0;
nomem:
	snprintf(err, errlen, "transmit socket: %s", strerror(ENOMEM));
	port_tx_close(t);
	return -ENOMEM;
}

void port_tx_close(struct port_tx *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	free(t->slots);
	free(t->hdrs);
	free(t->msgs);
	free(t->iov);
	free(t->addrs);
	free(t);
}

/* The next message, flushing first when the batch is full. */
static unsigned port_tx_next(struct port_tx *t, int ifindex)
{
	unsigned i;

	if (t->n == t->batch)
		port_tx_flush(t);
	i = t->n++;
	t->addrs[i].sll_ifindex = ifindex;
	return i;
}

uint8_t *port_tx_slot(struct port_tx *t, int ifindex, size_t len)
{
	unsigned i;

	if (len > t->slot_size || len < ETH_HLEN)
		return NULL;
	i = port_tx_next(t, ifindex);
	memset(&t->hdrs[i], 0, sizeof(t->hdrs[i]));
	TX_FRAME(t, i)->iov_base = t->slots + (size_t)i * t->slot_size;
	TX_FRAME(t, i)->iov_len = len;
	return TX_FRAME(t, i)->iov_base;
}

int port_tx_queue_ref(struct port_tx *t, int ifindex, uint8_t *frame, size_t len,
		      const void *vnet_hdr)
{
	unsigned i;

	if (len < ETH_HLEN)
		return -EMSGSIZE;
	i = port_tx_next(t, ifindex);
	if (vnet_hdr)
		memcpy(&t->hdrs[i], vnet_hdr, sizeof(t->hdrs[i]));
	else
		memset(&t->hdrs[i], 0, sizeof(t->hdrs[i]));
	TX_FRAME(t, i)->iov_base = frame;
	TX_FRAME(t, i)->iov_len = len;
	return 0;
}

int port_tx_queue(struct port_tx *t, int ifindex, const uint8_t *frame, size_t len)
{
	uint8_t *slot = port_tx_slot(t, ifindex, len);

	if (!slot)
		return -EMSGSIZE;
	memcpy(slot, frame, len);
	return 0;
}

/* The frame's own EtherType tells the kernel what it carries; the address
 * only needs the ifindex (and protocol for taps). */
static void port_tx_fill_proto(struct port_tx *t)
{
	for (unsigned i = 0; i < t->n; i++) {
		const uint8_t *f = TX_FRAME(t, i)->iov_base;

		memcpy(&t->addrs[i].sll_protocol, f + 12, 2); /* network order as is */
		memcpy(t->addrs[i].sll_addr, f, ETH_ALEN);
	}
}

int port_tx_flush(struct port_tx *t)
{
	unsigned i = 0;
	int refused = 0;

	if (t->n == 0)
		return 0;
	port_tx_fill_proto(t);
	while (i < t->n) {
		int r = sendmmsg(t->fd, t->msgs + i, t->n - i, 0);

		t->stats.syscalls++;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* The message at i was refused (ENOBUFS when the peer's
			 * backlog is full): drop it as a full link would. */
			refused++;
			i++;
			continue;
		}
		for (int k = 0; k < r; k++)
			t->stats.bytes += TX_FRAME(t, i + (unsigned)k)->iov_len;
		t->stats.frames += (uint64_t)r;
		i += (unsigned)r;
	}
	t->stats.errors += (uint64_t)refused;
	t->n = 0;
	return refused;
}

const struct port_tx_stats *port_tx_stats(const struct port_tx *t)
{
	return &t->stats;
}
