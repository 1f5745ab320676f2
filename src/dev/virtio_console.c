/* virtio-console.  See virtio_console.h. */
#include "dev/virtio_console.h"

#include <string.h>


static int write_piece(void *opaque, uint8_t *p, size_t n, uint64_t pos)
{
	const struct virtio_console *c = opaque;
	c->write(c->write_opaque, p, n);
	return 0;
}

static void transmit(struct virtio_console *c, struct virtq *q)
{
	bool pushed = false;
	for (unsigned budget = q->num; budget > 0; budget--) {
		if (virtq_pop(&c->vmio, q, &c->req) != 1)
			break;
		if (c->req.bad) {
			virtio_mmio_fail(&c->vmio, "virtio-console buffer outside RAM");
			break;
		}
		if (c->write)
			virtq_req_foreach(&c->req, false, 0, c->req.readable_len, write_piece, c);
		if (virtq_push(&c->vmio, q, c->req.head, 0) < 0)
			break;
		pushed = true;
	}
	if (pushed)
		virtq_notify_used(&c->vmio, q);
}

static void console_notify(void *dev, unsigned qi)
{
	struct virtio_console *c = dev;
	struct virtq *q = virtio_mmio_queue(&c->vmio, qi);
	/* Posted input buffers wait for virtio_console_input(). */
	if (q && qi == VIRTIO_CONSOLE_TX)
		transmit(c, q);
}

bool virtio_console_can_input(struct virtio_console *c)
{
	struct virtq *q = virtio_mmio_queue(&c->vmio, VIRTIO_CONSOLE_RX);
	return q && virtq_has_avail(&c->vmio, q);
}

size_t virtio_console_input(struct virtio_console *c, const uint8_t *buf, size_t len)
{
	struct virtq *q = virtio_mmio_queue(&c->vmio, VIRTIO_CONSOLE_RX);
	size_t done = 0;
	bool pushed = false;
	if (!q)
		return 0;
	for (unsigned budget = q->num; budget > 0 && done < len; budget--) {
		if (virtq_pop(&c->vmio, q, &c->req) != 1)
			break;
		if (c->req.bad) {
			virtio_mmio_fail(&c->vmio, "virtio-console buffer outside RAM");
			break;
		}
		size_t n = len - done;
		if (n > c->req.writable_len)
			n = (size_t)c->req.writable_len;
		if (virtq_req_write(&c->req, 0, buf + done, n) != 0)
			n = 0;
		done += n;
		if (virtq_push(&c->vmio, q, c->req.head, (uint32_t)n) < 0)
			break;
		pushed = true;
	}
	if (pushed)
		virtq_notify_used(&c->vmio, q);
	return done;
}

void virtio_console_init(struct virtio_console *c, virtio_console_write_fn write, void *opaque)
{
	memset(c, 0, sizeof(*c));
	c->write = write;
	c->write_opaque = opaque;
	struct virtio_device_desc d = {
		.device_id = VIRTIO_ID_CONSOLE,
		.num_queues = 2,
		.queue_num_max = VIRTIO_CONSOLE_QUEUE_SIZE,
		.notify = console_notify,
		.dev = c,
	};
	virtio_mmio_init(&c->vmio, &d);
}
