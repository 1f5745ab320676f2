/* virtio devices, driven through the MMIO registers as a guest driver
 * would: a bus with RAM, a tiny driver that lays out split rings in that
 * RAM, and checks on what lands in guest memory, files and callbacks.
 * The second half plays a hostile driver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus/bus.h"
#include "dev/net_slirp.h"
#include "dev/virtio.h"
#include "dev/virtio_blk.h"
#include "dev/virtio_console.h"
#include "dev/virtio_net.h"
#include "dev/virtio_rng.h"
#include "vm/events.h"

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (4u << 20)
#define SLOT 0x10001000ULL
#define HEAP_BASE (RAM_BASE + 0x100000) /* rings live below, buffers above */
#define DISK_SECTORS 64
#define ROM_BASE 0x20000ULL /* a small read-only region */

/* ---- harness ------------------------------------------------------------ */

struct tb {
	struct bus bus;
	uint8_t *ram;
	uint8_t rom[0x4000];
	uint64_t heap;
	bool irq_level;
	unsigned irq_source;
	struct virtio_mmio *t;
};

/* The driver's view of one queue. */
struct dq {
	unsigned idx;
	uint16_t num;
	uint64_t desc, avail, used;
	uint16_t avail_idx, used_seen, next_desc;
};

struct buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static void irq_cb(void *opaque, unsigned source, bool level)
{
	struct tb *tb = opaque;
	tb->irq_level = level;
	tb->irq_source = source;
}

static struct tb *tb_new(void)
{
	struct tb *tb = calloc(1, sizeof(*tb));
	assert_non_null(tb);
	tb->ram = calloc(1, RAM_SIZE);
	assert_non_null(tb->ram);
	bus_init(&tb->bus);
	assert_int_equal(bus_add_ram(&tb->bus, "ram", RAM_BASE, RAM_SIZE, tb->ram, true), 0);
	assert_int_equal(bus_add_ram(&tb->bus, "rom", ROM_BASE, sizeof(tb->rom), tb->rom, false), 0);
	tb->heap = HEAP_BASE;
	return tb;
}

static void tb_attach(struct tb *tb, struct virtio_mmio *t)
{
	struct irq_line line = { .set = irq_cb, .opaque = tb, .source = 7 };
	tb->t = t;
	assert_int_equal(virtio_mmio_register(t, &tb->bus, SLOT, line), 0);
}

static void tb_free(struct tb *tb)
{
	bus_free(&tb->bus);
	free(tb->ram);
	free(tb);
}

static uint8_t *gp(struct tb *tb, uint64_t gpa)
{
	assert_true(gpa >= RAM_BASE && gpa < RAM_BASE + RAM_SIZE);
	return tb->ram + (gpa - RAM_BASE);
}

static uint64_t galloc(struct tb *tb, uint32_t size)
{
	uint64_t a = tb->heap;
	tb->heap = (tb->heap + size + 15) & ~15ULL;
	assert_true(tb->heap <= RAM_BASE + RAM_SIZE);
	memset(gp(tb, a), 0, size);
	return a;
}

static uint32_t rd(struct tb *tb, uint32_t off)
{
	uint64_t v = 0xdeadbeef;
	assert_int_equal(bus_read(&tb->bus, SLOT + off, 4, &v), 0);
	return (uint32_t)v;
}

static void wr(struct tb *tb, uint32_t off, uint32_t v)
{
	assert_int_equal(bus_write(&tb->bus, SLOT + off, 4, v), 0);
}

