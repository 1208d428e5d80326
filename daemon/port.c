/*
 * Router frames: one TPACKET_V2 capture ring per router namespace, bound
 * to no interface, so that its memory is one ring whatever the number of
 * ports (issue 9), each frame naming the ifindex it came in on; and one
 * AF_PACKET transmit socket for all ports that bypasses the qdisc and
 * sends each receive batch with a single sendmmsg().
 *
 * Why TPACKET_V2 and not V3: a V3 ring hands frames over a block at a
 * time, when the block is full or its retire timer (>= 1 ms) fires, and
 * the kernel wakes the reader only then (tpacket_rcv calls sk_data_ready
 * per frame for V1/V2 only): milliseconds of added latency and broken TCP
 * clocking at low rates (PERF.md item 1; libpcap's immediate mode picks V2
 * for the same reason). A V2 frame is the reader's as soon as it is
 * written, so a later busy-polling reader sees it at once. The price is a
 * fixed slot per frame (mtu + 18, or 64 KiB in the offload mode).
 * Not for parsing or policy; no logging: errors are returned or counted.
 */
#include "port.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

#define PORT_RING_MIN (8u << 20)
#define PORT_RING_MAX (256u << 20)
#define PORT_RING_DEFAULT (32u << 20)
#define PORT_RING_DEFAULT_VNET (64u << 20)
/* Kernel-allocated in blocks: 1 MiB keeps the frames' waste at the end of
 * each block small and the allocation easy (the kernel falls back to
 * vmalloc when no contiguous block is free). */
#define PORT_BLOCK_SIZE (1u << 20)

#define PORT_VNET_HDR_LEN sizeof(struct virtio_net_hdr)
/* A GSO frame: 64 KiB of IP plus Ethernet and VLAN headers. */
#define PORT_VNET_FRAME_MAX (65536 + 18)
/* Where the kernel puts the sockaddr_ll of a frame (after its header). */
#define PORT_SLL_OFF TPACKET_ALIGN(sizeof(struct tpacket2_hdr))

struct port {
	int fd;
	bool vnet;
	uint8_t *ring;
	size_t ring_len;
	uint32_t frame_size, frames_per_block, frame_nr;
	uint32_t head;	       /* next frame to read */
	uint32_t held, oldest; /* frames handed out, not yet released */
	struct virtio_net_hdr cur_vnet;
	bool cur_valid;
	uint64_t drops;
};

static int port_fail(struct port *p, char *err, size_t errlen, const char *what)
{
	int e = errno ? errno : ENOMEM;

	snprintf(err, errlen, "capture ring: %s: %s", what, strerror(e));
	port_close(p);
	return -e;
}

/* The frame slot: where the kernel writes a frame's MAC header (after the
 * tpacket2 header, the sockaddr_ll and the virtio-net header), plus the
 * largest frame. */
static uint32_t port_frame_size(bool vnet, uint32_t mtu)
{
	uint32_t netoff = TPACKET_ALIGN(TPACKET2_HDRLEN + 16) + (vnet ? PORT_VNET_HDR_LEN : 0);
	uint32_t macoff = netoff - ETH_HLEN;

	return TPACKET_ALIGN(macoff + (vnet ? PORT_VNET_FRAME_MAX : mtu + 18));
}

