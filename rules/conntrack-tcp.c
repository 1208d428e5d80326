/*
 * The TCP state machine of the tracker: just enough to pick the idle timeout
 * (AWS-SEMANTICS §4: established vs not yet established / closing) and to
 * know when a SYN starts a new connection over a finished one. Flags only:
 * no sequence-number window checks (AWS documents none, and the SG stages
 * filter by addresses and ports, not by TCP validity).
 */
#include "conntrack-private.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

static enum ct_class class_of(uint8_t state)
{
	switch (state) {
	case CT_TCP_ESTABLISHED:
		return CT_CLASS_TCP_ESTABLISHED;
	case CT_TCP_CLOSED:
		return CT_CLASS_TCP_CLOSED;
	default:
		return CT_CLASS_TCP_TRANSIENT;
	}
}

static void set_state(struct ct_conn *c, enum ct_tcp_state s)
{
	c->tcp_state = (uint8_t)s;
	c->cls = (uint8_t)class_of(s);
}

/* A FIN closes one way; both ways closed is TIME_WAIT. */
static void note_fin(struct ct_conn *c, enum ct_dir dir)
{
	c->flags |= dir == CT_DIR_ORIGINAL ? CT_F_FIN_ORIG : CT_F_FIN_REPLY;
	if ((c->flags & CT_F_FIN_ORIG) && (c->flags & CT_F_FIN_REPLY))
		set_state(c, CT_TCP_TIME_WAIT);
	else
		set_state(c, CT_TCP_FIN_WAIT);
}

/* The rules accepted this packet, whatever it is: a connection seen first
 * mid-stream (daemon restarted, flow admitted by a rule on a non-SYN) is
 * taken as established, as Linux does with nf_conntrack_tcp_loose. */
static void tcp_new(struct ct_conn *c, const struct ct_tuple *t)
{
	uint8_t f = t->tcp_flags;

	if (f & TCP_RST)
		set_state(c, CT_TCP_CLOSED);
	else if ((f & TCP_SYN) && (f & TCP_ACK))
		set_state(c, CT_TCP_SYN_RECV);
	else if (f & TCP_SYN)
		set_state(c, CT_TCP_SYN_SENT);
	else if (f & TCP_FIN)
		note_fin(c, CT_DIR_ORIGINAL);
	else
		set_state(c, CT_TCP_ESTABLISHED);
}

static void tcp_update(struct ct_conn *c, enum ct_dir dir, const struct ct_tuple *t)
{
	uint8_t f = t->tcp_flags;

	if (f & TCP_RST) {
		set_state(c, CT_TCP_CLOSED);
		return;
	}
	switch (c->tcp_state) {
	case CT_TCP_SYN_SENT:
		if (dir == CT_DIR_REPLY && (f & TCP_SYN) && (f & TCP_ACK))
			set_state(c, CT_TCP_SYN_RECV);
		break;
	case CT_TCP_SYN_RECV:
		if (dir == CT_DIR_ORIGINAL && (f & TCP_ACK) && !(f & TCP_SYN))
			set_state(c, CT_TCP_ESTABLISHED);
		break;
	default:
		break;
	}
	if ((f & TCP_FIN) && c->tcp_state != CT_TCP_CLOSED)
		note_fin(c, dir);
}

/* A bare SYN over a finished connection is a new one (port reuse): the
 * rules must decide again, in whichever direction it goes. */
static bool tcp_reopens(const struct ct_conn *c, const struct ct_tuple *t)
{
	uint8_t f = t->tcp_flags;

	return (f & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
	       (c->tcp_state == CT_TCP_TIME_WAIT || c->tcp_state == CT_TCP_CLOSED);
}

const struct ct_proto ct_proto_tcp = {
    .conn_new = tcp_new,
    .conn_update = tcp_update,
    .reopens = tcp_reopens,
};
