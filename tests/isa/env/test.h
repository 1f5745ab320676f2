/* Assembler macros for keel's ISA tests (assembly side of the environment).
 *
 * A test file includes this header and defines `test_main`, which
 * env/crt.S calls in M-mode.  Conventions:
 *   gp     current case number (CASE); a failure reports it.
 *   t5/t6  scratch for the macros below; do not keep values there across
 *          a macro.
 *   A check that fails jumps to fail_check and the test exits with the
 *   case number, printing the value found and the one expected.
 * Passing is `j pass` (or TEST_END). */
#ifndef KEEL_ISA_TEST_H
#define KEEL_ISA_TEST_H

#include "encoding.h"

	.macro TEST_BEGIN
	.text
	.globl test_main
test_main:
	.endm

	.macro TEST_END
	j pass
	.endm

	.macro CASE n
	li gp, \n
	.endm

/* ---- checks ---- */

/* reg == constant */
	.macro CHECK reg, value
	mv t5, \reg
	li t6, \value
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

/* reg == other register */
	.macro CHECK_REG reg, expected
	mv t5, \reg
	mv t6, \expected
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

/* reg == address of a symbol (li cannot form addresses above 2 GiB) */
	.macro CHECK_ADDR reg, sym
	mv t5, \reg
	la t6, \sym
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

/* csr == constant */
	.macro CHECK_CSR csr, value
	csrr t5, \csr
	li t6, \value
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

/* Load a doubleword variable by symbol. */
	.macro LOAD_VAR reg, sym
	la \reg, \sym
	ld \reg, 0(\reg)
	.endm

/* ---- integer operations ---- */

/* rd = op(rs1, rs2), with rd distinct from the sources, then with rd equal
 * to each source in turn (the interpreter must read before it writes),
 * and finally with rd = x0 (which must stay zero). */
	.macro TEST_RR n, op, result, v1, v2
	CASE \n
	li a1, \v1
	li a2, \v2
	\op a0, a1, a2
	CHECK a0, \result
	CHECK a1, \v1
	CHECK a2, \v2
	\op a1, a1, a2
	CHECK a1, \result
	li a1, \v1
	\op a2, a1, a2
	CHECK a2, \result
	li a2, \v2
	\op x0, a1, a2
	CHECK x0, 0
	.endm

/* rd = op(rs, rs): both operands from one register */
	.macro TEST_RR_SAME n, op, result, v
	CASE \n
	li a1, \v
	\op a0, a1, a1
	CHECK a0, \result
	.endm

/* rd = op(rs1, imm), also with rd == rs1 */
	.macro TEST_RI n, op, result, v1, imm
	CASE \n
	li a1, \v1
	\op a0, a1, \imm
	CHECK a0, \result
	\op a1, a1, \imm
	CHECK a1, \result
	.endm

/* ---- traps ---- */

/* The next exception taken to M resumes at `label`, in M-mode. */
	.macro EXPECT_TRAP label
	la t5, trap_m
	li t6, TRAP_RESUME
	sd t6, TL_MODE(t5)
	la t6, \label
	sd t6, TL_RESUME(t5)
	.endm

/* The same for exceptions taken to S (must run where trap_s is writable). */
	.macro S_EXPECT_TRAP label
	la t5, trap_s
	li t6, TRAP_RESUME
	sd t6, TL_MODE(t5)
	la t6, \label
	sd t6, TL_RESUME(t5)
	.endm

/* Set what the M (lvl=m) or S (lvl=s) handler does with exceptions. */
	.macro TRAP_MODE lvl, mode
	la t5, trap_\lvl
	li t6, \mode
	sd t6, TL_MODE(t5)
	.endm

/* reg = field (TL_CAUSE, TL_EPC, ...) of the last trap at level lvl. */
	.macro GET_TRAP reg, lvl, field
	la \reg, trap_\lvl
	ld \reg, \field(\reg)
	.endm

/* The last trap to M had this cause (and, with the _TVAL/_EPC forms, this
 * tval/epc). */
	.macro CHECK_MCAUSE cause
	GET_TRAP t5, m, TL_CAUSE
	li t6, \cause
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

	.macro CHECK_MTVAL value
	GET_TRAP t5, m, TL_TVAL
	li t6, \value
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

	.macro CHECK_MTVAL_REG reg
	GET_TRAP t5, m, TL_TVAL
	mv t6, \reg
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

	.macro CHECK_MEPC label
	GET_TRAP t5, m, TL_EPC
	la t6, \label
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

	.macro CHECK_SCAUSE cause
	GET_TRAP t5, s, TL_CAUSE
	li t6, \cause
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

	.macro CHECK_SEPC label
	GET_TRAP t5, s, TL_EPC
	la t6, \label
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

