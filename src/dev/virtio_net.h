/* virtio-net (virtio 1.2 §5.1): one receive and one transmit queue, no
 * offloads, no control queue.  Offered: VIRTIO_NET_F_MAC and
 * VIRTIO_NET_F_STATUS (link up).
 *
 * Every frame in either direction is preceded in guest memory by the
 * 12-byte struct virtio_net_hdr (VERSION_1 layout, num_buffers included).
 * The device strips it on transmit and writes a zeroed one with
 * num_buffers = 1 on receive.
 *
 * Transmit is synchronous: at QueueNotify on the transmit queue each frame
 * goes to the backend's send().  Receive is driven by the run loop at
 * slice boundaries:
 *
 *     while (backend has a frame f && virtio_net_can_receive(dev)) {
 *             if (virtio_net_receive(dev, f.data, f.len) < 0)
 *                     break;                  // keep f, retry later
 *             events_deliver(eb, EV_NET_FRAME, f.data, f.len);
 *             drop f from the backend's queue;
 *     }
 *
 * (net_slirp_deliver() in net_slirp.h is that loop.) */
#ifndef KEEL_DEV_VIRTIO_NET_H
#define KEEL_DEV_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/virtio.h"

#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

#define VIRTIO_NET_HDR_LEN 12
#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_RX 0
#define VIRTIO_NET_TX 1
/* Largest frame carried, either way.  Without offloads Linux sends at most
 * MTU + 18 bytes; anything longer is dropped. */
#define VIRTIO_NET_MAX_FRAME 65535

/* Where transmitted frames go.  send() returns 0 or -1 (the frame is
 * dropped either way, as a wire would). */
struct net_backend {
	int (*send)(void *opaque, const uint8_t *frame, size_t len);
	void *opaque;
};

struct virtio_net_stats {
	uint64_t tx_frames, tx_dropped; /* dropped: malformed, oversized, backend error */
	uint64_t rx_frames, rx_dropped; /* dropped: larger than the posted buffer */
};

struct virtio_net {
	struct virtio_mmio vmio; /* register this with virtio_mmio_register() */
	uint8_t config[8]; /* le mac[6], le16 status */
	struct net_backend backend;
	struct virtio_net_stats stats;
	struct virtq_req req;
	uint8_t frame[VIRTIO_NET_MAX_FRAME]; /* transmit gather buffer */
};

/* `mac` NULL means 52:54:00:12:34:56 (QEMU's default). */
void virtio_net_init(struct virtio_net *n, const uint8_t mac[6], struct net_backend backend);

/* Parse "52:54:00:12:34:56".  Returns 0 or -1. */
int virtio_net_parse_mac(const char *s, uint8_t mac[6]);

/* Set the link state the driver sees (a config-change interrupt follows). */
void virtio_net_set_link(struct virtio_net *n, bool up);

/* Has the driver posted a receive buffer? */
bool virtio_net_can_receive(struct virtio_net *n);

/* Hand a frame (Ethernet header onwards, no FCS) to the guest.  Returns 0
 * if the device took it (delivered, or dropped because it cannot fit the
 * driver's buffers or VIRTIO_NET_MAX_FRAME: retrying would not help), or
 * -1 if no receive buffer is posted or the device is not running: keep the
 * frame and retry at a later slice boundary. */
int virtio_net_receive(struct virtio_net *n, const uint8_t *frame, size_t len);

#endif
