/* Physical address space.  See bus.h. */
#include "bus/bus.h"

#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *b)
{
	memset(b, 0, sizeof(*b));
	b->watch_page = UINT64_MAX;
}

static bool overlaps(const struct bus *b, uint64_t base, uint64_t size)
{
	for (int i = 0; i < b->count; i++) {
		const struct bus_region *r = &b->regions[i];
		if (base < r->base + r->size && r->base < base + size)
			return true;
	}
	return false;
}

/* RISC-V physical addresses have at most 56 bits; the interpreter relies
 * on nothing being mapped above (see NO_FETCH_PAGE in cpu/exec.c). */
#define PHYS_LIMIT (1ULL << 56)

static void find_big(struct bus *b)
{
	b->big = 0;
	for (int i = 1; i < b->count; i++)
		if (b->regions[i].size > b->regions[b->big].size)
			b->big = i;
}

/* Regions are kept sorted by base, so bus_find can search them by halves
 * (every device access and every TLB fill looks one up). */
static struct bus_region *add_region(struct bus *b, const char *name, uint64_t base,
				     uint64_t size)
{
	if (size == 0 || base + size < base || base + size > PHYS_LIMIT || b->count == BUS_MAX_REGIONS ||
	    overlaps(b, base, size))
		return NULL;
	int at = b->count;
	while (at > 0 && b->regions[at - 1].base > base)
		at--;
	memmove(&b->regions[at + 1], &b->regions[at], (size_t)(b->count - at) * sizeof(b->regions[0]));
	b->count++;
	struct bus_region *r = &b->regions[at];
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->base = base;
	r->size = size;
	find_big(b);
	return r;
}

int bus_add_ram(struct bus *b, const char *name, uint64_t base, uint64_t size, uint8_t *host,
		bool writable)
{
	struct bus_region *r = add_region(b, name, base, size);
	if (!r)
		return -1;
	r->code_gen = calloc((size + 4095) / 4096, sizeof(*r->code_gen));
	if (!r->code_gen) {
		b->count--;
		memmove(r, r + 1, (size_t)(&b->regions[b->count] - r) * sizeof(*r));
		find_big(b);
		return -1;
	}
	r->host = host;
	r->writable = writable;
	return 0;
}

void bus_free(struct bus *b)
{
	bus_dirty_stop(b);
	for (int i = 0; i < b->count; i++) {
		free(b->regions[i].code_gen);
		b->regions[i].code_gen = NULL;
	}
}

static uint64_t region_pages(const struct bus_region *r) { return (r->size + 4095) / 4096; }

static void mark_dirty(const struct bus_region *r, uint64_t page)
{
	r->dirty[page / 64] |= 1ULL << (page % 64);
}

/* A write to [off, off + len) of r: pages with blocks get a new, even
 * generation, and tracked pages are dirty. */
static void note_write(const struct bus_region *r, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	for (uint64_t p = off >> 12; p <= (off + len - 1) >> 12; p++) {
		if (r->code_gen[p] & 1)
			r->code_gen[p]++;
		if (r->dirty)
			mark_dirty(r, p);
	}
}

/* Bring in the missing pages of [off, off + len) of r (see bus.h). */
static void need_pages(const struct bus *b, const struct bus_region *r, uint64_t off,
		       uint64_t len)
{
	if (!r->missing || !len)
		return;
	/* The hook may end post-copy (the last page came): then no bitmap. */
	for (uint64_t p = off >> 12; p <= (off + len - 1) >> 12 && r->missing; p++)
		if (r->missing[p / 64] >> (p % 64) & 1)
			b->miss_hook(b->miss_opaque, r->base + (p << 12));
}

uint8_t *bus_ram_page(const struct bus *b, uint64_t page_pa, bool for_write,
		      uint64_t **code_gen)
{
	const struct bus_region *r = bus_find(b, page_pa);
	if (!r || !r->host || 4096 > r->size - (page_pa - r->base))
		return NULL;
	uint64_t off = page_pa - r->base;
	need_pages(b, r, off, 4096);
	if (for_write) {
		if (!r->writable || (r->code_gen[off >> 12] & 1))
			return NULL;
		if (r->dirty)
			mark_dirty(r, off >> 12);
	}
	*code_gen = &r->code_gen[off >> 12];
	return r->host + off;
}

void bus_ram_rewritten(struct bus *b)
{
	for (int i = 0; i < b->count; i++)
		if (b->regions[i].host)
			note_write(&b->regions[i], 0, b->regions[i].size);
}

int bus_dirty_start(struct bus *b)
{
	if (bus_dirty_tracking(b))
		return 0;
	for (int i = 0; i < b->count; i++) {
		struct bus_region *r = &b->regions[i];
		if (!r->host || !r->writable)
			continue;
		r->dirty = calloc((region_pages(r) + 63) / 64, sizeof(uint64_t));
		if (!r->dirty) {
			bus_dirty_stop(b);
			return -1;
		}
	}
	return 0;
}

