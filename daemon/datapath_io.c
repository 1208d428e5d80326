/*
 * The data path's reading side: one batch read from a worker's capture
 * ring into the frame handler (datapath.c) with w->cur_port set to each
 * frame's ingress port (found by its ifindex in a hash table, not by a
 * scan: a router has up to thousands of ports), then one flush of
 * everything the batch queued for transmission before the ring gets its
 * frames back (forwarded frames are sent from it). Without worker threads
 * the event loop calls it on the one ring (datapath_capture_ready).
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

/* None for the loop when worker threads read the rings. */
size_t datapath_n_captures(const struct datapath *dp)
{
	return !dp->threaded && dp->workers && dp->workers[0].ring ? 1 : 0;
}

int datapath_capture_fd(const struct datapath *dp, size_t i)
{
	return i < datapath_n_captures(dp) ? port_fd(dp->workers[0].ring) : -1;
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
	struct dp_worker *w = user;
	int32_t i = ifindex > 0 ? dp_port_of(w->dp, ifindex) : -1;

	/* lo, or a port a reload is adding and the datapath not yet has. */
	if (i < 0) {
		dp_count(&w->foreign_frames, 1);
		return;
	}
	w->cur_port = (size_t)i;
	dp_frame((u_char *)w, h, frame);
}

int dp_worker_batch(struct dp_worker *w)
{
	int n;

	dp_clock(&w->now_ns, &w->now_s);
	n = port_read(w->ring, w->dp->opts.batch, dp_ring_frame, w);
	port_tx_flush(w->tx);
	port_release(w->ring);
	return n;
}

int datapath_capture_ready(struct datapath *dp, size_t i)
{
	if (i >= datapath_n_captures(dp))
		return -EINVAL;
	return dp_worker_batch(&dp->workers[0]);
}

uint64_t dp_kernel_drops(struct datapath *dp, struct dp_worker *w)
{
	uint64_t d = 0;

	if (w->ring && port_kernel_drops(w->ring, &d) < 0)
		dp_count(&dp->st.port_errors, 1);
	return d;
}
