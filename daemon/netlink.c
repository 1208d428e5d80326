/*
 * rtnetlink through libmnl: every request is built in a stack buffer and
 * sent with NLM_F_ACK. Outside a batch it is answered by exactly one ack
 * (or error) that is checked before the next request goes out; inside one
 * (nl_batch_begin) requests are copied into a send buffer, go out many per
 * sendmsg, and their acks are matched back to the caller's tag by sequence
 * number. The kernel's extended ack text is kept so callers can say more
 * than "Invalid argument". Only what topology needs: one link dump, no
 * other reads.
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

/* Requests per sendmsg in a batch: their acks (an skb each) must fit the
 * default receive buffer, or the kernel drops them (ENOBUFS). */
#define NL_BATCH_MSGS 64
#define NL_BATCH_BYTES (NL_BATCH_MSGS * 512)

struct nl_pending {
	uint32_t seq;
	int tag;
};

/* Requests queued since the last flush, and the first error of the batch. */
struct nl_batch {
	char buf[NL_BATCH_BYTES];
	size_t len;
	struct nl_pending pend[NL_BATCH_MSGS];
	size_t n;
	int tag; /* given to the next requests */
	int err;
	int err_tag;
	char err_msg[256];
};

struct nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	struct nl_batch *batch; /* non-NULL between begin and end */
	char ext_msg[256];	/* extended ack text of the last error */
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
	/* Best effort: without extended acks we only lose the kernel's text;
	 * without capped acks an error carries the whole request back. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	*out = nl;
	return 0;
}

void nl_close(struct nl *nl)
{
	if (!nl)
		return;
	free(nl->batch);
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

/* The extended ack text of one error message, into dst (256 bytes). */
static void ext_ack_text(const struct nlmsghdr *nlh, char *dst)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	unsigned int off = sizeof(*e);

	dst[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (mnl_nlmsg_size(off) <= nlh->nlmsg_len)
		mnl_attr_parse(nlh, off, ext_ack_attr_cb, dst);
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

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;
	ext_ack_text(nlh, nl->ext_msg);
	errno = -e->error;
	return MNL_CB_ERROR;
}

/* One ack of the batch in flight: marks it answered, keeps the first
 * error with its tag. How many pending requests it answered (0 or 1). */
static size_t batch_ack(struct nl_batch *b, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return 0;
	for (size_t i = 0; i < b->n; i++) {
		if (b->pend[i].seq != nlh->nlmsg_seq)
			continue;
		b->pend[i].seq = 0;
		if (e->error && !b->err) {
			b->err = e->error;
			b->err_tag = b->pend[i].tag;
			ext_ack_text(nlh, b->err_msg);
		}
		return 1;
	}
	return 0;
}

/* Sends the queued requests in one sendmsg and reads every ack: rtnetlink
 * runs each request inside that call, so the acks are already queued. */
static int batch_flush(struct nl *nl)
{
	struct nl_batch *b = nl->batch;
	char buf[NL_BUF_SIZE];
	size_t got = 0;

	int ret = 0;

	if (!b->n)
		return 0;
	if (mnl_socket_sendto(nl->sock, b->buf, b->len) < 0)
		ret = -errno;
	while (!ret && got < b->n) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		int len = (int)n;

		if (n < 0) {
			ret = -errno;
			break;
		}
		for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(h, len);
		     h = mnl_nlmsg_next(h, &len))
			got += batch_ack(b, h);
	}
	/* Unsent or unacknowledged requests count as failed: the batch
	 * reports the first failure either way. */
	if (ret && !b->err) {
		b->err = ret;
		b->err_tag = b->pend[0].tag;
		for (size_t i = 0; i < b->n; i++)
			if (b->pend[i].seq) {
				b->err_tag = b->pend[i].tag;
				break;
			}
	}
	b->len = 0;
	b->n = 0;
	return ret;
}

/* A request refused before it was sent: in a batch, its first error. */
static int nl_refuse(struct nl *nl, int err)
{
	if (nl->batch && !nl->batch->err) {
		nl->batch->err = err;
		nl->batch->err_tag = nl->batch->tag;
		nl->batch->err_msg[0] = '\0';
	}
	return err;
}

/* Queues a request of the batch; flushes first when it would not fit. */
static int batch_queue(struct nl *nl, struct nlmsghdr *nlh)
{
	struct nl_batch *b = nl->batch;
	int ret;

	if (nlh->nlmsg_len > sizeof(b->buf))
		return nl_refuse(nl, -EMSGSIZE);
	if (b->n == NL_BATCH_MSGS || b->len + NLMSG_ALIGN(nlh->nlmsg_len) > sizeof(b->buf)) {
		ret = batch_flush(nl);
		if (ret)
			return ret;
	}
	nlh->nlmsg_seq = ++nl->seq;
	nlh->nlmsg_flags |= NLM_F_ACK;
	memcpy(b->buf + b->len, nlh, nlh->nlmsg_len);
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	b->pend[b->n++] = (struct nl_pending){nlh->nlmsg_seq, b->tag};
	return 0;
}

int nl_batch_begin(struct nl *nl)
{
	if (nl->batch)
		return -EBUSY;
	nl->batch = calloc(1, sizeof(*nl->batch));
	return nl->batch ? 0 : -ENOMEM;
}

