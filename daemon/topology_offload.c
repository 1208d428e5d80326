/*
 * Veth offloads, through the SIOCETHTOOL ioctl: which ones vpcfw turns off
 * and why (docs/offloads.md has the figures). The feature names are asked
 * once per lab, on its first port: every veth has the same ones, so each
 * later end costs one set and one check. Not for deciding whether to keep
 * them (topology_options).
 */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

_Static_assert(ETH_GSTRING_LEN == 32, "topo_features.names holds ethtool strings");

#include "topology-private.h"

/* Feature names (ETH_SS_FEATURES) that must be off: every transmit
 * checksum offload and every segmentation offload a driver could take
 * (the legacy ETHTOOL_STSO misses newer ones such as
 * tx-tcp-accecn-segmentation and tx-udp-segmentation), and every form of
 * GRO. tx-generic-segmentation (GSO) stays: it segments and checksums in
 * software just before the driver, so the veth still only ever carries
 * MTU-sized frames with full checksums, and it saves the stack a trip per
 * segment (docs/offloads.md has the figures). */
static bool feature_unwanted(const char *name)
{
	size_t n = strlen(name);
	const char *seg = "-segmentation";

	if (!strncmp(name, "tx-checksum-", 12))
		return true;
	if (!strncmp(name, "tx-", 3) && n > strlen(seg) && !strcmp(name + n - strlen(seg), seg))
		return strcmp(name, "tx-generic-segmentation") != 0;
	return !strcmp(name, "rx-gro") || !strcmp(name, "rx-gro-list") ||
	       !strcmp(name, "rx-udp-gro-forwarding");
}

static int ethtool_ioctl(int fd, const char *ifname, void *data)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	return ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

/* The feature names of a device: n and a malloc'd ethtool_gstrings. */
static int feature_names(int fd, const char *ifname, struct ethtool_gstrings **out, uint32_t *n)
{
	/* The reply's data[] holds one length per set asked for: one. */
	union {
		struct ethtool_sset_info hdr;
		uint8_t raw[sizeof(struct ethtool_sset_info) + sizeof(uint32_t)];
	} sset;
	struct ethtool_gstrings *gs;
	uint32_t len;
	int ret;

	memset(&sset, 0, sizeof(sset));
	sset.hdr.cmd = ETHTOOL_GSSET_INFO;
	sset.hdr.sset_mask = 1ULL << ETH_SS_FEATURES;
	ret = ethtool_ioctl(fd, ifname, &sset);
	if (ret)
		return ret;
	memcpy(&len, sset.raw + sizeof(struct ethtool_sset_info), sizeof(len));
	if (!sset.hdr.sset_mask || len == 0 || len > 4096)
		return -EOPNOTSUPP;
	gs = calloc(1, sizeof(*gs) + (size_t)len * ETH_GSTRING_LEN);
	if (!gs)
		return -ENOMEM;
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_FEATURES;
	gs->len = len;
	ret = ethtool_ioctl(fd, ifname, gs);
	if (ret) {
		free(gs);
		return ret;
	}
	*out = gs;
	*n = len;
	return 0;
}

/* Which bits of ifname's features to turn off: the unwanted ones the
 * driver lets us change ([fixed] ones stay). */
static int features_learn(int fd, const char *ifname, struct topo_features *f)
{
	struct ethtool_gstrings *gs = NULL;
	struct ethtool_gfeatures *gf = NULL;
	uint32_t n = 0, blocks;
	int ret = feature_names(fd, ifname, &gs, &n);

	if (ret)
		return ret;
	blocks = (n + 31) / 32;
	gf = calloc(1, sizeof(*gf) + blocks * sizeof(gf->features[0]));
	f->off = calloc(blocks, sizeof(*f->off));
	ret = gf && f->off ? 0 : -ENOMEM;
	if (!ret) {
		gf->cmd = ETHTOOL_GFEATURES;
		gf->size = blocks;
		ret = ethtool_ioctl(fd, ifname, gf);
	}
	for (uint32_t i = 0; i < n && !ret; i++) {
		const char *name = (const char *)gs->data + (size_t)i * ETH_GSTRING_LEN;
		uint32_t bit = 1u << (i % 32);

		if (feature_unwanted(name) && (gf->features[i / 32].available & bit))
			f->off[i / 32] |= bit;
	}
	if (!ret)
		f->names = malloc((size_t)n * ETH_GSTRING_LEN);
	if (!ret && f->names) {
		memcpy(f->names, gs->data, (size_t)n * ETH_GSTRING_LEN);
		f->n = n;
	} else {
		free(f->off);
		f->off = NULL;
		ret = ret ? ret : -ENOMEM;
	}
	free(gs);
	free(gf);
	return ret;
}

void topo_features_free(struct topo_features *f)
{
	free(f->off);
	free(f->names);
	f->off = NULL;
	f->names = NULL;
	f->n = 0;
}

/* Off: the sender's kernel computes every checksum in software (no
 * CHECKSUM_PARTIAL frames whose checksum field holds only the
 * pseudo-header sum) and never hands the data path a frame larger than the
 * MTU (no TSO super-frames, no GRO-merged ones). docs/offloads.md. */
int topo_offloads_off(int fd, const char *ifname, struct topo_features *f, char *err, size_t errlen)
{
	struct ethtool_gfeatures *gf = NULL;
	struct ethtool_sfeatures *sf = NULL;
	uint32_t blocks;
	int ret = f->off ? 0 : features_learn(fd, ifname, f);

	if (ret)
		goto out;
	blocks = (f->n + 31) / 32;
	gf = calloc(1, sizeof(*gf) + blocks * sizeof(gf->features[0]));
	sf = calloc(1, sizeof(*sf) + blocks * sizeof(sf->features[0]));
	ret = gf && sf ? 0 : -ENOMEM;
	if (ret)
		goto out;
	sf->cmd = ETHTOOL_SFEATURES;
	sf->size = blocks;
	for (uint32_t b = 0; b < blocks; b++)
		sf->features[b].valid = f->off[b];
	/* A positive result (ETHTOOL_F_WISH...) is checked below instead. */
	ret = ethtool_ioctl(fd, ifname, sf);
	if (!ret) {
		gf->cmd = ETHTOOL_GFEATURES;
		gf->size = blocks;
		ret = ethtool_ioctl(fd, ifname, gf);
	}
	for (uint32_t i = 0; i < f->n && !ret; i++) {
		if (f->off[i / 32] & gf->features[i / 32].active & (1u << (i % 32))) {
			snprintf(err, errlen, "%s: offload %.*s stays on", ifname, ETH_GSTRING_LEN,
				 f->names[i]);
			ret = -EOPNOTSUPP;
		}
	}
out:
	if (ret && !err[0])
		topo_set_err(err, errlen, "turning offloads off on %s: %s", ifname, strerror(-ret));
	free(gf);
	free(sf);
	return ret;
}
