/* virtio-blk.  See virtio_blk.h.
 *
 * A request is a header {le32 type, le32 reserved, le64 sector} in
 * device-readable memory, then data (readable for OUT, writable for IN and
 * GET_ID), then one writable status byte (§5.2.6).  With VERSION_1 the
 * driver may split these across descriptors any way it likes, so the code
 * works on byte offsets into the chain, never on descriptor boundaries. */
#include "dev/virtio_blk.h"

#include <string.h>

#include "lib/state_io.h"

#define HEADER_LEN 16
static const char blk_id[] = "keel-disk";

struct io_ctx {
	struct disk_image *disk;
	uint64_t disk_off;
	bool write; /* guest buffers to the image, else the image to them */
};

/* One guest buffer piece to or from the disk. */
static int transfer_piece(void *opaque, uint8_t *p, size_t n, uint64_t pos)
{
	const struct io_ctx *c = opaque;
	uint64_t off = c->disk_off + pos;
	return c->write ? disk_image_write(c->disk, off, p, n) : disk_image_read(c->disk, off, p, n);
}

/* Whole sectors, inside the disk.  Written so nothing can overflow. */
static bool in_range(const struct virtio_blk *b, uint64_t sector, uint64_t len)
{
	return len % VIRTIO_BLK_SECTOR == 0 && sector <= b->capacity &&
	       len / VIRTIO_BLK_SECTOR <= b->capacity - sector;
}

