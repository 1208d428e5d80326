/*
 * The data path's reading side: ports' fds for the event loop and one
 * batch read from a port into the frame handler (datapath.c), then one
 * flush of everything the batch queued for transmission.
 */
#include "datapath.h"

#include <errno.h>
#include <time.h>

#include "datapath-private.h"
#include "port.h"

size_t datapath_n_ports(const struct datapath *dp)
{
	return dp->n_ports;
}

int datapath_port_fd(const struct datapath *dp, size_t i)
{
	return i < dp->n_ports ? port_fd(dp->ports[i].port) : -1;
}

void dp_clock(struct datapath *dp)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	dp->now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	dp->now_s = time(NULL);
}

int datapath_port_ready(struct datapath *dp, size_t i)
{
	int n;

	if (i >= dp->n_ports)
		return -EINVAL;
	dp_clock(dp);
	dp->cur_port = i;
	n = port_dispatch(dp->ports[i].port, (int)dp->opts.batch, dp_frame, (u_char *)dp, dp->err,
			  sizeof(dp->err));
	port_tx_flush(dp->tx);
	if (n < 0) {
		dp->st.port_errors++;
		return -EIO;
	}
	return n;
}
