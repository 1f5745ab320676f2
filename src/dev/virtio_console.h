/* virtio-console (virtio 1.2 §5.3) with a single port and no
 * VIRTIO_CONSOLE_F_MULTIPORT: queue 0 carries input to the guest, queue 1
 * output from it.  Linux binds it to hvc0.
 *
 * Output is handed to a writer callback synchronously at QueueNotify.
 * Input is pushed by the run loop at slice boundaries through
 * virtio_console_input(), which takes what fits in the buffers the driver
 * has posted; the run loop keeps the rest for a later boundary and calls
 * events_deliver(EV_CONSOLE_INPUT) for exactly the bytes accepted. */
#ifndef KEEL_DEV_VIRTIO_CONSOLE_H
#define KEEL_DEV_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/virtio.h"

#define VIRTIO_CONSOLE_QUEUE_SIZE 64
#define VIRTIO_CONSOLE_RX 0
#define VIRTIO_CONSOLE_TX 1

typedef void (*virtio_console_write_fn)(void *opaque, const uint8_t *buf, size_t len);

struct virtio_console {
	struct virtio_mmio vmio; /* register this with virtio_mmio_register() */
	virtio_console_write_fn write; /* may be NULL: output is dropped */
	void *write_opaque;
	struct virtq_req req;
};

void virtio_console_init(struct virtio_console *c, virtio_console_write_fn write, void *opaque);

/* Are input buffers posted?  (False before the driver is up.) */
bool virtio_console_can_input(struct virtio_console *c);

/* Copy up to `len` bytes of input into the driver's posted buffers and
 * interrupt it.  Returns the number of bytes accepted (0 when no buffer is
 * posted); the caller keeps the rest. */
size_t virtio_console_input(struct virtio_console *c, const uint8_t *buf, size_t len);

#endif
