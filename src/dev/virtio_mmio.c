/* virtio-mmio transport, version 2.  See virtio.h. */
#include "dev/virtio.h"

#include <stdlib.h>
#include <string.h>

#include "lib/state_io.h"

/* Bits the transport itself offers on top of the device's. */
#define TRANSPORT_FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC))

static uint64_t device_features(const struct virtio_mmio *t)
{
	return t->d.device_id ? t->d.features | TRANSPORT_FEATURES : 0;
}

static void update_irq(struct virtio_mmio *t)
{
	irq_set(&t->irq, t->interrupt_status != 0);
}

static void reset_queues(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct virtq *q = &t->queues[i];
		memset(q, 0, sizeof(*q));
		if (i < t->d.num_queues) {
			q->num_max = t->d.queue_num_max;
			q->num = q->num_max; /* a sensible default; drivers write it */
		}
	}
}

void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_device_desc *d)
{
	memset(t, 0, sizeof(*t));
	if (d) {
		uint16_t n = d->queue_num_max;
		/* A device asking for more than the transport holds is a keel bug. */
		if (d->num_queues > VIRTIO_MAX_QUEUES || n == 0 || n > VIRTQ_MAX_SIZE ||
		    (n & (n - 1)))
			abort();
		t->d = *d;
	}
	reset_queues(t);
}

void virtio_mmio_reset(struct virtio_mmio *t)
{
	t->driver_features = 0;
	t->device_features_sel = t->driver_features_sel = t->queue_sel = 0;
	t->status = 0;
	t->interrupt_status = 0;
	t->fault = NULL;
	reset_queues(t);
	update_irq(t);
	if (t->d.reset)
		t->d.reset(t->d.dev);
}

bool virtio_mmio_active(const struct virtio_mmio *t)
{
	uint32_t need = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
	uint32_t bad = VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED;
	return t->d.device_id && (t->status & need) == need && !(t->status & bad);
}

struct virtq *virtio_mmio_queue(struct virtio_mmio *t, unsigned i)
{
	if (i >= t->d.num_queues || !virtio_mmio_active(t) || !t->queues[i].ready)
		return NULL;
	return &t->queues[i];
}

bool virtio_mmio_has_feature(const struct virtio_mmio *t, unsigned bit)
{
	return bit < 64 && (t->driver_features >> bit) & 1;
}

void virtio_mmio_interrupt(struct virtio_mmio *t, uint32_t bits)
{
	t->interrupt_status |= bits;
	update_irq(t);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	t->config_generation++;
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_mmio_interrupt(t, VIRTIO_INT_CONFIG);
}

int virtio_mmio_fail(struct virtio_mmio *t, const char *why)
{
	if (t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return -1;
	t->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	t->fault = why;
	/* §2.1.2: once the driver is live, tell it through a config-change
	 * notification.  Before that it reads the bit when it checks Status. */
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_mmio_interrupt(t, VIRTIO_INT_CONFIG);
	return -1;
}

static struct virtq *selected_queue(struct virtio_mmio *t)
{
	return t->queue_sel < t->d.num_queues ? &t->queues[t->queue_sel] : NULL;
}

static void set_low(uint64_t *v, uint32_t lo)
{
	*v = (*v & ~0xffffffffULL) | lo;
}

static void set_high(uint64_t *v, uint32_t hi)
{
	*v = (*v & 0xffffffffULL) | (uint64_t)hi << 32;
}

/* A driver that enabled the device may have queued buffers (and notified)
 * before DRIVER_OK, when the device must not consume them (§3.1.1).
 * Process them now. */
static void kick_ready_queues(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < t->d.num_queues && virtio_mmio_active(t); i++)
		if (t->queues[i].ready && t->d.notify)
			t->d.notify(t->d.dev, i);
}

static bool features_acceptable(const struct virtio_mmio *t)
{
	return (t->driver_features & ~device_features(t)) == 0 &&
	       virtio_mmio_has_feature(t, VIRTIO_F_VERSION_1);
}

