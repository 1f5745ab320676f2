/* virtio-net.  See virtio_net.h. */
#include "dev/virtio_net.h"

#include <string.h>

#include "lib/state_io.h"

static const uint8_t default_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static int gather_piece(void *opaque, uint8_t *p, size_t n, uint64_t pos)
{
	memcpy((uint8_t *)opaque + pos, p, n);
	return 0;
}

/* One transmit chain: header, then the frame, in device-readable memory. */
static void transmit_one(struct virtio_net *n, const struct virtq_req *r)
{
	uint64_t len = r->readable_len;
	if (len < VIRTIO_NET_HDR_LEN || len - VIRTIO_NET_HDR_LEN > VIRTIO_NET_MAX_FRAME) {
		n->stats.tx_dropped++;
		return;
	}
	len -= VIRTIO_NET_HDR_LEN;
	/* The header asks for offloads we did not offer; nothing in it applies. */
	if (virtq_req_foreach(r, false, VIRTIO_NET_HDR_LEN, len, gather_piece, n->frame) != 0) {
		n->stats.tx_dropped++;
		return;
	}
	if (!n->backend.send || n->backend.send(n->backend.opaque, n->frame, (size_t)len) != 0) {
		n->stats.tx_dropped++;
		return;
	}
	n->stats.tx_frames++;
}

static void transmit(struct virtio_net *n, struct virtq *q)
{
	bool pushed = false;
	for (unsigned budget = q->num; budget > 0; budget--) {
		if (virtq_pop(&n->vmio, q, &n->req) != 1)
			break;
		if (n->req.bad) {
			virtio_mmio_fail(&n->vmio, "virtio-net buffer outside RAM");
			break;
		}
		transmit_one(n, &n->req);
		if (virtq_push(&n->vmio, q, n->req.head, 0) < 0)
			break;
		pushed = true;
	}
	if (pushed)
		virtq_notify_used(&n->vmio, q);
}

static void net_notify(void *dev, unsigned qi)
{
	struct virtio_net *n = dev;
	struct virtq *q = virtio_mmio_queue(&n->vmio, qi);
	/* Receive buffers wait for virtio_net_receive(). */
	if (q && qi == VIRTIO_NET_TX)
		transmit(n, q);
}

bool virtio_net_can_receive(struct virtio_net *n)
{
	struct virtq *q = virtio_mmio_queue(&n->vmio, VIRTIO_NET_RX);
	return q && virtq_has_avail(&n->vmio, q);
}

int virtio_net_receive(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	struct virtq *q = virtio_mmio_queue(&n->vmio, VIRTIO_NET_RX);
	if (!q || virtq_pop(&n->vmio, q, &n->req) != 1)
		return -1;
	if (n->req.bad) {
		virtio_mmio_fail(&n->vmio, "virtio-net buffer outside RAM");
		return -1;
	}
	/* Without VIRTIO_NET_F_MRG_RXBUF a frame must fit one buffer.  Leave
	 * the buffer posted for a frame that fits. */
	if (len > VIRTIO_NET_MAX_FRAME || n->req.writable_len < VIRTIO_NET_HDR_LEN + (uint64_t)len) {
		virtq_unpop(q);
		n->stats.rx_dropped++;
		return 0;
	}
	uint8_t hdr[VIRTIO_NET_HDR_LEN] = { 0 };
	virtio_st16(hdr + 10, 1); /* num_buffers: 1 without MRG_RXBUF (§5.1.6.3.2) */
	if (virtq_req_write(&n->req, 0, hdr, sizeof(hdr)) != 0 ||
	    virtq_req_write(&n->req, VIRTIO_NET_HDR_LEN, frame, len) != 0)
		return virtio_mmio_fail(&n->vmio, "virtio-net receive buffer unwritable");
	if (virtq_push(&n->vmio, q, n->req.head, (uint32_t)(VIRTIO_NET_HDR_LEN + len)) < 0)
		return -1;
	n->stats.rx_frames++;
	virtq_notify_used(&n->vmio, q);
	return 0;
}

void virtio_net_set_link(struct virtio_net *n, bool up)
{
	uint16_t status = up ? VIRTIO_NET_S_LINK_UP : 0;
	if (virtio_ld16(n->config + 6) == status)
		return;
	virtio_st16(n->config + 6, status);
	virtio_mmio_config_changed(&n->vmio);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int virtio_net_parse_mac(const char *s, uint8_t mac[6])
{
	/* Exactly "xx:xx:xx:xx:xx:xx". */
	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Its part of snapshot section VIO1: the configuration space (MAC, link
 * status). */
static void net_save(const void *dev, struct state_writer *w)
{
	const struct virtio_net *n = dev;
	sw_put_bytes(w, n->config, sizeof(n->config));
}

static int net_load(void *dev, struct state_reader *r)
{
	struct virtio_net *n = dev;
	return sr_bytes(r, n->config, sizeof(n->config));
}

void virtio_net_init(struct virtio_net *n, const uint8_t mac[6], struct net_backend backend)
{
	memset(n, 0, sizeof(*n));
	n->backend = backend;
	memcpy(n->config, mac ? mac : default_mac, 6);
	virtio_st16(n->config + 6, VIRTIO_NET_S_LINK_UP);
	struct virtio_device_desc d = {
		.device_id = VIRTIO_ID_NET,
		.features = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS),
		.num_queues = 2,
		.queue_num_max = VIRTIO_NET_QUEUE_SIZE,
		.config = n->config,
		.config_len = sizeof(n->config),
		.notify = net_notify,
		.save = net_save,
		.load = net_load,
		.dev = n,
	};
	virtio_mmio_init(&n->vmio, &d);
}
