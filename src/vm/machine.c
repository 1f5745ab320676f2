/* The machine: wiring of the board and the deterministic run loop. */
#include "vm/machine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "board/elf_load.h"
#include "board/fdt.h"
#include "lib/state_io.h"
#include "vm/ram_state.h"

#define SLICE (1u << 16) /* steps between looks at devices and timers */
/* 10 MHz timebase at a nominal 1000 MIPS: above what the interpreter
 * reaches, so a busy guest's clock lags wall time and the host loop's
 * catch-up moves it forward (docs/design.md §3).  Were the nominal rate
 * below the interpreter's, a busy guest's clock would run ahead and the
 * host would have to sleep it off at the next idle: lost wall time.
 * Translated code does run faster (1-7 G instructions a second), with
 * that effect; docs/board.md ("Time") says why the rate was not raised.
 * Snapshots carry their own rate (CLOCK section). */
#define INSNS_PER_TICK 100

static void console_out(struct machine *m, const uint8_t *buf, size_t len)
{
	if (m->cfg.console_write)
		m->cfg.console_write(m->cfg.console_opaque, buf, len);
}

static void uart_output(void *opaque, const uint8_t *buf, size_t len)
{
	console_out(opaque, buf, len);
}

static void on_tohost_store(void *opaque, uint64_t paddr)
{
	struct machine *m = opaque;
	(void)paddr;
	htif_poll(&m->htif);
	if (m->htif.exited) {
		m->exited = true;
		m->exit_code = m->htif.exit_code;
		m->hart.slice_end = true;
	}
}

uint64_t machine_now_ns(const struct machine *m)
{
	return hart_mtime(&m->hart) * VCLOCK_NS_PER_TICK;
}

static uint64_t slirp_now_ns(void *opaque)
{
	return machine_now_ns(opaque);
}

static uint64_t slot_base(unsigned n)
{
	return VIRT_VIRTIO_BASE + n * VIRT_VIRTIO_STRIDE;
}

/* The backend of --net none and of a clone without a network: what the
 * guest sends goes into a wire nobody listens on. */
static int drop_frame(void *opaque, const uint8_t *frame, size_t len)
{
	(void)opaque, (void)frame, (void)len;
	return 0;
}

/* Build the devices the configuration asks for; empty slots answer
 * DeviceID 0. */
/* The devices' side of the event boundary (dev/boundary.h). */
static int guest_entropy(void *opaque, void *buf, size_t len)
{
	return events_entropy(opaque, buf, len);
}

static void frame_taken(void *opaque, const void *frame, size_t len)
{
	events_deliver(opaque, EV_NET_FRAME, frame, len);
}

static int create_virtio_devices(struct machine *m, struct virtio_mmio *slot[], char *err,
				 size_t errlen)
{
	for (unsigned n = 0; n < VIRT_VIRTIO_SLOTS; n++) {
		virtio_mmio_init(&m->empty_slots[n], NULL);
		slot[n] = &m->empty_slots[n];
	}
	if (m->cfg.disk && !m->has_blk) {
		if (virtio_blk_init_spec(&m->blk, m->cfg.disk, err, errlen))
			return -1;
		m->has_blk = true;
	}
	if (m->has_blk)
		slot[0] = &m->blk.vmio;
	if (m->cfg.net && !strcmp(m->cfg.net, "none")) {
		virtio_net_init(&m->net, NULL, (struct net_backend){drop_frame, NULL});
		m->has_net = true;
		slot[1] = &m->net.vmio;
	} else if (m->cfg.net) {
		struct net_user_opts opts;
		if (net_user_parse(m->cfg.net, &opts, err, errlen) ||
		    net_slirp_init(&m->slirp, &opts, slirp_now_ns, m, err, errlen))
			return -1;
		virtio_net_init(&m->net, opts.have_mac ? opts.mac : NULL, net_slirp_backend(&m->slirp));
		m->has_net = m->has_slirp = true;
		slot[1] = &m->net.vmio;
	}
	virtio_rng_init(&m->rng, (struct entropy_source){guest_entropy, &m->events});
	slot[2] = &m->rng.vmio;
	virtio_console_init(&m->vcon, uart_output, m);
	slot[3] = &m->vcon.vmio;
	return 0;
}

