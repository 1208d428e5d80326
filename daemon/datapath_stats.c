/*
 * The datapath's counters as others read them: names for stages, drop
 * reasons and malformed reasons, a consistent snapshot (with the kernel's
 * capture drops and the conntrack zones' allowance figures filled in), and
 * one JSON object for vpcfwd's SIGUSR1 dump and tests. Not the packet path:
 * that only increments (datapath.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "conntrack.h"
#include "datapath-private.h"
#include "flowlog.h"
#include "model.h"
#include "packet.h"
#include "port.h"

/* ---------------------------------------------------------------- names */

const char *dp_stage_name(enum dp_stage s)
{
	static const char *const names[DP_STAGE_MAX] = {"sg-egress", "nacl-egress", "nacl-ingress",
							"sg-ingress"};

	return (unsigned)s < DP_STAGE_MAX ? names[s] : "unknown";
}

const char *dp_drop_name(enum dp_drop d)
{
	static const char *const names[DP_DROP_MAX] = {
	    "not-ip",	"arp-ignored",	"nd-ignored",  "unknown-source", "unknown-destination",
	    "no-route", "no-public-ip", "truncated",   "tx-full",	 "hairpin",
	    "fragment", "link-local",	"vlan-tagged",
	};

	return (unsigned)d < DP_DROP_MAX ? names[d] : "unknown";
}

const char *dp_malformed_name(size_t i)
{
	return i < PKT_MAL__COUNT ? pkt_malformed_name((int)i) : NULL;
}

/* -------------------------------------------------------------- stats */

void datapath_stats(struct datapath *dp, struct dp_stats *out, struct dp_eni_stats *eni_stats,
		    size_t n_enis)
{
	const struct port_tx_stats *tx = port_tx_stats(dp->tx);

	*out = dp->st;
	out->tx_pkts = tx->frames;
	out->tx_bytes = tx->bytes;
	out->tx_errors = tx->errors;
	out->tx_syscalls = tx->syscalls;
	out->pcap_kernel_drops = 0;
	{
		struct ct_stats cs;

		ct_get_stats(dp->ct, &cs);
		out->conntrack_pool_capacity = cs.capacity;
		out->conntrack_pool_in_use = cs.in_use;
	}
	for (size_t i = 0; i < dp->n_ports; i++) {
		uint64_t d = 0, ifd = 0;

		if (port_kernel_drops(dp->ports[i].port, &d, &ifd) == 0)
			out->pcap_kernel_drops += d;
	}
	if (dp->fl) {
		struct flowlog_stats fs;

		flowlog_get_stats(dp->fl, &fs);
		out->flowlog_records = fs.records;
		out->flowlog_packets_lost = fs.packets_lost;
	}
	for (size_t i = 0; eni_stats && i < n_enis && i < dp->n_enis; i++) {
		struct ct_zone_stats zs;

		eni_stats[i] = dp->enis[i].st;
		if (ct_zone_stats(dp->ct, (uint32_t)i, &zs) == 0) {
			eni_stats[i].conntrack_allowance_available =
			    zs.conntrack_allowance_available;
			eni_stats[i].tracked = zs.tracked;
		}
	}
}

static void dp_json_u64s(FILE *f, const char *key, const uint64_t *v, size_t n,
			 const char *(*name)(size_t))
{
	fprintf(f, "\"%s\":{", key);
	for (size_t i = 0, first = 1; i < n; i++) {
		if (!v[i])
			continue;
		fprintf(f, "%s\"%s\":%llu", first ? "" : ",", name(i), (unsigned long long)v[i]);
		first = 0;
	}
	fputc('}', f);
}

static const char *dp_drop_name_i(size_t i)
{
	return dp_drop_name((enum dp_drop)i);
}

static const char *dp_stage_name_i(size_t i)
{
	return dp_stage_name((enum dp_stage)i);
}

static const char *dp_dir_name_i(size_t i)
{
	return i == DP_DIR_EGRESS ? "egress" : "ingress";
}

