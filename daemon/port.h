/*
 * Router ports as the data path sees them: one libpcap capture handle per
 * port (immediate mode, large buffer, inbound only, non-blocking, an fd for
 * epoll) and ONE AF_PACKET transmit socket shared by all ports that sends a
 * whole receive batch with a single sendmmsg() (PERF.md items 1 and 2).
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
	uint32_t mtu;	       /* snaplen = mtu + 18 (Ethernet header + 802.1Q + FCS room) */
	uint32_t buffer_bytes; /* pcap ring size, clamped to 8..32 MiB; 0 = 16 MiB */
};

struct port;

/* Opens and activates a capture handle on ifname. 0 and *out, or a negative
 * errno-style code and a message in err. Fails (never degrades) when
 * inbound-only capture cannot be arranged. */
int port_open(const char *ifname, const struct port_opts *o, struct port **out, char *err,
	      size_t errlen);
void port_close(struct port *p);

/*
 * The offload mode (PERF.md item 3): instead of libpcap, a plain AF_PACKET
 * socket with PACKET_VNET_HDR, so that with segmentation offloads on the
 * port hands over whole 64 KiB GSO frames with their virtio-net header and
 * one rule evaluation covers ~40 segments. Frames land in buffers of the
 * port (recvmmsg), which stay valid until the next port_dispatch of any
 * port: the datapath forwards them in place (port_tx_queue_ref) and
 * flushes before reading again. The receive batch is at most batch frames.
 */
int port_open_vnet(const char *ifname, int ifindex, unsigned batch, struct port **out, char *err,
		   size_t errlen);
/* The virtio_net_hdr (10 bytes) of the frame being handed to the callback,
 * NULL for a libpcap port. */
const void *port_vnet_hdr(const struct port *p);

/* The fd to poll for readability (pcap_get_selectable_fd). */
int port_fd(const struct port *p);

/* pcap_dispatch with at most max frames; returns frames handled, 0 when
 * none were ready, or -1 on a pcap error (message in err). */
int port_dispatch(struct port *p, int max, pcap_handler cb, u_char *user, char *err, size_t errlen);

/* Kernel counters of the capture handle (frames the ring dropped). */
int port_kernel_drops(struct port *p, uint64_t *dropped, uint64_t *if_dropped);

/*
 * Transmit side: frames are copied into preallocated slots (the capture
 * ring's memory is handed back to the kernel as pcap moves on, so it cannot
 * be referenced until a later flush) and sent by port_tx_flush.
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