static int add_virtio_slots(struct machine *m, char *err, size_t errlen)
{
	struct virtio_mmio *slot[VIRT_VIRTIO_SLOTS];
	if (create_virtio_devices(m, slot, err, errlen))
		return -1;
	for (unsigned n = 0; n < VIRT_VIRTIO_SLOTS; n++) {
		struct irq_line irq = {plic_set_line, &m->plic, VIRT_IRQ_VIRTIO_FIRST + n};
		if (virtio_mmio_register(slot[n], &m->bus, slot_base(n), irq)) {
			snprintf(err, errlen, "virtio slot %u: cannot map", n);
			return -1;
		}
	}
	return 0;
}

static void reset_virtio_slots(struct machine *m)
{
	for (unsigned n = 0; n < VIRT_VIRTIO_SLOTS; n++) {
		const struct bus_region *r = bus_find(&m->bus, slot_base(n));
		if (r && r->opaque)
			virtio_mmio_reset(r->opaque);
	}
}

void machine_net_detach(struct machine *m)
{
	if (m->has_slirp)
		net_slirp_abandon(&m->slirp);
	m->has_slirp = false;
	m->net.backend = (struct net_backend){.send = drop_frame};
}

int machine_net_attach_user(struct machine *m, const struct net_user_opts *opts, char *err,
			    size_t errlen)
{
	if (!m->has_net || m->has_slirp) {
		snprintf(err, errlen, "the VM has no network device to attach");
		return -1;
	}
	if (net_slirp_init(&m->slirp, opts, slirp_now_ns, m, err, errlen))
		return -1;
	m->has_slirp = true;
	m->net.backend = net_slirp_backend(&m->slirp);
	return 0;
}

void machine_deliver_net(struct machine *m)
{
	if (!m->has_slirp)
		return;
	net_slirp_poll(&m->slirp, 0);
	uint64_t now = machine_now_ns(m);
	if (now >= net_slirp_next_deadline(&m->slirp))
		net_slirp_timers_run(&m->slirp, now);
	const struct input_note note = {frame_taken, &m->events};
	m->ram_is_boot_image = false; /* a frame is written into guest buffers */
	net_slirp_deliver(&m->slirp, &m->net, &note);
}

size_t machine_console_input(struct machine *m, const uint8_t *buf, size_t len)
{
	if (m->cfg.board != BOARD_VIRT || !len)
		return 0;
	size_t n;
	if (m->cfg.console_input_virtio) {
		m->ram_is_boot_image = false; /* written into guest buffers */
		n = virtio_console_input(&m->vcon, buf, len);
	} else {
		n = uart_rx_space(&m->uart);
		if (n > len)
			n = len;
		uart_receive(&m->uart, buf, n);
	}
	if (n)
		events_deliver(&m->events, EV_CONSOLE_INPUT, buf, n);
	return n;
}

int machine_net_input(struct machine *m, const uint8_t *frame, size_t len)
{
	uint64_t delivered = m->net.stats.rx_frames;
	m->ram_is_boot_image = false; /* a frame is written into guest buffers */
	if (!m->has_net || !virtio_net_can_receive(&m->net) ||
	    virtio_net_receive(&m->net, frame, len) < 0)
		return -1;
	events_deliver(&m->events, EV_NET_FRAME, frame, len);
	/* After the observers: one may have turned taint on for this frame. */
	if (m->taps.taint && m->net.stats.rx_frames != delivered)
		taps_taint_net_rx(m, frame, len);
	return 0;
}

static int add_virt_devices(struct machine *m, char *err, size_t errlen)
{
	struct bus *b = &m->bus;
	struct irq_line uart_irq = {plic_set_line, &m->plic, VIRT_IRQ_UART};
	plic_init(&m->plic, &m->hart);
	uart_init(&m->uart, uart_irq, uart_output, m);
	syscon_init(&m->syscon, &m->hart);
	rtc_init(&m->rtc, m->events.rtc_epoch_ns, &m->hart);
	int rc = 0;
	rc |= bus_add_ram(b, "mrom", VIRT_MROM_BASE, VIRT_MROM_SIZE, m->rom, false);
	rc |= bus_add_mmio(b, "test", VIRT_TEST_BASE, SYSCON_SIZE, &syscon_mmio_ops, &m->syscon);
	rc |= bus_add_mmio(b, "rtc", VIRT_RTC_BASE, RTC_SIZE, &rtc_mmio_ops, &m->rtc);
	rc |= bus_add_mmio(b, "plic", VIRT_PLIC_BASE, PLIC_SIZE, &plic_mmio_ops, &m->plic);
	rc |= bus_add_mmio(b, "uart", VIRT_UART_BASE, UART_SIZE, &uart_mmio_ops, &m->uart);
	if (rc) {
		snprintf(err, errlen, "board: overlapping devices");
		return -1;
	}
	return add_virtio_slots(m, err, errlen);
}

