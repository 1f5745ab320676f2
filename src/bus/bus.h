/* The physical address space: RAM/ROM regions backed by host memory and
 * MMIO regions backed by device callbacks.
 *
 * The CPU only sees physical memory through this interface.  Lookups here
 * are the slow path; the soft-TLB caches host pointers for RAM pages. */
#ifndef KEEL_BUS_BUS_H
#define KEEL_BUS_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* MMIO callbacks.  `size` is 1, 2, 4 or 8 and the access is naturally
 * aligned (the CPU splits others).  Return 0, or -1 to raise an access
 * fault. */
struct mmio_ops {
	int (*read)(void *opaque, uint64_t offset, unsigned size, uint64_t *val);
	int (*write)(void *opaque, uint64_t offset, unsigned size, uint64_t val);
};

/* Code generations.  RAM and ROM keep a counter per 4 KiB page that the
 * interpreter's decoded blocks (cpu/block.h) are checked against.  It is
 * odd while blocks may exist for the page; any write that does not go
 * through a TLB write entry (bus_write, bus_ram_ptr for writing,
 * bus_ram_rewritten) moves an odd counter to the next even value, which
 * makes those blocks stale.  The hart never keeps a TLB write entry for a
 * page whose counter is odd, so guest stores reach these paths too. */
struct bus_region {
	const char *name;
	uint64_t base, size;
	uint8_t *host; /* RAM/ROM: host memory; NULL for MMIO */
	uint64_t *code_gen; /* RAM/ROM: one per page, see above */
	bool writable; /* RAM: true, ROM: false */
	const struct mmio_ops *ops; /* MMIO only */
	void *opaque;
};

#define BUS_MAX_REGIONS 24

/* A store to the watched page goes through the slow path and then calls
 * watch_hook (HTIF's tohost lives there). */
struct bus {
	struct bus_region regions[BUS_MAX_REGIONS];
	int count;
	uint64_t watch_page; /* physical page address, or UINT64_MAX */
	void (*watch_hook)(void *opaque, uint64_t paddr);
	void *watch_opaque;
};

void bus_init(struct bus *b);
/* Free what bus_add_ram allocated. */
void bus_free(struct bus *b);
/* Returns 0, or -1 if the region overlaps another, the table is full or
 * memory for its code generations cannot be had. */
int bus_add_ram(struct bus *b, const char *name, uint64_t base, uint64_t size, uint8_t *host,
		bool writable);
int bus_add_mmio(struct bus *b, const char *name, uint64_t base, uint64_t size,
		 const struct mmio_ops *ops, void *opaque);
const struct bus_region *bus_find(const struct bus *b, uint64_t paddr);

/* Host pointer for [paddr, paddr+len) if it lies inside one RAM/ROM region
 * (and that region is writable when `for_write`), else NULL.  For writing,
 * it counts as a write to the whole range (devices' DMA, loaders,
 * debuggers), so it must be asked for just before writing. */
uint8_t *bus_ram_ptr(const struct bus *b, uint64_t paddr, uint64_t len, bool for_write);

/* The host memory of the RAM/ROM page at page_pa, for the TLB, or NULL;
 * *code_gen is then the page's code generation.  For writing, only a
 * writable page whose code generation is even (no decoded blocks)
 * qualifies.  Counts as no access. */
uint8_t *bus_ram_page(const struct bus *b, uint64_t page_pa, bool for_write,
		      uint64_t **code_gen);

/* All of RAM may have changed behind the bus's back (snapshot restore,
 * reset): every decoded block goes stale. */
void bus_ram_rewritten(struct bus *b);

/* Physical access of naturally aligned `size` bytes (1,2,4,8), RAM or MMIO.
 * Return 0, or -1 for an access fault (nothing there, ROM write, device
 * refused). */
int bus_read(struct bus *b, uint64_t paddr, unsigned size, uint64_t *val);
int bus_write(struct bus *b, uint64_t paddr, unsigned size, uint64_t val);

#endif