void nl_batch_tag(struct nl *nl, int tag)
{
	if (nl->batch)
		nl->batch->tag = tag;
}

int nl_batch_end(struct nl *nl, int *failed_tag)
{
	struct nl_batch *b = nl->batch;
	int ret;

	if (!b)
		return -EINVAL;
	batch_flush(nl);
	ret = b->err;
	snprintf(nl->ext_msg, sizeof(nl->ext_msg), "%s", ret ? b->err_msg : "");
	if (failed_tag)
		*failed_tag = ret ? b->err_tag : -1;
	free(b);
	nl->batch = NULL;
	return ret;
}

/*
 * Sends one request and waits for its ack (in a batch: queues it, 0 or
 * the error of a flush); data_cb (may be NULL) sees
 * reply messages that come before it. 0 or -errno.
 */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t data_cb, void *data)
{
	char buf[NL_BUF_SIZE];
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {0};
	struct talk_ctx ctx = {nl, data_cb, data};
	uint32_t seq;
	ssize_t n;
	int ret;

	if (nl->batch)
		return data_cb ? nl_refuse(nl, -EINVAL) : batch_queue(nl, nlh);
	seq = ++nl->seq;
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

/* An RTM_*LINK request about ifindex (0: none) with its ifinfomsg. */
static struct nlmsghdr *link_msg(char *buf, uint16_t type, uint16_t flags, int ifindex)
{
	struct nlmsghdr *nlh = put_header(buf, type, flags);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return nlh;
}

int nl_veth_add(struct nl *nl, const struct nl_veth *v)
{
	char buf[NL_BUF_SIZE] = {0};
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct ifinfomsg *pifm;
	struct nlattr *linkinfo, *infodata, *peerinfo;

	/* Up at birth: no separate request. Only this end: the peer is
	 * configured before the pair is joined and would refuse
	 * (ENOTCONN). */
	ifm->ifi_flags = ifm->ifi_change = v->up ? IFF_UP : 0;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, v->name);
	if (v->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, v->mtu);
	if (v->group)
		mnl_attr_put_u32(nlh, IFLA_GROUP, v->group);
	if (v->mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, v->mac);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	infodata = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peerinfo = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow its own ifinfomsg inside the nest. */
	pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
	memset(pifm, 0, sizeof(*pifm));
	pifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, v->peer);
	if (v->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, v->mtu);
	if (v->peer_mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, v->peer_mac);
	if (v->peer_nsfd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)v->peer_nsfd);
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
	case IFLA_LINK:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			l->link = (int)mnl_attr_get_u32(attr);
		break;
	case IFLA_GROUP:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			l->group = mnl_attr_get_u32(attr);
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
	memset(l, 0, sizeof(*l));
	l->ifindex = ifm->ifi_index;
	l->up = ifm->ifi_flags & IFF_UP;
	mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, l);
	return MNL_CB_OK;
}

struct dump_ctx {
	nl_link_fn fn;
	void *arg;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct nl_link l = {0};

	link_cb(nlh, &l);
	if (l.ifindex)
		d->fn(&l, d->arg);
	return MNL_CB_OK;
}

/* A dump ends with NLMSG_DONE, not an ack: read until it comes (the
 * kernel fills at most 32 KiB per read). */
int nl_link_dump(struct nl *nl, nl_link_fn fn, void *arg)
{
	char req[NL_BUF_SIZE] = {0}, buf[32768];
	struct nlmsghdr *nlh = link_msg(req, RTM_GETLINK, NLM_F_DUMP, 0);
	struct dump_ctx d = {fn, arg};
	uint32_t seq = ++nl->seq;
	int ret = MNL_CB_OK;

	if (nl->batch)
		return -EINVAL;
	nlh->nlmsg_seq = seq;
	nl->ext_msg[0] = '\0';
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while (ret > MNL_CB_STOP) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));

		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, seq, nl->portid, dump_cb, &d);
	}
	return ret == MNL_CB_ERROR ? -errno : 0;
}

int nl_link_get(struct nl *nl, const char *name, struct nl_link *out)
{
	char buf[NL_BUF_SIZE] = {0};
	struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, 0, 0);
	int ret;

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
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_del(struct nl *nl, int ifindex)
{
	char buf[NL_BUF_SIZE] = {0};

	return nl_talk(nl, link_msg(buf, RTM_DELLINK, 0, ifindex), NULL, NULL);
}

int nl_link_set_group(struct nl *nl, int ifindex, uint32_t group)
{
	char buf[NL_BUF_SIZE] = {0};
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);

	mnl_attr_put_u32(nlh, IFLA_GROUP, group);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_set_netns(struct nl *nl, int ifindex, int nsfd)
{
	char buf[NL_BUF_SIZE] = {0};
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);

	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)nsfd);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* RTM_DELLINK without an index and with IFLA_GROUP: the kernel unregisters
 * the whole group in one batch (one RCU grace period, not one per link). */
int nl_group_del(struct nl *nl, uint32_t group)
{
	char buf[NL_BUF_SIZE] = {0};
	struct nlmsghdr *nlh = link_msg(buf, RTM_DELLINK, 0, 0);

	mnl_attr_put_u32(nlh, IFLA_GROUP, group);
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
		return nl_refuse(nl, -EAFNOSUPPORT);
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
		return nl_refuse(nl, -EINVAL);
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
