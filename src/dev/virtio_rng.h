/* virtio-rng (virtio 1.2 §5.4): fills the driver's buffers with entropy
 * from the event boundary, which decides between a seeded reproducible
 * stream and the host's getrandom() and logs every byte handed over.
 * Requests complete synchronously at QueueNotify. */
#ifndef KEEL_DEV_VIRTIO_RNG_H
#define KEEL_DEV_VIRTIO_RNG_H

#include "dev/boundary.h"
#include "dev/virtio.h"

#define VIRTIO_RNG_QUEUE_SIZE 64
/* Bytes served per request at most; the driver asks again for more.  Keeps
 * a guest that posts huge (or aliased) buffers from bloating the event
 * log. */
#define VIRTIO_RNG_MAX_REQUEST 4096

struct virtio_rng {
	struct virtio_mmio vmio; /* register this with virtio_mmio_register() */
	struct entropy_source entropy;
	struct virtq_req req;
};

void virtio_rng_init(struct virtio_rng *r, struct entropy_source entropy);

#endif
