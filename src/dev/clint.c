/* CLINT.  Offsets: 0x0000 msip (hart 0), 0x4000 mtimecmp, 0xbff8 mtime. */
#include "dev/clint.h"

#include <string.h>

#include "cpu/hart.h"
#include "lib/state_io.h"
#include "lib/vclock.h"

#define MSIP_OFFSET 0x0000
#define MTIMECMP_OFFSET 0x4000
#define MTIME_OFFSET 0xbff8

void clint_init(struct clint *c, struct hart *hart, const struct vclock *clock)
{
	memset(c, 0, sizeof(*c));
	c->mtimecmp = UINT64_MAX;
	c->hart = hart;
	c->clock = clock;
}

static uint64_t mtime_now(const struct clint *c)
{
	return hart_mtime(c->hart);
}

static bool sstc_on(const struct hart *h) { return (h->menvcfg & ENVCFG_STCE) != 0; }

void timers_update(struct clint *c)
{
	struct hart *h = c->hart;
	uint64_t now = mtime_now(c);
	bool mti = now >= c->mtimecmp;
	if (mti != ((h->mip_hw >> IRQ_MTI) & 1))
		hart_set_pending(h, 1ULL << IRQ_MTI, mti);
	bool sti = sstc_on(h) && now >= h->stimecmp;
	if (sti != ((h->mip_hw >> IRQ_STI) & 1))
		hart_set_pending(h, 1ULL << IRQ_STI, sti);
}

uint64_t timers_next_mtime(const struct clint *c)
{
	uint64_t next = c->mtimecmp;
	if (sstc_on(c->hart) && c->hart->stimecmp < next)
		next = c->hart->stimecmp;
	return next;
}

uint64_t timers_next_icount(const struct clint *c)
{
	uint64_t when = timers_next_mtime(c);
	if (when == UINT64_MAX)
		return UINT64_MAX;
	const struct vclock *k = c->clock;
	if (when <= k->base)
		return 0;
	uint64_t ticks = when - k->base;
	if (ticks > UINT64_MAX / k->insns_per_tick)
		return UINT64_MAX;
	return ticks * k->insns_per_tick;
}

static int access_u64(uint64_t *reg, uint64_t off, unsigned size, uint64_t *val, bool write)
{
	unsigned shift = (unsigned)(off & 7) * 8;
	if (size == 8 && shift == 0) {
		if (write)
			*reg = *val;
		else
			*val = *reg;
		return 0;
	}
	if (size != 4)
		return -1;
	uint64_t mask = 0xffffffffULL << shift;
	if (write)
		*reg = (*reg & ~mask) | ((*val & 0xffffffffULL) << shift);
	else
		*val = (*reg & mask) >> shift;
	return 0;
}

static int clint_read(void *opaque, uint64_t off, unsigned size, uint64_t *val)
{
	struct clint *c = opaque;
	if (off == MSIP_OFFSET && size == 4) {
		*val = c->msip;
		return 0;
	}
	if (off >= MTIMECMP_OFFSET && off < MTIMECMP_OFFSET + 8)
		return access_u64(&c->mtimecmp, off, size, val, false);
	if (off >= MTIME_OFFSET && off < MTIME_OFFSET + 8) {
		uint64_t now = mtime_now(c);
		return access_u64(&now, off, size, val, false);
	}
	*val = 0;
	return 0;
}

static int clint_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct clint *c = opaque;
	if (off == MSIP_OFFSET && size == 4) {
		c->msip = val & 1;
		hart_set_pending(c->hart, 1ULL << IRQ_MSI, c->msip);
		return 0;
	}
	if (off >= MTIMECMP_OFFSET && off < MTIMECMP_OFFSET + 8) {
		int rc = access_u64(&c->mtimecmp, off, size, &val, true);
		timers_update(c);
		c->hart->slice_end = true; /* the next deadline moved */
		return rc;
	}
	return 0; /* mtime and the rest ignore writes */
}

const struct mmio_ops clint_mmio_ops = {.read = clint_read, .write = clint_write};

/* --- State -------------------------------------------------------------- */

void clint_save(const struct clint *c, struct state_writer *w)
{
	sw_put_u64(w, c->mtimecmp);
	sw_put_u32(w, c->msip);
}

int clint_load(struct clint *c, struct state_reader *r)
{
	c->mtimecmp = sr_u64(r);
	c->msip = sr_u32(r);
	return sr_failed(r) ? -1 : 0;
}