static void write_status(struct virtio_mmio *t, uint32_t val)
{
	if (val == 0) {
		virtio_mmio_reset(t);
		return;
	}
	uint32_t old = t->status;
	val &= 0xff;
	/* DEVICE_NEEDS_RESET is the device's to set and only a reset clears it. */
	val = (val & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) | (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* §3.1.1 step 5: refuse FEATURES_OK for a subset we cannot honour;
	 * the driver reads Status back to find out. */
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !features_acceptable(t))
		val &= ~VIRTIO_STATUS_FEATURES_OK;
	t->status = val;
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
		kick_ready_queues(t);
}

static void write_queue_ready(struct virtio_mmio *t, struct virtq *q, uint32_t val)
{
	if (!(val & 1)) {
		q->ready = false;
		return;
	}
	if (q->ready)
		return;
	const char *why = virtq_check_layout(t->bus, q);
	if (why) {
		virtio_mmio_fail(t, why); /* QueueReady stays 0 */
		return;
	}
	q->last_avail = 0;
	q->used_idx = 0;
	q->ready = true;
}

static void write_driver_features(struct virtio_mmio *t, uint32_t val)
{
	/* Features are fixed once FEATURES_OK has been accepted (§2.2). */
	if (t->status & VIRTIO_STATUS_FEATURES_OK)
		return;
	if (t->driver_features_sel == 0)
		set_low(&t->driver_features, val);
	else if (t->driver_features_sel == 1)
		set_high(&t->driver_features, val);
}

static void write_queue_reg(struct virtio_mmio *t, uint64_t off, uint32_t val)
{
	struct virtq *q = selected_queue(t);
	/* The layout of a live queue is frozen: it was checked at QueueReady. */
	if (!q || q->ready)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		q->num = val <= 0xffff ? (uint16_t)val : 0; /* 0 fails the check */
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: set_low(&q->desc, val); break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: set_high(&q->desc, val); break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW: set_low(&q->avail, val); break;
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: set_high(&q->avail, val); break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW: set_low(&q->used, val); break;
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: set_high(&q->used, val); break;
	}
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->device_features_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES: write_driver_features(t, val); break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->driver_features_sel = val; break;
	case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = val; break;
	case VIRTIO_MMIO_QUEUE_READY: {
		struct virtq *q = selected_queue(t);
		if (q)
			write_queue_ready(t, q, val);
		break;
	}
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (val < t->d.num_queues && virtio_mmio_queue(t, val) && t->d.notify)
			t->d.notify(t->d.dev, val);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->interrupt_status &= ~val;
		update_irq(t);
		break;
	case VIRTIO_MMIO_STATUS: write_status(t, val); break;
	default:
		write_queue_reg(t, off, val); /* ignores offsets it does not know */
		break;
	}
}

static uint32_t read_queue_reg(const struct virtio_mmio *t, uint64_t off)
{
	const struct virtq *q = t->queue_sel < t->d.num_queues ? &t->queues[t->queue_sel] : NULL;
	if (!q)
		return 0;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q->num_max;
	case VIRTIO_MMIO_QUEUE_NUM: return q->num;
	case VIRTIO_MMIO_QUEUE_READY: return q->ready;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: return (uint32_t)q->desc;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: return (uint32_t)(q->desc >> 32);
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW: return (uint32_t)q->avail;
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: return (uint32_t)(q->avail >> 32);
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW: return (uint32_t)q->used;
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: return (uint32_t)(q->used >> 32);
	}
	return 0;
}

static uint32_t read_reg(const struct virtio_mmio *t, uint64_t off)
{
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return t->d.device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel > 1)
			return 0;
		return (uint32_t)(device_features(t) >> (32 * t->device_features_sel));
	case VIRTIO_MMIO_INTERRUPT_STATUS: return t->interrupt_status;
	case VIRTIO_MMIO_STATUS: return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION: return t->config_generation;
	/* No shared memory regions: a length of all ones means "absent". */
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH: return 0xffffffffu;
	}
	return read_queue_reg(t, off);
}

static uint64_t read_config(const struct virtio_mmio *t, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		if (off + i < t->d.config_len)
			v |= (uint64_t)t->d.config[off + i] << (8 * i);
	return v;
}

/* Misbehaving drivers get zeros and ignored writes, never an access fault:
 * a fault would be an exception QEMU's board does not raise either. */
