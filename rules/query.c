/*
 * Building a pipeline_query from names (query.h): endpoint resolution,
 * the one-family rule, contract 4's defaults.
 */
#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void query_spec_init(struct query_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->proto = -1;
	s->port = s->sport = s->icmp_type = s->icmp_code = -1;
	s->eph_lo = PIPELINE_EPHEMERAL_LO;
	s->eph_hi = PIPELINE_EPHEMERAL_HI;
}

int query_proto_parse(const char *s, int *proto)
{
	static const struct {
		const char *name;
		int proto;
	} names[] = {
	    {"tcp", PROTO_TCP}, {"udp", PROTO_UDP}, {"icmp", PROTO_ICMP}, {"icmpv6", PROTO_ICMPV6}};
	if (!s || !*s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i].name)) {
			*proto = names[i].proto;
			return 0;
		}
	}
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 255)
		return -EINVAL;
	*proto = (int)v;
	return 0;
}

/* The protocol part of the request; addresses come later. */
static int request_fields(const struct query_spec *s, struct flow *f, char *err, size_t len)
{
	memset(f, 0, sizeof(*f));
	if (s->proto < 0 || s->proto > 255) {
		snprintf(err, len, "a protocol is needed (tcp, udp, icmp, icmpv6 or 0-255)");
		return -EINVAL;
	}
	f->proto = (uint8_t)s->proto;
	bool ports = flow_has_ports(f), icmp = flow_is_icmp(f);
	if (ports && (s->port < 0 || s->port > 65535)) {
		snprintf(err, len, "tcp and udp need a destination port (0-65535)");
		return -EINVAL;
	}
	if (!ports && (s->port >= 0 || s->sport >= 0)) {
		snprintf(err, len, "ports apply to tcp and udp only");
		return -EINVAL;
	}
	if (!icmp && (s->icmp_type >= 0 || s->icmp_code >= 0)) {
		snprintf(err, len, "ICMP type and code apply to icmp and icmpv6 only");
		return -EINVAL;
	}
	if (s->sport > 65535 || s->icmp_type > 255 || s->icmp_code > 255 || s->eph_lo > s->eph_hi) {
		snprintf(err, len, "client port, ICMP type/code or ephemeral range out of range");
		return -EINVAL;
	}
	if (ports) {
		f->dport = (uint16_t)s->port;
		f->sport = s->sport >= 0 ? (uint16_t)s->sport : s->eph_lo;
	}
	if (icmp) {
		int def = f->proto == PROTO_ICMP ? 8 : 128;
		f->icmp_type = (uint8_t)(s->icmp_type >= 0 ? s->icmp_type : def);
		f->icmp_code = (uint8_t)(s->icmp_code >= 0 ? s->icmp_code : 0);
	}
	return 0;
}

struct resolved {
	struct endpoint ep;
	int implied;	/* the family the text or the host fixes, 0 when free */
	bool by_public; /* named by the public IP of ep.addr */
};

static int resolve(const struct lab *lab, const char *name, struct resolved *r, char *err,
		   size_t len)
{
	int e = lab_resolve_endpoint(lab, name, &r->ep);
	if (e == -EEXIST) {
		snprintf(err, len, "'%s' is ambiguous (several owners of that Name)", name);
		return e;
	}
	if (e < 0) {
		snprintf(err, len, "'%s' is no instance, ENI, Name tag or IP address of the lab",
			 name ? name : "");
		return -ENOENT;
	}
	struct ip_addr tmp;
	r->implied = 0;
	r->by_public = false;
	if (ip_addr_parse(name, &tmp) == 0) {
		r->implied = tmp.family;
		r->by_public = r->ep.kind == ENDPOINT_ENI && !ip_addr_eq(&tmp, &r->ep.addr);
	} else if (r->ep.kind == ENDPOINT_OUTSIDE)
		r->implied = r->ep.addr.family;
	return 0;
}

/* One family for both ends: an address (or the ICMP flavour) fixes it;
 * otherwise IPv4, or IPv6 for ENIs that only have IPv6. */
