/*
 * The router namespace's nftables state through libnftnl: a netdev table
 * per lab and, per router port, a base chain on that device's ingress hook
 * holding one rule, "counter drop", with policy drop besides. AF_PACKET
 * taps (libpcap) run before netdev ingress, so the daemon still sees every
 * frame, but the router kernel never receives one: it cannot answer ARP or
 * ND, route, or send ICMP errors for lab traffic.
 *
 * Every change is one transaction: BATCH_BEGIN, the messages (each with
 * NLM_F_ACK), BATCH_END, sent in one sendto. nf_tables handles the batch
 * synchronously inside that call and queues one reply per message, so the
 * replies are read without blocking and each message's ack is checked by
 * sequence number. Not a general nftables library: only these objects.
 */
#include "nft.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Priority of the drop chains: first among netdev ingress hooks. */
#define NFT_DROP_PRIO (-500)
/* A transaction carries up to NFT_PORTS_PER_BATCH ports (two messages
 * each); their acks must fit the socket's default receive buffer. */
#define NFT_PORTS_PER_BATCH 64
#define NFT_MAX_MSGS (2 * NFT_PORTS_PER_BATCH)
#define NFT_BUF_SIZE 65536
#define NFT_RBUF_SIZE 16384

struct nft_lab {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	char table[NFT_NAME_MAX];
};

/* One transaction being built. */
struct nft_batch {
	struct mnl_nlmsg_batch *b;
	uint32_t seqs[NFT_MAX_MSGS];
	size_t n;
	char buf[NFT_BUF_SIZE];
};

static int sock_open(struct mnl_socket **out, uint32_t *portid)
{
	struct mnl_socket *s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	int one = 1;

	if (!s)
		return -errno;
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = -errno;

		mnl_socket_close(s);
		return e;
	}
	/* Only the header of a failed message comes back: replies stay small. */
	mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof(one));
	*portid = mnl_socket_get_portid(s);
	*out = s;
	return 0;
}

static void batch_start(struct nft_batch *bt, uint32_t *seq)
{
	bt->b = mnl_nlmsg_batch_start(bt->buf, sizeof(bt->buf));
	bt->n = 0;
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), (*seq)++);
	mnl_nlmsg_batch_next(bt->b);
}

/* Header of the next message; its seq is remembered for the ack check. */
static struct nlmsghdr *batch_msg(struct nft_batch *bt, uint32_t *seq, uint16_t type,
				  uint16_t flags)
{
	uint32_t s = (*seq)++;

	bt->seqs[bt->n++] = s;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type, NFPROTO_NETDEV,
				     flags | NLM_F_ACK, s);
}

/* Ends the batch (every message so far followed by mnl_nlmsg_batch_next),
 * sends it and checks one ack per message. The first error wins
 * (nf_tables then aborts the whole transaction, so nothing half-applies). */
static int batch_send(struct mnl_socket *sock, struct nft_batch *bt, uint32_t *seq, size_t *bad)
{
	char rbuf[NFT_RBUF_SIZE];
	bool acked[NFT_MAX_MSGS] = {false};
	size_t got = 0;
	int first_err = 0;

	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), (*seq)++);
	mnl_nlmsg_batch_next(bt->b);
	if (mnl_socket_sendto(sock, mnl_nlmsg_batch_head(bt->b), mnl_nlmsg_batch_size(bt->b)) < 0)
		return -errno;
	mnl_nlmsg_batch_stop(bt->b);
	while (got < bt->n) {
		ssize_t n = recv(mnl_socket_get_fd(sock), rbuf, sizeof(rbuf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh;
		int len;

		if (n < 0)
			return errno == EAGAIN ? (first_err ? first_err : -EPROTO) : -errno;
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)rbuf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			for (size_t i = 0; i < bt->n; i++) {
				if (bt->seqs[i] != nlh->nlmsg_seq || acked[i])
					continue;
				acked[i] = true;
				got++;
				if (e->error && !first_err) {
					first_err = e->error;
					if (bad)
						*bad = i;
				}
			}
			/* An error on BATCH_BEGIN (no NLM_F_ACK of ours)
			 * rejects everything: nothing else will come. */
			if (e->error && got < bt->n && nlh->nlmsg_seq < bt->seqs[0])
				return e->error;
		}
	}
	return first_err;
}