static int mmio_read(void *opaque, uint64_t off, unsigned size, uint64_t *val)
{
	const struct virtio_mmio *t = opaque;
	if (off >= VIRTIO_MMIO_CONFIG)
		*val = read_config(t, off - VIRTIO_MMIO_CONFIG, size);
	else
		*val = size == 4 ? read_reg(t, off) : 0; /* registers are 32-bit (§4.2.2.2) */
	return 0;
}

static int mmio_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_mmio *t = opaque;
	if (off < VIRTIO_MMIO_CONFIG && size == 4 && t->d.device_id)
		write_reg(t, off, (uint32_t)val);
	return 0;
}

static const struct mmio_ops virtio_mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
};

int virtio_mmio_register(struct virtio_mmio *t, struct bus *bus, uint64_t base,
			 struct irq_line irq)
{
	t->bus = bus;
	t->irq = irq;
	t->base = base;
	return bus_add_mmio(bus, "virtio-mmio", base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, t);
}

/* --- State -------------------------------------------------------------- */

static void put_virtq(struct state_writer *w, const struct virtq *q)
{
	sw_put_u16(w, q->num_max);
	sw_put_u16(w, q->num);
	sw_put_u8(w, q->ready);
	sw_put_u64(w, q->desc);
	sw_put_u64(w, q->avail);
	sw_put_u64(w, q->used);
	sw_put_u16(w, q->last_avail);
	sw_put_u16(w, q->used_idx);
}

static int get_virtq(struct state_reader *r, struct virtq *q, const struct bus *bus)
{
	uint16_t num_max = sr_u16(r);
	if (!sr_failed(r) && num_max != q->num_max)
		return sr_fail(r, "VIRTIO: queue size limit %u, this device offers %u", num_max,
			       q->num_max);
	q->num = sr_u16(r);
	q->ready = sr_bool(r);
	q->desc = sr_u64(r);
	q->avail = sr_u64(r);
	q->used = sr_u64(r);
	q->last_avail = sr_u16(r);
	q->used_idx = sr_u16(r);
	if (sr_failed(r))
		return -1;
	/* The same check QueueReady makes: a ready queue's rings are sane. */
	const char *why = q->ready ? virtq_check_layout(bus, q) : NULL;
	if (why)
		return sr_fail(r, "VIRTIO: ready queue with a bad layout: %s", why);
	return 0;
}

void virtio_mmio_save(const struct virtio_mmio *t, struct state_writer *w)
{
	sw_put_u32(w, t->d.device_id);
	sw_put_u64(w, t->driver_features);
	sw_put_u32(w, t->device_features_sel);
	sw_put_u32(w, t->driver_features_sel);
	sw_put_u32(w, t->queue_sel);
	sw_put_u32(w, t->status);
	sw_put_u32(w, t->interrupt_status);
	sw_put_u32(w, t->config_generation);
	sw_put_u32(w, VIRTIO_MAX_QUEUES);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		put_virtq(w, &t->queues[i]);
	/* The host side (image fd, slirp) is not guest state and is not
	 * saved. */
	if (t->d.save)
		t->d.save(t->d.dev, w);
}

int virtio_mmio_load(struct virtio_mmio *t, struct state_reader *r, unsigned slot)
{
	uint32_t id = sr_u32(r);
	if (!sr_failed(r) && id != t->d.device_id)
		return sr_fail(r, "VIRTIO slot %u: the file has device %u, this machine %u", slot,
			       id, t->d.device_id);
	t->driver_features = sr_u64(r);
	t->device_features_sel = sr_u32(r);
	t->driver_features_sel = sr_u32(r);
	t->queue_sel = sr_u32(r);
	t->status = sr_u32(r);
	t->interrupt_status = sr_u32(r);
	t->config_generation = sr_u32(r);
	uint32_t nq = sr_u32(r);
	if (!sr_failed(r) && nq != VIRTIO_MAX_QUEUES)
		return sr_fail(r, "VIRTIO slot %u: %u queues, expected %u", slot, nq,
			       VIRTIO_MAX_QUEUES);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES && !sr_failed(r); i++)
		get_virtq(r, &t->queues[i], t->bus);
	/* `fault` is a host-side diagnostic (a pointer to a literal). */
	t->fault = (t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ? "needed reset at snapshot" : NULL;
	if (t->d.load && !sr_failed(r))
		t->d.load(t->d.dev, r);
	return sr_failed(r) ? -1 : 0;
}