static uint8_t do_read(struct virtio_blk *b, const struct virtq_req *r, uint64_t sector,
		       uint64_t len, uint64_t *written)
{
	if (!in_range(b, sector, len))
		return VIRTIO_BLK_S_IOERR;
	struct io_ctx c = { b->disk, sector * VIRTIO_BLK_SECTOR, false };
	if (virtq_req_foreach(r, true, 0, len, transfer_piece, &c) != 0)
		return VIRTIO_BLK_S_IOERR;
	*written = len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_write(struct virtio_blk *b, const struct virtq_req *r, uint64_t sector,
			uint64_t len)
{
	if (b->readonly || !in_range(b, sector, len))
		return VIRTIO_BLK_S_IOERR;
	struct io_ctx c = { b->disk, sector * VIRTIO_BLK_SECTOR, true };
	if (virtq_req_foreach(r, false, HEADER_LEN, len, transfer_piece, &c) != 0)
		return VIRTIO_BLK_S_IOERR;
	if (b->on_write && len)
		b->on_write(b->on_write_opaque, c.disk_off, len);
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_get_id(const struct virtq_req *r, uint64_t len, uint64_t *written)
{
	/* 20 bytes, NUL-padded; no terminator if the id fills them. */
	uint8_t id[VIRTIO_BLK_ID_BYTES] = { 0 };
	memcpy(id, blk_id, sizeof(blk_id) - 1);
	size_t n = len < sizeof(id) ? (size_t)len : sizeof(id);
	if (virtq_req_write(r, 0, id, n) != 0)
		return VIRTIO_BLK_S_IOERR;
	*written = n;
	return VIRTIO_BLK_S_OK;
}

/* Run one request; returns its status and sets `written` to the data bytes
 * stored into the guest (not counting the status byte). */
static uint8_t execute(struct virtio_blk *b, const struct virtq_req *r, uint64_t *written)
{
	uint8_t hdr[HEADER_LEN];
	*written = 0;
	/* A buffer outside RAM fails the request (the status byte itself was
	 * checked by the caller). */
	if (r->bad || virtq_req_read(r, 0, hdr, sizeof(hdr)) != 0)
		return VIRTIO_BLK_S_IOERR;
	uint32_t type = virtio_ld32(hdr);
	uint64_t sector = virtio_ld64(hdr + 8);
	uint64_t in_len = r->writable_len - 1; /* writable bytes before the status */
	uint64_t out_len = r->readable_len - HEADER_LEN; /* readable bytes after the header */

	switch (type) {
	case VIRTIO_BLK_T_IN: return do_read(b, r, sector, in_len, written);
	case VIRTIO_BLK_T_OUT: return do_write(b, r, sector, out_len);
	case VIRTIO_BLK_T_FLUSH:
		return disk_image_flush(b->disk) == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_GET_ID: return do_get_id(r, in_len, written);
	default: return VIRTIO_BLK_S_UNSUPP;
	}
}

/* The status is the chain's last writable byte; device-writable segments
 * come last, so it ends the last segment. */
static uint8_t *status_byte(const struct virtq_req *r)
{
	if (r->nseg == 0)
		return NULL;
	const struct virtq_seg *s = &r->seg[r->nseg - 1];
	return s->writable && s->host ? s->host + s->len - 1 : NULL;
}

static void blk_notify(void *dev, unsigned qi)
{
	struct virtio_blk *b = dev;
	struct virtq *q = virtio_mmio_queue(&b->vmio, qi);
	bool pushed = false;
	if (!q)
		return;
	/* A well-behaved driver has at most `num` chains pending and adds none
	 * while we run; the bound stops a guest whose DMA target is its own
	 * avail ring from keeping us here. */
	for (unsigned budget = q->num; budget > 0; budget--) {
		if (virtq_pop(&b->vmio, q, &b->req) != 1)
			break;
		uint8_t *status = status_byte(&b->req);
		if (!status) {
			virtio_mmio_fail(&b->vmio, "virtio-blk request has no writable status byte");
			break;
		}
		uint64_t written;
		*status = execute(b, &b->req, &written);
		uint64_t used = written + 1;
		if (virtq_push(&b->vmio, q, b->req.head, used > UINT32_MAX ? UINT32_MAX : (uint32_t)used) < 0)
			break;
		pushed = true;
	}
	if (pushed)
		virtq_notify_used(&b->vmio, q);
}

static void fill_config(struct virtio_blk *b)
{
	memset(b->config, 0, sizeof(b->config));
	virtio_st64(b->config + 0, b->capacity);
	/* seg_max: data segments per request; header and status take two more
	 * descriptors and the whole chain must fit VIRTQ_MAX_CHAIN. */
	virtio_st32(b->config + 12, VIRTQ_MAX_CHAIN - 2);
}

/* Its part of snapshot section VIO0: the disk must be the size (and
 * read-only or not) it was, since the guest has read its capacity. */
static void blk_save(const void *dev, struct state_writer *w)
{
	const struct virtio_blk *b = dev;
	sw_put_u8(w, b->readonly);
	sw_put_u64(w, b->capacity);
	sw_put_bytes(w, b->config, sizeof(b->config));
}

static int blk_load(void *dev, struct state_reader *r)
{
	struct virtio_blk *b = dev;
	bool ro = sr_bool(r);
	uint64_t capacity = sr_u64(r);
	if (!sr_failed(r) && (ro != b->readonly || capacity != b->capacity))
		return sr_fail(r, "VIRTIO disk: the file has %llu sectors%s, this disk %llu%s",
			       (unsigned long long)capacity, ro ? " (read-only)" : "",
			       (unsigned long long)b->capacity, b->readonly ? " (read-only)" : "");
	return sr_bytes(r, b->config, sizeof(b->config));
}

void virtio_blk_init_image(struct virtio_blk *b, struct disk_image *disk)
{
	memset(b, 0, sizeof(*b));
	b->disk = disk;
	b->readonly = disk_image_readonly(disk);
	b->capacity = disk_image_size(disk) / VIRTIO_BLK_SECTOR; /* a partial last sector is not visible */
	fill_config(b);
	uint64_t features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
	if (b->readonly)
		features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	struct virtio_device_desc d = {
		.device_id = VIRTIO_ID_BLOCK,
		.features = features,
		.num_queues = 1,
		.queue_num_max = VIRTIO_BLK_QUEUE_SIZE,
		.config = b->config,
		.config_len = sizeof(b->config),
		.notify = blk_notify,
		.save = blk_save,
		.load = blk_load,
		.dev = b,
	};
	virtio_mmio_init(&b->vmio, &d);
}

int virtio_blk_init(struct virtio_blk *b, const char *path, bool readonly, char *err,
		    size_t errlen)
{
	struct disk_image *disk;
	memset(b, 0, sizeof(*b));
	if (disk_image_open_raw(&disk, path, readonly, err, errlen))
		return -1;
	virtio_blk_init_image(b, disk);
	return 0;
}

int virtio_blk_init_spec(struct virtio_blk *b, const char *spec, char *err, size_t errlen)
{
	struct disk_image *disk;
	memset(b, 0, sizeof(*b));
	if (disk_image_open_spec(&disk, spec, err, errlen))
		return -1;
	virtio_blk_init_image(b, disk);
	return 0;
}

void virtio_blk_free(struct virtio_blk *b)
{
	disk_image_close(b->disk);
	b->disk = NULL;
}
