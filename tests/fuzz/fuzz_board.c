/* The guest as the attacker: MMIO register sequences and guest RAM under
 * the fuzzer's control, on a real virt board (machine_init) with no CPU
 * running.  One source, several targets; FUZZ_TARGET names which device
 * the input drives:
 *
 *   "blk", "net", "console", "rng": that virtio-mmio slot, with helpers
 *     that lay out descriptor tables, avail entries and indirect tables in
 *     guest RAM (or anywhere: raw addresses, the end of RAM, ROM, MMIO,
 *     huge lengths, loops and overlaps all come from the input);
 *   "platform": the UART, PLIC, CLINT, RTC and syscon windows, with time
 *     moving and console bytes arriving in between.
 *
 * Every input starts from a board in its reset state.  Rather than a
 * whole machine_reset per input (zeroing 1 MiB of RAM, re-initialising the
 * hart, which cost more than the input itself), the harness resets what an
 * input can change: the devices (machine_reset_devices), the pages of RAM
 * it wrote (its own stores, and the devices' DMA as the bus's dirty log
 * records it, read through vm/ram_dirty.h), the interrupt lines into the
 * hart, the instruction count, the entropy stream's position and the
 * RTC's offset, so every input also starts at the same time with the same
 * random bytes to come.  With KEEL_FUZZ_CHECK_RESET set (run-target sets
 * it for `make test`) every reset is checked against the board's state
 * right after machine_init: all device and hart state as a snapshot
 * encodes it, and every byte of RAM.
 *
 * The input is a stream of operations, one byte of opcode followed by its
 * operands; a stream that runs out reads zeros and stops.  A crash, a
 * sanitizer report or a hang is a bug in keel: the guest may do anything
 * here that a hostile kernel could. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu/hart.h"
#include "dev/virtio.h"
#include "fuzz_common.h"
#include "lib/state_io.h"
#include "vm/machine.h"
#include "vm/ram_dirty.h"
#include "vm/snapshot.h"

#ifndef FUZZ_TARGET
#error "compile with -DFUZZ_TARGET=\"blk\" (or net, console, rng, platform)"
#endif

#define RAM_SIZE (1u << 20)
#define WINDOW 0x10000u /* the part of RAM the helpers lay rings into */
#define DISK_BYTES (64u * 1024u)

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

static struct machine *m;
static struct virtio_mmio *dev; /* NULL for the platform target */
static uint64_t dev_base;

#define PAGES (RAM_SIZE / 4096)
/* Pages of RAM the current input may have written: the harness's stores
 * here, the devices' in the bus's dirty log (a ram_dirty reader). */
static uint64_t touched[PAGES / 64];
static int dirty_reader; /* the harness's ram_dirty reader: the devices' stores */
static uint64_t icount0; /* the hart's instruction count after machine_init */
static uint64_t entropy0; /* likewise the seeded entropy stream's position */
static int64_t rtc_offset0; /* and the RTC's, which a reset keeps */
static bool check_reset; /* KEEL_FUZZ_CHECK_RESET */
static struct state_writer pristine; /* the state every reset must give back */

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_board: %s\n", what);
	exit(1);
}

/* The blk target's disk, in the scratch directory (in memory): a
 * flush request syncs it. */
static char *make_disk(void)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/disk", fuzz_scratch_dir());
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, DISK_BYTES) != 0)
		fail("cannot make the scratch disk");
	close(fd);
	return path;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	static struct machine machine;
	struct machine_config cfg = {
		.board = BOARD_VIRT,
		.ram_size = RAM_SIZE,
		.entropy_seeded = true,
		.entropy_seed = 1,
		.rtc_epoch_ns = 1,
		.idle_skip = true,
		.net = "none",
	};
	char *disk = NULL;
	if (!strcmp(FUZZ_TARGET, "blk"))
		cfg.disk = disk = make_disk();
	char err[512];
	if (machine_init(&machine, &cfg, err, sizeof(err)))
		fail(err);
	if (disk)
		unlink(disk); /* the image stays open */
	m = &machine;
	const char *names[] = {"blk", "net", "rng", "console"};
	for (unsigned slot = 0; slot < 4; slot++)
		if (!strcmp(FUZZ_TARGET, names[slot])) {
			dev_base = VIRT_VIRTIO_BASE + slot * VIRT_VIRTIO_STRIDE;
			dev = (struct virtio_mmio *)bus_find(&m->bus, dev_base)->opaque;
		}
	if (!dev && strcmp(FUZZ_TARGET, "platform"))
		fail("unknown FUZZ_TARGET");
	dirty_reader = ram_dirty_open(m);
	if (dirty_reader < 0)
		fail("cannot track dirty pages");
	icount0 = m->hart.icount;
	entropy0 = m->events.stream_pos;
	rtc_offset0 = m->rtc.offset_ns;
	check_reset = getenv("KEEL_FUZZ_CHECK_RESET") != NULL;
	sw_init(&pristine);
	snapshot_encode_state(m, &pristine);
	return 0;
}

