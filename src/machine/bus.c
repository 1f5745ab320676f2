/* Physical address space.  See bus.h. */
#include "machine/bus.h"

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

static struct bus_region *add_region(struct bus *b, const char *name, uint64_t base,
				     uint64_t size)
{
	if (size == 0 || base + size < base || base + size > PHYS_LIMIT || b->count == BUS_MAX_REGIONS ||
	    overlaps(b, base, size))
		return NULL;
	struct bus_region *r = &b->regions[b->count++];
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->base = base;
	r->size = size;
	return r;
}

int bus_add_ram(struct bus *b, const char *name, uint64_t base, uint64_t size, uint8_t *host,
		bool writable)
{
	struct bus_region *r = add_region(b, name, base, size);
	if (!r)
		return -1;
	r->host = host;
	r->writable = writable;
	return 0;
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
	for (int i = 0; i < b->count; i++) {
		const struct bus_region *r = &b->regions[i];
		if (paddr - r->base < r->size)
			return r;
	}
	return NULL;
}

uint8_t *bus_ram_ptr(const struct bus *b, uint64_t paddr, uint64_t len, bool for_write)
{
	const struct bus_region *r = bus_find(b, paddr);
	if (!r || !r->host || (for_write && !r->writable))
		return NULL;
	uint64_t off = paddr - r->base;
	if (len > r->size - off)
		return NULL;
	return r->host + off;
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
		memcpy(r->host + (paddr - r->base), &val, size);
		if ((paddr & ~0xfffULL) == b->watch_page && b->watch_hook)
			b->watch_hook(b->watch_opaque, paddr);
		return 0;
	}
	if (!r->ops->write)
		return -1;
	return r->ops->write(r->opaque, paddr - r->base, size, val);
}