/* mtval of the last trap to M holds the encoding of the instruction at
 * `label` (16 or 32 bits, zero-extended). */
	.macro CHECK_MTVAL_INSN label
	la t6, \label
	lhu t5, 0(t6)
	andi t5, t5, 3
	addi t5, t5, -3
	bnez t5, .Lhalf\@
	lwu t6, 0(t6)
	j .Lcmp\@
.Lhalf\@:
	lhu t6, 0(t6)
.Lcmp\@:
	GET_TRAP t5, m, TL_TVAL
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

/* Case n: `insn`, executed here in the current mode, must raise an
 * illegal-instruction exception taken to M, with mepc pointing at it and
 * mtval holding its encoding. */
	.macro TEST_ILLEGAL n, insn:vararg
	CASE \n
	EXPECT_TRAP .Lresume\@
.Linsn\@:
	\insn
	j fail
.Lresume\@:
	CHECK_MCAUSE CAUSE_ILLEGAL
	CHECK_MEPC .Linsn\@
	CHECK_MTVAL_INSN .Linsn\@
	.endm

/* The same with `insn` executed in privilege `priv` (entered from M; the
 * test is back in M afterwards).  Also checks that the trap came from
 * `priv`. */
	.macro TEST_ILLEGAL_IN priv, n, insn:vararg
	CASE \n
	EXPECT_TRAP .Lresume\@
	GOTO_PRIV \priv, .Linsn\@
.Linsn\@:
	\insn
	j fail
.Lresume\@:
	CHECK_MCAUSE CAUSE_ILLEGAL
	CHECK_MEPC .Linsn\@
	CHECK_MTVAL_INSN .Linsn\@
	GET_TRAP t5, m, TL_PRIV
	li t6, \priv
	beq t5, t6, .Lok\@
	j fail_check
.Lok\@:
	.endm

/* Case n: `insn` executed in `priv` must NOT trap (back in M afterwards
 * through an ecall). */
	.macro TEST_LEGAL_IN priv, n, insn:vararg
	CASE \n
	EXPECT_TRAP .Lresume\@
	GOTO_PRIV \priv, .Linsn\@
.Linsn\@:
	\insn
.Lecall\@:
	ecall
.Lresume\@:
	CHECK_MEPC .Lecall\@
	.endm

/* Leave M-mode for `priv` at `label` through mret (M-mode only). */
	.macro GOTO_PRIV priv, label
	li t5, MSTATUS_MPP
	csrc mstatus, t5
	li t5, (\priv) << 11
	csrs mstatus, t5
	la t5, \label
	csrw mepc, t5
	mret
	.endm

/* ---- floating point ----
 * Values are given as bit patterns (see fp.h for named constants), so a
 * test states exactly which NaN or which ulp it means.  Operands go to
 * ft0..ft2, the result to ft3 or a0, accrued flags to a1. */

	.macro FP_LOAD_D freg, bits
	li t0, \bits
	fmv.d.x \freg, t0
	.endm

	.macro FP_LOAD_S freg, bits
	li t0, \bits
	fmv.w.x \freg, t0
	.endm

	/* Clear fflags, run the instruction, collect the flags. */
	.macro FP_RUN insn:vararg
	fsflags zero
	\insn
	frflags a1
	.endm

/* double result of a 1-, 2- or 3-operand instruction.  `rm` is an optional
 * static rounding mode (rne, rtz, rdn, rup, rmm, dyn). */
	.macro TEST_FD n, insn, flags, result, a, b=0, c=0, nops=2, rm=
	CASE \n
	FP_LOAD_D ft0, \a
	FP_LOAD_D ft1, \b
	FP_LOAD_D ft2, \c
	.if \nops == 1
	.ifb \rm
	FP_RUN \insn ft3, ft0
	.else
	FP_RUN \insn ft3, ft0, \rm
	.endif
	.elseif \nops == 2
	.ifb \rm
	FP_RUN \insn ft3, ft0, ft1
	.else
	FP_RUN \insn ft3, ft0, ft1, \rm
	.endif
	.else
	.ifb \rm
	FP_RUN \insn ft3, ft0, ft1, ft2
	.else
	FP_RUN \insn ft3, ft0, ft1, ft2, \rm
	.endif
	.endif
	fmv.x.d a0, ft3
	CHECK a0, \result
	CHECK a1, \flags
	.endm

