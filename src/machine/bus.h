/* The physical address space: RAM/ROM regions backed by host memory and
 * MMIO regions backed by device callbacks.
 *
 * The CPU only sees physical memory through this interface.  Lookups here
 * are the slow path; the soft-TLB caches host pointers for RAM pages. */
#ifndef KEEL_MACHINE_BUS_H
#define KEEL_MACHINE_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* MMIO callbacks.  `size` is 1, 2, 4 or 8 and the access is naturally
 * aligned (the CPU splits others).  Return 0, or -1 to raise an access
 * fault. */
struct mmio_ops {
	int (*read)(void *opaque, uint64_t offset, unsigned size, uint64_t *val);
	int (*write)(void *opaque, uint64_t offset, unsigned size, uint64_t val);
};

struct bus_region {
	const char *name;
	uint64_t base, size;
	uint8_t *host; /* RAM/ROM: host memory; NULL for MMIO */
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
/* Returns 0, or -1 if the region overlaps another or the table is full. */
int bus_add_ram(struct bus *b, const char *name, uint64_t base, uint64_t size, uint8_t *host,
		bool writable);
int bus_add_mmio(struct bus *b, const char *name, uint64_t base, uint64_t size,
		 const struct mmio_ops *ops, void *opaque);
const struct bus_region *bus_find(const struct bus *b, uint64_t paddr);

/* Host pointer for [paddr, paddr+len) if it lies inside one RAM/ROM region
 * (and that region is writable when `for_write`), else NULL. */
uint8_t *bus_ram_ptr(const struct bus *b, uint64_t paddr, uint64_t len, bool for_write);

/* Physical access of naturally aligned `size` bytes (1,2,4,8), RAM or MMIO.
 * Return 0, or -1 for an access fault (nothing there, ROM write, device
 * refused). */
int bus_read(struct bus *b, uint64_t paddr, unsigned size, uint64_t *val);
int bus_write(struct bus *b, uint64_t paddr, unsigned size, uint64_t val);

#endif