static uint64_t device_features(struct tb *tb)
{
	wr(tb, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t f = (uint64_t)rd(tb, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	wr(tb, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return f | rd(tb, VIRTIO_MMIO_DEVICE_FEATURES);
}

/* Steps 1-6 of §3.1.1; returns whether the device accepted FEATURES_OK. */
static bool negotiate(struct tb *tb, uint64_t accept)
{
	wr(tb, VIRTIO_MMIO_STATUS, 0);
	wr(tb, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(tb, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(tb, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(tb, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)accept);
	wr(tb, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(tb, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(accept >> 32));
	wr(tb, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return rd(tb, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK;
}

static void queue_regs(struct tb *tb, struct dq *q)
{
	wr(tb, VIRTIO_MMIO_QUEUE_SEL, q->idx);
	wr(tb, VIRTIO_MMIO_QUEUE_NUM, q->num);
	wr(tb, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
	wr(tb, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
	wr(tb, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)q->avail);
	wr(tb, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(q->avail >> 32));
	wr(tb, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)q->used);
	wr(tb, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(q->used >> 32));
	wr(tb, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void setup_queue(struct tb *tb, struct dq *q, unsigned idx, uint16_t num)
{
	memset(q, 0, sizeof(*q));
	q->idx = idx;
	q->num = num;
	q->desc = RAM_BASE + idx * 0x10000ULL;
	q->avail = q->desc + 0x1000;
	q->used = q->desc + 0x2000;
	memset(gp(tb, q->desc), 0, 0x3000);
	wr(tb, VIRTIO_MMIO_QUEUE_SEL, idx);
	assert_int_equal(rd(tb, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(tb, VIRTIO_MMIO_QUEUE_NUM_MAX) >= num);
	queue_regs(tb, q);
	assert_int_equal(rd(tb, VIRTIO_MMIO_QUEUE_READY), 1);
}

static void driver_ok(struct tb *tb)
{
	wr(tb, VIRTIO_MMIO_STATUS, rd(tb, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

/* Negotiate VERSION_1 (+ `extra`), set up `nq` queues of `num`, DRIVER_OK. */
static void bring_up(struct tb *tb, struct dq *qs, unsigned nq, uint16_t num, uint64_t extra)
{
	assert_true(negotiate(tb, VIRTIO_BIT(VIRTIO_F_VERSION_1) | extra));
	for (unsigned i = 0; i < nq; i++)
		setup_queue(tb, &qs[i], i, num);
	driver_ok(tb);
}

static void put_desc(struct tb *tb, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *d = gp(tb, table + 16ULL * i);
	virtio_st64(d, addr);
	virtio_st32(d + 8, len);
	virtio_st16(d + 12, flags);
	virtio_st16(d + 14, next);
}

static void publish(struct tb *tb, struct dq *q, uint16_t head, bool notify)
{
	virtio_st16(gp(tb, q->avail + 4 + 2 * (q->avail_idx % q->num)), head);
	q->avail_idx++;
	virtio_st16(gp(tb, q->avail + 2), q->avail_idx);
	if (notify)
		wr(tb, VIRTIO_MMIO_QUEUE_NOTIFY, q->idx);
}

/* Chain `n` buffers in consecutive descriptors and make them available. */
static uint16_t submit(struct tb *tb, struct dq *q, const struct buf *b, unsigned n, bool notify)
{
	uint16_t head = q->next_desc;
	for (unsigned i = 0; i < n; i++) {
		unsigned d = (head + i) % q->num;
		uint16_t flags = (b[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		put_desc(tb, q->desc, d, b[i].gpa, b[i].len, flags, (uint16_t)((d + 1) % q->num));
	}
	q->next_desc = (uint16_t)((head + n) % q->num);
	publish(tb, q, head, notify);
	return head;
}

static bool take_used(struct tb *tb, struct dq *q, uint32_t *id, uint32_t *len)
{
	uint16_t idx = virtio_ld16(gp(tb, q->used + 2));
	if (idx == q->used_seen)
		return false;
	const uint8_t *e = gp(tb, q->used + 4 + 8 * (q->used_seen % q->num));
	*id = virtio_ld32(e);
	*len = virtio_ld32(e + 4);
	q->used_seen++;
	return true;
}

static void ack_all(struct tb *tb)
{
	wr(tb, VIRTIO_MMIO_INTERRUPT_ACK, rd(tb, VIRTIO_MMIO_INTERRUPT_STATUS));
	assert_false(tb->irq_level);
}

static bool needs_reset(struct tb *tb)
{
	return rd(tb, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

/* The device reported a protocol error the way §2.1.2 says: NEEDS_RESET
 * plus a configuration-change interrupt. */
static void assert_broken(struct tb *tb)
{
	assert_true(needs_reset(tb));
	assert_true(rd(tb, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG);
	assert_true(tb->irq_level);
	assert_non_null(tb->t->fault);
}

/* ---- virtio-blk harness ------------------------------------------------- */

struct blk_fixture {
	struct tb *tb;
	struct virtio_blk *blk;
	struct dq q;
	char path[64];
};

static uint8_t pattern(uint64_t sector, unsigned i)
{
	return (uint8_t)(sector * 7 + i * 13 + 1);
}

static void make_image(char *path)
{
	strcpy(path, "/tmp/keel-virtio-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	uint8_t sec[VIRTIO_BLK_SECTOR];
	for (uint64_t s = 0; s < DISK_SECTORS; s++) {
		for (unsigned i = 0; i < sizeof(sec); i++)
			sec[i] = pattern(s, i);
		assert_int_equal(write(fd, sec, sizeof(sec)), sizeof(sec));
	}
	close(fd);
}

static struct blk_fixture *blk_new(bool readonly, uint64_t extra_features)
{
	char err[256];
	struct blk_fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	make_image(f->path);
	f->tb = tb_new();
	f->blk = calloc(1, sizeof(*f->blk));
	assert_non_null(f->blk);
	assert_int_equal(virtio_blk_init(f->blk, f->path, readonly, err, sizeof(err)), 0);
	tb_attach(f->tb, &f->blk->vmio);
	bring_up(f->tb, &f->q, 1, 16, extra_features);
	return f;
}

static void blk_free(struct blk_fixture *f)
{
	virtio_blk_free(f->blk);
	unlink(f->path);
	free(f->blk);
	tb_free(f->tb);
	free(f);
}

static uint64_t blk_header(struct tb *tb, uint32_t type, uint64_t sector)
{
	uint64_t h = galloc(tb, 16);
	virtio_st32(gp(tb, h), type);
	virtio_st64(gp(tb, h + 8), sector);
	return h;
}

/* One request: header, optional data, status; returns the status byte and
 * checks that the used ring named our chain. */
static uint8_t blk_do(struct blk_fixture *f, uint32_t type, uint64_t sector, uint64_t data,
		      uint32_t len, bool data_write, uint32_t *used_len)
{
	struct tb *tb = f->tb;
	uint64_t st = galloc(tb, 1);
	*gp(tb, st) = 0xee;
	struct buf b[3] = { { blk_header(tb, type, sector), 16, false } };
	unsigned n = 1;
	if (len)
		b[n++] = (struct buf){ data, len, data_write };
	b[n++] = (struct buf){ st, 1, true };
	uint16_t head = submit(tb, &f->q, b, n, true);
	uint32_t id, ulen;
	assert_true(take_used(tb, &f->q, &id, &ulen));
	assert_int_equal(id, head);
	if (used_len)
		*used_len = ulen;
	return *gp(tb, st);
}

/* The event boundary behind a device, wired as vm/machine.c wires it. */
static int boundary_entropy(void *opaque, void *buf, size_t len)
{
	return events_entropy(opaque, buf, len);
}

static struct entropy_source entropy_of(struct event_boundary *eb)
{
	return (struct entropy_source){boundary_entropy, eb};
}

static void frame_taken(void *opaque, const void *frame, size_t len)
{
	events_deliver(opaque, EV_NET_FRAME, frame, len);
}

/* ---- transport ---------------------------------------------------------- */

static void test_identity_and_empty_slot(void **state)
{
	struct tb *tb = tb_new();
	struct virtio_rng rng;
	struct event_boundary eb;
	events_init(&eb, NULL, true, 1, 1);
	virtio_rng_init(&rng, entropy_of(&eb));
	tb_attach(tb, &rng.vmio);
	assert_int_equal(rd(tb, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(tb, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(tb, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	assert_int_equal(rd(tb, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	uint64_t f = device_features(tb);
	assert_true(f & VIRTIO_BIT(VIRTIO_F_VERSION_1));
	assert_true(f & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC));

	/* An empty slot next door: valid magic, DeviceID 0, inert. */
	struct virtio_mmio empty;
	virtio_mmio_init(&empty, NULL);
	struct irq_line none = { 0 };
	assert_int_equal(virtio_mmio_register(&empty, &tb->bus, SLOT + 0x1000, none), 0);
	uint64_t v;
	assert_int_equal(bus_read(&tb->bus, SLOT + 0x1000, 4, &v), 0);
	assert_int_equal(v, 0x74726976);
	assert_int_equal(bus_read(&tb->bus, SLOT + 0x1000 + VIRTIO_MMIO_DEVICE_ID, 4, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(bus_write(&tb->bus, SLOT + 0x1000 + VIRTIO_MMIO_STATUS, 4, 1), 0);
	assert_int_equal(bus_read(&tb->bus, SLOT + 0x1000 + VIRTIO_MMIO_STATUS, 4, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(bus_read(&tb->bus, SLOT + 0x1000 + VIRTIO_MMIO_QUEUE_NUM_MAX, 4, &v), 0);
	assert_int_equal(v, 0);

	/* Sub-word register reads give 0 (registers are 32-bit), never a fault. */
	assert_int_equal(bus_read(&tb->bus, SLOT + VIRTIO_MMIO_MAGIC_VALUE, 1, &v), 0);
	assert_int_equal(v, 0);
	/* A queue that does not exist has QueueNumMax 0. */
	wr(tb, VIRTIO_MMIO_QUEUE_SEL, 5);
	assert_int_equal(rd(tb, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(tb, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(tb, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_RNG_QUEUE_SIZE);
	tb_free(tb);
}

static void test_feature_negotiation(void **state)
{
	struct blk_fixture *f = blk_new(false, 0);
	struct tb *tb = f->tb;
	uint64_t dev = device_features(tb);
	assert_true(dev & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	assert_true(dev & VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX));
	assert_false(dev & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	/* A legacy-only driver (no VERSION_1) is refused on this transport. */
	assert_false(negotiate(tb, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)));
	/* So is a driver claiming a feature that was not offered. */
	assert_false(negotiate(tb, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(40)));
	assert_true(negotiate(tb, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)));
	/* After FEATURES_OK the choice is frozen. */
	wr(tb, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(tb, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_true(virtio_mmio_has_feature(&f->blk->vmio, VIRTIO_BLK_F_FLUSH));

	/* Buffers made available before DRIVER_OK wait for it (§3.1.1). */
	setup_queue(tb, &f->q, 0, 16);
	uint64_t st = galloc(tb, 1);
	struct buf b[2] = { { blk_header(tb, VIRTIO_BLK_T_FLUSH, 0), 16, false }, { st, 1, true } };
	*gp(tb, st) = 0xee;
	submit(tb, &f->q, b, 2, true);
	uint32_t id, len;
	assert_false(take_used(tb, &f->q, &id, &len));
	assert_false(tb->irq_level);
	driver_ok(tb);
	assert_true(take_used(tb, &f->q, &id, &len));
	assert_int_equal(*gp(tb, st), VIRTIO_BLK_S_OK);
	assert_true(tb->irq_level);

	/* Reset drops everything, including the interrupt. */
	wr(tb, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(tb, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(tb, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_false(tb->irq_level);
	assert_int_equal(rd(tb, VIRTIO_MMIO_QUEUE_READY), 0);
	blk_free(f);
}

/* ---- virtio-blk --------------------------------------------------------- */

static void test_blk_config(void **state)
{
	struct blk_fixture *f = blk_new(false, 0);
	uint64_t lo, hi, b;
	/* capacity as two 32-bit reads (what Linux does), and as one 64-bit */
	assert_int_equal(bus_read(&f->tb->bus, SLOT + 0x100, 4, &lo), 0);
	assert_int_equal(bus_read(&f->tb->bus, SLOT + 0x104, 4, &hi), 0);
	assert_int_equal(lo | hi << 32, DISK_SECTORS);
	assert_int_equal(bus_read(&f->tb->bus, SLOT + 0x100, 8, &b), 0);
	assert_int_equal(b, DISK_SECTORS);
	assert_int_equal(bus_read(&f->tb->bus, SLOT + 0x100, 1, &b), 0);
	assert_int_equal(b, DISK_SECTORS);
	assert_int_equal(bus_read(&f->tb->bus, SLOT + 0x10c, 4, &b), 0);
	assert_int_equal(b, VIRTQ_MAX_CHAIN - 2); /* seg_max */
	blk_free(f);
}

static void test_blk_read(void **state)
{
	struct blk_fixture *f = blk_new(false, 0);
	struct tb *tb = f->tb;
	/* Sectors 2-3 into two separate 512-byte buffers. */
	uint64_t d0 = galloc(tb, 512), d1 = galloc(tb, 512), st = galloc(tb, 1);
	struct buf b[4] = {
		{ blk_header(tb, VIRTIO_BLK_T_IN, 2), 16, false },
		{ d0, 512, true },
		{ d1, 512, true },
		{ st, 1, true },
	};
	*gp(tb, st) = 0xee;
	uint16_t head = submit(tb, &f->q, b, 4, true);
	uint32_t id, len;
	assert_true(take_used(tb, &f->q, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 1024 + 1);
	assert_int_equal(*gp(tb, st), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 512; i++) {
		assert_int_equal(gp(tb, d0)[i], pattern(2, i));
		assert_int_equal(gp(tb, d1)[i], pattern(3, i));
	}
	/* Level-triggered: up until acknowledged. */
	assert_true(tb->irq_level);
	assert_int_equal(tb->irq_source, 7);
	assert_int_equal(rd(tb, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED);
	wr(tb, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
	assert_false(tb->irq_level);
	assert_int_equal(rd(tb, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	blk_free(f);
}

static void test_blk_write_flush_id(void **state)
{
	struct blk_fixture *f = blk_new(false, 0);
	struct tb *tb = f->tb;
	uint64_t data = galloc(tb, 1024);
	for (unsigned i = 0; i < 1024; i++)
		gp(tb, data)[i] = (uint8_t)(0xa5 ^ i);
	uint32_t len;
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_OUT, 5, data, 1024, false, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	uint8_t back[1024];
	int fd = open(f->path, O_RDONLY);
	assert_int_equal(pread(fd, back, sizeof(back), 5 * 512), sizeof(back));
	close(fd);
	assert_memory_equal(back, gp(tb, data), sizeof(back));
	/* Read it back through the device too. */
	uint64_t in = galloc(tb, 1024);
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 5, in, 1024, true, &len), VIRTIO_BLK_S_OK);
	assert_memory_equal(gp(tb, in), back, sizeof(back));

	assert_int_equal(blk_do(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len), VIRTIO_BLK_S_OK);

	uint64_t id = galloc(tb, 20);
	memset(gp(tb, id), 0x55, 20);
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_GET_ID, 0, id, 20, true, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	char want[20] = "keel-disk";
	assert_memory_equal(gp(tb, id), want, 20);

	assert_int_equal(blk_do(f, 42, 0, 0, 0, false, &len), VIRTIO_BLK_S_UNSUPP);
	blk_free(f);
}

static void test_blk_out_of_range(void **state)
{
	struct blk_fixture *f = blk_new(false, 0);
	struct tb *tb = f->tb;
	uint64_t data = galloc(tb, 1024);
	memset(gp(tb, data), 0x77, 1024);
	uint32_t len;
	/* Past the end, straddling the end, absurd sectors that would overflow
	 * sector*512, and a length that is not whole sectors. */
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, DISK_SECTORS, data, 512, true, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, data, 1024, true, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_OUT, DISK_SECTORS - 1, data, 1024, false, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 1ULL << 55, data, 512, true, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_OUT, UINT64_MAX, data, 512, false, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 0, data, 100, true, &len), VIRTIO_BLK_S_IOERR);
	/* The last sector itself is fine. */
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, data, 512, true, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(gp(tb, data)[0], pattern(DISK_SECTORS - 1, 0));
	assert_false(needs_reset(tb));
	blk_free(f);
}

static void test_blk_readonly(void **state)
{
	struct blk_fixture *f = blk_new(true, VIRTIO_BIT(VIRTIO_BLK_F_RO));
	struct tb *tb = f->tb;
	assert_true(device_features(tb) & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	uint64_t data = galloc(tb, 512);
	memset(gp(tb, data), 0, 512);
	uint32_t len;
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_OUT, 1, data, 512, false, &len), VIRTIO_BLK_S_IOERR);
	uint8_t back[512];
	int fd = open(f->path, O_RDONLY);
	assert_int_equal(pread(fd, back, 512, 512), 512);
	close(fd);
	assert_int_equal(back[0], pattern(1, 0)); /* untouched */
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 1, data, 512, true, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(gp(tb, data)[3], pattern(1, 3));
	blk_free(f);
}

static void test_blk_open_errors(void **state)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	char err[256] = "";
	assert_int_equal(virtio_blk_init(b, "/nonexistent/keel.img", false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/keel.img"));
	assert_non_null(strstr(err, "No such file"));
	err[0] = '\0';
	assert_int_equal(virtio_blk_init(b, "/tmp", true, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "directory"));

	char path[64];
	make_image(path);
	char spec[96];
	snprintf(spec, sizeof(spec), "%s,readonly", path);
	assert_int_equal(virtio_blk_init_spec(b, spec, err, sizeof(err)), 0);
	assert_true(b->readonly);
	assert_int_equal(b->capacity, DISK_SECTORS);
	virtio_blk_free(b);
	assert_int_equal(virtio_blk_init_spec(b, path, err, sizeof(err)), 0);
	assert_false(b->readonly);
	virtio_blk_free(b);
	unlink(path);
	free(b);
}

/* With VERSION_1 the driver may frame a request any way: header split in
 * two, data and status sharing one descriptor. */
static void test_blk_any_layout(void **state)
{
	struct blk_fixture *f = blk_new(false, 0);
	struct tb *tb = f->tb;
	uint64_t h = blk_header(tb, VIRTIO_BLK_T_IN, 9);
	uint64_t ds = galloc(tb, 513);
	gp(tb, ds)[512] = 0xee;
	struct buf b[3] = { { h, 6, false }, { h + 6, 10, false }, { ds, 513, true } };
	submit(tb, &f->q, b, 3, true);
	uint32_t id, len;
	assert_true(take_used(tb, &f->q, &id, &len));
	assert_int_equal(len, 513);
	assert_int_equal(gp(tb, ds)[512], VIRTIO_BLK_S_OK);
	assert_int_equal(gp(tb, ds)[100], pattern(9, 100));
	blk_free(f);
}

static void test_blk_indirect(void **state)
{
	struct blk_fixture *f = blk_new(false, VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC));
	struct tb *tb = f->tb;
	uint64_t table = galloc(tb, 3 * 16), data = galloc(tb, 512), st = galloc(tb, 1);
	*gp(tb, st) = 0xee;
	put_desc(tb, table, 0, blk_header(tb, VIRTIO_BLK_T_IN, 4), 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(tb, table, 1, data, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	put_desc(tb, table, 2, st, 1, VIRTQ_DESC_F_WRITE, 0);
	put_desc(tb, f->q.desc, 0, table, 48, VIRTQ_DESC_F_INDIRECT, 0);
	publish(tb, &f->q, 0, true);
	uint32_t id, len;
	assert_true(take_used(tb, &f->q, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, 513);
	assert_int_equal(*gp(tb, st), VIRTIO_BLK_S_OK);
	assert_int_equal(gp(tb, data)[17], pattern(4, 17));
	blk_free(f);
}

/* ---- virtio-rng --------------------------------------------------------- */

struct record_log {
	unsigned count[8];
	size_t bytes[8];
};

static void record_cb(void *opaque, uint64_t icount, enum event_kind kind, const void *p, size_t len)
{
	struct record_log *l = opaque;
	l->count[kind]++;
	l->bytes[kind] += len;
}

static void test_rng_seeded(void **state)
{
	struct tb *tb = tb_new();
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	struct event_boundary eb, ref;
	struct record_log log = { 0 };
	uint64_t icount = 0;
	events_init(&eb, &icount, true, 0x1234, 1);
	assert_int_equal(events_observe(&eb, record_cb, &log), 0);
	events_init(&ref, NULL, true, 0x1234, 1);
	virtio_rng_init(rng, entropy_of(&eb));
	tb_attach(tb, &rng->vmio);
	struct dq q;
	bring_up(tb, &q, 1, 8, 0);

	uint64_t a = galloc(tb, 40), b = galloc(tb, 24);
	struct buf two[2] = { { a, 40, true }, { b, 24, true } };
	submit(tb, &q, two, 2, true);
	uint32_t id, len;
	assert_true(take_used(tb, &q, &id, &len));
	assert_int_equal(len, 64);
	assert_true(tb->irq_level);
	uint8_t want[64];
	assert_int_equal(events_entropy(&ref, want, 64), 0);
	assert_memory_equal(gp(tb, a), want, 40);
	assert_memory_equal(gp(tb, b), want + 40, 24);
	/* Every byte crossed the boundary and was logged. */
	assert_int_equal(log.bytes[EV_ENTROPY], 64);
	/* The stream continues, it does not restart.  With
	 * VIRTQ_AVAIL_F_NO_INTERRUPT the buffer is used silently. */
	ack_all(tb);
	virtio_st16(gp(tb, q.avail), VIRTQ_AVAIL_F_NO_INTERRUPT);
	struct buf one = { galloc(tb, 16), 16, true };
	submit(tb, &q, &one, 1, true);
	assert_true(take_used(tb, &q, &id, &len));
	assert_false(tb->irq_level);
	assert_int_equal(events_entropy(&ref, want, 16), 0);
	assert_memory_equal(gp(tb, one.gpa), want, 16);
	free(rng);
	tb_free(tb);
}

/* ---- virtio-console ----------------------------------------------------- */

struct sink {
	uint8_t buf[256];
	size_t len;
	unsigned calls;
};

static void sink_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct sink *s = opaque;
	assert_true(s->len + len <= sizeof(s->buf));
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	s->calls++;
}

static void test_console(void **state)
{
	struct tb *tb = tb_new();
	struct virtio_console *c = calloc(1, sizeof(*c));
	struct sink out = { 0 };
	virtio_console_init(c, sink_write, &out);
	tb_attach(tb, &c->vmio);
	struct dq q[2];
	bring_up(tb, q, 2, 8, 0);
	assert_false(virtio_console_can_input(c));
	assert_int_equal(virtio_console_input(c, (const uint8_t *)"x", 1), 0);

	/* Output: "hello" in two pieces. */
	uint64_t s1 = galloc(tb, 3), s2 = galloc(tb, 2);
	memcpy(gp(tb, s1), "hel", 3);
	memcpy(gp(tb, s2), "lo", 2);
	struct buf tx[2] = { { s1, 3, false }, { s2, 2, false } };
	submit(tb, &q[VIRTIO_CONSOLE_TX], tx, 2, true);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.buf, "hello", 5);
	uint32_t id, len;
	assert_true(take_used(tb, &q[VIRTIO_CONSOLE_TX], &id, &len));
	assert_int_equal(len, 0);

	/* Input: two 4-byte buffers take 8 of 10 bytes. */
	uint64_t r1 = galloc(tb, 4), r2 = galloc(tb, 4);
	struct buf rx1 = { r1, 4, true }, rx2 = { r2, 4, true };
	submit(tb, &q[VIRTIO_CONSOLE_RX], &rx1, 1, true);
	submit(tb, &q[VIRTIO_CONSOLE_RX], &rx2, 1, true);
	assert_true(virtio_console_can_input(c));
	ack_all(tb);
	assert_int_equal(virtio_console_input(c, (const uint8_t *)"abcdefghij", 10), 8);
	assert_true(tb->irq_level);
	assert_memory_equal(gp(tb, r1), "abcd", 4);
	assert_memory_equal(gp(tb, r2), "efgh", 4);
	assert_true(take_used(tb, &q[VIRTIO_CONSOLE_RX], &id, &len));
	assert_int_equal(len, 4);
	assert_true(take_used(tb, &q[VIRTIO_CONSOLE_RX], &id, &len));
	assert_int_equal(len, 4);
	assert_false(virtio_console_can_input(c));
	assert_int_equal(virtio_console_input(c, (const uint8_t *)"ij", 2), 0);
	free(c);
	tb_free(tb);
}

/* ---- virtio-net --------------------------------------------------------- */

struct fake_backend {
	uint8_t frame[2048];
	size_t len;
	unsigned sent;
};

static int fake_send(void *opaque, const uint8_t *frame, size_t len)
{
	struct fake_backend *b = opaque;
	assert_true(len <= sizeof(b->frame));
	memcpy(b->frame, frame, len);
	b->len = len;
	b->sent++;
	return 0;
}

static void test_net(void **state)
{
	struct tb *tb = tb_new();
	struct virtio_net *n = calloc(1, sizeof(*n));
	struct fake_backend be = { 0 };
	uint8_t mac[6];
	assert_int_equal(virtio_net_parse_mac("52:54:00:ab:CD:0f", mac), 0);
	assert_int_equal(virtio_net_parse_mac("52:54:00:ab:cd", mac), -1);
	assert_int_equal(virtio_net_parse_mac("52-54-00-ab-cd-0f", mac), -1);
	assert_int_equal(virtio_net_parse_mac("52:54:00:ab:cd:0g", mac), -1);
	assert_int_equal(virtio_net_parse_mac("52:54:00:ab:CD:0f", mac), 0);
	virtio_net_init(n, mac, (struct net_backend){ fake_send, &be });
	tb_attach(tb, &n->vmio);
	assert_int_equal(rd(tb, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	uint64_t f = device_features(tb);
	assert_true(f & VIRTIO_BIT(VIRTIO_NET_F_MAC));
	assert_true(f & VIRTIO_BIT(VIRTIO_NET_F_STATUS));
	uint64_t v;
	for (int i = 0; i < 6; i++) {
		assert_int_equal(bus_read(&tb->bus, SLOT + 0x100 + i, 1, &v), 0);
		assert_int_equal(v, mac[i]);
	}
	assert_int_equal(bus_read(&tb->bus, SLOT + 0x106, 2, &v), 0);
	assert_int_equal(v, VIRTIO_NET_S_LINK_UP);

	struct dq q[2];
	bring_up(tb, q, 2, 16, VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS));

	/* Transmit: header stripped, frame passed whole. */
	uint64_t hdr = galloc(tb, 12), frame = galloc(tb, 60);
	for (unsigned i = 0; i < 60; i++)
		gp(tb, frame)[i] = (uint8_t)(i * 3);
	struct buf tx[2] = { { hdr, 12, false }, { frame, 60, false } };
	submit(tb, &q[VIRTIO_NET_TX], tx, 2, true);
	assert_int_equal(be.sent, 1);
	assert_int_equal(be.len, 60);
	assert_memory_equal(be.frame, gp(tb, frame), 60);
	uint32_t id, len;
	assert_true(take_used(tb, &q[VIRTIO_NET_TX], &id, &len));
	assert_int_equal(n->stats.tx_frames, 1);

	/* Receive: nothing posted yet, so the caller must keep the frame. */
	uint8_t in[42];
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0xc0 + i);
	assert_false(virtio_net_can_receive(n));
	assert_int_equal(virtio_net_receive(n, in, sizeof(in)), -1);

	uint64_t rxb = galloc(tb, 12 + 1514);
	memset(gp(tb, rxb), 0xff, 12 + 1514);
	struct buf rx = { rxb, 12 + 1514, true };
	submit(tb, &q[VIRTIO_NET_RX], &rx, 1, true);
	assert_true(virtio_net_can_receive(n));
	ack_all(tb);
	assert_int_equal(virtio_net_receive(n, in, sizeof(in)), 0);
	assert_true(tb->irq_level);
	assert_true(take_used(tb, &q[VIRTIO_NET_RX], &id, &len));
	assert_int_equal(len, 12 + sizeof(in));
	uint8_t want_hdr[12] = { 0 };
	want_hdr[10] = 1; /* num_buffers */
	assert_memory_equal(gp(tb, rxb), want_hdr, 12);
	assert_memory_equal(gp(tb, rxb + 12), in, sizeof(in));

	/* A frame bigger than the posted buffer is dropped; the buffer stays. */
	uint64_t small = galloc(tb, 12 + 100);
	struct buf rxs = { small, 12 + 100, true };
	submit(tb, &q[VIRTIO_NET_RX], &rxs, 1, true);
	uint8_t big[200] = { 0 };
	assert_int_equal(virtio_net_receive(n, big, sizeof(big)), 0);
	assert_int_equal(n->stats.rx_dropped, 1);
	assert_false(take_used(tb, &q[VIRTIO_NET_RX], &id, &len));
	assert_true(virtio_net_can_receive(n));
	assert_int_equal(virtio_net_receive(n, in, sizeof(in)), 0);
	assert_true(take_used(tb, &q[VIRTIO_NET_RX], &id, &len));

	/* Link down: config generation moves and a config interrupt fires. */
	ack_all(tb);
	uint32_t gen = rd(tb, VIRTIO_MMIO_CONFIG_GENERATION);
	virtio_net_set_link(n, false);
	assert_int_equal(rd(tb, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	assert_int_equal(rd(tb, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	assert_int_equal(bus_read(&tb->bus, SLOT + 0x106, 2, &v), 0);
	assert_int_equal(v, 0);
	free(n);
	tb_free(tb);
}

/* ---- a hostile driver --------------------------------------------------- */

/* Descriptor outside RAM: blk can say so in the status byte and carries on. */
static void test_bad_addr_blk(void **state)
{
	struct blk_fixture *f = blk_new(false, 0);
	struct tb *tb = f->tb;
	uint32_t len;
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 0, 0x1000, 512, true, &len), VIRTIO_BLK_S_IOERR);
	/* Straddling the end of RAM, and a length that wraps the address space. */
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 0, RAM_BASE + RAM_SIZE - 16, 512, true, &len),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 0, RAM_BASE + RAM_SIZE - 16, 0xffffffffu, true, &len),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_OUT, 0, 0xfffffffffffffe00ULL, 0x400, false, &len),
			 VIRTIO_BLK_S_IOERR);
	/* A bad buffer the request would not even use still fails it. */
	uint64_t st = galloc(tb, 1), in = galloc(tb, 512);
	struct buf b[4] = {
		{ blk_header(tb, VIRTIO_BLK_T_IN, 0), 16, false },
		{ 0x1000, 8, false },
		{ in, 512, true },
		{ st, 1, true },
	};
	submit(tb, &f->q, b, 4, true);
	uint32_t id;
	assert_true(take_used(tb, &f->q, &id, &len));
	assert_int_equal(*gp(tb, st), VIRTIO_BLK_S_IOERR);
	/* ROM can be read from but not written to. */
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 0, ROM_BASE, 512, true, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_OUT, 7, ROM_BASE, 512, false, &len), VIRTIO_BLK_S_OK);
	/* The device's MMIO window is not RAM either. */
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 0, SLOT, 512, true, &len), VIRTIO_BLK_S_IOERR);
	assert_false(needs_reset(tb));
	uint64_t data = galloc(tb, 512);
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 3, data, 512, true, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(gp(tb, data)[0], pattern(3, 0));
	blk_free(f);
}

/* No writable status byte, or the status itself outside RAM: nowhere to
 * put an error, so the device needs a reset. */
static void test_blk_no_status(void **state)
{
	struct blk_fixture *f = blk_new(false, 0);
	struct buf b[1] = { { blk_header(f->tb, VIRTIO_BLK_T_FLUSH, 0), 16, false } };
	submit(f->tb, &f->q, b, 1, true);
	assert_broken(f->tb);
	blk_free(f);

	f = blk_new(false, 0);
	struct buf c[2] = { { blk_header(f->tb, VIRTIO_BLK_T_FLUSH, 0), 16, false }, { 0x2000, 1, true } };
	submit(f->tb, &f->q, c, 2, true);
	assert_broken(f->tb);
	blk_free(f);
}

/* Where there is no status byte (rng, console, net), a bad buffer breaks
 * the device; a reset brings it back. */
static void test_bad_addr_rng_and_reset(void **state)
{
	struct tb *tb = tb_new();
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	struct event_boundary eb;
	events_init(&eb, NULL, true, 9, 1);
	virtio_rng_init(rng, entropy_of(&eb));
	tb_attach(tb, &rng->vmio);
	struct dq q;
	bring_up(tb, &q, 1, 8, 0);
	struct buf bad = { RAM_BASE + RAM_SIZE, 16, true };
	submit(tb, &q, &bad, 1, true);
	assert_broken(tb);
	uint32_t id, len;
	assert_false(take_used(tb, &q, &id, &len));
	/* Broken means inert: a good request is not served. */
	struct buf good = { galloc(tb, 16), 16, true };
	submit(tb, &q, &good, 1, true);
	assert_false(take_used(tb, &q, &id, &len));
	/* The driver cannot clear NEEDS_RESET by writing Status... */
	wr(tb, VIRTIO_MMIO_STATUS, rd(tb, VIRTIO_MMIO_STATUS) & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_true(needs_reset(tb));
	/* ...only a reset does, and then the device works again. */
	wr(tb, VIRTIO_MMIO_STATUS, 0);
	assert_false(needs_reset(tb));
	assert_false(tb->irq_level);
	assert_null(rng->vmio.fault);
	bring_up(tb, &q, 1, 8, 0);
	submit(tb, &q, &good, 1, true);
	assert_true(take_used(tb, &q, &id, &len));
	assert_int_equal(len, 16);
	free(rng);
	tb_free(tb);
}

static struct blk_fixture *blk_raw(void)
{
	return blk_new(false, VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC));
}

static void test_next_loop(void **state)
{
	struct blk_fixture *f = blk_raw();
	struct tb *tb = f->tb;
	uint64_t h = blk_header(tb, VIRTIO_BLK_T_IN, 0), d = galloc(tb, 512);
	put_desc(tb, f->q.desc, 0, h, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(tb, f->q.desc, 1, d, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0); /* back to 0 */
	publish(tb, &f->q, 0, true);
	assert_broken(tb);
	blk_free(f);

	f = blk_raw();
	tb = f->tb;
	put_desc(tb, f->q.desc, 3, galloc(tb, 1), 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3); /* self */
	publish(tb, &f->q, 3, true);
	assert_broken(tb);
	blk_free(f);
}

static void test_next_out_of_range(void **state)
{
	/* `next` names the slot just past the table, where a valid status
	 * descriptor happens to sit in RAM: only the range check stops it. */
	struct blk_fixture *f = blk_raw();
	struct tb *tb = f->tb;
	put_desc(tb, f->q.desc, 0, blk_header(tb, VIRTIO_BLK_T_FLUSH, 0), 16, VIRTQ_DESC_F_NEXT,
		 f->q.num);
	put_desc(tb, f->q.desc, f->q.num, galloc(tb, 1), 1, VIRTQ_DESC_F_WRITE, 0);
	publish(tb, &f->q, 0, true);
	assert_broken(tb);
	uint32_t id, len;
	assert_false(take_used(tb, &f->q, &id, &len));
	blk_free(f);
}

static void test_avail_jump(void **state)
{
	struct blk_fixture *f = blk_raw();
	struct tb *tb = f->tb;
	/* Claim num+1 new entries at once, each a valid flush request, so
	 * only the index check stands between the device and serving them. */
	uint64_t st = galloc(tb, 1);
	put_desc(tb, f->q.desc, 0, blk_header(tb, VIRTIO_BLK_T_FLUSH, 0), 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(tb, f->q.desc, 1, st, 1, VIRTQ_DESC_F_WRITE, 0);
	virtio_st16(gp(tb, f->q.avail + 2), (uint16_t)(f->q.num + 1));
	wr(tb, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_broken(tb);
	uint32_t id, len;
	assert_false(take_used(tb, &f->q, &id, &len));
	blk_free(f);

	/* An avail entry naming a descriptor past the table (where a valid
	 * request sits in RAM). */
	f = blk_raw();
	tb = f->tb;
	uint16_t n = f->q.num;
	put_desc(tb, f->q.desc, n, blk_header(tb, VIRTIO_BLK_T_FLUSH, 0), 16, VIRTQ_DESC_F_NEXT, 0);
	put_desc(tb, f->q.desc, 0, galloc(tb, 1), 1, VIRTQ_DESC_F_WRITE, 0);
	virtio_st16(gp(tb, f->q.avail + 4), n);
	virtio_st16(gp(tb, f->q.avail + 2), 1);
	wr(tb, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_broken(tb);
	assert_false(take_used(tb, &f->q, &id, &len));
	blk_free(f);
}

static void test_readable_after_writable(void **state)
{
	struct blk_fixture *f = blk_raw();
	struct tb *tb = f->tb;
	struct buf b[3] = {
		{ galloc(tb, 512), 512, true },
		{ blk_header(tb, VIRTIO_BLK_T_IN, 0), 16, false },
		{ galloc(tb, 1), 1, true },
	};
	submit(tb, &f->q, b, 3, true);
	assert_broken(tb);
	blk_free(f);
}

/* Build a blk request in an indirect table with `n` entries at `table`
 * and publish it through descriptor 0 with length `table_len`. */
static void indirect_request(struct blk_fixture *f, uint64_t table, uint32_t table_len)
{
	struct tb *tb = f->tb;
	put_desc(tb, table, 0, blk_header(tb, VIRTIO_BLK_T_IN, 0), 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(tb, table, 1, galloc(tb, 1), 1, VIRTQ_DESC_F_WRITE, 0);
	put_desc(tb, f->q.desc, 0, table, table_len, VIRTQ_DESC_F_INDIRECT, 0);
	publish(tb, &f->q, 0, true);
}

static void test_bad_indirect(void **state)
{
	/* Not negotiated. */
	struct blk_fixture *f = blk_new(false, 0);
	indirect_request(f, galloc(f->tb, 32), 32);
	assert_broken(f->tb);
	blk_free(f);
	/* Length not a whole number of descriptors. */
	f = blk_raw();
	indirect_request(f, galloc(f->tb, 32), 24);
	assert_broken(f->tb);
	blk_free(f);
	/* Table outside RAM. */
	f = blk_raw();
	put_desc(f->tb, f->q.desc, 0, 0x1000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	publish(f->tb, &f->q, 0, true);
	assert_broken(f->tb);
	blk_free(f);
	/* Nested table. */
	f = blk_raw();
	uint64_t t = galloc(f->tb, 32);
	indirect_request(f, t, 32);
	assert_false(needs_reset(f->tb));
	put_desc(f->tb, t, 0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc(f->tb, f->q.desc, 1, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	publish(f->tb, &f->q, 1, true);
	assert_broken(f->tb);
	blk_free(f);
	/* A loop inside the table. */
	f = blk_raw();
	t = galloc(f->tb, 32);
	put_desc(f->tb, t, 0, galloc(f->tb, 16), 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->tb, t, 1, galloc(f->tb, 16), 16, VIRTQ_DESC_F_NEXT, 0);
	put_desc(f->tb, f->q.desc, 0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	publish(f->tb, &f->q, 0, true);
	assert_broken(f->tb);
	blk_free(f);
}

/* Queue layouts the device must refuse at QueueReady.  The driver is not
 * live yet, so there is no interrupt, just NEEDS_RESET (§2.1.2). */
static void refuse_layout(struct dq *q, uint16_t num, uint64_t desc, uint64_t avail, uint64_t used,
			  uint32_t raw_num)
{
	struct blk_fixture *f = blk_new(false, 0);
	struct tb *tb = f->tb;
	wr(tb, VIRTIO_MMIO_STATUS, 0);
	assert_true(negotiate(tb, VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	*q = (struct dq){ .idx = 0, .num = num, .desc = desc, .avail = avail, .used = used };
	queue_regs(tb, q);
	if (raw_num) { /* a QueueNum that only looks right when truncated */
		wr(tb, VIRTIO_MMIO_QUEUE_NUM, raw_num);
		wr(tb, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	assert_int_equal(rd(tb, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(needs_reset(tb));
	assert_non_null(f->blk->vmio.fault);
	assert_false(tb->irq_level);
	/* DRIVER_OK on a broken device does not make it serve anything. */
	driver_ok(tb);
	assert_null(virtio_mmio_queue(&f->blk->vmio, 0));
	blk_free(f);
}

static void test_bad_queue_layout(void **state)
{
	struct dq q;
	uint64_t d = RAM_BASE, a = RAM_BASE + 0x1000, u = RAM_BASE + 0x2000;
	refuse_layout(&q, 100, d, a, u, 0); /* not a power of 2 */
	refuse_layout(&q, 512, d, a, u, 0); /* above QueueNumMax */
	refuse_layout(&q, 0, d, a, u, 0);
	refuse_layout(&q, 0, d, a, u, 0x10010); /* 16 if truncated to 16 bits */
	refuse_layout(&q, 16, d + 8, a, u, 0); /* misaligned */
	refuse_layout(&q, 16, d, a + 1, u, 0);
	refuse_layout(&q, 16, d, a, u + 2, 0);
	refuse_layout(&q, 16, 0x1000, a, u, 0); /* outside RAM */
	refuse_layout(&q, 16, d, a, RAM_BASE + RAM_SIZE - 64, 0); /* runs off the end */
	refuse_layout(&q, 16, d, SLOT, u, 0); /* MMIO is not RAM */
	refuse_layout(&q, 16, d, a, ROM_BASE, 0); /* the device writes the used ring */
}

/* A live queue's layout cannot be changed under the device. */
static void test_queue_frozen_when_ready(void **state)
{
	struct blk_fixture *f = blk_new(false, 0);
	struct tb *tb = f->tb;
	wr(tb, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(tb, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	wr(tb, VIRTIO_MMIO_QUEUE_NUM, 3);
	assert_int_equal(rd(tb, VIRTIO_MMIO_QUEUE_DESC_LOW), (uint32_t)f->q.desc);
	assert_int_equal(rd(tb, VIRTIO_MMIO_QUEUE_NUM), 16);
	uint32_t len;
	assert_int_equal(blk_do(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len), VIRTIO_BLK_S_OK);
	blk_free(f);
}

/* The guest's DMA target is its own avail ring: each read rewrites the
 * ring so there is always "more" work.  The device must still return. */
static void test_self_feeding_ring(void **state)
{
	struct blk_fixture *f = blk_new(false, 0);
	struct tb *tb = f->tb;
	/* Sector 0 of the image: avail.flags=0, avail.idx=0xffff, ring[]=0. */
	uint8_t sec[512] = { 0 };
	sec[2] = 0xff;
	sec[3] = 0xff;
	int fd = open(f->path, O_WRONLY);
	assert_int_equal(pwrite(fd, sec, 512, 0), 512);
	close(fd);
	uint64_t h = blk_header(tb, VIRTIO_BLK_T_IN, 0), st = galloc(tb, 1);
	/* Every chain is descriptor 0: header, then the avail ring as data. */
	put_desc(tb, f->q.desc, 0, h, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(tb, f->q.desc, 1, f->q.avail, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	put_desc(tb, f->q.desc, 2, st, 1, VIRTQ_DESC_F_WRITE, 0);
	publish(tb, &f->q, 0, true);
	/* It returned; whatever state it is in, it is a legal one. */
	assert_true(virtio_ld16(gp(tb, f->q.used + 2)) <= f->q.num);
	blk_free(f);
}

/* ---- --net user parsing and the slirp backend --------------------------- */

static void test_net_user_parse(void **state)
{
	struct net_user_opts o;
	char err[256];
	assert_int_equal(net_user_parse("user", &o, err, sizeof(err)), 0);
	assert_int_equal(o.nfwd, 0);
	assert_true(o.ipv6);
	assert_false(o.have_mac);

	assert_int_equal(net_user_parse("user,hostfwd=tcp::2222-:22,hostfwd=udp:0.0.0.0:5353-10.0.2.20:53,"
					"ipv6=off,mac=52:54:00:aa:bb:cc",
					&o, err, sizeof(err)),
			 0);
	assert_int_equal(o.nfwd, 2);
	assert_false(o.fwd[0].udp);
	assert_int_equal(o.fwd[0].host_addr.s_addr, htonl(0x7f000001));
	assert_int_equal(o.fwd[0].host_port, 2222);
	assert_int_equal(o.fwd[0].guest_addr.s_addr, htonl(0x0a00020f));
	assert_int_equal(o.fwd[0].guest_port, 22);
	assert_true(o.fwd[1].udp);
	assert_int_equal(o.fwd[1].host_addr.s_addr, 0);
	assert_int_equal(o.fwd[1].guest_addr.s_addr, htonl(0x0a000214));
	assert_int_equal(o.fwd[1].guest_port, 53);
	assert_false(o.ipv6);
	assert_true(o.have_mac);
	assert_int_equal(o.mac[5], 0xcc);

	static const struct {
		const char *spec, *needle;
	} bad[] = {
		{ "tap", "only 'user'" },
		{ "userx", "only 'user'" },
		{ "user,hostfwd=tcp::0-:22", "bad hostfwd" },
		{ "user,hostfwd=tcp::70000-:22", "bad hostfwd" },
		{ "user,hostfwd=tcp::22", "bad hostfwd" },
		{ "user,hostfwd=sctp::1-:2", "bad hostfwd" },
		{ "user,hostfwd=tcp:1.2.3:1-:2", "bad hostfwd" },
		{ "user,hostfwd=tcp::1x-:2", "bad hostfwd" },
		{ "user,hostfwd=tcp::1-:", "bad hostfwd" },
		{ "user,foo=bar", "unknown option 'foo'" },
		{ "user,,ipv6=on", "empty option" },
		{ "user,", "empty option" },
		{ "user,mac=zz", "bad mac" },
		{ "user,ipv6=maybe", "ipv6" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(net_user_parse(bad[i].spec, &o, err, sizeof(err)), -1);
		if (!strstr(err, bad[i].needle))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].spec, err, bad[i].needle);
	}
}

static uint64_t fake_now(void *opaque)
{
	return *(uint64_t *)opaque;
}

/* An ARP request from the guest crosses slirp and the reply comes back
 * through the FIFO, the drain loop and the event log. */
static void test_slirp_arp(void **state)
{
	struct tb *tb = tb_new();
	struct net_slirp *s = calloc(1, sizeof(*s));
	struct virtio_net *n = calloc(1, sizeof(*n));
	struct net_user_opts o;
	char err[256];
	uint64_t now = 1000000000;
	assert_int_equal(net_user_parse("user,ipv6=off", &o, err, sizeof(err)), 0);
	assert_int_equal(net_slirp_init(s, &o, fake_now, &now, err, sizeof(err)), 0);
	virtio_net_init(n, NULL, net_slirp_backend(s));
	tb_attach(tb, &n->vmio);
	struct dq q[2];
	bring_up(tb, q, 2, 16, 0);

	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	uint8_t arp[42] = { 0 };
	memset(arp, 0xff, 6);
	memcpy(arp + 6, mac, 6);
	arp[12] = 0x08, arp[13] = 0x06; /* ARP */
	arp[14] = 0, arp[15] = 1; /* Ethernet */
	arp[16] = 0x08, arp[17] = 0x00; /* IPv4 */
	arp[18] = 6, arp[19] = 4;
	arp[20] = 0, arp[21] = 1; /* request */
	memcpy(arp + 22, mac, 6);
	memcpy(arp + 28, (uint8_t[]){ 10, 0, 2, 15 }, 4);
	memcpy(arp + 38, (uint8_t[]){ 10, 0, 2, 2 }, 4);
	uint64_t hdr = galloc(tb, 12 + sizeof(arp));
	memcpy(gp(tb, hdr + 12), arp, sizeof(arp));
	struct buf tx = { hdr, 12 + sizeof(arp), false };
	submit(tb, &q[VIRTIO_NET_TX], &tx, 1, true);

	const uint8_t *frame;
	size_t len;
	assert_true(net_slirp_peek(s, &frame, &len));
	struct event_boundary eb;
	struct record_log log = { 0 };
	events_init(&eb, NULL, true, 1, 1);
	assert_int_equal(events_observe(&eb, record_cb, &log), 0);
	/* No receive buffer: the frame stays queued. */
	assert_int_equal(net_slirp_deliver(s, n, &(struct input_note){frame_taken, &eb}), 0);
	assert_true(net_slirp_peek(s, &frame, &len));

	uint64_t rxb = galloc(tb, 12 + 1514);
	struct buf rx = { rxb, 12 + 1514, true };
	submit(tb, &q[VIRTIO_NET_RX], &rx, 1, true);
	assert_int_equal(net_slirp_deliver(s, n, &(struct input_note){frame_taken, &eb}), 1);
	assert_false(net_slirp_peek(s, &frame, &len));
	assert_int_equal(log.count[EV_NET_FRAME], 1);
	uint32_t id, ulen;
	assert_true(take_used(tb, &q[VIRTIO_NET_RX], &id, &ulen));
	assert_true(ulen >= 12 + 42);
	const uint8_t *r = gp(tb, rxb + 12);
	assert_memory_equal(r, mac, 6); /* to us */
	assert_int_equal(r[12], 0x08);
	assert_int_equal(r[13], 0x06);
	assert_int_equal(r[21], 2); /* reply */
	assert_memory_equal(r + 28, ((uint8_t[]){ 10, 0, 2, 2 }), 4);
	assert_int_equal(log.bytes[EV_NET_FRAME], ulen - 12);

	assert_true(net_slirp_poll(s, 0) >= 0);
	net_slirp_free(s);
	free(n);
	free(s);
	tb_free(tb);
}

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_slirp_hostfwd_and_timers(void **state)
{
	struct net_slirp *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct net_user_opts o;
	char spec[96], err[256];
	uint64_t now = 5000000000ULL;
	snprintf(spec, sizeof(spec), "user,hostfwd=tcp:127.0.0.1:%u-:22", free_port());
	assert_int_equal(net_user_parse(spec, &o, err, sizeof(err)), 0);
	assert_int_equal(net_slirp_init(a, &o, fake_now, &now, err, sizeof(err)), 0);
	/* The same host port twice: the second stack cannot listen. */
	err[0] = '\0';
	assert_int_equal(net_slirp_init(b, &o, fake_now, &now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot listen"));

	/* A host connection to the forward reaches slirp through poll and
	 * comes out as a frame for the guest (ARP for 10.0.2.15 first, since
	 * slirp has not seen the guest yet).  An extra descriptor polled
	 * alongside reports its own readiness. */
	uint16_t port = o.fwd[0].host_port;
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	connect(c, (struct sockaddr *)&sa, sizeof(sa));
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(write(pipefd[1], "k", 1), 1);
	struct pollfd extra = { .fd = pipefd[0], .events = POLLIN };
	const uint8_t *frame;
	size_t len;
	for (int i = 0; i < 50 && !net_slirp_peek(a, &frame, &len); i++)
		assert_true(net_slirp_poll_with(a, &extra, 1, 100) >= 1);
	assert_true(extra.revents & POLLIN);
	assert_true(net_slirp_peek(a, &frame, &len));
	assert_int_equal(frame[12], 0x08);
	assert_int_equal(frame[13], 0x06); /* ARP */
	assert_memory_equal(frame + 38, ((uint8_t[]){ 10, 0, 2, 15 }), 4);
	while (net_slirp_peek(a, &frame, &len))
		net_slirp_pop(a);
	close(c);
	close(pipefd[0]);
	close(pipefd[1]);

	/* With IPv6 on, slirp runs a router-advertisement timer on our
	 * virtual clock; firing it emits an RA for the guest. */
	uint64_t when = net_slirp_next_deadline(a);
	assert_true(when != UINT64_MAX && when > now);
	assert_false(net_slirp_peek(a, &frame, &len));
	net_slirp_timers_run(a, when - 1);
	assert_false(net_slirp_peek(a, &frame, &len));
	net_slirp_timers_run(a, when);
	assert_true(net_slirp_peek(a, &frame, &len));
	assert_int_equal(frame[12], 0x86); /* IPv6 */
	assert_int_equal(frame[13], 0xdd);
	assert_true(net_slirp_next_deadline(a) > when); /* re-armed */
	net_slirp_free(a);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_and_empty_slot),
		cmocka_unit_test(test_feature_negotiation),
		cmocka_unit_test(test_blk_config),
		cmocka_unit_test(test_blk_read),
		cmocka_unit_test(test_blk_write_flush_id),
		cmocka_unit_test(test_blk_out_of_range),
		cmocka_unit_test(test_blk_readonly),
		cmocka_unit_test(test_blk_open_errors),
		cmocka_unit_test(test_blk_any_layout),
		cmocka_unit_test(test_blk_indirect),
		cmocka_unit_test(test_rng_seeded),
		cmocka_unit_test(test_console),
		cmocka_unit_test(test_net),
		cmocka_unit_test(test_bad_addr_blk),
		cmocka_unit_test(test_blk_no_status),
		cmocka_unit_test(test_bad_addr_rng_and_reset),
		cmocka_unit_test(test_next_loop),
		cmocka_unit_test(test_next_out_of_range),
		cmocka_unit_test(test_avail_jump),
		cmocka_unit_test(test_readable_after_writable),
		cmocka_unit_test(test_bad_indirect),
		cmocka_unit_test(test_bad_queue_layout),
		cmocka_unit_test(test_queue_frozen_when_ready),
		cmocka_unit_test(test_self_feeding_ring),
		cmocka_unit_test(test_net_user_parse),
		cmocka_unit_test(test_slirp_arp),
		cmocka_unit_test(test_slirp_hostfwd_and_timers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