static int port_ring_setup(struct port *p, const struct port_opts *o, char *err, size_t errlen)
{
	uint32_t bytes =
	    o->ring_bytes ? o->ring_bytes : (o->vnet ? PORT_RING_DEFAULT_VNET : PORT_RING_DEFAULT);
	struct tpacket_req req;

	if (bytes < PORT_RING_MIN)
		bytes = PORT_RING_MIN;
	if (bytes > PORT_RING_MAX)
		bytes = PORT_RING_MAX;
	p->frame_size = port_frame_size(o->vnet, o->mtu);
	p->frames_per_block = PORT_BLOCK_SIZE / p->frame_size;
	req = (struct tpacket_req){
	    .tp_block_size = PORT_BLOCK_SIZE,
	    .tp_block_nr = bytes / PORT_BLOCK_SIZE,
	    .tp_frame_size = p->frame_size,
	};
	req.tp_frame_nr = req.tp_block_nr * p->frames_per_block;
	p->frame_nr = req.tp_frame_nr;
	if (setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		return port_fail(p, err, errlen, "PACKET_RX_RING");
	p->ring_len = (size_t)req.tp_block_nr * PORT_BLOCK_SIZE;
	p->ring = mmap(NULL, p->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (p->ring == MAP_FAILED) {
		p->ring = NULL;
		return port_fail(p, err, errlen, "mmap");
	}
	return 0;
}

/* Socket options in the order the kernel needs them: version and virtio
 * header before the ring exists; protocol 0 until bound, so nothing is
 * queued before the ring can take it. */
static int port_socket(struct port *p, const struct port_opts *o, char *err, size_t errlen)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int one = 1, v2 = TPACKET_V2, rc;

	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (p->fd < 0)
		return port_fail(p, err, errlen, "socket");
	if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2)) < 0)
		return port_fail(p, err, errlen, "PACKET_VERSION");
	if (o->vnet && setsockopt(p->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
		return port_fail(p, err, errlen, "PACKET_VNET_HDR");
	/* Our own transmissions must never come back as input. */
	if (setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		return port_fail(p, err, errlen, "PACKET_IGNORE_OUTGOING");
	rc = port_ring_setup(p, o, err, errlen);
	if (rc < 0)
		return rc; /* p already closed */
	/* ifindex 0: every interface of the namespace. */
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return port_fail(p, err, errlen, "bind");
	/* After bind: the kernel joins a running socket only. Hash mode keeps
	 * a flow direction, and all fragments of a datagram (hashed without
	 * ports), on one ring, in order. */
	rc = o->fanout_id | (PACKET_FANOUT_HASH << 16);
	if (o->fanout && setsockopt(p->fd, SOL_PACKET, PACKET_FANOUT, &rc, sizeof(rc)) < 0)
		return port_fail(p, err, errlen, "PACKET_FANOUT");
	return 0;
}

int port_open(const struct port_opts *o, struct port **out, char *err, size_t errlen)
{
	struct port *p;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "capture ring: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	p->fd = -1;
	p->vnet = o->vnet;
	errno = 0;
	int rc = port_socket(p, o, err, errlen);
	if (rc < 0)
		return rc; /* p already closed */
	*out = p;
	return 0;
}

void port_close(struct port *p)
{
	if (!p)
		return;
	if (p->ring)
		munmap(p->ring, p->ring_len);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

int port_fd(const struct port *p)
{
	return p->fd;
}

static struct tpacket2_hdr *port_frame(const struct port *p, uint32_t i)
{
	return (struct tpacket2_hdr *)(p->ring +
				       (size_t)(i / p->frames_per_block) * PORT_BLOCK_SIZE +
				       (size_t)(i % p->frames_per_block) * p->frame_size);
}

/* The kernel moves an 802.1Q tag into the frame's metadata before taps see
 * it; the data path must see the frame as sent (a VPC drops tagged frames),
 * so the tag goes back in, into the free room before the MAC header. */
static void port_retag(const struct tpacket2_hdr *th, uint8_t **mac, struct pcap_pkthdr *ph)
{
	uint16_t tpid =
	    htons(th->tp_status & TP_STATUS_VLAN_TPID_VALID ? th->tp_vlan_tpid : ETH_P_8021Q);
	uint16_t tci = htons(th->tp_vlan_tci);
	uint8_t *m = *mac - 4;

	if (ph->caplen < 2 * ETH_ALEN || th->tp_mac < PORT_SLL_OFF + sizeof(struct sockaddr_ll) + 4)
		return;
	memmove(m, *mac, 2 * ETH_ALEN);
	memcpy(m + 2 * ETH_ALEN, &tpid, 2);
	memcpy(m + 2 * ETH_ALEN + 2, &tci, 2);
	*mac = m;
	ph->caplen += 4;
	ph->len += 4;
}

static void port_hand(struct port *p, struct tpacket2_hdr *th, port_frame_cb cb, void *user)
{
	const struct sockaddr_ll *sll = (const void *)((uint8_t *)th + PORT_SLL_OFF);
	uint8_t *mac = (uint8_t *)th + th->tp_mac;
	struct pcap_pkthdr ph = {
	    .ts = {.tv_sec = th->tp_sec, .tv_usec = th->tp_nsec / 1000},
	    .caplen = th->tp_snaplen,
	    .len = th->tp_len,
	};

	/* Copied out: retagging may overwrite it in the frame. */
	if (p->vnet && th->tp_mac >= PORT_SLL_OFF + sizeof(*sll) + PORT_VNET_HDR_LEN) {
		memcpy(&p->cur_vnet, mac - PORT_VNET_HDR_LEN, PORT_VNET_HDR_LEN);
		p->cur_valid = true;
	}
	if (th->tp_status & TP_STATUS_VLAN_VALID)
		port_retag(th, &mac, &ph);
	cb(user, sll->sll_ifindex, &ph, mac);
	p->cur_valid = false;
}

int port_read(struct port *p, unsigned max, port_frame_cb cb, void *user)
{
	unsigned n = 0;

	/* held < frame_nr: a frame not yet released is never read twice. */
	while (n < max && p->held < p->frame_nr) {
		struct tpacket2_hdr *th = port_frame(p, p->head);

		if (!(__atomic_load_n(&th->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		if (p->held++ == 0)
			p->oldest = p->head;
		p->head = p->head + 1 == p->frame_nr ? 0 : p->head + 1;
		port_hand(p, th, cb, user);
		n++;
	}
	return (int)n;
}

void port_release(struct port *p)
{
	for (; p->held; p->held--) {
		__atomic_store_n(&port_frame(p, p->oldest)->tp_status, TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
		p->oldest = p->oldest + 1 == p->frame_nr ? 0 : p->oldest + 1;
	}
}

const void *port_vnet_hdr(const struct port *p)
{
	return p && p->cur_valid ? &p->cur_vnet : NULL;
}

int port_kernel_drops(struct port *p, uint64_t *dropped)
{
	struct tpacket_stats ts;
	socklen_t l = sizeof(ts);

	/* The kernel resets these on each read: accumulate. */
	if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &ts, &l) < 0)
		return -errno;
	p->drops += ts.tp_drops;
	*dropped = p->drops;
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

/* Written by the socket's worker only, read by the loop's thread: a
 * relaxed atomic store never tears and costs a plain add. */
static void port_count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
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

		port_count(&t->stats.syscalls, 1);
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
			port_count(&t->stats.bytes, TX_FRAME(t, i + (unsigned)k)->iov_len);
		port_count(&t->stats.frames, (uint64_t)r);
		i += (unsigned)r;
	}
	port_count(&t->stats.errors, (uint64_t)refused);
	t->n = 0;
	return refused;
}

const struct port_tx_stats *port_tx_stats(const struct port_tx *t)
{
	return &t->stats;
}