/* Back to the state after machine_init, touching only what an input can
 * change (see the top of the file). */
static void reset_board(void)
{
	uint64_t dirty[PAGES / 64];
	if (ram_dirty_fetch(m, dirty_reader, dirty, PAGES) < 0)
		fail("dirty tracking is off");
	if (m->resets) {
		/* The input reset the board (syscon): machine_reset dropped all
		 * of RAM, and zeroing page by page would fault every page back
		 * in (a fifth of the platform target's time).  Drop it all
		 * again, which also clears what was written since. */
		madvise(m->ram, RAM_SIZE, MADV_DONTNEED);
		memset(touched, 0, sizeof(touched));
	}
	for (unsigned w = 0; w < PAGES / 64 && !m->resets; w++) {
		for (uint64_t bits = dirty[w] | touched[w]; bits; bits &= bits - 1)
			memset(m->ram + 4096 * (64 * w + (unsigned)__builtin_ctzll(bits)), 0, 4096);
		touched[w] = 0;
	}
	m->hart.icount = icount0;
	m->rtc.offset_ns = rtc_offset0; /* the guest may have set the clock */
	machine_reset_devices(m);
	/* The lines the devices drive into the hart are low again; nothing
	 * else in the hart is reachable without a CPU running. */
	hart_set_pending(&m->hart, m->hart.mip_hw, false);
	m->hart.slice_end = false;
	/* So the rng gives every input the same bytes, and the syscon's
	 * resets and exit codes leave nothing behind. */
	m->events.stream_pos = entropy0;
	m->exited = false;
	m->exit_code = 0;
	m->resets = 0;
}

/* KEEL_FUZZ_CHECK_RESET: the reset left nothing of the last input. */
static void check_board(void)
{
	static const uint8_t zero[4096];
	for (size_t off = 0; off < RAM_SIZE; off += sizeof(zero))
		if (memcmp(m->ram + off, zero, sizeof(zero)))
			fail("reset left a byte of RAM non-zero");
	struct state_writer now;
	sw_init(&now);
	snapshot_encode_state(m, &now);
	if (now.len != pristine.len || memcmp(now.buf, pristine.buf, now.len)) {
		size_t i = 0;
		while (i < now.len && i < pristine.len && now.buf[i] == pristine.buf[i])
			i++;
		/* Name the section: each starts with its tag, version, flags
		 * and a 64-bit length (lib/state_io.h). */
		size_t sec = 0;
		while (sec + 20 <= i) {
			uint64_t len = 0;
			memcpy(&len, pristine.buf + sec + 12, 8);
			if (sec + 20 + len > i)
				break;
			sec += 20 + len;
		}
		fprintf(stderr, "fuzz_board: state differs in section %.4s, byte %zu of it\n",
			(const char *)pristine.buf + sec, i - sec);
		fail("reset left device or hart state behind");
	}
	sw_free(&now);
}

/* A naturally aligned register access, made as bus_read/bus_write make it
 * for an MMIO region (the bounds check, then the device's callback) but
 * without their lookup per access: the harness only touches a few
 * windows, so it keeps the last region found.  bus_find under the
 * fuzzer's comparison tracing was a third of a virtio input's time.
 * Anything that is not plain MMIO goes through the bus itself. */
