/*
 * IP fragments on the data path: a later fragment has no ports for the
 * rules to look at, so it goes where its datagram's first fragment went
 * (same ENIs, egress and address translation), or nowhere. No reassembly:
 * the receiver reassembles, as behind a VPC router. Mechanics only; the
 * first fragment's decision is rules/forward's. One table for every
 * worker (the fragments of one datagram may be fanned out to different
 * ones), used under dp->ct_lock.
 */
#include <string.h>

#include "datapath-private.h"
#include "packet.h"

static struct dp_frag *dp_frag_slot(struct datapath *dp, const struct pkt *p)
{
	uint32_t h = 2166136261u;
	const uint8_t *parts[2] = {p->src.b, p->dst.b};

	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 16; i++)
			h = (h ^ parts[k][i]) * 16777619u;
	h = (h ^ p->frag_id) * 16777619u;
	h = (h ^ p->proto) * 16777619u;
	return &dp->frags[h % DP_FRAG_SLOTS];
}

static bool dp_frag_match(const struct dp_frag *f, const struct pkt *p, uint64_t now)
{
	return f->used && f->expires_ns > now && f->id == p->frag_id && f->proto == p->proto &&
	       ip_addr_eq(&f->src, &p->src) && ip_addr_eq(&f->dst, &p->dst);
}

void dp_frag_record(struct datapath *dp, uint64_t now_ns, const struct topology_port *in,
		    const struct pkt *p, const struct fwd_decision *d,
		    const struct topology_port *out)
{
	struct dp_frag *f = dp_frag_slot(dp, p);

	*f = (struct dp_frag){
	    .src = p->src,
	    .dst = p->dst,
	    .id = p->frag_id,
	    .proto = p->proto,
	    .used = true,
	    .expires_ns = now_ns + DP_FRAG_TIMEOUT_NS,
	    .in = in,
	    .src_eni = d->side[0].eni,
	    .dst_eni = d->side[1].eni,
	    .out = out,
	    .xlate = d->xlate,
	};
}

const struct topology_port *dp_frag_follow(struct datapath *dp, uint64_t now_ns,
					   const struct topology_port *in, const struct pkt *p,
					   struct fwd_decision *d)
{
	const struct dp_frag *f = dp_frag_slot(dp, p);

	if (!dp_frag_match(f, p, now_ns) || f->in != in)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->drop = FWD_PASS;
	d->drop_side = -1;
	d->res.rejected_at = -1;
	d->side[0].eni = f->src_eni;
	d->side[1].eni = f->dst_eni;
	d->xlate = f->xlate;
	return f->out;
}
