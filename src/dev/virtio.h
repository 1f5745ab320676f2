/* virtio over MMIO (virtio 1.2 §4.2, "version 2" / modern register
 * layout) and split virtqueues (§2.7).
 *
 * A device (blk, net, ...) embeds a `struct virtio_mmio` and fills in a
 * `struct virtio_device_desc` describing itself; the transport owns the
 * register file, feature negotiation, queue setup and the interrupt line,
 * and calls the device back when the driver notifies a queue.  Devices walk
 * their queues with the virtq_* functions below.
 *
 * Everything is synchronous and single-threaded: a QueueNotify write runs
 * the device's work to completion inside the MMIO store, so completion
 * order and timing are a pure function of the instruction stream (the
 * record/replay rule, docs/design.md §3).
 *
 * The guest is the attacker.  Ring addresses and sizes are checked when
 * the driver sets QueueReady; every descriptor is checked when it is read;
 * a structural error (a loop, an index out of range, an avail index that
 * jumps past the queue size, ...) sets DEVICE_NEEDS_RESET and raises a
 * configuration-change interrupt (§2.1.2), after which the device ignores
 * its queues until the driver resets it.  Guest memory is only touched
 * through bus_ram_ptr(), re-translated on every access, so no host pointer
 * outlives the request that produced it. */
#ifndef KEEL_DEV_VIRTIO_H
#define KEEL_DEV_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "dev/irq.h"

struct state_reader;
struct state_writer;

/* Device IDs (§5). 0 marks an empty slot. */
#define VIRTIO_ID_NONE 0
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED 128u

/* Transport feature bits (§6), as bit numbers. */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_BIT(n) (1ULL << (n))

/* InterruptStatus bits (§4.2.2). */
#define VIRTIO_INT_USED 1u
#define VIRTIO_INT_CONFIG 2u

/* MMIO register offsets (§4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_SHM_SEL 0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100
#define VIRTIO_MMIO_SIZE 0x1000 /* one slot */

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x554d4551u /* "QEMU", as QEMU's virt board */

/* Split-ring descriptor flags (§2.7.5). */
#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u

#define VIRTQ_MAX_SIZE 256 /* the largest QueueNumMax any keel device offers */
/* The longest chain a request may have, direct or through an indirect
 * table.  Devices advertise limits (e.g. blk seg_max) that keep Linux
 * below it. */
#define VIRTQ_MAX_CHAIN 256
#define VIRTIO_MAX_QUEUES 2

/* One virtqueue as the driver configured it.  The ring addresses are guest
 * physical; nothing here points into host memory, so the struct can be
 * saved and restored as plain data. */
struct virtq {
	uint16_t num_max; /* QueueNumMax */
	uint16_t num; /* QueueNum */
	bool ready; /* QueueReady, set only once the layout passed checks */
	uint64_t desc, avail, used; /* ring addresses (QueueDesc/Driver/Device) */
	uint16_t last_avail; /* free-running index of the next avail entry */
	uint16_t used_idx; /* free-running index of the next used entry */
};

/* One guest buffer of a request, mapped into host memory.  `host` is NULL
 * when the descriptor's range is not in guest RAM (or is ROM but device-
 * writable); the request then has `bad` > 0 and the device decides what
 * error to report. */
struct virtq_seg {
	uint8_t *host;
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* A descriptor chain popped from the avail ring.  Device-readable segments
 * come first, then device-writable ones (checked). */
struct virtq_req {
	uint16_t head; /* descriptor index to hand back in the used ring */
	unsigned nseg;
	unsigned bad; /* segments whose buffer is outside RAM */
	uint64_t readable_len, writable_len; /* byte totals of each kind */
	struct virtq_seg seg[VIRTQ_MAX_CHAIN];
};

/* What a device tells the transport about itself. */
struct virtio_device_desc {
	uint32_t device_id;
	uint64_t features; /* device-specific bits; the transport adds its own */
	unsigned num_queues; /* <= VIRTIO_MAX_QUEUES */
	uint16_t queue_num_max; /* a power of 2, <= VIRTQ_MAX_SIZE */
	/* Device configuration space (little-endian), read by the driver at
	 * 0x100+.  The device owns the bytes and may change them, then calls
	 * virtio_mmio_config_changed().  Driver writes are ignored: none of
	 * keel's devices has a driver-writable config field. */
	uint8_t *config;
	uint32_t config_len;
	/* The driver notified queue `q`.  Called only while DRIVER_OK is set
	 * and DEVICE_NEEDS_RESET is not, for a queue that is ready. */
	void (*notify)(void *dev, unsigned q);
	/* The driver reset the device (Status = 0).  May be NULL. */
	void (*reset)(void *dev);
	/* The device's own fields of its snapshot section, after the
	 * transport's (docs/snapshot-format.md, VIOn).  Both NULL for a
	 * device with none. */
	void (*save)(const void *dev, struct state_writer *w);
	int (*load)(void *dev, struct state_reader *r);
	void *dev;
};

struct virtio_mmio {
	struct virtio_device_desc d; /* d.device_id == 0: empty slot */
	/* Wiring, set by virtio_mmio_register(). */
	struct bus *bus; /* guest memory for DMA */
	struct irq_line irq;
	uint64_t base;
	/* Register state the driver sees. */
	uint64_t driver_features;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t status, interrupt_status, config_generation;
	struct virtq queues[VIRTIO_MAX_QUEUES];
	/* Why DEVICE_NEEDS_RESET was set (a static string), for logs/tests. */
	const char *fault;
};

/* --- For the board ------------------------------------------------------ */

/* Set up the transport for a device, or an empty slot when `d` is NULL
 * (DeviceID reads 0, which Linux skips).  Devices call this from their own
 * init; the board calls it directly only for empty slots. */
void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_device_desc *d);

