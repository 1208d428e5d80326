/*
 * The router's frames as the data path sees them: ONE capture ring per
 * worker for all the ports of a router namespace (an AF_PACKET socket bound
 * to no interface, a TPACKET_V2 ring mmapped once, each frame carrying the
 * ifindex it came in on; the workers' rings in one PACKET_FANOUT group) and
 * ONE AF_PACKET transmit socket per worker that sends a whole receive batch
 * with a single sendmmsg() (PERF.md items 1 and 2). So memory does not grow
 * with the number of ports (issue 9).
 * Both must be opened while the calling thread is inside the router
 * namespace: a socket keeps the namespace it was created in.
 * Not for policy: this module moves frames and counts syscalls' failures.
 */
#ifndef VPCFW_PORT_H
#define VPCFW_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pcap/pcap.h>

struct port_opts {
	uint32_t mtu;	     /* largest frame = mtu + 18 (Ethernet header + 802.1Q + FCS room) */
	uint32_t ring_bytes; /* clamped to 8..256 MiB; 0 = 32 MiB (64 MiB with vnet) */
	/* The offload mode (PERF.md item 3): PACKET_VNET_HDR, so that with
	 * segmentation offloads on, 64 KiB GSO frames arrive whole with their
	 * virtio-net header and one rule evaluation covers ~40 segments. */
	bool vnet;
	/* Joins PACKET_FANOUT group fanout_id (hash mode: the kernel's
	 * symmetric flow hash) when fanout is set: one ring per worker. */
	bool fanout;
	uint16_t fanout_id;
};

/* A capture ring. (Named "port" for the data path's struct dp_port, whose
 * member points at the ring its frames arrive on.) */
struct port;

/* Opens the ring: every interface of the namespace, incoming frames only
 * (PACKET_IGNORE_OUTGOING: what we transmit is never read back). 0 and
 * *out, or a negative errno-style code and a message in err. */
int port_open(const struct port_opts *o, struct port **out, char *err, size_t errlen);
void port_close(struct port *p);

/* The fd to poll for readability. */
int port_fd(const struct port *p);

/*
 * Hands at most max ready frames to cb, in order, each with the ifindex it
 * arrived on (a frame the kernel received with its 802.1Q tag stripped is
 * handed over tagged, as it was on the wire). The frames stay readable and
 * writable (forwarded in place) until port_release hands them back to the
 * kernel: flush what references them first. Returns frames handed (0: none
 * ready).
 */
typedef void (*port_frame_cb)(void *user, int ifindex, const struct pcap_pkthdr *h,
			      const uint8_t *frame);
int port_read(struct port *p, unsigned max, port_frame_cb cb, void *user);
void port_release(struct port *p);

/* The virtio_net_hdr (10 bytes) of the frame being handed to the callback,
 * NULL without vnet. */
const void *port_vnet_hdr(const struct port *p);

/* Frames the ring dropped (full) since it was opened. */
int port_kernel_drops(struct port *p, uint64_t *dropped);

/*
 * Transmit side, one socket for every port (each message names its
 * ifindex): frames built or copied into preallocated slots, or received
 * frames queued in place (port_tx_queue_ref: they stay in the capture
 * ring until port_release, after the flush), sent by port_tx_flush.
 */
struct port_tx;

struct port_tx_stats {
	uint64_t frames; /* handed to the kernel */
	uint64_t bytes;
	uint64_t errors; /* frames sendmmsg refused */
	uint64_t syscalls;
};

/* batch: slots (frames per flush); slot_size: largest frame (mtu + 18).
 * vnet: every frame is sent with a virtio_net_hdr (PACKET_VNET_HDR), zero
 * for frames built in slots, the received one for port_tx_queue_ref. */
int port_tx_open(unsigned batch, size_t slot_size, bool vnet, struct port_tx **out, char *err,
		 size_t errlen);
void port_tx_close(struct port_tx *t);

/* A slot to build a frame of len bytes in, for ifindex; flushes first when
 * the batch is full. NULL when len exceeds the slot size. The frame is sent
 * at the next flush. */
uint8_t *port_tx_slot(struct port_tx *t, int ifindex, size_t len);
/* Copies frame into a slot (port_tx_slot + memcpy). 0 or -EMSGSIZE. */
int port_tx_queue(struct port_tx *t, int ifindex, const uint8_t *frame, size_t len);
/* Queues frame by reference (no copy): it must stay untouched until the
 * next flush. vnet_hdr (10 bytes, may be NULL = zero) goes with it on a
 * vnet socket. 0, or -EMSGSIZE when the frame is not even a header. */
int port_tx_queue_ref(struct port_tx *t, int ifindex, uint8_t *frame, size_t len,
		      const void *vnet_hdr);
/* Sends every queued frame (sendmmsg, retried on partial sends). Returns
 * the number of frames the kernel refused (counted in stats.errors). */
int port_tx_flush(struct port_tx *t);
const struct port_tx_stats *port_tx_stats(const struct port_tx *t);

#endif
