/* The machine: wiring of the board and the deterministic run loop. */
#include "vm/machine.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define SLICE (1u << 16) /* steps between looks at devices and timers */
#define INSNS_PER_TICK 10 /* 10 MHz timebase at a nominal 100 MIPS */

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

static int add_virt_devices(struct machine *m)
{
	struct bus *b = &m->bus;
	struct irq_line uart_irq = {plic_set_line, &m->plic, VIRT_IRQ_UART};
	plic_init(&m->plic, &m->hart);
	uart_init(&m->uart, uart_irq, uart_output, m);
	syscon_init(&m->syscon, &m->hart);
	rtc_init(&m->rtc, m->events.rtc_epoch_ns, &m->hart, &m->clock);
	int rc = 0;
	rc |= bus_add_ram(b, "mrom", VIRT_MROM_BASE, VIRT_MROM_SIZE, m->rom, false);
	rc |= bus_add_mmio(b, "test", VIRT_TEST_BASE, SYSCON_SIZE, &syscon_mmio_ops, &m->syscon);
	rc |= bus_add_mmio(b, "rtc", VIRT_RTC_BASE, RTC_SIZE, &rtc_mmio_ops, &m->rtc);
	rc |= bus_add_mmio(b, "plic", VIRT_PLIC_BASE, PLIC_SIZE, &plic_mmio_ops, &m->plic);
	rc |= bus_add_mmio(b, "uart", VIRT_UART_BASE, UART_SIZE, &uart_mmio_ops, &m->uart);
	return rc;
}

int machine_init(struct machine *m, const struct machine_config *cfg)
{
	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	m->ram_base = DRAM_BASE;
	m->ram_size = cfg->ram_size;
	/* Anonymous memory reads as zero, which keeps a fresh boot
	 * deterministic, and is only committed as the guest touches it. */
	void *ram = mmap(NULL, cfg->ram_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		return -1;
	m->ram = ram;
	m->reset_pc = cfg->board == BOARD_VIRT ? VIRT_MROM_BASE : DRAM_BASE;
	vclock_init(&m->clock, INSNS_PER_TICK);
	hart_init(&m->hart, &m->bus, &m->clock, 0, m->reset_pc);
	events_init(&m->events, &m->hart.icount, cfg->entropy_seeded, cfg->entropy_seed,
		    cfg->rtc_epoch_ns);
	bus_init(&m->bus);
	htif_init(&m->htif, &m->bus, 0, 0, NULL);
	clint_init(&m->clint, &m->hart, &m->clock);
	int rc = bus_add_ram(&m->bus, "dram", DRAM_BASE, cfg->ram_size, m->ram, true);
	rc |= bus_add_mmio(&m->bus, "clint", VIRT_CLINT_BASE, CLINT_SIZE, &clint_mmio_ops, &m->clint);
	if (cfg->board == BOARD_VIRT)
		rc |= add_virt_devices(m);
	if (rc) {
		machine_free(m);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static void htif_console(void *opaque, const uint8_t *buf, size_t len)
{
	console_out(opaque, buf, len);
}

void machine_set_htif(struct machine *m, uint64_t tohost, uint64_t fromhost)
{
	htif_init(&m->htif, &m->bus, tohost, fromhost, NULL);
	m->htif.write = htif_console;
	m->htif.write_opaque = m;
	m->bus.watch_page = tohost ? tohost & ~0xfffULL : UINT64_MAX;
	m->bus.watch_hook = on_tohost_store;
	m->bus.watch_opaque = m;
	hart_flush_tlb(&m->hart);
}

void machine_free(struct machine *m)
{
	if (m->ram)
		munmap(m->ram, m->ram_size);
	m->ram = NULL;
}

/* A guest-requested reset: RAM back to zero, hart and devices to reset
 * state, boot images reloaded.  Virtual time and icount keep running. */
static int machine_reset(struct machine *m)
{
	uint64_t icount = m->hart.icount;
	madvise(m->ram, m->ram_size, MADV_DONTNEED); /* anonymous: reads as zero again */
	hart_init(&m->hart, &m->bus, &m->clock, 0, m->reset_pc);
	m->hart.icount = icount;
	clint_init(&m->clint, &m->hart, &m->clock);
	if (m->cfg.board == BOARD_VIRT) {
		int64_t rtc_offset = m->rtc.offset_ns;
		plic_init(&m->plic, &m->hart);
		struct irq_line uart_irq = {plic_set_line, &m->plic, VIRT_IRQ_UART};
		uart_init(&m->uart, uart_irq, uart_output, m);
		syscon_init(&m->syscon, &m->hart);
		rtc_init(&m->rtc, 0, &m->hart, &m->clock);
		m->rtc.offset_ns = rtc_offset;
	}
	m->resets++;
	return m->on_reset ? m->on_reset(m, m->on_reset_opaque) : 0;
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
	uint64_t now = vclock_mtime(&m->clock, m->hart.icount);
	if (deadline > now)
		m->clock.base += deadline - now;
	timers_update(&m->clint);
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
	return chunk;
}

enum stop_reason machine_run(struct machine *m, uint64_t budget)
{
	struct hart *h = &m->hart;
	uint64_t done = 0;
	for (;;) {
		if (m->exited || handle_requests(m))
			return STOP_EXIT;
		if (budget && done >= budget)
			return STOP_BUDGET;
		if (m->max_insns && h->icount >= m->max_insns)
			return STOP_MAX_INSNS;
		timers_update(&m->clint);
		done += hart_run(h, slice_length(m, budget, done));
		timers_update(&m->clint);
		if (!h->wfi || hart_pending_interrupt(h) >= 0 || ((h->mip | h->mip_hw) & h->mie))
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

static size_t copy_virt(struct machine *m, uint64_t va, void *buf, size_t len, bool write)
{
	size_t done = 0;
	while (done < len) {
		uint64_t pa;
		if (hart_translate_debug(&m->hart, va + done, &pa))
			break;
		size_t chunk = 4096 - ((va + done) & 4095);
		if (chunk > len - done)
			chunk = len - done;
		uint8_t *host = bus_ram_ptr(&m->bus, pa, chunk, write);
		if (host) {
			if (write)
				memcpy(host, (const uint8_t *)buf + done, chunk);
			else
				memcpy((uint8_t *)buf + done, host, chunk);
			done += chunk;
			continue;
		}
		/* MMIO or a region edge: one byte at a time */
		uint64_t byte = write ? ((const uint8_t *)buf)[done] : 0;
		int rc = write ? bus_write(&m->bus, pa, 1, byte) : bus_read(&m->bus, pa, 1, &byte);
		if (rc)
			break;
		if (!write)
			((uint8_t *)buf)[done] = (uint8_t)byte;
		done++;
	}
	return done;
}

size_t machine_read_virt(struct machine *m, uint64_t va, void *buf, size_t len)
{
	return copy_virt(m, va, buf, len, false);
}

size_t machine_write_virt(struct machine *m, uint64_t va, const void *buf, size_t len)
{
	return copy_virt(m, va, (void *)buf, len, true);
}
