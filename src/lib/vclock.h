/* Virtual time.  Guest time is a pure function of the retired-instruction
 * count plus adjustments that the machine makes (and, once recording
 * exists, logs):
 *
 *     mtime = base + icount / insns_per_tick
 *
 * Nothing here reads the host clock; pacing against wall time happens
 * outside, in the run loop, and can only change `base` through an
 * adjustment. */
#ifndef KEEL_LIB_VCLOCK_H
#define KEEL_LIB_VCLOCK_H

#include <stdint.h>

/* The one timebase: mtime ticks per second, as QEMU virt (10 MHz).  The
 * device tree tells the guest (timebase-frequency). */
#define VCLOCK_TIMEBASE_HZ 10000000ULL
#define VCLOCK_NS_PER_TICK (1000000000ULL / VCLOCK_TIMEBASE_HZ)

struct vclock {
	uint64_t base;
	uint64_t insns_per_tick;
};

static inline void vclock_init(struct vclock *c, uint64_t insns_per_tick)
{
	c->base = 0;
	c->insns_per_tick = insns_per_tick ? insns_per_tick : 1;
}

static inline uint64_t vclock_mtime(const struct vclock *c, uint64_t icount)
{
	return c->base + icount / c->insns_per_tick;
}

/* Snapshot section CLK (docs/snapshot-format.md): the clock's base and
 * rate.  Load refuses a rate of 0. */
struct state_reader;
struct state_writer;
#define CLOCK_STATE_VERSION 1u
void vclock_save(const struct vclock *c, struct state_writer *w);
int vclock_load(struct vclock *c, struct state_reader *r);

#endif
