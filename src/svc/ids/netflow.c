/* Network flows from the frames that cross the event boundary (all of
 * them inbound: what the guest sends is its own deterministic output and
 * never crosses).  Each frame is parsed defensively (Ethernet, IPv4, TCP
 * or UDP; every length checked against the frame) and accounted to its
 * flow: who opened it (an inbound SYN, or the SYN-ACK answering the
 * guest's), payload bytes in, and bytes out as the remote side
 * acknowledges them. */
#include <string.h>

#include "svc/ids/ids_int.h"

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int frame_parse(const uint8_t *f, size_t len, struct ids_frame *out)
{
	memset(out, 0, sizeof(*out));
	size_t off = 14;
	if (len < off)
		return -1;
	uint16_t type = be16(f + 12);
	if (type == 0x8100) { /* one 802.1Q tag */
		if (len < 18)
			return -1;
		type = be16(f + 16);
		off = 18;
	}
	if (type != 0x0800 || len < off + 20)
		return -1;
	const uint8_t *ip = f + off;
	unsigned ihl = (ip[0] & 15u) * 4u, total = be16(ip + 2);
	if (ip[0] >> 4 != 4 || ihl < 20 || total < ihl || off + total > len)
		return -1;
	if ((be16(ip + 6) & 0x1fff) != 0) /* a later fragment: no transport header */
		return -1;
	out->proto = ip[9];
	out->src = be32(ip + 12);
	out->dst = be32(ip + 16);
	const uint8_t *l4 = ip + ihl;
	size_t l4len = total - ihl;
	if (out->proto == 6) {
		unsigned doff = (unsigned)(l4len >= 13 ? (l4[12] >> 4) * 4u : 0);
		if (l4len < 20 || doff < 20 || doff > l4len)
			return -1;
		out->sport = be16(l4);
		out->dport = be16(l4 + 2);
		out->ack = be32(l4 + 8);
		out->tcp_flags = l4[13];
		out->payload = (uint32_t)(l4len - doff);
		return 0;
	}
	if (out->proto == 17) {
		if (l4len < 8 || be16(l4 + 4) < 8 || be16(l4 + 4) > l4len)
			return -1;
		out->sport = be16(l4);
		out->dport = be16(l4 + 2);
		out->payload = be16(l4 + 4) - 8u;
		return 0;
	}
	return -1;
}

static struct ids_flow *lookup(struct ids_flows *t, const struct ids_frame *fr)
{
	for (int i = 0; i < IDS_MAX_FLOWS; i++) {
		struct ids_flow *f = &t->f[i];
		if (f->used && f->proto == fr->proto && f->guest_ip == fr->dst &&
		    f->guest_port == fr->dport && f->remote_ip == fr->src && f->remote_port == fr->sport)
			return f;
	}
	return NULL;
}

static struct ids_flow *make(struct ids_flows *t)
{
	for (int i = 0; i < IDS_MAX_FLOWS; i++)
		if (!t->f[i].used)
			return &t->f[i];
	/* full: the slots are taken in turn (oldest made first, roughly) */
	struct ids_flow *f = &t->f[t->next_evict];
	t->next_evict = (t->next_evict + 1) % IDS_MAX_FLOWS;
	return f;
}

struct ids_flow *flows_account(struct ids_flows *t, const struct ids_frame *fr, uint64_t icount,
			       bool *is_new)
{
	*is_new = false;
	struct ids_flow *f = lookup(t, fr);
	bool syn = fr->proto == 6 && (fr->tcp_flags & TCP_SYN);
	if (!f || (syn && !(fr->tcp_flags & TCP_ACK) && f->bytes_in + f->bytes_out > 0)) {
		f = f ? f : make(t);
		*f = (struct ids_flow){.used = true, .proto = fr->proto, .guest_ip = fr->dst,
				       .remote_ip = fr->src, .guest_port = fr->dport,
				       .remote_port = fr->sport, .first_icount = icount};
		/* A UDP datagram or a bare SYN from outside: the remote opened it.
		 * A SYN-ACK answers the guest's own SYN. */
		f->inbound = fr->proto == 17 || (syn && !(fr->tcp_flags & TCP_ACK));
		*is_new = true;
	}
	f->last_icount = icount;
	f->bytes_in += fr->payload;
	if (fr->proto == 6 && (fr->tcp_flags & TCP_ACK)) {
		if (!f->ack_known) {
			/* the first ACK acknowledges the guest's SYN: ISN + 1 */
			f->ack_base = fr->ack;
			f->ack_max = fr->ack;
			f->ack_known = true;
		} else if ((int32_t)(fr->ack - f->ack_max) > 0) {
			/* (the guest's FIN takes one sequence number: one byte too many) */
			f->bytes_out += (uint32_t)(fr->ack - f->ack_max);
			f->ack_max = fr->ack;
		}
	}
	return f;
}
