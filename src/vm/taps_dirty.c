/* Dirty-page tracking (taps.h, section 5).  The bus keeps the bits
 * (bus/bus.h, "Dirty pages"); this file keeps the hart's TLB in step
 * with them: a page whose bit is clear must have no TLB write entry, so
 * its first store takes the slow path, which sets the bit.  Starting and
 * every fetch clear bits, so both drop the hart's write entries. */
#include "vm/machine.h"
#include "vm/taps.h"

int taps_dirty_enable(struct machine *m)
{
	if (bus_dirty_tracking(&m->bus))
		return 0;
	if (bus_dirty_start(&m->bus))
		return -1;
	hart_drop_write_entries(&m->hart);
	return 0;
}

void taps_dirty_disable(struct machine *m)
{
	/* Write entries are allowed again for every page; the ones the hart
	 * lacks it makes on the next store. */
	bus_dirty_stop(&m->bus);
}

bool taps_dirty_enabled(const struct machine *m)
{
	return bus_dirty_tracking(&m->bus);
}

long taps_dirty_fetch(struct machine *m, uint64_t *bitmap, size_t nbits)
{
	long set = bus_dirty_collect(&m->bus, m->ram_base, bitmap, nbits);
	if (set >= 0)
		hart_drop_write_entries(&m->hart);
	return set;
}