void bus_dirty_stop(struct bus *b)
{
	for (int i = 0; i < b->count; i++) {
		free(b->regions[i].dirty);
		b->regions[i].dirty = NULL;
	}
}

bool bus_dirty_tracking(const struct bus *b)
{
	for (int i = 0; i < b->count; i++)
		if (b->regions[i].dirty)
			return true;
	return false;
}

long bus_dirty_collect(struct bus *b, uint64_t base, uint64_t *out, uint64_t nbits)
{
	const struct bus_region *r = bus_find(b, base);
	if (!r || r->base != base || !r->dirty || nbits < region_pages(r))
		return -1;
	uint64_t words = (region_pages(r) + 63) / 64;
	long set = 0;
	for (uint64_t w = 0; w < words; w++) {
		out[w] = r->dirty[w];
		r->dirty[w] = 0;
		set += __builtin_popcountll(out[w]);
	}
	memset(out + words, 0, (nbits + 63) / 64 * sizeof(uint64_t) - words * sizeof(uint64_t));
	return set;
}

int bus_missing_start(struct bus *b, uint64_t base, uint64_t *missing,
		      void (*hook)(void *opaque, uint64_t page_pa), void *opaque)
{
	for (int i = 0; i < b->count; i++) {
		struct bus_region *r = &b->regions[i];
		if (r->host && r->writable && r->base == base) {
			r->missing = missing;
			b->miss_hook = hook;
			b->miss_opaque = opaque;
			return 0;
		}
	}
	return -1;
}

void bus_missing_stop(struct bus *b)
{
	for (int i = 0; i < b->count; i++)
		b->regions[i].missing = NULL;
	b->miss_hook = NULL;
	b->miss_opaque = NULL;
}

int bus_add_mmio(struct bus *b, const char *name, uint64_t base, uint64_t size,
		 const struct mmio_ops *ops, void *opaque)
{
	struct bus_region *r = add_region(b, name, base, size);
	if (!r)
		return -1;
	r->ops = ops;
	r->opaque = opaque;
	return 0;
}

const struct bus_region *bus_find(const struct bus *b, uint64_t paddr)
{
	const struct bus_region *big = &b->regions[b->big];
	if (paddr - big->base < big->size && b->count)
		return big;
	/* The last region starting at or below paddr is the only candidate. */
	int lo = 0, hi = b->count; /* regions[lo..hi) may hold it */
	while (hi - lo > 1) {
		int mid = (lo + hi) / 2;
		if (b->regions[mid].base <= paddr)
			lo = mid;
		else
			hi = mid;
	}
	if (lo == hi)
		return NULL;
	const struct bus_region *r = &b->regions[lo];
	return paddr - r->base < r->size ? r : NULL;
}

uint8_t *bus_ram_ptr(const struct bus *b, uint64_t paddr, uint64_t len, bool for_write)
{
	const struct bus_region *r = bus_find(b, paddr);
	if (!r || !r->host || (for_write && !r->writable))
		return NULL;
	uint64_t off = paddr - r->base;
	if (len > r->size - off)
		return NULL;
	need_pages(b, r, off, len);
	if (for_write) {
		note_write(r, off, len);
		if (b->ram_write_hook)
			b->ram_write_hook(b->ram_write_opaque, paddr, len);
	}
	return r->host + off;
}

bool bus_host_to_pa(const struct bus *b, const void *host, uint64_t *pa)
{
	for (int k = 0; k < b->count; k++) {
		/* the largest region first, then the others in order */
		int i = k == 0 ? b->big : k <= b->big ? k - 1 : k;
		const struct bus_region *r = &b->regions[i];
		uintptr_t off = (uintptr_t)host - (uintptr_t)r->host;
		if (r->host && off < r->size) {
			*pa = r->base + off;
			return true;
		}
	}
	return false;
}

static uint64_t load_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;
	memcpy(&v, p, size); /* host is little-endian, like the guest */
	return v;
}

int bus_read(struct bus *b, uint64_t paddr, unsigned size, uint64_t *val)
{
	const struct bus_region *r = bus_find(b, paddr);
	if (!r || size > r->size - (paddr - r->base))
		return -1;
	if (r->host) {
		need_pages(b, r, paddr - r->base, size);
		*val = load_le(r->host + (paddr - r->base), size);
		return 0;
	}
	if (!r->ops->read)
		return -1;
	return r->ops->read(r->opaque, paddr - r->base, size, val);
}

int bus_write(struct bus *b, uint64_t paddr, unsigned size, uint64_t val)
{
	const struct bus_region *r = bus_find(b, paddr);
	if (!r || size > r->size - (paddr - r->base))
		return -1;
	if (r->host) {
		if (!r->writable)
			return -1;
		need_pages(b, r, paddr - r->base, size);
		memcpy(r->host + (paddr - r->base), &val, size);
		note_write(r, paddr - r->base, size);
		if ((paddr & ~0xfffULL) == b->watch_page && b->watch_hook)
			b->watch_hook(b->watch_opaque, paddr);
		return 0;
	}
	if (!r->ops->write)
		return -1;
	return r->ops->write(r->opaque, paddr - r->base, size, val);
}