/* single result: also checks that the result register is NaN-boxed. */
	.macro TEST_FS n, insn, flags, result, a, b=0, c=0, nops=2, rm=
	CASE \n
	FP_LOAD_S ft0, \a
	FP_LOAD_S ft1, \b
	FP_LOAD_S ft2, \c
	.if \nops == 1
	.ifb \rm
	FP_RUN \insn ft3, ft0
	.else
	FP_RUN \insn ft3, ft0, \rm
	.endif
	.elseif \nops == 2
	.ifb \rm
	FP_RUN \insn ft3, ft0, ft1
	.else
	FP_RUN \insn ft3, ft0, ft1, \rm
	.endif
	.else
	.ifb \rm
	FP_RUN \insn ft3, ft0, ft1, ft2
	.else
	FP_RUN \insn ft3, ft0, ft1, ft2, \rm
	.endif
	.endif
	fmv.x.d a0, ft3
	li t0, 0xffffffff00000000 | (\result)
	CHECK_REG a0, t0
	CHECK a1, \flags
	.endm

/* integer result from double operands (compares, fclass, fcvt to int) */
	.macro TEST_FD_INT n, insn, flags, result, a, b=0, nops=1, rm=
	CASE \n
	FP_LOAD_D ft0, \a
	FP_LOAD_D ft1, \b
	.if \nops == 1
	.ifb \rm
	FP_RUN \insn a0, ft0
	.else
	FP_RUN \insn a0, ft0, \rm
	.endif
	.else
	FP_RUN \insn a0, ft0, ft1
	.endif
	CHECK a0, \result
	CHECK a1, \flags
	.endm

	.macro TEST_FS_INT n, insn, flags, result, a, b=0, nops=1, rm=
	CASE \n
	FP_LOAD_S ft0, \a
	FP_LOAD_S ft1, \b
	.if \nops == 1
	.ifb \rm
	FP_RUN \insn a0, ft0
	.else
	FP_RUN \insn a0, ft0, \rm
	.endif
	.else
	FP_RUN \insn a0, ft0, ft1
	.endif
	CHECK a0, \result
	CHECK a1, \flags
	.endm

/* double result from an integer operand (fcvt.d.w and friends) */
	.macro TEST_INT_FD n, insn, flags, result, v, rm=
	CASE \n
	li a2, \v
	.ifb \rm
	FP_RUN \insn ft3, a2
	.else
	FP_RUN \insn ft3, a2, \rm
	.endif
	fmv.x.d a0, ft3
	CHECK a0, \result
	CHECK a1, \flags
	.endm

	.macro TEST_INT_FS n, insn, flags, result, v, rm=
	CASE \n
	li a2, \v
	.ifb \rm
	FP_RUN \insn ft3, a2
	.else
	FP_RUN \insn ft3, a2, \rm
	.endif
	fmv.x.d a0, ft3
	li t0, 0xffffffff00000000 | (\result)
	CHECK_REG a0, t0
	CHECK a1, \flags
	.endm

/* ---- half precision (Zfh): the file needs `.option arch, +zfh` ---- */

/* the operand's 16 bits into freg, NaN-boxed */
	.macro FP_LOAD_H freg, bits
	li t0, \bits
	fmv.h.x \freg, t0
	.endm

/* half result: also checks that the result register is NaN-boxed */
	.macro TEST_FH n, insn, flags, result, a, b=0, c=0, nops=2, rm=
	CASE \n
	FP_LOAD_H ft0, \a
	FP_LOAD_H ft1, \b
	FP_LOAD_H ft2, \c
	.if \nops == 1
	.ifb \rm
	FP_RUN \insn ft3, ft0
	.else
	FP_RUN \insn ft3, ft0, \rm
	.endif
	.elseif \nops == 2
	.ifb \rm
	FP_RUN \insn ft3, ft0, ft1
	.else
	FP_RUN \insn ft3, ft0, ft1, \rm
	.endif
	.else
	.ifb \rm
	FP_RUN \insn ft3, ft0, ft1, ft2
	.else
	FP_RUN \insn ft3, ft0, ft1, ft2, \rm
	.endif
	.endif
	fmv.x.d a0, ft3
	li t0, 0xffffffffffff0000 | (\result)
	CHECK_REG a0, t0
	CHECK a1, \flags
	.endm

/* integer result from half operands */
	.macro TEST_FH_INT n, insn, flags, result, a, b=0, nops=1, rm=
	CASE \n
	FP_LOAD_H ft0, \a
	FP_LOAD_H ft1, \b
	.if \nops == 1
	.ifb \rm
	FP_RUN \insn a0, ft0
	.else
	FP_RUN \insn a0, ft0, \rm
	.endif
	.else
	FP_RUN \insn a0, ft0, ft1
	.endif
	CHECK a0, \result
	CHECK a1, \flags
	.endm

	.macro TEST_INT_FH n, insn, flags, result, v, rm=
	CASE \n
	li a2, \v
	.ifb \rm
	FP_RUN \insn ft3, a2
	.else
	FP_RUN \insn ft3, a2, \rm
	.endif
	fmv.x.d a0, ft3
	li t0, 0xffffffffffff0000 | (\result)
	CHECK_REG a0, t0
	CHECK a1, \flags
	.endm

#endif
