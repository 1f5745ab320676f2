/* The virtual clock's state.  See vclock.h. */
#include "lib/vclock.h"

#include "lib/state_io.h"

void vclock_save(const struct vclock *c, struct state_writer *w)
{
	sw_put_u64(w, c->base);
	sw_put_u64(w, c->insns_per_tick);
}

int vclock_load(struct vclock *c, struct state_reader *r)
{
	c->base = sr_u64(r);
	c->insns_per_tick = sr_u64(r);
	if (!sr_failed(r) && c->insns_per_tick == 0)
		return sr_fail(r, "CLOCK: insns_per_tick is 0");
	return sr_failed(r) ? -1 : 0;
}
