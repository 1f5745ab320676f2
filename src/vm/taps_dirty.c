/* Dirty-page tracking (taps.h, section 5).  Not yet built: every call
 * reports that tracking is unavailable. */
#include "vm/machine.h"
#include "vm/taps.h"

int taps_dirty_enable(struct machine *m)
{
	(void)m;
	return -1;
}

void taps_dirty_disable(struct machine *m)
{
	(void)m;
}

bool taps_dirty_enabled(const struct machine *m)
{
	(void)m;
	return false;
}

long taps_dirty_fetch(struct machine *m, uint64_t *bitmap, size_t nbits)
{
	(void)m, (void)bitmap, (void)nbits;
	return -1;
}