static uint64_t reg_access(uint64_t addr, unsigned size, bool write, uint64_t val)
{
	static const struct bus_region *r;
	if (!r || addr - r->base >= r->size)
		r = bus_find(&m->bus, addr);
	if (!r || r->host) {
		if (write)
			bus_write(&m->bus, addr, size, val);
		else
			bus_read(&m->bus, addr, size, &val);
		return val;
	}
	uint64_t off = addr - r->base;
	if (size > r->size - off)
		return 0; /* the bus's access fault */
	if (write) {
		if (r->ops->write)
			r->ops->write(r->opaque, off, size, val);
		return val;
	}
	val = 0;
	if (r->ops->read)
		r->ops->read(r->opaque, off, size, &val);
	return val;
}

static void mmio(uint64_t addr, unsigned size, bool write, uint64_t val)
{
	addr &= ~(uint64_t)(size - 1); /* the CPU splits misaligned accesses */
	reg_access(addr, size, write, val);
}

/* ---- virtio ------------------------------------------------------------- */

static uint32_t reg_read(uint32_t off)
{
	return (uint32_t)reg_access(dev_base + off, 4, false, 0);
}

static void reg_write(uint32_t off, uint32_t v)
{
	reg_access(dev_base + off, 4, true, v);
}

/* Guest RAM at offset `off` (wrapping), for the harness to read or write. */
static uint8_t *ram(uint64_t off)
{
	off %= RAM_SIZE;
	touched[off / 4096 / 64] |= 1ull << (off / 4096 % 64);
	return m->ram + off;
}

/* Where the helpers put queue q's rings: inside the window, so buffer
 * addresses from the input overlap them often. */
static uint64_t ring_desc(unsigned q) { return DRAM_BASE + q * 0x4000u; }
static uint64_t ring_avail(unsigned q) { return ring_desc(q) + 0x1000; }
static uint64_t ring_used(unsigned q) { return ring_desc(q) + 0x2000; }

/* A guest address from the input: mostly in the window, sometimes raw,
 * straddling the end of RAM, in ROM or in a device's registers. */
static uint64_t take_addr(struct input *in)
{
	switch (take(in, 1) % 5) {
	case 0: return DRAM_BASE + take(in, 2);
	case 1: return take(in, 8);
	case 2: return DRAM_BASE + RAM_SIZE - take(in, 1);
	case 3: return VIRT_MROM_BASE + take(in, 2);
	default: return dev_base + take(in, 1);
	}
}

static uint32_t take_len(struct input *in)
{
	switch (take(in, 1) % 3) {
	case 0: return (uint32_t)take(in, 1);
	case 1: return (uint32_t)take(in, 2);
	default: return (uint32_t)take(in, 4); /* huge */
	}
}

static void put_desc(uint8_t *d, struct input *in)
{
	virtio_st64(d, take_addr(in));
	virtio_st32(d + 8, take_len(in));
	virtio_st16(d + 12, (uint16_t)take(in, 1)); /* NEXT, WRITE, INDIRECT, junk */
	virtio_st16(d + 14, (uint16_t)take(in, 2));
}

/* A driver's set-up (§3.1.1) with the features and queue sizes the input
 * chooses, rings where the helpers expect them. */
