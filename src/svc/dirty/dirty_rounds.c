/* Dirty-page rounds.  See dirty_rounds.h. */
#include "svc/dirty/dirty_rounds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/taps.h"

/* A busy guest's clock runs at its nominal rate, 100 instructions per
 * 10 MHz tick: a million instructions per millisecond.  Idle time skipped
 * is not counted; a round is busy time, where the writes are. */
#define INSNS_PER_MS 1000000ULL

static bool fetch_round(void *opaque, struct machine *m, uint64_t icount)
{
	struct dirty_rounds *d = opaque;
	long n = taps_dirty_fetch(m, d->bitmap, d->nbits);
	if (n >= 0) {
		d->rounds++;
		d->pages += (uint64_t)n;
		if ((uint64_t)n > d->max_pages)
			d->max_pages = (uint64_t)n;
	}
	/* Fails only when 64 stop points are pending; the rounds then end,
	 * and --stats shows how many there were. */
	(void)taps_stop_at(m, icount + d->every, fetch_round, d);
	return false;
}

int dirty_rounds_start(struct dirty_rounds *d, struct machine *m, uint64_t ms, char *err,
		       size_t errlen)
{
	memset(d, 0, sizeof(*d));
	if (ms == 0 || ms > UINT64_MAX / INSNS_PER_MS) {
		snprintf(err, errlen, "the interval must be at least 1 ms and fit 64 bits of instructions");
		return -1;
	}
	struct memview mv;
	taps_memview(m, &mv);
	d->nbits = (size_t)(mv.size / 4096);
	d->bitmap = calloc((d->nbits + 63) / 64, sizeof(uint64_t));
	if (!d->bitmap || taps_dirty_enable(m)) {
		snprintf(err, errlen, "out of memory for the dirty bitmap");
		free(d->bitmap);
		d->bitmap = NULL;
		return -1;
	}
	d->m = m;
	d->every = ms * INSNS_PER_MS;
	if (taps_stop_at(m, taps_icount(m) + d->every, fetch_round, d)) {
		snprintf(err, errlen, "the machine has no room for another stop point");
		dirty_rounds_stop(d);
		return -1;
	}
	return 0;
}

void dirty_rounds_stop(struct dirty_rounds *d)
{
	if (!d->m)
		return;
	taps_stop_cancel(d->m, d);
	taps_dirty_disable(d->m);
	free(d->bitmap);
	d->bitmap = NULL;
	d->m = NULL;
}
