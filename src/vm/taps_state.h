/* What a machine keeps for its taps (vm/taps.h): the subscribers and
 * stop points services registered.  None of it is machine state: it is
 * never saved, and a fork-clone starts with it cleared (taps_reset). */
#ifndef KEEL_VM_TAPS_STATE_H
#define KEEL_VM_TAPS_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/hart.h"
#include "vm/taps.h"

struct tap_stop_point {
	uint64_t icount;
	tap_stop_fn fn; /* NULL: machine_run returns STOP_AT */
	void *opaque;
};

/* A syscall whose entry was seen and whose return is awaited.  A thread
 * has at most one: it is named by its address space, user stack pointer
 * and return address, which the return to U-mode restores. */
struct tap_pending_syscall {
	uint64_t satp, sp, ret_pc;
	uint64_t nr, args[6];
};

#define TAPS_PENDING_SYSCALLS 64

struct taps_state {
	/* sorted by icount, earliest first; equal icounts in the order added */
	struct tap_stop_point stops[TAPS_MAX_STOPS];
	unsigned nstops;

	struct {
		const struct tap_trap_ops *ops; /* NULL: a free slot */
		void *opaque;
	} traps[TAPS_MAX_SUBSCRIBERS];
	unsigned ntraps; /* slots in use up to here */
	struct hart_trap_hook hook; /* the hart's, while any trap subscriber exists */
	struct tap_pending_syscall pending[TAPS_PENDING_SYSCALLS];
	uint64_t pending_used; /* bit i: pending[i] holds a call */
	/* Bit i of pending_in[b]: pending[i] is used and its (satp, sp,
	 * ret_pc) hashes to b (vm/taps.c, pending_bucket).  Calls that never
	 * return (execve, exit, sigreturn) keep every slot used, and every
	 * return to U-mode looks for its call: one bucket's few slots instead
	 * of all of them. */
	uint64_t pending_in[TAPS_PENDING_SYSCALLS];
	unsigned pending_next; /* the slot the next entry overwrites when all are used */

	/* memory effects (vm/taps_effect.c) */
	struct {
		tap_effect_fn fn; /* NULL: a free slot */
		void *opaque;
	} effects[TAPS_MAX_SUBSCRIBERS];
	unsigned neffects; /* slots in use up to here */
	struct hart_effect_hook effect_hook; /* the hart's, while observing */
	struct tap_insn_effect effect; /* the instruction in flight */
	bool effect_decoded; /* effect_hook.insn has described it */
	struct decoded_insn effect_insn; /* ... as this (vm/taps_taint.c reads it) */

	struct taint *taint; /* byte taint (vm/taps_taint.c), or NULL: off */

	/* disk writes (taps_disk_subscribe) */
	struct {
		tap_disk_write_fn fn; /* NULL: a free slot */
		void *opaque;
	} disk[TAPS_MAX_SUBSCRIBERS];
	unsigned ndisk; /* slots in use up to here */
};

struct machine;

/* Forget every subscriber and stop point and stop dirty tracking
 * (machine_init, a fork-clone). */
void taps_reset(struct machine *m);

/* machine_run's side of the stop points: fire every point at or before
 * the current icount; true if one of them asked for STOP_AT. */
bool taps_fire_stops(struct machine *m);

/* machine_run's side of the memory effects, instead of hart_run while
 * any effect subscriber exists: run up to `budget` steps one at a time,
 * reporting each.  Returns the steps taken (as hart_run). */
uint64_t taps_effect_run(struct machine *m, uint64_t budget);

/* machine_net_input's side of the byte taint: the frame it just handed
 * to virtio-net (its chain still in m->net.req) gets the net source's
 * labels.  Only called while taint is on. */
void taps_taint_net_rx(struct machine *m, const uint8_t *frame, size_t len);

/* Stop observing: the hart gets its hook cleared and its decoded blocks
 * back (taps_reset, the last unsubscribe). */
void taps_effect_stop(struct machine *m);

#endif