static struct nftnl_table *table_new(const char *name)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return NULL;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_NETDEV);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	return t;
}

static int put_table(struct nft_batch *bt, uint32_t *seq, const char *name, uint16_t type,
		     uint16_t flags)
{
	struct nftnl_table *t = table_new(name);
	struct nlmsghdr *nlh;

	if (!t)
		return -ENOMEM;
	nlh = batch_msg(bt, seq, type, flags);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	mnl_nlmsg_batch_next(bt->b);
	return 0;
}

static int table_name(const char *lab, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s", NFT_TABLE_PREFIX, lab);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int nft_lab_create(const char *lab, struct nft_lab **out, char *err, size_t errlen)
{
	struct nft_lab *n = calloc(1, sizeof(*n));
	struct nft_batch *bt = calloc(1, sizeof(*bt));
	int ret = -ENOMEM;

	if (!n || !bt)
		goto fail;
	ret = table_name(lab, n->table, sizeof(n->table));
	if (ret)
		goto fail;
	ret = sock_open(&n->sock, &n->portid);
	if (ret)
		goto fail;
	n->seq = (uint32_t)time(NULL);
	/* add + delete + add: a table left by a dead daemon is replaced, in
	 * one transaction, the way `nft -f` files start over. */
	batch_start(bt, &n->seq);
	ret = put_table(bt, &n->seq, n->table, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	if (!ret)
		ret = put_table(bt, &n->seq, n->table, NFT_MSG_DELTABLE, 0);
	if (!ret)
		ret = put_table(bt, &n->seq, n->table, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL);
	if (!ret)
		ret = batch_send(n->sock, bt, &n->seq, NULL);
	if (ret)
		goto fail;
	free(bt);
	*out = n;
	return 0;
fail:
	snprintf(err, errlen, "nftables: creating table netdev %s: %s", n ? n->table : lab,
		 strerror(-ret));
	if (n && n->sock)
		mnl_socket_close(n->sock);
	free(n);
	free(bt);
	return ret;
}

static int chain_name(const char *ifname, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s", NFT_CHAIN_PREFIX, ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static struct nftnl_chain *chain_new(const struct nft_lab *n, const char *name)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return NULL;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_NETDEV);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, n->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	return c;
}

static struct nftnl_rule *drop_rule_new(const struct nft_lab *n, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *cnt, *imm;

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_NETDEV);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, n->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	cnt = nftnl_expr_alloc("counter");
	imm = nftnl_expr_alloc("immediate");
	if (!cnt || !imm) {
		nftnl_expr_free(cnt);
		nftnl_expr_free(imm);
		nftnl_rule_free(r);
		return NULL;
	}
	nftnl_rule_add_expr(r, cnt);
	nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
	nftnl_rule_add_expr(r, imm);
	return r;
}

static int port_add_batch(struct nft_lab *n, struct nft_batch *bt, const char *ifname,
			  const char *chain)
{
	struct nftnl_chain *c = chain_new(n, chain);
	struct nftnl_rule *r = drop_rule_new(n, chain);
	struct nlmsghdr *nlh;

	if (!c || !r) {
		nftnl_chain_free(c);
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_NETDEV_INGRESS);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NFT_DROP_PRIO);
	nftnl_chain_set_str(c, NFTNL_CHAIN_DEV, ifname);
	/* Policy drop as well: frames are dropped even if the rule is gone. */
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_DROP);
	nlh = batch_msg(bt, &n->seq, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	mnl_nlmsg_batch_next(bt->b);
	nlh = batch_msg(bt, &n->seq, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	mnl_nlmsg_batch_next(bt->b);
	nftnl_chain_free(c);
	nftnl_rule_free(r);
	return 0;
}

/* One transaction adding ports[0..n) (n <= NFT_PORTS_PER_BATCH); *bad: the
 * port whose message failed. */
static int ports_add_batch(struct nft_lab *n, struct nft_batch *bt, const char *const *ports,
			   size_t count, size_t *bad)
{
	char chain[NFT_NAME_MAX];
	size_t msg = 0;
	int ret = 0;

	batch_start(bt, &n->seq);
	for (size_t i = 0; i < count && !ret; i++) {
		*bad = i;
		ret = chain_name(ports[i], chain, sizeof(chain));
		if (!ret)
			ret = port_add_batch(n, bt, ports[i], chain);
	}
	if (ret)
		return ret;
	ret = batch_send(n->sock, bt, &n->seq, &msg);
	if (ret)
		*bad = msg / 2;
	return ret;
}

int nft_ports_add(struct nft_lab *n, const char *const *ports, size_t count, char *err,
		  size_t errlen)
{
	struct nft_batch *bt = calloc(1, sizeof(*bt));
	size_t done = 0, bad = 0;
	int ret = bt ? 0 : -ENOMEM;

	while (!ret && done < count) {
		size_t k = count - done < NFT_PORTS_PER_BATCH ? count - done : NFT_PORTS_PER_BATCH;

		ret = ports_add_batch(n, bt, ports + done, k, &bad);
		if (!ret)
			done += k;
	}
	free(bt);
	if (ret)
		snprintf(err, errlen, "nftables: adding ingress drop chain for %s to %s: %s",
			 done + bad < count ? ports[done + bad] : "?", n->table, strerror(-ret));
	return ret;
}

int nft_port_add(struct nft_lab *n, const char *ifname, char *err, size_t errlen)
{
	return nft_ports_add(n, &ifname, 1, err, errlen);
}

int nft_port_del(struct nft_lab *n, const char *ifname, char *err, size_t errlen)
{
	char chain[NFT_NAME_MAX];
	struct nft_batch *bt = calloc(1, sizeof(*bt));
	struct nftnl_chain *c = NULL;
	struct nlmsghdr *nlh;
	int ret = bt ? chain_name(ifname, chain, sizeof(chain)) : -ENOMEM;

	if (!ret) {
		c = chain_new(n, chain);
		ret = c ? 0 : -ENOMEM;
	}
	if (!ret) {
		/* DESTROY would hide a missing chain; DELCHAIN reports it. A
		 * base chain's rules go with it. */
		batch_start(bt, &n->seq);
		nlh = batch_msg(bt, &n->seq, NFT_MSG_DELCHAIN, 0);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		mnl_nlmsg_batch_next(bt->b);
		ret = batch_send(n->sock, bt, &n->seq, NULL);
	}
	nftnl_chain_free(c);
	free(bt);
	if (ret)
		snprintf(err, errlen, "nftables: removing chain %s from %s: %s", chain, n->table,
			 strerror(-ret));
	return ret;
}

static int table_delete(struct mnl_socket *sock, uint32_t *seq, const char *table)
{
	struct nft_batch *bt = calloc(1, sizeof(*bt));
	int ret;

	if (!bt)
		return -ENOMEM;
	batch_start(bt, seq);
	ret = put_table(bt, seq, table, NFT_MSG_DELTABLE, 0);
	if (!ret)
		ret = batch_send(sock, bt, seq, NULL);
	free(bt);
	return ret;
}

int nft_lab_delete(struct nft_lab *n)
{
	int ret;

	if (!n)
		return 0;
	ret = table_delete(n->sock, &n->seq, n->table);
	mnl_socket_close(n->sock);
	free(n);
	return ret;
}

int nft_table_delete(const char *lab)
{
	char table[NFT_NAME_MAX];
	struct mnl_socket *sock = NULL;
	uint32_t portid, seq = (uint32_t)time(NULL);
	int ret = table_name(lab, table, sizeof(table));

	if (ret)
		return ret;
	ret = sock_open(&sock, &portid);
	if (ret)
		return ret;
	ret = table_delete(sock, &seq, table);
	mnl_socket_close(sock);
	return ret;
}
