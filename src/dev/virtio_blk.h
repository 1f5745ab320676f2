/* virtio-blk (virtio 1.2 §5.2) backed by a disk image (disk_image.h: a
 * raw file, or a base under a copy-on-write overlay).
 *
 * Requests complete synchronously when the driver notifies the queue:
 * reads and writes go to the disk image, a flush is its fdatasync.
 * The used ring and the interrupt are updated before the notifying store
 * retires, so the guest observes completion at a deterministic point.
 *
 * Offered features: VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_FLUSH,
 * VIRTIO_BLK_F_RO (read-only images), plus the transport's VERSION_1 and
 * INDIRECT_DESC.  Request types: IN, OUT, FLUSH, GET_ID ("keel-disk");
 * anything else completes with VIRTIO_BLK_S_UNSUPP. */
#ifndef KEEL_DEV_VIRTIO_BLK_H
#define KEEL_DEV_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/disk_image.h"
#include "dev/virtio.h"

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR 512
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_CONFIG_SIZE 36 /* through num_queues; unused fields read 0 */

struct virtio_blk {
	struct virtio_mmio vmio; /* register this with virtio_mmio_register() */
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE];
	struct disk_image *disk; /* owned */
	bool readonly;
	uint64_t capacity; /* in 512-byte sectors */
	struct virtq_req req; /* scratch for the request being served */
	/* Told of each guest write that reached the disk (vm/taps.c sets it
	 * while a service observes the disk; NULL: nobody). */
	void (*on_write)(void *opaque, uint64_t off, uint64_t len);
	void *on_write_opaque;
};

/* Set up the device over `disk`, which it then owns. */
void virtio_blk_init_image(struct virtio_blk *b, struct disk_image *disk);

/* Open the raw image at `path` (read-only if `readonly`) and set up the
 * device.  Returns 0, or -1 with "PATH: reason" in `err`. */
int virtio_blk_init(struct virtio_blk *b, const char *path, bool readonly, char *err,
		    size_t errlen);

/* As virtio_blk_init, from a --disk argument (see disk_image_open_spec:
 * "PATH[,readonly]", "BASE,overlay=PATH", an overlay file). */
int virtio_blk_init_spec(struct virtio_blk *b, const char *spec, char *err, size_t errlen);

/* Close the disk. */
void virtio_blk_free(struct virtio_blk *b);

#endif