int machine_init(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	taps_reset(m);
	m->cfg.disk_image = NULL; /* ours now: m->blk closes it */
	if (cfg->disk_image) {
		virtio_blk_init_image(&m->blk, cfg->disk_image);
		m->has_blk = true;
	}
	m->ram_base = DRAM_BASE;
	m->ram_size = cfg->ram_size;
	/* Anonymous memory reads as zero, which keeps a fresh boot
	 * deterministic, and is only committed as the guest touches it. */
	void *ram = mmap(NULL, cfg->ram_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED) {
		snprintf(err, errlen, "cannot allocate %llu MiB of guest RAM: %s",
			 (unsigned long long)(cfg->ram_size >> 20), strerror(errno));
		machine_free(m);
		return -1;
	}
	m->ram = ram;
	/* Transparent huge pages: fork() then copies one page-table entry per
	 * 2 MiB instead of 512, which makes a fork-clone of a booted 256 MiB
	 * guest 2x faster and of one with 120 MiB touched 10x faster
	 * (docs/clone.md).  Advice only: without THP it is 4 KiB pages. */
	madvise(ram, cfg->ram_size, MADV_HUGEPAGE);
	m->reset_pc = cfg->board == BOARD_VIRT ? VIRT_MROM_BASE : DRAM_BASE;
	vclock_init(&m->clock, INSNS_PER_TICK);
	hart_init(&m->hart, &m->bus, &m->clock, 0, m->reset_pc);
	hart_set_clone_cache(&m->hart, cfg->clone_keeps_cache);
	if (hart_set_block_cache(&m->hart, !cfg->no_decode_cache)) {
		snprintf(err, errlen, "cannot allocate the interpreter's block cache");
		machine_free(m);
		return -1;
	}
	if (cfg->jit && !cfg->no_decode_cache && hart_set_jit(&m->hart, true, cfg->jit_threshold)) {
		snprintf(err, errlen, "cannot map the JIT's code cache");
		machine_free(m);
		return -1;
	}
	if (cfg->jit_perfmap && hart_jit_perfmap(&m->hart)) {
		snprintf(err, errlen, "cannot create /tmp/perf-%ld.map for --jit-perfmap: %s",
			 (long)getpid(), strerror(errno));
		machine_free(m);
		return -1;
	}
	events_init(&m->events, &m->hart.icount, cfg->entropy_seeded, cfg->entropy_seed,
		    cfg->rtc_epoch_ns);
	bus_init(&m->bus);
	htif_init(&m->htif, &m->bus, 0, 0, NULL);
	clint_init(&m->clint, &m->hart, &m->clock);
	int rc = bus_add_ram(&m->bus, "dram", DRAM_BASE, cfg->ram_size, m->ram, true);
	rc |= bus_add_mmio(&m->bus, "clint", VIRT_CLINT_BASE, CLINT_SIZE, &clint_mmio_ops, &m->clint);
	if (rc)
		snprintf(err, errlen, "board: RAM overlaps a device");
	else if (cfg->board == BOARD_VIRT)
		rc = add_virt_devices(m, err, errlen);
	if (rc) {
		machine_free(m);
		return -1;
	}
	return 0;
}

static void htif_console(void *opaque, const uint8_t *buf, size_t len)
{
	console_out(opaque, buf, len);
}

/* The image is the RAM section's encoding of RAM as it was right after the
 * boot files were loaded: compressed once, kept in memory, copied into
 * every snapshot as it is. */
int machine_capture_boot_image(struct machine *m, char *err, size_t errlen)
{
	struct state_writer w;
	sw_init(&w);
	if (ram_state_save(m->ram, m->ram_size, false, &w, err, errlen) || w.oom) {
		if (w.oom)
			snprintf(err, errlen, "boot image: out of memory");
		sw_free(&w);
		return -1;
	}
	machine_set_boot_image(m, w.buf, w.len);
	m->ram_is_boot_image = true;
	return 0;
}

void machine_set_boot_image(struct machine *m, uint8_t *image, size_t len)
{
	free(m->boot_image);
	m->boot_image = image;
	m->boot_image_len = len;
	m->ram_is_boot_image = false;
	state_digest_boot_image_changed(m);
}

int machine_restore_boot_image(struct machine *m, char *err, size_t errlen)
{
	struct state_reader r;
	sr_init(&r, m->boot_image, m->boot_image_len);
	if (ram_state_load(m->ram, m->ram_size, &m->bus, &r) == 0 && sr_remaining(&r) == 0)
		return 0;
	snprintf(err, errlen, "boot image: %s", sr_failed(&r) ? r.err : "trailing bytes");
	return -1;
}

