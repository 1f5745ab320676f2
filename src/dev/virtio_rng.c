/* virtio-rng.  See virtio_rng.h. */
#include "dev/virtio_rng.h"

#include <string.h>

static int fill_piece(void *opaque, uint8_t *p, size_t n, uint64_t pos)
{
	const struct entropy_source *e = opaque;
	return e->fill(e->opaque, p, n);
}

static void rng_notify(void *dev, unsigned qi)
{
	struct virtio_rng *r = dev;
	struct virtq *q = virtio_mmio_queue(&r->vmio, qi);
	bool pushed = false;
	if (!q)
		return;
	for (unsigned budget = q->num; budget > 0; budget--) {
		if (virtq_pop(&r->vmio, q, &r->req) != 1)
			break;
		/* The only buffers are device-writable ones; there is no status
		 * to report a bad one through, so it breaks the device. */
		if (r->req.bad) {
			virtio_mmio_fail(&r->vmio, "virtio-rng buffer outside RAM");
			break;
		}
		uint64_t n = r->req.writable_len;
		if (n > VIRTIO_RNG_MAX_REQUEST)
			n = VIRTIO_RNG_MAX_REQUEST;
		if (virtq_req_foreach(&r->req, true, 0, n, fill_piece, &r->entropy) != 0)
			n = 0; /* host entropy failed: hand the buffer back empty */
		if (virtq_push(&r->vmio, q, r->req.head, (uint32_t)n) < 0)
			break;
		pushed = true;
	}
	if (pushed)
		virtq_notify_used(&r->vmio, q);
}

void virtio_rng_init(struct virtio_rng *r, struct entropy_source entropy)
{
	memset(r, 0, sizeof(*r));
	r->entropy = entropy;
	struct virtio_device_desc d = {
		.device_id = VIRTIO_ID_RNG,
		.num_queues = 1,
		.queue_num_max = VIRTIO_RNG_QUEUE_SIZE,
		.notify = rng_notify,
		.dev = r,
	};
	virtio_mmio_init(&r->vmio, &d);
}
