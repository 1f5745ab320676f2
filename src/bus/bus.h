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
 * makes those blocks stale.
 *
 * Dirty pages.  While tracking is on (bus_dirty_start), writable RAM
 * keeps a bit per page, set by every write the bus sees: the same paths,
 * and a TLB fill for writing (bus_ram_page), which is the page's first
 * store since its bit was last cleared.
 *
 * The rule both rest on: the hart keeps a TLB write entry for a page only
 * while bus_ram_page would give one, that is while the page is writable,
 * its counter is even and it is untracked or dirty.  Whatever makes a page
 * stop qualifying drops the entries that reach it (hart_protect_code_page
 * when a block is built, hart_drop_write_entries when bits are cleared),
 * so every store that matters reaches the bus. */
struct bus_region {
	const char *name;
	uint64_t base, size;
	uint8_t *host; /* RAM/ROM: host memory; NULL for MMIO */
	uint64_t *code_gen; /* RAM/ROM: one per page, see above */
	uint64_t *dirty; /* writable RAM while tracking: bit i is page i; else NULL */
	uint64_t *missing; /* RAM during post-copy: bit i, page i is not here yet; else NULL */
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
	/* The largest region (RAM), where page walks, TLB fills and atomics
	 * land: bus_find and bus_host_to_pa look there first.  Its index,
	 * redone whenever a region is added (they move to stay sorted). */
	int big;
	uint64_t watch_page; /* physical page address, or UINT64_MAX */
	void (*watch_hook)(void *opaque, uint64_t paddr);
	void *watch_opaque;
	/* Post-copy: called before any access reaches a missing page. */
	void (*miss_hook)(void *opaque, uint64_t page_pa);
	void *miss_opaque;
	/* Told of every write through bus_ram_ptr (device DMA, cbo.zero,
	 * loaders, debuggers), or NULL: the byte taint clears the bytes they
	 * overwrite (vm/taps_taint.c). */
	void (*ram_write_hook)(void *opaque, uint64_t paddr, uint64_t len);
	void *ram_write_opaque;
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
 * qualifies, and it counts as a write to the page for dirty tracking:
 * the TLB fills for writing only on the way to a store into the page.
 * Otherwise counts as no access. */
uint8_t *bus_ram_page(const struct bus *b, uint64_t page_pa, bool for_write,
		      uint64_t **code_gen);

/* The physical address whose RAM/ROM byte lives at host address `host`
 * (the inverse of bus_ram_ptr).  Returns false if no region holds it. */
bool bus_host_to_pa(const struct bus *b, const void *host, uint64_t *pa);

/* All of RAM may have changed behind the bus's back (snapshot restore,
 * reset): every decoded block goes stale and every page is dirty. */
void bus_ram_rewritten(struct bus *b);

/* Dirty tracking (see "Dirty pages" above).  Start: every writable RAM
 * region gets a bitmap with every page clean; returns 0, or -1 when
 * memory cannot be had (tracking then stays off).  Starting again when on
 * changes nothing.  The caller drops the harts' TLB write entries
 * (hart_drop_write_entries) after a start and after every collect. */
int bus_dirty_start(struct bus *b);
void bus_dirty_stop(struct bus *b);
bool bus_dirty_tracking(const struct bus *b);
/* Move the bits of the region at `base` into out (nbits of room; bit i is
 * the page at base + i * 4096, bits past the region's end cleared) and
 * clear them.  Returns the number of pages set, or -1 if tracking is off,
 * no tracked region starts at base or out is too small. */
long bus_dirty_collect(struct bus *b, uint64_t base, uint64_t *out, uint64_t nbits);

/* Missing pages (post-copy migration, vm/postcopy.c).  While a RAM
 * region has a `missing` bitmap, every access the bus serves to a page
 * whose bit is set first calls miss_hook with the page's address, which
 * returns only once the page is there and its bit clear (or never: the
 * VM cannot continue without it).  The accesses are exactly the ones
 * above: TLB fills (bus_ram_page), device DMA and loaders (bus_ram_ptr),
 * and slow-path loads and stores (bus_read, bus_write), so the hart
 * never holds a TLB entry for a missing page and never decodes one.
 * The bitmap is the caller's; stop before freeing it. */
int bus_missing_start(struct bus *b, uint64_t base, uint64_t *missing,
		      void (*hook)(void *opaque, uint64_t page_pa), void *opaque);
void bus_missing_stop(struct bus *b);

/* Physical access of naturally aligned `size` bytes (1,2,4,8), RAM or MMIO.
 * Return 0, or -1 for an access fault (nothing there, ROM write, device
 * refused). */
int bus_read(struct bus *b, uint64_t paddr, unsigned size, uint64_t *val);
int bus_write(struct bus *b, uint64_t paddr, unsigned size, uint64_t val);

#endif
