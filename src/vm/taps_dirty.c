/* Dirty-page tracking (taps.h, section 5): one reader of the machine's
 * shared dirty pages (vm/ram_dirty.h), so that services tracking pages
 * and the state digest's cache do not steal each other's bits. */
#include "vm/machine.h"
#include "vm/ram_dirty.h"
#include "vm/taps.h"

int taps_dirty_enable(struct machine *m)
{
	if (taps_dirty_enabled(m))
		return 0;
	int reader = ram_dirty_open(m);
	if (reader < 0)
		return -1;
	m->taps_dirty_reader = reader + 1;
	return 0;
}

void taps_dirty_disable(struct machine *m)
{
	if (!taps_dirty_enabled(m))
		return;
	ram_dirty_close(m, m->taps_dirty_reader - 1);
	m->taps_dirty_reader = 0;
}

bool taps_dirty_enabled(const struct machine *m)
{
	return m->taps_dirty_reader > 0;
}

long taps_dirty_fetch(struct machine *m, uint64_t *bitmap, size_t nbits)
{
	if (!taps_dirty_enabled(m))
		return -1;
	return ram_dirty_fetch(m, m->taps_dirty_reader - 1, bitmap, nbits);
}
