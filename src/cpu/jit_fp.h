/* The JIT's F and D instructions (jit_fp.c), for jit.c's emitter only.
 *
 * A translation runs straight through from its start (jit.h), so what an
 * FP instruction has established holds for the ones after it until the
 * translation leaves: mstatus.FS is on and dirty, and MXCSR holds the
 * guest's environment for a rounding mode.  struct jit_fp remembers that
 * while one translation is emitted, so each is checked or done once (by
 * jit.c's FP loads and stores too). */
#ifndef KEEL_CPU_JIT_FP_H
#define KEEL_CPU_JIT_FP_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/decode.h"
#include "cpu/x86.h"

#define JIT_FP_DYN 9 /* struct jit_fp's env when MXCSR holds frm's mode */

/* Zero-initialised at a translation's start: nothing known. */
struct jit_fp {
	bool fs_on; /* mstatus.FS was found on */
	bool dirty; /* mstatus.FS was marked dirty */
	uint8_t env; /* 0: unknown; 1 + rm: MXCSR holds the guest's rm; JIT_FP_DYN: frm's */
};

/* The most resume jumps one instruction returns (a dynamic FCVT.W.S:
 * FS, frm, the boxing, NaN, infinity or out of 64 bits, out of 32) */
#define JIT_FP_RESUMES 6

/* Emit OP_FP_ROUNDING or OP_FP instruction d.  `host` maps guest x
 * registers to the host registers they live in (-1: in h->x).  Returns
 * false, emitting nothing, for an instruction left to the interpreter;
 * else the jumps whose displacements must land where the interpreter is
 * resumed at this instruction's entry, before any effect of it (FP off, a
 * dynamic rounding mode that is RMM or reserved, an operand or value
 * jit_fp.c leaves to the interpreter) go in resume[*n]. */
bool jit_fp_emit(struct jit_fp *s, struct x86 *a, const int8_t *host,
		 const struct decoded_insn *d, uint8_t **resume, unsigned *n);

/* At the start of a translation of the n instructions d, where every
 * entry runs it and a loop back to the block's start does not (jit.c's
 * `loop` is after it): FS checked when any of them is an FP
 * instruction, and MXCSR loaded when all its rounding ones name the same
 * rounding mode, so that a loop checks neither on every pass.  The jumps
 * in resume[*n] resume the interpreter at the block's first entry.
 * Loading MXCSR before the instructions ahead of the first FP one run is
 * not observable: the flags the guest's MXCSR then holds are those the
 * interpreter's would (none after the host's, the same after another
 * rounding mode's), and fpu_host_env folds and restores it either way. */
void jit_fp_preamble(struct jit_fp *s, struct x86 *a, const struct decoded_insn *d, unsigned n,
		     uint8_t **resume, unsigned *nresume);

#endif