int machine_load_boot_files(struct machine *m, const struct boot_config *bc, char *err,
			    size_t errlen)
{
	const struct boot_target t = {&m->bus, m->ram_size, m->rom};
	/* Entropy for the guest's CRNG (/chosen/rng-seed, docs/board.md), from
	 * the event boundary like virtio-rng's: seeded, host or replayed. */
	uint8_t seed[FDT_RNG_SEED_LEN];
	if (events_entropy(&m->events, seed, sizeof(seed))) {
		snprintf(err, errlen, "device tree: no entropy for /chosen/rng-seed");
		return -1;
	}
	if (boot_load(&t, bc, seed, err, errlen))
		return -1;
	return machine_capture_boot_image(m, err, errlen);
}

int machine_load_elf(struct machine *m, const char *path, char *err, size_t errlen)
{
	struct elf_image img;
	if (elf_load(&m->bus, path, &img, err, errlen))
		return -1;
	machine_set_htif(m, img.tohost, img.fromhost);
	m->hart.pc = img.entry;
	return 0;
}

void machine_set_htif(struct machine *m, uint64_t tohost, uint64_t fromhost)
{
	htif_init(&m->htif, &m->bus, tohost, fromhost, NULL);
	m->htif.write = htif_console;
	m->htif.write_opaque = m;
	machine_watch_tohost(m);
}

void machine_watch_tohost(struct machine *m)
{
	uint64_t tohost = m->htif.tohost;
	m->bus.watch_page = tohost ? tohost & ~0xfffULL : UINT64_MAX;
	m->bus.watch_hook = on_tohost_store;
	m->bus.watch_opaque = m;
	hart_flush_tlb(&m->hart);
}

void machine_free(struct machine *m)
{
	taps_postcopy_abandon(m);
	taps_taint_disable(m);
	if (m->has_blk)
		virtio_blk_free(&m->blk);
	if (m->has_slirp)
		net_slirp_free(&m->slirp);
	m->has_blk = m->has_net = m->has_slirp = false;
	if (m->ram)
		munmap(m->ram, m->ram_size);
	m->ram = NULL;
	free(m->boot_image);
	m->boot_image = NULL;
	state_digest_forget(m);
	ram_dirty_free(m);
	hart_free(&m->hart);
	bus_free(&m->bus);
}

/* A guest-requested reset: RAM back to zero, hart and devices to reset
 * state, boot images reloaded.  Virtual time and icount keep running. */
/* A fresh /chosen/rng-seed in the restored device tree. */
static int reseed(struct machine *m)
{
	const struct boot_target t = {&m->bus, m->ram_size, m->rom};
	uint8_t seed[FDT_RNG_SEED_LEN];
	return events_entropy(&m->events, seed, sizeof(seed)) ? -1 : boot_reseed(&t, seed);
}

void machine_reset_devices(struct machine *m)
{
	clint_init(&m->clint, &m->hart, &m->clock);
	if (m->cfg.board == BOARD_VIRT) {
		int64_t rtc_offset = m->rtc.offset_ns;
		plic_init(&m->plic, &m->hart);
		struct irq_line uart_irq = {plic_set_line, &m->plic, VIRT_IRQ_UART};
		uart_init(&m->uart, uart_irq, uart_output, m);
		syscon_init(&m->syscon, &m->hart);
		rtc_init(&m->rtc, 0, &m->hart);
		m->rtc.offset_ns = rtc_offset;
		reset_virtio_slots(m);
	}
}

int machine_reset(struct machine *m)
{
	uint64_t icount = m->hart.icount;
	m->ram_is_boot_image = false; /* the image, but with a new rng-seed (reseed) */
	taps_postcopy_complete(m); /* no late page may land in the new boot */
	madvise(m->ram, m->ram_size, MADV_DONTNEED); /* anonymous: reads as zero again */
	bus_ram_rewritten(&m->bus);
	hart_init(&m->hart, &m->bus, &m->clock, 0, m->reset_pc);
	/* hart_init kept the block cache; it was allocated by machine_init */
	m->hart.icount = icount;
	machine_reset_devices(m);
	m->resets++;
	if (!m->boot_image)
		return 0; /* nothing was loaded, so RAM stays zero */
	char err[256];
	if (machine_restore_boot_image(m, err, sizeof(err)) == 0) {
		if (m->cfg.board != BOARD_VIRT || reseed(m) == 0)
			return 0;
		snprintf(err, sizeof(err), "no entropy or no device tree for a new rng-seed");
	}
	fprintf(stderr, "keel: reset: %s\n", err);
	return -1;
}

