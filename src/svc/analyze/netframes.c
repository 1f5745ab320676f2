/* The network frames the log feeds the guest, counted per connection
 * direction: Ethernet, IPv4, then TCP or UDP ports and payload length.
 * The frames are the guest's input and may be anything: every length is
 * checked against the frame before it is used. */
#include <stdio.h>

#include "svc/analyze/analyze_int.h"

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

void an_frame(struct analyze_data *d, uint64_t icount, uint64_t ns, const uint8_t *f,
	      size_t len)
{
	d->frames++;
	if (len < 14 + 20 || be16(f + 12) != 0x0800 || f[14] >> 4 != 4)
		return;
	const uint8_t *ip = f + 14;
	size_t ihl = (size_t)(ip[0] & 15) * 4, total = be16(ip + 2);
	if (ihl < 20 || total < ihl || 14 + total > len || (ip[9] != 6 && ip[9] != 17))
		return;
	const uint8_t *l4 = ip + ihl;
	size_t l4len = total - ihl, hdr = ip[9] == 6 ? 20 : 8;
	if (l4len < hdr)
		return;
	if (ip[9] == 6)
		hdr = (size_t)(l4[12] >> 4) * 4;
	if (hdr < 8 || hdr > l4len)
		return;
	char name[128], from[48], to[48];
	snprintf(from, sizeof(from), "%u.%u.%u.%u:%u", ip[12], ip[13], ip[14], ip[15], be16(l4));
	snprintf(to, sizeof(to), "%u.%u.%u.%u:%u", ip[16], ip[17], ip[18], ip[19], be16(l4 + 2));
	snprintf(name, sizeof(name), "%s %s>%s", ip[9] == 6 ? "tcp" : "udp", from, to);
	uint32_t o = an_obj_intern(&d->objs, OBJ_CONN, name);
	if (o == AN_NONE)
		return;
	struct an_obj *ob = an_obj(&d->objs, o);
	snprintf(ob->from, sizeof(ob->from), "%s", from);
	snprintf(ob->to, sizeof(ob->to), "%s", to);
	if (!ob->frames)
		ob->first_frame = icount, ob->first_frame_ns = ns;
	ob->frames++;
	ob->last_frame = icount;
	ob->last_frame_ns = ns;
	ob->frame_bytes += l4len - hdr;
}
