/*
 * rtnetlink through libmnl: every request is built in a stack buffer, sent
 * with NLM_F_ACK and answered by exactly one ack (or error) that is checked
 * before the next request goes out. The kernel's extended ack text is kept
 * so callers can say more than "Invalid argument". Only what topology.c
 * needs; no dumps beyond a single link lookup.
 */
#include "netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_addr.h>

/* Requests are small; replies to one link lookup fit easily. Request
 * buffers start zeroed: libmnl 1.0.4 does not clear attribute padding. */
#define NL_BUF_SIZE 8192

struct nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	char ext_msg[256]; /* extended ack text of the last error */
	char msg[320];
};

int nl_open(struct nl **out)
{
	struct nl *nl = calloc(1, sizeof(*nl));
	int one = 1;

	if (!nl)
		return -ENOMEM;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock) {
		int e = -errno;

		free(nl);
		return e;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = -errno;

		mnl_socket_close(nl->sock);
		free(nl);
		return e;
	}
	/* Best effort: without extended acks we only lose the kernel's text. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	*out = nl;
	return 0;
}

void nl_close(struct nl *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

const char *nl_strerror(struct nl *nl, int code)
{
	if (nl->ext_msg[0])
		snprintf(nl->msg, sizeof(nl->msg), "%s (%s)", strerror(code < 0 ? -code : code),
			 nl->ext_msg);
	else
		snprintf(nl->msg, sizeof(nl->msg), "%s", strerror(code < 0 ? -code : code));
	return nl->msg;
}

static int ext_ack_attr_cb(const struct nlattr *attr, void *data)
{
	char *dst = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(dst, 256, "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* The error callback of mnl_cb_run2 would drop the extended ack; this one
 * keeps its text, then returns the error code as libmnl does. */
struct talk_ctx {
	struct nl *nl;
	mnl_cb_t cb;
	void *data;
};

static int data_cb_wrap(const struct nlmsghdr *nlh, void *data)
{
	struct talk_ctx *ctx = data;

	return ctx->cb ? ctx->cb(nlh, ctx->data) : MNL_CB_OK;
}

static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl *nl = ((struct talk_ctx *)data)->nl;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	unsigned int off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(e->msg);
		if (mnl_nlmsg_size(off) <= nlh->nlmsg_len)
			mnl_attr_parse(nlh, off, ext_ack_attr_cb, nl->ext_msg);
	}
	errno = -e->error;
	return MNL_CB_ERROR;
}

/*
 * Sends one request and waits for its ack; data_cb (may be NULL) sees
 * reply messages that come before it. 0 or -errno.
 */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t data_cb, void *data)
{
	char buf[NL_BUF_SIZE];
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {0};
	struct talk_ctx ctx = {nl, data_cb, data};
	uint32_t seq = ++nl->seq;
	ssize_t n;
	int ret;

	ctl[NLMSG_ERROR] = error_cb;
	nl->ext_msg[0] = '\0';
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		errno = 0;
		ret = mnl_cb_run2(buf, (size_t)n, seq, nl->portid, data_cb_wrap, &ctx, ctl,
				  NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static struct nlmsghdr *put_header(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

int nl_veth_add(struct nl *nl, const char *name, const char *peer, int peer_nsfd, uint32_t mtu)
{
	char buf[NL_BUF_SIZE] = {0};
	struct nlmsghdr *nlh = put_header(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct ifinfomsg *pifm;
	struct nlattr *linkinfo, *infodata, *peerinfo;

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	infodata = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peerinfo = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow its own ifinfomsg inside the nest. */
	pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
	memset(pifm, 0, sizeof(*pifm));
	pifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (peer_nsfd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	mnl_attr_nest_end(nlh, peerinfo);
	mnl_attr_nest_end(nlh, infodata);
	mnl_attr_nest_end(nlh, linkinfo);
	return nl_talk(nl, nlh, NULL, NULL);
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	struct nl_link *l = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(attr));
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			l->mtu = mnl_attr_get_u32(attr);
		break;
	case IFLA_ADDRESS:
		if (mnl_attr_get_payload_len(attr) == 6)
			memcpy(l->mac, mnl_attr_get_payload(attr), 6);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_link *l = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifm)))
		return MNL_CB_OK;
	l->ifindex = ifm->ifi_index;
	l->up = ifm->ifi_flags & IFF_UP;
	mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, l);
	return MNL_CB_OK;
}

int nl_link_get(struct nl *nl, const char *name, struct nl_link *out)
{
	char buf[NL_BUF_SIZE] = {0};
	struct nlmsghdr *nlh = put_header(buf, RTM_GETLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	int ret;

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	memset(out, 0, sizeof(*out));
	ret = nl_talk(nl, nlh, link_cb, out);
	if (ret == 0 && out->ifindex == 0)
		return -ENODEV;
	return ret;
}

int nl_link_up(struct nl *nl, int ifindex, uint32_t mtu)
{
	char buf[NL_BUF_SIZE] = {0};
	struct nlmsghdr *nlh = put_header(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_del(struct nl *nl, int ifindex)
{
	char buf[NL_BUF_SIZE] = {0};
	struct nlmsghdr *nlh = put_header(buf, RTM_DELLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return nl_talk(nl, nlh, NULL, NULL);
}

static size_t addr_len(const struct ip_addr *a)
{
	return a->family == IP_V4 ? 4 : 16;
}

static uint8_t addr_af(const struct ip_addr *a)
{
	return a->family == IP_V4 ? AF_INET : AF_INET6;
}

int nl_addr_add(struct nl *nl, int ifindex, const struct ip_addr *a, uint8_t plen, bool nodad)
{
	char buf[NL_BUF_SIZE] = {0};
	struct nlmsghdr *nlh = put_header(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	uint32_t flags = 0;

	if (a->family != IP_V4 && a->family != IP_V6)
		return -EAFNOSUPPORT;
	ifa->ifa_family = addr_af(a);
	ifa->ifa_prefixlen = plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, addr_len(a), a->b);
	mnl_attr_put(nlh, IFA_ADDRESS, addr_len(a), a->b);
	if (a->family == IP_V6 && nodad)
		flags |= IFA_F_NODAD;
	if (flags) {
		ifa->ifa_flags = (uint8_t)flags;
		mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
	}
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_route_add(struct nl *nl, int ifindex, const struct ip_prefix *dst, const struct ip_addr *gw)
{
	char buf[NL_BUF_SIZE] = {0};
	struct nlmsghdr *nlh = put_header(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	if (gw && gw->family != dst->addr.family)
		return -EINVAL;
	rtm->rtm_family = addr_af(&dst->addr);
	rtm->rtm_dst_len = dst->len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	/* IPv4 on-link routes are scope link; IPv6 has no route scopes. */
	rtm->rtm_scope = gw || dst->addr.family == IP_V6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (dst->len)
		mnl_attr_put(nlh, RTA_DST, addr_len(&dst->addr), dst->addr.b);
	if (gw)
		mnl_attr_put(nlh, RTA_GATEWAY, addr_len(gw), gw->b);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return nl_talk(nl, nlh, NULL, NULL);
}