static void bring_up(struct input *in)
{
	uint64_t features = take(in, 1) & 1 ? UINT64_MAX : take(in, 8);
	reg_write(VIRTIO_MMIO_STATUS, 0);
	reg_write(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	reg_write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t offered = (uint64_t)reg_read(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	reg_write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered |= reg_read(VIRTIO_MMIO_DEVICE_FEATURES);
	features &= offered;
	for (uint32_t sel = 0; sel < 2; sel++) {
		reg_write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
		reg_write(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> (32 * sel)));
	}
	reg_write(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					      VIRTIO_STATUS_FEATURES_OK);
	for (uint32_t q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		reg_write(VIRTIO_MMIO_QUEUE_SEL, q);
		reg_write(VIRTIO_MMIO_QUEUE_NUM, 1u << (take(in, 1) % 10));
		reg_write(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)ring_desc(q));
		reg_write(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(ring_desc(q) >> 32));
		reg_write(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)ring_avail(q));
		reg_write(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(ring_avail(q) >> 32));
		reg_write(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)ring_used(q));
		reg_write(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(ring_used(q) >> 32));
		reg_write(VIRTIO_MMIO_QUEUE_READY, 1);
	}
	reg_write(VIRTIO_MMIO_STATUS, reg_read(VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

/* Make chain `head` available on queue q (the avail index moves by one,
 * or by whatever the input says) and maybe notify. */
static void publish(struct input *in)
{
	unsigned q = take(in, 1) & 1;
	uint8_t *avail = ram(ring_avail(q) - DRAM_BASE);
	uint16_t idx = virtio_ld16(avail + 2);
	uint16_t head = (uint16_t)take(in, 2);
	virtio_st16(avail + 4 + 2 * (idx % 256), head);
	uint8_t step = (uint8_t)take(in, 1);
	virtio_st16(avail + 2, (uint16_t)(idx + (step < 200 ? 1 : step)));
	if (!(step & 1))
		reg_write(VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* What arrives from the host side: frames, console bytes. */
static void host_input(struct input *in)
{
	static uint8_t buf[VIRTIO_NET_MAX_FRAME + 16];
	size_t len = take(in, 2) % sizeof(buf);
	memset(buf, (int)take(in, 1), len);
	if (!strcmp(FUZZ_TARGET, "net") && virtio_net_can_receive(&m->net))
		virtio_net_receive(&m->net, buf, len);
	else if (!strcmp(FUZZ_TARGET, "console"))
		virtio_console_input(&m->vcon, buf, len % 512);
}

static void virtio_op(struct input *in)
{
	switch (take(in, 1) % 9) {
	case 0: reg_write((uint32_t)take(in, 1) * 4, (uint32_t)take(in, 4)); break;
	case 1: reg_read((uint32_t)take(in, 1) * 4); break;
	case 2: { /* any size, any offset, config space included */
		unsigned size = 1u << (take(in, 1) % 4);
		mmio(dev_base + take(in, 2) % VIRTIO_MMIO_SIZE, size, take(in, 1) & 1, take(in, 8));
		break;
	}
	case 3: { /* raw bytes into the window */
		uint64_t off = take(in, 2);
		size_t len = take(in, 1);
		for (size_t i = 0; i < len; i++)
			*ram(off + i) = (uint8_t)take(in, 1);
		break;
	}
	case 4: { /* a descriptor in queue q's table */
		unsigned q = take(in, 1) & 1;
		put_desc(ram(ring_desc(q) - DRAM_BASE + 16 * (take(in, 1) % 256)), in);
		break;
	}
	case 5: /* a descriptor anywhere in the window: indirect tables */
		put_desc(ram(take(in, 2) & ~15ull), in);
		break;
	case 6: publish(in); break;
	case 7: bring_up(in); break;
	default: host_input(in); break;
	}
}

/* ---- platform devices --------------------------------------------------- */

static const struct {
	uint64_t base, size;
} windows[] = {
	{VIRT_UART_BASE, UART_SIZE}, {VIRT_PLIC_BASE, PLIC_SIZE}, {VIRT_CLINT_BASE, CLINT_SIZE},
	{VIRT_RTC_BASE, RTC_SIZE},   {VIRT_TEST_BASE, SYSCON_SIZE},
};

static void platform_op(struct input *in)
{
	switch (take(in, 1) % 6) {
	case 0:
	case 1:
	case 2: {
		unsigned w = take(in, 1) % 5;
		/* Small offsets hit the registers; large ones the PLIC's contexts
		 * and everything past the last register. */
		uint64_t off = (take(in, 1) & 1 ? take(in, 1) : take(in, 4)) % windows[w].size;
		unsigned size = 1u << (take(in, 1) % 4);
		mmio(windows[w].base + off, size, take(in, 1) & 1, take(in, 8));
		break;
	}
	case 3: { /* bytes typed on the console */
		uint8_t buf[64];
		size_t len = take(in, 1) % sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)take(in, 1);
		machine_console_input(m, buf, len);
		break;
	}
	case 4: /* time passes */
		m->hart.icount += take(in, 4);
		timers_update(&m->clint);
		break;
	default: /* an interrupt line moves */
		plic_set_line(&m->plic, (unsigned)take(in, 1) % 64, take(in, 1) & 1);
		break;
	}
	/* What machine_run does between slices: the syscon's requests. */
	if (m->syscon.request == SYSCON_RESET) {
		m->syscon.request = SYSCON_NONE;
		machine_reset(m);
	}
	m->syscon.request = SYSCON_NONE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	reset_board();
	if (check_reset)
		check_board();
	for (unsigned ops = 0; in.n && ops < 4096; ops++) {
		if (dev)
			virtio_op(&in);
		else
			platform_op(&in);
	}
	return 0;
}
