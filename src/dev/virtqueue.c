/* Split virtqueues (virtio 1.2 §2.7), device side.  See virtio.h.
 *
 * Ring layout for a queue of size N:
 *   descriptor table  16·N bytes, 16-aligned: {le64 addr, le32 len, le16 flags, le16 next}
 *   avail ring         6+2·N bytes, 2-aligned: {le16 flags, le16 idx, le16 ring[N], le16 used_event}
 *   used ring          6+8·N bytes, 4-aligned: {le16 flags, le16 idx, {le32 id, le32 len}[N], le16 avail_event}
 *
 * Every field is read once into a local before it is checked and used, so
 * a guest rewriting the rings behind our back (another hart, or the buffer
 * we are filling overlapping the ring) can change what we do but never make
 * us act on a value we did not check. */
#include "dev/virtio.h"

#include <string.h>

#define DESC_SIZE 16

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

const char *virtq_check_layout(const struct bus *bus, const struct virtq *q)
{
	uint32_t n = q->num;
	if (n == 0 || n > q->num_max || (n & (n - 1)) != 0)
		return "queue size is not a power of 2 within QueueNumMax";
	if (q->desc % 16 || q->avail % 2 || q->used % 4)
		return "ring address misaligned";
	if (!bus_ram_ptr(bus, q->desc, (uint64_t)DESC_SIZE * n, false))
		return "descriptor table outside RAM";
	if (!bus_ram_ptr(bus, q->avail, 6 + 2ULL * n, false))
		return "avail ring outside RAM";
	if (!bus_ram_ptr(bus, q->used, 6 + 8ULL * n, true))
		return "used ring outside writable RAM";
	return NULL;
}

static const uint8_t *avail_ring(const struct virtio_mmio *t, const struct virtq *q)
{
	return bus_ram_ptr(t->bus, q->avail, 4 + 2ULL * q->num, false);
}

static int read_desc(struct virtio_mmio *t, uint64_t table, uint32_t i, struct desc *d)
{
	const uint8_t *p = bus_ram_ptr(t->bus, table + (uint64_t)DESC_SIZE * i, DESC_SIZE, false);
	if (!p) {
		virtio_mmio_fail(t, "descriptor outside RAM");
		return -1;
	}
	d->addr = virtio_ld64(p);
	d->len = virtio_ld32(p + 8);
	d->flags = virtio_ld16(p + 12);
	d->next = virtio_ld16(p + 14);
	return 0;
}

static int add_segment(struct virtio_mmio *t, struct virtq_req *req, const struct desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	if (!writable && req->writable_len > 0)
		return virtio_mmio_fail(t, "device-readable descriptor after a writable one");
	if (d->len == 0)
		return 0;
	if (req->nseg == VIRTQ_MAX_CHAIN)
		return virtio_mmio_fail(t, "descriptor chain too long");
	struct virtq_seg *s = &req->seg[req->nseg++];
	s->gpa = d->addr;
	s->len = d->len;
	s->writable = writable;
	s->host = bus_ram_ptr(t->bus, d->addr, d->len, writable);
	if (!s->host)
		req->bad++;
	if (writable)
		req->writable_len += d->len;
	else
		req->readable_len += d->len;
	return 0;
}

/* Switch the walk from the ring's table to an indirect table (§2.7.5.3). */
static int enter_indirect(struct virtio_mmio *t, const struct desc *d, uint64_t *table,
			  uint32_t *table_len)
{
	if (!virtio_mmio_has_feature(t, VIRTIO_RING_F_INDIRECT_DESC))
		return virtio_mmio_fail(t, "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
	if (d->len == 0 || d->len % DESC_SIZE || d->len / DESC_SIZE > VIRTQ_MAX_CHAIN)
		return virtio_mmio_fail(t, "indirect table length invalid");
	if (!bus_ram_ptr(t->bus, d->addr, d->len, false))
		return virtio_mmio_fail(t, "indirect table outside RAM");
	*table = d->addr;
	*table_len = d->len / DESC_SIZE;
	return 0;
}

/* Follow the chain from `head`.  A chain visits each table entry at most
 * once, so a walk longer than its table has looped. */
static int walk_chain(struct virtio_mmio *t, const struct virtq *q, uint16_t head,
		      struct virtq_req *req)
{
	uint64_t table = q->desc;
	uint32_t table_len = q->num, i = head, steps = 0;
	bool indirect = false;

	req->head = head;
	req->nseg = req->bad = 0;
	req->readable_len = req->writable_len = 0;
	for (;;) {
		struct desc d;
		if (++steps > table_len)
			return virtio_mmio_fail(t, "descriptor chain loops");
		if (read_desc(t, table, i, &d) < 0)
			return -1;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* Only the head may point at a table, and tables do not nest. */
			if (indirect || steps != 1)
				return virtio_mmio_fail(t, "indirect descriptor not at chain head");
			if (enter_indirect(t, &d, &table, &table_len) < 0)
				return -1;
			indirect = true;
			i = 0;
			steps = 0;
			continue;
		}
		if (add_segment(t, req, &d) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= table_len)
			return virtio_mmio_fail(t, "descriptor next index out of range");
		i = d.next;
	}
}