static int pick_family(const struct lab *lab, struct resolved *from, struct resolved *to, int proto,
		       const struct query_spec *s, char *err, size_t len)
{
	int fam = 0;
	int implied[3] = {from->implied, to->implied,
			  proto == PROTO_ICMP	  ? IP_V4
			  : proto == PROTO_ICMPV6 ? IP_V6
						  : 0};
	for (int i = 0; i < 3; i++) {
		if (!implied[i])
			continue;
		if (fam && fam != implied[i]) {
			snprintf(err, len, "mixed IPv4 and IPv6 (%s, %s, protocol %d)", s->from,
				 s->to, proto);
			return -EINVAL;
		}
		fam = implied[i];
	}
	int tries[2] = {fam ? fam : IP_V4, fam ? 0 : IP_V6};
	for (int i = 0; i < 2 && tries[i]; i++) {
		struct endpoint f = from->ep, t = to->ep;
		if (lab_endpoint_addr(lab, &f, (enum ip_family)tries[i]) == 0 &&
		    lab_endpoint_addr(lab, &t, (enum ip_family)tries[i]) == 0) {
			from->ep = f;
			to->ep = t;
			return 0;
		}
	}
	snprintf(err, len, "%s and %s have no address of one family in common", s->from, s->to);
	return -EAFNOSUPPORT;
}

static int32_t endpoint_vpc(const struct lab *lab, const struct endpoint *ep)
{
	if (ep->kind != ENDPOINT_ENI || ep->eni < 0 || (size_t)ep->eni >= lab->n_enis)
		return -1;
	int32_t s = lab->enis[ep->eni].subnet;
	return s >= 0 && (size_t)s < lab->n_subnets ? lab->subnets[s].vpc : -1;
}

static void to_end(const struct lab *lab, const struct endpoint *ep, const struct endpoint *other,
		   struct pipeline_end *end)
{
	if (ep->kind == ENDPOINT_ENI) {
		*end = (struct pipeline_end){.kind = END_ENI, .eni = ep->eni};
		return;
	}
	pipeline_end_of_addr(lab, endpoint_vpc(lab, other), &ep->addr, end);
	if (end->kind == END_ENI) /* resolution said outside: keep it outside */
		*end = (struct pipeline_end){.kind = END_OUTSIDE, .eni = -1};
}

static void warn_inside_vpc(const struct resolved *r, const struct pipeline_end *e, char *warn,
			    size_t len)
{
	if (!warn || !len || warn[0] || e->kind != END_OUTSIDE || !r->ep.in_vpc_cidr)
		return;
	char a[IP_ADDR_STRLEN];
	snprintf(warn, len, "%s lies inside a VPC CIDR but belongs to no ENI",
		 ip_addr_format(&r->ep.addr, a, sizeof(a)));
}

int query_build(const struct lab *lab, const struct query_spec *s, struct pipeline_query *q,
		char *err, size_t errlen, char *warn, size_t warnlen)
{
	struct flow f;
	struct resolved from, to;
	int r;
	if (warn && warnlen)
		warn[0] = '\0';
	if ((r = request_fields(s, &f, err, errlen)) < 0)
		return r;
	if ((r = resolve(lab, s->from, &from, err, errlen)) < 0 ||
	    (r = resolve(lab, s->to, &to, err, errlen)) < 0)
		return r;
	if (from.ep.kind != ENDPOINT_ENI && to.ep.kind != ENDPOINT_ENI) {
		snprintf(err, errlen, "neither %s nor %s is an ENI of the lab", s->from, s->to);
		return -EINVAL;
	}
	if ((r = pick_family(lab, &from, &to, s->proto, s, err, errlen)) < 0)
		return r;
	if (from.ep.kind == ENDPOINT_ENI && to.ep.kind == ENDPOINT_ENI &&
	    from.ep.eni == to.ep.eni) {
		snprintf(err, errlen,
			 "%s and %s are the same ENI: its traffic to itself never leaves the "
			 "instance",
			 s->from, s->to);
		return -EINVAL;
	}
	f.src = from.ep.addr;
	f.dst = to.ep.addr;
	pipeline_query_init(q);
	to_end(lab, &from.ep, &to.ep, &q->client);
	to_end(lab, &to.ep, &from.ep, &q->server);
	warn_inside_vpc(&from, &q->client, warn, warnlen);
	warn_inside_vpc(&to, &q->server, warn, warnlen);
	q->request = f;
	q->has_sport = s->sport >= 0;
	q->eph_lo = s->eph_lo;
	q->eph_hi = s->eph_hi;
	q->via_public = to.by_public; /* a hairpin from an ENI (§9) */
	return 0;
}
