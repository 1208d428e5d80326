/*
 * The data path's reading side: the router's capture ring for the event
 * loop, one batch read from it into the frame handler (datapath.c) with
 * dp->cur_port set to each frame's ingress port (found by its ifindex in
 * a hash table, not by a scan: a router has up to thousands of ports),
 * then one flush of everything the batch queued for transmission before
 * the ring gets its frames back (forwarded frames are sent from it).
 */
#include "datapath.h"

#include <errno.h>
#include <stdlib.h>

#include "datapath-private.h"
#include "port.h"

size_t datapath_n_ports(const struct datapath *dp)
{
	return dp->n_ports;
}

size_t datapath_n_captures(const struct datapath *dp)
{
	return dp->ring ? 1 : 0;
}

int datapath_capture_fd(const struct datapath *dp, size_t i)
{
	return i < datapath_n_captures(dp) ? port_fd(dp->ring) : -1;
}

static uint32_t dp_ifindex_hash(int ifindex)
{
	return (uint32_t)ifindex * 0x9e3779b1u;
}

int dp_port_index_build(const struct dp_port *ports, size_t n, struct dp_port_index *out)
{
	uint32_t slots = 16;

	while (slots < 2 * n)
		slots *= 2;
	out->slot = calloc(slots, sizeof(*out->slot));
	if (!out->slot)
		return -ENOMEM;
	out->mask = slots - 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t h = dp_ifindex_hash(ports[i].ifindex) & out->mask;

		while (out->slot[h][0] != 0)
			h = (h + 1) & out->mask;
		out->slot[h][0] = ports[i].ifindex;
		out->slot[h][1] = (int32_t)i;
	}
	return 0;
}

void dp_port_index_set(struct datapath *dp, struct dp_port_index *ix)
{
	free(dp->port_of.slot);
	dp->port_of = *ix;
	*ix = (struct dp_port_index){0};
	for (size_t i = 0; i < dp->n_ports; i++)
		dp->ports[i].port = dp->ring;
}

static int32_t dp_port_of(const struct datapath *dp, int ifindex)
{
	const struct dp_port_index *ix = &dp->port_of;
	uint32_t h = dp_ifindex_hash(ifindex) & ix->mask;

	for (; ix->slot[h][0] != 0; h = (h + 1) & ix->mask)
		if (ix->slot[h][0] == ifindex)
			return ix->slot[h][1];
	return -1;
}

static void dp_ring_frame(void *user, int ifindex, const struct pcap_pkthdr *h,
			  const uint8_t *frame)
{
	struct datapath *dp = user;
	int32_t i = ifindex > 0 ? dp_port_of(dp, ifindex) : -1;

	/* lo, or a port a reload is adding and the datapath not yet has. */
	if (i < 0) {
		dp->foreign_frames++;
		return;
	}
	dp->cur_port = (size_t)i;
	dp_frame((u_char *)dp, h, frame);
}

int datapath_capture_ready(struct datapath *dp, size_t i)
{
	int n;

	if (i >= datapath_n_captures(dp))
		return -EINVAL;
	dp_clock(dp);
	n = port_read(dp->ring, dp->opts.batch, dp_ring_frame, dp);
	port_tx_flush(dp->tx);
	port_release(dp->ring);
	return n;
}

uint64_t dp_kernel_drops(struct datapath *dp)
{
	uint64_t d = 0;

	if (dp->ring && port_kernel_drops(dp->ring, &d) < 0)
		dp->st.port_errors++;
	return d;
}