int virtq_pop(struct virtio_mmio *t, struct virtq *q, struct virtq_req *req)
{
	if (t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return -1; /* broken until the driver resets it */
	const uint8_t *avail = avail_ring(t, q);
	if (!avail)
		return virtio_mmio_fail(t, "avail ring outside RAM");
	uint16_t idx = virtio_ld16(avail + 2);
	uint16_t pending = (uint16_t)(idx - q->last_avail);
	if (pending == 0)
		return 0;
	if (pending > q->num)
		return virtio_mmio_fail(t, "avail index moved more than the queue size");
	/* num is a power of 2 dividing 65536, so the free-running index wraps
	 * consistently modulo num. */
	uint16_t head = virtio_ld16(avail + 4 + 2 * (q->last_avail % q->num));
	if (head >= q->num)
		return virtio_mmio_fail(t, "avail ring entry out of range");
	q->last_avail++;
	return walk_chain(t, q, head, req) < 0 ? -1 : 1;
}

void virtq_unpop(struct virtq *q)
{
	q->last_avail--;
}

bool virtq_has_avail(const struct virtio_mmio *t, const struct virtq *q)
{
	const uint8_t *avail = avail_ring(t, q);
	return avail && virtio_ld16(avail + 2) != q->last_avail;
}

int virtq_push(struct virtio_mmio *t, struct virtq *q, uint16_t head, uint32_t written)
{
	uint8_t *used = bus_ram_ptr(t->bus, q->used, 4 + 8ULL * q->num, true);
	if (!used)
		return virtio_mmio_fail(t, "used ring outside writable RAM");
	uint8_t *e = used + 4 + 8 * (q->used_idx % q->num);
	virtio_st32(e, head);
	virtio_st32(e + 4, written);
	q->used_idx++;
	virtio_st16(used + 2, q->used_idx); /* publish after the element */
	return 0;
}

void virtq_notify_used(struct virtio_mmio *t, struct virtq *q)
{
	const uint8_t *avail = avail_ring(t, q);
	if (avail && (virtio_ld16(avail) & VIRTQ_AVAIL_F_NO_INTERRUPT))
		return;
	virtio_mmio_interrupt(t, VIRTIO_INT_USED);
}

int virtq_req_foreach(const struct virtq_req *r, bool writable, uint64_t off, uint64_t len,
		      int (*fn)(void *opaque, uint8_t *p, size_t n, uint64_t pos), void *opaque)
{
	uint64_t seg_start = 0, done = 0;
	for (unsigned i = 0; i < r->nseg && done < len; i++) {
		const struct virtq_seg *s = &r->seg[i];
		if (s->writable != writable)
			continue;
		uint64_t seg_end = seg_start + s->len;
		if (seg_end > off) {
			uint64_t skip = off + done - seg_start;
			uint64_t n = s->len - skip;
			if (n > len - done)
				n = len - done;
			if (!s->host)
				return -1;
			int rc = fn(opaque, s->host + skip, (size_t)n, done);
			if (rc)
				return rc;
			done += n;
		}
		seg_start = seg_end;
	}
	return done == len ? 0 : -1;
}

static int copy_out(void *opaque, uint8_t *p, size_t n, uint64_t pos)
{
	memcpy((uint8_t *)opaque + pos, p, n);
	return 0;
}

static int copy_in(void *opaque, uint8_t *p, size_t n, uint64_t pos)
{
	memcpy(p, (const uint8_t *)opaque + pos, n);
	return 0;
}

int virtq_req_read(const struct virtq_req *r, uint64_t off, void *dst, size_t len)
{
	return virtq_req_foreach(r, false, off, len, copy_out, dst);
}

int virtq_req_write(const struct virtq_req *r, uint64_t off, const void *src, size_t len)
{
	return virtq_req_foreach(r, true, off, len, copy_in, (void *)src);
}