static void dp_json_eni(FILE *f, const char *id, const struct dp_eni_stats *e)
{
	fprintf(f, "\"%s\":{", id);
	dp_json_u64s(f, "accepted_packets", e->accepted_pkts, DP_DIR_MAX, dp_dir_name_i);
	fputc(',', f);
	dp_json_u64s(f, "accepted_bytes", e->accepted_bytes, DP_DIR_MAX, dp_dir_name_i);
	fputc(',', f);
	dp_json_u64s(f, "rejected_packets", e->rejected_pkts, DP_STAGE_MAX, dp_stage_name_i);
	fputc(',', f);
	dp_json_u64s(f, "rejected_bytes", e->rejected_bytes, DP_STAGE_MAX, dp_stage_name_i);
	fprintf(f,
		",\"fast_path_packets\":%llu,\"untracked_packets\":%llu,"
		"\"conntrack_allowance_exceeded\":%llu,\"conntrack_pool_exhausted\":%llu,"
		"\"conntrack_allowance_available\":%llu,\"tracked\":%llu}",
		(unsigned long long)e->fast_path_pkts, (unsigned long long)e->untracked_pkts,
		(unsigned long long)e->conntrack_allowance_exceeded,
		(unsigned long long)e->conntrack_pool_exhausted,
		(unsigned long long)e->conntrack_allowance_available,
		(unsigned long long)e->tracked);
}

int datapath_stats_write(struct datapath *dp, FILE *f)
{
	struct dp_eni_stats *es = calloc(dp->n_enis ? dp->n_enis : 1, sizeof(*es));
	struct dp_stats st;

	if (!es)
		return -ENOMEM;
	datapath_stats(dp, &st, es, dp->n_enis);
	fprintf(f,
		"{\"rx_packets\":%llu,\"rx_bytes\":%llu,\"tx_packets\":%llu,\"tx_bytes\":%llu,"
		"\"tx_errors\":%llu,\"tx_syscalls\":%llu,\"arp_replies\":%llu,\"nd_replies\":%llu,"
		"\"accepted_packets\":%llu,\"rejected_packets\":%llu,\"fast_path_packets\":%llu,"
		"\"slow_path_packets\":%llu,\"pcap_kernel_drops\":%llu,"
		"\"conntrack_allowance_exceeded\":%llu,\"conntrack_pool_exhausted\":%llu,"
		"\"conntrack_pool_capacity\":%llu,\"conntrack_pool_in_use\":%llu,"
		"\"port_errors\":%llu,\"flowlog_records\":%llu,"
		"\"flowlog_packets_lost\":%llu,\"malformed_total\":%llu,",
		(unsigned long long)st.rx_pkts, (unsigned long long)st.rx_bytes,
		(unsigned long long)st.tx_pkts, (unsigned long long)st.tx_bytes,
		(unsigned long long)st.tx_errors, (unsigned long long)st.tx_syscalls,
		(unsigned long long)st.arp_replies, (unsigned long long)st.nd_replies,
		(unsigned long long)st.accepted_pkts, (unsigned long long)st.rejected_pkts,
		(unsigned long long)st.fast_path_pkts, (unsigned long long)st.slow_path_pkts,
		(unsigned long long)st.pcap_kernel_drops,
		(unsigned long long)st.conntrack_allowance_exceeded,
		(unsigned long long)st.conntrack_pool_exhausted,
		(unsigned long long)st.conntrack_pool_capacity,
		(unsigned long long)st.conntrack_pool_in_use, (unsigned long long)st.port_errors,
		(unsigned long long)st.flowlog_records, (unsigned long long)st.flowlog_packets_lost,
		(unsigned long long)st.malformed_total);
	dp_json_u64s(f, "malformed", st.malformed, PKT_MAL__COUNT, dp_malformed_name);
	fputc(',', f);
	dp_json_u64s(f, "drops", st.drops, DP_DROP_MAX, dp_drop_name_i);
	fputs(",\"enis\":{", f);
	for (size_t i = 0; i < dp->n_enis; i++) {
		if (i)
			fputc(',', f);
		dp_json_eni(f, dp->lab->enis[i].id, &es[i]);
	}
	fputs("}}\n", f);
	free(es);
	return ferror(f) ? -EIO : 0;
}