/* Map the slot's 4 KiB register window at `base` and connect its interrupt
 * line.  `bus` is also the memory the device DMAs through.  Returns 0, or
 * -1 if the bus refused the region (overlap, table full).  The struct must
 * not move afterwards (the bus keeps a pointer to it). */
int virtio_mmio_register(struct virtio_mmio *t, struct bus *bus, uint64_t base,
			 struct irq_line irq);

/* Back to the power-on state, as if the driver wrote Status = 0 (§2.4):
 * features, queues and interrupt status cleared (the line is lowered),
 * identity, config and wiring kept.  For a board reset. */
void virtio_mmio_reset(struct virtio_mmio *t);

/* Snapshot section VIOn (docs/snapshot-format.md) for the transport in
 * slot `slot`: its registers and queues, then the device's own fields.
 * Load refuses another device, another queue count or size limit, and a
 * ready queue whose rings fail the checks QueueReady makes. */
#define VIRTIO_STATE_VERSION 1u
void virtio_mmio_save(const struct virtio_mmio *t, struct state_writer *w);
int virtio_mmio_load(struct virtio_mmio *t, struct state_reader *r, unsigned slot);

/* --- For devices -------------------------------------------------------- */

/* True when the driver has finished setup and the device is not broken. */
bool virtio_mmio_active(const struct virtio_mmio *t);

/* Queue `i` if the device is active and the queue is ready, else NULL. */
struct virtq *virtio_mmio_queue(struct virtio_mmio *t, unsigned i);

/* Was feature bit `bit` negotiated? */
bool virtio_mmio_has_feature(const struct virtio_mmio *t, unsigned bit);

/* Set InterruptStatus bits and raise the line. */
void virtio_mmio_interrupt(struct virtio_mmio *t, uint32_t bits);

/* The device changed its config space: bump ConfigGeneration and send a
 * configuration-change interrupt if the driver is live. */
void virtio_mmio_config_changed(struct virtio_mmio *t);

/* The driver broke the protocol: set DEVICE_NEEDS_RESET, remember `why`
 * (a string literal), and notify the driver.  Returns -1 for convenience. */
int virtio_mmio_fail(struct virtio_mmio *t, const char *why);

/* --- Split virtqueues (virtqueue.c) ------------------------------------- */

/* Why the ring layout of `q` is unusable (a string literal), or NULL if
 * the size is a power of 2 within num_max and all three rings are
 * aligned and lie in RAM (the used ring in writable RAM). */
const char *virtq_check_layout(const struct bus *bus, const struct virtq *q);

/* Take the next available chain.  Returns 1 with `req` filled, 0 if the
 * ring is empty, or -1 if the driver broke the ring (the transport is then
 * in DEVICE_NEEDS_RESET). */
int virtq_pop(struct virtio_mmio *t, struct virtq *q, struct virtq_req *req);

/* Give back the chain just popped, untouched (e.g. an rx buffer too small
 * for the frame at hand). */
void virtq_unpop(struct virtq *q);

/* Are chains waiting?  No side effects; false if the ring is unreadable. */
bool virtq_has_avail(const struct virtio_mmio *t, const struct virtq *q);

/* Put chain `head` on the used ring with `written` bytes written to its
 * device-writable buffers.  Returns 0 or -1 (transport failed). */
int virtq_push(struct virtio_mmio *t, struct virtq *q, uint16_t head, uint32_t written);

/* Send the used-buffer interrupt unless the driver suppressed it
 * (VIRTQ_AVAIL_F_NO_INTERRUPT).  Call once after a batch of pushes. */
void virtq_notify_used(struct virtio_mmio *t, struct virtq *q);

/* Visit the bytes [off, off+len) of the chain's device-readable
 * (`writable` false) or device-writable bytes, in pieces that are
 * contiguous in host memory; `pos` is the piece's offset from `off`.
 * Stops when `fn` returns non-zero and returns that value; returns -1 if
 * the range runs past the chain or crosses a bad segment, else 0. */
int virtq_req_foreach(const struct virtq_req *r, bool writable, uint64_t off, uint64_t len,
		      int (*fn)(void *opaque, uint8_t *p, size_t n, uint64_t pos), void *opaque);

/* Copy to/from the chain through virtq_req_foreach.  Return 0 or -1. */
int virtq_req_read(const struct virtq_req *r, uint64_t off, void *dst, size_t len);
int virtq_req_write(const struct virtq_req *r, uint64_t off, const void *src, size_t len);

/* Little-endian accessors for config spaces and rings (the guest is
 * little-endian; these do not assume the host is). */
static inline uint16_t virtio_ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t virtio_ld32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t virtio_ld64(const uint8_t *p)
{
	return (uint64_t)virtio_ld32(p) | (uint64_t)virtio_ld32(p + 4) << 32;
}

static inline void virtio_st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void virtio_st32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void virtio_st64(uint8_t *p, uint64_t v)
{
	virtio_st32(p, (uint32_t)v);
	virtio_st32(p + 4, (uint32_t)(v >> 32));
}

#endif
