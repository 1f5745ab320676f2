/* The bare-metal machine: RAM, HTIF and one hart.  This is what
 * `keel run --bios none --kernel prog.elf` runs; the full virt board builds
 * on the same struct machine. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "vm/machine.h"

#define DEFAULT_SLICE (1u << 16)
#define INSNS_PER_TICK 10 /* 10 MHz timebase at a nominal 100 MIPS */

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

int machine_init(struct machine *m, uint64_t ram_size)
{
	memset(m, 0, sizeof(*m));
	m->ram_base = DRAM_BASE;
	m->ram_size = ram_size;
	/* Anonymous memory reads as zero, which keeps a fresh boot
	 * deterministic, and is only committed as the guest touches it. */
	void *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		return -1;
	m->ram = ram;
	bus_init(&m->bus);
	if (bus_add_ram(&m->bus, "dram", DRAM_BASE, ram_size, m->ram, true)) {
		machine_free(m);
		errno = EINVAL;
		return -1;
	}
	vclock_init(&m->clock, INSNS_PER_TICK);
	hart_init(&m->hart, &m->bus, &m->clock, 0, DRAM_BASE);
	htif_init(&m->htif, &m->bus, 0, 0, stdout);
	return 0;
}

void machine_set_htif(struct machine *m, uint64_t tohost, uint64_t fromhost)
{
	htif_init(&m->htif, &m->bus, tohost, fromhost, m->htif.console);
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

enum stop_reason machine_run(struct machine *m, uint64_t budget)
{
	struct hart *h = &m->hart;
	uint64_t done = 0;
	for (;;) {
		if (m->exited)
			return STOP_EXIT;
		if (budget && done >= budget)
			return STOP_BUDGET;
		uint64_t chunk = DEFAULT_SLICE;
		if (budget && budget - done < chunk)
			chunk = budget - done;
		if (m->max_insns) {
			if (h->icount >= m->max_insns)
				return STOP_MAX_INSNS;
			if (m->max_insns - h->icount < chunk)
				chunk = m->max_insns - h->icount;
		}
		uint64_t ran = hart_run(h, chunk);
		done += ran;
		if (h->wfi && hart_pending_interrupt(h) < 0 && !((h->mip | h->mip_hw) & h->mie)) {
			/* Nothing on this board can raise an interrupt later. */
			if (!m->exited)
				return STOP_WFI_IDLE;
		}
		if (ran == 0 && budget)
			done++; /* a slice that only took a trap still makes progress */
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
