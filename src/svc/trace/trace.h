/* Instruction trace: one line per step, written while single-stepping the
 * machine, so the interpreter's hot loop carries no tracing code. */
#ifndef KEEL_SVC_TRACE_TRACE_H
#define KEEL_SVC_TRACE_TRACE_H

#include <stdio.h>

#include "vm/machine.h"

/* Run like machine_run(m, 0) but one step at a time, writing to `out`:
 *   <icount> <priv> 0x<pc> (0x<insn>) [x<n> 0x<value>] [f<n> 0x<value>]
 * or, when the step trapped:
 *   <icount> <priv> 0x<pc> (0x<insn>) trap cause=0x<mcause> tval=0x<tval>
 * Format documented in docs/trace.md. */
enum stop_reason trace_run(struct machine *m, FILE *out);

#endif
