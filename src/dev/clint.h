/* The core-local interruptor (SiFive CLINT as on QEMU virt): msip,
 * mtimecmp and mtime for one hart.  mtime is the virtual clock, a function
 * of the instruction count (src/lib/vclock.h); it ignores writes. */
#ifndef KEEL_DEV_CLINT_H
#define KEEL_DEV_CLINT_H

#include <stdint.h>

#include "bus/bus.h"

#define CLINT_SIZE 0x10000

struct hart;
struct vclock;

struct clint {
	uint64_t mtimecmp;
	uint32_t msip;
	struct hart *hart;
	const struct vclock *clock;
};

void clint_init(struct clint *c, struct hart *hart, const struct vclock *clock);
extern const struct mmio_ops clint_mmio_ops;

/* Drive MTIP from mtimecmp and, with Sstc, STIP from stimecmp, at the
 * hart's current instruction count. */
void timers_update(struct clint *c);

/* The instruction count at which the next timer comparison turns true,
 * or UINT64_MAX when none is armed.  The run loop ends a slice there, so
 * timer interrupts arrive at exact, reproducible instruction counts. */
uint64_t timers_next_icount(const struct clint *c);

/* The mtime at which the next timer fires (UINT64_MAX: none).  Used to
 * skip idle time in WFI. */
uint64_t timers_next_mtime(const struct clint *c);

/* Snapshot section CLNT: see "Section codecs" in lib/state_io.h. */
struct state_reader;
struct state_writer;
#define CLINT_STATE_VERSION 1u
void clint_save(const struct clint *c, struct state_writer *w);
int clint_load(struct clint *c, struct state_reader *r);

#endif