/* Devices asked for something between slices. */
static bool handle_requests(struct machine *m)
{
	if (m->syscon.request == SYSCON_POWEROFF) {
		m->exited = true;
		m->exit_code = m->syscon.exit_code;
	} else if (m->syscon.request == SYSCON_RESET) {
		m->syscon.request = SYSCON_NONE;
		if (machine_reset(m)) {
			m->exited = true;
			m->exit_code = 1;
		}
	}
	return m->exited;
}

bool machine_skip_to_deadline(struct machine *m)
{
	uint64_t when = timers_next_icount(&m->clint);
	if (when == UINT64_MAX)
		return false;
	uint64_t deadline = timers_next_mtime(&m->clint);
	uint64_t now = hart_mtime(&m->hart);
	if (deadline > now)
		m->clock.base += deadline - now;
	timers_update(&m->clint);
	events_deliver(&m->events, EV_IDLE_SKIP, NULL, 0);
	return true;
}

void machine_adjust_time(struct machine *m, uint64_t ticks)
{
	m->clock.base += ticks;
	events_deliver(&m->events, EV_TIME_ADJUST, &ticks, sizeof(ticks));
	timers_update(&m->clint);
}

static uint64_t slice_length(const struct machine *m, uint64_t budget, uint64_t done)
{
	uint64_t chunk = SLICE;
	if (budget && budget - done < chunk)
		chunk = budget - done;
	uint64_t deadline = timers_next_icount(&m->clint);
	uint64_t icount = m->hart.icount;
	if (deadline > icount && deadline - icount < chunk)
		chunk = deadline - icount;
	if (m->max_insns && m->max_insns - icount < chunk)
		chunk = m->max_insns - icount;
	uint64_t stop = taps_next_stop(m);
	if (stop > icount && stop - icount < chunk)
		chunk = stop - icount;
	return chunk;
}

bool machine_hart_waiting(const struct machine *m)
{
	/* Any bit pending in mie ends WFI, taken or not (hart_run); an
	 * interrupt that would be taken is one of those. */
	const struct hart *h = &m->hart;
	return h->wfi && !((h->mip | h->mip_hw) & h->mie);
}

/* `budget` counts steps (a trap taken is a step that retires nothing),
 * or with `retired` only retired instructions. */
static enum stop_reason run(struct machine *m, uint64_t budget, bool retired)
{
	struct hart *h = &m->hart;
	uint64_t done = 0;
	uint64_t stuck = 0; /* steps in a row that retired nothing */
	m->ram_is_boot_image = false; /* the hart may store from here on */
	for (;;) {
		if (m->exited || handle_requests(m))
			return STOP_EXIT;
		if (budget && done >= budget)
			return STOP_BUDGET;
		if (m->max_insns && h->icount >= m->max_insns)
			return STOP_MAX_INSNS;
		if (taps_next_stop(m) <= h->icount) {
			if (taps_fire_stops(m))
				return STOP_AT;
			continue; /* a stop point's callback may have ended the run */
		}
		timers_update(&m->clint);
		uint64_t before = h->icount, len = slice_length(m, budget, done);
		/* one test per slice: memory-effect observers run the hart
		 * one step at a time (vm/taps_effect.c) */
		uint64_t steps = m->taps.neffects ? taps_effect_run(m, len) : hart_run(h, len);
		done += retired ? h->icount - before : steps;
		/* A slice's worth of steps trapped and none retired: the hart
		 * is stuck (e.g. garbage firmware, a trap vector that faults).
		 * Say so rather than spin forever. */
		stuck = h->icount == before ? stuck + steps : 0;
		if (stuck >= SLICE)
			return STOP_TRAP_LOOP;
		timers_update(&m->clint);
		if (!machine_hart_waiting(m))
			continue;
		if (handle_requests(m))
			return STOP_EXIT;
		if (timers_next_icount(&m->clint) == UINT64_MAX && m->cfg.board == BOARD_BARE)
			return STOP_WFI_IDLE;
		if (!m->cfg.idle_skip)
			return STOP_IDLE;
		if (!machine_skip_to_deadline(m))
			return STOP_WFI_IDLE;
	}
}

enum stop_reason machine_run(struct machine *m, uint64_t budget)
{
	return run(m, budget, false);
}

enum stop_reason machine_run_insns(struct machine *m, uint64_t insns)
{
	return run(m, insns, true);
}
